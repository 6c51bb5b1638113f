/*
 * test_value.c — mpx_value: building, reading, copying, comparing, encoding and decoding, and
 * the error list behind mpx_strerror().
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

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

/* One value of each kind, at the edges where msgpack changes its header, packed both by
 * mpx_value_encode() and by msgpack-c's own packer: the bytes must be the same. Strings of 7
 * to 17 bytes cover the edges of the two-move copy of an 8-16 byte body (value.c). */
static const size_t str_edges[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 255, 256, 65535, 65536};
static const uint64_t uint_edges[] = {
    0, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, 1ull + UINT32_MAX, UINT64_MAX - 1, UINT64_MAX};
static const int64_t int_edges[] = {
    -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, INT32_MIN - 1ll, INT64_MIN};

static void pack_edges(mpx_value *list, msgpack_packer *pk, char *filler)
{
    size_t n_str = sizeof str_edges / sizeof *str_edges;
    size_t n_uint = sizeof uint_edges / sizeof *uint_edges;
    size_t n_int = sizeof int_edges / sizeof *int_edges;
    msgpack_pack_array(pk, 2 * n_str + n_uint + n_int + 4);
    for (size_t i = 0; i < n_str; i++) {
        mpx_value *s = mpx_strn(filler, str_edges[i]), *b = mpx_bytes(filler, str_edges[i]);
        assert_ok(mpx_array_push(list, &s));
        assert_ok(mpx_array_push(list, &b));
        msgpack_pack_str_with_body(pk, filler, str_edges[i]);
        msgpack_pack_bin_with_body(pk, filler, str_edges[i]);
    }
    for (size_t i = 0; i < n_uint; i++) {
        mpx_value *u = mpx_uint(uint_edges[i]);
        assert_ok(mpx_array_push(list, &u));
        msgpack_pack_uint64(pk, uint_edges[i]);
    }
    for (size_t i = 0; i < n_int; i++) {
        mpx_value *v = mpx_int(int_edges[i]);
        assert_ok(mpx_array_push(list, &v));
        msgpack_pack_int64(pk, int_edges[i]);
    }
    mpx_value *d = mpx_double(0.1), *t = mpx_bool(true), *nil = mpx_nil(), *m = mpx_map();
    mpx_value *k = mpx_str("k"), *v = mpx_array();
    assert_ok(mpx_map_put(m, &k, &v));
    mpx_value *tail[] = {d, t, nil, m};
    for (size_t i = 0; i < 4; i++)
        assert_ok(mpx_array_push(list, &tail[i]));
    msgpack_pack_double(pk, 0.1);
    msgpack_pack_true(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_array(pk, 0);
}

/* v's encoding must be exactly the bytes msgpack-c packed into want. */
static void assert_encodes_as(const mpx_value *v, const msgpack_sbuffer *want)
{
    char *buf;
    size_t len;
    assert_ok(mpx_value_encode(v, &buf, &len));
    assert_int_equal(len, want->size);
    assert_memory_equal(buf, want->data, len);
    mpx_free(buf);
}

static void test_encoding_matches_msgpack_c(void **state)
{
    (void)state;
    char *filler = malloc(65536);
    for (size_t i = 0; i < 65536; i++) /* no two neighbours alike, so a shifted copy shows */
        filler[i] = (char)('a' + i % 23);
    mpx_value *list = mpx_array();
    msgpack_sbuffer want;
    msgpack_packer pk;
    msgpack_sbuffer_init(&want);
    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    pack_edges(list, &pk, filler);
    assert_encodes_as(list, &want);
    char *buf;
    size_t len;
    /* a small value stays within the buffer's inline storage, and still comes back whole */
    const mpx_value *small = mpx_value_at(list, mpx_value_len(list) - 1); /* {"k": []} */
    assert_ok(mpx_value_encode(small, &buf, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "\x81\xa1k\x90", 4);
    mpx_free(buf);
    msgpack_sbuffer_destroy(&want);
    mpx_value_free(&list);
    free(filler);
}

/* Long runs of short strings, packed a run at a time (value.c): every length of 0 to 33
 * bytes, so runs break at each string too long for a fixstr, in an array and in a map large
 * enough that the buffer grows many times during a run. */
static void test_runs_of_short_strings_match_msgpack_c(void **state)
{
    (void)state;
    enum { N = 3000 };
    char text[34];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('A' + i);
    mpx_value *list = mpx_array(), *map = mpx_map();
    msgpack_sbuffer want;
    msgpack_packer pk;
    msgpack_sbuffer_init(&want);
    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, N);
    for (size_t i = 0; i < N; i++) {
        size_t len = (i * 7) % 34; /* every length, in an order that varies the neighbours */
        mpx_value *s = mpx_strn(text + i % 2, len - (len && i % 2));
        assert_ok(mpx_array_push(list, &s));
        msgpack_pack_str_with_body(&pk, text + i % 2, len - (len && i % 2));
    }
    msgpack_pack_map(&pk, N / 2);
    for (size_t i = 0; i < N / 2; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%07zu", i);
        mpx_value *k = mpx_str(key), *v = i % 100 ? mpx_strn(text, i % 32) : mpx_int((int)i);
        assert_ok(mpx_map_put(map, &k, &v));
        msgpack_pack_str_with_body(&pk, key, strlen(key));
        if (i % 100)
            msgpack_pack_str_with_body(&pk, text, i % 32);
        else
            msgpack_pack_int64(&pk, (int64_t)i);
    }
    mpx_value *both = mpx_array();
    assert_ok(mpx_array_push(both, &list));
    assert_ok(mpx_array_push(both, &map));
    assert_encodes_as(both, &want);
    msgpack_sbuffer_destroy(&want);
    mpx_value_free(&both);
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

/* Values nest at most MPX_MAX_DEPTH levels: a push past it is refused with a clear error,
 * and the deepest value allowed is encoded, decoded, copied, compared and freed (without
 * recursion a caller could make unbounded). NULL is no value at all. */
static void test_nesting_is_bounded(void **state)
{
    (void)state;
    mpx_value *v = mpx_str("leaf");
    int depth = 0;
    for (int i = 0; i < 100000; i++) {
        mpx_value *a = mpx_array();
        int rc = mpx_array_push(a, &v);
        if (rc) {
            assert_int_equal(rc, MPX_EINVAL);
            assert_non_null(strstr(mpx_last_error(), "512"));
            assert_non_null(v); /* still the caller's */
            mpx_value_free(&a);
            break;
        }
        v = a;
        depth++;
    }
    assert_int_equal(depth, MPX_MAX_DEPTH);
    mpx_value *m = mpx_map(), *k = mpx_str("k");
    assert_code(mpx_map_put(m, &k, &v), MPX_EINVAL);
    char *buf = NULL;
    size_t len = 0;
    mpx_value *back = NULL, *copy = mpx_value_copy(v);
    assert_ok(mpx_value_encode(v, &buf, &len));
    assert_ok(mpx_value_decode(buf, len, &back));
    assert_true(mpx_value_equal(v, back));
    assert_true(mpx_value_equal(v, copy));
    mpx_free(buf);
    mpx_value_free(&back);
    mpx_value_free(&copy);
    mpx_value_free(&v);
    mpx_value_free(&k);
    mpx_value_free(&m);
    assert_int_equal(mpx_value_type(NULL), MPX_INVALID);
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
        cmocka_unit_test(test_encoding_matches_msgpack_c),
        cmocka_unit_test(test_runs_of_short_strings_match_msgpack_c),
        cmocka_unit_test(test_equal_compares_integers_by_value),
        cmocka_unit_test(test_error_list),
        cmocka_unit_test(test_nesting_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
