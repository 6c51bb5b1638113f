/*
 * fuzz_records.c — the data files of --data-dir as recovery reads them: the input is read
 * as a log file (header and framing, torn and damaged records included), then replayed as
 * records into a real server: its payloads, each prefixed by its length (2 bytes,
 * big-endian), go through mpx__replay_record(), as a log's records would, so that
 * creations, deletions and every method, the replay-only ones included, meet arbitrary
 * arguments. A record refused is fine; a crash, a leak or undefined behaviour is not.
 */
#include <string.h>

#include "fuzz_server.h"
#include "holdings.h"
#include "records.h"
#include "recover.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads data as a whole log file: every record until the end or the first bad one. */
static void read_as_file(const uint8_t *data, size_t size)
{
    mpx__record_reader r;
    const char *why;
    const uint8_t *rec;
    size_t len;
    if (mpx__reader_open(&r, data, size, MPX_FILE_LOG, &why) != 0) return;
    while (mpx__reader_next(&r, &rec, &len) == MPX_READ_RECORD)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpx__server *s = fuzz_server();
    read_as_file(data, size);
    fuzz_session_open();
    fuzz_objects_renew();
    mpx__session *sess = mpx__xcalloc(1, sizeof *sess);
    mpx__recovered r = {.fd = -1};
    char why[320];
    while (size >= 2) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2, size -= 2;
        if (len > size) len = size;
        mpx__replay_record(s, sess, data, len, &r, why, sizeof why);
        data += len, size -= len;
    }
    mpx__holdings_give_back(s, sess);
    mpx__registry_drop_refs(&s->reg, &sess->refs);
    mpx__xfree(sess);
    mpx__registry_collect(&s->reg);
    fuzz_session_close();
    return 0;
}
