/*
 * test_protocol.c — mpxd against a raw ZeroMQ peer that builds its own frames: garbage,
 * truncated msgpack, an oversized request, a request before the handshake, another protocol
 * version, a version 3 client, a wrong authkey and an unfinished CURVE handshake. Each is refused
 * as docs/protocol.md says, never executed, and counted; a well-behaved client connected all along
 * keeps working with its data intact.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "codec.h"
#include "harness.h"
#include "internal.h"

#define MAX_MESSAGE 4096

static mpx_client *good;
static mpx_proxy *good_dict;
static uint8_t authkey[64];
static size_t keylen;

typedef struct {
    void *ctx;
    void *sock;
    uint8_t frame[MAX_MESSAGE * 2];
    size_t len;
    mpx__frame in; /* the last frame received, pointing into `frame` */
} raw_peer;

/* A DEALER with the CURVE keys of key (its server key from server_key), connected. */
static void raw_open_keys(raw_peer *p, const uint8_t *key, size_t len, const uint8_t *server_key,
                          size_t server_len)
{
    memset(p, 0, sizeof *p);
    p->ctx = zmq_ctx_new();
    p->sock = zmq_socket(p->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (key) {
        mpx__curve_keys_t k;
        mpx__curve_keys(server_key, server_len, &k);
        assert_ok(mpx__curve_client(p->sock, key, len));
        assert_ok(zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, k.server_public, 32));
    }
    assert_int_equal(zmq_connect(p->sock, server.endpoint), 0);
}

static void raw_open(raw_peer *p)
{
    raw_open_keys(p, authkey, keylen, authkey, keylen);
}

static void raw_close(raw_peer *p)
{
    zmq_close(p->sock);
    zmq_ctx_term(p->ctx);
}

static void raw_send(raw_peer *p, const void *buf, size_t len)
{
    assert_int_equal(zmq_send(p->sock, buf, len, 0), (int)len);
}

/* Whether a frame arrives within ms; if so it is in p->frame. */
static bool raw_recv_within(raw_peer *p, int ms)
{
    zmq_pollitem_t item = {.socket = p->sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, ms) != 1) return false;
    int n = zmq_recv(p->sock, p->frame, sizeof p->frame, 0);
    assert_true(n >= 0 && (size_t)n <= sizeof p->frame);
    p->len = (size_t)n;
    assert_ok(mpx__frame_parse(p->frame, p->len, &p->in));
    return true;
}

/* Receives one frame (failing the test after 5 s: "it did not hang"). */
static void raw_recv(raw_peer *p)
{
    assert_true(raw_recv_within(p, 5000));
}

/* The code of the ERROR frame in p->in (negative); its message must be valid UTF-8. */
static int error_code(raw_peer *p, const char **msg, uint32_t *msg_len)
{
    assert_int_equal(p->in.kind, MPX_K_ERROR);
    mpx__mp_cursor c;
    uint32_t n;
    int64_t code;
    mpx__mp_init(&c, p->in.body, p->in.body_len);
    assert_ok(mpx__mp_array(&c, &n));
    assert_int_equal(n, 2);
    assert_ok(mpx__mp_int(&c, &code));
    assert_ok(mpx__mp_str(&c, msg, msg_len));
    return (int)-code;
}

/* Receives an ERROR frame and returns its code (negative). */
static int raw_recv_error(raw_peer *p)
{
    const char *msg;
    uint32_t len;
    raw_recv(p);
    return error_code(p, &msg, &len);
}

static const uint8_t hello_body[] = {0x81, 0xa8, 'v', 'e', 'r', 's', 'i', 'o', 'n', 's', 0x91, 4};

/* Sends HELLO offering version 4; returns 0 once WELCOME came, or the code of the ERROR. */
static int raw_handshake(raw_peer *p)
{
    uint8_t hello[MPX_HDR_LEN + sizeof hello_body];
    mpx__frame_header(hello, MPX_K_HELLO);
    memcpy(hello + MPX_HDR_LEN, hello_body, sizeof hello_body);
    raw_send(p, hello, sizeof hello);
    raw_recv(p);
    if (p->in.kind == MPX_K_ERROR) {
        const char *msg;
        uint32_t len;
        return error_code(p, &msg, &len);
    }
    assert_int_equal(p->in.kind, MPX_K_WELCOME);
    return 0;
}

/* Builds a frame of the given kind around body. */
static size_t raw_build_kind(raw_peer *p, uint8_t kind, const void *body, size_t len, uint8_t *out)
{
    (void)p;
    mpx__frame_header(out, kind);
    memcpy(out + MPX_HDR_LEN, body, len);
    return MPX_HDR_LEN + len;
}

/* Builds a CALL frame around body. */
static size_t raw_build(raw_peer *p, const void *body, size_t len, uint8_t *out)
{
    return raw_build_kind(p, MPX_K_CALL, body, len, out);
}

/* Reads one REPLY body at c and returns its status (0 or a negative code). */
static int read_reply(mpx__mp_cursor *c, uint64_t *req_id)
{
    uint32_t n;
    int64_t status;
    assert_ok(mpx__mp_array(c, &n));
    assert_int_equal(n, 3);
    assert_ok(mpx__mp_uint(c, req_id));
    assert_ok(mpx__mp_int(c, &status));
    assert_ok(mpx__mp_skip(c));
    return (int)-status;
}

/* Receives a REPLY and returns its status (0 or a negative code). */
static int raw_recv_reply(raw_peer *p, uint64_t *req_id)
{
    raw_recv(p);
    assert_int_equal(p->in.kind, MPX_K_REPLY);
    mpx__mp_cursor c;
    mpx__mp_init(&c, p->in.body, p->in.body_len);
    return read_reply(&c, req_id);
}

/* Sends a call given as msgpack body bytes and returns the reply's status. */
static int raw_call(raw_peer *p, const void *body, size_t len)
{
    uint8_t frame[MAX_MESSAGE * 2];
    uint64_t id;
    raw_send(p, frame, raw_build(p, body, len, frame));
    return raw_recv_reply(p, &id);
}

/* The good client's data is all there and it still answers. */
static void assert_good_client_intact(void)
{
    mpx_value *k = mpx_str("precious"), *v = NULL;
    assert_ok(mpx_dict_get(good_dict, k, &v));
    assert_string_equal(mpx_value_str(v, NULL), "data");
    size_t n;
    assert_ok(mpx_dict_len(good_dict, &n));
    assert_int_equal(n, 1);
    mpx_value_free(&k);
    mpx_value_free(&v);
}

static int group_setup(void **state)
{
    (void)state;
    const char *extra[] = {"--max-message", "4096", "--handshake-timeout", "500", NULL};
    mpxd_start(&server, "tcp", extra);
    size_t len;
    char *key = read_file(server.keyfile, &len);
    memcpy(authkey, key, len);
    keylen = len;
    free(key);
    good = mpxd_connect(&server);
    assert_ok(mpx_dict_open(good, "precious", &good_dict));
    mpx_value *k = mpx_str("precious"), *v = mpx_str("data");
    assert_ok(mpx_dict_set(good_dict, k, v));
    mpx_value_free(&k);
    mpx_value_free(&v);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mpx_proxy_free(&good_dict);
    mpx_client_free(&good);
    return mpxd_stop(&server);
}

static void test_garbage_before_handshake(void **state)
{
    (void)state;
    raw_peer p;
    raw_open(&p);
    raw_send(&p, "hello, mpxd", 11); /* 'h' is no protocol version */
    assert_code(raw_recv_error(&p), MPX_EVERSION);
    raw_send(&p, "", 0);
    assert_code(raw_recv_error(&p), MPX_EPROTO);
    raw_send(&p, "\x04", 1); /* shorter than the header */
    assert_code(raw_recv_error(&p), MPX_EPROTO);
    raw_send(&p, "\x04\x7f", 2); /* an unknown kind */
    assert_code(raw_recv_error(&p), MPX_EPROTO);
    raw_close(&p);
    assert_good_client_intact();
}

static void test_call_before_handshake(void **state)
{
    (void)state;
    raw_peer p;
    raw_open(&p);
    static const uint8_t body[] = {0x94, 0x01, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    uint8_t frame[64];
    uint64_t before = mpxd_stat(good, "rejected_unauth");
    raw_send(&p, frame, raw_build(&p, body, sizeof body, frame));
    assert_code(raw_recv_error(&p), MPX_ENOAUTH);
    /* A large frame before HELLO is not even parsed. */
    static uint8_t big[1024] = {MPX_PROTOCOL_VERSION, MPX_K_CALL};
    raw_send(&p, big, sizeof big);
    assert_code(raw_recv_error(&p), MPX_ENOAUTH);
    assert_int_equal(mpxd_stat(good, "rejected_unauth"), before + 2);
    /* A HELLO with no version in common, or not the documented map, opens nothing. */
    static const uint8_t old_only[] = {MPX_PROTOCOL_VERSION,
                                       MPX_K_HELLO,
                                       0x81,
                                       0xa8,
                                       'v',
                                       'e',
                                       'r',
                                       's',
                                       'i',
                                       'o',
                                       'n',
                                       's',
                                       0x92,
                                       0x02,
                                       0x03};
    raw_send(&p, old_only, sizeof old_only);
    assert_code(raw_recv_error(&p), MPX_EVERSION);
    static const uint8_t not_map[] = {MPX_PROTOCOL_VERSION, MPX_K_HELLO, 0x91, 0x04};
    raw_send(&p, not_map, sizeof not_map);
    assert_code(raw_recv_error(&p), MPX_EPROTO);
    raw_send(&p, frame, raw_build(&p, body, sizeof body, frame));
    assert_code(raw_recv_error(&p), MPX_ENOAUTH);
    raw_close(&p);
    assert_good_client_intact();
}

/* Frames of versions 1 to 3 and of a future version are refused with EVERSION; a version 3
 * client, which speaks ZeroMQ's NULL security, is refused at the transport (its connection is
 * closed at the greeting) and never gets a frame. */
static void test_other_protocol_version(void **state)
{
    (void)state;
    uint8_t hello[50 + 32] = {0};
    const uint8_t versions[] = {1, 2, 3, 9};
    for (size_t i = 0; i < sizeof versions; i++) {
        raw_peer p;
        raw_open(&p);
        hello[0] = versions[i];
        hello[1] = MPX_K_HELLO;
        raw_send(&p, hello, sizeof hello);
        assert_code(raw_recv_error(&p), MPX_EVERSION);
        raw_close(&p);
    }
    assert_true(mpxd_stat(good, "rejected_version") >= 4);

    /* A version 3 client: NULL security, its 34-byte HELLO header. Its own libzmq sees the
     * mechanisms differ and the connection closed; no frame ever comes. */
    void *ctx = zmq_ctx_new(), *v3 = zmq_socket(ctx, ZMQ_DEALER), *mon;
    int linger = 0;
    zmq_setsockopt(v3, ZMQ_LINGER, &linger, sizeof linger);
    /* the side that reads the other's greeting first closes: the client sees the mismatch, or
     * its connection closed */
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_DISCONNECTED;
    assert_int_equal(zmq_socket_monitor(v3, "inproc://v3", events), 0);
    mon = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://v3"), 0);
    assert_int_equal(zmq_connect(v3, server.endpoint), 0);
    hello[0] = 3;
    assert_int_equal(zmq_send(v3, hello, 34 + 32, 0), 34 + 32);
    uint8_t event[6];
    zmq_pollitem_t item = {.socket = mon, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&item, 1, 5000), 1);
    assert_int_equal(zmq_recv(mon, event, sizeof event, 0), 6);
    uint16_t what;
    uint32_t why;
    memcpy(&what, event, sizeof what);
    memcpy(&why, event + 2, sizeof why);
    if (what == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        assert_int_equal(why, ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH);
    item = (zmq_pollitem_t){.socket = v3, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&item, 1, 500), 0);
    zmq_socket_monitor(v3, NULL, 0);
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(mon);
    zmq_close(v3);
    zmq_ctx_term(ctx);
    assert_good_client_intact();
}

static void test_wrong_authkey(void **state)
{
    (void)state;
    uint64_t before = mpxd_stat(good, "auth_failures");
    /* A peer that does not know the key: its CURVE handshake fails, nothing reaches mpxd. */
    raw_peer p;
    raw_open_keys(&p, (const uint8_t *)"wrong key", 9, (const uint8_t *)"wrong key", 9);
    raw_send(&p, "\x04\x01", 2);
    assert_false(raw_recv_within(&p, 1000));
    raw_close(&p);
    /* One that knows mpxd's public key but not the client key: refused by the ZAP check. */
    raw_open_keys(&p, (const uint8_t *)"wrong key", 9, authkey, keylen);
    raw_send(&p, "\x04\x01", 2);
    assert_false(raw_recv_within(&p, 1000));
    raw_close(&p);
    /* Through the library: a clear error at once, not a retry loop, and mpxd keeps serving. */
    mpx_client *c = NULL;
    int64_t t0 = harness_now_ms();
    assert_code(mpx_connect(server.endpoint, "wrong key", 9, &c), MPX_EAUTH);
    assert_true(harness_now_ms() - t0 < 2000);
    assert_null(c);
    assert_non_null(strstr(mpx_last_error(), "authkey"));
    /* libzmq retries a refused raw peer while it waits: each attempt is one more failure */
    for (int i = 0; i < 250 && mpxd_stat(good, "auth_failures") < before + 3; i++)
        usleep(20 * 1000);
    assert_true(mpxd_stat(good, "auth_failures") >= before + 3);
    assert_good_client_intact();
    char *log = read_file(server.logfile, NULL);
    assert_non_null(strstr(log, "failed the CURVE handshake"));
    free(log);
}

static void test_malformed_and_truncated_bodies(void **state)
{
    (void)state;
    raw_peer p;
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    uint64_t before = mpxd_stat(good, "rejected_malformed");
    /* Not msgpack at all: no request id to answer, so an ERROR frame. */
    uint8_t frame[64];
    raw_send(&p, frame, raw_build(&p, "\xc1\xc1\xc1", 3, frame));
    assert_code(raw_recv_error(&p), MPX_EBADREQ);
    /* [5, 0, "ping", [ ... one argument declared, none sent */
    static const uint8_t truncated[] = {0x94, 0x05, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x91};
    assert_code(raw_call(&p, truncated, sizeof truncated), MPX_EBADREQ);
    /* A str declaring more bytes than follow. */
    static const uint8_t short_str[] = {0x94, 0x06, 0x00, 0xa9, 'p', 'i'};
    assert_code(raw_call(&p, short_str, sizeof short_str), MPX_EBADREQ);
    /* Trailing bytes after a complete call. */
    static const uint8_t trailing[] = {0x94, 0x07, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90, 0x00};
    assert_code(raw_call(&p, trailing, sizeof trailing), MPX_EBADREQ);
    assert_int_equal(mpxd_stat(good, "rejected_malformed"), before + 4);
    /* The session is still good: a correct ping works. */
    static const uint8_t ping[] = {0x94, 0x08, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    assert_ok(raw_call(&p, ping, sizeof ping));
    raw_close(&p);
    assert_good_client_intact();
}

static void test_unknown_object_method_and_arity(void **state)
{
    (void)state;
    raw_peer p;
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    static const uint8_t no_obj[] = {0x94, 0x01, 0xcd, 0x27, 0x0f, 0xa3, 'l', 'e', 'n', 0x90};
    assert_code(raw_call(&p, no_obj, sizeof no_obj), MPX_ENOOBJ);
    static const uint8_t no_method[] = {0x94, 0x02, 0x00, 0xa3, 'z', 'a', 'p', 0x90};
    assert_code(raw_call(&p, no_method, sizeof no_method), MPX_ENOMETHOD);
    static const uint8_t arity[] = {0x94, 0x03, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x91, 0x01};
    assert_code(raw_call(&p, arity, sizeof arity), MPX_EARGS);
    /* open("x", 7): the type must be a string */
    static const uint8_t bad_type[] = {0x94, 0x04, 0x00, 0xa4, 'o', 'p',
                                       'e',  'n',  0x92, 0xa1, 'x', 0x07};
    assert_code(raw_call(&p, bad_type, sizeof bad_type), MPX_ETYPE);
    raw_close(&p);
    assert_good_client_intact();
}

/* [req, dict id, "set", ["k", v]] with a one-byte integer v. */
static size_t set_call(uint8_t *out, uint64_t dict_id, uint8_t req, uint8_t v)
{
    uint8_t body[] = {0x94, req,  0xcf, 0,   0,   0,    0,    0,   0, 0,
                      0,    0xa3, 's',  'e', 't', 0x92, 0xa1, 'k', v};
    mpx__put_u64be(body + 3, dict_id);
    memcpy(out, body, sizeof body);
    return sizeof body;
}

static int64_t good_get_k(mpx_proxy *d)
{
    mpx_value *k = mpx_str("k"), *v = NULL;
    int64_t i = -1;
    assert_ok(mpx_dict_get(d, k, &v));
    assert_ok(mpx_value_get_int(v, &i));
    mpx_value_free(&k);
    mpx_value_free(&v);
    return i;
}

/* [req, dict id, "update", [arg]]: arg is copied as it is, malformed or not. */
static size_t update_call(uint8_t *out, uint64_t dict_id, uint8_t req, const void *arg, size_t len)
{
    uint8_t head[] = {0x94, req,  0xcf, 0,   0,   0,   0,   0,   0,   0,
                      0,    0xa6, 'u',  'p', 'd', 'a', 't', 'e', 0x91};
    mpx__put_u64be(head + 3, dict_id);
    memcpy(out, head, sizeof head);
    memcpy(out + sizeof head, arg, len);
    return sizeof head + len;
}

/* A map {"a": v} whose value v is `depth` nested arrays, the innermost empty. */
static size_t nested_value_map(uint8_t *out, int depth)
{
    size_t n = 0;
    out[n++] = 0x81;
    out[n++] = 0xa1;
    out[n++] = 'a';
    for (int i = 1; i < depth; i++)
        out[n++] = 0x91;
    out[n++] = 0x90;
    return n;
}

/* dict.update() walks its own argument (dispatch leaves it unwalked): it must refuse what
 * dispatch refuses, in dispatch's order, with nothing stored. */
static void test_update_checks_its_argument_as_dispatch_would(void **state)
{
    (void)state;
    raw_peer p;
    mpx_proxy *d = NULL;
    size_t n = 99;
    uint8_t body[1024], arg[1024];
    assert_ok(mpx_dict_open(good, "update.checks", &d));
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    uint64_t id = mpx_proxy_id(d), before = mpxd_stat(good, "rejected_malformed");
    /* {"a": 1, "b": a str declaring 9 bytes where 2 follow} */
    static const uint8_t cut_map[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xa9, 'x', 'y'};
    assert_code(raw_call(&p, body, update_call(body, id, 1, cut_map, sizeof cut_map)), MPX_EBADREQ);
    /* {"a": 1} and a byte after the call */
    static const uint8_t trailing[] = {0x81, 0xa1, 'a', 0x01, 0x00};
    assert_code(raw_call(&p, body, update_call(body, id, 2, trailing, sizeof trailing)),
                MPX_EBADREQ);
    /* [["a", 1], 7, ["b", <cut str>]]: malformed is reported before ill-typed */
    static const uint8_t cut_pairs[] = {0x93, 0x92, 0xa1, 'a', 0x01, 0x07, 0x92, 0xa1, 'b', 0xa9};
    assert_code(raw_call(&p, body, update_call(body, id, 3, cut_pairs, sizeof cut_pairs)),
                MPX_EBADREQ);
    /* the same to an object that does not exist: still malformed first */
    assert_code(raw_call(&p, body, update_call(body, 424242, 4, cut_map, sizeof cut_map)),
                MPX_EBADREQ);
    /* an argument nests at most 512 levels, the map's own included: a value nested 512 deep
     * inside the map is one level past the limit, as it is when dispatch walks an argument */
    size_t len = nested_value_map(arg, MPX_MAX_DEPTH);
    assert_code(raw_call(&p, body, update_call(body, id, 5, arg, len)), MPX_EBADREQ);
    assert_int_equal(mpxd_stat(good, "rejected_malformed"), before + 5);
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 0);
    /* [["a", 1], 7] is well formed but ill-typed: ETYPE, and "a" is not stored */
    static const uint8_t not_pair[] = {0x92, 0x92, 0xa1, 'a', 0x01, 0x07};
    assert_code(raw_call(&p, body, update_call(body, id, 6, not_pair, sizeof not_pair)), MPX_ETYPE);
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 0);
    len = nested_value_map(arg, MPX_MAX_DEPTH - 1);
    assert_ok(raw_call(&p, body, update_call(body, id, 7, arg, len)));
    assert_ok(mpx_dict_len(d, &n));
    assert_int_equal(n, 1);
    assert_int_equal(mpxd_stat(good, "rejected_malformed"), before + 5);
    raw_close(&p);
    mpx_proxy_free(&d);
    assert_good_client_intact();
}

/* Calls method on p (the manager when p is NULL) with the given arguments, which it frees,
 * and returns the result code. */
static int call_with(mpx_proxy *p, const char *method, size_t n, ...)
{
    va_list ap;
    mpx_value *args = mpx_array();
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        mpx_value *v = va_arg(ap, mpx_value *);
        assert_ok(mpx_array_push(args, &v));
    }
    va_end(ap);
    int rc = p ? mpx_call(p, method, args, MPX_TIMEOUT_DEFAULT, NULL)
               : mpx_server_call(good, method, args, MPX_TIMEOUT_DEFAULT, NULL);
    mpx_value_free(&args);
    return rc;
}

/* The list holds exactly 1, 2, 3. */
static void assert_list_intact(mpx_proxy *l)
{
    mpx_value *all = NULL;
    assert_ok(mpx_list_copy(l, &all));
    assert_int_equal(mpx_value_len(all), 3);
    for (int64_t i = 0; i < 3; i++) {
        int64_t v;
        assert_ok(mpx_value_get_int(mpx_value_at(all, (size_t)i), &v));
        assert_int_equal(v, i + 1);
    }
    mpx_value_free(&all);
}

/* The methods of the object model refuse ill-typed and out-of-range arguments with their
 * documented errors, change nothing, and mpxd serves on. */
static void test_object_methods_refuse_bad_arguments(void **state)
{
    (void)state;
    mpx_proxy *l = NULL, *s = NULL, *ns = NULL, *v = NULL, *a = NULL, *d = good_dict;
    assert_ok(mpx_list_new(good, &l));
    assert_ok(call_with(l, "extend", 1, mpx_array()));
    for (int i = 1; i <= 3; i++)
        assert_ok(call_with(l, "append", 1, mpx_int(i)));
    assert_code(call_with(l, "get", 1, mpx_str("0")), MPX_ETYPE);
    assert_code(call_with(l, "get", 1, mpx_uint(UINT64_MAX)), MPX_EINDEX);
    assert_code(call_with(l, "get", 1, mpx_int(3)), MPX_EINDEX);
    assert_code(call_with(l, "get", 1, mpx_int(INT64_MIN)), MPX_EINDEX);
    assert_code(call_with(l, "get", 0), MPX_EARGS);
    assert_code(call_with(l, "insert", 2, mpx_double(1.0), mpx_int(9)), MPX_ETYPE);
    assert_code(call_with(l, "extend", 1, mpx_int(9)), MPX_ETYPE);
    assert_code(call_with(l, "get_slice", 3, mpx_nil(), mpx_nil(), mpx_int(0)), MPX_EVALUE);
    assert_code(call_with(l, "get_slice", 1, mpx_str("a")), MPX_ETYPE);
    assert_ok(call_with(l, "get_slice", 3, mpx_int(INT64_MIN), mpx_uint(UINT64_MAX),
                        mpx_int(INT64_MIN))); /* huge bounds and steps clamp, as Python's */
    assert_code(call_with(l, "set_slice", 4, mpx_int(0), mpx_int(3), mpx_int(2), mpx_array()),
                MPX_EVALUE);
    assert_code(call_with(l, "set_slice", 4, mpx_int(0), mpx_int(1), mpx_nil(), mpx_int(1)),
                MPX_ETYPE);
    assert_code(call_with(l, "delete_slice", 3, mpx_nil(), mpx_nil(), mpx_int(0)), MPX_EVALUE);
    assert_code(call_with(l, "sort", 1, mpx_str("yes")), MPX_ETYPE);
    assert_code(call_with(l, "pop", 1, mpx_int(7)), MPX_EINDEX);
    assert_code(call_with(l, "index", 2, mpx_int(1), mpx_str("a")), MPX_ETYPE);
    assert_code(call_with(l, "remove", 1, mpx_int(4)), MPX_EVALUE);
    assert_list_intact(l);

    assert_ok(mpx_set_new(good, &s));
    assert_code(call_with(s, "update", 1, mpx_int(1)), MPX_ETYPE);
    assert_code(call_with(s, "union", 1, mpx_str("x")), MPX_ETYPE);
    assert_ok(mpx_namespace_new(good, &ns));
    assert_code(call_with(ns, "get", 1, mpx_int(1)), MPX_ETYPE);
    assert_code(call_with(ns, "delete", 1, mpx_str("never set")), MPX_EATTR);
    assert_ok(mpx_val_new_typed(good, 'h', NULL, &v));
    assert_code(call_with(v, "set", 1, mpx_str("1")), MPX_ETYPE);
    assert_code(call_with(v, "set", 1, mpx_int(40000)), MPX_EOVERFLOW);
    assert_code(call_with(v, "add", 1, mpx_double(0.5)), MPX_ETYPE);
    assert_code(call_with(v, "cas", 2, mpx_str("0"), mpx_int(1)), MPX_ETYPE);
    mpx_value *x = NULL;
    assert_ok(mpx_val_get(v, &x));
    int64_t i;
    assert_ok(mpx_value_get_int(x, &i));
    assert_int_equal(i, 0); /* unchanged */
    mpx_value_free(&x);
    mpx_proxy *bad = NULL;
    assert_code(mpx_open(good, "tv.bad", "typed_value", &bad), MPX_EARGS); /* no typecode */
    assert_ok(mpx_arr_new(good, 'b', 2, NULL, &a));
    assert_code(call_with(a, "set", 2, mpx_int(0), mpx_str("x")), MPX_ETYPE);
    assert_code(call_with(a, "set_slice", 4, mpx_nil(), mpx_nil(), mpx_nil(), mpx_array()),
                MPX_EVALUE);
    assert_code(call_with(a, "add", 2, mpx_int(5), mpx_int(1)), MPX_EINDEX);
    assert_code(call_with(d, "add", 2, mpx_str("precious"), mpx_int(1)), MPX_ETYPE);
    assert_code(call_with(d, "cas", 3, mpx_str("precious"), mpx_int(5), mpx_array()), MPX_ETYPE);
    assert_code(call_with(NULL, "delete", 1, mpx_double(1.5)), MPX_ETYPE);
    assert_code(call_with(NULL, "delete", 1, mpx_uint(0)), MPX_ENOOBJ);
    assert_code(call_with(NULL, "delete", 1, mpx_uint(UINT64_MAX)), MPX_ENOOBJ);
    assert_code(call_with(NULL, "objects", 2, mpx_str("a"), mpx_int(1)), MPX_ETYPE);
    assert_code(call_with(NULL, "objects", 2, mpx_int(0), mpx_int(0)), MPX_EVALUE);
    assert_code(call_with(NULL, "objects", 3, mpx_int(0), mpx_int(5), mpx_int(1)), MPX_ETYPE);
    /* object references: to an object freed, and where one is refused (a key) */
    mpx_proxy *gone = NULL;
    assert_ok(mpx_list_new(good, &gone));
    mpx_value *dangling = mpx_ref(gone), *live = mpx_ref(l);
    mpx_proxy_free(&gone);
    assert_code(call_with(l, "append", 1, mpx_value_copy(dangling)), MPX_ENOOBJ);
    assert_code(call_with(d, "set", 2, mpx_value_copy(live), mpx_int(1)), MPX_ETYPE);
    assert_code(call_with(d, "set", 2, mpx_str("precious"), mpx_value_copy(dangling)), MPX_ENOOBJ);
    assert_code(call_with(s, "add", 1, mpx_value_copy(live)), MPX_ETYPE);
    assert_list_intact(l);
    mpx_value_free(&dangling);
    mpx_value_free(&live);
    mpx_proxy_free(&l);
    mpx_proxy_free(&s);
    mpx_proxy_free(&ns);
    mpx_proxy_free(&v);
    mpx_proxy_free(&a);
    assert_good_client_intact();
}

/* Creation arguments are checked for every type: one too many is EARGS, a value of the wrong
 * kind ETYPE, a negative count EVALUE (the rule of protocol.md §6); nothing is created. */
static void test_creation_arguments_checked_for_every_type(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        int max_args;
    } types[] = {{"dict", 0},
                 {"list", 1},
                 {"set", 1},
                 {"namespace", 0},
                 {"value", 1},
                 {"typed_value", 2},
                 {"array", 2},
                 {"queue", 1},
                 {"joinable_queue", 1},
                 {"lock", 0},
                 {"rlock", 0},
                 {"event", 0},
                 {"semaphore", 2},
                 {"bounded_semaphore", 2},
                 {"barrier", 2},
                 {"condition", 1}};
    uint64_t objects = mpxd_stat(good, "objects");
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        mpx_value *args = mpx_array();
        for (int j = 0; j <= types[i].max_args; j++) {
            mpx_value *nil = mpx_nil();
            assert_ok(mpx_array_push(args, &nil));
        }
        assert_code(call_with(NULL, "create", 2, mpx_str(types[i].type), args), MPX_EARGS);
    }
    mpx_value *ten = mpx_array(), *str = mpx_str("ten");
    assert_ok(mpx_array_push(ten, &str));
    assert_code(call_with(NULL, "create", 2, mpx_str("queue"), ten), MPX_ETYPE);
    assert_code(call_with(NULL, "create", 2, mpx_str("semaphore"), INTS(-1)), MPX_EVALUE);
    assert_code(call_with(NULL, "create", 2, mpx_str("barrier"), INTS(0)), MPX_EVALUE);
    assert_int_equal(mpxd_stat(good, "objects"), objects);
}

/* A timeout is integer ms: a string is ETYPE, a negative one EVALUE; notify_all checks its
 * arguments as every method does. */
static void test_argument_kinds_follow_one_rule(void **state)
{
    (void)state;
    mpx_proxy *q = NULL, *cond = NULL;
    assert_ok(mpx_queue_new(good, 0, &q));
    assert_code(call_with(q, "get", 2, mpx_bool(true), mpx_str("10")), MPX_ETYPE);
    assert_code(call_with(q, "get", 2, mpx_bool(true), mpx_double(0.5)), MPX_ETYPE);
    assert_code(call_with(q, "get", 2, mpx_bool(true), mpx_int(-1)), MPX_EVALUE);
    assert_code(call_with(q, "get_many", 1, mpx_int(-3)), MPX_EVALUE);
    assert_code(call_with(q, "get_many", 1, mpx_str("3")), MPX_ETYPE);
    assert_ok(mpx_condition_new(good, NULL, &cond));
    assert_code(call_with(cond, "notify_all", 1, mpx_str("all")), MPX_ETYPE);
    assert_code(call_with(cond, "notify_all", 2, mpx_nil(), mpx_str("t")), MPX_ETYPE);
    assert_code(call_with(cond, "notify", 1, mpx_int(-1)), MPX_EVALUE);
    mpx_proxy_free(&q);
    mpx_proxy_free(&cond);
}

/* The refusals of §4 that name no call come as ERROR frames with a precise message; the
 * session carries on after each. */
static void test_frames_refused_precisely(void **state)
{
    (void)state;
    raw_peer p;
    const char *msg;
    uint32_t len;
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    uint8_t hello[MPX_HDR_LEN + sizeof hello_body];
    raw_send(&p, hello, raw_build_kind(&p, MPX_K_HELLO, hello_body, sizeof hello_body, hello));
    raw_recv(&p);
    assert_code(error_code(&p, &msg, &len), MPX_EPROTO);
    assert_non_null(memmem(msg, len, "has a session already", 21));
    static const uint8_t beat_body[] = {MPX_PROTOCOL_VERSION, MPX_K_HEARTBEAT, 0x00};
    raw_send(&p, beat_body, sizeof beat_body);
    raw_recv(&p);
    assert_code(error_code(&p, &msg, &len), MPX_EPROTO);
    assert_non_null(memmem(msg, len, "HEARTBEAT carries no body", 25));
    static const uint8_t bye_body[] = {MPX_PROTOCOL_VERSION, MPX_K_BYE, 0x00};
    raw_send(&p, bye_body, sizeof bye_body);
    assert_code(raw_recv_error(&p), MPX_EPROTO);
    static const uint8_t ping[] = {0x94, 0x08, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    uint8_t frame[64];
    size_t n = raw_build(&p, ping, sizeof ping, frame);
    assert_int_equal(zmq_send(p.sock, frame, n, ZMQ_SNDMORE), (int)n);
    raw_send(&p, frame, n);
    raw_recv(&p);
    assert_code(error_code(&p, &msg, &len), MPX_EPROTO);
    assert_non_null(memmem(msg, len, "several parts", 13));
    assert_ok(raw_call(&p, ping, sizeof ping)); /* the session is intact, BYE was refused */
    raw_close(&p);
    assert_good_client_intact();
}

/* Every refusal of a call whose request id can be read answers that id; id 0 is reserved,
 * and a refusal that can name no call is an ERROR frame. */
static void test_refusals_answer_their_request_ids(void **state)
{
    (void)state;
    raw_peer p;
    uint64_t id = 0;
    uint8_t frame[64];
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    static const uint8_t short_call[] = {0x92, 0x05, 0xa1, 'x'}; /* [5, "x"] */
    raw_send(&p, frame, raw_build(&p, short_call, sizeof short_call, frame));
    assert_code(raw_recv_reply(&p, &id), MPX_EBADREQ);
    assert_int_equal(id, 5);
    static const uint8_t id_zero[] = {0x94, 0x00, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    raw_send(&p, frame, raw_build(&p, id_zero, sizeof id_zero, frame));
    assert_code(raw_recv_error(&p), MPX_EBADREQ);
    static const uint8_t no_id[] = {0x91, 0xa1, 'x'};
    raw_send(&p, frame, raw_build(&p, no_id, sizeof no_id, frame));
    assert_code(raw_recv_error(&p), MPX_EBADREQ);
    raw_close(&p);
    assert_good_client_intact();
}

/* Messages mpxd sends are valid UTF-8 even when they echo bytes a client sent. */
static void test_messages_are_valid_utf8(void **state)
{
    (void)state;
    raw_peer p;
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    /* [3, 0, <method "\xff\xfe">, []] and a dict key that is not UTF-8 */
    static const uint8_t bad_method[] = {0x94, 0x03, 0x00, 0xa2, 0xff, 0xfe, 0x90};
    assert_code(raw_call(&p, bad_method, sizeof bad_method), MPX_ENOMETHOD);
    mpx__mp_cursor c;
    uint32_t n, len;
    uint64_t id;
    int64_t status;
    const char *msg;
    mpx__mp_init(&c, p.in.body, p.in.body_len);
    assert_ok(mpx__mp_array(&c, &n));
    assert_ok(mpx__mp_uint(&c, &id));
    assert_ok(mpx__mp_int(&c, &status));
    assert_ok(mpx__mp_str(&c, &msg, &len));
    for (uint32_t i = 0; i < len; i++)
        assert_true((uint8_t)msg[i] < 0x80 || (uint8_t)msg[i] >= 0xc2);
    uint8_t get[] = {0x94, 0x04, 0xcf, 0,   0,   0,    0,    0,    0,   0,
                     0,    0xa3, 'g',  'e', 't', 0x91, 0xa2, 0xc3, 0x28};
    mpx__put_u64be(get + 3, mpx_proxy_id(good_dict));
    assert_code(raw_call(&p, get, sizeof get), MPX_EKEY);
    mpx__mp_init(&c, p.in.body, p.in.body_len);
    assert_ok(mpx__mp_array(&c, &n));
    assert_ok(mpx__mp_uint(&c, &id));
    assert_ok(mpx__mp_int(&c, &status));
    assert_ok(mpx__mp_str(&c, &msg, &len));
    assert_null(memmem(msg, len, "\xc3\x28", 2)); /* the invalid sequence did not pass */
    raw_close(&p);
}

/* One nesting limit for keys and values, and one error for going past it: EBADREQ. */
static void test_one_depth_limit(void **state)
{
    (void)state;
    raw_peer p;
    mpx_proxy *d = NULL;
    static uint8_t body[2048], frame[2048];
    assert_ok(mpx_dict_new(good, &d));
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    for (int depth = MPX_MAX_DEPTH; depth <= MPX_MAX_DEPTH + 1; depth++) {
        for (int as_key = 0; as_key <= 1; as_key++) {
            uint8_t head[] = {0x94, 0x05, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0, 0xa3, 's', 'e', 't', 0x92};
            mpx__put_u64be(head + 3, mpx_proxy_id(d));
            size_t n = sizeof head;
            memcpy(body, head, n);
            if (!as_key) body[n++] = 0xa1, body[n++] = 'z';
            for (int i = 1; i < depth; i++)
                body[n++] = 0x91;
            body[n++] = 0x90;
            if (as_key) body[n++] = 0x01;
            uint64_t id;
            raw_send(&p, frame, raw_build(&p, body, n, frame));
            int rc = raw_recv_reply(&p, &id);
            if (depth > MPX_MAX_DEPTH)
                assert_code(rc, MPX_EBADREQ);
            else
                assert_ok(rc);
        }
    }
    raw_close(&p);
    mpx_proxy_free(&d);
}

static void test_oversized_request_keeps_connection(void **state)
{
    (void)state;
    raw_peer p;
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    /* [9, 0, "ping", [bin of 5000 bytes]]: over the 4096-byte limit */
    static uint8_t body[5100];
    size_t n = 0;
    const uint8_t head[] = {0x94, 0x09, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x91, 0xc5, 0x13, 0x88};
    memcpy(body, head, sizeof head);
    n = sizeof head + 5000;
    uint64_t before = mpxd_stat(good, "rejected_oversize"), id = 0;
    static uint8_t frame[MAX_MESSAGE * 2];
    raw_send(&p, frame, raw_build(&p, body, n, frame));
    assert_code(raw_recv_reply(&p, &id), MPX_ETOOBIG);
    assert_int_equal(id, 9);
    assert_int_equal(mpxd_stat(good, "rejected_oversize"), before + 1);
    static const uint8_t ping[] = {0x94, 0x0a, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    assert_ok(raw_call(&p, ping, sizeof ping));
    raw_close(&p);

    /* An oversized set that would otherwise succeed changes nothing. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, 11);
    msgpack_pack_uint64(&pk, mpx_proxy_id(good_dict));
    msgpack_pack_str_with_body(&pk, "set", 3);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "big", 3);
    msgpack_pack_bin_with_body(&pk, body, 5000);
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    raw_send(&p, frame, raw_build(&p, sb.data, sb.size, frame));
    assert_code(raw_recv_reply(&p, &id), MPX_ETOOBIG);
    assert_int_equal(id, 11);
    raw_close(&p);
    msgpack_sbuffer_destroy(&sb);
    mpx_value *big = mpx_str("big");
    bool there = true;
    assert_ok(mpx_dict_contains(good_dict, big, &there));
    assert_false(there);
    mpx_value_free(&big);

    /* The library refuses it before sending, knowing the limit from WELCOME. */
    mpx_value *k = mpx_str("big"), *v = mpx_bytes(body, 5000);
    assert_code(mpx_dict_set(good_dict, k, v), MPX_ETOOBIG);
    mpx_value_free(&k);
    mpx_value_free(&v);
    assert_good_client_intact();
}

/* Sends a BATCH frame with body and expects its refusal: a REPLIES frame answering want_id
 * (the one id readable), or an ERROR frame when want_id is 0. */
static void raw_bad_batch(raw_peer *p, const uint8_t *body, size_t len, uint64_t want_id, int code)
{
    uint8_t frame[MAX_MESSAGE * 2];
    uint64_t id = 99;
    raw_send(p, frame, raw_build_kind(p, MPX_K_BATCH, body, len, frame));
    if (!want_id) {
        assert_code(raw_recv_error(p), code);
        return;
    }
    raw_recv(p);
    assert_int_equal(p->in.kind, MPX_K_REPLIES);
    mpx__mp_cursor c;
    uint32_t n;
    mpx__mp_init(&c, p->in.body, p->in.body_len);
    assert_ok(mpx__mp_array(&c, &n));
    assert_int_equal(n, 1);
    assert_code(read_reply(&c, &id), code);
    assert_int_equal(id, want_id);
}

/* A BATCH runs its calls in order and answers them in one REPLIES frame; a malformed, empty,
 * non-array or oversized batch is refused whole, each readable call answered, nothing in it
 * runs, and the session goes on. */
static void test_batch_frames(void **state)
{
    (void)state;
    mpx_proxy *d = NULL;
    raw_peer p;
    uint8_t body[128], frame[MAX_MESSAGE * 2];
    size_t len = 0;
    assert_ok(mpx_dict_new(good, &d));
    raw_open(&p);
    assert_ok(raw_handshake(&p));
    body[len++] = 0x93;
    len += set_call(body + len, mpx_proxy_id(d), 1, 5);
    uint8_t get[] = {0x94, 0x02, 0xcf, 0,   0,   0,   0,    0,    0,
                     0,    0,    0xa3, 'g', 'e', 't', 0x91, 0xa1, 'k'};
    mpx__put_u64be(get + 3, mpx_proxy_id(d));
    memcpy(body + len, get, sizeof get);
    len += sizeof get;
    static const uint8_t zap[] = {0x94, 0x03, 0x00, 0xa3, 'z', 'a', 'p', 0x90};
    memcpy(body + len, zap, sizeof zap);
    len += sizeof zap;
    raw_send(&p, frame, raw_build_kind(&p, MPX_K_BATCH, body, len, frame));

    raw_recv(&p);
    assert_int_equal(p.in.kind, MPX_K_REPLIES);
    mpx__mp_cursor c;
    uint32_t n;
    uint64_t id, got;
    int64_t status;
    mpx__mp_init(&c, p.in.body, p.in.body_len);
    assert_ok(mpx__mp_array(&c, &n));
    assert_int_equal(n, 3);
    static const int64_t want_status[] = {0, 0, -MPX_ENOMETHOD};
    for (uint64_t i = 1; i <= 3; i++) {
        assert_ok(mpx__mp_array(&c, &n));
        assert_int_equal(n, 3);
        assert_ok(mpx__mp_uint(&c, &id));
        assert_int_equal(id, i);
        assert_ok(mpx__mp_int(&c, &status));
        assert_int_equal(status, want_status[i - 1]);
        if (i == 2) {
            assert_ok(mpx__mp_uint(&c, &got)); /* the get sees the set before it */
            assert_int_equal(got, 5);
        } else {
            assert_ok(mpx__mp_skip(&c));
        }
    }
    assert_true(c.p == c.end);

    uint8_t truncated[64];
    size_t tlen = 0;
    truncated[tlen++] = 0x92; /* two calls announced, one there, then garbage */
    tlen += set_call(truncated + tlen, mpx_proxy_id(d), 4, 9);
    truncated[tlen++] = 0xc1;
    raw_bad_batch(&p, truncated, tlen, 4, MPX_EBADREQ);
    static const uint8_t empty[] = {0x90}, not_array[] = {0x01};
    raw_bad_batch(&p, empty, sizeof empty, 0, MPX_EBADREQ);
    raw_bad_batch(&p, not_array, sizeof not_array, 0, MPX_EBADREQ);
    /* over max_message: the set in it is answered ETOOBIG by its id */
    static uint8_t big[MAX_MESSAGE + 64];
    size_t blen = 0;
    big[blen++] = 0x92;
    blen += set_call(big + blen, mpx_proxy_id(d), 6, 7);
    big[blen++] = 0xc5; /* a bin of MAX_MESSAGE bytes */
    big[blen++] = (uint8_t)(MAX_MESSAGE >> 8);
    big[blen++] = (uint8_t)MAX_MESSAGE;
    blen += MAX_MESSAGE;
    raw_bad_batch(&p, big, blen, 6, MPX_ETOOBIG);
    assert_int_equal(good_get_k(d), 5); /* the sets in the bad batches never ran */
    static const uint8_t ping[] = {0x94, 0x05, 0x00, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    assert_ok(raw_call(&p, ping, sizeof ping));
    raw_close(&p);
    mpx_proxy_free(&d);
    assert_good_client_intact();
}

/* A client that sends calls and never reads their replies: past --max-queued-replies its
 * session is ended (counted in slow_readers) and what it held released; another client's
 * calls and data are untouched. */
static void test_slow_reader_is_ended_at_its_bound(void **state)
{
    (void)state;
    mpxd_proc srv;
    const char *extra[] = {"--max-queued-replies", "8", NULL};
    mpxd_start(&srv, "tcp", extra);
    size_t len;
    char *key = read_file(srv.keyfile, &len);
    mpx_client *other = mpxd_connect(&srv);
    mpx_proxy *big = NULL, *held = NULL;
    assert_ok(mpx_dict_open(other, "big", &big));
    static uint8_t blob[200000];
    mpx_value *k = mpx_str("v"), *v = mpx_bytes(blob, sizeof blob);
    assert_ok(mpx_dict_set(big, k, v));
    mpx_value_free(&v);

    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, rcvbuf = 4096;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
    assert_ok(mpx__curve_client(sock, (const uint8_t *)key, len));
    assert_int_equal(zmq_connect(sock, srv.endpoint), 0);
    uint8_t hello[MPX_HDR_LEN + sizeof hello_body], frame[64];
    mpx__frame_header(hello, MPX_K_HELLO);
    memcpy(hello + MPX_HDR_LEN, hello_body, sizeof hello_body);
    zmq_send(sock, hello, sizeof hello, 0);
    zmq_recv(sock, frame, sizeof frame, 0); /* WELCOME; nothing is read after it */
    /* it holds a lock, which must go back when its session ends */
    uint8_t open_lock[] = {0x94, 0x01, 0x00, 0xa4, 'o',  'p', 'e', 'n', 0x92, 0xa4,
                           'h',  'e',  'l',  'd',  0xa4, 'l', 'o', 'c', 'k'};
    mpx__frame_header(frame, MPX_K_CALL);
    memcpy(frame + MPX_HDR_LEN, open_lock, sizeof open_lock);
    zmq_send(sock, frame, MPX_HDR_LEN + sizeof open_lock, 0);
    assert_ok(mpx_lock_open(other, "held", &held));
    uint8_t acquire[] = {0x94, 0x02, 0xcf, 0,   0,   0,   0,   0,   0,   0,
                         0,    0xa7, 'a',  'c', 'q', 'u', 'i', 'r', 'e', 0x90};
    mpx__put_u64be(acquire + 3, mpx_proxy_id(held));
    mpx__frame_header(frame, MPX_K_CALL);
    memcpy(frame + MPX_HDR_LEN, acquire, sizeof acquire);
    zmq_send(sock, frame, MPX_HDR_LEN + sizeof acquire, 0);
    bool locked = false;
    for (int i = 0; i < 250 && !locked; i++) { /* the slow reader holds it now */
        assert_ok(mpx_lock_locked(held, &locked));
        if (!locked) usleep(20 * 1000);
    }
    assert_true(locked);
    uint8_t get[] = {0x94, 0xcd, 0, 0,    0xcf, 0,   0,   0,    0,    0,
                     0,    0,    0, 0xa3, 'g',  'e', 't', 0x91, 0xa1, 'v'};
    mpx__put_u64be(get + 5, mpx_proxy_id(big));
    for (int i = 0; i < 400; i++) { /* 80 MB of replies asked for, none read */
        get[2] = (uint8_t)((i + 3) >> 8);
        get[3] = (uint8_t)(i + 3);
        mpx__frame_header(frame, MPX_K_CALL);
        memcpy(frame + MPX_HDR_LEN, get, sizeof get);
        zmq_send(sock, frame, MPX_HDR_LEN + sizeof get, 0);
    }
    await_stat(other, "slow_readers", 1);
    await_stat(other, "sessions", 1);
    assert_ok(mpx_lock_locked(held, &locked));
    assert_false(locked); /* what it held went back */
    mpx_value *got = NULL;
    assert_ok(mpx_dict_get(big, k, &got));
    assert_int_equal(mpx_value_len(got), sizeof blob);
    mpx_value_free(&got);
    mpx_value_free(&k);
    char *log = read_file(srv.logfile, NULL);
    assert_non_null(strstr(log, "replies unread"));
    free(log);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    mpx_proxy_free(&held);
    mpx_proxy_free(&big);
    mpx_client_free(&other);
    free(key);
    assert_int_equal(mpxd_stop(&srv), 0);
}

/* A connection that never finishes the CURVE handshake is closed by mpxd once the handshake
 * timeout (500 ms here) has passed, not before, and not much after. */
/* How long mpxd keeps a connection that starts a handshake and never finishes it: silent
 * after part of the greeting, or (drip) after a whole CURVE greeting, sending one more byte
 * of a HELLO command every 100 ms, which never restarts the clock. */
static int64_t closed_after_ms(bool drip)
{
    const char *colon = strrchr(server.endpoint, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static const uint8_t greeting[64] = {0xff, 0, 0, 0,   0,   0,   0,   0,  0,
                                         0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E'};
    size_t first = drip ? sizeof greeting : 10;
    assert_int_equal(write(fd, greeting, first), (ssize_t)first);
    static const uint8_t hello_start[] = {0x04, 200, 5, 'H', 'E', 'L', 'L', 'O', 1, 0};
    int64_t t0 = harness_now_ms();
    char buf[256];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (size_t sent = 0; harness_now_ms() - t0 < 3000;) {
        int ready = poll(&pfd, 1, 100);
        if (ready == 1 && read(fd, buf, sizeof buf) <= 0) break; /* mpxd closed it */
        if (drip && sent < sizeof hello_start && write(fd, hello_start + sent, 1) == 1) sent++;
    }
    int64_t took = harness_now_ms() - t0;
    close(fd);
    return took;
}

/* A connection that never finishes the CURVE handshake is closed by mpxd once the handshake
 * timeout (500 ms here) has passed, not before, and not much after; and counted. */
static void test_unfinished_handshake_is_closed_on_time(void **state)
{
    (void)state;
    uint64_t unfinished = mpxd_stat(good, "handshakes_unfinished");
    for (int drip = 0; drip <= 1; drip++) {
        int64_t took = closed_after_ms(drip);
        assert_true(took >= 450);
        assert_true(took < 1000);
    }
    for (int i = 0; i < 250 && mpxd_stat(good, "handshakes_unfinished") < unfinished + 2; i++)
        usleep(20 * 1000);
    assert_true(mpxd_stat(good, "handshakes_unfinished") >= unfinished + 2); /* counted */
    char *log = read_file(server.logfile, NULL);                             /* and logged */
    assert_non_null(strstr(log, "ended before its CURVE handshake was done"));
    free(log);
    assert_good_client_intact();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_before_handshake),
        cmocka_unit_test(test_call_before_handshake),
        cmocka_unit_test(test_other_protocol_version),
        cmocka_unit_test(test_wrong_authkey),
        cmocka_unit_test(test_malformed_and_truncated_bodies),
        cmocka_unit_test(test_update_checks_its_argument_as_dispatch_would),
        cmocka_unit_test(test_unknown_object_method_and_arity),
        cmocka_unit_test(test_object_methods_refuse_bad_arguments),
        cmocka_unit_test(test_creation_arguments_checked_for_every_type),
        cmocka_unit_test(test_argument_kinds_follow_one_rule),
        cmocka_unit_test(test_frames_refused_precisely),
        cmocka_unit_test(test_refusals_answer_their_request_ids),
        cmocka_unit_test(test_messages_are_valid_utf8),
        cmocka_unit_test(test_one_depth_limit),
        cmocka_unit_test(test_oversized_request_keeps_connection),
        cmocka_unit_test(test_batch_frames),
        cmocka_unit_test(test_slow_reader_is_ended_at_its_bound),
        cmocka_unit_test(test_unfinished_handshake_is_closed_on_time),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
