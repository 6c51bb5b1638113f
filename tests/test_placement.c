/*
 * test_placement.c — where mpxd's loop and libzmq's I/O thread run (server/placement.c): the
 * decision, and real threads moved by it. This thread plays the loop: the placement is
 * opened, measured and moved from it, beside a real libzmq context's I/O thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "harness.h"
#include "placement.h"

static bool together(bool now, double loop, double io_wait, int64_t since_spread_ms)
{
    mpx__demand d = {.loop = loop, .io_wait = io_wait};
    return mpx__placement_together(now, &d, since_spread_ms);
}

/* Low demand gathers the threads, but not within the hold after a spread; a busy loop, or
 * an I/O thread that mostly waits for its CPU, spreads them; in between, they stay. */
static void test_decision_has_hysteresis_and_a_hold(void **state)
{
    (void)state;
    int64_t long_ago = MPX_SPREAD_HOLD_MS, just_now = MPX_SPREAD_HOLD_MS / 4;
    assert_true(together(false, 0.0, 0.0, long_ago));
    assert_true(together(false, MPX_GATHER_BELOW - 0.01, MPX_IO_WAIT_GATHER - 0.01, long_ago));
    assert_false(together(false, MPX_GATHER_BELOW - 0.01, 0.0, just_now));
    assert_false(together(false, 0.7, 0.0, long_ago));
    assert_false(together(false, 0.2, 0.5, long_ago));
    assert_true(together(true, 0.7, 0.5, long_ago));
    assert_true(together(true, MPX_SPREAD_ABOVE, MPX_IO_WAIT_SPREAD, long_ago));
    assert_false(together(true, MPX_SPREAD_ABOVE + 0.01, 0.0, long_ago));
    assert_false(together(true, 0.2, MPX_IO_WAIT_SPREAD + 0.01, long_ago));
    assert_false(together(true, 1.0, 0.0, just_now));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Opens a placement for `cpu` beside ctx and lets it look `looks` times, every_ms apart,
 * checking that none of them moves this thread. The caller frees the placement. */
static mpx__placement *look_without_moving(void *ctx, int cpu, int looks, int every_ms)
{
    cpu_set_t before, after;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    mpx__placement *p = NULL;
    assert_int_equal(mpx__placement_open(&p, ctx, cpu), 0);
    for (int i = 0; i < looks; i++) {
        sleep_ms(every_ms);
        assert_int_equal(mpx__placement_adjust(p), 0);
    }
    assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
    assert_true(CPU_EQUAL(&before, &after));
    return p;
}

/* With no I/O thread to be found (here: a context with no socket has started none), the
 * placement looks for one a bounded number of times, moves nothing, and then stops. */
static void test_gives_up_without_an_io_thread(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    mpx__placement *p = look_without_moving(ctx, MPX_CPU_AUTO, MPX_IO_SEARCHES + 5, 20);
    assert_false(p->active);
    assert_int_equal(p->n_io, 0);
    mpx__placement_free(&p);
    zmq_ctx_term(ctx);
}

/* --cpu none leaves every thread where the kernel puts it: nothing is measured or moved. */
static void test_none_moves_nothing(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    mpx__placement *p = look_without_moving(ctx, MPX_CPU_NONE, 1, MPX_PLACEMENT_MS);
    assert_false(p->active);
    mpx__placement_free(&p);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_has_hysteresis_and_a_hold),
        cmocka_unit_test(test_gives_up_without_an_io_thread),
        cmocka_unit_test(test_none_moves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
