/*
 * log.c — log lines on stderr, and the monotonic clock every deadline in mpxd is measured on.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static bool quiet;

int64_t mpx__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mpx__log_quiet(bool q)
{
    quiet = q;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
    fprintf(stderr, "%s mpxd %s: ", stamp, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void mpx__log_info(const char *fmt, ...)
{
    if (quiet) return;
    va_list ap;
    va_start(ap, fmt);
    log_line("info", fmt, ap);
    va_end(ap);
}

void mpx__log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("warn", fmt, ap);
    va_end(ap);
}

void mpx__log_limited(mpx__log_limiter *l, const char *fmt, ...)
{
    int64_t now = mpx__now_ms();
    if (l->logged && now - l->last_ms < MPX_LOG_LIMIT_MS) {
        l->suppressed++;
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    void (*log)(const char *, ...) = l->info ? mpx__log_info : mpx__log_warn;
    if (l->suppressed)
        log("%s (and %llu more times since the last such line)", line,
            (unsigned long long)l->suppressed);
    else
        log("%s", line);
    l->last_ms = now;
    l->suppressed = 0;
    l->logged = true;
}
