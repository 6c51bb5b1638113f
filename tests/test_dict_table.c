/*
 * test_dict_table.c — the dict's storage (server/dict.c) on its own: no operation does more
 * than a fixed amount of moving work however large the table grows; it agrees with a simple
 * model through growth, deletions and compaction, in content and insertion order; a walk
 * resumed by sequence number returns every pair present for the whole walk exactly once,
 * whatever moved between its steps; clearing hands the pairs to lazyfree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "alloc.h"
#include "dict.h"
#include "lazyfree.h"

/* The bounds dict.c keeps on the moves of the index and of compaction in one change: a small
 * index (up to 1024 slots, so 512 pairs) moves at once; a large one 8 pairs a change, and
 * compaction 8. */
#define WORK_BOUND (512 + 8)
#define WORK_BOUND_LARGE (8 + 8)

static size_t key_of(char *buf, int i)
{
    return (size_t)snprintf(buf, 32, "key:%d", i);
}

static int set_i(mpx__dict *d, int k, int v)
{
    char key[32], val[64];
    size_t klen = key_of(key, k);
    /* values of several sizes: some pairs fit in their entry, some do not */
    size_t vlen = (size_t)snprintf(val, sizeof val, "%0*d", 1 + (v % 4) * 12, v);
    return mpx__dict_set(d, mpx__dict_hash((uint8_t *)key, klen), (uint8_t *)key, klen,
                         (uint8_t *)val, vlen);
}

static bool remove_i(mpx__dict *d, int k)
{
    char key[32];
    size_t klen = key_of(key, k);
    return mpx__dict_remove(d, mpx__dict_hash((uint8_t *)key, klen), (uint8_t *)key, klen);
}

/* The value stored under k, or -1. */
static int get_i(mpx__dict *d, int k)
{
    char key[32], val[64];
    size_t klen = key_of(key, k);
    const mpx__dict_entry *e =
        mpx__dict_find(d, mpx__dict_hash((uint8_t *)key, klen), (uint8_t *)key, klen);
    if (!e) return -1;
    memcpy(val, mpx__dict_value(e), e->vlen);
    val[e->vlen] = '\0';
    return atoi(val);
}

static int key_number(const mpx__dict_entry *e)
{
    char key[32];
    memcpy(key, mpx__dict_key(e), e->klen);
    key[e->klen] = '\0';
    return atoi(key + 4);
}

static void free_all(mpx__dict *d)
{
    mpx__dict_free(d);
    mpx__lazyfree_finish();
}

/* Filling a dict to half a million pairs: each insert does a bounded amount of moving work,
 * and every pair is found afterwards. */
static void test_growth_work_is_bounded(void **state)
{
    (void)state;
    enum { N = 500000 };
    mpx__dict *d = mpx__dict_new();
    size_t most = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(set_i(d, i, i), 0);
        size_t w = mpx__dict_last_work(d);
        assert_true(w <= (i > 10000 ? WORK_BOUND_LARGE : WORK_BOUND));
        if (w > most) most = w;
    }
    assert_true(most > 0); /* it did move the index, a step at a time */
    assert_int_equal(mpx__dict_len(d), N);
    for (int i = 0; i < N; i += 97)
        assert_int_equal(get_i(d, i), i);
    free_all(d);
}

/* The model: the value and insertion number of each key, or -1 when absent. */
enum { KEYS = 4000, OPS = 200000 };
static int model_val[KEYS];
static long model_seq[KEYS];

static void check_against_model(mpx__dict *d)
{
    size_t live = 0;
    for (int k = 0; k < KEYS; k++) {
        assert_int_equal(get_i(d, k), model_val[k]);
        live += model_val[k] >= 0;
    }
    assert_int_equal(mpx__dict_len(d), live);
    /* insertion order: the walk's keys come with growing model numbers */
    mpx__dict_iter it;
    mpx__dict_iter_start(d, &it, 0);
    long last = -1;
    size_t seen = 0;
    for (const mpx__dict_entry *e; (e = mpx__dict_iter_next(d, &it, NULL, NULL)); seen++) {
        int k = key_number(e);
        assert_true(model_seq[k] > last);
        last = model_seq[k];
    }
    assert_int_equal(seen, live);
}

/* Random sets and removes agree with the model, through growth, many tombstones, and
 * compactions (most pairs removed, then more stored), each change within the work bound. */
static void test_matches_a_model(void **state)
{
    (void)state;
    mpx__dict *d = mpx__dict_new();
    long seq = 0;
    srand(7);
    for (int k = 0; k < KEYS; k++)
        model_val[k] = -1;
    for (int op = 0; op < OPS; op++) {
        int k = rand() % KEYS;
        /* phases: fill, then mostly remove (holes outnumber pairs: compaction), then mix */
        int phase = (op / 20000) % 3, r = rand() % 10;
        bool remove = phase == 0 ? r < 1 : phase == 1 ? r < 9 : r < 5;
        if (remove) {
            assert_int_equal(remove_i(d, k), model_val[k] >= 0);
            model_val[k] = -1;
        } else {
            assert_int_equal(set_i(d, k, op), 0);
            if (model_val[k] < 0) model_seq[k] = seq++;
            model_val[k] = op;
        }
        assert_true(mpx__dict_last_work(d) <= WORK_BOUND);
        if (op % 10000 == 9999) check_against_model(d);
    }
    mpx__dict_entry *last = mpx__dict_last(d);
    if (last) { /* popitem's pair is the newest */
        int newest = key_number(last);
        for (int k = 0; k < KEYS; k++)
            if (model_val[k] >= 0) assert_true(model_seq[k] <= model_seq[newest]);
        mpx__dict_remove_last(d);
        model_val[newest] = -1;
    }
    check_against_model(d);
    free_all(d);
}

/* A walk taken a few pairs a call, resumed from its cursor, while between the calls pairs are
 * removed (enough to compact) and stored (enough to move the index): every pair present for
 * the whole walk comes exactly once. */
static void test_walk_survives_moves(void **state)
{
    (void)state;
    enum { N = 60000, STEP = 100 };
    static unsigned char times[2 * N];
    memset(times, 0, sizeof times);
    mpx__dict *d = mpx__dict_new();
    for (int i = 0; i < N; i++)
        set_i(d, i, i);
    uint64_t cursor = 0;
    int removed_upto = N / 3, added = N;
    do {
        mpx__dict_iter it;
        mpx__dict_iter_start(d, &it, cursor);
        size_t pairs = 0, holes = 0;
        uint64_t seq = 0;
        const mpx__dict_entry *e;
        while (pairs < STEP && holes < 10 * STEP &&
               (e = mpx__dict_iter_next(d, &it, &seq, &holes))) {
            if (!e->klen) continue;
            int k = key_number(e);
            assert_true(k >= 0 && k < 2 * N);
            times[k]++;
            pairs++;
        }
        cursor = 0;
        size_t ignored = 0;
        if (mpx__dict_iter_next(d, &it, &seq, &ignored)) cursor = seq;
        for (int i = 0; i < 400 && removed_upto < N; i++) /* two thirds go: compaction */
            remove_i(d, removed_upto++);
        for (int i = 0; i < 50 && added < 2 * N; i++) /* and new pairs come */
            set_i(d, added++, 0);
    } while (cursor);
    for (int i = 0; i < N / 3; i++) /* present for the whole walk */
        assert_int_equal(times[i], 1);
    for (int i = 0; i < added; i++)
        assert_true(times[i] <= 1);
    free_all(d);
}

/* clear() empties the dict at once; its pairs are freed by lazyfree a slice at a time. */
static void test_clear_frees_later(void **state)
{
    (void)state;
    size_t before = mpx__mem_used();
    mpx__dict *d = mpx__dict_new();
    for (int i = 0; i < 100000; i++)
        set_i(d, i, i);
    size_t full = mpx__mem_used();
    mpx__dict_clear(d);
    assert_int_equal(mpx__dict_len(d), 0);
    assert_int_equal(get_i(d, 5), -1);
    assert_true(mpx__lazyfree_pending());
    int turns = 0;
    while (mpx__lazyfree_pending()) {
        mpx__lazyfree_run(16384);
        turns++;
    }
    assert_true(turns > 1); /* a slice a turn */
    assert_true(mpx__mem_used() < before + (full - before) / 10);
    assert_int_equal(set_i(d, 1, 1), 0);
    assert_int_equal(get_i(d, 1), 1);
    free_all(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_work_is_bounded),
        cmocka_unit_test(test_matches_a_model),
        cmocka_unit_test(test_walk_survives_moves),
        cmocka_unit_test(test_clear_frees_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
