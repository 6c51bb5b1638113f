/*
 * test_session.c — session liveness with real processes and signals: a client killed with
 * SIGKILL has its session ended and its references dropped within the session timeout; an
 * idle client is kept alive by its heartbeats; forked children that exit without closing do
 * not leave sessions behind; a client whose session was ended is told so clearly; a call
 * blocked without a limit ends with MPX_ECONN when the server dies.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Waits (bounded: 10 s, "it did not hang") until the counter equals want. */
static void test_killed_client_releases_its_objects(void **state)
{
    (void)state;
    uint64_t objects = mpxd_stat(client, "objects");
    uint64_t sessions = mpxd_stat(client, "sessions");
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *d = NULL;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) || mpx_dict_new(c, &d))
            _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        pause();
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    assert_int_equal(mpxd_stat(client, "objects"), objects + 1);
    assert_int_equal(mpxd_stat(client, "sessions"), sessions + 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    await_stat(client, "sessions", sessions);
    await_stat(client, "objects", objects);
    char *log = read_file(server.logfile, NULL);
    assert_non_null(strstr(log, "silent for"));
    free(log);
    close(ready[0]);
    close(ready[1]);
}

static void test_idle_client_is_kept_alive(void **state)
{
    (void)state;
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_new(c, &d));
    uint64_t sessions = mpxd_stat(client, "sessions");
    usleep(2000 * 1000); /* more than three session timeouts without a call */
    size_t n = 99;
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 0);
    assert_int_equal(mpxd_stat(client, "sessions"), sessions);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
}

static void test_exited_children_leave_no_sessions(void **state)
{
    (void)state;
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_new(c, &d));
    uint64_t sessions = mpxd_stat(client, "sessions");
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            mpx_value *k = mpx_int(i), *v = mpx_int(i);
            _exit(mpx_dict_set(d, k, v) != 0); /* exits without closing its session */
        }
    }
    for (int i = 0; i < 3; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    size_t n = 0;
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 3);
    await_stat(client, "sessions", sessions);
    /* The parent's session and its dict are untouched. */
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 3);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
}

/* A client stopped past the session timeout: its next call fails with MPX_ECONN, saying the
 * server has no session for it; the one after reconnects, and the client says so. With
 * reconnecting off it stays broken. */
static void test_ended_session_is_reported_clearly(void **state)
{
    (void)state;
    uint64_t sessions = mpxd_stat(client, "sessions");
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL, *fixed = NULL;
        mpx_connect_options o = MPX_CONNECT_OPTIONS_INIT;
        o.keyfile = server.keyfile;
        o.no_reconnect = true;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_connect_opts(server.endpoint, &o, &fixed))
            _exit(2);
        raise(SIGSTOP); /* silent, heartbeats included, until the parent continues us */
        mpx_conn_state st;
        uint64_t reconnects = 9;
        int rc = mpx_ping(c);
        bool clear = rc == MPX_ECONN && strstr(mpx_last_error(), "no session") != NULL &&
                     mpx_client_state(c, &st, &reconnects) == 0 && st == MPX_CONN_RECONNECTING &&
                     reconnects == 0;
        /* the next call connects again, with a session of its own */
        clear = clear && mpx_ping(c) == 0 && mpx_client_state(c, &st, &reconnects) == 0 &&
                st == MPX_CONN_UP && reconnects == 1;
        /* without reconnecting, broken stays broken: every call says the same */
        clear = clear && mpx_ping(fixed) == MPX_ECONN && mpx_ping(fixed) == MPX_ECONN &&
                mpx_client_state(fixed, &st, NULL) == 0 && st == MPX_CONN_DOWN;
        mpx_client_free(&c);
        mpx_client_free(&fixed);
        _exit(clear ? 0 : 3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    await_stat(client, "sessions", sessions); /* the stopped client's sessions were ended */
    kill(pid, SIGCONT);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

typedef struct {
    mpx_proxy *q;
    int rc;
} blocked_job;

static void *blocked_get(void *arg)
{
    blocked_job *job = arg;
    mpx_value *v = NULL;
    job->rc = mpx_queue_get(job->q, MPX_FOREVER, &v);
    mpx_value_free(&v);
    return NULL;
}

static void test_blocked_call_sees_server_death(void **state)
{
    (void)state;
    mpxd_proc doomed;
    const char *extra[] = {"--session-timeout", HARNESS_SESSION_TIMEOUT, NULL};
    mpxd_start(&doomed, "tcp", extra);
    mpx_client *c = mpxd_connect(&doomed);
    blocked_job job = {0};
    assert_ok(mpx_queue_new(c, 0, &job.q));
    pthread_t t;
    pthread_create(&t, NULL, blocked_get, &job);
    await_stat(c, "parked", 1);
    kill(doomed.pid, SIGKILL);
    waitpid(doomed.pid, NULL, 0);
    doomed.pid = 0;
    /* No limit on the wait, yet it ends: the heartbeats go unanswered. The test's own
     * timeout bounds the join. */
    pthread_join(t, NULL);
    assert_code(job.rc, MPX_ECONN);
    assert_code(mpx_ping(c), MPX_ECONN); /* the connection stays broken */
    mpx_proxy_free(&job.q);
    mpx_client_free(&c);
    mpxd_stop(&doomed);
}

/* Cleanup calls (freeing a future, a proxy, a client) leave the caller's last error as it
 * was, so a program can free what it holds before it reports the failure. */
static void test_cleanup_keeps_the_last_error(void **state)
{
    (void)state;
    mpx_proxy *d = NULL;
    mpx_future *f = NULL;
    mpx_value *k = mpx_str("absent"), *v = NULL;
    assert_ok(mpx_dict_new(client, &d));
    assert_ok(mpx_dict_get_async(d, k, &f));
    assert_code(mpx_dict_get(d, k, &v), MPX_EKEY);
    char saved[512];
    snprintf(saved, sizeof saved, "%s", mpx_last_error());
    assert_non_null(strstr(saved, "absent"));
    mpx_future_free(&f);
    mpx_proxy_free(&d);
    mpx_client *other = mpxd_connect(&server);
    mpx_client_free(&other);
    assert_string_equal(mpx_last_error(), saved);
    mpx_value_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_killed_client_releases_its_objects),
        HARNESS_TEST(test_idle_client_is_kept_alive),
        HARNESS_TEST(test_exited_children_leave_no_sessions),
        HARNESS_TEST(test_ended_session_is_reported_clearly),
        HARNESS_TEST(test_cleanup_keeps_the_last_error),
        HARNESS_TEST(test_blocked_call_sees_server_death),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
