/*
 * persist.h — mpxd's durable state with --data-dir (docs/persistence.md): every change a call
 * makes is logged as a record before its reply goes out, a snapshot compacts the log now and
 * then, and a restart replays both (internal to mpxd).
 *
 * What logs what: dispatch logs a call to a method marked `logged` exactly as it came (its
 * result depends only on the object and the arguments); a type whose changes depend on more
 * (a queue serving a parked get, a semaphore counting units per session) logs the effect
 * itself with mpx__persist_call(); the manager logs creation and deletion. While records are
 * replayed nothing is logged.
 */
#ifndef MPX_SERVER_PERSIST_H
#define MPX_SERVER_PERSIST_H

#include "records.h"
#include "server.h"

/* Recovers the state in cfg->data_dir into s (creating the directory if need be), starts the
 * log writer and logs the start of this run. Returns 0, or -1 after logging why mpxd cannot
 * start (a corrupt file, the directory in use by another mpxd, no permission). */
int mpx__persist_open(mpx__server *s);

/* Stops the writer once everything logged is written and synced; NULL-safe. */
void mpx__persist_close(mpx__server *s);

/* The record of a change to obj that a handler or hook makes, or NULL when nothing is logged
 * (no --data-dir, or replaying): pack argc arguments, then mpx__persist_end(). */
msgpack_packer *mpx__persist_call(mpx__server *s, const mpx__obj *obj, const char *method,
                                  uint32_t argc);
void mpx__persist_end(mpx__server *s);

/* Logs method(v) on obj: the effect records whose one argument is a number. */
void mpx__persist_uint(mpx__server *s, const mpx__obj *obj, const char *method, uint64_t v);

/* Logs a call as it came: the method and its arguments' bytes. */
void mpx__persist_logged_call(mpx__server *s, const mpx__obj *obj, const mpx__method *m,
                              uint32_t argc, const mpx__span *argv);

/* Logs an object made (with its creation arguments: one msgpack array, or NULL) and one
 * deleted. */
void mpx__persist_created(mpx__server *s, const mpx__obj *obj, const mpx__span *args);
void mpx__persist_deleted(mpx__server *s, const mpx__obj *obj);

/* Whether a reply must wait until the changes logged before it are durable (--fsync always,
 * or a writer far behind); if so it is copied and sent by mpx__persist_turn() once they are.
 * Called for every REPLY and REPLIES frame, in the order they are sent. */
bool mpx__persist_hold(mpx__server *s, const uint8_t *rid, size_t rid_len, const mpx__buf *frame);

/* Once a loop turn: hands the records of the turn to the writer, sends held replies that may
 * go, starts or finishes a compaction. Returns how long the loop may wait (ms) before it must
 * look again, at most cap. */
int mpx__persist_turn(mpx__server *s, int cap);

/* The counters of the manager's stats(); all 0 without --data-dir. */
typedef struct {
    uint64_t log_bytes;   /* the current log file's size */
    uint64_t compactions; /* snapshots written */
    uint64_t fork_us;     /* how long the last compaction's fork took */
    uint64_t held;        /* replies waiting for the disk */
    uint64_t write_errors;
} mpx__persist_stats;
mpx__persist_stats mpx__persist_stats_get(const mpx__server *s);

/* Whether records are being replayed (a handler must not answer anyone). */
bool mpx__persist_replaying(const mpx__server *s);

/* The id of the state mpxd serves: made when the data directory was, and kept with it; without
 * --data-dir, the run's instance id (the state goes with the run). */
uint64_t mpx__persist_state_id(const mpx__server *s);

/* The first id and fencing token of this run: run << 40, so that none is ever handed out
 * again after a restart, whatever the last second before a crash lost. 1 without
 * --data-dir. */
uint64_t mpx__persist_base(const mpx__server *s);

#endif
