/*
 * dict.h — the dict's storage (internal to mpxd): a hash table of msgpack keys to msgpack
 * values in insertion order, whose every operation does a bounded amount of work however large
 * the table grows. t_dict.c holds the dict type's methods on top of it.
 */
#ifndef MPX_SERVER_DICT_H
#define MPX_SERVER_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPX_DICT_INLINE 48 /* key and value bytes an entry holds itself */

/* One pair: its key's hash, then the key's bytes followed by the value's, in the entry when
 * they fit in MPX_DICT_INLINE bytes, else in an allocation the entry owns. klen is 0 for a
 * hole left by a deleted pair (a key is never empty). */
typedef struct {
    uint64_t hash;
    uint32_t klen;
    uint32_t vlen;
    union {
        uint8_t bytes[MPX_DICT_INLINE];
        uint8_t *heap;
    } data;
} mpx__dict_entry;

/* A pair as dict.update() finds it in a request: the value's bytes follow the key's. */
typedef struct {
    const uint8_t *key;
    uint32_t klen;
    uint32_t vlen : 31;     /* a request body is at most 2^31 bytes (--max-message) */
    uint32_t canonical : 1; /* the key is its own canonical form (t_dict.c's flag) */
    uint64_t hash;
} mpx__dict_pair;

typedef struct mpx__dict mpx__dict;

/* An empty dict. Caller owns it; free it with mpx__dict_free(). */
mpx__dict *mpx__dict_new(void);

/* Tells fn of each value mpx__dict_clear() and mpx__dict_free() let go, as they free it (a
 * value removed or overwritten by a call is the caller's to handle): for values that hold
 * something, such as object references. */
typedef void (*mpx__dict_value_fn)(const uint8_t *val, size_t len);
void mpx__dict_on_value_free(mpx__dict *d, mpx__dict_value_fn fn);

/* Hands the dict over to be freed over the loop's next turns (lazyfree.h). */
void mpx__dict_free(mpx__dict *d);

/* Empties the dict at once; its old pairs are freed over the loop's next turns. */
void mpx__dict_clear(mpx__dict *d);

/* The keyed hash of a key's canonical bytes, one at a time or for n pairs (pairs[i].hash). */
uint64_t mpx__dict_hash(const uint8_t *key, size_t len);
void mpx__dict_hash_pairs(mpx__dict_pair *pairs, size_t n);

/* The pair whose key is key[0..klen) (hash its hash), or NULL. Borrowed; valid until the next
 * change to the dict. */
mpx__dict_entry *mpx__dict_find(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen);

/* Stores the value under the key: in place when the key is there (keeping its position), else
 * as the newest pair. Returns 0, or -1 when the dict already holds its maximum of
 * MPX_DICT_MAX_PAIRS positions (nothing is stored). */
#define MPX_DICT_MAX_PAIRS (UINT32_MAX - 1)
int mpx__dict_set(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen, const uint8_t *val,
                  size_t vlen);

/* mpx__dict_set() for pairs[0..n), whose hashes are set. Returns how many were stored: n, or
 * fewer when the dict is full. */
size_t mpx__dict_set_pairs(mpx__dict *d, const mpx__dict_pair *pairs, size_t n);

/* Removes the pair under the key; false if absent. */
bool mpx__dict_remove(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen);

/* Removes the newest pair (the dict must not be empty). */
void mpx__dict_remove_last(mpx__dict *d);

/* The newest pair, or NULL if empty. Borrowed; valid until the next change. */
mpx__dict_entry *mpx__dict_last(mpx__dict *d);

size_t mpx__dict_len(const mpx__dict *d);
/* The key and value bytes of every pair, for bounding replies that list them all. */
size_t mpx__dict_bytes(const mpx__dict *d);

static inline const uint8_t *mpx__dict_key(const mpx__dict_entry *e)
{
    return e->klen + e->vlen <= MPX_DICT_INLINE ? e->data.bytes : e->data.heap;
}

static inline const uint8_t *mpx__dict_value(const mpx__dict_entry *e)
{
    return mpx__dict_key(e) + e->klen;
}

/* Walking the pairs in insertion order. Every pair has a sequence number, larger for every
 * pair stored after it, that stays with it while it lives: a walk can resume from a number
 * whatever was stored, removed or moved meanwhile (dict.scan's cursor). */
typedef struct {
    size_t pos;
} mpx__dict_iter;

/* Starts a walk at the first pair whose number is at least from (0: the oldest pair). */
void mpx__dict_iter_start(const mpx__dict *d, mpx__dict_iter *it, uint64_t from);

/* The next pair of the walk and its number (*seq may be NULL), or NULL at the end. With holes
 * NULL, holes left by deleted pairs are stepped over; else a hole is returned too (klen 0) and
 * counted in *holes, so that the caller can bound how many one call steps over. Borrowed;
 * valid until the next change. */
const mpx__dict_entry *mpx__dict_iter_next(const mpx__dict *d, mpx__dict_iter *it, uint64_t *seq,
                                           size_t *holes);

/* Work units (index slots moved, entries moved, holes trimmed) the last change did beyond its
 * own pair: for tests that bound it. */
size_t mpx__dict_last_work(const mpx__dict *d);

#endif
