/*
 * nested.c — a named dict of per-worker lists: proxies inside a container. The parent makes
 * one anonymous list per worker and stores a reference to it in the dict "results" under the
 * worker's name; each worker, in its own process, reads its entry back as a proxy and appends
 * its results to its list; the parent then reads every list through the dict. The lists live
 * as long as the dict refers to them: the parent drops its own proxies at once.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

#define WORKERS 3
#define RESULTS 5

static int worker(mpx_client *c, int id)
{
    char name[32];
    snprintf(name, sizeof name, "worker-%d", id);
    mpx_proxy *results = NULL, *mine = NULL;
    mpx_value *key = mpx_str(name), *ref = NULL;
    int rc = mpx_dict_open(c, "results", &results);
    if (rc == 0) rc = mpx_dict_get(results, key, &ref);
    if (rc == 0) rc = mpx_proxy_from_ref(c, ref, &mine); /* a proxy to the worker's list */
    for (int i = 0; rc == 0 && i < RESULTS; i++) {
        mpx_value *r = mpx_int(id * 100 + i);
        rc = mpx_list_append(mine, r);
        mpx_value_free(&r);
    }
    if (rc) fprintf(stderr, "%s: %s\n", name, mpx_last_error());
    mpx_value_free(&key);
    mpx_value_free(&ref);
    mpx_proxy_free(&mine);
    mpx_proxy_free(&results);
    return rc != 0;
}

int main(void)
{
    mpx_manager *m = NULL;
    mpx_proxy *results = NULL;
    if (mpx_manager_start(&m) != 0 || mpx_dict_open(mpx_manager_client(m), "results", &results)) {
        fprintf(stderr, "nested: %s\n", mpx_last_error());
        mpx_manager_shutdown(&m);
        return 1;
    }
    mpx_client *c = mpx_manager_client(m);
    for (int i = 0; i < WORKERS; i++) { /* one list per worker, held by the dict alone */
        char name[32];
        snprintf(name, sizeof name, "worker-%d", i);
        mpx_proxy *list = NULL;
        mpx_value *key = mpx_str(name), *ref = NULL;
        if (mpx_list_new(c, &list) == 0 && (ref = mpx_ref(list))) mpx_dict_set(results, key, ref);
        mpx_value_free(&key);
        mpx_value_free(&ref);
        mpx_proxy_free(&list);
    }
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        if ((pids[i] = fork()) == 0) _exit(worker(c, i));
    int failed = 0;
    for (int i = 0; i < WORKERS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    mpx_value *items = NULL;
    size_t total = 0;
    if (mpx_dict_items(results, &items) == 0) {
        for (size_t i = 0; i < mpx_value_len(items); i++) {
            const mpx_value *pair = mpx_value_at(items, i);
            mpx_proxy *list = NULL;
            size_t n = 0;
            if (mpx_proxy_from_ref(c, mpx_value_at(pair, 1), &list) == 0 &&
                mpx_list_len(list, &n) == 0)
                printf("%s: %zu results\n", mpx_value_str(mpx_value_at(pair, 0), NULL), n);
            total += n;
            mpx_proxy_free(&list);
        }
    }
    mpx_value_free(&items);
    mpx_proxy_free(&results);
    mpx_manager_shutdown(&m);
    return failed || total != WORKERS * RESULTS;
}
