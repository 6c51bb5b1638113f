#!/usr/bin/env bash
# The comparative benchmark, in one command: installs the peers and tools from Debian packages
# (redis-server, python3, hiredis for the load generator, gnuplot for the plot), builds mpx
# in build-bench/ (release), runs bench/compare.py, which starts every peer on loopback, runs
# the same workloads against each, stops what it started and prints one table, and leaves the
# table in build-bench/results.txt and the plot in build-bench/clients.png; then fills a dict to
# 5 million pairs while single gets run (bench/fill.c) and appends that table, what 1,000 peers
# without the key cost (bench/hostile.c), what protecting one frame costs (bench/crypto.c), and
# what --data-dir costs with each --fsync mode (bench/persist.py, on build-bench's disk).
#   bash bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh redis-server redis-tools libhiredis-dev python3 gnuplot-nox
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMPX_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" --target mpxd load park_scale fill hostile crypto >/dev/null
python3 bench/compare.py build-bench build-bench "$@"
echo
build-bench/bench/fill | tee -a build-bench/results.txt
echo
build-bench/bench/hostile | tee -a build-bench/results.txt
echo
build-bench/bench/crypto | tee -a build-bench/results.txt
echo
python3 bench/persist.py build-bench "$@" | tee -a build-bench/results.txt
