/*
 * t_value.c — the value type: one shared msgpack value, Python's Manager().Value. Created
 * with an optional initial value (nil otherwise); get() returns it, set(v) replaces it.
 */
#include <string.h>

#include "records.h"
#include "alloc.h"
#include "object.h"
#include "refs.h"

/* ================================ value API =============================================== */

typedef struct {
    uint8_t *bytes; /* one msgpack object, stored as it arrived */
    size_t len;
    bool refs; /* it holds object references (refs.h) */
} value;

/* Replaces the value with s, whose references req checked and holds. */
static void value_store(value *v, const mpx__span *s, bool refs)
{
    if (v->refs) mpx__refs_drop(v->bytes, v->len);
    v->bytes = mpx__xrealloc(v->bytes, s->len);
    memcpy(v->bytes, s->p, s->len);
    v->len = s->len;
    v->refs = refs;
}

static void value_free(void *state)
{
    value *v = state;
    if (v->refs) mpx__refs_drop(v->bytes, v->len);
    mpx__xfree(v->bytes);
    mpx__xfree(v);
}

/* Checks and holds the references of s, about to be stored in obj (NULL: the object being
 * created). */
static int value_refs(mpx__req *req, mpx__obj *obj, const mpx__span *s, bool *refs)
{
    size_t n = 0;
    int rc = mpx__refs_check(req, s, &n);
    if (rc == 0 && n) mpx__refs_hold(obj, s->p, s->len);
    *refs = n > 0;
    return rc;
}

/* ================================ value methods =========================================== */

static int m_get(mpx__req *req)
{
    const value *v = req->obj->state;
    return mpx__reply_raw(req, v->bytes, v->len);
}

static int m_set(mpx__req *req)
{
    bool refs;
    int rc = value_refs(req, req->obj, &req->argv[0], &refs);
    if (rc) return rc;
    value_store(req->obj->state, &req->argv[0], refs);
    return mpx__reply_nil(req);
}

static int value_create(mpx__req *req, void **state)
{
    static const uint8_t nil = 0xc0;
    if (req->argc > 1)
        return mpx__req_fail(req, MPX_EARGS, "value takes at most 1 creation argument");
    const mpx__span *init = req->argc == 1 ? &req->argv[0] : &(mpx__span){&nil, 1};
    bool refs;
    int rc = value_refs(req, NULL, init, &refs);
    if (rc) return rc;
    value *v = mpx__xcalloc(1, sizeof *v);
    value_store(v, init, refs);
    *state = v;
    return 0;
}

static uint64_t value_size(const void *state)
{
    (void)state;
    return 1;
}

static void value_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const value *v = obj->state;
    msgpack_pack_array(pk, 1);
    mpx__buf_write(pk->data, (const char *)v->bytes, v->len);
}

static const mpx__method value_methods[] = {
    {.name = "get", .fn = m_get, .min_args = 0, .max_args = 0},
    {.name = "set", .fn = m_set, .min_args = 1, .max_args = 1, .grows = true, .logged = true},
};

const mpx__type mpx__type_value = {
    .name = "value",
    .create = value_create,
    .destroy = value_free,
    .size = value_size,
    .dump_args = value_dump_args,
    .methods = value_methods,
    .n_methods = sizeof value_methods / sizeof value_methods[0],
};
