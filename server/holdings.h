/*
 * holdings.h — what a session owns inside objects (a held lock, units of a session-aware
 * semaphore, a barrier it waits at), given back when the session ends (internal to mpxd).
 */
#ifndef MPX_SERVER_HOLDINGS_H
#define MPX_SERVER_HOLDINGS_H

#include "object.h"

/* Records that sess owns something in obj, holding obj alive; when the session ends, obj's
 * type gets session_lost(). Calls nest: each own needs one disown. */
void mpx__session_own(mpx__server *s, mpx__session *sess, mpx__obj *obj);
void mpx__session_disown(mpx__server *s, mpx__session *sess, mpx__obj *obj);
/* Undoes up to n owns at once (no more than sess has) and returns how many; the cost is bounded
 * by what it holds. */
uint64_t mpx__session_disown_n(mpx__server *s, mpx__session *sess, mpx__obj *obj, uint64_t n);

/* Whether sess owns anything at all. */
bool mpx__session_owns(const mpx__session *sess);

/* Gives back everything sess owned: each type's session_lost, then its wake. */
void mpx__holdings_give_back(mpx__server *s, mpx__session *sess);

#endif
