/*
 * event.c — the Event proxy (t_event.c).
 */
#include "client.h"

static int event_check(mpx_proxy *e)
{
    return mpx__proxy_check(e, "event");
}

int mpx_event_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "event", NULL, out);
}

int mpx_event_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_event_open: no name");
    return mpx__proxy_open(c, name, "event", NULL, out);
}

int mpx_event_set(mpx_proxy *e)
{
    int rc = event_check(e);
    return rc ? rc : mpx__call_items(e, "set", NULL, 0, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_event_clear(mpx_proxy *e)
{
    int rc = event_check(e);
    return rc ? rc : mpx__call_items(e, "clear", NULL, 0, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_event_is_set(mpx_proxy *e, bool *out)
{
    int rc = event_check(e);
    return rc ? rc : mpx__call_bool(e, "is_set", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_event_wait(mpx_proxy *e, int wait_ms, bool *flag)
{
    mpx__wait w;
    int rc = event_check(e);
    if (rc == 0) rc = mpx__wait_make(e, wait_ms, &w);
    if (rc) return rc;
    const mpx_value *items[] = {w.timeout};
    rc = mpx__call_bool(e, "wait", items, 1, w.call_timeout, flag);
    mpx__wait_free(&w);
    return rc;
}
