#!/usr/bin/python3
"""mpx protocol 4 checked by code mpx did not write.

  independent_client.py example PROTOCOL_MD
      Recomputes the worked example of docs/protocol.md with Python's hmac, PyNaCl
      (libsodium's crypto_box, as CurveZMQ uses it) and pyzmq's curve_public.
  independent_client.py client ENDPOINT KEYFILE
      Completes the handshake and a few calls with mpxd through pyzmq's own CURVE client
      (libzmq's CurveZMQ), msgpack from python3-msgpack, and keys derived here from the key
      file as docs/protocol.md says.

Exits 0 when every check holds, and says which one failed otherwise. Used by
tests/test_curve.c; run by hand the same way.
"""
import hashlib
import hmac
import re
import sys

import msgpack
import nacl.bindings
import nacl.public
import zmq
from zmq.utils import z85

VERSION = 4
K_HELLO, K_CALL, K_BYE, K_BATCH = 0x01, 0x03, 0x04, 0x06
K_WELCOME, K_REPLY, K_ERROR, K_REPLIES = 0x82, 0x83, 0x84, 0x86


def fail(what):
    print("independent_client: FAILED: " + what, file=sys.stderr)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


def key_pair(authkey, label):
    """docs/protocol.md §3: secret = HMAC-SHA256(authkey, label), public = X25519 base."""
    secret = hmac.new(authkey, label, hashlib.sha256).digest()
    return nacl.bindings.crypto_scalarmult_base(secret), secret


def read_key_file(path):
    """docs/operating.md, "The authkey": mpxkey:HEX, or else every byte of the file."""
    data = open(path, "rb").read()
    if data.startswith(b"mpxkey:"):
        text = data[7:]
        if text.endswith(b"\n"):
            text = text[:-1]
        return bytes.fromhex(text.decode("ascii"))
    return data


def example(protocol_md):
    text = open(protocol_md, encoding="utf-8").read()
    block = re.search(r"<!-- worked example -->\s*```\n(.*?)```", text, re.S)
    check(block is not None, "no worked example block in " + protocol_md)
    values, z85_forms = {}, {}
    for line in block.group(1).splitlines():
        name, _, rest = line.partition(":")
        values[name.strip()] = bytes.fromhex(rest.split("(")[0].replace(" ", ""))
        z85_form = re.search(r"\(Z85 (.*)\)$", rest)
        if z85_form:
            z85_forms[name.strip()] = z85_form.group(1).encode("ascii")
    authkey = values["authkey"]
    for side, label in (("server", b"mpx4 curve server"), ("client", b"mpx4 curve client")):
        public, secret = key_pair(authkey, label)
        check(secret == values[side + " secret key"], side + " secret key")
        check(public == values[side + " public key"], side + " public key")
        check(zmq.curve_public(z85.encode(secret)) == z85.encode(public),
              side + " public (libzmq)")
        check(z85_forms[side + " public key"] == z85.encode(public), side + " public key, Z85")
    c_short = nacl.public.PrivateKey(values["C' secret key"])
    s_short = nacl.public.PrivateKey(values["S' secret key"])
    check(bytes(s_short.public_key) == values["S' public key"], "S' public key")
    check(bytes(c_short.public_key) == values["C' public key"], "C' public key")
    nonce = values["MESSAGE nonce"]
    check(nonce == b"CurveZMQMESSAGEC" + (1).to_bytes(8, "big"), "MESSAGE nonce")
    box = nacl.public.Box(c_short, s_short.public_key)
    sealed = box.encrypt(values["MESSAGE plaintext"], nonce).ciphertext
    check(sealed == values["MESSAGE box"], "MESSAGE box")
    opened = nacl.public.Box(s_short, c_short.public_key).decrypt(sealed, nonce)
    check(opened[1:] == values["CALL frame"], "the box holds the CALL frame")
    print("independent_client: the worked example holds")


class Peer:
    def __init__(self, endpoint, authkey):
        server_public, _ = key_pair(authkey, b"mpx4 curve server")
        client_public, client_secret = key_pair(authkey, b"mpx4 curve client")
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.curve_serverkey = z85.encode(server_public)
        self.sock.curve_publickey = z85.encode(client_public)
        self.sock.curve_secretkey = z85.encode(client_secret)
        self.sock.connect(endpoint)
        self.next_id = 1

    def send(self, kind, body):
        self.sock.send(bytes([VERSION, kind]) + body)

    def recv(self, timeout_ms=5000):
        check(self.sock.poll(timeout_ms) != 0, "no frame from mpxd within %d ms" % timeout_ms)
        frame = self.sock.recv()
        check(len(frame) >= 2 and frame[0] == VERSION, "a version 4 frame")
        # raw=False: a message that is not valid UTF-8 raises here
        return frame[1], msgpack.unpackb(frame[2:], raw=False, strict_map_key=False)

    def call(self, obj, method, args):
        req = self.next_id
        self.next_id += 1
        self.send(K_CALL, msgpack.packb([req, obj, method, args]))
        kind, reply = self.recv()
        check(kind == K_REPLY and reply[0] == req, "a REPLY to call %d" % req)
        return reply[1], reply[2]

    def close(self):
        self.sock.close()
        self.ctx.term()


def client(endpoint, keyfile):
    peer = Peer(endpoint, read_key_file(keyfile))
    peer.send(K_HELLO, msgpack.packb({"versions": [VERSION]}))
    kind, welcome = peer.recv()
    check(kind == K_WELCOME, "WELCOME after HELLO")
    check(welcome["version"] == VERSION and VERSION in welcome["versions"], "WELCOME's versions")
    check(welcome["session"] > 0, "WELCOME's session id")
    check(welcome["max_frame"] > welcome["max_message"], "WELCOME's limits")
    # a server without --data-dir: its state goes with the run
    check(welcome["instance"] == welcome["state"], "WELCOME's instance and state ids")
    status, (dict_id, type_name) = peer.call(0, "open", ["independent.dict", "dict"])
    check(status == 0 and type_name == "dict", "open a dict")
    check(peer.call(dict_id, "set", ["k", "a value from Python"]) == (0, None), "set")
    check(peer.call(dict_id, "get", ["k"]) == (0, "a value from Python"), "get")
    status, message = peer.call(dict_id, "get", ["absent"])
    check(status == 20 and "absent" in message, "KeyError: %r" % message)
    peer.send(K_CALL, msgpack.packb([77, dict_id, b"\xff\xfe", []], use_bin_type=False))
    kind, reply = peer.recv()  # a method name that is not UTF-8: the message still decodes
    check(kind == K_REPLY and reply[0] == 77 and reply[1] == 25, "ENOMETHOD, readable")
    peer.send(K_BATCH, msgpack.packb([[90, dict_id, "set", ["n", 1]],
                                      [91, dict_id, "get", ["n"]]]))
    kind, replies = peer.recv()
    check(kind == K_REPLIES and replies == [[90, 0, None], [91, 0, 1]], "a BATCH's REPLIES")
    peer.send(K_BYE, b"")
    peer.close()

    wrong = Peer(endpoint, b"not the key")
    wrong.send(K_HELLO, msgpack.packb({"versions": [VERSION]}))
    check(wrong.sock.poll(1000) == 0, "a peer with another key gets no frame")
    wrong.close()
    print("independent_client: handshake and calls done through pyzmq's CURVE")


def welcome_ids(endpoint, keyfile):
    """Prints WELCOME's instance and state ids (test_persist.c compares them across a
    restart)."""
    peer = Peer(endpoint, read_key_file(keyfile))
    peer.send(K_HELLO, msgpack.packb({"versions": [VERSION]}))
    kind, welcome = peer.recv()
    check(kind == K_WELCOME, "WELCOME after HELLO")
    print(welcome["instance"], welcome["state"])
    peer.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "example":
        example(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "welcome":
        welcome_ids(sys.argv[2], sys.argv[3])
    else:
        fail("usage: independent_client.py example PROTOCOL_MD | client ENDPOINT KEYFILE"
             " | welcome ENDPOINT KEYFILE")
