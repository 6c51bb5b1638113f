/*
 * test_barrier.c — Barrier against a real mpxd: indices unique per generation across
 * generations, breaking by timeout, abort and reset, and a waiter killed with SIGKILL.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

typedef struct {
    mpx_client *c;
    const char *name;
    int wait_ms;
    uint64_t index;
    int rc;
} party_job;

static void *party(void *arg)
{
    party_job *job = arg;
    mpx_proxy *b = NULL;
    job->rc = mpx_barrier_open(job->c, job->name, 3, MPX_FOREVER, &b);
    if (job->rc == 0) job->rc = mpx_barrier_wait(b, job->wait_ms, &job->index);
    mpx_proxy_free(&b);
    return NULL;
}

static void await_waiting(mpx_proxy *b, uint64_t n)
{
    uint64_t w = 0;
    for (int i = 0; i < 400 && (mpx_barrier_n_waiting(b, &w) != 0 || w != n); i++)
        usleep(10 * 1000);
    assert_int_equal(w, n);
}

static void test_indices_unique_per_generation(void **state)
{
    (void)state;
    mpx_proxy *b = NULL;
    uint64_t parties = 0;
    assert_ok(mpx_barrier_open(client, "barrier.gen", 3, MPX_FOREVER, &b));
    assert_ok(mpx_barrier_parties(b, &parties));
    assert_int_equal(parties, 3);
    for (int gen = 0; gen < 2; gen++) {
        party_job jobs[2];
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            jobs[i] = (party_job){
                .c = mpxd_connect(&server), .name = "barrier.gen", .wait_ms = MPX_BARRIER_TIMEOUT};
            pthread_create(&t[i], NULL, party, &jobs[i]);
            await_waiting(b, (uint64_t)i + 1);
        }
        uint64_t mine = 99;
        assert_ok(mpx_barrier_wait(b, MPX_FOREVER, &mine));
        assert_int_equal(mine, 2); /* the last to arrive */
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            assert_ok(jobs[i].rc);
            assert_int_equal(jobs[i].index, i);
            mpx_client_free(&jobs[i].c);
        }
    }
    mpx_proxy_free(&b);
}

static void test_timeout_breaks_until_reset(void **state)
{
    (void)state;
    mpx_proxy *b = NULL;
    bool broken = true;
    uint64_t index;
    assert_ok(mpx_barrier_new(client, 2, 100, &b));
    assert_ok(mpx_barrier_broken(b, &broken));
    assert_false(broken);
    assert_code(mpx_barrier_wait(b, MPX_BARRIER_TIMEOUT, &index), MPX_EBROKEN);
    assert_ok(mpx_barrier_broken(b, &broken));
    assert_true(broken);
    assert_code(mpx_barrier_wait(b, 0, &index), MPX_EBROKEN); /* stays broken */
    assert_ok(mpx_barrier_reset(b));
    assert_ok(mpx_barrier_broken(b, &broken));
    assert_false(broken);
    mpx_proxy_free(&b);
}

static void test_abort_and_reset_wake_waiters_broken(void **state)
{
    (void)state;
    const char *names[] = {"barrier.abort", "barrier.reset"};
    for (int k = 0; k < 2; k++) {
        mpx_proxy *b = NULL;
        assert_ok(mpx_barrier_open(client, names[k], 3, MPX_FOREVER, &b));
        party_job job = {.c = mpxd_connect(&server), .name = names[k], .wait_ms = MPX_FOREVER};
        pthread_t t;
        pthread_create(&t, NULL, party, &job);
        await_waiting(b, 1);
        assert_ok(k == 0 ? mpx_barrier_abort(b) : mpx_barrier_reset(b));
        pthread_join(t, NULL);
        assert_code(job.rc, MPX_EBROKEN);
        bool broken;
        assert_ok(mpx_barrier_broken(b, &broken));
        assert_int_equal(broken, k == 0); /* abort leaves it broken, reset does not */
        mpx_client_free(&job.c);
        mpx_proxy_free(&b);
    }
}

static void test_dead_waiter_breaks_it(void **state)
{
    (void)state;
    mpx_proxy *b = NULL;
    assert_ok(mpx_barrier_open(client, "barrier.dead", 3, MPX_FOREVER, &b));
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *cb = NULL;
        uint64_t index;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_barrier_open(c, "barrier.dead", 3, MPX_FOREVER, &cb))
            _exit(1);
        mpx_barrier_wait(cb, MPX_FOREVER, &index);
        _exit(2);
    }
    await_waiting(b, 1);
    party_job job = {.c = mpxd_connect(&server), .name = "barrier.dead", .wait_ms = MPX_FOREVER};
    pthread_t t;
    pthread_create(&t, NULL, party, &job);
    await_waiting(b, 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pthread_join(t, NULL); /* woken broken once the dead session times out */
    assert_code(job.rc, MPX_EBROKEN);
    mpx_client_free(&job.c);
    mpx_proxy_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_indices_unique_per_generation),
        HARNESS_TEST(test_timeout_breaks_until_reset),
        HARNESS_TEST(test_abort_and_reset_wake_waiters_broken),
        HARNESS_TEST(test_dead_waiter_breaks_it),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
