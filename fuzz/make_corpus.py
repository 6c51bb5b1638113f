#!/usr/bin/python3
"""Writes the fuzzers' seed corpus, fuzz/corpus/<harness>/: valid messages. The inputs that
once found a bug (regress-*, added by hand) are left as they are.

  /usr/bin/python3 fuzz/make_corpus.py

codec: msgpack values of every kind. frames: a session's frames (HELLO, CALLs, a BATCH, a
HEARTBEAT, BYE) as fuzz_frames.c reads them. dispatch: for each object made at start
(fuzz_server.c: one of every type, then the manager) a call to each of its methods, with no
arguments, one, and three, as fuzz_dispatch.c reads them. records: data-file records
(creations, deletions, a tombstone, calls to every object made at start, the replay-only
methods included) as fuzz_records.c replays them, and a whole log file as recovery reads it.
"""
import os
import struct
import zlib

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
        call(3, 0, "open", ["x", "list", [[1, 2]]]), call(6, 1, "fenced", [1, 0, "len", []]),
        b"\x04\x05",
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
    records = [[1, 1, 77], [2, 1000, "dict", "r", []], [4, 1000, "set", ["k", 1]],
               [2, 1001, "list", None, None], [3, 1000], [2, 1002, "queue", None, [2]],
               [4, 1002, "_push", [1]], [4, 1002, "_take", [1]], [4, 1002, "put_front", [[1]]]]
    for obj in range(1, OBJECTS):
        for method, arg in (("_push", [1]), ("_take", [1]), ("_value", [3]),
                            ("_unfinished", [2]), ("set", ["k", 1]), ("update", [{"a": 1}]),
                            ("extend", [[1, 2]])):
            records.append([4, obj, method, arg])
    payloads = [msgpack.packb(r) for r in records]
    write("records", "records", framed(payloads))
    log = b"mpxdata\n" + struct.pack(">II", 1, 2) + b"".join(
        struct.pack(">III", len(p), len(p) ^ 0xffffffff, zlib.crc32(p)) + p for p in payloads)
    write("records", "log-file", log)


if __name__ == "__main__":
    main()
