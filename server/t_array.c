/*
 * t_array.c — the array type: Python's Manager().Array(typecode, sequence), fixed length,
 * with the typecode enforced on every element. Elements can be added to and compared-and-
 * swapped one at a time, atomically. For typecode 'c' a run of elements is a bytes value (as
 * Python's Array('c') gives bytes); for the others, an array of values.
 */
#include <string.h>

#include "records.h"
#include "alloc.h"
#include "seq.h"
#include "typecode.h"

/* ================================ array API =============================================== */

/* The longest array: 2^27 elements, 1 GiB. */
#define ARRAY_MAX_LEN (1u << 27)

typedef struct {
    const mpx__typecode *tc;
    size_t n;
    mpx__num v[];
} array;

static void array_free(void *state)
{
    mpx__xfree(state);
}

/* Reads the items argument i (an array, or bytes for 'c') into a new table *out of *n
 * elements, every one checked before anything changes. Caller frees *out. */
static int items_arg(mpx__req *req, const mpx__typecode *tc, uint32_t i, mpx__num **out, size_t *n)
{
    mpx__mp_cursor c;
    mpx__mp_token t;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    if (tc->kind == MPX_TC_BYTE && mpx__mp_next(&c, &t) == 0 && t.kind == MPX_MP_BIN) {
        *out = mpx__xmalloc((t.len ? t.len : 1) * sizeof **out);
        for (uint32_t k = 0; k < t.len; k++)
            (*out)[k].u = t.data[k];
        *n = t.len;
        return 0;
    }
    uint32_t count;
    int rc = mpx__array_arg(req, i, &c, &count);
    if (rc) return rc;
    *out = mpx__xmalloc((count ? count : 1) * sizeof **out);
    for (uint32_t k = 0; k < count; k++) {
        mpx__span item = mpx__array_next(&c);
        if ((rc = mpx__typecode_read(req, tc, &item, &(*out)[k]))) {
            mpx__xfree(*out);
            return rc;
        }
    }
    *n = count;
    return 0;
}

/* Packs the elements of a slice: bytes for 'c', else an array. */
static int reply_slice(mpx__req *req, const mpx__slice *s)
{
    const array *a = req->obj->state;
    if (s->n * 9 + 5 > req->max_reply)
        return mpx__req_fail(req, MPX_ETOOBIG,
                             "%zu elements take more than one reply may carry: read a slice "
                             "at a time",
                             s->n);
    if (a->tc->kind == MPX_TC_BYTE) {
        msgpack_pack_bin(req->out, (uint32_t)s->n);
        for (size_t i = 0; i < s->n; i++) {
            uint8_t byte = (uint8_t)a->v[mpx__slice_at(s, i)].u;
            msgpack_pack_bin_body(req->out, &byte, 1);
        }
        return 0;
    }
    msgpack_pack_array(req->out, (uint32_t)s->n);
    for (size_t i = 0; i < s->n; i++)
        mpx__typecode_pack(a->tc, a->v[mpx__slice_at(s, i)], req->out);
    return 0;
}

/* ================================ array methods =========================================== */

static int m_len(mpx__req *req)
{
    return mpx__reply_uint(req, ((array *)req->obj->state)->n);
}

static int m_get(mpx__req *req)
{
    array *a = req->obj->state;
    size_t at;
    int rc = mpx__index_arg(req, 0, a->n, &at);
    if (rc) return rc;
    mpx__typecode_pack(a->tc, a->v[at], req->out);
    return 0;
}

static int m_set(mpx__req *req)
{
    array *a = req->obj->state;
    size_t at;
    mpx__num v;
    int rc = mpx__index_arg(req, 0, a->n, &at);
    if (rc == 0) rc = mpx__typecode_read(req, a->tc, &req->argv[1], &v);
    if (rc) return rc;
    a->v[at] = v;
    return mpx__reply_nil(req);
}

static int m_get_slice(mpx__req *req)
{
    mpx__slice s;
    int rc = mpx__slice_arg(req, 0, ((array *)req->obj->state)->n, &s);
    return rc ? rc : reply_slice(req, &s);
}

/* set_slice(start, stop, step, items): the length never changes, so items must be as many as
 * the slice's positions. */
static int m_set_slice(mpx__req *req)
{
    array *a = req->obj->state;
    mpx__slice s;
    mpx__num *items;
    size_t n;
    int rc = mpx__slice_arg(req, 0, a->n, &s);
    if (rc == 0) rc = items_arg(req, a->tc, 3, &items, &n);
    if (rc) return rc;
    if (n != s.n) {
        mpx__xfree(items);
        return mpx__req_fail(req, MPX_EVALUE,
                             "ValueError: an array's length is fixed: %zu items for a slice of "
                             "%zu",
                             n, s.n);
    }
    for (size_t i = 0; i < n; i++)
        a->v[mpx__slice_at(&s, i)] = items[i];
    mpx__xfree(items);
    return mpx__reply_nil(req);
}

static int m_copy(mpx__req *req)
{
    array *a = req->obj->state;
    mpx__slice all = {.start = 0, .stop = (int64_t)a->n, .step = 1, .n = a->n};
    return reply_slice(req, &all);
}

/* add(index, delta) -> the element's new value. */
static int m_add(mpx__req *req)
{
    array *a = req->obj->state;
    size_t at;
    int rc = mpx__index_arg(req, 0, a->n, &at);
    if (rc == 0) rc = mpx__typecode_add(req, a->tc, &a->v[at], &req->argv[1]);
    if (rc) return rc;
    mpx__typecode_pack(a->tc, a->v[at], req->out);
    return 0;
}

/* cas(index, expected, new) -> [swapped, current]. */
static int m_cas(mpx__req *req)
{
    array *a = req->obj->state;
    size_t at;
    int rc = mpx__index_arg(req, 0, a->n, &at);
    return rc ? rc : mpx__typecode_cas(req, a->tc, &a->v[at], 1);
}

static int m_typecode(mpx__req *req)
{
    const array *a = req->obj->state;
    msgpack_pack_str_with_body(req->out, &a->tc->code, 1);
    return 0;
}

/* Created with (typecode, size or sequence): size zeros, or the sequence's elements. */
static int array_create(mpx__req *req, void **state)
{
    if (req->argc != 2)
        return mpx__req_fail(req, MPX_EARGS, "an array takes (typecode, size or sequence)");
    const mpx__typecode *tc;
    int rc = mpx__typecode_arg(req, 0, &tc);
    if (rc) return rc;
    mpx__mp_cursor c;
    uint64_t asked;
    size_t size;
    mpx__num *items = NULL;
    mpx__mp_init(&c, req->argv[1].p, req->argv[1].len);
    if (mpx__mp_uint(&c, &asked) == 0)
        size = asked > ARRAY_MAX_LEN ? ARRAY_MAX_LEN + 1 : (size_t)asked;
    else if ((rc = items_arg(req, tc, 1, &items, &size)))
        return rc;
    if (size > ARRAY_MAX_LEN) {
        mpx__xfree(items);
        return mpx__req_fail(req, MPX_EVALUE, "an array holds at most %u elements", ARRAY_MAX_LEN);
    }
    /* zeroed memory is every typecode's zero (0, 0.0, the byte 0, false), so an array made
     * by size costs no pass over its elements: a large one is pages not yet touched */
    array *a = mpx__xcalloc(1, sizeof *a + size * sizeof(mpx__num));
    a->tc = tc;
    a->n = size;
    if (items) memcpy(a->v, items, size * sizeof *items);
    mpx__xfree(items);
    *state = a;
    return 0;
}

static uint64_t array_size(const void *state)
{
    return ((const array *)state)->n;
}

static void array_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const array *a = obj->state;
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, &a->tc->code, 1);
    msgpack_pack_array(pk, (uint32_t)a->n);
    for (size_t i = 0; i < a->n; i++)
        mpx__typecode_pack(a->tc, a->v[i], pk);
}

static const mpx__method array_methods[] = {
    {.name = "len", .fn = m_len, .min_args = 0, .max_args = 0},
    {.name = "get", .fn = m_get, .min_args = 1, .max_args = 1},
    {.name = "set", .fn = m_set, .min_args = 2, .max_args = 2, .logged = true},
    {.name = "get_slice", .fn = m_get_slice, .min_args = 0, .max_args = 3},
    {.name = "set_slice", .fn = m_set_slice, .min_args = 4, .max_args = 4, .logged = true},
    {.name = "copy", .fn = m_copy, .min_args = 0, .max_args = 0},
    {.name = "add", .fn = m_add, .min_args = 2, .max_args = 2, .logged = true},
    {.name = "cas", .fn = m_cas, .min_args = 3, .max_args = 3, .logged = true},
    {.name = "typecode", .fn = m_typecode, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_array = {
    .name = "array",
    .create = array_create,
    .destroy = array_free,
    .size = array_size,
    .dump_args = array_dump_args,
    .methods = array_methods,
    .n_methods = sizeof array_methods / sizeof array_methods[0],
};
