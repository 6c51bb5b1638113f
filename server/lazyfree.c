/*
 * lazyfree.c — state handed over by a type's destroy or clear, freed a budget at a time by the
 * loop (lazyfree.h). Redis frees large values on a background thread; mpxd's objects belong to
 * the loop's one thread, so the loop frees them itself, a slice each turn, between calls.
 */
#include "lazyfree.h"

#include <stdint.h>

#include "alloc.h"

typedef struct job {
    mpx__free_step step;
    void *state;
    struct job *next;
} job;

static job *head, *tail;

void mpx__lazyfree(mpx__free_step step, void *state)
{
    job *j = mpx__xmalloc(sizeof *j);
    *j = (job){.step = step, .state = state};
    *(tail ? &tail->next : &head) = j;
    tail = j;
}

bool mpx__lazyfree_pending(void)
{
    return head != NULL;
}

void mpx__lazyfree_run(size_t budget)
{
    if (head && head->step(head->state, budget)) {
        job *done = head;
        head = head->next;
        if (!head) tail = NULL;
        mpx__xfree(done);
    }
}

void mpx__lazyfree_finish(void)
{
    while (head)
        mpx__lazyfree_run(SIZE_MAX);
}
