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
 * With --data-dir, what the queue does is logged as it happens (persist.h), since a parked
 * get or put completes long after its call: "_push" (a new task's item), "_take" (items gone
 * from the head), "put_front" (items back at the head); put_nowait, put_many, put_front and
 * task_done are logged as called.
 */
#include <string.h>

#include "alloc.h"
#include "blocked.h"
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

typedef struct {
    queue_item *ring;
    size_t cap;
    size_t head;
    size_t count;
    uint64_t maxsize; /* 0: unbounded */
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

/* Logs n items gone from the head. */
static void log_take(mpx__server *s, const mpx__obj *obj, size_t n)
{
    msgpack_packer *pk = mpx__persist_call(s, obj, "_take", 1);
    if (!pk) return;
    msgpack_pack_uint64(pk, n);
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

static bool queue_free_step(void *state, size_t budget)
{
    queue *q = state;
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
    return mpx__reply_nil(req);
}

/* Answers a get (max 0) or get_many at once: the items leave the queue now, and come back
 * through the undo hook if the answer does not reach the peer. */
static int take_now(mpx__req *req, uint64_t max)
{
    queue *q = req->obj->state;
    pack_front(q, req->out, max);
    log_take(req->server, req->obj, take_count(q, max));
    queue_drop_front(q, take_count(q, max));
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
        size_t n = take_count(q, p->arg);
        pack_front(q, mpx__parked_reply(s, p), p->arg);
        log_take(s, obj, n); /* before the reply, which may wait for the log */
        if (mpx__parked_finish(s, p)) {
            queue_drop_front(q, n);
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
static void queue_undo(mpx__server *s, mpx__obj *obj, const mpx__method *m, const uint8_t *result,
                       size_t len)
{
    if (strcmp(m->name, "get_many") == 0) {
        queue_push_front_all(obj, result, len);
        log_front(s, obj, &(mpx__span){result, len}, 0);
    } else {
        queue_push_front(obj, &(mpx__span){result, len});
        log_front(s, obj, NULL, 1);
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
    for (size_t i = 0; i < q->count; i++) {
        msgpack_packer *pk = mpx__record_call(w, obj->id, "_push", 1);
        mpx__buf_write(pk->data, (const char *)queue_at(q, i)->p, queue_at(q, i)->len);
        mpx__record_end(w);
    }
    if (q->joinable) {
        msgpack_pack_uint64(mpx__record_call(w, obj->id, "_unfinished", 1), q->unfinished);
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
    {.name = "task_done", .fn = m_task_done, .min_args = 0, .max_args = 0, .logged = true},
    {.name = "_unfinished",
     .fn = m_restore_unfinished,
     .min_args = 1,
     .max_args = 1,
     .replay_only = true},
    {.name = "join", .fn = m_join, .min_args = 0, .max_args = 1},
};

/* Queue and JoinableQueue share everything but their name, methods and joinability. */
#define QUEUE_TYPE(NAME, CREATE, METHODS)                                                          \
    {                                                                                              \
        .name = NAME, .create = CREATE, .destroy = queue_free, .wake = queue_wake,                 \
        .timeout = queue_timeout, .undo = queue_undo, .methods = METHODS,                          \
        .fail_parked = queue_fail_parked, .size = queue_size, .dump_args = queue_dump_args,        \
        .dump = queue_dump, .n_methods = sizeof METHODS / sizeof METHODS[0],                       \
    }

const mpx__type mpx__type_queue = QUEUE_TYPE("queue", queue_create, queue_methods);
const mpx__type mpx__type_joinable_queue =
    QUEUE_TYPE("joinable_queue", joinable_create, joinable_methods);
