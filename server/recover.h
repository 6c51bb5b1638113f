/*
 * recover.h — rebuilding mpxd's state from its data directory at start: the newest snapshot,
 * then every log after it, record by record, through the same handlers that made the changes
 * (internal to mpxd).
 */
#ifndef MPX_SERVER_RECOVER_H
#define MPX_SERVER_RECOVER_H

#include <stdint.h>

#include "server.h"

typedef struct {
    uint64_t run, state_id;  /* of the last run recorded; 0 when the directory is new */
    uint64_t gen;            /* the log file to go on appending to */
    int fd;                  /* that file, open at its end; the caller owns it */
    uint64_t file_bytes;     /* its size */
    uint64_t snapshot_bytes; /* the snapshot's size; 0 without one */
} mpx__recovered;

/* Replays the data directory dirfd (named dir, for messages) into s, whose registry is empty,
 * with *replaying true; then sets it false and ends the replaying session, whose leases go
 * back to their queues (logged, as any session's end). A log's torn tail (a crash mid-write)
 * is cut off and reported; any other damage stops: returns -1 after logging the file, the
 * record and what to do. */
int mpx__recover(mpx__server *s, int dirfd, const char *dir, bool *replaying, mpx__recovered *r);

/* Applies one record to s as if `sess` made it. Returns 0, or -1 with why[0..size) set. */
int mpx__replay_record(mpx__server *s, mpx__session *sess, const uint8_t *rec, size_t len,
                       mpx__recovered *r, char *why, size_t size);

#endif
