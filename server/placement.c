/*
 * placement.c — which CPUs mpxd's loop thread and libzmq's I/O thread may run on. Every
 * message passes between those two threads; on one CPU the hand-off wakes no other CPU,
 * which under a hypervisor costs more than the rest of a small call (docs/performance.md).
 * But a loop kept busy, by large batches, needs a CPU of its own beside the I/O thread's
 * copying. So by default the loop measures its demand, its time running plus its time
 * waiting to run (/proc/thread-self/schedstat), and keeps both threads on the CPU it is on
 * while the demand is low, and lets them spread over every allowed CPU when it is high.
 * Nothing here waits: a pread of a procfs file and sched_setaffinity, ten times a second.
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

/* The loop's time on a CPU plus its time waiting for one, in ns, or -1. */
static int64_t read_demand_ns(int fd)
{
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    uint64_t run, wait;
    if (sscanf(buf, "%" SCNu64 " %" SCNu64, &run, &wait) != 2) return -1;
    return (int64_t)(run + wait);
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
    p->stat_fd = -1;
    *out = p;
    if (cpu >= 0) return pin_fixed(zctx, cpu);
    if (cpu != MPX_CPU_AUTO || sched_getaffinity(0, sizeof p->allowed, &p->allowed) != 0 ||
        CPU_COUNT(&p->allowed) < 2)
        return 0; /* left to the kernel: nothing to choose between */
    p->stat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    int64_t demand_ns = p->stat_fd >= 0 ? read_demand_ns(p->stat_fd) : -1;
    if (demand_ns < 0) return 0; /* a kernel without schedstat: no demand to go by */
    p->last_demand_ns = (uint64_t)demand_ns;
    p->last_ns = now_ns();
    p->spread_ns = p->last_ns - (int64_t)MPX_SPREAD_HOLD_MS * 1000000;
    p->active = true;
    return 0;
}

bool mpx__placement_together(bool together, double demand, int64_t since_spread_ms)
{
    if (together) return demand <= MPX_SPREAD_ABOVE;
    return demand < MPX_GATHER_BELOW && since_spread_ms >= MPX_SPREAD_HOLD_MS;
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

int mpx__placement_adjust(mpx__placement *p)
{
    if (!p->active) return 0;
    int64_t t = now_ns(), demand_ns = read_demand_ns(p->stat_fd);
    if (demand_ns < 0 || t <= p->last_ns) return 0;
    double demand = (double)(demand_ns - (int64_t)p->last_demand_ns) / (double)(t - p->last_ns);
    p->last_demand_ns = (uint64_t)demand_ns;
    p->last_ns = t;
    bool want = mpx__placement_together(p->together, demand, (t - p->spread_ns) / 1000000);
    if (want == p->together) return 0;
    int rc = mpx__placement_move(p, want);
    if (rc == -ESRCH) return 0; /* the I/O thread has not named itself yet */
    if (rc != 0) {
        p->active = false;
        mpx__placement_move(p, false);
        return rc;
    }
    if (!want) p->spread_ns = t;
    return 1;
}

void mpx__placement_free(mpx__placement **p)
{
    if (!*p) return;
    if ((*p)->stat_fd >= 0) close((*p)->stat_fd);
    free(*p);
    *p = NULL;
}
