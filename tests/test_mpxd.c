/*
 * test_mpxd.c — mpxd as a program: its options, the authkey rules, signals, its endpoints
 * (names, IPv6, ipc paths), its limits, and what a client sees when the server stalls, dies
 * or is not there.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Runs mpxd with args and env (NULL-terminated "K=V" list or NULL), capturing its output in
 * *out; returns its exit status. For invocations that exit by themselves. */
static int run_mpxd(const char *const *args, char *const *env, char **out)
{
    char path[] = "/tmp/mpxtest-out-XXXXXX";
    int fd = mkstemp(path);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[16] = {mpxd_path()};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        dup2(fd, 1);
        dup2(fd, 2);
        if (env)
            execve(argv[0], (char *const *)argv, env);
        else
            execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    close(fd);
    *out = read_file(path, NULL);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_help_lists_every_option(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run_mpxd((const char *[]){"--help", NULL}, NULL, &out), 0);
    const char *opts[] = {"--authkey-file",
                          "--authkey-out",
                          "--max-message",
                          "--handshake-timeout",
                          "--ready-fd",
                          "--lifeline-fd",
                          "--quiet",
                          "MPX_AUTHKEY",
                          "SIGTERM",
                          "--cpu",
                          "--max-memory",
                          "SIGHUP",
                          "--debug",
                          "--max-sessions",
                          "--max-queued-replies",
                          "--data-dir",
                          "--fsync",
                          "--compact-min"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
        assert_non_null(strstr(out, opts[i]));
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--no-such-option", NULL}, NULL, &out), 2);
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--max-message", "lots", NULL}, NULL, &out), 2);
    assert_non_null(strstr(out, "--max-message"));
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--fsync", "sometimes", NULL}, NULL, &out), 2);
    assert_non_null(strstr(out, "always, everysec or no"));
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--fsync", "always", NULL}, NULL, &out), 2);
    assert_non_null(strstr(out, "--fsync needs --data-dir"));
    free(out);
}

/* A public endpoint with no key given on purpose is refused, and the refusal writes no key
 * file. */
static void test_refuses_public_bind_without_authkey(void **state)
{
    (void)state;
    char ep[64], dir[] = "/tmp/mpxtest-key-XXXXXX", keyout[96], *out;
    struct stat st;
    assert_non_null(mkdtemp(dir));
    snprintf(keyout, sizeof keyout, "%s/authkey", dir);
    snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", free_tcp_port());
    char home[] = "HOME=/nonexistent", *env[] = {home, NULL};
    assert_int_equal(run_mpxd((const char *[]){"--authkey-out", keyout, ep, NULL}, env, &out), 1);
    assert_non_null(strstr(out, "refusing"));
    assert_int_equal(stat(keyout, &st), -1); /* no key was generated */
    free(out);
    rmdir(dir);
}

static void test_generated_key_is_private_and_never_printed(void **state)
{
    (void)state;
    char dir[] = "/tmp/mpxtest-gen-XXXXXX", keyfile[128], ep[128], log[128];
    assert_non_null(mkdtemp(dir));
    snprintf(keyfile, sizeof keyfile, "%s/sub/authkey", dir);
    snprintf(ep, sizeof ep, "ipc://%s/mpx.sock", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        dup2(2, 1);
        execl(mpxd_path(), mpxd_path(), "--authkey-out", keyfile, ep, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 200 && stat(ep + 6, &st) != 0; i++)
        usleep(10 * 1000);
    assert_int_equal(stat(keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t keylen;
    char *key = read_file(keyfile, &keylen);
    assert_int_equal(keylen, 72); /* the hex form: "mpxkey:", 64 hex digits, a newline */
    assert_memory_equal(key, "mpxkey:", 7);
    key[71] = '\0';
    mpx_client *c = NULL;
    assert_ok(mpx_connect_keyfile(ep, keyfile, &c));
    assert_ok(mpx_ping(c));
    mpx_client_free(&c);

    /* SIGTERM: exit status 0 and the ipc socket file removed. */
    kill(pid, SIGTERM);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(stat(ep + 6, &st), -1);
    char *out = read_file(log, NULL);
    assert_non_null(strstr(out, keyfile)); /* says where the key is */
    assert_null(strstr(out, key + 7));     /* never the key itself */
    free(out);
    free(key);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Starts mpxd on a fresh loopback port with MPX_AUTHKEY=key and `option value` (or no option
 * when option is NULL), connects to it once it has bound, and returns its pid. */
static pid_t start_with_env_key(const char *key, const char *option, const char *value,
                                mpx_client **c)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", free_tcp_port());
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MPX_AUTHKEY", key, 1);
        if (option)
            execl(mpxd_path(), mpxd_path(), "--quiet", option, value, ep, (char *)NULL);
        else
            execl(mpxd_path(), mpxd_path(), "--quiet", ep, (char *)NULL);
        _exit(127);
    }
    int rc = MPX_ETIMEDOUT;
    for (int i = 0; i < 50 && rc != 0; i++) { /* until it has bound */
        rc = mpx_connect(ep, key, strlen(key), c);
        if (rc) usleep(20 * 1000);
    }
    assert_ok(rc);
    return pid;
}

/* Sends SIGINT and checks mpxd stops cleanly. */
static void stop_with_sigint(pid_t pid)
{
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_key_from_environment_and_sigint(void **state)
{
    (void)state;
    mpx_client *c = NULL;
    pid_t pid = start_with_env_key("environment key", NULL, NULL, &c);
    mpx_client_free(&c);
    stop_with_sigint(pid);
}

/* The CPUs each of pid's threads whose name starts with prefix ("" for all) may run on, in
 * sets[0..max); returns how many threads matched. */
static int thread_sets(pid_t pid, const char *prefix, cpu_set_t *sets, int max)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; n < max && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[512], *name;
        snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
        name = read_file(path, NULL);
        assert_non_null(name);
        bool match = strncmp(name, prefix, strlen(prefix)) == 0;
        free(name);
        if (match)
            assert_int_equal(sched_getaffinity(atoi(e->d_name), sizeof *sets, &sets[n++]), 0);
    }
    closedir(d);
    return n;
}

/* The number of pid's threads whose name starts with prefix ("" for all), each checked to be
 * allowed on `cpu` alone. */
static int threads_only_on(pid_t pid, int cpu, const char *prefix)
{
    cpu_set_t sets[16];
    int n = thread_sets(pid, prefix, sets, 16);
    for (int i = 0; i < n; i++) {
        assert_int_equal(CPU_COUNT(&sets[i]), 1);
        assert_true(CPU_ISSET(cpu, &sets[i]));
    }
    return n;
}

/* The highest CPU this process may run on. */
static int last_usable_cpu(void)
{
    cpu_set_t allowed;
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    int cpu = CPU_SETSIZE - 1;
    while (!CPU_ISSET(cpu, &allowed))
        cpu--;
    return cpu;
}

/* --cpu puts the loop and libzmq's I/O thread on that CPU; a CPU it may not use is refused. */
static void test_cpu_option_places_every_thread(void **state)
{
    (void)state;
    int cpu = last_usable_cpu();
    char cpu_arg[16], *out;
    snprintf(cpu_arg, sizeof cpu_arg, "%d", cpu);
    mpx_client *c = NULL;
    pid_t pid = start_with_env_key("cpu key", "--cpu", cpu_arg, &c);
    assert_ok(mpx_ping(c));
    assert_true(threads_only_on(pid, cpu, "") >= 2); /* the loop and at least one I/O thread */
    mpx_client_free(&c);
    stop_with_sigint(pid);

    snprintf(cpu_arg, sizeof cpu_arg, "%d", CPU_SETSIZE); /* no such CPU */
    assert_int_equal(run_mpxd((const char *[]){"--cpu", cpu_arg, NULL}, NULL, &out), 2);
    assert_non_null(strstr(out, "--cpu"));
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--cpu", "-1", NULL}, NULL, &out), 2);
    free(out);
}

/* The CPUs the first of pid's threads whose name starts with prefix may run on. */
static void thread_cpus(pid_t pid, const char *prefix, cpu_set_t *set)
{
    assert_int_equal(thread_sets(pid, prefix, set, 1), 1);
}

/* By default mpxd leaves its threads to the kernel: whatever CPUs it was started with, its
 * loop and libzmq's I/O thread keep them all (a taskset, a cpuset or systemd's CPUAffinity=
 * is not overridden). */
static void test_default_leaves_threads_to_the_kernel(void **state)
{
    (void)state;
    cpu_set_t allowed, loop, io;
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    mpx_client *c = NULL;
    pid_t pid = start_with_env_key("default key", NULL, NULL, &c);
    assert_ok(mpx_ping(c));
    usleep(500 * 1000); /* what --cpu auto would have done by now, it would have done */
    thread_cpus(pid, "mpxd", &loop);
    thread_cpus(pid, "ZMQbg/IO/", &io);
    assert_true(CPU_EQUAL(&loop, &allowed));
    assert_true(CPU_EQUAL(&io, &allowed));
    mpx_client_free(&c);
    stop_with_sigint(pid);

    char *out;
    assert_int_equal(run_mpxd((const char *[]){"--cpu", "sometimes", NULL}, NULL, &out), 2);
    assert_non_null(strstr(out, "--cpu"));
    free(out);
}

/* mpx_connect_opts() puts the client's libzmq I/O thread on the CPU asked for and leaves the
 * calling thread where it was; a CPU this process may not use, and no key or two keys, are
 * refused. */
static void test_connect_places_the_io_thread(void **state)
{
    (void)state;
    mpxd_proc server;
    mpxd_start(&server, "ipc", NULL);
    int cpu = last_usable_cpu();
    cpu_set_t before, after;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    mpx_connect_options o = MPX_CONNECT_OPTIONS_INIT;
    o.keyfile = server.keyfile;
    o.place_io = true;
    o.io_cpu = cpu;
    mpx_client *c = NULL;
    assert_ok(mpx_connect_opts(server.endpoint, &o, &c));
    assert_ok(mpx_ping(c));
    assert_int_equal(threads_only_on(getpid(), cpu, "ZMQbg/IO"), 1);
    assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
    assert_true(CPU_EQUAL(&before, &after));
    mpx_client_free(&c);

    int bad_cpus[] = {CPU_SETSIZE, -1};
    for (int i = 0; i < 2; i++) {
        o.io_cpu = bad_cpus[i];
        assert_code(mpx_connect_opts(server.endpoint, &o, &c), MPX_EINVAL);
        assert_null(c);
    }
    mpx_connect_options two_keys = MPX_CONNECT_OPTIONS_INIT, no_key = MPX_CONNECT_OPTIONS_INIT;
    two_keys.keyfile = server.keyfile;
    two_keys.authkey = "k";
    two_keys.keylen = 1;
    mpx_connect_options no_size = {.keyfile = server.keyfile}; /* not made with the macro */
    assert_code(mpx_connect_opts(server.endpoint, &two_keys, &c), MPX_EINVAL);
    assert_code(mpx_connect_opts(server.endpoint, &no_key, &c), MPX_EINVAL);
    assert_code(mpx_connect_opts(server.endpoint, &no_size, &c), MPX_EINVAL);
    assert_non_null(strstr(mpx_last_error(), "MPX_CONNECT_OPTIONS_INIT"));
    assert_code(mpx_connect_opts(server.endpoint, NULL, &c), MPX_EINVAL);
    assert_null(c);
    assert_int_equal(mpxd_stop(&server), 0);
}

static void test_stalled_server_times_out_and_connection_survives(void **state)
{
    (void)state;
    mpxd_proc server;
    mpxd_start(&server, "ipc", NULL);
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_new(c, &d));
    assert_ok(mpx_client_set_timeout(c, 200));
    kill(server.pid, SIGSTOP);
    size_t n;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_code(mpx_dict_len(d, &n), MPX_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 5); /* it did not hang */
    kill(server.pid, SIGCONT);
    /* The late reply is discarded; the next call gets its own answer. */
    assert_ok(mpx_client_set_timeout(c, 5000));
    mpx_value *k = mpx_str("a"), *v = mpx_str("b");
    assert_ok(mpx_dict_set(d, k, v));
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 1);
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&server), 0);
}

static void test_dead_server_gives_timeout_not_hang(void **state)
{
    (void)state;
    mpxd_proc server;
    mpxd_start(&server, "tcp", NULL);
    mpx_client *c = mpxd_connect(&server);
    assert_ok(mpx_client_set_timeout(c, 300));
    kill(server.pid, SIGKILL);
    waitpid(server.pid, NULL, 0);
    server.pid = 0;
    assert_code(mpx_ping(c), MPX_ETIMEDOUT);
    mpx_client_free(&c);
    mpxd_stop(&server);
}

/* Connects to endpoint with a throwaway key, checks the code, that the message contains
 * `says` and names no code twice, and that it took less than within_ms. */
static void connect_fails(const char *endpoint, int want, const char *says, int within_ms)
{
    mpx_client *c = NULL;
    int64_t t0 = harness_now_ms();
    assert_code(mpx_connect(endpoint, "k", 1, &c), want);
    int64_t took = harness_now_ms() - t0;
    assert_null(c);
    if (!strstr(mpx_last_error(), says))
        fail_msg("connecting to %s: '%s' does not say '%s'", endpoint, mpx_last_error(), says);
    if (took > within_ms) fail_msg("connecting to %s took %lld ms", endpoint, (long long)took);
    assert_null(strstr(mpx_last_error(), mpx_strerror(want))); /* no repeated prefix */
}

/* Nothing listening, a host that does not resolve, a missing or stale socket file: each is
 * MPX_ECONN at once with its cause; a malformed endpoint says what form is expected. */
static void test_connect_failures_are_fast_and_clear(void **state)
{
    (void)state;
    char ep[128], dir[] = "/tmp/mpxtest-conn-XXXXXX";
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", free_tcp_port());
    connect_fails(ep, MPX_ECONN, "refused", 1000);
    snprintf(ep, sizeof ep, "tcp://localhost:%d", free_tcp_port());
    connect_fails(ep, MPX_ECONN, "refused", 1000);
    connect_fails("tcp://no-such-host.invalid:5555", MPX_ECONN, "no-such-host.invalid", 10000);
    assert_non_null(mkdtemp(dir));
    snprintf(ep, sizeof ep, "ipc://%s/none.sock", dir);
    connect_fails(ep, MPX_ECONN, "No such file", 1000);
    /* A socket file nobody listens on: left by a server that was killed. */
    mpxd_proc server;
    mpxd_start(&server, "ipc", NULL);
    kill(server.pid, SIGKILL);
    waitpid(server.pid, NULL, 0);
    server.pid = 0;
    connect_fails(server.endpoint, MPX_ECONN, "refused", 1000);
    mpxd_stop(&server);
    const char *bad[] = {"tcp://127.0.0.1",       "tcp://:5555", "udp://127.0.0.1:5555",
                         "tcp://127.0.0.1:99999", "ipc://",      "localhost:5555"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        connect_fails(bad[i], MPX_EINVAL, "tcp://host:port", 100);
    rmdir(dir);
}

/* A server that accepts the connection but never answers: the connect timeout is settable. */
static void test_connect_timeout_is_settable(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    mpx_connect_options o = MPX_CONNECT_OPTIONS_INIT;
    o.authkey = "k";
    o.keylen = 1;
    o.connect_timeout_ms = 300;
    mpx_client *c = NULL;
    int64_t t0 = harness_now_ms();
    assert_code(mpx_connect_opts(ep, &o, &c), MPX_ETIMEDOUT);
    int64_t took = harness_now_ms() - t0;
    assert_true(took >= 250 && took < 2000);
    o.connect_timeout_ms = -1;
    assert_code(mpx_connect_opts(ep, &o, &c), MPX_EINVAL);
    close(fd);
}

/* Writes a key file. */
static void write_key_file(const char *path, const char *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(key, f);
    fclose(f);
    chmod(path, 0600);
}

/* Starts mpxd with --authkey-file path on a free tcp port; *ep gets the endpoint. */
static pid_t start_with_key_file(const char *path, char *ep, size_t ep_size)
{
    snprintf(ep, ep_size, "tcp://127.0.0.1:%d", free_tcp_port());
    pid_t pid = fork();
    if (pid == 0) {
        execl(mpxd_path(), mpxd_path(), "--quiet", "--authkey-file", path, ep, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Connects with key[0..len), retrying while mpxd binds; returns the last result. */
static int connect_with(const char *ep, const void *key, size_t len)
{
    mpx_client *c = NULL;
    int rc = MPX_ECONN;
    for (int i = 0; i < 50 && rc == MPX_ECONN; i++) {
        rc = mpx_connect(ep, key, len, &c);
        if (rc == MPX_ECONN) usleep(20 * 1000);
    }
    mpx_client_free(&c);
    return rc;
}

/* The two forms of a key file (docs/operating.md, "The authkey"): a raw file is the key, every
 * byte, so a binary key ending in a newline keeps it; "mpxkey:" is followed by hex; a
 * malformed hex form is refused by mpxd and by the library alike. */
static void test_key_file_forms(void **state)
{
    (void)state;
    char dir[] = "/tmp/mpxtest-keys-XXXXXX", path[96], ep[64], *out;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/key", dir);
    static const uint8_t binary[] = {0x00, 0xff, 0x10, 'k', '\n'};
    FILE *f = fopen(path, "w");
    fwrite(binary, 1, sizeof binary, f);
    fclose(f);
    chmod(path, 0600);
    pid_t pid = start_with_key_file(path, ep, sizeof ep);
    assert_ok(connect_with(ep, binary, sizeof binary));
    assert_code(connect_with(ep, binary, sizeof binary - 1), MPX_EAUTH);
    mpx_client *c = NULL;
    assert_ok(mpx_connect_keyfile(ep, path, &c));
    mpx_client_free(&c);
    stop_with_sigint(pid);

    write_key_file(path, "mpxkey:00ff106b\n");
    pid = start_with_key_file(path, ep, sizeof ep);
    assert_ok(connect_with(ep, binary, 4));
    stop_with_sigint(pid);

    write_key_file(path, "mpxkey:00ff1\n");
    assert_int_equal(run_mpxd((const char *[]){"--authkey-file", path, ep, NULL}, NULL, &out), 1);
    assert_non_null(strstr(out, "hex digits"));
    free(out);
    assert_code(mpx_connect_keyfile(ep, path, &c), MPX_EINVAL);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* --max-sessions: a HELLO past it is refused with MPX_ETOOMANY and counted; the sessions open
 * go on, and a place freed is taken again. */
static void test_max_sessions(void **state)
{
    (void)state;
    mpxd_proc server;
    const char *extra[] = {"--max-sessions", "2", NULL};
    mpxd_start(&server, "tcp", extra);
    mpx_client *a = mpxd_connect(&server), *b = mpxd_connect(&server), *c = NULL;
    assert_code(mpx_connect_keyfile(server.endpoint, server.keyfile, &c), MPX_ETOOMANY);
    assert_null(c);
    assert_non_null(strstr(mpx_last_error(), "--max-sessions"));
    assert_int_equal(mpxd_stat(a, "rejected_sessions"), 1);
    assert_ok(mpx_ping(b));
    mpx_client_free(&b);
    await_stat(a, "sessions", 1);
    c = mpxd_connect(&server);
    assert_ok(mpx_ping(c));
    mpx_client_free(&c);
    mpx_client_free(&a);
    char *log = read_file(server.logfile, NULL);
    assert_non_null(strstr(log, "at --max-sessions"));
    free(log);
    assert_int_equal(mpxd_stop(&server), 0);
}

/* SIGHUP does not change the key (a new one takes a restart, docs/operating.md): the
 * session open before goes on, the new key is refused, and the log says why. */
static void test_sighup_keeps_the_key(void **state)
{
    (void)state;
    mpxd_proc server;
    mpxd_start(&server, "ipc", NULL);
    mpx_client *old = mpxd_connect(&server), *c = NULL;
    write_key_file(server.keyfile, "the new key");
    kill(server.pid, SIGHUP);
    char *log = NULL;
    for (int i = 0; i < 100 && !(log && strstr(log, "SIGHUP")); i++) {
        free(log);
        usleep(10 * 1000);
        log = read_file(server.logfile, NULL);
    }
    assert_non_null(strstr(log, "takes a restart"));
    assert_null(strstr(log, "the new key"));
    free(log);
    assert_ok(mpx_ping(old));
    assert_code(mpx_connect(server.endpoint, "the new key", 11, &c), MPX_EAUTH);
    mpx_client_free(&old);
    assert_int_equal(mpxd_stop(&server), 0);

    pid_t pid = start_with_env_key("env key", NULL, NULL, &c);
    kill(pid, SIGHUP);
    usleep(200 * 1000);
    assert_ok(mpx_ping(c));
    mpx_client_free(&c);
    assert_int_equal(mpx_connect_keyfile("ipc:///nonexistent", "/nonexistent", &c), MPX_ESYS);
    stop_with_sigint(pid);
}

/* A key path that is a FIFO is refused at once, by mpxd and by the library, never read. */
static void test_key_file_must_be_a_regular_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/mpxtest-fifo-XXXXXX", fifo[96], ep[128], *out;
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/key", dir);
    snprintf(ep, sizeof ep, "ipc://%s/mpx.sock", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int64_t t0 = harness_now_ms();
    assert_int_equal(run_mpxd((const char *[]){"--authkey-file", fifo, ep, NULL}, NULL, &out), 1);
    assert_non_null(strstr(out, "not a regular file"));
    free(out);
    mpx_client *c = NULL;
    assert_code(mpx_connect_keyfile(ep, fifo, &c), MPX_EINVAL);
    assert_non_null(strstr(mpx_last_error(), "not a regular file"));
    assert_true(harness_now_ms() - t0 < 5000);
    unlink(fifo);
    rmdir(dir);
}

/* A second mpxd on the ipc path of a running one is refused and leaves the first reachable;
 * the file a killed one left behind is replaced. */
static void test_second_server_on_an_ipc_path_is_refused(void **state)
{
    (void)state;
    mpxd_proc first;
    char *out;
    mpxd_start(&first, "ipc", NULL);
    assert_int_equal(
        run_mpxd((const char *[]){"--authkey-file", first.keyfile, first.endpoint, NULL}, NULL,
                 &out),
        1);
    assert_non_null(strstr(out, "already answers"));
    free(out);
    mpx_client *c = mpxd_connect(&first);
    assert_ok(mpx_ping(c));
    mpx_client_free(&c);
    kill(first.pid, SIGKILL);
    waitpid(first.pid, NULL, 0);
    pid_t pid = fork();
    if (pid == 0) {
        execl(mpxd_path(), mpxd_path(), "-q", "--authkey-file", first.keyfile, first.endpoint,
              (char *)NULL);
        _exit(127);
    }
    int rc = MPX_ECONN;
    for (int i = 0; i < 100 && rc != 0; i++) {
        rc = mpx_connect_keyfile(first.endpoint, first.keyfile, &c);
        if (rc) usleep(20 * 1000);
    }
    assert_ok(rc);
    mpx_client_free(&c);
    stop_with_sigint(pid);
    first.pid = 0;
    mpxd_stop(&first);
}

/* Serves endpoint with a generated key when `generated` (a loopback endpoint needs none given
 * on purpose), else with a key file, and connects to each of the client endpoints. */
static void serve_and_reach(const char *endpoint, bool generated, const char *const *clients)
{
    char dir[] = "/tmp/mpxtest-lo-XXXXXX", keyfile[96];
    assert_non_null(mkdtemp(dir));
    snprintf(keyfile, sizeof keyfile, "%s/key", dir);
    if (!generated) write_key_file(keyfile, "a key given on purpose");
    pid_t pid = fork();
    if (pid == 0) {
        execl(mpxd_path(), mpxd_path(), "-q", generated ? "--authkey-out" : "--authkey-file",
              keyfile, endpoint, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; clients[i]; i++) {
        mpx_client *c = NULL;
        int rc = MPX_ECONN;
        for (int t = 0; t < 100 && rc != 0; t++) {
            rc = mpx_connect_keyfile(clients[i], keyfile, &c);
            if (rc) usleep(20 * 1000);
        }
        if (rc) fail_msg("%s served, %s: %s", endpoint, clients[i], mpx_last_error());
        assert_ok(mpx_ping(c));
        mpx_client_free(&c);
    }
    stop_with_sigint(pid);
    unlink(keyfile);
    rmdir(dir);
}

static bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* tcp://localhost, tcp://[::1] and tcp://[::] are served (the first two loopback, so with a
 * generated key), and reached by name, IPv4 and IPv6. */
static void test_loopback_names_and_ipv6(void **state)
{
    (void)state;
    char ep[64], v4[64], v6[64];
    int port = free_tcp_port();
    snprintf(ep, sizeof ep, "tcp://localhost:%d", port);
    snprintf(v4, sizeof v4, "tcp://127.0.0.1:%d", port);
    serve_and_reach(ep, true, (const char *const[]){ep, v4, NULL});
    if (!have_ipv6_loopback()) {
        fprintf(stderr, "(no IPv6 loopback here: the IPv6 half of this test is skipped)\n");
        return;
    }
    port = free_tcp_port();
    snprintf(ep, sizeof ep, "tcp://[::1]:%d", port);
    serve_and_reach(ep, true, (const char *const[]){ep, NULL});
    port = free_tcp_port();
    snprintf(ep, sizeof ep, "tcp://[::]:%d", port);
    snprintf(v4, sizeof v4, "tcp://127.0.0.1:%d", port);
    snprintf(v6, sizeof v6, "tcp://[::1]:%d", port);
    serve_and_reach(ep, false, (const char *const[]){v6, v4, NULL});
}

/* A stall of the loop longer than the session timeout (mpxd --debug's debug_sleep) ends no
 * session that kept sending heartbeats: their lock is still theirs afterwards. */
static void test_loop_stall_ends_no_live_session(void **state)
{
    (void)state;
    mpxd_proc server;
    const char *extra[] = {"--debug", "--session-timeout", "600", NULL};
    mpxd_start(&server, "ipc", extra);
    mpx_client *holder = mpxd_connect(&server), *staller = mpxd_connect(&server);
    mpx_proxy *lock = NULL;
    bool got = false;
    assert_ok(mpx_lock_open(holder, "stall.lock", &lock));
    assert_ok(mpx_lock_acquire(lock, 0, &got, NULL, NULL));
    assert_true(got);
    /* Longer than the session timeout; shorter than the 8 heartbeat intervals after which the
     * waiting client itself gives the server up. */
    mpx_value *args = mpx_array(), *ms = mpx_uint(1000);
    assert_ok(mpx_array_push(args, &ms));
    assert_ok(mpx_server_call(staller, "debug_sleep", args, MPX_TIMEOUT_DEFAULT, NULL));
    usleep(300 * 1000); /* past the sweep that would have ended it */
    assert_ok(mpx_ping(holder));
    assert_ok(mpx_lock_release(lock)); /* still the holder's: its session went on */
    assert_int_equal(mpxd_stat(staller, "sessions"), 2);
    mpx_value_free(&args);
    mpx_proxy_free(&lock);
    mpx_client_free(&holder);
    mpx_client_free(&staller);
    assert_int_equal(mpxd_stop(&server), 0);

    /* Without --debug the method does not answer. */
    mpxd_start(&server, "ipc", NULL);
    mpx_client *c = mpxd_connect(&server);
    args = mpx_array(), ms = mpx_uint(1);
    assert_ok(mpx_array_push(args, &ms));
    assert_code(mpx_server_call(c, "debug_sleep", args, MPX_TIMEOUT_DEFAULT, NULL), MPX_ENOMETHOD);
    mpx_value_free(&args);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&server), 0);
}

/* Sets d[i] to a value of 64 KiB. */
static int set_big(mpx_proxy *d, int i)
{
    static char blob[64 << 10];
    mpx_value *k = mpx_int(i), *v = mpx_bytes(blob, sizeof blob);
    int rc = mpx_dict_set(d, k, v);
    mpx_value_free(&k);
    mpx_value_free(&v);
    return rc;
}

/* --max-memory: past it, calls that store more are refused with MPX_EMEMLIMIT and counted;
 * reads, deletes and everyone's data go on; freeing memory lets stores in again. */
static void test_max_memory_refuses_growth_only(void **state)
{
    (void)state;
    mpxd_proc server;
    const char *extra[] = {"--max-memory", "4M", NULL};
    mpxd_start(&server, "ipc", extra);
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL, *other = NULL, *q = NULL;
    assert_ok(mpx_dict_open(c, "big", &d));
    assert_ok(mpx_queue_open(c, "q", 0, &q));
    int rc = 0, n = 0;
    while (n < 1000 && (rc = set_big(d, n)) == 0)
        n++;
    assert_int_equal(rc, MPX_EMEMLIMIT);
    assert_true(n > 10);
    assert_true(mpx_err_is_remote(rc));
    assert_non_null(strstr(mpx_last_error(), "--max-memory"));
    assert_true(mpxd_stat(c, "memory_used") > (4u << 20));
    assert_int_equal(mpxd_stat(c, "max_memory"), 4u << 20);
    assert_true(mpxd_stat(c, "rejected_memory") >= 1);
    mpx_value *one = mpx_int(1), *got = NULL;
    assert_code(mpx_queue_put(q, one, 0), MPX_EMEMLIMIT);
    assert_code(mpx_dict_new(c, &other), MPX_EMEMLIMIT);
    assert_ok(mpx_dict_get(d, one, &got)); /* reads go on */
    assert_int_equal(mpx_value_len(got), 64 << 10);
    assert_ok(mpx_ping(c));
    assert_ok(mpx_dict_clear(d)); /* freed over the next turns */
    rc = MPX_EMEMLIMIT;
    for (int i = 0; i < 200 && rc == MPX_EMEMLIMIT; i++) {
        rc = set_big(d, 0);
        if (rc) usleep(10 * 1000);
    }
    assert_ok(rc);
    assert_ok(mpx_queue_put(q, one, 0));
    mpx_value_free(&one);
    mpx_value_free(&got);
    mpx_proxy_free(&d);
    mpx_proxy_free(&q);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&server), 0);
    char *out;
    assert_int_equal(run_mpxd((const char *[]){"--max-memory", "lots", NULL}, NULL, &out), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_refuses_public_bind_without_authkey),
        cmocka_unit_test(test_generated_key_is_private_and_never_printed),
        cmocka_unit_test(test_key_from_environment_and_sigint),
        cmocka_unit_test(test_cpu_option_places_every_thread),
        cmocka_unit_test(test_default_leaves_threads_to_the_kernel),
        cmocka_unit_test(test_connect_places_the_io_thread),
        cmocka_unit_test(test_stalled_server_times_out_and_connection_survives),
        cmocka_unit_test(test_dead_server_gives_timeout_not_hang),
        cmocka_unit_test(test_connect_failures_are_fast_and_clear),
        cmocka_unit_test(test_connect_timeout_is_settable),
        cmocka_unit_test(test_sighup_keeps_the_key),
        cmocka_unit_test(test_key_file_forms),
        cmocka_unit_test(test_max_sessions),
        cmocka_unit_test(test_key_file_must_be_a_regular_file),
        cmocka_unit_test(test_second_server_on_an_ipc_path_is_refused),
        cmocka_unit_test(test_loopback_names_and_ipv6),
        cmocka_unit_test(test_loop_stall_ends_no_live_session),
        cmocka_unit_test(test_max_memory_refuses_growth_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
