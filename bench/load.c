/*
 * load.c — the load generator of the comparative benchmark (bench/compare.py runs it).
 *
 *   load echo-server ENDPOINT
 *       A raw ZeroMQ ROUTER that sends every message straight back: the floor of a round trip
 *       on this transport. Prints "ready" once bound; runs until killed.
 *
 *   load run PEER WORKLOAD TARGET CLIENTS SECONDS [INFLIGHT [placed]]
 *       Forks CLIENTS processes, each with its own connection, that run WORKLOAD against PEER
 *       for SECONDS (after a short warm-up) with INFLIGHT calls outstanding (default 1), then
 *       prints one line: "ops=<total ops/s> p50=<us> p99=<us> n=<ops>". With "placed", client
 *       i runs on the i-th CPU it may use (round robin), and an mpx or zmq client puts its
 *       libzmq I/O thread there too (mpx_connect_opts, ZMQ_THREAD_AFFINITY_CPU_ADD).
 *
 * PEER and TARGET:   mpx    an mpxd endpoint; the authkey file is $MPX_BENCH_KEYFILE
 *                    zmq    an echo-server endpoint
 *                    redis  tcp://HOST:PORT or unix:PATH
 * WORKLOAD:          get, set     one small dict read / write (16-byte key and value); with
 *                                 INFLIGHT > 1 mpx uses futures and Redis pipelines
 *                    queue        a put then a get on one queue
 *                    lock         an acquire then a release of one lock (mpx only)
 *                    batch        store 10,000 pairs in the peer's fastest form; one "op" is
 *                                 the whole batch, and p50/p99 are its duration
 *                    connect      connect and authenticate, then disconnect (mpx, redis)
 *                    manager      start a private manager and make one call (mpx; TARGET -)
 *                    fill         store 1,000,000 pairs once, 10,000 a message, then print
 *                                 "filled" and wait for a line on stdin (the caller reads the
 *                                 server's memory meanwhile)
 *
 * Every loop is bounded by a deadline; a client that fails prints why and the run exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <zmq.h>

#include "mpx.h"

#define MAX_SAMPLES 400000 /* latency samples kept per client; ops past it are only counted */
#define WARMUP_US 300000
#define BATCH_PAIRS 10000
#define FILL_PAIRS 1000000
#define ECHO_SIZE 56 /* bytes of an mpx dict-get CALL frame: header 34, body ~22 */

typedef struct {
    const char *peer, *workload, *target;
    int clients, inflight;
    double seconds;
    int index; /* this client's number, for distinct keys */
    bool placed;
    int cpu; /* placed: the CPU this client runs on */
} run_cfg;

/* What one client measured: ops done in the measured window and their latencies (us). */
typedef struct {
    uint64_t ops;
    int64_t elapsed_us;
    uint32_t n_samples;
    uint32_t samples[MAX_SAMPLES];
} result;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "load: %s: %s\n", what, why);
    exit(1);
}

static void record(result *r, int64_t us)
{
    if (r->n_samples < MAX_SAMPLES) r->samples[r->n_samples++] = (uint32_t)(us < 0 ? 0 : us);
}

/* Runs op() until the deadline: first a warm-up whose ops are not counted. op returns the
 * number of operations it completed and records their latencies. */
typedef uint64_t (*op_fn)(void *ctx, result *r, bool measure);

static void drive(op_fn op, void *ctx, double seconds, result *r)
{
    int64_t warm_end = now_us() + WARMUP_US;
    while (now_us() < warm_end)
        op(ctx, r, false);
    int64_t t0 = now_us(), end = t0 + (int64_t)(seconds * 1e6);
    while (now_us() < end)
        r->ops += op(ctx, r, true);
    r->elapsed_us = now_us() - t0;
}

/* ---- raw ZeroMQ --------------------------------------------------------------------------- */

static _Noreturn void echo_server(const char *endpoint)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(s, endpoint) != 0) fail("bind", zmq_strerror(errno));
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        zmq_msg_t rid, msg;
        zmq_msg_init(&rid);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&rid, s, 0) < 0 || zmq_msg_recv(&msg, s, 0) < 0) continue;
        zmq_msg_send(&rid, s, ZMQ_SNDMORE);
        zmq_msg_send(&msg, s, 0);
    }
}

typedef struct {
    void *ctx, *sock;
    int inflight;
    int64_t sent_at[1024]; /* by slot: replies come back in order */
    uint64_t next_send, next_recv;
} zmq_client;

static uint64_t zmq_op(void *p, result *r, bool measure)
{
    zmq_client *z = p;
    char buf[ECHO_SIZE] = {0};
    while (z->next_send - z->next_recv < (uint64_t)z->inflight) {
        z->sent_at[z->next_send++ % 1024] = now_us();
        if (zmq_send(z->sock, buf, sizeof buf, 0) != sizeof buf) fail("zmq send", "");
    }
    if (zmq_recv(z->sock, buf, sizeof buf, 0) < 0) fail("zmq recv", zmq_strerror(errno));
    if (measure) record(r, now_us() - z->sent_at[z->next_recv % 1024]);
    z->next_recv++;
    return 1;
}

static void run_zmq(const run_cfg *cfg, result *r)
{
    zmq_client z = {.inflight = cfg->inflight};
    z.ctx = zmq_ctx_new();
    if (cfg->placed && zmq_ctx_set(z.ctx, ZMQ_THREAD_AFFINITY_CPU_ADD, cfg->cpu))
        fail("placed", zmq_strerror(errno));
    z.sock = zmq_socket(z.ctx, ZMQ_DEALER);
    if (zmq_connect(z.sock, cfg->target) != 0) fail("zmq connect", zmq_strerror(errno));
    drive(zmq_op, &z, cfg->seconds, r);
    zmq_close(z.sock);
    zmq_ctx_term(z.ctx);
}

/* ---- mpx ---------------------------------------------------------------------------------- */

typedef struct {
    mpx_client *c;
    mpx_proxy *obj;
    mpx_value *key, *val;
    mpx_value *pairs; /* batch: the worker's 10,000 pairs, built once */
    const char *workload;
    const char *target;
    int inflight;
    mpx_future *ring[1024]; /* pipelined: the calls in flight, oldest at head */
    int64_t sent_at[1024];
    uint64_t head, tail;
} mpx_bench;

static void mpx_check(int rc, const char *what)
{
    if (rc) fail(what, mpx_last_error());
}

static uint64_t mpx_op(void *p, result *r, bool measure)
{
    mpx_bench *b = p;
    mpx_value *out = NULL;
    bool ok;
    int64_t t0 = now_us();
    if (strcmp(b->workload, "get") == 0) {
        mpx_check(mpx_dict_get(b->obj, b->key, &out), "dict get");
    } else if (strcmp(b->workload, "set") == 0) {
        mpx_check(mpx_dict_set(b->obj, b->key, b->val), "dict set");
    } else if (strcmp(b->workload, "queue") == 0) {
        mpx_check(mpx_queue_put(b->obj, b->val, 0), "queue put");
        mpx_check(mpx_queue_get(b->obj, 0, &out), "queue get");
    } else {
        mpx_check(mpx_lock_acquire(b->obj, MPX_FOREVER, &ok, NULL, NULL), "lock acquire");
        mpx_check(mpx_lock_release(b->obj), "lock release");
    }
    if (measure) record(r, now_us() - t0);
    mpx_value_free(&out);
    return 1;
}

/* Keeps b->inflight gets or sets in flight through futures: waits for the oldest, sends one
 * more. */
static uint64_t mpx_pipelined_op(void *p, result *r, bool measure)
{
    mpx_bench *b = p;
    bool get = strcmp(b->workload, "get") == 0;
    while (b->tail - b->head < (uint64_t)b->inflight) {
        mpx_future **f = &b->ring[b->tail % 1024];
        b->sent_at[b->tail++ % 1024] = now_us();
        mpx_check(get ? mpx_dict_get_async(b->obj, b->key, f)
                      : mpx_dict_set_async(b->obj, b->key, b->val, f),
                  "async call");
    }
    mpx_value *out = NULL;
    mpx_future **f = &b->ring[b->head % 1024];
    mpx_check(mpx_future_wait(*f, get ? &out : NULL), "future");
    if (measure) record(r, now_us() - b->sent_at[b->head % 1024]);
    b->head++;
    mpx_future_free(f);
    mpx_value_free(&out);
    return 1;
}

/* The pairs a worker stores: keys "<prefix>-<client>-<i>", 16-byte values. */
static mpx_value *make_pairs(const char *prefix, int index, int n)
{
    mpx_value *pairs = mpx_map();
    for (int i = 0; pairs && i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "%s%02d-%07d", prefix, index, i);
        mpx_value *kv = mpx_str(k), *vv = mpx_str("0123456789abcdef");
        if (!kv || !vv || mpx_map_put(pairs, &kv, &vv)) fail("pairs", "out of memory");
    }
    return pairs;
}

/* One batch: the worker's BATCH_PAIRS pairs stored with dict.update in one message. */
static uint64_t mpx_batch_op(void *p, result *r, bool measure)
{
    mpx_bench *b = p;
    int64_t t0 = now_us();
    mpx_check(mpx_dict_update(b->obj, b->pairs), "dict update");
    if (measure) record(r, now_us() - t0);
    return 1;
}

static uint64_t mpx_connect_op(void *p, result *r, bool measure)
{
    mpx_bench *b = p;
    mpx_client *c = NULL;
    int64_t t0 = now_us();
    mpx_check(mpx_connect_keyfile(b->target, getenv("MPX_BENCH_KEYFILE"), &c), "connect");
    if (measure) record(r, now_us() - t0);
    mpx_client_free(&c);
    return 1;
}

/* A private manager, from nothing to the answer of its first call. */
static uint64_t mpx_manager_op(void *p, result *r, bool measure)
{
    (void)p;
    mpx_manager *m = NULL;
    int64_t t0 = now_us();
    mpx_check(mpx_manager_start(&m), "manager start");
    mpx_check(mpx_ping(mpx_manager_client(m)), "manager ping");
    if (measure) record(r, now_us() - t0);
    mpx_manager_shutdown(&m);
    return 1;
}

/* Tells the caller the data is in, then holds it until told to go on. */
static void filled(void)
{
    char line[8];
    printf("filled\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return;
}

static void mpx_fill(mpx_bench *b, result *r)
{
    int64_t t0 = now_us();
    for (int i = 0; i < FILL_PAIRS / BATCH_PAIRS; i++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "f%03d-", i);
        mpx_value *pairs = make_pairs(prefix, 0, BATCH_PAIRS);
        mpx_check(mpx_dict_update(b->obj, pairs), "dict update");
        mpx_value_free(&pairs);
    }
    record(r, now_us() - t0);
    r->ops = 1;
    r->elapsed_us = now_us() - t0;
    filled();
}

/* Opens the object the workload uses. */
static void mpx_open_object(mpx_bench *b, int index)
{
    char key[32];
    snprintf(key, sizeof key, "key-%09d", index);
    b->key = mpx_str(key);
    b->val = mpx_str("0123456789abcdef");
    if (strcmp(b->workload, "queue") == 0)
        mpx_check(mpx_queue_new(b->c, 0, &b->obj), "queue");
    else if (strcmp(b->workload, "lock") == 0)
        mpx_check(mpx_lock_open(b->c, "bench.lock", &b->obj), "lock");
    else
        mpx_check(mpx_dict_open(b->c, "bench.dict", &b->obj), "dict");
    if (strcmp(b->workload, "get") == 0) mpx_check(mpx_dict_set(b->obj, b->key, b->val), "set");
}

static void run_mpx(const run_cfg *cfg, result *r)
{
    mpx_bench *b = calloc(1, sizeof *b);
    const char *keyfile = getenv("MPX_BENCH_KEYFILE"), *w = cfg->workload;
    if (!b) fail("mpx", "out of memory");
    if (!keyfile && strcmp(w, "manager") != 0) fail("mpx", "MPX_BENCH_KEYFILE is not set");
    *b = (mpx_bench){.workload = w, .target = cfg->target, .inflight = cfg->inflight};
    if (strcmp(w, "manager") == 0) {
        drive(mpx_manager_op, b, cfg->seconds, r);
    } else if (strcmp(w, "connect") == 0) {
        drive(mpx_connect_op, b, cfg->seconds, r);
    } else {
        mpx_connect_options o = MPX_CONNECT_OPTIONS_INIT;
        o.keyfile = keyfile;
        o.place_io = cfg->placed;
        o.io_cpu = cfg->cpu;
        mpx_check(mpx_connect_opts(cfg->target, &o, &b->c), "connect");
        mpx_open_object(b, cfg->index);
        if (strcmp(w, "fill") == 0) {
            mpx_fill(b, r);
        } else if (strcmp(w, "batch") == 0) {
            b->pairs = make_pairs("b", cfg->index, BATCH_PAIRS);
            drive(mpx_batch_op, b, cfg->seconds, r);
        } else {
            drive(cfg->inflight > 1 ? mpx_pipelined_op : mpx_op, b, cfg->seconds, r);
        }
    }
    for (; b->head < b->tail; b->head++)
        mpx_future_free(&b->ring[b->head % 1024]);
    mpx_value_free(&b->pairs);
    mpx_value_free(&b->key);
    mpx_value_free(&b->val);
    mpx_proxy_free(&b->obj);
    mpx_client_free(&b->c);
    free(b);
}

/* ---- Redis (hiredis) ---------------------------------------------------------------------- */

static redisContext *redis_connect(const char *target)
{
    redisContext *c = NULL;
    if (strncmp(target, "unix:", 5) == 0) {
        c = redisConnectUnix(target + 5);
    } else if (strncmp(target, "tcp://", 6) == 0) {
        char host[64];
        int port;
        if (sscanf(target + 6, "%63[^:]:%d", host, &port) != 2) fail("redis target", target);
        c = redisConnect(host, port);
    }
    if (!c || c->err) fail("redis connect", c ? c->errstr : target);
    return c;
}

static void redis_reply(redisContext *c, const char *what)
{
    redisReply *rep = NULL;
    if (redisGetReply(c, (void **)&rep) != REDIS_OK || !rep || rep->type == REDIS_REPLY_ERROR)
        fail(what, rep ? rep->str : c->errstr);
    freeReplyObject(rep);
}

typedef struct {
    redisContext *c;
    const char *workload;
    const char *target;
    char key[32];
    int inflight;
    int index;
} redis_bench;

static void redis_append(redis_bench *b)
{
    const char *w = b->workload, *val = "0123456789abcdef";
    if (strcmp(w, "get") == 0)
        redisAppendCommand(b->c, "HGET bench.dict %s", b->key);
    else if (strcmp(w, "set") == 0)
        redisAppendCommand(b->c, "HSET bench.dict %s %s", b->key, val);
    else
        redisAppendCommand(b->c, "LPUSH %s %s", b->key, val);
}

/* inflight commands sent together, then their replies read: Redis's pipelining. A queue op
 * is an LPUSH then an RPOP, as two round trips when not pipelined. */
static uint64_t redis_op(void *p, result *r, bool measure)
{
    redis_bench *b = p;
    int64_t t0 = now_us();
    bool queue = strcmp(b->workload, "queue") == 0;
    for (int i = 0; i < b->inflight; i++) {
        redis_append(b);
        if (queue && b->inflight == 1) redis_reply(b->c, "redis");
        if (queue) redisAppendCommand(b->c, "RPOP %s", b->key);
    }
    for (int i = 0; i < b->inflight * (queue && b->inflight > 1 ? 2 : 1); i++)
        redis_reply(b->c, "redis");
    int64_t dt = now_us() - t0;
    for (int i = 0; measure && i < b->inflight; i++)
        record(r, dt);
    return (uint64_t)b->inflight;
}

/* Stores n pairs "<prefix><index>-<i>" in hash `hash` as pipelined HSETs, 1,000 per round
 * trip. */
static void redis_store(redisContext *c, const char *hash, const char *prefix, int index, int n)
{
    for (int i = 0; i < n; i += 1000) {
        for (int j = i; j < i + 1000 && j < n; j++)
            redisAppendCommand(c, "HSET %s %s%02d-%07d 0123456789abcdef", hash, prefix, index, j);
        for (int j = i; j < i + 1000 && j < n; j++)
            redis_reply(c, "redis hset");
    }
}

/* One batch: the worker's BATCH_PAIRS pairs. */
static uint64_t redis_batch_op(void *p, result *r, bool measure)
{
    redis_bench *b = p;
    int64_t t0 = now_us();
    redis_store(b->c, "bench.batch", "b", b->index, BATCH_PAIRS);
    if (measure) record(r, now_us() - t0);
    return 1;
}

static uint64_t redis_connect_op(void *p, result *r, bool measure)
{
    redis_bench *b = p;
    int64_t t0 = now_us();
    redisContext *c = redis_connect(b->target);
    redisAppendCommand(c, "PING"); /* the first answer: the connection is usable */
    redis_reply(c, "redis ping");
    if (measure) record(r, now_us() - t0);
    redisFree(c);
    return 1;
}

static void run_redis(const run_cfg *cfg, result *r)
{
    redis_bench b = {.workload = cfg->workload,
                     .target = cfg->target,
                     .inflight = cfg->inflight,
                     .index = cfg->index};
    if (strcmp(cfg->workload, "connect") == 0) {
        drive(redis_connect_op, &b, cfg->seconds, r);
        return;
    }
    b.c = redis_connect(cfg->target);
    if (strcmp(cfg->workload, "fill") == 0) {
        int64_t t0 = now_us();
        for (int i = 0; i < FILL_PAIRS / BATCH_PAIRS; i++) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "f%03d-", i);
            redis_store(b.c, "bench.fill", prefix, 0, BATCH_PAIRS);
        }
        record(r, now_us() - t0);
        r->ops = 1;
        r->elapsed_us = now_us() - t0;
        filled();
        redisFree(b.c);
        return;
    }
    snprintf(b.key, sizeof b.key, "key-%09d", cfg->index);
    if (strcmp(cfg->workload, "get") == 0) {
        redisAppendCommand(b.c, "HSET bench.dict %s 0123456789abcdef", b.key);
        redis_reply(b.c, "redis hset");
    }
    drive(strcmp(cfg->workload, "batch") == 0 ? redis_batch_op : redis_op, &b, cfg->seconds, r);
    redisFree(b.c);
}

/* ---- processes and results ---------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Pins this client process to the (index % n)-th of the n CPUs it may use. */
static void place_client(run_cfg *cfg)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed)) fail("placed", strerror(errno));
    int skip = cfg->index % CPU_COUNT(&allowed);
    for (cfg->cpu = 0; !CPU_ISSET(cfg->cpu, &allowed) || skip-- > 0; cfg->cpu++)
        ;
    CPU_ZERO(&one);
    CPU_SET(cfg->cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one)) fail("placed", strerror(errno));
}

static void run_client(run_cfg *cfg, int out_fd)
{
    result *r = calloc(1, sizeof *r);
    if (!r) fail("client", "out of memory");
    if (cfg->placed) place_client(cfg);
    if (strcmp(cfg->peer, "mpx") == 0)
        run_mpx(cfg, r);
    else if (strcmp(cfg->peer, "zmq") == 0)
        run_zmq(cfg, r);
    else if (strcmp(cfg->peer, "redis") == 0)
        run_redis(cfg, r);
    else
        fail("peer", cfg->peer);
    size_t len = offsetof(result, samples) + r->n_samples * sizeof r->samples[0];
    for (size_t off = 0; off < len;) {
        ssize_t n = write(out_fd, (char *)r + off, len - off);
        if (n <= 0) fail("client", "cannot report");
        off += (size_t)n;
    }
    free(r);
}

static bool read_all(int fd, void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = read(fd, (char *)buf + off, len - off);
        if (n <= 0) return false;
        off += (size_t)n;
    }
    return true;
}

static int run(run_cfg *cfg)
{
    int fds[64][2];
    pid_t pids[64];
    if (cfg->clients < 1 || cfg->clients > 64 || cfg->inflight < 1 || cfg->inflight > 1024)
        fail("run", "1 to 64 clients, 1 to 1024 in flight");
    for (int i = 0; i < cfg->clients; i++) {
        if (pipe(fds[i])) fail("pipe", strerror(errno));
        if ((pids[i] = fork()) == 0) {
            close(fds[i][0]);
            cfg->index = i;
            run_client(cfg, fds[i][1]);
            _exit(0);
        }
        close(fds[i][1]);
    }
    uint32_t *all = malloc(sizeof *all * MAX_SAMPLES * (size_t)cfg->clients);
    size_t n_all = 0;
    uint64_t ops = 0;
    double rate = 0;
    bool ok = all != NULL;
    result *r = malloc(sizeof *r);
    for (int i = 0; i < cfg->clients; i++) {
        int status;
        bool got = ok && r && read_all(fds[i][0], r, offsetof(result, samples)) &&
                   r->n_samples <= MAX_SAMPLES &&
                   read_all(fds[i][0], all + n_all, r->n_samples * sizeof *all);
        close(fds[i][0]);
        waitpid(pids[i], &status, 0);
        ok = got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) break;
        n_all += r->n_samples;
        ops += r->ops;
        rate += (double)r->ops * 1e6 / (double)r->elapsed_us;
    }
    free(r);
    if (!ok || n_all == 0) {
        free(all);
        fail("run", "a client failed");
    }
    qsort(all, n_all, sizeof *all, cmp_u32);
    printf("ops=%.0f p50=%u p99=%u n=%llu\n", rate, all[n_all / 2], all[n_all * 99 / 100],
           (unsigned long long)ops);
    free(all);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "echo-server") == 0) echo_server(argv[2]);
    if (argc >= 7 && strcmp(argv[1], "run") == 0) {
        run_cfg cfg = {.peer = argv[2],
                       .workload = argv[3],
                       .target = argv[4],
                       .clients = atoi(argv[5]),
                       .seconds = atof(argv[6]),
                       .inflight = argc > 7 ? atoi(argv[7]) : 1,
                       .placed = argc > 8 && strcmp(argv[8], "placed") == 0};
        return run(&cfg);
    }
    fprintf(stderr, "usage: load echo-server ENDPOINT\n"
                    "       load run PEER WORKLOAD TARGET CLIENTS SECONDS [INFLIGHT [placed]]\n");
    return 2;
}
