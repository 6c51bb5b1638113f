/*
 * future.c — asynchronous calls: mpx_call_async() sends a call and returns a future at once;
 * mpx_future_wait() collects its result, with the same values and errors as mpx_call().
 *
 * A future owns the pending entry of its call (client.h), so any number of calls can be in
 * flight on one client: each reply is matched to its future by request id by whichever thread
 * is reading the socket. A future holds a reference to its client's memory, so it may be
 * waited or freed after the client, in any order: its wait then returns MPX_ECLOSED. One
 * carried into a fork()ed child reports MPX_ECONN: its reply goes to the parent's session.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define FUTURE_TAG 0x6d707866u /* "mpxf" */

struct mpx_future {
    uint32_t tag;
    bool waited;      /* mpx_future_wait() has returned the outcome */
    mpx_client *c;    /* the client the call went out on; held */
    int64_t deadline; /* CLOCK_MONOTONIC ms, from the call's timeout */
    mpx__pending call;
};

static bool future_ok(const mpx_future *f)
{
    return f && f->tag == FUTURE_TAG;
}

/* Sends the call and makes its future. */
static int future_start(mpx_proxy *p, const char *method, const mpx__args *args, int timeout_ms,
                        mpx_future **out)
{
    if (!out) return mpx__fail(MPX_EINVAL, "%s: no out argument", method);
    mpx_future *f = calloc(1, sizeof *f);
    if (!f) return mpx__fail(MPX_ENOMEM, "out of memory");
    if (timeout_ms <= 0 && timeout_ms != MPX_TIMEOUT_DEFAULT && timeout_ms != MPX_FOREVER) {
        free(f);
        return mpx__fail(MPX_EINVAL, "%s: timeout_ms is > 0, MPX_TIMEOUT_DEFAULT or MPX_FOREVER",
                         method);
    }
    f->c = p->client;
    f->deadline = mpx__call_deadline(f->c, timeout_ms);
    mpx__args fenced = *args;
    mpx__args_fence(p, &fenced);
    int rc = mpx__call_send(f->c, p->id, p->type, method, &fenced, true, &f->call);
    if (rc) {
        free(f);
        return rc;
    }
    mpx__client_hold(f->c);
    f->tag = FUTURE_TAG;
    *out = f;
    return 0;
}

int mpx_call_async(mpx_proxy *p, const char *method, const mpx_value *args, int timeout_ms,
                   mpx_future **out)
{
    int rc = mpx__proxy_check(p, NULL);
    if (rc) return rc;
    if (!method || (args && mpx_value_type(args) != MPX_ARRAY) || mpx_value_len(args) > 16)
        return mpx__fail(MPX_EINVAL, "mpx_call_async: a method name and an array of at most 16 "
                                     "arguments");
    const mpx_value *items[16];
    size_t n = args ? mpx_value_len(args) : 0;
    for (size_t i = 0; i < n; i++)
        items[i] = mpx_value_at(args, i);
    mpx__args a = {.items = items, .n = n};
    return future_start(p, method, &a, timeout_ms, out);
}

int mpx_dict_get_async(mpx_proxy *d, const mpx_value *key, mpx_future **out)
{
    int rc = mpx__proxy_check(d, "dict");
    if (rc) return rc;
    if (!key) return mpx__fail(MPX_EINVAL, "dict.get: a NULL key");
    const mpx_value *items[] = {key};
    mpx__args a = {.items = items, .n = 1};
    return future_start(d, "get", &a, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_dict_set_async(mpx_proxy *d, const mpx_value *key, const mpx_value *val, mpx_future **out)
{
    int rc = mpx__proxy_check(d, "dict");
    if (rc) return rc;
    if (!key || !val) return mpx__fail(MPX_EINVAL, "dict.set: a NULL key or value");
    const mpx_value *items[] = {key, val};
    mpx__args a = {.items = items, .n = 2};
    return future_start(d, "set", &a, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_future_wait(mpx_future *f, mpx_value **result)
{
    if (!future_ok(f)) return mpx__fail(MPX_EINVAL, "not a future handle");
    if (f->waited) return mpx__fail(MPX_EINVAL, "mpx_future_wait: the future was waited already");
    f->waited = true;
    mpx__result res;
    int rc = mpx__call_wait(f->c, &f->call, f->deadline, &res);
    if (rc == 0) {
        rc = mpx__result_value(&res, result);
        mpx__result_close(&res);
    }
    return rc;
}

bool mpx_future_ready(mpx_future *f)
{
    if (!future_ok(f)) return false;
    return f->waited || mpx__call_poll(f->c, &f->call) || mpx__clock_ms() >= f->deadline;
}

void mpx_future_free(mpx_future **fp)
{
    if (!fp || !future_ok(*fp)) return;
    mpx__error_stash stash;
    mpx__error_save(&stash);
    mpx_future *f = *fp;
    *fp = NULL;
    mpx__call_cancel(f->c, &f->call);
    mpx__client_release(f->c);
    f->tag = MPX_DEAD_TAG;
    free(f);
    mpx__error_restore(&stash);
}
