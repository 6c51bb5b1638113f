/*
 * main.c — mpxd's command line: options, the authkey (from a file, the environment, or made
 * fresh), the loopback rule, and removing ipc socket files on the way out.
 *
 * The authkey is never printed, logged or taken from the command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "loop.h"
#include "placement.h"

#define MAX_KEY_LEN 4096

static const char usage[] =
    "Usage: mpxd [OPTIONS] [ENDPOINT...]\n"
    "Serve shared objects (dicts, ...) to mpx clients on each ENDPOINT, e.g.\n"
    "tcp://0.0.0.0:5555 or ipc:///run/mpx/mpx.sock. With no ENDPOINT, serve " MPX_DEFAULT_ENDPOINT
    ".\n"
    "\n"
    "The authkey is read from --authkey-file, else from the MPX_AUTHKEY environment variable.\n"
    "With neither, mpxd makes a random key and writes it to a 0600 file (--authkey-out); it\n"
    "then refuses to bind anything but loopback and ipc:// endpoints.\n"
    "\n"
    "Options:\n"
    "  --authkey-file PATH      read the authkey from PATH (its bytes, less a final newline)\n"
    "  --authkey-out PATH       where a generated authkey is written\n"
    "                           (default $XDG_RUNTIME_DIR/mpxd/authkey, else ~/.mpx/authkey)\n"
    "  --max-message BYTES      largest request served (default 16777216); a larger one is\n"
    "                           refused with MPX_ETOOBIG and the connection kept\n"
    "  --handshake-timeout MS   drop a connection that has not authenticated in MS (10000)\n"
    "  --session-timeout MS     end a session silent for MS (5000): a dead client's\n"
    "                           references go back; live clients send heartbeats\n"
    "  --ready-fd FD            write \"ready\\n\" to FD once every endpoint is bound, then close\n"
    "                           it\n"
    "  --lifeline-fd FD         stop when every process holding the other end of the pipe\n"
    "                           FD is gone (how a private manager follows its owner)\n"
    "  --cpu auto|none|N        where the event loop and libzmq's I/O thread run: auto\n"
    "                           (the default) keeps them on one CPU while the loop has\n"
    "                           time to spare and spreads them when it is busy; none\n"
    "                           leaves them to the kernel; N pins both to CPU N\n"
    "                           (docs/operating.md)\n"
    "  -q, --quiet              log warnings only\n"
    "  -V, --version            print the version and exit\n"
    "  -h, --help               print this help and exit\n"
    "\n"
    "SIGINT and SIGTERM stop mpxd cleanly: exit status 0, ipc socket files removed.\n";

typedef struct {
    const char *key_file;
    const char *key_out;
    int ready_fd;
    int lifeline_fd;
    mpx__config cfg;
} options;

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > (1ull << 31)) return -1;
    *out = (size_t)v;
    return 0;
}

/* "auto", "none", or a CPU number this process is allowed to run on. */
static int parse_cpu(const char *s, int *out)
{
    if (strcmp(s, "auto") == 0 || strcmp(s, "none") == 0) {
        *out = s[0] == 'a' ? MPX_CPU_AUTO : MPX_CPU_NONE;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX || !mpx__cpu_usable((int)v))
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"authkey-file", required_argument, NULL, 'k'},
        {"authkey-out", required_argument, NULL, 'o'},
        {"max-message", required_argument, NULL, 'm'},
        {"handshake-timeout", required_argument, NULL, 't'},
        {"session-timeout", required_argument, NULL, 's'},
        {"ready-fd", required_argument, NULL, 'r'},
        {"lifeline-fd", required_argument, NULL, 'l'},
        {"cpu", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    size_t v;
    int c;
    while ((c = getopt_long(argc, argv, "qVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->key_file = optarg;
            break;
        case 'o':
            o->key_out = optarg;
            break;
        case 'q':
            o->cfg.quiet = true;
            break;
        case 'c':
            if (parse_cpu(optarg, &o->cfg.cpu)) {
                fprintf(
                    stderr,
                    "mpxd: bad value '%s' for --cpu: auto, none, or a CPU this process may use\n",
                    optarg);
                return -1;
            }
            break;
        case 'V':
            printf("mpxd %s (protocol %d)\n", MPX_VERSION_STRING, MPX_PROTOCOL_VERSION);
            exit(0);
        case 'h':
            fputs(usage, stdout);
            exit(0);
        case 'm':
        case 't':
        case 's':
        case 'r':
        case 'l':
            if (parse_size(optarg, &v)) {
                fprintf(stderr, "mpxd: bad value '%s' for --%s\n", optarg,
                        c == 'm'   ? "max-message"
                        : c == 't' ? "handshake-timeout"
                        : c == 's' ? "session-timeout"
                        : c == 'r' ? "ready-fd"
                                   : "lifeline-fd");
                return -1;
            }
            if (c == 'm')
                o->cfg.max_message = v;
            else if (c == 't')
                o->cfg.handshake_timeout_ms = (int)v;
            else if (c == 's')
                o->cfg.session_timeout_ms = (int)v;
            else if (c == 'r')
                o->ready_fd = (int)v;
            else
                o->lifeline_fd = (int)v;
            break;
        default:
            fputs("Try 'mpxd --help'.\n", stderr);
            return -1;
        }
    }
    return 0;
}

/* True for endpoints only this machine can reach: ipc://, inproc://, and tcp:// on a loopback
 * address. */
static bool endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0) return true;
    if (strncmp(ep, "tcp://", 6) != 0) return false;
    const char *host = ep + 6, *colon = strrchr(host, ':');
    size_t len = colon ? (size_t)(colon - host) : strlen(host);
    if (len >= 4 && strncmp(host, "127.", 4) == 0) return memchr(host, ';', len) == NULL;
    static const char *const loopback[] = {"localhost", "[::1]", "lo"};
    for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++)
        if (strlen(loopback[i]) == len && strncmp(host, loopback[i], len) == 0) return true;
    return false;
}

static int read_key_file(const char *path, uint8_t *key, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "mpxd: cannot read the authkey file %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (st.st_mode & 077)
        fprintf(stderr, "mpxd: warning: the authkey file %s is readable by other users\n", path);
    ssize_t n = read(fd, key, MAX_KEY_LEN + 1);
    close(fd);
    if (n > 0 && key[n - 1] == '\n') n--;
    if (n > 0 && key[n - 1] == '\r') n--;
    if (n <= 0 || n > MAX_KEY_LEN) {
        fprintf(stderr, "mpxd: the authkey file %s must hold 1 to %d bytes\n", path, MAX_KEY_LEN);
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

/* The default place for a generated key: $XDG_RUNTIME_DIR/mpxd/authkey or ~/.mpx/authkey. */
static int default_key_path(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
    int n = xdg && *xdg     ? snprintf(buf, size, "%s/mpxd/authkey", xdg)
            : home && *home ? snprintf(buf, size, "%s/.mpx/authkey", home)
                            : -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Writes a fresh random key, as 64 hex digits, to path (its directory made 0700 if absent;
 * the file 0600). */
static int generate_key(const char *path, uint8_t *key, size_t *len)
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex((char *)key, 65, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    *len = 64;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0700);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, key, 64) != 64 || write(fd, "\n", 1) != 1) {
        fprintf(stderr, "mpxd: cannot write the authkey to %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    fprintf(stderr, "mpxd: generated a new authkey; it is in %s (mode 0600)\n", path);
    return 0;
}

static int load_key(const options *o, bool *explicit_key, uint8_t *key, size_t *len)
{
    const char *env = getenv("MPX_AUTHKEY");
    *explicit_key = true;
    if (o->key_file) return read_key_file(o->key_file, key, len);
    if (env && *env) {
        *len = strnlen(env, MAX_KEY_LEN + 1);
        if (*len > MAX_KEY_LEN) {
            fprintf(stderr, "mpxd: MPX_AUTHKEY is longer than %d bytes\n", MAX_KEY_LEN);
            return -1;
        }
        memcpy(key, env, *len);
        return 0;
    }
    *explicit_key = false;
    char path[4096];
    if (o->key_out)
        snprintf(path, sizeof path, "%s", o->key_out);
    else if (default_key_path(path, sizeof path) != 0) {
        fputs("mpxd: no authkey given and no place to write one; use --authkey-out\n", stderr);
        return -1;
    }
    return generate_key(path, key, len);
}

static void signal_ready(int fd)
{
    if (fd > 0) { /* 0: no --ready-fd */
        if (write(fd, "ready\n", 6) != 6)
            mpx__log_warn("cannot write to --ready-fd %d: %s", fd, strerror(errno));
        close(fd);
    }
}

static void remove_ipc_files(char *const *endpoints, int n)
{
    for (int i = 0; i < n; i++)
        if (strncmp(endpoints[i], "ipc://", 6) == 0 && endpoints[i][6] != '@')
            unlink(endpoints[i] + 6);
}

int main(int argc, char **argv)
{
    options o = {.lifeline_fd = -1,
                 .cfg = {.max_message = MPX_DEFAULT_MAX_MESSAGE,
                         .handshake_timeout_ms = 10000,
                         .session_timeout_ms = MPX_DEFAULT_SESSION_TIMEOUT_MS,
                         .cpu = MPX_CPU_AUTO}};
    static char default_ep[] = MPX_DEFAULT_ENDPOINT;
    static char *default_eps[] = {default_ep};
    static uint8_t key[MAX_KEY_LEN + 1];
    if (sodium_init() < 0 || parse_options(argc, argv, &o) != 0) return 2;
    char *const *endpoints = optind < argc ? argv + optind : default_eps;
    int n_endpoints = optind < argc ? argc - optind : 1;

    bool explicit_key;
    size_t keylen;
    if (load_key(&o, &explicit_key, key, &keylen) != 0) return 1;
    for (int i = 0; !explicit_key && i < n_endpoints; i++) {
        if (!endpoint_is_local(endpoints[i])) {
            fprintf(stderr,
                    "mpxd: refusing to serve %s, which other hosts can reach, with a generated "
                    "authkey; give --authkey-file or MPX_AUTHKEY\n",
                    endpoints[i]);
            return 1;
        }
    }
    o.cfg.authkey = key;
    o.cfg.keylen = keylen;

    mpx__server s = {0};
    int rc =
        mpx__signals_install() != 0 ? -1 : mpx__server_open(&s, &o.cfg, endpoints, n_endpoints);
    bool bound = rc == 0;
    if (bound) {
        signal_ready(o.ready_fd);
        rc = mpx__server_run(&s, o.lifeline_fd);
    }
    mpx__server_close(&s);
    if (bound) /* never a file another server bound */
        remove_ipc_files(endpoints, n_endpoints);
    sodium_memzero(key, sizeof key);
    return rc == 0 ? 0 : 1;
}
