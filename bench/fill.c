/*
 * fill.c — what a large dict costs everyone else: one client fills a dict to 5 million pairs in
 * 10,000-pair updates while another sends single gets at a fixed rate, open loop (each get is
 * sent on schedule whatever became of the last, so a stall of the server delays, and counts,
 * every get behind it). It prints the p50, p99 and maximum of the gets and of the updates, and
 * the same for the same run at 50,000 pairs (twenty fills of new dicts), then checks the goals:
 *   - the slowest get during the fill is at most 20 ms;
 *   - at 5 M pairs (the fill's last tenth) the slowest update is at most 3 x their median,
 *   - and that median at most 1.5 x the median at 50,000 pairs.
 *   build/bench/fill [PAIRS [GETS_PER_SECOND]]
 */
#define _GNU_SOURCE
#include <mpx.h>

#include "bench_server.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UPDATE_PAIRS 10000
#define SMALL 50000
#define MAX_OUTSTANDING 65536

static bench_server server;

static void die(const char *what)
{
    fprintf(stderr, "fill: %s: %s\n", what, mpx_last_error());
    bench_server_stop(&server);
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
    double *v;
    size_t n, cap;
} samples;

static void add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = x;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-th quantile (0..1) of s, sorting it. */
static double quantile(samples *s, double q)
{
    if (!s->n) return 0;
    qsort(s->v, s->n, sizeof *s->v, cmp);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

/* ---- the getter: open loop -------------------------------------------------------------- */

/* One thread sends a get at each due time, sleeping in between; the other waits for the
 * replies in order. Neither spins: on a small machine the benchmark must not take the CPU
 * from the server it measures. */

static atomic_bool filling = true;
static int gets_per_second = 500;

typedef struct {
    mpx_future *f;
    double due; /* when it was scheduled */
} outstanding;

typedef struct {
    samples *lat;
    mpx_client *c;
    mpx_proxy *d;
    outstanding out[MAX_OUTSTANDING];
    size_t head, tail; /* tail is written by the sender, head by the receiver */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sent_all;
} getter_state;

static void sleep_until_ms(double t)
{
    long long ns = (long long)(t * 1e6);
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *get_sender(void *arg)
{
    getter_state *g = arg;
    double every = 1000.0 / gets_per_second, next = now_ms();
    mpx_value *key = mpx_str("k00000001");
    while (atomic_load(&filling)) {
        sleep_until_ms(next);
        pthread_mutex_lock(&g->mu);
        if (g->tail - g->head < MAX_OUTSTANDING) {
            outstanding *o = &g->out[g->tail % MAX_OUTSTANDING];
            o->due = next;
            if (mpx_dict_get_async(g->d, key, &o->f) || mpx_client_flush(g->c)) die("get");
            g->tail++;
            pthread_cond_signal(&g->cv);
        }
        pthread_mutex_unlock(&g->mu);
        next += every;
    }
    pthread_mutex_lock(&g->mu);
    g->sent_all = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    mpx_value_free(&key);
    return NULL;
}

static void *getter(void *arg)
{
    getter_state *g = calloc(1, sizeof *g);
    if (!g) die("out of memory");
    g->lat = arg;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &g->c) ||
        mpx_dict_open(g->c, "filled", &g->d))
        die("getter connect");
    pthread_t sender;
    pthread_create(&sender, NULL, get_sender, g);
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (g->head == g->tail && !g->sent_all)
            pthread_cond_wait(&g->cv, &g->mu);
        bool done = g->head == g->tail;
        outstanding *o = &g->out[g->head % MAX_OUTSTANDING];
        pthread_mutex_unlock(&g->mu);
        if (done) break;
        mpx_value *v = NULL;
        mpx_future_wait(o->f, &v); /* a missing key is a fine answer too */
        add(g->lat, now_ms() - o->due);
        mpx_value_free(&v);
        mpx_future_free(&o->f);
        pthread_mutex_lock(&g->mu);
        g->head++;
        pthread_mutex_unlock(&g->mu);
    }
    pthread_join(sender, NULL);
    mpx_proxy_free(&g->d);
    mpx_client_free(&g->c);
    free(g);
    return NULL;
}

/* ---- the filler ------------------------------------------------------------------------- */

/* The arguments of update(), [map of 10,000 pairs], encoded once before the runs, so that
 * the filler spends no CPU beside the server's while it is measured. */
static char **batches;
static size_t *batch_lens;

static void encode_batches(long pairs)
{
    long n = pairs / UPDATE_PAIRS;
    batches = calloc((size_t)n, sizeof *batches);
    batch_lens = calloc((size_t)n, sizeof *batch_lens);
    char k[24], v[24];
    for (long b = 0; b < n; b++) {
        mpx_value *args = mpx_array(), *m = mpx_map();
        for (long i = b * UPDATE_PAIRS; i < (b + 1) * UPDATE_PAIRS; i++) {
            snprintf(k, sizeof k, "k%08ld", i);
            snprintf(v, sizeof v, "v%08ld", i);
            mpx_value *key = mpx_str(k), *val = mpx_str(v);
            if (mpx_map_put(m, &key, &val)) die("building a batch");
        }
        if (mpx_array_push(args, &m) || mpx_value_encode(args, &batches[b], &batch_lens[b]))
            die("encoding a batch");
        mpx_value_free(&args);
    }
}

/* Fills d from `from` to `to` pairs; updates at or past `measure_from` pairs are sampled. */
static void fill(mpx_proxy *d, long from, long to, long measure_from, samples *updates)
{
    for (long n = from; n < to; n += UPDATE_PAIRS) {
        double t0 = now_ms();
        long b = n / UPDATE_PAIRS;
        if (mpx_call_raw(d, "update", batches[b], batch_lens[b], MPX_TIMEOUT_DEFAULT, NULL, NULL))
            die("update");
        if (n >= measure_from) add(updates, now_ms() - t0);
    }
}

static void report(const char *what, samples *updates, samples *gets)
{
    size_t nu = updates->n, ng = gets->n;
    double u50 = quantile(updates, 0.5), u99 = quantile(updates, 0.99), umax = quantile(updates, 1);
    double g50 = quantile(gets, 0.5), g99 = quantile(gets, 0.99), gmax = quantile(gets, 1);
    printf("%-22s %8zu %9.2f %9.2f %9.2f %8zu %9.2f %9.2f %9.2f\n", what, nu, u50, u99, umax, ng,
           g50, g99, gmax);
}

int main(int argc, char **argv)
{
    long pairs = argc > 1 ? atol(argv[1]) : 5000000;
    if (argc > 2) gets_per_second = atoi(argv[2]);
    encode_batches(pairs);
    if (bench_server_start(&server, "fill benchmark key", NULL)) return 1;
    mpx_client *c;
    mpx_proxy *d;
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) || mpx_dict_open(c, "filled", &d))
        die("connect");
    mpx_client_set_timeout(c, 60000);

    /* The same run at 50,000 pairs, twenty times over: each into a new dict, as the fill is,
     * so that both take memory the server has not used before. */
    samples small_updates = {0}, small_gets = {0}, big_updates = {0}, big_gets = {0};
    pthread_t t;
    pthread_create(&t, NULL, getter, &small_gets);
    for (int round = 0; round < 20; round++) {
        char name[32];
        mpx_proxy *small;
        snprintf(name, sizeof name, "small-%d", round);
        if (mpx_dict_open(c, name, &small)) die("small dict");
        fill(small, 0, SMALL, 0, &small_updates);
        mpx_proxy_free(&small);
    }
    atomic_store(&filling, false);
    pthread_join(t, NULL);

    atomic_store(&filling, true);
    pthread_create(&t, NULL, getter, &big_gets);
    fill(d, 0, pairs, pairs - pairs / 10, &big_updates);
    atomic_store(&filling, false);
    pthread_join(t, NULL);

    printf("fill: dict updates of %d pairs; single gets at %d/s, open loop; times in ms\n",
           UPDATE_PAIRS, gets_per_second);
    printf("%-22s %8s %9s %9s %9s %8s %9s %9s %9s\n", "phase", "updates", "upd p50", "upd p99",
           "upd max", "gets", "get p50", "get p99", "get max");
    double small_median = quantile(&small_updates, 0.5);
    report("at 50,000 pairs", &small_updates, &small_gets);
    char what[64];
    snprintf(what, sizeof what, "fill to %ld pairs", pairs);
    double gmax = quantile(&big_gets, 1), umax = quantile(&big_updates, 1);
    double umed = quantile(&big_updates, 0.5);
    report(what, &big_updates, &big_gets);
    printf("(update figures of the fill: its last tenth, the dict near %ld pairs)\n", pairs);
    bool ok1 = gmax <= 20, ok2 = umax <= 3 * umed, ok3 = umed <= 1.5 * small_median;
    printf("slowest get during the fill %.2f ms <= 20 ms: %s\n", gmax, ok1 ? "met" : "MISSED");
    printf("slowest update near the end %.2f ms <= 3 x its median %.2f: %s\n", umax, umed,
           ok2 ? "met" : "MISSED");
    printf("that median %.2f ms <= 1.5 x the median at 50,000 pairs %.2f: %s\n", umed, small_median,
           ok3 ? "met" : "MISSED");
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    if (bench_server_stop(&server)) fprintf(stderr, "fill: could not remove %s\n", server.dir);
    return 0;
}
