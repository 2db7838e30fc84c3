#!/usr/bin/env bash
# Cross-builds the CPU kernel tests for aarch64 and runs them under qemu-user: on an
# emulated CPU with the int8 dot-product instructions, then (only the table choice) on
# one without, each time asserting which kernel table the backend picked. Emulation
# checks results, not speed (docs/arm.md). Usage: scripts/test-aarch64.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-"$root/build-aarch64"}
"$root/scripts/install-deps.sh" g++-aarch64-linux-gnu qemu-user

mkdir -p "$build_dir"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" -DDSINFER_KERNELS_ONLY=ON \
  > "$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j "${DSINFER_JOBS:-2}" --target cpu_conformance_tests v4_ops_tests core_tests

# run CPU EXPECTED_ISA BINARY [gtest args...]
run() {
  local cpu=$1 isa=$2
  shift 2
  echo "== qemu-aarch64 -cpu $cpu (expects $isa): $*"
  DSINFER_EXPECT_ISA=$isa qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$cpu" "$@"
}
tests="$build_dir/tests"
run max neon-dotprod "$tests/core/core_tests" --gtest_brief=1
run max neon-dotprod "$tests/backend/cpu_conformance_tests" --gtest_brief=1
run max neon-dotprod "$tests/backend/v4_ops_tests" --gtest_brief=1
run cortex-a57 neon "$tests/backend/cpu_conformance_tests" --gtest_brief=1 --gtest_filter='CpuKernels.*'
