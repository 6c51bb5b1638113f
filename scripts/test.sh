#!/usr/bin/env bash
# The test command: installs the dependencies, builds with -Werror, runs every test, then builds
# again with AddressSanitizer and UndefinedBehaviorSanitizer and runs every test once more, then
# runs every fuzzer for 20 seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

cmake -S . -B build -DMPX_BUILD_TESTS=ON >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure

cmake -S . -B build-asan -DMPX_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Debug \
      -DMPX_SANITIZER=address,undefined >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure

# Every fuzzer for a short, fixed time from the seed corpus, so each change meets them too
# (docs/operating.md says how to run them for hours).
bash scripts/fuzz.sh 20
