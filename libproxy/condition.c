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
    mpx_value *cargs = mpx_array(), *id = rc ? NULL : mpx_uint(mpx_proxy_id(lock));
    if (rc == 0)
        rc = cargs && id && mpx_array_push(cargs, &id) == 0
                 ? mpx__proxy_open(c, name, "condition", cargs, out)
                 : mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&cargs);
    mpx_value_free(&id);
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
    int call_timeout, rc = cond_check(cond);
    if (rc == 0) rc = mpx__wait_call_timeout(cond, wait_ms, &call_timeout);
    if (rc) return rc;
    /* Re-acquiring after the wait has no limit on the server: no limit here either. */
    mpx_value *t = mpx__wait_value(wait_ms);
    mpx_value *thread = mpx_uint(mpx__thread_id());
    const mpx_value *items[] = {t, thread};
    rc = mpx__call_bool(cond, "wait", items, 2, MPX__NO_TIMEOUT, notified);
    mpx_value_free(&t);
    mpx_value_free(&thread);
    return rc;
}

static int notify_common(mpx_proxy *cond, const char *method, mpx_value *n)
{
    int rc = cond_check(cond);
    mpx_value *thread = mpx_uint(mpx__thread_id());
    const mpx_value *items[] = {n, thread};
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mpx_condition_wait_for(mpx_proxy *cond, mpx_predicate pred, void *arg, int wait_ms,
                           bool *result)
{
    if (!pred || !result || (wait_ms < 0 && wait_ms != MPX_FOREVER))
        return mpx__fail(MPX_EINVAL, "mpx_condition_wait_for: predicate, result, wait_ms");
    int64_t end = wait_ms == MPX_FOREVER ? INT64_MAX : now_ms() + wait_ms;
    *result = pred(arg);
    while (!*result) {
        int left = wait_ms == MPX_FOREVER ? MPX_FOREVER : (int)(end - now_ms());
        if (wait_ms != MPX_FOREVER && left <= 0) break;
        bool notified;
        int rc = mpx_condition_wait(cond, left, &notified);
        if (rc) return rc;
        *result = pred(arg);
    }
    return 0;
}
