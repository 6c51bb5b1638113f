/*
 * t_list.c — the list type: Python's list of msgpack values, shared.
 *
 * Items are stored exactly as they arrived, each in its own allocation, behind one array of
 * pointers, so that inserting or deleting moves pointers only. As in Python, a call that
 * touches every item (index, count, remove, sort, insert or delete near the front) costs in
 * proportion to the list; get, set, append and pop at the end do not. Items compare by the
 * rule of seq.h. A list too large for one reply is read a slice at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "alloc.h"
#include "lazyfree.h"
#include "refs.h"
#include "seq.h"

/* ================================ list API ================================================ */

typedef struct {
    uint32_t len;
    bool refs; /* it holds object references (refs.h) */
    uint8_t bytes[];
} item;

typedef struct {
    item **v;
    size_t n, cap;
} list;

/* Items freed a slice at a time: a list of millions must not stall the loop. */
#define FREE_SLICE 4096

/* A stored copy of s, holding its references when it has any (checked by the caller); obj is
 * the list, NULL while it is being created. */
static item *item_new(mpx__obj *obj, const mpx__span *s, bool refs)
{
    item *it = mpx__xmalloc(sizeof *it + s->len);
    it->len = (uint32_t)s->len;
    it->refs = refs;
    memcpy(it->bytes, s->p, s->len);
    if (refs) mpx__refs_hold(obj, it->bytes, it->len);
    return it;
}

static void item_free(item *it)
{
    if (it->refs) mpx__refs_drop(it->bytes, it->len);
    mpx__xfree(it);
}

/* Checks the references of an argument about to be stored: *refs says whether it has any. */
static int check_refs(mpx__req *req, const mpx__span *s, bool *refs)
{
    size_t n = 0;
    int rc = mpx__refs_check(req, s, &n);
    *refs = n > 0;
    return rc;
}

/* Makes room for `more` items. */
static void list_reserve(list *l, size_t more)
{
    if (l->n + more <= l->cap) return;
    size_t cap = l->cap ? l->cap : 8;
    while (cap < l->n + more)
        cap += cap / 2 + 8; /* as Python's list over-allocates */
    l->v = mpx__xrealloc(l->v, cap * sizeof *l->v);
    l->cap = cap;
}

/* Opens a gap of k items at position at. */
static void list_open_gap(list *l, size_t at, size_t k)
{
    list_reserve(l, k);
    memmove(l->v + at + k, l->v + at, (l->n - at) * sizeof *l->v);
    l->n += k;
}

/* Removes the k items from position at, freeing them. */
static void list_cut(list *l, size_t at, size_t k)
{
    for (size_t i = at; i < at + k; i++)
        item_free(l->v[i]);
    memmove(l->v + at, l->v + at + k, (l->n - at - k) * sizeof *l->v);
    l->n -= k;
}

static bool list_free_step(void *state, size_t budget)
{
    list *l = state;
    for (size_t k = 0; k < budget && l->n; k++)
        item_free(l->v[--l->n]);
    if (l->n) return false;
    mpx__xfree(l->v);
    mpx__xfree(l);
    return true;
}

static void list_free(void *state)
{
    list *l = state;
    if (l->n > FREE_SLICE)
        mpx__lazyfree(list_free_step, l);
    else
        list_free_step(l, l->n);
}

/* Bytes of items from[0..n) as one reply's array, or MPX_ETOOBIG. */
static int reply_items(mpx__req *req, const mpx__slice *s)
{
    list *l = req->obj->state;
    size_t bytes = 5;
    for (size_t i = 0; i < s->n; i++) {
        bytes += l->v[mpx__slice_at(s, i)]->len;
        if (bytes > req->max_reply)
            return mpx__req_fail(req, MPX_ETOOBIG,
                                 "%zu items take more than one reply may carry (--max-message "
                                 "%zu): read the list a slice at a time",
                                 s->n, req->max_reply);
    }
    msgpack_pack_array(req->out, (uint32_t)s->n);
    for (size_t i = 0; i < s->n; i++) {
        const item *it = l->v[mpx__slice_at(s, i)];
        mpx__reply_raw(req, it->bytes, it->len);
    }
    return 0;
}

/* The position of the first item equal to argument 0 in [from, to), or l->n. */
static int find_item(mpx__req *req, size_t from, size_t to, size_t *at)
{
    static mpx__buf needle_buf;
    list *l = req->obj->state;
    mpx__span needle;
    int rc = mpx__canon(req, &req->argv[0], &needle_buf, &needle);
    if (rc) return rc;
    for (*at = from; *at < to; (*at)++)
        if (mpx__equal(&needle, l->v[*at]->bytes, l->v[*at]->len)) return 0;
    *at = l->n;
    return 0;
}

/* ================================ list methods ============================================ */

static int m_append(mpx__req *req)
{
    list *l = req->obj->state;
    bool refs;
    int rc = check_refs(req, &req->argv[0], &refs);
    if (rc) return rc;
    list_reserve(l, 1);
    l->v[l->n++] = item_new(req->obj, &req->argv[0], refs);
    return mpx__reply_nil(req);
}

static int m_extend(mpx__req *req)
{
    list *l = req->obj->state;
    mpx__mp_cursor c;
    uint32_t n;
    bool refs;
    int rc = mpx__array_arg(req, 0, &c, &n);
    if (rc == 0) rc = check_refs(req, &req->argv[0], &refs);
    if (rc) return rc;
    list_reserve(l, n);
    for (uint32_t i = 0; i < n; i++) {
        mpx__span s = mpx__array_next(&c);
        l->v[l->n++] = item_new(req->obj, &s, refs && mpx__refs_present(s.p, s.len));
    }
    return mpx__reply_nil(req);
}

/* insert(index, item): as Python, an index past either end means that end. */
static int m_insert(mpx__req *req)
{
    list *l = req->obj->state;
    int64_t i;
    bool refs;
    int rc = mpx__arg_int(req, 0, "the index", &i);
    if (rc == MPX_EINDEX)
        i = INT64_MAX;
    else if (rc)
        return rc;
    if ((rc = check_refs(req, &req->argv[1], &refs))) return rc;
    if (i < 0) i += (int64_t)l->n;
    size_t at = i < 0 ? 0 : (uint64_t)i > l->n ? l->n : (size_t)i;
    list_open_gap(l, at, 1);
    l->v[at] = item_new(req->obj, &req->argv[1], refs);
    return mpx__reply_nil(req);
}

static int m_get(mpx__req *req)
{
    list *l = req->obj->state;
    size_t at;
    int rc = mpx__index_arg(req, 0, l->n, &at);
    return rc ? rc : mpx__reply_raw(req, l->v[at]->bytes, l->v[at]->len);
}

static int m_set(mpx__req *req)
{
    list *l = req->obj->state;
    size_t at;
    bool refs;
    int rc = mpx__index_arg(req, 0, l->n, &at);
    if (rc == 0) rc = check_refs(req, &req->argv[1], &refs);
    if (rc) return rc;
    item_free(l->v[at]);
    l->v[at] = item_new(req->obj, &req->argv[1], refs);
    return mpx__reply_nil(req);
}

static int m_delete(mpx__req *req)
{
    list *l = req->obj->state;
    size_t at;
    int rc = mpx__index_arg(req, 0, l->n, &at);
    if (rc) return rc;
    list_cut(l, at, 1);
    return mpx__reply_nil(req);
}

static int m_get_slice(mpx__req *req)
{
    mpx__slice s;
    int rc = mpx__slice_arg(req, 0, ((list *)req->obj->state)->n, &s);
    return rc ? rc : reply_items(req, &s);
}

/* Replaces the items of a simple slice (step 1), [start, max(start, stop)), with n new ones. */
static void splice(mpx__obj *obj, list *l, const mpx__slice *s, mpx__mp_cursor *c, uint32_t n,
                   bool refs)
{
    size_t at = (size_t)s->start, old = s->n;
    for (size_t i = 0; i < old; i++)
        item_free(l->v[at + i]);
    if (n > old) list_open_gap(l, at + old, n - old);
    if (n < old) {
        memmove(l->v + at + n, l->v + at + old, (l->n - at - old) * sizeof *l->v);
        l->n -= old - n;
    }
    for (uint32_t i = 0; i < n; i++) {
        mpx__span it = mpx__array_next(c);
        l->v[at + i] = item_new(obj, &it, refs && mpx__refs_present(it.p, it.len));
    }
}

/* set_slice(start, stop, step, items): a step other than 1 must keep the length. */
static int m_set_slice(mpx__req *req)
{
    list *l = req->obj->state;
    mpx__slice s;
    mpx__mp_cursor c;
    uint32_t n;
    bool refs;
    int rc = mpx__array_arg(req, 3, &c, &n);
    if (rc == 0) rc = mpx__slice_arg(req, 0, l->n, &s);
    if (rc == 0) rc = check_refs(req, &req->argv[3], &refs);
    if (rc) return rc;
    if (s.step == 1) {
        splice(req->obj, l, &s, &c, n, refs);
        return mpx__reply_nil(req);
    }
    if (n != s.n)
        return mpx__req_fail(req, MPX_EVALUE,
                             "ValueError: attempt to assign sequence of size %u to extended "
                             "slice of size %zu",
                             n, s.n);
    for (size_t i = 0; i < s.n; i++) {
        size_t at = mpx__slice_at(&s, i);
        mpx__span it = mpx__array_next(&c);
        item_free(l->v[at]);
        l->v[at] = item_new(req->obj, &it, refs && mpx__refs_present(it.p, it.len));
    }
    return mpx__reply_nil(req);
}

static int m_delete_slice(mpx__req *req)
{
    list *l = req->obj->state;
    mpx__slice s;
    int rc = mpx__slice_arg(req, 0, l->n, &s);
    if (rc || s.n == 0) return rc ? rc : mpx__reply_nil(req);
    if (s.step < 0) { /* the same positions, walked upwards */
        s.start = (int64_t)mpx__slice_at(&s, s.n - 1);
        s.step = -s.step;
    }
    if (s.step == 1) {
        list_cut(l, (size_t)s.start, s.n);
        return mpx__reply_nil(req);
    }
    size_t out = (size_t)s.start, next = 0;
    for (size_t i = (size_t)s.start; i < l->n; i++) {
        if (next < s.n && i == mpx__slice_at(&s, next)) {
            item_free(l->v[i]);
            next++;
        } else {
            l->v[out++] = l->v[i];
        }
    }
    l->n = out;
    return mpx__reply_nil(req);
}

/* pop([index]) -> the item, the last by default. */
static int m_pop(mpx__req *req)
{
    list *l = req->obj->state;
    size_t at = l->n - 1;
    if (l->n == 0) return mpx__req_fail(req, MPX_EINDEX, "IndexError: pop from empty list");
    int rc = req->argc ? mpx__index_arg(req, 0, l->n, &at) : 0;
    if (rc) return rc;
    mpx__reply_raw(req, l->v[at]->bytes, l->v[at]->len);
    list_cut(l, at, 1);
    return 0;
}

static int m_remove(mpx__req *req)
{
    list *l = req->obj->state;
    size_t at;
    int rc = find_item(req, 0, l->n, &at);
    if (rc) return rc;
    if (at == l->n)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: list.remove(x): x not in list");
    list_cut(l, at, 1);
    return mpx__reply_nil(req);
}

/* index(item [, start [, stop]]) -> the first position of item in [start, stop). */
static int m_index(mpx__req *req)
{
    list *l = req->obj->state;
    mpx__slice s = {.start = 0, .stop = (int64_t)l->n};
    size_t at;
    int rc = req->argc > 1 ? mpx__slice_arg(req, 1, l->n, &s) : 0;
    if (rc) return rc;
    if (s.stop < s.start) s.stop = s.start;
    if ((rc = find_item(req, (size_t)s.start, (size_t)s.stop, &at))) return rc;
    if (at == l->n)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: the item is not in the list");
    return mpx__reply_uint(req, at);
}

static int m_count(mpx__req *req)
{
    static mpx__buf needle_buf;
    list *l = req->obj->state;
    mpx__span needle;
    int rc = mpx__canon(req, &req->argv[0], &needle_buf, &needle);
    if (rc) return rc;
    uint64_t count = 0;
    for (size_t i = 0; i < l->n; i++)
        count += mpx__equal(&needle, l->v[i]->bytes, l->v[i]->len);
    return mpx__reply_uint(req, count);
}

static int m_contains(mpx__req *req)
{
    list *l = req->obj->state;
    size_t at;
    int rc = find_item(req, 0, l->n, &at);
    return rc ? rc : mpx__reply_bool(req, at < l->n);
}

static int m_len(mpx__req *req)
{
    return mpx__reply_uint(req, ((list *)req->obj->state)->n);
}

static int m_reverse(mpx__req *req)
{
    list *l = req->obj->state;
    for (size_t i = 0, j = l->n; i + 1 < j; i++, j--) {
        item *t = l->v[i];
        l->v[i] = l->v[j - 1];
        l->v[j - 1] = t;
    }
    return mpx__reply_nil(req);
}

typedef struct {
    mpx__order_key key;
    item *it;
    size_t pos; /* ties keep their order: the sort is stable, as Python's */
} sort_rec;

static bool sort_descending;

static int sort_cmp(const void *a, const void *b)
{
    const sort_rec *x = a, *y = b;
    int c = mpx__order_cmp(&x->key, &y->key);
    if (sort_descending) c = -c;
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* sort([reverse]): numbers with numbers, strings with strings, bytes with bytes, booleans
 * with booleans; anything else, or kinds mixed, is a type error and leaves the list as it
 * was. */
static int m_sort(mpx__req *req)
{
    list *l = req->obj->state;
    bool reverse = false;
    if (req->argc) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
        if (mpx__mp_bool(&c, &reverse))
            return mpx__req_fail(req, MPX_ETYPE, "reverse must be a boolean");
    }
    sort_rec *recs = mpx__xmalloc((l->n ? l->n : 1) * sizeof *recs);
    for (size_t i = 0; i < l->n; i++) {
        recs[i] = (sort_rec){.it = l->v[i], .pos = i};
        if (mpx__order_key_make(l->v[i]->bytes, l->v[i]->len, &recs[i].key) ||
            !mpx__order_comparable(&recs[i].key, &recs[0].key)) {
            mpx__xfree(recs);
            return mpx__req_fail(req, MPX_ETYPE,
                                 "TypeError: item %zu cannot be ordered against item 0 (numbers "
                                 "sort with numbers, strings with strings, bytes with bytes, "
                                 "booleans with booleans)",
                                 i);
        }
    }
    sort_descending = reverse;
    qsort(recs, l->n, sizeof *recs, sort_cmp);
    for (size_t i = 0; i < l->n; i++)
        l->v[i] = recs[i].it;
    mpx__xfree(recs);
    return mpx__reply_nil(req);
}

static int m_clear(mpx__req *req)
{
    list *l = req->obj->state, *old = mpx__xmalloc(sizeof *old);
    *old = *l;
    *l = (list){0};
    list_free(old);
    return mpx__reply_nil(req);
}

static int m_copy(mpx__req *req)
{
    list *l = req->obj->state;
    mpx__slice all = {.start = 0, .stop = (int64_t)l->n, .step = 1, .n = l->n};
    return reply_items(req, &all);
}

static int list_create(mpx__req *req, void **state)
{
    if (req->argc > 1)
        return mpx__req_fail(req, MPX_EARGS, "a list takes at most 1 creation argument");
    list *l = mpx__xcalloc(1, sizeof *l);
    *state = l;
    if (req->argc == 0) return 0;
    mpx__req areq = *req;
    areq.obj = &(mpx__obj){.state = l}; /* the manager marks the real one (refs.h) */
    int rc = m_extend(&areq);
    if (rc) {
        memcpy(req->errmsg, areq.errmsg, sizeof req->errmsg);
        list_free(l);
    }
    return rc;
}

static uint64_t list_size(const void *state)
{
    return ((const list *)state)->n;
}

#define DUMP_CHUNK 1024

static void list_dump(const mpx__obj *obj, mpx__records *w)
{
    const list *l = obj->state;
    for (size_t at = 0; at < l->n; at += DUMP_CHUNK) {
        size_t n = l->n - at < DUMP_CHUNK ? l->n - at : DUMP_CHUNK;
        msgpack_packer *pk = mpx__record_call(w, obj->id, "extend", 1);
        msgpack_pack_array(pk, (uint32_t)n);
        for (size_t i = at; i < at + n; i++)
            mpx__buf_write(pk->data, (const char *)l->v[i]->bytes, l->v[i]->len);
        mpx__record_end(w);
    }
}

static const mpx__method list_methods[] = {
    {.name = "append", .fn = m_append, .min_args = 1, .max_args = 1, .grows = true, .logged = true},
    {.name = "extend", .fn = m_extend, .min_args = 1, .max_args = 1, .grows = true, .logged = true},
    {.name = "insert", .fn = m_insert, .min_args = 2, .max_args = 2, .grows = true, .logged = true},
    {.name = "get", .fn = m_get, .min_args = 1, .max_args = 1},
    {.name = "set", .fn = m_set, .min_args = 2, .max_args = 2, .grows = true, .logged = true},
    {.name = "delete", .fn = m_delete, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "get_slice", .fn = m_get_slice, .min_args = 0, .max_args = 3},
    {.name = "set_slice",
     .fn = m_set_slice,
     .min_args = 4,
     .max_args = 4,
     .grows = true,
     .logged = true},
    {.name = "delete_slice", .fn = m_delete_slice, .min_args = 0, .max_args = 3, .logged = true},
    {.name = "pop", .fn = m_pop, .min_args = 0, .max_args = 1, .logged = true},
    {.name = "remove", .fn = m_remove, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "index", .fn = m_index, .min_args = 1, .max_args = 3},
    {.name = "count", .fn = m_count, .min_args = 1, .max_args = 1},
    {.name = "contains", .fn = m_contains, .min_args = 1, .max_args = 1},
    {.name = "len", .fn = m_len, .min_args = 0, .max_args = 0},
    {.name = "reverse", .fn = m_reverse, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "sort", .fn = m_sort, .min_args = 0, .max_args = 1, .logged = true},
    {.name = "clear", .fn = m_clear, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "copy", .fn = m_copy, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_list = {
    .name = "list",
    .create = list_create,
    .destroy = list_free,
    .size = list_size,
    .dump = list_dump,
    .methods = list_methods,
    .n_methods = sizeof list_methods / sizeof list_methods[0],
};
