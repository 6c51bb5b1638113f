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

/* Widening the send buffers of ipc:// connections (sockbuf.c says why). Open the monitor on
 * sock before it binds or connects, under an inproc name unique in zctx: it returns the
 * monitor's reading end, or NULL (the buffers then stay as they are). Its queue has no bound,
 * so that libzmq's I/O thread never waits on it: drain it, without waiting, once a new
 * connection has been heard from, and often enough to keep it short. Close it (NULL is fine)
 * before sock. */
bool mpx__endpoint_is_ipc(const char *endpoint, size_t len);
void *mpx__ipc_monitor_open(void *zctx, void *sock, const char *name, int events);
void mpx__ipc_monitor_drain(void *mon);
void mpx__ipc_monitor_close(void *sock, void **mon);

#endif
