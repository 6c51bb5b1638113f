/*
 * workers.c — coordinating distributed workers: a coordinator hands jobs to workers (on this
 * host or others) through a queue and collects results in a dict; a barrier lines the workers
 * up before they start; an event tells them to stop.
 *
 *   workers coordinator ENDPOINT KEYFILE WORKERS JOBS   run the coordinator against an mpxd
 *   workers worker ENDPOINT KEYFILE                     run one worker (anywhere)
 *   workers demo [WORKERS [JOBS]]                       both, with a private manager
 *
 * Every object is named, so processes on different hosts find them through the endpoint.
 * Start the coordinator first: the barrier takes its size from whoever creates it.
 *
 * Workers take jobs with leased gets: a job stays the queue's until its result is stored and
 * the worker acknowledges it, so a worker killed half-way loses no job: it goes back to the
 * queue for another worker. A job may then be done twice; storing its result under the job's
 * own key makes doing it twice harmless (at least once delivery, exactly once effect).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpx.h>

typedef struct {
    mpx_proxy *jobs, *results, *start, *stop;
} shared;

static int open_shared(mpx_client *c, uint64_t workers, shared *s)
{
    int rc = mpx_queue_open(c, "workers.jobs", 0, &s->jobs);
    if (rc == 0) rc = mpx_dict_open(c, "workers.results", &s->results);
    if (rc == 0) rc = mpx_barrier_open(c, "workers.start", workers, 30000, &s->start);
    if (rc == 0) rc = mpx_event_open(c, "workers.stop", &s->stop);
    if (rc) fprintf(stderr, "workers: %s (%s)\n", mpx_strerror(rc), mpx_last_error());
    return rc;
}

static void close_shared(shared *s)
{
    mpx_proxy_free(&s->jobs);
    mpx_proxy_free(&s->results);
    mpx_proxy_free(&s->start);
    mpx_proxy_free(&s->stop);
}

/* A worker: waits at the start line, then squares numbers until the stop event is set. */
static int worker(mpx_client *c)
{
    shared s = {0};
    uint64_t index = 0;
    int done = 0;
    /* The barrier's size is fixed by whoever creates it first: the coordinator. */
    if (open_shared(c, 1, &s) || mpx_barrier_wait(s.start, MPX_BARRIER_TIMEOUT, &index)) {
        close_shared(&s);
        return 1;
    }
    for (;;) {
        bool stop = false;
        mpx_value *job = NULL;
        uint64_t lease;
        if (mpx_event_is_set(s.stop, &stop) || stop) break;
        /* wake up now and then to see the event; a job leased until this session ends */
        int rc = mpx_queue_get_lease(s.jobs, 200, MPX_FOREVER, &lease, &job);
        if (rc == MPX_EEMPTY) continue;
        if (rc) break;
        int64_t n = 0;
        mpx_value_get_int(job, &n);
        mpx_value *square = mpx_int(n * n);
        rc = mpx_dict_set(s.results, job, square); /* keyed by the job: twice is harmless */
        if (rc == 0) rc = mpx_queue_ack(s.jobs, lease);
        mpx_value_free(&job);
        mpx_value_free(&square);
        if (rc) break;
        done++;
    }
    printf("worker %llu (pid %d): %d jobs\n", (unsigned long long)index, (int)getpid(), done);
    fflush(stdout); /* a forked worker leaves through _exit() */
    close_shared(&s);
    return 0;
}

static int coordinator(mpx_client *c, uint64_t workers, int jobs)
{
    shared s = {0};
    uint64_t index;
    if (open_shared(c, workers + 1, &s)) return 1;
    mpx_dict_clear(s.results);
    mpx_event_clear(s.stop);
    mpx_value *batch = mpx_array();
    for (int i = 1; i <= jobs; i++) {
        mpx_value *v = mpx_int(i);
        mpx_array_push(batch, &v);
    }
    int rc = mpx_queue_put_many(s.jobs, batch); /* one message for every job */
    mpx_value_free(&batch);
    if (rc == 0) rc = mpx_barrier_wait(s.start, MPX_BARRIER_TIMEOUT, &index); /* all here: go */
    size_t n = 0;
    while (rc == 0 && n < (size_t)jobs) {
        usleep(20 * 1000);
        rc = mpx_dict_len(s.results, &n);
    }
    if (rc == 0) rc = mpx_event_set(s.stop);
    printf("coordinator: %zu of %d results collected%s\n", n, jobs, rc ? " (failed)" : "");
    close_shared(&s);
    return rc != 0;
}

static int demo(int workers, int jobs)
{
    mpx_manager *m = NULL;
    if (mpx_manager_start(&m)) {
        fprintf(stderr, "workers: %s\n", mpx_last_error());
        return 1;
    }
    shared s = {0}; /* created here so the barrier has workers + 1 parties */
    if (open_shared(mpx_manager_client(m), (uint64_t)workers + 1, &s)) return 1;
    pid_t pids[64];
    for (int i = 0; i < workers && i < 64; i++)
        if ((pids[i] = fork()) == 0) _exit(worker(mpx_manager_client(m)));
    int failed = coordinator(mpx_manager_client(m), (uint64_t)workers, jobs), status;
    for (int i = 0; i < workers && i < 64; i++)
        failed += waitpid(pids[i], &status, 0) < 0 || WEXITSTATUS(status) != 0;
    close_shared(&s);
    mpx_manager_shutdown(&m);
    return failed != 0;
}

static mpx_client *connect_or_die(const char *endpoint, const char *keyfile)
{
    mpx_client *c = NULL;
    if (mpx_connect_keyfile(endpoint, keyfile, &c)) {
        fprintf(stderr, "workers: %s\n", mpx_last_error());
        exit(1);
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "demo") == 0)
        return demo(argc > 2 ? atoi(argv[2]) : 3, argc > 3 ? atoi(argv[3]) : 500);
    if (argc == 6 && strcmp(argv[1], "coordinator") == 0) {
        mpx_client *c = connect_or_die(argv[2], argv[3]);
        int rc = coordinator(c, strtoull(argv[4], NULL, 10), atoi(argv[5]));
        mpx_client_free(&c);
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "worker") == 0) {
        mpx_client *c = connect_or_die(argv[2], argv[3]);
        int rc = worker(c);
        mpx_client_free(&c);
        return rc;
    }
    fprintf(stderr, "usage: workers demo [WORKERS [JOBS]]\n"
                    "       workers coordinator ENDPOINT KEYFILE WORKERS JOBS\n"
                    "       workers worker ENDPOINT KEYFILE\n");
    return 2;
}
