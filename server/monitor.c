/*
 * monitor.c — the router's connection events (monitor.h).
 *
 * A closed connection: libzmq's ROUTER gives no notice of which peer left, so the loop, told
 * that one did, sends a probe to each session that holds something or waits (session.c); a
 * peer that is gone fails the send and its session ends at once, rather than after the session
 * timeout.
 *
 * A new ipc:// connection: the kernel's default send buffer on a unix socket
 * (net.core.wmem_default) is smaller than a large reply, which libzmq's I/O thread then sends
 * in several rounds, each waiting for the reader. libzmq applies ZMQ_SNDBUF to tcp:// only, so
 * mpxd sets SO_SNDBUF itself on the descriptor the ACCEPTED event carries. The event is read
 * after the fact, so the descriptor is checked to still be a unix stream socket first: at worst
 * another of mpxd's own connections gets the wider buffer. Clients leave their sockets alone
 * (docs/performance.md says how to widen them for the whole machine).
 *
 * A failed handshake: a peer that does not hold the authkey's keys fails CURVE (its HELLO
 * does not open) or the ZAP check, and libzmq closes its connection. A connection closed by
 * its peer before any handshake (libmpx checks that an endpoint answers with one) is not a
 * failure. Each failure is counted, and logged through a limiter (log.h). A connection that
 * ended before its handshake did without failing it (--handshake-timeout ran out, or the peer
 * hung up) is counted and logged as information, not a warning: libmpx's check that an
 * endpoint answers ends so too.
 */
#include <string.h>
#include <sys/socket.h>

#include <zmq.h>

#include "log.h"
#include "monitor.h"

#define IPC_SNDBUF (1 << 20) /* the kernel caps it at net.core.wmem_max, then doubles it */
#define MONITOR_NAME "inproc://mpxd-connections"
#define EVENTS                                                                                     \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |           \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                      \
     ZMQ_EVENT_ACCEPT_FAILED)

void *mpx__monitor_open(void *zctx, void *sock)
{
    void *mon = NULL;
    int unbounded = 0; /* libzmq's I/O thread would block on a full monitor */
    if (zmq_socket_monitor(sock, MONITOR_NAME, EVENTS) == 0) mon = zmq_socket(zctx, ZMQ_PAIR);
    if (mon && zmq_setsockopt(mon, ZMQ_RCVHWM, &unbounded, sizeof unbounded) == 0 &&
        zmq_connect(mon, MONITOR_NAME) == 0)
        return mon;
    if (mon) zmq_close(mon);
    zmq_socket_monitor(sock, NULL, 0);
    return NULL;
}

static bool is_unix_stream(int fd)
{
    int domain = 0, type = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX)
        return false;
    len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Counts a failed handshake, and logs it (once per MPX_LOG_LIMIT_MS). */
static void auth_failed(uint64_t *failures, const zmq_msg_t *endpoint)
{
    static mpx__log_limiter limiter; /* one thread: the loop */
    (*failures)++;
    mpx__log_limited(&limiter,
                     "a connection to %.*s failed the CURVE handshake: a peer without this "
                     "authkey, or not an mpx 4 client",
                     (int)zmq_msg_size(endpoint),
                     (const char *)zmq_msg_data((zmq_msg_t *)endpoint));
}

/* Handles one event: two frames, a 16-bit event number and a 32-bit value (the descriptor),
 * then the endpoint. Returns true for a closed connection. */
static bool on_event(const zmq_msg_t *event, const zmq_msg_t *endpoint, mpx__monitor_counts *n)
{
    uint16_t what;
    int32_t fd;
    if (zmq_msg_size(event) != sizeof what + sizeof fd) return false;
    memcpy(&what, zmq_msg_data((zmq_msg_t *)event), sizeof what);
    memcpy(&fd, (char *)zmq_msg_data((zmq_msg_t *)event) + sizeof what, sizeof fd);
    if (what == ZMQ_EVENT_DISCONNECTED) return true;
    if (what == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || what == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        auth_failed(n->auth_failures, endpoint);
        return false;
    }
    if (what == ZMQ_EVENT_ACCEPT_FAILED) { /* the value is the errno: EMFILE past the limit */
        static mpx__log_limiter limiter;
        (*n->accept_failures)++;
        mpx__log_limited(&limiter, "cannot accept a connection on %.*s: %s",
                         (int)zmq_msg_size(endpoint),
                         (const char *)zmq_msg_data((zmq_msg_t *)endpoint), strerror(fd));
        return false;
    }
    if (what == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) { /* timed out, or the peer hung up */
        static mpx__log_limiter limiter = {.info = true};
        (*n->handshakes_unfinished)++;
        mpx__log_limited(&limiter,
                         "a connection to %.*s ended before its CURVE handshake was done "
                         "(--handshake-timeout, or the peer hung up)",
                         (int)zmq_msg_size(endpoint),
                         (const char *)zmq_msg_data((zmq_msg_t *)endpoint));
        return false;
    }
    int size = IPC_SNDBUF;
    if (what == ZMQ_EVENT_ACCEPTED && zmq_msg_size(endpoint) >= 6 &&
        memcmp(zmq_msg_data((zmq_msg_t *)endpoint), "ipc://", 6) == 0 && is_unix_stream(fd))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return false;
}

bool mpx__monitor_drain(void *mon, mpx__monitor_counts n)
{
    bool closed = false;
    zmq_msg_t event, endpoint;
    zmq_msg_init(&event);
    zmq_msg_init(&endpoint);
    while (mon && zmq_msg_recv(&event, mon, ZMQ_DONTWAIT) >= 0) {
        bool whole = zmq_msg_more(&event) && zmq_msg_recv(&endpoint, mon, ZMQ_DONTWAIT) >= 0;
        if (whole && on_event(&event, &endpoint, &n)) closed = true;
    }
    zmq_msg_close(&event);
    zmq_msg_close(&endpoint);
    return closed;
}

void mpx__monitor_close(void *sock, void **mon)
{
    if (!*mon) return;
    zmq_socket_monitor(sock, NULL, 0);
    int linger = 0;
    zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(*mon);
    *mon = NULL;
}
