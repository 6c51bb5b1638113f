/*
 * session.h — one authenticated client connection: its handshake, its keys and sequence
 * numbers, the references it holds (internal to mpxd).
 *
 * Life: a HELLO from a new routing id makes a session in the CHALLENGED state; a correct AUTH
 * makes it READY; a BYE, a failed AUTH, a handshake left unfinished past its timeout, silence
 * (no call and no heartbeat) past the session timeout, or mpxd stopping ends it, and ending it
 * drops every reference it held.
 */
#ifndef MPX_SERVER_SESSION_H
#define MPX_SERVER_SESSION_H

#include <uthash.h>

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
    mpx__mac_key c2s;          /* verifies what the client sends */
    mpx__mac_key s2c;          /* signs what mpxd sends */
    uint64_t recv_seq;         /* last sequence number accepted from the client */
    uint64_t send_seq;         /* last sequence number sent */
    int64_t started_ms;
    int64_t last_seen_ms;     /* last frame accepted from the client */
    mpx__ref *refs;           /* object references held */
    mpx__parked *parked;      /* this session's parked calls */
    struct mpx__owned *owned; /* objects it owns something in (a held lock) */
    char peer[64];            /* the peer's address, for logs */
};

/* Handles one frame from routing id rid. */
void mpx__session_input(mpx__server *s, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                        size_t len, const char *peer);

/* Starts a frame in s->out: reserves the header; the body is packed after it. */
void mpx__frame_begin(mpx__server *s);

/* Signs the frame in s->out as `kind` for sess and sends it. */
void mpx__session_send(mpx__server *s, mpx__session *sess, uint8_t kind);

/* Between these two calls every REPLY for sess is gathered instead of sent, and _end sends them
 * all as one REPLIES frame (none if there were none). */
void mpx__session_batch_begin(mpx__server *s, mpx__session *sess);
void mpx__session_batch_end(mpx__server *s, mpx__session *sess);

/* Sends a REPLY [req_id, code, message] for a failed request. */
void mpx__session_send_error(mpx__server *s, mpx__session *sess, uint64_t req_id, int code,
                             const char *msg);

/* Records that sess owns something in obj (a lock it holds), holding obj alive; when the
 * session ends, obj's type gets session_lost(). Calls nest: each own needs one disown. */
void mpx__session_own(mpx__server *s, mpx__session *sess, mpx__obj *obj);
void mpx__session_disown(mpx__server *s, mpx__session *sess, mpx__obj *obj);
/* Undoes up to n owns at once (no more than sess has); the cost is bounded by what it holds. */
void mpx__session_disown_n(mpx__server *s, mpx__session *sess, mpx__obj *obj, uint64_t n);

/* Ends handshakes older than the handshake timeout, and sessions silent past the session
 * timeout. */
void mpx__sessions_expire(mpx__server *s, int64_t now_ms);

/* Ends every session (at shutdown). */
void mpx__sessions_close_all(mpx__server *s);

#endif
