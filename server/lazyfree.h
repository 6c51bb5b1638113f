/*
 * lazyfree.h — freeing large objects a slice at a time, between the loop's calls (internal to
 * mpxd), so that dropping a dict of millions of pairs never stalls every client for as long as
 * freeing it takes.
 */
#ifndef MPX_SERVER_LAZYFREE_H
#define MPX_SERVER_LAZYFREE_H

#include <stdbool.h>
#include <stddef.h>

/* Frees up to `budget` units (items, pairs) of state; returns true once nothing is left (state
 * itself freed). */
typedef bool (*mpx__free_step)(void *state, size_t budget);

/* Takes ownership of state: step() frees it over the loop's next turns. */
void mpx__lazyfree(mpx__free_step step, void *state);

/* Whether some state is still waiting to be freed. */
bool mpx__lazyfree_pending(void);

/* Frees up to budget units of the waiting state (the loop, once a turn). */
void mpx__lazyfree_run(size_t budget);

/* Frees everything still waiting (mpxd stopping). */
void mpx__lazyfree_finish(void);

#endif
