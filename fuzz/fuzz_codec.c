/*
 * fuzz_codec.c — the msgpack cursor and the canonical encoder on arbitrary bytes: every object
 * stepped over, canonicalised and checked for references, and the client's decoder, all
 * bounded and never reading past the input.
 */
#include <stdlib.h>

#include "codec.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static msgpack_sbuffer sb;
    msgpack_packer pk;
    mpx__mp_cursor c;
    mpx__mp_init(&c, data, size);
    while (c.p < c.end) {
        const uint8_t *start = c.p;
        if (mpx__mp_skip(&c)) break;
        sb.size = 0;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        mpx__mp_canonical(start, (size_t)(c.p - start), &pk);
        mpx__mp_has_ext(start, (size_t)(c.p - start));
        mpx_value *v = NULL;
        if (mpx_value_decode(start, (size_t)(c.p - start), &v) == 0) mpx_value_free(&v);
    }
    return 0;
}
