/*
 * lock_counter.c — four processes increment one counter in a shared dict, each
 * read-modify-write under a Lock. The total comes out exact. Each holder also records its
 * fencing token beside the counter, and refuses to write if a larger one is already there:
 * the guard a resource uses against a holder whose lock was taken away when it stalled.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

#define PROCESSES 4
#define INCREMENTS 250

static int64_t get_or_zero(mpx_proxy *d, const char *name)
{
    mpx_value *k = mpx_str(name), *zero = mpx_int(0), *v = NULL;
    int64_t n = 0;
    if (mpx_dict_get_default(d, k, zero, &v) == 0) mpx_value_get_int(v, &n);
    mpx_value_free(&k);
    mpx_value_free(&zero);
    mpx_value_free(&v);
    return n;
}

static int put(mpx_proxy *d, const char *name, int64_t n)
{
    mpx_value *k = mpx_str(name), *v = mpx_int(n);
    int rc = mpx_dict_set(d, k, v);
    mpx_value_free(&k);
    mpx_value_free(&v);
    return rc;
}

static int worker(mpx_proxy *lock, mpx_proxy *state)
{
    for (int i = 0; i < INCREMENTS; i++) {
        bool got = false;
        uint64_t fence = 0;
        if (mpx_lock_acquire(lock, MPX_FOREVER, &got, &fence, NULL) || !got) return 1;
        if ((uint64_t)get_or_zero(state, "fence") > fence) { /* a newer holder wrote */
            mpx_lock_release(lock);
            continue;
        }
        int rc = put(state, "count", get_or_zero(state, "count") + 1) ||
                 put(state, "fence", (int64_t)fence);
        if (mpx_lock_release(lock) || rc) return 1;
    }
    return 0;
}

int main(void)
{
    mpx_manager *m = NULL;
    mpx_proxy *lock = NULL, *state = NULL;
    if (mpx_manager_start(&m) || mpx_lock_new(mpx_manager_client(m), &lock) ||
        mpx_dict_new(mpx_manager_client(m), &state)) {
        fprintf(stderr, "lock_counter: %s\n", mpx_last_error());
        return 1;
    }
    pid_t pids[PROCESSES];
    for (int i = 0; i < PROCESSES; i++)
        if ((pids[i] = fork()) == 0) _exit(worker(lock, state));
    int failed = 0, status;
    for (int i = 0; i < PROCESSES; i++)
        failed += waitpid(pids[i], &status, 0) < 0 || WEXITSTATUS(status) != 0;
    int64_t count = get_or_zero(state, "count");
    printf("lock_counter: %d processes x %d increments = %lld (expected %d)\n", PROCESSES,
           INCREMENTS, (long long)count, PROCESSES * INCREMENTS);
    mpx_proxy_free(&lock);
    mpx_proxy_free(&state);
    mpx_manager_shutdown(&m);
    return failed || count != PROCESSES * INCREMENTS;
}
