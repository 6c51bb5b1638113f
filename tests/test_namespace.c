/*
 * test_namespace.c — the namespace type against a real mpxd: attributes set, read, listed and
 * deleted, MPX_EATTR for a missing one, and one namespace shared by two clients.
 */
#include "harness.h"

static void test_attributes(void **state)
{
    (void)state;
    mpx_proxy *ns = NULL;
    mpx_value *v = NULL, *one = mpx_int(1), *name = mpx_str("mpx");
    bool has = true;
    assert_ok(mpx_namespace_new(client, &ns));
    assert_code(mpx_namespace_get(ns, "x", &v), MPX_EATTR);
    assert_true(mpx_err_is_remote(MPX_EATTR));
    assert_ok(mpx_namespace_contains(ns, "x", &has));
    assert_false(has);
    assert_ok(mpx_namespace_set(ns, "x", one));
    assert_ok(mpx_namespace_set(ns, "name", name));
    assert_ok(mpx_namespace_set(ns, "x", name)); /* overwrite keeps the first position */
    assert_ok(mpx_namespace_get(ns, "x", &v));
    assert_true(mpx_value_equal(v, name));
    mpx_value_free(&v);
    assert_ok(mpx_namespace_items(ns, &v));
    assert_int_equal(mpx_value_type(v), MPX_MAP);
    assert_int_equal(mpx_value_len(v), 2);
    assert_string_equal(mpx_value_str(mpx_value_key_at(v, 0), NULL), "x");
    mpx_value_free(&v);
    assert_ok(mpx_namespace_del(ns, "x"));
    assert_code(mpx_namespace_del(ns, "x"), MPX_EATTR);
    assert_code(mpx_namespace_get(ns, NULL, &v), MPX_EINVAL);
    assert_code(mpx_namespace_set(ns, "y", NULL), MPX_EINVAL);
    mpx_value_free(&one);
    mpx_value_free(&name);
    mpx_proxy_free(&ns);
}

static void test_names_must_be_strings(void **state)
{
    (void)state;
    mpx_proxy *ns = NULL;
    assert_ok(mpx_namespace_new(client, &ns));
    mpx_value *args = mpx_array(), *k = mpx_int(1), *v = mpx_int(2), *out = NULL;
    assert_ok(mpx_array_push(args, &k));
    assert_ok(mpx_array_push(args, &v));
    assert_code(mpx_call(ns, "set", args, MPX_TIMEOUT_DEFAULT, &out), MPX_ETYPE);
    assert_ok(mpx_call(ns, "items", NULL, MPX_TIMEOUT_DEFAULT, &out));
    assert_int_equal(mpx_value_len(out), 0); /* nothing stored */
    mpx_value_free(&out);
    mpx_value_free(&args);
    mpx_proxy_free(&ns);
}

static void test_shared_configuration(void **state)
{
    (void)state;
    mpx_client *worker = mpxd_connect(&server);
    mpx_proxy *w = NULL, *r = NULL;
    assert_ok(mpx_namespace_open(client, "ns.config", &w));
    assert_ok(mpx_namespace_open(worker, "ns.config", &r));
    mpx_value *v = mpx_uint(8), *got = NULL;
    assert_ok(mpx_namespace_set(w, "threads", v));
    assert_ok(mpx_namespace_get(r, "threads", &got));
    assert_true(mpx_value_equal(v, got));
    mpx_value_free(&v);
    mpx_value_free(&got);
    mpx_proxy_free(&w);
    mpx_proxy_free(&r);
    mpx_client_free(&worker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_attributes),
        HARNESS_TEST(test_names_must_be_strings),
        HARNESS_TEST(test_shared_configuration),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
