/*
 * object.h — what every object type provides to the dispatcher, and the request a method
 * handler sees (internal to mpxd).
 *
 * A type is one server/t_<type>.c file that ends in a method table and exports one
 * mpx__type_<type>, listed in types.c. The dispatcher (dispatch.c) checks the session, the
 * object, the method and the argument count before a handler runs, so handlers never repeat
 * those checks.
 */
#ifndef MPX_SERVER_OBJECT_H
#define MPX_SERVER_OBJECT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define MPX_MAX_ARGS 16 /* the most arguments any method takes; more is MPX_EARGS */

typedef struct mpx__type mpx__type;
typedef struct mpx__obj mpx__obj;
typedef struct mpx__session mpx__session;
typedef struct mpx__server mpx__server;
typedef struct mpx__parked mpx__parked;

/* One argument: the bytes of one msgpack object inside the request frame. */
typedef struct {
    const uint8_t *p;
    size_t len;
} mpx__span;

/* A request as a handler sees it. The result goes into out: exactly one msgpack object on
 * success. On failure the handler returns mpx__req_fail(); whatever it packed is discarded. */
typedef struct {
    mpx__server *server;
    mpx__session *session;
    mpx__obj *obj;
    uint64_t req_id;
    uint32_t argc;
    const mpx__span *argv;
    msgpack_packer *out;
    size_t max_reply; /* the largest result a reply may carry (--max-message) */
    char errmsg[256]; /* set by mpx__req_fail() */
} mpx__req;

typedef int (*mpx__method_fn)(mpx__req *req);

typedef struct {
    const char *name;
    mpx__method_fn fn;
    uint8_t min_args;
    uint8_t max_args;
    /* The method checks its last argument itself: dispatch hands it over unwalked, as the
     * rest of the body, and the method must refuse it (mpx__arg_check) unless it is one
     * well-formed object with nothing after it, nested to MPX_MAX_DEPTH, before it changes
     * anything. */
    bool checks_last_arg;
    /* The method may store more: past --max-memory it is refused before it runs. */
    bool grows;
    /* Its result hands something over (an item, a unit): when the reply cannot reach the
     * peer, the type's undo hook takes it back. */
    bool undo;
    /* With --data-dir, a successful call is logged as it came (persist.h): what it changes
     * depends only on the object and the arguments. Methods whose effect depends on more log
     * that effect themselves. */
    bool logged;
    /* Only replayed from the data files, never served: the effects types log. */
    bool replay_only;
} mpx__method;

typedef struct mpx__records mpx__records;

/* Checks that arg is one well-formed msgpack object with nothing after it, as dispatch
 * checks every argument. Returns 0, or MPX_EBADREQ with *why set to one of these reasons. */
#define MPX__WHY_BADARGS "malformed msgpack in the arguments"
#define MPX__WHY_TRAILING "trailing bytes after the call"
int mpx__arg_check(const mpx__span *arg, const char **why);

struct mpx__type {
    const char *name; /* the type's name on the wire: "dict" */
    /* Makes the object's state from the creation arguments (argv as for a method). Returns 0
     * or an error through mpx__req_fail(). */
    int (*create)(mpx__req *req, void **state);
    /* Frees the state (or hands it to lazyfree.h when freeing it is long). */
    void (*destroy)(void *state);
    /* Answers a parked call whose deadline passed (blocked.c); NULL for a type that never
     * parks. */
    void (*timeout)(mpx__server *s, mpx__parked *p);
    /* Runs after every successful call on an object of this type, once its reply is sent,
     * to answer the parked calls the call made possible; NULL for a type that never parks. */
    void (*wake)(mpx__server *s, mpx__obj *obj);
    /* The session `sess` ended while owning something in obj (`count` mpx__session_own()
     * calls not undone): give it back. The wake hook runs right after. NULL for a type nothing
     * can be owned in. */
    void (*session_lost)(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t count);
    /* The client gave up on a parked call (manager.cancel): forget it, leaving the object as
     * if it had never parked. NULL: the call is simply dropped. */
    void (*cancel)(mpx__server *s, mpx__parked *p);
    /* A result of method m (marked undo) for session sess could not reach its peer: take back
     * what it handed over; result is the result's msgpack bytes. The wake hook runs right
     * after. */
    void (*undo)(mpx__server *s, mpx__session *sess, mpx__obj *obj, const mpx__method *m,
                 const uint8_t *result, size_t len);
    /* A deadline the object set with mpx__timer_at() has come (a queue's lease ran out). It
     * may have been set more than once: the hook looks at what is due by now_ms. The wake
     * hook runs right after. NULL for a type that sets none. */
    void (*expire)(mpx__server *s, mpx__obj *obj, int64_t now_ms);
    /* The object is being deleted: answer every call parked on it with code and msg
     * (mpx__waitq_fail_all). NULL for a type that never parks. */
    void (*fail_parked)(mpx__server *s, mpx__obj *obj, int code, const char *msg);
    /* Its size in the manager's listing: items held, or calls waiting for a synchronisation
     * object. */
    uint64_t (*size)(const void *state);
    /* A deleted object of this type keeps its state until its last reference goes (a lock,
     * which a condition on it still uses); other types' state is freed at deletion. */
    bool keeps_state_deleted;
    /* For a snapshot (snapshot.c): packs the creation arguments, one array, of an object like
     * obj (whose state is NULL when it was deleted and its state freed); NULL: none. */
    void (*dump_args)(const mpx__obj *obj, msgpack_packer *pk);
    /* Packs the records that fill an object made with those arguments with obj's contents
     * (mpx__record_call); NULL: nothing to fill. */
    void (*dump)(const mpx__obj *obj, mpx__records *w);
    const mpx__method *methods;
    size_t n_methods;
};

/* An object in the registry. */
struct mpx__obj {
    uint64_t id; /* never 0 */
    const mpx__type *type;
    char *name;      /* NULL for an anonymous object */
    uint64_t refs;   /* references held by sessions, parked calls, owners and containers */
    void *state;     /* the type's own */
    bool ref_holder; /* has stored a value with object references (refs.h) */
};

/* Records an error for the reply and returns code (a negative MPX_E* code). */
int mpx__req_fail(mpx__req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Results a handler packs into req->out; each returns 0. */
int mpx__reply_nil(mpx__req *req);
int mpx__reply_bool(mpx__req *req, bool b);
int mpx__reply_uint(mpx__req *req, uint64_t v);
/* Bytes that already are one msgpack object. */
int mpx__reply_raw(mpx__req *req, const void *p, size_t len);

/* Packs a bool (for a parked call's reply). */
void mpx__pack_bool(msgpack_packer *pk, bool b);

/* Reads argument i as an unsigned integer. Returns 0, or MPX_ETYPE with the message set. */
int mpx__arg_uint(mpx__req *req, uint32_t i, const char *what, uint64_t *v);

/* Reads argument i as a signed 64-bit integer. Returns 0, MPX_ETYPE (not an integer) or
 * MPX_EINDEX (beyond the signed range), with the message set. */
int mpx__arg_int(mpx__req *req, uint32_t i, const char *what, int64_t *v);

/* A short printable rendering of one msgpack object, for error messages: strings quoted and
 * truncated, numbers as numbers, containers by kind. Always NUL-terminates out. */
void mpx__repr(const mpx__span *s, char *out, size_t outlen);

/* Copies s[0..len) for a message, each byte outside printable ASCII as '?', so that what mpxd
 * sends is always valid UTF-8. Always NUL-terminates out. */
void mpx__printable(char *out, size_t size, const uint8_t *s, size_t len);

/* MPX_EMEMLIMIT (counted, message set) when mpxd holds more than --max-memory, else 0: checked
 * by dispatch before a method that grows, and by a handler that stores more only on some
 * paths (manager.open creating). */
int mpx__memory_check(mpx__req *req);

/* The method named name[0..len) of a type, or NULL (types.c). */
const mpx__method *mpx__type_method(const mpx__type *t, const char *name, size_t len);

/* The object type named name[0..len), or NULL (types.c). */
const mpx__type *mpx__type_find(const char *name, size_t len);

/* The types mpxd serves, by index 0..MPX__N_TYPES-1 (for counts by type). */
#define MPX__N_TYPES 24
size_t mpx__type_index(const mpx__type *t);
const mpx__type *mpx__type_at(size_t i); /* NULL past the last */

extern const mpx__type mpx__type_manager;
extern const mpx__type mpx__type_dict;
extern const mpx__type mpx__type_value;
extern const mpx__type mpx__type_queue;
extern const mpx__type mpx__type_joinable_queue;
extern const mpx__type mpx__type_lock;
extern const mpx__type mpx__type_rlock;
extern const mpx__type mpx__type_event;
extern const mpx__type mpx__type_semaphore;
extern const mpx__type mpx__type_bounded_semaphore;
extern const mpx__type mpx__type_barrier;
extern const mpx__type mpx__type_condition;
extern const mpx__type mpx__type_list;
extern const mpx__type mpx__type_set;
extern const mpx__type mpx__type_namespace;
extern const mpx__type mpx__type_typed_value;
extern const mpx__type mpx__type_array;

#endif
