/*
 * barrier.c — the Barrier proxy (t_barrier.c).
 */
#include "client.h"

static int barrier_make(mpx_client *c, const char *name, uint64_t parties, int timeout_ms,
                        mpx_proxy **out)
{
    if (parties == 0 || (timeout_ms < 0 && timeout_ms != MPX_FOREVER))
        return mpx__fail(MPX_EINVAL, "a barrier needs parties >= 1 and a timeout (ms or "
                                     "MPX_FOREVER)");
    mpx_value *args[] = {mpx_uint(parties),
                         timeout_ms == MPX_FOREVER ? mpx_nil() : mpx_uint((uint64_t)timeout_ms)};
    return mpx__proxy_open_args(c, name, "barrier", args, 2, out);
}

int mpx_barrier_new(mpx_client *c, uint64_t parties, int timeout_ms, mpx_proxy **out)
{
    return barrier_make(c, NULL, parties, timeout_ms, out);
}

int mpx_barrier_open(mpx_client *c, const char *name, uint64_t parties, int timeout_ms,
                     mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_barrier_open: no name");
    return barrier_make(c, name, parties, timeout_ms, out);
}

int mpx_barrier_wait(mpx_proxy *b, int wait_ms, uint64_t *index)
{
    int rc = mpx__proxy_check(b, "barrier");
    if (rc) return rc;
    if (!index) return mpx__fail(MPX_EINVAL, "mpx_barrier_wait: no out argument");
    mpx__wait w = {.call_timeout = MPX_FOREVER}; /* the barrier's own timeout is not known here */
    bool own_timeout = wait_ms == MPX_BARRIER_TIMEOUT;
    if (!own_timeout && (rc = mpx__wait_make(b, wait_ms, &w)) != 0) return rc;
    mpx_value *res = NULL;
    const mpx_value *items[] = {w.timeout};
    rc = mpx__call_items(b, "wait", items, own_timeout ? 0 : 1, w.call_timeout, &res);
    if (rc == 0 && mpx_value_get_uint(res, index) != 0)
        rc = mpx__fail(MPX_EPROTO, "barrier.wait: unexpected result");
    mpx__wait_free(&w);
    mpx_value_free(&res);
    return rc;
}

static int barrier_simple(mpx_proxy *b, const char *method)
{
    int rc = mpx__proxy_check(b, "barrier");
    return rc ? rc : mpx__call_items(b, method, NULL, 0, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_barrier_reset(mpx_proxy *b)
{
    return barrier_simple(b, "reset");
}

int mpx_barrier_abort(mpx_proxy *b)
{
    return barrier_simple(b, "abort");
}

int mpx_barrier_parties(mpx_proxy *b, uint64_t *out)
{
    int rc = mpx__proxy_check(b, "barrier");
    return rc ? rc : mpx__call_uint(b, "parties", out);
}

int mpx_barrier_n_waiting(mpx_proxy *b, uint64_t *out)
{
    int rc = mpx__proxy_check(b, "barrier");
    return rc ? rc : mpx__call_uint(b, "n_waiting", out);
}

int mpx_barrier_broken(mpx_proxy *b, bool *out)
{
    int rc = mpx__proxy_check(b, "barrier");
    return rc ? rc : mpx__call_bool(b, "broken", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}
