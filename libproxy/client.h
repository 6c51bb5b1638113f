/*
 * client.h — the connection layer of libmpx shared by the proxy files (internal).
 */
#ifndef MPX_CLIENT_H
#define MPX_CLIENT_H

#include <zmq.h>

#include "codec.h"
#include "internal.h"

#define MPX_PROXY_TAG 0x6d707870u /* "mpxp" */
#define MPX_DEAD_TAG 0xdeadbeefu
#define MPX_TYPE_NAME_MAX 24 /* longest type name, with its NUL */

/* Arguments of a call: either values packed as an array, or the bytes of an array. */
typedef struct {
    const mpx_value *const *items;
    size_t n;
    const void *raw;
    size_t raw_len;
} mpx__args;

/* A successful call's result: the payload's bytes inside the reply frame. Close it with
 * mpx__result_close(). */
typedef struct {
    zmq_msg_t msg;
    const uint8_t *data;
    size_t len;
} mpx__result;

struct mpx_proxy {
    uint32_t tag;
    mpx_client *client; /* NULL once the client is freed */
    uint64_t id;
    char type[MPX_TYPE_NAME_MAX];
    struct mpx_proxy *prev, *next; /* the client's open proxies */
};

/* A call in flight, registered with its client from mpx__call_send() until its reply arrives,
 * its wait times out, or mpx__call_cancel(). The caller owns the memory (a stack frame for a
 * blocking call, the future for an asynchronous one) and closes `reply` when done. */
typedef struct mpx__pending {
    uint64_t req_id;
    unsigned fork_gen; /* the fork generation of the session that sent it */
    bool done;         /* the reply is in `reply`, or `failed` says why there is none */
    bool orphaned;     /* the client was freed while the call was in flight */
    int failed;        /* a batch that held the call could not be sent: its error */
    zmq_msg_t reply;   /* the frame holding the reply (a REPLIES frame is shared) */
    size_t reply_off;  /* the reply body's place in that frame */
    size_t reply_len;
    struct mpx__pending *next;
} mpx__pending;

/* Packs one call and registers p for its reply; never waits. With `defer` the call joins the
 * client's send buffer, which goes out as one BATCH frame when it fills, before a wait on a
 * call still unanswered, or on mpx_client_flush(); without, it goes out now (with whatever is
 * buffered). Returns 0, MPX_EINVAL, MPX_ENOMEM, MPX_ETOOBIG or a transport error (then p is
 * not registered and needs no cleanup). */
int mpx__call_send(mpx_client *c, uint64_t obj_id, const char *method, const mpx__args *args,
                   bool defer, mpx__pending *p);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t mpx__clock_ms(void);

/* The deadline, in CLOCK_MONOTONIC ms, of a call with timeout_ms (MPX_TIMEOUT_DEFAULT: the
 * client's default; MPX__NO_TIMEOUT: none) sent now. */
int64_t mpx__call_deadline(mpx_client *c, int timeout_ms);

/* Waits until p's reply arrives or the deadline passes, then reads the reply into *res (res
 * may be NULL). Returns 0, a remote error, MPX_ETIMEDOUT (p is then unregistered), MPX_ECLOSED
 * (the client was freed) or a transport error. */
int mpx__call_wait(mpx_client *c, mpx__pending *p, int64_t deadline, mpx__result *res);

/* Reads the replies already queued, without waiting; true once p's wait would not block. */
bool mpx__call_poll(mpx_client *c, mpx__pending *p);

/* Unregisters p if its reply has not come (a late reply is then dropped) and closes it. */
void mpx__call_cancel(mpx_client *c, mpx__pending *p);

/* Calls method on object obj_id and waits for the reply. On success *res holds the result
 * (res may be NULL to discard it); on a remote error, mpx_last_error() holds its message. */
int mpx__invoke(mpx_client *c, uint64_t obj_id, const char *method, const mpx__args *args,
                int timeout_ms, mpx__result *res);

void mpx__result_close(mpx__result *res);

/* Decodes the result as a value. Caller owns *out. */
int mpx__result_value(const mpx__result *res, mpx_value **out);

/* Adds a proxy to / removes it from its client's list of open proxies. */
void mpx__client_link(mpx_client *c, mpx_proxy *p);
void mpx__client_unlink(mpx_client *c, mpx_proxy *p);

/* Checks a client handle's tag. */
bool mpx__client_ok(const mpx_client *c);

/* Checks a proxy's tag, that its client is open, and, if type is not NULL, its type.
 * Returns 0, MPX_EINVAL or MPX_ECLOSED. */
int mpx__proxy_check(const mpx_proxy *p, const char *type);

/* Opens or creates an object through the manager (open(name, type [, cargs]) or
 * create(type [, cargs]); cargs, the creation arguments, is an array or NULL) and makes its
 * proxy. */
int mpx__proxy_open(mpx_client *c, const char *name, const char *type, const mpx_value *cargs,
                    mpx_proxy **out);

/* A call timeout meaning "no limit": for calls that wait without a deadline. */
#define MPX__NO_TIMEOUT INT32_MAX

/* Calls method with items (each must be non-NULL: a NULL item is taken for a failed
 * allocation) and decodes the result into *out (NULL: discard it). */
int mpx__call_items(mpx_proxy *p, const char *method, const mpx_value *const *items, size_t n,
                    int timeout_ms, mpx_value **out);

/* As mpx__call_items(), for a method whose answer is a bool / an unsigned count. */
int mpx__call_bool(mpx_proxy *p, const char *method, const mpx_value *const *items, size_t n,
                   int timeout_ms, bool *out);
int mpx__call_uint(mpx_proxy *p, const char *method, uint64_t *out);
int mpx__call_size(mpx_proxy *p, const char *method, size_t *out);

/* mpx__proxy_open() with one unsigned creation argument (a maxsize, a value). */
int mpx__proxy_open_uint(mpx_client *c, const char *name, const char *type, uint64_t arg,
                         mpx_proxy **out);

/* Checks a wait_ms argument (0, ms, or MPX_FOREVER) and gives the call's own timeout: the
 * wait plus the client's default, or none for MPX_FOREVER. Returns 0 or MPX_EINVAL. */
int mpx__wait_call_timeout(mpx_proxy *p, int wait_ms, int *call_timeout);

/* The wire timeout for wait_ms: nil for MPX_FOREVER, else the milliseconds (0: do not wait).
 * Caller owns the result; NULL if out of memory. */
mpx_value *mpx__wait_value(int wait_ms);

/* A blocking method's (block, timeout) arguments and the call's own timeout, for wait_ms. */
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

/* The calling thread's id, as RLock ownership uses it. */
uint64_t mpx__thread_id(void);

/* The client's default call timeout in ms. */
int mpx__client_timeout(mpx_client *c);

#endif
