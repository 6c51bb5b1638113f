/*
 * reply.h — everything mpxd sends: frames, their signatures, the reply envelope
 * [req_id, status, payload], and the REPLIES frame a batch's replies are gathered into
 * (internal to mpxd).
 *
 * The router is set to report a peer it cannot reach (ZMQ_ROUTER_MANDATORY): a send that fails
 * marks the session gone, its caller learns the result did not arrive (and takes back what it
 * handed over), and the loop ends the session after the work at hand.
 */
#ifndef MPX_SERVER_REPLY_H
#define MPX_SERVER_REPLY_H

#include "session.h"

/* Starts a frame in s->out: the header's room, the body packed after it through s->pk. */
void mpx__frame_begin(mpx__server *s);

/* Signs the frame in s->out as `kind` for sess and sends it; a REPLY for the session running
 * a batch is gathered into its REPLIES frame instead. Returns false when the peer cannot be
 * reached (or was already known gone): the session is then marked gone. */
bool mpx__frame_send(mpx__server *s, mpx__session *sess, uint8_t kind);

/* Starts a successful reply [req_id, 0, result] in s->out: pack the result into the returned
 * packer, then mpx__frame_send(s, sess, MPX_K_REPLY). */
msgpack_packer *mpx__reply_begin(mpx__server *s, uint64_t req_id);

/* Sends a frame to a routing id. ROUTER never blocks on send; with ZMQ_ROUTER_MANDATORY it says
 * when the peer is unknown (its connection closed) or its queue is full (it stopped reading).
 * Returns whether the frame went out. */
bool mpx__send_to(mpx__server *s, const uint8_t *rid, size_t rid_len, const mpx__buf *frame);

/* Sends a failed reply [req_id, code, message]. Returns as mpx__frame_send(). */
bool mpx__reply_error(mpx__server *s, mpx__session *sess, uint64_t req_id, int code,
                      const char *msg);

/* An ERROR frame [code, message] to a routing id: the answer to a frame that names no call
 * (docs/protocol.md §4). Messages are sent as valid UTF-8, as in every reply. */
void mpx__send_error_frame(mpx__server *s, const uint8_t *rid, size_t rid_len, int code,
                           const char *msg);

/* A frame already built in s->out, header included, to a routing id. */
void mpx__send_raw(mpx__server *s, const uint8_t *rid, size_t rid_len);

/* Between these two calls every REPLY for sess is gathered instead of sent; _end sends them
 * all as one REPLIES frame (none if there were none) and returns false if it could not reach
 * the peer. */
void mpx__batch_begin(mpx__server *s, mpx__session *sess);
bool mpx__batch_end(mpx__server *s, mpx__session *sess);

/* Sends sess a HEARTBEAT_ACK, built apart from s->out (so a handler may call it), to learn
 * whether its peer is still there. Returns false (and marks it gone) if not. */
bool mpx__session_reachable(mpx__server *s, mpx__session *sess);

/* Marks a session whose peer is gone, to be ended by the loop. */
void mpx__session_mark_gone(mpx__server *s, mpx__session *sess);

#endif
