/*
 * request.c — the request a method handler sees: failing it with a message, reading its
 * arguments, packing its result, rendering a value for a message, and the memory limit a call
 * that grows is checked against. Dispatch and the types both call down into this.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

int mpx__req_fail(mpx__req *req, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->errmsg, sizeof req->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

/* The rule of docs/protocol.md §6: a value of the wrong kind is ETYPE, a negative integer
 * where a count or an id belongs is EVALUE. */
int mpx__arg_uint(mpx__req *req, uint32_t i, const char *what, uint64_t *v)
{
    mpx__mp_cursor c;
    int64_t negative;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    if (mpx__mp_uint(&c, v) == 0) return 0;
    if (mpx__mp_int(&c, &negative) == 0)
        return mpx__req_fail(req, MPX_EVALUE, "%s must not be negative", what);
    return mpx__req_fail(req, MPX_ETYPE, "%s must be a non-negative integer", what);
}

int mpx__arg_int(mpx__req *req, uint32_t i, const char *what, int64_t *v)
{
    mpx__mp_cursor c;
    mpx__mp_init(&c, req->argv[i].p, req->argv[i].len);
    int rc = mpx__mp_int(&c, v);
    if (rc == MPX_ETYPE) return mpx__req_fail(req, MPX_ETYPE, "%s must be an integer", what);
    if (rc) return mpx__req_fail(req, MPX_EINDEX, "%s does not fit in 64 bits", what);
    return 0;
}

int mpx__memory_check(mpx__req *req)
{
    mpx__server *s = req->server;
    size_t used = mpx__mem_used();
    if (!s->cfg.max_memory || used <= s->cfg.max_memory) return 0;
    s->stats.rejected_memory++;
    return mpx__req_fail(req, MPX_EMEMLIMIT,
                         "memory limit reached: mpxd holds %zu bytes, over --max-memory %zu; "
                         "calls that store more are refused until some is freed",
                         used, s->cfg.max_memory);
}

int mpx__arg_check(const mpx__span *arg, const char **why)
{
    mpx__mp_cursor c;
    mpx__mp_init(&c, arg->p, arg->len);
    if (mpx__mp_skip(&c)) {
        *why = MPX__WHY_BADARGS;
        return MPX_EBADREQ;
    }
    if (c.p != c.end) {
        *why = MPX__WHY_TRAILING;
        return MPX_EBADREQ;
    }
    return 0;
}

/* Copies s[0..len) for a message, each byte outside printable ASCII as '?', so that what mpxd
 * sends is always valid UTF-8. */
void mpx__printable(char *out, size_t size, const uint8_t *s, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    out[n] = '\0';
}

void mpx__repr(const mpx__span *s, char *out, size_t outlen)
{
    mpx__mp_cursor c;
    mpx__mp_token t;
    char buf[48];
    mpx__mp_init(&c, s->p, s->len);
    if (mpx__mp_next(&c, &t)) {
        snprintf(out, outlen, "<malformed>");
        return;
    }
    switch (t.kind) {
    case MPX_MP_NIL:
        snprintf(out, outlen, "nil");
        break;
    case MPX_MP_BOOL:
        snprintf(out, outlen, "%s", t.b ? "true" : "false");
        break;
    case MPX_MP_UINT:
        snprintf(out, outlen, "%llu", (unsigned long long)t.u);
        break;
    case MPX_MP_INT:
        snprintf(out, outlen, "%lld", (long long)t.i);
        break;
    case MPX_MP_F32:
    case MPX_MP_F64:
        snprintf(out, outlen, "%g", t.d);
        break;
    case MPX_MP_STR:
    case MPX_MP_BIN:
        mpx__printable(buf, sizeof buf, t.data, t.len);
        snprintf(out, outlen, "%s'%s'%s", t.kind == MPX_MP_BIN ? "b" : "", buf,
                 t.len >= sizeof buf ? "..." : "");
        break;
    case MPX_MP_EXT:
        snprintf(out, outlen, "<ext %d>", t.ext_type);
        break;
    case MPX_MP_ARRAY:
        snprintf(out, outlen, "<array of %u>", t.len);
        break;
    case MPX_MP_MAP:
        snprintf(out, outlen, "<map of %u>", t.len);
        break;
    }
}

int mpx__reply_nil(mpx__req *req)
{
    msgpack_pack_nil(req->out);
    return 0;
}

void mpx__pack_bool(msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

int mpx__reply_bool(mpx__req *req, bool b)
{
    mpx__pack_bool(req->out, b);
    return 0;
}

int mpx__reply_uint(mpx__req *req, uint64_t v)
{
    msgpack_pack_uint64(req->out, v);
    return 0;
}

int mpx__reply_raw(mpx__req *req, const void *p, size_t len)
{
    mpx__buf_write(req->out->data, p, len);
    return 0;
}
