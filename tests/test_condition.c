/*
 * test_condition.c — Condition against a real mpxd: the lock must be held, wait releases and
 * re-acquires it (RLock depth kept), its timeout path, notify(n) and notify_all in arrival
 * order, wait_for with a predicate, and a waiter killed with SIGKILL leaving it consistent.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void hold(mpx_proxy *cond)
{
    bool got = false;
    assert_ok(mpx_condition_acquire(cond, MPX_FOREVER, &got));
    assert_true(got);
}

static void test_lock_must_be_held(void **state)
{
    (void)state;
    mpx_proxy *cond = NULL;
    bool notified;
    assert_ok(mpx_condition_new(client, NULL, &cond));
    assert_code(mpx_condition_wait(cond, 0, &notified), MPX_ENOTHELD);
    assert_code(mpx_condition_notify(cond, 1), MPX_ENOTHELD);
    assert_code(mpx_condition_notify_all(cond), MPX_ENOTHELD);
    mpx_proxy_free(&cond);
}

static void test_wait_times_out_and_reacquires(void **state)
{
    (void)state;
    mpx_proxy *lock = NULL, *cond = NULL;
    bool notified = true;
    assert_ok(mpx_rlock_new(client, &lock));
    assert_ok(mpx_condition_new(client, lock, &cond));
    mpx_proxy_free(&lock); /* the condition keeps its lock alive */
    hold(cond);
    hold(cond); /* depth 2 */
    assert_ok(mpx_condition_wait(cond, 100, &notified));
    assert_false(notified);
    /* Back at depth 2: two releases free it, a third is refused. */
    assert_ok(mpx_condition_release(cond));
    assert_ok(mpx_condition_release(cond));
    assert_code(mpx_condition_release(cond), MPX_ENOTHELD);
    mpx_proxy_free(&cond);
}

typedef struct {
    mpx_client *c;
    const char *name;
    bool notified;
    int rc;
    atomic_int *order; /* incremented while holding the lock after the wait */
    int my_order;
} waiter_job;

static void *waiter(void *arg)
{
    waiter_job *job = arg;
    mpx_proxy *cond = NULL;
    bool got = false;
    job->rc = mpx_condition_open(job->c, job->name, NULL, &cond);
    if (job->rc == 0) job->rc = mpx_condition_acquire(cond, MPX_FOREVER, &got);
    if (job->rc == 0) job->rc = mpx_condition_wait(cond, MPX_FOREVER, &job->notified);
    if (job->rc == 0) {
        job->my_order = atomic_fetch_add(job->order, 1); /* under the lock: ordered */
        job->rc = mpx_condition_release(cond);
    }
    mpx_proxy_free(&cond);
    return NULL;
}

static void test_notify_wakes_in_arrival_order(void **state)
{
    (void)state;
    enum { N = 3 };
    atomic_int order = 0;
    waiter_job jobs[N];
    pthread_t t[N];
    mpx_proxy *cond = NULL;
    assert_ok(mpx_condition_open(client, "cond.order", NULL, &cond));
    for (int i = 0; i < N; i++) {
        jobs[i] = (waiter_job){.c = mpxd_connect(&server), .name = "cond.order", .order = &order};
        pthread_create(&t[i], NULL, waiter, &jobs[i]);
        await_stat(client, "parked", (uint64_t)i + 1);
    }
    hold(cond);
    assert_ok(mpx_condition_notify(cond, 1));
    assert_ok(mpx_condition_release(cond));
    pthread_join(t[0], NULL); /* the first to wait, and only it */
    assert_ok(jobs[0].rc);
    assert_true(jobs[0].notified);
    await_stat(client, "parked", N - 1);
    hold(cond);
    assert_ok(mpx_condition_notify_all(cond));
    assert_ok(mpx_condition_release(cond));
    for (int i = 1; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_ok(jobs[i].rc);
        assert_true(jobs[i].notified);
        assert_int_equal(jobs[i].my_order, i);
    }
    for (int i = 0; i < N; i++)
        mpx_client_free(&jobs[i].c);
    mpx_proxy_free(&cond);
}

typedef struct {
    mpx_proxy *flag; /* a value object */
} pred_arg;

static bool flag_is_set(void *arg)
{
    pred_arg *p = arg;
    mpx_value *v = NULL;
    bool b = false;
    if (mpx_call(p->flag, "get", NULL, MPX_TIMEOUT_DEFAULT, &v) == 0) mpx_value_get_bool(v, &b);
    mpx_value_free(&v);
    return b;
}

typedef struct {
    mpx_client *c;
    int rc;
} setter_job;

static void *setter(void *arg)
{
    setter_job *job = arg;
    mpx_proxy *cond = NULL, *flag = NULL;
    mpx_value *args = mpx_array(), *t = mpx_bool(true);
    bool got;
    mpx_array_push(args, &t);
    job->rc = mpx_condition_open(job->c, "cond.pred", NULL, &cond);
    if (job->rc == 0) job->rc = mpx_open(job->c, "cond.flag", "value", &flag);
    if (job->rc == 0) job->rc = mpx_condition_acquire(cond, MPX_FOREVER, &got);
    if (job->rc == 0) job->rc = mpx_call(flag, "set", args, MPX_TIMEOUT_DEFAULT, NULL);
    if (job->rc == 0) job->rc = mpx_condition_notify_all(cond);
    if (job->rc == 0) job->rc = mpx_condition_release(cond);
    mpx_value_free(&args);
    mpx_value_free(&t);
    mpx_proxy_free(&flag);
    mpx_proxy_free(&cond);
    return NULL;
}

static void test_wait_for_predicate(void **state)
{
    (void)state;
    mpx_proxy *cond = NULL, *flag = NULL;
    bool result = true;
    assert_ok(mpx_condition_open(client, "cond.pred", NULL, &cond));
    assert_ok(mpx_open(client, "cond.flag", "value", &flag));
    pred_arg arg = {.flag = flag};
    hold(cond);
    assert_ok(mpx_condition_wait_for(cond, flag_is_set, &arg, 100, &result)); /* times out */
    assert_false(result);
    setter_job job = {.c = mpxd_connect(&server)};
    pthread_t t;
    pthread_create(&t, NULL, setter, &job);
    assert_ok(mpx_condition_wait_for(cond, flag_is_set, &arg, MPX_FOREVER, &result));
    assert_true(result);
    assert_ok(mpx_condition_release(cond));
    pthread_join(t, NULL);
    assert_ok(job.rc);
    mpx_client_free(&job.c);
    mpx_proxy_free(&flag);
    mpx_proxy_free(&cond);
}

static void test_dead_waiter_leaves_it_consistent(void **state)
{
    (void)state;
    mpx_proxy *cond = NULL;
    atomic_int order = 0;
    assert_ok(mpx_condition_open(client, "cond.dead", NULL, &cond));
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *cc = NULL;
        bool got, notified;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_condition_open(c, "cond.dead", NULL, &cc) ||
            mpx_condition_acquire(cc, MPX_FOREVER, &got))
            _exit(1);
        mpx_condition_wait(cc, MPX_FOREVER, &notified);
        _exit(2);
    }
    await_stat(client, "parked", 1);
    waiter_job job = {.c = mpxd_connect(&server), .name = "cond.dead", .order = &order};
    pthread_t t;
    pthread_create(&t, NULL, waiter, &job);
    await_stat(client, "parked", 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    await_stat(client, "parked", 1); /* the dead waiter is gone with its session */
    hold(cond);
    assert_ok(mpx_condition_notify(cond, 1)); /* reaches the live waiter */
    assert_ok(mpx_condition_release(cond));
    pthread_join(t, NULL);
    assert_ok(job.rc);
    assert_true(job.notified);
    mpx_client_free(&job.c);
    mpx_proxy_free(&cond);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_lock_must_be_held),
        HARNESS_TEST(test_wait_times_out_and_reacquires),
        HARNESS_TEST(test_notify_wakes_in_arrival_order),
        HARNESS_TEST(test_wait_for_predicate),
        HARNESS_TEST(test_dead_waiter_leaves_it_consistent),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
