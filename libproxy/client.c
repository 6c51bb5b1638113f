/*
 * client.c — the public client functions: connecting (with options that can grow), the
 * client's lifetime, and its settings and simple calls.
 *
 * Lifetime. The caller's handle, every proxy and every future hold a reference to the client's
 * memory. mpx_client_free() ends the session at once (its calls in flight and all later calls
 * return MPX_ECLOSED) but the memory stays until the last proxy or future is freed, so none of
 * them can ever read freed memory, whatever the order of freeing.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define CLIENT_TAG 0x6d707863u /* "mpxc" */

bool mpx__client_ok(const mpx_client *c)
{
    return c && c->tag == CLIENT_TAG;
}

void mpx__client_hold(mpx_client *c)
{
    atomic_fetch_add(&c->refs, 1);
}

static void client_destroy(mpx_client *c)
{
    mpx__session_close(c);
    mpx__abandoned_clear(c);
    mpx__wbuf_free(&c->batch);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->done_mu);
    pthread_mutex_destroy(&c->reconnect_mu);
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->turn);
    if (c->authkey) {
        sodium_memzero(c->authkey, c->keylen);
        free(c->authkey);
    }
    free(c->endpoint);
    free(c->zmq_endpoint);
    c->tag = MPX_DEAD_TAG;
    free(c);
}

void mpx__client_release(mpx_client *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) client_destroy(c);
}

void mpx__client_sync_init(mpx_client *c)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->done_mu, NULL);
    pthread_mutex_init(&c->reconnect_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_cond_init(&c->turn, &ca);
    pthread_condattr_destroy(&ca);
}

/* The options every connect function comes down to, after they are checked. */
typedef struct {
    const void *authkey;
    size_t keylen;
    int connect_timeout_ms;
    int call_timeout_ms;
    int io_cpu;
    bool reconnect;
} connect_args;

static int client_connect(const char *endpoint, const connect_args *a, mpx_client **out)
{
    if (!endpoint || !a->authkey || a->keylen == 0 || a->keylen > MPX__KEY_MAX || !out)
        return mpx__fail(MPX_EINVAL,
                         "mpx_connect: an endpoint, an authkey of 1 to %d bytes and "
                         "out are required",
                         MPX__KEY_MAX);
    if (sodium_init() < 0) return mpx__fail(MPX_ESYS, "libsodium failed to initialise");
    mpx__fork_init();
    mpx__refs_init();
    char *zmq_ep = NULL;
    int rc = mpx__endpoint_check(endpoint, a->connect_timeout_ms, &zmq_ep);
    if (rc) return rc;
    mpx_client *c = calloc(1, sizeof *c);
    if (!c) {
        free(zmq_ep);
        return mpx__fail(MPX_ENOMEM, "mpx_connect: out of memory");
    }
    c->tag = CLIENT_TAG;
    atomic_init(&c->refs, 1);
    c->wake_fd = -1;
    c->io_cpu = a->io_cpu;
    c->connect_timeout_ms = a->connect_timeout_ms;
    atomic_init(&c->timeout_ms, a->call_timeout_ms);
    atomic_init(&c->fork_gen, mpx__fork_gen());
    atomic_init(&c->next_req, 1);
    atomic_init(&c->reconnect, a->reconnect);
    mpx__wbuf_init(&c->batch, MPX_HDR_LEN);
    mpx__batch_reset(c);
    mpx__client_sync_init(c);
    c->zmq_endpoint = zmq_ep;
    c->endpoint = strdup(endpoint);
    c->authkey = malloc(a->keylen);
    c->keylen = a->keylen;
    if (!c->endpoint || !c->authkey) {
        client_destroy(c);
        return mpx__fail(MPX_ENOMEM, "mpx_connect: out of memory");
    }
    memcpy(c->authkey, a->authkey, a->keylen);
    rc = mpx__session_open(c);
    if (rc) {
        mpx__error_stash why;
        mpx__error_save(&why);
        client_destroy(c);
        mpx__error_restore(&why);
        return rc;
    }
    mpx__heartbeat_start(c);
    *out = c;
    return 0;
}

int mpx_connect(const char *endpoint, const void *authkey, size_t keylen, mpx_client **out)
{
    connect_args a = {.authkey = authkey,
                      .keylen = keylen,
                      .connect_timeout_ms = MPX_DEFAULT_CONNECT_TIMEOUT_MS,
                      .call_timeout_ms = MPX_DEFAULT_TIMEOUT_MS,
                      .io_cpu = -1,
                      .reconnect = true};
    return client_connect(endpoint, &a, out);
}

/* Connects with the key read from a file, then wipes the key's copy on the stack. */
static int connect_keyfile(const char *endpoint, const char *keyfile, connect_args *a,
                           mpx_client **out)
{
    uint8_t key[MPX__KEY_MAX + 1];
    char err[320];
    size_t n = 0;
    if (!keyfile) return mpx__fail(MPX_EINVAL, "mpx_connect_keyfile: no key file");
    int rc = mpx__keyfile_read(keyfile, key, &n, NULL, err, sizeof err);
    if (rc) return mpx__fail(rc, "%s", err);
    a->authkey = key;
    a->keylen = n;
    rc = client_connect(endpoint, a, out);
    sodium_memzero(key, sizeof key);
    return rc;
}

int mpx_connect_keyfile(const char *endpoint, const char *keyfile, mpx_client **out)
{
    connect_args a = {.connect_timeout_ms = MPX_DEFAULT_CONNECT_TIMEOUT_MS,
                      .call_timeout_ms = MPX_DEFAULT_TIMEOUT_MS,
                      .io_cpu = -1,
                      .reconnect = true};
    return connect_keyfile(endpoint, keyfile, &a, out);
}

int mpx_connect_opts(const char *endpoint, const mpx_connect_options *opts, mpx_client **out)
{
    if (!opts) return mpx__fail(MPX_EINVAL, "mpx_connect_opts: no options");
    if (opts->size < offsetof(mpx_connect_options, connect_timeout_ms))
        return mpx__fail(MPX_EINVAL, "mpx_connect_opts: set the options' size with "
                                     "MPX_CONNECT_OPTIONS_INIT");
    /* Fields past what the caller's header had are left at zero: their defaults. */
    mpx_connect_options o = {0};
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    if (!o.authkey == !o.keyfile)
        return mpx__fail(MPX_EINVAL, "mpx_connect_opts: set one of authkey and keyfile");
    if (o.place_io && !mpx__cpu_usable(o.io_cpu))
        return mpx__fail(MPX_EINVAL, "mpx_connect_opts: this process may not run on CPU %d",
                         o.io_cpu);
    if (o.connect_timeout_ms < 0 || o.call_timeout_ms < 0)
        return mpx__fail(MPX_EINVAL, "mpx_connect_opts: timeouts are 0 (the default) or more");
    connect_args a = {.authkey = o.authkey,
                      .keylen = o.keylen,
                      .connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms
                                                                 : MPX_DEFAULT_CONNECT_TIMEOUT_MS,
                      .call_timeout_ms =
                          o.call_timeout_ms ? o.call_timeout_ms : MPX_DEFAULT_TIMEOUT_MS,
                      .io_cpu = o.place_io ? o.io_cpu : -1,
                      .reconnect = !o.no_reconnect};
    if (o.keyfile) return connect_keyfile(endpoint, o.keyfile, &a, out);
    return client_connect(endpoint, &a, out);
}

/* ---- the client's proxies ----------------------------------------------------------------- */

void mpx__client_link(mpx_client *c, mpx_proxy *p)
{
    mpx__client_hold(c);
    mpx__client_lock(c); /* the reader may hold mu while it polls */
    p->prev = NULL;
    p->next = c->proxies;
    if (c->proxies) c->proxies->prev = p;
    c->proxies = p;
    mpx__client_unlock(c);
}

void mpx__client_unlink(mpx_client *c, mpx_proxy *p)
{
    pthread_mutex_lock(&c->reconnect_mu); /* a reconnection walks the list */
    mpx__client_lock(c);
    if (p->prev)
        p->prev->next = p->next;
    else
        c->proxies = p->next;
    if (p->next) p->next->prev = p->prev;
    mpx__client_unlock(c);
    pthread_mutex_unlock(&c->reconnect_mu);
    mpx__client_release(c);
}

/* ---- freeing ------------------------------------------------------------------------------ */

/* How long mpx_client_free() waits for the answers to cancels still out, so that an item that
 * crossed one goes back to its queue before the session ends. */
#define SETTLE_MS 2000

/* Ends the session: buffered calls go out, then a BYE; the socket is closed and every call
 * still waiting, and every later one, returns MPX_ECLOSED. */
static void client_close(mpx_client *c)
{
    uint8_t frame[MPX_HDR_LEN];
    mpx__client_lock(c);
    mpx__batch_flush(c); /* deferred calls still run, as those already sent do */
    if (!c->broken) {
        mpx__frame_header(frame, MPX_K_BYE);
        zmq_send(c->sock, frame, sizeof frame, ZMQ_DONTWAIT);
    }
    atomic_store(&c->closed, true);
    c->broken = 0;
    mpx__client_break(c, MPX_ECLOSED, "the client was freed");
    c->pending = c->pending_tail = NULL; /* their waits now return MPX_ECLOSED */
    mpx__session_close(c);
    pthread_cond_broadcast(&c->turn);
    mpx__client_unlock(c);
}

void mpx_client_free(mpx_client **cp)
{
    if (!cp || !mpx__client_ok(*cp)) return;
    mpx__error_stash stash;
    mpx__error_save(&stash);
    mpx_client *c = *cp;
    *cp = NULL;
    mpx__heartbeat_stop(c);
    if (atomic_load(&c->fork_gen) != mpx__fork_gen()) {
        /* A forked child that never used this client: the inherited socket is not ours. */
        mpx__client_disown_socket(c);
        atomic_store(&c->closed, true);
    } else {
        if (c->abandoned) mpx__call_settle(c, mpx__clock_ms() + SETTLE_MS);
        client_close(c);
    }
    mpx__client_release(c);
    mpx__error_restore(&stash);
}

/* ---- settings and simple calls ------------------------------------------------------------ */

int mpx_ping(mpx_client *c)
{
    return mpx__invoke(c, 0, NULL, "ping", NULL, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_server_stats(mpx_client *c, mpx_value **out)
{
    mpx__result res;
    if (!out) return mpx__fail(MPX_EINVAL, "mpx_server_stats: no out argument");
    int rc = mpx__invoke(c, 0, NULL, "stats", NULL, MPX_TIMEOUT_DEFAULT, &res);
    if (rc == 0) {
        rc = mpx__result_value(&res, out);
        mpx__result_close(&res);
    }
    return rc;
}

int mpx__client_timeout(mpx_client *c)
{
    return atomic_load(&c->timeout_ms);
}

int mpx_client_set_timeout(mpx_client *c, int timeout_ms)
{
    if (!mpx__client_ok(c) || timeout_ms <= 0)
        return mpx__fail(MPX_EINVAL, "mpx_client_set_timeout: bad client or timeout");
    atomic_store(&c->timeout_ms, timeout_ms);
    return 0;
}

const char *mpx_client_endpoint(const mpx_client *c)
{
    return mpx__client_ok(c) ? c->endpoint : NULL;
}

int mpx_client_flush(mpx_client *c)
{
    if (!mpx__client_ok(c)) return mpx__fail(MPX_EINVAL, "not a client handle");
    if (atomic_load(&c->closed)) return mpx__fail(MPX_ECLOSED, "the client was freed");
    if (atomic_load(&c->fork_gen) != mpx__fork_gen()) return 0; /* nothing of ours buffered */
    mpx__client_lock(c);
    int rc = mpx__batch_flush(c);
    mpx__client_unlock(c);
    return rc;
}
