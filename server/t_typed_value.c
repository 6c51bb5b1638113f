/*
 * t_typed_value.c — the typed value: Python's Manager().Value(typecode, value), with the
 * typecode enforced (Python's proxy ignores it): a value of the wrong kind or out of range is
 * refused and the stored value stays. add and cas make a shared counter exact without a lock.
 * The untyped value, holding any msgpack value, is t_value.c.
 */
#include "records.h"
#include "alloc.h"
#include "typecode.h"

/* ================================ typed value API ========================================= */

typedef struct {
    const mpx__typecode *tc;
    mpx__num v;
} typed_value;

static void typed_value_free(void *state)
{
    mpx__xfree(state);
}

/* ================================ typed value methods ===================================== */

static int m_get(mpx__req *req)
{
    const typed_value *tv = req->obj->state;
    mpx__typecode_pack(tv->tc, tv->v, req->out);
    return 0;
}

static int m_set(mpx__req *req)
{
    typed_value *tv = req->obj->state;
    mpx__num v;
    int rc = mpx__typecode_read(req, tv->tc, &req->argv[0], &v);
    if (rc) return rc;
    tv->v = v;
    return mpx__reply_nil(req);
}

/* add(delta) -> the new value. */
static int m_add(mpx__req *req)
{
    typed_value *tv = req->obj->state;
    int rc = mpx__typecode_add(req, tv->tc, &tv->v, &req->argv[0]);
    return rc ? rc : m_get(req);
}

/* cas(expected, new) -> [swapped, current]. */
static int m_cas(mpx__req *req)
{
    typed_value *tv = req->obj->state;
    return mpx__typecode_cas(req, tv->tc, &tv->v, 0);
}

static int m_typecode(mpx__req *req)
{
    const typed_value *tv = req->obj->state;
    msgpack_pack_str_with_body(req->out, &tv->tc->code, 1);
    return 0;
}

/* Created with (typecode [, value]): the typecode's zero when no value is given. */
static int typed_value_create(mpx__req *req, void **state)
{
    if (req->argc < 1 || req->argc > 2)
        return mpx__req_fail(req, MPX_EARGS, "a typed_value takes (typecode [, value])");
    const mpx__typecode *tc;
    int rc = mpx__typecode_arg(req, 0, &tc);
    if (rc) return rc;
    mpx__num v = mpx__typecode_zero(tc);
    if (req->argc == 2 && (rc = mpx__typecode_read(req, tc, &req->argv[1], &v))) return rc;
    typed_value *tv = mpx__xmalloc(sizeof *tv);
    *tv = (typed_value){tc, v};
    *state = tv;
    return 0;
}

static uint64_t typed_value_size(const void *state)
{
    (void)state;
    return 1;
}

static void typed_value_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const typed_value *tv = obj->state;
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, &tv->tc->code, 1);
    mpx__typecode_pack(tv->tc, tv->v, pk);
}

static const mpx__method typed_value_methods[] = {
    {.name = "get", .fn = m_get, .min_args = 0, .max_args = 0},
    {.name = "set", .fn = m_set, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "add", .fn = m_add, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "cas", .fn = m_cas, .min_args = 2, .max_args = 2, .logged = true},
    {.name = "typecode", .fn = m_typecode, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_typed_value = {
    .name = "typed_value",
    .create = typed_value_create,
    .destroy = typed_value_free,
    .size = typed_value_size,
    .dump_args = typed_value_dump_args,
    .methods = typed_value_methods,
    .n_methods = sizeof typed_value_methods / sizeof typed_value_methods[0],
};
