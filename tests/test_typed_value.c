/*
 * test_typed_value.c — Value objects against a real mpxd: the untyped value through
 * mpx_val_*, and the typed value with every typecode: its range and kind enforced (the stored
 * value unchanged on refusal), add and compare-and-swap.
 */
#include <float.h>

#include "harness.h"

static mpx_proxy *typed(char code, mpx_value *init)
{
    mpx_proxy *v = NULL;
    assert_ok(mpx_val_new_typed(client, code, init, &v));
    mpx_value_free(&init);
    return v;
}

static int64_t get_i(mpx_proxy *v)
{
    mpx_value *x = NULL;
    int64_t i = 0;
    assert_ok(mpx_val_get(v, &x));
    assert_ok(mpx_value_get_int(x, &i));
    mpx_value_free(&x);
    return i;
}

/* Fails unless setting val is refused with code and the value stays. */
static void refused(mpx_proxy *v, mpx_value *val, int code)
{
    mpx_value *before = NULL, *after = NULL;
    assert_ok(mpx_val_get(v, &before));
    assert_code(mpx_val_set(v, val), code);
    assert_ok(mpx_val_get(v, &after));
    assert_true(mpx_value_equal(before, after));
    mpx_value_free(&before);
    mpx_value_free(&after);
    mpx_value_free(&val);
}

static void test_untyped_value(void **state)
{
    (void)state;
    mpx_proxy *v = NULL, *n = NULL;
    mpx_value *x = NULL, *s = mpx_str("anything");
    assert_ok(mpx_val_new(client, NULL, &v));
    assert_ok(mpx_val_get(v, &x));
    assert_int_equal(mpx_value_type(x), MPX_NIL);
    mpx_value_free(&x);
    assert_ok(mpx_val_set(v, s));
    assert_ok(mpx_val_get(v, &x));
    assert_true(mpx_value_equal(x, s));
    mpx_value_free(&x);
    assert_code(mpx_val_add_int(v, 1, NULL), MPX_EINVAL); /* add is for typed values */
    assert_ok(mpx_val_open(client, "val.untyped", s, &n));
    mpx_value_free(&s);
    mpx_proxy_free(&v);
    mpx_proxy_free(&n);
}

static void test_integer_typecodes_range(void **state)
{
    (void)state;
    struct {
        char code;
        int64_t min;
        uint64_t max;
    } codes[] = {{'b', INT8_MIN, INT8_MAX},   {'B', 0, UINT8_MAX},
                 {'h', INT16_MIN, INT16_MAX}, {'H', 0, UINT16_MAX},
                 {'i', INT32_MIN, INT32_MAX}, {'I', 0, UINT32_MAX},
                 {'l', INT64_MIN, INT64_MAX}, {'L', 0, UINT64_MAX},
                 {'q', INT64_MIN, INT64_MAX}, {'Q', 0, UINT64_MAX}};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        mpx_proxy *v = typed(codes[i].code, NULL);
        assert_int_equal(get_i(v), 0);
        assert_code(mpx_val_set(v, NULL), MPX_EINVAL);
        mpx_value *max = mpx_uint(codes[i].max), *min = mpx_int(codes[i].min);
        assert_ok(mpx_val_set(v, max));
        assert_ok(mpx_val_set(v, min));
        mpx_value_free(&max);
        mpx_value_free(&min);
        if (codes[i].max < UINT64_MAX) refused(v, mpx_uint(codes[i].max + 1), MPX_EOVERFLOW);
        if (codes[i].min > INT64_MIN) refused(v, mpx_int(codes[i].min - 1), MPX_EOVERFLOW);
        refused(v, mpx_double(1.0), MPX_ETYPE); /* a float for an integer typecode */
        refused(v, mpx_bool(true), MPX_ETYPE);  /* a bool is not a number here */
        refused(v, mpx_str("1"), MPX_ETYPE);
        mpx_proxy_free(&v);
    }
}

static void test_other_typecodes(void **state)
{
    (void)state;
    mpx_proxy *d = typed('d', mpx_int(1)); /* an integer is accepted as a double */
    mpx_value *x = NULL;
    assert_ok(mpx_val_get(d, &x));
    assert_int_equal(mpx_value_type(x), MPX_DOUBLE);
    mpx_value_free(&x);
    refused(d, mpx_str("1.5"), MPX_ETYPE);
    mpx_proxy *f = typed('f', mpx_double(0.1));
    double got;
    assert_ok(mpx_val_get(f, &x));
    assert_ok(mpx_value_get_double(x, &got));
    assert_true(got == (double)0.1f); /* rounded to a float's precision */
    mpx_value_free(&x);
    refused(f, mpx_double(1e39), MPX_EOVERFLOW);
    mpx_proxy *c = typed('c', mpx_bytes("a", 1));
    refused(c, mpx_bytes("ab", 2), MPX_ETYPE);
    refused(c, mpx_int(97), MPX_ETYPE);
    assert_code(mpx_val_add_int(c, 1, NULL), MPX_ETYPE);
    mpx_proxy *b = typed('?', NULL);
    assert_ok(mpx_val_get(b, &x));
    assert_int_equal(mpx_value_type(x), MPX_BOOL);
    mpx_value_free(&x);
    refused(b, mpx_int(1), MPX_ETYPE);
    mpx_proxy *bad = NULL;
    assert_code(mpx_val_new_typed(client, 'z', NULL, &bad), MPX_EVALUE);
    mpx_value *big = mpx_int(300);
    assert_code(mpx_val_new_typed(client, 'b', big, &bad), MPX_EOVERFLOW);
    mpx_value_free(&big);
    mpx_proxy_free(&d);
    mpx_proxy_free(&f);
    mpx_proxy_free(&c);
    mpx_proxy_free(&b);
}

static void test_add_and_cas(void **state)
{
    (void)state;
    mpx_proxy *v = typed('b', mpx_int(120));
    int64_t now = 0;
    assert_ok(mpx_val_add_int(v, 7, &now));
    assert_int_equal(now, 127);
    assert_code(mpx_val_add_int(v, 1, &now), MPX_EOVERFLOW); /* 128 does not fit: unchanged */
    assert_int_equal(get_i(v), 127);
    mpx_value *d = mpx_double(0.5), *out = NULL;
    assert_code(mpx_val_add(v, d, &out), MPX_ETYPE); /* integers add integers */
    mpx_value *e = mpx_int(127), *n = mpx_int(-5), *wrong = mpx_int(3);
    bool swapped = false;
    assert_ok(mpx_val_cas(v, wrong, n, &swapped, &out));
    assert_false(swapped);
    mpx_value_free(&out);
    assert_ok(mpx_val_cas(v, e, n, &swapped, &out));
    assert_true(swapped);
    assert_true(mpx_value_equal(out, n));
    mpx_value_free(&out);
    mpx_value *huge = mpx_int(1000); /* an expected value the typecode cannot hold: no match */
    assert_ok(mpx_val_cas(v, huge, n, &swapped, NULL));
    assert_false(swapped);
    assert_code(mpx_val_cas(v, n, huge, &swapped, NULL), MPX_EOVERFLOW);
    assert_int_equal(get_i(v), -5);

    mpx_proxy *f = typed('d', mpx_double(1.5));
    assert_ok(mpx_val_add(f, d, &out));
    double x;
    assert_ok(mpx_value_get_double(out, &x));
    assert_true(x == 2.0);
    mpx_value_free(&out);
    mpx_value *all[] = {d, e, n, wrong, huge};
    for (size_t i = 0; i < 5; i++)
        mpx_value_free(&all[i]);
    mpx_proxy_free(&v);
    mpx_proxy_free(&f);
}

static void test_typecode_is_kept(void **state)
{
    (void)state;
    mpx_proxy *v = typed('H', NULL), *a = NULL, *same = NULL;
    mpx_value *code = NULL;
    assert_ok(mpx_call(v, "typecode", NULL, MPX_TIMEOUT_DEFAULT, &code));
    assert_string_equal(mpx_value_str(code, NULL), "H");
    mpx_value_free(&code);
    assert_ok(mpx_arr_new(client, 'f', 2, NULL, &a));
    assert_ok(mpx_call(a, "typecode", NULL, MPX_TIMEOUT_DEFAULT, &code));
    assert_string_equal(mpx_value_str(code, NULL), "f");
    mpx_value_free(&code);
    /* a named typed value keeps the typecode it was created with */
    assert_ok(mpx_val_open_typed(client, "tv.kept", 'b', NULL, &same));
    mpx_proxy_free(&same);
    assert_ok(mpx_val_open_typed(client, "tv.kept", 'd', NULL, &same));
    assert_ok(mpx_call(same, "typecode", NULL, MPX_TIMEOUT_DEFAULT, &code));
    assert_string_equal(mpx_value_str(code, NULL), "b");
    mpx_value_free(&code);
    assert_code(mpx_val_open(client, "tv.kept", NULL, &v), MPX_ETYPE); /* not an untyped one */
    mpx_proxy_free(&same);
    mpx_proxy_free(&a);
    mpx_proxy_free(&v);
    assert_ok(mpx_delete(client, "tv.kept"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_untyped_value),    HARNESS_TEST(test_integer_typecodes_range),
        HARNESS_TEST(test_other_typecodes),  HARNESS_TEST(test_add_and_cas),
        HARNESS_TEST(test_typecode_is_kept),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
