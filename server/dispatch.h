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

/* Refuses a whole CALL (batch false) or BATCH body with code and msg, unrun: each call whose
 * request id can be read gets a REPLY with that id (a batch's in one REPLIES frame); if none
 * can, one ERROR frame answers the frame. Reading the ids costs one bounded walk of body. */
void mpx__dispatch_refuse(mpx__server *s, mpx__session *sess, bool batch, const uint8_t *body,
                          size_t len, int code, const char *msg);

#endif
