/*
 * zap.c — the ZAP handler (zap.h).
 *
 * A request is seven frames: version "1.0", request id, domain, address, routing id,
 * mechanism, and for CURVE the client's 32-byte long-term public key. The answer is six:
 * version, the same request id, "200" or "400", a status text, a user id and empty metadata.
 * A request that is not CURVE or not well-formed is refused; a key is compared in constant
 * time. The failures themselves are counted and logged by the loop, from the router's
 * handshake events (monitor.c), so this thread never touches the server's state.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "zap.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
#define ZAP_PARTS 7

struct mpx__zap {
    void *sock;
    pthread_t thread;
    uint8_t key[32]; /* the client public key admitted; set before the thread starts */
};

static bool admitted(mpx__zap *z, zmq_msg_t *part, int n)
{
    if (n != ZAP_PARTS || zmq_msg_size(&part[0]) != 3 || memcmp(zmq_msg_data(&part[0]), "1.0", 3) ||
        zmq_msg_size(&part[5]) != 5 || memcmp(zmq_msg_data(&part[5]), "CURVE", 5) ||
        zmq_msg_size(&part[6]) != 32)
        return false;
    return sodium_memcmp(zmq_msg_data(&part[6]), z->key, 32) == 0;
}

/* Reads one request (parts past ZAP_PARTS discarded) and answers it. Returns false once the
 * context is shutting down. */
static bool serve_one(mpx__zap *z)
{
    zmq_msg_t part[ZAP_PARTS + 1];
    int n = 0;
    bool more = true, alive = true;
    while (more) {
        zmq_msg_t *m = &part[n < ZAP_PARTS ? n : ZAP_PARTS];
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->sock, 0) < 0) { /* ETERM: the thread blocks every signal */
            zmq_msg_close(m);
            alive = false;
            break;
        }
        more = zmq_msg_more(m);
        if (n < ZAP_PARTS)
            n++;
        else
            zmq_msg_close(m);
    }
    if (alive && !more) {
        bool ok = admitted(z, part, n);
        const char *code = ok ? "200" : "400", *text = ok ? "OK" : "not the authkey's client key";
        zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
        if (n >= 2)
            zmq_send(z->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
        else
            zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
        zmq_send(z->sock, code, 3, ZMQ_SNDMORE);
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
        zmq_send(z->sock, "", 0, 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
    return alive;
}

static void *zap_main(void *arg)
{
    mpx__zap *z = arg;
    while (serve_one(z)) {
    }
    int linger = 0;
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(z->sock);
    return NULL;
}

mpx__zap *mpx__zap_start(void *zctx, const uint8_t client_public[32])
{
    mpx__zap *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    memcpy(z->key, client_public, 32);
    z->sock = zmq_socket(zctx, ZMQ_REP);
    /* The thread blocks every signal, as libzmq's own do: SIGINT and SIGHUP are for the loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool started = z->sock && zmq_bind(z->sock, ZAP_ENDPOINT) == 0 &&
                   pthread_create(&z->thread, NULL, zap_main, z) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        mpx__log_warn("cannot start the ZAP handler: %s", zmq_strerror(errno));
        if (z->sock) zmq_close(z->sock);
        free(z);
        return NULL;
    }
    return z;
}

void mpx__zap_stop(mpx__zap **zp)
{
    mpx__zap *z = *zp;
    if (!z) return;
    pthread_join(z->thread, NULL);
    free(z);
    *zp = NULL;
}
