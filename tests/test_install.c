/*
 * test_install.c — mpx installed like a library: `cmake --install --prefix P` gives a working
 * install at P, still working once P is moved elsewhere. A small program outside the source
 * tree is built against it twice, with pkg-config and with CMake's find_package(mpx 0.1), and
 * run with the build tree's mpxd out of reach (moved away, and neither MPX_MPXD nor a PATH that
 * holds an mpxd in its environment): its private manager finds the mpxd installed beside the
 * library. Other tests start the build tree's mpxd, so this one runs alone (RUN_SERIAL in
 * tests/CMakeLists.txt).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static char dir[64];
static char mpxd_built[512], mpxd_away[520];

/* The program a user would write: a private manager, a dict and a queue. */
static const char program[] =
    "#include <mpx.h>\n"
    "#include <stdio.h>\n"
    "int main(void)\n"
    "{\n"
    "    mpx_manager *m = NULL;\n"
    "    mpx_proxy *d = NULL, *q = NULL;\n"
    "    mpx_value *k = mpx_str(\"k\"), *v = mpx_int(7), *got = NULL;\n"
    "    int64_t i = 0;\n"
    "    if (mpx_manager_start(&m) || mpx_dict_new(mpx_manager_client(m), &d) ||\n"
    "        mpx_queue_new(mpx_manager_client(m), 0, &q) || mpx_dict_set(d, k, v) ||\n"
    "        mpx_queue_put(q, v, 0) || mpx_queue_get(q, 1000, &got) ||\n"
    "        mpx_value_get_int(got, &i) || i != 7) {\n"
    "        fprintf(stderr, \"failed: %s\\n\", mpx_last_error());\n"
    "        return 1;\n"
    "    }\n"
    "    mpx_value_free(&k);\n"
    "    mpx_value_free(&v);\n"
    "    mpx_value_free(&got);\n"
    "    mpx_proxy_free(&d);\n"
    "    mpx_proxy_free(&q);\n"
    "    mpx_manager_shutdown(&m);\n"
    "    puts(\"ok\");\n"
    "    return 0;\n"
    "}\n";

static const char cmakelists[] = "cmake_minimum_required(VERSION 3.16)\n"
                                 "project(uses_mpx C)\n"
                                 "find_package(mpx 0.1 REQUIRED)\n"
                                 "add_executable(uses_mpx main.c)\n"
                                 "target_link_libraries(uses_mpx PRIVATE mpx::mpx)\n";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs a shell command line, failing the test with its output if it fails. */
static void run(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run(const char *what, const char *fmt, ...)
{
    char cmd[4096], log[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(log, sizeof log, "%s/log", dir);
    char full[4300];
    snprintf(full, sizeof full, "(%s) >'%s' 2>&1", cmd, log);
    if (system(full) != 0) {
        char *out = read_file(log, NULL);
        fail_msg("%s failed: %s\n%s", what, cmd, out ? out : "");
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mpxtest-install-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(mpxd_built, sizeof mpxd_built, "%s", mpxd_path());
    snprintf(mpxd_away, sizeof mpxd_away, "%s.away", mpxd_built);
    unsetenv("MPX_MPXD");
    return 0;
}

/* Puts the build tree's mpxd out of reach (teardown puts it back). */
static void hide_built_mpxd(void)
{
    assert_int_equal(rename(mpxd_built, mpxd_away), 0);
}

static int teardown(void **state)
{
    (void)state;
    struct stat st;
    int rc = stat(mpxd_away, &st) == 0 ? rename(mpxd_away, mpxd_built) : 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return rc | system(cmd);
}

static void test_install_moves_and_builds_both_ways(void **state)
{
    (void)state;
    char src[128];
    snprintf(src, sizeof src, "%s/src", dir);
    mkdir(src, 0700);
    char path[256];
    snprintf(path, sizeof path, "%s/main.c", src);
    write_text(path, program);
    snprintf(path, sizeof path, "%s/CMakeLists.txt", src);
    write_text(path, cmakelists);

    run("install", "'%s' --install '%s' --prefix '%s/first'", CMAKE_COMMAND, MPX_BUILD_DIR, dir);
    hide_built_mpxd();
    run("move", "mv '%s/first' '%s/moved'", dir, dir); /* nothing may point at the first place */
    run("installed files",
        "test -x '%s/moved/bin/mpxd' && test -f '%s/moved/include/mpx.h' && "
        "ls '%s'/moved/share/doc/*/LICENSE",
        dir, dir, dir);
    run("no path into the build tree in the library",
        "! readelf -p .rodata $(find '%s/moved' -name libmpx.so | head -1) | grep -qF '%s'", dir,
        MPX_BUILD_DIR);

    /* pkg-config; the programs run with a PATH that holds no mpxd */
    run("pkg-config build",
        "export PKG_CONFIG_PATH=$(ls -d '%s'/moved/lib*/pkgconfig '%s'/moved/lib/*/pkgconfig "
        "2>/dev/null | head -1); cc " EXTRA_CFLAGS " '%s/main.c' -o '%s/with_pkgconfig' "
        "$(pkg-config --cflags --libs mpx) -Wl,-rpath,$(pkg-config --variable=libdir mpx)",
        dir, dir, src, dir);
    run("pkg-config program", "PATH=/nonexistent '%s/with_pkgconfig' | grep -qx ok", dir);

    /* CMake */
    run("find_package build",
        "'%s' -S '%s' -B '%s/cmake-build' -DCMAKE_PREFIX_PATH='%s/moved' "
        "-DCMAKE_C_FLAGS='" EXTRA_CFLAGS "' && '%s' --build '%s/cmake-build'",
        CMAKE_COMMAND, src, dir, dir, CMAKE_COMMAND, dir);
    run("find_package program",
        "LD_LIBRARY_PATH=$(dirname $(find '%s/moved' -name libmpx.so | head -1)) "
        "PATH=/nonexistent '%s/cmake-build/uses_mpx' | grep -qx ok",
        dir, dir);

    /* A version it does not have is refused. */
    snprintf(path, sizeof path, "%s/src/CMakeLists.txt", dir);
    write_text(path, "cmake_minimum_required(VERSION 3.16)\nproject(p C)\n"
                     "find_package(mpx 9.0 REQUIRED)\n");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' -S '%s' -B '%s/cmake-too-new' -DCMAKE_PREFIX_PATH='%s/moved' >/dev/null 2>&1",
             CMAKE_COMMAND, src, dir, dir);
    assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install_moves_and_builds_both_ways, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
