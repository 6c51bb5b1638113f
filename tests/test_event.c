/*
 * test_event.c — Event against a real mpxd: set, clear, is_set, wait with and without a
 * timeout, and every waiter (in several clients) woken by one set.
 */
#include <pthread.h>
#include <unistd.h>

#include "harness.h"

static void test_set_clear_is_set_and_wait(void **state)
{
    (void)state;
    mpx_proxy *e = NULL;
    bool b = true;
    assert_ok(mpx_event_new(client, &e));
    assert_ok(mpx_event_is_set(e, &b));
    assert_false(b);
    assert_ok(mpx_event_wait(e, 0, &b));
    assert_false(b);
    assert_ok(mpx_event_wait(e, 100, &b)); /* the timeout path */
    assert_false(b);
    assert_ok(mpx_event_set(e));
    assert_ok(mpx_event_wait(e, MPX_FOREVER, &b));
    assert_true(b);
    assert_ok(mpx_event_clear(e));
    assert_ok(mpx_event_is_set(e, &b));
    assert_false(b);
    assert_code(mpx_event_wait(e, -3, &b), MPX_EINVAL);
    assert_int_equal(mpxd_stat(client, "parked"), 0);
    mpx_proxy_free(&e);
}

typedef struct {
    mpx_client *c;
    bool flag;
    int rc;
} waiter_job;

static void *waiter(void *arg)
{
    waiter_job *job = arg;
    mpx_proxy *e = NULL;
    job->rc = mpx_event_open(job->c, "event.stop", &e);
    if (job->rc == 0) job->rc = mpx_event_wait(e, MPX_FOREVER, &job->flag);
    mpx_proxy_free(&e);
    return NULL;
}

static void test_set_wakes_every_waiter(void **state)
{
    (void)state;
    enum { N = 5 };
    waiter_job jobs[N];
    pthread_t t[N];
    mpx_proxy *e = NULL;
    assert_ok(mpx_event_open(client, "event.stop", &e));
    for (int i = 0; i < N; i++) {
        jobs[i] = (waiter_job){.c = mpxd_connect(&server)};
        pthread_create(&t[i], NULL, waiter, &jobs[i]);
    }
    await_stat(client, "parked", N);
    assert_ok(mpx_event_set(e));
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_ok(jobs[i].rc);
        assert_true(jobs[i].flag);
        mpx_client_free(&jobs[i].c);
    }
    mpx_proxy_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_set_clear_is_set_and_wait),
        HARNESS_TEST(test_set_wakes_every_waiter),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
