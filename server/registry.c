/*
 * registry.c — objects by id and by name, per-session references, and the manager object
 * (id 0) whose methods create, find and release objects.
 */
#include <stdbool.h>
#include <string.h>

#include <uthash.h>

#include "alloc.h"
#include "server.h"
#include "session.h"

struct mpx__objent {
    mpx__obj obj;
    UT_hash_handle hh;      /* by id */
    UT_hash_handle hh_name; /* by name, for named objects */
    bool doomed;            /* on the garbage list */
    mpx__objent *next_garbage;
};

struct mpx__ref {
    uint64_t id;
    uint64_t count;
    UT_hash_handle hh;
};

static mpx__obj manager_obj = {.id = 0, .type = &mpx__type_manager};

void mpx__registry_init(mpx__registry *r)
{
    memset(r, 0, sizeof *r);
    r->next_id = 1;
}

static void obj_destroy(mpx__registry *r, mpx__objent *e)
{
    HASH_DEL(r->by_id, e);
    if (e->obj.name) HASH_DELETE(hh_name, r->by_name, e);
    e->obj.type->destroy(e->obj.state);
    free(e->obj.name);
    free(e);
    r->n_objects--;
}

void mpx__registry_close(mpx__registry *r)
{
    mpx__objent *e, *tmp;
    r->garbage = NULL;
    HASH_ITER(hh, r->by_id, e, tmp)
    obj_destroy(r, e);
}

mpx__obj *mpx__registry_find(mpx__registry *r, uint64_t id)
{
    if (id == 0) return &manager_obj;
    mpx__objent *e;
    HASH_FIND(hh, r->by_id, &id, sizeof id, e);
    return e ? &e->obj : NULL;
}

static void ref_add(mpx__ref **refs, mpx__obj *obj)
{
    mpx__ref *ref;
    HASH_FIND(hh, *refs, &obj->id, sizeof obj->id, ref);
    if (!ref) {
        ref = mpx__xcalloc(1, sizeof *ref);
        ref->id = obj->id;
        HASH_ADD(hh, *refs, id, sizeof ref->id, ref);
    }
    ref->count++;
    obj->refs++;
}

/* Drops `count` references to an object; an anonymous object left with none goes on the
 * garbage list, destroyed by mpx__registry_collect(). */
static void obj_unref(mpx__registry *r, uint64_t id, uint64_t count)
{
    mpx__objent *e;
    HASH_FIND(hh, r->by_id, &id, sizeof id, e);
    if (!e) return;
    e->obj.refs -= count;
    if (e->obj.refs == 0 && !e->obj.name && !e->doomed) {
        e->doomed = true;
        e->next_garbage = r->garbage;
        r->garbage = e;
    }
}

void mpx__registry_collect(mpx__registry *r)
{
    while (r->garbage) {
        mpx__objent *e = r->garbage;
        r->garbage = e->next_garbage;
        e->doomed = false;
        if (e->obj.refs == 0) /* else attached again meanwhile */
            obj_destroy(r, e);
    }
}

void mpx__registry_hold(mpx__obj *obj)
{
    obj->refs++;
}

void mpx__registry_unhold(mpx__registry *r, mpx__obj *obj)
{
    obj_unref(r, obj->id, 1);
}

void mpx__registry_unhold_id(mpx__registry *r, uint64_t id)
{
    obj_unref(r, id, 1);
}

void mpx__registry_drop_refs(mpx__registry *r, mpx__ref **refs)
{
    mpx__ref *ref, *tmp;
    HASH_ITER(hh, *refs, ref, tmp)
    {
        HASH_DEL(*refs, ref);
        obj_unref(r, ref->id, ref->count);
        free(ref);
    }
}

/* ================================ manager methods ========================================= */

/* Splits an array argument into spans (the creation arguments of open() and create()). */
static int split_args(mpx__req *req, const mpx__span *arg, mpx__span *argv, uint32_t *argc)
{
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, arg->p, arg->len);
    if (mpx__mp_array(&c, &n))
        return mpx__req_fail(req, MPX_ETYPE, "creation arguments must be an array");
    if (n > MPX_MAX_ARGS)
        return mpx__req_fail(req, MPX_EARGS, "at most %d creation arguments", MPX_MAX_ARGS);
    for (uint32_t i = 0; i < n; i++) {
        argv[i].p = c.p;
        mpx__mp_skip(&c);
        argv[i].len = (size_t)(c.p - argv[i].p);
    }
    *argc = n;
    return 0;
}

static int type_arg(mpx__req *req, const mpx__span *arg, const mpx__type **type)
{
    mpx__mp_cursor c;
    const char *name;
    uint32_t len;
    mpx__mp_init(&c, arg->p, arg->len);
    if (mpx__mp_str(&c, &name, &len))
        return mpx__req_fail(req, MPX_ETYPE, "the type must be a string");
    *type = mpx__type_find(name, len);
    if (!*type)
        return mpx__req_fail(req, MPX_EVALUE, "no object type named '%.*s'",
                             (int)(len > 64 ? 64 : len), name);
    return 0;
}

/* Replies [id, type] and gives the calling session a reference. */
static int reply_handle(mpx__req *req, mpx__obj *obj)
{
    ref_add(&req->session->refs, obj);
    msgpack_pack_array(req->out, 2);
    msgpack_pack_uint64(req->out, obj->id);
    return msgpack_pack_str_with_body(req->out, obj->type->name, strlen(obj->type->name))
               ? MPX_ENOMEM
               : 0;
}

static int obj_new(mpx__req *req, const mpx__type *type, const char *name, size_t name_len,
                   const mpx__span *args, mpx__obj **out)
{
    mpx__span argv[MPX_MAX_ARGS];
    uint32_t argc = 0;
    int rc = args ? split_args(req, args, argv, &argc) : 0;
    if (rc) return rc;
    mpx__req creq = *req;
    creq.argc = argc;
    creq.argv = argv;
    void *state;
    if ((rc = type->create(&creq, &state)) != 0) {
        memcpy(req->errmsg, creq.errmsg, sizeof req->errmsg);
        return rc;
    }
    mpx__registry *r = &req->server->reg;
    mpx__objent *e = mpx__xcalloc(1, sizeof *e);
    e->obj = (mpx__obj){.id = r->next_id++, .type = type, .state = state};
    HASH_ADD(hh, r->by_id, obj.id, sizeof e->obj.id, e);
    if (name) {
        e->obj.name = mpx__xstrndup(name, name_len);
        HASH_ADD_KEYPTR(hh_name, r->by_name, e->obj.name, name_len, e);
    }
    r->n_objects++;
    *out = &e->obj;
    return 0;
}

/* open(name, type [, args]): the named object, created if absent. */
static int m_open(mpx__req *req)
{
    mpx__mp_cursor c;
    const char *name;
    uint32_t len;
    const mpx__type *type;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_str(&c, &name, &len) || len == 0)
        return mpx__req_fail(req, MPX_ETYPE, "the name must be a non-empty string");
    int rc = type_arg(req, &req->argv[1], &type);
    if (rc) return rc;
    mpx__objent *e;
    HASH_FIND(hh_name, req->server->reg.by_name, name, len, e);
    if (e && e->obj.type != type)
        return mpx__req_fail(req, MPX_ETYPE, "'%.*s' is a %s, not a %s", (int)(len > 64 ? 64 : len),
                             name, e->obj.type->name, type->name);
    mpx__obj *obj = e ? &e->obj : NULL;
    if (!obj && (rc = obj_new(req, type, name, len, req->argc > 2 ? &req->argv[2] : NULL, &obj)))
        return rc;
    return reply_handle(req, obj);
}

/* create(type [, args]): a new anonymous object. */
static int m_create(mpx__req *req)
{
    const mpx__type *type;
    mpx__obj *obj;
    int rc = type_arg(req, &req->argv[0], &type);
    if (rc == 0) rc = obj_new(req, type, NULL, 0, req->argc > 1 ? &req->argv[1] : NULL, &obj);
    return rc ? rc : reply_handle(req, obj);
}

static int id_arg(mpx__req *req, uint64_t *id)
{
    mpx__mp_cursor c;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_uint(&c, id))
        return mpx__req_fail(req, MPX_ETYPE, "the object id must be an unsigned integer");
    return 0;
}

/* attach(id): one more reference to an existing object (a forked child's proxies). */
static int m_attach(mpx__req *req)
{
    uint64_t id;
    int rc = id_arg(req, &id);
    if (rc) return rc;
    mpx__obj *obj = id ? mpx__registry_find(&req->server->reg, id) : NULL;
    if (!obj)
        return mpx__req_fail(req, MPX_ENOOBJ, "no object with id %llu", (unsigned long long)id);
    return reply_handle(req, obj);
}

/* release(id): drops one of the calling session's references. */
static int m_release(mpx__req *req)
{
    uint64_t id;
    int rc = id_arg(req, &id);
    if (rc) return rc;
    mpx__ref *ref;
    HASH_FIND(hh, req->session->refs, &id, sizeof id, ref);
    if (!ref)
        return mpx__req_fail(req, MPX_ENOOBJ, "this session holds no reference to object %llu",
                             (unsigned long long)id);
    if (--ref->count == 0) {
        HASH_DEL(req->session->refs, ref);
        free(ref);
    }
    obj_unref(&req->server->reg, id, 1);
    return msgpack_pack_nil(req->out) ? MPX_ENOMEM : 0;
}

static int m_ping(mpx__req *req)
{
    return msgpack_pack_nil(req->out) ? MPX_ENOMEM : 0;
}

static void pack_counter(msgpack_packer *pk, const char *name, uint64_t v)
{
    msgpack_pack_str_with_body(pk, name, strlen(name));
    msgpack_pack_uint64(pk, v);
}

static int m_stats(mpx__req *req)
{
    const mpx__server *s = req->server;
    const mpx__stats *st = &s->stats;
    msgpack_packer *pk = req->out;
    msgpack_pack_map(pk, 12);
    pack_counter(pk, "sessions", s->n_sessions);
    pack_counter(pk, "objects", s->reg.n_objects);
    pack_counter(pk, "parked", s->n_parked);
    pack_counter(pk, "calls", st->calls);
    pack_counter(pk, "auth_failures", st->auth_failures);
    pack_counter(pk, "rejected_unauth", st->rejected_unauth);
    pack_counter(pk, "rejected_mac", st->rejected_mac);
    pack_counter(pk, "rejected_replay", st->rejected_replay);
    pack_counter(pk, "rejected_malformed", st->rejected_malformed);
    pack_counter(pk, "rejected_oversize", st->rejected_oversize);
    pack_counter(pk, "rejected_version", st->rejected_version);
    pack_counter(pk, "max_message", s->cfg.max_message);
    return 0;
}

static const mpx__method manager_methods[] = {
    {.name = "open", .fn = m_open, .min_args = 2, .max_args = 3},
    {.name = "create", .fn = m_create, .min_args = 1, .max_args = 2},
    {.name = "attach", .fn = m_attach, .min_args = 1, .max_args = 1},
    {.name = "release", .fn = m_release, .min_args = 1, .max_args = 1},
    {.name = "ping", .fn = m_ping, .min_args = 0, .max_args = 0},
    {.name = "stats", .fn = m_stats, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_manager = {
    .name = "manager",
    .methods = manager_methods,
    .n_methods = sizeof manager_methods / sizeof manager_methods[0],
};
