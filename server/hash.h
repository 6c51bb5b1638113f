/*
 * hash.h — uthash, with its tables allocated by mpxd's accounted allocator and hashed with
 * SipHash-1-3 under a key drawn at start (internal to mpxd). Every server file includes this
 * rather than <uthash.h>, so every table hashes alike.
 *
 * Object names and routing ids are chosen by clients: with uthash's own unkeyed hash, names
 * chosen to collide would pile into one bucket and make every lookup a walk of them.
 */
#ifndef MPX_SERVER_HASH_H
#define MPX_SERVER_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

/* The hash of every uthash table: SipHash-1-3 of key[0..len) under a random key, drawn on
 * first use. */
uint32_t mpx__table_hash(const void *key, size_t len);

#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = mpx__table_hash((keyptr), (keylen)))

#define uthash_malloc(sz) mpx__xmalloc(sz)
#define uthash_free(ptr, sz) mpx__xfree(ptr)
#define uthash_fatal(msg) mpx__panic("%s", msg)
#include <uthash.h>

#endif
