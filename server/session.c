/*
 * session.c — the handshake, frame checks and replies of every session (docs/protocol.md,
 * "Handshake" and "Frames").
 *
 * Every frame from a peer is checked in this order before anything in its body is decoded:
 * size and version, the session it names, its MAC, its sequence number. A frame that fails a
 * check is counted, answered with an ERROR frame and never executed; the session, and every
 * other session, carries on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "alloc.h"
#include "blocked.h"
#include "session.h"

void mpx__frame_begin(mpx__server *s)
{
    static const uint8_t zero[MPX_HDR_LEN];
    s->out.size = 0;
    msgpack_sbuffer_write(&s->out, (const char *)zero, sizeof zero);
}

static void send_frame(mpx__server *s, const uint8_t *rid, size_t rid_len,
                       const msgpack_sbuffer *frame)
{
    /* ROUTER never blocks on send: a peer that is gone or whose queue is full loses the
     * frame, which is the right outcome for a reply nobody can read. */
    if (zmq_send(s->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return;
    zmq_send(s->router, frame->data, frame->size, ZMQ_DONTWAIT);
}

/* Writes the header of the frame in buf as `kind` for sess, signs it and sends it. */
static void session_sign_send(mpx__server *s, mpx__session *sess, uint8_t kind,
                              msgpack_sbuffer *buf)
{
    uint8_t *frame = (uint8_t *)buf->data;
    mpx__frame_header(frame, kind, sess->sid, ++sess->send_seq);
    if (mpx__mac_sign(&sess->s2c, frame, buf->size) != 0) {
        sess->send_seq--; /* nothing went out; the client's call times out */
        mpx__log_warn("session %016llx: a reply could not be signed",
                      (unsigned long long)sess->sid);
        return;
    }
    send_frame(s, sess->rid, sess->rid_len, buf);
}

void mpx__session_send(mpx__server *s, mpx__session *sess, uint8_t kind)
{
    if (kind == MPX_K_REPLY && s->batch_session == sess) { /* gathered for one REPLIES */
        msgpack_sbuffer_write(&s->batch, s->out.data + MPX_HDR_LEN, s->out.size - MPX_HDR_LEN);
        s->batch_replies++;
        return;
    }
    session_sign_send(s, sess, kind, &s->out);
}

void mpx__session_batch_begin(mpx__server *s, mpx__session *sess)
{
    static const uint8_t room[MPX_HDR_LEN + MPX_BATCH_HDR];
    s->batch.size = 0;
    msgpack_sbuffer_write(&s->batch, (const char *)room, sizeof room);
    s->batch_replies = 0;
    s->batch_session = sess;
}

void mpx__session_batch_end(mpx__server *s, mpx__session *sess)
{
    s->batch_session = NULL;
    if (s->batch_replies == 0) return;
    uint8_t *frame = (uint8_t *)s->batch.data;
    frame[MPX_HDR_LEN] = 0xdd; /* array32: the count is known only now */
    for (int i = 0; i < 4; i++)
        frame[MPX_HDR_LEN + 1 + i] = (uint8_t)(s->batch_replies >> (24 - 8 * i));
    session_sign_send(s, sess, MPX_K_REPLIES, &s->batch);
}

void mpx__session_send_error(mpx__server *s, mpx__session *sess, uint64_t req_id, int code,
                             const char *msg)
{
    mpx__frame_begin(s);
    msgpack_pack_array(&s->pk, 3);
    msgpack_pack_uint64(&s->pk, req_id);
    msgpack_pack_int(&s->pk, -code);
    msgpack_pack_str_with_body(&s->pk, msg, strlen(msg));
    mpx__session_send(s, sess, MPX_K_REPLY);
}

/* An ERROR frame: [code, message]. Signed when the peer has a ready session; otherwise it
 * carries no MAC, and the client trusts it only as far as "the handshake failed". */
static void send_frame_error(mpx__server *s, mpx__session *sess, const uint8_t *rid, size_t rid_len,
                             int code, const char *msg)
{
    mpx__frame_begin(s);
    msgpack_pack_array(&s->pk, 2);
    msgpack_pack_int(&s->pk, -code);
    msgpack_pack_str_with_body(&s->pk, msg, strlen(msg));
    if (sess && sess->state == SESSION_READY) {
        mpx__session_send(s, sess, MPX_K_ERROR);
        return;
    }
    mpx__frame_header((uint8_t *)s->out.data, MPX_K_ERROR, 0, 0);
    send_frame(s, rid, rid_len, &s->out);
}

/* One object a session owns something in, and how many times. */
typedef struct mpx__owned {
    uint64_t id;
    uint64_t count;
    UT_hash_handle hh;
} mpx__owned;

void mpx__session_own(mpx__server *s, mpx__session *sess, mpx__obj *obj)
{
    (void)s;
    mpx__owned *o;
    HASH_FIND(hh, sess->owned, &obj->id, sizeof obj->id, o);
    if (!o) {
        o = mpx__xcalloc(1, sizeof *o);
        o->id = obj->id;
        HASH_ADD(hh, sess->owned, id, sizeof o->id, o);
    }
    o->count++;
    mpx__registry_hold(obj);
}

void mpx__session_disown_n(mpx__server *s, mpx__session *sess, mpx__obj *obj, uint64_t n)
{
    mpx__owned *o;
    HASH_FIND(hh, sess->owned, &obj->id, sizeof obj->id, o);
    if (!o) return;
    uint64_t k = n < o->count ? n : o->count;
    o->count -= k;
    if (o->count == 0) {
        HASH_DEL(sess->owned, o);
        free(o);
    }
    for (uint64_t i = 0; i < k; i++)
        mpx__registry_unhold(&s->reg, obj);
}

void mpx__session_disown(mpx__server *s, mpx__session *sess, mpx__obj *obj)
{
    mpx__session_disown_n(s, sess, obj, 1);
}

/* Gives back everything the session owned: each type's session_lost, then its wake. */
static void session_give_back(mpx__server *s, mpx__session *sess)
{
    mpx__owned *o, *tmp;
    HASH_ITER(hh, sess->owned, o, tmp)
    {
        mpx__obj *obj = mpx__registry_find(&s->reg, o->id);
        HASH_DEL(sess->owned, o);
        if (obj) {
            obj->type->session_lost(s, obj, sess, o->count);
            if (obj->type->wake) obj->type->wake(s, obj);
            for (uint64_t i = 0; i < o->count; i++)
                mpx__registry_unhold(&s->reg, obj);
        }
        free(o);
    }
}

static void session_end(mpx__server *s, mpx__session *sess)
{
    mpx__blocked_drop_session(s, sess);
    session_give_back(s, sess);
    mpx__registry_drop_refs(&s->reg, &sess->refs);
    HASH_DEL(s->sessions, sess);
    s->n_sessions--;
    mpx__mac_key_clear(&sess->c2s);
    mpx__mac_key_clear(&sess->s2c);
    sodium_memzero(sess, sizeof *sess);
    free(sess);
}

/* HELLO: a new session, answered with a CHALLENGE that proves mpxd knows the authkey. */
static void on_hello(mpx__server *s, mpx__session *sess, const uint8_t *rid, size_t rid_len,
                     const mpx__frame *f, const char *peer)
{
    if (f->body_len != MPX_NONCE_LEN) {
        s->stats.rejected_malformed++;
        send_frame_error(s, NULL, rid, rid_len, MPX_EPROTO, "HELLO carries a 32-byte nonce");
        return;
    }
    if (sess) { /* a peer starting over drops what it held */
        session_end(s, sess);
    } else if (s->n_sessions >= MPX_MAX_SESSIONS) {
        send_frame_error(s, NULL, rid, rid_len, MPX_EBADREQ, "too many sessions");
        return;
    }
    sess = mpx__xcalloc(1, sizeof *sess);
    memcpy(sess->rid, rid, rid_len);
    sess->rid_len = rid_len;
    snprintf(sess->peer, sizeof sess->peer, "%s", peer);
    memcpy(sess->nc, f->body, MPX_NONCE_LEN);
    randombytes_buf(sess->ns, MPX_NONCE_LEN);
    do
        randombytes_buf(&sess->sid, sizeof sess->sid);
    while (sess->sid == 0);
    sess->started_ms = mpx__now_ms();
    HASH_ADD(hh, s->sessions, rid, rid_len, sess);
    s->n_sessions++;

    mpx__frame_begin(s);
    msgpack_sbuffer_write(&s->out, (const char *)sess->ns, MPX_NONCE_LEN);
    uint8_t *frame = (uint8_t *)s->out.data;
    mpx__frame_header(frame, MPX_K_CHALLENGE, sess->sid, 0);
    mpx__hs_proof(s->cfg.authkey, s->cfg.keylen, MPX_LABEL_SERVER, sess->nc, sess->ns, sess->sid,
                  frame + MPX_MAC_OFF);
    send_frame(s, rid, rid_len, &s->out);
}

/* AUTH: the client's proof. Right, the session is READY and gets a signed WELCOME. */
static void on_auth(mpx__server *s, mpx__session *sess, const mpx__frame *f)
{
    uint8_t expect[MPX_MAC_LEN];
    mpx__hs_proof(s->cfg.authkey, s->cfg.keylen, MPX_LABEL_CLIENT, sess->nc, sess->ns, sess->sid,
                  expect);
    if (f->sid != sess->sid || f->body_len != 0 || crypto_verify_16(expect, f->mac) != 0) {
        s->stats.auth_failures++;
        mpx__log_warn("authentication failed from %s: wrong authkey", sess->peer);
        send_frame_error(s, NULL, sess->rid, sess->rid_len, MPX_EAUTH,
                         "authentication failed: wrong authkey");
        session_end(s, sess);
        return;
    }
    if (mpx__session_keys(s->cfg.authkey, s->cfg.keylen, sess->nc, sess->ns, sess->sid, &sess->c2s,
                          &sess->s2c) != 0) { /* mpxd's policy (alloc.h) */
        fprintf(stderr, "mpxd: out of memory setting up a session's keys\n");
        abort();
    }
    sess->state = SESSION_READY;
    sess->last_seen_ms = mpx__now_ms();
    mpx__log_info(s, "session %016llx from %s authenticated", (unsigned long long)sess->sid,
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
    mpx__session_send(s, sess, MPX_K_WELCOME);
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
        send_frame_error(s, sess, sess->rid, sess->rid_len, MPX_EAUTH,
                         "message refused: its MAC does not verify");
        return;
    }
    if (f->seq != sess->recv_seq + 1) {
        s->stats.rejected_replay++;
        send_frame_error(s, sess, sess->rid, sess->rid_len, MPX_EREPLAY,
                         "message refused: replayed or out of sequence");
        return;
    }
    sess->recv_seq = f->seq;
    sess->last_seen_ms = mpx__now_ms();
    if (f->kind == MPX_K_HEARTBEAT) { /* answered, so a waiting client knows we are alive */
        mpx__frame_begin(s);
        mpx__session_send(s, sess, MPX_K_HEARTBEAT_ACK);
        return;
    }
    if (f->kind == MPX_K_BYE) {
        mpx__log_info(s, "session %016llx from %s closed", (unsigned long long)sess->sid,
                      sess->peer);
        session_end(s, sess);
        return;
    }
    if (f->body_len > s->cfg.max_message) {
        char msg[128];
        s->stats.rejected_oversize++;
        snprintf(msg, sizeof msg, "a request of %zu bytes exceeds the limit of %zu", f->body_len,
                 s->cfg.max_message);
        mpx__session_send_error(s, sess, peek_req_id(f), MPX_ETOOBIG, msg);
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
        send_frame_error(s, sess, rid, rid_len, MPX_ENOAUTH,
                         "not authenticated: no session on this connection (never opened, or "
                         "ended after a silence); reconnect");
    } else {
        s->stats.rejected_malformed++;
        send_frame_error(s, sess, rid, rid_len, MPX_EPROTO, "unknown frame kind");
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
        send_frame_error(s, sess, rid, rid_len, MPX_ENOAUTH,
                         "not authenticated: complete the handshake first");
        return;
    }
    int rc = mpx__frame_parse(frame, len, &f);
    if (rc == MPX_EVERSION) {
        char msg[96];
        s->stats.rejected_version++;
        snprintf(msg, sizeof msg, "unsupported protocol version %u; this server speaks %d",
                 frame[0], MPX_PROTOCOL_VERSION);
        send_frame_error(s, sess, rid, rid_len, MPX_EVERSION, msg);
        return;
    }
    if (rc) {
        s->stats.rejected_malformed++;
        send_frame_error(s, sess, rid, rid_len, MPX_EPROTO, "frame shorter than its header");
        return;
    }
    on_frame(s, sess, rid, rid_len, &f, peer);
}

void mpx__sessions_expire(mpx__server *s, int64_t now_ms)
{
    mpx__session *sess, *tmp;
    HASH_ITER(hh, s->sessions, sess, tmp)
    {
        if (sess->state == SESSION_CHALLENGED) {
            if (now_ms - sess->started_ms > s->cfg.handshake_timeout_ms) session_end(s, sess);
        } else if (now_ms - sess->last_seen_ms > s->cfg.session_timeout_ms) {
            /* The client died or lost the network: what it held goes back. */
            mpx__log_info(s, "session %016llx from %s silent for %lld ms, ended",
                          (unsigned long long)sess->sid, sess->peer,
                          (long long)(now_ms - sess->last_seen_ms));
            session_end(s, sess);
        }
    }
}

void mpx__sessions_close_all(mpx__server *s)
{
    mpx__session *sess, *tmp;
    HASH_ITER(hh, s->sessions, sess, tmp)
    session_end(s, sess);
}
