/*
 * park_scale.c — what 10,000 parked calls cost mpxd: its threads, its memory per waiter, and
 * the latency another client sees on dict reads meanwhile. Prints one table.
 *
 *   park_scale [WAITERS [READS]]        (defaults 10000 and 20000)
 *
 * mpxd is $MPX_MPXD or the one in the build tree. The waiters are queue gets on an empty
 * queue, sent by one connection that speaks the protocol itself (docs/protocol.md) so it can
 * keep them all outstanding; the reader is an ordinary libmpx client. Every loop is bounded.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "codec.h"
#include "bench_server.h"
#include "internal.h"
#include "mpx.h"

static const char key[] = "park-scale-benchmark-key";
static bench_server server;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "park_scale: %s: %s\n", what, mpx_last_error());
    bench_server_stop(&server);
    exit(1);
}

/* A field of /proc/PID/status, in its own unit (kB for VmRSS). */
static long proc_status(const char *field)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)server.pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0) v = atol(line + strlen(field) + 1);
    if (f) fclose(f);
    return v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* p50 and p99 of `reads` dict gets, in microseconds. */
static void measure_reads(mpx_proxy *d, int reads, double *p50, double *p99)
{
    int64_t *t = malloc(sizeof *t * (size_t)reads);
    mpx_value *k = mpx_str("key-1"), *v = NULL;
    for (int i = 0; i < reads; i++) {
        int64_t t0 = now_us();
        if (mpx_dict_get(d, k, &v)) die("dict get");
        t[i] = now_us() - t0;
        mpx_value_free(&v);
    }
    qsort(t, (size_t)reads, sizeof *t, cmp_i64);
    *p50 = (double)t[reads / 2];
    *p99 = (double)t[reads * 99 / 100];
    mpx_value_free(&k);
    free(t);
}

/* The raw waiter: handshake, then `n` CALLs queue.get() sent without reading. */
typedef struct {
    void *ctx, *sock;
} raw_client;

static void raw_connect(raw_client *r)
{
    static const uint8_t hello[] = {
        MPX_PROTOCOL_VERSION, MPX_K_HELLO, 0x81, 0xa8, 'v', 'e', 'r', 's', 'i', 'o', 'n', 's', 0x91,
        MPX_PROTOCOL_VERSION};
    uint8_t buf[512];
    mpx__frame f;
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    int hwm = 0;
    zmq_setsockopt(r->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (mpx__curve_client(r->sock, (const uint8_t *)key, strlen(key))) die("raw keys");
    zmq_connect(r->sock, server.endpoint);
    zmq_send(r->sock, hello, sizeof hello, 0);
    zmq_pollitem_t it = {.socket = r->sock, .events = ZMQ_POLLIN};
    int n = zmq_poll(&it, 1, 5000) == 1 ? zmq_recv(r->sock, buf, sizeof buf, 0) : -1;
    if (n < 0 || mpx__frame_parse(buf, (size_t)n, &f) || f.kind != MPX_K_WELCOME)
        die("raw handshake");
}

static void raw_park_gets(raw_client *r, uint64_t queue_id, int n)
{
    for (int i = 0; i < n; i++) {
        /* [req, queue_id, "get", [true, nil]] */
        uint8_t frame[MPX_HDR_LEN + 32], *b = frame + MPX_HDR_LEN;
        size_t len = 0;
        b[len++] = 0x94;
        b[len++] = 0xcf;
        mpx__put_u64be(b + len, (uint64_t)i + 1);
        len += 8;
        b[len++] = 0xcf;
        mpx__put_u64be(b + len, queue_id);
        len += 8;
        memcpy(b + len, "\xa3get\x92\xc3\xc0", 7);
        len += 7;
        mpx__frame_header(frame, MPX_K_CALL);
        zmq_send(r->sock, frame, MPX_HDR_LEN + len, 0);
    }
}

static uint64_t stat_of(mpx_client *c, const char *name)
{
    mpx_value *s = NULL;
    uint64_t v = 0;
    if (mpx_server_stats(c, &s)) die("stats");
    mpx_value_get_uint(mpx_map_get(s, name), &v);
    mpx_value_free(&s);
    return v;
}

int main(int argc, char **argv)
{
    int waiters = argc > 1 ? atoi(argv[1]) : 10000, reads = argc > 2 ? atoi(argv[2]) : 20000;
    if (sodium_init() < 0 || waiters <= 0 || reads <= 0) die("arguments");
    if (bench_server_start(&server, key, NULL)) return 1;
    mpx_client *c = NULL;
    mpx_proxy *d = NULL, *q = NULL;
    if (mpx_connect(server.endpoint, key, strlen(key), &c) || mpx_dict_new(c, &d) ||
        mpx_queue_new(c, 0, &q))
        die("connect");
    for (int i = 0; i < 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "key-%d", i);
        mpx_value *k = mpx_str(name), *v = mpx_str("0123456789abcdef");
        if (mpx_dict_set(d, k, v)) die("fill");
        mpx_value_free(&k);
        mpx_value_free(&v);
    }
    double idle50, idle99, busy50, busy99;
    measure_reads(d, reads, &idle50, &idle99);
    long rss_idle = proc_status("VmRSS"), threads_idle = proc_status("Threads");

    raw_client r = {0};
    raw_connect(&r);
    int64_t t0 = now_us();
    raw_park_gets(&r, mpx_proxy_id(q), waiters);
    for (int i = 0; i < 3000 && stat_of(c, "parked") < (uint64_t)waiters; i++)
        usleep(10 * 1000);
    double park_ms = (double)(now_us() - t0) / 1000.0;
    uint64_t parked = stat_of(c, "parked");
    measure_reads(d, reads, &busy50, &busy99);
    long rss_busy = proc_status("VmRSS"), threads_busy = proc_status("Threads");

    printf("mpxd with %d calls parked on one connection (%d dict reads measured each way)\n",
           waiters, reads);
    printf("%-34s %14s %14s %8s\n", "metric", "idle", "parked", "ratio");
    printf("%-34s %14.1f %14.1f %8.2f\n", "dict get p50 (us)", idle50, busy50, busy50 / idle50);
    printf("%-34s %14.1f %14.1f %8.2f\n", "dict get p99 (us)", idle99, busy99, busy99 / idle99);
    printf("%-34s %14ld %14ld %8.2f\n", "mpxd resident memory (kB)", rss_idle, rss_busy,
           (double)rss_busy / (double)rss_idle);
    printf("%-34s %14ld %14ld\n", "mpxd threads (loop, ZAP, libzmq)", threads_idle, threads_busy);
    printf("%-34s %14s %14llu\n", "calls parked", "0", (unsigned long long)parked);
    printf("%-34s %14s %14.0f\n", "bytes of memory per parked call", "-",
           (double)(rss_busy - rss_idle) * 1024.0 / (double)waiters);
    printf("%-34s %14s %14.1f\n", "time to park them all (ms)", "-", park_ms);

    zmq_close(r.sock);
    zmq_ctx_term(r.ctx);
    mpx_proxy_free(&q);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    return bench_server_stop(&server) != 0 || parked != (uint64_t)waiters;
}
