/*
 * t_queue.c — Queue and JoinableQueue (Python's queue.Queue semantics): a FIFO of msgpack
 * items with an optional maxsize, blocking put and get parked in arrival order, and for the
 * joinable kind task_done and join.
 *
 * Handlers only change the queue and answer their own call; queue_wake(), the type's wake
 * hook, runs after that answer has gone out and serves the parked calls the change allows
 * (oldest first): getters while there are items, putters while there is room, joiners when
 * no task is left unfinished. An item is never handed to a peer that is gone: a getter's
 * items are removed only once its reply went out, and an answer that could not reach its peer
 * (dispatch's undo, or a client that gave up on its get and returns what came anyway:
 * put_front) puts them back at the head, in order.
 *
 * On a joinable queue, the tasks a session took with a plain get and has not marked done are
 * counted per session: if the session ends first, its items went with it, and those tasks are
 * abandoned (counted, no longer unfinished), so that join() never waits for a taker that is
 * gone.
 *
 * Leased gets (get_lease) hand the head item out but keep it the queue's until ack: a lease
 * whose taker's session ends, whose time runs out, or that its taker gives back (nack) puts the
 * item back at the head for the next taker, counted as redelivered. On a joinable queue an ack
 * is the task's task_done, and a redelivered item stays the one task it was.
 *
 * With --data-dir, what the queue does is logged as it happens (persist.h), since a parked
 * get or put completes long after its call: "_push" (a new task's item), "_take" (items gone
 * from the head), "put_front" (items back at the head), "_lease" and "_unlease" (the head item
 * leased, a leased item back at the head); put_nowait, put_many, put_front, task_done and ack
 * are logged as called. Leases outlive no restart: recovery ends their sessions' ownership,
 * which puts their items back.
 */
#include <string.h>

#include "alloc.h"
#include "blocked.h"
#include "hash.h"
#include "holdings.h"
#include "lazyfree.h"
#include "object.h"
#include "persist.h"
#include "records.h"
#include "refs.h"

/* ================================ queue API =============================================== */

typedef struct {
    uint8_t *p; /* one msgpack object, as it arrived */
    uint32_t len;
    bool refs; /* it holds object references (refs.h) */
} queue_item;

/* A session's tasks taken with a plain get and not yet marked done (joinable queues). */
typedef struct taker {
    mpx__session *session; /* owns the queue while it has tasks (holdings.h) */
    uint64_t tasks;
    UT_hash_handle hh; /* by session */
} taker;

/* An item handed out by get_lease, the queue's until acknowledged. */
typedef struct lease {
    uint64_t id;
    queue_item item;
    mpx__session *session;     /* the taker, who owns it (holdings.h) */
    int64_t deadline_ms;       /* MPX_NO_DEADLINE: until its session ends */
    struct lease *prev, *next; /* the queue's leases, oldest first */
    UT_hash_handle hh;         /* by id */
} lease;

typedef struct {
    queue_item *ring;
    size_t cap;
    size_t head;
    size_t count;
    lease *leases; /* by id */
    lease *lease_head, *lease_tail;
    uint64_t next_lease; /* the id the next lease gets */
    taker *takers;       /* joinable: by session */
    uint64_t abandoned;  /* joinable: tasks whose taker's session ended first */
    int64_t armed_ms;    /* the soonest lease deadline a timer is set for */
    uint64_t maxsize;    /* 0: unbounded */
    bool joinable;
    uint64_t unfinished; /* items put and not yet marked done (joinable) */
    mpx__waitq getters;  /* parked get / get_many; arg = most items wanted */
    mpx__waitq putters;  /* parked put; data = the item */
    mpx__waitq joiners;  /* parked join */
} queue;

static bool queue_full(const queue *q)
{
    return q->maxsize && q->count >= q->maxsize;
}

static queue_item *queue_at(const queue *q, size_t i)
{
    return &q->ring[(q->head + i) % q->cap];
}

/* Room for one more item. */
static void queue_reserve(queue *q)
{
    if (q->count < q->cap) return;
    size_t cap = q->cap ? q->cap * 2 : 16;
    queue_item *ring = mpx__xmalloc(cap * sizeof *ring);
    for (size_t i = 0; i < q->count; i++)
        ring[i] = *queue_at(q, i);
    mpx__xfree(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
}

/* Appends a new task's item, taking ownership of its bytes and of the holds on the objects
 * they reference (refs). */
static void queue_push(queue *q, uint8_t *p, size_t len, bool refs)
{
    queue_reserve(q);
    q->ring[(q->head + q->count++) % q->cap] = (queue_item){p, (uint32_t)len, refs};
    q->unfinished++;
}

/* A copy of an item for obj's queue, holding what it references (refs: it has references,
 * checked). */
static uint8_t *item_copy(mpx__obj *obj, const mpx__span *item, bool refs)
{
    uint8_t *p = mpx__xmalloc(item->len);
    memcpy(p, item->p, item->len);
    if (refs) mpx__refs_hold(obj, p, item->len);
    return p;
}

static void queue_push_copy(mpx__obj *obj, const mpx__span *item, bool refs)
{
    queue_push(obj->state, item_copy(obj, item, refs), item->len, refs);
}

/* Puts a copy of an item taken earlier back at the head: not a new task. */
static void queue_push_front(mpx__obj *obj, const mpx__span *item)
{
    queue *q = obj->state;
    bool refs = mpx__refs_present(item->p, item->len);
    queue_reserve(q);
    q->head = (q->head + q->cap - 1) % q->cap;
    q->ring[q->head] = (queue_item){item_copy(obj, item, refs), (uint32_t)item->len, refs};
    q->count++;
}

/* Puts back the items of an array (a get_many's answer, put_front's argument), the first at
 * the head. */
static void queue_push_front_all(mpx__obj *obj, const uint8_t *array, size_t len)
{
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, array, len);
    if (mpx__mp_array(&c, &n) || n == 0) return;
    mpx__span *items = mpx__xmalloc(n * sizeof *items);
    for (uint32_t i = 0; i < n; i++) {
        items[i].p = c.p;
        mpx__mp_skip(&c); /* checked by dispatch, or packed by mpxd */
        items[i].len = (size_t)(c.p - items[i].p);
    }
    for (uint32_t i = n; i > 0; i--)
        queue_push_front(obj, &items[i - 1]);
    mpx__xfree(items);
}

/* Logs a new task's item at the tail. */
static void log_push(mpx__server *s, const mpx__obj *obj, const uint8_t *p, size_t len)
{
    msgpack_packer *pk = mpx__persist_call(s, obj, "_push", 1);
    if (!pk) return;
    mpx__buf_write(pk->data, (const char *)p, len);
    mpx__persist_end(s);
}

/* Logs items back at the head: an array of them (array), or the first n of the queue. */
static void log_front(mpx__server *s, const mpx__obj *obj, const mpx__span *array, size_t n)
{
    const queue *q = obj->state;
    msgpack_packer *pk = mpx__persist_call(s, obj, "put_front", 1);
    if (!pk) return;
    if (array) {
        mpx__buf_write(pk->data, (const char *)array->p, array->len);
    } else {
        msgpack_pack_array(pk, (uint32_t)n);
        for (size_t i = 0; i < n; i++)
            mpx__buf_write(pk->data, (const char *)queue_at(q, i)->p, queue_at(q, i)->len);
    }
    mpx__persist_end(s);
}

/* Frees the n oldest items. */
static void queue_drop_front(queue *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        queue_item *it = &q->ring[q->head];
        if (it->refs) mpx__refs_drop(it->p, it->len);
        mpx__xfree(it->p);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}

/* How many items a get (max 0) or get_many (max) takes now. */
static size_t take_count(const queue *q, uint64_t max)
{
    return max == 0 ? 1 : q->count < max ? q->count : max;
}

/* Packs the items a get or get_many would take, leaving them in the queue. */
static void pack_front(const queue *q, msgpack_packer *pk, uint64_t max)
{
    size_t n = take_count(q, max);
    if (max) msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        mpx__buf_write(pk->data, (const char *)queue_at(q, i)->p, queue_at(q, i)->len);
}

static void lease_free_all(queue *q);

static bool queue_free_step(void *state, size_t budget)
{
    queue *q = state;
    lease_free_all(q);
    taker *t, *tmp;
    HASH_ITER(hh, q->takers, t, tmp)
    {
        HASH_DEL(q->takers, t);
        mpx__xfree(t);
    }
    queue_drop_front(q, q->count < budget ? q->count : budget);
    if (q->count) return false;
    mpx__xfree(q->ring);
    mpx__xfree(q);
    return true;
}

static void queue_free(void *state)
{
    mpx__lazyfree(queue_free_step, state);
}

/* ================================ tasks of plain gets ===================================== */

static taker *taker_find(const queue *q, const mpx__session *sess)
{
    taker *t;
    HASH_FIND(hh, q->takers, &sess, sizeof sess, t);
    return t;
}

/* sess took n tasks of a joinable queue with a plain get. */
static void tasks_taken(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t n)
{
    queue *q = obj->state;
    if (!q->joinable || n == 0) return;
    taker *t = taker_find(q, sess);
    if (!t) {
        t = mpx__xcalloc(1, sizeof *t);
        t->session = sess;
        HASH_ADD(hh, q->takers, session, sizeof t->session, t);
        mpx__session_own(s, sess, obj);
    }
    t->tasks += n;
}

/* sess is done with (or gave back) n of the tasks it took; more than it took is ignored (a
 * task_done for another session's task). */
static void tasks_ended(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t n)
{
    queue *q = obj->state;
    taker *t = q->joinable ? taker_find(q, sess) : NULL;
    if (!t) return;
    t->tasks -= n < t->tasks ? n : t->tasks;
    if (t->tasks) return;
    HASH_DEL(q->takers, t);
    mpx__xfree(t);
    mpx__session_disown(s, sess, obj);
}

/* Abandons n tasks (their taker's session ended): logged, as the count changes. */
static void tasks_abandon(mpx__server *s, mpx__obj *obj, uint64_t n)
{
    queue *q = obj->state;
    mpx__persist_uint(s, obj, "_abandon", n);
    q->unfinished -= n < q->unfinished ? n : q->unfinished;
    q->abandoned += n;
}

/* ================================ leases ================================================== */

/* Frees every lease and its item (the queue is going). */
static void lease_free_all(queue *q)
{
    lease *l, *tmp;
    HASH_ITER(hh, q->leases, l, tmp)
    {
        HASH_DEL(q->leases, l);
        if (l->item.refs) mpx__refs_drop(l->item.p, l->item.len);
        mpx__xfree(l->item.p);
        mpx__xfree(l);
    }
    q->lease_head = q->lease_tail = NULL;
}

/* Makes item a new lease `id` of sess, for lease_ms (MPX_NO_DEADLINE: until the session
 * ends); the lease owns the item's bytes from now. */
static lease *lease_add(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t id,
                        queue_item item, int64_t lease_ms)
{
    queue *q = obj->state;
    lease *l = mpx__xcalloc(1, sizeof *l);
    *l = (lease){.id = id, .item = item, .session = sess, .prev = q->lease_tail};
    l->deadline_ms = lease_ms == MPX_NO_DEADLINE ? MPX_NO_DEADLINE : mpx__now_ms() + lease_ms;
    if (q->lease_tail)
        q->lease_tail->next = l;
    else
        q->lease_head = l;
    q->lease_tail = l;
    HASH_ADD(hh, q->leases, id, sizeof l->id, l);
    if (id >= q->next_lease) q->next_lease = id + 1;
    mpx__session_own(s, sess, obj);
    if (l->deadline_ms < q->armed_ms) {
        q->armed_ms = l->deadline_ms;
        mpx__timer_at(s, obj, l->deadline_ms);
    }
    return l;
}

/* Leases the head item to sess: logged first, as the reply may wait for the log. */
static lease *lease_head_item(mpx__server *s, mpx__obj *obj, mpx__session *sess, int64_t lease_ms)
{
    queue *q = obj->state;
    uint64_t id = q->next_lease;
    mpx__persist_uint(s, obj, "_lease", id);
    queue_item item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return lease_add(s, obj, sess, id, item, lease_ms);
}

/* Ends a lease, giving its item to the caller; the session's ownership goes too unless the
 * session is ending (holdings.h has let go of it then). */
static queue_item lease_end(mpx__server *s, mpx__obj *obj, lease *l, bool disown)
{
    queue *q = obj->state;
    if (l->prev)
        l->prev->next = l->next;
    else
        q->lease_head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        q->lease_tail = l->prev;
    HASH_DEL(q->leases, l);
    if (disown) mpx__session_disown(s, l->session, obj);
    queue_item item = l->item;
    mpx__xfree(l);
    return item;
}

/* Puts a leased item back at the head, for the next taker. */
static void lease_return(mpx__server *s, mpx__obj *obj, lease *l, bool disown)
{
    queue *q = obj->state;
    mpx__persist_uint(s, obj, "_unlease", l->id);
    queue_item item = lease_end(s, obj, l, disown);
    queue_reserve(q);
    q->head = (q->head + q->cap - 1) % q->cap;
    q->ring[q->head] = item;
    q->count++;
}

static void pack_lease(msgpack_packer *pk, const lease *l)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, l->id);
    mpx__buf_write(pk->data, (const char *)l->item.p, l->item.len);
}

static lease *lease_find(const queue *q, uint64_t id)
{
    lease *l;
    HASH_FIND(hh, q->leases, &id, sizeof id, l);
    return l;
}

/* Reads argument i as a lease id and finds it; MPX_ENOLEASE if there is none. */
static int lease_arg(mpx__req *req, uint32_t i, lease **out)
{
    uint64_t id;
    int rc = mpx__arg_uint(req, i, "the lease", &id);
    if (rc) return rc;
    if (!(*out = lease_find(req->obj->state, id)))
        return mpx__req_fail(req, MPX_ENOLEASE,
                             "no lease %llu: acknowledged already, or it ran out or its taker's "
                             "session ended, and the item went back to the queue",
                             (unsigned long long)id);
    return 0;
}

/* The session sess ended holding leases: their items go back, the oldest at the head. */
static void queue_session_lost(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t count)
{
    (void)count;
    queue *q = obj->state;
    taker *t = taker_find(q, sess);
    if (t) { /* its plain gets' items went with it */
        tasks_abandon(s, obj, t->tasks);
        HASH_DEL(q->takers, t);
        mpx__xfree(t);
    }
    for (lease *l = q->lease_tail, *prev; l; l = prev) {
        prev = l->prev;
        if (l->session != sess) continue;
        lease_return(s, obj, l, false);
        s->stats.redelivered++;
    }
}

/* Leases whose time ran out go back, the oldest at the head; the timer is set for the next. */
static void queue_expire(mpx__server *s, mpx__obj *obj, int64_t now_ms)
{
    queue *q = obj->state;
    int64_t next = MPX_NO_DEADLINE;
    for (lease *l = q->lease_tail, *prev; l; l = prev) {
        prev = l->prev;
        if (l->deadline_ms <= now_ms) {
            lease_return(s, obj, l, true);
            s->stats.redelivered++;
        } else if (l->deadline_ms < next) {
            next = l->deadline_ms;
        }
    }
    q->armed_ms = next;
    if (next != MPX_NO_DEADLINE) mpx__timer_at(s, obj, next);
}

/* ================================ queue methods =========================================== */

static int m_put(mpx__req *req)
{
    queue *q = req->obj->state;
    int64_t wait_ms;
    size_t refs = 0;
    int rc = mpx__wait_args(req, 1, &wait_ms);
    if (rc == 0) rc = mpx__refs_check(req, &req->argv[0], &refs);
    if (rc) return rc;
    if (!queue_full(q) && q->putters.n == 0) {
        queue_push_copy(req->obj, &req->argv[0], refs > 0);
        log_push(req->server, req->obj, req->argv[0].p, req->argv[0].len);
        return mpx__reply_nil(req);
    }
    if (wait_ms == 0) return mpx__req_fail(req, MPX_EFULL, "Full: the queue is full");
    mpx__park(req, &q->putters, wait_ms, &req->argv[0]);
    return MPX_PARKED;
}

static int m_put_nowait(mpx__req *req)
{
    queue *q = req->obj->state;
    size_t refs = 0;
    int rc = mpx__refs_check(req, &req->argv[0], &refs);
    if (rc) return rc;
    if (queue_full(q) || q->putters.n)
        return mpx__req_fail(req, MPX_EFULL, "Full: the queue is full");
    queue_push_copy(req->obj, &req->argv[0], refs > 0);
    return mpx__reply_nil(req);
}

/* put_front(items): returns items taken earlier to the head of the queue, the first item
 * first, whatever its maxsize; on a joinable queue they are not new tasks. */
static int m_put_front(mpx__req *req)
{
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_array(&c, &n)) return mpx__req_fail(req, MPX_ETYPE, "put_front() takes an array");
    int rc = mpx__refs_check(req, &req->argv[0], NULL);
    if (rc) return rc;
    queue_push_front_all(req->obj, req->argv[0].p, req->argv[0].len);
    tasks_ended(req->server, req->obj, req->session, n); /* given back: not this taker's now */
    return mpx__reply_nil(req);
}

/* Answers a get (max 0) or get_many at once: the items leave the queue now, and come back
 * through the undo hook if the answer does not reach the peer. */
static int take_now(mpx__req *req, uint64_t max)
{
    queue *q = req->obj->state;
    size_t n = take_count(q, max);
    pack_front(q, req->out, max);
    mpx__persist_uint(req->server, req->obj, "_take", n);
    queue_drop_front(q, n);
    tasks_taken(req->server, req->obj, req->session, n);
    return 0;
}

static int get_common(mpx__req *req, uint64_t max, uint32_t wait_arg)
{
    queue *q = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__wait_args(req, wait_arg, &wait_ms);
    if (rc) return rc;
    if (q->count > 0) return take_now(req, max); /* no getter is parked while items wait */
    if (wait_ms == 0) return mpx__req_fail(req, MPX_EEMPTY, "Empty: the queue is empty");
    mpx__park(req, &q->getters, wait_ms, NULL)->arg = max;
    return MPX_PARKED;
}

static int m_get(mpx__req *req)
{
    return get_common(req, 0, 0);
}

static int m_get_nowait(mpx__req *req)
{
    queue *q = req->obj->state;
    if (q->count == 0) return mpx__req_fail(req, MPX_EEMPTY, "Empty: the queue is empty");
    return take_now(req, 0);
}

static int m_get_many(mpx__req *req)
{
    uint64_t max;
    int rc = mpx__arg_uint(req, 0, "get_many()'s count", &max);
    if (rc == 0 && max == 0) rc = mpx__req_fail(req, MPX_EVALUE, "get_many() takes a count >= 1");
    return rc ? rc : get_common(req, max, 1);
}

/* get_lease([block [, timeout [, lease_ms]]]) -> [lease, item]: the head item, the queue's
 * until ack(lease); lease_ms nil or absent: until the session ends. */
static int m_get_lease(mpx__req *req)
{
    queue *q = req->obj->state;
    int64_t wait_ms, lease_ms;
    int rc = mpx__wait_args(req, 0, &wait_ms);
    if (rc == 0) rc = mpx__timeout_arg(req, 2, &lease_ms);
    if (rc) return rc;
    if (lease_ms == 0) return mpx__req_fail(req, MPX_EVALUE, "ValueError: lease_ms must be > 0");
    if (q->count > 0) { /* no getter is parked while items wait */
        pack_lease(req->out, lease_head_item(req->server, req->obj, req->session, lease_ms));
        return 0;
    }
    if (wait_ms == 0) return mpx__req_fail(req, MPX_EEMPTY, "Empty: the queue is empty");
    mpx__parked *p = mpx__park(req, &q->getters, wait_ms, NULL);
    p->flag = true; /* a leased get */
    p->arg2 = (uint64_t)lease_ms;
    return MPX_PARKED;
}

/* ack(lease): the leased item is done with; on a joinable queue, its task is done. */
static int m_ack(mpx__req *req)
{
    queue *q = req->obj->state;
    lease *l;
    int rc = lease_arg(req, 0, &l);
    if (rc) return rc;
    queue_item item = lease_end(req->server, req->obj, l, true);
    if (item.refs) mpx__refs_drop(item.p, item.len);
    mpx__xfree(item.p);
    if (q->joinable && q->unfinished) q->unfinished--;
    return mpx__reply_nil(req);
}

/* nack(lease): the leased item goes back to the head now, for the next taker. */
static int m_nack(mpx__req *req)
{
    lease *l;
    int rc = lease_arg(req, 0, &l);
    if (rc) return rc;
    lease_return(req->server, req->obj, l, true);
    req->server->stats.redelivered++;
    return mpx__reply_nil(req);
}

/* _lease(id), replayed: the head item is leased as id, to the replaying session. */
static int m_restore_lease(mpx__req *req)
{
    queue *q = req->obj->state;
    uint64_t id;
    int bad = mpx__arg_uint(req, 0, "the lease", &id);
    if (bad) return bad;
    if (q->count == 0 || lease_find(q, id))
        return mpx__req_fail(req, MPX_EVALUE, "no item to lease as %llu", (unsigned long long)id);
    q->next_lease = id;
    lease_head_item(req->server, req->obj, req->session, MPX_NO_DEADLINE);
    return mpx__reply_nil(req);
}

/* _unlease(id), replayed: the leased item goes back to the head. */
static int m_restore_unlease(mpx__req *req)
{
    lease *l;
    int rc = lease_arg(req, 0, &l);
    if (rc) return rc;
    lease_return(req->server, req->obj, l, true);
    return mpx__reply_nil(req);
}

/* _leased(id, item), replayed from a snapshot: a lease outstanding when it was written. */
static int m_restore_leased(mpx__req *req)
{
    uint64_t id;
    int bad = mpx__arg_uint(req, 0, "the lease", &id);
    if (bad) return bad;
    if (lease_find(req->obj->state, id))
        return mpx__req_fail(req, MPX_EVALUE, "lease %llu twice", (unsigned long long)id);
    bool refs = mpx__refs_present(req->argv[1].p, req->argv[1].len);
    queue_item item = {item_copy(req->obj, &req->argv[1], refs), (uint32_t)req->argv[1].len, refs};
    lease_add(req->server, req->obj, req->session, id, item, MPX_NO_DEADLINE);
    return mpx__reply_nil(req);
}

static int m_put_many(mpx__req *req)
{
    queue *q = req->obj->state;
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_array(&c, &n)) return mpx__req_fail(req, MPX_ETYPE, "put_many() takes an array");
    size_t refs = 0;
    int rc = mpx__refs_check(req, &req->argv[0], &refs);
    if (rc) return rc;
    if (q->maxsize && (q->putters.n || q->count + n > q->maxsize))
        return mpx__req_fail(req, MPX_EFULL, "Full: %u items do not fit", n);
    for (uint32_t i = 0; i < n; i++) {
        mpx__span item = {c.p, 0};
        mpx__mp_skip(&c); /* the dispatcher validated the whole argument */
        item.len = (size_t)(c.p - item.p);
        queue_push_copy(req->obj, &item, refs && mpx__refs_present(item.p, item.len));
    }
    return mpx__reply_nil(req);
}

static int m_qsize(mpx__req *req)
{
    return mpx__reply_uint(req, ((queue *)req->obj->state)->count);
}

static int m_empty(mpx__req *req)
{
    return mpx__reply_bool(req, ((queue *)req->obj->state)->count == 0);
}

static int m_full(mpx__req *req)
{
    return mpx__reply_bool(req, queue_full(req->obj->state));
}

static int m_task_done(mpx__req *req)
{
    queue *q = req->obj->state;
    if (q->unfinished == 0)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: task_done() called too many times");
    q->unfinished--;
    /* logged by whether the caller took the task: a replay must count tasks as this did */
    bool own = q->joinable && taker_find(q, req->session);
    if (mpx__persist_call(req->server, req->obj, own ? "task_done" : "_done", 0))
        mpx__persist_end(req->server);
    tasks_ended(req->server, req->obj, req->session, 1);
    return mpx__reply_nil(req);
}

/* _done(), replayed: a task marked done by a session that had not taken it. */
static int m_restore_done(mpx__req *req)
{
    queue *q = req->obj->state;
    if (q->unfinished == 0) return mpx__req_fail(req, MPX_EVALUE, "no task unfinished");
    q->unfinished--;
    return mpx__reply_nil(req);
}

/* abandoned() -> uint: tasks whose taker's session ended before their task_done. */
static int m_abandoned(mpx__req *req)
{
    return mpx__reply_uint(req, ((queue *)req->obj->state)->abandoned);
}

/* _abandon(n), replayed: n tasks abandoned. */
static int m_restore_abandon(mpx__req *req)
{
    uint64_t n;
    int bad = mpx__arg_uint(req, 0, "n", &n);
    if (bad) return bad;
    tasks_ended(req->server, req->obj, req->session, n);
    tasks_abandon(req->server, req->obj, n);
    return mpx__reply_nil(req);
}

/* _abandoned(n), replayed from a snapshot: the count of abandoned tasks. */
static int m_restore_abandoned(mpx__req *req)
{
    queue *q = req->obj->state;
    int bad = mpx__arg_uint(req, 0, "n", &q->abandoned);
    return bad ? bad : mpx__reply_nil(req);
}

/* _taken(n), replayed from a snapshot: tasks taken by sessions of the last run. */
static int m_restore_taken(mpx__req *req)
{
    uint64_t n;
    int bad = mpx__arg_uint(req, 0, "n", &n);
    if (bad) return bad;
    tasks_taken(req->server, req->obj, req->session, n);
    return mpx__reply_nil(req);
}

static int m_join(mpx__req *req)
{
    queue *q = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__timeout_arg(req, 0, &wait_ms);
    if (rc) return rc;
    if (q->unfinished == 0) return mpx__reply_bool(req, true);
    if (wait_ms == 0) return mpx__reply_bool(req, false);
    mpx__park(req, &q->joiners, wait_ms, NULL);
    return MPX_PARKED;
}

/* Serves parked getters while there are items. Returns whether any item moved. */
static bool serve_getters(mpx__server *s, mpx__obj *obj)
{
    queue *q = obj->state;
    bool moved = false;
    while (q->count > 0 && q->getters.head) {
        mpx__parked *p = q->getters.head;
        if (mpx__parked_gone(p)) {
            mpx__parked_drop(s, p);
            continue;
        }
        if (p->flag) { /* a leased get: the item stays the queue's */
            lease *l = lease_head_item(s, obj, p->session, (int64_t)p->arg2);
            pack_lease(mpx__parked_reply(s, p), l);
            if (mpx__parked_finish(s, p))
                moved = true;
            else /* never leased to a peer that is gone */
                lease_return(s, obj, l, true);
            continue;
        }
        size_t n = take_count(q, p->arg);
        pack_front(q, mpx__parked_reply(s, p), p->arg);
        mpx__persist_uint(s, obj, "_take", n); /* before the reply, which may wait for the log */
        mpx__session *sess = p->session;
        if (mpx__parked_finish(s, p)) {
            queue_drop_front(q, n);
            tasks_taken(s, obj, sess, n);
            moved = true;
        } else { /* the items stay for the next getter */
            log_front(s, obj, NULL, n);
        }
    }
    return moved;
}

/* Serves parked calls until nothing more can move: getters while items are there, putters
 * while there is room (their items may feed getters in turn), joiners once all is done. */
static void queue_wake(mpx__server *s, mpx__obj *obj)
{
    queue *q = obj->state;
    bool moved = true;
    while (moved) {
        moved = serve_getters(s, obj);
        while (!queue_full(q) && q->putters.head) {
            mpx__parked *p = q->putters.head;
            log_push(s, obj, p->data, p->len);
            queue_push(q, p->data, p->len, p->data_refs); /* the item moves to the queue */
            p->data = NULL;
            msgpack_pack_nil(mpx__parked_reply(s, p));
            mpx__parked_finish(s, p); /* a putter that left has still put its item */
            moved = true;
        }
    }
    while (q->joinable && q->unfinished == 0 && q->joiners.head) {
        mpx__parked *p = q->joiners.head;
        mpx__pack_bool(mpx__parked_reply(s, p), true);
        mpx__parked_finish(s, p);
    }
}

static void queue_timeout(mpx__server *s, mpx__parked *p)
{
    queue *q = p->obj->state;
    if (p->q == &q->getters) {
        mpx__parked_fail(s, p, MPX_EEMPTY, "Empty: nothing arrived within the timeout");
    } else if (p->q == &q->putters) {
        mpx__parked_fail(s, p, MPX_EFULL, "Full: no room within the timeout");
    } else {
        mpx__pack_bool(mpx__parked_reply(s, p), false);
        mpx__parked_finish(s, p);
    }
}

/* A get's answer did not reach its peer: its item (or a get_many's items) go back. */
static void queue_undo(mpx__server *s, mpx__session *sess, mpx__obj *obj, const mpx__method *m,
                       const uint8_t *result, size_t len)
{
    if (strcmp(m->name, "get_lease") == 0) { /* [lease, item]: the lease goes, not the item */
        mpx__mp_cursor c;
        uint32_t n;
        uint64_t id;
        mpx__mp_init(&c, result, len);
        lease *l =
            mpx__mp_array(&c, &n) || mpx__mp_uint(&c, &id) ? NULL : lease_find(obj->state, id);
        if (l) lease_return(s, obj, l, true);
    } else if (strcmp(m->name, "get_many") == 0) {
        mpx__mp_cursor c;
        uint32_t n = 0;
        mpx__mp_init(&c, result, len);
        mpx__mp_array(&c, &n); /* packed by mpxd */
        queue_push_front_all(obj, result, len);
        log_front(s, obj, &(mpx__span){result, len}, 0);
        tasks_ended(s, obj, sess, n);
    } else {
        queue_push_front(obj, &(mpx__span){result, len});
        log_front(s, obj, NULL, 1);
        tasks_ended(s, obj, sess, 1);
    }
}

/* _push(item), replayed: a new task's item at the tail, whatever the maxsize. */
static int m_restore_push(mpx__req *req)
{
    queue_push_copy(req->obj, &req->argv[0], mpx__refs_present(req->argv[0].p, req->argv[0].len));
    return mpx__reply_nil(req);
}

/* _take(n), replayed: n items gone from the head. */
static int m_restore_take(mpx__req *req)
{
    queue *q = req->obj->state;
    uint64_t n;
    int bad = mpx__arg_uint(req, 0, "n", &n);
    if (bad) return bad;
    if (n > q->count) return mpx__req_fail(req, MPX_EVALUE, "the queue holds fewer items");
    queue_drop_front(q, n);
    tasks_taken(req->server, req->obj, req->session, n);
    return mpx__reply_nil(req);
}

/* _unfinished(n), replayed: the tasks not yet done. */
static int m_restore_unfinished(mpx__req *req)
{
    queue *q = req->obj->state;
    int bad = mpx__arg_uint(req, 0, "n", &q->unfinished);
    return bad ? bad : mpx__reply_nil(req);
}

static void queue_dump_args(const mpx__obj *obj, msgpack_packer *pk)
{
    const queue *q = obj->state;
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, q ? q->maxsize : 0);
}

static void queue_dump(const mpx__obj *obj, mpx__records *w)
{
    const queue *q = obj->state;
    for (const lease *l = q->lease_head; l; l = l->next) {
        msgpack_packer *pk = mpx__record_call(w, obj->id, "_leased", 2);
        msgpack_pack_uint64(pk, l->id);
        mpx__buf_write(pk->data, (const char *)l->item.p, l->item.len);
        mpx__record_end(w);
    }
    for (size_t i = 0; i < q->count; i++) {
        msgpack_packer *pk = mpx__record_call(w, obj->id, "_push", 1);
        mpx__buf_write(pk->data, (const char *)queue_at(q, i)->p, queue_at(q, i)->len);
        mpx__record_end(w);
    }
    if (q->joinable) {
        uint64_t taken = 0;
        for (const taker *t = q->takers; t; t = t->hh.next)
            taken += t->tasks;
        msgpack_pack_uint64(mpx__record_call(w, obj->id, "_unfinished", 1), q->unfinished);
        mpx__record_end(w);
        msgpack_pack_uint64(mpx__record_call(w, obj->id, "_taken", 1), taken);
        mpx__record_end(w);
        msgpack_pack_uint64(mpx__record_call(w, obj->id, "_abandoned", 1), q->abandoned);
        mpx__record_end(w);
    }
}

static int queue_create_common(mpx__req *req, void **state, bool joinable)
{
    uint64_t maxsize = 0;
    if (req->argc > 1) return mpx__req_fail(req, MPX_EARGS, "a queue takes at most a maxsize");
    int bad = req->argc == 1 ? mpx__arg_uint(req, 0, "maxsize", &maxsize) : 0;
    if (bad) return bad;
    queue *q = mpx__xcalloc(1, sizeof *q);
    q->maxsize = maxsize;
    q->joinable = joinable;
    q->next_lease = 1;
    q->armed_ms = MPX_NO_DEADLINE;
    *state = q;
    return 0;
}

static int queue_create(mpx__req *req, void **state)
{
    return queue_create_common(req, state, false);
}

static int joinable_create(mpx__req *req, void **state)
{
    return queue_create_common(req, state, true);
}

#define QUEUE_METHODS                                                                              \
    {.name = "put", .fn = m_put, .min_args = 1, .max_args = 3, .grows = true},                     \
        {.name = "get", .fn = m_get, .min_args = 0, .max_args = 2, .undo = true},                  \
        {.name = "put_nowait",                                                                     \
         .fn = m_put_nowait,                                                                       \
         .min_args = 1,                                                                            \
         .max_args = 1,                                                                            \
         .grows = true,                                                                            \
         .logged = true},                                                                          \
        {.name = "get_nowait", .fn = m_get_nowait, .min_args = 0, .max_args = 0, .undo = true},    \
        {.name = "put_many",                                                                       \
         .fn = m_put_many,                                                                         \
         .min_args = 1,                                                                            \
         .max_args = 1,                                                                            \
         .grows = true,                                                                            \
         .logged = true},                                                                          \
        {.name = "get_many", .fn = m_get_many, .min_args = 1, .max_args = 3, .undo = true},        \
        {.name = "get_lease", .fn = m_get_lease, .min_args = 0, .max_args = 3, .undo = true},      \
        {.name = "ack", .fn = m_ack, .min_args = 1, .max_args = 1, .logged = true},                \
        {.name = "nack", .fn = m_nack, .min_args = 1, .max_args = 1},                              \
        {.name = "_lease",                                                                         \
         .fn = m_restore_lease,                                                                    \
         .min_args = 1,                                                                            \
         .max_args = 1,                                                                            \
         .replay_only = true},                                                                     \
        {.name = "_unlease",                                                                       \
         .fn = m_restore_unlease,                                                                  \
         .min_args = 1,                                                                            \
         .max_args = 1,                                                                            \
         .replay_only = true},                                                                     \
        {.name = "_leased",                                                                        \
         .fn = m_restore_leased,                                                                   \
         .min_args = 2,                                                                            \
         .max_args = 2,                                                                            \
         .replay_only = true},                                                                     \
        {.name = "put_front", .fn = m_put_front, .min_args = 1, .max_args = 1, .logged = true},    \
        {.name = "_push",                                                                          \
         .fn = m_restore_push,                                                                     \
         .min_args = 1,                                                                            \
         .max_args = 1,                                                                            \
         .replay_only = true},                                                                     \
        {.name = "_take",                                                                          \
         .fn = m_restore_take,                                                                     \
         .min_args = 1,                                                                            \
         .max_args = 1,                                                                            \
         .replay_only = true},                                                                     \
        {.name = "qsize", .fn = m_qsize, .min_args = 0, .max_args = 0},                            \
        {.name = "empty", .fn = m_empty, .min_args = 0, .max_args = 0},                            \
    {                                                                                              \
        .name = "full", .fn = m_full, .min_args = 0, .max_args = 0                                 \
    }

/* Deleted: every call parked on it is answered with the error. */
static void queue_fail_parked(mpx__server *s, mpx__obj *obj, int code, const char *msg)
{
    queue *st = obj->state;
    mpx__waitq_fail_all(s, &st->getters, code, msg);
    mpx__waitq_fail_all(s, &st->putters, code, msg);
    mpx__waitq_fail_all(s, &st->joiners, code, msg);
}

static uint64_t queue_size(const void *state)
{
    const queue *st = state;
    return st->count;
}

static const mpx__method queue_methods[] = {QUEUE_METHODS};

static const mpx__method joinable_methods[] = {
    QUEUE_METHODS,
    {.name = "task_done", .fn = m_task_done, .min_args = 0, .max_args = 0},
    {.name = "_done", .fn = m_restore_done, .min_args = 0, .max_args = 0, .replay_only = true},
    {.name = "_unfinished",
     .fn = m_restore_unfinished,
     .min_args = 1,
     .max_args = 1,
     .replay_only = true},
    {.name = "join", .fn = m_join, .min_args = 0, .max_args = 1},
    {.name = "abandoned", .fn = m_abandoned, .min_args = 0, .max_args = 0},
    {.name = "_abandon",
     .fn = m_restore_abandon,
     .min_args = 1,
     .max_args = 1,
     .replay_only = true},
    {.name = "_taken", .fn = m_restore_taken, .min_args = 1, .max_args = 1, .replay_only = true},
    {.name = "_abandoned",
     .fn = m_restore_abandoned,
     .min_args = 1,
     .max_args = 1,
     .replay_only = true},
};

/* Queue and JoinableQueue share everything but their name, methods and joinability. */
#define QUEUE_TYPE(NAME, CREATE, METHODS)                                                          \
    {                                                                                              \
        .name = NAME, .create = CREATE, .destroy = queue_free, .wake = queue_wake,                 \
        .timeout = queue_timeout, .undo = queue_undo, .methods = METHODS,                          \
        .fail_parked = queue_fail_parked, .size = queue_size, .dump_args = queue_dump_args,        \
        .dump = queue_dump, .session_lost = queue_session_lost, .expire = queue_expire,            \
        .n_methods = sizeof METHODS / sizeof METHODS[0],                                           \
    }

const mpx__type mpx__type_queue = QUEUE_TYPE("queue", queue_create, queue_methods);
const mpx__type mpx__type_joinable_queue =
    QUEUE_TYPE("joinable_queue", joinable_create, joinable_methods);
