/*
 * log.h — mpxd's log lines and its clock (internal to mpxd).
 */
#ifndef MPX_SERVER_LOG_H
#define MPX_SERVER_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t mpx__now_ms(void);

/* With quiet set, info lines are dropped; warnings always go out. */
void mpx__log_quiet(bool quiet);

/* One line on stderr with a timestamp and the level. */
void mpx__log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mpx__log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
