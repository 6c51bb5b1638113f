/*
 * t_lock.h — what a Condition needs of its Lock or RLock (t_lock.c; internal to mpxd).
 */
#ifndef MPX_SERVER_T_LOCK_H
#define MPX_SERVER_T_LOCK_H

#include "blocked.h"

bool mpx__is_lock(const mpx__obj *obj);
bool mpx__lock_held(const mpx__obj *obj, const mpx__session *sess, uint64_t thread);
/* Frees the lock whatever its depth; returns the depth it had. */
uint64_t mpx__lock_release_all(mpx__server *s, mpx__obj *obj);
mpx__waitq *mpx__lock_waiters(mpx__obj *obj);
/* Makes sess/thread the holder at depth (a new holder: the fencing token grows). */
void mpx__lock_grant(mpx__server *s, mpx__obj *obj, mpx__session *sess, uint64_t thread,
                     uint64_t depth);
/* Whether the lock's last holder's session ended holding it (told to the next holder). */
bool mpx__lock_owner_died(const mpx__obj *obj);
/* The last fencing token the lock handed out (0: none yet in this run). */
uint64_t mpx__lock_fence(const mpx__obj *obj);
/* Hands a free lock to its oldest waiter (not inside a handler). */
void mpx__lock_wake(mpx__server *s, mpx__obj *obj);

#endif
