/*
 * fuzz_dispatch.c — authenticated calls to every method of every type, with arbitrary
 * arguments. The input's first byte picks one of the objects made at start (one of each type,
 * and the manager), the second one of its type's methods, and the rest is the call's
 * arguments array as it travels, malformed or not; several calls may follow one another, each
 * prefixed by its length (2 bytes, big-endian).
 */
#include <string.h>

#include "codec.h"
#include "fuzz_server.h"
#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sends [req, object, method, <args as given>] as one CALL. */
static void call(uint64_t req, uint64_t obj, const char *method, const uint8_t *args,
                 size_t args_len)
{
    static uint8_t frame[1 << 16];
    size_t n = 0, mlen = strlen(method);
    if (args_len > sizeof frame - 64 || mlen > 31) return;
    frame[n++] = MPX_PROTOCOL_VERSION;
    frame[n++] = MPX_K_CALL;
    frame[n++] = 0x94;
    frame[n++] = 0xcf;
    mpx__put_u64be(frame + n, req);
    n += 8;
    frame[n++] = 0xcf;
    mpx__put_u64be(frame + n, obj);
    n += 8;
    frame[n++] = (uint8_t)(0xa0 | mlen);
    memcpy(frame + n, method, mlen);
    n += mlen;
    memcpy(frame + n, args, args_len);
    fuzz_frame(frame, n + args_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpx__server *s = fuzz_server();
    fuzz_session_open();
    fuzz_objects_renew();
    for (uint64_t req = 1; size >= 4; req++) {
        size_t len = (size_t)data[0] << 8 | data[1];
        uint64_t id = fuzz_object_ids[data[2] % fuzz_objects];
        mpx__obj *obj = mpx__registry_find(&s->reg, id);
        const mpx__type *t = obj ? obj->type : NULL;
        const char *method = t && t->n_methods ? t->methods[data[3] % t->n_methods].name : "ping";
        data += 4, size -= 4;
        if (len > size) len = size;
        call(req, id, method, data, len);
        data += len, size -= len;
    }
    fuzz_session_close();
    return 0;
}
