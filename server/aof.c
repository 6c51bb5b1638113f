/*
 * aof.c — the log writer thread (aof.h). The loop appends records to its own buffer while it
 * runs calls and hands the buffer over once a turn; the writer takes everything handed over
 * since its last write, writes it in one go and, with --fsync always, syncs it before taking
 * more: every call answered in the meantime joins the next group, so one fdatasync commits
 * many calls (group commit). With everysec it syncs at most once a second; with no, never
 * (the kernel writes back on its own schedule).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aof.h"
#include "log.h"
#include "records.h"

struct mpx__aof {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int dirfd, fd;
    mpx__fsync mode;
    pthread_t loop;
    int wake_signal;
    /* under mu */
    mpx__buf pending;       /* handed over, not yet taken by the writer */
    mpx__buf before_rotate; /* handed over before a rotation: for the old file */
    uint64_t rotate_gen;    /* 0: none asked */
    uint64_t remove_below;  /* 0: nothing to remove */
    bool stopping;
    /* the loop's */
    uint64_t handed;
    /* published by the writer */
    _Atomic uint64_t written, durable, file_bytes, write_errors;
    _Atomic bool notify;
};

void mpx__data_file_name(char *out, size_t size, bool snapshot, uint64_t gen)
{
    snprintf(out, size, "%s.%llu", snapshot ? "snapshot" : "log", (unsigned long long)gen);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes p[0..len) whole, retrying a failure (a full disk) every second: the bytes are
 * acknowledged changes, so they are kept until they can be written. */
static void write_all(mpx__aof *a, const char *p, size_t len)
{
    static mpx__log_limiter failing; /* the writer thread's */
    while (len > 0) {
        ssize_t n = write(a->fd, p, len);
        if (n > 0) {
            p += n, len -= (size_t)n;
            atomic_fetch_add(&a->file_bytes, (uint64_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        atomic_fetch_add(&a->write_errors, 1);
        mpx__log_limited(&failing,
                         "cannot write the log: %s; retrying every second, acknowledgements "
                         "wait (--fsync always) or are held once far behind",
                         strerror(errno));
        sleep(1);
    }
}

static void sync_file(mpx__aof *a, int fd)
{
    static mpx__log_limiter failing;
    while (fdatasync(fd) != 0 && errno != EINVAL) {
        atomic_fetch_add(&a->write_errors, 1);
        mpx__log_limited(&failing, "cannot sync the log: %s; retrying every second",
                         strerror(errno));
        sleep(1);
    }
}

static void wake_loop(mpx__aof *a)
{
    if (atomic_load(&a->notify)) pthread_kill(a->loop, a->wake_signal);
}

/* Closes the current file (synced) and starts log.<gen>, its header synced, the directory
 * too, so that a restart finds it. */
static void rotate_now(mpx__aof *a, uint64_t gen)
{
    char name[64];
    mpx__data_file_name(name, sizeof name, false, gen);
    static mpx__log_limiter failing; /* the writer thread's */
    int fd;
    /* Records after the snapshot's instant belong in the new file only: until it can be
     * made, they wait, as they do for a write that fails. */
    while ((fd = openat(a->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                        0600)) < 0) {
        atomic_fetch_add(&a->write_errors, 1);
        mpx__log_limited(&failing, "cannot create %s: %s; retrying every second", name,
                         strerror(errno));
        sleep(1);
    }
    sync_file(a, a->fd);
    close(a->fd);
    a->fd = fd;
    atomic_store(&a->file_bytes, 0);
    uint8_t hdr[MPX_DATA_HDR_LEN];
    mpx__data_header(hdr, MPX_FILE_LOG);
    write_all(a, (const char *)hdr, sizeof hdr);
    sync_file(a, a->fd);
    fsync(a->dirfd);
}

/* Removes snapshot.N and log.N for N < gen. */
static void remove_below(mpx__aof *a, uint64_t gen)
{
    int dfd = dup(a->dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return;
    }
    rewinddir(d); /* the duplicate shares its position with dirfd */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *dot = strchr(e->d_name, '.');
        if (!dot || (strncmp(e->d_name, "log.", 4) && strncmp(e->d_name, "snapshot.", 9))) continue;
        char *end;
        unsigned long long n = strtoull(dot + 1, &end, 10);
        if (*end == '\0' && end != dot + 1 && n < gen) unlinkat(a->dirfd, e->d_name, 0);
    }
    closedir(d);
    fsync(a->dirfd);
}

static void *writer_main(void *arg)
{
    mpx__aof *a = arg;
    mpx__buf mine = {0}, old = {0};
    int64_t last_sync = mono_ms();
    bool dirty = false;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->stopping && a->pending.size == 0 && !a->rotate_gen && !a->remove_below &&
               !(dirty && a->mode == MPX_FSYNC_EVERYSEC && mono_ms() - last_sync >= 1000)) {
            if (dirty && a->mode == MPX_FSYNC_EVERYSEC) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += 1;
                pthread_cond_timedwait(&a->cv, &a->mu, &until);
            } else {
                pthread_cond_wait(&a->cv, &a->mu);
            }
        }
        mpx__buf t = mine;
        mine = a->pending, a->pending = t, a->pending.size = 0;
        t = old;
        old = a->before_rotate, a->before_rotate = t, a->before_rotate.size = 0;
        uint64_t rotate = a->rotate_gen, remove = a->remove_below;
        bool stopping = a->stopping;
        pthread_mutex_unlock(&a->mu);

        uint64_t done = atomic_load(&a->written);
        if (rotate) {
            write_all(a, old.data, old.size);
            done += old.size;
            rotate_now(a, rotate);
            atomic_store(&a->written, done);
            atomic_store(&a->durable, done);
        }
        write_all(a, mine.data, mine.size);
        done += mine.size;
        atomic_store(&a->written, done);
        dirty = dirty || mine.size > 0;
        if (dirty && (a->mode == MPX_FSYNC_ALWAYS || stopping ||
                      (a->mode == MPX_FSYNC_EVERYSEC && mono_ms() - last_sync >= 1000))) {
            sync_file(a, a->fd);
            atomic_store(&a->durable, done);
            last_sync = mono_ms();
            dirty = false;
        }
        if (rotate || mine.size) wake_loop(a);
        if (remove) remove_below(a, remove);

        pthread_mutex_lock(&a->mu);
        if (rotate) a->rotate_gen = 0;
        if (remove == a->remove_below) a->remove_below = 0;
        if (stopping && a->pending.size == 0 && a->before_rotate.size == 0) break;
    }
    pthread_mutex_unlock(&a->mu);
    mpx__buf_free(&mine);
    mpx__buf_free(&old);
    return NULL;
}

mpx__aof *mpx__aof_start(int dirfd, int fd, uint64_t file_bytes, mpx__fsync mode, pthread_t loop,
                         int wake_signal)
{
    mpx__aof *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->dirfd = dirfd, a->fd = fd, a->mode = mode;
    a->loop = loop, a->wake_signal = wake_signal;
    atomic_init(&a->file_bytes, file_bytes);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    sigset_t all, was;
    sigfillset(&all); /* signals are the loop's */
    pthread_sigmask(SIG_BLOCK, &all, &was);
    int rc = pthread_create(&a->thread, NULL, writer_main, a);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
        return NULL;
    }
    return a;
}

void mpx__aof_stop(mpx__aof **ap)
{
    mpx__aof *a = *ap;
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    close(a->fd);
    mpx__buf_free(&a->pending);
    mpx__buf_free(&a->before_rotate);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
    *ap = NULL;
}

void mpx__aof_append(mpx__aof *a, mpx__buf *b)
{
    if (b->size == 0) return;
    a->handed += b->size;
    pthread_mutex_lock(&a->mu);
    if (a->pending.size == 0) { /* the usual case: swap, no copy */
        mpx__buf t = a->pending;
        a->pending = *b;
        *b = t;
    } else {
        mpx__buf_write(&a->pending, b->data, b->size);
    }
    b->size = 0;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

bool mpx__aof_rotate(mpx__aof *a, uint64_t gen)
{
    pthread_mutex_lock(&a->mu);
    bool ok = a->rotate_gen == 0;
    if (ok) {
        mpx__buf t = a->before_rotate;
        a->before_rotate = a->pending;
        a->pending = t;
        a->pending.size = 0;
        a->rotate_gen = gen;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

bool mpx__aof_rotating(mpx__aof *a)
{
    pthread_mutex_lock(&a->mu);
    bool r = a->rotate_gen != 0;
    pthread_mutex_unlock(&a->mu);
    return r;
}

void mpx__aof_remove_before(mpx__aof *a, uint64_t gen)
{
    pthread_mutex_lock(&a->mu);
    a->remove_below = gen;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

uint64_t mpx__aof_handed(const mpx__aof *a)
{
    return a->handed;
}

uint64_t mpx__aof_written(const mpx__aof *a)
{
    return atomic_load(&((mpx__aof *)a)->written);
}

uint64_t mpx__aof_durable(const mpx__aof *a)
{
    return atomic_load(&((mpx__aof *)a)->durable);
}

uint64_t mpx__aof_file_bytes(const mpx__aof *a)
{
    return atomic_load(&((mpx__aof *)a)->file_bytes);
}

uint64_t mpx__aof_write_errors(const mpx__aof *a)
{
    return atomic_load(&((mpx__aof *)a)->write_errors);
}

void mpx__aof_notify(mpx__aof *a, bool want)
{
    atomic_store(&a->notify, want);
}
