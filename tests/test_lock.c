/*
 * test_lock.c — Lock and RLock against a real mpxd: acquire, release and their errors, the
 * timeout paths, fencing tokens, re-entry per thread, waiters in arrival order, a holder
 * killed with SIGKILL, and a lock-protected counter shared by four processes.
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
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
