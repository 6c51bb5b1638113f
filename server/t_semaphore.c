/*
 * t_semaphore.c — Semaphore and BoundedSemaphore (Python's threading classes): a counter of
 * units, acquires parked in arrival order while it is zero.
 *
 * As in Python, units have no owner: any session may release, and a session that ends keeps
 * the count as it is, so a semaphore used as a signal (Semaphore(0): a producer releases, a
 * consumer acquires) never gains units when a consumer exits. Created with give_back, a
 * semaphore guards a resource instead: mpxd counts, per session, the units it acquired and has
 * not released, and returns them when the session ends (as Hazelcast's session-aware
 * semaphore does). A BoundedSemaphore refuses a release past its initial value, and units
 * returned for a dead session never push it past. A unit whose answer cannot reach the
 * acquirer (its peer is gone) is never lost: it goes back at once.
 *
 * With --data-dir the count kept is the one a restart should find: the units free plus those
 * sessions hold in a give_back semaphore (those sessions do not outlive mpxd). It is logged as
 * a "_value" record whenever it changes.
 */
#include <string.h>

#include "alloc.h"
#include "blocked.h"
#include "holdings.h"
#include "persist.h"
#include "records.h"

/* ================================ semaphore API =========================================== */

typedef struct {
    uint64_t value;
    uint64_t initial;
    bool bounded;
    bool give_back;     /* units a session holds return when it ends */
    uint64_t held;      /* give_back: units sessions hold */
    uint64_t kept;      /* the count last logged */
    mpx__waitq waiters; /* parked acquires, oldest first */
} semaphore;

/* Adds n units; a bounded semaphore stops at its initial value. */
static void semaphore_add(semaphore *sem, uint64_t n)
{
    sem->value = n > UINT64_MAX - sem->value ? UINT64_MAX : sem->value + n;
    if (sem->bounded && sem->value > sem->initial) sem->value = sem->initial;
}

/* The count a restart should find: held units come back with their sessions. */
static uint64_t semaphore_kept(const semaphore *sem)
{
    uint64_t v = sem->held > UINT64_MAX - sem->value ? UINT64_MAX : sem->value + sem->held;
    return sem->bounded && v > sem->initial ? sem->initial : v;
}

/* Logs the count a restart should find, if it changed. */
static void semaphore_log(mpx__server *s, mpx__obj *obj)
{
    semaphore *sem = obj->state;
    uint64_t kept = semaphore_kept(sem);
    if (kept == sem->kept) return;
    sem->kept = kept;
    mpx__persist_uint(s, obj, "_value", kept);
}

/* Takes a unit for sess. */
static void semaphore_take(mpx__server *s, mpx__obj *obj, mpx__session *sess)
{
    semaphore *sem = obj->state;
    sem->value--;
    if (sem->give_back) {
        mpx__session_own(s, sess, obj);
        sem->held++;
    }
    semaphore_log(s, obj);
}

/* ================================ semaphore methods ======================================= */

/* acquire([block [, timeout]]) -> bool */
static int m_acquire(mpx__req *req)
{
    semaphore *sem = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__wait_args(req, 0, &wait_ms);
    if (rc) return rc;
    if (sem->value > 0 && !sem->waiters.head) {
        semaphore_take(req->server, req->obj, req->session);
        return mpx__reply_bool(req, true);
    }
    if (wait_ms == 0) return mpx__reply_bool(req, false);
    mpx__park(req, &sem->waiters, wait_ms, NULL);
    return MPX_PARKED;
}

/* release([n = 1]) */
static int m_release(mpx__req *req)
{
    semaphore *sem = req->obj->state;
    uint64_t n = 1;
    int bad = req->argc == 1 ? mpx__arg_uint(req, 0, "n", &n) : 0;
    if (bad) return bad;
    if (n == 0) return mpx__req_fail(req, MPX_EVALUE, "ValueError: n must be one or more");
    if (n > UINT64_MAX - sem->value)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: n is too large");
    if (sem->bounded && sem->value + n > sem->initial)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: Semaphore released too many times");
    sem->value += n;
    /* Bounded by what this session holds, whatever n a peer sends. */
    if (sem->give_back) sem->held -= mpx__session_disown_n(req->server, req->session, req->obj, n);
    semaphore_log(req->server, req->obj);
    return mpx__reply_nil(req);
}

/* _value(n), replayed: the count a restart finds. */
static int m_restore(mpx__req *req)
{
    semaphore *sem = req->obj->state;
    int bad = mpx__arg_uint(req, 0, "n", &sem->value);
    sem->kept = sem->value;
    return bad ? bad : mpx__reply_nil(req);
}

static int m_value(mpx__req *req)
{
    return mpx__reply_uint(req, ((semaphore *)req->obj->state)->value);
}

static void semaphore_wake(mpx__server *s, mpx__obj *obj)
{
    semaphore *sem = obj->state;
    while (sem->value > 0 && sem->waiters.head) {
        mpx__parked *p = sem->waiters.head;
        mpx__session *sess = p->session;
        if (mpx__parked_gone(p)) {
            mpx__parked_drop(s, p);
            continue;
        }
        semaphore_take(s, obj, sess);
        mpx__pack_bool(mpx__parked_reply(s, p), true);
        if (mpx__parked_finish(s, p)) continue;
        sem->value++; /* the unit never arrived */
        if (sem->give_back) sem->held -= mpx__session_disown_n(s, sess, obj, 1);
        semaphore_log(s, obj);
    }
}

static void semaphore_timeout(mpx__server *s, mpx__parked *p)
{
    mpx__pack_bool(mpx__parked_reply(s, p), false);
    mpx__parked_finish(s, p);
}

static void semaphore_session_lost(mpx__server *s, mpx__obj *obj, mpx__session *sess,
                                   uint64_t count)
{
    (void)sess;
    semaphore *sem = obj->state;
    semaphore_add(sem, count);
    sem->held -= count;
    semaphore_log(s, obj);
}

/* An acquire's true did not reach its peer: the unit goes back (a give_back semaphore gets it
 * back when the session ends, as it gets every unit that session holds). */
static void semaphore_undo(mpx__server *s, mpx__session *sess, mpx__obj *obj, const mpx__method *m,
                           const uint8_t *result, size_t len)
{
    (void)sess;
    (void)m;
    semaphore *sem = obj->state;
    if (len == 1 && result[0] == 0xc3 && !sem->give_back) semaphore_add(sem, 1);
    semaphore_log(s, obj);
}

/* Creation arguments: [value = 1 [, give_back = false]]. */
static int semaphore_create_common(mpx__req *req, void **state, bool bounded)
{
    uint64_t value = 1;
    bool give_back = false;
    if (req->argc > 2)
        return mpx__req_fail(req, MPX_EARGS, "a semaphore takes a value and give_back");
    int bad = req->argc >= 1 ? mpx__arg_uint(req, 0, "the initial value", &value) : 0;
    if (bad) return bad;
    if (req->argc == 2) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[1].p, req->argv[1].len);
        if (mpx__mp_bool(&c, &give_back))
            return mpx__req_fail(req, MPX_ETYPE, "give_back must be a bool");
    }
    semaphore *sem = mpx__xcalloc(1, sizeof *sem);
    sem->value = sem->initial = sem->kept = value;
    sem->bounded = bounded;
    sem->give_back = give_back;
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

/* Deleted: every call parked on it is answered with the error. */
static void semaphore_fail_parked(mpx__server *s, mpx__obj *obj, int code, const char *msg)
{
    semaphore *st = obj->state;
    mpx__waitq_fail_all(s, &st->waiters, code, msg);
}

static uint64_t semaphore_size(const void *state)
{
    const semaphore *st = state;
    return st->waiters.n;
}

static const mpx__method semaphore_methods[] = {
    {.name = "acquire", .fn = m_acquire, .min_args = 0, .max_args = 2, .undo = true},
    {.name = "release", .fn = m_release, .min_args = 0, .max_args = 1},
    {.name = "value", .fn = m_value, .min_args = 0, .max_args = 0},
    {.name = "_value", .fn = m_restore, .min_args = 1, .max_args = 1, .replay_only = true},
};

static void semaphore_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const semaphore *sem = obj->state;
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, sem ? sem->initial : 1);
    mpx__pack_bool(pk, sem && sem->give_back);
}

static void semaphore_dump(const mpx__obj *obj, mpx__records *w)
{
    msgpack_pack_uint64(mpx__record_call(w, obj->id, "_value", 1), semaphore_kept(obj->state));
    mpx__record_end(w);
}

/* Semaphore and BoundedSemaphore share everything but their name and bound. */
#define SEMAPHORE_TYPE(NAME, CREATE)                                                               \
    {                                                                                              \
        .name = NAME, .create = CREATE, .destroy = mpx__xfree, .timeout = semaphore_timeout,       \
        .fail_parked = semaphore_fail_parked, .size = semaphore_size, .wake = semaphore_wake,      \
        .session_lost = semaphore_session_lost, .undo = semaphore_undo,                            \
        .dump_args = semaphore_dump_args, .dump = semaphore_dump, .methods = semaphore_methods,    \
        .n_methods = sizeof semaphore_methods / sizeof semaphore_methods[0],                       \
    }

const mpx__type mpx__type_semaphore = SEMAPHORE_TYPE("semaphore", semaphore_create);
const mpx__type mpx__type_bounded_semaphore = SEMAPHORE_TYPE("bounded_semaphore", bounded_create);
