/*
 * test_array.c — the array type against a real mpxd: fixed length, elements checked against
 * the typecode, indexes and slices as Python's (a slice set keeps the length), 'c' arrays as
 * bytes, and add / compare-and-swap of one element.
 */
#include "harness.h"

static void assert_array(mpx_proxy *a, size_t n, const int64_t *want)
{
    mpx_value *all = NULL;
    assert_ok(mpx_arr_copy(a, &all));
    assert_int_equal(mpx_value_len(all), n);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        assert_ok(mpx_value_get_int(mpx_value_at(all, i), &v));
        assert_int_equal(v, want[i]);
    }
    mpx_value_free(&all);
}
#define ASSERT_ARRAY(a, ...)                                                                       \
    assert_array(a, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

static void test_create_len_get_set(void **state)
{
    (void)state;
    mpx_proxy *z = NULL, *a = NULL;
    size_t n = 0;
    assert_ok(mpx_arr_new(client, 'i', 3, NULL, &z)); /* three zeros */
    ASSERT_ARRAY(z, 0, 0, 0);
    mpx_value *init = INTS(1, 2, 3, 4), *v = NULL, *x = mpx_int(-9), *big = mpx_int(1ll << 40);
    assert_ok(mpx_arr_new(client, 'i', 0, init, &a));
    assert_ok(mpx_arr_len(a, &n));
    assert_int_equal(n, 4);
    assert_ok(mpx_arr_get(a, -1, &v));
    int64_t i;
    assert_ok(mpx_value_get_int(v, &i));
    assert_int_equal(i, 4);
    mpx_value_free(&v);
    assert_code(mpx_arr_get(a, 4, &v), MPX_EINDEX);
    assert_ok(mpx_arr_set(a, 0, x));
    assert_code(mpx_arr_set(a, 1, big), MPX_EOVERFLOW); /* unchanged */
    ASSERT_ARRAY(a, -9, 2, 3, 4);
    mpx_proxy *bad = NULL;
    mpx_value *mixed = INTS(1, 1ll << 40);
    assert_code(mpx_arr_new(client, 'i', 0, mixed, &bad), MPX_EOVERFLOW);
    assert_code(mpx_arr_new(client, 'i', (size_t)1 << 40, NULL, &bad), MPX_EVALUE); /* too long */
    mpx_value *all[] = {init, x, big, mixed};
    for (size_t k = 0; k < 4; k++)
        mpx_value_free(&all[k]);
    mpx_proxy_free(&z);
    mpx_proxy_free(&a);
}

static void test_slices_keep_the_length(void **state)
{
    (void)state;
    mpx_value *init = INTS(0, 1, 2, 3, 4, 5), *two = INTS(8, 9), *three = INTS(7, 7, 7), *s = NULL;
    mpx_proxy *a = NULL;
    assert_ok(mpx_arr_open(client, "arr.slices", 'q', 0, init, &a));
    assert_ok(mpx_arr_get_slice(a, 1, MPX_SLICE_NONE, 2, &s));
    assert_int_equal(mpx_value_len(s), 3);
    mpx_value_free(&s);
    assert_ok(mpx_arr_set_slice(a, 0, 2, MPX_SLICE_NONE, two));
    assert_code(mpx_arr_set_slice(a, 0, 2, MPX_SLICE_NONE, three), MPX_EVALUE);
    assert_ok(mpx_arr_set_slice(a, MPX_SLICE_NONE, MPX_SLICE_NONE, -2, three)); /* 5, 3, 1 */
    ASSERT_ARRAY(a, 8, 7, 2, 7, 4, 7);
    assert_code(mpx_arr_get_slice(a, 0, 1, 0, &s), MPX_EVALUE);
    mpx_value *all[] = {init, two, three};
    for (size_t k = 0; k < 3; k++)
        mpx_value_free(&all[k]);
    mpx_proxy_free(&a);
}

static void test_byte_arrays_are_bytes(void **state)
{
    (void)state;
    mpx_value *hello = mpx_bytes("hello", 5), *v = NULL, *jj = mpx_bytes("JJ", 2);
    mpx_proxy *a = NULL;
    assert_ok(mpx_arr_new(client, 'c', 0, hello, &a));
    assert_ok(mpx_arr_get(a, 1, &v));
    size_t len;
    const char *p = mpx_value_bytes(v, &len);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 'e');
    mpx_value_free(&v);
    assert_ok(mpx_arr_set_slice(a, 0, 2, MPX_SLICE_NONE, jj));
    assert_ok(mpx_arr_copy(a, &v));
    p = mpx_value_bytes(v, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "JJllo", 5);
    mpx_value_free(&v);
    mpx_value_free(&hello);
    mpx_value_free(&jj);
    mpx_proxy_free(&a);
}

static void test_element_add_and_cas(void **state)
{
    (void)state;
    mpx_proxy *a = NULL;
    int64_t now = 0;
    assert_ok(mpx_arr_new(client, 'H', 2, NULL, &a));
    assert_ok(mpx_arr_add_int(a, 1, 65535, &now));
    assert_int_equal(now, 65535);
    assert_code(mpx_arr_add_int(a, 1, 1, &now), MPX_EOVERFLOW);
    assert_code(mpx_arr_add_int(a, 0, -1, &now), MPX_EOVERFLOW); /* below 0 */
    assert_code(mpx_arr_add_int(a, 2, 1, &now), MPX_EINDEX);
    mpx_value *zero = mpx_int(0), *five = mpx_int(5), *cur = NULL;
    bool swapped = false;
    assert_ok(mpx_arr_cas(a, 0, zero, five, &swapped, &cur));
    assert_true(swapped);
    assert_true(mpx_value_equal(cur, five));
    mpx_value_free(&cur);
    assert_ok(mpx_arr_cas(a, 0, zero, five, &swapped, NULL));
    assert_false(swapped);
    ASSERT_ARRAY(a, 5, 65535);
    mpx_value_free(&zero);
    mpx_value_free(&five);
    mpx_proxy_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_create_len_get_set),
        HARNESS_TEST(test_slices_keep_the_length),
        HARNESS_TEST(test_byte_arrays_are_bytes),
        HARNESS_TEST(test_element_add_and_cas),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
