/*
 * siphash.c — SipHash with 1-3 and 2-4 rounds (see siphash.h for why it is written here).
 * It follows the reference implementation by Aumasson and Bernstein: the message is read as
 * little-endian 64-bit words, and the last word carries the length in its top byte.
 */
#include <sodium.h>

#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

typedef struct {
    uint64_t v0, v1, v2, v3;
} sipstate;

static inline void sipround(sipstate *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t w = 0;
    for (int i = 0; i < 8; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
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
