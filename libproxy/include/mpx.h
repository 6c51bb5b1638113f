/*
 * mpx.h — the one public header of libmpx, the client library of mpx.
 *
 * mpx shares objects (dicts, lists, sets, namespaces, values, arrays, queues, locks, events,
 * semaphores, barriers, conditions) between processes, on one machine or across hosts, through a
 * manager server, mpxd. A client connects with an endpoint and an authkey, opens proxies to objects
 * and calls their methods; every call is one authenticated msgpack message over ZeroMQ.
 *
 * Conventions, which hold for every function below:
 *  - A function that can fail returns 0 on success or a negative MPX_E* code, and hands its
 *    results back through out-parameters, which it sets only on success.
 *  - The detailed message of the calling thread's last failure is mpx_last_error().
 *  - Ownership is stated above each declaration in one of three phrases: "Caller owns the
 *    result; free it with mpx_x_free()", "Borrowed; valid until <event>", or "Takes ownership
 *    of *p on success and sets it to NULL; on failure the caller still owns it".
 *  - Destructors take T **, set the caller's pointer to NULL and accept NULL.
 *  - Handles are safe to use from several threads at once, and keep working in a child after
 *    fork() (the child opens its own session the first time it uses them).
 *  - A background thread sends heartbeats on every open client, so a quiet program keeps its
 *    session; mpxd ends the session of a process that died and releases what it held.
 *
 * docs/api.md documents every function in full; docs/protocol.md documents the wire.
 */
#ifndef MPX_H
#define MPX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MPX_BUILDING) && defined(__GNUC__)
#define MPX_EXPORT __attribute__((visibility("default")))
#else
#define MPX_EXPORT
#endif

#define MPX_VERSION_MAJOR 0
#define MPX_VERSION_MINOR 1
#define MPX_VERSION_PATCH 0
#define MPX_VERSION_STRING "0.1.0"

/* The wire protocol version this library speaks (docs/protocol.md). */
#define MPX_PROTOCOL_VERSION 4

/* The endpoint mpxd serves when started without arguments. */
#define MPX_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

/* ------------------------------------------------------------------------------------------
 * Errors
 *
 * One list generates the codes, mpx_strerror() and mpx_err_name(). Numbers never change and
 * are never reused; the wire carries the same numbers, positive (docs/protocol.md).
 *
 * Two kinds of failure: the codes MPX_EKEY to MPX_ETOOBIG and MPX_EFULL to MPX_ENOLEASE are
 * raised by the remote method and leave the connection usable (mpx_err_is_remote() says which).
 * Transport failures (MPX_ECONN, MPX_EAUTH, MPX_EPROTO, MPX_EVERSION, MPX_ENOAUTH)
 * stick to the client: every later call on it returns the same code. MPX_ETIMEDOUT leaves the
 * connection usable; a late reply is discarded (or, for a call that hands something over, such
 * as a queue get, given back: docs/api.md, "Giving up on a call").
 * ------------------------------------------------------------------------------------------ */
#define MPX_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, 1, "invalid argument")                                                              \
    XX(ENOMEM, 2, "out of memory")                                                                 \
    XX(ECONN, 3, "connection failed")                                                              \
    XX(ETIMEDOUT, 4, "timed out")                                                                  \
    XX(EAUTH, 5, "authentication failed")                                                          \
    XX(EPROTO, 6, "protocol error")                                                                \
    XX(EVERSION, 7, "unsupported protocol version")                                                \
    XX(ESYS, 8, "system call failed")                                                              \
    XX(ECLOSED, 9, "handle closed")                                                                \
    XX(EKEY, 20, "key error")                                                                      \
    XX(EINDEX, 21, "index error")                                                                  \
    XX(ETYPE, 22, "type error")                                                                    \
    XX(EVALUE, 23, "value error")                                                                  \
    XX(ENOOBJ, 24, "no such object")                                                               \
    XX(ENOMETHOD, 25, "no such method")                                                            \
    XX(EARGS, 26, "wrong arguments")                                                               \
    XX(EBADREQ, 27, "bad request")                                                                 \
    XX(ETOOBIG, 28, "message too large")                                                           \
    XX(ENOAUTH, 29, "not authenticated")                                                           \
    XX(EREPLAY, 30, "replayed or out-of-sequence message (protocol 3)")                            \
    XX(ESHUTDOWN, 31, "server shutting down")                                                      \
    XX(EFULL, 32, "queue full")                                                                    \
    XX(EEMPTY, 33, "queue empty")                                                                  \
    XX(ENOTHELD, 34, "lock not held by the caller")                                                \
    XX(EBROKEN, 35, "broken barrier")                                                              \
    XX(EMEMLIMIT, 36, "server memory limit reached")                                               \
    XX(EATTR, 37, "attribute error")                                                               \
    XX(EOVERFLOW, 38, "numeric overflow")                                                          \
    XX(ETOOMANY, 39, "too many sessions or objects")                                               \
    XX(EFENCED, 40, "fenced out: a newer fencing token of the lock was issued")                    \
    XX(ENOLEASE, 41, "no such lease: acknowledged already, or it ran out")

typedef enum {
    MPX_OK = 0,
#define MPX_ERRNO_ENUM(name, num, msg) MPX_##name = -(num),
    MPX_ERRNO_MAP(MPX_ERRNO_ENUM)
#undef MPX_ERRNO_ENUM
} mpx_errno;

/* The message for an error code ("key error"); "unknown error" for a code not in the list.
 * Borrowed; a static string. */
MPX_EXPORT const char *mpx_strerror(int code);

/* The name of an error code ("MPX_EKEY"); "MPX_EUNKNOWN" for a code not in the list.
 * Borrowed; a static string. */
MPX_EXPORT const char *mpx_err_name(int code);

/* True when the code is an error the remote method raised (key error, type error, ...): the
 * connection that returned it is still usable. */
MPX_EXPORT bool mpx_err_is_remote(int code);

/* The detailed message of the calling thread's last failed mpx call, such as "KeyError:
 * 'user:7'" or "authentication failed: server did not prove the key". Empty if none.
 * Borrowed; valid until the calling thread's next mpx call. */
MPX_EXPORT const char *mpx_last_error(void);

/* Frees memory that libmpx handed to the caller as raw bytes (mpx_value_encode(),
 * mpx_call_raw()). Accepts NULL. */
MPX_EXPORT void mpx_free(void *p);

/* ------------------------------------------------------------------------------------------
 * Values
 *
 * A value is a tree of msgpack data: nil, bool, signed and unsigned 64-bit integers, double,
 * string, bytes, arrays and maps nested up to MPX_MAX_DEPTH levels (the protocol's limit).
 * Constructors return NULL only when out of memory. Containers adopt the values put into
 * them.
 * ------------------------------------------------------------------------------------------ */
typedef struct mpx_value mpx_value;

/* The deepest nesting of arrays and maps a value may have (docs/protocol.md, "Limits"). */
#define MPX_MAX_DEPTH 512

typedef enum {
    MPX_INVALID = -1, /* mpx_value_type() of NULL */
    MPX_NIL = 0,
    MPX_BOOL,
    MPX_INT,    /* a negative integer, or one made with mpx_int() */
    MPX_UINT,   /* a non-negative integer as decoded from the wire, or made with mpx_uint() */
    MPX_DOUBLE, /* float32 on the wire decodes as a double */
    MPX_STR,
    MPX_BYTES,
    MPX_ARRAY,
    MPX_MAP,
    MPX_REF, /* a reference to an object on the server: a proxy stored in a container */
} mpx_type;

/* Constructors. Caller owns the result; free it with mpx_value_free(). NULL if out of memory
 * (or, for mpx_str(), if s is NULL). */
MPX_EXPORT mpx_value *mpx_nil(void);
MPX_EXPORT mpx_value *mpx_bool(bool b);
MPX_EXPORT mpx_value *mpx_int(int64_t i);
MPX_EXPORT mpx_value *mpx_uint(uint64_t u);
MPX_EXPORT mpx_value *mpx_double(double d);
MPX_EXPORT mpx_value *mpx_str(const char *s);
MPX_EXPORT mpx_value *mpx_strn(const char *s, size_t len);
MPX_EXPORT mpx_value *mpx_bytes(const void *p, size_t len);
MPX_EXPORT mpx_value *mpx_array(void);
MPX_EXPORT mpx_value *mpx_map(void);

/* Appends *item to an array. Takes ownership of *item on success and sets it to NULL; on
 * failure the caller still owns it. Returns 0, MPX_EINVAL (not an array, no item, or the array
 * would nest deeper than MPX_MAX_DEPTH) or MPX_ENOMEM. */
MPX_EXPORT int mpx_array_push(mpx_value *array, mpx_value **item);

/* Appends the pair (*key, *val) to a map. Keys are not checked for duplicates (so building a
 * large map stays linear); stored into a dict, a later pair wins. Takes ownership
 * of *key and *val on success and sets both to NULL; on failure the caller still owns them.
 * Returns 0, MPX_EINVAL (not a map, no key or value, or nesting deeper than MPX_MAX_DEPTH) or
 * MPX_ENOMEM. */
MPX_EXPORT int mpx_map_put(mpx_value *map, mpx_value **key, mpx_value **val);

/* Frees a value and everything in it, and sets *v to NULL. Accepts NULL and *v == NULL. */
MPX_EXPORT void mpx_value_free(mpx_value **v);

/* A deep copy. Caller owns the result; free it with mpx_value_free(). NULL if out of memory. */
MPX_EXPORT mpx_value *mpx_value_copy(const mpx_value *v);

/* Deep equality; integers compare by value whatever their signedness. */
MPX_EXPORT bool mpx_value_equal(const mpx_value *a, const mpx_value *b);

/* The value's type; MPX_INVALID for NULL. */
MPX_EXPORT mpx_type mpx_value_type(const mpx_value *v);

/* Scalar accessors: 0 on success, MPX_ETYPE if v is not of that type (MPX_EVALUE if an
 * integer does not fit). mpx_value_get_int() accepts an MPX_UINT up to INT64_MAX;
 * mpx_value_get_uint() accepts a non-negative MPX_INT; mpx_value_get_double() accepts
 * integers too. */
MPX_EXPORT int mpx_value_get_bool(const mpx_value *v, bool *out);
MPX_EXPORT int mpx_value_get_int(const mpx_value *v, int64_t *out);
MPX_EXPORT int mpx_value_get_uint(const mpx_value *v, uint64_t *out);
MPX_EXPORT int mpx_value_get_double(const mpx_value *v, double *out);

/* The bytes of a string (not NUL-terminated when it holds NULs; otherwise terminated) or a
 * bytes value, with its length in *len if len is not NULL. NULL if v is of another type.
 * Borrowed; valid until v is freed. */
MPX_EXPORT const char *mpx_value_str(const mpx_value *v, size_t *len);
MPX_EXPORT const void *mpx_value_bytes(const mpx_value *v, size_t *len);

/* The object id and type name (borrowed; valid until v is freed) of a reference, each out
 * pointer may be NULL. Returns 0, or MPX_ETYPE if v is not a reference. */
MPX_EXPORT int mpx_value_get_ref(const mpx_value *v, uint64_t *id, const char **type);

/* The number of items of an array, pairs of a map, or bytes of a string or bytes value;
 * 0 for a scalar. */
MPX_EXPORT size_t mpx_value_len(const mpx_value *v);

/* The i-th item of an array, or the i-th key / value of a map. NULL if out of range or of
 * another type. Borrowed; valid until the container is freed or changed. */
MPX_EXPORT const mpx_value *mpx_value_at(const mpx_value *array, size_t i);
MPX_EXPORT const mpx_value *mpx_value_key_at(const mpx_value *map, size_t i);
MPX_EXPORT const mpx_value *mpx_value_val_at(const mpx_value *map, size_t i);

/* The value of the last pair whose key is the string key; NULL if absent or not a map.
 * Borrowed; valid until the map is freed or changed. */
MPX_EXPORT const mpx_value *mpx_map_get(const mpx_value *map, const char *key);

/* Encodes a value as msgpack. Caller owns *buf; free it with mpx_free(). Returns 0 or
 * MPX_ENOMEM / MPX_EINVAL. */
MPX_EXPORT int mpx_value_encode(const mpx_value *v, char **buf, size_t *len);

/* Decodes exactly one msgpack object that fills buf. Caller owns *out; free it with
 * mpx_value_free(). Returns 0, MPX_EPROTO (malformed, truncated, trailing bytes, nested
 * deeper than MPX_MAX_DEPTH or an ext type other than
 * an object reference) or MPX_ENOMEM. */
MPX_EXPORT int mpx_value_decode(const void *buf, size_t len, mpx_value **out);

/* ------------------------------------------------------------------------------------------
 * Client: one authenticated session with one mpxd
 * ------------------------------------------------------------------------------------------ */
typedef struct mpx_client mpx_client;

/* Timeouts and waits are in milliseconds, or one of these, with one meaning everywhere:
 * MPX_FOREVER waits without a limit (a heartbeat still notices a dead server: MPX_ECONN);
 * MPX_TIMEOUT_DEFAULT waits as long as the client's default call timeout. */
#define MPX_FOREVER (-1)
#define MPX_TIMEOUT_DEFAULT (-2)
/* The default of a new client's default call timeout, in milliseconds. */
#define MPX_DEFAULT_TIMEOUT_MS 10000
/* The default limit on connecting and the handshake, in milliseconds. */
#define MPX_DEFAULT_CONNECT_TIMEOUT_MS 5000

/* Connects to mpxd at endpoint ("tcp://host:port", host a name, an IPv4 address or a
 * [bracketed] IPv6 address; or "ipc:///path") over CurveZMQ, with the key pairs derived from
 * authkey[0..keylen), so that both sides prove they know it (docs/protocol.md §3). A server that is
 * not there is reported at once: a refused connection, a host name that does not resolve, a missing
 * socket file. Waits at most MPX_DEFAULT_CONNECT_TIMEOUT_MS for a server that does not answer.
 * Caller owns *out; free it with mpx_client_free(). Returns 0, MPX_EINVAL (a malformed endpoint, no
 * key), MPX_ENOMEM, MPX_ECONN (nothing there), MPX_ETIMEDOUT (no answer), MPX_EAUTH (wrong
 * authkey), MPX_EVERSION or MPX_EPROTO; mpx_last_error() says why. */
MPX_EXPORT int mpx_connect(const char *endpoint, const void *authkey, size_t keylen,
                           mpx_client **out);

/* As mpx_connect(), with the authkey read from a file: "mpxkey:" and the key in hex (the form
 * mpxd writes), or else every byte of the file (docs/operating.md, "The authkey").
 * Also returns MPX_ESYS if the file cannot be read, and MPX_EINVAL if it is not a regular file
 * or holds no key or more than 4096 bytes. */
MPX_EXPORT int mpx_connect_keyfile(const char *endpoint, const char *keyfile, mpx_client **out);

/* Options for mpx_connect_opts(). Initialise it with MPX_CONNECT_OPTIONS_INIT, which sets
 * `size` (so that later versions can add fields without breaking programs built against this
 * one) and every other field to its default, then set what you need. */
typedef struct {
    size_t size;         /* sizeof(mpx_connect_options), set by MPX_CONNECT_OPTIONS_INIT */
    const void *authkey; /* the shared key, keylen bytes; or NULL, and keyfile set */
    size_t keylen;
    const char *keyfile; /* read the key from this file, as mpx_connect_keyfile() does */
    bool place_io;       /* run this client's libzmq I/O thread on CPU io_cpu */
    int io_cpu;
    int connect_timeout_ms; /* limit on connecting and the handshake; 0: the default */
    int call_timeout_ms;    /* the client's default call timeout; 0: the default */
    bool no_reconnect;      /* do not connect again after the connection is lost */
} mpx_connect_options;

#define MPX_CONNECT_OPTIONS_INIT                                                                   \
    {                                                                                              \
        .size = sizeof(mpx_connect_options)                                                        \
    }

/* As mpx_connect(), with options. Each message passes between the calling thread and the
 * client's libzmq I/O thread; when the caller has pinned itself to a CPU (sched_setaffinity,
 * pthread_setaffinity_np), placing the I/O thread on the same CPU spares each message a
 * wake-up across CPUs (docs/performance.md). libmpx never moves the caller's own threads.
 * Also returns MPX_EINVAL if size is not set, both or neither of authkey and keyfile are set,
 * a timeout is negative, or io_cpu is not a CPU this process may run on, and MPX_ESYS if
 * keyfile cannot be read. */
MPX_EXPORT int mpx_connect_opts(const char *endpoint, const mpx_connect_options *opts,
                                mpx_client **out);

/* Reconnecting. When its connection or its session is lost (the server restarted or stopped
 * answering, or ended the session after a network cut longer than its session timeout), a
 * client fails the calls in flight with MPX_ECONN (they may or may not have run), and its next
 * call connects again, with a new handshake, retrying no sooner than a back-off of 100 ms
 * doubling to 5 s (calls meanwhile fail at once with MPX_ECONN). Proxies are attached to the
 * new session: against a server that kept its state (mpxd --data-dir, or one that did not
 * restart) every proxy whose object still exists keeps working; against a server that
 * restarted empty, proxies of named objects open their name again (an empty object), and the
 * rest answer MPX_ENOOBJ, as do proxies of anonymous objects that only the lost session held.
 * Locks and semaphore units the lost session held are gone; waits it had parked were ended.
 * Reconnecting is on unless mpx_connect_options.no_reconnect or mpx_client_set_reconnect(c,
 * false): the client then stays broken, every call returning the same error. */
MPX_EXPORT int mpx_client_set_reconnect(mpx_client *c, bool on);

typedef enum {
    MPX_CONN_UP = 0,           /* connected, with a session */
    MPX_CONN_RECONNECTING = 1, /* lost; the next call connects again */
    MPX_CONN_DOWN = 2,         /* broken for good: a wrong key, or reconnecting is off */
} mpx_conn_state;

/* The client's connection state, and how many times it has reconnected (may be NULL). A
 * loss shows once a call or the heartbeat learns of it. Returns 0 or MPX_EINVAL. */
MPX_EXPORT int mpx_client_state(mpx_client *c, mpx_conn_state *state, uint64_t *reconnects);

/* Ends the session (mpxd releases every reference it held), closes the connection and sets
 * *c to NULL. Proxies and futures still open on it stop working (their calls and waits return
 * MPX_ECLOSED) but stay valid handles until freed with mpx_proxy_free() / mpx_future_free(),
 * in any order. If calls given up on are still being cancelled on the server, it first waits
 * (up to 2 s) for that, so that what they were handed goes back. Leaves mpx_last_error() as
 * it was. Accepts NULL. */
MPX_EXPORT void mpx_client_free(mpx_client **c);

/* Sets the default call timeout in milliseconds (> 0). Returns 0 or MPX_EINVAL. */
MPX_EXPORT int mpx_client_set_timeout(mpx_client *c, int timeout_ms);

/* The endpoint the client is connected to. Borrowed; valid until the client is freed. */
MPX_EXPORT const char *mpx_client_endpoint(const mpx_client *c);

/* Checks the server answers: one round trip. Returns 0 or a transport error. */
MPX_EXPORT int mpx_ping(mpx_client *c);

/* The server's counters as a map of string to unsigned integer: sessions, objects, parked,
 * calls, auth_failures, handshakes_unfinished, accept_failures, rejected_unauth,
 * rejected_malformed,
 * rejected_oversize, rejected_version, rejected_memory, rejected_sessions, slow_readers,
 * rejected_objects,
 * peers_gone, undone, cancelled,
 * memory_used, max_memory, max_message (docs/protocol.md, "stats"). Caller owns *out; free it
 * with mpx_value_free(). */
MPX_EXPORT int mpx_server_stats(mpx_client *c, mpx_value **out);

/* Calls a method of the server's manager, object 0 (docs/protocol.md, "The manager"), as
 * mpx_call() calls an object's: for the manager methods that have no function of their own.
 * Caller owns *result; free it with mpx_value_free(); result may be NULL to discard it.
 * Returns 0, MPX_EINVAL, a remote error, or a transport error. */
MPX_EXPORT int mpx_server_call(mpx_client *c, const char *method, const mpx_value *args,
                               int timeout_ms, mpx_value **result);

/* ------------------------------------------------------------------------------------------
 * Proxies: a handle to one object on the server
 * ------------------------------------------------------------------------------------------ */
typedef struct mpx_proxy mpx_proxy;

/* Gets the object named name of the given type ("dict", "value"), creating it if absent.
 * Caller owns *out; free it with mpx_proxy_free(). Returns 0, MPX_ETYPE (the name belongs to
 * an object of another type), MPX_EVALUE (no such type), MPX_EINVAL, or a transport error. */
MPX_EXPORT int mpx_open(mpx_client *c, const char *name, const char *type, mpx_proxy **out);

/* Creates an anonymous object of the given type, freed when its last proxy is released.
 * Caller owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_create(mpx_client *c, const char *type, mpx_proxy **out);

/* Releases the proxy's reference (an anonymous object is freed with its last reference),
 * frees the proxy and sets *p to NULL. Leaves mpx_last_error() as it was. Accepts NULL. */
MPX_EXPORT void mpx_proxy_free(mpx_proxy **p);

/* The object's id on the server (never 0), and its type name ("dict"). */
MPX_EXPORT uint64_t mpx_proxy_id(const mpx_proxy *p);
MPX_EXPORT const char *mpx_proxy_type(const mpx_proxy *p);

/* Fences every later call through p with lock's fencing token `token` (the one
 * mpx_lock_acquire() gave): the server runs such a call only while token is the last token
 * lock handed out, and refuses it with MPX_EFENCED, changing nothing, once the lock has passed
 * to another holder (after this holder's session ended, say) — so that a holder cut off from
 * the server can never overwrite what the next holder wrote. lock NULL: calls are no longer
 * fenced. lock must be a lock or rlock proxy of p's client. Returns 0 or MPX_EINVAL. */
MPX_EXPORT int mpx_proxy_fence(mpx_proxy *p, const mpx_proxy *lock, uint64_t token);

/* Calls any method with args, an array value (NULL for none), waiting at most timeout_ms
 * (> 0, MPX_TIMEOUT_DEFAULT or MPX_FOREVER). A call that gives up on a method that waits on
 * the server cancels it there (docs/api.md, "Giving up on a call"). Caller owns *result; free it
 * with mpx_value_free(); result may be NULL to discard it. Returns 0, a remote error, or a
 * transport error. */
MPX_EXPORT int mpx_call(mpx_proxy *p, const char *method, const mpx_value *args, int timeout_ms,
                        mpx_value **result);

/* As mpx_call(), with the arguments as msgpack bytes of one array and the result as the
 * msgpack bytes of one object, for callers that encode themselves. The session holds a
 * reference for each object reference in the result: release them through the manager's
 * release (mpx_server_call()) or they go with the session (docs/protocol.md). Caller owns *result;
 * free it with mpx_free(). */
MPX_EXPORT int mpx_call_raw(mpx_proxy *p, const char *method, const void *args, size_t args_len,
                            int timeout_ms, char **result, size_t *result_len);

/* ------------------------------------------------------------------------------------------
 * Proxies inside containers: a proxy may be stored as a value in a dict, list, namespace or
 * untyped value, or put in a queue, nested as deep as values nest; a container that holds a
 * reference keeps its object alive (docs/api.md, "Proxies inside containers").
 * ------------------------------------------------------------------------------------------ */

/* A value that refers to the proxy's object, to store in a container. It does not keep the
 * object alive by itself: the container it is stored in does. Caller owns the result; free it
 * with mpx_value_free(). NULL if p is not a proxy or out of memory. */
MPX_EXPORT mpx_value *mpx_ref(const mpx_proxy *p);

/* A proxy to the object a reference names (a value of type MPX_REF, read from a container on
 * any client; it may sit inside a larger value). A reference read from the server through c
 * is turned into the proxy without a round trip: the reference c's session holds for it
 * passes to the proxy (ref stays valid and still names the object). Any other reference (a
 * copy, one read through another client) is attached anew. Caller owns *out; free it with
 * mpx_proxy_free(). Returns 0, MPX_EINVAL (not a reference), MPX_ENOOBJ (the object is gone:
 * deleted, or freed with its last reference), or an error of any call. */
MPX_EXPORT int mpx_proxy_from_ref(mpx_client *c, const mpx_value *ref, mpx_proxy **out);

/* ------------------------------------------------------------------------------------------
 * Asynchronous calls: send now, collect the result later. Any number of calls may be in
 * flight on one client; calls from one thread reach the server in the order they were made,
 * and a call that parks (a queue get) does not hold up the replies of later ones.
 * ------------------------------------------------------------------------------------------ */
typedef struct mpx_future mpx_future;

/* Queues p.method(args) as mpx_call() would send it, without waiting for the reply; queued
 * calls go out together in one message (mpx_client_flush()). The call's timeout (timeout_ms,
 * or the client's default for MPX_TIMEOUT_DEFAULT) runs from now. args is copied into the
 * request before this returns. Caller owns *out; free it with mpx_future_free().
 * Returns 0, MPX_EINVAL, MPX_ENOMEM, MPX_ETOOBIG or a transport error (then no future). */
MPX_EXPORT int mpx_call_async(mpx_proxy *p, const char *method, const mpx_value *args,
                              int timeout_ms, mpx_future **out);

/* Sends the calls mpx_call_async() has buffered on this client (see docs/api.md,
 * "Asynchronous calls"). They also go out when the buffer fills, when any thread waits on a
 * call not yet answered or makes a blocking call on the client, and with the next heartbeat.
 * Returns 0, MPX_EINVAL or a transport error. */
MPX_EXPORT int mpx_client_flush(mpx_client *c);

/* Waits for the future's reply (until its call's timeout) and returns what mpx_call() would
 * have: 0 with the result, a remote error, MPX_ETIMEDOUT, or a transport error; MPX_ECLOSED if
 * its client was freed first, MPX_ECONN in a fork()ed child for a call the parent sent. Call
 * it once per future (again: MPX_EINVAL). Caller owns *result; free it with
 * mpx_value_free(); result may be NULL to discard it. */
MPX_EXPORT int mpx_future_wait(mpx_future *f, mpx_value **result);

/* True when mpx_future_wait() would return at once (the reply is in, the connection broke,
 * or the timeout passed); reads replies already queued but never waits. */
MPX_EXPORT bool mpx_future_ready(mpx_future *f);

/* Frees a future, waited or not (a reply still to come is dropped; a call that waits on the
 * server is cancelled there, as a timeout does) and sets *f to NULL. Leaves mpx_last_error()
 * as it was. Accepts NULL. */
MPX_EXPORT void mpx_future_free(mpx_future **f);

/* ------------------------------------------------------------------------------------------
 * Objects: deleting and listing them
 * ------------------------------------------------------------------------------------------ */

/* Deletes the object named name: the name is free at once for a new object of any type;
 * proxies to the deleted object get MPX_ENOOBJ (never another object's data), and calls
 * parked on it (a get on a queue, an acquire on a lock) are answered at once with MPX_ENOOBJ.
 * Returns 0, MPX_ENOOBJ (no such name), MPX_EINVAL, or a transport error. */
MPX_EXPORT int mpx_delete(mpx_client *c, const char *name);

/* As mpx_delete(), for the proxy's object (named or anonymous). The proxy stays a handle to
 * free with mpx_proxy_free(). */
MPX_EXPORT int mpx_proxy_delete(mpx_proxy *p);

/* Lists the objects a batch at a time, as mpx_dict_scan() walks a dict: starting from cursor
 * (0 the first time), *rows gets an array of about count objects (fewer, or none, is normal)
 * and *next the cursor of the next call, 0 once the walk is done. Each row is an array [id,
 * name or nil, type, size, references]: size is the items held, or for a synchronisation
 * object the calls waiting on it; references count the proxies of every session, parked calls
 * and containers. With prefix (not NULL or ""), only named objects whose name starts with it
 * are listed. Every object present for the whole walk is listed at least once. Caller owns
 * *rows; free it with mpx_value_free(). */
MPX_EXPORT int mpx_objects(mpx_client *c, const char *prefix, uint64_t cursor, size_t count,
                           uint64_t *next, mpx_value **rows);

/* ------------------------------------------------------------------------------------------
 * Dict: a shared dictionary. Keys and values are any values. Keys, list items and set
 * members share one rule of equality: numbers compare by value (1 == 1.0, -0.0 == 0,
 * integers beyond 2^53 exactly), booleans are a kind of their own (true is not 1, unlike
 * Python), and every NaN equals every NaN (docs/api.md, "Equality").
 * ------------------------------------------------------------------------------------------ */

/* Gets the dict named name, creating it if absent: the same name from any client gives the
 * same dict, which lives until mpxd stops. Caller owns *out; free it with mpx_proxy_free().
 * Returns 0, MPX_ETYPE (the name belongs to an object of another type), MPX_EINVAL, or a
 * transport error. */
MPX_EXPORT int mpx_dict_open(mpx_client *c, const char *name, mpx_proxy **out);

/* Creates an anonymous dict, freed when its last proxy is released. Caller owns *out; free
 * it with mpx_proxy_free(). */
MPX_EXPORT int mpx_dict_new(mpx_client *c, mpx_proxy **out);

/* d[key] = val. */
MPX_EXPORT int mpx_dict_set(mpx_proxy *d, const mpx_value *key, const mpx_value *val);

/* d[key]: MPX_EKEY if absent. Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_dict_get(mpx_proxy *d, const mpx_value *key, mpx_value **out);

/* mpx_dict_set() and mpx_dict_get() as asynchronous calls (mpx_call_async()): the future's
 * result is nil / the value, its errors theirs. Caller owns *out; free it with
 * mpx_future_free(). */
MPX_EXPORT int mpx_dict_set_async(mpx_proxy *d, const mpx_value *key, const mpx_value *val,
                                  mpx_future **out);
MPX_EXPORT int mpx_dict_get_async(mpx_proxy *d, const mpx_value *key, mpx_future **out);

/* d.get(key, dflt): a copy of dflt if absent. Caller owns *out; free it with
 * mpx_value_free(). */
MPX_EXPORT int mpx_dict_get_default(mpx_proxy *d, const mpx_value *key, const mpx_value *dflt,
                                    mpx_value **out);

/* del d[key]: MPX_EKEY if absent. */
MPX_EXPORT int mpx_dict_del(mpx_proxy *d, const mpx_value *key);

/* key in d. */
MPX_EXPORT int mpx_dict_contains(mpx_proxy *d, const mpx_value *key, bool *out);

/* len(d). */
MPX_EXPORT int mpx_dict_len(mpx_proxy *d, size_t *out);

/* The keys, the values, or the [key, value] pairs as an array, in insertion order; MPX_ETOOBIG
 * if the answer would not fit in one message (walk a large dict with mpx_dict_scan()). Caller
 * owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_dict_keys(mpx_proxy *d, mpx_value **out);
MPX_EXPORT int mpx_dict_values(mpx_proxy *d, mpx_value **out);
MPX_EXPORT int mpx_dict_items(mpx_proxy *d, mpx_value **out);

/* d.update(pairs): pairs is a map, or an array of [key, value] arrays; all are stored in one
 * message, or none if one is ill-formed (MPX_ETYPE). */
MPX_EXPORT int mpx_dict_update(mpx_proxy *d, const mpx_value *pairs);

/* d.pop(key): removes and returns the value; MPX_EKEY if absent. Caller owns *out; free it
 * with mpx_value_free(); out may be NULL. */
MPX_EXPORT int mpx_dict_pop(mpx_proxy *d, const mpx_value *key, mpx_value **out);

/* d.pop(key, dflt): as mpx_dict_pop(), returning a copy of dflt if absent. */
MPX_EXPORT int mpx_dict_pop_default(mpx_proxy *d, const mpx_value *key, const mpx_value *dflt,
                                    mpx_value **out);

/* d.popitem(): removes and returns the last inserted pair; MPX_EKEY if the dict is empty.
 * Caller owns *key and *val; free them with mpx_value_free(). */
MPX_EXPORT int mpx_dict_popitem(mpx_proxy *d, mpx_value **key, mpx_value **val);

/* d.setdefault(key, dflt): the value under key, storing dflt first if absent. Caller owns
 * *out; free it with mpx_value_free(); out may be NULL. */
MPX_EXPORT int mpx_dict_setdefault(mpx_proxy *d, const mpx_value *key, const mpx_value *dflt,
                                   mpx_value **out);

/* d.clear(). */
MPX_EXPORT int mpx_dict_clear(mpx_proxy *d);

/* d.copy(): the whole dict as a map value, in insertion order; MPX_ETOOBIG as for
 * mpx_dict_keys(). Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_dict_copy(mpx_proxy *d, mpx_value **out);

/* Walks a dict of any size a batch at a time, as Redis's SCAN: starting from cursor (0 the
 * first time), *pairs gets up to count [key, value] pairs in insertion order and *next the
 * cursor of the next call, 0 once the walk is done. Every pair present for the whole walk is
 * returned exactly once; pairs stored or removed during it may or may not be. Caller owns
 * *pairs; free it with mpx_value_free(). Returns 0, MPX_EINVAL (count 0) or an error. */
MPX_EXPORT int mpx_dict_scan(mpx_proxy *d, uint64_t cursor, size_t count, uint64_t *next,
                             mpx_value **pairs);

/* d[key] += delta, atomically, and the new value in *out (may be NULL): a missing entry
 * starts at 0; integers add exactly, a double if either is one. Returns 0, MPX_ETYPE (the
 * entry or delta is not a number; booleans are not), MPX_EOVERFLOW (the sum leaves the 64-bit
 * integers; nothing changes), or an error. Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_dict_add(mpx_proxy *d, const mpx_value *key, const mpx_value *delta,
                            mpx_value **out);

/* mpx_dict_add() with an integer delta; *now (may be NULL) is the new value. */
MPX_EXPORT int mpx_dict_add_int(mpx_proxy *d, const mpx_value *key, int64_t delta, int64_t *now);

/* Compare-and-swap of one entry, atomically: if the entry equals expected (NULL: the entry is
 * absent), it becomes val (NULL: the entry is deleted) and *swapped is true. *current (may be
 * NULL) is the entry's value after the call, or NULL when absent. Caller owns *current; free
 * it with mpx_value_free(). */
MPX_EXPORT int mpx_dict_cas(mpx_proxy *d, const mpx_value *key, const mpx_value *expected,
                            const mpx_value *val, bool *swapped, mpx_value **current);

/* d[key] = val, atomically returning the previous value in *old (may be NULL): NULL when the
 * key was absent. Caller owns *old; free it with mpx_value_free(). */
MPX_EXPORT int mpx_dict_getset(mpx_proxy *d, const mpx_value *key, const mpx_value *val,
                               mpx_value **old);

/* ------------------------------------------------------------------------------------------
 * List: Python's list, shared. Indexes are int64_t, negative counting from the end; an index
 * out of range is MPX_EINDEX. Slices take start, stop and step as Python's a[start:stop:step],
 * MPX_SLICE_NONE standing for an omitted one. Items compare by the rule of the dict.
 * ------------------------------------------------------------------------------------------ */

/* An omitted slice bound or step (Python's None). */
#define MPX_SLICE_NONE INT64_MIN

/* The list named name, created empty if absent / a new anonymous list. Caller owns *out;
 * free it with mpx_proxy_free(). Returns 0, MPX_ETYPE (the name is another type's), or an
 * error. */
MPX_EXPORT int mpx_list_open(mpx_client *c, const char *name, mpx_proxy **out);
MPX_EXPORT int mpx_list_new(mpx_client *c, mpx_proxy **out);

/* l.append(item); l.extend(items), items an array, all in one message; l.insert(index, item),
 * an index past either end meaning that end. */
MPX_EXPORT int mpx_list_append(mpx_proxy *l, const mpx_value *item);
MPX_EXPORT int mpx_list_extend(mpx_proxy *l, const mpx_value *items);
MPX_EXPORT int mpx_list_insert(mpx_proxy *l, int64_t index, const mpx_value *item);

/* l[index], l[index] = item, del l[index]. Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_list_get(mpx_proxy *l, int64_t index, mpx_value **out);
MPX_EXPORT int mpx_list_set(mpx_proxy *l, int64_t index, const mpx_value *item);
MPX_EXPORT int mpx_list_del(mpx_proxy *l, int64_t index);

/* l[start:stop:step] as an array; l[start:stop:step] = items (with a step other than 1 or
 * MPX_SLICE_NONE, items must be as many as the slice's positions, else MPX_EVALUE); del
 * l[start:stop:step]. A step of 0 is MPX_EVALUE. Caller owns *out; free it with
 * mpx_value_free(). */
MPX_EXPORT int mpx_list_get_slice(mpx_proxy *l, int64_t start, int64_t stop, int64_t step,
                                  mpx_value **out);
MPX_EXPORT int mpx_list_set_slice(mpx_proxy *l, int64_t start, int64_t stop, int64_t step,
                                  const mpx_value *items);
MPX_EXPORT int mpx_list_del_slice(mpx_proxy *l, int64_t start, int64_t stop, int64_t step);

/* l.pop(index): removes and returns the item (index -1: the last); MPX_EINDEX when empty or
 * out of range. Caller owns *out (out may be NULL); free it with mpx_value_free(). */
MPX_EXPORT int mpx_list_pop(mpx_proxy *l, int64_t index, mpx_value **out);

/* l.remove(item): removes the first equal item; MPX_EVALUE if there is none. */
MPX_EXPORT int mpx_list_remove(mpx_proxy *l, const mpx_value *item);

/* l.index(item, start, stop): the first position of an equal item within l[start:stop]
 * (MPX_SLICE_NONE for either bound); MPX_EVALUE if there is none. */
MPX_EXPORT int mpx_list_index(mpx_proxy *l, const mpx_value *item, int64_t start, int64_t stop,
                              size_t *out);

/* l.count(item), item in l, len(l). */
MPX_EXPORT int mpx_list_count(mpx_proxy *l, const mpx_value *item, size_t *out);
MPX_EXPORT int mpx_list_contains(mpx_proxy *l, const mpx_value *item, bool *out);
MPX_EXPORT int mpx_list_len(mpx_proxy *l, size_t *out);

/* l.reverse(); l.sort(reverse=...): stable; numbers sort with numbers, strings with strings
 * (by code point), bytes with bytes, booleans with booleans; any other value or a mix of kinds
 * is MPX_ETYPE and leaves the list unchanged. A NaN sorts after every other number. */
MPX_EXPORT int mpx_list_reverse(mpx_proxy *l);
MPX_EXPORT int mpx_list_sort(mpx_proxy *l, bool reverse);

/* l.clear(); the whole list as an array (MPX_ETOOBIG past one message: read it by slices).
 * Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_list_clear(mpx_proxy *l);
MPX_EXPORT int mpx_list_copy(mpx_proxy *l, mpx_value **out);

/* ------------------------------------------------------------------------------------------
 * Set: Python's set, shared. Members compare by the rule of the dict and come back in their
 * canonical form (1.0 as 1); a proxy cannot be a member (MPX_ETYPE). The operations with an
 * array of items change nothing and return an array.
 * ------------------------------------------------------------------------------------------ */

/* The set named name, created empty if absent / a new anonymous set. Caller owns *out; free
 * it with mpx_proxy_free(). */
MPX_EXPORT int mpx_set_open(mpx_client *c, const char *name, mpx_proxy **out);
MPX_EXPORT int mpx_set_new(mpx_client *c, mpx_proxy **out);

/* s.add(item), s.discard(item), s.remove(item) (MPX_EKEY if absent), item in s, len(s). */
MPX_EXPORT int mpx_set_add(mpx_proxy *s, const mpx_value *item);
MPX_EXPORT int mpx_set_discard(mpx_proxy *s, const mpx_value *item);
MPX_EXPORT int mpx_set_remove(mpx_proxy *s, const mpx_value *item);
MPX_EXPORT int mpx_set_contains(mpx_proxy *s, const mpx_value *item, bool *out);
MPX_EXPORT int mpx_set_len(mpx_proxy *s, size_t *out);

/* s.pop(): removes and returns a member; MPX_EKEY when empty. Caller owns *out; free it with
 * mpx_value_free(). */
MPX_EXPORT int mpx_set_pop(mpx_proxy *s, mpx_value **out);

/* s.clear(); s.update(items), items an array, all added or none (MPX_ETYPE). */
MPX_EXPORT int mpx_set_clear(mpx_proxy *s);
MPX_EXPORT int mpx_set_update(mpx_proxy *s, const mpx_value *items);

/* The whole set as an array. Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_set_copy(mpx_proxy *s, mpx_value **out);

/* s | items, s & items, s - items, s ^ items, each as an array. Caller owns *out; free it with
 * mpx_value_free(). */
MPX_EXPORT int mpx_set_union(mpx_proxy *s, const mpx_value *items, mpx_value **out);
MPX_EXPORT int mpx_set_intersection(mpx_proxy *s, const mpx_value *items, mpx_value **out);
MPX_EXPORT int mpx_set_difference(mpx_proxy *s, const mpx_value *items, mpx_value **out);
MPX_EXPORT int mpx_set_symmetric_difference(mpx_proxy *s, const mpx_value *items, mpx_value **out);

/* s.issubset(items), s.issuperset(items), s.isdisjoint(items). */
MPX_EXPORT int mpx_set_issubset(mpx_proxy *s, const mpx_value *items, bool *out);
MPX_EXPORT int mpx_set_issuperset(mpx_proxy *s, const mpx_value *items, bool *out);
MPX_EXPORT int mpx_set_isdisjoint(mpx_proxy *s, const mpx_value *items, bool *out);

/* ------------------------------------------------------------------------------------------
 * Namespace: Python's Manager().Namespace() (types.SimpleNamespace), shared: attributes named
 * by strings. A missing attribute is MPX_EATTR.
 * ------------------------------------------------------------------------------------------ */

/* The namespace named name, created empty if absent / a new anonymous one. Caller owns *out;
 * free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_namespace_open(mpx_client *c, const char *name, mpx_proxy **out);
MPX_EXPORT int mpx_namespace_new(mpx_client *c, mpx_proxy **out);

/* ns.name (MPX_EATTR if absent), ns.name = val, del ns.name (MPX_EATTR if absent),
 * hasattr(ns, name). Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_namespace_get(mpx_proxy *ns, const char *name, mpx_value **out);
MPX_EXPORT int mpx_namespace_set(mpx_proxy *ns, const char *name, const mpx_value *val);
MPX_EXPORT int mpx_namespace_del(mpx_proxy *ns, const char *name);
MPX_EXPORT int mpx_namespace_contains(mpx_proxy *ns, const char *name, bool *out);

/* vars(ns): every attribute and its value as a map, in the order they were first set. Caller
 * owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_namespace_items(mpx_proxy *ns, mpx_value **out);

/* ------------------------------------------------------------------------------------------
 * Value: Python's Manager().Value, shared (mpx_val_*; mpx_value is the data type). An untyped
 * value holds any value. A typed value holds one of a typecode, as Python's array module names
 * them: 'b' 'B' 'h' 'H' 'i' 'I' 'l' 'L' 'q' 'Q' (integers of 8 to 64 bits, signed or not),
 * 'f' 'd' (float, double), 'c' (one byte, as bytes of length 1) and '?' (bool). Unlike
 * Python's proxy, mpx enforces the typecode: a value of the wrong kind is MPX_ETYPE, one out
 * of range MPX_EOVERFLOW, and the stored value stays.
 * ------------------------------------------------------------------------------------------ */

/* A new anonymous untyped value / the one named name, created if absent holding init (NULL:
 * nil). Caller owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_val_new(mpx_client *c, const mpx_value *init, mpx_proxy **out);
MPX_EXPORT int mpx_val_open(mpx_client *c, const char *name, const mpx_value *init,
                            mpx_proxy **out);

/* A new anonymous typed value / the one named name, created if absent holding init (NULL: the
 * typecode's zero). Returns 0, MPX_EVALUE (no such typecode), MPX_ETYPE, MPX_EOVERFLOW, or an
 * error. Caller owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_val_new_typed(mpx_client *c, char typecode, const mpx_value *init,
                                 mpx_proxy **out);
MPX_EXPORT int mpx_val_open_typed(mpx_client *c, const char *name, char typecode,
                                  const mpx_value *init, mpx_proxy **out);

/* v.value, v.value = val (typed or untyped). Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_val_get(mpx_proxy *v, mpx_value **out);
MPX_EXPORT int mpx_val_set(mpx_proxy *v, const mpx_value *val);

/* Typed values of a numeric typecode: v.value += delta, atomically, returning the new value
 * (out may be NULL); an integer sum outside the typecode's range is MPX_EOVERFLOW and changes
 * nothing. Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_val_add(mpx_proxy *v, const mpx_value *delta, mpx_value **out);
MPX_EXPORT int mpx_val_add_int(mpx_proxy *v, int64_t delta, int64_t *now);

/* Typed values: if the value equals expected, it becomes val, atomically; *swapped (may be
 * NULL) says whether it did, *current (may be NULL) is the value after the call. Caller owns
 * *current; free it with mpx_value_free(). */
MPX_EXPORT int mpx_val_cas(mpx_proxy *v, const mpx_value *expected, const mpx_value *val,
                           bool *swapped, mpx_value **current);

/* ------------------------------------------------------------------------------------------
 * Array: Python's Manager().Array(typecode, size or sequence), shared: fixed length, the
 * typecodes of the typed value, each element checked as a typed value's. For 'c' a run of
 * elements is a bytes value; for the others an array of values.
 * ------------------------------------------------------------------------------------------ */

/* A new anonymous array / the one named name, created if absent: of items (an array, or bytes
 * for 'c') or, items NULL, of size zeros. Caller owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_arr_new(mpx_client *c, char typecode, size_t size, const mpx_value *items,
                           mpx_proxy **out);
MPX_EXPORT int mpx_arr_open(mpx_client *c, const char *name, char typecode, size_t size,
                            const mpx_value *items, mpx_proxy **out);

/* len(a), a[index], a[index] = val. Caller owns *out; free it with mpx_value_free(). */
MPX_EXPORT int mpx_arr_len(mpx_proxy *a, size_t *out);
MPX_EXPORT int mpx_arr_get(mpx_proxy *a, int64_t index, mpx_value **out);
MPX_EXPORT int mpx_arr_set(mpx_proxy *a, int64_t index, const mpx_value *val);

/* a[start:stop:step], a[start:stop:step] = items (as many items as the slice has positions:
 * the length never changes), the whole array. Caller owns *out; free it with
 * mpx_value_free(). */
MPX_EXPORT int mpx_arr_get_slice(mpx_proxy *a, int64_t start, int64_t stop, int64_t step,
                                 mpx_value **out);
MPX_EXPORT int mpx_arr_set_slice(mpx_proxy *a, int64_t start, int64_t stop, int64_t step,
                                 const mpx_value *items);
MPX_EXPORT int mpx_arr_copy(mpx_proxy *a, mpx_value **out);

/* a[index] += delta and compare-and-swap of a[index], atomically, as mpx_val_add() and
 * mpx_val_cas() do for a typed value. */
MPX_EXPORT int mpx_arr_add(mpx_proxy *a, int64_t index, const mpx_value *delta, mpx_value **out);
MPX_EXPORT int mpx_arr_add_int(mpx_proxy *a, int64_t index, int64_t delta, int64_t *now);
MPX_EXPORT int mpx_arr_cas(mpx_proxy *a, int64_t index, const mpx_value *expected,
                           const mpx_value *val, bool *swapped, mpx_value **current);

/* ------------------------------------------------------------------------------------------
 * Queue and JoinableQueue: Python's queue.Queue, shared. Waiting happens on the server and is
 * served in arrival order. wait_ms is 0 (do not wait), a number of milliseconds,
 * MPX_TIMEOUT_DEFAULT or MPX_FOREVER. An item is never handed to a process that is gone: if
 * a getter's answer cannot reach it, the item goes back to the head of the queue.
 * ------------------------------------------------------------------------------------------ */

/* A new anonymous queue / the queue named name, created if absent, holding at most maxsize
 * items (0: no limit; ignored when the named queue exists). The joinable kind adds
 * mpx_queue_task_done() and mpx_queue_join(). Caller owns *out; free it with
 * mpx_proxy_free(). Returns 0, MPX_ETYPE (the name is another type's), or a transport
 * error. */
MPX_EXPORT int mpx_queue_new(mpx_client *c, size_t maxsize, mpx_proxy **out);
MPX_EXPORT int mpx_queue_open(mpx_client *c, const char *name, size_t maxsize, mpx_proxy **out);
MPX_EXPORT int mpx_joinable_queue_new(mpx_client *c, size_t maxsize, mpx_proxy **out);
MPX_EXPORT int mpx_joinable_queue_open(mpx_client *c, const char *name, size_t maxsize,
                                       mpx_proxy **out);

/* q.put(item): waits up to wait_ms for room. Returns 0, MPX_EFULL (no room in time), or an
 * error. */
MPX_EXPORT int mpx_queue_put(mpx_proxy *q, const mpx_value *item, int wait_ms);

/* q.get(): the oldest item, waiting up to wait_ms for one. Caller owns *out; free it with
 * mpx_value_free(). Returns 0, MPX_EEMPTY (nothing in time), or an error. */
MPX_EXPORT int mpx_queue_get(mpx_proxy *q, int wait_ms, mpx_value **out);

/* Puts every item of an array in one message, or none: MPX_EFULL if they do not all fit. */
MPX_EXPORT int mpx_queue_put_many(mpx_proxy *q, const mpx_value *items);

/* Gets 1 to max items as an array, waiting up to wait_ms while the queue is empty. Caller
 * owns *out; free it with mpx_value_free(). Returns 0, MPX_EEMPTY, or an error. */
MPX_EXPORT int mpx_queue_get_many(mpx_proxy *q, size_t max, int wait_ms, mpx_value **out);

/* A leased get: the oldest item, waiting up to wait_ms for one, handed out but still the
 * queue's until mpx_queue_ack(): if this session ends first (the process dies, its host is
 * cut off past the session timeout), or lease_ms pass (> 0 ms, or MPX_FOREVER: no limit),
 * the item goes back to the head of the queue for the next taker. Delivery is at least once:
 * an item may be handed out again after its first taker did the work but before it acked
 * (docs/api.md, "Leased gets"). *lease names it for mpx_queue_ack(). Caller owns *out; free it
 * with mpx_value_free(). Returns 0, MPX_EEMPTY (nothing in time), or an error. */
MPX_EXPORT int mpx_queue_get_lease(mpx_proxy *q, int wait_ms, int lease_ms, uint64_t *lease,
                                   mpx_value **out);

/* The leased item is done with: it leaves the queue for good (on a JoinableQueue, this is its
 * task_done). mpx_queue_nack() gives it back to the head of the queue now instead. Returns 0,
 * MPX_ENOLEASE (acknowledged already, or the lease ran out or its session ended and the item
 * went back: the work may be done again by another taker), or an error. */
MPX_EXPORT int mpx_queue_ack(mpx_proxy *q, uint64_t lease);
/* JoinableQueue: the tasks abandoned so far: taken with a plain get by a session that ended
 * (its process died) before their task_done. They no longer keep mpx_queue_join() waiting. */
MPX_EXPORT int mpx_queue_abandoned(mpx_proxy *q, uint64_t *out);
MPX_EXPORT int mpx_queue_nack(mpx_proxy *q, uint64_t lease);

/* q.qsize(), q.empty(), q.full(). */
MPX_EXPORT int mpx_queue_qsize(mpx_proxy *q, size_t *out);
MPX_EXPORT int mpx_queue_empty(mpx_proxy *q, bool *out);
MPX_EXPORT int mpx_queue_full(mpx_proxy *q, bool *out);

/* JoinableQueue: marks one item done; MPX_EVALUE if called more often than items were put. */
MPX_EXPORT int mpx_queue_task_done(mpx_proxy *q);

/* JoinableQueue: waits up to wait_ms until every item put has been marked done; *done says
 * whether that happened (false: the wait ran out). */
MPX_EXPORT int mpx_queue_join(mpx_proxy *q, int wait_ms, bool *done);

/* ------------------------------------------------------------------------------------------
 * Lock and RLock: Python's threading.Lock and RLock, held by a session (and, for an RLock, a
 * thread of it), fair (FIFO), and given back when the holder's session ends.
 * ------------------------------------------------------------------------------------------ */

/* A new anonymous lock / the lock named name, created if absent. Caller owns *out; free it
 * with mpx_proxy_free(). Returns 0, MPX_ETYPE (the name is another type's), or an error. */
MPX_EXPORT int mpx_lock_new(mpx_client *c, mpx_proxy **out);
MPX_EXPORT int mpx_lock_open(mpx_client *c, const char *name, mpx_proxy **out);
MPX_EXPORT int mpx_rlock_new(mpx_client *c, mpx_proxy **out);
MPX_EXPORT int mpx_rlock_open(mpx_client *c, const char *name, mpx_proxy **out);

/* lock.acquire(): waits up to wait_ms (0, ms, MPX_TIMEOUT_DEFAULT or MPX_FOREVER). *acquired says
 * whether it was taken. When it was, *fence (if not NULL) is its fencing token, larger than every
 * token this lock handed out before (an RLock re-entry repeats the current one), and *owner_died
 * (if not NULL) says the previous holder's session ended while holding it. Returns 0 or an error.
 */
MPX_EXPORT int mpx_lock_acquire(mpx_proxy *lock, int wait_ms, bool *acquired, uint64_t *fence,
                                bool *owner_died);

/* lock.release(): MPX_ENOTHELD if the caller (this session; for an RLock, this thread) does
 * not hold it. An RLock is free once released as many times as acquired. */
MPX_EXPORT int mpx_lock_release(mpx_proxy *lock);

/* lock.locked(). */
MPX_EXPORT int mpx_lock_locked(mpx_proxy *lock, bool *out);

/* ------------------------------------------------------------------------------------------
 * Event: Python's threading.Event, shared.
 * ------------------------------------------------------------------------------------------ */

/* A new anonymous event / the event named name, created if absent (initially clear). Caller
 * owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_event_new(mpx_client *c, mpx_proxy **out);
MPX_EXPORT int mpx_event_open(mpx_client *c, const char *name, mpx_proxy **out);

/* e.set() (wakes every waiter), e.clear(), e.is_set(). */
MPX_EXPORT int mpx_event_set(mpx_proxy *e);
MPX_EXPORT int mpx_event_clear(mpx_proxy *e);
MPX_EXPORT int mpx_event_is_set(mpx_proxy *e, bool *out);

/* e.wait(): waits up to wait_ms (0, ms, MPX_TIMEOUT_DEFAULT or MPX_FOREVER) for the flag; *flag is
 * true if it was set, false if the wait ran out. */
MPX_EXPORT int mpx_event_wait(mpx_proxy *e, int wait_ms, bool *flag);

/* ------------------------------------------------------------------------------------------
 * Semaphore and BoundedSemaphore: Python's threading classes, shared and fair (FIFO). As in
 * Python, units have no owner: a process that ends leaves the count as it is (right for a
 * semaphore used as a signal). Created with MPX_SEMAPHORE_GIVE_BACK, the units a session
 * acquired and did not release are returned when it ends (right for one guarding a resource).
 * ------------------------------------------------------------------------------------------ */

/* Flags for mpx_semaphore_open_flags(). */
#define MPX_SEMAPHORE_BOUNDED 0x1u   /* a BoundedSemaphore */
#define MPX_SEMAPHORE_GIVE_BACK 0x2u /* a session's unreleased units return when it ends */

/* The semaphore named name (NULL: a new anonymous one), created if absent with value units
 * and the given flags (both matter only when it is created). Caller owns *out; free it with
 * mpx_proxy_free(). Returns 0, MPX_EINVAL (unknown flags), MPX_ETYPE (the name is another
 * type's), or an error. */
MPX_EXPORT int mpx_semaphore_open_flags(mpx_client *c, const char *name, uint64_t value,
                                        unsigned flags, mpx_proxy **out);

/* A new anonymous semaphore / the one named name, created if absent, with value units (the
 * value matters only when it is created). Caller owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_semaphore_new(mpx_client *c, uint64_t value, mpx_proxy **out);
MPX_EXPORT int mpx_semaphore_open(mpx_client *c, const char *name, uint64_t value, mpx_proxy **out);
MPX_EXPORT int mpx_bounded_semaphore_new(mpx_client *c, uint64_t value, mpx_proxy **out);
MPX_EXPORT int mpx_bounded_semaphore_open(mpx_client *c, const char *name, uint64_t value,
                                          mpx_proxy **out);

/* s.acquire(): takes one unit, waiting up to wait_ms; *acquired says whether it did. */
MPX_EXPORT int mpx_semaphore_acquire(mpx_proxy *s, int wait_ms, bool *acquired);

/* s.release(n): returns n >= 1 units. A BoundedSemaphore refuses to go past its initial
 * value: MPX_EVALUE, nothing released. */
MPX_EXPORT int mpx_semaphore_release(mpx_proxy *s, uint64_t n);

/* The units available now. */
MPX_EXPORT int mpx_semaphore_value(mpx_proxy *s, uint64_t *out);

/* ------------------------------------------------------------------------------------------
 * Barrier: Python's threading.Barrier, shared. A timeout, an abort, a reset or a waiter whose
 * process dies breaks it: every waiter, and every later wait until a reset, gets MPX_EBROKEN.
 * ------------------------------------------------------------------------------------------ */

/* mpx_barrier_wait()'s wait_ms meaning "the barrier's own timeout". */
#define MPX_BARRIER_TIMEOUT (-3)

/* A new anonymous barrier / the one named name, created if absent, for parties >= 1 callers,
 * with a default wait timeout (ms, or MPX_FOREVER for none). Caller owns *out; free it with
 * mpx_proxy_free(). */
MPX_EXPORT int mpx_barrier_new(mpx_client *c, uint64_t parties, int timeout_ms, mpx_proxy **out);
MPX_EXPORT int mpx_barrier_open(mpx_client *c, const char *name, uint64_t parties, int timeout_ms,
                                mpx_proxy **out);

/* b.wait(): waits until all parties arrive, up to wait_ms (ms, MPX_FOREVER, or
 * MPX_BARRIER_TIMEOUT); *index is this caller's arrival index, 0..parties-1, unique in its
 * generation. Returns 0, MPX_EBROKEN, or an error. */
MPX_EXPORT int mpx_barrier_wait(mpx_proxy *b, int wait_ms, uint64_t *index);

/* b.reset() (waiters get MPX_EBROKEN; the barrier is whole again), b.abort() (breaks it). */
MPX_EXPORT int mpx_barrier_reset(mpx_proxy *b);
MPX_EXPORT int mpx_barrier_abort(mpx_proxy *b);

/* b.parties, b.n_waiting, b.broken. */
MPX_EXPORT int mpx_barrier_parties(mpx_proxy *b, uint64_t *out);
MPX_EXPORT int mpx_barrier_n_waiting(mpx_proxy *b, uint64_t *out);
MPX_EXPORT int mpx_barrier_broken(mpx_proxy *b, bool *out);

/* ------------------------------------------------------------------------------------------
 * Condition: Python's threading.Condition on a shared Lock or RLock. Waiters are notified in
 * arrival order and re-acquire the lock in turn before their wait returns.
 * ------------------------------------------------------------------------------------------ */

/* A new anonymous condition / the one named name, created if absent, on lock (a lock or rlock
 * proxy), or on a new RLock of its own when lock is NULL. The server keeps the lock alive as
 * long as the condition. Caller owns *out; free it with mpx_proxy_free(). */
MPX_EXPORT int mpx_condition_new(mpx_client *c, mpx_proxy *lock, mpx_proxy **out);
MPX_EXPORT int mpx_condition_open(mpx_client *c, const char *name, mpx_proxy *lock,
                                  mpx_proxy **out);

/* cond.acquire() / cond.release(): the lock's, as mpx_lock_acquire() / mpx_lock_release(). */
MPX_EXPORT int mpx_condition_acquire(mpx_proxy *cond, int wait_ms, bool *acquired);
MPX_EXPORT int mpx_condition_release(mpx_proxy *cond);

/* cond.wait(): must hold the lock (else MPX_ENOTHELD). Releases it, waits up to wait_ms for a
 * notify, re-acquires it (however long that takes), then returns; *notified is false if the
 * wait ran out. */
MPX_EXPORT int mpx_condition_wait(mpx_proxy *cond, int wait_ms, bool *notified);

/* mpx_condition_wait(), also telling what re-acquiring the lock gave, as mpx_lock_acquire()
 * does: the lock's new fencing token (for mpx_proxy_fence()) and whether its last holder's
 * session ended holding it (*owner_died: what it guarded may be half-changed). fence and
 * owner_died may be NULL. */
MPX_EXPORT int mpx_condition_wait_fence(mpx_proxy *cond, int wait_ms, bool *notified,
                                        uint64_t *fence, bool *owner_died);

/* cond.notify(n) / cond.notify_all(): must hold the lock (else MPX_ENOTHELD). */
MPX_EXPORT int mpx_condition_notify(mpx_proxy *cond, uint64_t n);
MPX_EXPORT int mpx_condition_notify_all(mpx_proxy *cond);

/* A predicate for mpx_condition_wait_for(); arg is the caller's. */
typedef bool (*mpx_predicate)(void *arg);

/* cond.wait_for(pred, timeout): holding the lock, waits until pred(arg) is true, for up to
 * wait_ms in all; *result is the predicate's last value. */
MPX_EXPORT int mpx_condition_wait_for(mpx_proxy *cond, mpx_predicate pred, void *arg, int wait_ms,
                                      bool *result);

/* ------------------------------------------------------------------------------------------
 * Private manager: the equivalent of Python's multiprocessing.Manager()
 * ------------------------------------------------------------------------------------------ */
typedef struct mpx_manager mpx_manager;

/* Starts a private mpxd child serving a fresh ipc:// endpoint in a new 0700 directory, with a
 * random authkey that never leaves this process except through a 0600 file in that
 * directory, and connects to it. Children forked afterwards use the same client and proxies
 * with no configuration. The mpxd binary is $MPX_MPXD if set, else the one installed with this
 * library (in the bin or libexec directory beside the library's own lib directory), else mpxd
 * on PATH. Caller owns *out; free it with mpx_manager_shutdown(). Returns
 * 0, MPX_ENOMEM, MPX_ESYS (the server could not be started) or a connect error. */
MPX_EXPORT int mpx_manager_start(mpx_manager **out);

/* The manager's connected client. Borrowed; valid until mpx_manager_shutdown(). */
MPX_EXPORT mpx_client *mpx_manager_client(mpx_manager *m);

/* The endpoint of the private server. Borrowed; valid until mpx_manager_shutdown(). */
MPX_EXPORT const char *mpx_manager_endpoint(const mpx_manager *m);

/* In the process that started it: closes the client (proxies made on it then return
 * MPX_ECLOSED, and must still be freed), stops the server, removes its
 * directory and sets *m to NULL. In a forked child: only closes the child's session. Accepts
 * NULL. */
MPX_EXPORT void mpx_manager_shutdown(mpx_manager **m);

#ifdef __cplusplus
}
#endif
#endif /* MPX_H */
