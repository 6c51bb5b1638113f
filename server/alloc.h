/*
 * alloc.h — mpxd's allocator: it aborts when memory runs out (internal to mpxd).
 *
 * A server that cannot allocate cannot keep its promises to anyone, so mpxd stops loudly
 * rather than corrupting state; libmpx, which lives inside other programs, never does this.
 */
#ifndef MPX_SERVER_ALLOC_H
#define MPX_SERVER_ALLOC_H

#include <stddef.h>

void *mpx__xmalloc(size_t n);
void *mpx__xcalloc(size_t n, size_t size);
void *mpx__xrealloc(void *p, size_t n);
/* n must be a multiple of align, a power of two; free() releases it. */
void *mpx__xaligned_alloc(size_t align, size_t n);
char *mpx__xstrndup(const char *s, size_t n);

#endif
