/*
 * semaphore.c — the Semaphore and BoundedSemaphore proxies (t_semaphore.c).
 */
#include <string.h>

#include "client.h"

static int semaphore_check(mpx_proxy *s)
{
    int rc = mpx__proxy_check(s, NULL);
    if (rc) return rc;
    const char *t = mpx_proxy_type(s);
    if (strcmp(t, "semaphore") != 0 && strcmp(t, "bounded_semaphore") != 0)
        return mpx__fail(MPX_EINVAL, "the proxy is a %s, not a semaphore", t);
    return 0;
}

int mpx_semaphore_open_flags(mpx_client *c, const char *name, uint64_t value, unsigned flags,
                             mpx_proxy **out)
{
    if (flags & ~(MPX_SEMAPHORE_BOUNDED | MPX_SEMAPHORE_GIVE_BACK))
        return mpx__fail(MPX_EINVAL, "mpx_semaphore_open_flags: unknown flags %#x", flags);
    const char *type = flags & MPX_SEMAPHORE_BOUNDED ? "bounded_semaphore" : "semaphore";
    mpx_value *args[] = {mpx_uint(value), mpx_bool(flags & MPX_SEMAPHORE_GIVE_BACK)};
    return mpx__proxy_open_args(c, name, type, args, 2, out);
}

int mpx_semaphore_new(mpx_client *c, uint64_t value, mpx_proxy **out)
{
    return mpx_semaphore_open_flags(c, NULL, value, 0, out);
}

int mpx_semaphore_open(mpx_client *c, const char *name, uint64_t value, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_semaphore_open: no name");
    return mpx_semaphore_open_flags(c, name, value, 0, out);
}

int mpx_bounded_semaphore_new(mpx_client *c, uint64_t value, mpx_proxy **out)
{
    return mpx_semaphore_open_flags(c, NULL, value, MPX_SEMAPHORE_BOUNDED, out);
}

int mpx_bounded_semaphore_open(mpx_client *c, const char *name, uint64_t value, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_bounded_semaphore_open: no name");
    return mpx_semaphore_open_flags(c, name, value, MPX_SEMAPHORE_BOUNDED, out);
}

int mpx_semaphore_acquire(mpx_proxy *s, int wait_ms, bool *acquired)
{
    mpx__wait w;
    int rc = semaphore_check(s);
    if (rc == 0) rc = mpx__wait_make(s, wait_ms, &w);
    if (rc) return rc;
    const mpx_value *items[] = {w.block, w.timeout};
    rc = mpx__call_bool(s, "acquire", items, 2, w.call_timeout, acquired);
    mpx__wait_free(&w);
    return rc;
}

int mpx_semaphore_release(mpx_proxy *s, uint64_t n)
{
    int rc = semaphore_check(s);
    if (rc) return rc;
    if (n == 0) return mpx__fail(MPX_EINVAL, "mpx_semaphore_release: n must be one or more");
    mpx_value *vn = mpx_uint(n);
    const mpx_value *items[] = {vn};
    rc = vn ? mpx__call_items(s, "release", items, 1, MPX_TIMEOUT_DEFAULT, NULL)
            : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&vn);
    return rc;
}

int mpx_semaphore_value(mpx_proxy *s, uint64_t *out)
{
    int rc = semaphore_check(s);
    return rc ? rc : mpx__call_uint(s, "value", out);
}
