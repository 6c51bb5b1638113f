/*
 * dispatch.c — runs one CALL: parses its body, checks it in a fixed order (object exists,
 * method exists, argument count fits, memory allows), calls the type's handler and sends the
 * one reply.
 *
 * The checks live here so that no handler repeats them; a handler sees a well-formed request
 * whose arguments are each one complete, validated msgpack object. The one exception is a
 * method marked checks_last_arg (dict.update): its last argument, often most of the body,
 * reaches it unwalked, because the method's own walk of it checks it at no extra cost.
 *
 * A result that hands something over (a queue item, a semaphore unit: methods marked undo)
 * and cannot reach its peer is given back through the type's undo hook, whether the reply
 * went alone or in a batch's REPLIES frame.
 */
#include <string.h>

#include "blocked.h"
#include "dispatch.h"
#include "persist.h"
#include "refs.h"
#include "reply.h"
#include "t_lock.h"

/* A parsed CALL body: [req_id, obj_id, method, [args...]]. */
typedef struct {
    uint64_t req_id;
    uint64_t obj_id;
    const char *method;
    uint32_t method_len;
    uint32_t argc;
    mpx__span argv[MPX_MAX_ARGS];
} call_body;

#define WHY_BADARGS MPX__WHY_BADARGS
#define WHY_TRAILING MPX__WHY_TRAILING

/* Reads a call's request id: the first item of an array whose first item is a uint other
 * than 0 (0 is reserved, so that no reply ever carries it). Returns whether it could. */
static bool read_req_id(mpx__mp_cursor *c, uint32_t *n, uint64_t *req_id)
{
    return mpx__mp_array(c, n) == 0 && *n >= 1 && mpx__mp_uint(c, req_id) == 0 && *req_id != 0;
}

/* Parses a CALL body, all but its last argument: that one is recorded as the rest of the
 * body, to be checked by check_last_arg() or by a method marked checks_last_arg. *have_id says
 * whether req_id was read, so that even a bad request can be answered as a reply to its call.
 * Returns 0, MPX_EBADREQ or MPX_EARGS with *why set. */
static int parse_call(const uint8_t *body, size_t len, call_body *cb, bool *have_id,
                      const char **why)
{
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, body, len);
    *why = "a call is an array of 4: [request id (not 0), object id, method, arguments]";
    *have_id = read_req_id(&c, &n, &cb->req_id);
    if (!*have_id || n != 4) return MPX_EBADREQ;
    if (mpx__mp_uint(&c, &cb->obj_id) || mpx__mp_str(&c, &cb->method, &cb->method_len) ||
        mpx__mp_array(&c, &cb->argc))
        return MPX_EBADREQ;
    if (cb->argc > MPX_MAX_ARGS) {
        *why = "too many arguments";
        return MPX_EARGS;
    }
    for (uint32_t i = 0; i < cb->argc; i++) {
        cb->argv[i].p = c.p;
        if (i + 1 < cb->argc && mpx__mp_skip(&c)) {
            *why = WHY_BADARGS;
            return MPX_EBADREQ;
        }
        cb->argv[i].len = (size_t)(c.p - cb->argv[i].p);
    }
    if (cb->argc > 0) cb->argv[cb->argc - 1].len = (size_t)(c.end - cb->argv[cb->argc - 1].p);
    if (cb->argc == 0 && c.p != c.end) {
        *why = WHY_TRAILING;
        return MPX_EBADREQ;
    }
    return 0;
}

/* A fenced call, method "fenced" with [lock id, token, method, [arguments]]: the inner call,
 * run only while token is the last fencing token the lock handed out (docs/protocol.md,
 * "Fenced calls"). Replaces cb's method and arguments with the inner call's. Returns 0, or
 * fails req (EBADREQ with *why set for a malformed wrapper). */
static int unwrap_fenced(mpx__server *s, call_body *cb, mpx__req *req, const char **why)
{
    mpx__mp_cursor c;
    uint64_t lock_id, token;
    uint32_t n;
    *why = "fenced takes [lock id, token, method, [arguments]]";
    if (cb->argc != 4 || mpx__arg_check(&cb->argv[3], why)) return MPX_EBADREQ;
    mpx__mp_init(&c, cb->argv[0].p, cb->argv[0].len);
    if (mpx__mp_uint(&c, &lock_id)) return MPX_EBADREQ;
    mpx__mp_init(&c, cb->argv[1].p, cb->argv[1].len);
    if (mpx__mp_uint(&c, &token)) return MPX_EBADREQ;
    mpx__mp_init(&c, cb->argv[2].p, cb->argv[2].len);
    if (mpx__mp_str(&c, &cb->method, &cb->method_len)) return MPX_EBADREQ;
    mpx__mp_init(&c, cb->argv[3].p, cb->argv[3].len);
    if (mpx__mp_array(&c, &n)) return MPX_EBADREQ;
    if (n > MPX_MAX_ARGS) {
        *why = "too many arguments";
        return MPX_EARGS;
    }
    cb->argc = n;
    for (uint32_t i = 0; i < n; i++) { /* checked whole above */
        cb->argv[i].p = c.p;
        mpx__mp_skip(&c);
        cb->argv[i].len = (size_t)(c.p - cb->argv[i].p);
    }
    mpx__obj *lock = lock_id ? mpx__registry_find(&s->reg, lock_id) : NULL;
    if (!lock)
        return mpx__req_fail(req, MPX_ENOOBJ, "fenced: no lock with id %llu",
                             (unsigned long long)lock_id);
    if (!mpx__is_lock(lock))
        return mpx__req_fail(req, MPX_ETYPE, "fenced: object %llu is a %s, not a lock",
                             (unsigned long long)lock_id, lock->type->name);
    uint64_t last = mpx__lock_fence(lock);
    if (token != last)
        return mpx__req_fail(req, MPX_EFENCED,
                             "fenced out: token %llu of lock %llu is not its last (%llu): "
                             "the lock has passed to another holder since",
                             (unsigned long long)token, (unsigned long long)lock_id,
                             (unsigned long long)last);
    return 0;
}

static bool is_fenced(const call_body *cb)
{
    return cb->method_len == 6 && memcmp(cb->method, "fenced", 6) == 0;
}

/* Checks the last argument, recorded as the rest of the body (parse_call). */
static int check_last_arg(const call_body *cb, const char **why)
{
    return cb->argc == 0 ? 0 : mpx__arg_check(&cb->argv[cb->argc - 1], why);
}

/* Finds the object and method and checks the argument count; on failure sets req->errmsg. */
static int check_call(mpx__server *s, const call_body *cb, mpx__req *req,
                      const mpx__method **method)
{
    req->obj = mpx__registry_find(&s->reg, cb->obj_id);
    if (!req->obj)
        return mpx__req_fail(req, MPX_ENOOBJ, "no object with id %llu",
                             (unsigned long long)cb->obj_id);
    const mpx__type *t = req->obj->type;
    *method = mpx__type_method(t, cb->method, cb->method_len);
    if (!*method || (*method)->replay_only) {
        char name[65];
        mpx__printable(name, sizeof name, (const uint8_t *)cb->method, cb->method_len);
        return mpx__req_fail(req, MPX_ENOMETHOD, "%s has no method '%s'", t->name, name);
    }
    const mpx__method *m = *method;
    if (cb->argc < m->min_args || cb->argc > m->max_args) {
        if (m->min_args == m->max_args)
            return mpx__req_fail(req, MPX_EARGS, "%s.%s takes %u argument%s, got %u", t->name,
                                 m->name, m->min_args, m->min_args == 1 ? "" : "s", cb->argc);
        return mpx__req_fail(req, MPX_EARGS, "%s.%s takes %u to %u arguments, got %u", t->name,
                             m->name, m->min_args, m->max_args, cb->argc);
    }
    return 0;
}

/* Answers a call refused as malformed, and counts it: a REPLY when its request id was read,
 * else an ERROR frame, which names no call. */
/* Refuses one call: a REPLY to its request id when it was read, else an ERROR frame, which
 * names no call (docs/protocol.md §4). */
static void refuse_call(mpx__server *s, mpx__session *sess, bool have_id, uint64_t req_id, int rc,
                        const char *why)
{
    if (have_id)
        mpx__reply_error(s, sess, req_id, rc, why);
    else
        mpx__send_error_frame(s, sess->rid, sess->rid_len, rc, why);
}

static void refuse_malformed(mpx__server *s, mpx__session *sess, bool have_id, uint64_t req_id,
                             int rc, const char *why)
{
    s->stats.rejected_malformed++;
    refuse_call(s, sess, have_id, req_id, rc, why);
}

void mpx__dispatch_refuse(mpx__server *s, mpx__session *sess, bool batch, const uint8_t *body,
                          size_t len, int code, const char *msg)
{
    mpx__mp_cursor c, item;
    uint32_t n = 0, fields;
    uint64_t req_id;
    size_t answered = 0;
    mpx__mp_init(&c, body, len);
    if (!batch) {
        bool have_id = read_req_id(&c, &fields, &req_id);
        refuse_call(s, sess, have_id, req_id, code, msg);
        return;
    }
    mpx__batch_begin(s, sess);
    bool readable = mpx__mp_array(&c, &n) == 0;
    for (uint32_t i = 0; readable && i < n; i++) {
        item = c;
        if (read_req_id(&item, &fields, &req_id)) {
            mpx__reply_error(s, sess, req_id, code, msg);
            answered++;
        }
        readable = mpx__mp_skip(&c) == 0; /* the ids after a malformed call are lost */
    }
    mpx__batch_end(s, sess);
    if (!answered) mpx__send_error_frame(s, sess->rid, sess->rid_len, code, msg);
}

/* The results of a batch that hand something over, to give back if the REPLIES frame cannot
 * be sent: where each result lies in the frame. */
typedef struct {
    uint64_t obj_id;
    const mpx__method *method;
    size_t off, len;
} undo_rec;

static undo_rec batch_undo[MPX_MAX_BATCH]; /* one thread, one batch at a time */
static size_t batch_undo_n;

static void undo_result(mpx__server *s, mpx__session *sess, mpx__obj *obj, const mpx__method *m,
                        const uint8_t *p, size_t len)
{
    obj->type->undo(s, sess, obj, m, p, len);
    s->stats.undone++;
    if (obj->type->wake) obj->type->wake(s, obj);
}

/* Sends a successful reply built in s->out, whose result starts at result_off, and gives the
 * result back if it hands something over and cannot reach the peer. A result that references
 * objects gives the session a reference to each (refs.h), before it is sent. */
static void send_result(mpx__server *s, mpx__session *sess, mpx__obj *obj, const mpx__method *m,
                        size_t result_off)
{
    bool undoable = m->undo && obj->type->undo;
    size_t in_batch = s->batch.size + result_off - MPX_HDR_LEN, len = s->out.size - result_off;
    if (obj->ref_holder) /* the reader gets a reference to each object the result names */
        mpx__refs_give(sess, (const uint8_t *)s->out.data + result_off, len);
    if (mpx__frame_send(s, sess, MPX_K_REPLY)) {
        if (undoable && s->batch_session == sess)
            batch_undo[batch_undo_n++] = (undo_rec){obj->id, m, in_batch, len};
        return;
    }
    if (undoable) undo_result(s, sess, obj, m, (const uint8_t *)s->out.data + result_off, len);
}

void mpx__dispatch(mpx__server *s, mpx__session *sess, const uint8_t *body, size_t len)
{
    call_body cb;
    bool have_id;
    const char *why;
    int rc = parse_call(body, len, &cb, &have_id, &why);
    s->stats.calls++;
    if (rc) {
        refuse_malformed(s, sess, have_id, cb.req_id, rc, why);
        return;
    }
    mpx__req req = {.server = s,
                    .session = sess,
                    .req_id = cb.req_id,
                    .argc = cb.argc,
                    .argv = cb.argv,
                    .max_reply = s->cfg.max_message};
    const mpx__method *method = NULL;
    if (is_fenced(&cb) && (rc = unwrap_fenced(s, &cb, &req, &why)) != 0) {
        if (rc == MPX_EBADREQ || rc == MPX_EARGS)
            refuse_malformed(s, sess, true, cb.req_id, rc, why);
        else
            mpx__reply_error(s, sess, cb.req_id, rc, req.errmsg);
        return;
    }
    req.argc = cb.argc;
    if ((rc = check_call(s, &cb, &req, &method)) != 0) {
        /* a malformed body is reported first (protocol.md: the order of a call's checks) */
        if (check_last_arg(&cb, &why))
            refuse_malformed(s, sess, true, cb.req_id, MPX_EBADREQ, why);
        else
            mpx__reply_error(s, sess, cb.req_id, rc, req.errmsg);
        return;
    }
    if (!method->checks_last_arg && (rc = check_last_arg(&cb, &why)) != 0) {
        refuse_malformed(s, sess, true, cb.req_id, rc, why);
        return;
    }
    if (method->grows && (rc = mpx__memory_check(&req)) != 0) {
        mpx__reply_error(s, sess, cb.req_id, rc, req.errmsg);
        return;
    }
    req.out = mpx__reply_begin(s, cb.req_id);
    size_t result_off = s->out.size;
    s->in_handler = true;
    rc = method->fn(&req);
    s->in_handler = false;
    if (rc == MPX_PARKED) { /* answered later (blocked.c); parking may free something */
        if (req.obj->type->wake) req.obj->type->wake(s, req.obj);
        return;
    }
    if (rc == MPX_EBADREQ) { /* a checks_last_arg method refused its argument */
        refuse_malformed(s, sess, true, cb.req_id, rc, req.errmsg);
        return;
    }
    if (rc) {
        mpx__reply_error(s, sess, cb.req_id, rc, req.errmsg[0] ? req.errmsg : mpx_strerror(rc));
        return;
    }
    if (method->logged) mpx__persist_logged_call(s, req.obj, method, cb.argc, cb.argv);
    send_result(s, sess, req.obj, method, result_off);
    if (req.obj->type->wake) req.obj->type->wake(s, req.obj);
}

/* A BATCH is checked whole before any of its calls runs: an array of 1 to MPX_MAX_BATCH
 * well-formed msgpack objects and nothing after it. Each call is then run as if it had come
 * in its own CALL frame, in order. */
void mpx__dispatch_batch(mpx__server *s, mpx__session *sess, const uint8_t *body, size_t len)
{
    mpx__mp_cursor c;
    uint32_t n = 0;
    mpx__mp_init(&c, body, len);
    bool ok = mpx__mp_array(&c, &n) == 0 && n >= 1 && n <= MPX_MAX_BATCH;
    const uint8_t *first = c.p;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = mpx__mp_skip(&c) == 0;
    if (!ok || c.p != c.end) {
        s->stats.rejected_malformed++;
        mpx__dispatch_refuse(s, sess, true, body, len, MPX_EBADREQ,
                             "batch refused: a batch is an array of 1 to 1024 well-formed "
                             "calls and nothing after it");
        return;
    }
    mpx__batch_begin(s, sess);
    batch_undo_n = 0;
    c.p = first;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *call = c.p;
        mpx__mp_skip(&c);
        mpx__dispatch(s, sess, call, (size_t)(c.p - call));
    }
    if (mpx__batch_end(s, sess)) return;
    for (size_t i = 0; i < batch_undo_n; i++) {
        const undo_rec *u = &batch_undo[i];
        mpx__obj *obj = mpx__registry_find(&s->reg, u->obj_id);
        if (obj)
            undo_result(s, sess, obj, u->method, (const uint8_t *)s->batch.data + u->off, u->len);
    }
}
