/*
 * t_dict.c — the dict type: a hash table of msgpack keys to msgpack values, in insertion order.
 *
 * Keys are stored in their canonical encoding (codec.h) and hashed with SipHash-1-3 under a
 * key drawn at start-up (siphash.h), so a client cannot choose keys that collide. Values are
 * stored exactly as they arrived. The layout is CPython's compact dict: an array of entries in
 * insertion order and a separate index of 32-bit slots, which makes keys(), items() and
 * popitem() follow insertion order for free. Each entry is one 64-byte cache line, and a pair
 * whose key and value bytes fit in its 48 spare bytes (most small pairs) is kept there: a
 * lookup touches two cache lines, the slot and the entry, and a small pair costs no allocation
 * of its own (a million 16-byte pairs: 73 bytes each instead of 81). Larger pairs keep their
 * bytes in one allocation the entry points to.
 * (Slots that also carried 32 bits of their key's hash, to pass other keys without reading
 * their entries, made update() 10% slower on bench/load's batch: the index doubled and most
 * probes end at their first slot anyway.)
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "object.h"
#include "siphash.h"

/* ================================ dict API ================================================ */

#define SLOT_EMPTY 0u
#define SLOT_DELETED UINT32_MAX

#define ENTRY_INLINE 48 /* key and value bytes an entry holds itself */

/* Key bytes, then value bytes: in the entry when they fit in ENTRY_INLINE, else in an
 * allocation the entry owns. klen is 0 once the pair is deleted (a key is never empty). */
typedef struct {
    uint64_t hash;
    uint32_t klen;
    uint32_t vlen;
    union {
        uint8_t bytes[ENTRY_INLINE];
        uint8_t *heap;
    } data;
} dict_entry;

_Static_assert(sizeof(dict_entry) == 64, "a dict entry is one cache line");

typedef struct {
    dict_entry *entries; /* insertion order, with holes where pairs were deleted */
    size_t n_entries;    /* entries used, holes included */
    size_t cap_entries;
    size_t live;       /* len(d) */
    uint32_t *index;   /* entry index + 1, SLOT_EMPTY or SLOT_DELETED */
    size_t index_size; /* a power of two */
    size_t index_used; /* slots not empty: live pairs and deleted markers */
} dict;

static mpx__sipkey hash_key;

static uint64_t dict_hash(const uint8_t *key, size_t len)
{
    return mpx__siphash13(&hash_key, key, len);
}

static bool pair_fits(size_t klen, size_t vlen)
{
    return klen + vlen <= ENTRY_INLINE;
}

static bool entry_live(const dict_entry *e)
{
    return e->klen != 0;
}

static const uint8_t *entry_key(const dict_entry *e)
{
    return pair_fits(e->klen, e->vlen) ? e->data.bytes : e->data.heap;
}

static const uint8_t *entry_value(const dict_entry *e)
{
    return entry_key(e) + e->klen;
}

/* Fills an unused entry with a pair's bytes. */
static void entry_fill(dict_entry *e, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen)
{
    uint8_t *bytes = e->data.bytes;
    if (!pair_fits(klen, vlen)) bytes = e->data.heap = mpx__xmalloc(klen + vlen);
    mpx__copy_small(bytes, key, klen);
    mpx__copy_small(bytes + klen, val, vlen);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
}

/* Frees what the entry owns and marks it a hole. */
static void entry_clear(dict_entry *e)
{
    if (entry_live(e) && !pair_fits(e->klen, e->vlen)) free(e->data.heap);
    e->klen = 0;
}

/* Gives the entry's pair a new value that does not fit where the old one was: the bytes move
 * between the entry and an allocation, or the allocation changes size. */
static void entry_move_value(dict_entry *e, const uint8_t *val, size_t vlen)
{
    size_t klen = e->klen;
    if (!pair_fits(klen, e->vlen) && !pair_fits(klen, vlen)) {
        if (vlen != e->vlen) e->data.heap = mpx__xrealloc(e->data.heap, klen + vlen);
        memcpy(e->data.heap + klen, val, vlen);
        e->vlen = (uint32_t)vlen;
        return;
    }
    uint8_t key[ENTRY_INLINE]; /* the key fits in the entry: one side of the move does */
    memcpy(key, entry_key(e), klen);
    entry_clear(e);
    entry_fill(e, key, klen, val, vlen);
}

/* Gives the entry's pair a new value. A small pair whose new value fits in its entry too
 * (nearly every update) is written here, inlined into update()'s loop: as a call, storing a
 * 10,000-pair batch took 244 µs of the loop's CPU against 204 (bench/load's batch, one
 * worker, medians of 6 runs each). */
static inline __attribute__((always_inline)) void entry_set_value(dict_entry *e, const uint8_t *val,
                                                                  size_t vlen)
{
    if (pair_fits(e->klen, e->vlen) && pair_fits(e->klen, vlen)) {
        mpx__copy_small(e->data.bytes + e->klen, val, vlen);
        e->vlen = (uint32_t)vlen;
        return;
    }
    entry_move_value(e, val, vlen);
}

/* The index slot holding key, or the slot where it would go (*found false). Inlined, as is
 * dict_set_hashed(), into update()'s loop: as calls, a 10,000-pair batch spent 20-30 µs of
 * its 290 in their entries and exits, and the answer went through memory (bench/load's
 * batch, per-thread CPU; 4 workers stored 9% more batches a second). */
static inline __attribute__((always_inline)) size_t
dict_probe(const dict *d, uint64_t hash, const uint8_t *key, size_t klen, bool *found)
{
    size_t mask = d->index_size - 1, i = hash & mask, free_slot = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        uint32_t s = d->index[i];
        if (s == SLOT_EMPTY) {
            *found = false;
            return free_slot != SIZE_MAX ? free_slot : i;
        }
        if (s == SLOT_DELETED) {
            if (free_slot == SIZE_MAX) free_slot = i;
            continue;
        }
        const dict_entry *e = &d->entries[s - 1];
        if (e->hash == hash && e->klen == klen && mpx__bytes_equal(entry_key(e), key, klen)) {
            *found = true;
            return i;
        }
    }
}

/* Drops the holes from the entries and rebuilds the index for at least min_live pairs, at
 * most half full (at two-thirds, a lookup in a large dict read 0.8 entries besides its own,
 * each a cache miss: update() took 10% longer). */
static void dict_rebuild(dict *d, size_t min_live)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_entries; i++)
        if (entry_live(&d->entries[i])) d->entries[n++] = d->entries[i];
    d->n_entries = n;
    size_t size = 8;
    while (size < min_live * 2)
        size *= 2;
    free(d->index);
    d->index = mpx__xcalloc(size, sizeof *d->index);
    d->index_size = size;
    d->index_used = n;
    for (size_t i = 0; i < n; i++) {
        size_t slot = d->entries[i].hash & (size - 1);
        while (d->index[slot] != SLOT_EMPTY)
            slot = (slot + 1) & (size - 1);
        d->index[slot] = (uint32_t)(i + 1);
    }
}

/* Doubles the room for entries; the array stays aligned to cache lines, which realloc()
 * would not keep. */
static void dict_grow_entries(dict *d)
{
    size_t cap = d->cap_entries ? d->cap_entries * 2 : 8;
    dict_entry *entries = mpx__xaligned_alloc(sizeof *entries, cap * sizeof *entries);
    if (d->n_entries) memcpy(entries, d->entries, d->n_entries * sizeof *entries);
    free(d->entries);
    d->entries = entries;
    d->cap_entries = cap;
}

static dict *dict_new(void)
{
    dict *d = mpx__xcalloc(1, sizeof *d);
    dict_rebuild(d, 0);
    return d;
}

static void dict_clear(dict *d)
{
    for (size_t i = 0; i < d->n_entries; i++)
        entry_clear(&d->entries[i]);
    free(d->entries);
    d->entries = NULL;
    d->n_entries = d->cap_entries = d->live = 0;
    dict_rebuild(d, 0);
}

static void dict_free(void *state)
{
    dict *d = state;
    dict_clear(d);
    free(d->index);
    free(d);
}

static dict_entry *dict_find(const dict *d, const mpx__span *key)
{
    bool found;
    size_t slot = dict_probe(d, dict_hash(key->p, key->len), key->p, key->len, &found);
    return found ? &d->entries[d->index[slot] - 1] : NULL;
}

/* Stores val under key, whose hash is given (replacing a value in place keeps the pair's
 * position). */
static inline __attribute__((always_inline)) void
dict_set_hashed(dict *d, uint64_t hash, const mpx__span *k, const mpx__span *v)
{
    bool found;
    size_t slot = dict_probe(d, hash, k->p, k->len, &found);
    if (found) {
        entry_set_value(&d->entries[d->index[slot] - 1], v->p, v->len);
        return;
    }
    if ((d->index_used + 1) * 2 > d->index_size || d->n_entries == UINT32_MAX - 1) {
        dict_rebuild(d, d->live + 1);
        slot = dict_probe(d, hash, k->p, k->len, &found);
    }
    if (d->n_entries == d->cap_entries) dict_grow_entries(d);
    dict_entry *e = &d->entries[d->n_entries];
    e->hash = hash;
    entry_fill(e, k->p, k->len, v->p, v->len);
    if (d->index[slot] == SLOT_EMPTY) d->index_used++;
    d->index[slot] = (uint32_t)(++d->n_entries);
    d->live++;
}

static void dict_set(dict *d, const mpx__span *k, const mpx__span *v)
{
    dict_set_hashed(d, dict_hash(k->p, k->len), k, v);
}

/* Removes the pair in index slot `slot`; trailing holes are trimmed so popitem stays O(1). */
static void dict_remove_slot(dict *d, size_t slot)
{
    entry_clear(&d->entries[d->index[slot] - 1]);
    d->index[slot] = SLOT_DELETED;
    d->live--;
    while (d->n_entries > 0 && !entry_live(&d->entries[d->n_entries - 1]))
        d->n_entries--;
}

static bool dict_remove(dict *d, const mpx__span *key)
{
    bool found;
    size_t slot = dict_probe(d, dict_hash(key->p, key->len), key->p, key->len, &found);
    if (found) dict_remove_slot(d, slot);
    return found;
}

/* ================================ dict methods ============================================ */

static msgpack_sbuffer key_buf;

/* The canonical form of a key argument, in a buffer reused by every call (one thread). */
static int dict_key(mpx__req *req, const mpx__span *arg, mpx__span *key)
{
    if (mpx__mp_is_canonical(arg->p, arg->len)) { /* most keys: short strings and ints */
        *key = *arg;
        return 0;
    }
    key_buf.size = 0;
    *key = (mpx__span){0};
    int rc = mpx__mp_canonical(arg->p, arg->len, &key_buf);
    if (rc) return mpx__req_fail(req, rc, "bad key");
    *key = (mpx__span){(const uint8_t *)key_buf.data, key_buf.size};
    return 0;
}

static int key_error(mpx__req *req, const mpx__span *key)
{
    char repr[96];
    mpx__repr(key, repr, sizeof repr);
    return mpx__req_fail(req, MPX_EKEY, "KeyError: %s", repr);
}

static int reply_raw(mpx__req *req, const uint8_t *p, size_t len)
{
    return mpx__mp_write_raw(req->out, p, len);
}

static int reply_nil(mpx__req *req)
{
    return msgpack_pack_nil(req->out) == 0 ? 0 : MPX_ENOMEM;
}

static int m_set(mpx__req *req)
{
    mpx__span key;
    int rc = dict_key(req, &req->argv[0], &key);
    if (rc) return rc;
    dict_set(req->obj->state, &key, &req->argv[1]);
    return reply_nil(req);
}

static int m_get(mpx__req *req)
{
    mpx__span key;
    int rc = dict_key(req, &req->argv[0], &key);
    if (rc) return rc;
    const dict_entry *e = dict_find(req->obj->state, &key);
    if (e) return reply_raw(req, entry_value(e), e->vlen);
    if (req->argc == 2) return reply_raw(req, req->argv[1].p, req->argv[1].len);
    return key_error(req, &req->argv[0]);
}

static int m_delete(mpx__req *req)
{
    mpx__span key;
    int rc = dict_key(req, &req->argv[0], &key);
    if (rc) return rc;
    if (!dict_remove(req->obj->state, &key)) return key_error(req, &req->argv[0]);
    return reply_nil(req);
}

static int m_contains(mpx__req *req)
{
    mpx__span key;
    int rc = dict_key(req, &req->argv[0], &key);
    if (rc) return rc;
    bool found = dict_find(req->obj->state, &key) != NULL;
    return (found ? msgpack_pack_true(req->out) : msgpack_pack_false(req->out)) ? MPX_ENOMEM : 0;
}

static int m_len(mpx__req *req)
{
    const dict *d = req->obj->state;
    return msgpack_pack_uint64(req->out, d->live) ? MPX_ENOMEM : 0;
}

/* keys(), values() and items(): which parts of each pair to list. */
enum { LIST_KEYS = 1, LIST_VALUES = 2, LIST_ITEMS = 3 };

static int list_pairs(mpx__req *req, int what)
{
    const dict *d = req->obj->state;
    int rc = msgpack_pack_array(req->out, d->live) ? MPX_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < d->n_entries; i++) {
        const dict_entry *e = &d->entries[i];
        if (!entry_live(e)) continue;
        if (what == LIST_ITEMS) rc = msgpack_pack_array(req->out, 2) ? MPX_ENOMEM : 0;
        if (rc == 0 && (what & LIST_KEYS)) rc = reply_raw(req, entry_key(e), e->klen);
        if (rc == 0 && (what & LIST_VALUES)) rc = reply_raw(req, entry_value(e), e->vlen);
    }
    return rc;
}

static int m_keys(mpx__req *req)
{
    return list_pairs(req, LIST_KEYS);
}

static int m_values(mpx__req *req)
{
    return list_pairs(req, LIST_VALUES);
}

static int m_items(mpx__req *req)
{
    return list_pairs(req, LIST_ITEMS);
}

static int m_copy(mpx__req *req)
{
    const dict *d = req->obj->state;
    int rc = msgpack_pack_map(req->out, d->live) ? MPX_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < d->n_entries; i++) {
        const dict_entry *e = &d->entries[i];
        if (entry_live(e) && (rc = reply_raw(req, entry_key(e), e->klen)) == 0)
            rc = reply_raw(req, entry_value(e), e->vlen);
    }
    return rc;
}

/* update() makes one walk of its argument, which dispatch leaves to it (checks_last_arg):
 * the walk checks every byte, as dispatch would, and records each pair with its key's hash.
 * Nothing is stored until the whole argument has passed, so a malformed or ill-typed
 * argument changes nothing. The records of up to UPDATE_CHUNK pairs are kept at once (24
 * bytes a pair); a larger argument is checked whole, then recorded and stored a chunk at a
 * time, its later chunks walked again. (Walking the argument once in dispatch and again here
 * was a tenth of mpxd's time storing a 10,000-pair batch.) */
#define UPDATE_CHUNK 16384

/* A pair as the walk found it: its value's bytes follow its key's. */
typedef struct {
    const uint8_t *key;
    uint32_t klen;
    uint32_t vlen : 31;     /* enough: a request body is at most 2^31 bytes (--max-message) */
    uint32_t canonical : 1; /* the key is its own canonical form, and hash is its hash */
    uint64_t hash;
} update_rec;

static update_rec update_recs[UPDATE_CHUNK]; /* one thread: reused by every update() */

/* Steps over one key or value `depth` levels inside the argument. */
static int skip_item(mpx__mp_cursor *c, int depth)
{
    int rc = mpx__mp_skip_plain(c);
    return rc == 1 ? 0 : rc == 0 ? mpx__mp_skip_at(c, depth) : rc;
}

/* Reads the next pair: a key and a value in a map, a two-item array in an array of pairs. */
static int read_pair(mpx__mp_cursor *c, bool is_map, update_rec *rec)
{
    uint32_t n;
    int depth = 1;
    if (!is_map) {
        if (mpx__mp_array(c, &n) || n != 2) return MPX_ETYPE;
        depth = 2;
    }
    const uint8_t *key = c->p;
    if (skip_item(c, depth)) return MPX_EBADREQ;
    const uint8_t *val = c->p;
    if (skip_item(c, depth)) return MPX_EBADREQ;
    size_t klen = (size_t)(val - key);
    /* one store of the whole record: setting the bit-fields one by one read the record back */
    *rec = (update_rec){.key = key,
                        .klen = (uint32_t)klen,
                        .vlen = (uint32_t)(c->p - val),
                        .canonical = mpx__mp_is_canonical(key, klen)};
    return 0;
}

/* Hashes the keys of recs[0..n), eight at a time in vector lanes. */
static void hash_recs(update_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i += MPX_SIPHASH_LANES) {
        size_t group = n - i < MPX_SIPHASH_LANES ? n - i : MPX_SIPHASH_LANES;
        const uint8_t *keys[MPX_SIPHASH_LANES] = {0};
        size_t lens[MPX_SIPHASH_LANES] = {0};
        uint64_t hashes[MPX_SIPHASH_LANES];
        for (size_t j = 0; j < group; j++) {
            keys[j] = recs[i + j].key;
            lens[j] = recs[i + j].klen;
        }
        mpx__siphash13_many(&hash_key, group, keys, lens, hashes);
        for (size_t j = 0; j < group; j++)
            recs[i + j].hash = hashes[j];
    }
}

/* Walks n pairs from *c, recording the first `keep` with their hashes; *resume is left after
 * the last pair recorded. Returns 0, or MPX_EBADREQ or MPX_ETYPE with *bad the pair's index. */
static int scan_pairs(mpx__mp_cursor *c, bool is_map, uint32_t n, size_t keep,
                      mpx__mp_cursor *resume, uint32_t *bad)
{
    update_rec spare;
    for (uint32_t i = 0; i < n; i++) {
        int rc = read_pair(c, is_map, i < keep ? &update_recs[i] : &spare);
        if (rc) {
            *bad = i;
            return rc;
        }
        if (i + 1 == keep) *resume = *c;
    }
    hash_recs(update_recs, keep);
    return 0;
}

/* update()'s argument was refused by its walk: malformed (what dispatch would have said of
 * it), or else not a map or an array of pairs. `bad` is the item the walk stopped at. */
static int update_refuse(mpx__req *req, bool is_collection, uint32_t bad)
{
    const char *why;
    if (mpx__arg_check(&req->argv[0], &why)) return mpx__req_fail(req, MPX_EBADREQ, "%s", why);
    if (!is_collection)
        return mpx__req_fail(req, MPX_ETYPE, "update() takes a map or an array of pairs");
    return mpx__req_fail(req, MPX_ETYPE, "update(): item %u is not a [key, value] pair", bad);
}

static int store_rec(mpx__req *req, dict *d, const update_rec *r)
{
    mpx__span k = {r->key, r->klen}, v = {r->key + r->klen, r->vlen}, key;
    if (r->canonical) {
        dict_set_hashed(d, r->hash, &k, &v);
        return 0;
    }
    int rc = dict_key(req, &k, &key); /* re-encoded into the one shared buffer */
    if (rc == 0) dict_set(d, &key, &v);
    return rc;
}

/* Pairs ahead of the one being stored whose index slot, and whose entry, are fetched: in a
 * large dict each is a cache miss, the entry's waiting on the slot's. */
#define SLOT_AHEAD 16
#define ENTRY_AHEAD 8

/* Stores recs[0..n) in order. The fetches are hints: a slot read ahead may have changed by
 * the time its pair is stored, which reads it again. */
static int store_recs(mpx__req *req, dict *d, const update_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t mask = d->index_size - 1;
        if (i + SLOT_AHEAD < n) __builtin_prefetch(&d->index[recs[i + SLOT_AHEAD].hash & mask]);
        if (i + ENTRY_AHEAD < n) {
            uint32_t s = d->index[recs[i + ENTRY_AHEAD].hash & mask];
            if (s != SLOT_EMPTY && s != SLOT_DELETED) __builtin_prefetch(&d->entries[s - 1], 1);
        }
        int rc = store_rec(req, d, &recs[i]);
        if (rc) return rc;
    }
    return 0;
}

static int m_update(mpx__req *req)
{
    mpx__mp_cursor c, resume;
    uint32_t n, bad = 0;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    bool is_map = mpx__mp_map(&c, &n) == 0;
    if (!is_map && mpx__mp_array(&c, &n)) return update_refuse(req, false, 0);
    size_t chunk = n < UPDATE_CHUNK ? n : UPDATE_CHUNK;
    resume = c;
    if (scan_pairs(&c, is_map, n, chunk, &resume, &bad) || c.p != c.end)
        return update_refuse(req, true, bad);
    for (uint32_t done = 0;;) {
        int rc = store_recs(req, req->obj->state, update_recs, chunk);
        if (rc) return rc;
        if ((done += (uint32_t)chunk) == n) break;
        chunk = n - done < UPDATE_CHUNK ? n - done : UPDATE_CHUNK;
        c = resume;
        scan_pairs(&c, is_map, (uint32_t)chunk, chunk, &resume, &bad); /* checked above */
    }
    return reply_nil(req);
}

static int m_pop(mpx__req *req)
{
    mpx__span key;
    dict *d = req->obj->state;
    int rc = dict_key(req, &req->argv[0], &key);
    if (rc) return rc;
    bool found;
    size_t slot = dict_probe(d, dict_hash(key.p, key.len), key.p, key.len, &found);
    if (!found) {
        if (req->argc == 2) return reply_raw(req, req->argv[1].p, req->argv[1].len);
        return key_error(req, &req->argv[0]);
    }
    const dict_entry *e = &d->entries[d->index[slot] - 1];
    rc = reply_raw(req, entry_value(e), e->vlen);
    dict_remove_slot(d, slot);
    return rc;
}

static int m_popitem(mpx__req *req)
{
    dict *d = req->obj->state;
    if (d->live == 0)
        return mpx__req_fail(req, MPX_EKEY, "KeyError: popitem(): dictionary is empty");
    const dict_entry *e = &d->entries[d->n_entries - 1]; /* trailing holes are trimmed */
    int rc = msgpack_pack_array(req->out, 2) ? MPX_ENOMEM : 0;
    if (rc == 0 && (rc = reply_raw(req, entry_key(e), e->klen)) == 0)
        rc = reply_raw(req, entry_value(e), e->vlen);
    bool found;
    size_t slot = dict_probe(d, e->hash, entry_key(e), e->klen, &found);
    dict_remove_slot(d, slot);
    return rc;
}

static int m_setdefault(mpx__req *req)
{
    static const uint8_t nil = 0xc0;
    mpx__span key;
    int rc = dict_key(req, &req->argv[0], &key);
    if (rc) return rc;
    const dict_entry *e = dict_find(req->obj->state, &key);
    if (e) return reply_raw(req, entry_value(e), e->vlen);
    mpx__span dflt = req->argc == 2 ? req->argv[1] : (mpx__span){&nil, 1};
    dict_set(req->obj->state, &key, &dflt);
    return reply_raw(req, dflt.p, dflt.len);
}

static int m_clear(mpx__req *req)
{
    dict_clear(req->obj->state);
    return reply_nil(req);
}

static int dict_create(mpx__req *req, void **state)
{
    (void)req;
    static bool keyed;
    if (!keyed) {
        mpx__sipkey_random(&hash_key);
        msgpack_sbuffer_init(&key_buf);
        keyed = true;
    }
    *state = dict_new();
    return 0;
}

static const mpx__method dict_methods[] = {
    {.name = "set", .fn = m_set, .min_args = 2, .max_args = 2},
    {.name = "get", .fn = m_get, .min_args = 1, .max_args = 2},
    {.name = "delete", .fn = m_delete, .min_args = 1, .max_args = 1},
    {.name = "contains", .fn = m_contains, .min_args = 1, .max_args = 1},
    {.name = "len", .fn = m_len, .min_args = 0, .max_args = 0},
    {.name = "keys", .fn = m_keys, .min_args = 0, .max_args = 0},
    {.name = "values", .fn = m_values, .min_args = 0, .max_args = 0},
    {.name = "items", .fn = m_items, .min_args = 0, .max_args = 0},
    {.name = "update", .fn = m_update, .min_args = 1, .max_args = 1, .checks_last_arg = true},
    {.name = "pop", .fn = m_pop, .min_args = 1, .max_args = 2},
    {.name = "popitem", .fn = m_popitem, .min_args = 0, .max_args = 0},
    {.name = "setdefault", .fn = m_setdefault, .min_args = 1, .max_args = 2},
    {.name = "clear", .fn = m_clear, .min_args = 0, .max_args = 0},
    {.name = "copy", .fn = m_copy, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_dict = {
    .name = "dict",
    .create = dict_create,
    .destroy = dict_free,
    .methods = dict_methods,
    .n_methods = sizeof dict_methods / sizeof dict_methods[0],
};
