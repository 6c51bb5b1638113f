/*
 * cpu.c — the one check of a CPU number that mpxd's --cpu and the client's place_io share.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "internal.h"

bool mpx__cpu_usable(int cpu)
{
    cpu_set_t allowed;
    return cpu >= 0 && cpu < CPU_SETSIZE && sched_getaffinity(0, sizeof allowed, &allowed) == 0 &&
           CPU_ISSET(cpu, &allowed);
}
