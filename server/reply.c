/*
 * reply.c — the one place mpxd's frames are built and sent (reply.h): the envelope of every
 * reply, whether dispatch answers a call at once, a parked call is answered later, or a batch
 * gathers its replies; the ERROR frames; and the results handlers pack.
 */
#include <errno.h>
#include <string.h>

#include <zmq.h>

#include "persist.h"
#include "reply.h"

void mpx__frame_begin(mpx__server *s)
{
    static const uint8_t room[MPX_HDR_LEN];
    s->out.size = 0;
    mpx__buf_write(&s->out, (const char *)room, sizeof room);
}

void mpx__session_mark_gone(mpx__server *s, mpx__session *sess)
{
    if (sess->gone) return;
    sess->gone = true;
    sess->next_gone = s->gone;
    s->gone = sess;
}

/* zmq_send() that tries again when a signal interrupted it before the part was queued (the
 * log writer's wake-up, persist.c, or a stop signal). */
static int send_part(void *router, const void *p, size_t len, int flags)
{
    int rc;
    while ((rc = zmq_send(router, p, len, flags)) < 0 && errno == EINTR)
        ;
    return rc;
}

bool mpx__send_to(mpx__server *s, const uint8_t *rid, size_t rid_len, const mpx__buf *frame)
{
    if (send_part(s->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return false;
    return send_part(s->router, frame->data, frame->size, ZMQ_DONTWAIT) >= 0;
}

/* Writes the header of the frame in buf as `kind` and sends it to sess. */
static bool session_send(mpx__server *s, mpx__session *sess, uint8_t kind, mpx__buf *buf)
{
    if (sess->gone) return false;
    mpx__frame_header((uint8_t *)buf->data, kind);
    /* answers wait for the changes logged before them to be durable (--fsync always) */
    if ((kind == MPX_K_REPLY || kind == MPX_K_REPLIES) &&
        mpx__persist_hold(s, sess->rid, sess->rid_len, buf))
        return true;
    if (mpx__send_to(s, sess->rid, sess->rid_len, buf)) return true;
    if (errno == EAGAIN) {            /* --max-queued-replies unread: a reader that stopped */
        static mpx__log_limiter slow; /* one thread */
        s->stats.slow_readers++;
        mpx__log_limited(&slow,
                         "session %016llx from %s left %zu replies unread "
                         "(--max-queued-replies): ended",
                         (unsigned long long)sess->sid, sess->peer, s->cfg.max_queued_replies);
    } else {
        mpx__log_info("session %016llx from %s: its peer is gone; ended",
                      (unsigned long long)sess->sid, sess->peer);
    }
    mpx__session_mark_gone(s, sess);
    return false;
}

/* The length of the valid UTF-8 sequence at p (at most left bytes), or 0 if it is not one:
 * overlong forms, surrogates and code points past U+10FFFF are not (RFC 3629). */
static size_t utf8_seq_len(const uint8_t *p, size_t left)
{
    uint8_t b = p[0];
    size_t n = b < 0x80                 ? 1
               : b >= 0xc2 && b <= 0xdf ? 2
               : b >= 0xe0 && b <= 0xef ? 3
               : b >= 0xf0 && b <= 0xf4 ? 4
                                        : 0;
    if (n == 0 || n > left) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if ((b == 0xe0 && p[1] < 0xa0) || (b == 0xed && p[1] > 0x9f) || (b == 0xf0 && p[1] < 0x90) ||
        (b == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

/* Packs msg as a msgpack str that is valid UTF-8 whatever msg holds (it may echo a method
 * name or a key a client sent): each byte that does not start a valid sequence becomes U+FFFD,
 * so that a strict decoder can always read mpxd's messages. */
static void pack_message(msgpack_packer *pk, const char *msg)
{
    static const char replacement[] = "\xef\xbf\xbd";
    const uint8_t *p = (const uint8_t *)msg;
    size_t len = strlen(msg), out = 0;
    for (size_t i = 0, n; i < len; i += n) {
        n = utf8_seq_len(p + i, len - i);
        out += n ? n : 3;
        if (!n) n = 1;
    }
    msgpack_pack_str(pk, out);
    for (size_t i = 0, n; i < len; i += n) {
        n = utf8_seq_len(p + i, len - i);
        msgpack_pack_str_body(pk, n ? msg + i : replacement, n ? n : 3);
        if (!n) n = 1;
    }
}

bool mpx__frame_send(mpx__server *s, mpx__session *sess, uint8_t kind)
{
    if (kind == MPX_K_REPLY && s->batch_session == sess) { /* gathered for one REPLIES */
        if (sess->gone) return false;
        mpx__buf_write(&s->batch, s->out.data + MPX_HDR_LEN, s->out.size - MPX_HDR_LEN);
        s->batch_replies++;
        return true;
    }
    return session_send(s, sess, kind, &s->out);
}

msgpack_packer *mpx__reply_begin(mpx__server *s, uint64_t req_id)
{
    mpx__frame_begin(s);
    msgpack_pack_array(&s->pk, 3);
    msgpack_pack_uint64(&s->pk, req_id);
    msgpack_pack_uint8(&s->pk, 0);
    return &s->pk;
}

bool mpx__reply_error(mpx__server *s, mpx__session *sess, uint64_t req_id, int code,
                      const char *msg)
{
    mpx__frame_begin(s);
    msgpack_pack_array(&s->pk, 3);
    msgpack_pack_uint64(&s->pk, req_id);
    msgpack_pack_int(&s->pk, -code);
    pack_message(&s->pk, msg);
    return mpx__frame_send(s, sess, MPX_K_REPLY);
}

void mpx__send_raw(mpx__server *s, const uint8_t *rid, size_t rid_len)
{
    mpx__send_to(s, rid, rid_len, &s->out); /* a peer that left loses nothing of its own */
}

void mpx__send_error_frame(mpx__server *s, const uint8_t *rid, size_t rid_len, int code,
                           const char *msg)
{
    mpx__frame_begin(s);
    msgpack_pack_array(&s->pk, 2);
    msgpack_pack_int(&s->pk, -code);
    pack_message(&s->pk, msg);
    mpx__frame_header((uint8_t *)s->out.data, MPX_K_ERROR);
    mpx__send_raw(s, rid, rid_len);
}

void mpx__batch_begin(mpx__server *s, mpx__session *sess)
{
    static const uint8_t room[MPX_HDR_LEN + MPX_BATCH_HDR];
    s->batch.size = 0;
    mpx__buf_write(&s->batch, (const char *)room, sizeof room);
    s->batch_replies = 0;
    s->batch_session = sess;
}

bool mpx__batch_end(mpx__server *s, mpx__session *sess)
{
    s->batch_session = NULL;
    if (s->batch_replies == 0) return true;
    uint8_t *frame = (uint8_t *)s->batch.data;
    frame[MPX_HDR_LEN] = 0xdd; /* array32: the count is known only now */
    for (int i = 0; i < 4; i++)
        frame[MPX_HDR_LEN + 1 + i] = (uint8_t)(s->batch_replies >> (24 - 8 * i));
    return session_send(s, sess, MPX_K_REPLIES, &s->batch);
}

bool mpx__session_reachable(mpx__server *s, mpx__session *sess)
{
    uint8_t frame[MPX_HDR_LEN];
    mpx__buf probe = {.data = (char *)frame, .size = sizeof frame, .cap = sizeof frame};
    return session_send(s, sess, MPX_K_HEARTBEAT_ACK, &probe);
}
