/*
 * seq.h — what the collection types share (internal to mpxd): one rule of equality for dict
 * keys, list items and set members, the order a list sorts by, and Python's rules for an index
 * and a slice.
 *
 * Equality: two values are equal when their canonical encodings are (codec.h): numbers by
 * value whatever their encoding (1 == 1.0, -0.0 == 0, integers beyond 2^53 exactly), booleans
 * a kind of their own (true is not 1), every NaN equal to every NaN.
 */
#ifndef MPX_SERVER_SEQ_H
#define MPX_SERVER_SEQ_H

#include "alloc.h"
#include "dict.h"
#include "object.h"
#include "records.h"

/* The canonical form of the value arg: arg itself when it already is canonical, else its
 * re-encoding in buf (valid until buf is next used). Returns 0, or fails req with MPX_ETYPE
 * or MPX_EBADREQ. */
int mpx__canon(mpx__req *req, const mpx__span *arg, mpx__buf *buf, mpx__span *out);

/* mpx__canon() into a buffer of this module's, with the canonical form's hash (dict.h): for
 * a key about to be looked up. The form is valid until the next call. */
int mpx__key(mpx__req *req, const mpx__span *arg, mpx__span *key, uint64_t *hash);

/* Whether the stored value p[0..len) equals the value whose canonical form is canon. */
bool mpx__equal(const mpx__span *canon, const uint8_t *p, size_t len);

/* A number as arithmetic reads it: an integer exactly (i), or a float; d holds either as a
 * double. */
typedef struct {
    bool is_int, is_float;
    __int128 i;
    double d;
} mpx__number;

/* Reads v as a number into *n, and its token into *tok (may be NULL) whatever it is. Returns
 * 0, or MPX_ETYPE when it is not a number (a bool is not). */
int mpx__number_read(const mpx__span *v, mpx__number *n, mpx__mp_token *tok);

/* cur + delta, packed into out: integers exactly (a sum outside the 64-bit integers is
 * MPX_EOVERFLOW), a double when either is one; cur NULL counts as 0. Returns 0, or fails req
 * with MPX_ETYPE (not a number: booleans are not) or MPX_EOVERFLOW. */
int mpx__num_add(mpx__req *req, const mpx__span *cur, const mpx__span *delta, mpx__buf *out);

/* Stores v under key (hash its hash) in d, the storage of req->obj (a dict or namespace):
 * v's object references are checked and held, and those of the value it replaces dropped.
 * Returns 0, or fails req with MPX_ENOOBJ or MPX_ETYPE (a bad reference; nothing stored) or
 * MPX_EFULL. */
int mpx__map_store(mpx__req *req, mpx__dict *d, const mpx__span *key, uint64_t hash,
                   const mpx__span *v);

/* The value under key in d is about to be removed or replaced: drops its references. */
void mpx__map_release(mpx__req *req, const mpx__dict_entry *e);

/* A value as sort sees it: a number, a string, bytes or a bool; anything else cannot be
 * ordered. */
typedef struct {
    uint8_t kind; /* SEQ_* in seq.c: values of different kinds cannot be compared */
    bool is_float;
    __int128 i;
    double d;
    const uint8_t *p; /* a string's or bytes' body */
    uint32_t len;
} mpx__order_key;

/* Reads the order key of the value p[0..len). Returns 0, or MPX_ETYPE for a value that has no
 * order (nil, an array, a map). */
int mpx__order_key_make(const uint8_t *p, size_t len, mpx__order_key *k);

/* Whether a and b can be compared (numbers with numbers, strings with strings, ...). */
bool mpx__order_comparable(const mpx__order_key *a, const mpx__order_key *b);

/* <0, 0 or >0 as a sorts before, with, or after b (comparable). Numbers compare exactly by
 * value, a NaN after every other number; strings and bytes byte by byte (for UTF-8 strings,
 * the order of their code points); false before true. */
int mpx__order_cmp(const mpx__order_key *a, const mpx__order_key *b);

/* Reads argument i as an index into a sequence of len items, negative counting from the end.
 * Returns 0, or MPX_EINDEX (out of range) / MPX_ETYPE, with the message set. */
int mpx__index_arg(mpx__req *req, uint32_t i, size_t len, size_t *out);

/* A slice resolved against a length, as Python's slice.indices(): the n positions start,
 * start + step, ... */
typedef struct {
    int64_t start, stop, step;
    size_t n;
} mpx__slice;

/* Reads (start, stop, step) from arguments first..first+2, each nil or an integer (step not 0;
 * absent arguments are nil), and resolves them against len. Returns 0, MPX_ETYPE or MPX_EVALUE
 * (step 0), with the message set. */
int mpx__slice_arg(mpx__req *req, uint32_t first, size_t len, mpx__slice *s);

/* The i-th position of a slice. */
static inline size_t mpx__slice_at(const mpx__slice *s, size_t i)
{
    return (size_t)(s->start + (int64_t)i * s->step);
}

/* Reads argument i as an array and returns its item count, with *c at its first item. Returns
 * 0 or MPX_ETYPE with the message set. */
int mpx__array_arg(mpx__req *req, uint32_t i, mpx__mp_cursor *c, uint32_t *n);

/* The next item of an array walked with mpx__array_arg() (dispatch checked it whole). */
mpx__span mpx__array_next(mpx__mp_cursor *c);

/* How mpx__dump_dict() refills a dict-like object. */
typedef enum {
    MPX_DUMP_MAP,  /* method({key: value, ...}): dict.update */
    MPX_DUMP_KEYS, /* method([key, ...]): set.update */
    MPX_DUMP_EACH, /* method(key, value) for each pair: namespace.set */
} mpx__dump_how;

/* Packs the records that refill obj from d, in insertion order, so that the copy keeps it (a
 * snapshot, snapshot.c), a bounded number of pairs a record. */
void mpx__dump_dict(const mpx__obj *obj, const mpx__dict *d, mpx__records *w, const char *method,
                    mpx__dump_how how);

#endif
