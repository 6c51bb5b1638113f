/*
 * session.c — the HELLO that opens a session, the checks of every frame, and the life of
 * every session (docs/protocol.md, "Handshake" and "Frames").
 *
 * Who may talk to mpxd at all is settled below this file: CURVE encrypts and authenticates
 * every frame, and the ZAP handler (zap.c) admits only peers holding the key pair derived from
 * the authkey. So a frame that reaches here comes from a peer that knows the key, in order,
 * unaltered and never replayed. It is checked in the order docs/protocol.md §4 gives before
 * anything in its body is decoded; a frame that fails a check is counted, answered and never
 * executed, and the session, and every other session, carries on.
 */
#include <stdio.h>
#include <string.h>

#include "blocked.h"
#include "dispatch.h"
#include "holdings.h"
#include "persist.h"
#include "reply.h"

static void gone_unlink(mpx__server *s, mpx__session *sess)
{
    for (mpx__session **p = &s->gone; *p; p = &(*p)->next_gone) {
        if (*p == sess) {
            *p = sess->next_gone;
            return;
        }
    }
}

static void session_end(mpx__server *s, mpx__session *sess)
{
    if (sess->gone) gone_unlink(s, sess);
    mpx__blocked_drop_session(s, sess);
    mpx__holdings_give_back(s, sess);
    mpx__registry_drop_refs(&s->reg, &sess->refs);
    HASH_DEL(s->sessions, sess);
    s->n_sessions--;
    mpx__xfree(sess);
}

/* Whether HELLO's body, a map, offers protocol version 4 in its "versions" array (other keys
 * are for later versions, and skipped). Returns 0, MPX_EVERSION, or MPX_EPROTO when the body
 * is not such a map. */
static int hello_versions(const mpx__frame *f)
{
    mpx__mp_cursor c;
    uint32_t n, klen, nv;
    const char *k;
    bool offered = false, seen = false;
    mpx__mp_init(&c, f->body, f->body_len);
    if (mpx__mp_map(&c, &n)) return MPX_EPROTO;
    while (n--) {
        if (mpx__mp_str(&c, &k, &klen)) return MPX_EPROTO;
        if (klen != 8 || memcmp(k, "versions", 8) != 0) {
            if (mpx__mp_skip(&c)) return MPX_EPROTO;
            continue;
        }
        if (mpx__mp_array(&c, &nv)) return MPX_EPROTO;
        seen = true;
        for (uint64_t v; nv--;) {
            if (mpx__mp_uint(&c, &v)) return MPX_EPROTO;
            offered |= v == MPX_PROTOCOL_VERSION;
        }
    }
    if (c.p != c.end || !seen) return MPX_EPROTO;
    return offered ? 0 : MPX_EVERSION;
}

static void send_welcome(mpx__server *s, mpx__session *sess)
{
    mpx__frame_begin(s);
    msgpack_pack_map(&s->pk, 9);
    msgpack_pack_str_with_body(&s->pk, "version", 7);
    msgpack_pack_uint8(&s->pk, MPX_PROTOCOL_VERSION);
    msgpack_pack_str_with_body(&s->pk, "versions", 8); /* every version this server speaks */
    msgpack_pack_array(&s->pk, 1);
    msgpack_pack_uint8(&s->pk, MPX_PROTOCOL_VERSION);
    msgpack_pack_str_with_body(&s->pk, "session", 7);
    msgpack_pack_uint64(&s->pk, sess->sid);
    msgpack_pack_str_with_body(&s->pk, "max_message", 11);
    msgpack_pack_uint64(&s->pk, s->cfg.max_message);
    msgpack_pack_str_with_body(&s->pk, "max_frame", 9);
    msgpack_pack_uint64(&s->pk, mpx__max_frame(&s->cfg));
    msgpack_pack_str_with_body(&s->pk, "session_timeout", 15);
    msgpack_pack_uint64(&s->pk, (uint64_t)s->cfg.session_timeout_ms);
    msgpack_pack_str_with_body(&s->pk, "instance", 8); /* this run of mpxd */
    msgpack_pack_uint64(&s->pk, s->instance);
    msgpack_pack_str_with_body(&s->pk, "state", 5); /* the state it serves, kept by --data-dir */
    msgpack_pack_uint64(&s->pk, mpx__persist_state_id(s));
    msgpack_pack_str_with_body(&s->pk, "server", 6);
    msgpack_pack_str_with_body(&s->pk, "mpxd " MPX_VERSION_STRING,
                               strlen("mpxd " MPX_VERSION_STRING));
    mpx__frame_send(s, sess, MPX_K_WELCOME);
}

/* HELLO on a connection with no session: the peer passed CURVE and the ZAP check (it knows
 * the authkey), so a version both speak makes a session at once, answered with WELCOME. */
static void on_hello(mpx__server *s, const uint8_t *rid, size_t rid_len, const mpx__frame *f,
                     const char *peer)
{
    int rc = hello_versions(f);
    if (rc == MPX_EVERSION) {
        s->stats.rejected_version++;
        mpx__send_error_frame(s, rid, rid_len, MPX_EVERSION,
                              "no protocol version in common: this server speaks versions [4]");
        return;
    }
    if (rc) {
        s->stats.rejected_malformed++;
        mpx__send_error_frame(s, rid, rid_len, MPX_EPROTO,
                              "HELLO carries a map with \"versions\", an array of uints");
        return;
    }
    if (s->n_sessions >= s->cfg.max_sessions) {
        s->stats.rejected_sessions++;
        static mpx__log_limiter refused; /* one thread */
        mpx__log_limited(&refused,
                         "%zu sessions open, at --max-sessions: new clients are "
                         "refused with MPX_ETOOMANY",
                         s->n_sessions);
        mpx__send_error_frame(s, rid, rid_len, MPX_ETOOMANY,
                              "too many sessions: the server is at its --max-sessions");
        return;
    }
    mpx__session *sess = mpx__xcalloc(1, sizeof *sess);
    memcpy(sess->rid, rid, rid_len);
    sess->rid_len = rid_len;
    snprintf(sess->peer, sizeof sess->peer, "%s", peer);
    do
        randombytes_buf(&sess->sid, sizeof sess->sid);
    while (sess->sid == 0);
    sess->last_seen_ms = mpx__now_ms();
    HASH_ADD(hh, s->sessions, rid, rid_len, sess);
    s->n_sessions++;
    mpx__log_info("session %016llx from %s opened", (unsigned long long)sess->sid, sess->peer);
    send_welcome(s, sess);
}

/* CALL, BATCH, HEARTBEAT or BYE on a session. */
static void on_session_frame(mpx__server *s, mpx__session *sess, const mpx__frame *f)
{
    bool empty_kind = f->kind == MPX_K_HEARTBEAT || f->kind == MPX_K_BYE;
    if (empty_kind && f->body_len != 0) {
        s->stats.rejected_malformed++;
        mpx__send_error_frame(s, sess->rid, sess->rid_len, MPX_EPROTO,
                              f->kind == MPX_K_BYE ? "BYE carries no body"
                                                   : "HEARTBEAT carries no body");
        return;
    }
    sess->last_seen_ms = mpx__now_ms();
    if (f->kind == MPX_K_HEARTBEAT) { /* answered, so a waiting client knows we are alive */
        mpx__frame_begin(s);
        mpx__frame_send(s, sess, MPX_K_HEARTBEAT_ACK);
        return;
    }
    if (f->kind == MPX_K_BYE) {
        mpx__log_info("session %016llx from %s closed", (unsigned long long)sess->sid, sess->peer);
        session_end(s, sess);
        return;
    }
    if (f->body_len > s->cfg.max_message) {
        char msg[128];
        s->stats.rejected_oversize++;
        snprintf(msg, sizeof msg, "a request of %zu bytes exceeds the limit of %zu", f->body_len,
                 s->cfg.max_message);
        mpx__dispatch_refuse(s, sess, f->kind == MPX_K_BATCH, f->body, f->body_len, MPX_ETOOBIG,
                             msg);
        return;
    }
    if (f->kind == MPX_K_BATCH)
        mpx__dispatch_batch(s, sess, f->body, f->body_len);
    else
        mpx__dispatch(s, sess, f->body, f->body_len);
}

static bool is_session_kind(uint8_t kind)
{
    return kind == MPX_K_CALL || kind == MPX_K_BATCH || kind == MPX_K_BYE ||
           kind == MPX_K_HEARTBEAT;
}

/* Why a frame is refused: its ERROR frame's code and message, and the counter it adds to. */
typedef struct {
    int code; /* 0: not refused */
    uint64_t *counter;
    const char *msg;
} refusal;

/* The first check of docs/protocol.md §4 that a message fails, parsing it into *f; vmsg holds
 * a message built for it. */
static refusal check_frame(mpx__server *s, const mpx__session *sess, const uint8_t *frame,
                           size_t len, int parts, mpx__frame *f, char *vmsg, size_t vsize)
{
    mpx__stats *st = &s->stats;
    if (parts != 1)
        return (refusal){MPX_EPROTO, &st->rejected_malformed,
                         "a message is exactly one ZeroMQ frame; this one had several parts"};
    int rc = mpx__frame_parse(frame, len, f);
    if (rc == MPX_EVERSION) {
        snprintf(vmsg, vsize, "unsupported protocol version %u; this server speaks %d", frame[0],
                 MPX_PROTOCOL_VERSION);
        return (refusal){MPX_EVERSION, &st->rejected_version, vmsg};
    }
    if (rc)
        return (refusal){MPX_EPROTO, &st->rejected_malformed,
                         "a frame is at least its 2-byte header"};
    if (f->kind != MPX_K_HELLO && !is_session_kind(f->kind))
        return (refusal){MPX_EPROTO, &st->rejected_malformed, "unknown frame kind"};
    if (f->kind == MPX_K_HELLO && sess)
        return (refusal){MPX_EPROTO, &st->rejected_malformed,
                         "this connection has a session already; a new session needs a new "
                         "connection"};
    if (f->kind == MPX_K_HELLO && len > MPX_PREAUTH_MAX_FRAME)
        return (refusal){MPX_EPROTO, &st->rejected_malformed, "HELLO is at most 256 bytes"};
    if (f->kind != MPX_K_HELLO && !sess)
        return (refusal){MPX_ENOAUTH, &st->rejected_unauth,
                         "no session on this connection (never opened, or ended after a "
                         "silence); reconnect"};
    return (refusal){0, NULL, NULL};
}

void mpx__session_input(mpx__server *s, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                        size_t len, int parts, const char *peer)
{
    mpx__session *sess;
    mpx__frame f;
    char vmsg[96];
    HASH_FIND(hh, s->sessions, rid, rid_len, sess);
    refusal r = check_frame(s, sess, frame, len, parts, &f, vmsg, sizeof vmsg);
    if (r.code) {
        (*r.counter)++;
        mpx__send_error_frame(s, rid, rid_len, r.code, r.msg);
    } else if (f.kind == MPX_K_HELLO) {
        on_hello(s, rid, rid_len, &f, peer);
    } else {
        on_session_frame(s, sess, &f);
    }
}

void mpx__sessions_expire(mpx__server *s, int64_t now_ms, int64_t responsive_since)
{
    mpx__session *sess, *tmp;
    HASH_ITER(hh, s->sessions, sess, tmp)
    {
        int64_t heard =
            sess->last_seen_ms > responsive_since ? sess->last_seen_ms : responsive_since;
        if (now_ms - heard > s->cfg.session_timeout_ms) {
            /* The client died or lost the network: what it held goes back. */
            mpx__log_info("session %016llx from %s silent for %lld ms, ended",
                          (unsigned long long)sess->sid, sess->peer,
                          (long long)(now_ms - sess->last_seen_ms));
            session_end(s, sess);
        }
    }
}

void mpx__sessions_reap(mpx__server *s)
{
    while (s->gone) {
        s->stats.peers_gone++;
        session_end(s, s->gone); /* unlinks it from the list */
    }
}

void mpx__sessions_probe(mpx__server *s)
{
    for (mpx__session *sess = s->sessions; sess; sess = sess->hh.next) {
        if (sess->gone) continue;
        if (sess->parked || mpx__session_owns(sess)) mpx__session_reachable(s, sess);
    }
    mpx__sessions_reap(s);
}

void mpx__sessions_close_all(mpx__server *s)
{
    mpx__session *sess, *tmp;
    HASH_ITER(hh, s->sessions, sess, tmp)
    session_end(s, sess);
}
