#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (unit, conformance,
# integration). With --sanitize: the same in a separate ASan+UBSan build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
if [ "${1:-}" = "--sanitize" ]; then
  build_dir="$root/build-asan"
  # -O1 without debug info compiles in about 60% of the time of -O2 -g; reports still
  # name every function on the stack.
  "$root/scripts/build.sh" "$build_dir" -DDSINFER_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  build_dir="$root/build"
  "$root/scripts/build.sh" "$build_dir"
  # The server soak runs its 60 s in the sanitizer pass, where a bad access or a leak is
  # reported; here 20 s checks the same outcomes (DSINFER_SOAK_SECONDS overrides either).
  export DSINFER_SOAK_SECONDS=${DSINFER_SOAK_SECONDS:-20}
fi
cd "$build_dir"
exclude=()
if [ "${1:-}" = "--sanitize" ]; then
  # Three V4 goldens spend most of their time in the numpy oracle, which the first pass
  # already ran on the same fixtures; the sanitizers keep golden_v4_cpu (numpy fixture)
  # and golden_v4_cpu_block128 (sharded, 128x128 blocks) for the V4 code paths.
  exclude=(-E '^golden_v4_(reference|reference_v4-tiny|cpu_v4-tiny)$')
fi
ctest --output-on-failure -j "${DSINFER_JOBS:-2}" "${exclude[@]}"
