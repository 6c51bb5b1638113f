/*
 * connect.c — reaching mpxd: the endpoint checked and resolved, the socket with its CURVE
 * keys, and the handshake (docs/protocol.md, "Handshake").
 *
 * libzmq connects in the background and retries for ever, so a server that is not there looks
 * like one that does not answer. Before handing an endpoint to libzmq the client therefore
 * checks it itself: its form, the host name (resolved here, so that a name with an IPv6 and an
 * IPv4 address reaches whichever answers), and one plain connection, whose refusal or missing
 * socket file is reported at once with its cause, as hiredis does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"

#define BAD_FORM "expected tcp://host:port or ipc:///path"

/* ---- the endpoint ------------------------------------------------------------------------- */

/* One plain connection to sa, waiting until the deadline. Returns 0 or an errno
 * (ETIMEDOUT when the deadline passed). */
static int try_connect(const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int err = connect(fd, sa, len) == 0 ? 0 : errno;
    while (err == EINPROGRESS || err == EINTR) {
        int64_t left = deadline - mpx__clock_ms();
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (left <= 0) {
            err = ETIMEDOUT;
            break;
        }
        int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0) {
            socklen_t elen = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        }
    }
    close(fd);
    return err;
}

static int ipc_check(const char *endpoint, char **zmq_ep)
{
    const char *path = endpoint + 6;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len == 0) return mpx__fail(MPX_EINVAL, "bad endpoint '%s': " BAD_FORM, endpoint);
    if (len >= sizeof sa.sun_path)
        return mpx__fail(MPX_EINVAL, "bad endpoint '%s': the path is longer than %zu bytes",
                         endpoint, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, len);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0'; /* an abstract socket, as libzmq names it */
    } else {
        struct stat st;
        if (stat(path, &st) != 0)
            return mpx__fail(MPX_ECONN, "no server at %s: %s%s", endpoint, strerror(errno),
                             errno == ENOENT ? " (is mpxd running?)" : "");
        if (!S_ISSOCK(st.st_mode))
            return mpx__fail(MPX_ECONN, "no server at %s: %s is not a socket", endpoint, path);
        salen = sizeof sa;
    }
    int err = try_connect((struct sockaddr *)&sa, salen, mpx__clock_ms() + 1000);
    if (err == ECONNREFUSED)
        return mpx__fail(MPX_ECONN, "connection refused at %s: no server listens on it", endpoint);
    if (err) return mpx__fail(MPX_ECONN, "cannot connect to %s: %s", endpoint, strerror(err));
    *zmq_ep = strdup(endpoint);
    return *zmq_ep ? 0 : mpx__fail(MPX_ENOMEM, "out of memory");
}

/* Splits tcp://host:port, host possibly a [bracketed] IPv6 address. */
static int tcp_parse(const char *endpoint, char *host, size_t host_size, char *port,
                     size_t port_size)
{
    const char *h = endpoint + 6, *colon = strrchr(h, ':');
    if (!colon || colon == h)
        return mpx__fail(MPX_EINVAL, "bad endpoint '%s': " BAD_FORM, endpoint);
    size_t hlen = (size_t)(colon - h), plen = strlen(colon + 1);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']')
            return mpx__fail(MPX_EINVAL, "bad endpoint '%s': " BAD_FORM, endpoint);
        h++;
        hlen -= 2;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (hlen >= host_size || plen == 0 || plen >= port_size || *end || p < 1 || p > 65535)
        return mpx__fail(MPX_EINVAL, "bad endpoint '%s': " BAD_FORM " (port 1 to 65535)", endpoint);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    return 0;
}

/* The numeric endpoint of an address for libzmq. */
static char *numeric_endpoint(const struct addrinfo *ai, const char *port)
{
    char addr[INET6_ADDRSTRLEN], *out = NULL;
    const void *a = ai->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    if (!inet_ntop(ai->ai_family, a, addr, sizeof addr)) return NULL;
    if (asprintf(&out, ai->ai_family == AF_INET6 ? "tcp://[%s]:%s" : "tcp://%s:%s", addr, port) < 0)
        return NULL;
    return out;
}

static int tcp_check(const char *endpoint, int timeout_ms, char **zmq_ep)
{
    char host[256], port[8];
    int rc = tcp_parse(endpoint, host, sizeof host, port, sizeof port);
    if (rc) return rc;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return mpx__fail(MPX_ECONN, "cannot resolve the host '%s' of %s: %s", host, endpoint,
                         gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
    int64_t deadline = mpx__clock_ms() + timeout_ms;
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int e = try_connect(ai->ai_addr, ai->ai_addrlen, deadline);
        if (e == 0) {
            *zmq_ep = numeric_endpoint(ai, port);
            freeaddrinfo(res);
            return *zmq_ep ? 0 : mpx__fail(MPX_ENOMEM, "out of memory");
        }
        if (err == 0 || e == ECONNREFUSED) err = e; /* a refusal says most */
    }
    freeaddrinfo(res);
    if (err == ECONNREFUSED)
        return mpx__fail(MPX_ECONN, "connection refused by %s: nothing listens on port %s",
                         endpoint, port);
    if (err == ETIMEDOUT)
        return mpx__fail(MPX_ETIMEDOUT, "no answer from %s within %d ms", endpoint, timeout_ms);
    return mpx__fail(MPX_ECONN, "cannot connect to %s: %s", endpoint, strerror(err));
}

int mpx__endpoint_check(const char *endpoint, int timeout_ms, char **zmq_ep)
{
    if (strncmp(endpoint, "ipc://", 6) == 0) return ipc_check(endpoint, zmq_ep);
    if (strncmp(endpoint, "tcp://", 6) == 0) return tcp_check(endpoint, timeout_ms, zmq_ep);
    return mpx__fail(MPX_EINVAL, "bad endpoint '%s': " BAD_FORM, endpoint);
}

/* ---- the socket --------------------------------------------------------------------------- */

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

static int curve_setup(mpx_client *c)
{
    if (mpx__curve_client(c->sock, c->authkey, c->keylen) == 0) return 0;
    return mpx__fail(MPX_ECONN, "cannot set up CURVE security: %s", zmq_strerror(errno));
}

static int socket_open(mpx_client *c)
{
    c->zctx = zmq_ctx_new();
    /* before the first socket: libzmq starts its I/O thread with it */
    if (c->zctx && c->io_cpu >= 0 && zmq_ctx_set(c->zctx, ZMQ_THREAD_AFFINITY_CPU_ADD, c->io_cpu))
        return mpx__fail(MPX_EINVAL, "cannot place libzmq's I/O thread on CPU %d: %s", c->io_cpu,
                         zmq_strerror(errno));
    c->sock = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    c->rcvtimeo_ms = -1;
    if (!c->sock)
        return mpx__fail(MPX_ECONN, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    set_int(c->sock, ZMQ_LINGER, 200); /* lets a BYE go out at close */
    set_int(c->sock, ZMQ_SNDHWM, 100000);
    set_int(c->sock, ZMQ_RCVHWM, 100000);
    set_int(c->sock, ZMQ_IPV6, 1);
    return curve_setup(c);
}

/* Connects, with a monitor of the handshake's outcome: libzmq retries a failed CURVE
 * handshake for ever without telling the socket's user, so its events are how a wrong key
 * or a server of another protocol is reported at once. Returns the monitor's reading end. */
static int socket_connect(mpx_client *c, void **monitor)
{
    static const char name[] = "inproc://mpx-handshake"; /* one per context: one per client */
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    *monitor = NULL;
    if (zmq_socket_monitor(c->sock, name, events) == 0) *monitor = zmq_socket(c->zctx, ZMQ_PAIR);
    if (!*monitor || zmq_connect(*monitor, name) != 0)
        return mpx__fail(MPX_ECONN, "cannot watch the handshake: %s", zmq_strerror(errno));
    if (zmq_connect(c->sock, c->zmq_endpoint) != 0)
        return mpx__fail(MPX_ECONN, "cannot connect to %s: %s", c->endpoint, zmq_strerror(errno));
    size_t fd_len = sizeof c->zmq_fd;
    if (zmq_getsockopt(c->sock, ZMQ_FD, &c->zmq_fd, &fd_len) != 0)
        return mpx__fail(MPX_ECONN, "cannot read the socket's ZMQ_FD: %s", zmq_strerror(errno));
    return 0;
}

static void monitor_close(mpx_client *c, void **monitor)
{
    if (!*monitor) return;
    zmq_socket_monitor(c->sock, NULL, 0);
    set_int(*monitor, ZMQ_LINGER, 0);
    zmq_close(*monitor);
    *monitor = NULL;
}

/* ---- the handshake ------------------------------------------------------------------------ */

/* What a failed CURVE handshake means (docs/protocol.md, "Handshake"). */
static int handshake_failed(mpx_client *c, uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return mpx__fail(MPX_EVERSION,
                         "the server at %s does not use CURVE security: it is not "
                         "an mpx protocol 4 server (an older mpxd speaks 3)",
                         c->endpoint);
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return mpx__fail(MPX_EAUTH,
                         "authentication failed: the server at %s refused this "
                         "client's key (the authkeys differ)",
                         c->endpoint);
    return mpx__fail(MPX_EAUTH,
                     "authentication failed: the CURVE handshake with %s failed "
                     "(the authkeys differ, or it is not mpxd)",
                     c->endpoint);
}

/* Reads one handshake event from the monitor. Returns 0 (not a failure) or the error. */
static int monitor_read(mpx_client *c, void *monitor)
{
    zmq_msg_t event, endpoint;
    uint16_t what = 0;
    uint32_t value = 0;
    zmq_msg_init(&event);
    zmq_msg_init(&endpoint);
    bool whole = zmq_msg_recv(&event, monitor, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&event) &&
                 zmq_msg_recv(&endpoint, monitor, ZMQ_DONTWAIT) >= 0 &&
                 zmq_msg_size(&event) == sizeof what + sizeof value;
    if (whole) {
        memcpy(&what, zmq_msg_data(&event), sizeof what);
        memcpy(&value, (char *)zmq_msg_data(&event) + sizeof what, sizeof value);
    }
    zmq_msg_close(&event);
    zmq_msg_close(&endpoint);
    return whole ? handshake_failed(c, what, value) : 0;
}

/* Receives one frame within the deadline, or the handshake's failure (handshake only: no
 * other thread uses the client). */
static int recv_frame(mpx_client *c, void *monitor, zmq_msg_t *msg, int64_t deadline)
{
    zmq_pollitem_t items[2] = {{.socket = c->sock, .events = ZMQ_POLLIN},
                               {.socket = monitor, .events = ZMQ_POLLIN}};
    for (;;) {
        int64_t left = deadline - mpx__clock_ms();
        if (left <= 0)
            return mpx__fail(MPX_ETIMEDOUT, "no answer from %s within %d ms (is it mpxd?)",
                             c->endpoint, c->connect_timeout_ms);
        int n = zmq_poll(items, 2, (long)left);
        if (n < 0 && errno != EINTR)
            return mpx__fail(MPX_ECONN, "poll failed: %s", zmq_strerror(errno));
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            int rc = monitor_read(c, monitor);
            if (rc) return rc;
        }
        if (n > 0 && zmq_msg_recv(msg, c->sock, ZMQ_DONTWAIT) >= 0) return 0;
    }
}

int mpx__frame_error(const mpx__frame *f, const char *during)
{
    mpx__mp_cursor cur;
    uint32_t n, len;
    int64_t code;
    const char *msg;
    mpx__mp_init(&cur, f->body, f->body_len);
    if (mpx__mp_array(&cur, &n) || n != 2 || mpx__mp_int(&cur, &code) ||
        mpx__mp_str(&cur, &msg, &len) || code <= 0 || code > 1000)
        return mpx__fail(MPX_EPROTO, "malformed error frame %s", during);
    return mpx__fail((int)-code, "%.*s", (int)len, msg);
}

/* Reads the session id and the server's limits from WELCOME's map; keys it does not know are
 * skipped. */
static int welcome_read(mpx_client *c, const mpx__frame *f)
{
    mpx__mp_cursor cur;
    uint32_t n, klen;
    const char *k;
    uint64_t v, version = 0;
    mpx__mp_init(&cur, f->body, f->body_len);
    int ok = mpx__mp_map(&cur, &n) == 0;
    for (; ok && n--;) {
        ok = mpx__mp_str(&cur, &k, &klen) == 0;
        bool is_uint = ok && mpx__mp_uint(&cur, &v) == 0;
        if (is_uint && klen == 7 && memcmp(k, "version", 7) == 0)
            version = v;
        else if (is_uint && klen == 7 && memcmp(k, "session", 7) == 0)
            c->sid = v;
        else if (is_uint && klen == 11 && memcmp(k, "max_message", 11) == 0)
            c->max_message = v;
        else if (is_uint && klen == 9 && memcmp(k, "max_frame", 9) == 0)
            c->max_frame = v;
        else if (is_uint && klen == 5 && memcmp(k, "state", 5) == 0)
            c->state_id = v;
        else if (is_uint && klen == 15 && memcmp(k, "session_timeout", 15) == 0)
            c->heartbeat_ms = v / 4 < 25 ? 25 : v / 4 > 60000 ? 60000 : (int)(v / 4);
        else if (ok && !is_uint)
            ok = mpx__mp_skip(&cur) == 0;
    }
    if (!ok) return mpx__fail(MPX_EPROTO, "malformed WELCOME from %s", c->endpoint);
    if (version != MPX_PROTOCOL_VERSION)
        return mpx__fail(MPX_EVERSION, "the server at %s chose protocol version %llu, not %d",
                         c->endpoint, (unsigned long long)version, MPX_PROTOCOL_VERSION);
    return 0;
}

/* HELLO, then WELCOME (or ERROR): docs/protocol.md, "Handshake". The CURVE handshake runs
 * first, inside libzmq; HELLO waits in the socket's queue until it is done. */
static int handshake(mpx_client *c)
{
    /* {"versions": [4]} */
    static const uint8_t body[] = {0x81, 0xa8, 'v', 'e', 'r',  's',
                                   'i',  'o',  'n', 's', 0x91, MPX_PROTOCOL_VERSION};
    uint8_t hello[MPX_HDR_LEN + sizeof body];
    int64_t deadline = mpx__clock_ms() + c->connect_timeout_ms;
    void *monitor;
    zmq_msg_t msg;
    mpx__frame f;
    mpx__frame_header(hello, MPX_K_HELLO);
    memcpy(hello + MPX_HDR_LEN, body, sizeof body);
    zmq_msg_init(&msg);
    int rc = socket_connect(c, &monitor);
    if (rc == 0 && zmq_send(c->sock, hello, sizeof hello, ZMQ_DONTWAIT) != (int)sizeof hello)
        rc = mpx__fail(MPX_ECONN, "cannot send to %s: %s", c->endpoint, zmq_strerror(errno));
    if (rc == 0) rc = recv_frame(c, monitor, &msg, deadline);
    if (rc == 0) {
        rc = mpx__frame_parse(zmq_msg_data(&msg), zmq_msg_size(&msg), &f);
        if (rc == MPX_EVERSION)
            rc = mpx__fail(rc, "the server speaks protocol version %u, not %d",
                           ((uint8_t *)zmq_msg_data(&msg))[0], MPX_PROTOCOL_VERSION);
        else if (rc == 0 && f.kind == MPX_K_ERROR)
            rc = mpx__frame_error(&f, "during the handshake");
        else if (rc || f.kind != MPX_K_WELCOME)
            rc = mpx__fail(MPX_EPROTO, "unexpected frame during the handshake");
    }
    if (rc == 0) rc = welcome_read(c, &f);
    zmq_msg_close(&msg);
    monitor_close(c, &monitor);
    return rc;
}

int mpx__session_open(mpx_client *c)
{
    c->max_message = MPX_DEFAULT_MAX_MESSAGE;
    c->max_frame = UINT64_MAX;
    c->heartbeat_ms = MPX_DEFAULT_SESSION_TIMEOUT_MS / 4;
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->wake_fd < 0) return mpx__fail(MPX_ESYS, "eventfd: %s", strerror(errno));
    int rc = socket_open(c);
    if (rc == 0) rc = handshake(c);
    if (rc == 0) c->last_send_ms = c->last_recv_ms = mpx__clock_ms();
    return rc;
}

void mpx__session_close(mpx_client *c)
{
    if (c->sock) zmq_close(c->sock);
    if (c->zctx) zmq_ctx_term(c->zctx);
    if (c->wake_fd >= 0) close(c->wake_fd);
    c->sock = c->zctx = NULL;
    c->wake_fd = -1;
}
