/*
 * blocked.c — parked calls: the life of a call that must wait (Queue.get on an empty queue,
 * Queue.put on a full one, JoinableQueue.join, ...).
 *
 *   park     A handler that cannot answer yet calls mpx__park(), which records the call in
 *            its object's wait queue (FIFO), in its session's list and in the deadline heap,
 *            holds a reference on the object, and returns MPX_PARKED: no reply is sent.
 *   wake     When the object changes, its type takes the oldest waiter from the wait queue,
 *            answers it with mpx__parked_reply() + mpx__parked_finish() (or
 *            mpx__parked_fail()), which frees it. This happens in the type's wake hook, which
 *            the dispatcher runs once the changing call's own reply is sent — never inside a
 *            handler, whose reply is still being built in the shared buffer (mpxd panics if a
 *            type gets this wrong).
 *   gone     mpx__parked_finish() says whether the reply reached the peer. If it did not (the
 *            peer's connection closed: a killed process), the type takes back what the result
 *            handed over (the item goes back to the head of the queue, the unit to the
 *            semaphore) and serves the next waiter: nothing is ever handed to a peer that is
 *            gone. Waiters of a session already known gone are dropped unserved
 *            (mpx__parked_gone), and the loop ends that session soon after.
 *   timeout  The loop waits no longer than the nearest deadline, then mpx__blocked_expire()
 *            hands each expired call to its type's `timeout` hook, which answers it.
 *   cancel   A client that stops waiting sends manager.cancel(req_id): the call is forgotten
 *            unanswered (mpx__blocked_cancel), through the type's cancel hook if it has one.
 *   ended    When a session ends, mpx__blocked_drop_session() forgets its calls unanswered
 *            (nobody is left to read the answer) before its references are dropped.
 *   shutdown mpx__blocked_shutdown() answers every parked call with MPX_ESHUTDOWN.
 *
 * Beside the parked calls, an object may ask for a deadline of its own (mpx__timer_at: a
 * queue's lease that runs out): the loop's wait ends for it too, and the type's expire hook
 * runs.
 *
 * So every parked call gets exactly one answer — a value, a timeout or a shutdown error —
 * unless its peer is gone or gave it up. A new blocking method needs: a wait queue in its
 * object's state, a call to mpx__park() when it must wait, the wake-up where the state
 * changes (taking back the result of a finish that returns false), and a `timeout` hook in
 * its type if it can time out. Nothing here ever sleeps.
 */
#include <string.h>

#include "alloc.h"
#include "blocked.h"
#include "refs.h"
#include "reply.h"

/* ---- the deadline heap (a binary min-heap of parked calls with a deadline) ------------- */

static void heap_swap(mpx__server *s, size_t a, size_t b)
{
    mpx__parked *t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->heap[a]->heap_index = a;
    s->heap[b]->heap_index = b;
}

static void heap_up(mpx__server *s, size_t i)
{
    while (i > 0 && s->heap[(i - 1) / 2]->deadline_ms > s->heap[i]->deadline_ms) {
        heap_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(mpx__server *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_len && s->heap[l]->deadline_ms < s->heap[m]->deadline_ms) m = l;
        if (r < s->heap_len && s->heap[r]->deadline_ms < s->heap[m]->deadline_ms) m = r;
        if (m == i) return;
        heap_swap(s, i, m);
        i = m;
    }
}

static void heap_add(mpx__server *s, mpx__parked *p)
{
    if (s->heap_len == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
        s->heap = mpx__xrealloc(s->heap, s->heap_cap * sizeof *s->heap);
    }
    p->heap_index = s->heap_len;
    s->heap[s->heap_len++] = p;
    heap_up(s, p->heap_index);
}

static void heap_remove(mpx__server *s, mpx__parked *p)
{
    size_t i = p->heap_index, last = --s->heap_len;
    if (i != last) {
        heap_swap(s, i, last);
        heap_down(s, i);
        heap_up(s, i);
    }
}

/* ---- parking ----------------------------------------------------------------------------- */

static void waitq_append(mpx__waitq *q, mpx__parked *p)
{
    p->q = q;
    p->next = NULL;
    p->prev = q->tail;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->n++;
}

static void waitq_unlink(mpx__parked *p)
{
    mpx__waitq *q = p->q;
    if (p->prev)
        p->prev->next = p->next;
    else
        q->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        q->tail = p->prev;
    q->n--;
}

static int64_t deadline_of(int64_t timeout_ms)
{
    return timeout_ms == MPX_NO_DEADLINE ? MPX_NO_DEADLINE : mpx__now_ms() + timeout_ms;
}

mpx__parked *mpx__park(mpx__req *req, mpx__waitq *q, int64_t timeout_ms, const mpx__span *data)
{
    mpx__server *s = req->server;
    mpx__parked *p = mpx__xcalloc(1, sizeof *p);
    p->req_id = req->req_id;
    p->session = req->session;
    p->obj = req->obj;
    p->deadline_ms = deadline_of(timeout_ms);
    if (data) {
        p->data = mpx__xmalloc(data->len);
        memcpy(p->data, data->p, data->len);
        p->len = data->len;
        p->data_refs = mpx__refs_present(p->data, p->len);
        if (p->data_refs) mpx__refs_hold(req->obj, p->data, p->len);
    }
    waitq_append(q, p);
    p->s_next = req->session->parked;
    if (p->s_next) p->s_next->s_prev = p;
    req->session->parked = p;
    if (p->deadline_ms != MPX_NO_DEADLINE) heap_add(s, p);
    mpx__registry_hold(p->obj);
    s->n_parked++;
    return p;
}

void mpx__parked_move(mpx__server *s, mpx__parked *p, mpx__waitq *q, int64_t timeout_ms)
{
    waitq_unlink(p);
    waitq_append(q, p);
    if (p->deadline_ms != MPX_NO_DEADLINE) heap_remove(s, p);
    p->deadline_ms = deadline_of(timeout_ms);
    if (p->deadline_ms != MPX_NO_DEADLINE) heap_add(s, p);
}

bool mpx__parked_gone(const mpx__parked *p)
{
    return p->session->gone;
}

void mpx__parked_drop(mpx__server *s, mpx__parked *p)
{
    waitq_unlink(p);
    if (p->s_prev)
        p->s_prev->s_next = p->s_next;
    else
        p->session->parked = p->s_next;
    if (p->s_next) p->s_next->s_prev = p->s_prev;
    if (p->deadline_ms != MPX_NO_DEADLINE) heap_remove(s, p);
    s->n_parked--;
    mpx__registry_unhold(&s->reg, p->obj);
    if (p->data && p->data_refs) mpx__refs_drop(p->data, p->len);
    mpx__xfree(p->data);
    mpx__xfree(p);
}

/* Answering another call from inside a handler would overwrite the handler's own reply in
 * s->out: a bug in a type (it must answer from its wake hook), never a peer's doing. */
static void assert_not_in_handler(const mpx__server *s)
{
    if (s->in_handler) mpx__panic("a parked call answered inside a method handler");
}

msgpack_packer *mpx__parked_reply(mpx__server *s, mpx__parked *p)
{
    assert_not_in_handler(s);
    return mpx__reply_begin(s, p->req_id);
}

bool mpx__parked_finish(mpx__server *s, mpx__parked *p)
{
    if (p->obj->ref_holder) /* the whole body: its envelope holds no reference */
        mpx__refs_give(p->session, (const uint8_t *)s->out.data + MPX_HDR_LEN,
                       s->out.size - MPX_HDR_LEN);
    bool sent = mpx__frame_send(s, p->session, MPX_K_REPLY);
    mpx__parked_drop(s, p);
    return sent;
}

void mpx__parked_fail(mpx__server *s, mpx__parked *p, int code, const char *msg)
{
    assert_not_in_handler(s);
    mpx__reply_error(s, p->session, p->req_id, code, msg);
    mpx__parked_drop(s, p);
}

void mpx__waitq_fail_all(mpx__server *s, mpx__waitq *q, int code, const char *msg)
{
    while (q->head)
        mpx__parked_fail(s, q->head, code, msg);
}

bool mpx__blocked_cancel(mpx__server *s, mpx__session *sess, uint64_t req_id)
{
    for (mpx__parked *p = sess->parked; p; p = p->s_next) {
        if (p->req_id != req_id) continue;
        const mpx__type *t = p->obj->type;
        if (t->cancel)
            t->cancel(s, p);
        else
            mpx__parked_drop(s, p);
        s->stats.cancelled++;
        return true;
    }
    return false;
}

/* ---- objects' own deadlines (a binary min-heap of (time, object id)) ----------------------- */

struct mpx__timer {
    int64_t at_ms;
    uint64_t obj_id;
};

static bool timer_before(const struct mpx__timer *a, const struct mpx__timer *b)
{
    return a->at_ms < b->at_ms;
}

void mpx__timer_at(mpx__server *s, const mpx__obj *obj, int64_t at_ms)
{
    if (s->n_timers == s->cap_timers) {
        s->cap_timers = s->cap_timers ? s->cap_timers * 2 : 16;
        s->timers = mpx__xrealloc(s->timers, s->cap_timers * sizeof *s->timers);
    }
    size_t i = s->n_timers++;
    s->timers[i] = (struct mpx__timer){at_ms, obj->id};
    while (i > 0 && timer_before(&s->timers[i], &s->timers[(i - 1) / 2])) {
        struct mpx__timer t = s->timers[i];
        s->timers[i] = s->timers[(i - 1) / 2];
        s->timers[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct mpx__timer timer_pop(mpx__server *s)
{
    struct mpx__timer top = s->timers[0];
    s->timers[0] = s->timers[--s->n_timers];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n_timers && timer_before(&s->timers[l], &s->timers[m])) m = l;
        if (r < s->n_timers && timer_before(&s->timers[r], &s->timers[m])) m = r;
        if (m == i) break;
        struct mpx__timer t = s->timers[i];
        s->timers[i] = s->timers[m];
        s->timers[m] = t;
        i = m;
    }
    return top;
}

void mpx__timers_free(mpx__server *s)
{
    mpx__xfree(s->timers);
    s->timers = NULL;
    s->n_timers = s->cap_timers = 0;
}

int mpx__blocked_next_ms(const mpx__server *s, int64_t now_ms, int cap)
{
    int64_t next = s->heap_len ? s->heap[0]->deadline_ms : INT64_MAX;
    if (s->n_timers && s->timers[0].at_ms < next) next = s->timers[0].at_ms;
    if (next == INT64_MAX) return cap;
    int64_t left = next - now_ms;
    return left <= 0 ? 0 : left < cap ? (int)left : cap;
}

void mpx__blocked_expire(mpx__server *s, int64_t now_ms)
{
    while (s->heap_len > 0 && s->heap[0]->deadline_ms <= now_ms) {
        mpx__parked *p = s->heap[0];
        p->obj->type->timeout(s, p);
    }
    while (s->n_timers > 0 && s->timers[0].at_ms <= now_ms) {
        mpx__obj *obj = mpx__registry_find(&s->reg, timer_pop(s).obj_id);
        if (!obj || !obj->type->expire) continue;
        obj->type->expire(s, obj, now_ms);
        if (obj->type->wake) obj->type->wake(s, obj);
    }
}

void mpx__blocked_drop_session(mpx__server *s, mpx__session *sess)
{
    while (sess->parked)
        mpx__parked_drop(s, sess->parked);
}

void mpx__blocked_shutdown(mpx__server *s)
{
    for (mpx__session *sess = s->sessions; sess; sess = sess->hh.next)
        while (sess->parked)
            mpx__parked_fail(s, sess->parked, MPX_ESHUTDOWN, "the server is shutting down");
}

/* ---- the arguments of blocking methods ---------------------------------------------------- */

int mpx__timeout_arg(mpx__req *req, uint32_t i, int64_t *wait_ms)
{
    mpx__mp_cursor c;
    uint64_t ms;
    *wait_ms = MPX_NO_DEADLINE;
    if (req->argc <= i) return 0;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    if (mpx__mp_is_nil(&c)) return 0;
    int rc = mpx__arg_uint(req, i, "'timeout' (nil or integer ms)", &ms);
    if (rc == 0) *wait_ms = ms > INT32_MAX ? INT32_MAX : (int64_t)ms;
    return rc;
}

int mpx__wait_args(mpx__req *req, uint32_t first, int64_t *wait_ms)
{
    bool block = true;
    if (req->argc > first) {
        mpx__mp_cursor c;
        mpx__mp_init(&c, req->argv[first].p, req->argv[first].len);
        if (mpx__mp_bool(&c, &block))
            return mpx__req_fail(req, MPX_ETYPE, "'block' must be a bool");
    }
    int rc = mpx__timeout_arg(req, first + 1, wait_ms);
    if (rc == 0 && !block) *wait_ms = 0;
    return rc;
}

int mpx__thread_arg(mpx__req *req, uint32_t i, uint64_t *thread)
{
    *thread = 0;
    if (req->argc <= i) return 0;
    return mpx__arg_uint(req, i, "the thread id", thread);
}
