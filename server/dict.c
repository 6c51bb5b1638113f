/*
 * dict.c — the dict's storage: CPython's compact, insertion-ordered table, made so that no
 * operation's cost grows with the size of the dict.
 *
 * Pairs live in an array of entries in insertion order, and an index of 32-bit slots maps a
 * key's hash to its entry's position (so keys(), items() and popitem() follow insertion order
 * for free). Each entry is one 64-byte cache line, and a pair whose key and value fit in its 48
 * spare bytes (most small pairs) is kept there: a lookup touches the slot and the entry, and a
 * small pair costs no allocation of its own.
 *
 * Growth never stops the table for a pass over every pair:
 *  - The entries are kept in chunks of 4096; a new chunk is added as the dict grows, and no
 *    entry is ever copied to a larger array.
 *  - When the index needs more room (or is full of the tombstones deletions leave), a new index
 *    is made beside it and the old one's slots are moved into it a few at a time, by every
 *    operation that follows, as Redis rehashes its dict. Meanwhile a lookup tries the new index,
 *    then the old. The new index is sized so that the move ends long before it fills. A large
 *    one is mapped zero from the kernel and its pages are touched a few at a time beforehand,
 *    by the writes that fill the index from 3/8 to 1/2: touched at once, or by the first moves
 *    into it, its pages would cost the calls after the move as much as a pass over the dict.
 *  - Deleted pairs leave holes in the entries; once holes outnumber pairs, the live entries are
 *    moved down over them a few at a time (each moved entry's index slot is updated), so
 *    insertion order is kept and the memory comes back.
 *  - Freeing or clearing a dict hands its storage to lazyfree.c.
 * Every pair carries a sequence number that only grows with insertion order and follows the
 * pair when it moves: dict.scan's cursor, valid whatever the table did between two calls.
 *
 * Keys are hashed with SipHash-1-3 under a key drawn at start-up (siphash.h), so a client
 * cannot choose keys that collide.
 */
#include "dict.h"

#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "lazyfree.h"
#include "siphash.h"

#define CHUNK_BITS 12
#define CHUNK_LEN ((size_t)1 << CHUNK_BITS)
#define CHUNK_MASK (CHUNK_LEN - 1)

/* A slot holds an entry's position + 1, or one of: */
#define SLOT_EMPTY 0u
#define SLOT_TOMB UINT32_MAX
#define NO_SLOT SIZE_MAX
#define SLOT_HOLDS_PAIR(s) ((s) != SLOT_EMPTY && (s) != SLOT_TOMB)

/* How much moving one operation does while the index is being moved: slots looked at, and
 * pairs moved. The sizes in resize_start() need a write to move 2 pairs for the move to end
 * before the new index is 3/4 full, and to look at up to 32 slots when shrinking. Two is also
 * as thinly as the move can be spread: it lasts until the index is 3/8 full, and the next
 * index is made ready from there (prepare_step), so that every write of a growing dict does
 * about the same extra work. Reads help the move along too. */
#define MIGRATE_VISITS_WRITE 64
#define MIGRATE_MOVES_WRITE 2
#define MIGRATE_VISITS_READ 16
#define MIGRATE_MOVES_READ 2
#define SMALL_INDEX 1024 /* an index this small is moved at once */

/* Compaction: entries looked at and moved by one write. Reclaiming holes has no deadline, so
 * it goes gently. */
#define COMPACT_VISITS 64
#define COMPACT_MOVES 8

#define FREE_PER_CHUNK CHUNK_LEN

typedef struct {
    mpx__dict_entry e[CHUNK_LEN];
    uint64_t seq[CHUNK_LEN];
} chunk;

_Static_assert(sizeof(mpx__dict_entry) == 64, "a dict entry is one cache line");
_Static_assert(sizeof(chunk) % 64 == 0, "a chunk keeps its entries aligned");

typedef struct {
    uint32_t *slots;
    size_t size; /* a power of two */
    size_t used; /* slots not empty: pairs and tombstones */
} table;

/* An index this large is mapped from the kernel (alloc.h): it is zero without being cleared. */
#define MAPPED_INDEX_BYTES ((size_t)256 << 10)

static table table_new(size_t size)
{
    size_t bytes = size * sizeof(uint32_t);
    uint32_t *slots = bytes >= MAPPED_INDEX_BYTES ? mpx__xmap(bytes) : mpx__xcalloc(size, 4);
    return (table){.slots = slots, .size = size};
}

/* A mapped index on its way out: unmapping a large one at once costs as long as clearing it
 * did, so it goes a slice at a time (lazyfree.h), 64 bytes to a unit of the budget. */
typedef struct {
    char *p;
    size_t bytes;
} unmapping;

#define UNMAP_SLICE ((size_t)64 << 10) /* a multiple of every page size */

static bool unmap_step(void *state, size_t budget)
{
    unmapping *u = state;
    size_t slices = budget / (UNMAP_SLICE / 64) + 1;
    size_t n = slices < u->bytes / UNMAP_SLICE ? slices * UNMAP_SLICE : u->bytes;
    mpx__xunmap(u->p, n);
    u->p += n;
    u->bytes -= n;
    if (u->bytes) return false;
    mpx__xfree(u);
    return true;
}

static void table_release(table *t)
{
    size_t bytes = t->size * sizeof(uint32_t);
    if (bytes >= MAPPED_INDEX_BYTES) {
        unmapping *u = mpx__xmalloc(sizeof *u);
        *u = (unmapping){.p = (char *)t->slots, .bytes = bytes};
        mpx__lazyfree(unmap_step, u);
    } else {
        mpx__xfree(t->slots);
    }
    *t = (table){0};
}

struct mpx__dict {
    chunk **chunks;
    size_t n_chunks;
    size_t cap_chunks;
    size_t n;     /* positions used, holes included */
    size_t live;  /* len(d) */
    size_t bytes; /* key and value bytes of the live pairs */
    uint64_t next_seq;
    table cur;           /* where new pairs go */
    table old;           /* being moved into cur, while old.slots is set */
    table next;          /* being made ready, for cur to move to */
    size_t next_touched; /* bytes of next whose pages are present */
    size_t migrate;      /* the next old slot to move */
    bool compacting;     /* [0, cw) compacted, [cw, cr) holes, [cr, n) not yet looked at */
    size_t cw, cr;
    size_t work;
    mpx__dict_value_fn on_value_free; /* told of each value clear and free let go */
};

static mpx__sipkey hash_key;
static bool keyed;

uint64_t mpx__dict_hash(const uint8_t *key, size_t len)
{
    return mpx__siphash13(&hash_key, key, len);
}

void mpx__dict_hash_pairs(mpx__dict_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i += MPX_SIPHASH_LANES) {
        size_t group = n - i < MPX_SIPHASH_LANES ? n - i : MPX_SIPHASH_LANES;
        const uint8_t *keys[MPX_SIPHASH_LANES] = {0};
        size_t lens[MPX_SIPHASH_LANES] = {0};
        uint64_t hashes[MPX_SIPHASH_LANES];
        for (size_t j = 0; j < group; j++) {
            keys[j] = pairs[i + j].key;
            lens[j] = pairs[i + j].klen;
        }
        mpx__siphash13_many(&hash_key, group, keys, lens, hashes);
        for (size_t j = 0; j < group; j++)
            pairs[i + j].hash = hashes[j];
    }
}

/* ---- entries ------------------------------------------------------------------------------ */

static inline mpx__dict_entry *entry_at(const mpx__dict *d, size_t pos)
{
    return &d->chunks[pos >> CHUNK_BITS]->e[pos & CHUNK_MASK];
}

static inline uint64_t *seq_at(const mpx__dict *d, size_t pos)
{
    return &d->chunks[pos >> CHUNK_BITS]->seq[pos & CHUNK_MASK];
}

static inline bool entry_live(const mpx__dict_entry *e)
{
    return e->klen != 0;
}

static inline bool pair_fits(size_t klen, size_t vlen)
{
    return klen + vlen <= MPX_DICT_INLINE;
}

static void entry_fill(mpx__dict_entry *e, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen)
{
    uint8_t *bytes = e->data.bytes;
    if (!pair_fits(klen, vlen)) bytes = e->data.heap = mpx__xmalloc(klen + vlen);
    mpx__copy_small(bytes, key, klen);
    mpx__copy_small(bytes + klen, val, vlen);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
}

/* Frees what the entry owns and makes it a hole. */
static void entry_clear(mpx__dict_entry *e)
{
    if (entry_live(e) && !pair_fits(e->klen, e->vlen)) mpx__xfree(e->data.heap);
    e->klen = e->vlen = 0;
}

/* A new value that does not fit where the old one was: the bytes move between the entry and
 * an allocation, or the allocation changes size. */
static void entry_move_value(mpx__dict_entry *e, const uint8_t *val, size_t vlen)
{
    size_t klen = e->klen;
    if (!pair_fits(klen, e->vlen) && !pair_fits(klen, vlen)) {
        if (vlen != e->vlen) e->data.heap = mpx__xrealloc(e->data.heap, klen + vlen);
        memcpy(e->data.heap + klen, val, vlen);
        e->vlen = (uint32_t)vlen;
        return;
    }
    uint8_t key[MPX_DICT_INLINE]; /* the key fits in the entry: one side of the move does */
    memcpy(key, mpx__dict_key(e), klen);
    entry_clear(e);
    entry_fill(e, key, klen, val, vlen);
}

/* A small pair whose new value fits in its entry too (nearly every update) is written here. */
static inline void entry_set_value(mpx__dict *d, mpx__dict_entry *e, const uint8_t *val,
                                   size_t vlen)
{
    d->bytes += vlen - e->vlen;
    if (pair_fits(e->klen, e->vlen) && pair_fits(e->klen, vlen)) {
        mpx__copy_small(e->data.bytes + e->klen, val, vlen);
        e->vlen = (uint32_t)vlen;
        return;
    }
    entry_move_value(e, val, vlen);
}

/* The entry at position n, adding a chunk when n starts one. The chunk directory is an array
 * of pointers, one per 4096 pairs: doubling it copies a few kilobytes for millions of pairs. */
static mpx__dict_entry *entry_append(mpx__dict *d)
{
    size_t c = d->n >> CHUNK_BITS;
    if (c == d->n_chunks) {
        if (d->n_chunks == d->cap_chunks) {
            d->cap_chunks = d->cap_chunks ? d->cap_chunks * 2 : 4;
            d->chunks = mpx__xrealloc(d->chunks, d->cap_chunks * sizeof *d->chunks);
        }
        d->chunks[d->n_chunks++] = mpx__xaligned_alloc(64, sizeof(chunk));
    }
    return entry_at(d, d->n);
}

/* Frees the chunks past the one that holds position n - 1, keeping one spare. */
static void chunks_release(mpx__dict *d)
{
    size_t keep = (d->n + CHUNK_LEN - 1) / CHUNK_LEN + 1;
    while (d->n_chunks > keep)
        mpx__xfree(d->chunks[--d->n_chunks]);
}

/* ---- the index ---------------------------------------------------------------------------- */

/* The slot holding the key in t, or NO_SLOT. Inlined into the store loop of update(), which
 * calls it for every pair. */
static inline __attribute__((always_inline)) size_t
probe(const mpx__dict *d, const table *t, uint64_t hash, const uint8_t *key, size_t klen)
{
    size_t mask = t->size - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t s = t->slots[i];
        if (s == SLOT_EMPTY) return NO_SLOT;
        if (s == SLOT_TOMB) continue;
        const mpx__dict_entry *e = entry_at(d, s - 1);
        if (e->hash == hash && e->klen == klen && mpx__bytes_equal(mpx__dict_key(e), key, klen))
            return i;
    }
}

/* The slot holding the key, in the new index or else the old one (*t says which). */
static inline __attribute__((always_inline)) size_t
locate(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen, table **t)
{
    *t = &d->cur;
    size_t slot = probe(d, &d->cur, hash, key, klen);
    if (slot == NO_SLOT && d->old.slots) {
        *t = &d->old;
        slot = probe(d, &d->old, hash, key, klen);
    }
    return slot;
}

/* Puts a value for a key known to be absent from t in its first free slot. */
static void table_put(table *t, uint64_t hash, uint32_t value)
{
    size_t mask = t->size - 1, i = hash & mask;
    while (SLOT_HOLDS_PAIR(t->slots[i]))
        i = (i + 1) & mask;
    if (t->slots[i] == SLOT_EMPTY) t->used++;
    t->slots[i] = value;
}

/* Slots ahead of the one being moved whose pair's entry is fetched (its hash says where it
 * goes), and, half as far, whose new slot is: each is a cache miss in a large dict. */
#define MIGRATE_AHEAD 16

/* Moves old slots into the new index: at most `visits` looked at and `moves` pairs moved. */
static void migrate_step(mpx__dict *d, size_t visits, size_t moves)
{
    while (d->old.slots && visits-- && moves) {
        size_t ahead = d->migrate + MIGRATE_AHEAD, near = d->migrate + MIGRATE_AHEAD / 2;
        if (ahead < d->old.size && SLOT_HOLDS_PAIR(d->old.slots[ahead]))
            __builtin_prefetch(entry_at(d, d->old.slots[ahead] - 1));
        if (near < d->old.size && SLOT_HOLDS_PAIR(d->old.slots[near]))
            __builtin_prefetch(
                &d->cur.slots[entry_at(d, d->old.slots[near] - 1)->hash & (d->cur.size - 1)], 1);
        uint32_t s = d->old.slots[d->migrate];
        if (SLOT_HOLDS_PAIR(s)) {
            table_put(&d->cur, entry_at(d, s - 1)->hash, s);
            d->old.slots[d->migrate] = SLOT_TOMB; /* probes through it go on */
            moves--;
            d->work++;
        }
        if (++d->migrate == d->old.size) {
            table_release(&d->old);
            d->migrate = 0;
        }
    }
}

static void migrate_all(mpx__dict *d)
{
    while (d->old.slots)
        migrate_step(d, SIZE_MAX, SIZE_MAX);
}

/* The size of the index to move to, for `live` pairs, from an index of cur_size slots. */
static size_t index_size_for(size_t live, size_t cur_size)
{
    size_t size = 8;
    while (size < (live + 1) * 2)
        size *= 2;
    while (size < cur_size / 8)
        size *= 2;
    return size;
}

/* Makes the next index ready a slice at a time, from when the move into the index is over (it
 * is then 3/8 full) to when it is half full and grows: a large one is mapped zero, and
 * the writes in between touch its pages (the kernel clearing each) in equal slices. Left to
 * the moves and new pairs after the resize, whose writes land anywhere in it, its pages would
 * be touched thousands to a call, and those calls would cost as much as a pass over the dict.
 * A small one is allocated cleared. */
static void prepare_step(mpx__dict *d)
{
    table *c = &d->cur;
    size_t half = c->size / 2;
    if (!d->next.slots) {
        if (d->old.slots || c->size <= SMALL_INDEX || c->used * 4 < c->size) return;
        size_t live_at_half = d->live + (half > c->used ? half - c->used : 0);
        d->next = table_new(index_size_for(live_at_half, c->size));
        d->next_touched = 0;
    }
    size_t bytes = d->next.size * sizeof(uint32_t), left = bytes - d->next_touched;
    if (bytes < MAPPED_INDEX_BYTES) return;
    size_t quota = left / (half > c->used ? half - c->used : 1) + 64;
    if (quota > left) quota = left;
    mpx__prefault((char *)d->next.slots + d->next_touched, quota);
    d->next_touched += quota;
}

/* Starts moving to a new index at most half full once every pair is in it, and no smaller than
 * an eighth of the old one: then the writes that fill it from a quarter to three quarters do
 * enough moving steps to empty the old index first. A large index was made ready beforehand
 * (prepare_step); only a small one is made here. */
static void resize_start(mpx__dict *d)
{
    size_t size = index_size_for(d->live, d->cur.size);
    d->old = d->cur;
    d->migrate = 0;
    if (d->next.slots && d->next.size >= size) { /* made ready beforehand (prepare_step) */
        d->cur = d->next;
        d->next = (table){0};
    } else {
        table_release(&d->next);
        d->cur = table_new(size);
    }
    if (d->old.size <= SMALL_INDEX) migrate_all(d);
}

/* Room in the new index for one more pair. */
static void index_room(mpx__dict *d)
{
    table *c = &d->cur;
    if (d->old.slots && (c->used + 1) * 4 > c->size * 3)
        migrate_all(d); /* never reached when the steps keep pace (resize_start) */
    if (!d->old.slots && (c->used + 1) * 2 > c->size) resize_start(d);
}

/* The index slot that holds position pos (the pair's hash given). */
static uint32_t *slot_of(mpx__dict *d, uint64_t hash, size_t pos)
{
    table *tables[2] = {&d->cur, &d->old};
    for (int k = 0; k < 2; k++) {
        table *t = tables[k];
        if (!t->slots) continue;
        for (size_t i = hash & (t->size - 1);; i = (i + 1) & (t->size - 1)) {
            if (t->slots[i] == pos + 1) return &t->slots[i];
            if (t->slots[i] == SLOT_EMPTY) break;
        }
    }
    mpx__panic("dict: the pair at position %zu is in no index slot", pos);
}

/* ---- compaction --------------------------------------------------------------------------- */

/* Drops trailing holes, so that the newest pair is always at position n - 1. Each position is
 * trimmed once, so this is O(1) per deletion over time. */
static void trim_tail(mpx__dict *d)
{
    while (d->n > 0 && !entry_live(entry_at(d, d->n - 1)))
        d->n--;
    if (d->compacting && d->n <= d->cr) d->compacting = false; /* nothing left to move */
    chunks_release(d);
}

static void compact_step(mpx__dict *d)
{
    size_t visits = COMPACT_VISITS, moves = COMPACT_MOVES;
    while (d->compacting && visits-- && moves) {
        if (d->cr >= d->n) {
            d->n = d->cw;
            d->compacting = false;
            trim_tail(d);
            return;
        }
        mpx__dict_entry *e = entry_at(d, d->cr);
        if (entry_live(e)) {
            if (d->cr != d->cw) {
                *slot_of(d, e->hash, d->cr) = (uint32_t)(d->cw + 1);
                *entry_at(d, d->cw) = *e; /* its bytes go with it */
                *seq_at(d, d->cw) = *seq_at(d, d->cr);
                e->klen = e->vlen = 0;
                moves--;
                d->work++;
            }
            d->cw++;
        }
        d->cr++;
    }
}

static void compact_maybe_start(mpx__dict *d)
{
    size_t holes = d->n - d->live;
    if (!d->compacting && holes >= CHUNK_LEN && holes > d->live) {
        d->compacting = true;
        d->cw = d->cr = 0;
    }
}

/* The moving steps every new pair and every removal does first; their deadlines (the move
 * of the index, the clearing of the next one) are counted in new pairs. Most calls have none
 * to do, which the tests here tell without a call. */
static inline void write_steps(mpx__dict *d)
{
    if (d->old.slots) migrate_step(d, MIGRATE_VISITS_WRITE, MIGRATE_MOVES_WRITE);
    if (d->compacting) compact_step(d);
    if (d->next.slots || (d->cur.size > SMALL_INDEX && d->cur.used * 4 >= d->cur.size))
        prepare_step(d);
}

/* ---- the dict ----------------------------------------------------------------------------- */

mpx__dict *mpx__dict_new(void)
{
    if (!keyed) {
        mpx__sipkey_random(&hash_key);
        keyed = true;
    }
    mpx__dict *d = mpx__xcalloc(1, sizeof *d);
    d->cur = table_new(8);
    d->next_seq = 1;
    return d;
}

/* A dict's storage on its way out, freed a slice at a time (lazyfree.h). */
typedef struct {
    chunk **chunks;
    size_t n_chunks;
    size_t n;   /* positions to look at for allocations */
    size_t pos; /* the next one */
    table tables[3];
    mpx__dict_value_fn on_value_free;
} remains;

static bool remains_step(void *state, size_t budget)
{
    remains *r = state;
    while (budget > 0 && r->pos < r->n) {
        size_t end = (r->pos | CHUNK_MASK) + 1, stop = r->n < end ? r->n : end;
        if (stop - r->pos > budget) stop = r->pos + budget;
        budget -= stop - r->pos;
        for (; r->pos < stop; r->pos++) {
            mpx__dict_entry *e = &r->chunks[r->pos >> CHUNK_BITS]->e[r->pos & CHUNK_MASK];
            if (r->on_value_free && entry_live(e)) r->on_value_free(mpx__dict_value(e), e->vlen);
            entry_clear(e);
        }
        if (r->pos == end) { /* this chunk is done */
            mpx__xfree(r->chunks[(r->pos - 1) >> CHUNK_BITS]);
            r->chunks[(r->pos - 1) >> CHUNK_BITS] = NULL;
        }
    }
    if (r->pos < r->n) return false;
    for (size_t i = 0; i < r->n_chunks; i++)
        mpx__xfree(r->chunks[i]); /* the last, partly used one and spares */
    mpx__xfree(r->chunks);
    for (int i = 0; i < 3; i++)
        table_release(&r->tables[i]);
    mpx__xfree(r);
    return true;
}

/* Hands d's storage to lazyfree.c and leaves d empty. */
static void storage_release(mpx__dict *d)
{
    remains *r = mpx__xmalloc(sizeof *r);
    *r = (remains){.chunks = d->chunks,
                   .n_chunks = d->n_chunks,
                   .n = d->n,
                   .tables = {d->cur, d->old, d->next},
                   .on_value_free = d->on_value_free};
    mpx__lazyfree(remains_step, r);
    *d = (mpx__dict){.next_seq = d->next_seq, .on_value_free = d->on_value_free};
}

void mpx__dict_on_value_free(mpx__dict *d, mpx__dict_value_fn fn)
{
    d->on_value_free = fn;
}

void mpx__dict_free(mpx__dict *d)
{
    if (!d) return;
    storage_release(d);
    mpx__xfree(d);
}

void mpx__dict_clear(mpx__dict *d)
{
    storage_release(d);
    d->cur = table_new(8);
}

mpx__dict_entry *mpx__dict_find(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen)
{
    d->work = 0;
    migrate_step(d, MIGRATE_VISITS_READ, MIGRATE_MOVES_READ);
    table *t;
    size_t slot = locate(d, hash, key, klen, &t);
    return slot == NO_SLOT ? NULL : entry_at(d, t->slots[slot] - 1);
}

/* Stores one pair: in place when its key is there, else as a new pair, after the moving
 * steps. Inlined into update()'s store loop. */
static inline __attribute__((always_inline)) int set_one(mpx__dict *d, uint64_t hash,
                                                         const uint8_t *key, size_t klen,
                                                         const uint8_t *val, size_t vlen)
{
    table *t;
    size_t slot = locate(d, hash, key, klen, &t);
    if (slot != NO_SLOT) {
        entry_set_value(d, entry_at(d, t->slots[slot] - 1), val, vlen);
        return 0;
    }
    if (d->n >= MPX_DICT_MAX_PAIRS) return -1;
    write_steps(d);
    index_room(d);
    mpx__dict_entry *e = entry_append(d);
    e->hash = hash;
    entry_fill(e, key, klen, val, vlen);
    *seq_at(d, d->n) = d->next_seq++;
    table_put(&d->cur, hash, (uint32_t)(++d->n));
    d->live++;
    d->bytes += klen + vlen;
    return 0;
}

int mpx__dict_set(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen, const uint8_t *val,
                  size_t vlen)
{
    d->work = 0;
    return set_one(d, hash, key, klen, val, vlen);
}

/* Pairs ahead of the one being stored whose index slot, and whose entry, are fetched: in a
 * large dict each is a cache miss, the entry's waiting on the slot's. The fetches are hints;
 * a slot read ahead may change before its pair is stored. */
#define SLOT_AHEAD 16
#define ENTRY_AHEAD 8

size_t mpx__dict_set_pairs(mpx__dict *d, const mpx__dict_pair *pairs, size_t n)
{
    d->work = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mask = d->cur.size - 1;
        if (i + SLOT_AHEAD < n) {
            __builtin_prefetch(&d->cur.slots[pairs[i + SLOT_AHEAD].hash & mask]);
            if (d->old.slots) /* a new key is looked for in the old index too */
                __builtin_prefetch(&d->old.slots[pairs[i + SLOT_AHEAD].hash & (d->old.size - 1)]);
        }
        if (i + ENTRY_AHEAD < n) {
            uint32_t s = d->cur.slots[pairs[i + ENTRY_AHEAD].hash & mask];
            if (SLOT_HOLDS_PAIR(s)) __builtin_prefetch(entry_at(d, s - 1), 1);
        }
        const mpx__dict_pair *p = &pairs[i];
        if (set_one(d, p->hash, p->key, p->klen, p->key + p->klen, p->vlen)) return i;
    }
    return n;
}

/* Removes the pair an index slot holds. */
static void remove_slot(mpx__dict *d, uint32_t *slot)
{
    mpx__dict_entry *e = entry_at(d, *slot - 1);
    d->bytes -= e->klen + e->vlen;
    entry_clear(e);
    *slot = SLOT_TOMB;
    d->live--;
    trim_tail(d);
    compact_maybe_start(d);
}

bool mpx__dict_remove(mpx__dict *d, uint64_t hash, const uint8_t *key, size_t klen)
{
    d->work = 0;
    write_steps(d);
    table *t;
    size_t slot = locate(d, hash, key, klen, &t);
    if (slot == NO_SLOT) return false;
    remove_slot(d, &t->slots[slot]);
    return true;
}

void mpx__dict_remove_last(mpx__dict *d)
{
    d->work = 0;
    size_t pos = d->n - 1;
    remove_slot(d, slot_of(d, entry_at(d, pos)->hash, pos));
}

mpx__dict_entry *mpx__dict_last(mpx__dict *d)
{
    return d->live ? entry_at(d, d->n - 1) : NULL;
}

size_t mpx__dict_len(const mpx__dict *d)
{
    return d->live;
}

size_t mpx__dict_bytes(const mpx__dict *d)
{
    return d->bytes;
}

size_t mpx__dict_last_work(const mpx__dict *d)
{
    return d->work;
}

/* ---- walking ------------------------------------------------------------------------------ */

/* The first position in [lo, hi) whose number is at least from (hi if none). Numbers grow
 * with position outside the holes compaction is moving entries over. */
static size_t seq_search(const mpx__dict *d, size_t lo, size_t hi, uint64_t from)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (*seq_at(d, mid) < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void mpx__dict_iter_start(const mpx__dict *d, mpx__dict_iter *it, uint64_t from)
{
    size_t a_end = d->compacting ? d->cw : d->n, b_start = d->compacting ? d->cr : d->n;
    if (a_end > 0 && *seq_at(d, a_end - 1) >= from)
        it->pos = seq_search(d, 0, a_end, from);
    else
        it->pos = seq_search(d, b_start, d->n, from);
}

const mpx__dict_entry *mpx__dict_iter_next(const mpx__dict *d, mpx__dict_iter *it, uint64_t *seq,
                                           size_t *holes)
{
    for (;;) {
        if (d->compacting && it->pos >= d->cw && it->pos < d->cr) it->pos = d->cr;
        if (it->pos >= d->n) return NULL;
        const mpx__dict_entry *e = entry_at(d, it->pos);
        if (seq) *seq = *seq_at(d, it->pos);
        it->pos++;
        if (entry_live(e)) return e;
        if (holes) {
            (*holes)++;
            return e; /* the caller bounds how many holes it steps over */
        }
    }
}
