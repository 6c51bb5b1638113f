/*
 * t_barrier.c — Barrier (Python's threading.Barrier): `parties` callers wait until the last
 * arrives; each gets an index 0..parties-1 (arrival order) unique in its generation. A wait
 * that times out, abort(), reset(), or a waiter whose session dies breaks it: every waiter gets
 * MPX_EBROKEN, and so does every later wait until reset().
 *
 * A parked wait owns the barrier (mpx__session_own), so a waiter's death reaches
 * barrier_session_lost(), which breaks it like a timeout would: the others can never all
 * arrive.
 */
#include "alloc.h"
#include "blocked.h"
#include "holdings.h"

/* ================================ barrier API ============================================= */

typedef struct {
    uint64_t parties;
    int64_t timeout_ms; /* the default for wait(); MPX_NO_DEADLINE if none */
    uint64_t count;     /* arrived in this generation */
    bool broken;
    /* What the wake hook must do to the parked waits, decided by a handler (which cannot
     * answer other calls while its own reply is being built). */
    enum { BARRIER_IDLE, BARRIER_RELEASE, BARRIER_BREAK } pending;
    mpx__waitq waiters; /* parked waits; arg = index */
} barrier;

/* Answers one parked wait (success or broken) and drops what it owned. */
static void barrier_answer(mpx__server *s, mpx__parked *p, bool ok)
{
    mpx__session_disown(s, p->session, p->obj);
    if (ok) {
        msgpack_pack_uint64(mpx__parked_reply(s, p), p->arg);
        mpx__parked_finish(s, p); /* nothing to take back from a waiter that left */
    } else {
        mpx__parked_fail(s, p, MPX_EBROKEN, "BrokenBarrierError");
    }
}

/* Breaks the barrier: every waiter is answered MPX_EBROKEN. */
static void barrier_break(mpx__server *s, barrier *b)
{
    b->broken = true;
    b->count = 0;
    while (b->waiters.head)
        barrier_answer(s, b->waiters.head, false);
}

/* ================================ barrier methods ========================================= */

/* wait([timeout]) -> index */
static int m_wait(mpx__req *req)
{
    barrier *b = req->obj->state;
    int64_t wait_ms = b->timeout_ms;
    if (req->argc == 1) {
        int rc = mpx__timeout_arg(req, 0, &wait_ms);
        if (rc) return rc;
    }
    if (b->broken) return mpx__req_fail(req, MPX_EBROKEN, "BrokenBarrierError");
    uint64_t index = b->count++;
    if (b->count == b->parties) { /* the last one: everyone goes, a new generation starts */
        b->count = 0;
        b->pending = BARRIER_RELEASE;
        return mpx__reply_uint(req, index);
    }
    mpx__parked *p = mpx__park(req, &b->waiters, wait_ms, NULL);
    p->arg = index;
    mpx__session_own(req->server, req->session, req->obj);
    return MPX_PARKED;
}

/* reset(): waiters get MPX_EBROKEN; the barrier is whole and empty again. */
static int m_reset(mpx__req *req)
{
    barrier *b = req->obj->state;
    b->broken = false;
    b->count = 0;
    if (b->waiters.head) b->pending = BARRIER_BREAK; /* they see it broken; it stays whole */
    return mpx__reply_nil(req);
}

static int m_abort(mpx__req *req)
{
    barrier *b = req->obj->state;
    b->broken = true;
    b->count = 0;
    b->pending = BARRIER_BREAK;
    return mpx__reply_nil(req);
}

/* Carries out what a handler decided: release the generation, or answer everyone broken. */
static void barrier_wake(mpx__server *s, mpx__obj *obj)
{
    barrier *b = obj->state;
    bool ok = b->pending == BARRIER_RELEASE;
    if (b->pending == BARRIER_IDLE) return;
    b->pending = BARRIER_IDLE;
    while (b->waiters.head)
        barrier_answer(s, b->waiters.head, ok);
}

static int m_parties(mpx__req *req)
{
    return mpx__reply_uint(req, ((barrier *)req->obj->state)->parties);
}

static int m_n_waiting(mpx__req *req)
{
    return mpx__reply_uint(req, ((barrier *)req->obj->state)->waiters.n);
}

static int m_broken(mpx__req *req)
{
    return mpx__reply_bool(req, ((barrier *)req->obj->state)->broken);
}

static void barrier_timeout(mpx__server *s, mpx__parked *p)
{
    barrier_break(s, p->obj->state); /* answers p too */
}

/* A waiter given up by its client leaves the others unable to all arrive, as a timeout does. */
static void barrier_cancel(mpx__server *s, mpx__parked *p)
{
    barrier_break(s, p->obj->state);
}

static void barrier_session_lost(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t count)
{
    (void)sess;
    (void)count;
    barrier_break(s, obj->state);
}

/* Creation arguments: [parties [, timeout_ms]]. */
static int barrier_create(mpx__req *req, void **state)
{
    uint64_t parties;
    if (req->argc < 1 || req->argc > 2)
        return mpx__req_fail(req, MPX_EARGS, "a barrier takes parties and an optional timeout");
    int bad = mpx__arg_uint(req, 0, "parties", &parties);
    if (bad) return bad;
    if (parties == 0) return mpx__req_fail(req, MPX_EVALUE, "ValueError: parties must be > 0");
    int64_t timeout_ms;
    int rc = mpx__timeout_arg(req, 1, &timeout_ms);
    if (rc) return rc;
    barrier *b = mpx__xcalloc(1, sizeof *b);
    b->parties = parties;
    b->timeout_ms = timeout_ms;
    *state = b;
    return 0;
}

/* Deleted: every call parked on it is answered with the error. */
static void barrier_fail_parked(mpx__server *s, mpx__obj *obj, int code, const char *msg)
{
    barrier *st = obj->state;
    mpx__waitq_fail_all(s, &st->waiters, code, msg);
}

static uint64_t barrier_size(const void *state)
{
    const barrier *st = state;
    return st->waiters.n;
}

/* A barrier comes back as made: everyone who waited at it went with mpxd. */
static void barrier_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const barrier *b = obj->state;
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, b->parties);
    if (b->timeout_ms == MPX_NO_DEADLINE)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_uint64(pk, (uint64_t)b->timeout_ms);
}

static const mpx__method barrier_methods[] = {
    {.name = "wait", .fn = m_wait, .min_args = 0, .max_args = 1},
    {.name = "reset", .fn = m_reset, .min_args = 0, .max_args = 0},
    {.name = "abort", .fn = m_abort, .min_args = 0, .max_args = 0},
    {.name = "parties", .fn = m_parties, .min_args = 0, .max_args = 0},
    {.name = "n_waiting", .fn = m_n_waiting, .min_args = 0, .max_args = 0},
    {.name = "broken", .fn = m_broken, .min_args = 0, .max_args = 0},
};

const mpx__type mpx__type_barrier = {
    .name = "barrier",
    .create = barrier_create,
    .destroy = mpx__xfree,
    .timeout = barrier_timeout,
    .fail_parked = barrier_fail_parked,
    .size = barrier_size,
    .dump_args = barrier_dump_args,
    .cancel = barrier_cancel,
    .wake = barrier_wake,
    .session_lost = barrier_session_lost,
    .methods = barrier_methods,
    .n_methods = sizeof barrier_methods / sizeof barrier_methods[0],
};
