/*
 * bench_server.c — a private mpxd for a benchmark program (bench_server.h).
 */
#define _GNU_SOURCE
#include "bench_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_server_start(bench_server *s, const char *key, const char *const *extra)
{
    const char *mpxd = getenv("MPX_MPXD") ? getenv("MPX_MPXD") : MPXD_PATH;
    int ready[2];
    snprintf(s->dir, sizeof s->dir, "/tmp/mpx-bench-XXXXXX");
    if (!mkdtemp(s->dir) || pipe(ready)) {
        perror("bench: setup");
        return -1;
    }
    snprintf(s->keyfile, sizeof s->keyfile, "%s/key", s->dir);
    snprintf(s->endpoint, sizeof s->endpoint, "ipc://%s/mpx.sock", s->dir);
    int fd = open(s->keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, key, strlen(key)) != (ssize_t)strlen(key)) {
        perror("bench: key file");
        return -1;
    }
    close(fd);
    if ((s->pid = fork()) == 0) {
        const char *argv[24] = {mpxd, "-q", "--authkey-file", s->keyfile, "--ready-fd", "3"};
        int argc = 6;
        for (int i = 0; extra && extra[i] && argc < 22; i++)
            argv[argc++] = extra[i];
        argv[argc] = s->endpoint;
        dup2(ready[1], 3);
        execv(mpxd, (char *const *)argv);
        _exit(127);
    }
    close(ready[1]);
    char buf[8];
    struct pollfd p = {.fd = ready[0], .events = POLLIN};
    int ok = s->pid > 0 && poll(&p, 1, 10000) == 1 && read(ready[0], buf, sizeof buf) >= 5;
    close(ready[0]);
    if (!ok) fprintf(stderr, "bench: %s did not start\n", mpxd);
    return ok ? 0 : -1;
}

int bench_server_stop(bench_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    return system(cmd) == 0 ? 0 : -1;
}
