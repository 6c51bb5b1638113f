"""pypeer.py - Python's multiprocessing manager as a peer of the comparative benchmark.

    python3 pypeer.py serve ADDRESS
        A SyncManager server sharing one dict, one queue and one lock; prints "ready <pid>"
        once it listens. ADDRESS is HOST:PORT (tcp) or a unix socket path.
    python3 pypeer.py run WORKLOAD ADDRESS CLIENTS SECONDS
        CLIENTS processes, each with its own connection, run WORKLOAD (get, set, queue, lock,
        batch, connect) for SECONDS after a short warm-up; prints the line bench/load prints:
        "ops=<total ops/s> p50=<us> p99=<us> n=<ops>".
    python3 pypeer.py startup SECONDS
        multiprocessing.Manager() started and its first call answered, then shut down, over
        and over: "ops=... p50=... p99=..." of the time to a ready manager.

The authkey is read from the file named by $MPX_BENCH_KEYFILE, never from the command line.
"""
import multiprocessing
import os
import queue
import sys
import threading
import time
from multiprocessing.managers import AcquirerProxy, DictProxy, SyncManager

WARMUP = 0.3
BATCH_PAIRS = 10000
VALUE = "0123456789abcdef"

shared_dict = {}
shared_queue = queue.Queue()
shared_lock = threading.Lock()


class BenchManager(SyncManager):
    pass


BenchManager.register("bench_dict", callable=lambda: shared_dict, proxytype=DictProxy)
BenchManager.register("bench_queue", callable=lambda: shared_queue)
BenchManager.register("bench_lock", callable=lambda: shared_lock, proxytype=AcquirerProxy)


def authkey():
    with open(os.environ["MPX_BENCH_KEYFILE"], "rb") as f:
        return f.read().rstrip(b"\n")


def parse_address(text):
    if ":" in text and not text.startswith("/"):
        host, port = text.rsplit(":", 1)
        return (host, int(port))
    return text


def serve(address):
    manager = BenchManager(address=parse_address(address), authkey=authkey())
    server = manager.get_server()
    print("ready", os.getpid(), flush=True)
    server.serve_forever()


def make_op(workload, address, index):
    """One operation of the workload, as a function that returns when it is done."""
    key = "key-%09d" % index
    if workload == "connect":
        def connect():
            m = BenchManager(address=parse_address(address), authkey=authkey())
            m.connect()
            m.bench_dict()  # the first answer: the connection is usable
        return connect
    m = BenchManager(address=parse_address(address), authkey=authkey())
    m.connect()
    if workload in ("get", "set"):
        d = m.bench_dict()
        d[key] = VALUE
        if workload == "get":
            return lambda: d[key]
        def set_op():
            d[key] = VALUE
        return set_op
    if workload == "queue":
        q = m.bench_queue()
        def queue_op():
            q.put(VALUE)
            q.get()
        return queue_op
    if workload == "lock":
        lock = m.bench_lock()
        def lock_op():
            lock.acquire()
            lock.release()
        return lock_op
    if workload == "batch":
        d = m.bench_dict()
        pairs = {"b%02d-%07d" % (index, i): VALUE for i in range(BATCH_PAIRS)}
        return lambda: d.update(pairs)
    raise SystemExit("unknown workload " + workload)


def client(workload, address, index, seconds, out):
    op = make_op(workload, address, index)
    clock = time.perf_counter
    end = clock() + WARMUP
    while clock() < end:
        op()
    samples = []
    start = clock()
    end = start + seconds
    while True:
        t0 = clock()
        if t0 >= end:
            break
        op()
        samples.append(clock() - t0)
    out.send((len(samples), clock() - start, samples))


def report(results):
    rate = sum(n / elapsed for n, elapsed, _ in results)
    samples = sorted(s for _, _, ss in results for s in ss)
    total = sum(n for n, _, _ in results)
    p50 = samples[len(samples) // 2] * 1e6
    p99 = samples[len(samples) * 99 // 100] * 1e6
    print("ops=%.0f p50=%.0f p99=%.0f n=%d" % (rate, p50, p99, total), flush=True)


def run(workload, address, clients, seconds):
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for i in range(clients):
        rx, tx = ctx.Pipe(duplex=False)
        p = ctx.Process(target=client, args=(workload, address, i, seconds, tx))
        p.start()
        pipes.append(rx)
        procs.append(p)
    results = [rx.recv() for rx in pipes]
    for p in procs:
        p.join()
    report(results)


def startup(seconds):
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or not samples:
        t0 = time.perf_counter()
        m = multiprocessing.Manager()
        m.dict()  # the first call answered
        samples.append(time.perf_counter() - t0)
        m.shutdown()
    report([(len(samples), sum(samples), samples)])


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        serve(argv[2])
    elif len(argv) == 6 and argv[1] == "run":
        run(argv[2], argv[3], int(argv[4]), float(argv[5]))
    elif len(argv) == 3 and argv[1] == "startup":
        startup(float(argv[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
