/*
 * t_manager.h — what the manager offers the rest of mpxd: making an object as open() and
 * create() do, for recovery to replay (internal to mpxd).
 */
#ifndef MPX_SERVER_T_MANAGER_H
#define MPX_SERVER_T_MANAGER_H

#include "object.h"

/* Makes an object of type, named name[0..len) or anonymous (name NULL), from its creation
 * arguments (one msgpack array, or NULL for none), with the registry's next id, and logs it
 * (persist.h). Returns 0 with *out (no reference yet), or an error through mpx__req_fail(). */
int mpx__manager_make(mpx__req *req, const mpx__type *type, const char *name, size_t len,
                      const mpx__span *args, mpx__obj **out);

#endif
