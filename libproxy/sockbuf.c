/*
 * sockbuf.c — the send buffers of ipc:// connections, which mpxd and the client both widen.
 *
 * The kernel's default send buffer on a unix socket (net.core.wmem_default, 208 KB here and on
 * stock Debian) is smaller than a 10,000-pair update, so libzmq's I/O thread sent one in two or
 * three rounds, each waiting for the reader's I/O thread: more wake-ups on both sides than the
 * copying itself costs (docs/performance.md). libzmq applies ZMQ_SNDBUF to tcp:// only, so
 * each side sets SO_SNDBUF on its ipc:// connections itself. It learns their descriptors from
 * a libzmq socket monitor: ZMQ_EVENT_CONNECTED and ZMQ_EVENT_ACCEPTED carry them.
 */
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define IPC_SNDBUF (1 << 20) /* the kernel caps it at net.core.wmem_max, then doubles it */

bool mpx__endpoint_is_ipc(const char *endpoint, size_t len)
{
    return len >= 6 && memcmp(endpoint, "ipc://", 6) == 0;
}

void *mpx__ipc_monitor_open(void *zctx, void *sock, const char *name, int events)
{
    void *mon = NULL;
    int unbounded = 0; /* libzmq's I/O thread would block on a full monitor */
    if (zmq_socket_monitor(sock, name, events) == 0) mon = zmq_socket(zctx, ZMQ_PAIR);
    if (mon && zmq_setsockopt(mon, ZMQ_RCVHWM, &unbounded, sizeof unbounded) == 0 &&
        zmq_connect(mon, name) == 0)
        return mon;
    if (mon) zmq_close(mon);
    zmq_socket_monitor(sock, NULL, 0);
    return NULL;
}

/* Widens the connection one event names, if it is a new ipc:// connection. An event is two
 * frames: a 16-bit event number and a 32-bit value (the descriptor), then the endpoint. */
static void widen(const zmq_msg_t *event, const zmq_msg_t *endpoint)
{
    uint16_t what;
    int32_t fd;
    if (zmq_msg_size(event) != sizeof what + sizeof fd ||
        !mpx__endpoint_is_ipc(zmq_msg_data((zmq_msg_t *)endpoint), zmq_msg_size(endpoint)))
        return;
    memcpy(&what, zmq_msg_data((zmq_msg_t *)event), sizeof what);
    memcpy(&fd, (char *)zmq_msg_data((zmq_msg_t *)event) + sizeof what, sizeof fd);
    int size = IPC_SNDBUF;
    if (what == ZMQ_EVENT_CONNECTED || what == ZMQ_EVENT_ACCEPTED)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

void mpx__ipc_monitor_drain(void *mon)
{
    zmq_msg_t event, endpoint;
    zmq_msg_init(&event);
    zmq_msg_init(&endpoint);
    while (mon && zmq_msg_recv(&event, mon, ZMQ_DONTWAIT) >= 0) {
        bool whole = zmq_msg_more(&event) && zmq_msg_recv(&endpoint, mon, ZMQ_DONTWAIT) >= 0;
        if (whole) widen(&event, &endpoint);
    }
    zmq_msg_close(&event);
    zmq_msg_close(&endpoint);
}

void mpx__ipc_monitor_close(void *sock, void **mon)
{
    if (!*mon) return;
    zmq_socket_monitor(sock, NULL, 0);
    int linger = 0;
    zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(*mon);
    *mon = NULL;
}
