/*
 * test_semaphore.c — Semaphore and BoundedSemaphore against a real mpxd: counting, the
 * timeout path, releases waking waiters in arrival order, the bound, and units held by a
 * process killed with SIGKILL coming back.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static uint64_t value_of(mpx_proxy *s)
{
    uint64_t v = 99;
    assert_ok(mpx_semaphore_value(s, &v));
    return v;
}

static void test_counts_units(void **state)
{
    (void)state;
    mpx_proxy *s = NULL;
    bool got = false;
    assert_ok(mpx_semaphore_new(client, 2, &s));
    assert_ok(mpx_semaphore_acquire(s, 0, &got));
    assert_true(got);
    assert_ok(mpx_semaphore_acquire(s, MPX_FOREVER, &got));
    assert_true(got);
    assert_int_equal(value_of(s), 0);
    assert_ok(mpx_semaphore_acquire(s, 0, &got));
    assert_false(got);
    assert_ok(mpx_semaphore_acquire(s, 100, &got)); /* the timeout path */
    assert_false(got);
    assert_ok(mpx_semaphore_release(s, 3)); /* a plain semaphore may go past its start */
    assert_int_equal(value_of(s), 3);
    assert_code(mpx_semaphore_release(s, 0), MPX_EINVAL);
    /* A huge n is refused or served at once, never looped over, and never overflows. */
    assert_code(mpx_semaphore_release(s, UINT64_MAX), MPX_EVALUE);
    assert_ok(mpx_semaphore_release(s, UINT64_MAX - 3));
    assert_true(value_of(s) == UINT64_MAX);
    assert_ok(mpx_ping(client));
    mpx_proxy_free(&s);
}

static void test_bounded_refuses_over_release(void **state)
{
    (void)state;
    mpx_proxy *s = NULL;
    bool got;
    assert_ok(mpx_bounded_semaphore_new(client, 1, &s));
    assert_code(mpx_semaphore_release(s, 1), MPX_EVALUE);
    assert_non_null(strstr(mpx_last_error(), "too many times"));
    assert_int_equal(value_of(s), 1);
    assert_ok(mpx_semaphore_acquire(s, 0, &got));
    assert_ok(mpx_semaphore_release(s, 1));
    assert_int_equal(value_of(s), 1);
    mpx_proxy_free(&s);
}

typedef struct {
    mpx_client *c;
    bool got;
    _Atomic bool done;
} sem_job;

static void *acquirer(void *arg)
{
    sem_job *job = arg;
    mpx_proxy *s = NULL;
    if (mpx_semaphore_open(job->c, "sem.fifo", 0, &s) == 0)
        mpx_semaphore_acquire(s, MPX_FOREVER, &job->got);
    job->done = true;
    mpx_proxy_free(&s); /* keeps its unit: only its session's end gives it back */
    return NULL;
}

static void test_release_wakes_waiters_in_order(void **state)
{
    (void)state;
    enum { N = 3 };
    sem_job jobs[N];
    pthread_t t[N];
    mpx_proxy *s = NULL;
    assert_ok(mpx_semaphore_open(client, "sem.fifo", 0, &s));
    for (int i = 0; i < N; i++) {
        jobs[i] = (sem_job){.c = mpxd_connect(&server)};
        pthread_create(&t[i], NULL, acquirer, &jobs[i]);
        await_stat(client, "parked", (uint64_t)i + 1);
    }
    /* One unit: the first to arrive gets it, and only it. */
    assert_ok(mpx_semaphore_release(s, 1));
    pthread_join(t[0], NULL);
    assert_true(jobs[0].got);
    await_stat(client, "parked", N - 1);
    assert_false(jobs[1].done);
    assert_false(jobs[2].done);
    /* release(n) wakes n waiters at once. */
    assert_ok(mpx_semaphore_release(s, 2));
    for (int i = 1; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_true(jobs[i].got);
    }
    assert_int_equal(value_of(s), 0);
    /* Their sessions end: the units they never released come back. */
    for (int i = 0; i < N; i++)
        mpx_client_free(&jobs[i].c);
    for (int i = 0; i < 200 && value_of(s) != N; i++)
        usleep(10 * 1000);
    assert_int_equal(value_of(s), N);
    mpx_proxy_free(&s);
}

static void test_killed_holder_units_come_back(void **state)
{
    (void)state;
    mpx_proxy *s = NULL;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    assert_ok(mpx_bounded_semaphore_open(client, "sem.killed", 2, &s));
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *cs = NULL;
        bool got = false;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_bounded_semaphore_open(c, "sem.killed", 2, &cs) ||
            mpx_semaphore_acquire(cs, 0, &got) || !got || mpx_semaphore_acquire(cs, 0, &got) ||
            !got || write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    assert_int_equal(value_of(s), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    bool got = false;
    assert_ok(mpx_semaphore_acquire(s, MPX_FOREVER, &got)); /* bounded by the test timeout */
    assert_true(got);
    assert_int_equal(value_of(s), 1);
    assert_ok(mpx_semaphore_release(s, 1));
    assert_int_equal(value_of(s), 2);
    close(ready[0]);
    close(ready[1]);
    mpx_proxy_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_units),
        cmocka_unit_test(test_bounded_refuses_over_release),
        cmocka_unit_test(test_release_wakes_waiters_in_order),
        cmocka_unit_test(test_killed_holder_units_come_back),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
