/*
 * session.h — one authenticated client connection: its handshake, its keys and sequence
 * numbers, the references it holds (internal to mpxd).
 *
 * Life: a HELLO from a new routing id makes a session in the CHALLENGED state; a correct AUTH
 * makes it READY; a BYE, a failed AUTH, a handshake left unfinished past its timeout, silence
 * (no call and no heartbeat) past the session timeout, a peer that can no longer be reached,
 * or mpxd stopping ends it, and ending it drops every reference it held.
 */
#ifndef MPX_SERVER_SESSION_H
#define MPX_SERVER_SESSION_H

#include "hash.h"
#include "server.h"

#define MPX_MAX_SESSIONS 100000 /* sessions served at once; a HELLO past it is refused */

typedef enum { SESSION_CHALLENGED, SESSION_READY } mpx__session_state;

struct mpx__session {
    UT_hash_handle hh; /* in mpx__server.sessions, keyed by routing id */
    uint8_t rid[256];  /* ZeroMQ routing id of the peer */
    size_t rid_len;
    mpx__session_state state;
    uint64_t sid;              /* random, never 0 */
    uint8_t nc[MPX_NONCE_LEN]; /* client nonce */
    uint8_t ns[MPX_NONCE_LEN]; /* server nonce */
    mpx__authkey *key;         /* the key of its handshake (held until READY) */
    mpx__mac_key c2s;          /* verifies what the client sends */
    mpx__mac_key s2c;          /* signs what mpxd sends */
    uint64_t recv_seq;         /* last sequence number accepted from the client */
    uint64_t send_seq;         /* last sequence number sent */
    int64_t started_ms;
    int64_t last_seen_ms;     /* last frame accepted from the client */
    mpx__ref *refs;           /* object references held */
    mpx__parked *parked;      /* this session's parked calls */
    struct mpx__owned *owned; /* objects it owns something in (a held lock) */
    bool gone;                /* its peer cannot be reached: ended by mpx__sessions_reap() */
    mpx__session *next_gone;
    char peer[64]; /* the peer's address, for logs */
};

/* Handles one frame from routing id rid. */
void mpx__session_input(mpx__server *s, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                        size_t len, const char *peer);

/* Ends handshakes older than the handshake timeout, and sessions silent past the session
 * timeout: silent since their last frame or since responsive_since (when the loop last came
 * back from a stall), whichever is later. */
void mpx__sessions_expire(mpx__server *s, int64_t now_ms, int64_t responsive_since);

/* Ends the sessions whose peer could not be reached (reply.c marks them). */
void mpx__sessions_reap(mpx__server *s);

/* Sends a HEARTBEAT_ACK to every session that holds something or has parked calls: one whose
 * peer has gone is marked, and reaped. */
void mpx__sessions_probe(mpx__server *s);

/* Ends every session (at shutdown). */
void mpx__sessions_close_all(mpx__server *s);

#endif
