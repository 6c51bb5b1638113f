/*
 * siphash.h — SipHash-1-3, the keyed hash of dict keys and of every table (internal to mpxd).
 *
 * A keyed hash keeps a client from choosing keys that all land in one bucket. SipHash-2-4
 * (libsodium's crypto_shorthash) was a large part of mpxd's time storing a batch; 1-3 is
 * what CPython and Rust hash their dicts with, and takes 5 rounds for a short key against 8.
 * libsodium has only 2-4, so the rounds are written here, and the test checks the same code
 * with 2-4 rounds against libsodium.
 */
#ifndef MPX_SERVER_SIPHASH_H
#define MPX_SERVER_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define MPX_SIPHASH_KEYBYTES 16

typedef struct {
    uint64_t k0, k1; /* the 16 key bytes read as two little-endian words */
} mpx__sipkey;

/* Reads a key from 16 bytes (the byte order SipHash's reference vectors use). */
void mpx__sipkey_set(mpx__sipkey *k, const uint8_t bytes[MPX_SIPHASH_KEYBYTES]);
/* Draws a random key (libsodium's randombytes). */
void mpx__sipkey_random(mpx__sipkey *k);

uint64_t mpx__siphash13(const mpx__sipkey *k, const void *data, size_t len);

/* Messages mpx__siphash13_many() hashes together, one per vector lane. */
#define MPX_SIPHASH_LANES 8

/* out[i] = mpx__siphash13(k, in[i], len[i]) for i < n, each group of MPX_SIPHASH_LANES
 * messages of up to 31 bytes hashed at once in vector lanes (AVX-512 or AVX2 where the CPU
 * has it), several times faster than one by one. */
void mpx__siphash13_many(const mpx__sipkey *k, size_t n, const uint8_t *const *in,
                         const size_t *len, uint64_t *out);
/* The same code with SipHash-2-4's rounds, so tests can compare it with libsodium. */
uint64_t mpx__siphash24(const mpx__sipkey *k, const void *data, size_t len);

#endif
