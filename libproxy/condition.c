/*
 * condition.c — the Condition proxy (t_condition.c), and wait_for(), which loops on a
 * predicate with what is left of the timeout, as Python's Condition.wait_for does.
 */
#include <string.h>
#include <time.h>

#include "client.h"

static int cond_check(mpx_proxy *c)
{
    return mpx__proxy_check(c, "condition");
}

/* Creates or opens the condition on lock, or on a new RLock of its own when lock is NULL
 * (the server keeps that RLock alive as long as the condition). */
static int cond_make(mpx_client *c, const char *name, mpx_proxy *lock, mpx_proxy **out)
{
    mpx_proxy *own = NULL;
    int rc = 0;
    if (lock) {
        rc = mpx__proxy_check(lock, NULL);
        const char *t = rc ? "" : mpx_proxy_type(lock);
        if (rc == 0 && strcmp(t, "lock") != 0 && strcmp(t, "rlock") != 0)
            rc = mpx__fail(MPX_EINVAL, "a condition needs a lock or rlock, not a %s", t);
    } else {
        rc = mpx_rlock_new(c, &own);
        lock = own;
    }
    if (rc == 0) {
        mpx_value *args[] = {mpx_uint(mpx_proxy_id(lock))};
        rc = mpx__proxy_open_args(c, name, "condition", args, 1, out);
    }
    mpx_proxy_free(&own);
    return rc;
}

int mpx_condition_new(mpx_client *c, mpx_proxy *lock, mpx_proxy **out)
{
    return cond_make(c, NULL, lock, out);
}

int mpx_condition_open(mpx_client *c, const char *name, mpx_proxy *lock, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_condition_open: no name");
    return cond_make(c, name, lock, out);
}

int mpx_condition_acquire(mpx_proxy *cond, int wait_ms, bool *acquired)
{
    int rc = cond_check(cond);
    return rc ? rc : mpx__lock_acquire(cond, wait_ms, acquired, NULL, NULL);
}

int mpx_condition_release(mpx_proxy *cond)
{
    int rc = cond_check(cond);
    return rc ? rc : mpx__lock_release(cond);
}

int mpx_condition_wait(mpx_proxy *cond, int wait_ms, bool *notified)
{
    return mpx_condition_wait_fence(cond, wait_ms, notified, NULL, NULL);
}

int mpx_condition_wait_fence(mpx_proxy *cond, int wait_ms, bool *notified, uint64_t *fence,
                             bool *owner_died)
{
    mpx__wait w;
    mpx_value *res = NULL;
    int rc = cond_check(cond);
    if (rc == 0 && !notified) rc = mpx__fail(MPX_EINVAL, "wait: no out argument");
    if (rc == 0) rc = mpx__wait_make(cond, wait_ms, &w);
    if (rc) return rc;
    /* Re-acquiring after the wait has no limit on the server: no limit here either. */
    mpx_value *thread = mpx_uint(mpx__thread_id());
    const mpx_value *items[] = {w.timeout, thread};
    rc = thread ? mpx__call_items(cond, "wait", items, 2, MPX_FOREVER, &res)
                : mpx__fail(MPX_ENOMEM, "out of memory");
    if (rc == 0) rc = mpx__read_acquire(res, notified, fence, owner_died);
    mpx__wait_free(&w);
    mpx_value_free(&thread);
    mpx_value_free(&res);
    return rc;
}

static int notify_common(mpx_proxy *cond, const char *method, mpx_value *n)
{
    int rc = cond_check(cond);
    mpx_value *thread = mpx_uint(mpx__thread_id());
    const mpx_value *items[] = {n, thread};
    if (rc == 0 && (!n || !thread)) rc = mpx__fail(MPX_ENOMEM, "out of memory");
    if (rc == 0) rc = mpx__call_items(cond, method, items, 2, MPX_TIMEOUT_DEFAULT, NULL);
    mpx_value_free(&n);
    mpx_value_free(&thread);
    return rc;
}

int mpx_condition_notify(mpx_proxy *cond, uint64_t n)
{
    return notify_common(cond, "notify", mpx_uint(n));
}

int mpx_condition_notify_all(mpx_proxy *cond)
{
    return notify_common(cond, "notify_all", mpx_nil());
}

int mpx_condition_wait_for(mpx_proxy *cond, mpx_predicate pred, void *arg, int wait_ms,
                           bool *result)
{
    if (!pred || !result ||
        (wait_ms < 0 && wait_ms != MPX_FOREVER && wait_ms != MPX_TIMEOUT_DEFAULT))
        return mpx__fail(MPX_EINVAL, "mpx_condition_wait_for: predicate, result, wait_ms");
    int rc = cond_check(cond);
    if (rc) return rc;
    if (wait_ms == MPX_TIMEOUT_DEFAULT) wait_ms = mpx__client_timeout(cond->client);
    int64_t end = wait_ms == MPX_FOREVER ? INT64_MAX : mpx__clock_ms() + wait_ms;
    *result = pred(arg);
    while (!*result) {
        int left = wait_ms == MPX_FOREVER ? MPX_FOREVER : (int)(end - mpx__clock_ms());
        if (wait_ms != MPX_FOREVER && left <= 0) break;
        bool notified;
        int rc = mpx_condition_wait(cond, left, &notified);
        if (rc) return rc;
        *result = pred(arg);
    }
    return 0;
}
