/*
 * persist.c — --data-dir at run time (persist.h): the records of each loop turn handed to the
 * log writer (aof.c), replies held until the changes before them are durable, and compaction:
 * a forked child writes the snapshot (snapshot.c) from its copy-on-write image of the state
 * while the loop goes on, and the log starts a new file at the same instant, so that the
 * snapshot plus the new log is everything. Recovery at start is recover.c's.
 *
 * Files: snapshot.N is the state when log.N began; a restart loads the newest snapshot and
 * replays the logs from its number up. A compaction that fails leaves the older files, which
 * still hold everything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "aof.h"
#include "persist.h"
#include "recover.h"
#include "reply.h"
#include "session.h"
#include "snapshot.h"

#define WAKE_SIGNAL SIGUSR1
#define BEHIND_MAX (64u << 20) /* past this much unwritten, replies wait for the writer */
#define CHILD_CHECK_MS 100
#define RETRY_COMPACT_MS 60000 /* after a compaction that failed */
#define HELD_WAIT_MS 2         /* the loop's longest wait while replies are held */
#define RUN_SHIFT 40           /* ids and fencing tokens of run r start at r << RUN_SHIFT */

/* A reply waiting for the disk, in `held`: this header, the routing id, the frame. */
typedef struct {
    uint64_t until; /* sent once this many log bytes are durable (or written, see confirmed) */
    uint32_t rid_len, frame_len;
} held_hdr;

typedef struct mpx__persist mpx__persist;

struct mpx__persist {
    int dirfd, lockfd;
    mpx__fsync mode;
    mpx__aof *aof;
    mpx__records rec; /* this turn's records */
    bool replaying;
    uint64_t run, state_id, base;
    uint64_t gen;            /* the log file records go to (once the writer has rotated) */
    uint64_t snapshot_bytes; /* the newest snapshot's size: compaction waits for the log to
                                outgrow it twice */
    pid_t child;             /* a compaction running, or 0 */
    int child_pipe;          /* the child writes the snapshot's size here: no stat in the loop */
    uint64_t child_gen;
    int64_t child_started_ms, last_check_ms, retry_after_ms;
    mpx__buf held;
    size_t held_head;
    uint64_t n_held;
    mpx__persist_stats stats;
};

static void on_wake_signal(int signo)
{
    (void)signo; /* only interrupts the loop's wait */
}

/* ---- logging ------------------------------------------------------------------------------ */

static mpx__persist *logging(const mpx__server *s)
{
    mpx__persist *p = s->persist;
    return p && !p->replaying ? p : NULL;
}

msgpack_packer *mpx__persist_call(mpx__server *s, const mpx__obj *obj, const char *method,
                                  uint32_t argc)
{
    mpx__persist *p = logging(s);
    /* a deleted object's state is gone from the log's point of view */
    if (!p || mpx__registry_find(&s->reg, obj->id) != obj) return NULL;
    return mpx__record_call(&p->rec, obj->id, method, argc);
}

void mpx__persist_end(mpx__server *s)
{
    mpx__record_end(&s->persist->rec);
}

void mpx__persist_uint(mpx__server *s, const mpx__obj *obj, const char *method, uint64_t v)
{
    msgpack_packer *pk = mpx__persist_call(s, obj, method, 1);
    if (!pk) return;
    msgpack_pack_uint64(pk, v);
    mpx__persist_end(s);
}

void mpx__persist_logged_call(mpx__server *s, const mpx__obj *obj, const mpx__method *m,
                              uint32_t argc, const mpx__span *argv)
{
    mpx__persist *p = logging(s);
    if (!p) return;
    msgpack_packer *pk = mpx__record_call(&p->rec, obj->id, m->name, argc);
    if (argc) /* the arguments lie one after the other in the call */
        mpx__buf_write(pk->data, (const char *)argv[0].p,
                       (size_t)(argv[argc - 1].p + argv[argc - 1].len - argv[0].p));
    mpx__record_end(&p->rec);
}

void mpx__persist_created(mpx__server *s, const mpx__obj *obj, const mpx__span *args)
{
    mpx__persist *p = logging(s);
    if (!p) return;
    msgpack_packer *pk = mpx__record_begin(&p->rec, MPX_REC_CREATE, 5);
    msgpack_pack_uint64(pk, obj->id);
    msgpack_pack_str_with_body(pk, obj->type->name, strlen(obj->type->name));
    if (obj->name)
        msgpack_pack_str_with_body(pk, obj->name, strlen(obj->name));
    else
        msgpack_pack_nil(pk);
    if (args)
        mpx__buf_write(pk->data, (const char *)args->p, args->len);
    else
        msgpack_pack_array(pk, 0);
    mpx__record_end(&p->rec);
}

void mpx__persist_deleted(mpx__server *s, const mpx__obj *obj)
{
    mpx__persist *p = logging(s);
    if (!p) return;
    msgpack_packer *pk = mpx__record_begin(&p->rec, MPX_REC_DELETE, 2);
    msgpack_pack_uint64(pk, obj->id);
    mpx__record_end(&p->rec);
}

bool mpx__persist_replaying(const mpx__server *s)
{
    return s->persist && s->persist->replaying;
}

uint64_t mpx__persist_state_id(const mpx__server *s)
{
    return s->persist ? s->persist->state_id : s->instance;
}

uint64_t mpx__persist_base(const mpx__server *s)
{
    return s->persist ? s->persist->base : 0;
}

/* ---- replies held for the disk ------------------------------------------------------------- */

/* How far the log must be for a reply to go: durable with --fsync always; otherwise written,
 * or at most BEHIND_MAX behind (a writer the disk cannot keep up with slows its clients
 * rather than growing without bound). */
static uint64_t confirmed(const mpx__persist *p)
{
    if (p->mode == MPX_FSYNC_ALWAYS) return mpx__aof_durable(p->aof);
    return mpx__aof_written(p->aof) + BEHIND_MAX;
}

bool mpx__persist_hold(mpx__server *s, const uint8_t *rid, size_t rid_len, const mpx__buf *frame)
{
    mpx__persist *p = logging(s);
    if (!p) return false;
    uint64_t until = mpx__aof_handed(p->aof) + p->rec.out.size;
    if (p->n_held == 0 && until <= confirmed(p)) return false;
    held_hdr h = {until, (uint32_t)rid_len, (uint32_t)frame->size};
    mpx__buf_write(&p->held, (const char *)&h, sizeof h);
    mpx__buf_write(&p->held, (const char *)rid, rid_len);
    mpx__buf_write(&p->held, frame->data, frame->size);
    p->n_held++;
    return true;
}

/* Sends the held replies whose changes are now confirmed, oldest first. A peer gone
 * meanwhile is marked so: its session ends as any whose reply cannot be delivered. */
static void release_held(mpx__server *s, mpx__persist *p, uint64_t ok)
{
    while (p->n_held) {
        held_hdr h;
        memcpy(&h, p->held.data + p->held_head, sizeof h);
        if (h.until > ok) break;
        const uint8_t *rid = (const uint8_t *)p->held.data + p->held_head + sizeof h;
        mpx__buf frame = {(char *)rid + h.rid_len, h.frame_len, h.frame_len};
        if (!mpx__send_to(s, rid, h.rid_len, &frame)) {
            mpx__session *sess;
            HASH_FIND(hh, s->sessions, rid, h.rid_len, sess);
            if (sess) mpx__session_mark_gone(s, sess);
        }
        p->held_head += sizeof h + h.rid_len + h.frame_len;
        p->n_held--;
    }
    if (p->n_held == 0 || p->held_head > p->held.size / 2) { /* keep the buffer compact */
        memmove(p->held.data, p->held.data + p->held_head, p->held.size - p->held_head);
        p->held.size -= p->held_head;
        p->held_head = 0;
    }
    if (p->aof) mpx__aof_notify(p->aof, p->n_held > 0);
}

/* ---- compaction --------------------------------------------------------------------------- */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Starts a compaction: the log moves on to a new file at this instant, and a child writes
 * the snapshot of the state as it is now. */
static void compaction_start(mpx__server *s, mpx__persist *p, int64_t now)
{
    uint64_t gen = p->gen + 1;
    mpx__aof_append(p->aof, &p->rec.out);
    if (!mpx__aof_rotate(p->aof, gen)) return;
    p->gen = gen;
    int64_t t0 = mono_us();
    int size_pipe[2];
    pid_t parent = getpid(), pid = pipe2(size_pipe, O_CLOEXEC | O_NONBLOCK) == 0 ? fork() : -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive mpxd, nor hold its directory */
        uint64_t bytes;
        if (getppid() != parent ||
            mpx__snapshot_write(s, p->dirfd, gen, p->run, p->state_id, &bytes) != 0 ||
            write(size_pipe[1], &bytes, sizeof bytes) != sizeof bytes)
            _exit(1);
        _exit(0);
    }
    p->stats.fork_us = (uint64_t)(mono_us() - t0);
    if (pid < 0) {
        mpx__log_warn("compaction: cannot fork: %s; retrying in a minute", strerror(errno));
        p->retry_after_ms = now + RETRY_COMPACT_MS;
        return;
    }
    close(size_pipe[1]);
    p->child_pipe = size_pipe[0];
    p->child = pid;
    p->child_gen = gen;
    p->child_started_ms = now;
    mpx__log_info("compaction: writing snapshot.%llu (the fork took %llu us)",
                  (unsigned long long)gen, (unsigned long long)p->stats.fork_us);
}

static void compaction_check(mpx__persist *p, int64_t now)
{
    int status;
    if (waitpid(p->child, &status, WNOHANG) != p->child) return;
    p->child = 0;
    uint64_t bytes;
    bool sized = read(p->child_pipe, &bytes, sizeof bytes) == sizeof bytes;
    close(p->child_pipe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sized) {
        p->snapshot_bytes = bytes;
        p->stats.compactions++;
        mpx__aof_remove_before(p->aof, p->child_gen);
        mpx__log_info("compaction: snapshot.%llu written (%llu bytes) in %lld ms",
                      (unsigned long long)p->child_gen, (unsigned long long)p->snapshot_bytes,
                      (long long)(now - p->child_started_ms));
    } else {
        mpx__log_warn("compaction: the snapshot could not be written (see above); the older "
                      "files still hold everything; retrying in a minute");
        p->retry_after_ms = now + RETRY_COMPACT_MS;
    }
}

static bool compaction_due(const mpx__server *s, const mpx__persist *p, int64_t now)
{
    uint64_t log = mpx__aof_file_bytes(p->aof);
    return !p->child && now >= p->retry_after_ms && log >= s->cfg.compact_min &&
           log >= 2 * p->snapshot_bytes && !mpx__aof_rotating(p->aof);
}

int mpx__persist_turn(mpx__server *s, int cap)
{
    mpx__persist *p = s->persist;
    if (!p) return cap;
    mpx__aof_append(p->aof, &p->rec.out);
    if (p->n_held) release_held(s, p, confirmed(p));
    int64_t now = mpx__now_ms();
    if (now - p->last_check_ms >= CHILD_CHECK_MS) {
        p->last_check_ms = now;
        if (p->child)
            compaction_check(p, now);
        else if (compaction_due(s, p, now))
            compaction_start(s, p, now);
    }
    return p->n_held && cap > HELD_WAIT_MS ? HELD_WAIT_MS : cap;
}

mpx__persist_stats mpx__persist_stats_get(const mpx__server *s)
{
    mpx__persist *p = s->persist;
    if (!p) return (mpx__persist_stats){0};
    mpx__persist_stats st = p->stats;
    st.log_bytes = mpx__aof_file_bytes(p->aof);
    st.held = p->n_held;
    st.write_errors = mpx__aof_write_errors(p->aof);
    return st;
}

/* ---- start and stop ----------------------------------------------------------------------- */

/* Opens (making it if need be) the data directory, private to this user, and locks it. */
static int open_dir(mpx__persist *p, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        mpx__log_warn("--data-dir %s: cannot create it: %s", dir, strerror(errno));
        return -1;
    }
    p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (p->dirfd < 0 || fstat(p->dirfd, &st) != 0) {
        mpx__log_warn("--data-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) && fchmod(p->dirfd, 0700) == 0)
        mpx__log_warn("--data-dir %s was readable by others: made private (0700)", dir);
    p->lockfd = openat(p->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->lockfd < 0 || flock(p->lockfd, LOCK_EX | LOCK_NB) != 0) {
        mpx__log_warn("--data-dir %s: %s", dir,
                      errno == EWOULDBLOCK ? "another mpxd is using it" : strerror(errno));
        return -1;
    }
    return 0;
}

/* Logs the start of this run and waits until it is on disk: once clients see a base, no
 * restart can hand out ids or tokens below it again. */
static int log_run(mpx__persist *p, int fd)
{
    msgpack_packer *pk = mpx__record_begin(&p->rec, MPX_REC_RUN, 3);
    msgpack_pack_uint64(pk, p->run);
    msgpack_pack_uint64(pk, p->state_id);
    mpx__record_end(&p->rec);
    ssize_t n = write(fd, p->rec.out.data, p->rec.out.size);
    bool ok = n == (ssize_t)p->rec.out.size && fdatasync(fd) == 0;
    p->rec.out.size = 0;
    if (!ok) mpx__log_warn("cannot write the log: %s", n < 0 ? strerror(errno) : "short write");
    return ok ? 0 : -1;
}

int mpx__persist_open(mpx__server *s)
{
    mpx__persist *p = mpx__xcalloc(1, sizeof *p);
    p->dirfd = p->lockfd = -1;
    p->mode = s->cfg.fsync;
    mpx__records_init(&p->rec);
    s->persist = p;
    if (open_dir(p, s->cfg.data_dir) != 0) return -1;
    mpx__recovered r;
    p->replaying = true;
    int rc = mpx__recover(s, p->dirfd, s->cfg.data_dir, &p->replaying, &r);
    p->replaying = false;
    if (rc != 0) return -1;
    p->run = r.run + 1;
    p->state_id = r.state_id;
    while (p->state_id == 0)
        randombytes_buf(&p->state_id, sizeof p->state_id);
    p->base = p->run << RUN_SHIFT;
    if (s->reg.next_id < p->base) s->reg.next_id = p->base;
    p->snapshot_bytes = r.snapshot_bytes;
    p->gen = r.gen;
    if (log_run(p, r.fd) != 0) {
        close(r.fd);
        return -1;
    }
    struct sigaction sa = {.sa_handler = on_wake_signal}; /* no SA_RESTART: it ends a wait */
    sigemptyset(&sa.sa_mask);
    sigaction(WAKE_SIGNAL, &sa, NULL);
    p->aof = mpx__aof_start(p->dirfd, r.fd, r.file_bytes, p->mode, pthread_self(), WAKE_SIGNAL);
    if (!p->aof) {
        mpx__log_warn("cannot start the log writer");
        close(r.fd);
        return -1;
    }
    mpx__log_info("--data-dir %s: %llu objects recovered, run %llu, --fsync %s", s->cfg.data_dir,
                  (unsigned long long)(s->reg.n_objects - s->reg.n_deleted),
                  (unsigned long long)p->run,
                  p->mode == MPX_FSYNC_ALWAYS     ? "always"
                  : p->mode == MPX_FSYNC_EVERYSEC ? "everysec"
                                                  : "no");
    return 0;
}

void mpx__persist_close(mpx__server *s)
{
    mpx__persist *p = s->persist;
    if (!p) return;
    if (p->aof) {
        mpx__aof_append(p->aof, &p->rec.out);
        mpx__aof_stop(&p->aof); /* everything written and synced */
        if (p->n_held) release_held(s, p, UINT64_MAX);
    }
    if (p->child) {
        kill(p->child, SIGKILL);
        waitpid(p->child, NULL, 0);
        close(p->child_pipe);
    }
    if (p->dirfd >= 0) close(p->dirfd);
    if (p->lockfd >= 0) close(p->lockfd);
    mpx__records_free(&p->rec);
    mpx__buf_free(&p->held);
    mpx__xfree(p);
    s->persist = NULL;
}
