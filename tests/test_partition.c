/*
 * test_partition.c — client and server on two hosts, as two Linux network namespaces joined by
 * a veth pair that the test makes itself (ip netns). A partition: the link taken down for
 * longer than the session timeout, then restored. The lock a cut-off holder held passes to a
 * worker on the server's side, who is told its owner died; its leased item is handed to that
 * worker too; and when the link is back, the old holder's client reconnects by itself and its
 * fenced write, carrying its old token, is refused. A worker across the link killed holding a
 * lease: its item goes to the next worker. A client across the link whose server restarts:
 * its loop of sets carries on by itself. Needs root (CAP_NET_ADMIN): without it the
 * test is skipped, except under CI=true, where that is a failure.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SESSION_TIMEOUT "1000"

typedef struct {
    char srv[32], cli[32]; /* namespace names */
    char dir[64];          /* the key file's directory */
    char key[96];
    char server_ep[64]; /* from the client's namespace */
    char local_ep[64];  /* from the server's own */
    pid_t mpxd;
} net;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Moves the calling process into namespace name (before it makes any thread). */
static void enter(const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(90);
    close(fd);
}

/* Starts mpxd in the server's namespace, on every address of it. */
static void start_mpxd(net *n)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    if ((n->mpxd = fork()) == 0) {
        enter(n->srv);
        dup2(ready[1], 3);
        dup2(open("/dev/null", O_WRONLY), 1); /* never the test's output pipe (harness.c) */
        execl(mpxd_path(), mpxd_path(), "-q", "--authkey-file", n->key, "--ready-fd", "3",
              "--session-timeout", SESSION_TIMEOUT, "tcp://0.0.0.0:5555", (char *)NULL);
        _exit(127);
    }
    close(ready[1]);
    char buf[8] = {0};
    assert_true(read(ready[0], buf, sizeof buf) >= 5);
    close(ready[0]);
}

static void teardown(net *n)
{
    if (n->mpxd > 0) {
        kill(n->mpxd, SIGTERM);
        waitpid(n->mpxd, NULL, 0);
    }
    sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; rm -rf %s", n->srv, n->cli,
       n->dir);
}

/* Two namespaces joined by a veth pair, 10.251.x.1 (server) and .2 (client), and mpxd in the
 * server's. Returns false (after cleaning up) when this process may not make them. */
static bool setup(net *n)
{
    int id = getpid() % 200 + 20;
    snprintf(n->srv, sizeof n->srv, "mpxsrv%d", (int)getpid());
    snprintf(n->cli, sizeof n->cli, "mpxcli%d", (int)getpid());
    if (getuid() != 0 || sh("ip netns add %s 2>/dev/null", n->srv) != 0) return false;
    if (sh("ip netns add %s && ip link add v%d type veth peer name w%d && "
           "ip link set v%d netns %s && ip link set w%d netns %s && "
           "ip -n %s addr add 10.251.%d.1/24 dev v%d && ip -n %s addr add 10.251.%d.2/24 dev w%d "
           "&& ip -n %s link set v%d up && ip -n %s link set w%d up && "
           "ip -n %s link set lo up && ip -n %s link set lo up",
           n->cli, id, id, id, n->srv, id, n->cli, n->srv, id, id, n->cli, id, id, n->srv, id,
           n->cli, id, n->srv, n->cli) != 0) {
        teardown(n);
        return false;
    }
    snprintf(n->server_ep, sizeof n->server_ep, "tcp://10.251.%d.1:5555", id);
    snprintf(n->local_ep, sizeof n->local_ep, "tcp://127.0.0.1:5555");
    snprintf(n->dir, sizeof n->dir, "/tmp/mpxpart-XXXXXX");
    assert_non_null(mkdtemp(n->dir));
    snprintf(n->key, sizeof n->key, "%s/authkey", n->dir);
    assert_int_equal(sh("head -c 32 /dev/urandom > %s && chmod 600 %s", n->key, n->key), 0);
    start_mpxd(n);
    return true;
}

static void link_set(const net *n, const char *state)
{
    int id = getpid() % 200 + 20;
    assert_int_equal(sh("ip -n %s link set w%d %s", n->cli, id, state), 0);
}

static int set_str(mpx_proxy *d, const char *key, const char *val)
{
    mpx_value *k = mpx_str(key), *v = mpx_str(val);
    int rc = mpx_dict_set(d, k, v);
    mpx_value_free(&k), mpx_value_free(&v);
    return rc;
}

/* The holder, on the client's side: takes the lock and leases an item, reports its token,
 * then, once told the link is back, writes fenced with that token — reconnecting by itself
 * first. Exits 0 if the write was refused with MPX_EFENCED. */
static void holder(const net *n, int report, int go)
{
    enter(n->cli);
    mpx_client *c;
    mpx_proxy *l, *d, *q;
    bool got;
    uint64_t token, lease;
    mpx_value *item;
    if (mpx_connect_keyfile(n->server_ep, n->key, &c) || mpx_lock_open(c, "part.lock", &l) ||
        mpx_dict_open(c, "part.dict", &d) || mpx_queue_open(c, "part.queue", 0, &q) ||
        mpx_lock_acquire(l, 0, &got, &token, NULL) || !got ||
        mpx_queue_get_lease(q, 0, MPX_FOREVER, &lease, &item) ||
        write(report, &token, sizeof token) != sizeof token)
        _exit(1);
    char x;
    if (read(go, &x, 1) != 1) _exit(2);
    if (mpx_proxy_fence(d, l, token)) _exit(3);
    int rc = MPX_ECONN;
    for (int i = 0; i < 200 && rc == MPX_ECONN; i++) /* lost, then reconnected */
        if ((rc = set_str(d, "owner", "holder")) == MPX_ECONN) usleep(50000);
    _exit(rc == MPX_EFENCED ? 0 : 4);
}

/* Makes the two hosts, or skips the test where this process may not (fails under CI). */
static void setup_or_skip(net *n)
{
    if (setup(n)) return;
    if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
        fail_msg("cannot make network namespaces (needs root and ip netns) under CI");
    printf("# skipped: making network namespaces needs root and ip netns\n");
    skip();
}

/* Runs fn(n, arg) in a child process in namespace ns; returns its pid. */
static pid_t spawn_in(const net *n, const char *ns, void (*fn)(const net *n, int arg), int arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        enter(ns);
        fn(n, arg);
        _exit(0);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* On the client's side: leases the item and reports it, then waits to be killed. */
static void lease_and_wait(const net *n, int report)
{
    mpx_client *c;
    mpx_proxy *q;
    uint64_t lease;
    mpx_value *item;
    if (mpx_connect_keyfile(n->server_ep, n->key, &c) || mpx_queue_open(c, "kill.queue", 0, &q) ||
        mpx_queue_get_lease(q, 5000, MPX_FOREVER, &lease, &item) || write(report, "x", 1) != 1)
        _exit(1);
    pause();
}

/* On the server's side: puts one item (arg 0), or gets it within the session timeout and
 * acknowledges it (arg 1). */
static void put_or_take(const net *n, int take)
{
    mpx_client *c;
    mpx_proxy *q;
    uint64_t lease;
    mpx_value *item = mpx_str("job");
    size_t len;
    if (mpx_connect_keyfile(n->local_ep, n->key, &c) || mpx_queue_open(c, "kill.queue", 0, &q))
        _exit(1);
    if (!take) _exit(mpx_queue_put(q, item, 0) ? 2 : 0);
    mpx_value_free(&item);
    if (mpx_queue_get_lease(q, atoi(SESSION_TIMEOUT), MPX_FOREVER, &lease, &item) ||
        strcmp(mpx_value_str(item, &len), "job") != 0 || mpx_queue_ack(q, lease))
        _exit(3);
    _exit(0);
}

/* A worker across the link killed holding a lease: the item goes to the next worker within
 * the session timeout. */
static void test_killed_worker_across_hosts(void **state)
{
    (void)state;
    net n = {0};
    setup_or_skip(&n);
    assert_int_equal(wait_status(spawn_in(&n, n.srv, put_or_take, 0)), 0);
    int report[2];
    assert_int_equal(pipe(report), 0);
    pid_t worker = spawn_in(&n, n.cli, lease_and_wait, report[1]);
    char x;
    assert_int_equal(read(report[0], &x, 1), 1);
    kill(worker, SIGKILL);
    waitpid(worker, NULL, 0);
    assert_int_equal(wait_status(spawn_in(&n, n.srv, put_or_take, 1)), 0);
    close(report[0]), close(report[1]);
    teardown(&n);
}

/* On the client's side: a loop of sets through the link (harness.c). */
static void set_loop(const net *n, int report)
{
    harness_set_loop(n->server_ep, n->key, report, 30);
}

/* A client across the link whose server is killed and started again carries on by itself. */
static void test_client_across_hosts_survives_restart(void **state)
{
    (void)state;
    net n = {0};
    setup_or_skip(&n);
    int report[2];
    assert_int_equal(pipe(report), 0);
    pid_t client = spawn_in(&n, n.cli, set_loop, report[1]);
    char x;
    assert_int_equal(read(report[0], &x, 1), 1);
    kill(n.mpxd, SIGKILL);
    waitpid(n.mpxd, NULL, 0);
    start_mpxd(&n);
    assert_int_equal(wait_status(client), 0);
    close(report[0]), close(report[1]);
    teardown(&n);
}

static void test_partition_passes_lock_and_fences_old_holder(void **state)
{
    (void)state;
    net n = {0};
    setup_or_skip(&n);
    mpx_client *setup_c;
    mpx_proxy *q;
    pid_t pid = fork();
    if (pid == 0) { /* the queue's item, put from the server's side */
        enter(n.srv);
        mpx_value *v = mpx_str("job");
        _exit(mpx_connect_keyfile(n.local_ep, n.key, &setup_c) ||
                      mpx_queue_open(setup_c, "part.queue", 0, &q) || mpx_queue_put(q, v, 0)
                  ? 1
                  : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);

    int report[2], go[2];
    assert_int_equal(pipe(report), 0);
    assert_int_equal(pipe(go), 0);
    pid_t h = fork();
    if (h == 0) holder(&n, report[1], go[0]);
    uint64_t t1 = 0;
    assert_int_equal(read(report[0], &t1, sizeof t1), sizeof t1);

    link_set(&n, "down"); /* the partition, longer than the session timeout */
    usleep(3 * atoi(SESSION_TIMEOUT) * 1000);

    int res[2], ack[2]; /* worker to parent, parent to worker */
    assert_int_equal(pipe(res), 0);
    assert_int_equal(pipe(ack), 0);
    pid_t w = fork();
    if (w == 0) { /* a worker on the server's side gets the lock and the item */
        enter(n.srv);
        mpx_client *c;
        mpx_proxy *l, *d, *wq;
        bool got, died;
        uint64_t t2, lease;
        mpx_value *item;
        size_t len;
        if (mpx_connect_keyfile(n.local_ep, n.key, &c) || mpx_lock_open(c, "part.lock", &l) ||
            mpx_dict_open(c, "part.dict", &d) || mpx_queue_open(c, "part.queue", 0, &wq) ||
            mpx_lock_acquire(l, 5000, &got, &t2, &died) || !got || !died || t2 <= t1 ||
            mpx_queue_get_lease(wq, 5000, MPX_FOREVER, &lease, &item) ||
            strcmp(mpx_value_str(item, &len), "job") != 0 || mpx_queue_ack(wq, lease) ||
            mpx_proxy_fence(d, l, t2) || set_str(d, "owner", "worker"))
            _exit(1);
        mpx_value *k = mpx_str("owner"), *v = NULL;
        if (write(res[1], "x", 1) != 1) _exit(2);
        char x;
        if (read(ack[0], &x, 1) < 0) _exit(3); /* hold on until the holder has tried */
        _exit(mpx_dict_get(d, k, &v) == 0 && strcmp(mpx_value_str(v, &len), "worker") == 0 ? 0 : 4);
    }
    char x;
    assert_int_equal(read(res[0], &x, 1), 1); /* the worker holds the lock and wrote */

    link_set(&n, "up");
    assert_int_equal(write(go[1], "x", 1), 1);
    assert_int_equal(waitpid(h, &status, 0), h);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* its write was fenced out */
    assert_int_equal(write(ack[1], "x", 1), 1);
    assert_int_equal(waitpid(w, &status, 0), w);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* and the worker's value stayed */
    close(report[0]), close(report[1]), close(go[0]), close(go[1]);
    close(res[0]), close(res[1]), close(ack[0]), close(ack[1]);
    teardown(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_passes_lock_and_fences_old_holder),
        cmocka_unit_test(test_killed_worker_across_hosts),
        cmocka_unit_test(test_client_across_hosts_survives_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
