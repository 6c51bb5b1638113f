/*
 * test_multiproc.c — real processes and threads sharing one server: a private manager with
 * forked children, exact counters from atomic adds, the same over tcp://, and one connection used
 * from several threads.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CHILDREN 4
#define KEYS_PER_CHILD 1000

/* In a forked child: writes this child's keys through the inherited proxy. */
static int child_write(mpx_proxy *d, int id)
{
    for (int i = 0; i < KEYS_PER_CHILD; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%d-%d", id, i);
        mpx_value *k = mpx_str(name), *v = mpx_int(id * 100000 + i);
        int rc = mpx_dict_set(d, k, v);
        mpx_value_free(&k);
        mpx_value_free(&v);
        if (rc) {
            fprintf(stderr, "child %d: %s: %s\n", id, mpx_strerror(rc), mpx_last_error());
            return 1;
        }
    }
    return 0;
}

/* Forks CHILDREN writers on d, waits for them, and checks the parent sees every key. */
static void fork_writers_and_check(mpx_proxy *d)
{
    pid_t pids[CHILDREN];
    for (int id = 0; id < CHILDREN; id++) {
        pids[id] = fork();
        assert_true(pids[id] >= 0);
        if (pids[id] == 0) _exit(child_write(d, id));
    }
    for (int id = 0; id < CHILDREN; id++) {
        int status;
        assert_int_equal(waitpid(pids[id], &status, 0), pids[id]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    size_t n = 0;
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, CHILDREN * KEYS_PER_CHILD);
    mpx_value *k = mpx_str("c3-999"), *v = NULL;
    int64_t i;
    assert_ok(mpx_dict_get(d, k, &v));
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 3 * 100000 + 999);
    mpx_value_free(&k);
    mpx_value_free(&v);
}

static void test_private_manager_forked_children_ipc(void **state)
{
    (void)state;
    mpx_manager *m = NULL;
    mpx_proxy *d = NULL;
    assert_ok(mpx_manager_start(&m));
    assert_non_null(strstr(mpx_manager_endpoint(m), "ipc://"));
    assert_ok(mpx_dict_new(mpx_manager_client(m), &d));
    fork_writers_and_check(d);
    /* The children's sessions ended with them; the parent's is untouched. */
    assert_ok(mpx_ping(mpx_manager_client(m)));

    char dir[256];
    snprintf(dir, sizeof dir, "%s", mpx_manager_endpoint(m) + 6);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    mpx_proxy_free(&d);
    mpx_manager_shutdown(&m);
    assert_null(m);
    assert_int_equal(stat(dir, &st), -1); /* the server's files are gone */
}

#define ADDS_PER_CHILD 10000

/* In a forked child: ADDS_PER_CHILD increments of each counter, with no lock. */
static int child_add(mpx_proxy *v, mpx_proxy *a, mpx_proxy *d)
{
    mpx_value *key = mpx_str("hits");
    int rc = 0;
    for (int i = 0; rc == 0 && i < ADDS_PER_CHILD; i++) {
        rc = mpx_val_add_int(v, 1, NULL);
        if (rc == 0) rc = mpx_arr_add_int(a, 2, 1, NULL);
        if (rc == 0) rc = mpx_dict_add_int(d, key, 1, NULL);
    }
    if (rc) fprintf(stderr, "adder: %s: %s\n", mpx_strerror(rc), mpx_last_error());
    mpx_value_free(&key);
    return rc != 0;
}

/* The lost update of Python's manager (d['x'] += 1 from several processes) cannot happen with
 * add: 4 processes x 10,000 adds end at exactly 40,000 on a Value, an Array element and a dict
 * entry. */
static void test_atomic_adds_from_many_processes(void **state)
{
    (void)state;
    mpx_manager *m = NULL;
    mpx_proxy *v = NULL, *a = NULL, *d = NULL;
    assert_ok(mpx_manager_start(&m));
    mpx_client *c = mpx_manager_client(m);
    assert_ok(mpx_val_new_typed(c, 'i', NULL, &v));
    assert_ok(mpx_arr_new(c, 'q', 4, NULL, &a));
    assert_ok(mpx_dict_new(c, &d));
    pid_t pids[CHILDREN];
    for (int id = 0; id < CHILDREN; id++) {
        pids[id] = fork();
        assert_true(pids[id] >= 0);
        if (pids[id] == 0) _exit(child_add(v, a, d));
    }
    for (int id = 0; id < CHILDREN; id++) {
        int status;
        assert_int_equal(waitpid(pids[id], &status, 0), pids[id]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    int64_t total = 0;
    assert_ok(mpx_val_add_int(v, 0, &total));
    assert_int_equal(total, CHILDREN * ADDS_PER_CHILD);
    assert_ok(mpx_arr_add_int(a, 2, 0, &total));
    assert_int_equal(total, CHILDREN * ADDS_PER_CHILD);
    mpx_value *key = mpx_str("hits");
    assert_ok(mpx_dict_add_int(d, key, 0, &total));
    assert_int_equal(total, CHILDREN * ADDS_PER_CHILD);
    mpx_value_free(&key);
    mpx_proxy_free(&v);
    mpx_proxy_free(&a);
    mpx_proxy_free(&d);
    mpx_manager_shutdown(&m);
}

static void test_forked_children_over_tcp(void **state)
{
    (void)state;
    mpxd_proc server;
    mpxd_start(&server, "tcp", NULL);
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_open(c, "tcp.shared", &d));
    fork_writers_and_check(d);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&server), 0);
}

typedef struct {
    mpx_proxy *d;
    int id;
    int failures;
} thread_job;

static void *thread_worker(void *arg)
{
    thread_job *job = arg;
    for (int i = 0; i < 500; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d-%d", job->id, i);
        mpx_value *k = mpx_str(name), *v = mpx_int(i), *got = NULL;
        int64_t back = -1;
        if (mpx_dict_set(job->d, k, v) || mpx_dict_get(job->d, k, &got) ||
            mpx_value_get_int(got, &back) || back != i)
            job->failures++;
        mpx_value_free(&k);
        mpx_value_free(&v);
        mpx_value_free(&got);
    }
    return NULL;
}

static void test_one_connection_many_threads(void **state)
{
    (void)state;
    mpx_manager *m = NULL;
    mpx_proxy *d = NULL;
    assert_ok(mpx_manager_start(&m));
    assert_ok(mpx_dict_new(mpx_manager_client(m), &d));
    pthread_t threads[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){.d = d, .id = i};
        assert_int_equal(pthread_create(&threads[i], NULL, thread_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].failures, 0);
    }
    size_t n = 0;
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 2000);
    mpx_proxy_free(&d);
    mpx_manager_shutdown(&m);
}

static void test_manager_stops_when_owner_dies(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t owner = fork();
    if (owner == 0) {
        mpx_manager *m = NULL;
        if (mpx_manager_start(&m) != 0) _exit(1);
        char ep[256];
        snprintf(ep, sizeof ep, "%s", mpx_manager_endpoint(m));
        if (write(pipefd[1], ep, strlen(ep) + 1) < 0) _exit(1);
        pause(); /* killed below without a chance to shut the manager down */
    }
    char ep[256] = {0};
    assert_true(read(pipefd[0], ep, sizeof ep) > 0);
    kill(owner, SIGKILL);
    waitpid(owner, NULL, 0);
    /* The server follows its owner (lifeline pipe) and removes its socket; bounded wait. */
    struct stat st;
    for (int i = 0; i < 200 && stat(ep + 6, &st) == 0; i++)
        usleep(25 * 1000);
    assert_int_equal(stat(ep + 6, &st), -1);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", ep + 6);
    *strrchr(dir, '/') = '\0';
    unlink(strcat(dir, "/authkey")); /* the owner never got to clean up */
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_manager_forked_children_ipc),
        cmocka_unit_test(test_atomic_adds_from_many_processes),
        cmocka_unit_test(test_forked_children_over_tcp),
        cmocka_unit_test(test_one_connection_many_threads),
        cmocka_unit_test(test_manager_stops_when_owner_dies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
