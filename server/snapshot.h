/*
 * snapshot.h — writing a snapshot: the records that rebuild every object mpxd holds, run by
 * the child a compaction forks (internal to mpxd).
 */
#ifndef MPX_SERVER_SNAPSHOT_H
#define MPX_SERVER_SNAPSHOT_H

#include <stdint.h>

#include "server.h"

/* Writes snapshot.<gen> in dirfd: snapshot.<gen>.tmp, synced, then renamed, the directory
 * synced, so that a snapshot by its final name is always whole; *bytes is its size. Returns 0
 * or -1 (logged). */
int mpx__snapshot_write(mpx__server *s, int dirfd, uint64_t gen, uint64_t run, uint64_t state_id,
                        uint64_t *bytes);

#endif
