/*
 * test_future.c — asynchronous calls against a real mpxd: many calls in flight matched to
 * their futures, pipelined writes then reads, remote errors that keep the connection, a parked
 * call that does not hold up later ones, timeouts, futures freed unwaited, a client freed under
 * its futures, futures waited from several threads, a future carried into a fork()ed child,
 * deferred calls sent by mpx_client_flush(), deferred calls at the size limit, and bad
 * arguments.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define IN_FLIGHT 256

static mpx_value *key_n(const char *prefix, int i)
{
    char k[48];
    snprintf(k, sizeof k, "%s-%d", prefix, i);
    return mpx_str(k);
}

/* queue.get(block=true, timeout=nil) as an asynchronous call with a call timeout. */
static mpx_future *async_blocking_get(mpx_proxy *q, int timeout_ms)
{
    mpx_value *args = mpx_array(), *yes = mpx_bool(true), *nil = mpx_nil();
    mpx_future *f = NULL;
    assert_ok(mpx_array_push(args, &yes));
    assert_ok(mpx_array_push(args, &nil));
    assert_ok(mpx_call_async(q, "get", args, timeout_ms, &f));
    mpx_value_free(&args);
    return f;
}

/* Waits a future for an integer result and frees it. */
static int64_t wait_int(mpx_future **f)
{
    mpx_value *v = NULL;
    int64_t i = -1;
    assert_ok(mpx_future_wait(*f, &v));
    assert_ok(mpx_value_get_int(v, &i));
    mpx_value_free(&v);
    mpx_future_free(f);
    assert_null(*f);
    return i;
}

/* Sends IN_FLIGHT writes and then IN_FLIGHT reads of the same keys before waiting for any:
 * each read sees its write, and each reply reaches its own future. */
static void test_pipelined_sets_then_gets(void **state)
{
    (void)state;
    mpx_proxy *d = NULL;
    mpx_future *sets[IN_FLIGHT], *gets[IN_FLIGHT];
    assert_ok(mpx_dict_new(client, &d));
    for (int i = 0; i < IN_FLIGHT; i++) {
        mpx_value *k = key_n("k", i), *v = mpx_int(i * 7);
        assert_ok(mpx_dict_set_async(d, k, v, &sets[i]));
        mpx_value_free(&k);
        mpx_value_free(&v);
    }
    for (int i = 0; i < IN_FLIGHT; i++) {
        mpx_value *k = key_n("k", i);
        assert_ok(mpx_dict_get_async(d, k, &gets[i]));
        mpx_value_free(&k);
    }
    /* Collected in reverse: the replies of earlier calls wait in their futures meanwhile. */
    for (int i = IN_FLIGHT - 1; i >= 0; i--)
        assert_int_equal(wait_int(&gets[i]), i * 7);
    for (int i = 0; i < IN_FLIGHT; i++) {
        mpx_value *nil = NULL;
        assert_ok(mpx_future_wait(sets[i], &nil));
        assert_int_equal(mpx_value_type(nil), MPX_NIL);
        mpx_value_free(&nil);
        mpx_future_free(&sets[i]);
    }
    size_t n = 0;
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, IN_FLIGHT);
    mpx_proxy_free(&d);
}

/* A remote error comes back through the future, and the connection goes on. */
static void test_remote_error_keeps_connection(void **state)
{
    (void)state;
    mpx_proxy *d = NULL;
    mpx_future *f = NULL, *g = NULL;
    mpx_value *k = mpx_str("absent"), *out = NULL, *args = mpx_array(), *one = mpx_int(1);
    assert_ok(mpx_dict_new(client, &d));
    assert_ok(mpx_dict_get_async(d, k, &f));
    assert_ok(mpx_array_push(args, &one));
    assert_ok(mpx_call_async(d, "no_such_method", args, MPX_TIMEOUT_DEFAULT, &g));
    assert_code(mpx_future_wait(f, &out), MPX_EKEY);
    assert_non_null(strstr(mpx_last_error(), "absent"));
    assert_null(out);
    assert_code(mpx_future_wait(g, NULL), MPX_ENOMETHOD);
    assert_code(mpx_future_wait(f, &out), MPX_EINVAL); /* a future is waited once */
    mpx_future_free(&f);
    mpx_future_free(&g);
    assert_ok(mpx_ping(client));
    mpx_value_free(&k);
    mpx_value_free(&args);
    mpx_proxy_free(&d);
}

/* A get parked on an empty queue leaves later calls on the same connection free to complete;
 * it is answered once an item arrives. */
static void test_parked_call_does_not_hold_up_others(void **state)
{
    (void)state;
    mpx_proxy *q = NULL, *d = NULL;
    mpx_future *get = NULL, *set = NULL;
    mpx_value *k = mpx_str("k"), *v = mpx_int(5), *item = mpx_int(42);
    assert_ok(mpx_queue_new(client, 0, &q));
    assert_ok(mpx_dict_new(client, &d));
    get = async_blocking_get(q, 30000);
    assert_ok(mpx_dict_set_async(d, k, v, &set));
    assert_ok(mpx_future_wait(set, NULL));
    await_stat(client, "parked", 1);
    assert_false(mpx_future_ready(get));
    assert_ok(mpx_queue_put(q, item, 0));
    for (int i = 0; i < 1000 && !mpx_future_ready(get); i++)
        usleep(10 * 1000); /* bounded: "it did not hang" */
    assert_true(mpx_future_ready(get));
    assert_int_equal(wait_int(&get), 42);
    mpx_future_free(&set);
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_value_free(&item);
    mpx_proxy_free(&d);
    mpx_proxy_free(&q);
}

/* A call whose timeout runs out reports MPX_ETIMEDOUT; a future freed before its reply drops
 * that reply; neither disturbs the calls after them. */
static void test_timeout_and_unwaited_futures(void **state)
{
    (void)state;
    mpx_proxy *q = NULL, *d = NULL;
    mpx_future *get = NULL, *dropped[16];
    assert_ok(mpx_queue_new(client, 0, &q));
    assert_ok(mpx_dict_new(client, &d));
    get = async_blocking_get(q, 200);
    assert_code(mpx_future_wait(get, NULL), MPX_ETIMEDOUT);
    assert_true(mpx_future_ready(get));
    mpx_future_free(&get);
    for (int i = 0; i < 16; i++) {
        mpx_value *k = key_n("d", i), *v = mpx_int(i);
        assert_ok(mpx_dict_set_async(d, k, v, &dropped[i]));
        mpx_future_free(&dropped[i]);
        mpx_value_free(&k);
        mpx_value_free(&v);
    }
    size_t n = 0;
    assert_ok(mpx_dict_len(d, &n)); /* sent in order: every set ran before this */
    assert_int_equal(n, 16);
    mpx_future_free(NULL);
    mpx_proxy_free(&d);
    mpx_proxy_free(&q);
}

typedef struct {
    mpx_proxy *d;
    int id;
    int failures;
} thread_arg;

/* One thread: 200 futures in flight, then each checked. */
static void *future_thread(void *p)
{
    thread_arg *a = p;
    mpx_future *f[200];
    for (int i = 0; i < 200; i++) {
        mpx_value *k = key_n(a->id ? "t1" : "t0", i), *v = mpx_int(a->id * 1000 + i);
        if (mpx_dict_set_async(a->d, k, v, &f[i]) != 0) a->failures++;
        mpx_value_free(&k);
        mpx_value_free(&v);
    }
    for (int i = 0; i < 200; i++) {
        if (mpx_future_wait(f[i], NULL) != 0) a->failures++;
        mpx_future_free(&f[i]);
    }
    for (int i = 0; i < 200; i++) {
        mpx_value *k = key_n(a->id ? "t1" : "t0", i);
        if (mpx_dict_get_async(a->d, k, &f[i]) != 0) a->failures++;
        mpx_value_free(&k);
    }
    for (int i = 0; i < 200; i++) {
        mpx_value *v = NULL;
        int64_t got = -1;
        if (mpx_future_wait(f[i], &v) != 0 || mpx_value_get_int(v, &got) != 0 ||
            got != a->id * 1000 + i)
            a->failures++;
        mpx_value_free(&v);
        mpx_future_free(&f[i]);
    }
    return NULL;
}

static void test_futures_from_several_threads(void **state)
{
    (void)state;
    mpx_proxy *d = NULL;
    pthread_t t[2];
    thread_arg a[2];
    assert_ok(mpx_dict_new(client, &d));
    for (int i = 0; i < 2; i++) {
        a[i] = (thread_arg){.d = d, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, future_thread, &a[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    mpx_proxy_free(&d);
}

/* Freeing the client under a future in flight: its wait says MPX_ECLOSED. */
static void test_client_freed_under_future(void **state)
{
    (void)state;
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *q = NULL;
    mpx_future *f = NULL;
    assert_ok(mpx_queue_new(c, 0, &q));
    f = async_blocking_get(q, MPX_TIMEOUT_DEFAULT);
    mpx_client_free(&c);
    assert_code(mpx_future_wait(f, NULL), MPX_ECLOSED);
    mpx_future_free(&f);
    mpx_proxy_free(&q);
}

/* Every order of freeing handles that refer to each other: a future whose reply had already
 * arrived, a future never waited, a proxy, a manager's client. Each wait or call on a handle
 * whose client is gone says MPX_ECLOSED; each free works in any order (AddressSanitizer checks
 * that nothing reads freed memory). */
static void test_orders_of_freeing(void **state)
{
    (void)state;
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL, *d2 = NULL;
    mpx_future *answered = NULL, *unwaited = NULL;
    mpx_value *k = mpx_str("k"), *v = NULL;
    assert_ok(mpx_dict_new(c, &d));
    assert_ok(mpx_dict_new(c, &d2));
    assert_ok(mpx_dict_set_async(d, k, k, &answered));
    assert_ok(mpx_client_flush(c));
    for (int i = 0; i < 500 && !mpx_future_ready(answered); i++) /* the reply is in */
        usleep(1000);
    assert_true(mpx_future_ready(answered));
    assert_ok(mpx_dict_get_async(d, k, &unwaited));
    mpx_client_free(&c);
    assert_null(c);
    assert_code(mpx_future_wait(answered, NULL), MPX_ECLOSED);
    assert_code(mpx_dict_get(d, k, &v), MPX_ECLOSED);
    mpx_future *late = NULL;
    assert_code(mpx_dict_set_async(d, k, k, &late), MPX_ECLOSED);
    assert_null(late);
    mpx_proxy_free(&d); /* a proxy before its futures */
    mpx_future_free(&answered);
    mpx_future_free(&unwaited); /* the last reference: the client's memory goes here */
    assert_code(mpx_dict_len(d2, &(size_t){0}), MPX_ECLOSED);
    mpx_proxy_free(&d2);
    assert_null(d2);

    /* A manager shut down before the proxies made on its client. */
    mpx_manager *m = NULL;
    assert_ok(mpx_manager_start(&m));
    assert_ok(mpx_dict_new(mpx_manager_client(m), &d));
    mpx_manager_shutdown(&m);
    assert_code(mpx_dict_set(d, k, k), MPX_ECLOSED);
    mpx_proxy_free(&d);
    mpx_value_free(&k);
}

/* A future carried into a fork()ed child belongs to the parent's session: the child is told,
 * and the parent still collects the result. */
static void test_future_across_fork(void **state)
{
    (void)state;
    mpx_proxy *d = NULL;
    mpx_future *f = NULL;
    mpx_value *k = mpx_str("fk"), *v = mpx_int(11);
    assert_ok(mpx_dict_new(client, &d));
    assert_ok(mpx_dict_set(d, k, v));
    assert_ok(mpx_dict_get_async(d, k, &f));
    pid_t pid = fork();
    if (pid == 0) {
        int rc = mpx_future_wait(f, NULL);
        mpx_value *got = NULL;
        int64_t i = -1;
        bool ok = rc == MPX_ECONN && mpx_dict_get(d, k, &got) == 0 &&
                  mpx_value_get_int(got, &i) == 0 && i == 11;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(wait_int(&f), 11);
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_proxy_free(&d);
}

/* True once `other` reads key from dict name, polling for at most wait_ms. */
static bool seen_within(mpx_client *other, const char *name, const mpx_value *key, int wait_ms)
{
    mpx_proxy *d = NULL;
    bool in = false;
    assert_ok(mpx_dict_open(other, name, &d));
    for (int waited = 0; !in && waited <= wait_ms; waited += 10) {
        assert_ok(mpx_dict_contains(d, key, &in));
        if (!in) usleep(10 * 1000);
    }
    mpx_proxy_free(&d);
    return in;
}

/* Deferred calls wait in the client until something sends them: here mpx_client_flush(). The
 * server's long session timeout puts the next heartbeat (which would send them too) 15 s
 * away, past this test. */
static void test_flush_sends_deferred_calls(void **state)
{
    (void)state;
    const char *extra[] = {"--session-timeout", "60000", NULL};
    mpxd_proc slow;
    mpxd_start(&slow, "ipc", extra);
    mpx_client *a = mpxd_connect(&slow), *b = mpxd_connect(&slow);
    mpx_proxy *d = NULL;
    mpx_future *f = NULL;
    mpx_value *k = mpx_str("deferred"), *v = mpx_int(1);
    assert_ok(mpx_dict_open(a, "flush.dict", &d));
    assert_ok(mpx_dict_set_async(d, k, v, &f));
    assert_false(seen_within(b, "flush.dict", k, 300));
    assert_ok(mpx_client_flush(a));
    assert_true(seen_within(b, "flush.dict", k, 10000));
    assert_ok(mpx_future_wait(f, NULL));
    mpx_future_free(&f);
    assert_code(mpx_client_flush(NULL), MPX_EINVAL);
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_proxy_free(&d);
    mpx_client_free(&a);
    mpx_client_free(&b);
    assert_int_equal(mpxd_stop(&slow), 0);
}

/* Deferred calls of every size around the server's limit: each is served, or refused at once
 * with MPX_ETOOBIG; none is lost to a batch that grew past the limit (it would time out). */
static void test_deferred_calls_near_the_size_limit(void **state)
{
    (void)state;
    const char *extra[] = {"--max-message", "4096", NULL};
    mpxd_proc small;
    mpxd_start(&small, "ipc", extra);
    mpx_client *c = mpxd_connect(&small);
    mpx_proxy *d = NULL;
    char blob[4200];
    int served = 0, refused = 0;
    memset(blob, 'x', sizeof blob);
    assert_ok(mpx_client_set_timeout(c, 3000));
    assert_ok(mpx_dict_new(c, &d));
    for (size_t n = 4040; n <= 4090; n++) {
        mpx_value *k = mpx_str("k"), *v = mpx_bytes(blob, n);
        mpx_future *f = NULL;
        int rc = mpx_dict_set_async(d, k, v, &f);
        if (rc == 0) rc = mpx_future_wait(f, NULL);
        assert_true(rc == 0 || rc == MPX_ETOOBIG);
        served += rc == 0;
        refused += rc == MPX_ETOOBIG;
        mpx_future_free(&f);
        mpx_value_free(&k);
        mpx_value_free(&v);
    }
    assert_true(served > 0 && refused > 0); /* the sizes straddle the limit */
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&small), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    mpx_proxy *d = NULL, *q = NULL;
    mpx_future *f = NULL;
    mpx_value *k = mpx_str("k"), *notarray = mpx_int(1), *big = mpx_array();
    assert_ok(mpx_dict_new(client, &d));
    assert_ok(mpx_queue_new(client, 0, &q));
    for (int i = 0; i < 17; i++) {
        mpx_value *x = mpx_int(i);
        assert_ok(mpx_array_push(big, &x));
    }
    assert_code(mpx_call_async(d, "len", notarray, MPX_TIMEOUT_DEFAULT, &f), MPX_EINVAL);
    assert_code(mpx_call_async(d, "len", big, MPX_TIMEOUT_DEFAULT, &f), MPX_EINVAL);
    assert_code(mpx_call_async(d, NULL, NULL, MPX_TIMEOUT_DEFAULT, &f), MPX_EINVAL);
    assert_code(mpx_call_async(d, "len", NULL, MPX_TIMEOUT_DEFAULT, NULL), MPX_EINVAL);
    assert_code(mpx_call_async(NULL, "len", NULL, MPX_TIMEOUT_DEFAULT, &f), MPX_EINVAL);
    assert_code(mpx_dict_get_async(q, k, &f), MPX_EINVAL); /* a queue is not a dict */
    assert_code(mpx_dict_get_async(d, NULL, &f), MPX_EINVAL);
    assert_code(mpx_dict_set_async(d, k, NULL, &f), MPX_EINVAL);
    assert_null(f);
    assert_code(mpx_future_wait(NULL, NULL), MPX_EINVAL);
    assert_false(mpx_future_ready(NULL));
    assert_ok(mpx_call_async(d, "len", NULL, MPX_TIMEOUT_DEFAULT, &f));
    assert_int_equal(wait_int(&f), 0);
    mpx_value_free(&k);
    mpx_value_free(&notarray);
    mpx_value_free(&big);
    mpx_proxy_free(&q);
    mpx_proxy_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_pipelined_sets_then_gets),
        HARNESS_TEST(test_remote_error_keeps_connection),
        HARNESS_TEST(test_parked_call_does_not_hold_up_others),
        HARNESS_TEST(test_timeout_and_unwaited_futures),
        HARNESS_TEST(test_futures_from_several_threads),
        HARNESS_TEST(test_client_freed_under_future),
        HARNESS_TEST(test_orders_of_freeing),
        HARNESS_TEST(test_future_across_fork),
        HARNESS_TEST(test_flush_sends_deferred_calls),
        HARNESS_TEST(test_deferred_calls_near_the_size_limit),
        HARNESS_TEST(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
