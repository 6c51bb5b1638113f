/*
 * harness.h — what the tests share: a real mpxd started in a private temporary directory, and
 * assertions that print the mpx error behind a failure.
 */
#ifndef MPX_TEST_HARNESS_H
#define MPX_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include <mpx.h>

/* Fails the test with the code's name and the thread's last error unless expr is 0. */
#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s returned %s (%s): %s", #expr, mpx_err_name(rc_), mpx_strerror(rc_),       \
                     mpx_last_error());                                                            \
    } while (0)

/* Fails the test unless expr returns exactly the code want. */
#define assert_code(expr, want)                                                                    \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (want))                                                                         \
            fail_msg("%s returned %s, expected %s (%s)", #expr, mpx_err_name(rc_),                 \
                     mpx_err_name(want), mpx_last_error());                                        \
    } while (0)

typedef struct {
    pid_t pid;
    char dir[64]; /* private, removed by mpxd_stop() */
    char keyfile[96];
    char endpoint[128];
    char logfile[96]; /* mpxd's stderr */
} mpxd_proc;

/* Starts mpxd on a fresh endpoint of the transport ("ipc" or "tcp") with a random authkey in
 * a 0600 file; extra is a NULL-terminated list of more options (or NULL). Waits until it has
 * bound. Fails the test on error. */
void mpxd_start(mpxd_proc *p, const char *transport, const char *const *extra);

/* Starts mpxd again in p's directory, with its key and endpoint, after mpxd_halt(); extra as
 * for mpxd_start(). Returns 0 once it is ready, else its exit status (-1: killed after 30 s
 * without becoming ready). */
int mpxd_respawn(mpxd_proc *p, const char *const *extra);

/* Sends signo and waits for mpxd to exit, keeping its directory. Returns its exit status, or
 * -1 if a signal ended it. */
int mpxd_halt(mpxd_proc *p, int signo);

/* SIGTERM, wait, remove the directory (with MPX_TEST_KEEP set in the environment, mpxd's log
 * is kept as /tmp/mpxd-log-<test pid> for a look after a failure). Returns mpxd's exit status, or
 * -1 if it did not exit normally. */
int mpxd_stop(mpxd_proc *p);

/* Connects to the server with its key; fails the test on error. */
mpx_client *mpxd_connect(const mpxd_proc *p);

/* The manager's counter of that name (stats()), or fails the test. */
uint64_t mpxd_stat(mpx_client *c, const char *name);

/* A free TCP port on 127.0.0.1. */
int free_tcp_port(void);

/* The path of the mpxd under test. */
const char *mpxd_path(void);

/* The server most test files share: started by harness_group_setup() on ipc:// with a short
 * session timeout (HARNESS_SESSION_TIMEOUT ms), so liveness tests finish fast, and stopped by
 * harness_group_teardown(), which fails if mpxd does not exit cleanly. Each test has a session
 * of its own in `client` (HARNESS_TEST, or harness_session_setup() in a test's own setup), so
 * that a session lost on a loaded machine fails one test, not every later one. */
#define HARNESS_SESSION_TIMEOUT "2000"
extern mpxd_proc server;
extern mpx_client *client;
int harness_group_setup(void **state);
int harness_group_teardown(void **state);
int harness_session_setup(void **state);
int harness_session_teardown(void **state);
#define HARNESS_TEST(f)                                                                            \
    cmocka_unit_test_setup_teardown(f, harness_session_setup, harness_session_teardown)

/* Waits (at most 10 s: "it did not hang") until the server counter `name` equals want, and
 * fails the test if it never does. */
void await_stat(mpx_client *c, const char *name, uint64_t want);

/* An array value of the integers v[0..n); INTS(1, 2, 3) for a literal list. */
mpx_value *harness_ints(size_t n, const int64_t *v);
#define INTS(...)                                                                                  \
    harness_ints(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

/* In a child process: sets keys of the dict "loop" in a loop through endpoint, with no code to
 * reconnect, writing a byte to report_fd once under way (so that the server can be restarted
 * under it); exits 0 once 100 sets succeeded after one failed with MPX_ECONN (the restart), or
 * not 0 after `seconds` or on any other error. Never returns. */
_Noreturn void harness_set_loop(const char *endpoint, const char *keyfile, int report_fd,
                                int seconds);

/* Milliseconds on the monotonic clock. */
int64_t harness_now_ms(void);

/* Reads the whole of a file into a NUL-terminated buffer the caller frees (NULL on error). */
char *read_file(const char *path, size_t *len);

#endif
