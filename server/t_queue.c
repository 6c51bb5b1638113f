/*
 * t_queue.c — Queue and JoinableQueue (Python's queue.Queue semantics): a FIFO of msgpack
 * items with an optional maxsize, blocking put and get parked in arrival order, and for the
 * joinable kind task_done and join.
 *
 * Handlers only change the queue and answer their own call; queue_wake(), the type's wake
 * hook, runs after that answer has gone out and serves the parked calls the change allows
 * (oldest first): getters while there are items, putters while there is room, joiners when
 * no task is left unfinished.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "blocked.h"
#include "object.h"

/* ================================ queue API =============================================== */

typedef struct {
    uint8_t *p; /* one msgpack object, as it arrived */
    uint32_t len;
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

/* Appends an item, taking ownership of its bytes. */
static void queue_push(queue *q, uint8_t *p, size_t len)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        queue_item *ring = mpx__xmalloc(cap * sizeof *ring);
        for (size_t i = 0; i < q->count; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->count++) % q->cap] = (queue_item){p, (uint32_t)len};
    q->unfinished++;
}

static void queue_push_copy(queue *q, const mpx__span *item)
{
    uint8_t *p = mpx__xmalloc(item->len);
    memcpy(p, item->p, item->len);
    queue_push(q, p, item->len);
}

/* Removes the oldest item; the caller owns its bytes. */
static queue_item queue_pop(queue *q)
{
    queue_item it = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return it;
}

static void queue_free(void *state)
{
    queue *q = state;
    while (q->count)
        free(queue_pop(q).p);
    free(q->ring);
    free(q);
}

/* ================================ queue methods =========================================== */

static int reply_nil(mpx__req *req)
{
    return msgpack_pack_nil(req->out) ? MPX_ENOMEM : 0;
}

static int m_put(mpx__req *req)
{
    queue *q = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__wait_args(req, 1, &wait_ms);
    if (rc) return rc;
    if (!queue_full(q) && q->putters.n == 0) {
        queue_push_copy(q, &req->argv[0]);
        return reply_nil(req);
    }
    if (wait_ms == 0) return mpx__req_fail(req, MPX_EFULL, "Full: the queue is full");
    mpx__park(req, &q->putters, wait_ms, &req->argv[0]);
    return MPX_PARKED;
}

static int m_put_nowait(mpx__req *req)
{
    queue *q = req->obj->state;
    if (queue_full(q) || q->putters.n)
        return mpx__req_fail(req, MPX_EFULL, "Full: the queue is full");
    queue_push_copy(q, &req->argv[0]);
    return reply_nil(req);
}

/* Packs up to max items (at least one is there) as the answer to a get or get_many. */
static void pack_items(queue *q, msgpack_packer *pk, uint64_t max, bool as_array)
{
    size_t n = as_array ? (q->count < max ? q->count : max) : 1;
    if (as_array) msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        queue_item it = queue_pop(q);
        mpx__mp_write_raw(pk, it.p, it.len);
        free(it.p);
    }
}

static int get_common(mpx__req *req, uint64_t max, bool as_array, uint32_t wait_arg)
{
    queue *q = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__wait_args(req, wait_arg, &wait_ms);
    if (rc) return rc;
    if (q->count > 0) { /* no getter can be parked while items wait */
        pack_items(q, req->out, max, as_array);
        return 0;
    }
    if (wait_ms == 0) return mpx__req_fail(req, MPX_EEMPTY, "Empty: the queue is empty");
    mpx__parked *p = mpx__park(req, &q->getters, wait_ms, NULL);
    p->arg = as_array ? max : 0; /* 0: a plain get */
    return MPX_PARKED;
}

static int m_get(mpx__req *req)
{
    return get_common(req, 1, false, 0);
}

static int m_get_nowait(mpx__req *req)
{
    queue *q = req->obj->state;
    if (q->count == 0) return mpx__req_fail(req, MPX_EEMPTY, "Empty: the queue is empty");
    pack_items(q, req->out, 1, false);
    return 0;
}

static int m_get_many(mpx__req *req)
{
    mpx__mp_cursor c;
    uint64_t max;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_uint(&c, &max) || max == 0)
        return mpx__req_fail(req, MPX_EVALUE, "get_many() takes a positive count");
    return get_common(req, max, true, 1);
}

static int m_put_many(mpx__req *req)
{
    queue *q = req->obj->state;
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
    if (mpx__mp_array(&c, &n)) return mpx__req_fail(req, MPX_ETYPE, "put_many() takes an array");
    if (q->maxsize && (q->putters.n || q->count + n > q->maxsize))
        return mpx__req_fail(req, MPX_EFULL, "Full: %u items do not fit", n);
    for (uint32_t i = 0; i < n; i++) {
        mpx__span item = {c.p, 0};
        mpx__mp_skip(&c); /* the dispatcher validated the whole argument */
        item.len = (size_t)(c.p - item.p);
        queue_push_copy(q, &item);
    }
    return reply_nil(req);
}

static int pack_count(mpx__req *req, uint64_t n)
{
    return msgpack_pack_uint64(req->out, n) ? MPX_ENOMEM : 0;
}

static int pack_bool(mpx__req *req, bool b)
{
    return (b ? msgpack_pack_true(req->out) : msgpack_pack_false(req->out)) ? MPX_ENOMEM : 0;
}

static int m_qsize(mpx__req *req)
{
    return pack_count(req, ((queue *)req->obj->state)->count);
}

static int m_empty(mpx__req *req)
{
    return pack_bool(req, ((queue *)req->obj->state)->count == 0);
}

static int m_full(mpx__req *req)
{
    return pack_bool(req, queue_full(req->obj->state));
}

static int m_task_done(mpx__req *req)
{
    queue *q = req->obj->state;
    if (q->unfinished == 0)
        return mpx__req_fail(req, MPX_EVALUE, "ValueError: task_done() called too many times");
    q->unfinished--;
    return reply_nil(req);
}

static int m_join(mpx__req *req)
{
    queue *q = req->obj->state;
    int64_t wait_ms;
    int rc = mpx__timeout_arg(req, 0, &wait_ms);
    if (rc) return rc;
    if (q->unfinished == 0) return pack_bool(req, true);
    if (wait_ms == 0) return pack_bool(req, false);
    mpx__park(req, &q->joiners, wait_ms, NULL);
    return MPX_PARKED;
}

/* Serves parked calls until nothing more can move: getters while items are there, putters
 * while there is room (their items may feed getters in turn), joiners once all is done. */
static void queue_wake(mpx__server *s, mpx__obj *obj)
{
    queue *q = obj->state;
    bool moved = true;
    while (moved) {
        moved = false;
        while (q->count > 0 && q->getters.head) {
            mpx__parked *p = q->getters.head;
            pack_items(q, mpx__parked_reply(s, p), p->arg ? p->arg : 1, p->arg != 0);
            mpx__parked_finish(s, p);
            moved = true;
        }
        while (!queue_full(q) && q->putters.head) {
            mpx__parked *p = q->putters.head;
            queue_push(q, p->data, p->len); /* the item's bytes move to the queue */
            p->data = NULL;
            msgpack_pack_nil(mpx__parked_reply(s, p));
            mpx__parked_finish(s, p);
            moved = true;
        }
    }
    while (q->joinable && q->unfinished == 0 && q->joiners.head) {
        mpx__parked *p = q->joiners.head;
        msgpack_pack_true(mpx__parked_reply(s, p));
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
        msgpack_pack_false(mpx__parked_reply(s, p));
        mpx__parked_finish(s, p);
    }
}

static int queue_create_common(mpx__req *req, void **state, bool joinable)
{
    uint64_t maxsize = 0;
    if (req->argc > 1) return mpx__req_fail(req, MPX_EARGS, "a queue takes at most a maxsize");
    if (req->argc == 1) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[0].p, req->argv[0].len);
        if (mpx__mp_uint(&c, &maxsize))
            return mpx__req_fail(req, MPX_EVALUE, "maxsize must be a non-negative integer");
    }
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
    {.name = "put", .fn = m_put, .min_args = 1, .max_args = 3},                                    \
        {.name = "get", .fn = m_get, .min_args = 0, .max_args = 2},                                \
        {.name = "put_nowait", .fn = m_put_nowait, .min_args = 1, .max_args = 1},                  \
        {.name = "get_nowait", .fn = m_get_nowait, .min_args = 0, .max_args = 0},                  \
        {.name = "put_many", .fn = m_put_many, .min_args = 1, .max_args = 1},                      \
        {.name = "get_many", .fn = m_get_many, .min_args = 1, .max_args = 3},                      \
        {.name = "qsize", .fn = m_qsize, .min_args = 0, .max_args = 0},                            \
        {.name = "empty", .fn = m_empty, .min_args = 0, .max_args = 0},                            \
    {                                                                                              \
        .name = "full", .fn = m_full, .min_args = 0, .max_args = 0                                 \
    }

static const mpx__method queue_methods[] = {QUEUE_METHODS};

static const mpx__method joinable_methods[] = {
    QUEUE_METHODS,
    {.name = "task_done", .fn = m_task_done, .min_args = 0, .max_args = 0},
    {.name = "join", .fn = m_join, .min_args = 0, .max_args = 1},
};

/* Queue and JoinableQueue share everything but their name, methods and joinability. */
#define QUEUE_TYPE(NAME, CREATE, METHODS)                                                          \
    {                                                                                              \
        .name = NAME, .create = CREATE, .destroy = queue_free, .wake = queue_wake,                 \
        .timeout = queue_timeout, .methods = METHODS,                                              \
        .n_methods = sizeof METHODS / sizeof METHODS[0],                                           \
    }

const mpx__type mpx__type_queue = QUEUE_TYPE("queue", queue_create, queue_methods);
const mpx__type mpx__type_joinable_queue =
    QUEUE_TYPE("joinable_queue", joinable_create, joinable_methods);
