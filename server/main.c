/*
 * main.c — mpxd's command line: options, the authkey (from a file, the environment, or made
 * fresh), the endpoints (names resolved, the loopback rule, a second server refused on an ipc
 * path a server answers on), and removing ipc socket files on the way out.
 *
 * The authkey is never printed, logged or taken from the command line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "aof.h"
#include "internal.h"
#include "loop.h"
#include "placement.h"

/* Descriptors mpxd holds for itself: libzmq's pollers and mailboxes, the monitor, the ZAP
 * handler, stdio, its pipes. */
#define MPX_FD_RESERVE 32

#define MAX_ENDPOINTS 64

static const char usage[] =
    "Usage: mpxd [OPTIONS] [ENDPOINT...]\n"
    "Serve shared objects (dicts, queues, locks, ...) to mpx clients on each ENDPOINT, e.g.\n"
    "tcp://0.0.0.0:5555, tcp://localhost:5555, tcp://[::1]:5555 or ipc:///run/mpx/mpx.sock.\n"
    "With no ENDPOINT, serve " MPX_DEFAULT_ENDPOINT ".\n"
    "\n"
    "The authkey is read from --authkey-file, else from the MPX_AUTHKEY environment variable.\n"
    "With neither, mpxd makes a random key and writes it to a 0600 file (--authkey-out); it\n"
    "then refuses to bind anything but loopback and ipc:// endpoints.\n"
    "\n"
    "Options:\n"
    "  --authkey-file PATH      read the authkey from PATH (mpxkey:HEX, or else its bytes)\n"
    "  --authkey-out PATH       where a generated authkey is written\n"
    "                           (default $XDG_RUNTIME_DIR/mpxd/authkey, else ~/.mpx/authkey)\n"
    "  --max-message BYTES      largest request served (default 16777216); a larger one is\n"
    "                           refused with MPX_ETOOBIG and the connection kept\n"
    "  --max-memory BYTES       past this much memory held (K, M, G suffixes allowed), calls\n"
    "                           that would store more are refused with MPX_EMEMLIMIT; the\n"
    "                           rest go on (default 0: no limit)\n"
    "  --handshake-timeout MS   close a connection whose CURVE handshake is not done in MS\n"
    "                           (3000)\n"
    "  --max-sessions N         sessions served at once; a further HELLO is refused with\n"
    "                           MPX_ETOOMANY (100000)\n"
    "  --max-queued-replies N   replies a client may leave unread; past it its session is\n"
    "                           ended and what it held released (1000)\n"
    "  --max-session-objects N  objects one session may hold; past it create is refused with\n"
    "                           MPX_ETOOMANY (100000)\n"
    "  --session-timeout MS     end a session silent for MS (5000): a dead client's\n"
    "                           references go back; live clients send heartbeats\n"
    "  --data-dir DIR           keep the objects in DIR (made 0700 if absent) and recover them\n"
    "                           at start: an append-only log plus snapshots\n"
    "                           (docs/persistence.md)\n"
    "  --fsync MODE             with --data-dir, when the log is synced to disk: always (a\n"
    "                           reply waits until its change is on disk), everysec (the\n"
    "                           default: a crash of the machine loses about a second at most)\n"
    "                           or no (the kernel decides)\n"
    "  --compact-min BYTES      compact the log into a snapshot once it is past BYTES (K, M, G\n"
    "                           allowed; 64M) and twice the last snapshot\n"
    "  --ready-fd FD            write \"ready\\n\" to FD once every endpoint is bound, then close\n"
    "                           it\n"
    "  --lifeline-fd FD         stop when every process holding the other end of the pipe\n"
    "                           FD is gone (how a private manager follows its owner)\n"
    "  --cpu none|auto|N        where the event loop and libzmq's I/O thread run: none (the\n"
    "                           default) leaves them to the kernel; auto keeps them on one\n"
    "                           CPU while the loop has time to spare and spreads them when\n"
    "                           it is busy; N pins both to CPU N (docs/operating.md)\n"
    "  --debug                  answer the manager's debug methods (debug_sleep), for tests\n"
    "  -q, --quiet              log warnings only\n"
    "  -V, --version            print the version and exit\n"
    "  -h, --help               print this help and exit\n"
    "\n"
    "SIGINT and SIGTERM stop mpxd cleanly: exit status 0, ipc socket files removed. SIGHUP\n"
    "is logged and changes nothing: a new authkey takes a restart.\n";

typedef struct {
    const char *key_file;
    const char *key_out;
    int ready_fd;
    int lifeline_fd;
    const char *persist_option; /* the last of --fsync and --compact-min given */
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

/* A byte count with an optional K, M or G suffix (powers of 1024); 0 is allowed. */
static int parse_bytes(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-') return -1;
    int shift = 0;
    if (*end == 'k' || *end == 'K') shift = 10;
    if (*end == 'm' || *end == 'M') shift = 20;
    if (*end == 'g' || *end == 'G') shift = 30;
    if (shift) end++;
    if (*end || v > (SIZE_MAX >> shift)) return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_fsync(const char *s, int *out)
{
    static const char *const modes[] = {
        [MPX_FSYNC_NO] = "no", [MPX_FSYNC_EVERYSEC] = "everysec", [MPX_FSYNC_ALWAYS] = "always"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, modes[i]) == 0) return *out = i, 0;
    return -1;
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

/* The numeric options: --max-message, timeouts and descriptors. */
static int parse_number_option(int c, const char *arg, options *o)
{
    static const char *const names[] = {
        ['m'] = "max-message",        ['t'] = "handshake-timeout",  ['s'] = "session-timeout",
        ['S'] = "max-sessions",       ['r'] = "ready-fd",           ['l'] = "lifeline-fd",
        ['Q'] = "max-queued-replies", ['O'] = "max-session-objects"};
    size_t v;
    if (parse_size(arg, &v) || ((c == 'S' || c == 'Q' || c == 'O') && (v == 0 || v > INT_MAX))) {
        fprintf(stderr, "mpxd: bad value '%s' for --%s\n", arg, names[c]);
        return -1;
    }
    if (c == 'm')
        o->cfg.max_message = v;
    else if (c == 't')
        o->cfg.handshake_timeout_ms = (int)v;
    else if (c == 's')
        o->cfg.session_timeout_ms = (int)v;
    else if (c == 'S')
        o->cfg.max_sessions = v;
    else if (c == 'Q')
        o->cfg.max_queued_replies = v;
    else if (c == 'O')
        o->cfg.max_session_objects = v;
    else if (c == 'r')
        o->ready_fd = (int)v;
    else
        o->lifeline_fd = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"authkey-file", required_argument, NULL, 'k'},
        {"authkey-out", required_argument, NULL, 'o'},
        {"max-message", required_argument, NULL, 'm'},
        {"max-memory", required_argument, NULL, 'M'},
        {"handshake-timeout", required_argument, NULL, 't'},
        {"session-timeout", required_argument, NULL, 's'},
        {"max-sessions", required_argument, NULL, 'S'},
        {"max-queued-replies", required_argument, NULL, 'Q'},
        {"max-session-objects", required_argument, NULL, 'O'},
        {"ready-fd", required_argument, NULL, 'r'},
        {"lifeline-fd", required_argument, NULL, 'l'},
        {"cpu", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"fsync", required_argument, NULL, 'f'},
        {"compact-min", required_argument, NULL, 'C'},
        {"debug", no_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
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
        case 'D':
            o->cfg.debug = true;
            break;
        case 'M':
            if (parse_bytes(optarg, &o->cfg.max_memory)) {
                fprintf(stderr,
                        "mpxd: bad value '%s' for --max-memory: bytes, or with K, M or "
                        "G\n",
                        optarg);
                return -1;
            }
            break;
        case 'd':
            o->cfg.data_dir = optarg;
            break;
        case 'f':
            o->persist_option = "--fsync";
            if (parse_fsync(optarg, &o->cfg.fsync)) {
                fprintf(stderr, "mpxd: bad value '%s' for --fsync: always, everysec or no\n",
                        optarg);
                return -1;
            }
            break;
        case 'C':
            o->persist_option = "--compact-min";
            if (parse_bytes(optarg, &o->cfg.compact_min)) {
                fprintf(stderr,
                        "mpxd: bad value '%s' for --compact-min: bytes, or with K, M or G\n",
                        optarg);
                return -1;
            }
            break;
        case 'c':
            if (parse_cpu(optarg, &o->cfg.cpu)) {
                fprintf(stderr,
                        "mpxd: bad value '%s' for --cpu: none, auto, or a CPU this process may "
                        "use\n",
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
        case 'S':
        case 'Q':
        case 'O':
        case 'r':
        case 'l':
            if (parse_number_option(c, optarg, o)) return -1;
            break;
        default:
            fputs("Try 'mpxd --help'.\n", stderr);
            return -1;
        }
    }
    if (o->persist_option && !o->cfg.data_dir) { /* a forgotten --data-dir would keep nothing */
        fprintf(stderr, "mpxd: %s needs --data-dir\n", o->persist_option);
        return -1;
    }
    return 0;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

typedef struct {
    char *eps[MAX_ENDPOINTS]; /* what is bound, names resolved */
    int n;
    bool local[MAX_ENDPOINTS];      /* reachable from this machine only */
    struct stat ipc[MAX_ENDPOINTS]; /* the socket file bound, to remove only that */
} endpoints;

/* Whether an address (an in_addr or in6_addr of the family) is a loopback one. */
static bool addr_is_loopback(int family, const void *addr)
{
    if (family == AF_INET) {
        struct in_addr a;
        memcpy(&a, addr, sizeof a);
        return (ntohl(a.s_addr) >> 24) == 127;
    }
    if (family == AF_INET6) {
        struct in6_addr a;
        memcpy(&a, addr, sizeof a);
        return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
    }
    return false;
}

/* Whether this machine can bind an address of sa's family and value (a resolved name may
 * include an IPv6 address on a host without IPv6). */
static bool addr_usable(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = 0;
    if (ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    bool ok = bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == 0;
    close(fd);
    return ok;
}

static int endpoint_add(endpoints *e, const char *ep, bool local)
{
    if (e->n == MAX_ENDPOINTS) {
        fprintf(stderr, "mpxd: at most %d endpoints\n", MAX_ENDPOINTS);
        return -1;
    }
    e->local[e->n] = local;
    e->eps[e->n++] = strdup(ep);
    return 0;
}

/* tcp://NAME:PORT: libzmq binds only numeric addresses and interface names, so a host name is
 * resolved here and each of its addresses bound. */
static int endpoint_resolve(endpoints *e, const char *ep, const char *host, size_t hlen,
                            const char *port)
{
    char name[256];
    if (hlen >= sizeof name) {
        fprintf(stderr, "mpxd: host name too long in %s\n", ep);
        return -1;
    }
    memcpy(name, host, hlen);
    name[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "mpxd: cannot resolve %s in %s: %s\n", name, ep, gai_strerror(rc));
        return -1;
    }
    int added = 0;
    for (ai = res; ai && rc == 0; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN], full[320];
        const void *a = ai->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if (!addr_usable(ai) || !inet_ntop(ai->ai_family, a, addr, sizeof addr)) continue;
        snprintf(full, sizeof full, ai->ai_family == AF_INET6 ? "tcp://[%s]:%s" : "tcp://%s:%s",
                 addr, port);
        bool seen = false;
        for (int i = 0; i < e->n; i++)
            seen |= strcmp(e->eps[i], full) == 0;
        if (!seen) {
            rc = endpoint_add(e, full, addr_is_loopback(ai->ai_family, a));
            added++;
        }
    }
    freeaddrinfo(res);
    if (rc == 0 && added == 0) {
        fprintf(stderr, "mpxd: no address of %s can be bound here (%s)\n", name, ep);
        return -1;
    }
    return rc;
}

/* Whether a tcp host is a literal address (or "*"), whose locality is read off it. */
static bool host_literal(const char *host, size_t len, bool *local)
{
    char buf[INET6_ADDRSTRLEN + 2];
    struct in6_addr a6;
    struct in_addr a4;
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (strcmp(buf, "*") == 0) {
        *local = false;
        return true;
    }
    if (buf[0] == '[' && buf[len - 1] == ']') {
        buf[len - 1] = '\0';
        if (inet_pton(AF_INET6, buf + 1, &a6) != 1) return false;
        *local = addr_is_loopback(AF_INET6, &a6);
        return true;
    }
    if (inet_pton(AF_INET, buf, &a4) != 1) return false;
    *local = addr_is_loopback(AF_INET, &a4);
    return true;
}

/* Adds one endpoint as given on the command line. */
static int endpoint_parse(endpoints *e, const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return endpoint_add(e, ep, true);
    const char *host = ep + 6, *colon = strrchr(ep, ':');
    if (strncmp(ep, "tcp://", 6) != 0 || colon < host || !colon[1]) {
        fprintf(stderr, "mpxd: bad endpoint '%s': expected tcp://host:port or ipc:///path\n", ep);
        return -1;
    }
    size_t hlen = (size_t)(colon - host);
    bool local;
    if (host_literal(host, hlen, &local)) return endpoint_add(e, ep, local);
    char ifname[IF_NAMESIZE + 1] = {0};
    if (hlen < sizeof ifname) memcpy(ifname, host, hlen);
    if (hlen < sizeof ifname && if_nametoindex(ifname) != 0) /* an interface: libzmq binds it */
        return endpoint_add(e, ep, strcmp(ifname, "lo") == 0);
    return endpoint_resolve(e, ep, host, hlen, colon + 1);
}

/* Refuses an ipc:// path that a running server answers on (binding it would take it over); a
 * socket file nobody answers on is left by a server that was killed, and is replaced. */
static int ipc_free(const char *ep)
{
    const char *path = ep + 6;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strncmp(ep, "ipc://", 6) != 0 || path[0] == '@') return 0;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "mpxd: the ipc path %s is longer than %zu bytes\n", path,
                sizeof sa.sun_path - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool answers = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0) close(fd);
    if (answers) {
        fprintf(stderr,
                "mpxd: a server already answers on %s; stop it first or choose another "
                "path\n",
                ep);
        return -1;
    }
    return 0;
}

/* Removes the ipc socket files this mpxd bound, and only if they are still its own. */
static void remove_ipc_files(const endpoints *e)
{
    for (int i = 0; i < e->n; i++) {
        const char *ep = e->eps[i];
        struct stat st;
        if (strncmp(ep, "ipc://", 6) != 0 || ep[6] == '@' || e->ipc[i].st_ino == 0) continue;
        if (stat(ep + 6, &st) == 0 && st.st_ino == e->ipc[i].st_ino &&
            st.st_dev == e->ipc[i].st_dev)
            unlink(ep + 6);
    }
}

/* ---- the authkey -------------------------------------------------------------------------- */

/* The default place for a generated key: $XDG_RUNTIME_DIR/mpxd/authkey or ~/.mpx/authkey. */
static int default_key_path(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
    int n = xdg && *xdg     ? snprintf(buf, size, "%s/mpxd/authkey", xdg)
            : home && *home ? snprintf(buf, size, "%s/.mpx/authkey", home)
                            : -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Writes a fresh random 32-byte key to path in the hex form of a key file, "mpxkey:" and 64
 * hex digits (its directory made 0700 if absent; the file 0600). */
static int generate_key(const char *path, uint8_t *key, size_t *len)
{
    char line[MPX__KEY_PREFIX_LEN + 64 + 2] = MPX__KEY_PREFIX;
    randombytes_buf(key, 32);
    *len = 32;
    sodium_bin2hex(line + MPX__KEY_PREFIX_LEN, 65, key, 32);
    line[sizeof line - 2] = '\n';
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0700);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t line_len = sizeof line - 1;
    bool written =
        fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, line, line_len) == (ssize_t)line_len;
    sodium_memzero(line, sizeof line);
    if (!written) {
        fprintf(stderr, "mpxd: cannot write the authkey to %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    fprintf(stderr, "mpxd: generated a new authkey; it is in %s (mode 0600)\n", path);
    return 0;
}

static int load_key(options *o, uint8_t *key, size_t *len)
{
    const char *env = getenv("MPX_AUTHKEY");
    if (o->key_file) {
        char err[256];
        unsigned mode;
        if (mpx__keyfile_read(o->key_file, key, len, &mode, err, sizeof err) != 0) {
            fprintf(stderr, "mpxd: %s\n", err);
            return -1;
        }
        if (mode & 077)
            fprintf(stderr, "mpxd: warning: the authkey file %s is readable by other users\n",
                    o->key_file);
        return 0;
    }
    if (env && *env) {
        *len = strnlen(env, MPX__KEY_MAX + 1);
        if (*len > MPX__KEY_MAX) {
            fprintf(stderr, "mpxd: MPX_AUTHKEY is longer than %d bytes\n", MPX__KEY_MAX);
            return -1;
        }
        memcpy(key, env, *len);
        return 0;
    }
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

/* Checks the endpoints before anything is written: names resolve, no public endpoint without
 * a key given on purpose, no ipc path another server answers on. */
static int check_endpoints(const options *o, int argc, char **argv, endpoints *e)
{
    const char *env = getenv("MPX_AUTHKEY");
    bool explicit_key = o->key_file || (env && *env);
    int n = optind < argc ? argc - optind : 1;
    for (int i = 0; i < n; i++)
        if (endpoint_parse(e, optind < argc ? argv[optind + i] : MPX_DEFAULT_ENDPOINT) != 0)
            return -1;
    for (int i = 0; i < e->n; i++) {
        if (!explicit_key && !e->local[i]) {
            fprintf(stderr,
                    "mpxd: refusing to serve %s, which other hosts can reach, with a generated "
                    "authkey; give --authkey-file or MPX_AUTHKEY\n",
                    e->eps[i]);
            return -1;
        }
        if (ipc_free(e->eps[i]) != 0) return -1;
    }
    return 0;
}

/* Raises the open-file limit to the hard limit: each connection costs mpxd one descriptor,
 * and the usual soft limit of 1,024 would lock new clients out long before memory runs short
 * (docs/operating.md, "Limits and resources"). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = was;
    }
    mpx__log_info(
        "open files: %llu (was %llu), about %llu connections", (unsigned long long)rl.rlim_cur,
        (unsigned long long)was,
        (unsigned long long)(rl.rlim_cur > MPX_FD_RESERVE ? rl.rlim_cur - MPX_FD_RESERVE : 0));
}

int main(int argc, char **argv)
{
    options o = {.lifeline_fd = -1,
                 .cfg = {.max_message = MPX_DEFAULT_MAX_MESSAGE,
                         .handshake_timeout_ms = 3000,
                         .session_timeout_ms = MPX_DEFAULT_SESSION_TIMEOUT_MS,
                         .max_sessions = MPX_DEFAULT_MAX_SESSIONS,
                         .max_queued_replies = MPX_DEFAULT_MAX_QUEUED_REPLIES,
                         .max_session_objects = MPX_DEFAULT_MAX_SESSION_OBJECTS,
                         .fsync = MPX_FSYNC_EVERYSEC,
                         .compact_min = MPX_DEFAULT_COMPACT_MIN,
                         .cpu = MPX_CPU_NONE}};
    static uint8_t key[MPX__KEY_MAX + 1];
    static endpoints eps;
    if (sodium_init() < 0 || parse_options(argc, argv, &o) != 0) return 2;
    mpx__log_quiet(o.cfg.quiet);
    raise_fd_limit();

    size_t keylen;
    if (check_endpoints(&o, argc, argv, &eps) != 0 || load_key(&o, key, &keylen) != 0) return 1;
    mpx__server s = {0};
    int rc = mpx__signals_install() != 0
                 ? -1
                 : mpx__server_open(&s, &o.cfg, key, keylen, eps.eps, eps.n);
    sodium_memzero(key, sizeof key);
    bool bound = rc == 0;
    for (int i = 0; bound && i < eps.n; i++)
        if (strncmp(eps.eps[i], "ipc://", 6) == 0 && eps.eps[i][6] != '@')
            stat(eps.eps[i] + 6, &eps.ipc[i]);
    if (bound) {
        signal_ready(o.ready_fd);
        rc = mpx__server_run(&s, o.lifeline_fd);
    }
    mpx__server_close(&s);
    remove_ipc_files(&eps);
    for (int i = 0; i < eps.n; i++)
        free(eps.eps[i]);
    return rc == 0 ? 0 : 1;
}
