/*
 * hash.h — uthash, with its tables allocated by mpxd's accounted allocator (internal to mpxd).
 * Every server file includes this rather than <uthash.h>.
 */
#ifndef MPX_SERVER_HASH_H
#define MPX_SERVER_HASH_H

#include "alloc.h"

#define uthash_malloc(sz) mpx__xmalloc(sz)
#define uthash_free(ptr, sz) mpx__xfree(ptr)
#define uthash_fatal(msg) mpx__panic("%s", msg)
#include <uthash.h>

#endif
