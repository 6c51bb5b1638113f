/*
 * refs.h — object references inside stored values (internal to mpxd).
 *
 * A reference is msgpack ext type 1 whose data is the object's id (8 bytes, big-endian) and
 * its type name (docs/protocol.md, "Object references"). A container that stores a value
 * holds every object the value references, for as long as it keeps the value: an anonymous
 * object lives while a container or a session refers to it. A reply that carries references
 * gives the session that reads it one reference to each, as attach would, for its proxies.
 */
#ifndef MPX_SERVER_REFS_H
#define MPX_SERVER_REFS_H

#include "registry.h"

#define MPX_REF_EXT MPX_REF_EXT_TYPE /* codec.h */
#define MPX_REF_TYPE_MAX 32          /* the longest type name a reference carries */

/* The registry references resolve in (the server sets it at start). */
void mpx__refs_init(mpx__registry *reg);

/* Checks the references in a value about to be stored: each must name a live object of the
 * type it says. Returns 0 with *n the number of references (n may be NULL), or fails req with
 * MPX_ENOOBJ or MPX_ETYPE (a malformed reference). Stores and holds nothing. */
int mpx__refs_check(mpx__req *req, const mpx__span *v, size_t *n);

/* The stored copy p[0..len) of a checked value holds every object it references; container
 * is marked as one that may hold references (its replies are then scanned). container is
 * NULL while the object is being created: the manager marks it once made. */
void mpx__refs_hold(mpx__obj *container, const uint8_t *p, size_t len);

/* Whether the well-formed value p[0..len) holds a reference (for a copy made later that must
 * hold it). */
bool mpx__refs_present(const uint8_t *p, size_t len);

/* Drops the holds of a stored copy that goes (removed, overwritten, its container freed).
 * Safe while mpxd stops, when the objects may already be gone. */
void mpx__refs_drop(const uint8_t *p, size_t len);

/* Gives sess one reference to each object a reply's result references. */
void mpx__refs_give(mpx__session *sess, const uint8_t *p, size_t len);

#endif
