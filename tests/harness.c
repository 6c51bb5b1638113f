/*
 * harness.c — starting and stopping a real mpxd for the tests (harness.h).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

mpxd_proc server;
mpx_client *client;

int harness_group_setup(void **state)
{
    (void)state;
    const char *extra[] = {"--session-timeout", HARNESS_SESSION_TIMEOUT, NULL};
    mpxd_start(&server, "ipc", extra);
    return 0;
}

int harness_group_teardown(void **state)
{
    (void)state;
    return mpxd_stop(&server);
}

int harness_session_setup(void **state)
{
    (void)state;
    client = mpxd_connect(&server);
    return 0;
}

int harness_session_teardown(void **state)
{
    (void)state;
    mpx_client_free(&client);
    return 0;
}

void await_stat(mpx_client *c, const char *name, uint64_t want)
{
    for (int i = 0; i < 1000 && mpxd_stat(c, name) != want; i++)
        usleep(10 * 1000);
    assert_int_equal(mpxd_stat(c, name), want);
}

const char *mpxd_path(void)
{
    const char *env = getenv("MPX_MPXD");
    return env && *env ? env : MPXD_PATH;
}

int free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void write_key(const char *path)
{
    unsigned char raw[24];
    char hex[64];
    FILE *r = fopen("/dev/urandom", "rb");
    assert_non_null(r);
    assert_int_equal(fread(raw, 1, sizeof raw, r), sizeof raw);
    fclose(r);
    for (size_t i = 0; i < sizeof raw; i++)
        sprintf(hex + 2 * i, "%02x", raw[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hex, 48), 48);
    close(fd);
}

void mpxd_start(mpxd_proc *p, const char *transport, const char *const *extra)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/mpxtest-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->keyfile, sizeof p->keyfile, "%s/authkey", p->dir);
    snprintf(p->logfile, sizeof p->logfile, "%s/mpxd.log", p->dir);
    write_key(p->keyfile);
    if (strcmp(transport, "tcp") == 0)
        snprintf(p->endpoint, sizeof p->endpoint, "tcp://127.0.0.1:%d", free_tcp_port());
    else
        snprintf(p->endpoint, sizeof p->endpoint, "ipc://%s/mpx.sock", p->dir);
    int status = mpxd_respawn(p, extra);
    if (status != 0) {
        mpxd_stop(p);
        fail_msg("mpxd did not start on %s (exit status %d)", p->endpoint, status);
    }
}

int mpxd_respawn(mpxd_proc *p, const char *const *extra)
{
    const char *argv[32] = {mpxd_path(), "--authkey-file", p->keyfile, "--ready-fd", "3"};
    int argc = 5;
    for (int i = 0; extra && extra[i] && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc++] = p->endpoint;
    argv[argc] = NULL;

    int ready[2];
    assert_int_equal(pipe(ready), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        int log = open(p->logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(log, 1); /* not the test's own output: a test that fails leaving mpxd running must
                       * not keep ctest waiting for the pipe */
        dup2(log, 2);
        dup2(ready[1], 3);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(ready[1]);
    struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
    char buf[8] = {0};
    bool ready_seen = poll(&pfd, 1, 30000) == 1 && read(ready[0], buf, sizeof buf) >= 5;
    close(ready[0]);
    if (ready_seen) return 0;
    int status = -1, wstatus;
    kill(p->pid, SIGKILL); /* no-op when it exited by itself */
    if (waitpid(p->pid, &wstatus, 0) == p->pid && WIFEXITED(wstatus)) status = WEXITSTATUS(wstatus);
    p->pid = 0;
    return status;
}

int mpxd_halt(mpxd_proc *p, int signo)
{
    int status = 0, rc = -1;
    if (p->pid <= 0) return -1;
    kill(p->pid, signo);
    if (waitpid(p->pid, &status, 0) == p->pid && WIFEXITED(status)) rc = WEXITSTATUS(status);
    p->pid = 0;
    return rc;
}

int mpxd_stop(mpxd_proc *p)
{
    int status = 0, rc = -1;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        if (waitpid(p->pid, &status, 0) == p->pid && WIFEXITED(status)) rc = WEXITSTATUS(status);
        p->pid = 0;
    }
    char cmd[384];
    if (getenv("MPX_TEST_KEEP")) /* keeps mpxd's log for a look after a failure */
        snprintf(cmd, sizeof cmd, "cp '%s' /tmp/mpxd-log-%d; rm -rf '%s'", p->logfile,
                 (int)getpid(), p->dir);
    else
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
    if (p->dir[0] && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", p->dir);
    return rc;
}

mpx_client *mpxd_connect(const mpxd_proc *p)
{
    mpx_client *c = NULL;
    assert_ok(mpx_connect_keyfile(p->endpoint, p->keyfile, &c));
    return c;
}

uint64_t mpxd_stat(mpx_client *c, const char *name)
{
    mpx_value *stats = NULL;
    uint64_t v = 0;
    assert_ok(mpx_server_stats(c, &stats));
    const mpx_value *e = mpx_map_get(stats, name);
    if (!e) fail_msg("no counter named %s", name);
    assert_ok(mpx_value_get_uint(e, &v));
    mpx_value_free(&stats);
    return v;
}

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&buf, &size);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    if (len) *len = size;
    return buf;
}

mpx_value *harness_ints(size_t n, const int64_t *v)
{
    mpx_value *a = mpx_array();
    for (size_t i = 0; i < n; i++) {
        mpx_value *x = mpx_int(v[i]);
        assert_ok(mpx_array_push(a, &x));
    }
    return a;
}

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_set_loop(const char *endpoint, const char *keyfile, int report_fd, int seconds)
{
    mpx_client *c;
    mpx_proxy *d;
    if (mpx_connect_keyfile(endpoint, keyfile, &c) || mpx_dict_open(c, "loop", &d)) _exit(1);
    int failed = 0, after = 0;
    for (int64_t i = 0, end = harness_now_ms() + seconds * 1000;
         after < 100 && harness_now_ms() < end; i++) {
        mpx_value *k = mpx_int(i), *v = mpx_int(i);
        int rc = mpx_dict_set(d, k, v);
        mpx_value_free(&k), mpx_value_free(&v);
        if (rc == MPX_ECONN)
            failed++, usleep(20000);
        else if (rc)
            _exit(2);
        else if (failed)
            after++;
        if (i == 50 && write(report_fd, "x", 1) != 1) _exit(3);
    }
    _exit(failed && after == 100 ? 0 : 4);
}
