/*
 * loop.c — mpxd's event loop: one thread and one ROUTER socket bound to every endpoint. The
 * loop waits inside libzmq's own receive, with ZMQ_RCVTIMEO set to the next deadline: a
 * call then costs one poll() in libzmq, where polling ZMQ_FD beside other descriptors cost
 * three (libzmq polls its command pipe again, without waiting, on each non-blocking receive
 * that finds the socket empty). SIGINT and SIGTERM interrupt that wait; the lifeline is
 * looked at between calls, at least every STOP_CHECK_MS. Nothing in here waits but the
 * receive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "blocked.h"
#include "internal.h"
#include "loop.h"
#include "placement.h"
#include "session.h"

#define STOP_CHECK_MS 100 /* the lifeline is looked at this often; a signal waits no longer */

int64_t mpx__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

void mpx__log_info(const mpx__server *s, const char *fmt, ...)
{
    if (s->cfg.quiet) return;
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

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

int mpx__server_open(mpx__server *s, const mpx__config *cfg, char *const *endpoints, int n)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    msgpack_sbuffer_init(&s->out);
    msgpack_sbuffer_init(&s->batch);
    msgpack_packer_init(&s->pk, &s->out, msgpack_sbuffer_write);
    mpx__registry_init(&s->reg);
    s->zctx = zmq_ctx_new();
    int rc = s->zctx ? mpx__placement_open(&s->place, s->zctx, cfg->cpu) : 0;
    if (rc != 0) {
        if (cfg->cpu >= 0)
            mpx__log_warn("cannot run on CPU %d: %s", cfg->cpu, strerror(-rc));
        else
            mpx__log_warn("cannot set up thread placement: %s", strerror(-rc));
        return -1;
    }
    s->router = s->zctx ? zmq_socket(s->zctx, ZMQ_ROUTER) : NULL;
    if (!s->router) {
        mpx__log_warn("cannot create the ZeroMQ socket: %s", zmq_strerror(errno));
        return -1;
    }
    /* Past twice the served limit a frame is not worth reading: libzmq drops that peer. */
    int64_t ceiling = (int64_t)cfg->max_message * 2 + (1 << 20);
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &ceiling, sizeof ceiling);
    set_int(s->router, ZMQ_LINGER, 0);
    set_int(s->router, ZMQ_SNDHWM, 100000);
    set_int(s->router, ZMQ_RCVHWM, 100000);
    for (int i = 0; i < n && !s->monitor; i++)
        if (mpx__endpoint_is_ipc(endpoints[i], strlen(endpoints[i])))
            s->monitor = mpx__ipc_monitor_open(s->zctx, s->router, "inproc://mpxd-accepted",
                                               ZMQ_EVENT_ACCEPTED);
    for (int i = 0; i < n; i++) {
        if (zmq_bind(s->router, endpoints[i]) != 0) {
            mpx__log_warn("cannot bind %s: %s", endpoints[i], zmq_strerror(errno));
            return -1;
        }
        mpx__log_info(s, "serving %s", endpoints[i]);
    }
    return 0;
}

/* Reads one message (routing id, then the frame) and hands it to its session, waiting for it
 * as long as the router's ZMQ_RCVTIMEO. Returns false when none came. */
static bool handle_one(mpx__server *s)
{
    zmq_msg_t rid, frame;
    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, s->router, 0) < 0) {
        zmq_msg_close(&rid);
        return false;
    }
    zmq_msg_init(&frame);
    int parts = 1;
    bool more = zmq_msg_more(&rid);
    while (more && zmq_msg_recv(&frame, s->router, 0) >= 0) {
        parts++;
        more = zmq_msg_more(&frame);
        if (more) /* only the last part is kept; a request has exactly one */
            zmq_msg_close(&frame), zmq_msg_init(&frame);
    }
    const uint8_t *data = zmq_msg_data(&frame);
    size_t len = parts == 2 ? zmq_msg_size(&frame) : 0; /* several parts parse as malformed */
    const char *peer = NULL;
    if (len > 1 && data[1] == MPX_K_HELLO) {
        mpx__ipc_monitor_drain(s->monitor); /* before the session's first reply */
        peer = zmq_msg_gets(&frame, "Peer-Address");
    }
    mpx__session_input(s, zmq_msg_data(&rid), zmq_msg_size(&rid), data, len,
                       peer && *peer ? peer : "a local peer");
    zmq_msg_close(&frame);
    zmq_msg_close(&rid);
    return true;
}

static volatile sig_atomic_t stop_signal; /* the SIGINT or SIGTERM that arrived, or 0 */

static void record_stop_signal(int signo)
{
    stop_signal = signo;
}

int mpx__signals_install(void)
{
    /* No SA_RESTART: the receive the loop waits in must return with EINTR. libzmq's own
     * threads block every signal, so the loop's thread is the one interrupted. */
    struct sigaction sa = {.sa_handler = record_stop_signal};
    sigemptyset(&sa.sa_mask);
    signal(SIGPIPE, SIG_IGN);
    return sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0 ? 0 : -1;
}

/* Keeps the loop and libzmq's I/O thread together or apart as the loop's demand asks
 * (placement.c); if moving them fails, they are left to the kernel from then on. */
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

int mpx__server_run(mpx__server *s, int lifeline_fd)
{
    int64_t last_sweep = mpx__now_ms(), last_check = last_sweep, last_place = last_sweep;
    /* Sweep often enough that a session ends within a quarter timeout of going silent. */
    int sweep_ms = s->cfg.session_timeout_ms / 4;
    sweep_ms = sweep_ms < 50 ? 50 : sweep_ms > 1000 ? 1000 : sweep_ms;
    int wait_cap = sweep_ms < STOP_CHECK_MS ? sweep_ms : STOP_CHECK_MS;
    int timeout_set = -2; /* the router's ZMQ_RCVTIMEO */
    while (!stop_signal) {
        int64_t now = mpx__now_ms();
        mpx__blocked_expire(s, now);
        mpx__registry_collect(&s->reg);
        if (now - last_sweep >= sweep_ms) {
            mpx__sessions_expire(s, now);
            mpx__ipc_monitor_drain(s->monitor); /* connections that never said HELLO */
            last_sweep = now;
        }
        if (now - last_place >= MPX_PLACEMENT_MS) {
            placement_adjust(s);
            last_place = now;
        }
        if (now - last_check >= STOP_CHECK_MS) {
            if (lifeline_gone(lifeline_fd)) {
                mpx__log_info(s, "the processes that started mpxd are gone, stopping");
                return 0;
            }
            last_check = now;
        }
        /* A signal that lands between the test above and the wait below is seen when the
         * wait ends, within STOP_CHECK_MS. */
        int wait_ms = mpx__blocked_next_ms(s, now, wait_cap);
        if (wait_ms != timeout_set) {
            if (set_int(s->router, ZMQ_RCVTIMEO, wait_ms) != 0) {
                mpx__log_warn("cannot set the receive timeout: %s", zmq_strerror(errno));
                return -1;
            }
            timeout_set = wait_ms;
        }
        handle_one(s);
    }
    mpx__log_info(s, "%s received, stopping", strsignal(stop_signal));
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
    mpx__registry_collect(&s->reg);
    mpx__registry_close(&s->reg);
    mpx__ipc_monitor_close(s->router, &s->monitor);
    if (s->router) zmq_close(s->router);
    if (s->zctx) zmq_ctx_term(s->zctx);
    msgpack_sbuffer_destroy(&s->out);
    msgpack_sbuffer_destroy(&s->batch);
    free(s->heap);
    mpx__placement_free(&s->place);
}
