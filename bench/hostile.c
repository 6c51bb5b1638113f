/*
 * hostile.c — what peers without the authkey cost mpxd and its other clients.
 *
 *   build/bench/hostile [PEERS [HANDSHAKE_TIMEOUT_MS]]     (1000 and 2000 by default)
 *
 * Starts mpxd, measures an authenticated client's dict get (p50) on the idle server, then
 * connects PEERS peers that do not know the key (garbage, a frame announced as 32 MiB during
 * the handshake, a handshake left half-way, in turn, each held open), measures the same gets
 * while they are there, and waits for mpxd to close them. Prints mpxd's memory before and at
 * most during, the longest any peer stayed connected, and the two p50s, each with its bound
 * (docs/operating.md, "Limits and resources"): 64 MB in all, the handshake timeout plus 1 s,
 * 1.5 times the idle p50. tests/test_limits.c checks the same with fewer peers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_server.h"
#include "hostile_peers.h"
#include "mpx.h"

int main(int argc, char **argv)
{
    int peers = argc > 1 ? atoi(argv[1]) : 1000, timeout = argc > 2 ? atoi(argv[2]) : 2000;
    char timeout_arg[16];
    snprintf(timeout_arg, sizeof timeout_arg, "%d", timeout);
    const char *extra[] = {"--handshake-timeout", timeout_arg, NULL};
    bench_server server;
    mpx_client *c = NULL;
    mpx_proxy *d = NULL;
    if (peers <= 0 || bench_server_start(&server, "hostile benchmark key", extra)) return 1;
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) || mpx_dict_new(c, &d)) {
        fprintf(stderr, "hostile: %s\n", mpx_last_error());
        return 1;
    }
    mpx_value *k = mpx_str("k"), *v = mpx_str("a small value");
    mpx_dict_set(d, k, v);
    mpx_value_free(&k);
    mpx_value_free(&v);
    double idle = (double)hostile_get_p50(d, 3000);
    long rss_idle = hostile_rss_kb(server.pid), rss_most = rss_idle;

    hostile_peers h;
    int connected = hostile_open(&h, server.endpoint, peers);
    double busy = (double)hostile_get_p50(d, 3000);
    for (int64_t end = hostile_now_ms() + timeout + 1500; hostile_now_ms() < end;) {
        long rss = hostile_rss_kb(server.pid);
        if (rss > rss_most) rss_most = rss;
        if (hostile_await_closed(&h, 100) == h.n) break;
    }
    int closed = hostile_await_closed(&h, 0);
    int64_t longest = hostile_longest_open_ms(&h);
    long grew_kb = rss_most - rss_idle;
    if (idle < 0 || busy < 0) {
        fprintf(stderr, "hostile: a get failed: %s\n", mpx_last_error());
        return 1;
    }

    printf("%d peers without the key (garbage, a 32 MiB frame announced, a handshake left "
           "half-way), --handshake-timeout %d ms\n",
           peers, timeout);
    printf("%-44s %12s %12s %8s\n", "metric", "value", "bound", "");
    printf("%-44s %12d %12d %8s\n", "peers connected / closed by mpxd", connected, closed,
           closed == peers ? "met" : "MISSED");
    printf("%-44s %12ld %12d %8s\n", "mpxd memory growth with them (kB)", grew_kb, 64 * 1024,
           grew_kb <= 64 * 1024 ? "met" : "MISSED");
    printf("%-44s %12lld %12d %8s\n", "longest a peer stayed connected (ms)", (long long)longest,
           timeout + 1000, longest <= timeout + 1000 ? "met" : "MISSED");
    printf("%-44s %12.0f\n", "dict get p50, idle (us)", idle);
    printf("%-44s %12.0f %12.0f %8s\n", "dict get p50, with them (us)", busy, idle * 1.5,
           busy <= idle * 1.5 ? "met" : "MISSED");
    hostile_free(&h);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    return bench_server_stop(&server) == 0 ? 0 : 1;
}
