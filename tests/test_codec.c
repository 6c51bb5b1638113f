/*
 * test_codec.c — the wire codec fed bytes directly: frame headers, MACs, handshake proofs, the
 * msgpack cursor on good and hostile input, and canonical key encoding.
 */
#include <openssl/evp.h>
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
    buf[0] = 1; /* version 1 signed with HMAC-SHA256 in a 50-byte header */
    assert_code(mpx__frame_parse(buf, sizeof buf, &f), MPX_EVERSION);
    buf[0] = MPX_PROTOCOL_VERSION + 1;
    assert_code(mpx__frame_parse(buf, sizeof buf, &f), MPX_EVERSION);
}

static void test_mac_detects_any_change(void **state)
{
    (void)state;
    uint8_t key[32], other[32], buf[MPX_HDR_LEN + 16];
    mpx__mac_key k, ko;
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    assert_ok(mpx__mac_key_init(&k, key));
    assert_ok(mpx__mac_key_init(&ko, other));
    mpx__frame_header(buf, MPX_K_CALL, 99, 5);
    memset(buf + MPX_HDR_LEN, 'x', 16);
    assert_ok(mpx__mac_sign(&k, buf, sizeof buf));
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
    assert_ok(mpx__frame_parse(buf, sizeof buf, &f));
    assert_ok(mpx__mac_verify(&k, &f)); /* the key is intact after the failures */
    mpx__mac_key_clear(&k);
    mpx__mac_key_clear(&ko);
    /* A key that is not set up signs nothing and verifies nothing. */
    static const uint8_t zeros[MPX_MAC_LEN];
    assert_code(mpx__mac_sign(&k, buf, sizeof buf), MPX_ESYS);
    assert_memory_equal(buf + MPX_MAC_OFF, zeros, MPX_MAC_LEN);
    assert_code(mpx__mac_verify(&k, &f), MPX_EAUTH);
}

static void test_handshake_proof_binds_every_input(void **state)
{
    (void)state;
    uint8_t nc[32] = {1}, ns[32] = {2}, a[MPX_MAC_LEN], b[MPX_MAC_LEN], full[32];
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, a);
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, b);
    assert_memory_equal(a, b, MPX_MAC_LEN);
    mpx__hs_derive((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, full);
    assert_memory_equal(a, full, MPX_MAC_LEN); /* a proof is the derivation, truncated */
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_CLIENT, nc, ns, 1, b);
    assert_memory_not_equal(a, b, MPX_MAC_LEN);
    mpx__hs_proof((const uint8_t *)"kez", 3, MPX_LABEL_SERVER, nc, ns, 1, b);
    assert_memory_not_equal(a, b, MPX_MAC_LEN);
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 2, b);
    assert_memory_not_equal(a, b, MPX_MAC_LEN);
    ns[31] = 9;
    mpx__hs_proof((const uint8_t *)"key", 3, MPX_LABEL_SERVER, nc, ns, 1, b);
    assert_memory_not_equal(a, b, MPX_MAC_LEN);
}

/* Signs a 20-byte frame with `signer` and reports whether `checker` accepts it. */
static bool accepts(mpx__mac_key *signer, mpx__mac_key *checker)
{
    uint8_t buf[MPX_HDR_LEN + 20];
    mpx__frame f;
    mpx__frame_header(buf, MPX_K_CALL, 7, 3);
    memset(buf + MPX_HDR_LEN, 'v', 20);
    assert_ok(mpx__mac_sign(signer, buf, sizeof buf));
    assert_ok(mpx__frame_parse(buf, sizeof buf, &f));
    return mpx__mac_verify(checker, &f) == 0;
}

/* A session's keys are the HMACs of step 5 of the handshake, one for each direction, and a
 * pair may be set up again (as a forked client does) without leaking the first. */
static void test_session_keys_follow_the_handshake(void **state)
{
    (void)state;
    uint8_t nc[32] = {3}, ns[32] = {4}, key[32];
    const uint8_t *authkey = (const uint8_t *)"authkey";
    mpx__mac_key c2s = {0}, s2c = {0}, want_c2s, want_s2c;
    mpx__hs_derive(authkey, 7, MPX_LABEL_C2S, nc, ns, 42, key);
    assert_ok(mpx__mac_key_init(&want_c2s, key));
    mpx__hs_derive(authkey, 7, MPX_LABEL_S2C, nc, ns, 42, key);
    assert_ok(mpx__mac_key_init(&want_s2c, key));
    for (int round = 0; round < 2; round++) {
        assert_ok(mpx__session_keys(authkey, 7, nc, ns, 42, &c2s, &s2c));
        assert_true(accepts(&c2s, &want_c2s));
        assert_true(accepts(&s2c, &want_s2c));
        assert_false(accepts(&c2s, &s2c)); /* each direction has its own key */
    }
    mpx__mac_key_clear(&c2s);
    mpx__mac_key_clear(&s2c);
    mpx__mac_key_clear(&want_c2s);
    mpx__mac_key_clear(&want_s2c);
}

/* AES-256-GCM's tag of an empty plaintext with ad as associated data, from another
 * implementation than codec.c's: libsodium's where the CPU has the instructions it needs,
 * else OpenSSL's one-shot form over a contiguous buffer. */
static void reference_tag(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                          size_t ad_len, uint8_t tag[16])
{
    if (crypto_aead_aes256gcm_is_available()) {
        unsigned long long tag_len;
        uint8_t no_ciphertext[1];
        crypto_aead_aes256gcm_encrypt_detached(no_ciphertext, tag, &tag_len, NULL, 0, ad, ad_len,
                                               NULL, nonce, key);
        assert_int_equal(tag_len, 16);
        return;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n;
    assert_int_equal(EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)ad_len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, tag, &n), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(ctx);
}

/* The streamed tag is AES-256-GCM's tag of an empty plaintext with the signed bytes as
 * associated data: what another language's AEAD library computes from the same bytes. Bodies
 * of 0-100 bytes cover every length modulo GHASH's 16-byte block; 1000-1100 bytes, and one of
 * 300,000. One key signs every frame, as a session's does, each under its own nonce. */
static void test_mac_is_aes256gcm(void **state)
{
    (void)state;
    enum { MAX_BODY = 300000 };
    uint8_t key[32], tag[16], nonce[12] = {0};
    uint8_t *frame = malloc(MPX_HDR_LEN + MAX_BODY), *ad = malloc(MPX_HDR_SIGNED + MAX_BODY);
    mpx__mac_key k;
    randombytes_buf(key, sizeof key);
    assert_ok(mpx__mac_key_init(&k, key));
    for (size_t body = 0; body <= MAX_BODY; body++) {
        if (body == 101) body = 1000;
        if (body == 1101) body = MAX_BODY;
        mpx__frame_header(frame, MPX_K_REPLY, 0x0102030405060708u, 1000 + body);
        randombytes_buf(frame + MPX_HDR_LEN, body);
        assert_ok(mpx__mac_sign(&k, frame, MPX_HDR_LEN + body));
        memcpy(ad, frame, MPX_HDR_SIGNED);
        memcpy(ad + MPX_HDR_SIGNED, frame + MPX_HDR_LEN, body);
        mpx__put_u64be(nonce + 4, 1000 + body);
        reference_tag(key, nonce, ad, MPX_HDR_SIGNED + body, tag);
        assert_memory_equal(frame + MPX_MAC_OFF, tag, MPX_MAC_LEN);
        mpx__frame f;
        assert_ok(mpx__frame_parse(frame, MPX_HDR_LEN + body, &f));
        assert_ok(mpx__mac_verify(&k, &f));
    }
    mpx__mac_key_clear(&k);
    mpx__mac_key_clear(&k); /* a cleared key may be cleared again */
    free(frame);
    free(ad);
}

/* The example of docs/protocol.md §10, byte for byte. */
static void test_mac_matches_the_documented_example(void **state)
{
    (void)state;
    static const uint8_t body[] = {0x94, 0x01, 0x03, 0xa3, 'g', 'e', 't', 0x91, 0xa1, 'k'};
    static const uint8_t expect[MPX_MAC_LEN] = {0xa8, 0x23, 0x81, 0x8b, 0x23, 0x45, 0x03, 0xfd,
                                                0x93, 0xba, 0x13, 0x11, 0xe6, 0xf3, 0x89, 0x94};
    uint8_t key[32], frame[MPX_HDR_LEN + sizeof body];
    mpx__mac_key k;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    assert_ok(mpx__mac_key_init(&k, key));
    mpx__frame_header(frame, MPX_K_CALL, 0x1122334455667788u, 1);
    memcpy(frame + MPX_HDR_LEN, body, sizeof body);
    assert_ok(mpx__mac_sign(&k, frame, sizeof frame));
    assert_memory_equal(frame + MPX_MAC_OFF, expect, MPX_MAC_LEN);
    mpx__mac_key_clear(&k);
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
        cmocka_unit_test(test_mac_detects_any_change),
        cmocka_unit_test(test_handshake_proof_binds_every_input),
        cmocka_unit_test(test_mac_is_aes256gcm),
        cmocka_unit_test(test_session_keys_follow_the_handshake),
        cmocka_unit_test(test_mac_matches_the_documented_example),
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
