/*
 * queue.c — the Queue and JoinableQueue proxies: one function per method of t_queue.c.
 *
 * Waiting happens on the server (the call is parked there), so a blocking get costs this
 * process no thread beyond the caller's; the call's own timeout is the wait plus the client's
 * default, or none for MPX_FOREVER, in which case the heartbeats notice a dead server. A get
 * whose caller gives up is cancelled on the server, and an item that crossed the cancel goes
 * back to the head of the queue (call.c).
 */
#include <string.h>

#include "client.h"

static int queue_check(mpx_proxy *q)
{
    int rc = mpx__proxy_check(q, NULL);
    if (rc) return rc;
    const char *t = mpx_proxy_type(q);
    if (strcmp(t, "queue") != 0 && strcmp(t, "joinable_queue") != 0)
        return mpx__fail(MPX_EINVAL, "the proxy is a %s, not a queue", t);
    return 0;
}

/* Calls a queue method; out may be NULL to discard the result. */
static int queue_call(mpx_proxy *q, const char *method, const mpx_value *const *items, size_t n,
                      int timeout_ms, mpx_value **out)
{
    int rc = queue_check(q);
    return rc ? rc : mpx__call_items(q, method, items, n, timeout_ms, out);
}

/* Checks q, then fills w for wait_ms. */
static int queue_wait(mpx_proxy *q, int wait_ms, mpx__wait *w)
{
    int rc = queue_check(q);
    return rc ? rc : mpx__wait_make(q, wait_ms, w);
}

static int queue_make(mpx_client *c, const char *name, const char *type, size_t maxsize,
                      mpx_proxy **out)
{
    mpx_value *args[] = {mpx_uint(maxsize)};
    return mpx__proxy_open_args(c, name, type, args, 1, out);
}

int mpx_queue_new(mpx_client *c, size_t maxsize, mpx_proxy **out)
{
    return queue_make(c, NULL, "queue", maxsize, out);
}

int mpx_queue_open(mpx_client *c, const char *name, size_t maxsize, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_queue_open: no name");
    return queue_make(c, name, "queue", maxsize, out);
}

int mpx_joinable_queue_new(mpx_client *c, size_t maxsize, mpx_proxy **out)
{
    return queue_make(c, NULL, "joinable_queue", maxsize, out);
}

int mpx_joinable_queue_open(mpx_client *c, const char *name, size_t maxsize, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_joinable_queue_open: no name");
    return queue_make(c, name, "joinable_queue", maxsize, out);
}

int mpx_queue_put(mpx_proxy *q, const mpx_value *item, int wait_ms)
{
    mpx__wait w;
    if (!item) return mpx__fail(MPX_EINVAL, "mpx_queue_put: no item");
    int rc = queue_wait(q, wait_ms, &w);
    if (rc) return rc;
    const mpx_value *items[] = {item, w.block, w.timeout};
    rc = queue_call(q, "put", items, 3, w.call_timeout, NULL);
    mpx__wait_free(&w);
    return rc;
}

int mpx_queue_get(mpx_proxy *q, int wait_ms, mpx_value **out)
{
    mpx__wait w;
    if (!out) return mpx__fail(MPX_EINVAL, "mpx_queue_get: no out argument");
    int rc = queue_wait(q, wait_ms, &w);
    if (rc) return rc;
    const mpx_value *items[] = {w.block, w.timeout};
    rc = queue_call(q, "get", items, 2, w.call_timeout, out);
    mpx__wait_free(&w);
    return rc;
}

int mpx_queue_get_lease(mpx_proxy *q, int wait_ms, int lease_ms, uint64_t *lease, mpx_value **out)
{
    mpx__wait w;
    if (!out || !lease || (lease_ms <= 0 && lease_ms != MPX_FOREVER))
        return mpx__fail(MPX_EINVAL,
                         "mpx_queue_get_lease: lease_ms > 0 or MPX_FOREVER, lease, out");
    int rc = queue_wait(q, wait_ms, &w);
    if (rc) return rc;
    mpx_value *vlease = lease_ms == MPX_FOREVER ? mpx_nil() : mpx_uint((uint64_t)lease_ms);
    mpx_value *res = NULL;
    const mpx_value *items[] = {w.block, w.timeout, vlease};
    rc = vlease ? queue_call(q, "get_lease", items, 3, w.call_timeout, &res)
                : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&vlease);
    mpx__wait_free(&w);
    if (rc) return rc;
    if (mpx_value_len(res) != 2 || mpx_value_get_uint(mpx_value_at(res, 0), lease) ||
        !(*out = mpx_value_copy(mpx_value_at(res, 1))))
        rc = mpx__fail(MPX_EPROTO, "queue.get_lease: unexpected result");
    mpx_value_free(&res);
    return rc;
}

static int lease_call(mpx_proxy *q, const char *method, uint64_t lease)
{
    mpx_value *v = mpx_uint(lease);
    const mpx_value *items[] = {v};
    int rc = v ? queue_call(q, method, items, 1, MPX_TIMEOUT_DEFAULT, NULL)
               : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&v);
    return rc;
}

int mpx_queue_abandoned(mpx_proxy *q, uint64_t *out)
{
    int rc = queue_check(q);
    return rc ? rc : mpx__call_uint(q, "abandoned", out);
}

int mpx_queue_ack(mpx_proxy *q, uint64_t lease)
{
    return lease_call(q, "ack", lease);
}

int mpx_queue_nack(mpx_proxy *q, uint64_t lease)
{
    return lease_call(q, "nack", lease);
}

int mpx_queue_put_many(mpx_proxy *q, const mpx_value *items)
{
    if (mpx_value_type(items) != MPX_ARRAY || !items)
        return mpx__fail(MPX_EINVAL, "mpx_queue_put_many: items must be an array");
    const mpx_value *args[] = {items};
    return queue_call(q, "put_many", args, 1, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_queue_get_many(mpx_proxy *q, size_t max, int wait_ms, mpx_value **out)
{
    mpx__wait w;
    if (!out || max == 0) return mpx__fail(MPX_EINVAL, "mpx_queue_get_many: max > 0 and out");
    int rc = queue_wait(q, wait_ms, &w);
    if (rc) return rc;
    mpx_value *vmax = mpx_uint(max);
    const mpx_value *items[] = {vmax, w.block, w.timeout};
    rc = vmax ? queue_call(q, "get_many", items, 3, w.call_timeout, out)
              : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&vmax);
    mpx__wait_free(&w);
    return rc;
}

int mpx_queue_qsize(mpx_proxy *q, size_t *out)
{
    int rc = queue_check(q);
    return rc ? rc : mpx__call_size(q, "qsize", out);
}

int mpx_queue_empty(mpx_proxy *q, bool *out)
{
    int rc = queue_check(q);
    return rc ? rc : mpx__call_bool(q, "empty", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_queue_full(mpx_proxy *q, bool *out)
{
    int rc = queue_check(q);
    return rc ? rc : mpx__call_bool(q, "full", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_queue_task_done(mpx_proxy *q)
{
    return queue_call(q, "task_done", NULL, 0, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_queue_join(mpx_proxy *q, int wait_ms, bool *done)
{
    mpx__wait w;
    int rc = queue_wait(q, wait_ms, &w);
    if (rc) return rc;
    const mpx_value *items[] = {w.timeout}; /* join takes only the timeout */
    rc = mpx__call_bool(q, "join", items, 1, w.call_timeout, done);
    mpx__wait_free(&w);
    return rc;
}
