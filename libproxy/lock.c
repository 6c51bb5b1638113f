/*
 * lock.c — the Lock and RLock proxies (t_lock.c). An RLock's owner is this session and the
 * calling OS thread, so each acquire and release sends the thread's id.
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "client.h"

uint64_t mpx__thread_id(void)
{
    return (uint64_t)gettid();
}

static int lock_check(mpx_proxy *l)
{
    int rc = mpx__proxy_check(l, NULL);
    if (rc) return rc;
    const char *t = mpx_proxy_type(l);
    if (strcmp(t, "lock") != 0 && strcmp(t, "rlock") != 0)
        return mpx__fail(MPX_EINVAL, "the proxy is a %s, not a lock", t);
    return 0;
}

int mpx_lock_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "lock", NULL, out);
}

int mpx_lock_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_lock_open: no name");
    return mpx__proxy_open(c, name, "lock", NULL, out);
}

int mpx_rlock_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "rlock", NULL, out);
}

int mpx_rlock_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_rlock_open: no name");
    return mpx__proxy_open(c, name, "rlock", NULL, out);
}

/* Reads acquire's [acquired, fence, owner_died]. */
int mpx__read_acquire(const mpx_value *v, bool *acquired, uint64_t *fence, bool *owner_died)
{
    bool a, died;
    uint64_t f;
    if (mpx_value_len(v) != 3 || mpx_value_get_bool(mpx_value_at(v, 0), &a) ||
        mpx_value_get_uint(mpx_value_at(v, 1), &f) || mpx_value_get_bool(mpx_value_at(v, 2), &died))
        return mpx__fail(MPX_EPROTO, "lock.acquire: unexpected result");
    *acquired = a;
    if (fence) *fence = f;
    if (owner_died) *owner_died = died;
    return 0;
}

int mpx_lock_acquire(mpx_proxy *l, int wait_ms, bool *acquired, uint64_t *fence, bool *owner_died)
{
    int rc = lock_check(l);
    return rc ? rc : mpx__lock_acquire(l, wait_ms, acquired, fence, owner_died);
}

int mpx__lock_acquire(mpx_proxy *l, int wait_ms, bool *acquired, uint64_t *fence, bool *owner_died)
{
    mpx__wait w;
    mpx_value *res = NULL;
    if (!acquired) return mpx__fail(MPX_EINVAL, "acquire: no out argument");
    int rc = mpx__wait_make(l, wait_ms, &w);
    if (rc) return rc;
    mpx_value *thread = mpx_uint(mpx__thread_id());
    const mpx_value *items[] = {w.block, w.timeout, thread};
    rc = thread ? mpx__call_items(l, "acquire", items, 3, w.call_timeout, &res)
                : mpx__fail(MPX_ENOMEM, "out of memory");
    if (rc == 0) rc = mpx__read_acquire(res, acquired, fence, owner_died);
    mpx_value_free(&thread);
    mpx_value_free(&res);
    mpx__wait_free(&w);
    return rc;
}

int mpx_lock_release(mpx_proxy *l)
{
    int rc = lock_check(l);
    return rc ? rc : mpx__lock_release(l);
}

int mpx__lock_release(mpx_proxy *l)
{
    mpx_value *thread = mpx_uint(mpx__thread_id());
    const mpx_value *items[] = {thread};
    int rc = thread ? mpx__call_items(l, "release", items, 1, MPX_TIMEOUT_DEFAULT, NULL)
                    : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&thread);
    return rc;
}

int mpx_lock_locked(mpx_proxy *l, bool *out)
{
    int rc = lock_check(l);
    return rc ? rc : mpx__call_bool(l, "locked", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}
