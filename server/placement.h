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
#define MPX_GATHER_BELOW 0.60   /* apart, the threads come together under this loop demand */
#define MPX_SPREAD_ABOVE 0.85   /* together, they spread over this loop demand */
#define MPX_IO_WAIT_GATHER 0.45 /* ... and only while the I/O thread waits less than this */
#define MPX_IO_WAIT_SPREAD 0.55 /* ... or when it waits more than this for its CPU */
#define MPX_SPREAD_HOLD_MS 2000 /* and stay spread this long at least */
#define MPX_MAX_IO_THREADS 8
#define MPX_IO_SEARCHES 50 /* looks for libzmq's I/O thread before placement gives up */

/* A thread's time on a CPU and waiting for one, from its /proc/.../schedstat. */
typedef struct {
    int fd; /* or -1 */
    uint64_t run_ns, wait_ns;
} mpx__thread_time;

/* What the threads asked for since the last look, as fractions of the time passed. */
typedef struct {
    double loop;    /* the loop's time running plus waiting to run */
    double io_wait; /* the first I/O thread's time waiting to run */
} mpx__demand;

typedef struct mpx__placement {
    bool active;   /* placing by demand (--cpu auto, with two CPUs or more to choose from) */
    bool together; /* both kinds of thread on together_cpu alone */
    int together_cpu;
    int n_io;
    int searches;                 /* moves that found no I/O thread */
    pid_t io[MPX_MAX_IO_THREADS]; /* libzmq's I/O threads, found once they have their names */
    mpx__thread_time loop_time;   /* /proc/thread-self/schedstat of the loop */
    mpx__thread_time io_time;     /* the first I/O thread's, once found */
    int64_t last_ns;              /* when they were read */
    int64_t spread_ns;            /* when the threads last spread */
    cpu_set_t allowed;            /* the CPUs mpxd was started with */
} mpx__placement;

/* Chooses the placement for --cpu's value `cpu` (N, MPX_CPU_AUTO or MPX_CPU_NONE), called by
 * the loop's thread before zctx has a socket: N puts this thread on CPU N and makes libzmq
 * start its I/O thread there. Returns 0 with *out set (the caller owns it: free it with
 * mpx__placement_free), or a negative errno. */
int mpx__placement_open(mpx__placement **out, void *zctx, int cpu);

/* Called by the loop every MPX_PLACEMENT_MS: measures the demand since the last call and
 * moves both kinds of thread as mpx__placement_together decides. Returns 0, 1 when the
 * threads moved, or a negative errno, after which placement is off and every thread may run
 * on every allowed CPU again. */
int mpx__placement_adjust(mpx__placement *p);

/* The decision: whether the threads should be together, given whether they are, the demand
 * and how long ago they last spread. Together, the loop needs no more than a CPU's share
 * beside the I/O thread, and the I/O thread does not wait for the CPU most of the time. */
bool mpx__placement_together(bool together, const mpx__demand *d, int64_t since_spread_ms);

/* Puts the calling thread and libzmq's I/O threads on the calling thread's CPU alone
 * (together) or on every allowed CPU. Returns 0 or a negative errno. */
int mpx__placement_move(mpx__placement *p, bool together);

/* Closes what p holds and frees it; *p becomes NULL. The threads stay where they are. */
void mpx__placement_free(mpx__placement **p);

#endif
