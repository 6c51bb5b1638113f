/*
 * manager.c — mpx_manager_start(): a private mpxd child, the counterpart of Python's
 * multiprocessing.Manager().
 *
 * The server gets a fresh 0700 directory holding its ipc socket and a 0600 key file; the key
 * never appears in a command line or the environment. Two pipes tie the child to us: mpxd
 * writes "ready" on one once it is bound (so connecting never races the bind), and it stops
 * when every holder of the other one is gone (our process and anything forked from it), so a
 * crashed owner never leaves a server behind.
 *
 * The mpxd it starts is $MPX_MPXD if set, else the one installed beside this library (found at
 * run time from where the library itself was loaded, so an install under any --prefix works),
 * else mpxd on PATH. No path from the build is compiled in.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define MANAGER_TAG 0x6d70786du /* "mpxm" */
#define READY_TIMEOUT_MS 10000

extern char **environ;

struct mpx_manager {
    uint32_t tag;
    pid_t owner; /* the process that started the server; only it stops it */
    pid_t server;
    int lifeline; /* write end; mpxd stops when every copy is closed */
    mpx_client *client;
    char dir[96]; /* short enough for an ipc path (sun_path is 108 bytes) */
    char keyfile[112];
    char endpoint[120];
};

/* The mpxd beside this library: PREFIX/bin/mpxd or PREFIX/libexec/mpxd, where the library is
 * PREFIX/<libdir>/libmpx.so (libdir one or two levels deep: lib, lib/x86_64-linux-gnu). */
static bool mpxd_beside_library(char *out, size_t size)
{
    Dl_info info;
    char lib[PATH_MAX];
    if (!dladdr((void *)mpx_manager_start, &info) || !info.dli_fname ||
        !realpath(info.dli_fname, lib))
        return false;
    char *dir = dirname(lib); /* PREFIX/<libdir> */
    for (int up = 0; up < 2; up++) {
        char *prefix = dirname(dir);
        static const char *const where[] = {"bin", "libexec"};
        for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
            if (snprintf(out, size, "%s/%s/mpxd", prefix, where[i]) < (int)size &&
                access(out, X_OK) == 0)
                return true;
        }
        dir = prefix;
    }
    return false;
}

/* The mpxd to start: $MPX_MPXD, else the one beside this library, else "mpxd" (searched on
 * PATH by the spawn). */
static const char *mpxd_path(char *buf, size_t size)
{
    const char *env = getenv("MPX_MPXD");
    if (env && *env) return env;
    if (mpxd_beside_library(buf, size)) return buf;
    return "mpxd";
}

static int make_dir(mpx_manager *m)
{
    const char *base = getenv("XDG_RUNTIME_DIR");
    if (!base || !*base || access(base, W_OK) != 0) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    /* An ipc path must fit in sockaddr_un.sun_path (108 bytes). */
    if (strlen(base) > 80) base = "/tmp";
    snprintf(m->dir, sizeof m->dir, "%s/mpx-XXXXXX", base);
    if (!mkdtemp(m->dir)) /* mode 0700 */
        return mpx__fail(MPX_ESYS, "cannot make a directory in %s: %s", base, strerror(errno));
    snprintf(m->keyfile, sizeof m->keyfile, "%s/authkey", m->dir);
    snprintf(m->endpoint, sizeof m->endpoint, "ipc://%s/mpx.sock", m->dir);
    return 0;
}

static int write_key(const mpx_manager *m, char key[65])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(key, 65, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    int fd = open(m->keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, key, 64) == 64;
    if (fd >= 0) close(fd);
    return ok ? 0 : mpx__fail(MPX_ESYS, "cannot write %s: %s", m->keyfile, strerror(errno));
}

/* Starts mpxd with the ready pipe's write end as fd 3 and the lifeline's read end as fd 4. */
static int spawn_server(mpx_manager *m, int ready[2], int life[2])
{
    char buf[PATH_MAX];
    const char *path = mpxd_path(buf, sizeof buf);
    char *argv[] = {(char *)path,
                    (char *)"--quiet",
                    (char *)"--authkey-file",
                    m->keyfile,
                    (char *)"--ready-fd",
                    (char *)"3",
                    (char *)"--lifeline-fd",
                    (char *)"4",
                    m->endpoint,
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, ready[1], 3);
    posix_spawn_file_actions_adddup2(&fa, life[0], 4);
    int err = posix_spawnp(&m->server, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        return mpx__fail(MPX_ESYS, "cannot start %s: %s (set MPX_MPXD to mpxd's path)", path,
                         strerror(err));
    return 0;
}

/* Waits for "ready" from the server; EOF means it exited first. */
static int await_ready(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[8];
    int n = poll(&pfd, 1, READY_TIMEOUT_MS);
    ssize_t got = n > 0 ? read(fd, buf, sizeof buf) : 0;
    if (got >= 5 && memcmp(buf, "ready", 5) == 0) return 0;
    return mpx__fail(MPX_ESYS, "mpxd did not start: %s",
                     n == 0 ? "no answer within 10 s" : "it exited (is another server there?)");
}

static void server_stop(mpx_manager *m)
{
    if (m->server <= 0) return;
    kill(m->server, SIGTERM);
    for (int i = 0; i < 500; i++) { /* up to 5 s, then it is killed */
        if (waitpid(m->server, NULL, WNOHANG) != 0) return;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    kill(m->server, SIGKILL);
    waitpid(m->server, NULL, 0);
}

static void manager_destroy(mpx_manager *m)
{
    mpx__error_stash stash;
    mpx__error_save(&stash);
    mpx_client_free(&m->client);
    if (getpid() == m->owner) {
        server_stop(m);
        unlink(m->keyfile);
        rmdir(m->dir);
    }
    if (m->lifeline >= 0) close(m->lifeline);
    m->tag = MPX_DEAD_TAG;
    free(m);
    mpx__error_restore(&stash);
}

static int manager_launch(mpx_manager *m)
{
    char key[65];
    int ready[2] = {-1, -1}, life[2] = {-1, -1};
    int rc = make_dir(m);
    if (rc == 0) rc = write_key(m, key);
    if (rc == 0 && (pipe2(ready, O_CLOEXEC) != 0 || pipe2(life, O_CLOEXEC) != 0))
        rc = mpx__fail(MPX_ESYS, "pipe: %s", strerror(errno));
    if (rc == 0) rc = spawn_server(m, ready, life);
    if (ready[1] >= 0) /* the server's ends: only the server keeps them */
        close(ready[1]);
    if (life[0] >= 0) close(life[0]);
    m->lifeline = life[1];
    if (rc == 0) rc = await_ready(ready[0]);
    if (ready[0] >= 0) close(ready[0]);
    if (rc == 0) rc = mpx_connect(m->endpoint, key, 64, &m->client);
    sodium_memzero(key, sizeof key);
    return rc;
}

int mpx_manager_start(mpx_manager **out)
{
    if (!out) return mpx__fail(MPX_EINVAL, "mpx_manager_start: no out argument");
    if (sodium_init() < 0) return mpx__fail(MPX_ESYS, "libsodium failed to initialise");
    mpx_manager *m = calloc(1, sizeof *m);
    if (!m) return mpx__fail(MPX_ENOMEM, "out of memory");
    m->tag = MANAGER_TAG;
    m->owner = getpid();
    m->lifeline = -1;
    int rc = manager_launch(m);
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", mpx_last_error());
        manager_destroy(m);
        return mpx__fail(rc, "%s", why);
    }
    *out = m;
    return 0;
}

mpx_client *mpx_manager_client(mpx_manager *m)
{
    return m && m->tag == MANAGER_TAG ? m->client : NULL;
}

const char *mpx_manager_endpoint(const mpx_manager *m)
{
    return m && m->tag == MANAGER_TAG ? m->endpoint : NULL;
}

void mpx_manager_shutdown(mpx_manager **mp)
{
    if (!mp || !*mp || (*mp)->tag != MANAGER_TAG) return;
    manager_destroy(*mp);
    *mp = NULL;
}
