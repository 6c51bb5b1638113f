/*
 * namespace_config.c — a shared configuration: the parent writes settings into a namespace,
 * workers read them, and a worker that finds a setting missing gets MPX_EATTR, as Python's
 * AttributeError. Halfway through, the parent changes a setting and bumps a version number;
 * workers that read again see the new value.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

#define WORKERS 3

static int set_int(mpx_proxy *ns, const char *name, int64_t v)
{
    mpx_value *x = mpx_int(v);
    int rc = mpx_namespace_set(ns, name, x);
    mpx_value_free(&x);
    return rc;
}

static int64_t get_int(mpx_proxy *ns, const char *name)
{
    mpx_value *x = NULL;
    int64_t v = -1;
    if (mpx_namespace_get(ns, name, &x) == 0) mpx_value_get_int(x, &v);
    mpx_value_free(&x);
    return v;
}

static int worker(mpx_proxy *cfg, mpx_proxy *ready, int id)
{
    bool go = false;
    if (mpx_event_wait(ready, MPX_FOREVER, &go) || !go) return 1;
    mpx_value *mode = NULL;
    if (mpx_namespace_get(cfg, "mode", &mode)) return 1;
    printf("worker %d: version %lld, batch %lld, mode %s\n", id, (long long)get_int(cfg, "version"),
           (long long)get_int(cfg, "batch"), mpx_value_str(mode, NULL));
    mpx_value_free(&mode);
    mpx_value *x = NULL;
    int rc = mpx_namespace_get(cfg, "not_set", &x); /* a missing setting */
    return rc == MPX_EATTR ? 0 : 1;
}

int main(void)
{
    mpx_manager *m = NULL;
    mpx_proxy *cfg = NULL, *ready = NULL;
    if (mpx_manager_start(&m) != 0) {
        fprintf(stderr, "namespace_config: %s\n", mpx_last_error());
        return 1;
    }
    mpx_client *c = mpx_manager_client(m);
    mpx_value *mode = mpx_str("fast");
    int rc = mpx_namespace_open(c, "config", &cfg) || mpx_event_new(c, &ready) ||
             set_int(cfg, "version", 1) || set_int(cfg, "batch", 64) ||
             mpx_namespace_set(cfg, "mode", mode);
    mpx_value_free(&mode);
    if (rc) {
        fprintf(stderr, "namespace_config: %s\n", mpx_last_error());
        mpx_manager_shutdown(&m);
        return 1;
    }
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        if ((pids[i] = fork()) == 0) _exit(worker(cfg, ready, i));
    set_int(cfg, "batch", 128); /* a change before the workers start reading */
    set_int(cfg, "version", 2);
    mpx_event_set(ready);
    int failed = 0;
    for (int i = 0; i < WORKERS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    mpx_value *all = NULL;
    if (mpx_namespace_items(cfg, &all) == 0)
        printf("config has %zu settings\n", mpx_value_len(all));
    mpx_value_free(&all);
    mpx_proxy_free(&cfg);
    mpx_proxy_free(&ready);
    mpx_manager_shutdown(&m);
    return failed;
}
