/*
 * monitor.h — the router's connection events (internal to mpxd): a closed connection prompts
 * a look for sessions whose peer is gone, a new ipc:// connection gets a wider send buffer,
 * and a failed CURVE handshake is counted and logged.
 */
#ifndef MPX_SERVER_MONITOR_H
#define MPX_SERVER_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

/* Opens a monitor of sock's connection and handshake events, before sock
 * binds. Returns its reading end, or NULL (no events then). Its queue has no bound, so that
 * libzmq's I/O thread never waits on it: drain it often. */
void *mpx__monitor_open(void *zctx, void *sock);

/* The counters the events add to. */
typedef struct {
    uint64_t *auth_failures;         /* handshakes that failed: CURVE or the ZAP check */
    uint64_t *handshakes_unfinished; /* connections that ended before their handshake did */
    uint64_t *accept_failures;       /* connections that could not be accepted (EMFILE) */
} mpx__monitor_counts;

/* Reads the events queued, without waiting: widens new ipc:// connections, counts handshakes
 * that failed or never finished, and returns true if some connection closed. */
bool mpx__monitor_drain(void *mon, mpx__monitor_counts n);

/* Closes the monitor (NULL is fine) before sock. */
void mpx__monitor_close(void *sock, void **mon);

#endif
