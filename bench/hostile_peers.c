/*
 * hostile_peers.c — connections from peers without the key (hostile_peers.h).
 *
 * They speak just enough ZMTP to reach the stage they attack: a greeting that names CURVE,
 * then either a command frame announced as 32 MiB (the size libzmq would make room for) or
 * nothing more; or 64 bytes of garbage instead of a greeting.
 */
#define _GNU_SOURCE
#include "hostile_peers.h"

#include "mpx.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t hostile_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(const char *endpoint)
{
    int fd = -1;
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", endpoint + 6);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
    } else {
        const char *colon = strrchr(endpoint, ':');
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)atoi(colon ? colon + 1 : "0"))};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
    }
    if (fd >= 0) close(fd);
    return -1;
}

/* What peer i sends: kinds in turn. */
static void attack(int fd, int i)
{
    static const uint8_t greeting[64] = {0xff, 0, 0, 0,   0,   0,   0,   0,  0,
                                         0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E'};
    static const uint8_t huge[] = {0x06, 0, 0, 0, 0, 0x02, 0, 0, 0, 'x', 'x', 'x', 'x'};
    uint8_t garbage[64];
    ssize_t sent = 0;
    switch (i % 3) {
    case 0:
        for (size_t j = 0; j < sizeof garbage; j++)
            garbage[j] = (uint8_t)(j * 37 + (size_t)i);
        sent = write(fd, garbage, sizeof garbage);
        break;
    case 1:
        sent = write(fd, greeting, sizeof greeting);
        if (sent > 0) sent = write(fd, huge, sizeof huge);
        break;
    default:
        sent = write(fd, greeting, sizeof greeting);
    }
    (void)sent; /* mpxd may already have closed it: that is what is measured */
}

int hostile_open(hostile_peers *h, const char *endpoint, int n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    h->n = n;
    h->fds = calloc((size_t)n, sizeof *h->fds);
    h->opened_ms = calloc((size_t)n, sizeof *h->opened_ms);
    h->closed_ms = calloc((size_t)n, sizeof *h->closed_ms);
    int connected = 0;
    for (int i = 0; i < n; i++) {
        h->fds[i] = connect_to(endpoint);
        h->opened_ms[i] = hostile_now_ms();
        if (h->fds[i] < 0) {
            h->closed_ms[i] = h->opened_ms[i];
            continue;
        }
        connected++;
        attack(h->fds[i], i);
    }
    return connected;
}

/* Reads what is there; marks the peer closed on end of file or an error. */
static void drain(hostile_peers *h, int i)
{
    char buf[4096];
    ssize_t got = recv(h->fds[i], buf, sizeof buf, MSG_DONTWAIT);
    if (got > 0) return;
    close(h->fds[i]);
    h->fds[i] = -1;
    h->closed_ms[i] = hostile_now_ms();
}

int hostile_await_closed(hostile_peers *h, int timeout_ms)
{
    int64_t deadline = hostile_now_ms() + timeout_ms;
    struct pollfd *p = calloc((size_t)h->n, sizeof *p);
    int open;
    do {
        open = 0;
        for (int i = 0; i < h->n; i++)
            if (h->fds[i] >= 0) p[open++] = (struct pollfd){.fd = h->fds[i], .events = POLLIN};
        if (open == 0 || poll(p, (nfds_t)open, 50) < 0) break;
        for (int i = 0, j = 0; i < h->n; i++) {
            if (h->fds[i] < 0) continue;
            if (p[j++].revents) drain(h, i);
        }
    } while (hostile_now_ms() < deadline);
    free(p);
    int closed = 0;
    for (int i = 0; i < h->n; i++)
        closed += h->fds[i] < 0;
    return closed;
}

int64_t hostile_longest_open_ms(const hostile_peers *h)
{
    int64_t longest = 0, now = hostile_now_ms();
    for (int i = 0; i < h->n; i++) {
        int64_t end = h->fds[i] >= 0 ? now : h->closed_ms[i];
        if (end - h->opened_ms[i] > longest) longest = end - h->opened_ms[i];
    }
    return longest;
}

void hostile_free(hostile_peers *h)
{
    for (int i = 0; i < h->n; i++)
        if (h->fds[i] >= 0) close(h->fds[i]);
    free(h->fds);
    free(h->opened_ms);
    free(h->closed_ms);
    h->n = 0;
}

long hostile_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t hostile_get_p50(mpx_proxy *d, int n)
{
    int64_t *t = malloc((size_t)n * sizeof *t), p50 = -1;
    mpx_value *k = mpx_str("k"), *v = NULL;
    int i = 0;
    for (; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (mpx_dict_get(d, k, &v)) break;
        clock_gettime(CLOCK_MONOTONIC, &b);
        mpx_value_free(&v);
        t[i] = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
    }
    if (i == n) {
        qsort(t, (size_t)n, sizeof *t, cmp_i64);
        p50 = t[n / 2];
    }
    mpx_value_free(&k);
    free(t);
    return p50;
}
