/*
 * typecode.h — the typecodes of typed values and arrays (internal to mpxd): Python's array
 * module's 'b' 'B' 'h' 'H' 'i' 'I' 'l' 'L' 'q' 'Q' 'f' 'd', plus 'c' (one byte) and '?' (a
 * bool). A number is held in 64 bits whatever its typecode, its range checked on the way in.
 */
#ifndef MPX_SERVER_TYPECODE_H
#define MPX_SERVER_TYPECODE_H

#include "object.h"

typedef union {
    int64_t i;  /* signed typecodes */
    uint64_t u; /* unsigned typecodes, 'c' and '?' */
    double d;   /* 'f' and 'd' ('f' rounded to float) */
} mpx__num;

typedef enum {
    MPX_TC_SIGNED,
    MPX_TC_UNSIGNED,
    MPX_TC_FLOAT,
    MPX_TC_BYTE,
    MPX_TC_BOOL
} mpx__tc_kind;

typedef struct {
    char code;
    mpx__tc_kind kind;
    int64_t min;  /* MPX_TC_SIGNED */
    uint64_t max; /* MPX_TC_SIGNED and MPX_TC_UNSIGNED */
    bool single;  /* 'f': a float's precision and range */
} mpx__typecode;

/* The typecode named by argument i (a one-character string). Returns 0, or fails req with
 * MPX_ETYPE (not a string) or MPX_EVALUE (no such typecode). */
int mpx__typecode_arg(mpx__req *req, uint32_t i, const mpx__typecode **tc);

/* Reads v as a value of the typecode. Returns 0, or fails req with MPX_ETYPE (a value of the
 * wrong kind: a float for an integer typecode, a bool for a number) or MPX_EOVERFLOW (out of
 * the typecode's range). */
int mpx__typecode_read(mpx__req *req, const mpx__typecode *tc, const mpx__span *v, mpx__num *out);

/* The typecode's zero: 0, 0.0, the byte 0 or false. */
mpx__num mpx__typecode_zero(const mpx__typecode *tc);

/* Packs n as msgpack: an integer, a double, a one-byte bytes value or a bool. */
void mpx__typecode_pack(const mpx__typecode *tc, mpx__num n, msgpack_packer *pk);

/* *n += the number v, within the typecode's range. Returns 0, or fails req with MPX_ETYPE
 * ('c', '?', or v not a number of the right kind) or MPX_EOVERFLOW; *n is unchanged then. */
int mpx__typecode_add(mpx__req *req, const mpx__typecode *tc, mpx__num *n, const mpx__span *v);

/* Whether a and b are the same value (for a float typecode, ==: NaN equals nothing). */
bool mpx__typecode_equal(const mpx__typecode *tc, mpx__num a, mpx__num b);

/* compare-and-swap: if *n equals expected (argument i), stores new (argument i + 1). Packs
 * [swapped, current] into req->out. Returns 0 or an error of mpx__typecode_read(). */
int mpx__typecode_cas(mpx__req *req, const mpx__typecode *tc, mpx__num *n, uint32_t i);

#endif
