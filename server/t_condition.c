/*
 * t_condition.c — Condition (Python's threading.Condition) on a Lock or RLock object.
 *
 * wait() must be called holding the lock. It releases the lock completely (remembering an
 * RLock's depth) and parks on the condition. notify(n) moves the n oldest waiters — and a
 * waiter whose timeout runs out moves itself — to the tail of the lock's own wait queue, so
 * they re-acquire it in turn with everyone else. When the lock reaches one of them it calls
 * cond_granted() instead of answering an acquire: the waiter holds the lock again, at its old
 * depth, and only then is wait() answered: notified (false if it timed out), with the lock's
 * new fencing token and whether its last holder died holding it, as an acquire is.
 *
 * acquire, release and locked are the lock's own methods, run on the lock object. notify
 * never picks a waiter whose peer is gone: each one it picks is probed first, so that a live
 * waiter is not left sleeping while a dead one is woken.
 */
#include <string.h>

#include "alloc.h"
#include "registry.h"
#include "reply.h"
#include "t_lock.h"

/* ================================ condition API =========================================== */

typedef struct {
    mpx__registry *reg; /* to let go of the lock when the condition goes */
    mpx__obj *lock;     /* held (mpx__registry_hold) while the condition exists */
    uint64_t lock_id;   /* let go of by id: at shutdown the lock may be destroyed first */
    mpx__waitq waiters; /* parked waits; arg = thread, arg2 = the RLock depth to restore */
} condition;

/* The lock reached a re-acquiring waiter: it holds it again, and wait() is answered
 * [notified, fencing token, owner_died], as an acquire would be. */
static void cond_granted(mpx__server *s, mpx__parked *p, mpx__obj *lock)
{
    bool died = mpx__lock_owner_died(lock);
    mpx__lock_grant(s, lock, p->session, p->arg, p->arg2);
    msgpack_packer *pk = mpx__parked_reply(s, p);
    msgpack_pack_array(pk, 3);
    mpx__pack_bool(pk, p->flag);
    msgpack_pack_uint64(pk, mpx__lock_fence(lock));
    mpx__pack_bool(pk, died);
    mpx__parked_finish(s, p);
}

/* Sends a waiter to re-acquire the lock; `notified` is what wait() will answer. */
static void cond_requeue(mpx__server *s, condition *c, mpx__parked *p, bool notified)
{
    p->flag = notified;
    p->granted = cond_granted;
    mpx__parked_move(s, p, mpx__lock_waiters(c->lock), MPX_NO_DEADLINE);
}

/* ================================ condition methods ======================================= */

/* Runs one of the lock's own methods on the lock object. */
static int on_lock(mpx__req *req, const char *method)
{
    condition *c = req->obj->state;
    const mpx__method *m = mpx__type_method(c->lock->type, method, strlen(method));
    mpx__req sub = *req;
    sub.obj = c->lock;
    int rc = m->fn(&sub);
    if (rc < 0) memcpy(req->errmsg, sub.errmsg, sizeof req->errmsg);
    return rc;
}

static int m_acquire(mpx__req *req)
{
    return on_lock(req, "acquire");
}

static int m_release(mpx__req *req)
{
    return on_lock(req, "release");
}

static int m_locked(mpx__req *req)
{
    return on_lock(req, "locked");
}

/* wait([timeout [, thread]]) -> notified */
static int m_wait(mpx__req *req)
{
    condition *c = req->obj->state;
    int64_t wait_ms;
    uint64_t thread;
    int rc = mpx__timeout_arg(req, 0, &wait_ms);
    if (rc == 0) rc = mpx__thread_arg(req, 1, &thread);
    if (rc) return rc;
    if (!mpx__lock_held(c->lock, req->session, thread))
        return mpx__req_fail(req, MPX_ENOTHELD, "cannot wait on an un-acquired lock");
    uint64_t depth = mpx__lock_release_all(req->server, c->lock);
    mpx__parked *p = mpx__park(req, &c->waiters, wait_ms, NULL);
    p->arg = thread;
    p->arg2 = depth;
    return MPX_PARKED; /* the wake hook hands the freed lock on */
}

static int notify_common(mpx__req *req, uint64_t n)
{
    condition *c = req->obj->state;
    uint64_t thread;
    int rc = mpx__thread_arg(req, 1, &thread);
    if (rc) return rc;
    if (!mpx__lock_held(c->lock, req->session, thread))
        return mpx__req_fail(req, MPX_ENOTHELD, "cannot notify on an un-acquired lock");
    for (uint64_t i = 0; i < n && c->waiters.head;) {
        mpx__parked *p = c->waiters.head;
        if (!mpx__session_reachable(req->server, p->session)) {
            mpx__parked_drop(req->server, p);
            continue;
        }
        cond_requeue(req->server, c, p, true); /* moved, not answered */
        i++;
    }
    return mpx__reply_nil(req);
}

/* notify([n = 1 [, thread]]) */
static int m_notify(mpx__req *req)
{
    uint64_t n = 1;
    int bad = req->argc >= 1 ? mpx__arg_uint(req, 0, "n", &n) : 0;
    if (bad) return bad;
    return notify_common(req, n);
}

/* notify_all([nil [, thread]]) */
static int m_notify_all(mpx__req *req)
{
    if (req->argc >= 1 && !(req->argv[0].len == 1 && req->argv[0].p[0] == 0xc0))
        return mpx__req_fail(req, MPX_ETYPE, "notify_all's first argument must be nil");
    return notify_common(req, UINT64_MAX);
}

/* The lock may have been freed (a wait, a release through the condition): hand it on. */
static void cond_wake(mpx__server *s, mpx__obj *obj)
{
    mpx__lock_wake(s, ((condition *)obj->state)->lock);
}

/* A wait timed out: it still re-acquires the lock before it answers false. */
static void cond_timeout(mpx__server *s, mpx__parked *p)
{
    condition *c = p->obj->state;
    cond_requeue(s, c, p, false);
    mpx__lock_wake(s, c->lock);
}

static void cond_free(void *state)
{
    condition *c = state;
    mpx__registry_unhold_id(c->reg, c->lock_id);
    mpx__xfree(c);
}

/* Creation arguments: [lock id] — an existing lock or rlock. */
static int cond_create(mpx__req *req, void **state)
{
    uint64_t id;
    if (req->argc != 1) return mpx__req_fail(req, MPX_EARGS, "a condition takes a lock's id");
    int bad = mpx__arg_uint(req, 0, "the lock id", &id);
    if (bad) return bad;
    mpx__obj *lock = id ? mpx__registry_find(&req->server->reg, id) : NULL;
    if (!lock)
        return mpx__req_fail(req, MPX_ENOOBJ, "no object with id %llu", (unsigned long long)id);
    if (!mpx__is_lock(lock))
        return mpx__req_fail(req, MPX_ETYPE, "a condition needs a lock or rlock, not a %s",
                             lock->type->name);
    condition *c = mpx__xcalloc(1, sizeof *c);
    c->reg = &req->server->reg;
    c->lock = lock;
    c->lock_id = lock->id;
    mpx__registry_hold(lock);
    *state = c;
    return 0;
}

/* Deleted: every call parked on it is answered with the error. */
static void condition_fail_parked(mpx__server *s, mpx__obj *obj, int code, const char *msg)
{
    condition *st = obj->state;
    mpx__waitq_fail_all(s, &st->waiters, code, msg);
}

static uint64_t condition_size(const void *state)
{
    const condition *st = state;
    return st->waiters.n;
}

static void cond_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const condition *c = obj->state;
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, c->lock_id);
}

static const mpx__method cond_methods[] = {
    {.name = "acquire", .fn = m_acquire, .min_args = 0, .max_args = 3},
    {.name = "release", .fn = m_release, .min_args = 0, .max_args = 1},
    {.name = "locked", .fn = m_locked, .min_args = 0, .max_args = 0},
    {.name = "wait", .fn = m_wait, .min_args = 0, .max_args = 2},
    {.name = "notify", .fn = m_notify, .min_args = 0, .max_args = 2},
    {.name = "notify_all", .fn = m_notify_all, .min_args = 0, .max_args = 2},
};

const mpx__type mpx__type_condition = {
    .name = "condition",
    .create = cond_create,
    .destroy = cond_free,
    .timeout = cond_timeout,
    .fail_parked = condition_fail_parked,
    .size = condition_size,
    .dump_args = cond_dump_args,
    .wake = cond_wake,
    .methods = cond_methods,
    .n_methods = sizeof cond_methods / sizeof cond_methods[0],
};
