/*
 * records.h — the format of mpxd's data files (docs/persistence.md): a header naming the
 * file's kind and format version, then records, each a checked length, a CRC-32 and one msgpack
 * array that is a self-contained, deterministic command (internal to mpxd).
 *
 * The same records make the log (every acknowledged change, appended) and the snapshot (the
 * commands that rebuild every object), so that replaying either gives the same state on any
 * machine, at any time, from any sessions: what a replica would need too.
 */
#ifndef MPX_SERVER_RECORDS_H
#define MPX_SERVER_RECORDS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

#define MPX_DATA_MAGIC "mpxdata\n" /* 8 bytes */
#define MPX_DATA_VERSION 1
#define MPX_DATA_HDR_LEN 16 /* magic, version (u32 BE), kind (u32 BE) */
/* A record's header: the payload's length (u32 BE), its complement (so that a damaged length
 * is told from a record cut short by a crash), and the CRC-32 of the payload (u32 BE). */
#define MPX_REC_HDR_LEN 12
#define MPX_REC_MAX (1u << 31)

enum { MPX_FILE_SNAPSHOT = 1, MPX_FILE_LOG = 2 };

/* What a record says; the first item of its array. */
enum {
    MPX_REC_RUN = 1,    /* [1, run, lineage]: a run of mpxd began */
    MPX_REC_CREATE = 2, /* [2, id, type, name or nil, [creation arguments]] */
    MPX_REC_DELETE = 3, /* [3, id] */
    MPX_REC_CALL = 4,   /* [4, object id, method, [arguments]] */
    MPX_REC_END = 5,    /* [5, records before it]: the last record of a snapshot */
};

/* Records being built: each is packed into `scratch`, then framed into `out`. */
struct mpx__records {
    mpx__buf out;
    mpx__buf scratch;
    msgpack_packer pk;  /* packs into scratch */
    uint64_t n_records; /* framed into out so far (reset by the owner as it likes) */
};
typedef struct mpx__records mpx__records;

void mpx__records_init(mpx__records *w);
void mpx__records_free(mpx__records *w);

/* Begins a record of `kind` whose array has n items in all (kind included), and returns the
 * packer for the n - 1 items after kind. */
msgpack_packer *mpx__record_begin(mpx__records *w, uint8_t kind, uint32_t n);
/* Begins [4, obj_id, method, [argc arguments...]]: the caller packs the argc arguments. */
msgpack_packer *mpx__record_call(mpx__records *w, uint64_t obj_id, const char *method,
                                 uint32_t argc);
/* Frames the record begun into out. */
void mpx__record_end(mpx__records *w);

/* Writes a file header of kind into out[0..MPX_DATA_HDR_LEN). */
void mpx__data_header(uint8_t *out, uint32_t kind);

/* Reading a data file from memory. */
typedef struct {
    const uint8_t *p, *end, *start;
    uint64_t n; /* records read */
} mpx__record_reader;

typedef enum {
    MPX_READ_RECORD, /* *rec, *len: one record's payload, its checksum good */
    MPX_READ_EOF,    /* every byte read */
    MPX_READ_TORN,   /* what is left is not a whole record and runs to the end of the file, or is
                        all zero bytes: what a crash during a write leaves */
    MPX_READ_BAD,    /* a bad record with more after it: corruption, not a crash */
} mpx__read_result;

/* Checks the header; returns 0, or -1 with *why set. */
int mpx__reader_open(mpx__record_reader *r, const uint8_t *data, size_t len, uint32_t kind,
                     const char **why);
mpx__read_result mpx__reader_next(mpx__record_reader *r, const uint8_t **rec, size_t *len);
/* Where the next record starts: the length of the file's good part after MPX_READ_TORN. */
size_t mpx__reader_offset(const mpx__record_reader *r);

#endif
