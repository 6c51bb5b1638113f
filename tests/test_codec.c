/*
 * test_codec.c — the wire codec fed bytes directly: frame headers, MACs, handshake proofs, the
 * msgpack cursor on good and hostile input, and canonical key encoding.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "harness.h"

static void test_frame_header_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[MPX_HDR_LEN + 3] = {0};
    mpx__frame_header(buf, MPX_K_CALL, 0x0102030405060708ull, 42);
    memcpy(buf + MPX_HDR_LEN, "abc", 3);
    mpx__frame f;
    assert_ok(mpx__frame_parse(buf, sizeof buf, &f));
    assert_int_equal(f.version, MPX_PROTOCOL_VERSION);
    assert_int_equal(f.kind, MPX_K_CALL);
    assert_int_equal(f.sid, 0x0102030405060708ull);
    assert_int_equal(f.seq, 42);
    assert_int_equal(f.body_len, 3);
    assert_memory_equal(f.body, "abc", 3);
    /* Big-endian on the wire, as docs/protocol.md says. */
    assert_int_equal(buf[2], 0x01);
    assert_int_equal(buf[17], 42);
}

static void test_frame_short_or_other_version(void **state)
{
    (void)state;
    uint8_t buf[MPX_HDR_LEN] = {0};
    mpx__frame f;
    mpx__frame_header(buf, MPX_K_CALL, 1, 1);
    assert_code(mpx__frame_parse(buf, MPX_HDR_LEN - 1, &f), MPX_EPROTO);
    assert_code(mpx__frame_parse(buf, 0, &f), MPX_EPROTO);
    buf[0] = 2;
    assert_code(mpx__frame_parse(buf, sizeof buf, &f), MPX_EVERSION);
}

static void test_mac_detects_any_change(void **state)
{
    (void)state;
    uint8_t key[32], other[32], buf[MPX_HDR_LEN + 16];
    mpx__mac_key k, ko;
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    mpx__mac_key_init(&k, key);
    mpx__mac_key_init(&ko, other);
    mpx__frame_header(buf, MPX_K_CALL, 99, 5);
    memset(buf + MPX_HDR_LEN, 'x', 16);
    mpx__mac_sign(&k, buf, sizeof buf);
    mpx__frame f;
    assert_ok(mpx__frame_parse(buf, sizeof buf, &f));
    assert_ok(mpx__mac_verify(&k, &f));
    assert_code(mpx__mac_verify(&ko, &f), MPX_EAUTH);
    /* Every byte under the MAC matters: header fields and body. */
    size_t positions[] = {1, 2, 9, 10, 17, MPX_HDR_LEN, sizeof buf - 1, MPX_MAC_OFF};
    for (size_t i = 0; i < sizeof positions / sizeof *positions; i++) {
        buf[positions[i]] ^= 0x40;
        assert_ok(mpx__frame_parse(buf, sizeof buf, &f));
        assert_code(mpx__mac_verify(&k, &f), MPX_EAUTH);
        buf[positions[i]] ^= 0x40;
    }
}

static void test_handshake_proof_binds_every_input(void **state)
{
    (void)state;
    uint8_t nc[32] = {1}, ns[32] = {2}, a[32], b[32];
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, a);
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, b);
    assert_memory_equal(a, b, 32);
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_CLIENT, nc, ns, 1, b);
    assert_memory_not_equal(a, b, 32);
    mpx__hs_proof((const uint8_t *)"kez", 3, MPX_LABEL_SERVER, nc, ns, 1, b);
    assert_memory_not_equal(a, b, 32);
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 2, b);
    assert_memory_not_equal(a, b, 32);
    ns[31] = 9;
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, b);
    assert_memory_not_equal(a, b, 32);
}

static void test_cursor_reads_a_call(void **state)
{
    (void)state;
    /* [7, 300, "get", ["k", -1]] */
    static const uint8_t msg[] = {0x94, 0x07, 0xcd, 0x01, 0x2c, 0xa3, 'g',
                                  'e',  't',  0x92, 0xa1, 'k',  0xff};
    mpx__mp_cursor c;
    uint32_t n, len;
    uint64_t u;
    int64_t i;
    const char *s;
    mpx__mp_init(&c, msg, sizeof msg);
    assert_ok(mpx__mp_array(&c, &n));
    assert_int_equal(n, 4);
    assert_ok(mpx__mp_uint(&c, &u));
    assert_int_equal(u, 7);
    /* A read of the wrong type fails without moving the cursor. */
    const uint8_t *at = c.p;
    assert_code(mpx__mp_str(&c, &s, &len), MPX_ETYPE);
    assert_ptr_equal(c.p, at);
    assert_ok(mpx__mp_uint(&c, &u));
    assert_int_equal(u, 300);
    assert_ok(mpx__mp_str(&c, &s, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(s, "get", 3);
    assert_ok(mpx__mp_array(&c, &n));
    assert_int_equal(n, 2);
    assert_ok(mpx__mp_skip(&c));
    assert_ok(mpx__mp_int(&c, &i));
    assert_int_equal(i, -1);
    assert_ptr_equal(c.p, c.end);
    assert_code(mpx__mp_skip(&c), MPX_EPROTO);
}

static void test_cursor_refuses_hostile_input(void **state)
{
    (void)state;
    mpx__mp_cursor c;
    uint32_t n;
    /* str32 declaring 4 GiB with 2 bytes behind it */
    static const uint8_t long_str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    mpx__mp_init(&c, long_str, sizeof long_str);
    assert_code(mpx__mp_skip(&c), MPX_EPROTO);
    assert_ptr_equal(c.p, long_str);
    /* array32 declaring 2^32-1 items with none: refused before any is read */
    static const uint8_t big_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    mpx__mp_init(&c, big_array, sizeof big_array);
    assert_code(mpx__mp_array(&c, &n), MPX_EPROTO);
    /* map16 of 3 pairs with 5 bytes: each pair needs 2 */
    static const uint8_t short_map[] = {0xde, 0x00, 0x03, 1, 2, 3, 4, 5};
    mpx__mp_init(&c, short_map, sizeof short_map);
    assert_code(mpx__mp_skip(&c), MPX_EPROTO);
    /* the never-used byte 0xc1, and a truncated uint64 */
    static const uint8_t never[] = {0xc1}, trunc[] = {0xcf, 0x00, 0x01};
    mpx__mp_init(&c, never, 1);
    assert_code(mpx__mp_skip(&c), MPX_EPROTO);
    mpx__mp_init(&c, trunc, sizeof trunc);
    assert_code(mpx__mp_skip(&c), MPX_EPROTO);
}

static void test_cursor_bounds_depth(void **state)
{
    (void)state;
    size_t depth = MPX_MAX_DEPTH + 10;
    uint8_t *buf = malloc(depth + 1);
    memset(buf, 0x91, depth); /* [[[[...]]]] */
    buf[depth] = 0xc0;
    mpx__mp_cursor c;
    mpx__mp_init(&c, buf, depth + 1);
    assert_code(mpx__mp_skip(&c), MPX_EPROTO);
    /* Exactly the limit is fine. */
    mpx__mp_init(&c, buf + 10, MPX_MAX_DEPTH + 1);
    assert_ok(mpx__mp_skip(&c));
    free(buf);
}

static void test_cursor_survives_random_bytes(void **state)
{
    (void)state;
    uint8_t buf[64];
    srand(12345);
    int ok = 0;
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rand();
        mpx__mp_cursor c;
        mpx__mp_init(&c, buf, len);
        int rc = mpx__mp_skip(&c);
        assert_true(rc == 0 || rc == MPX_EPROTO);
        assert_true(c.p >= buf && c.p <= buf + len);
        ok += rc == 0;
    }
    assert_true(ok > 0); /* some random inputs are valid msgpack */
}

static void canonical_is(const uint8_t *in, size_t in_len, const uint8_t *want, size_t want_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_ok(mpx__mp_canonical(in, in_len, &sb));
    assert_int_equal(sb.size, want_len);
    assert_memory_equal(sb.data, want, want_len);
    msgpack_sbuffer_destroy(&sb);
}

static void test_canonical_encoding(void **state)
{
    (void)state;
    /* int64 1 -> fixint 1; int16 -2 -> negative fixint; uint32 200 -> uint8 */
    canonical_is((const uint8_t[]){0xd3, 0, 0, 0, 0, 0, 0, 0, 1}, 9, (const uint8_t[]){0x01}, 1);
    canonical_is((const uint8_t[]){0xd1, 0xff, 0xfe}, 3, (const uint8_t[]){0xfe}, 1);
    canonical_is((const uint8_t[]){0xce, 0, 0, 0, 200}, 5, (const uint8_t[]){0xcc, 200}, 2);
    /* float32 1.5 -> float64 1.5 */
    canonical_is((const uint8_t[]){0xca, 0x3f, 0xc0, 0, 0}, 5,
                 (const uint8_t[]){0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, 9);
    /* str8 "ab" -> fixstr; inside an array16 -> fixarray */
    canonical_is((const uint8_t[]){0xdc, 0, 1, 0xd9, 2, 'a', 'b'}, 7,
                 (const uint8_t[]){0x91, 0xa2, 'a', 'b'}, 4);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_code(mpx__mp_canonical((const uint8_t[]){0x01, 0x02}, 2, &sb), MPX_EPROTO);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header_roundtrip),
        cmocka_unit_test(test_frame_short_or_other_version),
        cmocka_unit_test(test_mac_detects_any_change),
        cmocka_unit_test(test_handshake_proof_binds_every_input),
        cmocka_unit_test(test_cursor_reads_a_call),
        cmocka_unit_test(test_cursor_refuses_hostile_input),
        cmocka_unit_test(test_cursor_bounds_depth),
        cmocka_unit_test(test_cursor_survives_random_bytes),
        cmocka_unit_test(test_canonical_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
