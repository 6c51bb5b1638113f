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

/* A limit hit over and over (a flood of bad connections, clients refused at a limit) is
 * logged once per MPX_LOG_LIMIT_MS for each cause, with how many times it was hit meanwhile,
 * so that it cannot flood the log. One limiter per cause, zeroed at first. */
#define MPX_LOG_LIMIT_MS 10000

typedef struct {
    int64_t last_ms;     /* when it was last logged */
    uint64_t suppressed; /* hits since, not logged */
    bool logged;
    bool info; /* set at first: an info line (dropped by --quiet) rather than a warning */
} mpx__log_limiter;

/* A line for this cause, unless one was logged less than MPX_LOG_LIMIT_MS ago. */
void mpx__log_limited(mpx__log_limiter *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
