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

/* Whether this process may run on cpu (mpxd's --cpu, mpx_connect_opts' io_cpu). */
bool mpx__cpu_usable(int cpu);

/* The longest authkey, in bytes. */
#define MPX__KEY_MAX 4096

/* Reads an authkey file into key (one byte more than the longest key, so that a longer file can
 * be told): a regular file of 1 to MPX__KEY_MAX bytes, less one trailing newline. *mode (if not
 * NULL) gets the file's permission bits. Returns 0, MPX_ESYS (unreadable) or MPX_EINVAL (not a
 * regular file, empty or too long), with the reason in err. */
int mpx__keyfile_read(const char *path, uint8_t key[MPX__KEY_MAX + 1], size_t *len, unsigned *mode,
                      char *err, size_t errlen);

#endif
