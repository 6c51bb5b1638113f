/*
 * t_set.c — the set type: Python's set of msgpack values, shared, on the dict's storage
 * (dict.c) with members as keys and no values.
 *
 * Members are stored in their canonical form (seq.h), so they compare as dict keys do and come
 * back in that form (1.0 is returned as 1). The operations with a given array (union,
 * intersection, ...) change nothing and answer with an array, in the set's order and then the
 * array's.
 */
#include "dict.h"
#include "refs.h"
#include "seq.h"

/* ================================ set API ================================================= */

static const uint8_t no_value[1]; /* a member's value: none, zero bytes long */

static int set_full(mpx__req *req)
{
    return mpx__req_fail(req, MPX_EFULL, "the set holds its maximum of %u members",
                         (unsigned)MPX_DICT_MAX_PAIRS);
}

static bool set_has(mpx__dict *d, const mpx__span *key, uint64_t hash)
{
    return mpx__dict_find(d, hash, key->p, key->len) != NULL;
}

/* Adds each item of the array argument i to d. */
static int add_items(mpx__req *req, uint32_t i, mpx__dict *d)
{
    mpx__mp_cursor c;
    uint32_t n;
    int rc = mpx__array_arg(req, i, &c, &n);
    for (uint32_t k = 0; rc == 0 && k < n; k++) {
        mpx__span item = mpx__array_next(&c), key;
        uint64_t hash;
        if ((rc = mpx__key(req, &item, &key, &hash))) break;
        if (mpx__dict_set(d, hash, key.p, key.len, no_value, 0)) rc = set_full(req);
    }
    return rc;
}

/* Refuses argument i if it holds an object reference, the one value that has no canonical
 * form: every other item can be a member, so adding them cannot fail halfway. */
static int check_items(mpx__req *req, uint32_t i)
{
    if (!mpx__refs_present(req->argv[i].p, req->argv[i].len)) return 0;
    return mpx__req_fail(req, MPX_ETYPE, "an object reference cannot be a set member");
}

/* The members of the array argument 0, as a set of its own (freed with mpx__dict_free()). */
static int other_set(mpx__req *req, mpx__dict **out)
{
    *out = mpx__dict_new();
    int rc = add_items(req, 0, *out);
    if (rc) mpx__dict_free(*out);
    return rc;
}

/* Packs the members of a that are (want_in true) or are not in b, counting them first. */
static size_t pack_filtered(msgpack_packer *pk, mpx__dict *a, mpx__dict *b, bool want_in)
{
    size_t n = 0;
    mpx__dict_iter it;
    mpx__dict_iter_start(a, &it, 0);
    for (const mpx__dict_entry *e; (e = mpx__dict_iter_next(a, &it, NULL, NULL));) {
        const mpx__span key = {mpx__dict_key(e), e->klen};
        if (set_has(b, &key, mpx__dict_hash(key.p, key.len)) != want_in) continue;
        if (pk) mpx__mp_write_raw(pk, key.p, key.len);
        n++;
    }
    return n;
}

enum { OP_UNION, OP_INTERSECTION, OP_DIFFERENCE, OP_SYMMETRIC };

/* The result of a set operation with the array argument 0, as one array. */
static int set_op(mpx__req *req, int op)
{
    mpx__dict *d = req->obj->state, *other;
    int rc = other_set(req, &other);
    if (rc) return rc;
    if (op == OP_UNION || op == OP_DIFFERENCE || op == OP_SYMMETRIC) {
        size_t bytes = mpx__dict_bytes(d) + 5 * mpx__dict_len(d);
        if (bytes > req->max_reply) {
            mpx__dict_free(other);
            return mpx__req_fail(req, MPX_ETOOBIG,
                                 "the result takes more than one reply may carry "
                                 "(--max-message %zu)",
                                 req->max_reply);
        }
    }
    size_t n = 0;
    if (op == OP_UNION) n = mpx__dict_len(d) + pack_filtered(NULL, other, d, false);
    if (op == OP_INTERSECTION) n = pack_filtered(NULL, other, d, true);
    if (op == OP_DIFFERENCE || op == OP_SYMMETRIC) n = pack_filtered(NULL, d, other, false);
    if (op == OP_SYMMETRIC) n += pack_filtered(NULL, other, d, false);
    msgpack_pack_array(req->out, (uint32_t)n);
    if (op == OP_UNION) pack_filtered(req->out, d, d, true);
    if (op == OP_INTERSECTION) pack_filtered(req->out, other, d, true);
    if (op == OP_DIFFERENCE || op == OP_SYMMETRIC) pack_filtered(req->out, d, other, false);
    if (op == OP_UNION || op == OP_SYMMETRIC) pack_filtered(req->out, other, d, false);
    mpx__dict_free(other);
    return 0;
}

enum { REL_SUBSET, REL_SUPERSET, REL_DISJOINT };

/* A relation between the set and the array argument 0. */
static int set_rel(mpx__req *req, int rel)
{
    mpx__dict *d = req->obj->state, *other;
    int rc = other_set(req, &other);
    if (rc) return rc;
    bool result;
    if (rel == REL_SUBSET)
        result = pack_filtered(NULL, d, other, false) == 0;
    else if (rel == REL_SUPERSET)
        result = pack_filtered(NULL, other, d, false) == 0;
    else
        result = pack_filtered(NULL, other, d, true) == 0;
    mpx__dict_free(other);
    return mpx__reply_bool(req, result);
}

/* ================================ set methods ============================================= */

static int m_add(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = mpx__key(req, &req->argv[0], &key, &hash);
    if (rc) return rc;
    if (mpx__dict_set(req->obj->state, hash, key.p, key.len, no_value, 0)) return set_full(req);
    return mpx__reply_nil(req);
}

/* Removes argument 0; a missing member is a key error only when `strict`. */
static int remove_member(mpx__req *req, bool strict)
{
    mpx__span key;
    uint64_t hash;
    int rc = mpx__key(req, &req->argv[0], &key, &hash);
    if (rc) return rc;
    if (!mpx__dict_remove(req->obj->state, hash, key.p, key.len) && strict) {
        char repr[96];
        mpx__repr(&req->argv[0], repr, sizeof repr);
        return mpx__req_fail(req, MPX_EKEY, "KeyError: %s", repr);
    }
    return mpx__reply_nil(req);
}

static int m_discard(mpx__req *req)
{
    return remove_member(req, false);
}

static int m_remove(mpx__req *req)
{
    return remove_member(req, true);
}

static int m_contains(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = mpx__key(req, &req->argv[0], &key, &hash);
    return rc ? rc : mpx__reply_bool(req, set_has(req->obj->state, &key, hash));
}

static int m_len(mpx__req *req)
{
    return mpx__reply_uint(req, mpx__dict_len(req->obj->state));
}

/* pop() -> a member (the newest), removed; a key error when empty. */
static int m_pop(mpx__req *req)
{
    mpx__dict *d = req->obj->state;
    const mpx__dict_entry *e = mpx__dict_last(d);
    if (!e) return mpx__req_fail(req, MPX_EKEY, "KeyError: pop from an empty set");
    mpx__reply_raw(req, mpx__dict_key(e), e->klen);
    mpx__dict_remove_last(d);
    return 0;
}

static int m_clear(mpx__req *req)
{
    mpx__dict_clear(req->obj->state);
    return mpx__reply_nil(req);
}

/* update(items): every item added, or none when one cannot be a member. */
static int m_update(mpx__req *req)
{
    int rc = check_items(req, 0);
    if (rc == 0) rc = add_items(req, 0, req->obj->state);
    return rc ? rc : mpx__reply_nil(req);
}

static int m_copy(mpx__req *req)
{
    mpx__dict *d = req->obj->state;
    if (mpx__dict_bytes(d) + 5 * mpx__dict_len(d) + 5 > req->max_reply)
        return mpx__req_fail(req, MPX_ETOOBIG,
                             "the set's %zu members take more than one reply may carry "
                             "(--max-message %zu)",
                             mpx__dict_len(d), req->max_reply);
    msgpack_pack_array(req->out, (uint32_t)mpx__dict_len(d));
    pack_filtered(req->out, d, d, true);
    return 0;
}

static int m_union(mpx__req *req)
{
    return set_op(req, OP_UNION);
}

static int m_intersection(mpx__req *req)
{
    return set_op(req, OP_INTERSECTION);
}

static int m_difference(mpx__req *req)
{
    return set_op(req, OP_DIFFERENCE);
}

static int m_symmetric_difference(mpx__req *req)
{
    return set_op(req, OP_SYMMETRIC);
}

static int m_issubset(mpx__req *req)
{
    return set_rel(req, REL_SUBSET);
}

static int m_issuperset(mpx__req *req)
{
    return set_rel(req, REL_SUPERSET);
}

static int m_isdisjoint(mpx__req *req)
{
    return set_rel(req, REL_DISJOINT);
}

static int set_create(mpx__req *req, void **state)
{
    if (req->argc > 1)
        return mpx__req_fail(req, MPX_EARGS, "a set takes at most 1 creation argument");
    mpx__dict *d = mpx__dict_new();
    int rc = req->argc ? check_items(req, 0) : 0;
    if (rc == 0 && req->argc) rc = add_items(req, 0, d);
    if (rc)
        mpx__dict_free(d);
    else
        *state = d;
    return rc;
}

static void set_destroy(void *state)
{
    mpx__dict_free(state);
}

static uint64_t set_size(const void *state)
{
    return mpx__dict_len(state);
}

static void set_dump(const mpx__obj *obj, mpx__records *w)
{
    mpx__dump_dict(obj, obj->state, w, "update", MPX_DUMP_KEYS);
}

static const mpx__method set_methods[] = {
    {.name = "add", .fn = m_add, .min_args = 1, .max_args = 1, .grows = true, .logged = true},
    {.name = "discard", .fn = m_discard, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "remove", .fn = m_remove, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "contains", .fn = m_contains, .min_args = 1, .max_args = 1},
    {.name = "len", .fn = m_len, .min_args = 0, .max_args = 0},
    {.name = "pop", .fn = m_pop, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "clear", .fn = m_clear, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "update", .fn = m_update, .min_args = 1, .max_args = 1, .grows = true, .logged = true},
    {.name = "copy", .fn = m_copy, .min_args = 0, .max_args = 0},
    {.name = "union", .fn = m_union, .min_args = 1, .max_args = 1},
    {.name = "intersection", .fn = m_intersection, .min_args = 1, .max_args = 1},
    {.name = "difference", .fn = m_difference, .min_args = 1, .max_args = 1},
    {.name = "symmetric_difference", .fn = m_symmetric_difference, .min_args = 1, .max_args = 1},
    {.name = "issubset", .fn = m_issubset, .min_args = 1, .max_args = 1},
    {.name = "issuperset", .fn = m_issuperset, .min_args = 1, .max_args = 1},
    {.name = "isdisjoint", .fn = m_isdisjoint, .min_args = 1, .max_args = 1},
};

const mpx__type mpx__type_set = {
    .name = "set",
    .create = set_create,
    .destroy = set_destroy,
    .size = set_size,
    .dump = set_dump,
    .methods = set_methods,
    .n_methods = sizeof set_methods / sizeof set_methods[0],
};
