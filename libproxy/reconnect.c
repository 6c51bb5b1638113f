/*
 * reconnect.c — a client whose connection or session was lost connects again by itself.
 *
 * The loss shows as the client breaking with MPX_ECONN: the server stopped answering, its
 * connection failed, or it answered that it has no session for us (it restarted, or ended the
 * session after a silence past its timeout, a long network cut). The calls waiting then fail
 * with MPX_ECONN: the program cannot know whether they ran. The next call reconnects, as the
 * first call in a fork()ed child does (heartbeat.c): a new socket, a new handshake, and every
 * open proxy attached to the new session. Attempts that fail are spaced out (100 ms, doubling
 * to 5 s); meanwhile calls fail at once with MPX_ECONN.
 *
 * The object ids a proxy holds are the server state's (WELCOME's "state"): when it is the same
 * after the reconnection (a server that keeps its objects, or one that did not restart), every
 * proxy whose object still exists keeps working; one whose object went with the old session
 * (an anonymous object no container kept) is stale and its calls fail with MPX_ENOOBJ. When
 * the state is new (a server that restarted empty), a proxy of a named object opens that name
 * again, and the others are stale.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 5000

/* The thread that is reconnecting a client: its own calls (attaching) go straight through. */
static _Thread_local bool reconnecting;

/* Opens a new session on a client whose connection was lost. Under mu. */
static int session_again(mpx_client *c)
{
    mpx__calls_fail_all(c, MPX_ECONN);
    mpx__abandoned_clear(c); /* their cancels went with the old session */
    mpx__session_close(c);
    int rc = mpx__session_open(c);
    if (rc == 0) {
        c->broken = 0;
        atomic_store(&c->lost, false);
        c->retry_ms = 0;
        atomic_fetch_add(&c->reconnects, 1);
        return 0;
    }
    char why[80];
    snprintf(why, sizeof why, "%s", mpx_last_error());
    c->retry_ms = c->retry_ms ? c->retry_ms * 2 : RETRY_FIRST_MS;
    if (c->retry_ms > RETRY_MAX_MS) c->retry_ms = RETRY_MAX_MS;
    c->retry_at_ms = mpx__clock_ms() + c->retry_ms;
    snprintf(c->broken_msg, sizeof c->broken_msg,
             "the connection was lost; reconnecting failed (%s), next attempt in %d ms", why,
             c->retry_ms);
    c->broken = MPX_ECONN;
    return mpx__fail(MPX_ECONN, "%s", c->broken_msg);
}

int mpx__client_reconnect(mpx_client *c)
{
    if (!atomic_load(&c->lost) || reconnecting || !atomic_load(&c->reconnect)) return 0;
    pthread_mutex_lock(&c->reconnect_mu);
    mpx__client_lock(c);
    int rc = 0;
    bool again = false;
    uint64_t state = c->state_id;
    if (c->broken != MPX_ECONN) {
        /* another thread reconnected meanwhile */
    } else if (mpx__clock_ms() < c->retry_at_ms) {
        rc = mpx__fail(MPX_ECONN, "%s", c->broken_msg);
    } else {
        rc = session_again(c);
        again = rc == 0;
    }
    mpx__client_unlock(c);
    reconnecting = true; /* the proxy list stays as it is: unlinking waits for reconnect_mu */
    for (mpx_proxy *p = c->proxies; again && rc == 0 && p; p = p->next)
        if (!p->stale)
            rc = state == c->state_id ? mpx__proxy_reattach(c, p) : mpx__proxy_reopen(c, p);
    reconnecting = false;
    pthread_mutex_unlock(&c->reconnect_mu);
    return rc;
}

int mpx_client_set_reconnect(mpx_client *c, bool on)
{
    if (!mpx__client_ok(c)) return mpx__fail(MPX_EINVAL, "not a client handle");
    atomic_store(&c->reconnect, on);
    return 0;
}

int mpx_client_state(mpx_client *c, mpx_conn_state *state, uint64_t *reconnects)
{
    if (!mpx__client_ok(c) || !state) return mpx__fail(MPX_EINVAL, "a client and a state");
    mpx__client_lock(c);
    *state = !c->broken                                             ? MPX_CONN_UP
             : c->broken == MPX_ECONN && atomic_load(&c->reconnect) ? MPX_CONN_RECONNECTING
                                                                    : MPX_CONN_DOWN;
    mpx__client_unlock(c);
    if (reconnects) *reconnects = atomic_load(&c->reconnects);
    return 0;
}
