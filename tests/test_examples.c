/*
 * test_examples.c — the example programs a user copies from run and check their own results
 * (each exits 0 only if what it computed is exact), so that they never rot.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

static void run_example(const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/%s' >/dev/null", MPX_EXAMPLES_DIR, name);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "%s exited with status %d\n", name, rc);
    assert_int_equal(rc, 0);
}

static void test_counter(void **state)
{
    (void)state;
    run_example("counter");
}

static void test_namespace_config(void **state)
{
    (void)state;
    run_example("namespace_config");
}

static void test_nested(void **state)
{
    (void)state;
    run_example("nested");
}

static void test_lock_counter(void **state)
{
    (void)state;
    run_example("lock_counter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_namespace_config),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_lock_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
