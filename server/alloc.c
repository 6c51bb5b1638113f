/*
 * alloc.c — the aborting, accounted allocator of alloc.h, and mpx__panic().
 */
#include "alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t used; /* one thread allocates: mpxd's loop */

static void *check(void *p, size_t n)
{
    if (!p) {
        fprintf(stderr, "mpxd: out of memory allocating %zu bytes\n", n);
        abort();
    }
    used += malloc_usable_size(p);
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
    size_t before = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n ? n : 1);
    if (q) used -= before;
    return check(q, n);
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

void mpx__xfree(void *p)
{
    if (!p) return;
    used -= malloc_usable_size(p);
    free(p);
}

static size_t page_size(void)
{
    static size_t size;
    if (!size) size = (size_t)sysconf(_SC_PAGESIZE);
    return size;
}

static size_t map_len(size_t n)
{
    return (n + page_size() - 1) / page_size() * page_size();
}

void *mpx__xmap(size_t n)
{
    void *p = mmap(NULL, map_len(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mpxd: out of memory mapping %zu bytes\n", n);
        abort();
    }
    used += map_len(n);
    return p;
}

void mpx__xunmap(void *p, size_t n)
{
    if (!p) return;
    if (munmap(p, map_len(n))) mpx__panic("munmap: %s", strerror(errno));
    used -= map_len(n);
}

void mpx__prefault(void *p, size_t n)
{
    uintptr_t page = page_size(), from = ((uintptr_t)p + page - 1) & ~(page - 1);
    for (uintptr_t a = from; a < (uintptr_t)p + n; a += page)
        *(volatile char *)a = 0;
}

size_t mpx__mem_used(void)
{
    return used;
}

void mpx__panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mpxd: internal error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

int mpx__buf_write(void *buf, const char *p, size_t len)
{
    mpx__buf *b = buf;
    if (len == 0) return 0; /* p may be NULL then (an empty listing), which memcpy forbids */
    if (len > b->cap - b->size) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->size < len)
            cap *= 2;
        b->data = mpx__xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, len);
    b->size += len;
    return 0;
}

void mpx__buf_free(mpx__buf *b)
{
    mpx__xfree(b->data);
    *b = (mpx__buf){0};
}
