/*
 * loop.h — starting, running and stopping mpxd's event loop (internal to mpxd).
 */
#ifndef MPX_SERVER_LOOP_H
#define MPX_SERVER_LOOP_H

#include "server.h"

/* Creates the socket with the CURVE keys derived from the authkey (which the caller keeps and
 * wipes) and binds every endpoint. Returns 0, or -1 after logging why. */
int mpx__server_open(mpx__server *s, const mpx__config *cfg, const uint8_t *key, size_t keylen,
                     char *const *endpoints, int n);

/* Makes SIGINT and SIGTERM stop the loop between two calls, and SIGHUP log that a new authkey
 * takes a restart: their handler only records the signal, and the wait it interrupts returns.
 * SIGPIPE is ignored. Returns 0 or -1. */
int mpx__signals_install(void);

/* Serves until SIGINT or SIGTERM arrives, or lifeline_fd (if >= 0) hangs up. Returns 0 on a
 * clean stop, -1 on failure. */
int mpx__server_run(mpx__server *s, int lifeline_fd);

/* Ends every session, destroys every object and closes the socket. */
void mpx__server_close(mpx__server *s);

#endif
