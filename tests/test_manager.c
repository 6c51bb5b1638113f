/*
 * test_manager.c — the manager's object calls against a real mpxd: deleting objects (proxies
 * then get MPX_ENOOBJ, parked calls are answered at once, the name is free for any type),
 * listing them through a cursor with a name prefix, and the counts by type in the stats.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void test_delete_frees_the_name(void **state)
{
    (void)state;
    mpx_proxy *d = NULL, *d2 = NULL, *l = NULL;
    mpx_value *k = mpx_str("k"), *v = NULL;
    assert_ok(mpx_dict_open(client, "mgr.victim", &d));
    assert_ok(mpx_dict_set(d, k, k));
    uint64_t old_id = mpx_proxy_id(d);
    assert_ok(mpx_delete(client, "mgr.victim"));
    assert_code(mpx_dict_get(d, k, &v), MPX_ENOOBJ); /* never another object's data */
    assert_code(mpx_delete(client, "mgr.victim"), MPX_ENOOBJ);
    assert_ok(mpx_list_open(client, "mgr.victim", &l)); /* the name is free, for any type */
    assert_true(mpx_proxy_id(l) != old_id);
    assert_ok(mpx_dict_open(client, "mgr.victim2", &d2));
    assert_ok(mpx_proxy_delete(l));
    size_t n;
    assert_code(mpx_list_len(l, &n), MPX_ENOOBJ);
    assert_code(mpx_delete(client, ""), MPX_EINVAL);
    mpx_value_free(&k);
    mpx_proxy_free(&d);
    mpx_proxy_free(&d2);
    mpx_proxy_free(&l);
    assert_ok(mpx_delete(client, "mgr.victim2"));
    await_stat(client, "deleted_held", 0); /* tombstones go with their last reference */
}

/* In a forked child: parks on a get from the named queue; exits 0 if it got MPX_ENOOBJ. */
static int child_get(const char *name)
{
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *q = NULL;
    mpx_value *v = NULL;
    int rc = mpx_queue_open(c, name, 0, &q);
    if (rc == 0) rc = mpx_queue_get(q, MPX_FOREVER, &v);
    mpx_proxy_free(&q);
    mpx_client_free(&c);
    return rc == MPX_ENOOBJ ? 0 : 1;
}

static void test_delete_answers_parked_calls(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(child_get("mgr.queue"));
    await_stat(client, "parked", 1);
    assert_ok(mpx_delete(client, "mgr.queue"));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid); /* answered at once, not after a timeout */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(mpxd_stat(client, "parked"), 0);
    mpx_proxy *q = NULL;
    size_t n = 1;
    assert_ok(mpx_queue_open(client, "mgr.queue", 0, &q)); /* a new, empty queue */
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 0);
    mpx_proxy_free(&q);
    assert_ok(mpx_delete(client, "mgr.queue"));
}

static void test_delete_a_held_lock(void **state)
{
    (void)state;
    mpx_client *holder = mpxd_connect(&server);
    mpx_proxy *l = NULL, *mine = NULL;
    bool got = false;
    assert_ok(mpx_lock_open(holder, "mgr.lock", &l));
    assert_ok(mpx_lock_acquire(l, 0, &got, NULL, NULL));
    assert_true(got);
    assert_ok(mpx_delete(client, "mgr.lock"));
    assert_code(mpx_lock_release(l), MPX_ENOOBJ);
    mpx_proxy_free(&l);
    mpx_client_free(&holder); /* its session ends owning the deleted lock: nothing breaks */
    assert_ok(mpx_lock_open(client, "mgr.lock", &mine));
    assert_ok(mpx_lock_acquire(mine, 0, &got, NULL, NULL));
    assert_true(got);
    assert_ok(mpx_lock_release(mine));
    mpx_proxy_free(&mine);
    assert_ok(mpx_delete(client, "mgr.lock"));
    await_stat(client, "deleted_held", 0);
}

/* A condition keeps working on its lock after the lock's name is deleted: the condition
 * holds the lock, whose state stays until its last reference goes. */
static void test_delete_a_conditions_lock(void **state)
{
    (void)state;
    mpx_proxy *l = NULL, *cond = NULL;
    bool got = false, notified = true;
    assert_ok(mpx_lock_open(client, "mgr.cond.lock", &l));
    assert_ok(mpx_condition_new(client, l, &cond));
    assert_ok(mpx_delete(client, "mgr.cond.lock"));
    assert_code(mpx_lock_locked(l, &got), MPX_ENOOBJ);
    assert_ok(mpx_condition_acquire(cond, 0, &got));
    assert_true(got);
    assert_ok(mpx_condition_wait(cond, 50, &notified)); /* releases and re-takes the lock */
    assert_false(notified);
    assert_ok(mpx_condition_notify_all(cond));
    assert_ok(mpx_condition_release(cond));
    mpx_proxy_free(&l);
    mpx_proxy_free(&cond);
    await_stat(client, "deleted_held", 0);
}

/* Collects every row the listing gives for prefix, count at a time. */
static mpx_value *list_all(const char *prefix, size_t count)
{
    mpx_value *all = mpx_array();
    uint64_t cursor = 0;
    int calls = 0;
    do {
        mpx_value *rows = NULL;
        assert_ok(mpx_objects(client, prefix, cursor, count, &cursor, &rows));
        for (size_t i = 0; i < mpx_value_len(rows); i++) {
            mpx_value *row = mpx_value_copy(mpx_value_at(rows, i));
            assert_ok(mpx_array_push(all, &row));
        }
        mpx_value_free(&rows);
        assert_true(++calls < 10000);
    } while (cursor);
    return all;
}

static const mpx_value *row_named(const mpx_value *rows, const char *name)
{
    for (size_t i = 0; i < mpx_value_len(rows); i++) {
        const mpx_value *n = mpx_value_at(mpx_value_at(rows, i), 1);
        if (mpx_value_type(n) == MPX_STR && strcmp(mpx_value_str(n, NULL), name) == 0)
            return mpx_value_at(rows, i);
    }
    return NULL;
}

static void test_listing_through_a_cursor(void **state)
{
    (void)state;
    enum { N = 300 };
    mpx_proxy *p[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "list.me/%d", i);
        if (i % 2)
            assert_ok(mpx_list_open(client, name, &p[i]));
        else
            assert_ok(mpx_dict_open(client, name, &p[i]));
    }
    mpx_value *x = mpx_int(1);
    assert_ok(mpx_list_append(p[1], x));
    assert_ok(mpx_list_append(p[1], x));
    mpx_value *rows = list_all("list.me/", 7);
    assert_true(mpx_value_len(rows) >= N); /* at least once each (more if the table grew) */
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "list.me/%d", i);
        const mpx_value *row = row_named(rows, name);
        assert_non_null(row);
        uint64_t id, size, refs;
        assert_ok(mpx_value_get_uint(mpx_value_at(row, 0), &id));
        assert_int_equal(id, mpx_proxy_id(p[i]));
        assert_string_equal(mpx_value_str(mpx_value_at(row, 2), NULL), i % 2 ? "list" : "dict");
        assert_ok(mpx_value_get_uint(mpx_value_at(row, 3), &size));
        assert_int_equal(size, i == 1 ? 2 : 0);
        assert_ok(mpx_value_get_uint(mpx_value_at(row, 4), &refs));
        assert_int_equal(refs, 1); /* this session's proxy */
    }
    mpx_value_free(&rows);
    rows = list_all("no such prefix", 50);
    assert_int_equal(mpx_value_len(rows), 0);
    mpx_value_free(&rows);
    mpx_value *stats = NULL;
    assert_ok(mpx_server_stats(client, &stats));
    const mpx_value *by_type = mpx_map_get(stats, "objects_by_type");
    uint64_t lists = 0;
    assert_ok(mpx_value_get_uint(mpx_map_get(by_type, "list"), &lists));
    assert_true(lists >= N / 2);
    mpx_value_free(&stats);
    for (int i = 0; i < N; i++) {
        assert_ok(mpx_proxy_delete(p[i]));
        mpx_proxy_free(&p[i]);
    }
    rows = list_all("list.me/", 100);
    assert_int_equal(mpx_value_len(rows), 0);
    mpx_value_free(&rows);
    mpx_value_free(&x);
}

/* A listing that finds nothing is an empty batch (the fuzzer found it wrote from no buffer:
 * fuzz/corpus/dispatch/regress-empty-objects-listing). */
static void test_empty_listing(void **state)
{
    (void)state;
    mpxd_proc srv; /* a fresh mpxd: its first listing */
    mpxd_start(&srv, "ipc", NULL);
    mpx_client *c = mpxd_connect(&srv);
    uint64_t next = 1;
    mpx_value *rows = NULL;
    assert_ok(mpx_objects(c, "no object has this name/", 0, 5, &next, &rows));
    assert_int_equal(mpx_value_len(rows), 0);
    mpx_value_free(&rows);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&srv), 0);
}

/* --max-session-objects: past it a session's create is refused with MPX_ETOOMANY and counted;
 * releasing one makes room, and another session has its own allowance. */
static void test_objects_per_session_are_bounded(void **state)
{
    (void)state;
    mpxd_proc srv;
    const char *extra[] = {"--max-session-objects", "3", NULL};
    mpxd_start(&srv, "ipc", extra);
    mpx_client *a = mpxd_connect(&srv), *b = mpxd_connect(&srv);
    mpx_proxy *l[4] = {0}, *other = NULL;
    for (int i = 0; i < 3; i++)
        assert_ok(mpx_list_new(a, &l[i]));
    assert_code(mpx_list_new(a, &l[3]), MPX_ETOOMANY);
    assert_true(mpx_err_is_remote(MPX_ETOOMANY)); /* the session goes on */
    assert_non_null(strstr(mpx_last_error(), "--max-session-objects"));
    assert_int_equal(mpxd_stat(a, "rejected_objects"), 1);
    char *log = read_file(srv.logfile, NULL);
    assert_non_null(strstr(log, "--max-session-objects: create refused"));
    free(log);
    assert_ok(mpx_list_new(b, &other));
    mpx_proxy_free(&l[0]);
    assert_ok(mpx_list_new(a, &l[3]));
    for (int i = 0; i < 4; i++)
        mpx_proxy_free(&l[i]);
    mpx_proxy_free(&other);
    mpx_client_free(&a);
    mpx_client_free(&b);
    assert_int_equal(mpxd_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_delete_frees_the_name),
        HARNESS_TEST(test_delete_answers_parked_calls),
        HARNESS_TEST(test_delete_a_held_lock),
        HARNESS_TEST(test_delete_a_conditions_lock),
        HARNESS_TEST(test_listing_through_a_cursor),
        cmocka_unit_test(test_empty_listing),
        cmocka_unit_test(test_objects_per_session_are_bounded),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
