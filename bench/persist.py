#!/usr/bin/env python3
"""What --data-dir costs: the dict workloads against three mpxd, in memory, with
--fsync everysec and with --fsync always, each data directory on the disk of the build tree
(not a tmpfs), every run SECONDS long (10 unless --quick), the three servers taking turns
ROUNDS times, and each mode's median run its row. Prints ops/s and p50/p99 latency per mode
and the ratio of each persisted mode to the in-memory one; the target is in TARGETS.

  python3 bench/persist.py BUILD_DIR [--quick]
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402

SECONDS, ROUNDS = 10, 3
MODES = ("memory", "everysec", "always")
# (workload, clients, what a row is called)
WORKLOADS = (("set", 1, "dict set, one call at a time"),
             ("get", 1, "dict get, one call at a time"),
             ("set", 4, "dict set, 4 client processes"),
             ("batch", 4, "batch: 4 workers x 10,000 pairs (op = one batch)"))
TARGETS = {("set", 1, "everysec"): 0.8}  # persisted ops/s over in-memory ops/s, at least


def start(b, mode, data_root):
    extra = [] if mode == "memory" else [
        "--data-dir", tempfile.mkdtemp(prefix="data-", dir=data_root) + "/d", "--fsync", mode]
    return b.start_mpxd("mpx-" + mode, extra=extra)[1]


def main(argv):
    global SECONDS, ROUNDS
    if len(argv) < 2:
        raise SystemExit(__doc__)
    if "--quick" in argv:
        SECONDS, ROUNDS = 1, 1
    build = os.path.abspath(argv[1])
    data_root = tempfile.mkdtemp(prefix="persist-bench-", dir=build)
    fs = subprocess.run(["stat", "-f", "-c", "%T", data_root], capture_output=True,
                        text=True).stdout.strip()
    b = compare.Bench(build, build)
    b.zmq = b.redis = {}  # only mpxd runs here
    try:
        targets = {m: start(b, m, data_root) for m in MODES}
        rows = []
        for workload, clients, title in WORKLOADS:
            runs = {m: [] for m in MODES}
            for _ in range(ROUNDS):
                for m in MODES:
                    b.mpx = targets[m]
                    runs[m].append(b.measure("mpx", workload, "ipc", clients, seconds=SECONDS))
            by = 1 if clients == 1 else 0  # median p50 for one client, else median ops/s
            med = {m: sorted(r, key=lambda run: run[by])[len(r) // 2] for m, r in runs.items()}
            rows.append((workload, clients, title, med))
    finally:
        b.stop_all()
        shutil.rmtree(data_root, ignore_errors=True)

    out = ["--data-dir: ipc, %s s a run, median of %d (data directory on %s)"
           % (SECONDS, ROUNDS, fs),
           "%-50s %-9s %12s %8s %8s %9s" % ("", "mode", "ops/s", "p50 us", "p99 us", "ratio")]
    verdicts = []
    for workload, clients, title, med in rows:
        base = med["memory"][0]
        for m in MODES:
            ops, p50, p99 = med[m]
            out.append("%-50s %-9s %12.0f %8.0f %8.0f %8.2fx" % (title if m == "memory" else "",
                                                                  m, ops, p50, p99, ops / base))
            goal = TARGETS.get((workload, clients, m))
            if goal:
                verdicts.append("%s, --fsync %s: %.2f of in-memory (target >= %.2f): %s" % (
                    title, m, ops / base, goal, "met" if ops / base >= goal else "MISSED"))
    out += [""] + verdicts
    text = "\n".join(out)
    print(text)
    with open(os.path.join(build, "results-persist.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main(sys.argv)
