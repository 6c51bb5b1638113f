/*
 * t_manager.c — the manager, object 0: opening, creating, attaching, releasing, deleting and
 * listing objects, cancelling a parked call, ping, the counters, and the debug methods of mpxd
 * --debug.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "blocked.h"
#include "persist.h"
#include "refs.h"
#include "session.h"
#include "t_manager.h"

/* ================================ manager API ============================================= */

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
        mpx__mp_skip(&c); /* dispatch checked the whole argument */
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
    if (!*type) {
        char repr[96];
        mpx__repr(arg, repr, sizeof repr);
        return mpx__req_fail(req, MPX_EVALUE, "no object type named %s", repr);
    }
    return 0;
}

/* Replies [id, type] and gives the calling session a reference. */
static int reply_handle(mpx__req *req, mpx__obj *obj)
{
    mpx__registry_ref(&req->session->refs, obj);
    msgpack_pack_array(req->out, 2);
    msgpack_pack_uint64(req->out, obj->id);
    msgpack_pack_str_with_body(req->out, obj->type->name, strlen(obj->type->name));
    return 0;
}

int mpx__manager_make(mpx__req *req, const mpx__type *type, const char *name, size_t name_len,
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
    *out = mpx__registry_add(&req->server->reg, type, name, name_len, state);
    (*out)->ref_holder = args && mpx__refs_present(args->p, args->len);
    mpx__persist_created(req->server, *out, args);
    return 0;
}

/* ================================ manager methods ========================================= */

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
    mpx__obj *obj = mpx__registry_find_name(&req->server->reg, name, len);
    if (obj && obj->type != type) {
        char repr[96];
        mpx__repr(&req->argv[0], repr, sizeof repr);
        return mpx__req_fail(req, MPX_ETYPE, "%s is a %s, not a %s", repr, obj->type->name,
                             type->name);
    }
    if (!obj && (rc = mpx__memory_check(req)) != 0) return rc;
    if (!obj &&
        (rc = mpx__manager_make(req, type, name, len, req->argc > 2 ? &req->argv[2] : NULL, &obj)))
        return rc;
    return reply_handle(req, obj);
}

/* create(type [, args]): a new anonymous object. */
static int m_create(mpx__req *req)
{
    const mpx__type *type;
    mpx__obj *obj;
    size_t held = mpx__registry_refs_count(req->session->refs);
    size_t most = req->server->cfg.max_session_objects;
    if (held >= most) { /* anonymous objects live while held: a bound on one client's */
        static mpx__log_limiter refused; /* one thread */
        req->server->stats.rejected_objects++;
        mpx__log_limited(&refused,
                         "session %016llx from %s holds %zu objects, its "
                         "--max-session-objects: create refused with MPX_ETOOMANY",
                         (unsigned long long)req->session->sid, req->session->peer, held);
        return mpx__req_fail(req, MPX_ETOOMANY,
                             "this session holds %zu objects, its --max-session-objects; "
                             "release some first",
                             held);
    }
    int rc = type_arg(req, &req->argv[0], &type);
    if (rc == 0)
        rc = mpx__manager_make(req, type, NULL, 0, req->argc > 1 ? &req->argv[1] : NULL, &obj);
    return rc ? rc : reply_handle(req, obj);
}

/* attach(id): one more reference to an existing object (a forked child's proxies). */
static int m_attach(mpx__req *req)
{
    uint64_t id;
    int rc = mpx__arg_uint(req, 0, "the object id", &id);
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
    int rc = mpx__arg_uint(req, 0, "the object id", &id);
    if (rc) return rc;
    if (mpx__registry_unref(&req->server->reg, &req->session->refs, id))
        return mpx__req_fail(req, MPX_ENOOBJ, "this session holds no reference to object %llu",
                             (unsigned long long)id);
    return mpx__reply_nil(req);
}

/* cancel(req_id) -> whether a parked call of this session was cancelled. */
static int m_cancel(mpx__req *req)
{
    uint64_t id;
    int rc = mpx__arg_uint(req, 0, "the request id", &id);
    if (rc) return rc;
    return mpx__reply_bool(req, mpx__blocked_cancel(req->server, req->session, id));
}

/* The object deleted by the last delete(), whose parked calls the manager's wake hook
 * answers once delete's own reply is sent (a handler must not answer other calls). Held. */
static mpx__obj *deleting;

/* delete(name or id): the object is deleted at once. Its name is free for a new object of any
 * type; proxies to it get MPX_ENOOBJ; calls parked on it are answered with MPX_ENOOBJ. */
static int m_delete(mpx__req *req)
{
    mpx__registry *reg = &req->server->reg;
    mpx__mp_cursor c;
    const char *name;
    uint32_t len;
    uint64_t id = 0;
    mpx__obj *obj;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_str(&c, &name, &len) == 0)
        obj = mpx__registry_find_name(reg, name, len);
    else if (mpx__mp_uint(&c, &id) == 0)
        obj = id ? mpx__registry_find(reg, id) : NULL;
    else
        return mpx__req_fail(req, MPX_ETYPE, "delete() takes an object's name or id");
    if (!obj) {
        char repr[96];
        mpx__repr(&req->argv[0], repr, sizeof repr);
        return mpx__req_fail(req, MPX_ENOOBJ, "no object %s", repr);
    }
    mpx__persist_deleted(req->server, obj);
    mpx__registry_hold(obj);
    mpx__registry_delete(reg, obj);
    deleting = obj;
    return mpx__reply_nil(req);
}

static void manager_wake(mpx__server *s, mpx__obj *manager)
{
    (void)manager;
    mpx__obj *obj = deleting;
    if (!obj) return;
    deleting = NULL;
    if (obj->type->fail_parked)
        obj->type->fail_parked(s, obj, MPX_ENOOBJ, "no such object: it was deleted");
    mpx__registry_drop_state(obj);
    mpx__registry_unhold(&s->reg, obj);
}

/* objects(cursor, count [, prefix]) -> [next cursor, [[id, name or nil, type, size, refs],
 * ...]]: a batch of the objects, as dict.scan walks a dict (registry.h); with a prefix, only
 * the named objects whose name starts with it. */
#define OBJECTS_MAX 1000

typedef struct {
    mpx__req *req;
    const char *prefix;
    uint32_t prefix_len;
    size_t n;
    mpx__buf rows;
    msgpack_packer pk;
} listing;

static void list_one(mpx__obj *obj, void *arg)
{
    listing *l = arg;
    if (l->prefix_len && (!obj->name || strncmp(obj->name, l->prefix, l->prefix_len) != 0)) return;
    msgpack_pack_array(&l->pk, 5);
    msgpack_pack_uint64(&l->pk, obj->id);
    if (obj->name)
        msgpack_pack_str_with_body(&l->pk, obj->name, strlen(obj->name));
    else
        msgpack_pack_nil(&l->pk);
    msgpack_pack_str_with_body(&l->pk, obj->type->name, strlen(obj->type->name));
    msgpack_pack_uint64(&l->pk, obj->type->size ? obj->type->size(obj->state) : 0);
    msgpack_pack_uint64(&l->pk, obj->refs);
    l->n++;
}

static int m_objects(mpx__req *req)
{
    static listing l; /* one thread: its row buffer is reused */
    uint64_t cursor, count;
    int rc = mpx__arg_uint(req, 0, "the cursor", &cursor);
    if (rc == 0) rc = mpx__arg_uint(req, 1, "count", &count);
    if (rc) return rc;
    if (count == 0) return mpx__req_fail(req, MPX_EVALUE, "count must be 1 or more");
    l.req = req;
    l.prefix_len = 0;
    if (req->argc > 2) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[2].p, req->argv[2].len);
        if (mpx__mp_str(&c, &l.prefix, &l.prefix_len))
            return mpx__req_fail(req, MPX_ETYPE, "the prefix must be a string");
    }
    l.n = 0;
    l.rows.size = 0;
    msgpack_packer_init(&l.pk, &l.rows, mpx__buf_write);
    uint64_t next = mpx__registry_scan(&req->server->reg, cursor,
                                       count < OBJECTS_MAX ? count : OBJECTS_MAX, list_one, &l);
    msgpack_pack_array(req->out, 2);
    msgpack_pack_uint64(req->out, next);
    msgpack_pack_array(req->out, (uint32_t)l.n);
    return mpx__reply_raw(req, l.rows.data, l.rows.size);
}

static int m_ping(mpx__req *req)
{
    return mpx__reply_nil(req);
}

static int m_stats(mpx__req *req)
{
    const mpx__server *s = req->server;
    const mpx__stats *st = &s->stats;
    const mpx__persist_stats ps = mpx__persist_stats_get(s);
    const struct {
        const char *name;
        uint64_t value;
    } counters[] = {
        {"sessions", s->n_sessions},
        {"objects", s->reg.n_objects - s->reg.n_deleted},
        {"deleted_held", s->reg.n_deleted},
        {"parked", s->n_parked},
        {"calls", st->calls},
        {"auth_failures", st->auth_failures},
        {"rejected_unauth", st->rejected_unauth},
        {"rejected_malformed", st->rejected_malformed},
        {"rejected_oversize", st->rejected_oversize},
        {"rejected_version", st->rejected_version},
        {"rejected_memory", st->rejected_memory},
        {"rejected_sessions", st->rejected_sessions},
        {"slow_readers", st->slow_readers},
        {"rejected_objects", st->rejected_objects},
        {"handshakes_unfinished", st->handshakes_unfinished},
        {"accept_failures", st->accept_failures},
        {"peers_gone", st->peers_gone},
        {"undone", st->undone},
        {"cancelled", st->cancelled},
        {"redelivered", st->redelivered},
        {"memory_used", mpx__mem_used()},
        {"max_memory", s->cfg.max_memory},
        {"max_message", s->cfg.max_message},
        {"log_bytes", ps.log_bytes},
        {"compactions", ps.compactions},
        {"fork_us", ps.fork_us},
        {"replies_held", ps.held},
        {"log_write_errors", ps.write_errors},
    };
    size_t n = sizeof counters / sizeof *counters;
    msgpack_pack_map(req->out, n + 1);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str_with_body(req->out, counters[i].name, strlen(counters[i].name));
        msgpack_pack_uint64(req->out, counters[i].value);
    }
    size_t types = 0;
    while (mpx__type_at(types))
        types++;
    msgpack_pack_str_with_body(req->out, "objects_by_type", 15);
    msgpack_pack_map(req->out, types);
    for (size_t i = 0; i < types; i++) {
        const char *name = mpx__type_at(i)->name;
        msgpack_pack_str_with_body(req->out, name, strlen(name));
        msgpack_pack_uint64(req->out, s->reg.by_type[i]);
    }
    return 0;
}

/* debug_sleep(ms): stalls the loop, as Redis's DEBUG SLEEP does, to test what a stall does.
 * Only with mpxd --debug. */
static int m_debug_sleep(mpx__req *req)
{
    uint64_t ms;
    if (!req->server->cfg.debug)
        return mpx__req_fail(req, MPX_ENOMETHOD, "debug methods need mpxd --debug");
    int rc = mpx__arg_uint(req, 0, "ms", &ms);
    if (rc) return rc;
    if (ms > 60000) return mpx__req_fail(req, MPX_EVALUE, "at most 60000 ms");
    nanosleep(
        &(struct timespec){.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000},
        NULL);
    return mpx__reply_nil(req);
}

static const mpx__method manager_methods[] = {
    {.name = "open", .fn = m_open, .min_args = 2, .max_args = 3},
    {.name = "create", .fn = m_create, .min_args = 1, .max_args = 2, .grows = true},
    {.name = "attach", .fn = m_attach, .min_args = 1, .max_args = 1},
    {.name = "release", .fn = m_release, .min_args = 1, .max_args = 1},
    {.name = "cancel", .fn = m_cancel, .min_args = 1, .max_args = 1},
    {.name = "delete", .fn = m_delete, .min_args = 1, .max_args = 1},
    {.name = "objects", .fn = m_objects, .min_args = 2, .max_args = 3},
    {.name = "ping", .fn = m_ping, .min_args = 0, .max_args = 0},
    {.name = "stats", .fn = m_stats, .min_args = 0, .max_args = 0},
    {.name = "debug_sleep", .fn = m_debug_sleep, .min_args = 1, .max_args = 1},
};

const mpx__type mpx__type_manager = {
    .name = "manager",
    .wake = manager_wake,
    .methods = manager_methods,
    .n_methods = sizeof manager_methods / sizeof manager_methods[0],
};
