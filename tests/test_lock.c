/*
 * test_lock.c — Lock and RLock against a real mpxd: acquire, release and their errors, the
 * timeout paths, fencing tokens, re-entry per thread, waiters in arrival order, a holder
 * killed with SIGKILL, a lock-protected counter shared by four processes, and fenced calls:
 * a holder stopped past its session timeout is refused once its lock has moved on.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* How long a waiter waits for a hand-off before the test fails saying so (no test waits
 * without a bound: a lost hand-off must fail, not hang until ctest kills the test). */
#define HANDOFF_MS 10000

/* Acquires l, failing the test unless it was taken; returns the fencing token. */
static uint64_t take(mpx_proxy *l, int wait_ms)
{
    bool acquired = false;
    uint64_t fence = 0;
    assert_ok(mpx_lock_acquire(l, wait_ms, &acquired, &fence, NULL));
    assert_true(acquired);
    return fence;
}

static void test_acquire_release_locked(void **state)
{
    (void)state;
    mpx_proxy *l = NULL;
    bool b = true;
    assert_ok(mpx_lock_new(client, &l));
    assert_ok(mpx_lock_locked(l, &b));
    assert_false(b);
    assert_code(mpx_lock_release(l), MPX_ENOTHELD);
    assert_non_null(strstr(mpx_last_error(), "unlocked"));
    take(l, 0);
    assert_ok(mpx_lock_locked(l, &b));
    assert_true(b);
    /* A plain Lock is not re-entrant: the same session waits like anyone else. */
    bool acquired = true;
    assert_ok(mpx_lock_acquire(l, 0, &acquired, NULL, NULL));
    assert_false(acquired);
    assert_ok(mpx_lock_acquire(l, 100, &acquired, NULL, NULL));
    assert_false(acquired);
    assert_ok(mpx_lock_release(l));
    assert_ok(mpx_lock_locked(l, &b));
    assert_false(b);
    assert_code(mpx_lock_acquire(l, -7, &acquired, NULL, NULL), MPX_EINVAL);
    mpx_proxy_free(&l);
}

static void test_release_by_another_session_is_refused(void **state)
{
    (void)state;
    mpx_client *other = mpxd_connect(&server);
    mpx_proxy *mine = NULL, *theirs = NULL;
    assert_ok(mpx_lock_open(client, "lock.owner", &mine));
    assert_ok(mpx_lock_open(other, "lock.owner", &theirs));
    take(mine, 0);
    assert_code(mpx_lock_release(theirs), MPX_ENOTHELD);
    bool acquired = true;
    assert_ok(mpx_lock_acquire(theirs, 0, &acquired, NULL, NULL));
    assert_false(acquired);
    assert_ok(mpx_lock_release(mine));
    mpx_proxy_free(&theirs);
    mpx_proxy_free(&mine);
    mpx_client_free(&other);
}

static void test_fencing_tokens_only_grow(void **state)
{
    (void)state;
    mpx_proxy *l = NULL, *r = NULL;
    assert_ok(mpx_lock_new(client, &l));
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t f = take(l, 0);
        assert_true(f > last);
        last = f;
        assert_ok(mpx_lock_release(l));
    }
    /* An RLock re-entry repeats the holder's token; a new holder gets a larger one. */
    assert_ok(mpx_rlock_new(client, &r));
    uint64_t first = take(r, 0);
    assert_int_equal(take(r, 0), first);
    assert_ok(mpx_lock_release(r));
    assert_ok(mpx_lock_release(r));
    assert_true(take(r, 0) > first);
    assert_ok(mpx_lock_release(r));
    mpx_proxy_free(&r);
    mpx_proxy_free(&l);
}

typedef struct {
    mpx_proxy *l;
    int wait_ms;
    bool acquired;
    int release_rc;
    int rc;
} thread_job;

static void *try_rlock(void *arg)
{
    thread_job *job = arg;
    job->release_rc = mpx_lock_release(job->l); /* not this thread's */
    job->rc = mpx_lock_acquire(job->l, job->wait_ms, &job->acquired, NULL, NULL);
    if (job->rc == 0 && job->acquired) mpx_lock_release(job->l);
    return NULL;
}

static void test_rlock_is_owned_per_thread(void **state)
{
    (void)state;
    mpx_proxy *r = NULL;
    assert_ok(mpx_rlock_new(client, &r));
    take(r, 0);
    take(r, 0);
    /* Another thread on the same connection is another owner. */
    thread_job job = {.l = r, .wait_ms = 0};
    pthread_t t;
    pthread_create(&t, NULL, try_rlock, &job);
    pthread_join(t, NULL);
    assert_code(job.release_rc, MPX_ENOTHELD);
    assert_ok(job.rc);
    assert_false(job.acquired);
    /* Released as often as acquired, it is free; then the other thread gets it. */
    assert_ok(mpx_lock_release(r));
    bool b;
    assert_ok(mpx_lock_locked(r, &b));
    assert_true(b);
    assert_ok(mpx_lock_release(r));
    assert_code(mpx_lock_release(r), MPX_ENOTHELD);
    job = (thread_job){.l = r, .wait_ms = HANDOFF_MS};
    pthread_create(&t, NULL, try_rlock, &job);
    pthread_join(t, NULL);
    assert_true(job.acquired);
    mpx_proxy_free(&r);
}

typedef struct {
    mpx_client *c;
    int order;
    int got_order; /* the order in which it got the lock */
} fifo_job;

static int fifo_counter;
static pthread_mutex_t fifo_mu = PTHREAD_MUTEX_INITIALIZER;

static void *fifo_waiter(void *arg)
{
    fifo_job *job = arg;
    mpx_proxy *l = NULL;
    bool acquired = false;
    if (mpx_lock_open(job->c, "lock.fifo", &l) == 0 &&
        mpx_lock_acquire(l, HANDOFF_MS, &acquired, NULL, NULL) == 0 && acquired) {
        pthread_mutex_lock(&fifo_mu);
        job->got_order = fifo_counter++;
        pthread_mutex_unlock(&fifo_mu);
        mpx_lock_release(l);
    }
    mpx_proxy_free(&l);
    return NULL;
}

static void test_waiters_get_it_in_arrival_order(void **state)
{
    (void)state;
    enum { N = 4 };
    mpx_proxy *l = NULL;
    fifo_job jobs[N];
    pthread_t t[N];
    assert_ok(mpx_lock_open(client, "lock.fifo", &l));
    take(l, 0);
    for (int i = 0; i < N; i++) {
        jobs[i] = (fifo_job){.c = mpxd_connect(&server), .order = i, .got_order = -1};
        pthread_create(&t[i], NULL, fifo_waiter, &jobs[i]);
        await_stat(client, "parked", (uint64_t)i + 1);
    }
    assert_ok(mpx_lock_release(l));
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].got_order, i);
        mpx_client_free(&jobs[i].c);
    }
    mpx_proxy_free(&l);
}

static void test_dead_holder_releases_to_waiter(void **state)
{
    (void)state;
    mpx_proxy *l = NULL;
    uint64_t holder_fence = 0;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_ok(mpx_lock_open(client, "lock.dead", &l));
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *cl = NULL;
        bool acquired = false;
        uint64_t fence = 0;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_lock_open(c, "lock.dead", &cl) ||
            mpx_lock_acquire(cl, 0, &acquired, &fence, NULL) || !acquired)
            _exit(1);
        if (write(pipefd[1], &fence, sizeof fence) != sizeof fence) _exit(1);
        pause(); /* holds the lock until killed */
    }
    assert_int_equal(read(pipefd[0], &holder_fence, sizeof holder_fence), sizeof holder_fence);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* Blocked without a limit: it gets the lock once the dead session times out (600 ms);
     * the test's own timeout bounds it. */
    bool acquired = false, owner_died = false;
    uint64_t fence = 0;
    assert_ok(mpx_lock_acquire(l, HANDOFF_MS, &acquired, &fence, &owner_died));
    assert_true(acquired);
    assert_true(owner_died);
    assert_true(fence > holder_fence); /* a resource can refuse the dead holder's token */
    assert_ok(mpx_lock_release(l));
    /* Told once: the next holder's predecessor released it properly. */
    assert_ok(mpx_lock_acquire(l, 0, &acquired, &fence, &owner_died));
    assert_true(acquired);
    assert_false(owner_died);
    assert_ok(mpx_lock_release(l));
    close(pipefd[0]);
    close(pipefd[1]);
    mpx_proxy_free(&l);
}

/* In a child: 500 read-modify-write increments of counter["n"] under the lock. */
static int count_under_lock(void)
{
    mpx_client *c = NULL;
    mpx_proxy *l = NULL, *d = NULL;
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
        mpx_lock_open(c, "counter.lock", &l) || mpx_dict_open(c, "counter", &d))
        return 1;
    mpx_value *key = mpx_str("n"), *zero = mpx_int(0);
    for (int i = 0; i < 500; i++) {
        bool acquired = false;
        mpx_value *v = NULL;
        int64_t n = 0;
        if (mpx_lock_acquire(l, HANDOFF_MS, &acquired, NULL, NULL) || !acquired) return 2;
        if (mpx_dict_get_default(d, key, zero, &v) || mpx_value_get_int(v, &n)) return 3;
        mpx_value_free(&v);
        v = mpx_int(n + 1);
        if (mpx_dict_set(d, key, v) || mpx_lock_release(l)) return 4;
        mpx_value_free(&v);
    }
    mpx_value_free(&key);
    mpx_value_free(&zero);
    mpx_proxy_free(&d);
    mpx_proxy_free(&l);
    mpx_client_free(&c);
    return 0;
}

static void test_counter_from_four_processes_is_exact(void **state)
{
    (void)state;
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        if ((pids[i] = fork()) == 0) _exit(count_under_lock());
    for (int i = 0; i < 4; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    mpx_proxy *d = NULL;
    mpx_value *key = mpx_str("n"), *v = NULL;
    int64_t n = 0;
    assert_ok(mpx_dict_open(client, "counter", &d));
    assert_ok(mpx_dict_get(d, key, &v));
    assert_ok(mpx_value_get_int(v, &n));
    assert_int_equal(n, 2000);
    mpx_value_free(&key);
    mpx_value_free(&v);
    mpx_proxy_free(&d);
}

static int64_t dict_int(mpx_proxy *d, const char *key)
{
    mpx_value *k = mpx_str(key), *v = NULL;
    int64_t i = -1;
    assert_ok(mpx_dict_get(d, k, &v));
    assert_ok(mpx_value_get_int(v, &i));
    mpx_value_free(&k), mpx_value_free(&v);
    return i;
}

static int set_int(mpx_proxy *d, const char *key, int64_t i)
{
    mpx_value *k = mpx_str(key), *v = mpx_int(i);
    int rc = mpx_dict_set(d, k, v);
    mpx_value_free(&k), mpx_value_free(&v);
    return rc;
}

/* A fenced call runs while its token is the lock's last, and is refused with MPX_EFENCED,
 * changing nothing, once another holder has a newer one: dict writes, queue puts, value sets
 * alike. */
static void test_fenced_calls(void **state)
{
    (void)state;
    mpx_client *other = mpxd_connect(&server);
    mpx_proxy *l1, *l2, *d1, *d2, *q, *v;
    assert_ok(mpx_lock_open(client, "fence.lock", &l1));
    assert_ok(mpx_lock_open(other, "fence.lock", &l2));
    assert_ok(mpx_dict_open(client, "fence.dict", &d1));
    assert_ok(mpx_dict_open(other, "fence.dict", &d2));
    assert_ok(mpx_queue_open(client, "fence.queue", 0, &q));
    assert_ok(mpx_val_open(client, "fence.value", NULL, &v));
    uint64_t t1 = take(l1, 0);
    assert_ok(mpx_proxy_fence(d1, l1, t1));
    assert_ok(mpx_proxy_fence(q, l1, t1));
    assert_ok(mpx_proxy_fence(v, l1, t1));
    assert_ok(set_int(d1, "balance", 100));
    assert_ok(mpx_lock_release(l1));
    assert_ok(set_int(d1, "balance", 101)); /* released, but nobody holds a newer token */
    uint64_t t2 = take(l2, 0);
    assert_true(t2 > t1);
    assert_ok(mpx_proxy_fence(d2, l2, t2));
    assert_ok(set_int(d2, "balance", 200));
    /* the first holder's token is stale: every fenced call is refused, nothing changes */
    assert_code(set_int(d1, "balance", 999), MPX_EFENCED);
    assert_non_null(strstr(mpx_last_error(), "fenced out"));
    mpx_value *item = mpx_int(1);
    assert_code(mpx_queue_put(q, item, 0), MPX_EFENCED);
    assert_code(mpx_val_set(v, item), MPX_EFENCED);
    mpx_value_free(&item);
    size_t n = 9;
    assert_code(mpx_queue_qsize(q, &n), MPX_EFENCED); /* reads too, through a fenced proxy */
    assert_ok(mpx_proxy_fence(q, NULL, 0));
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 0);
    assert_int_equal(dict_int(d2, "balance"), 200);
    /* a fence cleared lets calls through unchecked; a fence needs a lock of the same client */
    assert_ok(mpx_proxy_fence(d1, NULL, 0));
    assert_int_equal(dict_int(d1, "balance"), 200);
    assert_code(mpx_proxy_fence(d1, d2, 1), MPX_EINVAL);
    assert_code(mpx_proxy_fence(d1, l2, 1), MPX_EINVAL);
    /* the server checks what it is sent: not a lock, or a malformed wrapper */
    mpx_value *args = mpx_array(), *id = mpx_uint(mpx_proxy_id(d1)), *tok = mpx_uint(1),
              *m = mpx_str("len"), *none = mpx_array(), *out = NULL;
    mpx_array_push(args, &id), mpx_array_push(args, &tok), mpx_array_push(args, &m);
    assert_code(mpx_call(d1, "fenced", args, MPX_TIMEOUT_DEFAULT, &out), MPX_EBADREQ);
    mpx_array_push(args, &none);
    assert_code(mpx_call(d1, "fenced", args, MPX_TIMEOUT_DEFAULT, &out), MPX_ETYPE);
    mpx_value_free(&args);
    assert_ok(mpx_lock_release(l2));
    mpx_proxy *all[] = {l1, l2, d1, d2, q, v};
    for (size_t i = 0; i < 6; i++)
        mpx_proxy_free(&all[i]);
    mpx_client_free(&other);
}

/* A holder stopped (SIGSTOP) past the session timeout loses its lock to a waiter; when it
 * runs again and writes with its token — through a new connection, as a client that
 * reconnects would — the write is refused, and the new holder's value stays. */
static void test_stopped_holder_is_fenced_out(void **state)
{
    (void)state;
    int tok[2];
    assert_int_equal(pipe(tok), 0);
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c;
        mpx_proxy *l, *d;
        uint64_t t;
        bool got;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_lock_open(c, "fence.stopped", &l) || mpx_lock_acquire(l, 0, &got, &t, NULL) ||
            !got || write(tok[1], &t, sizeof t) != sizeof t)
            _exit(1);
        raise(SIGSTOP); /* a long pause: its session ends meanwhile */
        mpx_client *again;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &again) ||
            mpx_lock_open(again, "fence.stopped", &l) ||
            mpx_dict_open(again, "fence.stopped.dict", &d) || mpx_proxy_fence(d, l, t))
            _exit(2);
        _exit(set_int(d, "owner", 1) == MPX_EFENCED ? 0 : 3);
    }
    uint64_t t1 = 0;
    assert_int_equal(read(tok[0], &t1, sizeof t1), sizeof t1);
    mpx_proxy *l, *d;
    assert_ok(mpx_lock_open(client, "fence.stopped", &l));
    assert_ok(mpx_dict_open(client, "fence.stopped.dict", &d));
    bool got, died;
    uint64_t t2;
    assert_ok(mpx_lock_acquire(l, HANDOFF_MS, &got, &t2, &died));
    assert_true(got && died && t2 > t1);
    assert_ok(mpx_proxy_fence(d, l, t2));
    assert_ok(set_int(d, "owner", 2));
    kill(pid, SIGCONT);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(dict_int(d, "owner"), 2);
    assert_ok(mpx_lock_release(l));
    mpx_proxy_free(&l), mpx_proxy_free(&d);
    close(tok[0]), close(tok[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_acquire_release_locked),
        HARNESS_TEST(test_release_by_another_session_is_refused),
        HARNESS_TEST(test_fencing_tokens_only_grow),
        HARNESS_TEST(test_rlock_is_owned_per_thread),
        HARNESS_TEST(test_waiters_get_it_in_arrival_order),
        HARNESS_TEST(test_dead_holder_releases_to_waiter),
        HARNESS_TEST(test_counter_from_four_processes_is_exact),
        HARNESS_TEST(test_fenced_calls),
        HARNESS_TEST(test_stopped_holder_is_fenced_out),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
