/*
 * curve.c — a client socket's CURVE keys, derived from the authkey (internal.h): shared by
 * libmpx and by the tests and benchmarks that speak the protocol with raw sockets.
 */
#include <zmq.h>

#include "codec.h"
#include "internal.h"

int mpx__curve_client(void *sock, const uint8_t *authkey, size_t keylen)
{
    mpx__curve_keys_t k;
    mpx__curve_keys(authkey, keylen, &k);
    int rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k.server_public, 32);
    if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k.client_public, 32);
    if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k.client_secret, 32);
    mpx__curve_keys_clear(&k);
    return rc;
}
