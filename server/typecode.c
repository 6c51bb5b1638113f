/*
 * typecode.c — reading, checking and adding values of a typecode (typecode.h).
 */
#include <float.h>
#include <math.h>

#include "seq.h"
#include "typecode.h"

static const mpx__typecode typecodes[] = {
    {'b', MPX_TC_SIGNED, INT8_MIN, INT8_MAX, false},
    {'B', MPX_TC_UNSIGNED, 0, UINT8_MAX, false},
    {'h', MPX_TC_SIGNED, INT16_MIN, INT16_MAX, false},
    {'H', MPX_TC_UNSIGNED, 0, UINT16_MAX, false},
    {'i', MPX_TC_SIGNED, INT32_MIN, INT32_MAX, false},
    {'I', MPX_TC_UNSIGNED, 0, UINT32_MAX, false},
    {'l', MPX_TC_SIGNED, INT64_MIN, INT64_MAX, false}, /* a C long on 64-bit Linux */
    {'L', MPX_TC_UNSIGNED, 0, UINT64_MAX, false},
    {'q', MPX_TC_SIGNED, INT64_MIN, INT64_MAX, false},
    {'Q', MPX_TC_UNSIGNED, 0, UINT64_MAX, false},
    {'f', MPX_TC_FLOAT, 0, 0, true},
    {'d', MPX_TC_FLOAT, 0, 0, false},
    {'c', MPX_TC_BYTE, 0, UINT8_MAX, false},
    {'?', MPX_TC_BOOL, 0, 1, false},
};

int mpx__typecode_arg(mpx__req *req, uint32_t i, const mpx__typecode **tc)
{
    mpx__mp_cursor c;
    const char *s;
    uint32_t len;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    if (mpx__mp_str(&c, &s, &len))
        return mpx__req_fail(req, MPX_ETYPE, "the typecode must be a one-character string");
    for (size_t k = 0; len == 1 && k < sizeof typecodes / sizeof *typecodes; k++)
        if (typecodes[k].code == s[0]) {
            *tc = &typecodes[k];
            return 0;
        }
    return mpx__req_fail(req, MPX_EVALUE,
                         "ValueError: the typecode must be one of b B h H i I l L q Q f d c ?");
}

/* A float for an 'f' typecode: rounded to float precision, its range checked. */
static int to_single(mpx__req *req, double d, double *out)
{
    float f = (float)d;
    if (isfinite(d) && !isfinite(f))
        return mpx__req_fail(req, MPX_EOVERFLOW, "OverflowError: %g is out of a float's range", d);
    *out = f;
    return 0;
}

/* An integer against the typecode's range. */
static int int_fits(mpx__req *req, const mpx__typecode *tc, __int128 v, mpx__num *out)
{
    __int128 min = tc->kind == MPX_TC_SIGNED ? tc->min : 0;
    if (v < min || v > (__int128)tc->max)
        return mpx__req_fail(req, MPX_EOVERFLOW, "OverflowError: out of range for typecode '%c'",
                             tc->code);
    if (tc->kind == MPX_TC_SIGNED)
        out->i = (int64_t)v;
    else
        out->u = (uint64_t)v;
    return 0;
}

int mpx__typecode_read(mpx__req *req, const mpx__typecode *tc, const mpx__span *v, mpx__num *out)
{
    mpx__mp_token t;
    mpx__number n;
    bool is_number = mpx__number_read(v, &n, &t) == 0;
    switch (tc->kind) {
    case MPX_TC_SIGNED:
    case MPX_TC_UNSIGNED:
        if (n.is_int) return int_fits(req, tc, n.i, out);
        break;
    case MPX_TC_FLOAT:
        if (!is_number) break;
        out->d = n.d;
        return tc->single ? to_single(req, out->d, &out->d) : 0;
    case MPX_TC_BYTE:
        if ((t.kind != MPX_MP_BIN && t.kind != MPX_MP_STR) || t.len != 1) break;
        out->u = t.data[0];
        return 0;
    case MPX_TC_BOOL:
        if (t.kind != MPX_MP_BOOL) break;
        out->u = t.b;
        return 0;
    }
    static const char *const wants[] = {"an integer", "a non-negative integer", "a number",
                                        "one byte", "a boolean"};
    return mpx__req_fail(req, MPX_ETYPE, "TypeError: typecode '%c' holds %s", tc->code,
                         wants[tc->kind]);
}

mpx__num mpx__typecode_zero(const mpx__typecode *tc)
{
    mpx__num zero = {.u = 0};
    if (tc->kind == MPX_TC_FLOAT) zero.d = 0.0;
    return zero;
}

void mpx__typecode_pack(const mpx__typecode *tc, mpx__num n, msgpack_packer *pk)
{
    uint8_t byte = (uint8_t)n.u;
    switch (tc->kind) {
    case MPX_TC_SIGNED:
        msgpack_pack_int64(pk, n.i);
        break;
    case MPX_TC_UNSIGNED:
        msgpack_pack_uint64(pk, n.u);
        break;
    case MPX_TC_FLOAT:
        msgpack_pack_double(pk, n.d);
        break;
    case MPX_TC_BYTE:
        msgpack_pack_bin_with_body(pk, &byte, 1);
        break;
    case MPX_TC_BOOL:
        mpx__pack_bool(pk, n.u != 0);
        break;
    }
}

int mpx__typecode_add(mpx__req *req, const mpx__typecode *tc, mpx__num *n, const mpx__span *v)
{
    if (tc->kind == MPX_TC_BYTE || tc->kind == MPX_TC_BOOL)
        return mpx__req_fail(req, MPX_ETYPE, "TypeError: typecode '%c' is not numeric", tc->code);
    mpx__number d;
    bool is_number = mpx__number_read(v, &d, NULL) == 0;
    if (tc->kind == MPX_TC_FLOAT) {
        if (!is_number)
            return mpx__req_fail(req, MPX_ETYPE, "TypeError: the amount to add must be a number");
        double sum = n->d + d.d;
        if (tc->single) return to_single(req, sum, &n->d);
        n->d = sum;
        return 0;
    }
    if (!d.is_int)
        return mpx__req_fail(req, MPX_ETYPE, "TypeError: typecode '%c' adds integers", tc->code);
    __int128 cur = tc->kind == MPX_TC_SIGNED ? (__int128)n->i : (__int128)n->u;
    return int_fits(req, tc, cur + d.i, n);
}

bool mpx__typecode_equal(const mpx__typecode *tc, mpx__num a, mpx__num b)
{
    return tc->kind == MPX_TC_FLOAT ? a.d == b.d : a.u == b.u;
}

int mpx__typecode_cas(mpx__req *req, const mpx__typecode *tc, mpx__num *n, uint32_t i)
{
    mpx__num want = {.u = 0}, val = {.u = 0};
    int rc = mpx__typecode_read(req, tc, &req->argv[i], &want);
    bool out_of_range = rc == MPX_EOVERFLOW; /* a value the typecode cannot hold: no match */
    if (rc && !out_of_range) return rc;
    if ((rc = mpx__typecode_read(req, tc, &req->argv[i + 1], &val))) return rc;
    bool swap = !out_of_range && mpx__typecode_equal(tc, *n, want);
    if (swap) *n = val;
    msgpack_pack_array(req->out, 2);
    mpx__pack_bool(req->out, swap);
    mpx__typecode_pack(tc, *n, req->out);
    return 0;
}
