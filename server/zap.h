/*
 * zap.h — the ZAP handler (ZeroMQ RFC 27) that admits a CURVE peer only when it holds the
 * client key pair derived from the authkey (internal to mpxd).
 *
 * libzmq asks it about every connection that completed CURVE's handshake, before any frame of
 * that connection reaches the loop; a peer refused here has its connection closed by libzmq.
 * It runs in a thread of its own: its only state is the one public key it compares against,
 * set at start, so the loop never waits on it nor it on the loop.
 */
#ifndef MPX_SERVER_ZAP_H
#define MPX_SERVER_ZAP_H

#include <stdint.h>

typedef struct mpx__zap mpx__zap;

/* Binds the handler in zctx and starts its thread; call it before any CURVE socket of zctx
 * binds, so that no connection is ever accepted unasked. Returns NULL on failure (logged). */
mpx__zap *mpx__zap_start(void *zctx, const uint8_t client_public[32]);

/* Stops the thread and frees z, setting *z to NULL; NULL is fine. Call it after
 * zmq_ctx_shutdown() and before zmq_ctx_term(). */
void mpx__zap_stop(mpx__zap **z);

#endif
