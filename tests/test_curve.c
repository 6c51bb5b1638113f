/*
 * test_curve.c — the transport of protocol 4 seen from outside: the bytes on the wire between
 * a client and mpxd, captured by a relay this test puts between them, hold no plaintext over
 * tcp:// or ipc://; a frame tampered with or replayed on the wire is never executed; and a
 * client mpx did not write (pyzmq's CURVE, PyNaCl, python3-msgpack: tests/independent_client.py)
 * completes the handshake and calls, and recomputes the worked example of docs/protocol.md.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MARKER "wire-marker-7f3a9c"
#define SECRET "secret-value-0c1d2e5b"
#define RELAY_PAIRS 8

typedef enum { RELAY_PASS, RELAY_TAMPER, RELAY_REPLAY } relay_mode;

/* A byte relay between clients and mpxd that keeps a copy of everything it carries, and can
 * flip a bit of, or send twice, the next chunk a client sends. */
typedef struct {
    int listen_fd;
    struct sockaddr_storage up;
    socklen_t up_len;
    char endpoint[160]; /* where clients connect */
    pthread_t thread;
    atomic_bool stop;
    atomic_int mode; /* relay_mode, for the next client chunk */
    pthread_mutex_t mu;
    uint8_t *seen; /* both directions, under mu */
    size_t seen_len;
    int pairs[RELAY_PAIRS][2]; /* client fd, upstream fd; -1 when unused */
} relay;

static void relay_record(relay *r, const uint8_t *p, size_t n)
{
    pthread_mutex_lock(&r->mu);
    r->seen = realloc(r->seen, r->seen_len + n);
    memcpy(r->seen + r->seen_len, p, n);
    r->seen_len += n;
    pthread_mutex_unlock(&r->mu);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return;
        p += w, n -= (size_t)w;
    }
}

/* Carries one chunk from pair[from] to pair[1 - from]; false when that side closed. */
static bool relay_pass(relay *r, int *pair, int from)
{
    uint8_t buf[65536];
    ssize_t n = read(pair[from], buf, sizeof buf);
    if (n <= 0) return false;
    relay_record(r, buf, (size_t)n);
    int mode = from == 0 ? atomic_exchange(&r->mode, RELAY_PASS) : RELAY_PASS;
    if (mode == RELAY_TAMPER) buf[n - 1] ^= 0x01;
    write_all(pair[1 - from], buf, (size_t)n);
    if (mode == RELAY_REPLAY) write_all(pair[1 - from], buf, (size_t)n);
    return true;
}

static void relay_accept(relay *r)
{
    int c = accept(r->listen_fd, NULL, NULL);
    if (c < 0) return;
    int u = socket(r->up.ss_family, SOCK_STREAM, 0);
    for (int i = 0; i < RELAY_PAIRS; i++) {
        if (r->pairs[i][0] >= 0) continue;
        if (connect(u, (struct sockaddr *)&r->up, r->up_len) != 0) break;
        r->pairs[i][0] = c;
        r->pairs[i][1] = u;
        return;
    }
    close(c);
    close(u);
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd fds[1 + 2 * RELAY_PAIRS];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        for (int i = 0; i < RELAY_PAIRS; i++)
            for (int j = 0; j < 2; j++)
                fds[n++] = (struct pollfd){.fd = r->pairs[i][j], .events = POLLIN};
        if (poll(fds, (nfds_t)n, 50) <= 0) continue;
        if (fds[0].revents & POLLIN) relay_accept(r);
        for (int i = 0; i < RELAY_PAIRS; i++) {
            for (int j = 0; j < 2 && r->pairs[i][0] >= 0; j++) {
                if (!(fds[1 + 2 * i + j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                if (relay_pass(r, r->pairs[i], j)) continue;
                close(r->pairs[i][0]);
                close(r->pairs[i][1]);
                r->pairs[i][0] = r->pairs[i][1] = -1;
            }
        }
    }
    return NULL;
}

/* Starts a relay in front of p's endpoint, of the same transport. */
static void relay_start(relay *r, const mpxd_proc *p)
{
    memset(r, 0, sizeof *r);
    memset(r->pairs, -1, sizeof r->pairs);
    pthread_mutex_init(&r->mu, NULL);
    if (strncmp(p->endpoint, "ipc://", 6) == 0) {
        struct sockaddr_un up = {.sun_family = AF_UNIX}, me = {.sun_family = AF_UNIX};
        snprintf(up.sun_path, sizeof up.sun_path, "%s", p->endpoint + 6);
        memcpy(&r->up, &up, sizeof up);
        r->up_len = sizeof up;
        snprintf(me.sun_path, sizeof me.sun_path, "%s/relay.sock", p->dir);
        r->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(bind(r->listen_fd, (struct sockaddr *)&me, sizeof me), 0);
        snprintf(r->endpoint, sizeof r->endpoint, "ipc://%s", me.sun_path);
    } else {
        struct sockaddr_in up = {.sin_family = AF_INET}, me = {.sin_family = AF_INET};
        up.sin_port = htons((uint16_t)atoi(strrchr(p->endpoint, ':') + 1));
        inet_pton(AF_INET, "127.0.0.1", &up.sin_addr);
        memcpy(&r->up, &up, sizeof up);
        r->up_len = sizeof up;
        inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
        r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        socklen_t len = sizeof me;
        assert_int_equal(bind(r->listen_fd, (struct sockaddr *)&me, sizeof me), 0);
        getsockname(r->listen_fd, (struct sockaddr *)&me, &len);
        snprintf(r->endpoint, sizeof r->endpoint, "tcp://127.0.0.1:%d", ntohs(me.sin_port));
    }
    assert_int_equal(listen(r->listen_fd, 16), 0);
    assert_int_equal(pthread_create(&r->thread, NULL, relay_main, r), 0);
}

static void relay_stop(relay *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < RELAY_PAIRS; i++)
        for (int j = 0; j < 2; j++)
            if (r->pairs[i][j] >= 0) close(r->pairs[i][j]);
    close(r->listen_fd);
    pthread_mutex_destroy(&r->mu);
    free(r->seen);
}

static bool relay_saw(relay *r, const char *text)
{
    pthread_mutex_lock(&r->mu);
    bool found = memmem(r->seen, r->seen_len, text, strlen(text)) != NULL;
    pthread_mutex_unlock(&r->mu);
    return found;
}

static void set_str(mpx_proxy *d, const char *key, const char *val)
{
    mpx_value *k = mpx_str(key), *v = mpx_str(val);
    assert_ok(mpx_dict_set(d, k, v));
    mpx_value_free(&k);
    mpx_value_free(&v);
}

/* A session through the relay writes and reads a known value: the relay carried the
 * session's bytes (the ZMTP greeting names CURVE), and not one copy of the value or key. */
static void no_plaintext_over(const char *transport)
{
    mpxd_proc server;
    relay r;
    mpx_client *c = NULL;
    mpx_proxy *d = NULL;
    mpxd_start(&server, transport, NULL);
    relay_start(&r, &server);
    assert_ok(mpx_connect_keyfile(r.endpoint, server.keyfile, &c));
    assert_ok(mpx_dict_open(c, "wire.dict", &d));
    set_str(d, MARKER, SECRET);
    mpx_value *k = mpx_str(MARKER), *v = NULL;
    assert_ok(mpx_dict_get(d, k, &v));
    assert_string_equal(mpx_value_str(v, NULL), SECRET);
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    assert_true(relay_saw(&r, "CURVE"));
    assert_true(r.seen_len > 500);
    assert_false(relay_saw(&r, SECRET));
    assert_false(relay_saw(&r, MARKER));
    assert_false(relay_saw(&r, "wire.dict"));
    relay_stop(&r);
    assert_int_equal(mpxd_stop(&server), 0);
}

static void test_no_plaintext_over_tcp(void **state)
{
    (void)state;
    no_plaintext_over("tcp");
}

static void test_no_plaintext_over_ipc(void **state)
{
    (void)state;
    no_plaintext_over("ipc");
}

static int64_t counter_value(mpx_proxy *d)
{
    mpx_value *k = mpx_str("n"), *v = NULL;
    int64_t n = -1;
    assert_ok(mpx_dict_get(d, k, &v));
    assert_ok(mpx_value_get_int(v, &n));
    mpx_value_free(&k);
    mpx_value_free(&v);
    return n;
}

/* An add sent while the relay changes what the client sends: it never counts twice (a
 * replay) or at all (a flipped bit), mpxd closes that connection, and serves everyone else. */
static void tamper_with_one_add(const mpxd_proc *server, mpx_proxy *direct, relay_mode mode,
                                int64_t want)
{
    relay r;
    mpx_client *c = NULL;
    mpx_proxy *d = NULL;
    relay_start(&r, server);
    assert_ok(mpx_connect_keyfile(r.endpoint, server->keyfile, &c));
    assert_ok(mpx_client_set_timeout(c, 1500));
    assert_ok(mpx_dict_open(c, "wire.counter", &d));
    atomic_store(&r.mode, mode);
    mpx_value *k = mpx_str("n");
    int rc = mpx_dict_add_int(d, k, 1, NULL);
    if (mode == RELAY_TAMPER) assert_true(rc != 0); /* a replay's first copy may answer */
    rc = mpx_dict_add_int(d, k, 1, NULL);           /* the connection is gone either way */
    assert_true(rc != 0);
    mpx_value_free(&k);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    relay_stop(&r);
    assert_int_equal(counter_value(direct), want);
}

static void test_tampered_or_replayed_frames_never_run(void **state)
{
    (void)state;
    mpxd_proc server;
    mpx_proxy *d = NULL;
    mpxd_start(&server, "tcp", NULL);
    mpx_client *direct = mpxd_connect(&server);
    assert_ok(mpx_dict_open(direct, "wire.counter", &d));
    mpx_value *k = mpx_str("n");
    assert_ok(mpx_dict_add_int(d, k, 0, NULL));
    mpx_value_free(&k);
    tamper_with_one_add(&server, d, RELAY_TAMPER, 0);
    int64_t before = counter_value(d);
    tamper_with_one_add(&server, d, RELAY_REPLAY, before + 1);
    assert_ok(mpx_ping(direct));
    mpx_proxy_free(&d);
    mpx_client_free(&direct);
    assert_int_equal(mpxd_stop(&server), 0);
}

/* Runs tests/independent_client.py with args; returns its exit status. */
static int run_python(const char *const *args)
{
    const char *argv[8] = {"/usr/bin/python3", MPX_SOURCE_DIR "/tests/independent_client.py"};
    for (int i = 0; args[i] && i < 5; i++)
        argv[2 + i] = args[i];
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_worked_example_checked_independently(void **state)
{
    (void)state;
    assert_int_equal(
        run_python((const char *[]){"example", MPX_SOURCE_DIR "/docs/protocol.md", NULL}), 0);
}

static void test_independent_client_talks_to_mpxd(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        mpxd_proc server;
        mpxd_start(&server, t ? "ipc" : "tcp", NULL);
        assert_int_equal(
            run_python((const char *[]){"client", server.endpoint, server.keyfile, NULL}), 0);
        mpx_client *c = mpxd_connect(&server);
        mpx_proxy *d = NULL;
        assert_ok(mpx_dict_open(c, "independent.dict", &d));
        mpx_value *k = mpx_str("k"), *v = NULL;
        assert_ok(mpx_dict_get(d, k, &v)); /* what Python wrote, libmpx reads */
        assert_string_equal(mpx_value_str(v, NULL), "a value from Python");
        mpx_value_free(&k);
        mpx_value_free(&v);
        mpx_proxy_free(&d);
        mpx_client_free(&c);
        assert_int_equal(mpxd_stop(&server), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_plaintext_over_tcp),
        cmocka_unit_test(test_no_plaintext_over_ipc),
        cmocka_unit_test(test_tampered_or_replayed_frames_never_run),
        cmocka_unit_test(test_worked_example_checked_independently),
        cmocka_unit_test(test_independent_client_talks_to_mpxd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
