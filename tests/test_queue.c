/*
 * test_queue.c — Queue and JoinableQueue against a real mpxd: every method and error, each
 * timeout path, waiters served in arrival order, a blocked call woken from another client and
 * from another thread on the same connection, a waiter killed with SIGKILL, parked calls
 * answered at shutdown, producers and consumers in separate processes, and leased gets: ack,
 * nack, a lease that runs out, a taker killed with SIGKILL, and 10,000 jobs done by four
 * workers of which two are killed, each acknowledged exactly once.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void put_int(mpx_proxy *q, int64_t i, int wait_ms)
{
    mpx_value *v = mpx_int(i);
    assert_ok(mpx_queue_put(q, v, wait_ms));
    mpx_value_free(&v);
}

static int64_t get_int(mpx_proxy *q, int wait_ms)
{
    mpx_value *v = NULL;
    int64_t i = -1;
    assert_ok(mpx_queue_get(q, wait_ms, &v));
    assert_ok(mpx_value_get_int(v, &i));
    mpx_value_free(&v);
    return i;
}

/* Waits (bounded) until the server holds `n` parked calls. */
static void test_fifo_and_sizes(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    size_t n;
    bool b;
    assert_ok(mpx_queue_new(client, 2, &q));
    assert_ok(mpx_queue_empty(q, &b));
    assert_true(b);
    put_int(q, 1, 0);
    put_int(q, 2, 0);
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 2);
    assert_ok(mpx_queue_full(q, &b));
    assert_true(b);
    assert_int_equal(get_int(q, 0), 1);
    assert_int_equal(get_int(q, MPX_FOREVER), 2);
    assert_ok(mpx_queue_empty(q, &b));
    assert_true(b);
    mpx_proxy_free(&q);
}

static void test_nowait_and_timeouts(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    mpx_value *v = mpx_str("x"), *out = NULL;
    assert_ok(mpx_queue_new(client, 1, &q));
    assert_code(mpx_queue_get(q, 0, &out), MPX_EEMPTY);
    assert_true(mpx_err_is_remote(MPX_EEMPTY));
    assert_code(mpx_queue_get(q, 100, &out), MPX_EEMPTY);
    assert_ok(mpx_queue_put(q, v, 0));
    assert_code(mpx_queue_put(q, v, 0), MPX_EFULL);
    assert_code(mpx_queue_put(q, v, 100), MPX_EFULL);
    assert_code(mpx_queue_put(q, v, -5), MPX_EINVAL);
    assert_int_equal(mpxd_stat(client, "parked"), 0); /* the timed-out calls are gone */
    assert_ok(mpx_queue_get(q, 0, &out));
    assert_string_equal(mpx_value_str(out, NULL), "x");
    mpx_value_free(&out);
    mpx_value_free(&v);
    mpx_proxy_free(&q);
}

static void test_nowait_methods_on_the_wire(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    mpx_value *args = mpx_array(), *item = mpx_str("w"), *res = NULL;
    assert_ok(mpx_queue_new(client, 1, &q));
    assert_code(mpx_call(q, "get_nowait", NULL, MPX_TIMEOUT_DEFAULT, &res), MPX_EEMPTY);
    assert_ok(mpx_array_push(args, &item));
    assert_ok(mpx_call(q, "put_nowait", args, MPX_TIMEOUT_DEFAULT, NULL));
    assert_code(mpx_call(q, "put_nowait", args, MPX_TIMEOUT_DEFAULT, NULL), MPX_EFULL);
    assert_ok(mpx_call(q, "get_nowait", NULL, MPX_TIMEOUT_DEFAULT, &res));
    assert_string_equal(mpx_value_str(res, NULL), "w");
    mpx_value_free(&res);
    /* Ill-typed wait arguments are refused, and nothing is parked. */
    mpx_value *bad = mpx_array(), *one = mpx_int(1);
    assert_ok(mpx_array_push(bad, &one));
    assert_code(mpx_call(q, "get", bad, MPX_TIMEOUT_DEFAULT, &res), MPX_ETYPE);
    assert_int_equal(mpxd_stat(client, "parked"), 0);
    mpx_value_free(&bad);
    mpx_value_free(&args);
    mpx_proxy_free(&q);
}

typedef struct {
    mpx_client *c; /* NULL: use the shared client */
    const char *name;
    int64_t got;
    int rc;
} getter_job;

static void *getter(void *arg)
{
    getter_job *job = arg;
    mpx_proxy *q = NULL;
    mpx_value *v = NULL;
    job->rc = mpx_queue_open(job->c ? job->c : client, job->name, 0, &q);
    if (job->rc == 0) job->rc = mpx_queue_get(q, MPX_FOREVER, &v);
    if (job->rc == 0) mpx_value_get_int(v, &job->got);
    mpx_value_free(&v);
    mpx_proxy_free(&q);
    return NULL;
}

static void test_blocked_get_woken_by_other_client(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    getter_job job = {.c = mpxd_connect(&server), .name = "q.wake.other"};
    assert_ok(mpx_queue_open(client, job.name, 0, &q));
    pthread_t t;
    pthread_create(&t, NULL, getter, &job);
    await_stat(client, "parked", 1);
    put_int(q, 42, 0);
    pthread_join(t, NULL);
    assert_ok(job.rc);
    assert_int_equal(job.got, 42);
    mpx_client_free(&job.c);
    mpx_proxy_free(&q);
}

static void test_blocked_get_same_connection_other_thread(void **state)
{
    (void)state;
    /* One thread blocks on the connection; another uses the same connection meanwhile. */
    mpx_proxy *q = NULL;
    getter_job job = {.c = NULL, .name = "q.wake.same"};
    assert_ok(mpx_queue_open(client, job.name, 0, &q));
    pthread_t t;
    pthread_create(&t, NULL, getter, &job);
    await_stat(client, "parked", 1);
    assert_ok(mpx_ping(client));
    put_int(q, 7, 0);
    pthread_join(t, NULL);
    assert_ok(job.rc);
    assert_int_equal(job.got, 7);
    mpx_proxy_free(&q);
}

typedef struct {
    mpx_proxy *q;
    int rc;
} putter_job;

static void *putter(void *arg)
{
    putter_job *job = arg;
    mpx_value *v = mpx_int(2);
    job->rc = mpx_queue_put(job->q, v, MPX_FOREVER);
    mpx_value_free(&v);
    return NULL;
}

static void test_blocked_put_woken_by_get(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    assert_ok(mpx_queue_new(client, 1, &q));
    put_int(q, 1, 0);
    putter_job job = {.q = q};
    pthread_t t;
    pthread_create(&t, NULL, putter, &job);
    await_stat(client, "parked", 1);
    assert_int_equal(get_int(q, 0), 1); /* frees the room; the parked put goes in */
    pthread_join(t, NULL);
    assert_ok(job.rc);
    assert_int_equal(get_int(q, 0), 2);
    mpx_proxy_free(&q);
}

static void test_waiters_are_served_in_arrival_order(void **state)
{
    (void)state;
    enum { N = 3 };
    getter_job jobs[N];
    pthread_t t[N];
    mpx_proxy *q = NULL;
    assert_ok(mpx_queue_open(client, "q.fifo", 0, &q));
    for (int i = 0; i < N; i++) {
        jobs[i] = (getter_job){.c = mpxd_connect(&server), .name = "q.fifo", .got = -1};
        pthread_create(&t[i], NULL, getter, &jobs[i]);
        await_stat(client, "parked", (uint64_t)i + 1); /* so arrival order is known */
    }
    mpx_value *items = mpx_array();
    for (int i = 0; i < N; i++) {
        mpx_value *v = mpx_int(100 + i);
        assert_ok(mpx_array_push(items, &v));
    }
    assert_ok(mpx_queue_put_many(q, items));
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_ok(jobs[i].rc);
        assert_int_equal(jobs[i].got, 100 + i);
        mpx_client_free(&jobs[i].c);
    }
    mpx_value_free(&items);
    mpx_proxy_free(&q);
}

static void test_put_many_get_many(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    mpx_value *items = mpx_array(), *out = NULL;
    assert_ok(mpx_queue_new(client, 4, &q));
    for (int i = 0; i < 5; i++) {
        mpx_value *v = mpx_int(i);
        assert_ok(mpx_array_push(items, &v));
    }
    assert_code(mpx_queue_put_many(q, items), MPX_EFULL); /* all or nothing */
    size_t n = 9;
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 0);
    assert_code(mpx_queue_get_many(q, 3, 0, &out), MPX_EEMPTY);
    mpx_value_free(&items);
    items = mpx_array();
    for (int i = 0; i < 4; i++) {
        mpx_value *v = mpx_int(i);
        assert_ok(mpx_array_push(items, &v));
    }
    assert_ok(mpx_queue_put_many(q, items));
    assert_ok(mpx_queue_get_many(q, 3, 0, &out));
    assert_int_equal(mpx_value_len(out), 3);
    int64_t i;
    assert_ok(mpx_value_get_int(mpx_value_at(out, 2), &i));
    assert_int_equal(i, 2);
    mpx_value_free(&out);
    assert_ok(mpx_queue_get_many(q, 10, 0, &out));
    assert_int_equal(mpx_value_len(out), 1);
    mpx_value_free(&out);
    assert_code(mpx_queue_get_many(q, 0, 0, &out), MPX_EINVAL);
    mpx_value_free(&items);
    mpx_proxy_free(&q);
}

static void test_joinable_task_done_and_join(void **state)
{
    (void)state;
    mpx_proxy *q = NULL, *plain = NULL;
    bool done = false;
    assert_ok(mpx_joinable_queue_new(client, 0, &q));
    assert_ok(mpx_queue_join(q, 0, &done));
    assert_true(done);
    put_int(q, 1, 0);
    put_int(q, 2, 0);
    assert_ok(mpx_queue_join(q, 50, &done));
    assert_false(done);
    get_int(q, 0);
    get_int(q, 0);
    assert_ok(mpx_queue_task_done(q));
    assert_ok(mpx_queue_join(q, 0, &done));
    assert_false(done);
    assert_ok(mpx_queue_task_done(q));
    assert_ok(mpx_queue_join(q, MPX_FOREVER, &done));
    assert_true(done);
    assert_code(mpx_queue_task_done(q), MPX_EVALUE);
    assert_non_null(strstr(mpx_last_error(), "too many times"));
    /* A plain queue has no task_done. */
    assert_ok(mpx_queue_new(client, 0, &plain));
    assert_code(mpx_queue_task_done(plain), MPX_ENOMETHOD);
    mpx_proxy_free(&plain);
    mpx_proxy_free(&q);
}

/* Forks a process that parks a get on the queue `name` of server srv; returns its pid. */
static pid_t fork_getter(const mpxd_proc *srv, const char *name)
{
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c = NULL;
        mpx_proxy *q = NULL;
        mpx_value *v = NULL;
        if (mpx_connect_keyfile(srv->endpoint, srv->keyfile, &c) || mpx_queue_open(c, name, 0, &q))
            _exit(1);
        mpx_queue_get(q, MPX_FOREVER, &v); /* parks until killed */
        _exit(2);
    }
    return pid;
}

static void test_killed_waiter_does_not_swallow_items(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    assert_ok(mpx_queue_open(client, "q.killed", 0, &q));
    pid_t pid = fork_getter(&server, "q.killed");
    await_stat(client, "parked", 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    await_stat(client, "parked", 0); /* dropped with its session */
    put_int(q, 5, 0);
    assert_int_equal(get_int(q, 0), 5);
    mpx_proxy_free(&q);
}

static void test_shutdown_answers_parked_calls(void **state)
{
    (void)state;
    mpxd_proc other;
    mpxd_start(&other, "ipc", NULL);
    getter_job job = {.c = mpxd_connect(&other), .name = "q.shutdown"};
    pthread_t t;
    pthread_create(&t, NULL, getter, &job);
    await_stat(job.c, "parked", 1);
    kill(other.pid, SIGTERM);
    pthread_join(t, NULL);
    assert_code(job.rc, MPX_ESHUTDOWN);
    mpx_client_free(&job.c);
    assert_int_equal(mpxd_stop(&other), 0);
}

/* ---- producers and consumers in separate processes ---------------------------------------- */

/* put_front returns items taken to the head, in order, past maxsize, and on a joinable queue
 * they are the same tasks, not new ones. */
static void test_put_front_returns_items(void **state)
{
    (void)state;
    mpx_proxy *q = NULL;
    assert_ok(mpx_joinable_queue_new(client, 2, &q));
    put_int(q, 1, 0);
    put_int(q, 2, 0);
    assert_int_equal(get_int(q, 0), 1);
    mpx_value *args = mpx_array(), *items = mpx_array(), *x = mpx_int(1), *y = mpx_int(0);
    assert_ok(mpx_array_push(items, &y)); /* [0, 1]: 0 goes first */
    assert_ok(mpx_array_push(items, &x));
    assert_ok(mpx_array_push(args, &items));
    assert_ok(mpx_call(q, "put_front", args, MPX_TIMEOUT_DEFAULT, NULL));
    size_t n = 0;
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 3); /* past maxsize: they were in the queue before */
    assert_int_equal(get_int(q, 0), 0);
    assert_int_equal(get_int(q, 0), 1);
    assert_int_equal(get_int(q, 0), 2);
    assert_ok(mpx_queue_task_done(q));
    assert_ok(mpx_queue_task_done(q));
    assert_code(mpx_queue_task_done(q), MPX_EVALUE); /* two tasks put, not four */
    mpx_value *bad = mpx_array(), *one = mpx_int(1);
    assert_ok(mpx_array_push(bad, &one));
    assert_code(mpx_call(q, "put_front", bad, MPX_TIMEOUT_DEFAULT, NULL), MPX_ETYPE);
    mpx_value_free(&bad);
    mpx_value_free(&args);
    mpx_proxy_free(&q);
}

/* Consumers that give up on their gets (the client's timeout runs out first, while the server
 * would wait for ever) while a producer puts at the same moments, many times over: their
 * gets are cancelled on the server, an item that crossed a cancel goes back to the head, and
 * in the end every item was received exactly once. */
#define GIVE_UP_ITEMS 1500
#define GIVE_UP_CONSUMERS 4

typedef struct {
    mpx_proxy *q;
    atomic_int *received;
    atomic_uchar *seen;
    int duplicates;
} give_up_job;

static void *impatient_consumer(void *arg)
{
    give_up_job *job = arg;
    mpx_value *args = mpx_array(), *block = mpx_bool(true), *forever = mpx_nil();
    mpx_array_push(args, &block);
    mpx_array_push(args, &forever);
    for (int tries = 0; atomic_load(job->received) < GIVE_UP_ITEMS && tries < 200000; tries++) {
        mpx_value *item = NULL;
        int64_t i;
        /* 1 to 3 ms: the server would wait for ever, the client gives up first */
        int rc = mpx_call(job->q, "get", args, 1 + tries % 3, &item);
        if (rc == 0 && mpx_value_get_int(item, &i) == 0 && i >= 0 && i < GIVE_UP_ITEMS) {
            if (atomic_fetch_add(&job->seen[i], 1) != 0) job->duplicates++;
            atomic_fetch_add(job->received, 1);
        }
        mpx_value_free(&item);
    }
    mpx_value_free(&args);
    return NULL;
}

static void test_consumers_that_give_up_lose_no_item(void **state)
{
    (void)state;
    static atomic_uchar seen[GIVE_UP_ITEMS];
    atomic_int received = 0;
    mpx_proxy *q = NULL;
    give_up_job jobs[GIVE_UP_CONSUMERS];
    mpx_client *clients[GIVE_UP_CONSUMERS];
    pthread_t t[GIVE_UP_CONSUMERS];
    assert_ok(mpx_queue_open(client, "q.giveup", 0, &q));
    for (int i = 0; i < GIVE_UP_CONSUMERS; i++) {
        clients[i] = mpxd_connect(&server);
        jobs[i] = (give_up_job){.received = &received, .seen = seen};
        assert_ok(mpx_queue_open(clients[i], "q.giveup", 0, &jobs[i].q));
        pthread_create(&t[i], NULL, impatient_consumer, &jobs[i]);
    }
    for (int i = 0; i < GIVE_UP_ITEMS; i++) {
        put_int(q, i, 0);
        if (i % 16 == 0) usleep(1000); /* puts land while gets are being given up */
    }
    for (int i = 0; i < GIVE_UP_CONSUMERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].duplicates, 0);
        mpx_proxy_free(&jobs[i].q);
        mpx_client_free(&clients[i]); /* waits for its cancels' answers */
    }
    assert_int_equal(atomic_load(&received), GIVE_UP_ITEMS);
    for (int i = 0; i < GIVE_UP_ITEMS; i++)
        assert_int_equal(seen[i], 1);
    size_t left = 1;
    assert_ok(mpx_queue_qsize(q, &left));
    assert_int_equal(left, 0);
    assert_true(mpxd_stat(client, "cancelled") > 0); /* gets were given up */
    mpx_proxy_free(&q);
}

/* With a session timeout no test waits out, consumers killed while parked never take an
 * item: each is handed to them, fails to arrive, and goes to a live consumer within a
 * second. */
static void test_killed_consumers_take_no_item(void **state)
{
    (void)state;
    enum { DEAD = 5, ITEMS = 3 };
    mpxd_proc srv;
    const char *extra[] = {"--session-timeout", "60000", NULL};
    mpxd_start(&srv, "ipc", extra);
    mpx_client *c = mpxd_connect(&srv);
    mpx_proxy *q = NULL;
    assert_ok(mpx_queue_open(c, "q.dead", 0, &q));
    pid_t pids[DEAD];
    for (int i = 0; i < DEAD; i++) {
        pids[i] = fork_getter(&srv, "q.dead");
        await_stat(c, "parked", (uint64_t)i + 1);
    }
    for (int i = 0; i < DEAD; i++) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
    }
    mpx_client *live = mpxd_connect(&srv);
    mpx_proxy *lq = NULL;
    assert_ok(mpx_queue_open(live, "q.dead", 0, &lq));
    for (int i = 0; i < ITEMS; i++)
        put_int(q, 100 + i, 0);
    for (int i = 0; i < ITEMS; i++)
        assert_int_equal(get_int(lq, 1000), 100 + i); /* each within a second, in order */
    size_t left = 1;
    assert_ok(mpx_queue_qsize(q, &left));
    assert_int_equal(left, 0);
    await_stat(c, "parked", 0);
    assert_true(mpxd_stat(c, "peers_gone") >= 1);
    mpx_proxy_free(&lq);
    mpx_client_free(&live);
    mpx_proxy_free(&q);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&srv), 0);
}

#define ITEMS_PER_PRODUCER 200

static int producer(int id)
{
    mpx_client *c = NULL;
    mpx_proxy *q = NULL;
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
        mpx_joinable_queue_open(c, "pc.jobs", 0, &q))
        return 1;
    for (int i = 0; i < ITEMS_PER_PRODUCER; i++) {
        mpx_value *v = mpx_int(id * 100000 + i);
        int rc = mpx_queue_put(q, v, MPX_FOREVER);
        mpx_value_free(&v);
        if (rc) return 2;
    }
    mpx_proxy_free(&q);
    mpx_client_free(&c);
    return 0;
}

/* Consumes until the nil sentinel; records each item in a dict, failing on a duplicate. */
static int consumer(int id)
{
    mpx_client *c = NULL;
    mpx_proxy *q = NULL, *seen = NULL;
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
        mpx_joinable_queue_open(c, "pc.jobs", 0, &q) || mpx_dict_open(c, "pc.seen", &seen))
        return 1;
    int status = 0;
    mpx_value *me = mpx_int(id);
    for (;;) {
        mpx_value *item = NULL, *owner = NULL;
        if (mpx_queue_get(q, MPX_FOREVER, &item)) return 3;
        bool sentinel = mpx_value_type(item) == MPX_NIL;
        if (!sentinel &&
            (mpx_dict_setdefault(seen, item, me, &owner) != 0 || !mpx_value_equal(owner, me)))
            status = 4; /* someone else had this item already */
        mpx_value_free(&item);
        mpx_value_free(&owner);
        if (mpx_queue_task_done(q)) return 5;
        if (sentinel) break;
    }
    mpx_value_free(&me);
    mpx_proxy_free(&seen);
    mpx_proxy_free(&q);
    mpx_client_free(&c);
    return status;
}

static void run_producers_consumers(int n_prod, int n_cons)
{
    mpx_proxy *q = NULL, *seen = NULL;
    assert_ok(mpx_joinable_queue_open(client, "pc.jobs", 0, &q));
    assert_ok(mpx_dict_open(client, "pc.seen", &seen));
    assert_ok(mpx_dict_clear(seen));
    pid_t prods[4], cons[4];
    for (int i = 0; i < n_cons; i++)
        if ((cons[i] = fork()) == 0) _exit(consumer(i));
    for (int i = 0; i < n_prod; i++)
        if ((prods[i] = fork()) == 0) _exit(producer(i));
    int status;
    for (int i = 0; i < n_prod; i++) {
        assert_int_equal(waitpid(prods[i], &status, 0), prods[i]);
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* Every item is in: one sentinel per consumer ends them, after the real items (FIFO). */
    mpx_value *nil = mpx_nil();
    for (int i = 0; i < n_cons; i++)
        assert_ok(mpx_queue_put(q, nil, MPX_FOREVER));
    mpx_value_free(&nil);
    bool done = false;
    assert_ok(mpx_queue_join(q, 30000, &done)); /* generous: "it did not hang" */
    assert_true(done);
    for (int i = 0; i < n_cons; i++) {
        assert_int_equal(waitpid(cons[i], &status, 0), cons[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    size_t n = 0;
    assert_ok(mpx_dict_len(seen, &n));
    assert_int_equal(n, (size_t)n_prod * ITEMS_PER_PRODUCER);
    mpx_proxy_free(&seen);
    mpx_proxy_free(&q);
}

static void test_producers_consumers(void **state)
{
    (void)state;
    static const int shapes[][2] = {{1, 1}, {1, 4}, {4, 1}, {4, 4}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        run_producers_consumers(shapes[i][0], shapes[i][1]);
}

static int64_t lease_int(mpx_proxy *q, int wait_ms, int lease_ms, uint64_t *lease)
{
    mpx_value *v = NULL;
    int64_t i = -1;
    assert_ok(mpx_queue_get_lease(q, wait_ms, lease_ms, lease, &v));
    assert_ok(mpx_value_get_int(v, &i));
    mpx_value_free(&v);
    return i;
}

/* A leased item leaves the waiting items but stays the queue's: ack ends it for good, nack
 * puts it back at the head, and a lease is acknowledged at most once. */
static void test_leased_get_ack_nack(void **state)
{
    (void)state;
    mpx_proxy *q;
    uint64_t a, b, c;
    size_t n;
    assert_ok(mpx_queue_new(client, 0, &q));
    for (int i = 0; i < 3; i++)
        put_int(q, i, 0);
    assert_int_equal(lease_int(q, 0, MPX_FOREVER, &a), 0);
    assert_int_equal(lease_int(q, 0, MPX_FOREVER, &b), 1);
    assert_true(a != b);
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 1);
    assert_ok(mpx_queue_ack(q, a));
    assert_code(mpx_queue_ack(q, a), MPX_ENOLEASE);
    assert_ok(mpx_queue_nack(q, b)); /* item 1 is first again */
    assert_code(mpx_queue_ack(q, b), MPX_ENOLEASE);
    assert_int_equal(lease_int(q, 0, 1000, &c), 1);
    assert_ok(mpx_queue_ack(q, c));
    assert_int_equal(get_int(q, 0), 2);
    mpx_value *v = NULL;
    assert_code(mpx_queue_get_lease(q, 0, MPX_FOREVER, &c, &v), MPX_EEMPTY);
    assert_code(mpx_queue_get_lease(q, 0, 0, &c, &v), MPX_EINVAL);
    mpx_proxy_free(&q);
}

/* A lease not acknowledged in time puts its item back for the next taker, and a parked
 * leased get is served like any get. */
static void test_lease_runs_out(void **state)
{
    (void)state;
    mpx_proxy *q;
    uint64_t a, b;
    assert_ok(mpx_queue_new(client, 0, &q));
    uint64_t before = mpxd_stat(client, "redelivered");
    put_int(q, 7, 0);
    assert_int_equal(lease_int(q, 0, 200, &a), 7);
    int64_t t0 = harness_now_ms();
    assert_int_equal(lease_int(q, 5000, MPX_FOREVER, &b), 7); /* parked until the lease ran out */
    int64_t took = harness_now_ms() - t0;
    assert_true(took >= 150 && took < 2000);
    assert_code(mpx_queue_ack(q, a), MPX_ENOLEASE);
    assert_ok(mpx_queue_ack(q, b));
    assert_int_equal(mpxd_stat(client, "redelivered"), before + 1);
    mpx_proxy_free(&q);
}

/* Forks a taker of one item of the JoinableQueue `name` (leased or plain), which then waits to
 * be killed; returns once it has the item. */
static pid_t taker_holding_item(const char *name, bool lease)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        mpx_client *c;
        mpx_proxy *q;
        mpx_value *v;
        uint64_t id;
        if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
            mpx_joinable_queue_open(c, name, 0, &q) ||
            (lease ? mpx_queue_get_lease(q, 5000, MPX_FOREVER, &id, &v)
                   : mpx_queue_get(q, 0, &v)) ||
            write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    close(ready[0]), close(ready[1]);
    return pid;
}

/* A taker killed holding a lease: the item goes to another taker, well within the session
 * timeout, and a JoinableQueue still counts it as one unfinished task. */
static void test_killed_taker_item_redelivered(void **state)
{
    (void)state;
    mpx_proxy *q;
    assert_ok(mpx_joinable_queue_open(client, "lease.killed", 0, &q));
    put_int(q, 42, 0);
    pid_t pid = taker_holding_item("lease.killed", true);
    bool done = true;
    assert_ok(mpx_queue_join(q, 0, &done));
    assert_false(done);
    int64_t t0 = harness_now_ms();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    uint64_t lease;
    assert_int_equal(lease_int(q, 5000, MPX_FOREVER, &lease), 42);
    assert_true(harness_now_ms() - t0 < atoi(HARNESS_SESSION_TIMEOUT));
    assert_ok(mpx_queue_join(q, 0, &done));
    assert_false(done); /* still the one task */
    assert_ok(mpx_queue_ack(q, lease));
    assert_ok(mpx_queue_join(q, 0, &done));
    assert_true(done);
    mpx_proxy_free(&q);
}

/* A JoinableQueue task taken with a plain get by a process killed before its task_done: the
 * item went with it, join() does not wait for it, and abandoned() counts it. */
static void test_join_not_held_by_a_dead_taker(void **state)
{
    (void)state;
    mpx_proxy *q;
    assert_ok(mpx_joinable_queue_open(client, "join.dead", 0, &q));
    put_int(q, 1, 0);
    put_int(q, 2, 0);
    pid_t pid = taker_holding_item("join.dead", false);
    assert_int_equal(get_int(q, 0), 2);
    assert_ok(mpx_queue_task_done(q)); /* ours is done; the other taker's is not */
    bool done = true;
    uint64_t abandoned = 9;
    assert_ok(mpx_queue_join(q, 0, &done));
    assert_false(done);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_ok(mpx_queue_join(q, 5000, &done));
    assert_true(done);
    assert_ok(mpx_queue_abandoned(q, &abandoned));
    assert_int_equal(abandoned, 1);
    mpx_proxy_free(&q);
}

#define JOBS 10000

/* One worker: leased gets until the queue stays empty, each job's result stored under its
 * own key (so a job done twice stores the same thing twice), its attempts counted, then
 * acknowledged. */
static void lease_worker(void)
{
    mpx_client *c;
    mpx_proxy *q, *d;
    if (mpx_connect_keyfile(server.endpoint, server.keyfile, &c) ||
        mpx_joinable_queue_open(c, "lease.jobs", 0, &q) || mpx_dict_open(c, "lease.results", &d))
        _exit(1);
    for (;;) {
        mpx_value *job = NULL;
        uint64_t lease;
        int64_t j, count;
        int rc = mpx_queue_get_lease(q, 1000, MPX_FOREVER, &lease, &job);
        if (rc == MPX_EEMPTY) _exit(0);
        if (rc || mpx_value_get_int(job, &j)) _exit(2);
        char key[32];
        snprintf(key, sizeof key, "attempts:%lld", (long long)j);
        mpx_value *k = mpx_str(key), *r = mpx_int(j * 2);
        if (mpx_dict_add_int(d, k, 1, &count)) _exit(3);
        mpx_value_free(&k);
        snprintf(key, sizeof key, "result:%lld", (long long)j);
        k = mpx_str(key);
        if (mpx_dict_set(d, k, r) || mpx_queue_ack(q, lease)) _exit(4);
        mpx_value_free(&k), mpx_value_free(&r), mpx_value_free(&job);
    }
}

/* 10,000 jobs, four workers, two of them SIGKILLed at random moments: every job's result is
 * there and every job acknowledged exactly once (join), whatever was done twice. */
static void test_jobs_survive_killed_workers(void **state)
{
    (void)state;
    mpx_proxy *q, *d;
    assert_ok(mpx_joinable_queue_open(client, "lease.jobs", 0, &q));
    assert_ok(mpx_dict_open(client, "lease.results", &d));
    mpx_value *batch = mpx_array();
    for (int j = 0; j < JOBS; j++) {
        mpx_value *v = mpx_int(j);
        mpx_array_push(batch, &v);
    }
    assert_ok(mpx_queue_put_many(q, batch));
    mpx_value_free(&batch);
    pid_t pids[4];
    for (int w = 0; w < 4; w++)
        if ((pids[w] = fork()) == 0) lease_worker();
    srand((unsigned)time(NULL));
    for (int w = 0; w < 2; w++) {
        usleep((useconds_t)(50000 + rand() % 400000));
        kill(pids[w], SIGKILL);
    }
    for (int w = 0; w < 4; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        if (w >= 2) assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    bool done = false;
    assert_ok(mpx_queue_join(q, 10000, &done));
    assert_true(done); /* every task acknowledged, none twice (ack counts each once) */
    size_t n;
    assert_ok(mpx_queue_qsize(q, &n));
    assert_int_equal(n, 0);
    int64_t attempts = 0;
    for (int j = 0; j < JOBS; j++) {
        char key[32];
        snprintf(key, sizeof key, "result:%d", j);
        mpx_value *k = mpx_str(key), *v = NULL;
        int64_t r;
        assert_ok(mpx_dict_get(d, k, &v));
        assert_ok(mpx_value_get_int(v, &r));
        assert_int_equal(r, 2 * j);
        mpx_value_free(&k), mpx_value_free(&v);
        snprintf(key, sizeof key, "attempts:%d", j);
        k = mpx_str(key);
        assert_ok(mpx_dict_get(d, k, &v));
        assert_ok(mpx_value_get_int(v, &r));
        attempts += r;
        mpx_value_free(&k), mpx_value_free(&v);
    }
    printf("# %d jobs, %lld attempts: %lld done again after a worker died\n", JOBS,
           (long long)attempts, (long long)(attempts - JOBS));
    assert_true(attempts >= JOBS && attempts <= JOBS + 2); /* a killed worker held one job */
    mpx_proxy_free(&q), mpx_proxy_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_fifo_and_sizes),
        HARNESS_TEST(test_nowait_and_timeouts),
        HARNESS_TEST(test_nowait_methods_on_the_wire),
        HARNESS_TEST(test_blocked_get_woken_by_other_client),
        HARNESS_TEST(test_blocked_get_same_connection_other_thread),
        HARNESS_TEST(test_blocked_put_woken_by_get),
        HARNESS_TEST(test_waiters_are_served_in_arrival_order),
        HARNESS_TEST(test_put_many_get_many),
        HARNESS_TEST(test_joinable_task_done_and_join),
        HARNESS_TEST(test_killed_waiter_does_not_swallow_items),
        HARNESS_TEST(test_put_front_returns_items),
        HARNESS_TEST(test_consumers_that_give_up_lose_no_item),
        HARNESS_TEST(test_killed_consumers_take_no_item),
        HARNESS_TEST(test_shutdown_answers_parked_calls),
        HARNESS_TEST(test_producers_consumers),
        HARNESS_TEST(test_leased_get_ack_nack),
        HARNESS_TEST(test_lease_runs_out),
        HARNESS_TEST(test_killed_taker_item_redelivered),
        HARNESS_TEST(test_jobs_survive_killed_workers),
        HARNESS_TEST(test_join_not_held_by_a_dead_taker),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
