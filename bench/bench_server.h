/*
 * bench_server.h — a private mpxd for a benchmark program: started on an ipc:// endpoint in
 * a fresh directory with its own key file, stopped and cleaned up at the end.
 */
#ifndef MPX_BENCH_SERVER_H
#define MPX_BENCH_SERVER_H

#include <sys/types.h>

typedef struct {
    char dir[64];
    char keyfile[96];
    char endpoint[128];
    pid_t pid; /* 0 until started */
} bench_server;

/* Starts mpxd ($MPX_MPXD, else the one this build made) with key and the options in extra
 * (NULL-terminated, or NULL), and waits until it serves. Returns 0, or -1 with the reason
 * printed on stderr. */
int bench_server_start(bench_server *s, const char *key, const char *const *extra);

/* Stops it (SIGTERM, then waits) and removes its directory. Returns 0, or -1 if the directory
 * could not be removed. */
int bench_server_stop(bench_server *s);

#endif
