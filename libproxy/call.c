/*
 * call.c — the life of a call: sent alone or in a batch, its reply handed to the thread that
 * waits for it, and what happens when that thread stops waiting.
 *
 * Threads. A ZeroMQ socket must never be used by two threads at once, yet a thread blocked on
 * a long call must not stop others from calling. So the socket belongs to whoever holds `mu`,
 * and one waiting thread at a time is the reader: it polls the socket, hands every reply to
 * the thread waiting for it (matched by request id) and wakes it on `cv`. A thread that wants
 * to send bumps `want` and, if the reader is inside poll(), kicks it through an eventfd;
 * the reader then steps aside on `turn` until no sender is left. The other waiters sleep on
 * `cv` under a mutex of their own, `done_mu`, never on `mu`, which the reader holds while it
 * polls: a waiter whose reply came wakes and returns at once. When the reader's own reply
 * arrives it gives the role to any other waiter.
 *
 * Giving up. A caller whose timeout runs out (or who frees an unanswered future) stops
 * waiting; if the call may be parked on the server (a queue get, a lock acquire), the client
 * sends manager.cancel(req_id) so that it stops waiting there too, and remembers the call
 * until the cancel is answered. An answer that crossed the cancel on the wire is given back:
 * a queue's items go back to its head (put_front), a lock or semaphore unit is released. So a
 * consumer that gives up loses no item, as long as its process lives long enough to send the
 * give-back (mpx_client_free() waits for the cancels' answers first).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

typedef mpx__pending pending;

#define SOLO_WAIT_MS 2                /* a lone reader's wait inside libzmq's receive (recv_solo) */
#define BATCH_FLUSH_CALLS 256         /* a send buffer this full goes out at once */
#define BATCH_FLUSH_BYTES (256 << 10) /* likewise, bytes */

int64_t mpx__clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

int mpx__client_break(mpx_client *c, int code, const char *why)
{
    pthread_mutex_lock(&c->done_mu);
    if (!c->broken) {
        c->broken = code;
        snprintf(c->broken_msg, sizeof c->broken_msg, "%s", why);
        if (code == MPX_ECONN) atomic_store(&c->lost, true); /* reconnect.c */
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->done_mu);
    return mpx__fail(code, "%s", c->broken_msg);
}

/* Marks p answered (or failed) and wakes its waiter. Under mu. */
static void mark_done(mpx_client *c, pending *p)
{
    pthread_mutex_lock(&c->done_mu);
    p->done = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->done_mu);
}

static int fail_broken(mpx_client *c)
{
    return mpx__fail(c->broken, "%s", c->broken_msg);
}

/* Every path that takes mu while a reader may be polling must come through here, or it waits
 * for the reader's poll to end. */
void mpx__client_lock(mpx_client *c)
{
    atomic_fetch_add(&c->users, 1);
    atomic_fetch_add(&c->want, 1);
    if (atomic_load(&c->polling) && c->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(c->wake_fd, &one, sizeof one) < 0) {
            /* the counter is already non-zero: the reader wakes anyway */
        }
    }
    pthread_mutex_lock(&c->mu);
    if (atomic_fetch_sub(&c->want, 1) == 1) pthread_cond_broadcast(&c->turn);
}

void mpx__client_unlock(mpx_client *c)
{
    atomic_fetch_sub(&c->users, 1);
    pthread_mutex_unlock(&c->mu);
}

/* ---- the calls waiting for replies -------------------------------------------------------- */

/* Calls are listed in the order they were sent and replies mostly come back in that order,
 * so the one a reply is for is almost always the first. */
static pending *pending_take(mpx_client *c, uint64_t req_id)
{
    pending *prev = NULL;
    for (pending *p = c->pending; p; prev = p, p = p->next) {
        if (p->req_id == req_id) {
            *(prev ? &prev->next : &c->pending) = p->next;
            if (c->pending_tail == p) c->pending_tail = prev;
            if (c->batch_first == p) c->batch_first = p->next;
            return p;
        }
    }
    return NULL;
}

static void pending_add(mpx_client *c, pending *p)
{
    p->next = NULL;
    *(c->pending_tail ? &c->pending_tail->next : &c->pending) = p;
    c->pending_tail = p;
}

/* ---- sending ------------------------------------------------------------------------------ */

static int pack_call(mpx__wbuf *b, uint64_t req_id, uint64_t obj_id, const char *method,
                     const mpx__args *args)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, mpx__wbuf_write);
    int rc = msgpack_pack_array(&pk, 4) | msgpack_pack_uint64(&pk, req_id) |
             msgpack_pack_uint64(&pk, obj_id);
    if (args && args->fence_lock) /* "fenced", [lock, token, method, arguments] */
        rc |= msgpack_pack_str_with_body(&pk, "fenced", 6) | msgpack_pack_array(&pk, 4) |
              msgpack_pack_uint64(&pk, args->fence_lock) |
              msgpack_pack_uint64(&pk, args->fence_token);
    rc |= msgpack_pack_str_with_body(&pk, method, strlen(method));
    if (args && args->raw) return rc | mpx__wbuf_write(b, args->raw, args->raw_len);
    rc |= msgpack_pack_array(&pk, args ? args->n : 0);
    for (size_t i = 0; rc == 0 && args && i < args->n; i++)
        rc = mpx__value_pack(b, args->items[i]);
    return rc;
}

/* A frame at least this large, built on the heap, is handed to libzmq rather than copied into
 * a message of its own. */
#define HAND_OVER_MIN (64 << 10)

static void frame_free(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* The frame as a ZeroMQ message: b's own heap bytes when the frame is large and b may give
 * them up (b is then left empty; libzmq frees them once sent), else a copy. */
static int frame_msg(zmq_msg_t *m, mpx__wbuf *b, bool give)
{
    if (give && b->data != b->inline_buf && b->size >= HAND_OVER_MIN) {
        size_t size = b->size;
        char *data = mpx__wbuf_release(b);
        if (zmq_msg_init_data(m, data, size, frame_free, NULL) == 0) return 0;
        free(data);
        return -1;
    }
    if (zmq_msg_init_size(m, b->size)) return -1;
    memcpy(zmq_msg_data(m), b->data, b->size);
    return 0;
}

/* Sends a frame of the given kind; `give` lets a large frame's bytes go to libzmq
 * (frame_msg). A frame past the server's max_frame would make its transport drop the
 * connection: it is refused here, on the call that made it. Under mu. */
static int send_frame(mpx_client *c, mpx__wbuf *b, uint8_t kind, bool give)
{
    zmq_msg_t m;
    if (b->size > c->max_frame)
        return mpx__fail(MPX_ETOOBIG,
                         "a frame of %zu bytes exceeds the server's max_frame of "
                         "%llu",
                         b->size, (unsigned long long)c->max_frame);
    mpx__frame_header((uint8_t *)b->data, kind);
    if (frame_msg(&m, b, give)) return mpx__fail(MPX_ENOMEM, "out of memory sending the frame");
    if (zmq_msg_send(&m, c->sock, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(&m);
        return err == EAGAIN ? mpx__fail(MPX_ETIMEDOUT, "the send queue is full")
                             : mpx__client_break(c, MPX_ECONN, zmq_strerror(err));
    }
    c->last_send_ms = mpx__clock_ms();
    return 0;
}

void mpx__batch_reset(mpx_client *c)
{
    c->batch.size = MPX_HDR_LEN + MPX_BATCH_HDR;
    c->batch_n = 0;
    c->batch_first = NULL;
}

/* If the buffered calls cannot go out, each waiting one is answered with the error. */
int mpx__batch_flush(mpx_client *c)
{
    if (c->batch_n == 0) return 0;
    uint8_t *count = (uint8_t *)c->batch.data + MPX_HDR_LEN;
    count[0] = 0xdd; /* array32 */
    for (int i = 0; i < 4; i++)
        count[1 + i] = (uint8_t)(c->batch_n >> (24 - 8 * i));
    int rc = c->broken ? fail_broken(c) : send_frame(c, &c->batch, MPX_K_BATCH, false);
    if (rc) {
        for (pending *p = c->batch_first, *next; p; p = next) {
            next = p->next;
            pending_take(c, p->req_id);
            p->failed = rc;
            mark_done(c, p);
        }
    }
    mpx__batch_reset(c);
    return rc;
}

/* Sends a packed call alone in a CALL frame and registers p (if any). Under mu. */
static int call_send_alone(mpx_client *c, mpx__wbuf *b, pending *p)
{
    int rc = send_frame(c, b, MPX_K_CALL, true);
    if (rc == 0 && p) pending_add(c, p);
    return rc;
}

/* Adds a packed call (b's body) to the send buffer and registers p (if any); sends the buffer
 * once it is full, or would grow past what the server takes. A call too large to share a
 * frame goes alone, after the buffer. Under mu. */
static int batch_add(mpx_client *c, mpx__wbuf *b, pending *p)
{
    size_t body = b->size - MPX_HDR_LEN;
    size_t limit = c->max_message < BATCH_FLUSH_BYTES ? c->max_message : BATCH_FLUSH_BYTES;
    int rc = 0;
    if (c->batch.size - MPX_HDR_LEN + body > limit) rc = mpx__batch_flush(c);
    if (rc) return rc;
    if (MPX_BATCH_HDR + body > c->max_message) return call_send_alone(c, b, p);
    if (mpx__wbuf_write(&c->batch, b->data + MPX_HDR_LEN, body) != 0)
        return mpx__fail(MPX_ENOMEM, "out of memory buffering the call");
    c->batch_n++;
    if (p) {
        pending_add(c, p);
        if (!c->batch_first) c->batch_first = p;
    }
    return c->batch_n >= BATCH_FLUSH_CALLS ? mpx__batch_flush(c) : 0;
}

/* Sends a packed call now: alone as a CALL, or last in the buffered batch. Under mu. */
static int send_call(mpx_client *c, mpx__wbuf *b, pending *p)
{
    if (c->batch_n > 0) {
        int rc = batch_add(c, b, p);
        return rc ? rc : mpx__batch_flush(c);
    }
    return call_send_alone(c, b, p);
}

/* Sends a call of the library's own (a cancel, a give-back) whose answer nobody waits for: a
 * reply with an unknown request id is dropped. Returns its request id, or 0 if it could not go
 * out. Under mu. */
static uint64_t send_own_call(mpx_client *c, uint64_t obj_id, const char *method,
                              const void *raw_args, size_t raw_len)
{
    mpx__wbuf b;
    mpx__args args = {.raw = raw_args, .raw_len = raw_len};
    uint64_t id = atomic_fetch_add(&c->next_req, 1);
    mpx__wbuf_init(&b, MPX_HDR_LEN);
    int rc = pack_call(&b, id, obj_id, method, &args) ? MPX_ENOMEM : send_call(c, &b, NULL);
    mpx__wbuf_free(&b);
    return rc ? 0 : id;
}

void mpx__heartbeat_send(mpx_client *c, int64_t now)
{
    uint8_t frame[MPX_HDR_LEN];
    mpx__client_lock(c);
    if (c->broken || !c->sock || now - c->last_send_ms < atomic_load(&c->heartbeat_ms)) {
        /* nothing due */
    } else if (c->batch_n > 0) {
        mpx__batch_flush(c);
    } else {
        mpx__frame_header(frame, MPX_K_HEARTBEAT);
        if (zmq_send(c->sock, frame, sizeof frame, ZMQ_DONTWAIT) == (int)sizeof frame)
            c->last_send_ms = now;
    }
    mpx__client_unlock(c);
}

void mpx__calls_fail_all(mpx_client *c, int code)
{
    while (c->pending) {
        pending *p = c->pending;
        pending_take(c, p->req_id);
        p->failed = code;
        mark_done(c, p);
    }
    mpx__batch_reset(c);
}

/* ---- giving up ---------------------------------------------------------------------------- */

/* The methods that may wait on the server, and what their answer hands over. */
static const struct {
    const char *type, *method;
    mpx__undo undo;
} parking[] = {
    {"queue", "get", UNDO_ITEM},
    {"queue", "get_many", UNDO_ITEMS},
    {"queue", "get_lease", UNDO_LEASE},
    {"joinable_queue", "get_lease", UNDO_LEASE},
    {"queue", "put", UNDO_NONE},
    {"joinable_queue", "get", UNDO_ITEM},
    {"joinable_queue", "get_many", UNDO_ITEMS},
    {"joinable_queue", "put", UNDO_NONE},
    {"joinable_queue", "join", UNDO_NONE},
    {"lock", "acquire", UNDO_ACQUIRE},
    {"rlock", "acquire", UNDO_ACQUIRE},
    {"condition", "acquire", UNDO_ACQUIRE},
    {"condition", "wait", UNDO_REACQUIRE},
    {"semaphore", "acquire", UNDO_UNIT},
    {"bounded_semaphore", "acquire", UNDO_UNIT},
    {"event", "wait", UNDO_NONE},
    {"barrier", "wait", UNDO_NONE},
};

static void call_kind(pending *p, const char *type, const char *method)
{
    for (size_t i = 0; type && i < sizeof parking / sizeof *parking; i++) {
        if (strcmp(parking[i].type, type) == 0 && strcmp(parking[i].method, method) == 0) {
            p->parks = true;
            p->undo = parking[i].undo;
            p->thread = mpx__thread_id();
        }
    }
}

/* Stops waiting for p: it leaves the list, and if it may be parked on the server a cancel goes
 * out and the call is remembered until the cancel is answered. Under mu. */
static void call_abandon(mpx_client *c, pending *p)
{
    pending_take(c, p->req_id);
    if (!p->parks || c->broken) return;
    uint8_t args[16];
    mpx__wbuf b;
    mpx__wbuf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, mpx__wbuf_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, p->req_id);
    memcpy(args, b.data, b.size);
    mpx__abandoned *a = malloc(sizeof *a);
    uint64_t id = a ? send_own_call(c, 0, "cancel", args, b.size) : 0;
    mpx__wbuf_free(&b);
    if (!id) {
        free(a); /* out of memory, or broken: the session's end settles it */
        return;
    }
    *a = (mpx__abandoned){.req_id = p->req_id,
                          .cancel_id = id,
                          .obj_id = p->obj_id,
                          .undo = p->undo,
                          .thread = p->thread,
                          .next = c->abandoned};
    c->abandoned = a;
}

/* Gives back what a late answer handed over (a reply body [req_id, status, result]). */
static void give_back(mpx_client *c, const mpx__abandoned *a, const uint8_t *body, size_t len)
{
    mpx__mp_cursor cur;
    uint32_t n;
    uint64_t id;
    int64_t status;
    mpx__mp_init(&cur, body, len);
    if (mpx__mp_array(&cur, &n) || mpx__mp_uint(&cur, &id) || mpx__mp_int(&cur, &status) ||
        status != 0)
        return;
    const uint8_t *result = cur.p;
    size_t rlen = (size_t)(cur.end - cur.p);
    bool granted = (rlen >= 2 && result[0] == 0x93 && result[1] == 0xc3) || /* [true, ...] */
                   (rlen == 1 && result[0] == 0xc3);                        /* true */
    mpx__wbuf b;
    mpx__wbuf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, mpx__wbuf_write);
    const char *method = "release";
    msgpack_pack_array(&pk, 1);
    switch (a->undo) {
    case UNDO_ITEM: /* put_front([item]) */
        method = "put_front";
        msgpack_pack_array(&pk, 1);
        mpx__wbuf_write(&b, (const char *)result, rlen);
        break;
    case UNDO_ITEMS: /* put_front(items) */
        method = "put_front";
        mpx__wbuf_write(&b, (const char *)result, rlen);
        break;
    case UNDO_ACQUIRE:
    case UNDO_REACQUIRE: /* release(thread) */
        if (a->undo == UNDO_ACQUIRE && !granted) goto done;
        msgpack_pack_uint64(&pk, a->thread);
        break;
    case UNDO_LEASE: { /* nack(lease) */
        mpx__mp_cursor lc;
        uint32_t ln;
        uint64_t lease;
        mpx__mp_init(&lc, result, rlen);
        if (mpx__mp_array(&lc, &ln) || ln != 2 || mpx__mp_uint(&lc, &lease)) goto done;
        method = "nack";
        msgpack_pack_uint64(&pk, lease);
        break;
    }
    case UNDO_UNIT: /* release(1) */
        if (!granted) goto done;
        msgpack_pack_uint64(&pk, 1);
        break;
    case UNDO_NONE:
        goto done;
    }
    send_own_call(c, a->obj_id, method, b.data, b.size);
done:
    mpx__wbuf_free(&b);
}

/* A reply nobody waits for: the answer of a call given up on (given back), the answer to a
 * cancel (the call is settled), or a late reply to a plain call (dropped). Under mu. */
static void late_reply(mpx_client *c, uint64_t req_id, const uint8_t *body, size_t len)
{
    for (mpx__abandoned **ap = &c->abandoned, *a; (a = *ap); ap = &a->next) {
        if (a->req_id == req_id) {
            give_back(c, a, body, len);
            return;
        }
        if (a->cancel_id == req_id) {
            *ap = a->next;
            free(a);
            if (!c->abandoned && c->settle) mark_done(c, c->settle);
            return;
        }
    }
}

void mpx__abandoned_clear(mpx_client *c)
{
    while (c->abandoned) {
        mpx__abandoned *a = c->abandoned;
        c->abandoned = a->next;
        free(a);
    }
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* Hands one reply body, inside frame msg, to its call: moving the frame to it, or with
 * `shared` a reference to it. */
static int deliver_one(mpx_client *c, zmq_msg_t *msg, const uint8_t *body, size_t len, bool shared)
{
    mpx__mp_cursor cur;
    uint32_t n;
    uint64_t req_id;
    mpx__mp_init(&cur, body, len);
    if (mpx__mp_array(&cur, &n) || n != 3 || mpx__mp_uint(&cur, &req_id))
        return mpx__client_break(c, MPX_EPROTO, "malformed reply from the server");
    pending *p = pending_take(c, req_id);
    if (!p) {
        late_reply(c, req_id, body, len);
        return 0;
    }
    p->reply_off = (size_t)(body - (const uint8_t *)zmq_msg_data(msg));
    p->reply_len = len;
    if (shared)
        zmq_msg_copy(&p->reply, msg);
    else
        zmq_msg_move(&p->reply, msg);
    mark_done(c, p);
    return 0;
}

/* Checks one frame from the server and hands a reply to its call. Under mu. */
static int deliver(mpx_client *c, zmq_msg_t *msg)
{
    mpx__frame f;
    mpx__mp_cursor cur;
    uint32_t n;
    if (mpx__frame_parse(zmq_msg_data(msg), zmq_msg_size(msg), &f) != 0)
        return mpx__client_break(c, MPX_EPROTO, "malformed frame from the server");
    c->last_recv_ms = mpx__clock_ms();
    if (f.kind == MPX_K_HEARTBEAT_ACK) return 0;
    if (f.kind == MPX_K_ERROR) {
        /* It names no call: the server has no session for us (it restarted, or ended one
         * that went silent), or could not read a frame we sent. Either way the session is
         * over; without a session the connection is as good as lost (reconnect.c). */
        int rc = mpx__frame_error(&f, "from the server");
        if (rc == MPX_ENOAUTH) rc = MPX_ECONN;
        return mpx__client_break(c, rc, mpx_last_error());
    }
    mpx__mp_init(&cur, f.body, f.body_len);
    if (f.kind == MPX_K_REPLY) return deliver_one(c, msg, f.body, f.body_len, false);
    if (f.kind != MPX_K_REPLIES || mpx__mp_array(&cur, &n))
        return mpx__client_break(c, MPX_EPROTO, "malformed reply from the server");
    while (n--) { /* the calls share the frame: each holds a reference to it */
        const uint8_t *start = cur.p;
        if (mpx__mp_skip(&cur) || deliver_one(c, msg, start, (size_t)(cur.p - start), true))
            return mpx__client_break(c, MPX_EPROTO, "malformed reply from the server");
    }
    return 0;
}

/* Receives and delivers one frame: one already queued (flags ZMQ_DONTWAIT), or one that
 * comes within the socket's ZMQ_RCVTIMEO (flags 0). Under mu. */
static bool recv_one(mpx_client *c, int flags)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    bool got = zmq_msg_recv(&msg, c->sock, flags) >= 0;
    if (got) deliver(c, &msg);
    zmq_msg_close(&msg);
    return got;
}

/* Delivers every frame already queued, without waiting. Under mu. */
static void drain_replies(mpx_client *c)
{
    while (!c->broken && recv_one(c, ZMQ_DONTWAIT))
        ;
}

/* Waits in libzmq's own receive for up to SOLO_WAIT_MS (the rest of the wait, if the reply
 * is later, polls as below): polling ZMQ_FD costs two poll() calls a call more, as libzmq
 * polls its command pipe on every non-blocking receive that finds the socket empty. But
 * nothing can pull a thread out of libzmq's receive, so only a reader alone on the client
 * waits there, and a thread that comes in meanwhile waits at most that long for the socket. */
static bool recv_solo(mpx_client *c, int64_t left)
{
    int wait_ms = left < SOLO_WAIT_MS ? (int)left : SOLO_WAIT_MS;
    if (wait_ms != c->rcvtimeo_ms && set_int(c->sock, ZMQ_RCVTIMEO, wait_ms) == 0)
        c->rcvtimeo_ms = wait_ms;
    return recv_one(c, 0);
}

/* The reader's loop: reads until p's reply arrives or the deadline passes. Under mu (the
 * caller holds the reader role: wait_reply).
 *
 * Past its first SOLO_WAIT_MS, or with other threads on the client, it polls libzmq's ZMQ_FD
 * itself rather than calling zmq_poll, which costs more syscalls a wake-up. ZMQ_FD only
 * signals news libzmq has not yet looked at, so the socket is always read until it is empty
 * before the loop polls: a failed non-blocking receive is what makes libzmq take in that
 * news. */
static void read_until(mpx_client *c, pending *p, int64_t deadline)
{
    int64_t began = mpx__clock_ms(); /* acks that queued while nobody read count from here */
    bool solo = true;
    while (!p->done && !c->broken) {
        while (atomic_load(&c->want) > 0)
            pthread_cond_wait(&c->turn, &c->mu);
        if (c->broken) break; /* the client was freed while we stepped aside */
        int64_t now = mpx__clock_ms(), left = deadline - now;
        if (left <= 0) break;
        solo = solo && now - began < SOLO_WAIT_MS && atomic_load(&c->users) == 1;
        if (solo) {
            solo = recv_solo(c, left); /* after a timeout, the rest of the wait polls */
            continue;
        }
        if (recv_one(c, ZMQ_DONTWAIT)) continue; /* did not wait: now and left still hold */
        int beat = atomic_load(&c->heartbeat_ms);
        /* Heartbeats go out while we wait and each is answered: two session timeouts
         * (eight heartbeat intervals) of silence mean the server is gone. */
        int64_t heard = c->last_recv_ms > began ? c->last_recv_ms : began;
        if (now - heard > 8 * (int64_t)beat) {
            mpx__client_break(c, MPX_ECONN, "the server stopped answering");
            break;
        }
        if (left > beat) left = beat;
        atomic_store(&c->polling, true);
        if (atomic_load(&c->want) > 0) { /* a sender came in between: let it go first */
            atomic_store(&c->polling, false);
            continue;
        }
        struct pollfd fds[] = {{.fd = c->zmq_fd, .events = POLLIN},
                               {.fd = c->wake_fd, .events = POLLIN}};
        int rc = poll(fds, 2, (int)left);
        atomic_store(&c->polling, false);
        if (rc < 0 && errno != EINTR) {
            mpx__client_break(c, MPX_ECONN, strerror(errno));
            break;
        }
        if (fds[1].revents & POLLIN) {
            uint64_t v;
            if (read(c->wake_fd, &v, sizeof v) < 0) {
                /* nothing to drain: another wake-up got there first */
            }
        }
    }
}

/* Sleeps on cv until woken or the deadline. Under done_mu. */
static void timed_wait(mpx_client *c, int64_t deadline)
{
    if (deadline == INT64_MAX) deadline = mpx__clock_ms() + 1000;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_cond_timedwait(&c->cv, &c->done_mu, &ts);
}

/* Waits for p's reply: as the reader if nobody reads, else asleep until its reply comes or
 * the role is free. Not under mu. Returns 0, a transport error or MPX_ETIMEDOUT (p is then
 * given up). */
static int wait_reply(mpx_client *c, pending *p, int64_t deadline)
{
    int rc = 0;
    pthread_mutex_lock(&c->done_mu);
    while (!p->done) {
        if (c->broken || mpx__clock_ms() >= deadline) {
            bool broken = c->broken;
            pthread_mutex_unlock(&c->done_mu);
            mpx__client_lock(c);
            if (p->done) {
                rc = 0;          /* it came meanwhile */
            } else if (broken) { /* p leaves the list with its caller: it may be on the stack */
                pending_take(c, p->req_id);
                rc = fail_broken(c);
            } else {
                call_abandon(c, p);
                rc = mpx__fail(MPX_ETIMEDOUT, "no reply within the timeout");
            }
            mpx__client_unlock(c);
            return rc;
        }
        if (c->reader) {
            timed_wait(c, deadline);
            continue;
        }
        c->reader = true;
        pthread_mutex_unlock(&c->done_mu);
        mpx__client_lock(c);
        read_until(c, p, deadline);
        mpx__client_unlock(c);
        pthread_mutex_lock(&c->done_mu);
        c->reader = false;
        pthread_cond_broadcast(&c->cv); /* someone else may read now */
    }
    pthread_mutex_unlock(&c->done_mu);
    return rc;
}

static int parse_result(pending *p, mpx__result *res)
{
    mpx__mp_cursor cur;
    uint32_t n, len;
    uint64_t req_id;
    int64_t status;
    const char *msg;
    if (p->failed == MPX_ECONN)
        return mpx__fail(MPX_ECONN, "the connection was lost with the call in flight: it may or "
                                    "may not have run");
    if (p->failed) return mpx__fail(p->failed, "the call could not be sent");
    mpx__mp_init(&cur, (const uint8_t *)zmq_msg_data(&p->reply) + p->reply_off, p->reply_len);
    mpx__mp_array(&cur, &n);
    mpx__mp_uint(&cur, &req_id);
    if (mpx__mp_int(&cur, &status)) return mpx__fail(MPX_EPROTO, "malformed reply status");
    if (status != 0) {
        if (mpx__mp_str(&cur, &msg, &len)) return mpx__fail(MPX_EPROTO, "malformed error reply");
        return mpx__fail_remote(status > 0 && status < 1000 ? (int)-status : MPX_EPROTO, msg, len);
    }
    const uint8_t *start = cur.p;
    if (mpx__mp_skip(&cur) || cur.p != cur.end)
        return mpx__fail(MPX_EPROTO, "malformed reply payload");
    if (res) {
        size_t off = (size_t)(start - (const uint8_t *)zmq_msg_data(&p->reply));
        zmq_msg_init(&res->msg);
        zmq_msg_move(&res->msg, &p->reply);
        res->data = (const uint8_t *)zmq_msg_data(&res->msg) + off;
        res->len = (size_t)(cur.p - start);
    }
    return 0;
}

/* ---- the calls' API ----------------------------------------------------------------------- */

static int fail_closed(void)
{
    return mpx__fail(MPX_ECLOSED, "the client was freed");
}

int mpx__call_send(mpx_client *c, uint64_t obj_id, const char *type, const char *method,
                   const mpx__args *args, bool defer, pending *p)
{
    if (!mpx__client_ok(c)) return mpx__fail(MPX_EINVAL, "not a client handle");
    if (atomic_load(&c->closed)) return fail_closed();
    if (atomic_load(&c->fork_gen) != mpx__fork_gen()) {
        int rc = mpx__client_after_fork(c);
        if (rc) return rc;
    }
    int rc = mpx__client_reconnect(c);
    if (rc) return rc;
    *p = (pending){.req_id = atomic_fetch_add(&c->next_req, 1),
                   .fork_gen = atomic_load(&c->fork_gen),
                   .obj_id = obj_id};
    call_kind(p, type, method);
    zmq_msg_init(&p->reply);
    mpx__wbuf b;
    mpx__wbuf_init(&b, MPX_HDR_LEN);
    if (pack_call(&b, p->req_id, obj_id, method, args) != 0) {
        mpx__wbuf_free(&b);
        return mpx__fail(MPX_ENOMEM, "out of memory encoding the call");
    }
    if (b.size - MPX_HDR_LEN > c->max_message) {
        size_t size = b.size - MPX_HDR_LEN;
        mpx__wbuf_free(&b);
        return mpx__fail(MPX_ETOOBIG, "a request of %zu bytes exceeds the server's limit of %zu",
                         size, c->max_message);
    }
    mpx__client_lock(c);
    rc = c->broken ? fail_broken(c) : defer ? batch_add(c, &b, p) : send_call(c, &b, p);
    mpx__client_unlock(c);
    mpx__wbuf_free(&b);
    return rc;
}

int64_t mpx__call_deadline(mpx_client *c, int timeout_ms)
{
    if (timeout_ms == MPX_FOREVER) return INT64_MAX;
    return mpx__clock_ms() + (timeout_ms > 0 ? timeout_ms : atomic_load(&c->timeout_ms));
}

/* A call sent before a fork() belongs to the parent's session: the child never sees its
 * reply, and its entry is not in the child's list. */
static bool call_stale(const pending *p)
{
    return p->fork_gen != mpx__fork_gen();
}

int mpx__call_wait(mpx_client *c, pending *p, int64_t deadline, mpx__result *res)
{
    if (atomic_load(&c->closed)) return fail_closed();
    if (call_stale(p)) return mpx__fail(MPX_ECONN, "the call was sent before a fork()");
    mpx__client_lock(c);
    if (!p->done) mpx__batch_flush(c); /* p itself may be in the buffer; a failure answers it */
    mpx__client_unlock(c);
    int rc = wait_reply(c, p, deadline);
    if (rc == 0) rc = parse_result(p, res);
    if (rc == 0 && res) res->client = c;
    return rc;
}

bool mpx__call_poll(mpx_client *c, pending *p)
{
    if (p->done || atomic_load(&c->closed) || call_stale(p)) return true;
    mpx__client_lock(c); /* a reader stepping aside waits on `turn`: the socket is ours now */
    if (!p->done) mpx__batch_flush(c);
    if (!p->done && !c->broken) drain_replies(c);
    bool over = p->done || c->broken;
    mpx__client_unlock(c);
    return over;
}

void mpx__call_cancel(mpx_client *c, pending *p)
{
    if (!p->done && !atomic_load(&c->closed) && !call_stale(p)) {
        mpx__client_lock(c);
        if (!p->done) call_abandon(c, p);
        mpx__client_unlock(c);
    }
    zmq_msg_close(&p->reply);
}

void mpx__call_settle(mpx_client *c, int64_t deadline)
{
    mpx__client_lock(c);
    pending settle = {.done = c->abandoned == NULL};
    c->settle = &settle;
    mpx__batch_flush(c);
    mpx__client_unlock(c);
    wait_reply(c, &settle, deadline); /* not a call of its own: giving up sends nothing */
    mpx__client_lock(c);
    c->settle = NULL;
    mpx__client_unlock(c);
}

int mpx__invoke(mpx_client *c, uint64_t obj_id, const char *type, const char *method,
                const mpx__args *args, int timeout_ms, mpx__result *res)
{
    pending p;
    int rc = mpx__call_send(c, obj_id, type, method, args, false, &p);
    if (rc) return rc;
    rc = mpx__call_wait(c, &p, mpx__call_deadline(c, timeout_ms), res);
    zmq_msg_close(&p.reply);
    return rc;
}

void mpx__result_close(mpx__result *res)
{
    zmq_msg_close(&res->msg);
}

int mpx__result_value(const mpx__result *res, mpx_value **out)
{
    mpx_value *v = NULL;
    /* a result with no ext at all (0xc7-0xc9, 0xd4-0xd8) holds no reference: most results */
    if (!out && !mpx__mp_has_ext(res->data, res->len)) return 0;
    int rc = mpx_value_decode(res->data, res->len, &v);
    if (rc) return mpx__fail(rc, "cannot decode the result: %s", mpx_last_error());
    for (size_t n = mpx__value_claim_refs(v, res->client, mpx__fork_gen()); n > 0; n--)
        mpx__client_hold(res->client);
    if (out)
        *out = v;
    else
        mpx_value_free(&v); /* releases what it claimed */
    return 0;
}
