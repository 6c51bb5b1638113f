/*
 * loop.c — mpxd's event loop: one thread and one ROUTER socket bound to every endpoint. The
 * loop waits inside libzmq's own receive, with ZMQ_RCVTIMEO set to the next deadline: a call
 * then costs one poll() in libzmq, where polling ZMQ_FD beside other descriptors cost three.
 * SIGINT, SIGTERM and SIGHUP interrupt that wait, and so does the log writer's SIGUSR1 when
 * changes that held replies wait for are on disk (persist.c); the lifeline and the connection
 * events are looked at between calls, at least every STOP_CHECK_MS. Each turn hands the
 * turn's log records to the writer (--data-dir). Nothing in here waits but the
 * receive; large objects being freed get a slice of each turn (lazyfree.h).
 *
 * Liveness needs care after a stall (a long call, the machine swapping): heartbeats that
 * arrived meanwhile are still queued, unread. So before ending silent sessions the loop reads
 * everything queued, and a session is ended only when the loop has been responsive for the
 * whole timeout and heard nothing from it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "blocked.h"
#include "internal.h"
#include "lazyfree.h"
#include "loop.h"
#include "refs.h"
#include "monitor.h"
#include "persist.h"
#include "placement.h"
#include "session.h"
#include "zap.h"

#define STOP_CHECK_MS 100     /* the lifeline and connection events are looked at this often */
#define STALL_MS 250          /* a turn this much longer than its wait was a stall */
#define LAZYFREE_BUDGET 16384 /* items freed a turn while large objects are being freed */
#define DRAIN_MAX 100000      /* frames read at once before sessions are expired */

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* Gives the router the server key pair of authkey, and starts the ZAP handler that admits
 * the client key pair's public key. */
static int set_keys(mpx__server *s, const uint8_t *key, size_t len)
{
    mpx__curve_keys_t k;
    mpx__curve_keys(key, len, &k);
    int rc = zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, k.server_secret, 32);
    if (rc == 0) rc = zmq_setsockopt(s->router, ZMQ_CURVE_PUBLICKEY, k.server_public, 32);
    if (rc == 0 && !(s->zap = mpx__zap_start(s->zctx, k.client_public))) rc = -1;
    mpx__curve_keys_clear(&k);
    return rc;
}

static int router_open(mpx__server *s, const uint8_t *key, size_t len)
{
    s->router = s->zctx ? zmq_socket(s->zctx, ZMQ_ROUTER) : NULL;
    if (!s->router) {
        mpx__log_warn("cannot create the ZeroMQ socket: %s", zmq_strerror(errno));
        return -1;
    }
    int64_t ceiling = (int64_t)mpx__max_frame(&s->cfg);
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &ceiling, sizeof ceiling);
    set_int(s->router, ZMQ_LINGER, 0);
    /* Replies queued for one peer that does not read them: past this, a send fails and its
     * session is ended (reply.c), so a reader that stopped holds at most this many. */
    set_int(s->router, ZMQ_SNDHWM, (int)s->cfg.max_queued_replies);
    set_int(s->router, ZMQ_RCVHWM, 100000);
    set_int(s->router, ZMQ_IPV6, 1);
    set_int(s->router, ZMQ_ROUTER_MANDATORY, 1); /* a send to a peer that is gone fails */
    /* CURVE on every connection: libzmq closes one whose handshake is not done in time, or
     * whose key the ZAP handler refuses, before any frame of it reaches the loop. */
    set_int(s->router, ZMQ_CURVE_SERVER, 1);
    set_int(s->router, ZMQ_HANDSHAKE_IVL, s->cfg.handshake_timeout_ms);
    zmq_setsockopt(s->router, ZMQ_ZAP_DOMAIN, "mpx", 3);
    if (set_keys(s, key, len) != 0) {
        mpx__log_warn("cannot set up CURVE security: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int mpx__server_open(mpx__server *s, const mpx__config *cfg, const uint8_t *key, size_t keylen,
                     char *const *endpoints, int n)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    msgpack_packer_init(&s->pk, &s->out, mpx__buf_write);
    mpx__registry_init(&s->reg, &mpx__type_manager);
    mpx__refs_init(&s->reg);
    s->zctx = zmq_ctx_new();
    int rc = s->zctx ? mpx__placement_open(&s->place, s->zctx, cfg->cpu) : 0;
    if (rc != 0) {
        if (cfg->cpu >= 0)
            mpx__log_warn("cannot run on CPU %d: %s", cfg->cpu, strerror(-rc));
        else
            mpx__log_warn("cannot set up thread placement: %s", strerror(-rc));
        return -1;
    }
    randombytes_buf(&s->instance, sizeof s->instance);
    /* the state is whole before the first client can connect */
    if (cfg->data_dir && mpx__persist_open(s) != 0) return -1;
    if (router_open(s, key, keylen) != 0) return -1;
    s->monitor = mpx__monitor_open(s->zctx, s->router);
    for (int i = 0; i < n; i++) {
        if (zmq_bind(s->router, endpoints[i]) != 0) {
            mpx__log_warn("cannot bind %s: %s", endpoints[i], zmq_strerror(errno));
            return -1;
        }
        mpx__log_info("serving %s", endpoints[i]);
    }
    return 0;
}

static mpx__monitor_counts monitor_counts(mpx__server *s)
{
    return (mpx__monitor_counts){&s->stats.auth_failures, &s->stats.handshakes_unfinished,
                                 &s->stats.accept_failures};
}

/* Reads the next part of a message whose first part has come: the rest is there already, so a
 * signal that interrupts the read (the log writer's wake-up, persist.c) is no reason to lose
 * it. */
static int recv_part(zmq_msg_t *m, void *sock)
{
    int rc;
    while ((rc = zmq_msg_recv(m, sock, 0)) < 0 && errno == EINTR)
        ;
    return rc;
}

/* Reads one message (routing id, then the frame) and hands it to its session: waiting for it
 * as long as the router's ZMQ_RCVTIMEO, or not at all with ZMQ_DONTWAIT. Returns false when
 * none came. */
static bool handle_one(mpx__server *s, int flags)
{
    zmq_msg_t rid, frame;
    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, s->router, flags) < 0) {
        zmq_msg_close(&rid);
        return false;
    }
    zmq_msg_init(&frame);
    int parts = 1;
    bool more = zmq_msg_more(&rid);
    while (more && recv_part(&frame, s->router) >= 0) {
        parts++;
        more = zmq_msg_more(&frame);
        if (more) /* only the last part is kept; a request has exactly one */
            zmq_msg_close(&frame), zmq_msg_init(&frame);
    }
    const uint8_t *data = zmq_msg_data(&frame);
    size_t len = zmq_msg_size(&frame);
    const char *peer = NULL;
    if (len > 1 && data[1] == MPX_K_HELLO) {
        if (mpx__monitor_drain(s->monitor, monitor_counts(s))) s->probe_wanted = true;
        peer = zmq_msg_gets(&frame, "Peer-Address");
    }
    mpx__session_input(s, zmq_msg_data(&rid), zmq_msg_size(&rid), data, len, parts - 1,
                       peer && *peer ? peer : "a local peer");
    zmq_msg_close(&frame);
    zmq_msg_close(&rid);
    mpx__sessions_reap(s);
    return true;
}

static volatile sig_atomic_t stop_signal; /* the SIGINT or SIGTERM that arrived, or 0 */
static volatile sig_atomic_t hup_signal;

static void record_signal(int signo)
{
    if (signo == SIGHUP)
        hup_signal = 1;
    else
        stop_signal = signo;
}

int mpx__signals_install(void)
{
    /* No SA_RESTART: the receive the loop waits in must return with EINTR. libzmq's own
     * threads block every signal, so the loop's thread is the one interrupted. */
    struct sigaction sa = {.sa_handler = record_signal};
    sigemptyset(&sa.sa_mask);
    signal(SIGPIPE, SIG_IGN);
    return sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0 &&
                   sigaction(SIGHUP, &sa, NULL) == 0
               ? 0
               : -1;
}

/* SIGHUP: the authkey is not re-read. libzmq's listeners copy the CURVE keys when they bind,
 * and closing a listener closes every connection it accepted, so a new key takes a restart
 * (docs/operating.md, "Key rotation"); the signal is only logged. */
static void refuse_reload(void)
{
    mpx__log_warn("SIGHUP: the authkey is not re-read; a new key takes a restart of mpxd "
                  "(docs/operating.md, \"Key rotation\")");
}

/* Keeps the loop and libzmq's I/O thread together or apart as the loop's demand asks
 * (placement.c, --cpu auto); if moving them fails, they are left to the kernel from then on. */
static void placement_adjust(mpx__server *s)
{
    int rc = s->place ? mpx__placement_adjust(s->place) : 0;
    if (rc < 0)
        mpx__log_warn("cannot place the loop and libzmq's I/O thread (%s): leaving them to the "
                      "kernel",
                      strerror(-rc));
}

/* Whether the lifeline reports that every process holding its other end is gone, without
 * waiting. */
static bool lifeline_gone(int lifeline_fd)
{
    struct pollfd fd = {.fd = lifeline_fd, .events = POLLIN};
    return lifeline_fd >= 0 && poll(&fd, 1, 0) > 0 && (fd.revents & (POLLIN | POLLERR | POLLHUP));
}

/* Reads every frame already queued, without waiting. */
static void drain_input(mpx__server *s)
{
    for (int i = 0; i < DRAIN_MAX && handle_one(s, ZMQ_DONTWAIT); i++)
        ;
}

/* What the loop does every STOP_CHECK_MS: the lifeline, and probing for peers that left.
 * Returns false when mpxd must stop. */
static bool periodic_checks(mpx__server *s, int lifeline_fd)
{
    if (mpx__monitor_drain(s->monitor, monitor_counts(s))) s->probe_wanted = true;
    if (s->probe_wanted) {
        s->probe_wanted = false;
        mpx__sessions_probe(s);
    }
    if (lifeline_gone(lifeline_fd)) {
        mpx__log_info("the processes that started mpxd are gone, stopping");
        return false;
    }
    return true;
}

int mpx__server_run(mpx__server *s, int lifeline_fd)
{
    int64_t now = mpx__now_ms(), last_sweep = now, last_check = now, last_place = now;
    int64_t turn_start = now, responsive_since = now;
    /* Sweep often enough that a session ends within a quarter timeout of going silent. */
    int sweep_ms = s->cfg.session_timeout_ms / 4;
    sweep_ms = sweep_ms < 50 ? 50 : sweep_ms > 1000 ? 1000 : sweep_ms;
    int wait_cap = sweep_ms < STOP_CHECK_MS ? sweep_ms : STOP_CHECK_MS;
    int timeout_set = -2; /* the router's ZMQ_RCVTIMEO */
    while (!stop_signal) {
        now = mpx__now_ms();
        if (now - turn_start > wait_cap + STALL_MS) responsive_since = now;
        turn_start = now;
        if (hup_signal) {
            hup_signal = 0;
            refuse_reload();
        }
        mpx__blocked_expire(s, now);
        mpx__sessions_reap(s);
        mpx__registry_collect(&s->reg);
        if (mpx__lazyfree_pending()) mpx__lazyfree_run(LAZYFREE_BUDGET);
        if (now - last_sweep >= sweep_ms) {
            drain_input(s); /* heartbeats that queued up count before silence is judged */
            mpx__sessions_expire(s, mpx__now_ms(), responsive_since);
            last_sweep = now;
        }
        if (now - last_place >= MPX_PLACEMENT_MS) {
            placement_adjust(s);
            last_place = now;
        }
        if (now - last_check >= STOP_CHECK_MS) {
            if (!periodic_checks(s, lifeline_fd)) return 0;
            last_check = now;
        }
        /* A signal that lands between the test above and the wait below is seen when the
         * wait ends, within STOP_CHECK_MS. */
        int wait_ms = mpx__lazyfree_pending() ? 0 : mpx__blocked_next_ms(s, now, wait_cap);
        wait_ms = mpx__persist_turn(s, wait_ms);
        if (wait_ms != timeout_set) {
            if (set_int(s->router, ZMQ_RCVTIMEO, wait_ms) != 0) {
                mpx__log_warn("cannot set the receive timeout: %s", zmq_strerror(errno));
                return -1;
            }
            timeout_set = wait_ms;
        }
        handle_one(s, 0);
    }
    mpx__log_info("%s received, stopping", strsignal(stop_signal));
    return 0;
}

void mpx__server_close(mpx__server *s)
{
    if (s->router) {
        /* Every parked call gets its answer, and the socket a moment to deliver them. */
        mpx__blocked_shutdown(s);
        set_int(s->router, ZMQ_LINGER, 1000);
    }
    mpx__sessions_close_all(s);
    mpx__persist_close(s); /* everything logged is synced, held replies sent */
    mpx__registry_collect(&s->reg);
    mpx__registry_close(&s->reg);
    mpx__lazyfree_finish();
    mpx__monitor_close(s->router, &s->monitor);
    if (s->router) zmq_close(s->router);
    if (s->zctx) zmq_ctx_shutdown(s->zctx); /* ends the ZAP handler's wait */
    mpx__zap_stop(&s->zap);
    if (s->zctx) zmq_ctx_term(s->zctx);
    mpx__buf_free(&s->out);
    mpx__buf_free(&s->batch);
    mpx__xfree(s->heap);
    mpx__timers_free(s);
    mpx__placement_free(&s->place);
}
