/*
 * alloc.h — mpxd's allocator, its memory accounting and its one panic (internal to mpxd).
 *
 * A server that cannot allocate cannot keep its promises to anyone, so mpxd stops loudly rather
 * than corrupting state; libmpx, which lives inside other programs, never does this. Every block
 * mpxd allocates for objects, sessions and parked calls goes through these functions and is
 * freed with mpx__xfree(), so mpx__mem_used() knows what mpxd holds (--max-memory compares
 * against it). libzmq's and OpenSSL's own buffers are not counted.
 */
#ifndef MPX_SERVER_ALLOC_H
#define MPX_SERVER_ALLOC_H

#include <stddef.h>

void *mpx__xmalloc(size_t n);
void *mpx__xcalloc(size_t n, size_t size);
void *mpx__xrealloc(void *p, size_t n);
/* n must be a multiple of align, a power of two; mpx__xfree() releases it. */
void *mpx__xaligned_alloc(size_t align, size_t n);
char *mpx__xstrndup(const char *s, size_t n);
/* Frees a block from the functions above. Accepts NULL. */
void mpx__xfree(void *p);

/* n zero bytes mapped from the kernel, for a large table: its pages cost nothing until first
 * written (the kernel clears each then), so that cost can be spread with mpx__prefault().
 * Released with mpx__xunmap(p, n). */
void *mpx__xmap(size_t n);
void mpx__xunmap(void *p, size_t n);

/* Writes a zero to each page that begins in [p, p + n), so that the writes that follow take
 * no page faults: a write from the program, as madvise(MADV_POPULATE_WRITE) is not, also
 * fills whatever the CPU or a hypervisor builds on its first access to a page. For memory
 * from mpx__xmap() not yet written: the mapping holds each such page whole, and calls over
 * consecutive ranges from its start reach every page once. */
void mpx__prefault(void *p, size_t n);

/* The bytes of the blocks allocated above and not yet freed. */
size_t mpx__mem_used(void);

/* A broken internal invariant (a bug in mpxd, never something a peer or the system caused):
 * logs the message and aborts. */
_Noreturn void mpx__panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer that frames are built in; its write function has the signature of a
 * msgpack_packer's callback and never fails (it aborts as the allocator does). */
typedef struct {
    char *data;
    size_t size;
    size_t cap;
} mpx__buf;

int mpx__buf_write(void *buf, const char *p, size_t len);
void mpx__buf_free(mpx__buf *b);

#endif
