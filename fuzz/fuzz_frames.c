/*
 * fuzz_frames.c — whole frames from an authenticated peer, as mpxd's loop hands them to the
 * session layer: the frame checks, HELLO and its versions, CALL and BATCH bodies, BYE and
 * HEARTBEAT, in any order. The input is a run of frames, each a 2-byte big-endian length and
 * that many bytes.
 */
#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server();
    while (size >= 2) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2, size -= 2;
        if (len > size) len = size;
        fuzz_frame(data, len);
        data += len, size -= len;
    }
    fuzz_session_close(); /* whatever the input opened and parked goes with it */
    return 0;
}
