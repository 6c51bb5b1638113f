/*
 * dispatch.h — running the calls of an authenticated session (internal to mpxd).
 */
#ifndef MPX_SERVER_DISPATCH_H
#define MPX_SERVER_DISPATCH_H

#include "session.h"

/* Runs a CALL body and sends its reply. */
void mpx__dispatch(mpx__server *s, mpx__session *sess, const uint8_t *body, size_t len);

/* Runs a BATCH body (an array of CALL bodies) in order, and sends the replies of the calls
 * answered meanwhile in one REPLIES frame; calls that park are answered later as usual. */
void mpx__dispatch_batch(mpx__server *s, mpx__session *sess, const uint8_t *body, size_t len);

#endif
