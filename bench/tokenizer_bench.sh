#!/usr/bin/env bash
# Tokenizer benchmark, dsinfer and the JS reference in one run on the same texts.
# Usage: bench/tokenizer_bench.sh [BUILD_DIR] [MIB] [REPEAT]
# Needs node and `npm ci` in tests/reference/tokenizer (it runs it if node_modules is absent).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-"$root/build"}
mib=${2:-1}
repeat=${3:-5}
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "--- dsinfer ($build_dir/bin/tokenizer_bench --mib $mib --repeat $repeat)"
"$build_dir/bin/tokenizer_bench" --mib "$mib" --repeat "$repeat"
echo "--- JS reference (node tests/reference/tokenizer/bench_encode.js $mib $repeat)"
cd "$root/tests/reference/tokenizer"
[ -d node_modules ] || npm ci --silent
node bench_encode.js "$mib" "$repeat"
