/*
 * object.h — what every object type provides to the dispatcher, and the request a method
 * handler sees (internal to mpxd).
 *
 * A type is one server/t_<type>.c file that ends in a method table and exports one
 * mpx__type_<type>. The dispatcher (dispatch.c) checks the session, the object, the method
 * and the argument count before a handler runs, so handlers never repeat those checks.
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
} mpx__method;

/* Checks that arg is one well-formed msgpack object with nothing after it, as dispatch
 * checks every argument. Returns 0, or MPX_EBADREQ with *why set to dispatch's reason (a
 * static string). */
int mpx__arg_check(const mpx__span *arg, const char **why);

struct mpx__type {
    const char *name; /* the type's name on the wire: "dict" */
    /* Makes the object's state from the creation arguments (argv as for a method). Returns 0
     * or an error through mpx__req_fail(). */
    int (*create)(mpx__req *req, void **state);
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
    const mpx__method *methods;
    size_t n_methods;
};

/* An object in the registry. */
struct mpx__obj {
    uint64_t id; /* never 0 */
    const mpx__type *type;
    char *name;    /* NULL for an anonymous object */
    uint64_t refs; /* references held by sessions and by parked calls */
    void *state;   /* the type's own */
};

/* Records an error for the reply and returns code (a negative MPX_E* code). */
int mpx__req_fail(mpx__req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short printable rendering of one msgpack object, for error messages: strings quoted and
 * truncated, numbers as numbers, containers by kind. Always NUL-terminates out. */
void mpx__repr(const mpx__span *s, char *out, size_t outlen);

/* The method named name[0..len) of a type, or NULL. */
const mpx__method *mpx__type_method(const mpx__type *t, const char *name, size_t len);

/* Every object type mpxd serves, NULL-terminated. */
extern const mpx__type *const mpx__types[];
const mpx__type *mpx__type_find(const char *name, size_t len);

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

#endif
