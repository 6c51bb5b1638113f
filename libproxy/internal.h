/*
 * internal.h — declarations shared by libmpx's own files (internal; not installed).
 */
#ifndef MPX_INTERNAL_H
#define MPX_INTERNAL_H

#include <stdarg.h>

#include <msgpack.h>
#include <zmq.h>

#include "mpx.h"

/* Records code and a formatted message as the calling thread's last error; returns code. */
int mpx__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a remote error: the message the server sent, kept as it came. */
int mpx__fail_remote(int code, const char *msg, size_t len);

/* A growable byte buffer that frames and encoded values are built in. Up to
 * MPX__WBUF_INLINE bytes live in the struct itself (on the caller's stack); past that the
 * bytes move to the heap, owned by the buffer until mpx__wbuf_free() or a release. */
#define MPX__WBUF_INLINE 512

typedef struct {
    char *data;
    size_t size;
    size_t cap;
    char inline_buf[MPX__WBUF_INLINE];
} mpx__wbuf;

/* An empty buffer with its first `reserved` bytes set aside (room for a header). */
void mpx__wbuf_init(mpx__wbuf *b, size_t reserved);
void mpx__wbuf_free(mpx__wbuf *b);

/* Appends len bytes; the signature of a msgpack_packer's write callback. Returns 0 or -1. */
int mpx__wbuf_write(void *b, const char *p, size_t len);

/* Hands the bytes to the caller, who frees them with free(); the buffer is left empty and
 * inline. NULL when out of memory. */
char *mpx__wbuf_release(mpx__wbuf *b);

/* Appends a value's msgpack encoding. Returns 0 or MPX_ENOMEM. */
int mpx__value_pack(mpx__wbuf *b, const mpx_value *v);

/* Object references (values of type MPX_REF). A reference decoded from a reply is claimed by
 * the client that received it: the client's session holds a reference to the object for it
 * (the server gave one with the reply), released through mpx__ref_release_hook when the value
 * is freed, or handed to a proxy (mpx_proxy_from_ref()). */
#define MPX__REF_TYPE_MAX 32 /* the longest type name a reference carries */

/* A new unclaimed reference to object id of type type[0..len). NULL if out of memory. */
mpx_value *mpx__value_ref(uint64_t id, const char *type, size_t len);

/* Claims every unclaimed reference inside v for owner, whose session of fork generation gen
 * (its low 16 bits are kept) holds them; returns how many. */
size_t mpx__value_claim_refs(mpx_value *v, void *owner, unsigned gen);

/* Unclaims a reference, returning its owner (NULL if it had none) and *gen the generation it
 * was claimed in. */
void *mpx__value_disown_ref(mpx_value *v, unsigned *gen);

/* Takes item i out of an array or map, leaving nil in its place (so that what it claims moves
 * with it). Caller owns the result. NULL if out of range or out of memory. */
mpx_value *mpx__value_take(mpx_value *array, size_t i);

/* Called with a claimed reference's owner, object id and claim generation as the value is
 * freed (the client library sets it). */
extern void (*mpx__ref_release_hook)(void *owner, uint64_t id, unsigned gen);

/* Whether this process may run on cpu (mpxd's --cpu, mpx_connect_opts' io_cpu). */
bool mpx__cpu_usable(int cpu);

/* The longest authkey, in bytes. */
#define MPX__KEY_MAX 4096

/* Gives a ZeroMQ socket, before it connects, the client's CURVE keys for authkey: the key pair
 * every client of that authkey shares and the server's public key (docs/protocol.md §3).
 * Returns 0, or -1 with errno set by libzmq. */
int mpx__curve_client(void *sock, const uint8_t *authkey, size_t keylen);

/* The first bytes of a key file in hex form; mpxd writes its keys so. */
#define MPX__KEY_PREFIX "mpxkey:"
#define MPX__KEY_PREFIX_LEN 7

/* Reads an authkey file into key (one byte more than the longest key, so that a longer file can
 * be told): "mpxkey:" followed by the key in hex and at most one newline, or else a regular
 * file of 1 to MPX__KEY_MAX bytes that is the key, every byte of it. *mode (if not NULL) gets
 * the file's permission bits. Returns 0, MPX_ESYS (unreadable) or MPX_EINVAL (not a regular
 * file, empty, too long, or a malformed hex form), with the reason in err. */
int mpx__keyfile_read(const char *path, uint8_t key[MPX__KEY_MAX + 1], size_t *len, unsigned *mode,
                      char *err, size_t errlen);

#endif
