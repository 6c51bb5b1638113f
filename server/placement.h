/*
 * placement.h — which CPUs mpxd's loop thread and libzmq's I/O thread may run on (internal to
 * mpxd): pinned by --cpu N, left to the kernel by --cpu none, or by default kept together
 * while the loop has CPU time to spare and spread when it has not (placement.c).
 */
#ifndef MPX_SERVER_PLACEMENT_H
#define MPX_SERVER_PLACEMENT_H

#ifndef _GNU_SOURCE
#error "placement.h needs _GNU_SOURCE (cpu_set_t), defined before any #include"
#endif
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MPX_CPU_AUTO (-1)       /* --cpu auto, the default */
#define MPX_CPU_NONE (-2)       /* --cpu none */
#define MPX_PLACEMENT_MS 100    /* how often the loop looks at its demand */
#define MPX_GATHER_BELOW 0.60   /* apart, the threads come together under this demand */
#define MPX_SPREAD_ABOVE 0.85   /* together, they spread over this demand */
#define MPX_SPREAD_HOLD_MS 2000 /* and stay spread this long at least */
#define MPX_MAX_IO_THREADS 8

typedef struct mpx__placement {
    bool active;   /* placing by demand (--cpu auto, with two CPUs or more to choose from) */
    bool together; /* both kinds of thread on together_cpu alone */
    int together_cpu;
    int n_io;
    pid_t io[MPX_MAX_IO_THREADS]; /* libzmq's I/O threads, found once they have their names */
    int stat_fd;                  /* the loop's /proc/thread-self/schedstat, or -1 */
    uint64_t last_demand_ns;      /* the loop's time running plus waiting to run, so far */
    int64_t last_ns;              /* when that was read */
    int64_t spread_ns;            /* when they last spread */
    cpu_set_t allowed;            /* the CPUs mpxd was started with */
} mpx__placement;

/* Chooses the placement for --cpu's value `cpu` (N, MPX_CPU_AUTO or MPX_CPU_NONE), called by
 * the loop's thread before zctx has a socket: N puts this thread on CPU N and makes libzmq
 * start its I/O thread there. Returns 0 with *out set (the caller owns it: free it with
 * mpx__placement_free), or a negative errno. */
int mpx__placement_open(mpx__placement **out, void *zctx, int cpu);

/* Called by the loop every MPX_PLACEMENT_MS: measures the loop's demand (its time running
 * and waiting to run, over the time since the last call) and moves both kinds of thread as
 * mpx__placement_together decides. Returns 0, 1 when the threads moved, or a negative errno,
 * after which placement is off and every thread may run on every allowed CPU again. */
int mpx__placement_adjust(mpx__placement *p);

/* The decision: whether the threads should be together, given whether they are, the
 * loop's demand (1.0: it ran or waited to run the whole time) and how long ago they last
 * spread. */
bool mpx__placement_together(bool together, double demand, int64_t since_spread_ms);

/* Puts the calling thread and libzmq's I/O threads on the calling thread's CPU alone
 * (together) or on every allowed CPU. Returns 0 or a negative errno. */
int mpx__placement_move(mpx__placement *p, bool together);

/* Closes what p holds and frees it; *p becomes NULL. The threads stay where they are. */
void mpx__placement_free(mpx__placement **p);

#endif
