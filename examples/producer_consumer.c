/*
 * producer_consumer.c — N producer and M consumer processes around one JoinableQueue through a
 * private manager, shut down cleanly: when the producers are done the parent puts one nil
 * sentinel per consumer, each consumer stops at its sentinel, and join() returns once every
 * item (sentinels included) has been marked done. No consumer is left blocked on get().
 *
 *   producer_consumer [PRODUCERS [CONSUMERS [ITEMS-PER-PRODUCER]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

static int produce(mpx_proxy *jobs, int id, int items)
{
    for (int i = 0; i < items; i++) {
        mpx_value *job = mpx_int((int64_t)id * 1000000 + i);
        int rc = mpx_queue_put(jobs, job, MPX_FOREVER);
        mpx_value_free(&job);
        if (rc) return 1;
    }
    return 0;
}

/* Sums what it consumes into results[consumer id]. */
static int consume(mpx_proxy *jobs, mpx_proxy *results, int id)
{
    int64_t sum = 0, count = 0;
    for (;;) {
        mpx_value *job = NULL;
        if (mpx_queue_get(jobs, MPX_FOREVER, &job) != 0) return 1;
        bool stop = mpx_value_type(job) == MPX_NIL;
        int64_t v = 0;
        if (!stop && mpx_value_get_int(job, &v) == 0) {
            sum += v;
            count++;
        }
        mpx_value_free(&job);
        mpx_queue_task_done(jobs);
        if (stop) break;
    }
    mpx_value *k = mpx_int(id), *v = mpx_int(count);
    int rc = mpx_dict_set(results, k, v);
    mpx_value_free(&k);
    mpx_value_free(&v);
    printf("consumer %d: %lld items, summing to %lld\n", id, (long long)count, (long long)sum);
    fflush(stdout); /* a forked consumer leaves through _exit() */
    return rc != 0;
}

int main(int argc, char **argv)
{
    int producers = argc > 1 ? atoi(argv[1]) : 4, consumers = argc > 2 ? atoi(argv[2]) : 4;
    int items = argc > 3 ? atoi(argv[3]) : 1000;
    mpx_manager *m = NULL;
    mpx_proxy *jobs = NULL, *results = NULL;
    if (mpx_manager_start(&m) || mpx_joinable_queue_new(mpx_manager_client(m), 64, &jobs) ||
        mpx_dict_new(mpx_manager_client(m), &results)) {
        fprintf(stderr, "producer_consumer: %s\n", mpx_last_error());
        return 1;
    }
    pid_t pids[64];
    int n = 0;
    for (int i = 0; i < consumers && n < 64; i++)
        if ((pids[n++] = fork()) == 0) _exit(consume(jobs, results, i));
    for (int i = 0; i < producers && n < 64; i++)
        if ((pids[n++] = fork()) == 0) _exit(produce(jobs, i, items));
    int failed = 0, status;
    for (int i = consumers; i < n; i++) /* the producers */
        failed += waitpid(pids[i], &status, 0) < 0 || WEXITSTATUS(status);
    mpx_value *sentinel = mpx_nil();
    for (int i = 0; i < consumers; i++)
        mpx_queue_put(jobs, sentinel, MPX_FOREVER);
    mpx_value_free(&sentinel);
    bool done = false;
    mpx_queue_join(jobs, MPX_FOREVER, &done);
    for (int i = 0; i < consumers; i++)
        failed += waitpid(pids[i], &status, 0) < 0 || WEXITSTATUS(status);
    size_t reported = 0;
    mpx_dict_len(results, &reported);
    printf("producer_consumer: %d producers x %d items, %d consumers; joined=%s, %zu reports\n",
           producers, items, consumers, done ? "yes" : "no", reported);
    mpx_proxy_free(&jobs);
    mpx_proxy_free(&results);
    mpx_manager_shutdown(&m);
    return failed || !done || reported != (size_t)consumers;
}
