/*
 * dict_share.c — a parent starts a private manager (like Python's multiprocessing.Manager()),
 * forks workers, and every worker writes into the same dict through the proxy it inherited,
 * with no configuration. The parent then reads what they wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

#define WORKERS 4
#define KEYS_PER_WORKER 100

static int worker(mpx_proxy *results, int id)
{
    for (int i = 0; i < KEYS_PER_WORKER; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker%d:item%d", id, i);
        mpx_value *k = mpx_str(name), *v = mpx_int((int64_t)id * i);
        int rc = mpx_dict_set(results, k, v);
        mpx_value_free(&k);
        mpx_value_free(&v);
        if (rc) {
            fprintf(stderr, "worker %d: %s (%s)\n", id, mpx_strerror(rc), mpx_last_error());
            return 1;
        }
    }
    return 0;
}

int main(void)
{
    mpx_manager *manager = NULL;
    mpx_proxy *results = NULL;
    int rc = mpx_manager_start(&manager);
    if (rc == 0) rc = mpx_dict_new(mpx_manager_client(manager), &results);
    if (rc) {
        fprintf(stderr, "dict_share: %s (%s)\n", mpx_strerror(rc), mpx_last_error());
        return 1;
    }
    pid_t pids[WORKERS];
    for (int id = 0; id < WORKERS; id++) {
        if ((pids[id] = fork()) == 0)
            _exit(worker(results, id)); /* the inherited proxy just works in the child */
    }
    /* Wait for the workers by pid: the private mpxd is a child of this process too. */
    int failed = 0, status;
    for (int id = 0; id < WORKERS; id++)
        failed +=
            waitpid(pids[id], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;

    size_t len = 0;
    rc = mpx_dict_len(results, &len);
    printf("dict_share: %d workers wrote %zu keys (expected %d) through %s\n", WORKERS, len,
           WORKERS * KEYS_PER_WORKER, mpx_manager_endpoint(manager));
    mpx_proxy_free(&results);
    mpx_manager_shutdown(&manager);
    return rc || failed || len != WORKERS * KEYS_PER_WORKER;
}
