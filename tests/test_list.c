/*
 * test_list.c — the list type against a real mpxd: every method with its results and its
 * errors, after the cases of CPython's list tests (Lib/test/list_tests.py, test_list.py)
 * where they apply: negative indexes, slices with steps, extended-slice length checks, a
 * stable sort that refuses mixed kinds and leaves the list as it was.
 */
#include <math.h>

#include "harness.h"

/* Fails unless the array value a holds exactly want[0..n). */
static void assert_ints(const mpx_value *a, size_t n, const int64_t *want)
{
    assert_int_equal(mpx_value_type(a), MPX_ARRAY);
    assert_int_equal(mpx_value_len(a), n);
    for (size_t i = 0; i < n; i++) {
        double d;
        assert_ok(mpx_value_get_double(mpx_value_at(a, i), &d));
        assert_true(d == (double)want[i]);
    }
}

/* Fails unless the list holds exactly the given integers. */
static void assert_list(mpx_proxy *l, size_t n, const int64_t *want)
{
    mpx_value *all = NULL;
    assert_ok(mpx_list_copy(l, &all));
    assert_ints(all, n, want);
    mpx_value_free(&all);
}
#define ASSERT_LIST(l, ...)                                                                        \
    assert_list(l, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

/* A new list holding the given integers. */
static mpx_proxy *list_of(mpx_value *items)
{
    mpx_proxy *l = NULL;
    assert_ok(mpx_list_new(client, &l));
    assert_ok(mpx_list_extend(l, items));
    mpx_value_free(&items);
    return l;
}

static int64_t get_int(mpx_proxy *l, int64_t i)
{
    mpx_value *v = NULL;
    int64_t out = 0;
    assert_ok(mpx_list_get(l, i, &v));
    assert_ok(mpx_value_get_int(v, &out));
    mpx_value_free(&v);
    return out;
}

static void test_append_extend_insert_len(void **state)
{
    (void)state;
    mpx_proxy *l = NULL;
    size_t n = 99;
    assert_ok(mpx_list_new(client, &l));
    assert_ok(mpx_list_len(l, &n));
    assert_int_equal(n, 0);
    mpx_value *v = mpx_int(1), *items = INTS(2, 3), *notarray = mpx_int(4);
    assert_ok(mpx_list_append(l, v));
    assert_ok(mpx_list_extend(l, items));
    assert_code(mpx_list_extend(l, notarray), MPX_EINVAL);
    ASSERT_LIST(l, 1, 2, 3);
    mpx_value *x = mpx_int(0);
    assert_ok(mpx_list_insert(l, 0, x));    /* the front */
    assert_ok(mpx_list_insert(l, -1, x));   /* before the last, as Python */
    assert_ok(mpx_list_insert(l, 100, x));  /* past the end: the end */
    assert_ok(mpx_list_insert(l, -100, x)); /* before the start: the start */
    ASSERT_LIST(l, 0, 0, 1, 2, 0, 3, 0);
    assert_ok(mpx_list_len(l, &n));
    assert_int_equal(n, 7);
    mpx_value *all[] = {v, items, notarray, x};
    for (size_t i = 0; i < 4; i++)
        mpx_value_free(&all[i]);
    mpx_proxy_free(&l);
}

static void test_index_get_set_delete(void **state)
{
    (void)state;
    mpx_proxy *l = list_of(INTS(10, 11, 12, 13));
    assert_int_equal(get_int(l, 0), 10);
    assert_int_equal(get_int(l, -1), 13);
    assert_int_equal(get_int(l, -4), 10);
    mpx_value *v = NULL, *x = mpx_int(99);
    assert_code(mpx_list_get(l, 4, &v), MPX_EINDEX);
    assert_code(mpx_list_get(l, -5, &v), MPX_EINDEX);
    assert_code(mpx_list_set(l, 4, x), MPX_EINDEX);
    assert_code(mpx_list_del(l, -5), MPX_EINDEX);
    assert_ok(mpx_list_set(l, -2, x));
    assert_ok(mpx_list_del(l, 0));
    ASSERT_LIST(l, 11, 99, 13);
    mpx_value_free(&x);
    mpx_proxy_free(&l);
}

static void test_slices(void **state)
{
    (void)state;
    mpx_proxy *l = list_of(INTS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    mpx_value *s = NULL;
    assert_ok(mpx_list_get_slice(l, 2, 5, MPX_SLICE_NONE, &s));
    assert_ints(s, 3, (int64_t[]){2, 3, 4});
    mpx_value_free(&s);
    assert_ok(mpx_list_get_slice(l, MPX_SLICE_NONE, MPX_SLICE_NONE, -3, &s)); /* a[::-3] */
    assert_ints(s, 4, (int64_t[]){9, 6, 3, 0});
    mpx_value_free(&s);
    assert_ok(mpx_list_get_slice(l, -2, 100, 1, &s)); /* bounds clamp, as Python's */
    assert_ints(s, 2, (int64_t[]){8, 9});
    mpx_value_free(&s);
    assert_ok(mpx_list_get_slice(l, 1, INT64_MAX, INT64_MAX, &s)); /* a huge step */
    assert_ints(s, 1, (int64_t[]){1});
    mpx_value_free(&s);
    assert_ok(mpx_list_get_slice(l, MPX_SLICE_NONE, MPX_SLICE_NONE, INT64_MIN + 1, &s));
    assert_ints(s, 1, (int64_t[]){9});
    mpx_value_free(&s);
    assert_code(mpx_list_get_slice(l, 0, 5, 0, &s), MPX_EVALUE);

    /* a simple slice set may change the length; an extended one must keep it */
    mpx_value *two = INTS(-1, -2), *three = INTS(7, 7, 7), *none = mpx_array();
    assert_ok(mpx_list_set_slice(l, 1, 9, MPX_SLICE_NONE, two));
    ASSERT_LIST(l, 0, -1, -2, 9);
    assert_ok(mpx_list_set_slice(l, 4, 4, 1, three)); /* insert at the end */
    ASSERT_LIST(l, 0, -1, -2, 9, 7, 7, 7);
    assert_code(mpx_list_set_slice(l, 0, 7, 2, two), MPX_EVALUE); /* 4 places, 2 items */
    ASSERT_LIST(l, 0, -1, -2, 9, 7, 7, 7);
    assert_ok(mpx_list_set_slice(l, MPX_SLICE_NONE, MPX_SLICE_NONE, -3, three)); /* 6, 3, 0 */
    ASSERT_LIST(l, 7, -1, -2, 7, 7, 7, 7);
    assert_ok(mpx_list_set_slice(l, 0, 2, 1, none));
    ASSERT_LIST(l, -2, 7, 7, 7, 7);
    assert_ok(mpx_list_del_slice(l, MPX_SLICE_NONE, MPX_SLICE_NONE, 2)); /* 0, 2, 4 */
    ASSERT_LIST(l, 7, 7);
    assert_ok(mpx_list_del_slice(l, MPX_SLICE_NONE, MPX_SLICE_NONE, -1));
    ASSERT_LIST(l);
    mpx_value *all[] = {two, three, none};
    for (size_t i = 0; i < 3; i++)
        mpx_value_free(&all[i]);
    mpx_proxy_free(&l);
}

static void test_pop_remove_index_count_contains(void **state)
{
    (void)state;
    mpx_proxy *l = list_of(INTS(5, 1, 5, 2, 5));
    mpx_value *v = NULL, *five = mpx_int(5), *five_f = mpx_double(5.0), *eight = mpx_int(8);
    int64_t i;
    assert_ok(mpx_list_pop(l, -1, &v));
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 5);
    mpx_value_free(&v);
    assert_ok(mpx_list_pop(l, 1, NULL));
    ASSERT_LIST(l, 5, 5, 2);
    size_t at = 99, n = 0;
    assert_ok(mpx_list_index(l, five_f, MPX_SLICE_NONE, MPX_SLICE_NONE, &at)); /* 5.0 == 5 */
    assert_int_equal(at, 0);
    assert_ok(mpx_list_index(l, five, 1, MPX_SLICE_NONE, &at));
    assert_int_equal(at, 1);
    assert_code(mpx_list_index(l, five, 2, MPX_SLICE_NONE, &at), MPX_EVALUE);
    assert_code(mpx_list_index(l, five, -1, 3, &at), MPX_EVALUE);
    assert_ok(mpx_list_count(l, five_f, &n));
    assert_int_equal(n, 2);
    bool in = false;
    assert_ok(mpx_list_contains(l, five, &in));
    assert_true(in);
    assert_ok(mpx_list_contains(l, eight, &in));
    assert_false(in);
    assert_ok(mpx_list_remove(l, five_f));
    ASSERT_LIST(l, 5, 2);
    assert_code(mpx_list_remove(l, eight), MPX_EVALUE);
    assert_ok(mpx_list_clear(l));
    assert_code(mpx_list_pop(l, -1, &v), MPX_EINDEX);
    assert_code(mpx_list_remove(l, five), MPX_EVALUE);
    mpx_value *all[] = {five, five_f, eight};
    for (size_t k = 0; k < 3; k++)
        mpx_value_free(&all[k]);
    mpx_proxy_free(&l);
}

static void test_reverse_and_sort(void **state)
{
    (void)state;
    mpx_proxy *l = list_of(INTS(3, -1, 2));
    mpx_value *big = mpx_uint(UINT64_MAX), *half = mpx_double(2.5), *nan = mpx_double(NAN);
    assert_ok(mpx_list_append(l, big));
    assert_ok(mpx_list_append(l, half));
    assert_ok(mpx_list_sort(l, false));
    mpx_value *all = NULL;
    assert_ok(mpx_list_copy(l, &all));
    double want[] = {-1, 2, 2.5, 3, 18446744073709551615.0};
    for (size_t i = 0; i < 5; i++) {
        double d;
        assert_ok(mpx_value_get_double(mpx_value_at(all, i), &d));
        assert_true(d == want[i]);
    }
    assert_int_equal(mpx_value_type(mpx_value_at(all, 4)), MPX_UINT); /* exactly */
    mpx_value_free(&all);
    assert_ok(mpx_list_sort(l, true));
    assert_ok(mpx_list_reverse(l));
    assert_ok(mpx_list_del(l, -1));
    assert_ok(mpx_list_append(l, nan)); /* NaN sorts after every number */
    assert_ok(mpx_list_insert(l, 0, nan));
    assert_ok(mpx_list_sort(l, false));
    assert_ok(mpx_list_get(l, 0, &all));
    double d;
    assert_ok(mpx_value_get_double(all, &d));
    assert_true(d == -1);
    mpx_value_free(&all);
    assert_ok(mpx_list_clear(l));

    /* stable: equal items keep their order (1.0 before 1), descending too */
    mpx_value *one_f = mpx_double(1.0), *one = mpx_int(1), *zero = mpx_int(0);
    assert_ok(mpx_list_append(l, one_f));
    assert_ok(mpx_list_append(l, one));
    assert_ok(mpx_list_append(l, zero));
    assert_ok(mpx_list_sort(l, true));
    assert_ok(mpx_list_get(l, 0, &all));
    assert_int_equal(mpx_value_type(all), MPX_DOUBLE);
    mpx_value_free(&all);

    /* mixed kinds: a type error, the list unchanged */
    mpx_value *s = mpx_str("x"), *t = mpx_bool(true);
    assert_ok(mpx_list_append(l, s));
    assert_code(mpx_list_sort(l, false), MPX_ETYPE);
    assert_ok(mpx_list_get(l, -1, &all));
    assert_non_null(mpx_value_str(all, NULL));
    mpx_value_free(&all);
    assert_ok(mpx_list_clear(l));
    assert_ok(mpx_list_append(l, one));
    assert_ok(mpx_list_append(l, t)); /* true is not a number */
    assert_code(mpx_list_sort(l, false), MPX_ETYPE);
    mpx_value *values[] = {big, half, nan, one_f, one, zero, s, t};
    for (size_t i = 0; i < 8; i++)
        mpx_value_free(&values[i]);
    mpx_proxy_free(&l);
}

static void test_strings_sort_by_code_point(void **state)
{
    (void)state;
    mpx_proxy *l = NULL;
    assert_ok(mpx_list_new(client, &l));
    const char *words[] = {"\xc3\xa9t\xc3\xa9", "b", "a", "ab"}; /* "été" after "b" */
    for (size_t i = 0; i < 4; i++) {
        mpx_value *w = mpx_str(words[i]);
        assert_ok(mpx_list_append(l, w));
        mpx_value_free(&w);
    }
    assert_ok(mpx_list_sort(l, false));
    const char *want[] = {"a", "ab", "b", "\xc3\xa9t\xc3\xa9"};
    for (int i = 0; i < 4; i++) {
        mpx_value *v = NULL;
        assert_ok(mpx_list_get(l, i, &v));
        assert_string_equal(mpx_value_str(v, NULL), want[i]);
        mpx_value_free(&v);
    }
    mpx_proxy_free(&l);
}

static void test_named_list_shared_and_typed(void **state)
{
    (void)state;
    mpx_client *other = mpxd_connect(&server);
    mpx_proxy *a = NULL, *b = NULL, *d = NULL;
    assert_ok(mpx_list_open(client, "list.shared", &a));
    assert_ok(mpx_list_open(other, "list.shared", &b));
    mpx_value *x = mpx_str("from a");
    assert_ok(mpx_list_append(a, x));
    mpx_value *v = NULL;
    assert_ok(mpx_list_pop(b, -1, &v));
    assert_true(mpx_value_equal(v, x));
    assert_code(mpx_dict_open(client, "list.shared", &d), MPX_ETYPE);
    assert_code(mpx_dict_len(a, &(size_t){0}), MPX_EINVAL); /* a list proxy is not a dict */
    mpx_value_free(&v);
    mpx_value_free(&x);
    mpx_proxy_free(&a);
    mpx_proxy_free(&b);
    mpx_client_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_append_extend_insert_len),
        HARNESS_TEST(test_index_get_set_delete),
        HARNESS_TEST(test_slices),
        HARNESS_TEST(test_pop_remove_index_count_contains),
        HARNESS_TEST(test_reverse_and_sort),
        HARNESS_TEST(test_strings_sort_by_code_point),
        HARNESS_TEST(test_named_list_shared_and_typed),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
