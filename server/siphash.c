/*
 * siphash.c — SipHash with 1-3 and 2-4 rounds (see siphash.h for why it is written here).
 * It follows the reference implementation by Aumasson and Bernstein: the message is read as
 * little-endian 64-bit words, and the last word carries the length in its top byte.
 * mpx__siphash13_many() runs the same rounds on eight messages at once, one in each lane of
 * a vector (GCC's vector extensions; compiled for AVX-512, AVX2 and plain x86-64, the best
 * chosen when mpxd loads).
 */
#include <endian.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "hash.h"
#include "siphash.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound, written once for four words and for four vectors of words: GCC's vector
 * extensions give vectors the same operators. */
#define SIPROUND(s)                                                                                \
    do {                                                                                           \
        (s)->v0 += (s)->v1;                                                                        \
        (s)->v1 = ROTL((s)->v1, 13);                                                               \
        (s)->v1 ^= (s)->v0;                                                                        \
        (s)->v0 = ROTL((s)->v0, 32);                                                               \
        (s)->v2 += (s)->v3;                                                                        \
        (s)->v3 = ROTL((s)->v3, 16);                                                               \
        (s)->v3 ^= (s)->v2;                                                                        \
        (s)->v0 += (s)->v3;                                                                        \
        (s)->v3 = ROTL((s)->v3, 21);                                                               \
        (s)->v3 ^= (s)->v0;                                                                        \
        (s)->v2 += (s)->v1;                                                                        \
        (s)->v1 = ROTL((s)->v1, 17);                                                               \
        (s)->v1 ^= (s)->v2;                                                                        \
        (s)->v2 = ROTL((s)->v2, 32);                                                               \
    } while (0)

typedef struct {
    uint64_t v0, v1, v2, v3;
} sipstate;

static inline void sipround(sipstate *s)
{
    SIPROUND(s);
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return le64toh(w);
}

/* The last len % 8 bytes as a word. A message of 8 bytes or more has its last 8 read in one
 * load and shifted (a byte-wise copy through the stack was a fifth of the hash's time). */
static inline uint64_t load_tail(const uint8_t *in, size_t left, size_t len)
{
    if (left == 0) return 0;
    if (len >= 8) return load_le64(in + left - 8) >> (64 - 8 * left);
    uint64_t w = 0;
    while (left--)
        w = w << 8 | in[left];
    return w;
}

static inline void compress(sipstate *s, uint64_t m, int rounds)
{
    s->v3 ^= m;
    for (int r = 0; r < rounds; r++)
        sipround(s);
    s->v0 ^= m;
}

/* Inlined into each caller with constant rounds, so the loops unroll. */
static inline uint64_t siphash(const mpx__sipkey *k, const uint8_t *in, size_t len, int c_rounds,
                               int d_rounds)
{
    sipstate s = {k->k0 ^ 0x736f6d6570736575ull, k->k1 ^ 0x646f72616e646f6dull,
                  k->k0 ^ 0x6c7967656e657261ull, k->k1 ^ 0x7465646279746573ull};
    const uint8_t *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8)
        compress(&s, load_le64(in), c_rounds);
    compress(&s, load_tail(in, len & 7, len) | (uint64_t)(len & 0xff) << 56, c_rounds);
    s.v2 ^= 0xff;
    for (int r = 0; r < d_rounds; r++)
        sipround(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

void mpx__sipkey_set(mpx__sipkey *k, const uint8_t bytes[MPX_SIPHASH_KEYBYTES])
{
    k->k0 = load_le64(bytes);
    k->k1 = load_le64(bytes + 8);
}

void mpx__sipkey_random(mpx__sipkey *k)
{
    uint8_t bytes[MPX_SIPHASH_KEYBYTES];
    randombytes_buf(bytes, sizeof bytes);
    mpx__sipkey_set(k, bytes);
    sodium_memzero(bytes, sizeof bytes);
}

uint64_t mpx__siphash13(const mpx__sipkey *k, const void *data, size_t len)
{
    return siphash(k, data, len, 1, 3);
}

uint64_t mpx__siphash24(const mpx__sipkey *k, const void *data, size_t len)
{
    return siphash(k, data, len, 2, 4);
}

/* ---------------------------------------------------------------------------------------- */

/* Eight 64-bit lanes; GCC lowers the operators to whatever vectors the target has. */
typedef uint64_t sip_lanes __attribute__((vector_size(8 * MPX_SIPHASH_LANES)));

/* Messages up to this many words (31 bytes) go through the lanes; a group holding a longer
 * one is hashed one message at a time. */
#define LANE_MAX_WORDS 4

/* Inlined into each of mpx__siphash13_many's clones, so they are compiled for its target. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct {
    sip_lanes v0, v1, v2, v3;
} sipstate_lanes;

static ALWAYS_INLINE void sipround_lanes(sipstate_lanes *s)
{
    SIPROUND(s);
}

/* Word j of a message, the last word (tail and length) included; 0 past the last. */
static ALWAYS_INLINE uint64_t message_word(const uint8_t *in, size_t len, size_t j)
{
    size_t full = len / 8;
    if (j < full) return load_le64(in + 8 * j);
    if (j == full) return load_tail(in + 8 * full, len & 7, len) | (uint64_t)(len & 0xff) << 56;
    return 0;
}

/* SipHash-1-3 of eight messages, one per lane. A lane whose message has fewer words than
 * the longest keeps its state through the extra compressions (masked), so messages of any
 * lengths up to LANE_MAX_WORDS share the lanes. Each word vector is built from registers:
 * laid out in memory first, it was read back before the stores had landed. */
static ALWAYS_INLINE bool siphash13_lanes(const mpx__sipkey *k, const uint8_t *const *in,
                                          const size_t *len, uint64_t *out)
{
    size_t most = 0;
    for (int i = 0; i < MPX_SIPHASH_LANES; i++) {
        if (len[i] / 8 >= LANE_MAX_WORDS) return false;
        if (len[i] / 8 + 1 > most) most = len[i] / 8 + 1;
    }
    sip_lanes k0 = {0}, k1 = {0};
    k0 += k->k0;
    k1 += k->k1;
    _Static_assert(MPX_SIPHASH_LANES == 8, "one initializer per lane");
    sip_lanes n_words = {len[0] / 8 + 1, len[1] / 8 + 1, len[2] / 8 + 1, len[3] / 8 + 1,
                         len[4] / 8 + 1, len[5] / 8 + 1, len[6] / 8 + 1, len[7] / 8 + 1};
    sipstate_lanes s = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                        k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    for (size_t j = 0; j < most; j++) {
        sip_lanes m = {message_word(in[0], len[0], j), message_word(in[1], len[1], j),
                       message_word(in[2], len[2], j), message_word(in[3], len[3], j),
                       message_word(in[4], len[4], j), message_word(in[5], len[5], j),
                       message_word(in[6], len[6], j), message_word(in[7], len[7], j)};
        sipstate_lanes t = s;
        t.v3 ^= m;
        sipround_lanes(&t);
        t.v0 ^= m;
        sip_lanes live = (sip_lanes)(n_words > j); /* all ones where word j is the message's */
        s.v0 = (t.v0 & live) | (s.v0 & ~live);
        s.v1 = (t.v1 & live) | (s.v1 & ~live);
        s.v2 = (t.v2 & live) | (s.v2 & ~live);
        s.v3 = (t.v3 & live) | (s.v3 & ~live);
    }
    s.v2 ^= 0xff;
    for (int r = 0; r < 3; r++)
        sipround_lanes(&s);
    sip_lanes h = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
    memcpy(out, &h, sizeof h);
    return true;
}

/* GCC compiles the function once per target and picks one when the program loads (ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MPX_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MPX_SIMD_CLONES
#endif

MPX_SIMD_CLONES
void mpx__siphash13_many(const mpx__sipkey *k, size_t n, const uint8_t *const *in,
                         const size_t *len, uint64_t *out)
{
    size_t i = 0;
    for (; i + MPX_SIPHASH_LANES <= n; i += MPX_SIPHASH_LANES)
        if (!siphash13_lanes(k, in + i, len + i, out + i))
            for (int j = 0; j < MPX_SIPHASH_LANES; j++)
                out[i + j] = siphash(k, in[i + j], len[i + j], 1, 3);
    for (; i < n; i++)
        out[i] = siphash(k, in[i], len[i], 1, 3);
}

uint32_t mpx__table_hash(const void *key, size_t len)
{
    static mpx__sipkey table_key; /* one thread: mpxd's loop */
    static bool keyed;
    if (!keyed) {
        mpx__sipkey_random(&table_key);
        keyed = true;
    }
    return (uint32_t)mpx__siphash13(&table_key, key, len);
}
