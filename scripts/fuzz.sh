#!/usr/bin/env bash
# Runs every libFuzzer harness of fuzz/ for SECONDS each (default 60), under AddressSanitizer
# and UndefinedBehaviorSanitizer, starting from the seed corpus in fuzz/corpus/. What a run
# finds new goes to build-fuzz/corpus/ (the repo's corpus is left as it is); a crash stops the
# script with the harness's report and the input that caused it (crash-* in build-fuzz/).
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/deps.sh clang libclang-rt-14-dev
CC=clang cmake -S . -B build-fuzz -DMPX_FUZZ=ON -DMPX_SANITIZER=address,undefined \
      -DMPX_BUILD_TESTS=OFF -DMPX_BUILD_EXAMPLES=OFF -DMPX_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_codec fuzz_frames fuzz_dispatch fuzz_records >/dev/null
for harness in codec frames dispatch records; do
  mkdir -p "build-fuzz/corpus/$harness"
  log="build-fuzz/fuzz_$harness.log"
  if ! (cd build-fuzz && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
          "fuzz/fuzz_$harness" -max_total_time="$seconds" -rss_limit_mb=2048 \
          "corpus/$harness" "../fuzz/corpus/$harness" >"fuzz_$harness.log" 2>&1); then
    tail -n 60 "$log"
    echo "fuzz_$harness found a failure: the input is build-fuzz/crash-* (or leak-*, timeout-*)"
    exit 1
  fi
  echo "fuzz_$harness: $(grep -E '^Done' "$log" || tail -n 1 "$log")"
done
