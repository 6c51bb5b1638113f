/*
 * test_value.c — mpx_value: building, reading, copying, comparing, encoding and decoding, and
 * the error list behind mpx_strerror().
 */
#include <string.h>

#include "harness.h"

static void test_scalars(void **state)
{
    (void)state;
    mpx_value *b = mpx_bool(true), *i = mpx_int(-3), *u = mpx_uint(UINT64_MAX),
              *d = mpx_double(2.5), *s = mpx_strn("a\0b", 3), *y = mpx_bytes("xy", 2);
    bool bv;
    int64_t iv;
    uint64_t uv;
    double dv;
    size_t len;
    assert_ok(mpx_value_get_bool(b, &bv));
    assert_true(bv);
    assert_ok(mpx_value_get_int(i, &iv));
    assert_int_equal(iv, -3);
    assert_code(mpx_value_get_uint(i, &uv), MPX_EVALUE);
    assert_code(mpx_value_get_int(u, &iv), MPX_EVALUE);
    assert_ok(mpx_value_get_uint(u, &uv));
    assert_true(uv == UINT64_MAX);
    assert_ok(mpx_value_get_double(d, &dv));
    assert_true(dv == 2.5);
    assert_ok(mpx_value_get_double(i, &dv));
    assert_true(dv == -3.0);
    assert_code(mpx_value_get_bool(i, &bv), MPX_ETYPE);
    assert_memory_equal(mpx_value_str(s, &len), "a\0b", 3);
    assert_int_equal(len, 3);
    assert_null(mpx_value_str(y, NULL));
    assert_memory_equal(mpx_value_bytes(y, &len), "xy", 2);
    assert_int_equal(mpx_value_len(y), 2);
    assert_null(mpx_str(NULL));
    mpx_value *all[] = {b, i, u, d, s, y};
    for (size_t k = 0; k < 6; k++)
        mpx_value_free(&all[k]);
}

static void test_containers_take_ownership(void **state)
{
    (void)state;
    mpx_value *a = mpx_array(), *item = mpx_int(1), *m = mpx_map();
    assert_ok(mpx_array_push(a, &item));
    assert_null(item);
    assert_code(mpx_array_push(m, &item), MPX_EINVAL);
    mpx_value *k = mpx_str("k"), *v = mpx_int(1);
    assert_code(mpx_map_put(a, &k, &v), MPX_EINVAL);
    assert_non_null(k); /* still the caller's after a failure */
    assert_ok(mpx_map_put(m, &k, &v));
    assert_null(k);
    assert_null(v);
    k = mpx_str("k");
    v = mpx_int(2);
    assert_ok(mpx_map_put(m, &k, &v));
    int64_t iv;
    assert_ok(mpx_value_get_int(mpx_map_get(m, "k"), &iv));
    assert_int_equal(iv, 2); /* the last pair wins */
    assert_int_equal(mpx_value_len(m), 2);
    assert_string_equal(mpx_value_str(mpx_value_key_at(m, 1), NULL), "k");
    assert_null(mpx_value_at(a, 1));
    assert_null(mpx_map_get(m, "absent"));
    mpx_value_free(&a);
    mpx_value_free(&m);
    assert_null(a);
}

static void test_encode_decode_roundtrip(void **state)
{
    (void)state;
    mpx_value *m = mpx_map(), *k = mpx_str("list"), *list = mpx_array();
    mpx_value *items[] = {mpx_nil(),          mpx_bool(false),    mpx_int(INT64_MIN), mpx_uint(1),
                          mpx_double(-1e300), mpx_bytes("\0", 1), mpx_map()};
    for (size_t i = 0; i < 7; i++)
        assert_ok(mpx_array_push(list, &items[i]));
    assert_ok(mpx_map_put(m, &k, &list));
    char *buf;
    size_t len;
    mpx_value *back = NULL, *copy = mpx_value_copy(m);
    assert_ok(mpx_value_encode(m, &buf, &len));
    assert_ok(mpx_value_decode(buf, len, &back));
    assert_true(mpx_value_equal(m, back));
    assert_true(mpx_value_equal(m, copy));
    /* Truncated input and trailing bytes are both refused. */
    assert_code(mpx_value_decode(buf, len - 1, &back), MPX_EPROTO);
    assert_code(mpx_value_decode("\x01\x02", 2, &back), MPX_EPROTO);
    /* ext has no mpx_value form */
    assert_code(mpx_value_decode("\xd4\x01\x00", 3, &back), MPX_EPROTO);
    mpx_free(buf);
    mpx_value_free(&back);
    mpx_value_free(&copy);
    mpx_value_free(&m);
}

static void test_equal_compares_integers_by_value(void **state)
{
    (void)state;
    mpx_value *i = mpx_int(5), *u = mpx_uint(5), *n = mpx_int(-5), *d = mpx_double(5);
    assert_true(mpx_value_equal(i, u));
    assert_false(mpx_value_equal(n, u));
    assert_false(mpx_value_equal(i, d));
    mpx_value *all[] = {i, u, n, d};
    for (size_t k = 0; k < 4; k++)
        mpx_value_free(&all[k]);
}

static void test_error_list(void **state)
{
    (void)state;
    assert_string_equal(mpx_strerror(MPX_EKEY), "key error");
    assert_string_equal(mpx_err_name(MPX_EAUTH), "MPX_EAUTH");
    assert_string_equal(mpx_strerror(-999), "unknown error");
    assert_string_equal(mpx_err_name(-999), "MPX_EUNKNOWN");
    assert_string_equal(mpx_strerror(0), "success");
    /* Every code has its own message and name. */
    int codes[] = {
#define CODE(name, num, msg) MPX_##name,
        MPX_ERRNO_MAP(CODE)
#undef CODE
    };
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        assert_string_not_equal(mpx_strerror(codes[i]), "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(mpx_err_name(codes[i]), mpx_err_name(codes[j]));
    }
    assert_true(mpx_err_is_remote(MPX_EKEY));
    assert_true(mpx_err_is_remote(MPX_ETOOBIG));
    assert_false(mpx_err_is_remote(MPX_EAUTH));
    assert_false(mpx_err_is_remote(MPX_ETIMEDOUT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_containers_take_ownership),
        cmocka_unit_test(test_encode_decode_roundtrip),
        cmocka_unit_test(test_equal_compares_integers_by_value),
        cmocka_unit_test(test_error_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
