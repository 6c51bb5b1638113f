/*
 * test_mpxd.c — mpxd as a program: its options, the authkey rules, clean stops on signals,
 * and what a client sees when the server stalls or dies.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
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
    const char *opts[] = {"--authkey-file", "--authkey-out", "--max-message", "--handshake-timeout",
                          "--ready-fd",     "--lifeline-fd", "--quiet",       "MPX_AUTHKEY",
                          "SIGTERM",        "--cpu"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
        assert_non_null(strstr(out, opts[i]));
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--no-such-option", NULL}, NULL, &out), 2);
    free(out);
    assert_int_equal(run_mpxd((const char *[]){"--max-message", "lots", NULL}, NULL, &out), 2);
    assert_non_null(strstr(out, "--max-message"));
    free(out);
}

static void test_refuses_public_bind_without_authkey(void **state)
{
    (void)state;
    char ep[64], keyout[] = "/tmp/mpxtest-key-XXXXXX", *out;
    snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", free_tcp_port());
    int fd = mkstemp(keyout);
    close(fd);
    char home[] = "HOME=/nonexistent", *env[] = {home, NULL};
    assert_int_equal(run_mpxd((const char *[]){"--authkey-out", keyout, ep, NULL}, env, &out), 1);
    assert_non_null(strstr(out, "refusing"));
    free(out);
    unlink(keyout);
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
    assert_int_equal(keylen, 65); /* 64 hex digits and a newline */
    key[64] = '\0';
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
    assert_null(strstr(out, key));         /* never the key itself */
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

/* Whether pid's loop and its libzmq I/O thread may run on one and the same CPU alone. */
static bool loop_and_io_together(pid_t pid)
{
    cpu_set_t loop, io;
    thread_cpus(pid, "mpxd", &loop);
    thread_cpus(pid, "ZMQbg/IO/", &io);
    return CPU_COUNT(&loop) == 1 && CPU_EQUAL(&loop, &io);
}

/* By default (--cpu auto) an idle mpxd keeps its loop and libzmq's I/O thread on one CPU
 * (when it has two or more to choose from, and the kernel's schedstat to go by); --cpu none
 * leaves both on every CPU. The moves under load are test_placement's. */
static void test_cpu_auto_gathers_an_idle_server_and_none_does_not(void **state)
{
    (void)state;
    cpu_set_t allowed, loop, io;
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    const char *modes[] = {NULL, "auto"}; /* the default, then the same asked for */
    for (int m = 0; m < 2; m++) {
        mpx_client *c = NULL;
        pid_t pid = start_with_env_key("auto key", modes[m] ? "--cpu" : NULL, modes[m], &c);
        assert_ok(mpx_ping(c));
        bool together = false;
        for (int i = 0; i < 100 && !together; i++) { /* a few placement periods; 5 s at most */
            together = loop_and_io_together(pid);
            if (!together) usleep(50 * 1000);
        }
        assert_true(together ==
                    (CPU_COUNT(&allowed) >= 2 && access("/proc/thread-self/schedstat", R_OK) == 0));
        mpx_client_free(&c);
        stop_with_sigint(pid);
    }

    mpx_client *c = NULL;
    pid_t pid = start_with_env_key("none key", "--cpu", "none", &c);
    assert_ok(mpx_ping(c));
    usleep(500 * 1000); /* five placement periods */
    thread_cpus(pid, "mpxd", &loop);
    thread_cpus(pid, "ZMQbg/IO/", &io);
    assert_true(CPU_EQUAL(&loop, &allowed) && CPU_EQUAL(&io, &allowed));
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
    mpx_connect_options o = {.keyfile = server.keyfile, .place_io = true, .io_cpu = cpu};
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
    mpx_connect_options two_keys = {.keyfile = server.keyfile, .authkey = "k", .keylen = 1};
    mpx_connect_options no_key = {0};
    assert_code(mpx_connect_opts(server.endpoint, &two_keys, &c), MPX_EINVAL);
    assert_code(mpx_connect_opts(server.endpoint, &no_key, &c), MPX_EINVAL);
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
    /* Nobody there at all: connect times out too. */
    assert_code(mpx_connect(server.endpoint, "k", 1, &c), MPX_ETIMEDOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_refuses_public_bind_without_authkey),
        cmocka_unit_test(test_generated_key_is_private_and_never_printed),
        cmocka_unit_test(test_key_from_environment_and_sigint),
        cmocka_unit_test(test_cpu_option_places_every_thread),
        cmocka_unit_test(test_cpu_auto_gathers_an_idle_server_and_none_does_not),
        cmocka_unit_test(test_connect_places_the_io_thread),
        cmocka_unit_test(test_stalled_server_times_out_and_connection_survives),
        cmocka_unit_test(test_dead_server_gives_timeout_not_hang),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
