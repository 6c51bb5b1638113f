/*
 * alloc.c — the aborting allocator of alloc.h.
 */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *check(void *p, size_t n)
{
    if (!p && n) {
        fprintf(stderr, "mpxd: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

void *mpx__xmalloc(size_t n)
{
    return check(malloc(n ? n : 1), n);
}

void *mpx__xcalloc(size_t n, size_t size)
{
    return check(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *mpx__xrealloc(void *p, size_t n)
{
    return check(realloc(p, n ? n : 1), n);
}

void *mpx__xaligned_alloc(size_t align, size_t n)
{
    return check(aligned_alloc(align, n ? n : align), n);
}

char *mpx__xstrndup(const char *s, size_t n)
{
    char *d = mpx__xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
