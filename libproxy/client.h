/*
 * client.h — the connection layer of libmpx, shared by its files (internal).
 *
 *   connect.c    endpoints (checked and resolved before libzmq sees them), the socket, the
 *                handshake
 *   heartbeat.c  the heartbeat thread, and a new session in a fork()ed child
 *   call.c       the life of a call: sending (alone or batched), the reader that hands each
 *                reply to its caller, waiting, giving up (cancel, and taking back an answer
 *                that crossed the cancel)
 *   reconnect.c  connecting again after the connection or the session was lost
 *   client.c     the public client functions, and the client's lifetime
 *
 * A client is shared: the caller's handle, each proxy and each future hold a reference, so
 * that the memory outlives mpx_client_free() for as long as any of them exists; after that
 * free every call on them returns MPX_ECLOSED.
 */
#ifndef MPX_CLIENT_H
#define MPX_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <zmq.h>

#include "codec.h"
#include "internal.h"

#define MPX_PROXY_TAG 0x6d707870u /* "mpxp" */
#define MPX_DEAD_TAG 0xdeadbeefu
#define MPX_TYPE_NAME_MAX 24 /* longest type name, with its NUL */

/* Arguments of a call: either values packed as an array, or the bytes of an array. With a
 * fence lock, the call is sent as a fenced call (docs/protocol.md, "Fenced calls"). */
typedef struct {
    const mpx_value *const *items;
    size_t n;
    const void *raw;
    size_t raw_len;
    uint64_t fence_lock; /* 0: not fenced */
    uint64_t fence_token;
} mpx__args;

/* A successful call's result: the payload's bytes inside the reply frame. Close it with
 * mpx__result_close(). */
typedef struct {
    zmq_msg_t msg;
    const uint8_t *data;
    size_t len;
    mpx_client *client; /* whose session holds the references the result carries */
} mpx__result;

struct mpx_proxy {
    uint32_t tag;
    mpx_client *client; /* held: the memory lives while the proxy does */
    uint64_t id;
    char type[MPX_TYPE_NAME_MAX];
    uint64_t fence_lock, fence_token; /* mpx_proxy_fence(); lock 0: calls are not fenced */
    char *name;                       /* a named object's name, for opening it again; or NULL */
    bool stale; /* its object went with a session or a server state that is gone (ENOOBJ) */
    struct mpx_proxy *prev, *next; /* the client's open proxies */
};

/* What an answer that arrives after its caller gave up hands over, and how it goes back. */
typedef enum {
    UNDO_NONE,
    UNDO_ITEM,      /* a queue get's item: put_front([item]) */
    UNDO_ITEMS,     /* a get_many's items: put_front(items) */
    UNDO_ACQUIRE,   /* a lock acquire's [true, ...]: release(thread) */
    UNDO_REACQUIRE, /* a condition wait, which always re-acquires: release(thread) */
    UNDO_UNIT,      /* a semaphore acquire's true: release(1) */
    UNDO_LEASE,     /* a leased get's [lease, item]: nack(lease) */
} mpx__undo;

/* A call in flight, registered with its client from mpx__call_send() until its reply arrives,
 * its wait times out, or mpx__call_cancel(). The caller owns the memory (a stack frame for a
 * blocking call, the future for an asynchronous one) and closes `reply` when done. */
typedef struct mpx__pending {
    uint64_t req_id;
    unsigned fork_gen; /* the fork generation of the session that sent it */
    bool done;         /* the reply is in `reply`, or `failed` says why there is none */
    int failed;        /* a batch that held the call could not be sent: its error */
    zmq_msg_t reply;   /* the frame holding the reply (a REPLIES frame is shared) */
    size_t reply_off;  /* the reply body's place in that frame */
    size_t reply_len;
    uint64_t obj_id; /* the object called */
    bool parks;      /* the method may wait on the server: giving up sends a cancel */
    mpx__undo undo;  /* what to give back if its answer comes after it was given up */
    uint64_t thread; /* the calling thread, for a lock's release */
    struct mpx__pending *next;
} mpx__pending;

/* A call given up on while parked on the server: kept until the server answers its cancel,
 * so that an answer crossing the cancel is given back. */
typedef struct mpx__abandoned {
    uint64_t req_id;    /* the call given up */
    uint64_t cancel_id; /* the cancel sent for it */
    uint64_t obj_id;
    mpx__undo undo;
    uint64_t thread;
    struct mpx__abandoned *next;
} mpx__abandoned;

struct mpx_client {
    uint32_t tag;
    atomic_uint refs;        /* the caller's handle, each proxy and each future */
    atomic_bool closed;      /* mpx_client_free() ran: calls return MPX_ECLOSED */
    pthread_mutex_t mu;      /* owns the socket and everything below */
    pthread_mutex_t done_mu; /* owns `reader`, and publishes `done` and `broken` */
    pthread_cond_t cv;       /* with done_mu: a reply arrived, or the reader role is free */
    pthread_cond_t turn;     /* the reader waits here while senders use the socket */
    atomic_int want;         /* threads waiting to send */
    atomic_bool polling;     /* the reader is inside poll() */
    atomic_int users;        /* threads between mpx__client_lock() and mpx__client_unlock() */
    int wake_fd;             /* eventfd: pulls the reader out of its poll */
    int zmq_fd;              /* the socket's ZMQ_FD: readable when libzmq has news for it */
    int rcvtimeo_ms;         /* the socket's ZMQ_RCVTIMEO as last set; -1, libzmq's, at first */
    bool reader;             /* some thread is reading (under done_mu) */
    mpx__pending *pending;   /* calls waiting for replies, oldest first */
    mpx__pending *pending_tail;
    mpx__pending *settle;      /* mpx__call_settle()'s wait, done once `abandoned` empties */
    mpx__abandoned *abandoned; /* calls given up on whose cancel is unanswered */
    mpx__wbuf batch;           /* deferred calls: room for a header and array32, then bodies */
    uint32_t batch_n;          /* calls in it */
    mpx__pending *batch_first; /* the first of them in `pending`; the rest follow it */
    void *zctx;
    void *sock;
    int io_cpu;         /* the CPU for libzmq's I/O thread, or -1 to leave it to the system */
    char *endpoint;     /* as the caller gave it */
    char *zmq_endpoint; /* what libzmq connects to: a tcp host name resolved */
    uint8_t *authkey;   /* kept for the new session after a fork; wiped on free */
    size_t keylen;
    uint64_t sid;       /* the session id WELCOME gave, for messages */
    uint64_t max_frame; /* the largest frame the server's transport reads (WELCOME) */
    atomic_uint_fast64_t next_req;
    size_t max_message;
    atomic_int timeout_ms;  /* the default call timeout; read without mu */
    int connect_timeout_ms; /* for the handshake, and a fork()ed child's */
    int broken;             /* a sticky transport error; 0 while the connection is good */
    char broken_msg[200];
    atomic_uint fork_gen;       /* the fork generation this client's session belongs to */
    mpx_proxy *proxies;         /* open proxies, re-attached after a fork */
    atomic_int heartbeat_ms;    /* a quarter of the server's session timeout */
    int64_t last_send_ms;       /* when a frame last went out */
    int64_t last_recv_ms;       /* when a frame last came in */
    struct mpx_client *hb_next; /* in the heartbeat list */
    /* reconnect.c */
    pthread_mutex_t reconnect_mu; /* one reconnection at a time, and the proxy list kept */
    atomic_bool reconnect;        /* connect again after the connection is lost */
    atomic_bool lost;             /* broken with MPX_ECONN: the next call reconnects */
    int64_t retry_at_ms;          /* no attempt before this */
    int retry_ms;                 /* the wait after the next failed attempt */
    uint64_t state_id;            /* WELCOME's "state": the server's state this session sees */
    atomic_uint_fast64_t reconnects;
};

/* ---- client.c ----------------------------------------------------------------------------- */

/* Checks a client handle's tag. */
bool mpx__client_ok(const mpx_client *c);
/* One more reference to c's memory (a proxy's, a future's) / one less; the last frees it. */
void mpx__client_hold(mpx_client *c);
void mpx__client_release(mpx_client *c);
/* Sets up the client's mutexes and condition variables (again, in a fork()ed child). */
void mpx__client_sync_init(mpx_client *c);
/* Adds a proxy to / removes it from its client's list of open proxies. */
void mpx__client_link(mpx_client *c, mpx_proxy *p);
void mpx__client_unlink(mpx_client *c, mpx_proxy *p);
/* The client's default call timeout in ms. */
int mpx__client_timeout(mpx_client *c);

/* ---- connect.c ---------------------------------------------------------------------------- */

/* Checks endpoint's form, resolves a tcp host and tries a plain connection, so that a server
 * that is not there is reported at once with its cause; on success *zmq_ep is the endpoint for
 * libzmq (caller frees). Returns 0, MPX_EINVAL (bad form), MPX_ECONN or MPX_ETIMEDOUT. */
int mpx__endpoint_check(const char *endpoint, int timeout_ms, char **zmq_ep);
/* Opens the socket and runs the handshake (c's endpoint, key and timeouts set). */
int mpx__session_open(mpx_client *c);
/* Closes the socket, its context and the wake-up descriptor. */
void mpx__session_close(mpx_client *c);
/* Turns an ERROR frame's body [code, message] into an error. */
int mpx__frame_error(const mpx__frame *f, const char *during);

/* ---- reconnect.c -------------------------------------------------------------------------- */

/* Before a call: if the connection or the session was lost (the client is broken with
 * MPX_ECONN) and reconnecting is on, connects again (no sooner than the back-off allows),
 * with a new handshake, and attaches the open proxies to the new session. Returns 0 when the
 * client is usable (or was never broken), else the error the call fails with. */
int mpx__client_reconnect(mpx_client *c);

/* ---- heartbeat.c -------------------------------------------------------------------------- */

/* Registers the fork handler, once per process. */
void mpx__fork_init(void);
/* This process's fork generation: a child's first call sees it differ from its clients'. */
unsigned mpx__fork_gen(void);
/* The first call in a forked child: a session of the child's own, its proxies attached. */
int mpx__client_after_fork(mpx_client *c);
/* In a child, a client it never used: its inherited context is not ours to close. */
void mpx__client_disown_socket(mpx_client *c);
void mpx__heartbeat_start(mpx_client *c);
void mpx__heartbeat_stop(mpx_client *c);

/* ---- call.c ------------------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in milliseconds. */
int64_t mpx__clock_ms(void);

/* Takes / gives up the client's mutex, pulling the reader out of poll() first. */
void mpx__client_lock(mpx_client *c);
void mpx__client_unlock(mpx_client *c);

/* Marks the connection broken: every waiting and later call returns code with message why.
 * Under mu. Returns code. */
int mpx__client_break(mpx_client *c, int code, const char *why);

/* Sends a HEARTBEAT (or the buffered calls) if nothing went out for a heartbeat interval. */
void mpx__heartbeat_send(mpx_client *c, int64_t now);

/* Sends the buffered calls. Under mu. */
int mpx__batch_flush(mpx_client *c);
/* Empties the send buffer, keeping its memory. */
void mpx__batch_reset(mpx_client *c);

/* Packs one call to object obj_id (a proxy of type `type`; NULL for the manager) and
 * registers p for its reply; never waits. With `defer` the call joins the client's send
 * buffer, which goes out as one BATCH frame when it fills, before a wait on a call still
 * unanswered, or on mpx_client_flush(); without, it goes out now (with whatever is buffered).
 * Returns 0, MPX_EINVAL, MPX_ENOMEM, MPX_ETOOBIG, MPX_ECLOSED or a transport error (then p is
 * not registered and needs no cleanup). */
int mpx__call_send(mpx_client *c, uint64_t obj_id, const char *type, const char *method,
                   const mpx__args *args, bool defer, mpx__pending *p);

/* The deadline, in CLOCK_MONOTONIC ms, of a call with timeout_ms (MPX_TIMEOUT_DEFAULT: the
 * client's default; MPX_FOREVER: none) sent now. */
int64_t mpx__call_deadline(mpx_client *c, int timeout_ms);

/* Waits until p's reply arrives or the deadline passes, then reads the reply into *res (res
 * may be NULL). Returns 0, a remote error, MPX_ETIMEDOUT (p is then given up: cancelled on the
 * server if it parks there), MPX_ECLOSED or a transport error. */
int mpx__call_wait(mpx_client *c, mpx__pending *p, int64_t deadline, mpx__result *res);

/* Reads the replies already queued, without waiting; true once p's wait would not block. */
bool mpx__call_poll(mpx_client *c, mpx__pending *p);

/* Gives p up if its reply has not come (as a timeout does), and closes it. */
void mpx__call_cancel(mpx_client *c, mpx__pending *p);

/* Waits, until the deadline at most, for the server to answer the cancels of calls given up
 * on, giving back what crossed them (before the session ends). */
void mpx__call_settle(mpx_client *c, int64_t deadline);

/* Forgets every call given up on (a fork()ed child; a freed client). Under mu. */
void mpx__abandoned_clear(mpx_client *c);

/* Fails every call waiting for a reply with code (the session they were sent on is gone),
 * and empties the send buffer. Under mu. */
void mpx__calls_fail_all(mpx_client *c, int code);

/* Calls method on object obj_id and waits for the reply. On success *res holds the result
 * (res may be NULL to discard it); on a remote error, mpx_last_error() holds its message. */
int mpx__invoke(mpx_client *c, uint64_t obj_id, const char *type, const char *method,
                const mpx__args *args, int timeout_ms, mpx__result *res);

void mpx__result_close(mpx__result *res);

/* Decodes the result as a value, its object references claimed by the client (internal.h).
 * Caller owns *out. With out NULL the result is discarded, its references released. */
int mpx__result_value(const mpx__result *res, mpx_value **out);

/* ---- proxy.c: helpers for the typed proxy files ------------------------------------------- */

/* Attaches p to its client's current session (after a fork or a reconnection) / opens its
 * name again on a server whose state is new (reconnect.c). An object that is gone, or a name
 * that is another type's now, or an anonymous proxy on a new state, makes p stale. Return 0
 * or a transport error. */
int mpx__proxy_reattach(mpx_client *c, mpx_proxy *p);
int mpx__proxy_reopen(mpx_client *c, mpx_proxy *p);

/* Gives a call on p the proxy's fence (mpx_proxy_fence()), if it has one. */
void mpx__args_fence(const mpx_proxy *p, mpx__args *a);

/* Checks a proxy's tag, that its client is open, and, if type is not NULL, its type.
 * Returns 0, MPX_EINVAL or MPX_ECLOSED. */
int mpx__proxy_check(const mpx_proxy *p, const char *type);

/* Opens or creates an object through the manager (open(name, type [, cargs]) or
 * create(type [, cargs]); cargs, the creation arguments, is an array or NULL) and makes its
 * proxy. */
int mpx__proxy_open(mpx_client *c, const char *name, const char *type, const mpx_value *cargs,
                    mpx_proxy **out);

/* Calls method with items, none NULL (a constructor that failed is the caller's to report),
 * and decodes the result into *out (NULL: discard it). */
int mpx__call_items(mpx_proxy *p, const char *method, const mpx_value *const *items, size_t n,
                    int timeout_ms, mpx_value **out);

/* Calls method on p (checked to be of type, unless NULL) with the values made[0..n), which
 * the caller built for the call and which are freed here whatever happens (a NULL one: its
 * constructor ran out of memory), then the caller's own given[0..m) (a NULL one is
 * MPX_EINVAL). At most MPX_MAX_CALL_ITEMS values in all. */
#define MPX_MAX_CALL_ITEMS 8
int mpx__call_made(mpx_proxy *p, const char *type, const char *method, mpx_value **made, size_t n,
                   const mpx_value *const *given, size_t m, mpx_value **out);

/* As mpx__call_items(), for a method whose answer is a bool / an unsigned count. */
int mpx__call_bool(mpx_proxy *p, const char *method, const mpx_value *const *items, size_t n,
                   int timeout_ms, bool *out);
int mpx__call_uint(mpx_proxy *p, const char *method, uint64_t *out);
int mpx__call_size(mpx_proxy *p, const char *method, size_t *out);

/* mpx__proxy_open() with creation arguments (each non-NULL, else MPX_ENOMEM: the caller's
 * constructor failed), consumed whatever happens. */
int mpx__proxy_open_args(mpx_client *c, const char *name, const char *type, mpx_value **args,
                         size_t n, mpx_proxy **out);

/* Makes freed values release the references they claimed (proxy.c); once per process. */
void mpx__refs_init(void);

/* A slice bound as an argument: nil for MPX_SLICE_NONE, else the integer (list.c). NULL if
 * out of memory. */
mpx_value *mpx__bound(int64_t v);

/* Reads an optional value sent as [v] or []: *out v taken out of opt, or NULL for []. Caller owns
 * *out (shared_value.c). Returns 0, MPX_EPROTO or MPX_ENOMEM. */
int mpx__opt_take(mpx_value *opt, mpx_value **out);

/* Reads a cas result [swapped, current] (current as [v] / [] when optional) into *swapped and
 * *current (each may be NULL; *current NULL when absent). Caller owns *current. */
int mpx__cas_result(mpx_value *res, bool optional, bool *swapped, mpx_value **current);

/* A blocking method's (block, timeout) arguments and the call's own timeout, for wait_ms (0,
 * ms, MPX_FOREVER or MPX_TIMEOUT_DEFAULT): the call waits on the client as long as on the
 * server plus the client's default, or without limit. */
typedef struct {
    mpx_value *block;
    mpx_value *timeout;
    int call_timeout;
} mpx__wait;

/* Fills w for wait_ms; on success free it with mpx__wait_free(). Returns 0, MPX_EINVAL or
 * MPX_ENOMEM. */
int mpx__wait_make(mpx_proxy *p, int wait_ms, mpx__wait *w);
void mpx__wait_free(mpx__wait *w);

/* Lock.acquire / Lock.release on any proxy whose object has them (a lock, an rlock, a
 * condition), sending the calling thread's id (lock.c). */
int mpx__lock_acquire(mpx_proxy *l, int wait_ms, bool *acquired, uint64_t *fence, bool *owner_died);
int mpx__lock_release(mpx_proxy *l);

/* Reads an acquire's answer [acquired, fence, owner_died] (a condition wait's too: [notified,
 * ...]); fence and owner_died may be NULL. Returns 0 or MPX_EPROTO. */
int mpx__read_acquire(const mpx_value *v, bool *acquired, uint64_t *fence, bool *owner_died);

/* The calling thread's id, as RLock ownership uses it. */
uint64_t mpx__thread_id(void);

/* Saves and restores the calling thread's last error, so that a cleanup function leaves the
 * caller's error as it was. */
typedef struct {
    char msg[512];
} mpx__error_stash;
void mpx__error_save(mpx__error_stash *s);
void mpx__error_restore(const mpx__error_stash *s);

#endif
