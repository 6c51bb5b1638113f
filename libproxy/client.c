/*
 * client.c — one session with mpxd: connect and handshake, calls and their replies, timeouts,
 * several threads at once, and a new session after fork().
 *
 * Threads. A ZeroMQ socket must never be used by two threads at once, yet a thread blocked on
 * a long call must not stop others from calling. So the socket belongs to whoever holds `mu`,
 * and one waiting thread at a time is the reader: it polls the socket, hands every reply to
 * the thread waiting for it (matched by request id) and wakes it on `cv`. A thread that wants
 * to send bumps `want` and, if the reader is inside poll(), kicks it through an eventfd;
 * the reader then steps aside on `turn` until no sender is left. When the reader's own reply
 * arrives it gives the role to any other waiter.
 *
 * Liveness. mpxd ends a session that stays silent past the timeout it announces in WELCOME,
 * and gives back what it held. One heartbeat thread per process keeps every client's session
 * alive: it sends a signed HEARTBEAT frame on any client that has sent nothing for a quarter of
 * its timeout, also while other threads are blocked in calls on it.
 *
 * Fork. The child of a fork() cannot use its parent's ZeroMQ context. A pthread_atfork handler
 * bumps a generation counter; the first call in the child sees it, abandons the inherited
 * context and socket without touching them, connects afresh with a new handshake, and
 * attaches every open proxy to the new session. The parent's session is untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define CLIENT_TAG 0x6d707863u /* "mpxc" */

typedef mpx__pending pending;

#define SOLO_WAIT_MS 2                /* a lone reader's wait inside libzmq's receive (recv_solo) */
#define BATCH_FLUSH_CALLS 256         /* a send buffer this full goes out at once */
#define BATCH_FLUSH_BYTES (256 << 10) /* likewise, bytes */

struct mpx_client {
    uint32_t tag;
    pthread_mutex_t mu;  /* owns the socket and everything below */
    pthread_cond_t cv;   /* a reply arrived, or the reader role is free */
    pthread_cond_t turn; /* the reader waits here while senders use the socket */
    atomic_int want;     /* threads waiting to send */
    atomic_bool polling; /* the reader is inside poll() */
    atomic_int users;    /* threads between client_lock() and client_unlock() */
    int wake_fd;         /* eventfd: pulls the reader out of its poll */
    int zmq_fd;          /* the socket's ZMQ_FD: readable when libzmq has news for it */
    int rcvtimeo_ms;     /* the socket's ZMQ_RCVTIMEO as last set; -1, libzmq's, at first */
    bool reader;         /* some thread is reading */
    pending *pending;    /* calls waiting for replies, oldest first */
    pending *pending_tail;
    mpx__wbuf batch;      /* deferred calls: room for a header and array32, then bodies */
    uint32_t batch_n;     /* calls in it */
    pending *batch_first; /* the first of them in `pending`; the rest follow it */
    void *zctx;
    void *sock;
    int io_cpu; /* the CPU for libzmq's I/O thread, or -1 to leave it to the system */
    char *endpoint;
    uint8_t *authkey; /* kept for the new session after a fork; wiped on free */
    size_t keylen;
    uint64_t sid;
    mpx__mac_key c2s;
    mpx__mac_key s2c;
    uint64_t send_seq;
    uint64_t recv_seq;
    atomic_uint_fast64_t next_req;
    size_t max_message;
    atomic_int timeout_ms; /* read without mu: the reader may hold mu while it polls */
    int broken;            /* a sticky transport error; 0 while the connection is good */
    char broken_msg[200];
    atomic_uint fork_gen;       /* the fork generation this client's session belongs to */
    mpx_proxy *proxies;         /* open proxies, re-attached after a fork */
    atomic_int heartbeat_ms;    /* a quarter of the server's session timeout */
    int64_t last_send_ms;       /* when a frame last went out */
    int64_t last_recv_ms;       /* when a frame last came in */
    struct mpx_client *hb_next; /* in the heartbeat list */
};

/* ---- fork generations -------------------------------------------------------------------- */

static atomic_uint fork_generation;
static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The inherited ZeroMQ contexts: unusable in the child and unsafe to free, but kept
 * reachable so leak checkers do not count them. */
static void *orphans[64];
static size_t n_orphans;

/* The heartbeat thread and the clients it serves (see the file comment). */
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

int64_t mpx__clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connection -------------------------------------------------------------------------- */

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* Marks the connection broken: every waiting and later call returns code. Under mu. */
static int client_break(mpx_client *c, int code, const char *why)
{
    if (!c->broken) {
        c->broken = code;
        snprintf(c->broken_msg, sizeof c->broken_msg, "%s: %s", mpx_strerror(code), why);
    }
    pthread_cond_broadcast(&c->cv);
    return mpx__fail(code, "%s", c->broken_msg);
}

static int socket_open(mpx_client *c, void **mon)
{
    c->zctx = zmq_ctx_new();
    /* before the first socket: libzmq starts its I/O thread with it */
    if (c->zctx && c->io_cpu >= 0 && zmq_ctx_set(c->zctx, ZMQ_THREAD_AFFINITY_CPU_ADD, c->io_cpu))
        return mpx__fail(MPX_EINVAL, "cannot place libzmq's I/O thread on CPU %d: %s", c->io_cpu,
                         zmq_strerror(errno));
    c->sock = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    c->rcvtimeo_ms = -1;
    if (!c->sock)
        return mpx__fail(MPX_ECONN, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    set_int(c->sock, ZMQ_LINGER, 200); /* lets a BYE go out at close */
    set_int(c->sock, ZMQ_SNDHWM, 100000);
    set_int(c->sock, ZMQ_RCVHWM, 100000);
    *mon =
        mpx__endpoint_is_ipc(c->endpoint, strlen(c->endpoint))
            ? mpx__ipc_monitor_open(c->zctx, c->sock, "inproc://mpx-connected", ZMQ_EVENT_CONNECTED)
            : NULL;
    if (zmq_connect(c->sock, c->endpoint) != 0)
        return mpx__fail(errno == EINVAL || errno == EPROTONOSUPPORT ? MPX_EINVAL : MPX_ECONN,
                         "cannot connect to %s: %s", c->endpoint, zmq_strerror(errno));
    size_t fd_len = sizeof c->zmq_fd;
    if (zmq_getsockopt(c->sock, ZMQ_FD, &c->zmq_fd, &fd_len) != 0)
        return mpx__fail(MPX_ECONN, "cannot read the socket's ZMQ_FD: %s", zmq_strerror(errno));
    return 0;
}

/* Receives one frame within the deadline (handshake only: no other thread exists yet). */
static int recv_frame(mpx_client *c, zmq_msg_t *msg, int64_t deadline)
{
    zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLIN};
    for (;;) {
        int64_t left = deadline - mpx__clock_ms();
        if (left <= 0)
            return mpx__fail(MPX_ETIMEDOUT, "no answer from %s within %d ms", c->endpoint,
                             atomic_load(&c->timeout_ms));
        int n = zmq_poll(&item, 1, (long)left);
        if (n < 0 && errno != EINTR)
            return mpx__fail(MPX_ECONN, "poll failed: %s", zmq_strerror(errno));
        if (n > 0 && zmq_msg_recv(msg, c->sock, ZMQ_DONTWAIT) >= 0) return 0;
    }
}

/* Turns an ERROR frame's body [code, message] into an error. */
static int frame_error(const mpx__frame *f, const char *during)
{
    mpx__mp_cursor cur;
    uint32_t n, len;
    int64_t code;
    const char *msg;
    mpx__mp_init(&cur, f->body, f->body_len);
    if (mpx__mp_array(&cur, &n) || n != 2 || mpx__mp_int(&cur, &code) ||
        mpx__mp_str(&cur, &msg, &len) || code <= 0 || code > 1000)
        return mpx__fail(MPX_EPROTO, "malformed error frame %s", during);
    return mpx__fail((int)-code, "%.*s", (int)len, msg);
}

/* Reads and checks the next handshake frame, which must be of kind `kind`. */
static int handshake_recv(mpx_client *c, zmq_msg_t *msg, uint8_t kind, mpx__frame *f,
                          int64_t deadline)
{
    int rc = recv_frame(c, msg, deadline);
    if (rc) return rc;
    rc = mpx__frame_parse(zmq_msg_data(msg), zmq_msg_size(msg), f);
    if (rc == MPX_EVERSION)
        return mpx__fail(rc, "the server speaks protocol version %u, not %d",
                         ((uint8_t *)zmq_msg_data(msg))[0], MPX_PROTOCOL_VERSION);
    if (rc == 0 && f->kind == MPX_K_ERROR) return frame_error(f, "during the handshake");
    if (rc || f->kind != kind)
        return mpx__fail(MPX_EPROTO, "unexpected frame during the handshake");
    return 0;
}

static int handshake_send(mpx_client *c, uint8_t *frame, size_t len)
{
    if (zmq_send(c->sock, frame, len, ZMQ_DONTWAIT) != (int)len)
        return mpx__fail(MPX_ECONN, "cannot send to %s: %s", c->endpoint, zmq_strerror(errno));
    return 0;
}

/* Reads the server's limits from WELCOME's map; keys it does not know are skipped. */
static void welcome_read(mpx_client *c, const mpx__frame *f)
{
    mpx__mp_cursor cur;
    uint32_t n, klen;
    const char *k;
    uint64_t v;
    mpx__mp_init(&cur, f->body, f->body_len);
    for (int ok = mpx__mp_map(&cur, &n) == 0; ok && n--;) {
        ok = mpx__mp_str(&cur, &k, &klen) == 0;
        bool is_uint = ok && mpx__mp_uint(&cur, &v) == 0;
        if (is_uint && klen == 11 && memcmp(k, "max_message", 11) == 0)
            c->max_message = v;
        else if (is_uint && klen == 15 && memcmp(k, "session_timeout", 15) == 0)
            c->heartbeat_ms = v / 4 < 25 ? 25 : v / 4 > 60000 ? 60000 : (int)(v / 4);
        else if (ok && !is_uint)
            ok = mpx__mp_skip(&cur) == 0;
    }
}

/* HELLO, CHALLENGE, AUTH, WELCOME: docs/protocol.md, "Handshake". */
static int handshake(mpx_client *c)
{
    uint8_t nc[MPX_NONCE_LEN], ns[MPX_NONCE_LEN], frame[MPX_HDR_LEN + MPX_NONCE_LEN],
        mac[MPX_MAC_LEN];
    int64_t deadline = mpx__clock_ms() + atomic_load(&c->timeout_ms);
    zmq_msg_t msg;
    mpx__frame f;
    randombytes_buf(nc, sizeof nc);
    mpx__frame_header(frame, MPX_K_HELLO, 0, 0);
    memcpy(frame + MPX_HDR_LEN, nc, sizeof nc);
    int rc = handshake_send(c, frame, sizeof frame);
    zmq_msg_init(&msg);
    if (rc == 0) rc = handshake_recv(c, &msg, MPX_K_CHALLENGE, &f, deadline);
    if (rc == 0 && f.body_len != MPX_NONCE_LEN) rc = mpx__fail(MPX_EPROTO, "malformed CHALLENGE");
    if (rc == 0) {
        c->sid = f.sid;
        memcpy(ns, f.body, sizeof ns);
        mpx__hs_proof(c->authkey, c->keylen, MPX_LABEL_SERVER, nc, ns, c->sid, mac);
        if (crypto_verify_16(mac, f.mac) != 0) {
            /* Tell the server, so it can log the failure, with an all-zero proof: a server
             * that has not proved the key learns nothing from us. */
            mpx__frame_header(frame, MPX_K_AUTH, c->sid, 0);
            handshake_send(c, frame, MPX_HDR_LEN);
            rc = mpx__fail(MPX_EAUTH, "authentication failed: the server did not prove it "
                                      "knows this authkey (wrong key?)");
        }
    }
    if (rc == 0) {
        mpx__frame_header(frame, MPX_K_AUTH, c->sid, 0);
        mpx__hs_proof(c->authkey, c->keylen, MPX_LABEL_CLIENT, nc, ns, c->sid, frame + MPX_MAC_OFF);
        rc = handshake_send(c, frame, MPX_HDR_LEN);
    }
    /* A forked child's copy of its parent's keys is freed here. */
    if (rc == 0 && mpx__session_keys(c->authkey, c->keylen, nc, ns, c->sid, &c->c2s, &c->s2c))
        rc = mpx__fail(MPX_ENOMEM, "out of memory setting up the session keys");
    if (rc == 0) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        rc = handshake_recv(c, &msg, MPX_K_WELCOME, &f, deadline);
    }
    if (rc == 0 && (f.sid != c->sid || f.seq != 1 || mpx__mac_verify(&c->s2c, &f) != 0))
        rc = mpx__fail(MPX_EAUTH, "authentication failed: WELCOME does not verify");
    if (rc == 0) {
        welcome_read(c, &f);
        c->recv_seq = 1;
        c->send_seq = 0;
    }
    zmq_msg_close(&msg);
    return rc;
}

static int session_open(mpx_client *c)
{
    c->max_message = MPX_DEFAULT_MAX_MESSAGE;
    c->heartbeat_ms = MPX_DEFAULT_SESSION_TIMEOUT_MS / 4;
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->wake_fd < 0) return mpx__fail(MPX_ESYS, "eventfd: %s", strerror(errno));
    void *mon = NULL;
    int rc = socket_open(c, &mon);
    if (rc == 0) rc = handshake(c);
    mpx__ipc_monitor_drain(mon); /* the handshake heard from the connection */
    mpx__ipc_monitor_close(c->sock, &mon);
    if (rc == 0) c->last_send_ms = c->last_recv_ms = mpx__clock_ms();
    return rc;
}

static void session_close_socket(mpx_client *c)
{
    if (c->sock) zmq_close(c->sock);
    if (c->zctx) zmq_ctx_term(c->zctx);
    if (c->wake_fd >= 0) close(c->wake_fd);
    c->sock = c->zctx = NULL;
    c->wake_fd = -1;
}

static void client_destroy(mpx_client *c)
{
    session_close_socket(c);
    mpx__mac_key_clear(&c->c2s);
    mpx__mac_key_clear(&c->s2c);
    mpx__wbuf_free(&c->batch);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->turn);
    if (c->authkey) {
        sodium_memzero(c->authkey, c->keylen);
        free(c->authkey);
    }
    free(c->endpoint);
    c->tag = MPX_DEAD_TAG;
    free(c);
}

/* Empties the send buffer, keeping its memory. */
static void batch_reset(mpx_client *c)
{
    c->batch.size = MPX_HDR_LEN + MPX_BATCH_HDR;
    c->batch_n = 0;
    c->batch_first = NULL;
}

static void sync_init(mpx_client *c)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_cond_init(&c->turn, &ca);
    pthread_condattr_destroy(&ca);
}

static void heartbeat_start(mpx_client *c);

static int client_connect(const char *endpoint, const void *authkey, size_t keylen, int io_cpu,
                          mpx_client **out)
{
    if (!endpoint || !authkey || keylen == 0 || !out)
        return mpx__fail(MPX_EINVAL, "mpx_connect: endpoint, authkey and out are required");
    if (sodium_init() < 0) return mpx__fail(MPX_ESYS, "libsodium failed to initialise");
    pthread_once(&fork_once, fork_register);
    mpx_client *c = calloc(1, sizeof *c);
    if (!c) return mpx__fail(MPX_ENOMEM, "mpx_connect: out of memory");
    c->tag = CLIENT_TAG;
    c->wake_fd = -1;
    c->io_cpu = io_cpu;
    atomic_init(&c->timeout_ms, MPX_DEFAULT_TIMEOUT_MS);
    atomic_init(&c->fork_gen, atomic_load(&fork_generation));
    atomic_init(&c->next_req, 1);
    mpx__wbuf_init(&c->batch, MPX_HDR_LEN);
    batch_reset(c);
    sync_init(c);
    c->endpoint = strdup(endpoint);
    c->authkey = malloc(keylen);
    c->keylen = keylen;
    if (!c->endpoint || !c->authkey) {
        client_destroy(c);
        return mpx__fail(MPX_ENOMEM, "mpx_connect: out of memory");
    }
    memcpy(c->authkey, authkey, keylen);
    int rc = session_open(c);
    if (rc) {
        client_destroy(c);
        return rc;
    }
    heartbeat_start(c);
    *out = c;
    return 0;
}

int mpx_connect(const char *endpoint, const void *authkey, size_t keylen, mpx_client **out)
{
    return client_connect(endpoint, authkey, keylen, -1, out);
}

#define KEYFILE_MAX 4096

/* Reads an authkey file into key (KEYFILE_MAX + 1 bytes, so a longer file can be told). */
static int read_keyfile(const char *keyfile, uint8_t *key, size_t *len)
{
    if (!keyfile) return mpx__fail(MPX_EINVAL, "mpx_connect_keyfile: no key file");
    int fd = open(keyfile, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, key, KEYFILE_MAX + 1) : -1;
    int err = errno;
    if (fd >= 0) close(fd);
    if (n < 0)
        return mpx__fail(MPX_ESYS, "cannot read the authkey file %s: %s", keyfile, strerror(err));
    if (n > 0 && key[n - 1] == '\n') n--;
    if (n > 0 && key[n - 1] == '\r') n--;
    if (n == 0 || n == KEYFILE_MAX + 1)
        return mpx__fail(MPX_EINVAL, "the authkey file %s must hold 1 to %d bytes", keyfile,
                         KEYFILE_MAX);
    *len = (size_t)n;
    return 0;
}

/* Connects with the key read from a file, then wipes the key's copy on the stack. */
static int connect_keyfile(const char *endpoint, const char *keyfile, int io_cpu, mpx_client **out)
{
    uint8_t key[KEYFILE_MAX + 1];
    size_t n = 0;
    int rc = read_keyfile(keyfile, key, &n);
    if (rc == 0) rc = client_connect(endpoint, key, n, io_cpu, out);
    sodium_memzero(key, sizeof key);
    return rc;
}

int mpx_connect_keyfile(const char *endpoint, const char *keyfile, mpx_client **out)
{
    return connect_keyfile(endpoint, keyfile, -1, out);
}

int mpx_connect_opts(const char *endpoint, const mpx_connect_options *opts, mpx_client **out)
{
    if (!opts) return mpx__fail(MPX_EINVAL, "mpx_connect_opts: no options");
    if (!opts->authkey == !opts->keyfile)
        return mpx__fail(MPX_EINVAL, "mpx_connect_opts: set one of authkey and keyfile");
    if (opts->place_io && !mpx__cpu_usable(opts->io_cpu))
        return mpx__fail(MPX_EINVAL, "mpx_connect_opts: this process may not run on CPU %d",
                         opts->io_cpu);
    int io_cpu = opts->place_io ? opts->io_cpu : -1;
    if (opts->keyfile) return connect_keyfile(endpoint, opts->keyfile, io_cpu, out);
    return client_connect(endpoint, opts->authkey, opts->keylen, io_cpu, out);
}

bool mpx__client_ok(const mpx_client *c)
{
    return c && c->tag == CLIENT_TAG;
}

/* ---- heartbeats ------------------------------------------------------------------------- */

static void client_lock(mpx_client *c);
static void client_unlock(mpx_client *c);
static int batch_flush(mpx_client *c);

/* Sends a HEARTBEAT on c if it has sent nothing for heartbeat_ms, or the calls it buffered
 * if there are any (they keep the session alive as well). Called with hb_mu held. */
static void heartbeat_one(mpx_client *c, int64_t now)
{
    if (atomic_load(&c->fork_gen) != atomic_load(&fork_generation))
        return; /* a child's inherited client is not ours until its first call */
    uint8_t frame[MPX_HDR_LEN];
    client_lock(c);
    if (c->broken || !c->sock || now - c->last_send_ms < c->heartbeat_ms) {
        /* nothing due */
    } else if (c->batch_n > 0) {
        batch_flush(c);
    } else {
        mpx__frame_header(frame, MPX_K_HEARTBEAT, c->sid, c->send_seq + 1);
        if (mpx__mac_sign(&c->c2s, frame, sizeof frame) == 0 &&
            zmq_send(c->sock, frame, sizeof frame, ZMQ_DONTWAIT) == (int)sizeof frame) {
            c->send_seq++;
            c->last_send_ms = now;
        }
    }
    client_unlock(c);
}

static void *heartbeat_main(void *arg)
{
    (void)arg;
    for (;;) {
        int wait_ms = 1000;
        pthread_mutex_lock(&hb_mu);
        int64_t now = mpx__clock_ms();
        for (mpx_client *c = hb_clients; c; c = c->hb_next) {
            heartbeat_one(c, now);
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
static void heartbeat_start(mpx_client *c)
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

static void heartbeat_stop(mpx_client *c)
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

/* ---- after fork -------------------------------------------------------------------------- */

static int reattach_proxies(mpx_client *c)
{
    for (mpx_proxy *p = c->proxies; p; p = p->next) {
        mpx_value *id = mpx_uint(p->id);
        const mpx_value *items[] = {id};
        mpx__args args = {.items = items, .n = 1};
        int rc = id ? mpx__invoke(c, 0, "attach", &args, MPX_TIMEOUT_DEFAULT, NULL) : MPX_ENOMEM;
        mpx_value_free(&id);
        if (rc && rc != MPX_ENOOBJ) return rc;
    }
    return 0;
}

/* The first call in a forked child: a session of the child's own (see the file comment). */
static int client_after_fork(mpx_client *c)
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
    sync_init(c); /* a thread of the parent may have held them; none exists here */
    c->reader = false;
    c->pending = c->pending_tail = NULL;
    batch_reset(c); /* the parent's deferred calls: the parent sends them */
    atomic_store(&c->want, 0);
    atomic_store(&c->users, 0);
    atomic_store(&c->polling, false);
    c->broken = 0;
    int rc = session_open(c);
    /* Only now may the heartbeat thread and other calls use it: they check the generation. */
    atomic_store(&c->fork_gen, gen);
    if (rc == 0) {
        heartbeat_start(c);
        rc = reattach_proxies(c);
    }
    if (rc) {
        pthread_mutex_lock(&c->mu);
        client_break(c, rc, mpx_last_error());
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&fork_mu);
    return rc;
}

/* ---- calls ------------------------------------------------------------------------------- */

/* Takes mu, pulling the reader out of poll() first: every path that takes mu while a reader
 * may be polling must come through here, or it waits for the reader's poll to end. */
static void client_lock(mpx_client *c)
{
    atomic_fetch_add(&c->users, 1);
    atomic_fetch_add(&c->want, 1);
    if (atomic_load(&c->polling)) {
        uint64_t one = 1;
        if (write(c->wake_fd, &one, sizeof one) < 0) {
            /* the counter is already non-zero: the reader wakes anyway */
        }
    }
    pthread_mutex_lock(&c->mu);
    if (atomic_fetch_sub(&c->want, 1) == 1) pthread_cond_broadcast(&c->turn);
}

static void client_unlock(mpx_client *c)
{
    atomic_fetch_sub(&c->users, 1);
    pthread_mutex_unlock(&c->mu);
}

/* Calls are listed in the order they were sent and replies mostly come back in that order,
 * so the one a reply is for is almost always the first. */
static pending *pending_take(mpx_client *c, uint64_t req_id)
{
    pending *prev = NULL;
    for (pending *p = c->pending; p; prev = p, p = p->next) {
        if (p->req_id == req_id) {
            *(prev ? &prev->next : &c->pending) = p->next;
            if (c->pending_tail == p) c->pending_tail = prev;
            if (c->batch_first == p) c->batch_first = p->next;
            return p;
        }
    }
    return NULL;
}

static void pending_add(mpx_client *c, pending *p)
{
    p->next = NULL;
    *(c->pending_tail ? &c->pending_tail->next : &c->pending) = p;
    c->pending_tail = p;
}

/* Hands one reply body, inside frame msg, to its call: moving the frame to it, or with
 * `shared` a reference to it. A reply nobody waits for (its call timed out) is dropped. */
static int deliver_one(mpx_client *c, zmq_msg_t *msg, const uint8_t *body, size_t len, bool shared)
{
    mpx__mp_cursor cur;
    uint32_t n;
    uint64_t req_id;
    mpx__mp_init(&cur, body, len);
    if (mpx__mp_array(&cur, &n) || n != 3 || mpx__mp_uint(&cur, &req_id))
        return client_break(c, MPX_EPROTO, "malformed reply from the server");
    pending *p = pending_take(c, req_id);
    if (!p) return 0;
    p->reply_off = (size_t)(body - (const uint8_t *)zmq_msg_data(msg));
    p->reply_len = len;
    if (shared)
        zmq_msg_copy(&p->reply, msg);
    else
        zmq_msg_move(&p->reply, msg);
    p->done = true;
    return 0;
}

/* Checks one frame from the server and hands a reply to its call. Under mu. */
static int deliver(mpx_client *c, zmq_msg_t *msg)
{
    mpx__frame f;
    mpx__mp_cursor cur;
    uint32_t n;
    if (mpx__frame_parse(zmq_msg_data(msg), zmq_msg_size(msg), &f) != 0)
        return client_break(c, MPX_EPROTO, "malformed frame from the server");
    if (f.kind == MPX_K_ERROR && f.sid == 0) {
        /* Unsigned: the server has no session for us (it ended one that went silent). It
         * can only end the connection, which is what it asks for. */
        int rc = frame_error(&f, "from the server");
        return client_break(c, rc, mpx_last_error());
    }
    if (f.sid != c->sid || mpx__mac_verify(&c->s2c, &f) != 0)
        return client_break(c, MPX_EAUTH, "a frame from the server failed its MAC");
    if (f.seq != c->recv_seq + 1)
        return client_break(c, MPX_EREPLAY, "a frame from the server is out of sequence");
    c->recv_seq = f.seq;
    c->last_recv_ms = mpx__clock_ms();
    if (f.kind == MPX_K_HEARTBEAT_ACK) return 0;
    if (f.kind == MPX_K_ERROR) {
        int rc = frame_error(&f, "from the server");
        return client_break(c, rc, mpx_last_error());
    }
    mpx__mp_init(&cur, f.body, f.body_len);
    if (f.kind == MPX_K_REPLY) return deliver_one(c, msg, f.body, f.body_len, false);
    if (f.kind != MPX_K_REPLIES || mpx__mp_array(&cur, &n))
        return client_break(c, MPX_EPROTO, "malformed reply from the server");
    while (n--) { /* the calls share the frame: each holds a reference to it */
        const uint8_t *start = cur.p;
        if (mpx__mp_skip(&cur) || deliver_one(c, msg, start, (size_t)(cur.p - start), true))
            return client_break(c, MPX_EPROTO, "malformed reply from the server");
    }
    return 0;
}

/* Receives and delivers one frame: one already queued (flags ZMQ_DONTWAIT), or one that
 * comes within the socket's ZMQ_RCVTIMEO (flags 0). Under mu. */
static bool recv_one(mpx_client *c, int flags)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    bool got = zmq_msg_recv(&msg, c->sock, flags) >= 0;
    if (got) {
        deliver(c, &msg);
        pthread_cond_broadcast(&c->cv);
    }
    zmq_msg_close(&msg);
    return got;
}

/* Delivers every frame already queued, without waiting. Under mu. */
static void drain_replies(mpx_client *c)
{
    while (!c->broken && recv_one(c, ZMQ_DONTWAIT))
        ;
}

/* Waits in libzmq's own receive for up to SOLO_WAIT_MS (the rest of the wait, if the reply
 * is later, polls as below). Polling ZMQ_FD costs two poll() calls a call more than that:
 * libzmq polls its command pipe, without waiting, on every non-blocking receive that finds
 * the socket empty. But nothing can pull a thread out of libzmq's receive, so only a reader
 * alone on the client waits there, and a thread that comes in meanwhile waits at most that
 * long for the socket. */
static bool recv_solo(mpx_client *c, int64_t left)
{
    int wait_ms = left < SOLO_WAIT_MS ? (int)left : SOLO_WAIT_MS;
    if (wait_ms != c->rcvtimeo_ms && set_int(c->sock, ZMQ_RCVTIMEO, wait_ms) == 0)
        c->rcvtimeo_ms = wait_ms;
    return recv_one(c, 0);
}

/* The reader's loop: reads until p's reply arrives or the deadline passes. Under mu.
 *
 * Past its first SOLO_WAIT_MS, or with other threads on the client, it polls libzmq's ZMQ_FD
 * itself rather than calling zmq_poll: zmq_poll costs four poll() syscalls a wake-up where
 * this costs two, and on a virtual machine syscalls are a good part of a call. ZMQ_FD only
 * signals news libzmq has not yet looked at, so the socket is always read until it is empty
 * before the loop polls: a failed non-blocking receive is what makes libzmq take in that
 * news. */
static void read_until(mpx_client *c, pending *p, int64_t deadline)
{
    int64_t began = mpx__clock_ms(); /* acks that queued while nobody read count from here */
    bool solo = true;
    c->reader = true;
    while (!p->done && !c->broken) {
        while (atomic_load(&c->want) > 0)
            pthread_cond_wait(&c->turn, &c->mu);
        int64_t now = mpx__clock_ms(), left = deadline - now;
        if (left <= 0) break;
        solo = solo && now - began < SOLO_WAIT_MS && atomic_load(&c->users) == 1;
        if (solo) {
            solo = recv_solo(c, left); /* after a timeout, the rest of the wait polls */
            continue;
        }
        if (recv_one(c, ZMQ_DONTWAIT)) continue; /* did not wait: now and left still hold */
        int beat = atomic_load(&c->heartbeat_ms);
        /* Heartbeats go out while we wait and each is answered: two session timeouts
         * (eight heartbeat intervals) of silence mean the server is gone. */
        int64_t heard = c->last_recv_ms > began ? c->last_recv_ms : began;
        if (now - heard > 8 * (int64_t)beat) {
            client_break(c, MPX_ECONN, "the server stopped answering");
            break;
        }
        if (left > beat) left = beat;
        atomic_store(&c->polling, true);
        if (atomic_load(&c->want) > 0) { /* a sender came in between: let it go first */
            atomic_store(&c->polling, false);
            continue;
        }
        struct pollfd fds[] = {{.fd = c->zmq_fd, .events = POLLIN},
                               {.fd = c->wake_fd, .events = POLLIN}};
        int rc = poll(fds, 2, (int)left);
        atomic_store(&c->polling, false);
        if (rc < 0 && errno != EINTR) {
            client_break(c, MPX_ECONN, strerror(errno));
            break;
        }
        if (fds[1].revents & POLLIN) {
            uint64_t v;
            if (read(c->wake_fd, &v, sizeof v) < 0) {
                /* nothing to drain: another wake-up got there first */
            }
        }
    }
    c->reader = false;
    pthread_cond_broadcast(&c->cv); /* someone else may read now */
}

static void timed_wait(mpx_client *c, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Waits for p's reply. Under mu. Returns 0, a transport error or MPX_ETIMEDOUT. */
static int wait_reply(mpx_client *c, pending *p, int64_t deadline)
{
    while (!p->done) {
        if (c->broken) { /* p leaves the list with its caller: it may be on the stack */
            pending_take(c, p->req_id);
            return mpx__fail(c->broken, "%s", c->broken_msg);
        }
        if (mpx__clock_ms() >= deadline) {
            pending_take(c, p->req_id);
            return mpx__fail(MPX_ETIMEDOUT, "no reply within the timeout");
        }
        if (!c->reader)
            read_until(c, p, deadline);
        else
            timed_wait(c, deadline);
    }
    return 0;
}

static int pack_call(mpx__wbuf *b, uint64_t req_id, uint64_t obj_id, const char *method,
                     const mpx__args *args)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, mpx__wbuf_write);
    int rc = msgpack_pack_array(&pk, 4) | msgpack_pack_uint64(&pk, req_id) |
             msgpack_pack_uint64(&pk, obj_id) |
             msgpack_pack_str_with_body(&pk, method, strlen(method));
    if (args && args->raw) return rc | mpx__wbuf_write(b, args->raw, args->raw_len);
    rc |= msgpack_pack_array(&pk, args ? args->n : 0);
    for (size_t i = 0; rc == 0 && args && i < args->n; i++)
        rc = mpx__value_pack(b, args->items[i]);
    return rc;
}

/* A frame at least this large, built on the heap, is handed to libzmq rather than copied
 * into a message of its own: copying a 300 KB update was 20 µs of the client's 350. */
#define HAND_OVER_MIN (64 << 10)

static void frame_free(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* The frame as a ZeroMQ message: b's own heap bytes when the frame is large and b may give
 * them up (b is then left empty; libzmq frees them once sent), else a copy. */
static int frame_msg(zmq_msg_t *m, mpx__wbuf *b, bool give)
{
    if (give && b->data != b->inline_buf && b->size >= HAND_OVER_MIN) {
        size_t size = b->size;
        char *data = mpx__wbuf_release(b);
        if (zmq_msg_init_data(m, data, size, frame_free, NULL) == 0) return 0;
        free(data);
        return -1;
    }
    if (zmq_msg_init_size(m, b->size)) return -1;
    memcpy(zmq_msg_data(m), b->data, b->size);
    return 0;
}

/* Signs and sends a frame of the given kind; `give` lets a large frame's bytes go to libzmq
 * (frame_msg). Under mu. */
static int send_frame(mpx_client *c, mpx__wbuf *b, uint8_t kind, bool give)
{
    zmq_msg_t m;
    mpx__frame_header((uint8_t *)b->data, kind, c->sid, ++c->send_seq);
    if (mpx__mac_sign(&c->c2s, (uint8_t *)b->data, b->size) != 0) {
        c->send_seq--;
        return mpx__fail(MPX_ESYS, "the frame could not be signed (OpenSSL failed)");
    }
    if (frame_msg(&m, b, give)) {
        c->send_seq--;
        return mpx__fail(MPX_ENOMEM, "out of memory sending the frame");
    }
    if (zmq_msg_send(&m, c->sock, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(&m);
        c->send_seq--; /* nothing went out */
        return err == EAGAIN ? mpx__fail(MPX_ETIMEDOUT, "the send queue is full")
                             : client_break(c, MPX_ECONN, zmq_strerror(err));
    }
    c->last_send_ms = mpx__clock_ms();
    return 0;
}

/* Sends the deferred calls as one BATCH frame. If it cannot go out, each of its calls is
 * answered with the error. Under mu. */
static int batch_flush(mpx_client *c)
{
    if (c->batch_n == 0) return 0;
    uint8_t *count = (uint8_t *)c->batch.data + MPX_HDR_LEN;
    count[0] = 0xdd; /* array32 */
    for (int i = 0; i < 4; i++)
        count[1 + i] = (uint8_t)(c->batch_n >> (24 - 8 * i));
    int rc = c->broken ? mpx__fail(c->broken, "%s", c->broken_msg)
                       : send_frame(c, &c->batch, MPX_K_BATCH, false);
    if (rc) {
        for (pending *p = c->batch_first, *next; p; p = next) {
            next = p->next;
            pending_take(c, p->req_id);
            p->failed = rc;
            p->done = true;
        }
        pthread_cond_broadcast(&c->cv);
    }
    batch_reset(c);
    return rc;
}

/* Sends a packed call alone in a CALL frame and registers p. Under mu. */
static int call_send_alone(mpx_client *c, mpx__wbuf *b, pending *p)
{
    int rc = send_frame(c, b, MPX_K_CALL, true);
    if (rc == 0) pending_add(c, p);
    return rc;
}

/* Adds a packed call (b's body) to the send buffer and registers p; sends the buffer once it
 * is full, or would grow past what the server takes. A call too large to share a frame goes
 * alone, after the buffer. Under mu. */
static int batch_add(mpx_client *c, mpx__wbuf *b, pending *p)
{
    size_t body = b->size - MPX_HDR_LEN;
    size_t limit = c->max_message < BATCH_FLUSH_BYTES ? c->max_message : BATCH_FLUSH_BYTES;
    int rc = 0;
    if (c->batch.size - MPX_HDR_LEN + body > limit) rc = batch_flush(c);
    if (rc) return rc;
    if (MPX_BATCH_HDR + body > c->max_message) return call_send_alone(c, b, p);
    if (mpx__wbuf_write(&c->batch, b->data + MPX_HDR_LEN, body) != 0)
        return mpx__fail(MPX_ENOMEM, "out of memory buffering the call");
    pending_add(c, p);
    if (c->batch_n++ == 0) c->batch_first = p;
    return c->batch_n >= BATCH_FLUSH_CALLS ? batch_flush(c) : 0;
}

/* Sends a packed call now: alone as a CALL, or last in the buffered batch. Under mu. */
static int send_call(mpx_client *c, mpx__wbuf *b, pending *p)
{
    if (c->batch_n > 0) {
        int rc = batch_add(c, b, p);
        return rc ? rc : batch_flush(c);
    }
    return call_send_alone(c, b, p);
}

static int parse_result(pending *p, mpx__result *res)
{
    mpx__mp_cursor cur;
    uint32_t n, len;
    uint64_t req_id;
    int64_t status;
    const char *msg;
    if (p->failed) return mpx__fail(p->failed, "the call could not be sent");
    mpx__mp_init(&cur, (const uint8_t *)zmq_msg_data(&p->reply) + p->reply_off, p->reply_len);
    mpx__mp_array(&cur, &n);
    mpx__mp_uint(&cur, &req_id);
    if (mpx__mp_int(&cur, &status)) return mpx__fail(MPX_EPROTO, "malformed reply status");
    if (status != 0) {
        if (mpx__mp_str(&cur, &msg, &len)) return mpx__fail(MPX_EPROTO, "malformed error reply");
        return mpx__fail_remote(status > 0 && status < 1000 ? (int)-status : MPX_EPROTO, msg, len);
    }
    const uint8_t *start = cur.p;
    if (mpx__mp_skip(&cur) || cur.p != cur.end)
        return mpx__fail(MPX_EPROTO, "malformed reply payload");
    if (res) {
        size_t off = (size_t)(start - (const uint8_t *)zmq_msg_data(&p->reply));
        zmq_msg_init(&res->msg);
        zmq_msg_move(&res->msg, &p->reply);
        res->data = (const uint8_t *)zmq_msg_data(&res->msg) + off;
        res->len = (size_t)(cur.p - start);
    }
    return 0;
}

int mpx__call_send(mpx_client *c, uint64_t obj_id, const char *method, const mpx__args *args,
                   bool defer, pending *p)
{
    if (!mpx__client_ok(c)) return mpx__fail(MPX_EINVAL, "not a client handle");
    if (atomic_load(&c->fork_gen) != atomic_load(&fork_generation)) {
        int rc = client_after_fork(c);
        if (rc) return rc;
    }
    *p = (pending){.req_id = atomic_fetch_add(&c->next_req, 1),
                   .fork_gen = atomic_load(&c->fork_gen)};
    zmq_msg_init(&p->reply);
    mpx__wbuf b;
    mpx__wbuf_init(&b, MPX_HDR_LEN);
    if (pack_call(&b, p->req_id, obj_id, method, args) != 0) {
        mpx__wbuf_free(&b);
        return mpx__fail(MPX_ENOMEM, "out of memory encoding the call");
    }
    if (b.size - MPX_HDR_LEN > c->max_message) {
        size_t size = b.size - MPX_HDR_LEN;
        mpx__wbuf_free(&b);
        return mpx__fail(MPX_ETOOBIG, "a request of %zu bytes exceeds the server's limit of %zu",
                         size, c->max_message);
    }
    client_lock(c);
    int rc = c->broken ? mpx__fail(c->broken, "%s", c->broken_msg)
             : defer   ? batch_add(c, &b, p)
                       : send_call(c, &b, p);
    client_unlock(c);
    mpx__wbuf_free(&b);
    return rc;
}

int mpx_client_flush(mpx_client *c)
{
    if (!mpx__client_ok(c)) return mpx__fail(MPX_EINVAL, "not a client handle");
    if (atomic_load(&c->fork_gen) != atomic_load(&fork_generation)) return 0; /* nothing ours */
    client_lock(c);
    int rc = batch_flush(c);
    client_unlock(c);
    return rc;
}

int64_t mpx__call_deadline(mpx_client *c, int timeout_ms)
{
    if (timeout_ms == MPX__NO_TIMEOUT) return INT64_MAX;
    return mpx__clock_ms() + (timeout_ms > 0 ? timeout_ms : atomic_load(&c->timeout_ms));
}

/* A call sent before a fork() belongs to the parent's session: the child never sees its
 * reply, and its entry is not in the child's list. */
static bool call_stale(const pending *p)
{
    return p->fork_gen != atomic_load(&fork_generation);
}

int mpx__call_wait(mpx_client *c, pending *p, int64_t deadline, mpx__result *res)
{
    if (p->orphaned) return mpx__fail(MPX_ECLOSED, "the client was freed before the reply came");
    if (call_stale(p)) return mpx__fail(MPX_ECONN, "the call was sent before a fork()");
    client_lock(c);
    if (!p->done) batch_flush(c); /* p itself may be in the buffer; a failure answers it */
    int rc = wait_reply(c, p, deadline);
    client_unlock(c);
    if (rc == 0) rc = parse_result(p, res);
    return rc;
}

bool mpx__call_poll(mpx_client *c, pending *p)
{
    if (p->done || p->orphaned || call_stale(p)) return true;
    client_lock(c); /* a reader stepping aside waits on `turn`: the socket is ours meanwhile */
    if (!p->done) batch_flush(c);
    if (!p->done && !c->broken) drain_replies(c);
    bool over = p->done || c->broken;
    client_unlock(c);
    return over;
}

void mpx__call_cancel(mpx_client *c, pending *p)
{
    if (!p->done && !p->orphaned && !call_stale(p)) {
        client_lock(c);
        pending_take(c, p->req_id);
        client_unlock(c);
    }
    zmq_msg_close(&p->reply);
}

int mpx__invoke(mpx_client *c, uint64_t obj_id, const char *method, const mpx__args *args,
                int timeout_ms, mpx__result *res)
{
    pending p;
    int rc = mpx__call_send(c, obj_id, method, args, false, &p);
    if (rc) return rc;
    rc = mpx__call_wait(c, &p, mpx__call_deadline(c, timeout_ms), res);
    zmq_msg_close(&p.reply);
    return rc;
}

void mpx__result_close(mpx__result *res)
{
    zmq_msg_close(&res->msg);
}

int mpx__result_value(const mpx__result *res, mpx_value **out)
{
    int rc = mpx_value_decode(res->data, res->len, out);
    return rc ? mpx__fail(rc, "cannot decode the result: %s", mpx_last_error()) : 0;
}

/* ---- the rest of the client API ---------------------------------------------------------- */

int mpx_ping(mpx_client *c)
{
    return mpx__invoke(c, 0, "ping", NULL, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_server_stats(mpx_client *c, mpx_value **out)
{
    mpx__result res;
    if (!out) return mpx__fail(MPX_EINVAL, "mpx_server_stats: no out argument");
    int rc = mpx__invoke(c, 0, "stats", NULL, MPX_TIMEOUT_DEFAULT, &res);
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

void mpx__client_link(mpx_client *c, mpx_proxy *p)
{
    client_lock(c); /* the reader may hold mu while it polls */
    p->prev = NULL;
    p->next = c->proxies;
    if (c->proxies) c->proxies->prev = p;
    c->proxies = p;
    client_unlock(c);
}

void mpx__client_unlink(mpx_client *c, mpx_proxy *p)
{
    client_lock(c); /* the reader may hold mu while it polls */
    if (p->prev)
        p->prev->next = p->next;
    else
        c->proxies = p->next;
    if (p->next) p->next->prev = p->prev;
    client_unlock(c);
}

static void send_bye(mpx_client *c)
{
    uint8_t frame[MPX_HDR_LEN];
    client_lock(c); /* the reader may hold mu while it polls */
    batch_flush(c); /* deferred calls still run, as those already sent do */
    if (!c->broken) {
        mpx__frame_header(frame, MPX_K_BYE, c->sid, ++c->send_seq);
        if (mpx__mac_sign(&c->c2s, frame, sizeof frame) == 0)
            zmq_send(c->sock, frame, sizeof frame, ZMQ_DONTWAIT);
    }
    client_unlock(c);
}

void mpx_client_free(mpx_client **cp)
{
    if (!cp || !mpx__client_ok(*cp)) return;
    mpx_client *c = *cp;
    *cp = NULL;
    heartbeat_stop(c);
    for (mpx_proxy *p = c->proxies; p; p = p->next)
        p->client = NULL; /* the session's end releases them all */
    for (pending *p = c->pending; p; p = p->next)
        p->orphaned = true; /* futures still in flight: their waits return MPX_ECLOSED */
    if (atomic_load(&c->fork_gen) != atomic_load(&fork_generation)) {
        /* A forked child that never used this client: the inherited socket is not ours. */
        if (n_orphans < sizeof orphans / sizeof *orphans) orphans[n_orphans++] = c->zctx;
        c->zctx = c->sock = NULL;
    } else {
        send_bye(c);
    }
    client_destroy(c);
}
