/*
 * snapshot.c — a snapshot of the registry (snapshot.h), in three passes over the objects in
 * the order they were made: every object created, then each live object filled by its type's
 * dump hook, then deleted locks a condition still uses deleted again. Other deleted objects
 * that a container still references are written as tombstones (creation arguments nil): no
 * state, only an id and a type for the references to name. The first record is the run's, the last
 * counts the records before it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aof.h"
#include "records.h"
#include "snapshot.h"

#define FLUSH_AT (1u << 20)

typedef struct {
    mpx__records w;
    int fd;
    int pass;
    bool failed;
    uint64_t written;
} dumper;

static void flush(dumper *d)
{
    const char *p = d->w.out.data;
    size_t left = d->w.out.size;
    while (left > 0 && !d->failed) {
        ssize_t n = write(d->fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            mpx__log_warn("compaction: cannot write the snapshot: %s", strerror(errno));
            d->failed = true;
            break;
        }
        p += n, left -= (size_t)n;
        d->written += (uint64_t)n;
    }
    d->w.out.size = 0;
}

/* Whether a deleted object is rebuilt whole (a lock, which a condition still uses) rather than
 * as a bare tombstone that references can name. */
static bool rebuilt_whole(const mpx__obj *obj, bool deleted)
{
    return !deleted || (obj->state && obj->type->keeps_state_deleted);
}

static void dump_create(mpx__obj *obj, bool deleted, mpx__records *w)
{
    msgpack_packer *pk = mpx__record_begin(w, MPX_REC_CREATE, 5);
    msgpack_pack_uint64(pk, obj->id);
    msgpack_pack_str_with_body(pk, obj->type->name, strlen(obj->type->name));
    if (obj->name && !deleted)
        msgpack_pack_str_with_body(pk, obj->name, strlen(obj->name));
    else
        msgpack_pack_nil(pk);
    if (!rebuilt_whole(obj, deleted))
        msgpack_pack_nil(pk); /* a tombstone */
    else if (obj->type->dump_args)
        obj->type->dump_args(obj, pk);
    else
        msgpack_pack_array(pk, 0);
    mpx__record_end(w);
}

static void dump_one(mpx__obj *obj, bool deleted, void *arg)
{
    dumper *d = arg;
    if (d->pass == 0) {
        dump_create(obj, deleted, &d->w);
    } else if (d->pass == 1 && !deleted && obj->type->dump) {
        obj->type->dump(obj, &d->w);
    } else if (d->pass == 2 && deleted && rebuilt_whole(obj, deleted)) {
        msgpack_packer *pk = mpx__record_begin(&d->w, MPX_REC_DELETE, 2);
        msgpack_pack_uint64(pk, obj->id);
        mpx__record_end(&d->w);
    }
    if (d->w.out.size >= FLUSH_AT) flush(d);
}

int mpx__snapshot_write(mpx__server *s, int dirfd, uint64_t gen, uint64_t run, uint64_t state_id,
                        uint64_t *bytes)
{
    char name[64], tmp[80];
    mpx__data_file_name(name, sizeof name, true, gen);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    dumper d = {.fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (d.fd < 0) {
        mpx__log_warn("compaction: cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    mpx__records_init(&d.w);
    uint8_t hdr[MPX_DATA_HDR_LEN];
    mpx__data_header(hdr, MPX_FILE_SNAPSHOT);
    mpx__buf_write(&d.w.out, (const char *)hdr, sizeof hdr);
    msgpack_packer *pk = mpx__record_begin(&d.w, MPX_REC_RUN, 3);
    msgpack_pack_uint64(pk, run);
    msgpack_pack_uint64(pk, state_id);
    mpx__record_end(&d.w);
    for (d.pass = 0; d.pass < 3; d.pass++)
        mpx__registry_each(&s->reg, dump_one, &d);
    pk = mpx__record_begin(&d.w, MPX_REC_END, 2);
    msgpack_pack_uint64(pk, d.w.n_records);
    mpx__record_end(&d.w);
    flush(&d);
    if (!d.failed &&
        (fsync(d.fd) != 0 || renameat(dirfd, tmp, dirfd, name) != 0 || fsync(dirfd) != 0)) {
        mpx__log_warn("compaction: cannot finish %s: %s", name, strerror(errno));
        d.failed = true;
    }
    close(d.fd);
    if (d.failed) unlinkat(dirfd, tmp, 0);
    mpx__records_free(&d.w);
    *bytes = d.written;
    return d.failed ? -1 : 0;
}
