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
    const char *name;
    unsigned flags;
    bool got;
    _Atomic bool done;
} sem_job;

static void *acquirer(void *arg)
{
    sem_job *job = arg;
    mpx_proxy *s = NULL;
    if (mpx_semaphore_open_flags(job->c, job->name, 0, job->flags, &s) == 0)
        mpx_semaphore_acquire(s, 10000, &job->got);
    job->done = true;
    mpx_proxy_free(&s); /* keeps its unit */
    return NULL;
}

/* N waiters are served in arrival order, release(n) wakes n at once; then their sessions end,
 * and what happens to the units they never released depends on the flag: a plain semaphore
 * keeps its count (Python's semantics), a give_back one gets them back. */
static void wake_in_order_then_end(const char *name, unsigned flags, uint64_t after_end)
{
    enum { N = 3 };
    sem_job jobs[N];
    pthread_t t[N];
    mpx_proxy *s = NULL;
    assert_ok(mpx_semaphore_open_flags(client, name, 0, flags, &s));
    for (int i = 0; i < N; i++) {
        jobs[i] = (sem_job){.c = mpxd_connect(&server), .name = name, .flags = flags};
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
    for (int i = 0; i < N; i++)
        mpx_client_free(&jobs[i].c);
    await_stat(client, "sessions", 1);
    assert_int_equal(value_of(s), after_end);
    mpx_proxy_free(&s);
}

static void test_release_wakes_waiters_in_order(void **state)
{
    (void)state;
    wake_in_order_then_end("sem.signal", 0, 0);
    wake_in_order_then_end("sem.resource", MPX_SEMAPHORE_GIVE_BACK, 3);
}

/* A child takes `take` units of the semaphore named name (flags) and is killed holding them;
 * returns the count after its session is gone. */
static uint64_t killed_taker(const char *name, unsigned flags, uint64_t value, int take)
{
    mpx_proxy *s = NULL;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    assert_ok(mpx_semaphore_open_flags(client, name, value, flags, &s));
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *cs = NULL;
        bool got = false;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_semaphore_open_flags(c, name, value, flags, &cs))
            _exit(1);
        for (int i = 0; i < take; i++)
            if (mpx_semaphore_acquire(cs, 0, &got) || !got) _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        pause();
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    assert_int_equal(value_of(s), value - (uint64_t)take);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    await_stat(client, "sessions", 1); /* its session is over */
    uint64_t v = value_of(s);
    close(ready[0]);
    close(ready[1]);
    mpx_proxy_free(&s);
    return v;
}

/* Guarding a resource (give_back): a killed holder's units come back, never past a bounded
 * semaphore's initial value. */
static void test_killed_holder_units_come_back(void **state)
{
    (void)state;
    assert_int_equal(
        killed_taker("sem.killed", MPX_SEMAPHORE_BOUNDED | MPX_SEMAPHORE_GIVE_BACK, 2, 2), 2);
}

/* Used as a signal (Python's semantics, the default): units a consumer took stay taken when
 * it dies, so the count never jumps. */
static void test_signal_semaphore_gains_no_phantom_units(void **state)
{
    (void)state;
    mpx_proxy *s = NULL;
    assert_ok(mpx_semaphore_open(client, "sem.phantom", 0, &s));
    assert_ok(mpx_semaphore_release(s, 3)); /* a producer signals three times */
    mpx_proxy_free(&s);
    assert_int_equal(killed_taker("sem.phantom", 0, 3, 3), 0);
}

/* Unknown flags are refused before anything is sent. */
static void test_unknown_flags_refused(void **state)
{
    (void)state;
    mpx_proxy *s = NULL;
    assert_code(mpx_semaphore_open_flags(client, "sem.flags", 1, 0x80, &s), MPX_EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_counts_units),
        HARNESS_TEST(test_bounded_refuses_over_release),
        HARNESS_TEST(test_release_wakes_waiters_in_order),
        HARNESS_TEST(test_killed_holder_units_come_back),
        HARNESS_TEST(test_signal_semaphore_gains_no_phantom_units),
        HARNESS_TEST(test_unknown_flags_refused),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
