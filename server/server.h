/*
 * server.h — mpxd's shared state: configuration, counters, the socket, the sessions and the
 * registry, all owned by the one thread that runs the loop (internal to mpxd).
 */
#ifndef MPX_SERVER_H
#define MPX_SERVER_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "registry.h"

typedef struct {
    const uint8_t *authkey; /* borrowed from main(); never printed */
    size_t keylen;
    size_t max_message; /* the largest request body served; larger gets MPX_ETOOBIG */
    int handshake_timeout_ms;
    int session_timeout_ms; /* a session silent this long is ended */
    int cpu; /* the CPU for the loop and libzmq's I/O thread, MPX_CPU_AUTO or MPX_CPU_NONE */
    bool quiet;
} mpx__config;

/* Counters of refused input, readable through the manager's stats() method. */
typedef struct {
    uint64_t calls;
    uint64_t auth_failures;      /* handshakes with a wrong proof */
    uint64_t rejected_unauth;    /* calls from a peer with no session */
    uint64_t rejected_mac;       /* frames whose MAC or session id did not verify */
    uint64_t rejected_replay;    /* frames out of sequence: replayed, reordered or dropped */
    uint64_t rejected_malformed; /* frames or bodies that do not parse */
    uint64_t rejected_oversize;  /* requests over max_message */
    uint64_t rejected_version;   /* frames of another protocol version */
} mpx__stats;

struct mpx__server {
    mpx__config cfg;
    mpx__stats stats;
    void *zctx;
    void *router;
    void *monitor; /* the router's new ipc:// connections, to widen (sockbuf.c); or NULL */
    struct mpx__placement *place; /* where the loop and libzmq's I/O thread run; owned */
    mpx__session *sessions;       /* by routing id */
    size_t n_sessions;
    mpx__registry reg;
    mpx__parked **heap; /* parked calls with a deadline, soonest first (blocked.c) */
    size_t heap_len;
    size_t heap_cap;
    size_t n_parked;
    bool in_handler;             /* a method handler is running: s->out holds its reply */
    msgpack_sbuffer out;         /* the frame being built; reused for every send */
    mpx__session *batch_session; /* running a BATCH: its replies go into `batch` */
    msgpack_sbuffer batch;       /* a REPLIES frame being gathered: header, array32, bodies */
    uint32_t batch_replies;
    msgpack_packer pk; /* packs into out */
};

/* Logs one line to stderr with a timestamp. Info lines are dropped with --quiet. */
void mpx__log_info(const mpx__server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mpx__log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A monotonic clock in milliseconds. */
int64_t mpx__now_ms(void);

/* Runs a CALL body from an authenticated session and sends its reply. */
void mpx__dispatch(mpx__server *s, mpx__session *sess, const uint8_t *body, size_t len);

/* Runs a BATCH body (an array of CALL bodies) in order, and sends the replies of the calls
 * answered meanwhile in one REPLIES frame; calls that park are answered later as usual. */
void mpx__dispatch_batch(mpx__server *s, mpx__session *sess, const uint8_t *body, size_t len);

#endif
