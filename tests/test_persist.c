/*
 * test_persist.c — mpxd --data-dir: every type's state across a restart (clean, and SIGKILL
 * after a compaction), acknowledged changes of four writers across a SIGKILL with --fsync
 * always, a torn log tail cut off, damage in the middle refused, private files, one mpxd per
 * directory; and clients that carry on by themselves across a restart: a loop of sets, a
 * parked get, proxies against a server that restarted empty. The data directories are on the build
 * tree's disk, not a tmpfs: a test that cannot have a real disk fails under CI=true rather than
 * skip.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

typedef struct {
    mpxd_proc mpxd;
    char data[200]; /* the data directory */
} persisted;

/* Starts mpxd on a new data directory under the build tree, with --fsync fsync and more
 * options (NULL-terminated, or NULL). */
static void start_persisted(persisted *t, const char *fsync, const char *const *more)
{
    char tmpl[150];
    snprintf(tmpl, sizeof tmpl, "%s/persist-XXXXXX", MPX_TEST_DATA_ROOT);
    assert_non_null(mkdtemp(tmpl));
    struct statfs fs;
    assert_int_equal(statfs(tmpl, &fs), 0);
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
        rmdir(tmpl);
        if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
            fail_msg("%s is not on a disk: the fsync tests need one under CI", tmpl);
        skip();
    }
    snprintf(t->data, sizeof t->data, "%s/data", tmpl); /* made by mpxd */
    const char *args[16] = {"--data-dir", t->data, "--fsync", fsync};
    int n = 4;
    for (int i = 0; more && more[i]; i++)
        args[n++] = more[i];
    args[n] = NULL;
    mpxd_start(&t->mpxd, "ipc", args);
}

static const char *const *restart_args(persisted *t, const char *fsync)
{
    static const char *args[8];
    args[0] = "--data-dir", args[1] = t->data, args[2] = "--fsync", args[3] = fsync;
    args[4] = NULL;
    return args;
}

static void finish_persisted(persisted *t)
{
    mpxd_stop(&t->mpxd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strrchr(t->data, '/') - t->data), t->data);
    assert_int_equal(system(cmd), 0);
}

static mpx_value *key_n(const char *prefix, int i)
{
    char k[64];
    snprintf(k, sizeof k, "%s%d", prefix, i);
    return mpx_str(k);
}

static int64_t get_int(const mpx_value *v)
{
    int64_t i = 0;
    assert_ok(mpx_value_get_int(v, &i));
    return i;
}

/* ---- every type across a restart ------------------------------------------------------------- */

typedef struct {
    uint64_t fence;
    uint64_t anon_id;
    uint64_t max_id;
} before;

static void fill_everything(mpx_client *c, before *b)
{
    mpx_proxy *d, *l, *s, *ns, *v, *tv, *a, *q, *jq, *e, *sem, *gsem, *bar, *lk, *cv, *inner, *anon,
        *gone;
    assert_ok(mpx_dict_open(c, "d", &d));
    for (int i = 0; i < 100; i++) {
        mpx_value *k = key_n("k", i), *val = mpx_int(i);
        assert_ok(mpx_dict_set(d, k, val));
        mpx_value_free(&k), mpx_value_free(&val);
    }
    mpx_value *k = key_n("k", 7);
    assert_ok(mpx_dict_del(d, k));
    mpx_value_free(&k);
    /* an anonymous list referenced only by the named dict survives */
    assert_ok(mpx_list_new(c, &inner));
    mpx_value *items = INTS(4, 5, 6);
    assert_ok(mpx_list_extend(inner, items));
    mpx_value_free(&items);
    mpx_value *ref = mpx_ref(inner), *rk = mpx_str("inner");
    assert_ok(mpx_dict_set(d, rk, ref));
    mpx_value_free(&ref), mpx_value_free(&rk);
    /* an anonymous dict only this session holds does not */
    assert_ok(mpx_dict_new(c, &anon));
    b->anon_id = mpx_proxy_id(anon);
    /* a deleted object stays deleted */
    assert_ok(mpx_dict_open(c, "gone", &gone));
    assert_ok(mpx_proxy_delete(gone));

    assert_ok(mpx_list_open(c, "l", &l));
    items = INTS(3, 1, 2);
    assert_ok(mpx_list_extend(l, items));
    mpx_value_free(&items);
    assert_ok(mpx_list_sort(l, false));
    assert_ok(mpx_set_open(c, "s", &s));
    for (int i = 0; i < 5; i++) {
        mpx_value *m = mpx_int(i);
        assert_ok(mpx_set_add(s, m));
        mpx_value_free(&m);
    }
    assert_ok(mpx_namespace_open(c, "ns", &ns));
    mpx_value *hello = mpx_str("hello");
    assert_ok(mpx_namespace_set(ns, "greeting", hello));
    mpx_value_free(&hello);
    mpx_value *init = mpx_str("first");
    assert_ok(mpx_val_open(c, "v", init, &v));
    mpx_value_free(&init);
    mpx_value *second = mpx_str("second");
    assert_ok(mpx_val_set(v, second));
    mpx_value_free(&second);
    assert_ok(mpx_val_open_typed(c, "tv", 'q', NULL, &tv));
    int64_t now;
    assert_ok(mpx_val_add_int(tv, 41, &now));
    assert_ok(mpx_val_add_int(tv, 1, &now));
    assert_ok(mpx_arr_open(c, "a", 'd', 4, NULL, &a));
    mpx_value *half = mpx_double(0.5);
    assert_ok(mpx_arr_set(a, 2, half));
    mpx_value_free(&half);
    assert_ok(mpx_queue_open(c, "q", 0, &q));
    for (int i = 0; i < 5; i++) {
        mpx_value *it = mpx_int(i);
        assert_ok(mpx_queue_put(q, it, 0));
        mpx_value_free(&it);
    }
    for (int i = 0; i < 2; i++) {
        mpx_value *it;
        assert_ok(mpx_queue_get(q, 0, &it));
        mpx_value_free(&it);
    }
    assert_ok(mpx_joinable_queue_open(c, "jq", 0, &jq));
    for (int i = 0; i < 3; i++) {
        mpx_value *it = mpx_int(i);
        assert_ok(mpx_queue_put(jq, it, 0));
        mpx_value_free(&it);
    }
    mpx_value *got;
    assert_ok(mpx_queue_get(jq, 0, &got));
    mpx_value_free(&got);
    assert_ok(mpx_queue_task_done(jq)); /* 2 tasks left unfinished, 2 items queued */
    /* a joinable queue's task taken and not done when mpxd stops: abandoned, not waited for */
    mpx_proxy *jq2;
    assert_ok(mpx_joinable_queue_open(c, "jq2", 0, &jq2));
    for (int i = 0; i < 2; i++) {
        mpx_value *it = mpx_int(i);
        assert_ok(mpx_queue_put(jq2, it, 0));
        mpx_value_free(&it);
    }
    assert_ok(mpx_queue_get(jq2, 0, &got));
    mpx_value_free(&got);
    mpx_proxy_free(&jq2);
    /* a queue with an item leased and not acknowledged when mpxd stops: it comes back */
    mpx_proxy *lq;
    uint64_t lease, acked;
    assert_ok(mpx_queue_open(c, "lq", 0, &lq));
    for (int i = 1; i <= 3; i++) {
        mpx_value *it = mpx_int(i);
        assert_ok(mpx_queue_put(lq, it, 0));
        mpx_value_free(&it);
    }
    assert_ok(mpx_queue_get_lease(lq, 0, MPX_FOREVER, &lease, &got));
    mpx_value_free(&got);
    assert_ok(mpx_queue_get_lease(lq, 0, MPX_FOREVER, &acked, &got));
    mpx_value_free(&got);
    assert_ok(mpx_queue_ack(lq, acked));
    mpx_proxy_free(&lq);
    assert_ok(mpx_event_open(c, "e", &e));
    assert_ok(mpx_event_set(e));
    assert_ok(mpx_semaphore_open(c, "sem", 3, &sem));
    bool acquired;
    assert_ok(mpx_semaphore_acquire(sem, 0, &acquired));
    assert_true(acquired);
    assert_ok(mpx_semaphore_open_flags(c, "gsem", 2, MPX_SEMAPHORE_GIVE_BACK, &gsem));
    assert_ok(mpx_semaphore_acquire(gsem, 0, &acquired)); /* held when mpxd stops */
    assert_true(acquired);
    assert_ok(mpx_barrier_open(c, "bar", 3, 5000, &bar));
    assert_ok(mpx_lock_open(c, "lk", &lk));
    bool died;
    assert_ok(mpx_lock_acquire(lk, 0, &acquired, &b->fence, &died)); /* held when mpxd stops */
    assert_true(acquired);
    assert_ok(mpx_condition_open(c, "cv", lk, &cv));
    b->max_id = mpx_proxy_id(cv) > b->anon_id ? mpx_proxy_id(cv) : b->anon_id;
    mpx_proxy *all[] = {d, l, s, ns, v, tv, a, q, jq, e, sem, gsem, bar, lk, cv, inner, anon, gone};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        mpx_proxy_free(&all[i]);
}

static void check_everything(mpx_client *c, const before *b)
{
    mpx_proxy *d, *l, *s, *ns, *v, *tv, *a, *q, *jq, *e, *sem, *gsem, *bar, *lk, *cv, *inner,
        *fresh;
    mpx_value *out;
    size_t n;
    assert_ok(mpx_dict_open(c, "d", &d));
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 100); /* 100 - k7 + inner */
    mpx_value *k = key_n("k", 99);
    assert_ok(mpx_dict_get(d, k, &out));
    assert_int_equal(get_int(out), 99);
    mpx_value_free(&k), mpx_value_free(&out);
    k = key_n("k", 7);
    assert_code(mpx_dict_get(d, k, &out), MPX_EKEY);
    mpx_value_free(&k);
    mpx_value *rk = mpx_str("inner");
    assert_ok(mpx_dict_get(d, rk, &out));
    mpx_value_free(&rk);
    assert_ok(mpx_proxy_from_ref(c, out, &inner));
    mpx_value_free(&out);
    assert_ok(mpx_list_len(inner, &n));
    assert_int_equal(n, 3);
    assert_ok(mpx_list_get(inner, 2, &out));
    assert_int_equal(get_int(out), 6);
    mpx_value_free(&out);
    /* the anonymous dict went with its session, the deleted one stays deleted */
    mpx_value *args = mpx_array();
    mpx_value *id = mpx_uint(b->anon_id);
    mpx_array_push(args, &id);
    assert_code(mpx_server_call(c, "attach", args, MPX_TIMEOUT_DEFAULT, &out), MPX_ENOOBJ);
    mpx_value_free(&args);
    mpx_value *listing;
    uint64_t next;
    assert_ok(mpx_objects(c, "gone", 0, 100, &next, &listing));
    assert_int_equal(mpx_value_len(listing), 0);
    mpx_value_free(&listing);

    assert_ok(mpx_list_open(c, "l", &l));
    assert_ok(mpx_list_get(l, 0, &out));
    assert_int_equal(get_int(out), 1);
    mpx_value_free(&out);
    assert_ok(mpx_set_open(c, "s", &s));
    assert_ok(mpx_set_len(s, &n));
    assert_int_equal(n, 5);
    assert_ok(mpx_namespace_open(c, "ns", &ns));
    assert_ok(mpx_namespace_get(ns, "greeting", &out));
    {
        size_t sl;
        assert_string_equal(mpx_value_str(out, &sl), "hello");
    }
    mpx_value_free(&out);
    assert_ok(mpx_val_open(c, "v", NULL, &v));
    assert_ok(mpx_val_get(v, &out));
    {
        size_t sl;
        assert_string_equal(mpx_value_str(out, &sl), "second");
    }
    mpx_value_free(&out);
    assert_ok(mpx_val_open_typed(c, "tv", 'q', NULL, &tv));
    assert_ok(mpx_val_get(tv, &out));
    assert_int_equal(get_int(out), 42);
    mpx_value_free(&out);
    assert_ok(mpx_arr_open(c, "a", 'd', 4, NULL, &a));
    assert_ok(mpx_arr_get(a, 2, &out));
    double half;
    assert_ok(mpx_value_get_double(out, &half));
    assert_true(half == 0.5);
    mpx_value_free(&out);
    assert_ok(mpx_queue_open(c, "q", 0, &q));
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 3);
    assert_ok(mpx_queue_get(q, 0, &out));
    assert_int_equal(get_int(out), 2); /* FIFO order kept */
    mpx_value_free(&out);
    assert_ok(mpx_joinable_queue_open(c, "jq", 0, &jq));
    assert_ok(mpx_queue_qsize(jq, &n));
    assert_int_equal(n, 2);
    bool done;
    assert_ok(mpx_queue_task_done(jq));
    assert_ok(mpx_queue_join(jq, 0, &done));
    assert_false(done); /* one task still unfinished */
    assert_ok(mpx_queue_task_done(jq));
    assert_ok(mpx_queue_join(jq, 0, &done));
    assert_true(done);
    mpx_proxy *jq2;
    uint64_t abandoned = 0;
    assert_ok(mpx_joinable_queue_open(c, "jq2", 0, &jq2));
    assert_ok(mpx_queue_abandoned(jq2, &abandoned));
    assert_int_equal(abandoned, 1);
    assert_ok(mpx_queue_get(jq2, 0, &out));
    mpx_value_free(&out);
    assert_ok(mpx_queue_task_done(jq2));
    assert_ok(mpx_queue_join(jq2, 0, &done));
    assert_true(done);
    mpx_proxy_free(&jq2);
    mpx_proxy *lq;
    assert_ok(mpx_queue_open(c, "lq", 0, &lq));
    assert_ok(mpx_queue_qsize(lq, &n));
    assert_int_equal(n, 2); /* the acknowledged item is gone, the leased one back */
    assert_ok(mpx_queue_get(lq, 0, &out));
    assert_int_equal(get_int(out), 1);
    mpx_value_free(&out);
    assert_ok(mpx_queue_get(lq, 0, &out));
    assert_int_equal(get_int(out), 3);
    mpx_value_free(&out);
    mpx_proxy_free(&lq);
    assert_ok(mpx_event_open(c, "e", &e));
    assert_ok(mpx_event_is_set(e, &done));
    assert_true(done);
    uint64_t u;
    assert_ok(mpx_semaphore_open(c, "sem", 3, &sem));
    assert_ok(mpx_semaphore_value(sem, &u));
    assert_int_equal(u, 2);
    assert_ok(mpx_semaphore_open_flags(c, "gsem", 2, MPX_SEMAPHORE_GIVE_BACK, &gsem));
    assert_ok(mpx_semaphore_value(gsem, &u));
    assert_int_equal(u, 2); /* the unit held by a session of the last run came back */
    assert_ok(mpx_barrier_open(c, "bar", 3, 5000, &bar));
    assert_ok(mpx_barrier_parties(bar, &u));
    assert_int_equal(u, 3);
    /* the lock is free, and its next token is above every token of the last run */
    assert_ok(mpx_lock_open(c, "lk", &lk));
    bool acquired, died;
    uint64_t fence;
    assert_ok(mpx_lock_acquire(lk, 0, &acquired, &fence, &died));
    assert_true(acquired);
    assert_true(fence > b->fence);
    assert_ok(mpx_condition_open(c, "cv", lk, &cv));
    assert_ok(mpx_condition_notify(cv, 1));
    /* no id is handed out again */
    assert_ok(mpx_dict_new(c, &fresh));
    assert_true(mpx_proxy_id(fresh) > b->max_id);
    mpx_proxy *all[] = {d, l, s, ns, v, tv, a, q, jq, e, sem, gsem, bar, lk, cv, inner, fresh};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        mpx_proxy_free(&all[i]);
}

/* WELCOME's instance and state ids, as a client mpx did not write reads them. */
static void welcome_ids(const persisted *t, unsigned long long *instance, unsigned long long *state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/independent_client.py welcome %s %s",
             MPX_SOURCE_DIR, t->mpxd.endpoint, t->mpxd.keyfile);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%llu %llu", instance, state), 2);
    assert_int_equal(pclose(f), 0);
}

/* Fills every type, stops mpxd with SIGTERM, starts it on the same directory: everything is
 * there, and WELCOME names a new instance serving the same state. */
static void test_every_type_survives_a_restart(void **state)
{
    (void)state;
    persisted t;
    before b;
    unsigned long long instance[2], state_id[2];
    start_persisted(&t, "everysec", NULL);
    mpx_client *c = mpxd_connect(&t.mpxd);
    fill_everything(c, &b);
    welcome_ids(&t, &instance[0], &state_id[0]);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGTERM), 0);
    mpx_client_free(&c);
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "everysec")), 0);
    c = mpxd_connect(&t.mpxd);
    check_everything(c, &b);
    welcome_ids(&t, &instance[1], &state_id[1]);
    assert_true(instance[0] != instance[1]);
    assert_true(state_id[0] == state_id[1] && state_id[0] != instance[0]);
    mpx_client_free(&c);
    /* and once more: the second run's log on top of the first's */
    assert_int_equal(mpxd_halt(&t.mpxd, SIGTERM), 0);
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "everysec")), 0);
    c = mpxd_connect(&t.mpxd);
    mpx_proxy *d;
    size_t n;
    assert_ok(mpx_dict_open(c, "d", &d));
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 100);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    finish_persisted(&t);
}

/* The same with compaction after every change: the state comes from a snapshot plus the log
 * written after it, and mpxd is SIGKILLed rather than stopped. */
static void test_snapshot_and_log_after_sigkill(void **state)
{
    (void)state;
    persisted t;
    before b;
    start_persisted(&t, "always", (const char *[]){"--compact-min", "1", NULL});
    mpx_client *c = mpxd_connect(&t.mpxd);
    fill_everything(c, &b);
    await_stat(c, "compactions", 1);
    /* a change after the snapshot, in the new log only */
    mpx_proxy *tv;
    int64_t now;
    assert_ok(mpx_val_open_typed(c, "tv", 'q', NULL, &tv));
    assert_ok(mpx_val_add_int(tv, 100, &now));
    assert_ok(mpx_val_add_int(tv, -100, &now));
    mpx_proxy_free(&tv);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGKILL), -1);
    mpx_client_free(&c);
    char snap[256];
    struct stat st;
    snprintf(snap, sizeof snap, "%s/snapshot.2", t.data);
    assert_int_equal(stat(snap, &st), 0);
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "always")), 0);
    c = mpxd_connect(&t.mpxd);
    check_everything(c, &b);
    mpx_client_free(&c);
    finish_persisted(&t);
}

/* ---- four writers and a SIGKILL ----------------------------------------------------------------
 */

#define WRITERS 4

typedef struct {
    volatile int64_t acked_set, acked_put, acked_add, tried_add;
} writer_counts;

static void writer(const persisted *t, int w, writer_counts *n)
{
    mpx_client *c;
    mpx_proxy *d, *q, *tv;
    if (mpx_connect_keyfile(t->mpxd.endpoint, t->mpxd.keyfile, &c) || mpx_dict_open(c, "w", &d) ||
        mpx_queue_open(c, "wq", 0, &q) || mpx_val_open_typed(c, "wv", 'q', NULL, &tv))
        _exit(1);
    mpx_client_set_timeout(c, 3000);
    for (int i = 0;; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d:%d", w, i);
        mpx_value *k = mpx_str(key), *v = mpx_int(i), *item = mpx_array();
        mpx_value *wv = mpx_int(w), *iv = mpx_int(i);
        mpx_array_push(item, &wv);
        mpx_array_push(item, &iv);
        int rc = mpx_dict_set(d, k, v);
        if (rc == 0) n->acked_set = i + 1;
        if (rc == 0 && (rc = mpx_queue_put(q, item, 0)) == 0) n->acked_put = i + 1;
        int64_t now;
        if (rc == 0) n->tried_add++;
        if (rc == 0 && (rc = mpx_val_add_int(tv, 1, &now)) == 0) n->acked_add++;
        mpx_value_free(&k), mpx_value_free(&v), mpx_value_free(&item);
        if (rc) _exit(0);
    }
}

static void test_acknowledged_changes_survive_sigkill(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "always", NULL);
    writer_counts *counts = mmap(NULL, WRITERS * sizeof *counts, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(counts != MAP_FAILED);
    memset(counts, 0, WRITERS * sizeof *counts);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) writer(&t, w, &counts[w]);
    }
    for (int64_t start = harness_now_ms(); harness_now_ms() - start < 30000;) {
        bool enough = true;
        for (int w = 0; w < WRITERS; w++)
            enough = enough && counts[w].acked_add >= 100;
        if (enough) break;
        usleep(10000);
    }
    usleep(100000); /* in the middle of their writes */
    assert_int_equal(mpxd_halt(&t.mpxd, SIGKILL), -1);
    for (int w = 0; w < WRITERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        assert_true(counts[w].acked_add >= 10); /* each was under way when mpxd died */
    }
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "always")), 0);
    mpx_client *c = mpxd_connect(&t.mpxd);
    mpx_proxy *d, *q, *tv;
    assert_ok(mpx_dict_open(c, "w", &d));
    assert_ok(mpx_queue_open(c, "wq", 0, &q));
    assert_ok(mpx_val_open_typed(c, "wv", 'q', NULL, &tv));
    int64_t acked_adds = 0, tried_adds = 0;
    int64_t next[WRITERS] = {0};
    for (int w = 0; w < WRITERS; w++) {
        for (int64_t i = 0; i < counts[w].acked_set; i++) {
            char key[32];
            snprintf(key, sizeof key, "%d:%lld", w, (long long)i);
            mpx_value *k = mpx_str(key), *v;
            assert_ok(mpx_dict_get(d, k, &v));
            assert_int_equal(get_int(v), i);
            mpx_value_free(&k), mpx_value_free(&v);
        }
        acked_adds += counts[w].acked_add;
        tried_adds += counts[w].tried_add;
    }
    /* every acknowledged put is there, in each writer's order */
    mpx_value *item;
    while (mpx_queue_get(q, 0, &item) == 0) {
        int64_t w = get_int(mpx_value_at(item, 0)), i = get_int(mpx_value_at(item, 1));
        assert_true(w >= 0 && w < WRITERS);
        assert_int_equal(i, next[w]);
        next[w]++;
        mpx_value_free(&item);
    }
    for (int w = 0; w < WRITERS; w++)
        assert_true(next[w] >= counts[w].acked_put);
    mpx_value *v;
    assert_ok(mpx_val_get(tv, &v));
    assert_true(get_int(v) >= acked_adds && get_int(v) <= tried_adds);
    mpx_value_free(&v);
    mpx_proxy_free(&d), mpx_proxy_free(&q), mpx_proxy_free(&tv);
    mpx_client_free(&c);
    munmap(counts, WRITERS * sizeof *counts);
    finish_persisted(&t);
}

/* ---- damaged files ------------------------------------------------------------------------------
 */

static void write_keys(const persisted *t, int n)
{
    mpx_client *c = mpxd_connect(&t->mpxd);
    mpx_proxy *d;
    assert_ok(mpx_dict_open(c, "d", &d));
    for (int i = 0; i < n; i++) {
        mpx_value *k = key_n("k", i), *v = mpx_int(i);
        assert_ok(mpx_dict_set(d, k, v));
        mpx_value_free(&k), mpx_value_free(&v);
    }
    mpx_proxy_free(&d);
    mpx_client_free(&c);
}

static size_t dict_len(const persisted *t)
{
    mpx_client *c = mpxd_connect(&t->mpxd);
    mpx_proxy *d;
    size_t n;
    assert_ok(mpx_dict_open(c, "d", &d));
    assert_ok(mpx_dict_len(d, &n));
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    return n;
}

static bool log_says(const persisted *t, const char *what)
{
    char *log = read_file(t->mpxd.logfile, NULL);
    bool found = log && strstr(log, what);
    free(log);
    return found;
}

/* A log cut a few bytes short, as a crash in the middle of a write leaves it: mpxd starts,
 * says so, and has everything before the torn record. */
static void test_torn_tail_is_cut_off(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "always", NULL);
    write_keys(&t, 50);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGKILL), -1);
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/log.1", t.data);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 3), 0);
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "always")), 0);
    assert_true(log_says(&t, "torn by a crash"));
    assert_int_equal(dict_len(&t), 49); /* the last set was the torn record */
    /* and it goes on logging after the cut */
    write_keys(&t, 60);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGKILL), -1);
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "always")), 0);
    assert_int_equal(dict_len(&t), 60);
    finish_persisted(&t);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* A bad record with good ones after it is damage, not a crash: mpxd refuses to start, says
 * where and points at the recovery docs, and leaves the file as it is. */
static void test_damage_in_the_middle_stops_mpxd(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "always", NULL);
    write_keys(&t, 50);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGTERM), 0);
    char path[256];
    struct stat before_st, after_st;
    snprintf(path, sizeof path, "%s/log.1", t.data);
    assert_int_equal(stat(path, &before_st), 0);
    flip_byte(path, before_st.st_size / 2);
    assert_int_not_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "always")), 0);
    assert_true(log_says(&t, "log.1: record"));
    assert_true(log_says(&t, "Recovering a data directory"));
    assert_int_equal(stat(path, &after_st), 0);
    assert_int_equal(after_st.st_size, before_st.st_size); /* nothing cut */
    finish_persisted(&t);
}

/* A snapshot that does not check out stops mpxd too. */
static void test_damaged_snapshot_stops_mpxd(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "always", (const char *[]){"--compact-min", "1", NULL});
    write_keys(&t, 50);
    mpx_client *c = mpxd_connect(&t.mpxd);
    await_stat(c, "compactions", 1);
    mpx_client_free(&c);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGTERM), 0);
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/snapshot.2", t.data);
    assert_int_equal(stat(path, &st), 0);
    flip_byte(path, st.st_size / 2);
    assert_int_not_equal(mpxd_respawn(&t.mpxd, restart_args(&t, "always")), 0);
    assert_true(log_says(&t, "snapshot.2: record"));
    finish_persisted(&t);
}

/* ---- the directory
 * -------------------------------------------------------------------------------- */

static void test_files_are_private_and_locked(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "no", NULL);
    write_keys(&t, 3);
    struct stat st;
    assert_int_equal(stat(t.data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char path[256];
    snprintf(path, sizeof path, "%s/log.1", t.data);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second mpxd on the same directory is refused */
    mpxd_proc other;
    mpxd_start(&other, "ipc", NULL);
    mpxd_halt(&other, SIGTERM);
    assert_int_not_equal(mpxd_respawn(&other, restart_args(&t, "no")), 0);
    char *log = read_file(other.logfile, NULL);
    assert_non_null(strstr(log, "another mpxd is using it"));
    free(log);
    mpxd_stop(&other);
    finish_persisted(&t);
}

/* ---- clients across a restart ------------------------------------------------------------ */

static const char *const *restart_quick(persisted *t)
{
    static const char *args[8];
    args[0] = "--data-dir", args[1] = t->data, args[2] = "--session-timeout", args[3] = "1000";
    args[4] = NULL;
    return args;
}

/* A process setting keys in a loop, with no code to reconnect: mpxd is killed and started
 * again under it; its calls fail with MPX_ECONN meanwhile, and it carries on afterwards with
 * the same proxy, every set it saw succeed there. */
static void test_client_carries_on_across_restart(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "always", (const char *[]){"--session-timeout", "1000", NULL});
    int report[2];
    assert_int_equal(pipe(report), 0);
    pid_t pid = fork();
    if (pid == 0) harness_set_loop(t.mpxd.endpoint, t.mpxd.keyfile, report[1], 20);
    char x;
    assert_int_equal(read(report[0], &x, 1), 1);
    assert_int_equal(mpxd_halt(&t.mpxd, SIGKILL), -1);
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_quick(&t)), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* the sets acknowledged before the kill are there (--fsync always) */
    mpx_client *c = mpxd_connect(&t.mpxd);
    mpx_proxy *d;
    assert_ok(mpx_dict_open(c, "loop", &d));
    for (int i = 0; i <= 50; i++) {
        mpx_value *k = mpx_int(i), *v = NULL;
        assert_ok(mpx_dict_get(d, k, &v));
        assert_int_equal(get_int(v), i);
        mpx_value_free(&k), mpx_value_free(&v);
    }
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    close(report[0]), close(report[1]);
    finish_persisted(&t);
}

typedef struct {
    mpx_proxy *q;
    int rc;
    int64_t returned_ms;
} parked_get;

static void *get_forever(void *arg)
{
    parked_get *g = arg;
    mpx_value *v = NULL;
    g->rc = mpx_queue_get(g->q, MPX_FOREVER, &v);
    g->returned_ms = harness_now_ms();
    mpx_value_free(&v);
    return NULL;
}

/* A get parked with no timeout when mpxd is killed and started again returns MPX_ECONN
 * promptly rather than hang, and a fresh get on the same proxy works. */
static void test_parked_get_over_restart(void **state)
{
    (void)state;
    persisted t;
    start_persisted(&t, "everysec", (const char *[]){"--session-timeout", "1000", NULL});
    mpx_client *c = mpxd_connect(&t.mpxd);
    mpx_proxy *q;
    assert_ok(mpx_queue_open(c, "parked", 0, &q));
    parked_get g = {.q = q};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, get_forever, &g), 0);
    usleep(200000); /* parked */
    assert_int_equal(mpxd_halt(&t.mpxd, SIGKILL), -1);
    int64_t t0 = harness_now_ms();
    assert_int_equal(mpxd_respawn(&t.mpxd, restart_quick(&t)), 0);
    pthread_join(th, NULL);
    assert_int_equal(g.rc, MPX_ECONN);
    assert_true(g.returned_ms - t0 < 5000); /* two session timeouts and the restart */
    mpx_client *other = mpxd_connect(&t.mpxd);
    mpx_proxy *oq;
    mpx_value *item = mpx_str("after"), *got = NULL;
    assert_ok(mpx_queue_open(other, "parked", 0, &oq));
    assert_ok(mpx_queue_put(oq, item, 0));
    int rc = MPX_ECONN;
    for (int i = 0; i < 100 && rc == MPX_ECONN; i++) /* the back-off may ask for a moment */
        if ((rc = mpx_queue_get(q, 5000, &got)) == MPX_ECONN) usleep(50000);
    assert_ok(rc);
    size_t len;
    assert_string_equal(mpx_value_str(got, &len), "after");
    mpx_value_free(&item), mpx_value_free(&got);
    mpx_proxy_free(&oq), mpx_proxy_free(&q);
    mpx_client_free(&other), mpx_client_free(&c);
    finish_persisted(&t);
}

/* Against a server that restarted empty (no --data-dir): a named proxy opens its name again
 * and works, on a new, empty object; an anonymous one answers MPX_ENOOBJ. */
static void test_proxies_after_a_restart_without_state(void **state)
{
    (void)state;
    mpxd_proc p;
    const char *quick[] = {"--session-timeout", "1000", NULL};
    mpxd_start(&p, "ipc", quick);
    mpx_client *c = mpxd_connect(&p);
    mpx_proxy *named, *anon;
    assert_ok(mpx_dict_open(c, "named", &named));
    assert_ok(mpx_dict_new(c, &anon));
    mpx_value *k = mpx_str("k"), *v = mpx_int(1), *got = NULL;
    assert_ok(mpx_dict_set(named, k, v));
    assert_int_equal(mpxd_halt(&p, SIGTERM), 0);
    assert_int_equal(mpxd_respawn(&p, quick), 0);
    int rc = MPX_ECONN;
    for (int i = 0; i < 100 && rc == MPX_ECONN; i++)
        if ((rc = mpx_dict_set(named, k, v)) == MPX_ECONN) usleep(50000);
    assert_ok(rc);
    size_t n = 0;
    assert_ok(mpx_dict_len(named, &n));
    assert_int_equal(n, 1); /* the set after the restart, on the new dict */
    assert_code(mpx_dict_get(anon, k, &got), MPX_ENOOBJ);
    mpx_value_free(&k), mpx_value_free(&v);
    mpx_proxy_free(&named), mpx_proxy_free(&anon);
    mpx_client_free(&c);
    mpxd_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_survives_a_restart),
        cmocka_unit_test(test_snapshot_and_log_after_sigkill),
        cmocka_unit_test(test_acknowledged_changes_survive_sigkill),
        cmocka_unit_test(test_torn_tail_is_cut_off),
        cmocka_unit_test(test_damage_in_the_middle_stops_mpxd),
        cmocka_unit_test(test_damaged_snapshot_stops_mpxd),
        cmocka_unit_test(test_files_are_private_and_locked),
        cmocka_unit_test(test_client_carries_on_across_restart),
        cmocka_unit_test(test_parked_get_over_restart),
        cmocka_unit_test(test_proxies_after_a_restart_without_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
