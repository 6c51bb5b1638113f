#!/usr/bin/env bash
# The main job: installs the dependencies, builds, starts mpxd on its default endpoint
# (tcp://127.0.0.1:5555) with a freshly generated authkey, and runs the demos against it:
# remote_dict twice (the second run sees what the first left), dict_share (a private
# manager shared with forked workers) and producer_consumer (processes around a JoinableQueue). Stops mpxd at the end, or on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

run=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$run"' EXIT
build/bin/mpxd --authkey-out "$run/authkey" --ready-fd 3 3>"$run/ready" &
pid=$!
for _ in $(seq 100); do [ -s "$run/ready" ] && break; sleep 0.05; done
[ -s "$run/ready" ] || { echo "mpxd did not start"; exit 1; }

build/examples/remote_dict tcp://127.0.0.1:5555 "$run/authkey" demo
build/examples/remote_dict tcp://127.0.0.1:5555 "$run/authkey" demo
build/examples/dict_share
build/examples/producer_consumer 4 4 1000
build/examples/lock_counter
build/examples/counter
build/examples/namespace_config
build/examples/nested
build/examples/workers demo 3 500
