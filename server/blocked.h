/*
 * blocked.h — calls that must wait: parked with a deadline and answered later (internal to
 * mpxd). blocked.c opens with the lifecycle.
 */
#ifndef MPX_SERVER_BLOCKED_H
#define MPX_SERVER_BLOCKED_H

#include <stdint.h>

#include "object.h"

#define MPX_PARKED 1 /* a handler's return value: no reply now, the call is parked */
#define MPX_NO_DEADLINE INT64_MAX

/* A FIFO of parked calls: one per thing to wait for (a queue's getters, its putters, ...). */
typedef struct {
    mpx__parked *head;
    mpx__parked *tail;
    size_t n;
} mpx__waitq;

struct mpx__parked {
    uint64_t req_id;
    mpx__session *session;
    mpx__obj *obj; /* held (mpx__registry_hold) while parked */
    mpx__waitq *q;
    int64_t deadline_ms; /* MPX_NO_DEADLINE: waits until woken */
    size_t heap_index;
    mpx__parked *prev, *next;     /* in q, oldest first */
    mpx__parked *s_prev, *s_next; /* in the session's list */
    uint8_t *data;                /* a copy of what the call carries (a put's item), or NULL */
    size_t len;
    bool data_refs; /* data holds object references (refs.h): dropped with it */
    uint64_t arg;   /* a small number the type keeps (a get_many's count) */
    uint64_t arg2;
    bool flag;
    /* For a call parked on another object's queue (a Condition.wait re-acquiring its lock):
     * what that object calls instead of its usual answer when it serves this call. */
    void (*granted)(mpx__server *s, mpx__parked *p, mpx__obj *by);
};

/* Parks req on q until woken or until timeout_ms from now (MPX_NO_DEADLINE: no limit),
 * keeping a copy of data (may be NULL; its object references, checked by the handler, are
 * held by the copy). The handler then returns MPX_PARKED. */
mpx__parked *mpx__park(mpx__req *req, mpx__waitq *q, int64_t timeout_ms, const mpx__span *data);

/* Moves a parked call to the tail of another wait queue with a new timeout (MPX_NO_DEADLINE
 * for none). It stays the same call of the same session. */
void mpx__parked_move(mpx__server *s, mpx__parked *p, mpx__waitq *q, int64_t timeout_ms);

/* Whether the parked call's peer is already known to be gone: a type skips it (drops it)
 * rather than hand it anything. */
bool mpx__parked_gone(const mpx__parked *p);

/* Starts the reply to a parked call: the caller packs exactly one result object into the
 * returned packer, then calls mpx__parked_finish(). */
msgpack_packer *mpx__parked_reply(mpx__server *s, mpx__parked *p);

/* Sends the reply begun with mpx__parked_reply() and frees the parked call; the session gets
 * a reference to each object the result references (refs.h). Returns whether it reached the
 * peer: if not, the caller takes back what the result handed over. */
bool mpx__parked_finish(mpx__server *s, mpx__parked *p);

/* Answers a parked call with an error and frees it. */
void mpx__parked_fail(mpx__server *s, mpx__parked *p, int code, const char *msg);

/* Frees a parked call without answering it (its peer is gone, or gave up on it). */
void mpx__parked_drop(mpx__server *s, mpx__parked *p);

/* Answers every call parked on q with an error (its object is being deleted). */
void mpx__waitq_fail_all(mpx__server *s, mpx__waitq *q, int code, const char *msg);

/* Cancels sess's parked call req_id (the manager's cancel method): the type's cancel hook, or
 * a drop. Returns whether there was one. */
bool mpx__blocked_cancel(mpx__server *s, mpx__session *sess, uint64_t req_id);

/* Reads a blocking method's optional (block: bool, timeout: nil or uint ms) arguments from
 * argv[first] on, as Python's queue and threading take them: *wait_ms is 0 (do not wait),
 * MPX_NO_DEADLINE, or milliseconds. Returns 0, MPX_ETYPE or MPX_EVALUE. */
int mpx__wait_args(mpx__req *req, uint32_t first, int64_t *wait_ms);

/* Reads an optional timeout (nil or uint ms) from argv[i]: MPX_NO_DEADLINE when absent or nil.
 * Returns 0 or MPX_EVALUE. */
int mpx__timeout_arg(mpx__req *req, uint32_t i, int64_t *wait_ms);

/* Reads the optional thread id (a uint naming the calling thread, for RLock ownership) from
 * argv[i]: 0 when absent. Returns 0 or MPX_ETYPE. */
int mpx__thread_arg(mpx__req *req, uint32_t i, uint64_t *thread);

/* The milliseconds until the next deadline (at most cap), for the loop's wait. */
int mpx__blocked_next_ms(const mpx__server *s, int64_t now_ms, int cap);

/* Has obj's type's expire hook called at at_ms (CLOCK_MONOTONIC ms), or soon after: for a
 * deadline that belongs to no call (a queue's lease). The object is named by id, so a deleted
 * object's deadline comes to nothing. */
void mpx__timer_at(mpx__server *s, const mpx__obj *obj, int64_t at_ms);

/* Times out every parked call whose deadline has passed, through its type's timeout hook. */
void mpx__blocked_expire(mpx__server *s, int64_t now_ms);

/* Frees the deadlines of mpx__timer_at() (at shutdown). */
void mpx__timers_free(mpx__server *s);

/* Forgets a session's parked calls without answering them: its peer is gone. */
void mpx__blocked_drop_session(mpx__server *s, mpx__session *sess);

/* Answers every parked call with MPX_ESHUTDOWN (mpxd is stopping). */
void mpx__blocked_shutdown(mpx__server *s);

#endif
