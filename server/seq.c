/*
 * seq.c — equality, order, indexes and slices, as the collection types share them (seq.h).
 */
#include <math.h>
#include <string.h>

#include "dict.h"
#include "refs.h"
#include "seq.h"

/* ================================ equality ================================================ */

static mpx__buf key_buf;  /* one thread: the canonical form of the key being looked up */
static mpx__buf item_buf; /* one thread: a stored value's canonical form, for mpx__equal() */

static int canon_into(const mpx__span *arg, mpx__buf *buf, mpx__span *out)
{
    if (mpx__mp_is_canonical(arg->p, arg->len)) { /* most keys: short strings and ints */
        *out = *arg;
        return 0;
    }
    msgpack_packer pk;
    buf->size = 0;
    msgpack_packer_init(&pk, buf, mpx__buf_write);
    int rc = mpx__mp_canonical(arg->p, arg->len, &pk);
    *out = (mpx__span){(const uint8_t *)buf->data, buf->size};
    return rc;
}

int mpx__canon(mpx__req *req, const mpx__span *arg, mpx__buf *buf, mpx__span *out)
{
    int rc = canon_into(arg, buf, out);
    if (rc == MPX_ETYPE)
        return mpx__req_fail(req, rc, "an object reference cannot be a key or a set member");
    if (rc) return mpx__req_fail(req, MPX_EBADREQ, "malformed value");
    return 0;
}

int mpx__key(mpx__req *req, const mpx__span *arg, mpx__span *key, uint64_t *hash)
{
    *hash = 0;
    int rc = mpx__canon(req, arg, &key_buf, key);
    if (rc == 0) *hash = mpx__dict_hash(key->p, key->len);
    return rc;
}

bool mpx__equal(const mpx__span *canon, const uint8_t *p, size_t len)
{
    mpx__span mine;
    /* a stored value is well formed; one that cannot be canonical (a reference) equals none */
    if (canon_into(&(mpx__span){p, len}, &item_buf, &mine)) return false;
    return mine.len == canon->len && memcmp(mine.p, canon->p, mine.len) == 0;
}

/* ================================ storing values ========================================== */

int mpx__map_store(mpx__req *req, mpx__dict *d, const mpx__span *key, uint64_t hash,
                   const mpx__span *v)
{
    size_t n = 0;
    int rc = mpx__refs_check(req, v, &n);
    if (rc) return rc;
    if (n) {
        mpx__dict_on_value_free(d, mpx__refs_drop); /* clear and free drop them too */
        mpx__refs_hold(req->obj, v->p, v->len);
    }
    if (req->obj->ref_holder) mpx__map_release(req, mpx__dict_find(d, hash, key->p, key->len));
    if (mpx__dict_set(d, hash, key->p, key->len, v->p, v->len)) {
        if (n) mpx__refs_drop(v->p, v->len);
        return mpx__req_fail(req, MPX_EFULL, "the %s holds its maximum of %u pairs",
                             req->obj->type->name, (unsigned)MPX_DICT_MAX_PAIRS);
    }
    return 0;
}

void mpx__map_release(mpx__req *req, const mpx__dict_entry *e)
{
    if (e && req->obj->ref_holder) mpx__refs_drop(mpx__dict_value(e), e->vlen);
}

/* ================================ order =================================================== */

enum { SEQ_NUM = 1, SEQ_STR, SEQ_BIN, SEQ_BOOL };

int mpx__order_key_make(const uint8_t *p, size_t len, mpx__order_key *k)
{
    mpx__mp_cursor c;
    mpx__mp_token t;
    mpx__mp_init(&c, p, len);
    *k = (mpx__order_key){0};
    if (mpx__mp_next(&c, &t)) return MPX_ETYPE;
    switch (t.kind) {
    case MPX_MP_UINT:
        k->kind = SEQ_NUM, k->i = t.u;
        break;
    case MPX_MP_INT:
        k->kind = SEQ_NUM, k->i = t.i;
        break;
    case MPX_MP_F32:
    case MPX_MP_F64:
        k->kind = SEQ_NUM, k->is_float = true, k->d = t.d;
        break;
    case MPX_MP_STR:
        k->kind = SEQ_STR, k->p = t.data, k->len = t.len;
        break;
    case MPX_MP_BIN:
        k->kind = SEQ_BIN, k->p = t.data, k->len = t.len;
        break;
    case MPX_MP_BOOL:
        k->kind = SEQ_BOOL, k->i = t.b;
        break;
    default:
        return MPX_ETYPE;
    }
    return 0;
}

bool mpx__order_comparable(const mpx__order_key *a, const mpx__order_key *b)
{
    return a->kind == b->kind;
}

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* An integer against a double, exactly (converting either way could round). */
static int int_cmp_double(__int128 i, double d)
{
    if (isnan(d)) return -1; /* NaN after every number */
    if (d < -0x1p126) return 1;
    if (d >= 0x1p126) return -1;
    double whole = floor(d);
    __int128 w = (__int128)whole;
    if (i != w) return CMP(i, w);
    return d > whole ? -1 : 0;
}

static int num_cmp(const mpx__order_key *a, const mpx__order_key *b)
{
    if (!a->is_float && !b->is_float) return CMP(a->i, b->i);
    if (!a->is_float) return int_cmp_double(a->i, b->d);
    if (!b->is_float) return -int_cmp_double(b->i, a->d);
    if (isnan(a->d) || isnan(b->d)) return CMP(isnan(a->d), isnan(b->d));
    return CMP(a->d, b->d);
}

int mpx__order_cmp(const mpx__order_key *a, const mpx__order_key *b)
{
    if (a->kind == SEQ_NUM || a->kind == SEQ_BOOL)
        return a->kind == SEQ_NUM ? num_cmp(a, b) : CMP(a->i, b->i);
    int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
    return c ? c : CMP(a->len, b->len);
}

/* ================================ arithmetic ============================================== */

int mpx__number_read(const mpx__span *v, mpx__number *n, mpx__mp_token *tok)
{
    mpx__mp_cursor c;
    mpx__mp_token t;
    mpx__mp_init(&c, v->p, v->len);
    *n = (mpx__number){0};
    if (mpx__mp_next(&c, &t)) t.kind = MPX_MP_NIL; /* stored and checked values parse */
    if (tok) *tok = t;
    n->is_float = t.kind == MPX_MP_F32 || t.kind == MPX_MP_F64;
    n->is_int = t.kind == MPX_MP_UINT || t.kind == MPX_MP_INT;
    if (t.kind == MPX_MP_UINT)
        n->i = t.u, n->d = (double)t.u;
    else if (t.kind == MPX_MP_INT)
        n->i = t.i, n->d = (double)t.i;
    else if (n->is_float)
        n->d = t.d;
    else
        return MPX_ETYPE;
    return 0;
}

int mpx__num_add(mpx__req *req, const mpx__span *cur, const mpx__span *delta, mpx__buf *out)
{
    mpx__number a = {0}, b;
    char repr[96];
    if (cur && mpx__number_read(cur, &a, NULL)) {
        mpx__repr(cur, repr, sizeof repr);
        return mpx__req_fail(req, MPX_ETYPE, "TypeError: the entry holds %s, not a number", repr);
    }
    if (mpx__number_read(delta, &b, NULL))
        return mpx__req_fail(req, MPX_ETYPE, "TypeError: the amount to add must be a number");
    msgpack_packer pk;
    out->size = 0;
    msgpack_packer_init(&pk, out, mpx__buf_write);
    if (a.is_float || b.is_float) return msgpack_pack_double(&pk, a.d + b.d), 0;
    __int128 sum = a.i + b.i;
    if (sum < INT64_MIN || sum > (__int128)UINT64_MAX)
        return mpx__req_fail(req, MPX_EOVERFLOW, "OverflowError: the sum does not fit in 64 bits");
    if (sum < 0)
        msgpack_pack_int64(&pk, (int64_t)sum);
    else
        msgpack_pack_uint64(&pk, (uint64_t)sum);
    return 0;
}

/* ================================ indexes and slices ====================================== */

int mpx__index_arg(mpx__req *req, uint32_t i, size_t len, size_t *out)
{
    int64_t v;
    int rc = mpx__arg_int(req, i, "the index", &v);
    if (rc) return rc;
    if (v < 0) v += (int64_t)len;
    if (v < 0 || (uint64_t)v >= len)
        return mpx__req_fail(req, MPX_EINDEX, "IndexError: index out of range (length %zu)", len);
    *out = (size_t)v;
    return 0;
}

/* Reads an optional slice bound: nil or absent leaves *v at its default. */
static int bound_arg(mpx__req *req, uint32_t i, const char *what, int64_t *v)
{
    if (i >= req->argc) return 0;
    mpx__mp_cursor c;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    if (mpx__mp_is_nil(&c)) return 0;
    int rc = mpx__mp_int(&c, v);
    if (rc == MPX_EVALUE)
        *v = INT64_MAX; /* past every end, as Python clamps a huge bound */
    else if (rc)
        return mpx__req_fail(req, MPX_ETYPE, "slice %s must be nil or an integer", what);
    return 0;
}

/* Python's PySlice_AdjustIndices on one bound. */
static int64_t clamp_bound(int64_t v, int64_t len, int64_t step)
{
    if (v < 0) {
        v += len;
        if (v < 0) v = step < 0 ? -1 : 0;
    } else if (v >= len) {
        v = step < 0 ? len - 1 : len;
    }
    return v;
}

int mpx__slice_arg(mpx__req *req, uint32_t first, size_t len, mpx__slice *s)
{
    int64_t step = 1;
    int rc = bound_arg(req, first + 2, "step", &step);
    if (rc) return rc;
    if (step == 0) return mpx__req_fail(req, MPX_EVALUE, "ValueError: slice step cannot be zero");
    if (step < -INT64_MAX) step = -INT64_MAX; /* so that -step fits */
    int64_t start = step < 0 ? INT64_MAX : 0, stop = step < 0 ? INT64_MIN : INT64_MAX;
    if ((rc = bound_arg(req, first, "start", &start)) ||
        (rc = bound_arg(req, first + 1, "stop", &stop)))
        return rc;
    int64_t n = (int64_t)len;
    start = clamp_bound(start, n, step);
    stop = clamp_bound(stop, n, step);
    s->start = start;
    s->stop = stop;
    s->step = step;
    if (step < 0)
        s->n = stop < start ? (size_t)((start - stop - 1) / -step + 1) : 0;
    else
        s->n = start < stop ? (size_t)((stop - start - 1) / step + 1) : 0;
    return 0;
}

int mpx__array_arg(mpx__req *req, uint32_t i, mpx__mp_cursor *c, uint32_t *n)
{
    mpx__mp_init(c, req->argv[i].p, req->argv[i].len);
    if (mpx__mp_array(c, n)) return mpx__req_fail(req, MPX_ETYPE, "the items must be an array");
    return 0;
}

mpx__span mpx__array_next(mpx__mp_cursor *c)
{
    mpx__span s = {c->p, 0};
    mpx__mp_skip_inline(c);
    s.len = (size_t)(c->p - s.p);
    return s;
}

#define DUMP_CHUNK 1024

void mpx__dump_dict(const mpx__obj *obj, const mpx__dict *d, mpx__records *w, const char *method,
                    mpx__dump_how how)
{
    const mpx__dict_entry *chunk[DUMP_CHUNK];
    mpx__dict_iter it;
    mpx__dict_iter_start(d, &it, 0);
    for (;;) {
        size_t n = 0;
        while (n < DUMP_CHUNK && (chunk[n] = mpx__dict_iter_next(d, &it, NULL, NULL)) != NULL)
            n++;
        if (n == 0) return;
        msgpack_packer *pk = NULL;
        if (how == MPX_DUMP_MAP) msgpack_pack_map(pk = mpx__record_call(w, obj->id, method, 1), n);
        if (how == MPX_DUMP_KEYS)
            msgpack_pack_array(pk = mpx__record_call(w, obj->id, method, 1), (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            const mpx__dict_entry *e = chunk[i];
            if (how == MPX_DUMP_EACH) pk = mpx__record_call(w, obj->id, method, 2);
            mpx__buf_write(pk->data, (const char *)mpx__dict_key(e), e->klen);
            if (how != MPX_DUMP_KEYS)
                mpx__buf_write(pk->data, (const char *)mpx__dict_value(e), e->vlen);
            if (how == MPX_DUMP_EACH) mpx__record_end(w);
        }
        if (how != MPX_DUMP_EACH) mpx__record_end(w);
        if (n < DUMP_CHUNK) return;
    }
}
