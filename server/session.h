/*
 * session.h — one client connection that sent HELLO: its session id, the references it
 * holds, its parked calls (internal to mpxd).
 *
 * Life: a HELLO from a routing id without a session makes one, READY at once (the transport
 * has authenticated the peer); a BYE, silence (no call and no heartbeat) past the session
 * timeout, a peer that can no longer be reached, or mpxd stopping ends it, and ending it drops
 * every reference it held.
 */
#ifndef MPX_SERVER_SESSION_H
#define MPX_SERVER_SESSION_H

#include "hash.h"
#include "server.h"

struct mpx__session {
    UT_hash_handle hh; /* in mpx__server.sessions, keyed by routing id */
    uint8_t rid[256];  /* ZeroMQ routing id of the peer */
    size_t rid_len;
    uint64_t sid;             /* random, never 0: names the session in logs and WELCOME */
    int64_t last_seen_ms;     /* last frame accepted from the client */
    mpx__ref *refs;           /* object references held */
    mpx__parked *parked;      /* this session's parked calls */
    struct mpx__owned *owned; /* objects it owns something in (a held lock) */
    bool gone;                /* its peer cannot be reached: ended by mpx__sessions_reap() */
    mpx__session *next_gone;
    char peer[64]; /* the peer's address, for logs */
};

/* Handles one message of `parts` frames from routing id rid (frame is its first). */
void mpx__session_input(mpx__server *s, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                        size_t len, int parts, const char *peer);

/* Ends sessions silent past the session timeout: silent since their last frame or since
 * responsive_since (when the loop last came back from a stall), whichever is later. */
void mpx__sessions_expire(mpx__server *s, int64_t now_ms, int64_t responsive_since);

/* Ends the sessions whose peer could not be reached (reply.c marks them). */
void mpx__sessions_reap(mpx__server *s);

/* Sends a HEARTBEAT_ACK to every session that holds something or has parked calls: one whose
 * peer has gone is marked, and reaped. */
void mpx__sessions_probe(mpx__server *s);

/* Ends every session (at shutdown). */
void mpx__sessions_close_all(mpx__server *s);

#endif
