/*
 * recover.c — mpxd's start on a data directory (recover.h): the newest snapshot, then the
 * logs from its number up, replayed through the types' own handlers by a session of its own
 * that is ended afterwards, so that anonymous objects no named object references go as they
 * would have gone with their sessions.
 *
 * Only the newest log may end in a torn record (the crash came while it was being written):
 * that tail is cut off and reported. Damage anywhere else is not something a crash does, so
 * mpxd stops and says where, rather than start without data it had acknowledged.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof.h"
#include "holdings.h"
#include "persist.h"
#include "recover.h"
#include "records.h"
#include "registry.h"
#include "reply.h"
#include "session.h"
#include "t_manager.h"

#define HELP "docs/operating.md, \"Recovering a data directory\""

/* ---- one record ----------------------------------------------------------------------------- */

/* Splits [args...] into spans; returns the count, or -1 if it is not an array of at most
 * MPX_MAX_ARGS. */
static int split_array(const mpx__span *a, mpx__span *argv)
{
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, a->p, a->len);
    if (mpx__mp_array(&c, &n) || n > MPX_MAX_ARGS) return -1;
    for (uint32_t i = 0; i < n; i++) {
        argv[i].p = c.p;
        if (mpx__mp_skip(&c)) return -1;
        argv[i].len = (size_t)(c.p - argv[i].p);
    }
    return c.p == c.end ? (int)n : -1;
}

/* The span of the next msgpack object at c. */
static int next_span(mpx__mp_cursor *c, mpx__span *out)
{
    out->p = c->p;
    if (mpx__mp_skip(c)) return -1;
    out->len = (size_t)(c->p - out->p);
    return 0;
}

static int replay_create(mpx__server *s, mpx__session *sess, mpx__mp_cursor *c, char *why,
                         size_t size)
{
    uint64_t id;
    const char *tname, *name = NULL;
    uint32_t tlen, nlen = 0;
    mpx__span args;
    if (mpx__mp_uint(c, &id) || mpx__mp_str(c, &tname, &tlen)) return -1;
    if (mpx__mp_is_nil(c))
        mpx__mp_skip(c);
    else if (mpx__mp_str(c, &name, &nlen))
        return -1;
    if (next_span(c, &args) || id == 0) return -1;
    bool tombstone = args.len == 1 && args.p[0] == 0xc0;
    const mpx__type *t = mpx__type_find(tname, tlen);
    if (!t || t == &mpx__type_manager)
        return snprintf(why, size, "no type %.*s", (int)tlen, tname), -1;
    /* ids were handed out in increasing order, and the files keep that order */
    if (id < s->reg.next_id || id == UINT64_MAX)
        return snprintf(why, size, "object %llu out of order", (unsigned long long)id), -1;
    if (name && mpx__registry_find_name(&s->reg, name, nlen))
        return snprintf(why, size, "a second object named %.*s", (int)nlen, name), -1;
    mpx__req req = {.server = s, .session = sess, .obj = &s->reg.manager, .max_reply = SIZE_MAX};
    req.out = mpx__reply_begin(s, 1);
    mpx__obj *obj;
    s->reg.next_id = id;
    if (tombstone) { /* deleted, and named by references a container still holds */
        obj = mpx__registry_add(&s->reg, t, NULL, 0, NULL);
        mpx__registry_ref(&sess->refs, obj);
        mpx__registry_delete(&s->reg, obj);
        return 0;
    }
    int rc = mpx__manager_make(&req, t, name, nlen, &args, &obj);
    if (rc) return snprintf(why, size, "%s", req.errmsg), -1;
    mpx__registry_ref(&sess->refs, obj);
    return 0;
}

static int replay_delete(mpx__server *s, mpx__mp_cursor *c, char *why, size_t size)
{
    uint64_t id;
    if (mpx__mp_uint(c, &id)) return -1;
    mpx__obj *obj = id ? mpx__registry_find(&s->reg, id) : NULL;
    if (!obj) return snprintf(why, size, "no object %llu to delete", (unsigned long long)id), -1;
    mpx__registry_hold(obj);
    mpx__registry_delete(&s->reg, obj);
    mpx__registry_drop_state(obj);
    mpx__registry_unhold(&s->reg, obj);
    return 0;
}

static int replay_call(mpx__server *s, mpx__session *sess, mpx__mp_cursor *c, char *why,
                       size_t size)
{
    uint64_t id;
    const char *mname;
    uint32_t mlen;
    mpx__span args, argv[MPX_MAX_ARGS];
    if (mpx__mp_uint(c, &id) || mpx__mp_str(c, &mname, &mlen) || next_span(c, &args)) return -1;
    int argc = split_array(&args, argv);
    mpx__obj *obj = id ? mpx__registry_find(&s->reg, id) : NULL;
    if (!obj) return snprintf(why, size, "no object %llu", (unsigned long long)id), -1;
    const mpx__method *m = mpx__type_method(obj->type, mname, mlen);
    if (!m || argc < m->min_args || argc > m->max_args)
        return snprintf(why, size, "%s has no method %.*s of %d arguments", obj->type->name,
                        (int)mlen, mname, argc),
               -1;
    mpx__req req = {.server = s,
                    .session = sess,
                    .obj = obj,
                    .req_id = 1,
                    .argc = (uint32_t)argc,
                    .argv = argv,
                    .max_reply = SIZE_MAX};
    req.out = mpx__reply_begin(s, 1);
    s->in_handler = true;
    int rc = m->fn(&req);
    s->in_handler = false;
    if (rc) return snprintf(why, size, "%s.%s: %s", obj->type->name, m->name, req.errmsg), -1;
    return 0;
}

int mpx__replay_record(mpx__server *s, mpx__session *sess, const uint8_t *rec, size_t len,
                       mpx__recovered *r, char *why, size_t size)
{
    mpx__mp_cursor c;
    uint32_t n;
    uint64_t kind;
    why[0] = '\0';
    mpx__mp_init(&c, rec, len);
    int rc = mpx__mp_array(&c, &n) || n < 2 || mpx__mp_uint(&c, &kind) ? -1 : 0;
    if (rc == 0 && kind == MPX_REC_RUN && n == 3)
        rc = mpx__mp_uint(&c, &r->run) || mpx__mp_uint(&c, &r->state_id) ? -1 : 0;
    else if (rc == 0 && kind == MPX_REC_CREATE && n == 5)
        rc = replay_create(s, sess, &c, why, size);
    else if (rc == 0 && kind == MPX_REC_DELETE && n == 2)
        rc = replay_delete(s, &c, why, size);
    else if (rc == 0 && kind == MPX_REC_CALL && n == 4)
        rc = replay_call(s, sess, &c, why, size);
    else
        rc = -1;
    if (rc == 0 && c.p != c.end) rc = -1;
    if (rc && !why[0]) snprintf(why, size, "not a record this mpxd knows");
    return rc;
}

/* ---- files ---------------------------------------------------------------------------------- */

typedef struct {
    uint64_t *gens;
    size_t n, cap;
} gen_list;

static void gen_add(gen_list *l, uint64_t g)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->gens = realloc(l->gens, l->cap * sizeof *l->gens);
        if (!l->gens) mpx__panic("out of memory");
    }
    l->gens[l->n++] = g;
}

static int cmp_gen(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The snapshots and logs in the directory, each sorted; a snapshot left half-written by a
 * compaction that did not finish (*.tmp) is removed. */
static int list_files(int dirfd, gen_list *snaps, gen_list *logs)
{
    int dfd = dup(dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) return -1;
    rewinddir(d); /* the duplicate shares its position with dirfd */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        bool snap = strncmp(e->d_name, "snapshot.", 9) == 0;
        bool log = strncmp(e->d_name, "log.", 4) == 0;
        if (!snap && !log) continue;
        const char *num = e->d_name + (snap ? 9 : 4);
        char *end;
        unsigned long long g = strtoull(num, &end, 10);
        if (end == num) continue;
        if (snap && strcmp(end, ".tmp") == 0)
            unlinkat(dirfd, e->d_name, 0);
        else if (*end == '\0')
            gen_add(snap ? snaps : logs, g);
    }
    closedir(d);
    if (snaps->n) qsort(snaps->gens, snaps->n, sizeof *snaps->gens, cmp_gen);
    if (logs->n) qsort(logs->gens, logs->n, sizeof *logs->gens, cmp_gen);
    return 0;
}

typedef struct {
    mpx__server *s;
    mpx__session *sess;
    mpx__recovered *r;
    const char *dir;
} replay_ctx;

/* Replays one file. *torn_at is set to the good length when its tail is torn (allowed only
 * where torn_ok); returns 0 or -1 after logging. */
static int replay_file(replay_ctx *x, int fd, const char *name, uint32_t kind, bool torn_ok,
                       size_t *torn_at)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    size_t size = (size_t)st.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (size && map == MAP_FAILED) {
        mpx__log_warn("%s/%s: cannot read it: %s", x->dir, name, strerror(errno));
        return -1;
    }
    if (size) madvise(map, size, MADV_SEQUENTIAL);
    mpx__record_reader rd;
    const char *bad = NULL;
    char why[320];
    int rc = 0;
    *torn_at = SIZE_MAX;
    if (mpx__reader_open(&rd, map, size, kind, &bad) != 0) {
        /* a log cut off inside its header: made just before a crash */
        if (torn_ok && size < MPX_DATA_HDR_LEN) *torn_at = 0;
        rc = torn_ok && size < MPX_DATA_HDR_LEN ? 0 : -1;
        snprintf(why, sizeof why, "%s", bad);
    }
    bool ended = false;
    for (const uint8_t *rec; rc == 0 && *torn_at == SIZE_MAX;) {
        size_t len;
        mpx__read_result res = mpx__reader_next(&rd, &rec, &len);
        if (res == MPX_READ_EOF) break;
        if (res == MPX_READ_RECORD && ended) {
            snprintf(why, sizeof why, "records after the snapshot's end");
            rc = -1;
        } else if (res == MPX_READ_RECORD && kind == MPX_FILE_SNAPSHOT && len > 1 &&
                   rec[1] == MPX_REC_END) {
            mpx__mp_cursor c;
            uint32_t n;
            uint64_t k, count;
            mpx__mp_init(&c, rec, len);
            ended = mpx__mp_array(&c, &n) == 0 && n == 2 && mpx__mp_uint(&c, &k) == 0 &&
                    mpx__mp_uint(&c, &count) == 0 && count == rd.n - 1;
            if (!ended) snprintf(why, sizeof why, "its end record does not match"), rc = -1;
        } else if (res == MPX_READ_RECORD) {
            rc = mpx__replay_record(x->s, x->sess, rec, len, x->r, why, sizeof why);
        } else if (res == MPX_READ_TORN && torn_ok) {
            *torn_at = mpx__reader_offset(&rd);
        } else {
            snprintf(why, sizeof why, "%s",
                     res == MPX_READ_TORN ? "it ends in the middle of a record"
                                          : "a damaged record (bad length or checksum)");
            rc = -1;
        }
    }
    if (rc == 0 && kind == MPX_FILE_SNAPSHOT && !ended) {
        snprintf(why, sizeof why, "it has no end record");
        rc = -1;
    }
    if (rc)
        mpx__log_warn("%s/%s: record %llu (byte %zu): %s. mpxd stops rather than start without "
                      "what it had acknowledged; see " HELP,
                      x->dir, name, (unsigned long long)rd.n + 1,
                      size ? mpx__reader_offset(&rd) : 0, why);
    if (size) munmap(map, size);
    return rc;
}

/* Opens a new log file gen with its header, synced with its directory entry. */
static int create_log(int dirfd, uint64_t gen, const char *dir)
{
    char name[64];
    uint8_t hdr[MPX_DATA_HDR_LEN];
    mpx__data_file_name(name, sizeof name, false, gen);
    mpx__data_header(hdr, MPX_FILE_LOG);
    int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr || fsync(fd) != 0 ||
        fsync(dirfd) != 0) {
        mpx__log_warn("%s/%s: cannot create it: %s", dir, name, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int replay_logs(replay_ctx *x, int dirfd, const gen_list *logs, size_t first)
{
    for (size_t i = first; i < logs->n; i++) {
        char name[64];
        bool last = i + 1 == logs->n;
        mpx__data_file_name(name, sizeof name, false, logs->gens[i]);
        if (i > first && logs->gens[i] != logs->gens[i - 1] + 1) {
            mpx__log_warn("%s: log.%llu is missing; see " HELP, x->dir,
                          (unsigned long long)logs->gens[i - 1] + 1);
            return -1;
        }
        int fd = openat(dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        size_t torn_at;
        if (fd < 0 || replay_file(x, fd, name, MPX_FILE_LOG, last, &torn_at) != 0) {
            if (fd < 0) mpx__log_warn("%s/%s: %s", x->dir, name, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        if (!last) {
            close(fd);
            continue;
        }
        struct stat st;
        fstat(fd, &st);
        if (torn_at != SIZE_MAX) {
            mpx__log_warn("%s/%s: its last %llu bytes are a record torn by a crash; cut off, "
                          "everything before it recovered",
                          x->dir, name, (unsigned long long)((size_t)st.st_size - torn_at));
            uint8_t hdr[MPX_DATA_HDR_LEN];
            mpx__data_header(hdr, MPX_FILE_LOG);
            if (ftruncate(fd, (off_t)torn_at) != 0 ||
                (torn_at == 0 && write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr) ||
                fsync(fd) != 0) {
                mpx__log_warn("%s/%s: cannot cut it: %s", x->dir, name, strerror(errno));
                close(fd);
                return -1;
            }
        }
        x->r->fd = fd;
        x->r->gen = logs->gens[i];
        x->r->file_bytes = (uint64_t)lseek(fd, 0, SEEK_END);
    }
    return 0;
}

int mpx__recover(mpx__server *s, int dirfd, const char *dir, bool *replaying, mpx__recovered *r)
{
    gen_list snaps = {0}, logs = {0};
    *r = (mpx__recovered){.fd = -1};
    if (list_files(dirfd, &snaps, &logs) != 0) {
        mpx__log_warn("%s: cannot list it: %s", dir, strerror(errno));
        return -1;
    }
    mpx__session *sess = mpx__xcalloc(1, sizeof *sess);
    snprintf(sess->peer, sizeof sess->peer, "recovery");
    replay_ctx x = {s, sess, r, dir};
    int rc = 0;
    uint64_t base = snaps.n ? snaps.gens[snaps.n - 1] : 0;
    if (snaps.n) {
        char name[64];
        size_t torn_at;
        struct stat st;
        mpx__data_file_name(name, sizeof name, true, base);
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        rc = fd >= 0 ? replay_file(&x, fd, name, MPX_FILE_SNAPSHOT, false, &torn_at) : -1;
        if (fd < 0) mpx__log_warn("%s/%s: %s", dir, name, strerror(errno));
        if (fd >= 0 && fstat(fd, &st) == 0) r->snapshot_bytes = (uint64_t)st.st_size;
        if (fd >= 0) close(fd);
    }
    size_t first = 0;
    while (first < logs.n && logs.gens[first] < base)
        first++;
    if (rc == 0) rc = replay_logs(&x, dirfd, &logs, first);
    if (rc == 0 && r->fd < 0) { /* a new directory, or a snapshot with no log yet */
        r->gen = base ? base : 1;
        r->fd = create_log(dirfd, r->gen, dir);
        r->file_bytes = MPX_DATA_HDR_LEN;
        rc = r->fd < 0 ? -1 : 0;
    }
    for (size_t i = 0; rc == 0 && i < first; i++) { /* older than the snapshot: not needed */
        char name[64];
        mpx__data_file_name(name, sizeof name, false, logs.gens[i]);
        unlinkat(dirfd, name, 0);
    }
    *replaying = false;
    mpx__holdings_give_back(s, sess); /* the sessions of the last run are gone */
    mpx__registry_drop_refs(&s->reg, &sess->refs);
    mpx__registry_collect(&s->reg);
    mpx__xfree(sess);
    free(snaps.gens);
    free(logs.gens);
    return rc;
}
