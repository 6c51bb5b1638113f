/*
 * session.c — the handshake, frame checks and life of every session (docs/protocol.md,
 * "Handshake" and "Frames").
 *
 * Every frame from a peer is checked in this order before anything in its body is decoded:
 * size and version, the session it names, its MAC, its sequence number. A frame that fails a
 * check is counted, answered with an ERROR frame and never executed; the session, and every
 * other session, carries on.
 */
#include <stdio.h>
#include <string.h>

#include "blocked.h"
#include "dispatch.h"
#include "holdings.h"
#include "reply.h"

mpx__authkey *mpx__authkey_new(const uint8_t *bytes, size_t len)
{
    mpx__authkey *k = mpx__xmalloc(sizeof *k + len);
    k->refs = 1;
    k->len = len;
    memcpy(k->bytes, bytes, len);
    return k;
}

mpx__authkey *mpx__authkey_hold(mpx__authkey *k)
{
    k->refs++;
    return k;
}

void mpx__authkey_release(mpx__authkey *k)
{
    if (!k || --k->refs > 0) return;
    sodium_memzero(k->bytes, k->len);
    mpx__xfree(k);
}

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
    mpx__authkey_release(sess->key);
    mpx__mac_key_clear(&sess->c2s);
    mpx__mac_key_clear(&sess->s2c);
    sodium_memzero(sess, sizeof *sess);
    mpx__xfree(sess);
}

/* HELLO: a new session, answered with a CHALLENGE that proves mpxd knows the authkey. */
static void on_hello(mpx__server *s, mpx__session *sess, const uint8_t *rid, size_t rid_len,
                     const mpx__frame *f, const char *peer)
{
    if (f->body_len != MPX_NONCE_LEN) {
        s->stats.rejected_malformed++;
        mpx__send_error_frame(s, NULL, rid, rid_len, MPX_EPROTO, "HELLO carries a 32-byte nonce");
        return;
    }
    if (sess) { /* a peer starting over drops what it held */
        mpx__log_info("session %016llx from %s started over", (unsigned long long)sess->sid,
                      sess->peer);
        session_end(s, sess);
    } else if (s->n_sessions >= MPX_MAX_SESSIONS) {
        mpx__send_error_frame(s, NULL, rid, rid_len, MPX_EBADREQ, "too many sessions");
        return;
    }
    sess = mpx__xcalloc(1, sizeof *sess);
    memcpy(sess->rid, rid, rid_len);
    sess->rid_len = rid_len;
    snprintf(sess->peer, sizeof sess->peer, "%s", peer);
    sess->key = mpx__authkey_hold(s->key);
    memcpy(sess->nc, f->body, MPX_NONCE_LEN);
    randombytes_buf(sess->ns, MPX_NONCE_LEN);
    do
        randombytes_buf(&sess->sid, sizeof sess->sid);
    while (sess->sid == 0);
    sess->started_ms = mpx__now_ms();
    HASH_ADD(hh, s->sessions, rid, rid_len, sess);
    s->n_sessions++;

    mpx__frame_begin(s);
    mpx__buf_write(&s->out, (const char *)sess->ns, MPX_NONCE_LEN);
    uint8_t *frame = (uint8_t *)s->out.data;
    mpx__frame_header(frame, MPX_K_CHALLENGE, sess->sid, 0);
    mpx__hs_proof(sess->key->bytes, sess->key->len, MPX_LABEL_SERVER, sess->nc, sess->ns, sess->sid,
                  frame + MPX_MAC_OFF);
    mpx__send_raw(s, rid, rid_len);
}

/* AUTH: the client's proof. Right, the session is READY and gets a signed WELCOME. */
static void on_auth(mpx__server *s, mpx__session *sess, const mpx__frame *f)
{
    uint8_t expect[MPX_MAC_LEN];
    const mpx__authkey *k = sess->key;
    mpx__hs_proof(k->bytes, k->len, MPX_LABEL_CLIENT, sess->nc, sess->ns, sess->sid, expect);
    if (f->sid != sess->sid || f->body_len != 0 || crypto_verify_16(expect, f->mac) != 0) {
        s->stats.auth_failures++;
        mpx__log_warn("authentication failed from %s: wrong authkey", sess->peer);
        mpx__send_error_frame(s, NULL, sess->rid, sess->rid_len, MPX_EAUTH,
                              "authentication failed: wrong authkey");
        session_end(s, sess);
        return;
    }
    if (mpx__session_keys(k->bytes, k->len, sess->nc, sess->ns, sess->sid, &sess->c2s,
                          &sess->s2c) != 0)
        mpx__panic("out of memory setting up a session's keys"); /* the allocator's policy */
    mpx__authkey_release(sess->key);
    sess->key = NULL;
    sess->state = SESSION_READY;
    sess->last_seen_ms = mpx__now_ms();
    mpx__log_info("session %016llx from %s authenticated", (unsigned long long)sess->sid,
                  sess->peer);

    mpx__frame_begin(s);
    msgpack_pack_map(&s->pk, 3);
    msgpack_pack_str_with_body(&s->pk, "max_message", 11);
    msgpack_pack_uint64(&s->pk, s->cfg.max_message);
    msgpack_pack_str_with_body(&s->pk, "session_timeout", 15);
    msgpack_pack_uint64(&s->pk, (uint64_t)s->cfg.session_timeout_ms);
    msgpack_pack_str_with_body(&s->pk, "server", 6);
    msgpack_pack_str_with_body(&s->pk, "mpxd " MPX_VERSION_STRING,
                               strlen("mpxd " MPX_VERSION_STRING));
    mpx__frame_send(s, sess, MPX_K_WELCOME);
}

/* Reads just the request id of a body too large to serve, so the refusal reaches its call. */
static uint64_t peek_req_id(const mpx__frame *f)
{
    mpx__mp_cursor c;
    uint32_t n;
    uint64_t id = 0;
    mpx__mp_init(&c, f->body, f->body_len);
    if (mpx__mp_array(&c, &n) == 0) mpx__mp_uint(&c, &id);
    return id;
}

/* CALL, HEARTBEAT or BYE on a READY session: MAC, then sequence, then size, then the call. */
static void on_signed(mpx__server *s, mpx__session *sess, const mpx__frame *f)
{
    if (f->sid != sess->sid || mpx__mac_verify(&sess->c2s, f) != 0) {
        s->stats.rejected_mac++;
        mpx__send_error_frame(s, sess, sess->rid, sess->rid_len, MPX_EAUTH,
                              "message refused: its MAC does not verify");
        return;
    }
    if (f->seq != sess->recv_seq + 1) {
        s->stats.rejected_replay++;
        mpx__send_error_frame(s, sess, sess->rid, sess->rid_len, MPX_EREPLAY,
                              "message refused: replayed or out of sequence");
        return;
    }
    sess->recv_seq = f->seq;
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
        mpx__reply_error(s, sess, peek_req_id(f), MPX_ETOOBIG, msg);
        return;
    }
    if (f->kind == MPX_K_BATCH)
        mpx__dispatch_batch(s, sess, f->body, f->body_len);
    else
        mpx__dispatch(s, sess, f->body, f->body_len);
}

/* The kinds a READY session sends, each signed and sequenced. */
static bool is_signed_kind(uint8_t kind)
{
    return kind == MPX_K_CALL || kind == MPX_K_BATCH || kind == MPX_K_BYE ||
           kind == MPX_K_HEARTBEAT;
}

static void on_frame(mpx__server *s, mpx__session *sess, const uint8_t *rid, size_t rid_len,
                     const mpx__frame *f, const char *peer)
{
    bool ready = sess && sess->state == SESSION_READY;
    if (f->kind == MPX_K_HELLO) {
        on_hello(s, sess, rid, rid_len, f, peer);
    } else if (f->kind == MPX_K_AUTH && sess && !ready) {
        on_auth(s, sess, f);
    } else if (is_signed_kind(f->kind) && ready) {
        on_signed(s, sess, f);
    } else if (is_signed_kind(f->kind) || f->kind == MPX_K_AUTH) {
        s->stats.rejected_unauth++;
        mpx__send_error_frame(s, sess, rid, rid_len, MPX_ENOAUTH,
                              "no session on this connection (never opened, or ended after a "
                              "silence); reconnect");
    } else {
        s->stats.rejected_malformed++;
        mpx__send_error_frame(s, sess, rid, rid_len, MPX_EPROTO, "unknown frame kind");
    }
}

void mpx__session_input(mpx__server *s, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                        size_t len, const char *peer)
{
    mpx__session *sess;
    mpx__frame f;
    HASH_FIND(hh, s->sessions, rid, rid_len, sess);
    bool ready = sess && sess->state == SESSION_READY;
    /* Before the handshake ends only tiny frames are read at all. */
    if (!ready && len > MPX_PREAUTH_MAX_FRAME) {
        s->stats.rejected_unauth++;
        mpx__send_error_frame(s, sess, rid, rid_len, MPX_ENOAUTH, "complete the handshake first");
        return;
    }
    int rc = mpx__frame_parse(frame, len, &f);
    if (rc == MPX_EVERSION) {
        char msg[96];
        s->stats.rejected_version++;
        snprintf(msg, sizeof msg, "unsupported protocol version %u; this server speaks %d",
                 frame[0], MPX_PROTOCOL_VERSION);
        mpx__send_error_frame(s, sess, rid, rid_len, MPX_EVERSION, msg);
        return;
    }
    if (rc) {
        s->stats.rejected_malformed++;
        mpx__send_error_frame(s, sess, rid, rid_len, MPX_EPROTO, "frame shorter than its header");
        return;
    }
    on_frame(s, sess, rid, rid_len, &f, peer);
}

void mpx__sessions_expire(mpx__server *s, int64_t now_ms, int64_t responsive_since)
{
    mpx__session *sess, *tmp;
    HASH_ITER(hh, s->sessions, sess, tmp)
    {
        if (sess->state == SESSION_CHALLENGED) {
            if (now_ms - sess->started_ms > s->cfg.handshake_timeout_ms) session_end(s, sess);
            continue;
        }
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
