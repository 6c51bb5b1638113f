/*
 * aof.h — the log writer: a thread that appends the records the loop hands it to the log
 * file and makes them durable as --fsync says, so that the loop never waits for the disk
 * (internal to mpxd).
 *
 * Positions are bytes handed over since mpxd started, across log files: the loop counts what
 * it has handed over, the writer publishes how much of it is written (in the page cache) and
 * how much is durable (fdatasync returned). A write that fails (a full disk) is retried every
 * second, keeping its bytes; nothing handed over is dropped.
 */
#ifndef MPX_SERVER_AOF_H
#define MPX_SERVER_AOF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"

typedef enum { MPX_FSYNC_NO, MPX_FSYNC_EVERYSEC, MPX_FSYNC_ALWAYS } mpx__fsync;

typedef struct mpx__aof mpx__aof;

/* Starts the writer on the open log file fd (its end is where records go; owned from now),
 * file_bytes long, in the data directory dirfd (borrowed). When something becomes durable and
 * the loop asked for it (mpx__aof_notify), the writer sends `wake_signal` to thread `loop`.
 * Returns NULL if the thread cannot start. */
mpx__aof *mpx__aof_start(int dirfd, int fd, uint64_t file_bytes, mpx__fsync mode, pthread_t loop,
                         int wake_signal);

/* Writes and syncs everything handed over, stops the thread, closes the file; NULL-safe,
 * nulls *a. */
void mpx__aof_stop(mpx__aof **a);

/* Hands over b's bytes (b is left empty; its memory may be swapped with the writer's). */
void mpx__aof_append(mpx__aof *a, mpx__buf *b);

/* What was handed over so far goes to the current file, which is then synced and closed; later
 * records go to a new log file numbered gen. Returns false if a rotation is still under way. */
bool mpx__aof_rotate(mpx__aof *a, uint64_t gen);
bool mpx__aof_rotating(mpx__aof *a);

/* Removes the snapshots and log files numbered below gen (their state is in snapshot gen). */
void mpx__aof_remove_before(mpx__aof *a, uint64_t gen);

uint64_t mpx__aof_handed(const mpx__aof *a);     /* bytes handed over */
uint64_t mpx__aof_written(const mpx__aof *a);    /* of those, written to the file */
uint64_t mpx__aof_durable(const mpx__aof *a);    /* of those, synced to the disk */
uint64_t mpx__aof_file_bytes(const mpx__aof *a); /* the current log file's size */
uint64_t mpx__aof_write_errors(const mpx__aof *a);

/* Whether the loop wants wake_signal when more becomes durable (it holds replies). */
void mpx__aof_notify(mpx__aof *a, bool want);

/* Names of the data files: "snapshot.<gen>" and "log.<gen>", gen in decimal. */
void mpx__data_file_name(char *out, size_t size, bool snapshot, uint64_t gen);

#endif
