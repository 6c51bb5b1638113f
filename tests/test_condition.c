/*
 * test_condition.c — Condition against a real mpxd: the lock must be held, wait releases and
 * re-acquires it (RLock depth kept), its timeout path, notify(n) and notify_all in arrival
 * order, wait_for with a predicate, a waiter killed with SIGKILL leaving it consistent, and a
 * waiter told owner_died and a new fencing token when the notifier's process died holding the
 * lock.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* The bound on every wait for a hand-off: a lost notify fails the test, never hangs it. */
#define HANDOFF_MS 10000

static void hold(mpx_proxy *cond)
{
    bool got = false;
    assert_ok(mpx_condition_acquire(cond, HANDOFF_MS, &got));
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
    atomic_bool returned; /* its wait has returned */
} waiter_job;

static void *waiter(void *arg)
{
    waiter_job *job = arg;
    mpx_proxy *cond = NULL;
    bool got = false;
    job->rc = mpx_condition_open(job->c, job->name, NULL, &cond);
    if (job->rc == 0) job->rc = mpx_condition_acquire(cond, HANDOFF_MS, &got);
    if (job->rc == 0) job->rc = mpx_condition_wait(cond, HANDOFF_MS, &job->notified);
    atomic_store(&job->returned, true);
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
    usleep(200 * 1000);                                   /* time for a wrong wake-up to show */
    assert_int_equal(mpxd_stat(client, "parked"), N - 1); /* the others still wait */
    assert_false(atomic_load(&jobs[1].returned));
    assert_false(atomic_load(&jobs[2].returned));
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
    if (job->rc == 0) job->rc = mpx_condition_acquire(cond, HANDOFF_MS, &got);
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
    assert_ok(mpx_condition_wait_for(cond, flag_is_set, &arg, HANDOFF_MS, &result));
    assert_true(result);
    assert_ok(mpx_condition_release(cond));
    pthread_join(t, NULL);
    assert_ok(job.rc);
    mpx_client_free(&job.c);
    mpx_proxy_free(&flag);
    mpx_proxy_free(&cond);
}

/* Forks a process that waits on the condition `name` of server srv; returns its pid. */
static pid_t fork_waiter(const mpxd_proc *srv, const char *name)
{
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *cond = NULL;
        bool got, notified;
        if (mpx_connect_keyfile(srv->endpoint, srv->keyfile, &c) ||
            mpx_condition_open(c, name, NULL, &cond) ||
            mpx_condition_acquire(cond, HANDOFF_MS, &got))
            _exit(1);
        mpx_condition_wait(cond, HANDOFF_MS, &notified); /* parks until killed */
        _exit(2);
    }
    return pid;
}

static void test_dead_waiter_leaves_it_consistent(void **state)
{
    (void)state;
    mpx_proxy *cond = NULL;
    atomic_int order = 0;
    assert_ok(mpx_condition_open(client, "cond.dead", NULL, &cond));
    pid_t pid = fork_waiter(&server, "cond.dead");
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

/* With a session timeout no test waits out: a waiter killed while parked never takes the
 * notify(1) a live waiter needs. */
static void test_notify_skips_a_waiter_whose_process_died(void **state)
{
    (void)state;
    mpxd_proc srv;
    const char *extra[] = {"--session-timeout", "60000", NULL};
    mpxd_start(&srv, "ipc", extra);
    mpx_client *c = mpxd_connect(&srv);
    mpx_proxy *cond = NULL;
    atomic_int order = 0;
    assert_ok(mpx_condition_open(c, "cond.dead60", NULL, &cond));
    pid_t pid = fork_waiter(&srv, "cond.dead60");
    await_stat(c, "parked", 1);
    waiter_job job = {.c = mpxd_connect(&srv), .name = "cond.dead60", .order = &order};
    pthread_t t;
    pthread_create(&t, NULL, waiter, &job);
    await_stat(c, "parked", 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    bool got;
    assert_ok(mpx_condition_acquire(cond, HANDOFF_MS, &got));
    assert_ok(mpx_condition_notify(cond, 1)); /* the dead waiter is first, and is passed */
    assert_ok(mpx_condition_release(cond));
    for (int i = 0; i < 100 && !atomic_load(&job.returned); i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&job.returned)); /* within a second */
    pthread_join(t, NULL);
    assert_ok(job.rc);
    assert_true(job.notified);
    mpx_client_free(&job.c);
    mpx_proxy_free(&cond);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&srv), 0);
}

/* The notifier of test_waiter_told_owner_died: its pipe, its pid, the token it took. */
typedef struct {
    int fd;
    pid_t pid;
    uint64_t token;
} notifier;

/* Reads the notifier's token, then SIGKILLs it (it holds the lock). */
static void *kill_after_token(void *arg)
{
    notifier *n = arg;
    if (read(n->fd, &n->token, sizeof n->token) == sizeof n->token) kill(n->pid, SIGKILL);
    return NULL;
}

/* A waiter is notified by a process that then dies holding the lock: the waiter gets the lock
 * back, told owner_died, with a fencing token newer than the dead holder's. */
static void test_waiter_told_owner_died(void **state)
{
    (void)state;
    mpx_proxy *lock, *cond;
    assert_ok(mpx_lock_open(client, "cond.died.lock", &lock));
    assert_ok(mpx_condition_open(client, "cond.died", lock, &cond));
    hold(cond);
    int tok[2];
    assert_int_equal(pipe(tok), 0);
    pid_t pid = fork();
    if (pid == 0) { /* the notifier: takes the lock once the waiter has released it */
        mpx_client *c;
        mpx_proxy *l, *cv;
        bool got;
        uint64_t t;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_lock_open(c, "cond.died.lock", &l) || mpx_condition_open(c, "cond.died", l, &cv) ||
            mpx_lock_acquire(l, HANDOFF_MS, &got, &t, NULL) || !got ||
            mpx_condition_notify(cv, 1) || write(tok[1], &t, sizeof t) != sizeof t)
            _exit(1);
        pause(); /* killed holding the lock */
        _exit(0);
    }
    bool notified = false, died = false;
    uint64_t fence = 0;
    int64_t t0 = harness_now_ms();
    /* the wait releases the lock; the child takes it and notifies, and is killed holding it */
    pthread_t killer;
    notifier n = {tok[0], pid, 0};
    assert_int_equal(pthread_create(&killer, NULL, kill_after_token, &n), 0);
    assert_ok(mpx_condition_wait_fence(cond, HANDOFF_MS, &notified, &fence, &died));
    pthread_join(killer, NULL);
    assert_true(notified);
    assert_true(died);
    assert_true(n.token > 0 && fence > n.token);
    assert_true(harness_now_ms() - t0 < HANDOFF_MS);
    assert_ok(mpx_condition_release(cond));
    int status;
    waitpid(pid, &status, 0);
    close(tok[0]), close(tok[1]);
    mpx_proxy_free(&cond), mpx_proxy_free(&lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_lock_must_be_held),
        HARNESS_TEST(test_wait_times_out_and_reacquires),
        HARNESS_TEST(test_notify_wakes_in_arrival_order),
        HARNESS_TEST(test_wait_for_predicate),
        HARNESS_TEST(test_dead_waiter_leaves_it_consistent),
        HARNESS_TEST(test_notify_skips_a_waiter_whose_process_died),
        HARNESS_TEST(test_waiter_told_owner_died),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
