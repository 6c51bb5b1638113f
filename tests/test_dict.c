/*
 * test_dict.c — every dict method, its results and its errors, against a real mpxd; plus
 * named and anonymous objects, and the generic and raw call paths.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static int dict_setup(void **state)
{
    harness_session_setup(state);
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_new(client, &d));
    *state = d;
    return 0;
}

static int dict_teardown(void **state)
{
    mpx_proxy *d = *state;
    mpx_proxy_free(&d);
    return harness_session_teardown(state);
}

/* d[k] = v for a string key. */
static void set_str(mpx_proxy *d, const char *k, mpx_value *v)
{
    mpx_value *key = mpx_str(k);
    assert_ok(mpx_dict_set(d, key, v));
    mpx_value_free(&key);
    mpx_value_free(&v);
}

static int64_t get_int(mpx_proxy *d, const char *k)
{
    mpx_value *key = mpx_str(k), *v = NULL;
    int64_t i = 0;
    assert_ok(mpx_dict_get(d, key, &v));
    assert_ok(mpx_value_get_int(v, &i));
    mpx_value_free(&key);
    mpx_value_free(&v);
    return i;
}

static size_t dict_len(mpx_proxy *d)
{
    size_t n = 99;
    assert_ok(mpx_dict_len(d, &n));
    return n;
}

/* A nested value: {"list": [nil, true, -5, 2^63, 1.5, "s", b"\0\1"], "deep": [[[[...]]]]}. */
static mpx_value *nested_value(void)
{
    mpx_value *m = mpx_map(), *list = mpx_array(), *k, *item;
    mpx_value *items[] = {
        mpx_nil(),       mpx_bool(true), mpx_int(-5),         mpx_uint(UINT64_C(1) << 63),
        mpx_double(1.5), mpx_str("s"),   mpx_bytes("\0\1", 2)};
    for (size_t i = 0; i < sizeof items / sizeof *items; i++)
        assert_ok(mpx_array_push(list, &items[i]));
    k = mpx_str("list");
    assert_ok(mpx_map_put(m, &k, &list));
    mpx_value *deep = mpx_str("bottom");
    for (int i = 0; i < 100; i++) {
        item = mpx_array();
        assert_ok(mpx_array_push(item, &deep));
        deep = item;
    }
    k = mpx_str("deep");
    assert_ok(mpx_map_put(m, &k, &deep));
    return m;
}

static void test_set_get_roundtrip_every_type(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *v = nested_value(), *got = NULL;
    /* The nested value is stored as a key too: arrays and maps work as keys. */
    assert_ok(mpx_dict_set(d, v, v));
    assert_ok(mpx_dict_get(d, v, &got));
    assert_true(mpx_value_equal(v, got));
    mpx_value_free(&got);
    mpx_value *scalars[] = {
        mpx_nil(),         mpx_bool(false), mpx_int(INT64_MIN), mpx_uint(UINT64_MAX),
        mpx_double(-0.25), mpx_str(""),     mpx_bytes(NULL, 0)};
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) {
        assert_ok(mpx_dict_set(d, scalars[i], v));
        assert_ok(mpx_dict_get(d, scalars[i], &got));
        assert_true(mpx_value_equal(v, got));
        mpx_value_free(&got);
        mpx_value_free(&scalars[i]);
    }
    assert_int_equal(dict_len(d), 8);
    mpx_value_free(&v);
}

static void test_set_overwrites_and_keeps_order(void **state)
{
    mpx_proxy *d = *state;
    set_str(d, "a", mpx_int(1));
    set_str(d, "b", mpx_int(2));
    set_str(d, "a", mpx_int(3)); /* a value of the same size is replaced in place */
    assert_int_equal(get_int(d, "a"), 3);
    char long_text[300];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    mpx_value *key = mpx_str("a"), *got = NULL;
    set_str(d, "a", mpx_str(long_text)); /* a larger one, then a smaller one */
    assert_ok(mpx_dict_get(d, key, &got));
    assert_string_equal(mpx_value_str(got, NULL), long_text);
    mpx_value_free(&got);
    mpx_value_free(&key);
    set_str(d, "a", mpx_int(3));
    assert_int_equal(get_int(d, "a"), 3);
    mpx_value *keys = NULL;
    assert_ok(mpx_dict_keys(d, &keys));
    assert_int_equal(mpx_value_len(keys), 2);
    assert_string_equal(mpx_value_str(mpx_value_at(keys, 0), NULL), "a");
    assert_string_equal(mpx_value_str(mpx_value_at(keys, 1), NULL), "b");
    mpx_value_free(&keys);
}

static void test_get_missing_is_key_error(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *key = mpx_str("nope"), *v = NULL;
    assert_code(mpx_dict_get(d, key, &v), MPX_EKEY);
    assert_null(v);
    assert_non_null(strstr(mpx_last_error(), "'nope'"));
    assert_true(mpx_err_is_remote(MPX_EKEY));
    /* A remote error leaves the connection usable. */
    assert_ok(mpx_ping(client));
    mpx_value_free(&key);
}

static void test_get_default(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *key = mpx_str("k"), *dflt = mpx_str("fallback"), *v = NULL;
    assert_ok(mpx_dict_get_default(d, key, dflt, &v));
    assert_true(mpx_value_equal(v, dflt));
    mpx_value_free(&v);
    set_str(d, "k", mpx_int(7));
    assert_ok(mpx_dict_get_default(d, key, dflt, &v));
    int64_t i;
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 7);
    mpx_value_free(&v);
    mpx_value_free(&key);
    mpx_value_free(&dflt);
}

/* Whether d holds key (its own encoding of the key, any equal one). */
static bool has(mpx_proxy *d, mpx_value *key)
{
    bool found = false;
    assert_ok(mpx_dict_contains(d, key, &found));
    mpx_value_free(&key);
    return found;
}

static void test_keys_are_canonical(void **state)
{
    mpx_proxy *d = *state;
    /* numbers are one key by value, whatever their encoding: 5, 5u and 5.0 */
    mpx_value *i5 = mpx_int(5), *u5 = mpx_uint(5), *f5 = mpx_double(5.0), *v = NULL;
    mpx_value *one = mpx_str("one"), *two = mpx_str("two");
    assert_ok(mpx_dict_set(d, i5, one));
    assert_ok(mpx_dict_get(d, u5, &v));
    assert_true(mpx_value_equal(v, one));
    mpx_value_free(&v);
    assert_ok(mpx_dict_get(d, f5, &v));
    assert_true(mpx_value_equal(v, one));
    mpx_value_free(&v);
    assert_ok(mpx_dict_set(d, f5, two));
    assert_int_equal(dict_len(d), 1);
    mpx_value *items[] = {i5, u5, f5, one, two};
    for (size_t i = 0; i < 5; i++)
        mpx_value_free(&items[i]);
}

static void test_equality_rule(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *t = mpx_str("x");
    assert_ok(mpx_dict_set(d, t, t)); /* "x" */
    mpx_value *keys[] = {mpx_double(-0.0),
                         mpx_double(0.5),
                         mpx_bool(true),
                         mpx_double(NAN),
                         mpx_uint(9007199254740993ull),
                         mpx_double(1e300)};
    for (size_t i = 0; i < 6; i++)
        assert_ok(mpx_dict_set(d, keys[i], t));
    assert_true(has(d, mpx_int(0)));  /* -0.0 is 0 */
    assert_false(has(d, mpx_int(1))); /* true is not 1 */
    assert_false(has(d, mpx_double(1.0)));
    assert_true(has(d, mpx_bool(true)));
    assert_true(has(d, mpx_double(NAN))); /* a NaN key is found again */
    assert_true(has(d, mpx_double(0.5)));
    assert_false(has(d, mpx_double(9007199254740992.0))); /* 2^53 + 1 is not 2^53 */
    assert_true(has(d, mpx_uint(9007199254740993ull)));
    assert_true(has(d, mpx_double(1e300))); /* beyond 64 bits: a float key */
    assert_int_equal(dict_len(d), 7);
    /* keys come back canonical: -0.0 as the integer 0 */
    mpx_value *k = NULL;
    assert_ok(mpx_dict_keys(d, &k));
    assert_int_equal(mpx_value_type(mpx_value_at(k, 1)), MPX_UINT);
    mpx_value_free(&k);
    for (size_t i = 0; i < 6; i++)
        mpx_value_free(&keys[i]);
    mpx_value_free(&t);
}

static void test_add_cas_getset(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *k = mpx_str("n"), *s = mpx_str("s"), *v = NULL, *x = NULL;
    int64_t now = 0;
    assert_ok(mpx_dict_add_int(d, k, 5, &now)); /* a missing entry starts at 0 */
    assert_int_equal(now, 5);
    assert_ok(mpx_dict_add_int(d, k, -7, &now));
    assert_int_equal(now, -2);
    mpx_value *half = mpx_double(0.5), *max = mpx_uint(UINT64_MAX), *t = mpx_bool(true);
    assert_ok(mpx_dict_add(d, k, half, &v)); /* a double if either is one */
    double dv;
    assert_ok(mpx_value_get_double(v, &dv));
    assert_true(dv == -1.5);
    mpx_value_free(&v);
    assert_ok(mpx_dict_set(d, k, max));
    assert_code(mpx_dict_add_int(d, k, 1, &now), MPX_EOVERFLOW); /* unchanged */
    assert_ok(mpx_dict_get(d, k, &v));
    assert_true(mpx_value_equal(v, max));
    mpx_value_free(&v);
    assert_ok(mpx_dict_set(d, s, s));
    assert_code(mpx_dict_add_int(d, s, 1, &now), MPX_ETYPE);
    assert_code(mpx_dict_add(d, k, t, NULL), MPX_ETYPE); /* true is not a number */

    /* cas: absent is NULL on both sides */
    mpx_value *c = mpx_str("c"), *one = mpx_int(1), *two = mpx_double(2.0);
    bool swapped = false;
    assert_ok(mpx_dict_cas(d, c, one, two, &swapped, &x));
    assert_false(swapped);
    assert_null(x); /* still absent */
    assert_ok(mpx_dict_cas(d, c, NULL, one, &swapped, &x));
    assert_true(swapped);
    assert_true(mpx_value_equal(x, one));
    mpx_value_free(&x);
    mpx_value *one_f = mpx_double(1.0);
    assert_ok(mpx_dict_cas(d, c, one_f, two, &swapped, NULL)); /* 1.0 == 1 */
    assert_true(swapped);
    assert_ok(mpx_dict_cas(d, c, two, NULL, &swapped, &x)); /* swap to absent: deleted */
    assert_true(swapped);
    assert_null(x);
    bool in = true;
    assert_ok(mpx_dict_contains(d, c, &in));
    assert_false(in);

    /* getset */
    assert_ok(mpx_dict_getset(d, c, one, &x));
    assert_null(x);
    assert_ok(mpx_dict_getset(d, c, two, &x));
    assert_true(mpx_value_equal(x, one));
    mpx_value_free(&x);
    mpx_value *all[] = {k, s, half, max, t, c, one, two, one_f};
    for (size_t i = 0; i < 9; i++)
        mpx_value_free(&all[i]);
}

static void test_delete(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *key = mpx_str("x");
    set_str(d, "x", mpx_int(1));
    assert_ok(mpx_dict_del(d, key));
    assert_int_equal(dict_len(d), 0);
    assert_code(mpx_dict_del(d, key), MPX_EKEY);
    mpx_value_free(&key);
}

static void test_contains_and_len(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *key = mpx_str("x");
    bool in = true;
    assert_ok(mpx_dict_contains(d, key, &in));
    assert_false(in);
    set_str(d, "x", mpx_nil());
    assert_ok(mpx_dict_contains(d, key, &in));
    assert_true(in);
    assert_int_equal(dict_len(d), 1);
    mpx_value_free(&key);
}

static void test_keys_values_items(void **state)
{
    mpx_proxy *d = *state;
    set_str(d, "one", mpx_int(1));
    set_str(d, "two", mpx_int(2));
    set_str(d, "three", mpx_int(3));
    mpx_value *gone = mpx_str("two");
    assert_ok(mpx_dict_del(d, gone));
    mpx_value_free(&gone);
    mpx_value *keys = NULL, *values = NULL, *items = NULL;
    assert_ok(mpx_dict_keys(d, &keys));
    assert_ok(mpx_dict_values(d, &values));
    assert_ok(mpx_dict_items(d, &items));
    assert_int_equal(mpx_value_len(keys), 2);
    assert_string_equal(mpx_value_str(mpx_value_at(keys, 1), NULL), "three");
    int64_t i;
    assert_ok(mpx_value_get_int(mpx_value_at(values, 1), &i));
    assert_int_equal(i, 3);
    const mpx_value *pair = mpx_value_at(items, 0);
    assert_int_equal(mpx_value_len(pair), 2);
    assert_string_equal(mpx_value_str(mpx_value_at(pair, 0), NULL), "one");
    assert_ok(mpx_value_get_int(mpx_value_at(pair, 1), &i));
    assert_int_equal(i, 1);
    mpx_value_free(&keys);
    mpx_value_free(&values);
    mpx_value_free(&items);
}

static void push_pair(mpx_value *pairs, mpx_value *k, mpx_value *v)
{
    mpx_value *pair = mpx_array();
    assert_ok(mpx_array_push(pair, &k));
    assert_ok(mpx_array_push(pair, &v));
    assert_ok(mpx_array_push(pairs, &pair));
}

static void test_update_from_map_and_pairs(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *m = mpx_map();
    for (int i = 0; i < 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "k%d", i);
        mpx_value *k = mpx_str(name), *v = mpx_int(i);
        assert_ok(mpx_map_put(m, &k, &v));
    }
    assert_ok(mpx_dict_update(d, m));
    mpx_value_free(&m);
    assert_int_equal(dict_len(d), 1000);
    assert_int_equal(get_int(d, "k999"), 999);

    mpx_value *pairs = mpx_array();
    push_pair(pairs, mpx_str("k1"), mpx_int(-1));
    assert_ok(mpx_dict_update(d, pairs));
    assert_int_equal(get_int(d, "k1"), -1);
    mpx_value_free(&pairs);
}

/* update() hashes its keys eight at a time and stores its pairs from the records of its
 * walk (t_dict.c). A key that needs re-encoding (a float) is stored in its turn, a key
 * repeated inside a group of eight or past it keeps its last value, and the table grows
 * several times on the way. Order and values must come out as if the pairs were set one by
 * one: into an empty dict, then again over the pairs already there. */
static void test_update_keeps_order(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *f = mpx_double(1.5);
    for (int round = 0; round < 2; round++) {
        mpx_value *pairs = mpx_array();
        for (int i = 0; i < 100; i++) {
            char name[16];
            snprintf(name, sizeof name, "k%d", i);
            push_pair(pairs, i == 41 ? mpx_double(1.5) : mpx_str(name), mpx_int(i + 1000 * round));
            if (i == 5) push_pair(pairs, mpx_str("k3"), mpx_int(-3 - round));
            if (i == 90) push_pair(pairs, mpx_str("k50"), mpx_int(-50 - round));
        }
        assert_ok(mpx_dict_update(d, pairs));
        mpx_value_free(&pairs);
        assert_int_equal(dict_len(d), 100);
        assert_int_equal(get_int(d, "k3"), -3 - round);
        assert_int_equal(get_int(d, "k50"), -50 - round);
        assert_int_equal(get_int(d, "k0"), 1000 * round);
        assert_int_equal(get_int(d, "k99"), 99 + 1000 * round);
        mpx_value *keys = NULL, *v = NULL;
        int64_t i41;
        assert_ok(mpx_dict_get(d, f, &v));
        assert_ok(mpx_value_get_int(v, &i41));
        assert_int_equal(i41, 41 + 1000 * round);
        assert_ok(mpx_dict_keys(d, &keys));
        assert_true(mpx_value_equal(mpx_value_at(keys, 41), f));
        assert_string_equal(mpx_value_str(mpx_value_at(keys, 3), NULL), "k3");
        assert_string_equal(mpx_value_str(mpx_value_at(keys, 42), NULL), "k42");
        assert_string_equal(mpx_value_str(mpx_value_at(keys, 50), NULL), "k50");
        assert_string_equal(mpx_value_str(mpx_value_at(keys, 99), NULL), "k99");
        mpx_value_free(&keys);
        mpx_value_free(&v);
    }
    mpx_value_free(&f);
}

/* Calls whose frames are large enough for the client to hand their bytes to libzmq instead
 * of copying them: one 1 MiB value, then 10,000 pairs in one update(), each read back. */
static void test_large_calls_arrive_whole(void **state)
{
    mpx_proxy *d = *state;
    size_t size = 1 << 20;
    uint8_t *bytes = malloc(size);
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)(i * 7 + i / 251);
    mpx_value *k = mpx_str("blob"), *v = mpx_bytes(bytes, size), *got = NULL;
    assert_ok(mpx_dict_set(d, k, v));
    assert_ok(mpx_dict_get(d, k, &got));
    assert_true(mpx_value_equal(v, got));
    mpx_value_free(&got);
    mpx_value *pairs = mpx_map();
    for (int i = 0; i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%05d", i);
        mpx_value *pk = mpx_str(name), *pv = mpx_int(i * 3);
        assert_ok(mpx_map_put(pairs, &pk, &pv));
    }
    assert_ok(mpx_dict_update(d, pairs));
    assert_int_equal(dict_len(d), 10001);
    assert_int_equal(get_int(d, "p00000"), 0);
    assert_int_equal(get_int(d, "p04321"), 4321 * 3);
    assert_int_equal(get_int(d, "p09999"), 9999 * 3);
    mpx_value_free(&pairs);
    mpx_value_free(&k);
    mpx_value_free(&v);
    free(bytes);
}

/* update() records its pairs 16,384 at a time (t_dict.c, UPDATE_CHUNK); 40,000 pairs take
 * three chunks. A key set in the first chunk and again in the third keeps the later value and
 * its first place, a key needing re-encoding in the second chunk is stored in its turn, and a
 * pair that is not a pair at the very end stops the whole update before anything is stored. */
static void test_update_past_one_chunk(void **state)
{
    mpx_proxy *d = *state;
    enum { N = 40000 };
    for (int bad_tail = 1; bad_tail >= 0; bad_tail--) {
        mpx_value *pairs = mpx_array();
        for (int i = 0; i < N; i++) {
            char name[16];
            snprintf(name, sizeof name, "c%05d", i);
            push_pair(pairs, i == 20000 ? mpx_double(2.5) : mpx_str(name), mpx_int(i));
        }
        push_pair(pairs, mpx_str("c00007"), mpx_int(-7));
        if (bad_tail) {
            mpx_value *bad = mpx_int(0);
            assert_ok(mpx_array_push(pairs, &bad));
            assert_code(mpx_dict_update(d, pairs), MPX_ETYPE);
            assert_int_equal(dict_len(d), 0);
        } else {
            assert_ok(mpx_dict_update(d, pairs));
        }
        mpx_value_free(&pairs);
    }
    assert_int_equal(dict_len(d), N);
    assert_int_equal(get_int(d, "c00007"), -7);
    assert_int_equal(get_int(d, "c16383"), 16383);
    assert_int_equal(get_int(d, "c16384"), 16384);
    assert_int_equal(get_int(d, "c39999"), 39999);
    mpx_value *f = mpx_double(2.5), *v = NULL, *keys = NULL;
    int64_t i;
    assert_ok(mpx_dict_get(d, f, &v));
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 20000);
    assert_ok(mpx_dict_keys(d, &keys));
    assert_string_equal(mpx_value_str(mpx_value_at(keys, 7), NULL), "c00007");
    assert_true(mpx_value_equal(mpx_value_at(keys, 20000), f));
    assert_string_equal(mpx_value_str(mpx_value_at(keys, N - 1), NULL), "c39999");
    mpx_value_free(&keys);
    mpx_value_free(&v);
    mpx_value_free(&f);
}

static void test_update_is_all_or_nothing(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *pairs = mpx_array();
    push_pair(pairs, mpx_str("good"), mpx_int(1));
    mpx_value *bad = mpx_str("not a pair");
    assert_ok(mpx_array_push(pairs, &bad));
    assert_code(mpx_dict_update(d, pairs), MPX_ETYPE);
    assert_int_equal(dict_len(d), 0);
    mpx_value_free(&pairs);
    mpx_value *scalar = mpx_int(3);
    assert_code(mpx_dict_update(d, scalar), MPX_EINVAL);
    mpx_value_free(&scalar);
}

static void test_pop(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *key = mpx_str("p"), *dflt = mpx_str("d"), *v = NULL;
    set_str(d, "p", mpx_int(5));
    assert_ok(mpx_dict_pop(d, key, &v));
    int64_t i;
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 5);
    mpx_value_free(&v);
    assert_int_equal(dict_len(d), 0);
    assert_code(mpx_dict_pop(d, key, &v), MPX_EKEY);
    assert_ok(mpx_dict_pop_default(d, key, dflt, &v));
    assert_true(mpx_value_equal(v, dflt));
    mpx_value_free(&v);
    /* With a default, a key that is there: its value, not the default, and it is gone. */
    set_str(d, "p", mpx_int(6));
    assert_ok(mpx_dict_pop_default(d, key, dflt, &v));
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 6);
    mpx_value_free(&v);
    assert_int_equal(dict_len(d), 0);
    mpx_value_free(&key);
    mpx_value_free(&dflt);
}

static void test_popitem_is_lifo(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *k = NULL, *v = NULL;
    assert_code(mpx_dict_popitem(d, &k, &v), MPX_EKEY);
    set_str(d, "first", mpx_int(1));
    set_str(d, "second", mpx_int(2));
    assert_ok(mpx_dict_popitem(d, &k, &v));
    assert_string_equal(mpx_value_str(k, NULL), "second");
    mpx_value_free(&k);
    mpx_value_free(&v);
    assert_ok(mpx_dict_popitem(d, &k, &v));
    assert_string_equal(mpx_value_str(k, NULL), "first");
    mpx_value_free(&k);
    mpx_value_free(&v);
    assert_int_equal(dict_len(d), 0);
}

static void test_setdefault(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *key = mpx_str("s"), *dflt = mpx_int(10), *other = mpx_int(20), *v = NULL;
    assert_ok(mpx_dict_setdefault(d, key, dflt, &v));
    assert_true(mpx_value_equal(v, dflt));
    mpx_value_free(&v);
    assert_ok(mpx_dict_setdefault(d, key, other, &v));
    assert_true(mpx_value_equal(v, dflt));
    mpx_value_free(&v);
    mpx_value *nil_key = mpx_str("n");
    assert_ok(mpx_dict_setdefault(d, nil_key, NULL, &v));
    assert_int_equal(mpx_value_type(v), MPX_NIL);
    mpx_value_free(&v);
    assert_int_equal(dict_len(d), 2);
    mpx_value *items[] = {key, dflt, other, nil_key};
    for (size_t i = 0; i < 4; i++)
        mpx_value_free(&items[i]);
}

static void test_clear_and_copy(void **state)
{
    mpx_proxy *d = *state;
    set_str(d, "a", mpx_int(1));
    set_str(d, "b", mpx_str("two"));
    mpx_value *copy = NULL;
    assert_ok(mpx_dict_copy(d, &copy));
    assert_int_equal(mpx_value_type(copy), MPX_MAP);
    assert_int_equal(mpx_value_len(copy), 2);
    assert_string_equal(mpx_value_str(mpx_map_get(copy, "b"), NULL), "two");
    mpx_value_free(&copy);
    assert_ok(mpx_dict_clear(d));
    assert_int_equal(dict_len(d), 0);
    assert_ok(mpx_dict_copy(d, &copy));
    assert_int_equal(mpx_value_len(copy), 0);
    mpx_value_free(&copy);
}

/* A string of n bytes: 'a' + i, then letters. */
static char *filler(size_t n, int seed)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (seed + (int)i) % 26);
    s[n] = '\0';
    return s;
}

static void assert_str_at(mpx_proxy *d, const char *k, const char *want)
{
    mpx_value *key = mpx_str(k), *v = NULL;
    assert_ok(mpx_dict_get(d, key, &v));
    assert_string_equal(mpx_value_str(v, NULL), want);
    mpx_value_free(&key);
    mpx_value_free(&v);
}

/* mpxd keeps a pair's bytes in its table entry when they fit (48 bytes with their headers)
 * and in an allocation of their own otherwise; a new value moves them across that line in
 * both directions. Keys of 1 to 60 bytes, each given values of 0, 10, 60, 5, 100 and 30
 * bytes in turn, keep their latest value, their order and their popitem(). */
static void test_values_growing_and_shrinking_keep_pairs(void **state)
{
    mpx_proxy *d = *state;
    static const size_t key_lens[] = {1, 20, 40, 46, 47, 60};
    static const size_t val_lens[] = {0, 10, 60, 5, 100, 30};
    enum { N_KEYS = sizeof key_lens / sizeof key_lens[0] };
    char *keys[N_KEYS];
    for (int i = 0; i < N_KEYS; i++)
        keys[i] = filler(key_lens[i], i);
    for (size_t round = 0; round < sizeof val_lens / sizeof val_lens[0]; round++) {
        for (int i = 0; i < N_KEYS; i++) {
            char *val = filler(val_lens[round], i + (int)round);
            set_str(d, keys[i], mpx_str(val));
            assert_str_at(d, keys[i], val);
            free(val);
        }
        for (int i = 0; i < N_KEYS; i++) { /* the others were not disturbed */
            char *val = filler(val_lens[round], i + (int)round);
            assert_str_at(d, keys[i], val);
            free(val);
        }
    }
    mpx_value *list = NULL;
    assert_ok(mpx_dict_keys(d, &list));
    assert_int_equal(mpx_value_len(list), N_KEYS);
    for (int i = 0; i < N_KEYS; i++)
        assert_string_equal(mpx_value_str(mpx_value_at(list, (size_t)i), NULL), keys[i]);
    mpx_value_free(&list);
    mpx_value *k = mpx_str(keys[1]);
    assert_ok(mpx_dict_del(d, k));
    mpx_value_free(&k);
    mpx_value *pk = NULL, *pv = NULL;
    assert_ok(mpx_dict_popitem(d, &pk, &pv));
    assert_string_equal(mpx_value_str(pk, NULL), keys[N_KEYS - 1]);
    char *last = filler(30, N_KEYS - 1 + 5);
    assert_string_equal(mpx_value_str(pv, NULL), last);
    free(last);
    mpx_value_free(&pk);
    mpx_value_free(&pv);
    assert_int_equal(dict_len(d), N_KEYS - 2);
    for (int i = 0; i < N_KEYS; i++)
        free(keys[i]);
}

static void test_many_keys_survive_growth_and_deletes(void **state)
{
    mpx_proxy *d = *state;
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "key-%d", i);
        set_str(d, name, mpx_int(i));
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(name, sizeof name, "key-%d", i);
        mpx_value *k = mpx_str(name);
        assert_ok(mpx_dict_del(d, k));
        mpx_value_free(&k);
    }
    assert_int_equal(dict_len(d), 2500);
    for (int i = 1; i < 5000; i += 2) {
        snprintf(name, sizeof name, "key-%d", i);
        assert_int_equal(get_int(d, name), i);
    }
}

static void test_named_dict_is_shared(void **state)
{
    (void)state;
    mpx_client *other = mpxd_connect(&server);
    mpx_proxy *a = NULL, *b = NULL;
    assert_ok(mpx_dict_open(client, "shared.named", &a));
    assert_ok(mpx_dict_open(other, "shared.named", &b));
    assert_int_equal(mpx_proxy_id(a), mpx_proxy_id(b));
    set_str(a, "from", mpx_str("client"));
    mpx_value *key = mpx_str("from"), *v = NULL;
    assert_ok(mpx_dict_get(b, key, &v));
    assert_string_equal(mpx_value_str(v, NULL), "client");
    mpx_value_free(&v);
    mpx_value_free(&key);
    /* A named dict outlives every proxy and session. */
    mpx_proxy_free(&b);
    mpx_client_free(&other);
    mpx_proxy_free(&a);
    assert_ok(mpx_dict_open(client, "shared.named", &a));
    assert_int_equal(dict_len(a), 1);
    mpx_proxy_free(&a);
}

static void test_anonymous_dict_freed_with_last_proxy(void **state)
{
    (void)state;
    uint64_t before = mpxd_stat(client, "objects");
    mpx_proxy *d = NULL;
    assert_ok(mpx_dict_new(client, &d));
    assert_int_equal(mpxd_stat(client, "objects"), before + 1);
    uint64_t id = mpx_proxy_id(d);
    assert_true(id != 0);
    mpx_proxy_free(&d);
    assert_null(d);
    assert_int_equal(mpxd_stat(client, "objects"), before);

    /* Closing a session drops its references too. */
    mpx_client *other = mpxd_connect(&server);
    assert_ok(mpx_dict_new(other, &d));
    assert_int_equal(mpxd_stat(client, "objects"), before + 1);
    mpx_client_free(&other);
    assert_code(mpx_dict_len(d, &(size_t){0}), MPX_ECLOSED);
    mpx_proxy_free(&d);
    /* The BYE is asynchronous: ask until the server has processed it. */
    for (int i = 0; i < 200 && mpxd_stat(client, "objects") != before; i++)
        usleep(5000);
    assert_int_equal(mpxd_stat(client, "objects"), before);
}

static void test_name_of_another_type_is_type_error(void **state)
{
    (void)state;
    mpx_proxy *named = NULL, *other = NULL;
    assert_ok(mpx_dict_open(client, "typed.name", &named));
    assert_code(mpx_open(client, "typed.name", "value", &other), MPX_ETYPE);
    assert_null(other);
    assert_non_null(strstr(mpx_last_error(), "is a dict"));
    assert_code(mpx_open(client, "typed.other", "no-such-type", &other), MPX_EVALUE);
    assert_ok(mpx_open(client, "typed.name", "dict", &other));
    assert_int_equal(mpx_proxy_id(other), mpx_proxy_id(named));
    assert_string_equal(mpx_proxy_type(other), "dict");
    mpx_proxy_free(&other);
    mpx_proxy_free(&named);
}

static void test_value_object(void **state)
{
    (void)state;
    mpx_proxy *v = NULL;
    mpx_value *res = NULL, *args = mpx_array(), *x = mpx_str("hello");
    assert_ok(mpx_create(client, "value", &v));
    assert_ok(mpx_call(v, "get", NULL, MPX_TIMEOUT_DEFAULT, &res));
    assert_int_equal(mpx_value_type(res), MPX_NIL);
    mpx_value_free(&res);
    assert_ok(mpx_array_push(args, &x));
    assert_ok(mpx_call(v, "set", args, MPX_TIMEOUT_DEFAULT, NULL));
    assert_ok(mpx_call(v, "get", NULL, MPX_TIMEOUT_DEFAULT, &res));
    assert_string_equal(mpx_value_str(res, NULL), "hello");
    /* A dict function refuses a proxy of another type without a round trip. */
    size_t n;
    assert_code(mpx_dict_len(v, &n), MPX_EINVAL);
    mpx_value_free(&res);
    mpx_value_free(&args);
    mpx_proxy_free(&v);
}

static void test_wrong_method_and_arity(void **state)
{
    mpx_proxy *d = *state;
    mpx_value *args = mpx_array(), *res = NULL;
    assert_code(mpx_call(d, "no_such_method", args, MPX_TIMEOUT_DEFAULT, &res), MPX_ENOMETHOD);
    assert_non_null(strstr(mpx_last_error(), "no_such_method"));
    assert_code(mpx_call(d, "get", args, MPX_TIMEOUT_DEFAULT, &res), MPX_EARGS);
    assert_code(mpx_call(d, "len", NULL, MPX_TIMEOUT_DEFAULT, &res), 0);
    uint64_t n = 9;
    assert_ok(mpx_value_get_uint(res, &n));
    assert_int_equal(n, 0);
    mpx_value_free(&res);
    mpx_value *notarray = mpx_int(1);
    assert_code(mpx_call(d, "len", notarray, MPX_TIMEOUT_DEFAULT, &res), MPX_EINVAL);
    mpx_value_free(&notarray);
    mpx_value_free(&args);
    assert_ok(mpx_ping(client));
}

static void test_call_raw(void **state)
{
    mpx_proxy *d = *state;
    /* ["k", 42] and ["k"] as msgpack */
    static const char set_args[] = "\x92\xa1k\x2a", get_args[] = "\x91\xa1k";
    char *res = NULL;
    size_t len = 0;
    assert_ok(mpx_call_raw(d, "set", set_args, 4, MPX_TIMEOUT_DEFAULT, NULL, NULL));
    assert_ok(mpx_call_raw(d, "get", get_args, 3, MPX_TIMEOUT_DEFAULT, &res, &len));
    assert_int_equal(len, 1);
    assert_int_equal((unsigned char)res[0], 0x2a);
    mpx_free(res);
    /* Values are stored as sent: a float32 value comes back as the same 5 bytes. */
    static const char f32_args[] = "\x92\xa1"
                                   "f"
                                   "\xca\x3f\xc0\x00\x00",
                      f_key[] = "\x91\xa1"
                                "f";
    assert_ok(mpx_call_raw(d, "set", f32_args, 8, MPX_TIMEOUT_DEFAULT, NULL, NULL));
    assert_ok(mpx_call_raw(d, "get", f_key, 3, MPX_TIMEOUT_DEFAULT, &res, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(res, "\xca\x3f\xc0\x00\x00", 5);
    mpx_free(res);
    assert_code(mpx_call_raw(d, "get", "\x91", 1, MPX_TIMEOUT_DEFAULT, &res, &len), MPX_EINVAL);
    assert_code(mpx_call_raw(d, "get", "\xa1k", 2, MPX_TIMEOUT_DEFAULT, &res, &len), MPX_EINVAL);
}

static void test_bad_handles(void **state)
{
    (void)state;
    size_t n;
    assert_code(mpx_dict_len(NULL, &n), MPX_EINVAL);
    assert_code(mpx_dict_open(NULL, "x", &(mpx_proxy *){NULL}), MPX_EINVAL);
    assert_code(mpx_dict_open(client, "", &(mpx_proxy *){NULL}), MPX_EINVAL);
    assert_code(mpx_ping(NULL), MPX_EINVAL);
    mpx_proxy_free(NULL);
    mpx_client_free(NULL);
    mpx_value_free(NULL);
}

/* Walks the whole dict with scan, count pairs a call; counts how often each integer key of
 * [0, range) came; between calls, `between` runs. Returns the number of calls. */
static int scan_all(mpx_proxy *d, size_t count, int *times, int range,
                    void (*between)(mpx_proxy *d, int call))
{
    uint64_t cursor = 0;
    int calls = 0;
    do {
        mpx_value *pairs = NULL;
        assert_ok(mpx_dict_scan(d, cursor, count, &cursor, &pairs));
        assert_true(mpx_value_len(pairs) <= count);
        for (size_t i = 0; i < mpx_value_len(pairs); i++) {
            int64_t k = -1;
            const mpx_value *pair = mpx_value_at(pairs, i);
            assert_int_equal(mpx_value_len(pair), 2);
            assert_ok(mpx_value_get_int(mpx_value_at(pair, 0), &k));
            assert_true(k >= 0 && k < range);
            times[k]++;
        }
        mpx_value_free(&pairs);
        if (between) between(d, calls);
        calls++;
    } while (cursor != 0);
    return calls;
}

static void set_ints(mpx_proxy *d, int from, int to)
{
    mpx_value *m = mpx_map();
    for (int i = from; i < to; i++) {
        mpx_value *k = mpx_int(i), *v = mpx_int(i);
        assert_ok(mpx_map_put(m, &k, &v));
    }
    assert_ok(mpx_dict_update(d, m));
    mpx_value_free(&m);
}

/* Between scan calls: keys of [2000, 3000) go, and new ones of [3000, 4000) come. */
static void churn(mpx_proxy *d, int call)
{
    for (int i = 0; i < 40; i++) {
        mpx_value *k = mpx_int(2000 + call * 40 + i);
        mpx_dict_del(d, k); /* absent is fine */
        mpx_value_free(&k);
    }
    set_ints(d, 3000 + call * 40, 3000 + call * 40 + 40);
}

/* scan: a dict walked a batch at a time returns each pair once; pairs present for the whole
 * walk come exactly once while others come and go; a count of 0 is refused. */
static void test_scan_walks_every_pair_once(void **state)
{
    mpx_proxy *d = *state;
    static int times[5000];
    set_ints(d, 0, 3000);
    memset(times, 0, sizeof times);
    assert_int_equal(scan_all(d, 128, times, 5000, NULL), 24);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(times[i], 1);
    memset(times, 0, sizeof times);
    scan_all(d, 100, times, 5000, churn);
    for (int i = 0; i < 2000; i++) /* present for the whole walk */
        assert_int_equal(times[i], 1);
    for (int i = 0; i < 5000; i++)
        assert_true(times[i] <= 1);
    uint64_t next;
    mpx_value *pairs = NULL;
    assert_code(mpx_dict_scan(d, 0, 0, &next, &pairs), MPX_EINVAL);
    mpx_value *args = mpx_array(), *c = mpx_uint(0), *n = mpx_uint(0);
    assert_ok(mpx_array_push(args, &c));
    assert_ok(mpx_array_push(args, &n));
    assert_code(mpx_call(d, "scan", args, MPX_TIMEOUT_DEFAULT, NULL), MPX_EVALUE);
    mpx_value_free(&args);
}

/* keys, values, items and copy answer with the whole dict: past what one message carries they
 * are refused with MPX_ETOOBIG, pointing to scan, which still walks it all. */
static void test_whole_dict_calls_are_bounded(void **state)
{
    (void)state;
    mpxd_proc srv;
    const char *extra[] = {"--max-message", "65536", NULL};
    mpxd_start(&srv, "ipc", extra);
    mpx_client *c = mpxd_connect(&srv);
    mpx_proxy *d = NULL;
    mpx_value *out = NULL;
    static char blob[100];
    assert_ok(mpx_dict_new(c, &d));
    for (int part = 0; part < 4; part++) {
        mpx_value *m = mpx_map();
        for (int i = part * 250; i < part * 250 + 250; i++) {
            mpx_value *k = mpx_int(i), *v = mpx_bytes(blob, sizeof blob);
            assert_ok(mpx_map_put(m, &k, &v));
        }
        assert_ok(mpx_dict_update(d, m)); /* 100 KB in all, in 25 KB updates */
        mpx_value_free(&m);
    }
    assert_code(mpx_dict_items(d, &out), MPX_ETOOBIG);
    assert_non_null(strstr(mpx_last_error(), "scan"));
    assert_code(mpx_dict_values(d, &out), MPX_ETOOBIG);
    assert_code(mpx_dict_copy(d, &out), MPX_ETOOBIG);
    assert_null(out);
    static int times[1000];
    scan_all(d, 10000, times, 1000, NULL); /* batches stay within a message */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(times[i], 1);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    assert_int_equal(mpxd_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_roundtrip_every_type, dict_setup,
                                        dict_teardown),
        cmocka_unit_test_setup_teardown(test_set_overwrites_and_keeps_order, dict_setup,
                                        dict_teardown),
        cmocka_unit_test_setup_teardown(test_get_missing_is_key_error, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_get_default, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_keys_are_canonical, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_equality_rule, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_add_cas_getset, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_delete, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_contains_and_len, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_keys_values_items, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_update_from_map_and_pairs, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_update_keeps_order, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_large_calls_arrive_whole, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_update_past_one_chunk, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_update_is_all_or_nothing, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_pop, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_scan_walks_every_pair_once, dict_setup, dict_teardown),
        HARNESS_TEST(test_whole_dict_calls_are_bounded),
        cmocka_unit_test_setup_teardown(test_popitem_is_lifo, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_setdefault, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_clear_and_copy, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_values_growing_and_shrinking_keep_pairs, dict_setup,
                                        dict_teardown),
        cmocka_unit_test_setup_teardown(test_many_keys_survive_growth_and_deletes, dict_setup,
                                        dict_teardown),
        HARNESS_TEST(test_named_dict_is_shared),
        HARNESS_TEST(test_anonymous_dict_freed_with_last_proxy),
        HARNESS_TEST(test_name_of_another_type_is_type_error),
        HARNESS_TEST(test_value_object),
        cmocka_unit_test_setup_teardown(test_wrong_method_and_arity, dict_setup, dict_teardown),
        cmocka_unit_test_setup_teardown(test_call_raw, dict_setup, dict_teardown),
        HARNESS_TEST(test_bad_handles),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
