/*
 * test_codec.c — the wire codec fed bytes directly: frame headers, the CURVE keys derived from
 * an authkey, the msgpack cursor on good and hostile input, and canonical key encoding.
 */
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "codec.h"
#include "harness.h"

static void test_frame_header_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[MPX_HDR_LEN + 3] = {0};
    mpx__frame_header(buf, MPX_K_CALL);
    memcpy(buf + MPX_HDR_LEN, "abc", 3);
    mpx__frame f;
    assert_ok(mpx__frame_parse(buf, sizeof buf, &f));
    assert_int_equal(f.version, MPX_PROTOCOL_VERSION);
    assert_int_equal(f.kind, MPX_K_CALL);
    assert_int_equal(f.body_len, 3);
    assert_memory_equal(f.body, "abc", 3);
    assert_int_equal(buf[0], 0x04); /* docs/protocol.md §2 */
    assert_int_equal(buf[1], 0x03);
}

static void test_frame_short_or_other_version(void **state)
{
    (void)state;
    uint8_t buf[34] = {0};
    mpx__frame f;
    mpx__frame_header(buf, MPX_K_CALL);
    assert_code(mpx__frame_parse(buf, MPX_HDR_LEN - 1, &f), MPX_EPROTO);
    assert_code(mpx__frame_parse(buf, 0, &f), MPX_EPROTO);
    buf[0] = 3; /* version 3's 34-byte header */
    assert_code(mpx__frame_parse(buf, sizeof buf, &f), MPX_EVERSION);
    buf[0] = MPX_PROTOCOL_VERSION + 1;
    assert_code(mpx__frame_parse(buf, sizeof buf, &f), MPX_EVERSION);
}

static void hex_decode(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), " ", &got, NULL), 0);
    assert_int_equal(got, len);
}

/* The key derivation of docs/protocol.md §3 against the worked example there (which
 * tests/independent_client.py also checks, with Python's hmac and PyNaCl), and against
 * libzmq's own computation of a public key from a secret one. */
static void test_curve_keys_match_the_documented_example(void **state)
{
    (void)state;
    static const char key[] = "correct horse battery staple";
    uint8_t want[32];
    mpx__curve_keys_t k;
    mpx__curve_keys((const uint8_t *)key, strlen(key), &k);
    hex_decode("ec45afb994121022803fdd990d992720ada6df1e7dd06abea0f52bc34dd90cfd", want, 32);
    assert_memory_equal(k.server_secret, want, 32);
    hex_decode("7a67a3566e5f585cee5a281899f53edcd82130edd6c6be4146fede8e44cd6554", want, 32);
    assert_memory_equal(k.server_public, want, 32);
    hex_decode("dac4ff4edad34110386d452381bd79ae66607856ee016510108911c376813770", want, 32);
    assert_memory_equal(k.client_secret, want, 32);
    hex_decode("f9a525eb196d0486ae6823f18b02fa932e2e19f8e60a94616e8046b072fc513d", want, 32);
    assert_memory_equal(k.client_public, want, 32);
    char z85_secret[41], z85_public[41], z85_want[41];
    assert_non_null(zmq_z85_encode(z85_secret, k.client_secret, 32));
    assert_int_equal(zmq_curve_public(z85_public, z85_secret), 0);
    assert_non_null(zmq_z85_encode(z85_want, k.client_public, 32));
    assert_string_equal(z85_public, z85_want);
    /* every byte of the authkey counts, and a 1-byte key maps to a pair too */
    mpx__curve_keys_t other;
    mpx__curve_keys((const uint8_t *)"correct horse battery stapld", 28, &other);
    assert_memory_not_equal(other.client_secret, k.client_secret, 32);
    mpx__curve_keys((const uint8_t *)"x", 1, &other);
    assert_memory_not_equal(other.server_public, other.client_public, 32);
    mpx__curve_keys_clear(&k);
    uint8_t zeros[sizeof k] = {0};
    assert_memory_equal(&k, zeros, sizeof k);
}

/* The MESSAGE box of the worked example (docs/protocol.md §10): what CurveZMQ puts on the
 * wire for a CALL, recomputed with libsodium's crypto_box (the one libzmq uses). */
static void test_message_box_matches_the_documented_example(void **state)
{
    (void)state;
    uint8_t c_secret[32], s_secret[32], s_public[32], nonce[24], box[29], want[29];
    for (int i = 0; i < 32; i++)
        c_secret[i] = (uint8_t)(1 + i), s_secret[i] = (uint8_t)(33 + i);
    crypto_scalarmult_base(s_public, s_secret);
    memcpy(nonce, "CurveZMQMESSAGEC", 16);
    mpx__put_u64be(nonce + 16, 1);
    static const uint8_t plain[] = {0x00, 0x04, 0x03, 0x94, 0x01, 0x03, 0xa3,
                                    'g',  'e',  't',  0x91, 0xa1, 'k'};
    assert_int_equal(crypto_box_easy(box, plain, sizeof plain, nonce, s_public, c_secret), 0);
    hex_decode("38342c43d0f4571d8adf24817baede3836f6c2746071c5ab61f37514e3", want, sizeof want);
    assert_memory_equal(box, want, sizeof want);
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
    /* the short cut for fixstr, str8 and bin8 checks their length too, and a truncated one
     * leaves the cursor where it was */
    static const uint8_t fixstr[] = {0xa5, 'a', 'b'}, str8[] = {0xd9, 40, 'a'},
                         bin8[] = {0xc4, 2, 0}, bare_str8[] = {0xd9};
    const uint8_t *cut[] = {fixstr, str8, bin8, bare_str8};
    const size_t cut_len[] = {sizeof fixstr, sizeof str8, sizeof bin8, sizeof bare_str8};
    for (size_t i = 0; i < 4; i++) {
        mpx__mp_init(&c, cut[i], cut_len[i]);
        assert_code(mpx__mp_skip(&c), MPX_EPROTO);
        assert_ptr_equal(c.p, cut[i]);
        mpx__mp_init(&c, cut[i], cut_len[i] - 1);
        assert_code(mpx__mp_skip(&c), MPX_EPROTO);
        mpx__mp_init(&c, cut[i], cut_len[i]);
        assert_code(mpx__mp_skip_inline(&c), MPX_EPROTO);
        assert_ptr_equal(c.p, cut[i]);
    }
    /* the same cut short as the last item of an array, where items take the short cut too:
     * the whole array is refused and the cursor stays at its start */
    static const uint8_t cut_item[] = {0x93, 0x01, 0xa1, 'x', 0xa5, 'a', 'b'};
    for (size_t len = 1; len < sizeof cut_item; len++) {
        mpx__mp_init(&c, cut_item, len);
        assert_code(mpx__mp_skip(&c), MPX_EPROTO);
        assert_ptr_equal(c.p, cut_item);
        mpx__mp_init(&c, cut_item, len);
        assert_code(mpx__mp_skip_inline(&c), MPX_EPROTO);
        assert_ptr_equal(c.p, cut_item);
    }
    static const uint8_t exact[] = {0x92, 0xa2, 'h', 'i', 0xc4, 1, 7, 0x05};
    mpx__mp_init(&c, exact, sizeof exact);
    assert_ok(mpx__mp_skip(&c));
    assert_ptr_equal(c.p, exact + 7);
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
        mpx__mp_cursor c, inl;
        mpx__mp_init(&c, buf, len);
        int rc = mpx__mp_skip(&c);
        assert_true(rc == 0 || rc == MPX_EPROTO);
        assert_true(c.p >= buf && c.p <= buf + len);
        ok += rc == 0;
        /* the inline short cut agrees with the call, in its result and where it stops */
        mpx__mp_init(&inl, buf, len);
        assert_int_equal(mpx__mp_skip_inline(&inl), rc);
        assert_ptr_equal(inl.p, c.p);
    }
    assert_true(ok > 0); /* some random inputs are valid msgpack */
}

static void canonical_is(const uint8_t *in, size_t in_len, const uint8_t *want, size_t want_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_ok(mpx__mp_canonical(in, in_len, &(msgpack_packer){&sb, msgpack_sbuffer_write}));
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
    assert_code(mpx__mp_canonical((const uint8_t[]){0x01, 0x02}, 2,
                                  &(msgpack_packer){&sb, msgpack_sbuffer_write}),
                MPX_EPROTO);
    msgpack_sbuffer_destroy(&sb);
}

/* Packs a string or bytes of n bytes with the header `tag` (a msgpack str or bin form). */
static size_t pack_with_header(uint8_t *out, uint8_t tag, size_t n)
{
    size_t h = 1;
    out[0] = tag;
    if (tag == 0xd9 || tag == 0xc4) out[h++] = (uint8_t)n;
    if (tag == 0xda || tag == 0xc5) out[h++] = (uint8_t)(n >> 8), out[h++] = (uint8_t)n;
    if (tag == 0xdb || tag == 0xc6)
        for (int i = 3; i >= 0; i--)
            out[h++] = (uint8_t)(n >> (8 * i));
    if (tag == 0xa0) out[0] = (uint8_t)(0xa0 | n);
    memset(out + h, 'k', n);
    return h + n;
}

/* The fast path that skips re-encoding a key must never disagree with the long way: whenever
 * it says "canonical", re-encoding gives the same bytes; and it does say so for short keys in
 * their shortest form, or it would be no fast path. */
static void test_canonical_fast_path_agrees(void **state)
{
    (void)state;
    static const uint8_t tags[] = {0xa0, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6};
    static const size_t lens[] = {0, 1, 15, 31, 32, 200, 255, 256, 300};
    uint8_t buf[400];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (size_t t = 0; t < sizeof tags; t++) {
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            if (tags[t] == 0xa0 && lens[l] > 31) continue;
            if ((tags[t] == 0xd9 || tags[t] == 0xc4) && lens[l] > 255) continue;
            size_t n = pack_with_header(buf, tags[t], lens[l]);
            sb.size = 0;
            assert_ok(mpx__mp_canonical(buf, n, &(msgpack_packer){&sb, msgpack_sbuffer_write}));
            bool same = sb.size == n && memcmp(sb.data, buf, n) == 0;
            if (mpx__mp_is_canonical(buf, n)) assert_true(same);
            if (same && tags[t] != 0xdb && tags[t] != 0xc6)
                assert_true(mpx__mp_is_canonical(buf, n));
            if (n > 1) assert_false(mpx__mp_is_canonical(buf, n - 1)); /* truncated */
        }
    }
    for (int v = -32; v < 128; v++) { /* fixints */
        uint8_t b = (uint8_t)(int8_t)v;
        assert_true(mpx__mp_is_canonical(&b, 1));
    }
    assert_false(mpx__mp_is_canonical((const uint8_t[]){0xcc, 5}, 2)); /* uint8 5 */
    msgpack_sbuffer_destroy(&sb);
}

/* Distinct bytes, so that a copy or compare off by one shows. */
static void fill_distinct(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 37 + 1);
}

/* The small copy writes exactly the len bytes asked for, at every length around its
 * overlapping moves, and no byte past them. */
static void test_copy_small_copies_exactly(void **state)
{
    (void)state;
    uint8_t src[40], dst[48];
    fill_distinct(src, sizeof src);
    for (size_t len = 0; len <= sizeof src; len++) {
        memset(dst, 0xee, sizeof dst);
        mpx__copy_small(dst, src, len);
        assert_memory_equal(dst, src, len);
        for (size_t i = len; i < sizeof dst; i++)
            assert_int_equal(dst[i], 0xee);
    }
}

/* The short-key compare finds a difference in any byte, at every length around its two
 * overlapping loads. */
static void test_bytes_equal_sees_every_byte(void **state)
{
    (void)state;
    uint8_t a[24], b[24];
    fill_distinct(a, sizeof a);
    for (size_t len = 0; len <= sizeof a; len++) {
        memcpy(b, a, sizeof a);
        assert_true(mpx__bytes_equal(a, b, len));
        for (size_t i = 0; i < len; i++) {
            b[i] ^= 0x40;
            assert_false(mpx__bytes_equal(a, b, len));
            b[i] ^= 0x40;
        }
        if (len < sizeof a) { /* a byte past the end does not count */
            b[len] ^= 0x40;
            assert_true(mpx__bytes_equal(a, b, len));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header_roundtrip),
        cmocka_unit_test(test_frame_short_or_other_version),
        cmocka_unit_test(test_curve_keys_match_the_documented_example),
        cmocka_unit_test(test_message_box_matches_the_documented_example),
        cmocka_unit_test(test_cursor_reads_a_call),
        cmocka_unit_test(test_cursor_refuses_hostile_input),
        cmocka_unit_test(test_cursor_bounds_depth),
        cmocka_unit_test(test_cursor_survives_random_bytes),
        cmocka_unit_test(test_canonical_encoding),
        cmocka_unit_test(test_canonical_fast_path_agrees),
        cmocka_unit_test(test_copy_small_copies_exactly),
        cmocka_unit_test(test_bytes_equal_sees_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
