/*
 * t_semaphore.c — Semaphore and BoundedSemaphore (Python's threading classes): a counter of
 * units, acquires parked in arrival order while it is zero, and the units a session holds
 * returned when the session ends.
 *
 * Python lets any thread release a semaphore, so units are not tied to holders. mpxd still
 * counts, per session, the acquires it has not released, and gives those back when it dies;
 * a release from a session that holds none is an anonymous unit. A BoundedSemaphore refuses
 * a release past its initial value, and units returned for a dead session never push it past.
 */
#include <stdlib.h>

#include "alloc.h"
#include "blocked.h"
#include "session.h"

/* ================================ semaphore API =========================================== */

typedef struct {
    uint64_t value;
    uint64_t initial;
    bool bounded;
    mpx__waitq waiters; /* parked acquires, oldest first */
} semaphore;

/* Adds n units; a bounded semaphore stops at its initial value. */
static void semaphore_add(semaphore *sem, uint64_t n)
{
    sem->value = n > UINT64_MAX - sem->value ? UINT64_MAX : sem->value + n;
    if (sem->bounded && sem->value > sem->initial) sem->value = sem->initial;
}

/* ================================ semaphore methods ======================================= */

static int pack_bool(msgpack_packer *pk, bool b)
{
    return (b ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ? MPX_ENOMEM : 0;
}

/* acquire([block [, timeout]]) -> bool */
static int m_acquire(mpx__req *req)
{
    semaphore *sem = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__wait_args(req, 0, &wait_ms);
    if (rc) return rc;
    if (sem->value > 0 && !sem->waiters.head) {
        sem->value--;
        mpx__session_own(req->server, req->session, req->obj);
        return pack_bool(req->out, true);
    }
    if (wait_ms == 0) return pack_bool(req->out, false);
    mpx__park(req, &sem->waiters, wait_ms, NULL);
    return MPX_PARKED;
}

/* release([n = 1]) */
static int m_release(mpx__req *req)
{
    semaphore *sem = req->obj->state;
    uint64_t n = 1;
    if (req->argc == 1) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
        if (mpx__mp_uint(&c, &n) || n == 0)
            return mpx__req_fail(req, MPX_EVALUE, "ValueError: n must be one or more");
    }
    if (n > UINT64_MAX - sem->value)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: n is too large");
    if (sem->bounded && sem->value + n > sem->initial)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: Semaphore released too many times");
    sem->value += n;
    /* Bounded by what this session holds, whatever n a peer sends. */
    mpx__session_disown_n(req->server, req->session, req->obj, n);
    return msgpack_pack_nil(req->out) ? MPX_ENOMEM : 0;
}

static int m_value(mpx__req *req)
{
    return msgpack_pack_uint64(req->out, ((semaphore *)req->obj->state)->value) ? MPX_ENOMEM : 0;
}

static void semaphore_wake(mpx__server *s, mpx__obj *obj)
{
    semaphore *sem = obj->state;
    while (sem->value > 0 && sem->waiters.head) {
        mpx__parked *p = sem->waiters.head;
        sem->value--;
        mpx__session_own(s, p->session, obj);
        msgpack_pack_true(mpx__parked_reply(s, p));
        mpx__parked_finish(s, p);
    }
}

static void semaphore_timeout(mpx__server *s, mpx__parked *p)
{
    msgpack_pack_false(mpx__parked_reply(s, p));
    mpx__parked_finish(s, p);
}

static void semaphore_session_lost(mpx__server *s, mpx__obj *obj, mpx__session *sess,
                                   uint64_t count)
{
    (void)s;
    (void)sess;
    semaphore_add(obj->state, count);
}

static int semaphore_create_common(mpx__req *req, void **state, bool bounded)
{
    uint64_t value = 1;
    if (req->argc > 1) return mpx__req_fail(req, MPX_EARGS, "a semaphore takes at most a value");
    if (req->argc == 1) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
        if (mpx__mp_uint(&c, &value))
            return mpx__req_fail(req, MPX_EVALUE, "ValueError: the initial value must be >= 0");
    }
    semaphore *sem = mpx__xcalloc(1, sizeof *sem);
    sem->value = sem->initial = value;
    sem->bounded = bounded;
    *state = sem;
    return 0;
}

static int semaphore_create(mpx__req *req, void **state)
{
    return semaphore_create_common(req, state, false);
}

static int bounded_create(mpx__req *req, void **state)
{
    return semaphore_create_common(req, state, true);
}

static const mpx__method semaphore_methods[] = {
    {.name = "acquire", .fn = m_acquire, .min_args = 0, .max_args = 2},
    {.name = "release", .fn = m_release, .min_args = 0, .max_args = 1},
    {.name = "value", .fn = m_value, .min_args = 0, .max_args = 0},
};

/* Semaphore and BoundedSemaphore share everything but their name and bound. */
#define SEMAPHORE_TYPE(NAME, CREATE)                                                               \
    {                                                                                              \
        .name = NAME, .create = CREATE, .destroy = free, .timeout = semaphore_timeout,             \
        .wake = semaphore_wake, .session_lost = semaphore_session_lost,                            \
        .methods = semaphore_methods,                                                              \
        .n_methods = sizeof semaphore_methods / sizeof semaphore_methods[0],                       \
    }

const mpx__type mpx__type_semaphore = SEMAPHORE_TYPE("semaphore", semaphore_create);
const mpx__type mpx__type_bounded_semaphore = SEMAPHORE_TYPE("bounded_semaphore", bounded_create);
