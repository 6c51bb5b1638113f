/*
 * test_refs.c — proxies inside containers against a real mpxd: a reference stored in a dict,
 * list, namespace, value or queue keeps its object alive and reads back, in another process,
 * as a working proxy to the same object; the object is freed once no container and no session
 * refers to it; references are refused as keys and set members and when they name no object;
 * cycles do not crash mpxd.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* The references the server counts for object id (listing), or 0 if it is gone. */
static uint64_t refs_of(uint64_t id)
{
    uint64_t cursor = 0, refs = 0;
    do {
        mpx_value *rows = NULL;
        assert_ok(mpx_objects(client, NULL, cursor, 100, &cursor, &rows));
        for (size_t i = 0; i < mpx_value_len(rows); i++) {
            const mpx_value *row = mpx_value_at(rows, i);
            uint64_t rid;
            assert_ok(mpx_value_get_uint(mpx_value_at(row, 0), &rid));
            if (rid == id) assert_ok(mpx_value_get_uint(mpx_value_at(row, 4), &refs));
        }
        mpx_value_free(&rows);
    } while (cursor);
    return refs;
}

static void dict_put(mpx_proxy *d, const char *key, mpx_value *v)
{
    mpx_value *k = mpx_str(key);
    assert_ok(mpx_dict_set(d, k, v));
    mpx_value_free(&k);
    mpx_value_free(&v);
}

/* In a forked child: its own client reads the list out of the dict and appends to it. */
static int child_append(const char *dict_name)
{
    mpx_client *c = mpxd_connect(&server);
    mpx_proxy *d = NULL, *l = NULL;
    mpx_value *k = mpx_str("mine"), *ref = NULL, *x = mpx_str("from the child");
    int rc = mpx_dict_open(c, dict_name, &d);
    if (rc == 0) rc = mpx_dict_get(d, k, &ref);
    if (rc == 0) rc = mpx_proxy_from_ref(c, ref, &l);
    if (rc == 0) rc = mpx_list_append(l, x);
    if (rc) fprintf(stderr, "child: %s: %s\n", mpx_strerror(rc), mpx_last_error());
    mpx_value_free(&k);
    mpx_value_free(&ref);
    mpx_value_free(&x);
    mpx_proxy_free(&l);
    mpx_proxy_free(&d);
    mpx_client_free(&c);
    return rc != 0;
}

static void test_nested_list_across_processes(void **state)
{
    (void)state;
    mpx_proxy *d = NULL, *l = NULL;
    assert_ok(mpx_dict_open(client, "refs.nested", &d));
    assert_ok(mpx_list_new(client, &l));
    uint64_t id = mpx_proxy_id(l);
    dict_put(d, "mine", mpx_ref(l));
    assert_int_equal(refs_of(id), 2); /* the parent's proxy and the dict */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(child_append("refs.nested"));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t n = 0;
    assert_ok(mpx_list_len(l, &n)); /* the parent sees the child's append */
    assert_int_equal(n, 1);
    assert_int_equal(refs_of(id), 2); /* the child's references went with it */
    mpx_value *k = mpx_str("mine");
    assert_ok(mpx_dict_del(d, k));
    assert_int_equal(refs_of(id), 1);
    mpx_proxy_free(&l);
    assert_int_equal(refs_of(id), 0); /* gone from the listing: freed */
    mpx_value_free(&k);
    mpx_proxy_free(&d);
    assert_ok(mpx_delete(client, "refs.nested"));
}

static void test_queue_carries_an_object(void **state)
{
    (void)state;
    mpx_proxy *q = NULL, *job = NULL, *got = NULL;
    assert_ok(mpx_queue_new(client, 0, &q));
    assert_ok(mpx_dict_new(client, &job));
    uint64_t id = mpx_proxy_id(job);
    dict_put(job, "task", mpx_str("resize"));
    mpx_value *ref = mpx_ref(job), *item = NULL, *v = NULL;
    assert_ok(mpx_queue_put(q, ref, 0));
    mpx_value_free(&ref);
    mpx_proxy_free(&job); /* only the queue's item keeps it now */
    assert_int_equal(refs_of(id), 1);
    assert_ok(mpx_queue_get(q, 0, &item)); /* the item left the queue: this session holds it */
    assert_int_equal(mpx_value_type(item), MPX_REF);
    assert_ok(mpx_proxy_from_ref(client, item, &got));
    assert_int_equal(mpx_proxy_id(got), id);
    mpx_value *k = mpx_str("task");
    assert_ok(mpx_dict_get(got, k, &v));
    assert_string_equal(mpx_value_str(v, NULL), "resize");
    mpx_value_free(&item); /* handed to the proxy: releases nothing */
    assert_int_equal(refs_of(id), 1);
    mpx_proxy_free(&got);
    assert_int_equal(refs_of(id), 0);
    mpx_value_free(&k);
    mpx_value_free(&v);
    mpx_proxy_free(&q);
}

static void test_every_container_holds(void **state)
{
    (void)state;
    mpx_proxy *target = NULL, *l = NULL, *ns = NULL, *v = NULL, *d = NULL;
    assert_ok(mpx_event_new(client, &target));
    uint64_t id = mpx_proxy_id(target);
    assert_ok(mpx_list_new(client, &l));
    assert_ok(mpx_namespace_new(client, &ns));
    assert_ok(mpx_val_new(client, NULL, &v));
    assert_ok(mpx_dict_new(client, &d));
    mpx_value *ref = mpx_ref(target), *nested = mpx_array(), *inner = mpx_map();
    mpx_value *k = mpx_str("e"), *r2 = mpx_ref(target);
    assert_ok(mpx_map_put(inner, &k, &r2));
    assert_ok(mpx_array_push(nested, &inner)); /* [{"e": ref}] */
    assert_ok(mpx_list_append(l, ref));
    assert_ok(mpx_list_append(l, nested));
    assert_ok(mpx_namespace_set(ns, "e", ref));
    assert_ok(mpx_val_set(v, nested));
    dict_put(d, "e", mpx_value_copy(ref));
    assert_int_equal(refs_of(id), 6); /* the proxy, the list twice, ns, value, dict */
    mpx_proxy_free(&target);
    assert_int_equal(refs_of(id), 5);
    assert_ok(mpx_list_clear(l));
    assert_ok(mpx_namespace_del(ns, "e"));
    mpx_value *nil = mpx_nil();
    assert_ok(mpx_val_set(v, nil));
    assert_int_equal(refs_of(id), 1);
    mpx_proxy_free(&d);          /* the dict freed: its value's hold goes with it */
    assert_ok(mpx_ping(client)); /* a turn of the loop frees the dict */
    assert_int_equal(refs_of(id), 0);
    mpx_value_free(&ref);
    mpx_value_free(&nested);
    mpx_value_free(&nil);
    mpx_proxy_free(&l);
    mpx_proxy_free(&ns);
    mpx_proxy_free(&v);
}

static void test_reading_back_does_not_pile_up(void **state)
{
    (void)state;
    mpx_proxy *d = NULL, *l = NULL;
    assert_ok(mpx_dict_new(client, &d));
    assert_ok(mpx_list_new(client, &l));
    dict_put(d, "l", mpx_ref(l));
    mpx_value *k = mpx_str("l");
    for (int i = 0; i < 50; i++) {
        mpx_value *v = NULL;
        assert_ok(mpx_dict_get(d, k, &v));
        mpx_value_free(&v); /* gives back the reference the reply gave */
    }
    assert_int_equal(refs_of(mpx_proxy_id(l)), 2);
    mpx_value *copy = NULL;
    assert_ok(mpx_dict_copy(d, &copy));
    assert_int_equal(refs_of(mpx_proxy_id(l)), 3); /* held for the copy's reference */
    mpx_value_free(&copy);
    assert_int_equal(refs_of(mpx_proxy_id(l)), 2);
    mpx_value_free(&k);
    mpx_proxy_free(&d);
    mpx_proxy_free(&l);
}

static void test_references_refused(void **state)
{
    (void)state;
    mpx_proxy *d = NULL, *s = NULL, *l = NULL, *gone = NULL;
    assert_ok(mpx_dict_new(client, &d));
    assert_ok(mpx_set_new(client, &s));
    assert_ok(mpx_list_new(client, &l));
    mpx_value *ref = mpx_ref(l), *one = mpx_int(1);
    assert_code(mpx_dict_set(d, ref, one), MPX_ETYPE); /* never a key */
    assert_code(mpx_set_add(s, ref), MPX_ETYPE);       /* nor a member */
    mpx_value *pairs = mpx_map(), *k = mpx_str("a"), *v = mpx_int(1);
    assert_ok(mpx_map_put(pairs, &k, &v));
    k = mpx_value_copy(ref);
    v = mpx_int(2);
    assert_ok(mpx_map_put(pairs, &k, &v));
    assert_code(mpx_dict_update(d, pairs), MPX_ETYPE); /* all or nothing */
    size_t n = 9;
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 0);
    assert_ok(mpx_list_new(client, &gone));
    mpx_value *dangling = mpx_ref(gone);
    mpx_proxy_free(&gone); /* freed: its id names nothing now */
    assert_code(mpx_list_append(l, dangling), MPX_ENOOBJ);
    mpx_value *both = mpx_array(), *r1 = mpx_value_copy(ref), *r2 = mpx_value_copy(dangling);
    assert_ok(mpx_array_push(both, &r1));
    assert_ok(mpx_array_push(both, &r2));
    assert_code(mpx_list_extend(l, both), MPX_ENOOBJ); /* nothing stored */
    assert_ok(mpx_list_len(l, &n));
    assert_int_equal(n, 0);
    /* a reference that lies about its type, and a malformed one, sent as raw msgpack */
    static const uint8_t wrong_type[] = {0x91, 0xc7, 0x0c, 0x01, 0,   0,   0,   0,
                                         0,    0,    0,    0,    'd', 'i', 'c', 't'};
    uint8_t args[sizeof wrong_type];
    memcpy(args, wrong_type, sizeof args);
    uint64_t id = mpx_proxy_id(l);
    for (int i = 0; i < 8; i++)
        args[4 + i] = (uint8_t)(id >> (56 - 8 * i));
    char *out = NULL;
    size_t out_len;
    assert_code(mpx_call_raw(l, "append", args, sizeof args, MPX_TIMEOUT_DEFAULT, &out, &out_len),
                MPX_ENOOBJ);
    static const uint8_t malformed[] = {0x91, 0xd5, 0x01, 0x00, 0x00};
    assert_code(
        mpx_call_raw(l, "append", malformed, sizeof malformed, MPX_TIMEOUT_DEFAULT, &out, &out_len),
        MPX_ETYPE);
    assert_ok(mpx_list_len(l, &n));
    assert_int_equal(n, 0);
    mpx_proxy *p = NULL;
    assert_code(mpx_proxy_from_ref(client, dangling, &p), MPX_ENOOBJ);
    assert_code(mpx_proxy_from_ref(client, one, &p), MPX_EINVAL);
    mpx_value *all[] = {ref, one, pairs, dangling, both};
    for (size_t i = 0; i < 5; i++)
        mpx_value_free(&all[i]);
    mpx_proxy_free(&d);
    mpx_proxy_free(&s);
    mpx_proxy_free(&l);
}

static void test_cycles_do_not_crash(void **state)
{
    (void)state;
    mpx_proxy *a = NULL, *b = NULL;
    assert_ok(mpx_list_new(client, &a));
    assert_ok(mpx_list_new(client, &b));
    mpx_value *ra = mpx_ref(a), *rb = mpx_ref(b);
    assert_ok(mpx_list_append(a, rb));
    assert_ok(mpx_list_append(b, ra));
    assert_ok(mpx_list_append(a, ra)); /* and one to itself */
    mpx_value_free(&ra);
    mpx_value_free(&rb);
    mpx_proxy_free(&a);
    mpx_proxy_free(&b); /* they stay until mpxd stops, which must be clean (teardown) */
    assert_ok(mpx_ping(client));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_nested_list_across_processes),
        HARNESS_TEST(test_queue_carries_an_object),
        HARNESS_TEST(test_every_container_holds),
        HARNESS_TEST(test_reading_back_does_not_pile_up),
        HARNESS_TEST(test_references_refused),
        HARNESS_TEST(test_cycles_do_not_crash),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
