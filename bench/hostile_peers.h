/*
 * hostile_peers.h — connections from peers that do not know the authkey, for the benchmark and
 * the test that bound what they cost mpxd (bench/hostile.c, tests/test_limits.c): raw sockets
 * that send garbage, announce a frame of 32 MiB during the handshake, or stop half-way
 * through it, and then hold their connection open.
 */
#ifndef MPX_BENCH_HOSTILE_PEERS_H
#define MPX_BENCH_HOSTILE_PEERS_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    int n;
    int *fds;           /* -1 once mpxd closed it */
    int64_t *opened_ms; /* when each connected */
    int64_t *closed_ms; /* when mpxd closed it; 0 while open */
} hostile_peers;

/* Connects n peers to endpoint (tcp://127.0.0.1:PORT or ipc:///path), the three kinds in
 * turn, raising this process's open-file limit to its hard limit first. Returns how many
 * connected. */
int hostile_open(hostile_peers *h, const char *endpoint, int n);

/* Waits up to timeout_ms for mpxd to close them all. Returns how many it closed. */
int hostile_await_closed(hostile_peers *h, int timeout_ms);

/* The longest any peer stayed connected, in ms (to now for one still open). */
int64_t hostile_longest_open_ms(const hostile_peers *h);

void hostile_free(hostile_peers *h);

/* The resident memory of process pid, in kB (VmRSS), or -1. */
long hostile_rss_kb(pid_t pid);

struct mpx_proxy;

/* The p50 of n gets of "k" from dict d, in microseconds, or -1 if a get failed. */
int64_t hostile_get_p50(struct mpx_proxy *d, int n);

/* CLOCK_MONOTONIC in ms. */
int64_t hostile_now_ms(void);

#endif
