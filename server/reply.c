/*
 * reply.c — the one place mpxd's frames are built and sent (reply.h): the envelope of every
 * reply, whether dispatch answers a call at once, a parked call is answered later, or a batch
 * gathers its replies; the ERROR frames; and the results handlers pack.
 */
#include <errno.h>
#include <string.h>

#include <zmq.h>

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

/* Sends a frame to a routing id. ROUTER never blocks on send; with ZMQ_ROUTER_MANDATORY it says
 * when the peer is unknown (its connection closed) or its queue is full (it stopped reading).
 * Returns whether the frame went out. */
static bool send_to(mpx__server *s, const uint8_t *rid, size_t rid_len, const mpx__buf *frame)
{
    if (zmq_send(s->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return false;
    return zmq_send(s->router, frame->data, frame->size, ZMQ_DONTWAIT) >= 0;
}

/* Writes the header of the frame in buf as `kind` for sess, signs it and sends it. */
static bool sign_send(mpx__server *s, mpx__session *sess, uint8_t kind, mpx__buf *buf)
{
    if (sess->gone) return false;
    uint8_t *frame = (uint8_t *)buf->data;
    mpx__frame_header(frame, kind, sess->sid, ++sess->send_seq);
    if (mpx__mac_sign(&sess->s2c, frame, buf->size) != 0)
        mpx__panic("a frame could not be signed with a key that was set up");
    if (send_to(s, sess->rid, sess->rid_len, buf)) return true;
    int err = errno;
    sess->send_seq--;
    mpx__log_info("session %016llx from %s: %s; ended", (unsigned long long)sess->sid, sess->peer,
                  err == EAGAIN ? "it stopped reading its replies" : "its peer is gone");
    mpx__session_mark_gone(s, sess);
    return false;
}

bool mpx__frame_send(mpx__server *s, mpx__session *sess, uint8_t kind)
{
    if (kind == MPX_K_REPLY && s->batch_session == sess) { /* gathered for one REPLIES */
        if (sess->gone) return false;
        mpx__buf_write(&s->batch, s->out.data + MPX_HDR_LEN, s->out.size - MPX_HDR_LEN);
        s->batch_replies++;
        return true;
    }
    return sign_send(s, sess, kind, &s->out);
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
    msgpack_pack_str_with_body(&s->pk, msg, strlen(msg));
    return mpx__frame_send(s, sess, MPX_K_REPLY);
}

void mpx__send_raw(mpx__server *s, const uint8_t *rid, size_t rid_len)
{
    send_to(s, rid, rid_len, &s->out); /* a peer that left loses nothing of its own */
}

void mpx__send_error_frame(mpx__server *s, mpx__session *sess, const uint8_t *rid, size_t rid_len,
                           int code, const char *msg)
{
    mpx__frame_begin(s);
    msgpack_pack_array(&s->pk, 2);
    msgpack_pack_int(&s->pk, -code);
    msgpack_pack_str_with_body(&s->pk, msg, strlen(msg));
    if (sess && sess->state == SESSION_READY) {
        sign_send(s, sess, MPX_K_ERROR, &s->out);
        return;
    }
    mpx__frame_header((uint8_t *)s->out.data, MPX_K_ERROR, 0, 0);
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
    return sign_send(s, sess, MPX_K_REPLIES, &s->batch);
}

bool mpx__session_reachable(mpx__server *s, mpx__session *sess)
{
    uint8_t frame[MPX_HDR_LEN];
    mpx__buf probe = {.data = (char *)frame, .size = sizeof frame, .cap = sizeof frame};
    return sess->state == SESSION_READY && sign_send(s, sess, MPX_K_HEARTBEAT_ACK, &probe);
}
