/*
 * registry.h — every object mpxd holds: by id, by name, and the references each session holds
 * (internal to mpxd).
 *
 * Ids start at 1 and are never reused; id 0 is the manager, whose type the loop hands over at
 * start (t_manager.c). A named object lives until it is deleted; an anonymous one lives while
 * some session, parked call or owner holds a reference to it. A deleted object is a tombstone
 * until its last reference goes: not found by id or name, its state freed (unless its type
 * keeps it: a lock a condition still uses). A reference count that would go below zero is a
 * bug, and mpxd panics.
 */
#ifndef MPX_SERVER_REGISTRY_H
#define MPX_SERVER_REGISTRY_H

#include <stdint.h>

#include "object.h"

typedef struct mpx__objent mpx__objent;

typedef struct {
    mpx__objent *by_id;
    mpx__objent *by_name;
    uint64_t next_id;
    uint64_t n_objects; /* tombstones included */
    uint64_t n_deleted; /* tombstones */
    uint64_t by_type[MPX__N_TYPES];
    mpx__objent *garbage; /* anonymous objects whose last reference went */
    mpx__obj manager;     /* object 0 */
} mpx__registry;

/* A session's references: object id -> how many proxies it holds. */
typedef struct mpx__ref mpx__ref;

void mpx__registry_init(mpx__registry *r, const mpx__type *manager);
/* Destroys every object. */
void mpx__registry_close(mpx__registry *r);

/* The object with this id (0 is the manager), or NULL. Borrowed; valid until the object's
 * last reference goes, which cannot happen while a request on it runs. */
mpx__obj *mpx__registry_find(mpx__registry *r, uint64_t id);

/* As mpx__registry_find(), deleted objects included (what a session still owns in one). */
mpx__obj *mpx__registry_find_any(mpx__registry *r, uint64_t id);

/* The object named name[0..len), or NULL. Borrowed, likewise. */
mpx__obj *mpx__registry_find_name(mpx__registry *r, const char *name, size_t len);

/* Adds an object of the given type with its state (owned by the object from now), named
 * name[0..len) or anonymous when name is NULL, and returns it with no reference yet. */
mpx__obj *mpx__registry_add(mpx__registry *r, const mpx__type *type, const char *name, size_t len,
                            void *state);

/* One more reference to obj held by a session (in *refs). */
void mpx__registry_ref(mpx__ref **refs, mpx__obj *obj);
/* Drops one of the session's references to object id. Returns 0, or MPX_ENOOBJ if it holds
 * none. */
int mpx__registry_unref(mpx__registry *r, mpx__ref **refs, uint64_t id);
/* How many objects a set of references (a session's) holds. */
size_t mpx__registry_refs_count(mpx__ref *refs);

/* Drops every reference in *refs and frees the list; anonymous objects left with none are
 * destroyed at the next mpx__registry_collect(). */
void mpx__registry_drop_refs(mpx__registry *r, mpx__ref **refs);

/* One more / one less reference that belongs to no session (a parked call's, an owner's). */
void mpx__registry_hold(mpx__obj *obj);
void mpx__registry_unhold(mpx__registry *r, mpx__obj *obj);
/* As mpx__registry_unhold(), by id: safe when the object may already be gone (shutdown). */
void mpx__registry_unhold_id(mpx__registry *r, uint64_t id);

/* Deletes obj: its name is free at once, it is found no more, and it goes with its last
 * reference. Its state stays until mpx__registry_drop_state(), once the calls parked on it are
 * answered. */
void mpx__registry_delete(mpx__registry *r, mpx__obj *obj);

/* Frees a deleted object's state now, unless its type keeps it to the end. */
void mpx__registry_drop_state(mpx__obj *obj);

/* Walks the objects a batch at a time, as Redis's SCAN walks its keys: calls fn on the objects
 * of the next buckets from cursor (0 to begin), about count of them, visiting at most 10 x
 * count buckets, and returns the next cursor, 0 once the walk is done. Every object present
 * for the whole walk is visited at least once; one added or deleted meanwhile may or may not
 * be. */
uint64_t mpx__registry_scan(mpx__registry *r, uint64_t cursor, size_t count,
                            void (*fn)(mpx__obj *obj, void *arg), void *arg);

/* Calls fn on every object in the order they were made (ids ascending), deleted ones still
 * referenced included, those about to be collected not: what a snapshot holds. */
void mpx__registry_each(mpx__registry *r, void (*fn)(mpx__obj *obj, bool deleted, void *arg),
                        void *arg);

/* Destroys the anonymous objects left with no reference. The loop calls it between requests,
 * never while a type is in the middle of waking its waiters. */
void mpx__registry_collect(mpx__registry *r);

#endif
