/*
 * heartbeat.c — keeping sessions alive, and a new session in a fork()ed child.
 *
 * Liveness. mpxd ends a session that stays silent past the timeout it announces in WELCOME,
 * and gives back what it held. One heartbeat thread per process keeps every client's session
 * alive: it sends a HEARTBEAT frame on any client that has sent nothing for a quarter of
 * its timeout, also while other threads are blocked in calls on it.
 *
 * Fork. The child of a fork() cannot use its parent's ZeroMQ context. A pthread_atfork handler
 * bumps a generation counter; the first call in the child sees it, abandons the inherited
 * context and socket without touching them, connects afresh with a new handshake, and
 * attaches every open proxy to the new session. The parent's session is untouched.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static atomic_uint fork_generation;
static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The inherited ZeroMQ contexts: unusable in the child and unsafe to free, but kept
 * reachable so leak checkers do not count them. */
static void *orphans[64];
static size_t n_orphans;

/* The heartbeat thread and the clients it serves. */
static pthread_mutex_t hb_mu = PTHREAD_MUTEX_INITIALIZER;
static mpx_client *hb_clients;
static bool hb_running; /* in this process: a fork leaves the thread behind */

static void on_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    fork_mu = fresh;
    hb_mu = fresh;
    hb_running = false;
    atomic_fetch_add(&fork_generation, 1);
}

static void fork_register(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

void mpx__fork_init(void)
{
    pthread_once(&fork_once, fork_register);
}

unsigned mpx__fork_gen(void)
{
    return atomic_load(&fork_generation);
}

/* ---- heartbeats --------------------------------------------------------------------------- */

static void *heartbeat_main(void *arg)
{
    (void)arg;
    for (;;) {
        int wait_ms = 1000;
        pthread_mutex_lock(&hb_mu);
        int64_t now = mpx__clock_ms();
        for (mpx_client *c = hb_clients; c; c = c->hb_next) {
            /* a child's inherited client is not ours until its first call */
            if (atomic_load(&c->fork_gen) == atomic_load(&fork_generation))
                mpx__heartbeat_send(c, now);
            int half = atomic_load(&c->heartbeat_ms) / 2;
            if (half < wait_ms) wait_ms = half;
        }
        pthread_mutex_unlock(&hb_mu);
        nanosleep(&(struct timespec){.tv_sec = wait_ms / 1000,
                                     .tv_nsec = (long)(wait_ms % 1000) * 1000000},
                  NULL);
    }
    return NULL;
}

/* Adds c to the heartbeat list (once) and starts this process's heartbeat thread if it has
 * none. The thread blocks every signal, so handlers run in the application's threads. */
void mpx__heartbeat_start(mpx_client *c)
{
    pthread_mutex_lock(&hb_mu);
    bool listed = false;
    for (mpx_client *i = hb_clients; i; i = i->hb_next)
        listed |= i == c;
    if (!listed) {
        c->hb_next = hb_clients;
        hb_clients = c;
    }
    if (!hb_running) {
        sigset_t all, old;
        pthread_t t;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        hb_running = pthread_create(&t, NULL, heartbeat_main, NULL) == 0;
        if (hb_running) pthread_detach(t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&hb_mu);
}

void mpx__heartbeat_stop(mpx_client *c)
{
    pthread_mutex_lock(&hb_mu);
    for (mpx_client **i = &hb_clients; *i; i = &(*i)->hb_next) {
        if (*i == c) {
            *i = c->hb_next;
            break;
        }
    }
    pthread_mutex_unlock(&hb_mu);
}

/* ---- after fork --------------------------------------------------------------------------- */

void mpx__client_disown_socket(mpx_client *c)
{
    pthread_mutex_lock(&fork_mu);
    if (n_orphans < sizeof orphans / sizeof *orphans) orphans[n_orphans++] = c->zctx;
    pthread_mutex_unlock(&fork_mu);
    c->zctx = c->sock = NULL;
}

static int reattach_proxies(mpx_client *c)
{
    int rc = 0;
    for (mpx_proxy *p = c->proxies; rc == 0 && p; p = p->next)
        rc = mpx__proxy_reattach(c, p);
    return rc;
}

int mpx__client_after_fork(mpx_client *c)
{
    pthread_mutex_lock(&fork_mu);
    unsigned gen = atomic_load(&fork_generation);
    if (atomic_load(&c->fork_gen) == gen) {
        pthread_mutex_unlock(&fork_mu);
        return 0;
    }
    if (n_orphans < sizeof orphans / sizeof *orphans) orphans[n_orphans++] = c->zctx;
    c->zctx = c->sock = NULL;
    close(c->wake_fd); /* the child's own copy; the parent's is untouched */
    c->wake_fd = -1;
    mpx__client_sync_init(c); /* a thread of the parent may have held them; none is here */
    c->reader = false;
    c->pending = c->pending_tail = NULL;
    c->settle = NULL;
    mpx__abandoned_clear(c); /* the parent's, for the parent to settle */
    mpx__batch_reset(c);     /* the parent's deferred calls: the parent sends them */
    atomic_store(&c->want, 0);
    atomic_store(&c->users, 0);
    atomic_store(&c->polling, false);
    c->broken = 0;
    int rc = mpx__session_open(c);
    /* Only now may the heartbeat thread and other calls use it: they check the generation. */
    atomic_store(&c->fork_gen, gen);
    if (rc == 0) {
        mpx__heartbeat_start(c);
        rc = reattach_proxies(c);
    }
    if (rc) {
        pthread_mutex_lock(&c->mu);
        mpx__client_break(c, rc, mpx_last_error());
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&fork_mu);
    return rc;
}
