/*
 * errors.c — error names and messages, generated from MPX_ERRNO_MAP, and the per-thread detail
 * message behind mpx_last_error().
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

/* Per thread, like errno: a message is never overwritten by another thread's failure. */
static _Thread_local char last_error[512];

const char *mpx_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define MPX_ERR_MSG(name, num, msg)                                                                \
    case MPX_##name:                                                                               \
        return msg;
        MPX_ERRNO_MAP(MPX_ERR_MSG)
#undef MPX_ERR_MSG
    }
    return "unknown error";
}

const char *mpx_err_name(int code)
{
    switch (code) {
    case 0:
        return "MPX_OK";
#define MPX_ERR_NAME(name, num, msg)                                                               \
    case MPX_##name:                                                                               \
        return "MPX_" #name;
        MPX_ERRNO_MAP(MPX_ERR_NAME)
#undef MPX_ERR_NAME
    }
    return "MPX_EUNKNOWN";
}

bool mpx_err_is_remote(int code)
{
    return (code <= MPX_EKEY && code >= MPX_ETOOBIG) || code == MPX_EFULL || code == MPX_EEMPTY ||
           code == MPX_ENOTHELD || code == MPX_EBROKEN || code == MPX_EMEMLIMIT ||
           code == MPX_EATTR || code == MPX_EOVERFLOW || code == MPX_ETOOMANY ||
           code == MPX_EFENCED || code == MPX_ENOLEASE;
}

const char *mpx_last_error(void)
{
    return last_error;
}

int mpx__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int mpx__fail_remote(int code, const char *msg, size_t len)
{
    if (len >= sizeof last_error) len = sizeof last_error - 1;
    memcpy(last_error, msg, len);
    last_error[len] = '\0';
    return code;
}

void mpx__error_save(mpx__error_stash *s)
{
    memcpy(s->msg, last_error, sizeof s->msg);
}

void mpx__error_restore(const mpx__error_stash *s)
{
    memcpy(last_error, s->msg, sizeof last_error);
}
