/*
 * placement.c — which CPUs mpxd's loop thread and libzmq's I/O thread may run on. Every
 * message passes between those two threads; on one CPU the hand-off wakes no other CPU,
 * which under a hypervisor costs more than the rest of a small call (docs/performance.md).
 * But a loop kept busy, by large batches, needs a CPU of its own beside the I/O thread's
 * copying, and with many clients the I/O thread may need more than the CPU it shares. So by
 * default the loop measures, from the kernel's schedstat, its own time running plus waiting
 * to run and the I/O thread's time waiting to run, keeps both threads on the CPU the loop is
 * on while those are low, and lets them spread over every allowed CPU when either is high.
 * Nothing here waits: two preads of procfs files and sched_setaffinity, ten times a second.
 */
#define _GNU_SOURCE
#include "placement.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads the thread's time so far; false if it cannot. */
static bool thread_time_read(mpx__thread_time *t)
{
    char buf[128];
    ssize_t n = t->fd >= 0 ? pread(t->fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return false;
    buf[n] = '\0';
    return sscanf(buf, "%" SCNu64 " %" SCNu64, &t->run_ns, &t->wait_ns) == 2;
}

static bool thread_time_open(mpx__thread_time *t, const char *path)
{
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    return thread_time_read(t);
}

static void thread_time_close(mpx__thread_time *t)
{
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
}

/* libzmq names its I/O threads "ZMQbg/IO/<n>"; each sets its own name once it runs, so
 * they are looked for until found. Returns how many there are. */
static int find_io_threads(mpx__placement *p)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    p->n_io = 0;
    for (struct dirent *e; (e = readdir(d)) && p->n_io < MPX_MAX_IO_THREADS;) {
        if (e->d_name[0] == '.') continue;
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        if (!fgets(name, sizeof name, f)) name[0] = '\0';
        fclose(f);
        if (strncmp(name, "ZMQbg/IO/", 9) == 0) p->io[p->n_io++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return p->n_io;
}

static int pin_fixed(void *zctx, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return -errno;
    return zmq_ctx_set(zctx, ZMQ_THREAD_AFFINITY_CPU_ADD, cpu) == 0 ? 0 : -errno;
}

int mpx__placement_open(mpx__placement **out, void *zctx, int cpu)
{
    mpx__placement *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->loop_time.fd = p->io_time.fd = -1;
    *out = p;
    if (cpu >= 0) return pin_fixed(zctx, cpu);
    if (cpu != MPX_CPU_AUTO || sched_getaffinity(0, sizeof p->allowed, &p->allowed) != 0 ||
        CPU_COUNT(&p->allowed) < 2)
        return 0; /* left to the kernel: nothing to choose between */
    if (!thread_time_open(&p->loop_time, "/proc/thread-self/schedstat"))
        return 0; /* a kernel without schedstat: no demand to go by */
    p->last_ns = now_ns();
    p->spread_ns = p->last_ns - (int64_t)MPX_SPREAD_HOLD_MS * 1000000;
    p->active = true;
    return 0;
}

bool mpx__placement_together(bool together, const mpx__demand *d, int64_t since_spread_ms)
{
    if (together) return d->loop <= MPX_SPREAD_ABOVE && d->io_wait <= MPX_IO_WAIT_SPREAD;
    return d->loop < MPX_GATHER_BELOW && d->io_wait < MPX_IO_WAIT_GATHER &&
           since_spread_ms >= MPX_SPREAD_HOLD_MS;
}

int mpx__placement_move(mpx__placement *p, bool together)
{
    if (p->n_io == 0 && find_io_threads(p) == 0) return -ESRCH;
    cpu_set_t one, *set = &p->allowed;
    if (together) {
        int cpu = sched_getcpu();
        if (cpu < 0) return -errno;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        set = &one;
        p->together_cpu = cpu;
    }
    if (sched_setaffinity(0, sizeof *set, set) != 0) return -errno;
    for (int i = 0; i < p->n_io; i++)
        if (sched_setaffinity(p->io[i], sizeof *set, set) != 0) return -errno;
    p->together = together;
    return 0;
}

/* delta_ns as a fraction of elapsed_ns. */
static double share(uint64_t delta_ns, int64_t elapsed_ns)
{
    return (double)delta_ns / (double)elapsed_ns;
}

/* Measures the demand since the last look. False until there is something to compare. */
static bool measure(mpx__placement *p, mpx__demand *d)
{
    mpx__thread_time loop = p->loop_time, io = p->io_time;
    int64_t t = now_ns(), elapsed = t - p->last_ns;
    if (!thread_time_read(&loop) || elapsed <= 0) return false;
    if (io.fd < 0 && p->n_io > 0) { /* found by the first move: a baseline this time */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)p->io[0]);
        thread_time_open(&p->io_time, path);
        io = p->io_time;
    }
    *d = (mpx__demand){
        .loop =
            share(loop.run_ns + loop.wait_ns - p->loop_time.run_ns - p->loop_time.wait_ns, elapsed),
        .io_wait = thread_time_read(&io) ? share(io.wait_ns - p->io_time.wait_ns, elapsed) : 0,
    };
    p->loop_time = loop;
    p->io_time = io;
    p->last_ns = t;
    return true;
}

int mpx__placement_adjust(mpx__placement *p)
{
    mpx__demand d;
    if (!p->active || !measure(p, &d)) return 0;
    bool want = mpx__placement_together(p->together, &d, (p->last_ns - p->spread_ns) / 1000000);
    if (want == p->together) return 0;
    int rc = mpx__placement_move(p, want);
    if (rc == -ESRCH) { /* the I/O thread has not named itself yet, or has another name */
        p->active = ++p->searches < MPX_IO_SEARCHES;
        return 0;
    }
    if (rc != 0) {
        p->active = false;
        mpx__placement_move(p, false);
        return rc;
    }
    if (!want) p->spread_ns = p->last_ns;
    return 1;
}

void mpx__placement_free(mpx__placement **p)
{
    if (!*p) return;
    thread_time_close(&(*p)->loop_time);
    thread_time_close(&(*p)->io_time);
    free(*p);
    *p = NULL;
}
