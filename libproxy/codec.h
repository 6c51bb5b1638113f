/*
 * codec.h — the wire codec shared by libmpx and mpxd (internal).
 *
 * Bytes in, values out, no sockets: the frame header, the CURVE key pairs derived from the
 * authkey, and a bounded msgpack cursor that walks a message without allocating. The
 * layouts are the ones docs/protocol.md specifies; keep the two in step.
 */
#ifndef MPX_CODEC_H
#define MPX_CODEC_H

#include <msgpack.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mpx.h"

#define MPX_HDR_LEN 2 /* version(1) kind(1) */
#define MPX_CURVE_KEY_LEN 32
#define MPX_PREAUTH_MAX_FRAME 256 /* the largest HELLO, and frame before one */
#define MPX_DEFAULT_MAX_MESSAGE (16u << 20)
#define MPX_DEFAULT_SESSION_TIMEOUT_MS 5000 /* silence after which mpxd ends a session */
#define MPX_MAX_BATCH 1024                  /* calls in one BATCH frame */
#define MPX_BATCH_HDR 5 /* a batch's array header, always array32 so it can be written last */

/* Frame kinds (docs/protocol.md, "Frames"). Client to server below 0x80, server to client
 * from 0x80, so a frame can never be reflected back at its sender. 0x02 (AUTH) and 0x81
 * (CHALLENGE) belonged to version 3's handshake and are never reused. */
enum {
    MPX_K_HELLO = 0x01,
    MPX_K_CALL = 0x03,
    MPX_K_BYE = 0x04,
    MPX_K_HEARTBEAT = 0x05,
    MPX_K_BATCH = 0x06, /* several CALL bodies in one frame */
    MPX_K_WELCOME = 0x82,
    MPX_K_REPLY = 0x83,
    MPX_K_ERROR = 0x84,
    MPX_K_HEARTBEAT_ACK = 0x85,
    MPX_K_REPLIES = 0x86, /* several REPLY bodies in one frame */
};

/* A parsed frame. Pointers are borrowed from the buffer given to mpx__frame_parse(). */
typedef struct {
    uint8_t version;
    uint8_t kind;
    const uint8_t *body;
    size_t body_len;
} mpx__frame;

/* Parses a frame header. Returns 0, MPX_EPROTO (shorter than a header) or MPX_EVERSION. */
int mpx__frame_parse(const void *buf, size_t len, mpx__frame *f);

/* Writes the MPX_HDR_LEN bytes of a header. */
void mpx__frame_header(uint8_t *hdr, uint8_t kind);

/* The two CURVE key pairs of one authkey (docs/protocol.md, "Keys"): mpxd's, and the one
 * every client shares. Secret keys: clear with mpx__curve_keys_clear() after use. */
typedef struct {
    uint8_t server_public[MPX_CURVE_KEY_LEN];
    uint8_t server_secret[MPX_CURVE_KEY_LEN];
    uint8_t client_public[MPX_CURVE_KEY_LEN];
    uint8_t client_secret[MPX_CURVE_KEY_LEN];
} mpx__curve_keys_t;

#define MPX_LABEL_CURVE_SERVER "mpx4 curve server"
#define MPX_LABEL_CURVE_CLIENT "mpx4 curve client"

/* Derives both key pairs from authkey (1 to 4096 bytes). */
void mpx__curve_keys(const uint8_t *authkey, size_t keylen, mpx__curve_keys_t *k);
void mpx__curve_keys_clear(mpx__curve_keys_t *k);

void mpx__put_u64be(uint8_t *p, uint64_t v);
uint64_t mpx__get_u64be(const uint8_t *p);

/* A bounded msgpack cursor. Every read checks the bytes left before it looks at them and
 * returns MPX_EPROTO when the input is malformed or truncated, MPX_ETYPE when the next object
 * is well-formed but of another type; on failure the cursor does not move. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} mpx__mp_cursor;

/* One msgpack token. Integers are normalised: every non-negative integer is UINT, whatever
 * form it was sent in, and every negative one is INT. */
typedef enum {
    MPX_MP_NIL,
    MPX_MP_BOOL,
    MPX_MP_UINT,
    MPX_MP_INT,
    MPX_MP_F32,
    MPX_MP_F64,
    MPX_MP_STR,
    MPX_MP_BIN,
    MPX_MP_EXT,
    MPX_MP_ARRAY,
    MPX_MP_MAP,
} mpx__mp_kind;

typedef struct {
    mpx__mp_kind kind;
    bool b;
    uint64_t u;
    int64_t i;
    double d;
    const uint8_t *data; /* STR, BIN, EXT: borrowed from the buffer */
    uint32_t len;        /* STR, BIN, EXT: bytes; ARRAY: items; MAP: pairs */
    int8_t ext_type;
} mpx__mp_token;

void mpx__mp_init(mpx__mp_cursor *c, const void *buf, size_t len);
/* Reads one token. For an array or map the cursor stops on its first item; its count has
 * been checked against the bytes left (every item takes at least one byte). */
int mpx__mp_next(mpx__mp_cursor *c, mpx__mp_token *t);
int mpx__mp_array(mpx__mp_cursor *c, uint32_t *n);
int mpx__mp_map(mpx__mp_cursor *c, uint32_t *n);
int mpx__mp_uint(mpx__mp_cursor *c, uint64_t *v);
int mpx__mp_int(mpx__mp_cursor *c, int64_t *v);
int mpx__mp_bool(mpx__mp_cursor *c, bool *v);
int mpx__mp_str(mpx__mp_cursor *c, const char **s, uint32_t *len);
bool mpx__mp_is_nil(const mpx__mp_cursor *c);
/* Steps over one whole object, checking its structure to MPX_MAX_DEPTH; the object's bytes
 * are [start, c->p) afterwards. */
int mpx__mp_skip(mpx__mp_cursor *c);
/* As mpx__mp_skip(), for an object found `depth` levels down inside the object being checked:
 * its own containers count towards MPX_MAX_DEPTH from there. */
int mpx__mp_skip_at(mpx__mp_cursor *c, int depth);

/* The whole size of a token that needs no decoding to step over: a fixint, nil, a bool, a
 * fixstr, str8 or bin8, the forms nearly every key and small value takes. 0 for the rest;
 * the size may run past the end of the data, which the caller checks. */
static inline size_t mpx__mp_plain_len(const uint8_t *p, size_t left)
{
    uint8_t b = p[0];
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return 1;
    if (b >= 0xa0 && b <= 0xbf) return 1 + (size_t)(b & 0x1f);
    if ((b == 0xd9 || b == 0xc4) && left >= 2) return 2 + (size_t)p[1];
    return 0;
}

/* Steps over a plain token without decoding it. 1 if it did, 0 when the token is not plain
 * (the cursor stays), MPX_EPROTO when it is cut short (likewise). */
static inline int mpx__mp_skip_plain(mpx__mp_cursor *c)
{
    size_t left = (size_t)(c->end - c->p), plain = left ? mpx__mp_plain_len(c->p, left) : 0;
    if (plain == 0) return 0;
    if (plain > left) return MPX_EPROTO;
    c->p += plain;
    return 1;
}

/* As mpx__mp_skip(), with a plain token stepped over here rather than in a call: for loops
 * over many small keys and values. */
static inline int mpx__mp_skip_inline(mpx__mp_cursor *c)
{
    return mpx__mp_skip_plain(c) == 1 ? 0 : mpx__mp_skip(c);
}

/* Whether a and b, len bytes each, are equal. Dict keys are mostly 8 to 16 bytes with their
 * header: two overlapping loads a side compare them without a call to memcmp, which costs
 * more than the compare itself. */
static inline bool mpx__bytes_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (len < 8 || len > 16) return memcmp(a, b, len) == 0;
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + len - 8, 8);
    memcpy(&b1, b + len - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Copies len bytes between buffers that do not overlap. Keys and values are mostly 8 to 32
 * bytes with their header: two overlapping moves copy them without a call to memcpy, which
 * costs more than the copy. */
static inline void mpx__copy_small(void *dst, const void *src, size_t len)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (len >= 16 && len <= 32) {
        uint8_t head[16], tail[16];
        memcpy(head, s, 16);
        memcpy(tail, s + len - 16, 16);
        memcpy(d, head, 16);
        memcpy(d + len - 16, tail, 16);
    } else if (len >= 8 && len < 16) {
        uint64_t head, tail;
        memcpy(&head, s, 8);
        memcpy(&tail, s + len - 8, 8);
        memcpy(d, &head, 8);
        memcpy(d + len - 8, &tail, 8);
    } else if (len) {
        memcpy(d, s, len);
    }
}

/* Re-encodes one msgpack object canonically through pk: integers in their shortest form,
 * a double that is a whole number in the 64-bit integers as that integer (1.0 as 1, -0.0 as
 * 0), other floats as float64, every NaN as one NaN, strings and bytes with their shortest
 * headers. Two values are equal (as dict keys, list items, set members) exactly when their
 * canonical encodings are equal: numbers by value, integers beyond 2^53 exactly, booleans
 * apart from numbers, NaN equal to NaN. Returns MPX_ETYPE for a value holding an object
 * reference. Returns 0, MPX_EPROTO or
 * MPX_ENOMEM (the packer's writes failed). */
int mpx__mp_canonical(const uint8_t *obj, size_t len, msgpack_packer *pk);

/* The ext type of an object reference (docs/protocol.md, "Object references"): its data is
 * the object's id, 8 bytes big-endian, then its type name. mpx__mp_canonical() refuses one
 * with MPX_ETYPE: a reference is never a key or a set member. */
#define MPX_REF_EXT_TYPE 1

/* True when obj, one whole object of len bytes, is a fixint, or a string or bytes with its
 * shortest header: then it is its own canonical encoding and need not be re-encoded. False
 * means only "not known": mpx__mp_canonical() decides. Inline: dict methods ask it of every
 * key. */
static inline bool mpx__mp_is_canonical(const uint8_t *obj, size_t len)
{
    if (len == 0) return false;
    uint8_t b = obj[0];
    if (b <= 0x7f || b >= 0xe0) return len == 1;                      /* fixint */
    if (b >= 0xa0 && b <= 0xbf) return len == 1 + (size_t)(b & 0x1f); /* fixstr */
    if (len < 2) return false;
    if (b == 0xd9) return obj[1] >= 32 && len == 2 + (size_t)obj[1]; /* str8 past fixstr */
    if (b == 0xc4) return len == 2 + (size_t)obj[1];                 /* bin8 */
    if (len < 3) return false;
    size_t n16 = (size_t)obj[1] << 8 | obj[2];
    if (b == 0xda || b == 0xc5) return n16 >= 256 && len == 3 + n16; /* str16, bin16 */
    return false; /* str32 and bin32 keys are rare enough to take the long way */
}

/* Whether the msgpack bytes p[0..len) hold an ext item anywhere (an object reference may be
 * one): a walk over the items' headers, plain items stepped over without a decode. */
bool mpx__mp_has_ext(const uint8_t *p, size_t len);

/* Writes bytes that already are msgpack into a packer's buffer. */
int mpx__mp_write_raw(msgpack_packer *pk, const void *p, size_t len);

#endif
