/*
 * t_value.c — the value type: one shared msgpack value, Python's Manager().Value. Created
 * with an optional initial value (nil otherwise); get() returns it, set(v) replaces it.
 */
#include <string.h>

#include "alloc.h"
#include "object.h"

/* ================================ value API =============================================== */

typedef struct {
    uint8_t *bytes; /* one msgpack object, stored as it arrived */
    size_t len;
} value;

static void value_store(value *v, const mpx__span *s)
{
    v->bytes = mpx__xrealloc(v->bytes, s->len);
    memcpy(v->bytes, s->p, s->len);
    v->len = s->len;
}

static void value_free(void *state)
{
    value *v = state;
    mpx__xfree(v->bytes);
    mpx__xfree(v);
}

/* ================================ value methods =========================================== */

static int m_get(mpx__req *req)
{
    const value *v = req->obj->state;
    return mpx__reply_raw(req, v->bytes, v->len);
}

static int m_set(mpx__req *req)
{
    value_store(req->obj->state, &req->argv[0]);
    return mpx__reply_nil(req);
}

static int value_create(mpx__req *req, void **state)
{
    static const uint8_t nil = 0xc0;
    if (req->argc > 1)
        return mpx__req_fail(req, MPX_EARGS, "value takes at most 1 creation argument");
    value *v = mpx__xcalloc(1, sizeof *v);
    value_store(v, req->argc == 1 ? &req->argv[0] : &(mpx__span){&nil, 1});
    *state = v;
    return 0;
}

static uint64_t value_size(const void *state)
{
    (void)state;
    return 1;
}

static const mpx__method value_methods[] = {
    {.name = "get", .fn = m_get, .min_args = 0, .max_args = 0},
    {.name = "set", .fn = m_set, .min_args = 1, .max_args = 1, .grows = true},
};

const mpx__type mpx__type_value = {
    .name = "value",
    .create = value_create,
    .destroy = value_free,
    .size = value_size,
    .methods = value_methods,
    .n_methods = sizeof value_methods / sizeof value_methods[0],
};
