/*
 * t_namespace.c — the namespace type: Python's types.SimpleNamespace, shared (what
 * Manager().Namespace() gives): attributes named by strings, each holding a msgpack value, on
 * the dict's storage (dict.c). A missing attribute is MPX_EATTR.
 */
#include "dict.h"
#include "seq.h"

/* ================================ namespace API =========================================== */

/* The attribute name in argument 0, as a dict key. */
static int attr_key(mpx__req *req, mpx__span *key, uint64_t *hash)
{
    mpx__mp_cursor c;
    const char *name;
    uint32_t len;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_str(&c, &name, &len))
        return mpx__req_fail(req, MPX_ETYPE, "TypeError: an attribute name must be a string");
    return mpx__key(req, &req->argv[0], key, hash);
}

static int attr_error(mpx__req *req)
{
    char repr[96];
    mpx__repr(&req->argv[0], repr, sizeof repr);
    return mpx__req_fail(req, MPX_EATTR, "AttributeError: the namespace has no attribute %s", repr);
}

/* ================================ namespace methods ======================================= */

static int m_get(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = attr_key(req, &key, &hash);
    if (rc) return rc;
    const mpx__dict_entry *e = mpx__dict_find(req->obj->state, hash, key.p, key.len);
    return e ? mpx__reply_raw(req, mpx__dict_value(e), e->vlen) : attr_error(req);
}

static int m_set(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = attr_key(req, &key, &hash);
    if (rc) return rc;
    rc = mpx__map_store(req, req->obj->state, &key, hash, &req->argv[1]);
    return rc ? rc : mpx__reply_nil(req);
}

static int m_delete(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = attr_key(req, &key, &hash);
    if (rc) return rc;
    mpx__dict *d = req->obj->state;
    mpx__map_release(req, mpx__dict_find(d, hash, key.p, key.len));
    if (!mpx__dict_remove(d, hash, key.p, key.len)) return attr_error(req);
    return mpx__reply_nil(req);
}

static int m_contains(mpx__req *req)
{
    mpx__span key;
    uint64_t hash;
    int rc = attr_key(req, &key, &hash);
    if (rc) return rc;
    return mpx__reply_bool(req, mpx__dict_find(req->obj->state, hash, key.p, key.len) != NULL);
}

/* items() -> every attribute and its value, as one map in the order they were first set. */
static int m_items(mpx__req *req)
{
    mpx__dict *d = req->obj->state;
    size_t n = mpx__dict_len(d);
    if (mpx__dict_bytes(d) + 10 * n + 5 > req->max_reply)
        return mpx__req_fail(req, MPX_ETOOBIG,
                             "the namespace's %zu attributes take more than one reply may carry",
                             n);
    msgpack_pack_map(req->out, (uint32_t)n);
    mpx__dict_iter it;
    mpx__dict_iter_start(d, &it, 0);
    for (const mpx__dict_entry *e; (e = mpx__dict_iter_next(d, &it, NULL, NULL));) {
        mpx__reply_raw(req, mpx__dict_key(e), e->klen);
        mpx__reply_raw(req, mpx__dict_value(e), e->vlen);
    }
    return 0;
}

static int namespace_create(mpx__req *req, void **state)
{
    if (req->argc) return mpx__req_fail(req, MPX_EARGS, "a namespace takes no creation arguments");
    *state = mpx__dict_new();
    return 0;
}

static void namespace_destroy(void *state)
{
    mpx__dict_free(state);
}

static uint64_t namespace_size(const void *state)
{
    return mpx__dict_len(state);
}

static void namespace_dump(const mpx__obj *obj, mpx__records *w)
{
    mpx__dump_dict(obj, obj->state, w, "set", MPX_DUMP_EACH);
}

static const mpx__method namespace_methods[] = {
    {.name = "get", .fn = m_get, .min_args = 1, .max_args = 1},
    {.name = "set", .fn = m_set, .min_args = 2, .max_args = 2, .grows = true, .logged = true},
    {.name = "delete", .fn = m_delete, .min_args = 1, .max_args = 1, .logged = true},
    {.name = "contains", .fn = m_contains, .min_args = 1, .max_args = 1},
    {.name = "items", .fn = m_items, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_namespace = {
    .name = "namespace",
    .create = namespace_create,
    .destroy = namespace_destroy,
    .size = namespace_size,
    .dump = namespace_dump,
    .methods = namespace_methods,
    .n_methods = sizeof namespace_methods / sizeof namespace_methods[0],
};
