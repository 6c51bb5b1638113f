/*
 * counter.c — eight processes count work done in one typed Value and in one dict entry per
 * kind of job, with no lock: each increment is one atomic add on the server. A get-then-set
 * from several processes (Python's `d['x'] += 1` through a manager) loses updates; this never
 * does, and the totals are checked exact at the end.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

#define PROCESSES 8
#define JOBS 2000

static int worker(mpx_proxy *done, mpx_proxy *by_kind, int id)
{
    mpx_value *kind = mpx_str(id % 2 ? "odd" : "even");
    int rc = 0;
    for (int i = 0; rc == 0 && i < JOBS; i++) {
        rc = mpx_val_add_int(done, 1, NULL);
        if (rc == 0) rc = mpx_dict_add_int(by_kind, kind, 1, NULL);
    }
    if (rc) fprintf(stderr, "worker %d: %s\n", id, mpx_last_error());
    mpx_value_free(&kind);
    return rc != 0;
}

static int64_t entry(mpx_proxy *d, const char *name)
{
    mpx_value *k = mpx_str(name);
    int64_t n = -1;
    mpx_dict_add_int(d, k, 0, &n); /* adding 0 reads the entry */
    mpx_value_free(&k);
    return n;
}

int main(void)
{
    mpx_manager *m = NULL;
    mpx_proxy *done = NULL, *by_kind = NULL;
    if (mpx_manager_start(&m) != 0) {
        fprintf(stderr, "counter: %s\n", mpx_last_error());
        return 1;
    }
    mpx_client *c = mpx_manager_client(m);
    if (mpx_val_open_typed(c, "jobs.done", 'q', NULL, &done) ||
        mpx_dict_open(c, "jobs.by_kind", &by_kind)) {
        fprintf(stderr, "counter: %s\n", mpx_last_error());
        mpx_manager_shutdown(&m);
        return 1;
    }
    pid_t pids[PROCESSES];
    for (int i = 0; i < PROCESSES; i++)
        if ((pids[i] = fork()) == 0) _exit(worker(done, by_kind, i));
    int failed = 0;
    for (int i = 0; i < PROCESSES; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    int64_t total = -1;
    mpx_val_add_int(done, 0, &total);
    int64_t even = entry(by_kind, "even"), odd = entry(by_kind, "odd");
    printf("done %lld (even %lld, odd %lld), expected %d\n", (long long)total, (long long)even,
           (long long)odd, PROCESSES * JOBS);
    int ok = !failed && total == PROCESSES * JOBS && even + odd == total;
    mpx_proxy_free(&done);
    mpx_proxy_free(&by_kind);
    mpx_manager_shutdown(&m);
    return ok ? 0 : 1;
}
