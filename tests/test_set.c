/*
 * test_set.c — the set type against a real mpxd: every method with its results and its
 * errors, after the cases of CPython's Lib/test/test_set.py where they apply, and the
 * equality rule members share with dict keys.
 */
#include "harness.h"

/* The integers of an array value, sorted, as a bit mask of 0..63. */
static uint64_t mask_of(const mpx_value *a)
{
    uint64_t m = 0;
    for (size_t i = 0; i < mpx_value_len(a); i++) {
        int64_t v;
        assert_ok(mpx_value_get_int(mpx_value_at(a, i), &v));
        assert_true(v >= 0 && v < 64);
        assert_false(m & (1ull << v)); /* no member twice */
        m |= 1ull << v;
    }
    return m;
}
#define BITS(...) mask_of_list((int[]){__VA_ARGS__}, sizeof((int[]){__VA_ARGS__}) / sizeof(int))
static uint64_t mask_of_list(const int *v, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m |= 1ull << v[i];
    return m;
}

static mpx_proxy *set_of(mpx_value *items)
{
    mpx_proxy *s = NULL;
    assert_ok(mpx_set_new(client, &s));
    assert_ok(mpx_set_update(s, items));
    mpx_value_free(&items);
    return s;
}

static void test_add_discard_remove_contains(void **state)
{
    (void)state;
    mpx_proxy *s = set_of(INTS(1, 2, 2, 3));
    size_t n = 0;
    assert_ok(mpx_set_len(s, &n));
    assert_int_equal(n, 3);
    mpx_value *one_f = mpx_double(1.0), *four = mpx_int(4), *t = mpx_bool(true), *v = NULL;
    bool in = false;
    assert_ok(mpx_set_add(s, one_f)); /* 1.0 is 1: already a member */
    assert_ok(mpx_set_len(s, &n));
    assert_int_equal(n, 3);
    assert_ok(mpx_set_contains(s, t, &in)); /* true is not 1 */
    assert_false(in);
    assert_ok(mpx_set_discard(s, four)); /* missing: no error */
    assert_code(mpx_set_remove(s, four), MPX_EKEY);
    assert_ok(mpx_set_remove(s, one_f));
    assert_ok(mpx_set_contains(s, one_f, &in));
    assert_false(in);
    assert_ok(mpx_set_copy(s, &v));
    assert_int_equal(mask_of(v), BITS(2, 3));
    mpx_value_free(&v);
    assert_ok(mpx_set_pop(s, &v));
    assert_ok(mpx_set_pop(s, NULL));
    mpx_value_free(&v);
    assert_code(mpx_set_pop(s, &v), MPX_EKEY); /* empty */
    assert_ok(mpx_set_add(s, four));
    assert_ok(mpx_set_clear(s));
    assert_ok(mpx_set_len(s, &n));
    assert_int_equal(n, 0);
    mpx_value *all[] = {one_f, four, t};
    for (size_t i = 0; i < 3; i++)
        mpx_value_free(&all[i]);
    mpx_proxy_free(&s);
}

static void test_update_and_canonical_members(void **state)
{
    (void)state;
    mpx_proxy *s = set_of(INTS(1));
    mpx_value *notarray = mpx_int(5);
    assert_code(mpx_set_update(s, notarray), MPX_EINVAL);
    /* members come back canonical: 2.0 as 2 */
    mpx_value *two_f = mpx_double(2.0), *arr = mpx_array(), *v = NULL;
    assert_ok(mpx_array_push(arr, &two_f));
    assert_ok(mpx_set_update(s, arr));
    assert_ok(mpx_set_copy(s, &v));
    assert_int_equal(mpx_value_type(mpx_value_at(v, 1)), MPX_UINT);
    mpx_value_free(&v);
    mpx_value_free(&arr);
    mpx_value_free(&notarray);
    mpx_proxy_free(&s);
}

static void test_operations_with_an_array(void **state)
{
    (void)state;
    mpx_proxy *s = set_of(INTS(1, 2, 3, 4));
    mpx_value *other = INTS(3, 4, 5, 5, 6), *v = NULL;
    assert_ok(mpx_set_union(s, other, &v));
    assert_int_equal(mask_of(v), BITS(1, 2, 3, 4, 5, 6));
    mpx_value_free(&v);
    assert_ok(mpx_set_intersection(s, other, &v));
    assert_int_equal(mask_of(v), BITS(3, 4));
    mpx_value_free(&v);
    assert_ok(mpx_set_difference(s, other, &v));
    assert_int_equal(mask_of(v), BITS(1, 2));
    mpx_value_free(&v);
    assert_ok(mpx_set_symmetric_difference(s, other, &v));
    assert_int_equal(mask_of(v), BITS(1, 2, 5, 6));
    mpx_value_free(&v);
    size_t n = 0;
    assert_ok(mpx_set_len(s, &n)); /* the set itself is unchanged */
    assert_int_equal(n, 4);

    mpx_value *sub = INTS(1, 2), *super = INTS(0, 1, 2, 3, 4, 9), *apart = INTS(7, 8);
    mpx_value *empty = mpx_array();
    bool b = false;
    assert_ok(mpx_set_issubset(s, super, &b));
    assert_true(b);
    assert_ok(mpx_set_issubset(s, sub, &b));
    assert_false(b);
    assert_ok(mpx_set_issuperset(s, sub, &b));
    assert_true(b);
    assert_ok(mpx_set_issuperset(s, super, &b));
    assert_false(b);
    assert_ok(mpx_set_issuperset(s, empty, &b));
    assert_true(b);
    assert_ok(mpx_set_isdisjoint(s, apart, &b));
    assert_true(b);
    assert_ok(mpx_set_isdisjoint(s, other, &b));
    assert_false(b);
    assert_code(mpx_set_union(s, NULL, &v), MPX_EINVAL);
    mpx_value *all[] = {other, sub, super, apart, empty};
    for (size_t i = 0; i < 5; i++)
        mpx_value_free(&all[i]);
    mpx_proxy_free(&s);
}

static void test_named_set_shared(void **state)
{
    (void)state;
    mpx_client *other = mpxd_connect(&server);
    mpx_proxy *a = NULL, *b = NULL;
    assert_ok(mpx_set_open(client, "set.shared", &a));
    assert_ok(mpx_set_open(other, "set.shared", &b));
    mpx_value *x = mpx_str("member");
    bool in = false;
    assert_ok(mpx_set_add(a, x));
    assert_ok(mpx_set_contains(b, x, &in));
    assert_true(in);
    mpx_value_free(&x);
    mpx_proxy_free(&a);
    mpx_proxy_free(&b);
    mpx_client_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_add_discard_remove_contains),
        HARNESS_TEST(test_update_and_canonical_members),
        HARNESS_TEST(test_operations_with_an_array),
        HARNESS_TEST(test_named_set_shared),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
