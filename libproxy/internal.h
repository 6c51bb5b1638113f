/*
 * internal.h — declarations shared by libmpx's own files (internal; not installed).
 */
#ifndef MPX_INTERNAL_H
#define MPX_INTERNAL_H

#include <stdarg.h>

#include <msgpack.h>

#include "mpx.h"

/* Records code and a formatted message as the calling thread's last error; returns code. */
int mpx__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a remote error: the message the server sent, kept as it came. */
int mpx__fail_remote(int code, const char *msg, size_t len);

/* Packs a value with msgpack-c. Returns 0 or MPX_ENOMEM. */
int mpx__value_pack(msgpack_packer *pk, const mpx_value *v);

/* Whether this process may run on cpu (mpxd's --cpu, mpx_connect_opts' io_cpu). */
bool mpx__cpu_usable(int cpu);

#endif
