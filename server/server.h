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

#include "alloc.h"
#include "log.h"
#include "object.h"
#include "registry.h"

/* The authkey, shared by the sessions whose handshake uses it: a SIGHUP that reloads the key
 * leaves handshakes in progress on the key they began with. */
typedef struct {
    unsigned refs;
    size_t len;
    uint8_t bytes[]; /* never printed or logged */
} mpx__authkey;

mpx__authkey *mpx__authkey_new(const uint8_t *bytes, size_t len);
mpx__authkey *mpx__authkey_hold(mpx__authkey *k);
/* Drops a reference; the last wipes and frees the key. Accepts NULL. */
void mpx__authkey_release(mpx__authkey *k);

typedef struct {
    size_t max_message; /* the largest request body served; larger gets MPX_ETOOBIG */
    size_t max_memory;  /* past this, calls that store more are refused; 0: no limit */
    int handshake_timeout_ms;
    int session_timeout_ms; /* a session silent this long is ended */
    int cpu; /* the CPU for the loop and libzmq's I/O thread, MPX_CPU_AUTO or _NONE */
    bool quiet;
    bool debug;             /* --debug: the manager's debug methods answer */
    const char *key_file;   /* where SIGHUP re-reads the key; NULL if it came from elsewhere */
    const char *key_source; /* for the log: "the environment", "a generated key" */
} mpx__config;

/* Counters of calls and of refused input, readable through the manager's stats() method. */
typedef struct {
    uint64_t calls;
    uint64_t auth_failures;      /* handshakes with a wrong proof */
    uint64_t rejected_unauth;    /* calls from a peer with no session */
    uint64_t rejected_mac;       /* frames whose MAC or session id did not verify */
    uint64_t rejected_replay;    /* frames out of sequence: replayed, reordered or dropped */
    uint64_t rejected_malformed; /* frames or bodies that do not parse */
    uint64_t rejected_oversize;  /* requests over max_message */
    uint64_t rejected_version;   /* frames of another protocol version */
    uint64_t rejected_memory;    /* calls refused past max_memory */
    uint64_t peers_gone;         /* sessions ended because their peer could not be reached */
    uint64_t undone;             /* results taken back from a peer that was gone */
    uint64_t cancelled;          /* parked calls their client gave up on */
} mpx__stats;

struct mpx__server {
    mpx__config cfg;
    mpx__stats stats;
    mpx__authkey *key; /* the key new handshakes use */
    void *zctx;
    void *router;
    void *monitor;                /* the router's connection events (sockbuf.c), or NULL */
    struct mpx__placement *place; /* where the loop and libzmq's I/O thread run; owned */
    mpx__session *sessions;       /* by routing id */
    size_t n_sessions;
    mpx__session *gone; /* sessions whose peer could not be reached, ended by the loop */
    bool probe_wanted;  /* a connection closed: look for sessions whose peer is gone */
    mpx__registry reg;
    mpx__parked **heap; /* parked calls with a deadline, soonest first (blocked.c) */
    size_t heap_len;
    size_t heap_cap;
    size_t n_parked;
    bool in_handler;             /* a method handler is running: out holds its reply */
    mpx__buf out;                /* the frame being built; reused for every send */
    msgpack_packer pk;           /* packs into out */
    mpx__session *batch_session; /* running a BATCH: its replies go into `batch` */
    mpx__buf batch;              /* a REPLIES frame being gathered: header, array32, bodies */
    uint32_t batch_replies;
    bool batch_failed; /* a REPLIES frame could not be sent */
};

#endif
