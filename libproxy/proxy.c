/*
 * proxy.c — proxies: opening objects through the manager (object 0), releasing them, the
 * generic mpx_call() / mpx_call_raw() that every typed proxy function is built on, and the
 * helpers the typed proxy files share.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static bool proxy_ok(const mpx_proxy *p)
{
    return p && p->tag == MPX_PROXY_TAG;
}

/* Reads the manager's [id, type] answer. */
static int read_handle(const mpx__result *res, uint64_t *id, char *type, size_t type_size)
{
    mpx__mp_cursor cur;
    uint32_t n, len;
    const char *t;
    mpx__mp_init(&cur, res->data, res->len);
    if (mpx__mp_array(&cur, &n) || n != 2 || mpx__mp_uint(&cur, id) ||
        mpx__mp_str(&cur, &t, &len) || len >= type_size || *id == 0)
        return mpx__fail(MPX_EPROTO, "malformed object handle from the server");
    memcpy(type, t, len);
    type[len] = '\0';
    return 0;
}

int mpx__proxy_open(mpx_client *c, const char *name, const char *type, const mpx_value *cargs,
                    mpx_proxy **out)
{
    if (!mpx__client_ok(c) || !out || (name && !*name) || strlen(type) >= MPX_TYPE_NAME_MAX)
        return mpx__fail(MPX_EINVAL, "bad client, name or out argument");
    mpx_proxy *p = calloc(1, sizeof *p);
    mpx_value *vname = name ? mpx_str(name) : NULL, *vtype = mpx_str(type);
    if (!p || (name && !vname) || !vtype) {
        free(p);
        mpx_value_free(&vname);
        mpx_value_free(&vtype);
        return mpx__fail(MPX_ENOMEM, "out of memory");
    }
    /* open(name, type [, args]) or create(type [, args]) */
    const mpx_value *items[3] = {name ? vname : vtype, name ? vtype : cargs, cargs};
    mpx__args args = {.items = items, .n = (name ? 2u : 1u) + (cargs ? 1u : 0u)};
    mpx__result res;
    int rc = mpx__invoke(c, 0, NULL, name ? "open" : "create", &args, MPX_TIMEOUT_DEFAULT, &res);
    mpx_value_free(&vname);
    mpx_value_free(&vtype);
    if (rc == 0) {
        rc = read_handle(&res, &p->id, p->type, sizeof p->type);
        mpx__result_close(&res);
    }
    if (rc) {
        free(p);
        return rc;
    }
    if (name && !(p->name = strdup(name))) {
        free(p);
        return mpx__fail(MPX_ENOMEM, "out of memory");
    }
    p->tag = MPX_PROXY_TAG;
    p->client = c;
    mpx__client_link(c, p);
    *out = p;
    return 0;
}

/* A remote error means the object is gone (or its name is another type's now): p is stale. */
static int stale_on_remote(mpx_proxy *p, int rc)
{
    if (rc && mpx_err_is_remote(rc)) {
        p->stale = true;
        return 0;
    }
    return rc;
}

int mpx__proxy_reattach(mpx_client *c, mpx_proxy *p)
{
    mpx_value *id = mpx_uint(p->id);
    const mpx_value *items[] = {id};
    mpx__args args = {.items = items, .n = 1};
    int rc = id ? mpx__invoke(c, 0, NULL, "attach", &args, MPX_TIMEOUT_DEFAULT, NULL)
                : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&id);
    return stale_on_remote(p, rc);
}

int mpx__proxy_reopen(mpx_client *c, mpx_proxy *p)
{
    if (!p->name) {
        p->stale = true;
        return 0;
    }
    mpx_value *name = mpx_str(p->name), *type = mpx_str(p->type);
    const mpx_value *items[] = {name, type};
    mpx__args args = {.items = items, .n = 2};
    mpx__result res;
    char got[MPX_TYPE_NAME_MAX];
    int rc = name && type ? mpx__invoke(c, 0, NULL, "open", &args, MPX_TIMEOUT_DEFAULT, &res)
                          : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&name);
    mpx_value_free(&type);
    if (rc == 0) {
        rc = read_handle(&res, &p->id, got, sizeof got);
        mpx__result_close(&res);
    }
    return stale_on_remote(p, rc);
}

int mpx__proxy_open_args(mpx_client *c, const char *name, const char *type, mpx_value **args,
                         size_t n, mpx_proxy **out)
{
    mpx_value *cargs = mpx_array();
    int rc = cargs ? 0 : MPX_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = args[i] ? mpx_array_push(cargs, &args[i]) : MPX_ENOMEM;
    rc = rc == 0 ? mpx__proxy_open(c, name, type, cargs, out)
                 : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&cargs);
    for (size_t i = 0; i < n; i++)
        mpx_value_free(&args[i]);
    return rc;
}

int mpx_open(mpx_client *c, const char *name, const char *type, mpx_proxy **out)
{
    if (!name || !type) return mpx__fail(MPX_EINVAL, "mpx_open: a name and a type are required");
    return mpx__proxy_open(c, name, type, NULL, out);
}

int mpx_create(mpx_client *c, const char *type, mpx_proxy **out)
{
    if (!type) return mpx__fail(MPX_EINVAL, "mpx_create: a type is required");
    return mpx__proxy_open(c, NULL, type, NULL, out);
}

void mpx_proxy_free(mpx_proxy **pp)
{
    if (!pp || !proxy_ok(*pp)) return;
    mpx__error_stash stash;
    mpx__error_save(&stash);
    mpx_proxy *p = *pp;
    *pp = NULL;
    mpx_client *c = p->client;
    if (!atomic_load(&c->closed)) {
        mpx_value *id = mpx_uint(p->id);
        const mpx_value *items[] = {id};
        mpx__args args = {.items = items, .n = 1};
        /* Best effort: if the call fails the session's end releases the reference. */
        if (id) mpx__invoke(c, 0, NULL, "release", &args, MPX_TIMEOUT_DEFAULT, NULL);
        mpx_value_free(&id);
    }
    mpx__client_unlink(c, p); /* may free a client freed before */
    p->tag = MPX_DEAD_TAG;
    free(p->name);
    free(p);
    mpx__error_restore(&stash);
}

uint64_t mpx_proxy_id(const mpx_proxy *p)
{
    return proxy_ok(p) ? p->id : 0;
}

const char *mpx_proxy_type(const mpx_proxy *p)
{
    return proxy_ok(p) ? p->type : NULL;
}

int mpx__proxy_check(const mpx_proxy *p, const char *type)
{
    if (!proxy_ok(p)) return mpx__fail(MPX_EINVAL, "not a proxy handle");
    if (atomic_load(&p->client->closed)) return mpx__fail(MPX_ECLOSED, "the client was freed");
    if (type && strcmp(p->type, type) != 0)
        return mpx__fail(MPX_EINVAL, "the proxy is a %s, not a %s", p->type, type);
    if (p->stale)
        return mpx__fail(MPX_ENOOBJ,
                         "object %llu went with a lost session, or with the state "
                         "of a server that restarted without it",
                         (unsigned long long)p->id);
    return 0;
}

/* A call's own timeout must be > 0, MPX_TIMEOUT_DEFAULT or MPX_FOREVER. */
static int check_timeout(int timeout_ms, const char *fn)
{
    if (timeout_ms > 0 || timeout_ms == MPX_TIMEOUT_DEFAULT || timeout_ms == MPX_FOREVER) return 0;
    return mpx__fail(MPX_EINVAL, "%s: timeout_ms is > 0, MPX_TIMEOUT_DEFAULT or MPX_FOREVER", fn);
}

/* mpx_call() and mpx_server_call(): a call on object id of the given type (NULL: the
 * manager) with args an array value or NULL. */
static int call_values(mpx_client *c, uint64_t id, const char *type, const uint64_t fence[2],
                       const char *method, const mpx_value *args, int timeout_ms,
                       mpx_value **result)
{
    if (!method || (args && mpx_value_type(args) != MPX_ARRAY))
        return mpx__fail(MPX_EINVAL, "a method name and an array of arguments are required");
    int rc = check_timeout(timeout_ms, method);
    if (rc) return rc;
    size_t n = args ? mpx_value_len(args) : 0;
    const mpx_value **items = n ? malloc(n * sizeof *items) : NULL;
    if (n && !items) return mpx__fail(MPX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        items[i] = mpx_value_at(args, i);
    mpx__args a = {.items = items, .n = n, .fence_lock = fence[0], .fence_token = fence[1]};
    mpx__result res;
    rc = mpx__invoke(c, id, type, method, &a, timeout_ms, &res);
    free(items);
    if (rc == 0) {
        rc = mpx__result_value(&res, result);
        mpx__result_close(&res);
    }
    return rc;
}

int mpx_call(mpx_proxy *p, const char *method, const mpx_value *args, int timeout_ms,
             mpx_value **result)
{
    int rc = mpx__proxy_check(p, NULL);
    uint64_t fence[2] = {p->fence_lock, p->fence_token};
    return rc ? rc
              : call_values(p->client, p->id, p->type, fence, method, args, timeout_ms, result);
}

int mpx_server_call(mpx_client *c, const char *method, const mpx_value *args, int timeout_ms,
                    mpx_value **result)
{
    if (!mpx__client_ok(c)) return mpx__fail(MPX_EINVAL, "not a client handle");
    return call_values(c, 0, NULL, (uint64_t[2]){0, 0}, method, args, timeout_ms, result);
}

int mpx_call_raw(mpx_proxy *p, const char *method, const void *args, size_t args_len,
                 int timeout_ms, char **result, size_t *result_len)
{
    int rc = mpx__proxy_check(p, NULL);
    if (rc == 0) rc = check_timeout(timeout_ms, "mpx_call_raw");
    if (rc) return rc;
    mpx__mp_cursor cur;
    uint32_t n;
    mpx__mp_init(&cur, args, args_len);
    if (!method || !args || mpx__mp_array(&cur, &n) || (cur.p = args, mpx__mp_skip(&cur)) ||
        cur.p != cur.end || (result && !result_len))
        return mpx__fail(MPX_EINVAL, "mpx_call_raw: args must be the msgpack bytes of one array");
    mpx__args a = {.raw = args, .raw_len = args_len};
    mpx__args_fence(p, &a);
    mpx__result res;
    rc = mpx__invoke(p->client, p->id, p->type, method, &a, timeout_ms, result ? &res : NULL);
    if (rc == 0 && result) {
        *result = malloc(res.len ? res.len : 1);
        if (*result) {
            memcpy(*result, res.data, res.len);
            *result_len = res.len;
        } else {
            rc = mpx__fail(MPX_ENOMEM, "out of memory");
        }
        mpx__result_close(&res);
    }
    return rc;
}

void mpx_free(void *p)
{
    free(p);
}

int mpx_proxy_fence(mpx_proxy *p, const mpx_proxy *lock, uint64_t token)
{
    int rc = mpx__proxy_check(p, NULL);
    if (rc) return rc;
    if (lock && (mpx__proxy_check(lock, NULL) || lock->client != p->client ||
                 (strcmp(lock->type, "lock") != 0 && strcmp(lock->type, "rlock") != 0)))
        return mpx__fail(MPX_EINVAL, "mpx_proxy_fence: a lock or rlock of the same client");
    p->fence_lock = lock ? lock->id : 0;
    p->fence_token = lock ? token : 0;
    return 0;
}

void mpx__args_fence(const mpx_proxy *p, mpx__args *a)
{
    a->fence_lock = p->fence_lock;
    a->fence_token = p->fence_token;
}

/* ---- helpers for the typed proxy files ---------------------------------------------------- */

int mpx__call_items(mpx_proxy *p, const char *method, const mpx_value *const *items, size_t n,
                    int timeout_ms, mpx_value **out)
{
    for (size_t i = 0; i < n; i++)
        if (!items[i]) return mpx__fail(MPX_EINVAL, "%s: a NULL argument", method);
    mpx__args args = {.items = items, .n = n};
    mpx__args_fence(p, &args);
    mpx__result res;
    int rc = mpx__invoke(p->client, p->id, p->type, method, &args, timeout_ms, &res);
    if (rc == 0) {
        rc = mpx__result_value(&res, out);
        mpx__result_close(&res);
    }
    return rc;
}

int mpx__call_made(mpx_proxy *p, const char *type, const char *method, mpx_value **made, size_t n,
                   const mpx_value *const *given, size_t m, mpx_value **out)
{
    const mpx_value *items[MPX_MAX_CALL_ITEMS];
    int rc = mpx__proxy_check(p, type);
    if (rc == 0 && n + m > MPX_MAX_CALL_ITEMS) rc = mpx__fail(MPX_EINVAL, "too many arguments");
    for (size_t i = 0; rc == 0 && i < n + m; i++) {
        items[i] = i < n ? made[i] : given[i - n];
        if (!items[i])
            rc = i < n ? mpx__fail(MPX_ENOMEM, "out of memory")
                       : mpx__fail(MPX_EINVAL, "%s: a NULL value", method);
    }
    if (rc == 0) rc = mpx__call_items(p, method, items, n + m, MPX_TIMEOUT_DEFAULT, out);
    for (size_t i = 0; i < n; i++)
        mpx_value_free(&made[i]);
    return rc;
}

int mpx__call_bool(mpx_proxy *p, const char *method, const mpx_value *const *items, size_t n,
                   int timeout_ms, bool *out)
{
    mpx_value *v = NULL;
    if (!out) return mpx__fail(MPX_EINVAL, "%s: no out argument", method);
    int rc = mpx__call_items(p, method, items, n, timeout_ms, &v);
    if (rc == 0 && mpx_value_get_bool(v, out) != 0)
        rc = mpx__fail(MPX_EPROTO, "%s: the server's answer is not a bool", method);
    mpx_value_free(&v);
    return rc;
}

int mpx__call_uint(mpx_proxy *p, const char *method, uint64_t *out)
{
    mpx_value *v = NULL;
    if (!out) return mpx__fail(MPX_EINVAL, "%s: no out argument", method);
    int rc = mpx__call_items(p, method, NULL, 0, MPX_TIMEOUT_DEFAULT, &v);
    if (rc == 0 && mpx_value_get_uint(v, out) != 0)
        rc = mpx__fail(MPX_EPROTO, "%s: the server's answer is not a count", method);
    mpx_value_free(&v);
    return rc;
}

int mpx__call_size(mpx_proxy *p, const char *method, size_t *out)
{
    uint64_t v = 0;
    if (!out) return mpx__fail(MPX_EINVAL, "%s: no out argument", method);
    int rc = mpx__call_uint(p, method, &v);
    if (rc == 0) *out = (size_t)v;
    return rc;
}

int mpx__wait_make(mpx_proxy *p, int wait_ms, mpx__wait *w)
{
    if (wait_ms < 0 && wait_ms != MPX_FOREVER && wait_ms != MPX_TIMEOUT_DEFAULT)
        return mpx__fail(MPX_EINVAL, "wait_ms: 0, a number of ms, MPX_TIMEOUT_DEFAULT or "
                                     "MPX_FOREVER");
    int base = mpx__client_timeout(p->client);
    if (wait_ms == MPX_TIMEOUT_DEFAULT) wait_ms = base;
    /* The client waits longer than the server: the server's answer (a timeout) comes first. */
    w->call_timeout =
        wait_ms == MPX_FOREVER || wait_ms > INT32_MAX / 2 - base ? MPX_FOREVER : wait_ms + base;
    w->block = mpx_bool(wait_ms != 0);
    w->timeout = wait_ms == MPX_FOREVER ? mpx_nil() : mpx_uint((uint64_t)wait_ms);
    if (!w->block || !w->timeout) {
        mpx__wait_free(w);
        return mpx__fail(MPX_ENOMEM, "out of memory");
    }
    return 0;
}

void mpx__wait_free(mpx__wait *w)
{
    mpx_value_free(&w->block);
    mpx_value_free(&w->timeout);
}

/* ---- proxies inside containers ------------------------------------------------------------ */

/* A claimed reference's value was freed: its client's session lets the object go. Best
 * effort, as mpx_proxy_free(): if the call fails, the session's end releases it. */
static void release_ref(void *owner, uint64_t id, unsigned gen)
{
    mpx_client *c = owner;
    /* a reference claimed in another process (before a fork) is that process's session's */
    if (!atomic_load(&c->closed) && (uint16_t)gen == (uint16_t)mpx__fork_gen()) {
        mpx__error_stash stash;
        mpx__error_save(&stash);
        mpx_value *vid = mpx_uint(id);
        const mpx_value *items[] = {vid};
        mpx__args args = {.items = items, .n = 1};
        if (vid) mpx__invoke(c, 0, NULL, "release", &args, MPX_TIMEOUT_DEFAULT, NULL);
        mpx_value_free(&vid);
        mpx__error_restore(&stash);
    }
    mpx__client_release(c);
}

static pthread_once_t refs_once = PTHREAD_ONCE_INIT;

static void refs_register(void)
{
    mpx__ref_release_hook = release_ref;
}

void mpx__refs_init(void)
{
    pthread_once(&refs_once, refs_register);
}

mpx_value *mpx_ref(const mpx_proxy *p)
{
    return proxy_ok(p) ? mpx__value_ref(p->id, p->type, strlen(p->type)) : NULL;
}

/* A proxy for object id of a type, whose reference c's session already holds. */
static mpx_proxy *proxy_adopt(mpx_client *c, uint64_t id, const char *type)
{
    mpx_proxy *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tag = MPX_PROXY_TAG;
    p->client = c;
    p->id = id;
    snprintf(p->type, sizeof p->type, "%s", type);
    mpx__client_link(c, p);
    return p;
}

int mpx_proxy_from_ref(mpx_client *c, const mpx_value *ref, mpx_proxy **out)
{
    uint64_t id;
    const char *type;
    if (!mpx__client_ok(c) || !out || mpx_value_get_ref(ref, &id, &type) ||
        strlen(type) >= MPX_TYPE_NAME_MAX)
        return mpx__fail(MPX_EINVAL, "mpx_proxy_from_ref: a client, a reference and out");
    unsigned gen = 0;
    mpx_client *owner = mpx__value_disown_ref((mpx_value *)ref, &gen); /* the claim moves */
    if (owner == c && !atomic_load(&c->closed) && (uint16_t)gen == (uint16_t)mpx__fork_gen()) {
        mpx_proxy *p = proxy_adopt(c, id, type);
        if (!p) {
            release_ref(c, id, gen);
            return mpx__fail(MPX_ENOMEM, "out of memory");
        }
        mpx__client_release(c); /* the reference's hold on c passes to the proxy's link */
        *out = p;
        return 0;
    }
    if (owner) release_ref(owner, id, gen);
    mpx_value *vid = mpx_uint(id);
    const mpx_value *items[] = {vid};
    mpx__args args = {.items = items, .n = 1};
    mpx__result res;
    int rc = vid ? mpx__invoke(c, 0, NULL, "attach", &args, MPX_TIMEOUT_DEFAULT, &res)
                 : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&vid);
    if (rc) return rc;
    char got[MPX_TYPE_NAME_MAX];
    rc = read_handle(&res, &id, got, sizeof got);
    mpx__result_close(&res);
    mpx_proxy *p = rc ? NULL : proxy_adopt(c, id, got);
    if (!rc && !p) rc = mpx__fail(MPX_ENOMEM, "out of memory");
    if (rc) return rc;
    *out = p;
    return 0;
}
