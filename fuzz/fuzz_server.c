/*
 * fuzz_server.c — an mpxd for the fuzzers (fuzz_server.h).
 *
 * mpx__server_open() binds inproc://, where libzmq runs no security mechanism, so the client
 * here is a plain DEALER whose routing id the server learns from its first message. Frames go
 * to mpx__session_input() directly, and after each the work the loop would do between frames
 * is done: peers found gone are reaped, deadlines expired, unreferenced objects collected.
 */
#define _GNU_SOURCE
#include "fuzz_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "blocked.h"
#include "codec.h"
#include "loop.h"
#include "placement.h"
#include "session.h"

#define RID "fuzz"

static mpx__server server;
static void *client;
uint64_t fuzz_object_ids[32];
size_t fuzz_objects;

static void drain(void)
{
    char buf[256];
    while (zmq_recv(client, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
    }
}

void fuzz_frame(const uint8_t *frame, size_t len)
{
    mpx__session_input(&server, (const uint8_t *)RID, strlen(RID), frame, len, 1, "fuzz");
    mpx__sessions_reap(&server);
    mpx__blocked_expire(&server, mpx__now_ms());
    mpx__registry_collect(&server.reg);
    drain();
}

void fuzz_session_open(void)
{
    static const uint8_t hello[] = {
        MPX_PROTOCOL_VERSION, MPX_K_HELLO, 0x81, 0xa8, 'v', 'e', 'r', 's', 'i', 'o', 'n', 's', 0x91,
        MPX_PROTOCOL_VERSION};
    fuzz_frame(hello, sizeof hello);
}

void fuzz_session_close(void)
{
    static const uint8_t bye[] = {MPX_PROTOCOL_VERSION, MPX_K_BYE};
    fuzz_frame(bye, sizeof bye);
}

/* open(name, type, args) as a CALL, answered with [id, type]: returns the id. */
static uint64_t open_named(const char *type, const uint8_t *args, size_t args_len)
{
    uint8_t frame[128] = {MPX_PROTOCOL_VERSION, MPX_K_CALL}, reply[256];
    size_t n = 2, tlen = strlen(type);
    char name[48];
    snprintf(name, sizeof name, "fuzz.%s", type);
    frame[n++] = 0x94;
    frame[n++] = 0x01;
    frame[n++] = 0x00;
    memcpy(frame + n, "\xa4open", 5);
    n += 5;
    frame[n++] = args_len ? 0x93 : 0x92;
    frame[n++] = (uint8_t)(0xa0 | strlen(name));
    memcpy(frame + n, name, strlen(name));
    n += strlen(name);
    frame[n++] = (uint8_t)(0xa0 | tlen);
    memcpy(frame + n, type, tlen);
    n += tlen;
    memcpy(frame + n, args, args_len);
    n += args_len;
    mpx__session_input(&server, (const uint8_t *)RID, strlen(RID), frame, n, 1, "fuzz");
    int got = zmq_recv(client, reply, sizeof reply, 0);
    mpx__frame f;
    mpx__mp_cursor c;
    uint32_t items;
    uint64_t req, id = 0;
    int64_t status;
    if (got < 0 || mpx__frame_parse(reply, (size_t)got, &f)) abort();
    mpx__mp_init(&c, f.body, f.body_len);
    if (mpx__mp_array(&c, &items) || mpx__mp_uint(&c, &req) || mpx__mp_int(&c, &status) ||
        status != 0 || mpx__mp_array(&c, &items) || mpx__mp_uint(&c, &id)) {
        fprintf(stderr, "fuzz: cannot open a %s\n", type);
        abort();
    }
    return id;
}

/* One named object of every type, so that fuzzed calls reach every method; the condition's
 * arguments name the lock. */
static const struct {
    const char *type;
    const char *args; /* msgpack, or "" */
    size_t len;
} kinds[] = {{"dict", "", 0},
             {"list", "", 0},
             {"set", "", 0},
             {"namespace", "", 0},
             {"value", "", 0},
             {"typed_value", "\x91\xa1i", 3},
             {"array", "\x92\xa1i\x04", 4},
             {"queue", "", 0},
             {"joinable_queue", "", 0},
             {"lock", "", 0},
             {"rlock", "", 0},
             {"event", "", 0},
             {"semaphore", "", 0},
             {"bounded_semaphore", "", 0},
             {"barrier", "\x91\x02", 2},
             {"condition", NULL, 10}};
#define LOCK_INDEX 9

static uint64_t make_object(size_t i)
{
    if (kinds[i].args)
        return open_named(kinds[i].type, (const uint8_t *)kinds[i].args, kinds[i].len);
    uint8_t cond_args[10] = {0x91, 0xcf};
    mpx__put_u64be(cond_args + 2, fuzz_object_ids[LOCK_INDEX]);
    return open_named(kinds[i].type, cond_args, sizeof cond_args);
}

void fuzz_objects_renew(void)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!mpx__registry_find(&server.reg, fuzz_object_ids[i]))
            fuzz_object_ids[i] = make_object(i);
}

mpx__server *fuzz_server(void)
{
    static bool started;
    if (started) return &server;
    started = true;
    static const uint8_t key[] = "fuzz key";
    static char endpoint[] = "inproc://fuzz";
    char *const endpoints[] = {endpoint};
    mpx__config cfg = {.max_message = 1 << 20,
                       .handshake_timeout_ms = 10000,
                       .session_timeout_ms = 5000,
                       .max_sessions = 16,
                       .max_queued_replies = 100000,
                       .max_session_objects = 1000,
                       .cpu = MPX_CPU_NONE,
                       .quiet = true};
    mpx__log_quiet(true);
    if (sodium_init() < 0 || mpx__server_open(&server, &cfg, key, sizeof key - 1, endpoints, 1))
        abort();
    client = zmq_socket(server.zctx, ZMQ_DEALER);
    zmq_setsockopt(client, ZMQ_ROUTING_ID, RID, strlen(RID));
    int unbounded = 0;
    zmq_setsockopt(client, ZMQ_RCVHWM, &unbounded, sizeof unbounded);
    if (zmq_connect(client, endpoints[0]) || zmq_send(client, "", 0, 0) != 0) abort();
    char buf[8]; /* the router learns the client's routing id from its first message */
    if (zmq_recv(server.router, buf, sizeof buf, 0) < 0 ||
        zmq_recv(server.router, buf, sizeof buf, 0) < 0)
        abort();
    fuzz_objects = sizeof kinds / sizeof *kinds + 1; /* and the manager, id 0 */
    fuzz_session_open();
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        fuzz_object_ids[i] = make_object(i);
    fuzz_session_close();
    return &server;
}
