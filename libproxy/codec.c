/*
 * codec.c — frames, the CURVE keys derived from the authkey, and the msgpack cursor
 * (docs/protocol.md).
 *
 * msgpack-c packs every message; it has no way to hand back the byte span of one object inside
 * a message, and mpxd stores values exactly as they arrived, so reading goes through the small
 * cursor below. It never allocates, checks every length against the bytes left before using
 * it, and bounds nesting, so a hostile message costs at most one pass over its own bytes.
 */
#include "codec.h"

#include <limits.h>
#include <math.h>
#include <string.h>

void mpx__put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t mpx__get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t get_be(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- frames ---------------------------------------------------------------------------- */

int mpx__frame_parse(const void *buf, size_t len, mpx__frame *f)
{
    const uint8_t *p = buf;
    if (len < MPX_HDR_LEN) return MPX_EPROTO;
    if (p[0] != MPX_PROTOCOL_VERSION) return MPX_EVERSION;
    f->version = p[0];
    f->kind = p[1];
    f->body = p + MPX_HDR_LEN;
    f->body_len = len - MPX_HDR_LEN;
    return 0;
}

void mpx__frame_header(uint8_t *hdr, uint8_t kind)
{
    hdr[0] = MPX_PROTOCOL_VERSION;
    hdr[1] = kind;
}

/* ---- CURVE keys ------------------------------------------------------------------------ */

/* One X25519 key pair: the secret key is HMAC-SHA256(authkey, label), which X25519 takes as
 * it is (it clamps the scalar itself), and the public key is that scalar times the base
 * point. HMAC takes a key of any length, so every authkey of 1 to 4096 bytes maps to one. */
static void curve_pair(const uint8_t *authkey, size_t keylen, const char *label,
                       uint8_t pub[MPX_CURVE_KEY_LEN], uint8_t sec[MPX_CURVE_KEY_LEN])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, authkey, keylen);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
    crypto_auth_hmacsha256_final(&st, sec);
    sodium_memzero(&st, sizeof st);
    crypto_scalarmult_curve25519_base(pub, sec);
}

void mpx__curve_keys(const uint8_t *authkey, size_t keylen, mpx__curve_keys_t *k)
{
    curve_pair(authkey, keylen, MPX_LABEL_CURVE_SERVER, k->server_public, k->server_secret);
    curve_pair(authkey, keylen, MPX_LABEL_CURVE_CLIENT, k->client_public, k->client_secret);
}

void mpx__curve_keys_clear(mpx__curve_keys_t *k)
{
    sodium_memzero(k, sizeof *k);
}

/* ---- msgpack cursor ---------------------------------------------------------------------- */

void mpx__mp_init(mpx__mp_cursor *c, const void *buf, size_t len)
{
    c->p = buf;
    c->end = c->p + len;
}

/* The header size of the token starting with byte b, not counting a str/bin/ext body. */
static size_t token_header_len(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0 || (b >= 0x80 && b <= 0xbf)) return 1;
    static const uint8_t len_c0[] = {
        1, 0, 1, 1, 2, 3, 5, 3,  4,  6, 5, 9, 2, 3, 5, 9, /* c0..cf */
        2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5, /* d0..df */
    };
    return len_c0[b - 0xc0];
}

static void token_ext(mpx__mp_token *t, const uint8_t *p, uint32_t len)
{
    t->kind = MPX_MP_EXT;
    t->ext_type = (int8_t)p[0];
    t->data = p + 1;
    t->len = len;
}

static void token_int(mpx__mp_token *t, int64_t v)
{
    if (v >= 0) {
        t->kind = MPX_MP_UINT;
        t->u = (uint64_t)v;
    } else {
        t->kind = MPX_MP_INT;
        t->i = v;
    }
}

/* Decodes the fixed-size forms: everything whose length the first byte tells. */
static void token_fixed(mpx__mp_token *t, const uint8_t *p)
{
    uint8_t b = p[0];
    uint64_t u = 0;
    switch (b) {
    case 0xc0:
        t->kind = MPX_MP_NIL;
        break;
    case 0xc2:
    case 0xc3:
        t->kind = MPX_MP_BOOL;
        t->b = b == 0xc3;
        break;
    case 0xca: {
        uint32_t w = get_be(p + 1, 4);
        float f;
        memcpy(&f, &w, 4);
        t->kind = MPX_MP_F32;
        t->d = f;
        break;
    }
    case 0xcb:
        u = mpx__get_u64be(p + 1);
        t->kind = MPX_MP_F64;
        memcpy(&t->d, &u, 8);
        break;
    case 0xcc:
    case 0xcd:
    case 0xce:
        t->kind = MPX_MP_UINT;
        t->u = get_be(p + 1, (int)token_header_len(b) - 1);
        break;
    case 0xcf:
        t->kind = MPX_MP_UINT;
        t->u = mpx__get_u64be(p + 1);
        break;
    case 0xd0:
        token_int(t, (int8_t)p[1]);
        break;
    case 0xd1:
        token_int(t, (int16_t)get_be(p + 1, 2));
        break;
    case 0xd2:
        token_int(t, (int32_t)get_be(p + 1, 4));
        break;
    case 0xd3:
        token_int(t, (int64_t)mpx__get_u64be(p + 1));
        break;
    case 0xd4:
        token_ext(t, p + 1, 1);
        break;
    case 0xd5:
        token_ext(t, p + 1, 2);
        break;
    case 0xd6:
        token_ext(t, p + 1, 4);
        break;
    case 0xd7:
        token_ext(t, p + 1, 8);
        break;
    case 0xd8:
        token_ext(t, p + 1, 16);
        break;
    default:
        if (b <= 0x7f) {
            t->kind = MPX_MP_UINT;
            t->u = b;
        } else {
            t->kind = MPX_MP_INT;
            t->i = (int8_t)b;
        }
    }
}

/* Decodes the forms followed by a body or by items: str, bin, ext, array, map. */
static void token_sized(mpx__mp_token *t, const uint8_t *p, size_t hdr)
{
    uint8_t b = p[0];
    if (b >= 0x80 && b <= 0x8f) {
        t->kind = MPX_MP_MAP;
        t->len = b & 0x0f;
    } else if (b >= 0x90 && b <= 0x9f) {
        t->kind = MPX_MP_ARRAY;
        t->len = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
        t->kind = MPX_MP_STR;
        t->len = b & 0x1f;
    } else if (b >= 0xc7 && b <= 0xc9) {
        t->kind = MPX_MP_EXT;
        t->len = get_be(p + 1, (int)hdr - 2);
        t->ext_type = (int8_t)p[hdr - 1];
    } else {
        bool is_bin = b >= 0xc4 && b <= 0xc6;
        bool is_str = b >= 0xd9 && b <= 0xdb;
        t->kind = is_bin        ? MPX_MP_BIN
                  : is_str      ? MPX_MP_STR
                  : (b <= 0xdd) ? MPX_MP_ARRAY
                                : MPX_MP_MAP;
        t->len = get_be(p + 1, (int)hdr - 1);
    }
    t->data = p + hdr;
}

static bool token_is_sized(uint8_t b)
{
    return (b >= 0x80 && b <= 0xbf) || (b >= 0xc4 && b <= 0xc9) || (b >= 0xd9 && b <= 0xdf);
}

int mpx__mp_next(mpx__mp_cursor *c, mpx__mp_token *t)
{
    size_t left = (size_t)(c->end - c->p);
    if (left == 0 || c->p[0] == 0xc1) return MPX_EPROTO;
    size_t hdr = token_header_len(c->p[0]);
    if (left < hdr) return MPX_EPROTO;
    if (!token_is_sized(c->p[0])) {
        token_fixed(t, c->p);
        c->p += hdr;
        return 0;
    }
    token_sized(t, c->p, hdr);
    uint64_t need = t->len;
    if (t->kind == MPX_MP_MAP) need *= 2; /* items: each takes at least a byte */
    if (need > left - hdr) return MPX_EPROTO;
    c->p += hdr;
    if (t->kind == MPX_MP_STR || t->kind == MPX_MP_BIN || t->kind == MPX_MP_EXT) c->p += t->len;
    return 0;
}

static int read_kind(mpx__mp_cursor *c, mpx__mp_kind kind, mpx__mp_token *t)
{
    mpx__mp_cursor save = *c;
    int rc = mpx__mp_next(c, t);
    if (rc == 0 && t->kind != kind) rc = MPX_ETYPE;
    if (rc) *c = save;
    return rc;
}

int mpx__mp_array(mpx__mp_cursor *c, uint32_t *n)
{
    mpx__mp_token t;
    int rc = read_kind(c, MPX_MP_ARRAY, &t);
    if (rc == 0) *n = t.len;
    return rc;
}

int mpx__mp_map(mpx__mp_cursor *c, uint32_t *n)
{
    mpx__mp_token t;
    int rc = read_kind(c, MPX_MP_MAP, &t);
    if (rc == 0) *n = t.len;
    return rc;
}

int mpx__mp_uint(mpx__mp_cursor *c, uint64_t *v)
{
    mpx__mp_token t;
    int rc = read_kind(c, MPX_MP_UINT, &t);
    if (rc == 0) *v = t.u;
    return rc;
}

int mpx__mp_int(mpx__mp_cursor *c, int64_t *v)
{
    mpx__mp_cursor save = *c;
    mpx__mp_token t;
    int rc = mpx__mp_next(c, &t);
    if (rc == 0 && t.kind == MPX_MP_INT)
        *v = t.i;
    else if (rc == 0 && t.kind == MPX_MP_UINT && t.u <= INT64_MAX)
        *v = (int64_t)t.u;
    else if (rc == 0)
        rc = t.kind == MPX_MP_UINT ? MPX_EVALUE : MPX_ETYPE;
    if (rc) *c = save;
    return rc;
}

int mpx__mp_bool(mpx__mp_cursor *c, bool *v)
{
    mpx__mp_token t;
    int rc = read_kind(c, MPX_MP_BOOL, &t);
    if (rc == 0) *v = t.b;
    return rc;
}

int mpx__mp_str(mpx__mp_cursor *c, const char **s, uint32_t *len)
{
    mpx__mp_token t;
    int rc = read_kind(c, MPX_MP_STR, &t);
    if (rc == 0) {
        *s = (const char *)t.data;
        *len = t.len;
    }
    return rc;
}

bool mpx__mp_is_nil(const mpx__mp_cursor *c)
{
    return c->p < c->end && c->p[0] == 0xc0;
}

static int skip_depth(mpx__mp_cursor *c, int depth)
{
    mpx__mp_token t;
    int rc = mpx__mp_next(c, &t);
    if (rc) return rc;
    bool container = t.kind == MPX_MP_MAP || t.kind == MPX_MP_ARRAY;
    if (container && depth >= MPX_MAX_DEPTH) return MPX_EPROTO; /* its own level is one more */
    uint64_t items = t.kind == MPX_MP_MAP ? 2ull * t.len : t.kind == MPX_MP_ARRAY ? t.len : 0;
    for (uint64_t i = 0; i < items; i++) {
        /* most items are plain: stepped over here, without a call or a decode */
        if ((rc = mpx__mp_skip_plain(c)) == 0) rc = skip_depth(c, depth + 1);
        if (rc < 0) return rc;
    }
    return 0;
}

int mpx__mp_skip_at(mpx__mp_cursor *c, int depth)
{
    mpx__mp_cursor save = *c;
    int rc = mpx__mp_skip_plain(c);
    if (rc == 0) rc = skip_depth(c, depth);
    if (rc < 0) *c = save;
    return rc < 0 ? rc : 0;
}

int mpx__mp_skip(mpx__mp_cursor *c)
{
    return mpx__mp_skip_at(c, 0);
}

bool mpx__mp_has_ext(const uint8_t *p, size_t len)
{
    mpx__mp_cursor c;
    mpx__mp_token t;
    mpx__mp_init(&c, p, len);
    while (c.p < c.end) {
        if (mpx__mp_skip_plain(&c) == 1) continue;
        if (mpx__mp_next(&c, &t)) return true; /* malformed: let the decode say so */
        if (t.kind == MPX_MP_EXT) return true;
    }
    return false;
}

/* ---- canonical encoding ------------------------------------------------------------------ */

/* A number is one value whatever its encoding: a double that is a whole number within the
 * 64-bit integers is that integer (1.0 is 1, -0.0 is 0), as Python's 1 == 1.0 and
 * hash(1) == hash(1.0); every NaN is one canonical NaN, so that a NaN key can be found again. */
static int canon_double(msgpack_packer *pk, double d)
{
    if (isnan(d)) return msgpack_pack_double(pk, NAN);
    if (d == floor(d) && d >= -0x1p63 && d < 0x1p64)
        return d < 0 ? msgpack_pack_int64(pk, (int64_t)d) : msgpack_pack_uint64(pk, (uint64_t)d);
    return msgpack_pack_double(pk, d);
}

static int canon_pack(mpx__mp_cursor *c, msgpack_packer *pk, int depth)
{
    mpx__mp_token t;
    int rc = mpx__mp_next(c, &t);
    if (rc) return rc;
    if ((t.kind == MPX_MP_MAP || t.kind == MPX_MP_ARRAY) && depth >= MPX_MAX_DEPTH)
        return MPX_EPROTO;
    switch (t.kind) {
    case MPX_MP_NIL:
        rc = msgpack_pack_nil(pk);
        break;
    case MPX_MP_BOOL:
        rc = t.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case MPX_MP_UINT:
        rc = msgpack_pack_uint64(pk, t.u);
        break;
    case MPX_MP_INT:
        rc = msgpack_pack_int64(pk, t.i);
        break;
    case MPX_MP_F32:
    case MPX_MP_F64:
        rc = canon_double(pk, t.d);
        break;
    case MPX_MP_STR:
        rc = msgpack_pack_str_with_body(pk, t.data, t.len);
        break;
    case MPX_MP_BIN:
        rc = msgpack_pack_bin_with_body(pk, t.data, t.len);
        break;
    case MPX_MP_EXT: /* an object reference cannot be a key: the object may go */
        if (t.ext_type == MPX_REF_EXT_TYPE) return MPX_ETYPE;
        rc = msgpack_pack_ext_with_body(pk, t.data, t.len, t.ext_type);
        break;
    case MPX_MP_ARRAY:
    case MPX_MP_MAP: {
        uint64_t items = t.kind == MPX_MP_MAP ? 2ull * t.len : t.len;
        rc = t.kind == MPX_MP_MAP ? msgpack_pack_map(pk, t.len) : msgpack_pack_array(pk, t.len);
        for (uint64_t i = 0; rc == 0 && i < items; i++)
            rc = canon_pack(c, pk, depth + 1);
        return rc;
    }
    }
    return rc < 0 ? MPX_ENOMEM : rc;
}

int mpx__mp_canonical(const uint8_t *obj, size_t len, msgpack_packer *pk)
{
    mpx__mp_cursor c;
    mpx__mp_init(&c, obj, len);
    int rc = canon_pack(&c, pk, 0);
    if (rc == 0 && c.p != c.end) rc = MPX_EPROTO;
    return rc;
}

int mpx__mp_write_raw(msgpack_packer *pk, const void *p, size_t len)
{
    return pk->callback(pk->data, p, len) == 0 ? 0 : MPX_ENOMEM;
}
