/*
 * test_limits.c — peers without the key hold nothing: 150 of them (garbage, a frame announced
 * as 32 MiB during the handshake, a handshake left half-way, each held open) cost mpxd at most
 * 64 MB, are all closed within the handshake timeout plus a second, and meanwhile an
 * authenticated client's calls all succeed, their p50 within 1.5 times the idle one. The same
 * as bench/hostile.c, with fewer peers (bench/hostile_peers.c opens them).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bench/hostile_peers.h"
#include "harness.h"

#define PEERS 150
#define HANDSHAKE_MS 500

static void keyless_peers_hold_nothing(const char *transport)
{
    mpxd_proc srv;
    const char *extra[] = {"--handshake-timeout", "500", NULL};
    mpxd_start(&srv, transport, extra);
    mpx_client *c = mpxd_connect(&srv);
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_new(c, &d));
    mpx_value *k = mpx_str("k"), *v = mpx_str("a small value");
    assert_ok(mpx_dict_set(d, k, v));
    mpx_value_free(&k);
    mpx_value_free(&v);
    int64_t idle = hostile_get_p50(d, 1500);
    assert_true(idle >= 0);
    long rss_idle = hostile_rss_kb(srv.pid), rss_most = rss_idle;

    hostile_peers h;
    assert_int_equal(hostile_open(&h, srv.endpoint, PEERS), PEERS);
    int64_t busy = hostile_get_p50(d, 1500);
    assert_true(busy >= 0); /* every call succeeded */
    for (int64_t end = hostile_now_ms() + HANDSHAKE_MS + 2000; hostile_now_ms() < end;) {
        long rss = hostile_rss_kb(srv.pid);
        if (rss > rss_most) rss_most = rss;
        if (hostile_await_closed(&h, 50) == PEERS) break;
    }
    assert_int_equal(hostile_await_closed(&h, 0), PEERS);
    assert_true(hostile_longest_open_ms(&h) <= HANDSHAKE_MS + 1000);
    assert_true(rss_most - rss_idle <= 64 * 1024);
    assert_true(busy * 2 <= idle * 3); /* within 1.5 times */
    assert_ok(mpx_ping(c));
    hostile_free(&h);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&srv), 0);
}

static void test_keyless_peers_over_tcp(void **state)
{
    (void)state;
    keyless_peers_hold_nothing("tcp");
}

static void test_keyless_peers_over_ipc(void **state)
{
    (void)state;
    keyless_peers_hold_nothing("ipc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyless_peers_over_tcp),
        cmocka_unit_test(test_keyless_peers_over_ipc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
