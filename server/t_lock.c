/*
 * t_lock.c — Lock and RLock (Python's threading.Lock and RLock), held by sessions, fair, and
 * given back when the holder's session ends.
 *
 * The owner of a Lock is a session; the owner of an RLock is a session and a thread id the
 * client sends (its OS thread id), so two threads sharing one connection are two owners.
 * Every acquire that makes a new holder (not an RLock re-entry) hands out a fencing token,
 * a number that only grows for this lock: a resource guarded by the lock can refuse a writer
 * whose token is older than one it has seen, such as a holder whose session died. When the
 * holder's session ends, the lock passes to the oldest waiter, who is told the owner died.
 * With --data-dir a lock comes back free after a restart, and its tokens go on from above
 * any handed out before. A
 * waiter whose answer cannot reach it (its peer is gone) never keeps the lock: it passes on.
 */
#include "alloc.h"
#include "holdings.h"
#include "persist.h"
#include "session.h"
#include "t_lock.h"

/* ================================ lock API ================================================ */

typedef struct {
    mpx__session *owner;   /* NULL while free */
    uint64_t owner_thread; /* RLock: the owning thread of that session */
    uint64_t depth;        /* RLock: how many times the owner acquired it */
    uint64_t fence;        /* the last fencing token handed out */
    bool owner_died;       /* the last holder's session ended holding it; told to the next */
    bool reentrant;
    mpx__waitq waiters; /* parked acquires, oldest first; arg = thread id */
} lock;

static bool lock_owned_by(const lock *l, const mpx__session *sess, uint64_t thread)
{
    return l->owner == sess && (!l->reentrant || l->owner_thread == thread);
}

/* Makes sess/thread the holder and packs [true, fence, owner_died]. */
static void lock_take(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t thread,
                      msgpack_packer *pk)
{
    lock *l = obj->state;
    bool died = l->owner_died;
    mpx__lock_grant(s, obj, sess, thread, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_true(pk);
    msgpack_pack_uint64(pk, l->fence);
    mpx__pack_bool(pk, died);
}

static void pack_refused(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_false(pk);
    msgpack_pack_uint8(pk, 0);
    msgpack_pack_false(pk);
}

/* ================================ lock methods ============================================ */

/* acquire([block [, timeout [, thread]]]) -> [acquired, fence, owner_died] */
static int m_acquire(mpx__req *req)
{
    lock *l = req->obj->state;
    int64_t wait_ms;
    uint64_t thread;
    int rc = mpx__wait_args(req, 0, &wait_ms);
    if (rc == 0) rc = mpx__thread_arg(req, 2, &thread);
    if (rc) return rc;
    if (l->reentrant && lock_owned_by(l, req->session, thread)) {
        l->depth++;
        msgpack_pack_array(req->out, 3);
        msgpack_pack_true(req->out);
        msgpack_pack_uint64(req->out, l->fence);
        msgpack_pack_false(req->out);
        return 0;
    }
    if (!l->owner && !l->waiters.head) {
        lock_take(req->server, req->obj, req->session, thread, req->out);
        return 0;
    }
    if (wait_ms == 0) {
        pack_refused(req->out);
        return 0;
    }
    mpx__park(req, &l->waiters, wait_ms, NULL)->arg = thread;
    return MPX_PARKED;
}

/* release([thread]) */
static int m_release(mpx__req *req)
{
    lock *l = req->obj->state;
    uint64_t thread;
    int rc = mpx__thread_arg(req, 0, &thread);
    if (rc) return rc;
    if (!lock_owned_by(l, req->session, thread))
        return mpx__req_fail(req, MPX_ENOTHELD, "%s",
                             l->owner ? "release of a lock held by another owner"
                                      : "release of an unlocked lock");
    if (--l->depth == 0) {
        l->owner = NULL;
        mpx__session_disown(req->server, req->session, req->obj);
    }
    return mpx__reply_nil(req);
}

static int m_locked(mpx__req *req)
{
    return mpx__reply_bool(req, ((const lock *)req->obj->state)->owner != NULL);
}

/* Gives a free lock to its oldest waiter that is still there; a Condition.wait re-acquiring
 * answers its own way. A grant whose answer does not arrive is taken back, as if never
 * made. */
static void lock_wake(mpx__server *s, mpx__obj *obj)
{
    lock *l = obj->state;
    while (!l->owner && l->waiters.head) {
        mpx__parked *p = l->waiters.head;
        if (mpx__parked_gone(p)) {
            mpx__parked_drop(s, p);
            continue;
        }
        bool died = l->owner_died, delivered;
        if (p->granted) {
            p->granted(s, p, obj);
            delivered = l->owner && !l->owner->gone;
        } else {
            lock_take(s, obj, p->session, p->arg, mpx__parked_reply(s, p));
            delivered = mpx__parked_finish(s, p);
        }
        if (!delivered && l->owner) {
            mpx__lock_release_all(s, obj);
            l->owner_died = died;
        }
    }
}

/* ---- for Condition (t_condition.c) ------------------------------------------------------ */

bool mpx__is_lock(const mpx__obj *obj)
{
    return obj->type == &mpx__type_lock || obj->type == &mpx__type_rlock;
}

bool mpx__lock_held(const mpx__obj *obj, const mpx__session *sess, uint64_t thread)
{
    return lock_owned_by(obj->state, sess, thread);
}

uint64_t mpx__lock_release_all(mpx__server *s, mpx__obj *obj)
{
    lock *l = obj->state;
    uint64_t depth = l->depth;
    mpx__session_disown(s, l->owner, obj);
    l->owner = NULL;
    l->depth = 0;
    return depth;
}

mpx__waitq *mpx__lock_waiters(mpx__obj *obj)
{
    return &((lock *)obj->state)->waiters;
}

void mpx__lock_grant(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t thread,
                     uint64_t depth)
{
    lock *l = obj->state;
    l->owner = sess;
    l->owner_thread = thread;
    l->depth = depth;
    /* with --data-dir, each run's tokens start above every earlier run's (persist.h) */
    uint64_t base = mpx__persist_base(s);
    l->fence = l->fence < base ? base : l->fence + 1;
    l->owner_died = false;
    mpx__session_own(s, sess, obj);
}

bool mpx__lock_owner_died(const mpx__obj *obj)
{
    return ((const lock *)obj->state)->owner_died;
}

uint64_t mpx__lock_fence(const mpx__obj *obj)
{
    return ((const lock *)obj->state)->fence;
}

void mpx__lock_wake(mpx__server *s, mpx__obj *obj)
{
    lock_wake(s, obj);
}

static void lock_timeout(mpx__server *s, mpx__parked *p)
{
    pack_refused(mpx__parked_reply(s, p));
    mpx__parked_finish(s, p);
}

static void lock_session_lost(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t count)
{
    (void)s;
    (void)count; /* a lock is owned once, whatever an RLock's depth */
    lock *l = obj->state;
    if (l->owner != sess) return;
    l->owner = NULL;
    l->depth = 0;
    l->owner_died = true;
}

static int lock_create_common(mpx__req *req, void **state, bool reentrant)
{
    if (req->argc) return mpx__req_fail(req, MPX_EARGS, "a lock takes no creation arguments");
    lock *l = mpx__xcalloc(1, sizeof *l);
    l->reentrant = reentrant;
    *state = l;
    return 0;
}

static int lock_create(mpx__req *req, void **state)
{
    return lock_create_common(req, state, false);
}

static int rlock_create(mpx__req *req, void **state)
{
    return lock_create_common(req, state, true);
}

/* Deleted: every call parked on it is answered with the error. */
static void lock_fail_parked(mpx__server *s, mpx__obj *obj, int code, const char *msg)
{
    lock *st = obj->state;
    mpx__waitq_fail_all(s, &st->waiters, code, msg);
}

static uint64_t lock_size(const void *state)
{
    const lock *st = state;
    return st->waiters.n;
}

static const mpx__method lock_methods[] = {
    {.name = "acquire", .fn = m_acquire, .min_args = 0, .max_args = 3},
    {.name = "release", .fn = m_release, .min_args = 0, .max_args = 1},
    {.name = "locked", .fn = m_locked, .min_args = 0, .max_args = 0},
};

/* Lock and RLock share everything but their name and whether they re-enter. */
#define LOCK_TYPE(NAME, CREATE)                                                                    \
    {                                                                                              \
        .name = NAME, .create = CREATE, .destroy = mpx__xfree, .timeout = lock_timeout,            \
        .wake = lock_wake, .session_lost = lock_session_lost, .methods = lock_methods,             \
        .fail_parked = lock_fail_parked, .size = lock_size, .keeps_state_deleted = true,           \
        .n_methods = sizeof lock_methods / sizeof lock_methods[0],                                 \
    }

const mpx__type mpx__type_lock = LOCK_TYPE("lock", lock_create);
const mpx__type mpx__type_rlock = LOCK_TYPE("rlock", rlock_create);
