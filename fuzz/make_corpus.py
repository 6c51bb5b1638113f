#!/usr/bin/python3
"""Writes the fuzzers' seed corpus, fuzz/corpus/<harness>/: valid messages. The inputs that
once found a bug (regress-*, added by hand) are left as they are.

  /usr/bin/python3 fuzz/make_corpus.py

codec: msgpack values of every kind. frames: a session's frames (HELLO, CALLs, a BATCH, a
HEARTBEAT, BYE) as fuzz_frames.c reads them. dispatch: for each object made at start
(fuzz_server.c: one of every type, then the manager) a call to each of its methods, with no
arguments, one, and three, as fuzz_dispatch.c reads them.
"""
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OBJECTS = 17  # fuzz_server.c: 16 types, then the manager
METHODS = 24  # more than any type has; fuzz_dispatch.c takes the index modulo its count


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def framed(frames):
    return b"".join(struct.pack(">H", len(f)) + f for f in frames)


def main():
    values = [None, True, -1, 2**64 - 1, 1.5, "text", b"\x00bytes", [1, [2, {"k": 3}]],
              {"a": 1.0, 2: "b"}, msgpack.ExtType(1, b"\x00" * 7 + b"\x2alist")]
    for i, v in enumerate(values):
        write("codec", "value%d" % i, msgpack.packb(v))
    hello = b"\x04\x01" + msgpack.packb({"versions": [4]})
    call = lambda *c: b"\x04\x03" + msgpack.packb(list(c))
    write("frames", "session", framed([
        hello, call(1, 0, "ping", []), call(2, 0, "create", ["dict"]),
        call(3, 0, "open", ["x", "list", [[1, 2]]]), b"\x04\x05",
        b"\x04\x06" + msgpack.packb([[4, 0, "stats", []], [5, 0, "objects", [0, 10]]]),
        b"\x04\x04"]))
    write("frames", "refusals", framed([call(1, 0, "ping", []), hello, hello, b"\x03\x01",
                                        b"\x04\x7f", b"\x04\x05\x00"]))
    args = [[], ["k"], ["k", 1, None]]
    for obj in range(OBJECTS):
        for a, arg in enumerate(args):
            body = msgpack.packb(arg)
            write("dispatch", "object%d-args%d" % (obj, a),
                  b"".join(struct.pack(">HBB", len(body), obj, m) + body
                           for m in range(METHODS)))


if __name__ == "__main__":
    main()
