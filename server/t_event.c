/*
 * t_event.c — Event (Python's threading.Event): a flag, and waiters parked until it is set.
 */
#include "records.h"
#include "alloc.h"
#include "blocked.h"

/* ================================ event API =============================================== */

typedef struct {
    bool flag;
    mpx__waitq waiters; /* parked waits */
} event;

/* ================================ event methods =========================================== */

static int m_set(mpx__req *req)
{
    ((event *)req->obj->state)->flag = true; /* the wake hook frees every waiter */
    return mpx__reply_nil(req);
}

static int m_clear(mpx__req *req)
{
    ((event *)req->obj->state)->flag = false;
    return mpx__reply_nil(req);
}

static int m_is_set(mpx__req *req)
{
    return mpx__reply_bool(req, ((event *)req->obj->state)->flag);
}

/* wait([timeout]) -> the flag: true once set, false if the timeout ran out first */
static int m_wait(mpx__req *req)
{
    event *e = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__timeout_arg(req, 0, &wait_ms);
    if (rc) return rc;
    if (e->flag || wait_ms == 0) return mpx__reply_bool(req, e->flag);
    mpx__park(req, &e->waiters, wait_ms, NULL);
    return MPX_PARKED;
}

static void event_wake(mpx__server *s, mpx__obj *obj)
{
    event *e = obj->state;
    while (e->flag && e->waiters.head) {
        mpx__parked *p = e->waiters.head;
        mpx__pack_bool(mpx__parked_reply(s, p), true);
        mpx__parked_finish(s, p);
    }
}

static void event_timeout(mpx__server *s, mpx__parked *p)
{
    mpx__pack_bool(mpx__parked_reply(s, p), false);
    mpx__parked_finish(s, p);
}

static int event_create(mpx__req *req, void **state)
{
    if (req->argc) return mpx__req_fail(req, MPX_EARGS, "an event takes no creation arguments");
    *state = mpx__xcalloc(1, sizeof(event));
    return 0;
}

/* Deleted: every call parked on it is answered with the error. */
static void event_fail_parked(mpx__server *s, mpx__obj *obj, int code, const char *msg)
{
    event *st = obj->state;
    mpx__waitq_fail_all(s, &st->waiters, code, msg);
}

static uint64_t event_size(const void *state)
{
    const event *st = state;
    return st->waiters.n;
}

static void event_dump(const mpx__obj *obj, mpx__records *w)
{
    const event *st = obj->state;
    if (!st->flag) return;
    mpx__record_call(w, obj->id, "set", 0);
    mpx__record_end(w);
}

static const mpx__method event_methods[] = {
    {.name = "set", .fn = m_set, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "clear", .fn = m_clear, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "is_set", .fn = m_is_set, .min_args = 0, .max_args = 0},
    {.name = "wait", .fn = m_wait, .min_args = 0, .max_args = 1},
};

const mpx__type mpx__type_event = {
    .name = "event",
    .create = event_create,
    .destroy = mpx__xfree,
    .timeout = event_timeout,
    .fail_parked = event_fail_parked,
    .size = event_size,
    .dump = event_dump,
    .wake = event_wake,
    .methods = event_methods,
    .n_methods = sizeof event_methods / sizeof event_methods[0],
};
