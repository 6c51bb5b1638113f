/*
 * fuzz_server.h — an mpxd for the fuzzers: the real server, its loop not run, fed frames
 * directly as if they had come from one client, whose replies are read and dropped.
 */
#ifndef MPX_FUZZ_SERVER_H
#define MPX_FUZZ_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* The server, started once (on inproc://, with its replies going to a DEALER here). */
mpx__server *fuzz_server(void);

/* Hands one frame to the server as the client's, then reads and drops its replies. */
void fuzz_frame(const uint8_t *frame, size_t len);

/* Opens the client's session (HELLO), and ends it (BYE): what it held and parked goes. */
void fuzz_session_open(void);
void fuzz_session_close(void);

/* The objects made at start, one named object of every type, then the manager (id 0); their
 * ids. */
extern uint64_t fuzz_object_ids[32];
extern size_t fuzz_objects;

/* Makes again, on an open session, any of them a fuzzed call deleted. */
void fuzz_objects_renew(void);

#endif
