/*
 * records.c — framing and reading mpxd's data-file records (records.h). CRC-32 is zlib's:
 * it tells a torn or damaged record from a good one; it is not a defence against someone who
 * can write the files (they are private to mpxd's user).
 */
#include <string.h>

#include <zlib.h>

#include "records.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t crc_of(const uint8_t *p, size_t len)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
}

void mpx__records_init(mpx__records *w)
{
    memset(w, 0, sizeof *w);
    msgpack_packer_init(&w->pk, &w->scratch, mpx__buf_write);
}

void mpx__records_free(mpx__records *w)
{
    mpx__buf_free(&w->out);
    mpx__buf_free(&w->scratch);
}

msgpack_packer *mpx__record_begin(mpx__records *w, uint8_t kind, uint32_t n)
{
    w->scratch.size = 0;
    msgpack_pack_array(&w->pk, n);
    msgpack_pack_uint8(&w->pk, kind);
    return &w->pk;
}

msgpack_packer *mpx__record_call(mpx__records *w, uint64_t obj_id, const char *method,
                                 uint32_t argc)
{
    msgpack_packer *pk = mpx__record_begin(w, MPX_REC_CALL, 4);
    msgpack_pack_uint64(pk, obj_id);
    msgpack_pack_str_with_body(pk, method, strlen(method));
    msgpack_pack_array(pk, argc);
    return pk;
}

void mpx__record_end(mpx__records *w)
{
    uint8_t hdr[MPX_REC_HDR_LEN];
    put32(hdr, (uint32_t)w->scratch.size);
    put32(hdr + 4, ~(uint32_t)w->scratch.size);
    put32(hdr + 8, crc_of((const uint8_t *)w->scratch.data, w->scratch.size));
    mpx__buf_write(&w->out, (const char *)hdr, sizeof hdr);
    mpx__buf_write(&w->out, w->scratch.data, w->scratch.size);
    w->n_records++;
}

void mpx__data_header(uint8_t *out, uint32_t kind)
{
    memcpy(out, MPX_DATA_MAGIC, 8);
    put32(out + 8, MPX_DATA_VERSION);
    put32(out + 12, kind);
}

int mpx__reader_open(mpx__record_reader *r, const uint8_t *data, size_t len, uint32_t kind,
                     const char **why)
{
    r->start = r->p = data;
    r->end = data + len;
    r->n = 0;
    if (len < MPX_DATA_HDR_LEN || memcmp(data, MPX_DATA_MAGIC, 8) != 0) {
        *why = "not an mpx data file (no header)";
        return -1;
    }
    if (get32(data + 8) != MPX_DATA_VERSION) {
        *why = "written in another format version";
        return -1;
    }
    if (get32(data + 12) != kind) {
        *why = kind == MPX_FILE_LOG ? "not a log file" : "not a snapshot file";
        return -1;
    }
    r->p += MPX_DATA_HDR_LEN;
    return 0;
}

static bool all_zero(const uint8_t *p, const uint8_t *end)
{
    for (; p < end; p++)
        if (*p) return false;
    return true;
}

mpx__read_result mpx__reader_next(mpx__record_reader *r, const uint8_t **rec, size_t *len)
{
    size_t left = (size_t)(r->end - r->p);
    if (left == 0) return MPX_READ_EOF;
    if (left < MPX_REC_HDR_LEN) return MPX_READ_TORN;
    uint32_t n = get32(r->p);
    if (n == 0 || n > MPX_REC_MAX || get32(r->p + 4) != ~n)
        return all_zero(r->p, r->end) ? MPX_READ_TORN : MPX_READ_BAD;
    if (n > left - MPX_REC_HDR_LEN) return MPX_READ_TORN;
    const uint8_t *payload = r->p + MPX_REC_HDR_LEN;
    if (crc_of(payload, n) != get32(r->p + 8)) {
        bool last = payload + n == r->end;
        return last || all_zero(r->p, r->end) ? MPX_READ_TORN : MPX_READ_BAD;
    }
    *rec = payload;
    *len = n;
    r->p = payload + n;
    r->n++;
    return MPX_READ_RECORD;
}

size_t mpx__reader_offset(const mpx__record_reader *r)
{
    return (size_t)(r->p - r->start);
}
