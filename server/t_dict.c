/*
 * t_dict.c — the dict type's methods: a map of msgpack keys to msgpack values, in insertion
 * order, on the storage of dict.c.
 *
 * Keys are stored in their canonical encoding (seq.h), so that one key sent in different
 * msgpack forms is one key (1 and 1.0 too); values are stored exactly as they arrived. add,
 * cas and getset read and change one entry in one call: atomic, as the loop runs each call
 * whole. The calls that answer
 * with the whole dict (keys, values, items, copy) cost in proportion to it by nature: they are
 * refused with MPX_ETOOBIG when the answer would not fit in one message, and scan walks a dict
 * of any size a batch at a time.
 */
#include <string.h>

#include "alloc.h"
#include "dict.h"
#include "object.h"
#include "refs.h"
#include "seq.h"

/* ================================ dict methods ============================================ */

static int key_error(mpx__req *req, const mpx__span *key)
{
    char repr[96];
    mpx__repr(key, repr, sizeof repr);
    return mpx__req_fail(req, MPX_EKEY, "KeyError: %s", repr);
}

/* Argument 0 as a key: its canonical form, its hash, and the pair under it (NULL if absent,
 * or if the key is refused). */
typedef struct {
    mpx__span key;
    uint64_t hash;
    const mpx__dict_entry *e;
} lookup;

static int look_up(mpx__req *req, lookup *k)
{
    int rc = mpx__key(req, &req->argv[0], &k->key, &k->hash);
    k->e = rc ? NULL : mpx__dict_find(req->obj->state, k->hash, k->key.p, k->key.len);
    return rc;
}

static int reply_value(mpx__req *req, const mpx__dict_entry *e)
{
    return mpx__reply_raw(req, mpx__dict_value(e), e->vlen);
}

static int dict_full(mpx__req *req)
{
    return mpx__req_fail(req, MPX_EFULL, "the dict holds its maximum of %u pairs",
                         (unsigned)MPX_DICT_MAX_PAIRS);
}

static int m_set(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = mpx__key(req, &req->argv[0], &key, &hash);
    if (rc) return rc;
    rc = mpx__map_store(req, req->obj->state, &key, hash, &req->argv[1]);
    return rc ? rc : mpx__reply_nil(req);
}

static int m_get(mpx__req *req)
{
    lookup k;
    int rc = look_up(req, &k);
    if (rc) return rc;
    if (k.e) return reply_value(req, k.e);
    if (req->argc == 2) return mpx__reply_raw(req, req->argv[1].p, req->argv[1].len);
    return key_error(req, &req->argv[0]);
}

static int m_delete(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = mpx__key(req, &req->argv[0], &key, &hash);
    if (rc) return rc;
    mpx__dict *d = req->obj->state;
    if (req->obj->ref_holder) mpx__map_release(req, mpx__dict_find(d, hash, key.p, key.len));
    if (!mpx__dict_remove(d, hash, key.p, key.len)) return key_error(req, &req->argv[0]);
    return mpx__reply_nil(req);
}

static int m_contains(mpx__req *req)
{
    lookup k;
    int rc = look_up(req, &k);
    return rc ? rc : mpx__reply_bool(req, k.e != NULL);
}

static int m_len(mpx__req *req)
{
    return mpx__reply_uint(req, mpx__dict_len(req->obj->state));
}

/* keys(), values(), items() and copy(): which parts of each pair to list, and how. */
enum { LIST_KEYS = 1, LIST_VALUES = 2, LIST_ITEMS = 3, LIST_MAP = 7 };

static int list_pairs(mpx__req *req, int what)
{
    mpx__dict *d = req->obj->state;
    size_t n = mpx__dict_len(d);
    /* headers take at most 10 bytes a pair, and the array's 5 */
    if (mpx__dict_bytes(d) + 10 * n + 5 > req->max_reply)
        return mpx__req_fail(req, MPX_ETOOBIG,
                             "the dict's %zu pairs take more than one reply may carry "
                             "(--max-message %zu): walk it with scan",
                             n, req->max_reply);
    if (what == LIST_MAP)
        msgpack_pack_map(req->out, n);
    else
        msgpack_pack_array(req->out, n);
    mpx__dict_iter it;
    mpx__dict_iter_start(d, &it, 0);
    for (const mpx__dict_entry *e; (e = mpx__dict_iter_next(d, &it, NULL, NULL));) {
        if (what == LIST_ITEMS) msgpack_pack_array(req->out, 2);
        if (what & LIST_KEYS) mpx__reply_raw(req, mpx__dict_key(e), e->klen);
        if (what & LIST_VALUES) reply_value(req, e);
    }
    return 0;
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
    return list_pairs(req, LIST_MAP);
}

/* scan(cursor, count) -> [next cursor, [[key, value], ...]]: up to count pairs (at most
 * SCAN_MAX, and no more than one reply carries) in insertion order, starting at the cursor
 * (0 to begin). The next cursor is 0 once the walk is done. Every pair present for the whole
 * walk is returned once; pairs added or removed meanwhile may or may not be. Holes left by
 * deleted pairs count ten to a pair against the work one call does. */
#define SCAN_MAX 10000

static int m_scan(mpx__req *req)
{
    uint64_t cursor, count;
    int rc = mpx__arg_uint(req, 0, "the cursor", &cursor);
    if (rc == 0) rc = mpx__arg_uint(req, 1, "count", &count);
    if (rc) return rc;
    if (count == 0) return mpx__req_fail(req, MPX_EVALUE, "count must be 1 or more");
    if (count > SCAN_MAX) count = SCAN_MAX;
    mpx__dict *d = req->obj->state;
    mpx__dict_iter it, start;
    mpx__dict_iter_start(d, &it, cursor);
    start = it;
    size_t pairs = 0, holes = 0, bytes = 0;
    uint64_t seq = 0, next = 0;
    for (const mpx__dict_entry *e; pairs < count && holes < 10 * count;) {
        mpx__dict_iter prev = it;
        if (!(e = mpx__dict_iter_next(d, &it, &seq, &holes))) break;
        if (!e->klen) continue;
        if (pairs > 0 && bytes + e->klen + e->vlen + 16 > req->max_reply) {
            it = prev;
            break;
        }
        bytes += e->klen + e->vlen + 16;
        pairs++;
    }
    size_t ignored = 0;
    if (!mpx__dict_iter_next(d, &it, &next, &ignored)) next = 0; /* the walk is done */
    msgpack_pack_array(req->out, 2);
    msgpack_pack_uint64(req->out, next);
    msgpack_pack_array(req->out, pairs);
    it = start;
    for (size_t i = 0; i < pairs;) {
        const mpx__dict_entry *e = mpx__dict_iter_next(d, &it, NULL, NULL);
        msgpack_pack_array(req->out, 2);
        mpx__reply_raw(req, mpx__dict_key(e), e->klen);
        reply_value(req, e);
        i++;
    }
    return 0;
}

/* update() makes one walk of its argument, which dispatch leaves to it (checks_last_arg):
 * the walk checks every byte, as dispatch would, and records each pair with its key's hash.
 * Nothing is stored until the whole argument has passed, so a malformed or ill-typed
 * argument changes nothing. The records of up to UPDATE_CHUNK pairs are kept at once; a
 * larger argument is checked whole, then recorded and stored a chunk at a time, its later
 * chunks walked again. */
#define UPDATE_CHUNK 16384

static mpx__dict_pair update_recs[UPDATE_CHUNK]; /* one thread: reused by every update() */
static bool update_refs; /* a value of this update() holds an object reference */

/* Steps over one key or value `depth` levels inside the argument. */
static int skip_item(mpx__mp_cursor *c, int depth)
{
    int rc = mpx__mp_skip_plain(c);
    return rc == 1 ? 0 : rc == 0 ? mpx__mp_skip_at(c, depth) : rc;
}

/* Reads the next pair: a key and a value in a map, a two-item array in an array of pairs. */
static int read_pair(mpx__mp_cursor *c, bool is_map, mpx__dict_pair *rec)
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
    size_t klen = (size_t)(val - key), vlen = (size_t)(c->p - val);
    /* one store of the whole record: setting the bit-fields one by one reads it back */
    *rec = (mpx__dict_pair){.key = key,
                            .klen = (uint32_t)klen,
                            .vlen = (uint32_t)vlen,
                            .canonical = mpx__mp_is_canonical(key, klen)};
    if (!rec->canonical && mpx__refs_present(key, klen)) return MPX_ETYPE; /* never a key */
    if (!mpx__mp_plain_len(val, vlen)) update_refs |= mpx__refs_present(val, vlen);
    return 0;
}

/* Walks n pairs from *c, recording the first `keep` with their hashes; *resume is left after
 * the last pair recorded. Returns 0, or MPX_EBADREQ or MPX_ETYPE with *bad the pair's index. */
static int scan_pairs(mpx__mp_cursor *c, bool is_map, uint32_t n, size_t keep,
                      mpx__mp_cursor *resume, uint32_t *bad)
{
    mpx__dict_pair spare;
    for (uint32_t i = 0; i < n; i++) {
        int rc = read_pair(c, is_map, i < keep ? &update_recs[i] : &spare);
        if (rc) {
            *bad = i;
            return rc;
        }
        if (i + 1 == keep) *resume = *c;
    }
    mpx__dict_hash_pairs(update_recs, keep);
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
    return mpx__req_fail(req, MPX_ETYPE,
                         "update(): item %u is not a [key, value] pair with a valid key", bad);
}

/* Stores recs[0..n) in order: runs of canonical keys at once, the others re-encoded first. */
static int store_recs(mpx__req *req, mpx__dict *d, const mpx__dict_pair *recs, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t run = 0;
        while (i + run < n && recs[i + run].canonical)
            run++;
        if (run) {
            if (mpx__dict_set_pairs(d, recs + i, run) != run) return dict_full(req);
            i += run;
            continue;
        }
        mpx__span k = {recs[i].key, recs[i].klen}, key;
        uint64_t hash;
        int rc = mpx__key(req, &k, &key, &hash);
        if (rc) return rc;
        if (mpx__dict_set(d, hash, key.p, key.len, recs[i].key + recs[i].klen, recs[i].vlen))
            return dict_full(req);
        i++;
    }
    return 0;
}

/* Stores the pairs one at a time through mpx__map_store(), for values that hold object
 * references or replace values that may: c is at the first pair, every one checked. */
static int store_each(mpx__req *req, mpx__mp_cursor *c, bool is_map, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        mpx__dict_pair rec;
        read_pair(c, is_map, &rec);
        mpx__span k = {rec.key, rec.klen}, v = {rec.key + rec.klen, rec.vlen}, key;
        uint64_t hash;
        int rc = mpx__key(req, &k, &key, &hash);
        if (rc == 0) rc = mpx__map_store(req, req->obj->state, &key, hash, &v);
        if (rc) return rc;
    }
    return 0;
}

static int m_update(mpx__req *req)
{
    mpx__mp_cursor c, first, resume;
    uint32_t n, bad = 0;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    bool is_map = mpx__mp_map(&c, &n) == 0;
    if (!is_map && mpx__mp_array(&c, &n)) return update_refuse(req, false, 0);
    size_t chunk = n < UPDATE_CHUNK ? n : UPDATE_CHUNK;
    resume = first = c;
    update_refs = false;
    if (scan_pairs(&c, is_map, n, chunk, &resume, &bad) || c.p != c.end)
        return update_refuse(req, true, bad);
    if (update_refs || req->obj->ref_holder) {
        int rc = update_refs ? mpx__refs_check(req, &req->argv[0], NULL) : 0;
        if (rc == 0) rc = store_each(req, &first, is_map, n);
        return rc ? rc : mpx__reply_nil(req);
    }
    for (uint32_t done = 0;;) {
        int rc = store_recs(req, req->obj->state, update_recs, chunk);
        if (rc) return rc;
        if ((done += (uint32_t)chunk) == n) break;
        chunk = n - done < UPDATE_CHUNK ? n - done : UPDATE_CHUNK;
        c = resume;
        scan_pairs(&c, is_map, (uint32_t)chunk, chunk, &resume, &bad); /* checked above */
    }
    return mpx__reply_nil(req);
}

static int m_pop(mpx__req *req)
{
    lookup k;
    int rc = look_up(req, &k);
    if (rc) return rc;
    if (!k.e) {
        if (req->argc == 2) return mpx__reply_raw(req, req->argv[1].p, req->argv[1].len);
        return key_error(req, &req->argv[0]);
    }
    reply_value(req, k.e);
    mpx__map_release(req, k.e);
    mpx__dict_remove(req->obj->state, k.hash, k.key.p, k.key.len);
    return 0;
}

static int m_popitem(mpx__req *req)
{
    mpx__dict *d = req->obj->state;
    const mpx__dict_entry *e = mpx__dict_last(d);
    if (!e) return mpx__req_fail(req, MPX_EKEY, "KeyError: popitem(): dictionary is empty");
    msgpack_pack_array(req->out, 2);
    mpx__reply_raw(req, mpx__dict_key(e), e->klen);
    reply_value(req, e);
    mpx__map_release(req, e);
    mpx__dict_remove_last(d);
    return 0;
}

static int m_setdefault(mpx__req *req)
{
    static const uint8_t nil = 0xc0;
    lookup k;
    int rc = look_up(req, &k);
    if (rc) return rc;
    if (k.e) return reply_value(req, k.e);
    mpx__span dflt = req->argc == 2 ? req->argv[1] : (mpx__span){&nil, 1};
    if ((rc = mpx__map_store(req, req->obj->state, &k.key, k.hash, &dflt))) return rc;
    return mpx__reply_raw(req, dflt.p, dflt.len);
}

static int m_clear(mpx__req *req)
{
    mpx__dict_clear(req->obj->state);
    return mpx__reply_nil(req);
}

static mpx__buf rmw_buf; /* one thread: the new value add() stores */

/* add(key, delta) -> the new value: a missing entry starts at 0. */
static int m_add(mpx__req *req)
{
    lookup k;
    int rc = look_up(req, &k);
    if (rc) return rc;
    mpx__span cur = k.e ? (mpx__span){mpx__dict_value(k.e), k.e->vlen} : (mpx__span){0};
    if ((rc = mpx__num_add(req, k.e ? &cur : NULL, &req->argv[1], &rmw_buf))) return rc;
    /* a number replaces a number: no references come or go */
    if (mpx__dict_set(req->obj->state, k.hash, k.key.p, k.key.len, (const uint8_t *)rmw_buf.data,
                      rmw_buf.size))
        return dict_full(req);
    return mpx__reply_raw(req, rmw_buf.data, rmw_buf.size);
}

/* Reads an optional value given as [v] (present) or [] (absent). */
static int opt_arg(mpx__req *req, uint32_t i, const char *what, mpx__span *v, bool *present)
{
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    if (mpx__mp_array(&c, &n) || n > 1)
        return mpx__req_fail(req, MPX_ETYPE, "%s must be [value], or [] for absent", what);
    *present = n == 1;
    if (n == 1) *v = (mpx__span){c.p, (size_t)(c.end - c.p)};
    return 0;
}

/* Packs an optional value as [v] or []. */
static void reply_opt(mpx__req *req, const mpx__dict_entry *e)
{
    msgpack_pack_array(req->out, e ? 1 : 0);
    if (e) reply_value(req, e);
}

/* cas(key, expected, new) -> [swapped, current]: expected and current are [value], or [] for
 * an absent entry; new is [value], or [] to delete the entry. */
static int m_cas(mpx__req *req)
{
    static mpx__buf want_buf;
    mpx__span want = {0}, want_canon = {0}, val = {0};
    bool want_present = false, val_present = false;
    lookup k;
    mpx__dict *d = req->obj->state;
    int rc = opt_arg(req, 1, "expected", &want, &want_present);
    if (rc == 0) rc = opt_arg(req, 2, "new", &val, &val_present);
    if (rc == 0 && want_present) rc = mpx__canon(req, &want, &want_buf, &want_canon);
    if (rc == 0) rc = look_up(req, &k);
    if (rc) return rc;
    const mpx__dict_entry *e = k.e;
    bool match =
        e ? want_present && mpx__equal(&want_canon, mpx__dict_value(e), e->vlen) : !want_present;
    msgpack_pack_array(req->out, 2);
    mpx__pack_bool(req->out, match);
    if (!match) return reply_opt(req, e), 0;
    if (!val_present) {
        mpx__map_release(req, e);
        if (e) mpx__dict_remove(d, k.hash, k.key.p, k.key.len);
        return msgpack_pack_array(req->out, 0), 0;
    }
    if ((rc = mpx__map_store(req, d, &k.key, k.hash, &val))) return rc;
    msgpack_pack_array(req->out, 1);
    return mpx__reply_raw(req, val.p, val.len);
}

/* getset(key, value) -> the previous value as [value], or [] if there was none. */
static int m_getset(mpx__req *req)
{
    lookup k;
    int rc = look_up(req, &k);
    if (rc) return rc;
    reply_opt(req, k.e); /* packed before the entry changes */
    return mpx__map_store(req, req->obj->state, &k.key, k.hash, &req->argv[1]);
}

static int dict_create(mpx__req *req, void **state)
{
    if (req->argc) return mpx__req_fail(req, MPX_EARGS, "a dict takes no creation arguments");
    *state = mpx__dict_new();
    return 0;
}

static void dict_destroy(void *state)
{
    mpx__dict_free(state);
}

static uint64_t dict_size(const void *state)
{
    return mpx__dict_len(state);
}

static void dict_dump(const mpx__obj *obj, mpx__records *w)
{
    mpx__dump_dict(obj, obj->state, w, "update", MPX_DUMP_MAP);
}

static const mpx__method dict_methods[] = {
    {.name = "set", .fn = m_set, .min_args = 2, .max_args = 2, .grows = true, .logged = true},
    {.name = "get", .fn = m_get, .min_args = 1, .max_args = 2},
    {.name = "delete", .fn = m_delete, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "contains", .fn = m_contains, .min_args = 1, .max_args = 1},
    {.name = "len", .fn = m_len, .min_args = 0, .max_args = 0},
    {.name = "keys", .fn = m_keys, .min_args = 0, .max_args = 0},
    {.name = "values", .fn = m_values, .min_args = 0, .max_args = 0},
    {.name = "items", .fn = m_items, .min_args = 0, .max_args = 0},
    {.name = "scan", .fn = m_scan, .min_args = 2, .max_args = 2},
    {.name = "update",
     .fn = m_update,
     .min_args = 1,
     .max_args = 1,
     .checks_last_arg = true,
     .grows = true,
     .logged = true},
    {.name = "pop", .fn = m_pop, .min_args = 1, .max_args = 2, .logged = true},
    {.name = "popitem", .fn = m_popitem, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "setdefault",
     .fn = m_setdefault,
     .min_args = 1,
     .max_args = 2,
     .grows = true,
     .logged = true},
    {.name = "clear", .fn = m_clear, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "copy", .fn = m_copy, .min_args = 0, .max_args = 0},
    {.name = "add", .fn = m_add, .min_args = 2, .max_args = 2, .grows = true, .logged = true},
    {.name = "cas", .fn = m_cas, .min_args = 3, .max_args = 3, .grows = true, .logged = true},
    {.name = "getset", .fn = m_getset, .min_args = 2, .max_args = 2, .grows = true, .logged = true},
};

const mpx__type mpx__type_dict = {
    .name = "dict",
    .create = dict_create,
    .destroy = dict_destroy,
    .size = dict_size,
    .dump = dict_dump,
    .methods = dict_methods,
    .n_methods = sizeof dict_methods / sizeof dict_methods[0],
};
