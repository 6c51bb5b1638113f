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

#define MPX_DEFAULT_MAX_SESSIONS 100000        /* --max-sessions */
#define MPX_DEFAULT_MAX_QUEUED_REPLIES 1000    /* --max-queued-replies */
#define MPX_DEFAULT_MAX_SESSION_OBJECTS 100000 /* --max-session-objects */
#define MPX_DEFAULT_COMPACT_MIN (64u << 20)    /* --compact-min */

typedef struct {
    size_t max_message;         /* the largest request body served; larger gets MPX_ETOOBIG */
    size_t max_memory;          /* past this, calls that store more are refused; 0: no limit */
    int handshake_timeout_ms;   /* a connection that has not passed CURVE by then is closed */
    int session_timeout_ms;     /* a session silent this long is ended */
    size_t max_sessions;        /* sessions at once; a HELLO past it gets MPX_ETOOMANY */
    size_t max_queued_replies;  /* replies one peer may leave unread before its session ends */
    size_t max_session_objects; /* objects one session may hold before create is refused */
    const char *data_dir;       /* --data-dir: where the state is kept; NULL: in memory only */
    int fsync;                  /* --fsync: an mpx__fsync (aof.h) */
    size_t compact_min;         /* the log is compacted once past this and twice the snapshot */
    int cpu; /* the CPU for the loop and libzmq's I/O thread, MPX_CPU_AUTO or _NONE */
    bool quiet;
    bool debug; /* --debug: the manager's debug methods answer */
} mpx__config;

/* Counters of calls and of refused input, readable through the manager's stats() method. */
typedef struct {
    uint64_t calls;
    uint64_t auth_failures;         /* connections that failed CURVE or the ZAP check */
    uint64_t handshakes_unfinished; /* connections ended before their handshake completed */
    uint64_t accept_failures;       /* connections not accepted: out of descriptors */
    uint64_t rejected_unauth;       /* calls from a peer with no session */
    uint64_t rejected_malformed;    /* frames or bodies that do not parse */
    uint64_t rejected_oversize;     /* requests over max_message */
    uint64_t rejected_version;      /* frames of another protocol version */
    uint64_t rejected_memory;       /* calls refused past max_memory */
    uint64_t rejected_sessions;     /* HELLOs refused past max_sessions */
    uint64_t slow_readers;          /* sessions ended with max_queued_replies unread */
    uint64_t rejected_objects;      /* creates refused past max_session_objects */
    uint64_t peers_gone;            /* sessions ended because their peer could not be reached */
    uint64_t undone;                /* results taken back from a peer that was gone */
    uint64_t cancelled;             /* parked calls their client gave up on */
    uint64_t redelivered;           /* leased queue items given back for another taker */
} mpx__stats;

/* The largest frame libzmq reads at all: past twice the served limit a frame is not worth
 * reading, and libzmq drops that peer's connection (announced in WELCOME as max_frame). */
static inline uint64_t mpx__max_frame(const mpx__config *cfg)
{
    return (uint64_t)cfg->max_message * 2 + (1 << 20);
}

struct mpx__server {
    mpx__config cfg;
    mpx__stats stats;
    void *zctx;
    void *router;
    struct mpx__zap *zap;         /* admits the authkey's client key (zap.c); owned */
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
    struct mpx__timer *timers; /* objects' own deadlines, soonest first (blocked.c) */
    size_t n_timers;
    size_t cap_timers;
    bool in_handler;             /* a method handler is running: out holds its reply */
    mpx__buf out;                /* the frame being built; reused for every send */
    msgpack_packer pk;           /* packs into out */
    mpx__session *batch_session; /* running a BATCH: its replies go into `batch` */
    mpx__buf batch;              /* a REPLIES frame being gathered: header, array32, bodies */
    uint32_t batch_replies;
    bool batch_failed;            /* a REPLIES frame could not be sent */
    struct mpx__persist *persist; /* --data-dir (persist.h); NULL without */
    uint64_t instance;            /* random, new for each run: told in WELCOME */
};

#endif
