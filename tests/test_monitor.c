/*
 * test_monitor.c — mpxd's connection events (server/monitor.c), through the send buffers of
 * ipc:// connections read back from the kernel: mpxd's end of a client's connection is
 * widened and the client's own end is left as the kernel made it (libmpx never touches its
 * host program's sockets); a tcp:// client beside it works as before; and connections that
 * never say HELLO are widened by mpxd's periodic checks, thousands of them neither stalling
 * mpxd nor keeping it from serving the next client.
 *
 * The kernel's view of every unix socket comes from sock_diag (the netlink interface `ss -x`
 * uses), so the server's ends are read without touching its process.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

#define MAX_SOCKETS 4096

static mpxd_proc p;        /* each test's server, stopped by stop_server even when the test fails */
#define UNIX_ESTABLISHED 1 /* udiag_state of a connected stream socket (TCP_ESTABLISHED) */

typedef struct {
    uint32_t inode;
    uint32_t peer; /* the other end's inode, 0 if none */
    uint32_t sndbuf;
    uint8_t state;
    char path[108]; /* the address it is bound to, "" if none */
} unix_sock;

/* Reads one sock_diag record into out. */
static void read_record(const struct nlmsghdr *h, unix_sock *out)
{
    const struct unix_diag_msg *m = NLMSG_DATA(h);
    *out = (unix_sock){.inode = m->udiag_ino, .state = m->udiag_state};
    int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
    for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == UNIX_DIAG_NAME && RTA_PAYLOAD(a) < sizeof out->path)
            memcpy(out->path, RTA_DATA(a), RTA_PAYLOAD(a));
        else if (a->rta_type == UNIX_DIAG_PEER)
            memcpy(&out->peer, RTA_DATA(a), sizeof out->peer);
        else if (a->rta_type == UNIX_DIAG_MEMINFO)
            out->sndbuf = ((const uint32_t *)RTA_DATA(a))[SK_MEMINFO_SNDBUF];
    }
}

/* Every unix socket on the machine, as the kernel sees it. Returns how many. */
static size_t unix_sockets(unix_sock *out, size_t cap)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    assert_true(nl >= 0);
    struct {
        struct nlmsghdr h;
        struct unix_diag_req r;
    } req = {.h = {.nlmsg_len = sizeof req,
                   .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
             .r = {.sdiag_family = AF_UNIX,
                   .udiag_states = UINT32_MAX,
                   .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_MEMINFO}};
    assert_int_equal(send(nl, &req, sizeof req, 0), (ssize_t)sizeof req);
    static char buf[1 << 16];
    size_t n = 0;
    for (bool done = false; !done;) {
        ssize_t got = recv(nl, buf, sizeof buf, 0);
        assert_true(got > 0);
        int len = (int)got;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            assert_int_not_equal(h->nlmsg_type, NLMSG_ERROR);
            done = h->nlmsg_type == NLMSG_DONE;
            if (done) break;
            if (n < cap) read_record(h, &out[n++]);
        }
    }
    close(nl);
    return n;
}

static unsigned long read_sysctl(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long v = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu", &v), 1);
    fclose(f);
    return v;
}

/* What SO_SNDBUF of 1 MiB becomes: capped at net.core.wmem_max, then doubled. */
static uint32_t widened_size(void)
{
    unsigned long max = read_sysctl("/proc/sys/net/core/wmem_max");
    return (uint32_t)(2 * (max < (1u << 20) ? max : (1u << 20)));
}

/* Whether s is mpxd's end of a connection to its endpoint at path. */
static bool server_end(const unix_sock *s, const char *path)
{
    return s->state == UNIX_ESTABLISHED && strcmp(s->path, path) == 0;
}

/* The server's ends of its connections on path, and the client ends they lead to: asserts
 * mpxd's have the send buffer want and the client's the kernel's default. Returns how many
 * connections it saw. */
static int check_connections(const char *path, uint32_t want)
{
    static unix_sock all[MAX_SOCKETS];
    size_t n = unix_sockets(all, MAX_SOCKETS), seen = 0;
    uint32_t kernel_default = (uint32_t)read_sysctl("/proc/sys/net/core/wmem_default");
    for (size_t i = 0; i < n; i++) {
        if (!server_end(&all[i], path)) continue;
        assert_int_equal(all[i].sndbuf, want); /* mpxd's end */
        for (size_t j = 0; j < n; j++)
            if (all[j].inode == all[i].peer) assert_int_equal(all[j].sndbuf, kernel_default);
        seen++;
    }
    return (int)seen;
}

/* The server's ends of connections on path with send buffer want. */
static int count_server_ends(const char *path, uint32_t want)
{
    static unix_sock all[MAX_SOCKETS];
    size_t n = unix_sockets(all, MAX_SOCKETS);
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += server_end(&all[i], path) && all[i].sndbuf == want;
    return count;
}

static void call_once(mpx_client *c)
{
    mpx_proxy *d = NULL;
    mpx_value *k = mpx_str("k"), *v = mpx_str("v");
    assert_ok(mpx_dict_new(c, &d));
    assert_ok(mpx_dict_set(d, k, v));
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_proxy_free(&d);
}

static void test_ipc_connection_is_widened_at_mpxds_end_only(void **state)
{
    (void)state;
    mpxd_start(&p, "ipc", NULL);
    const char *path = p.endpoint + strlen("ipc://");
    uint32_t want = widened_size();
    /* else this test proves nothing */
    assert_int_not_equal(read_sysctl("/proc/sys/net/core/wmem_default"), want);

    mpx_client *a = mpxd_connect(&p), *b = mpxd_connect(&p);
    call_once(a);
    call_once(b);
    assert_int_equal(check_connections(path, want), 2);
    mpx_client_free(&a);
    mpx_client_free(&b);
    assert_int_equal(mpxd_stop(&p), 0);
}

static void test_tcp_client_beside_ipc_is_served(void **state)
{
    (void)state;
    char tcp[64];
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%d", free_tcp_port());
    const char *extra[] = {tcp, NULL};
    mpxd_start(&p, "ipc", extra);
    mpx_client *over_ipc = mpxd_connect(&p), *over_tcp = NULL;
    assert_ok(mpx_connect_keyfile(tcp, p.keyfile, &over_tcp));
    call_once(over_tcp); /* its ACCEPTED event is drained with the next HELLO, and skipped */
    call_once(over_ipc);
    assert_int_equal(check_connections(p.endpoint + strlen("ipc://"), widened_size()), 1);
    mpx_client_free(&over_tcp);
    mpx_client_free(&over_ipc);
    assert_int_equal(mpxd_stop(&p), 0);
}

static int connect_raw(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)addr, sizeof *addr), 0);
    return fd;
}

/* Each accepted connection queues an event on mpxd's monitor until a HELLO or the periodic check
 * drains it. A queue with a bound would, once full, make libzmq's I/O thread wait for a drain: for
 * a HELLO it can no longer read, were it not for the checks. Here thousands of connections
 * say nothing; a few stay open, and the checks alone must widen them; then a client is
 * served as usual. */
static void test_silent_connections_do_not_stall_mpxd(void **state)
{
    (void)state;
    const char *extra[] = {"--session-timeout", "400", NULL}; /* checked every 100 ms */
    mpxd_start(&p, "ipc", extra);
    const char *path = p.endpoint + strlen("ipc://");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof addr.sun_path);
    memcpy(addr.sun_path, path, strlen(path) + 1);
    for (int i = 0; i < 5000; i++)
        close(connect_raw(&addr));
    int silent[20];
    for (int i = 0; i < 20; i++)
        silent[i] = connect_raw(&addr);
    uint32_t want = widened_size();
    for (int waited = 0; count_server_ends(path, want) < 20 && waited < 10000; waited += 20)
        usleep(20 * 1000); /* generous: "it did not hang" */
    assert_int_equal(count_server_ends(path, want), 20);

    mpx_client *c = mpxd_connect(&p);
    call_once(c);
    assert_int_equal(count_server_ends(path, want), 21);
    mpx_client_free(&c);
    for (int i = 0; i < 20; i++)
        close(silent[i]);
    assert_int_equal(mpxd_stop(&p), 0);
}

static int stop_server(void **state)
{
    (void)state;
    if (p.pid > 0) mpxd_stop(&p);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ipc_connection_is_widened_at_mpxds_end_only, stop_server),
        cmocka_unit_test_teardown(test_tcp_client_beside_ipc_is_served, stop_server),
        cmocka_unit_test_teardown(test_silent_connections_do_not_stall_mpxd, stop_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
