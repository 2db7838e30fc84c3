#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (in build-fuzz/) and runs one over its seed
# corpus and dictionary for SECONDS (default 60). New inputs go to build-fuzz/corpus/NAME,
# a failing one to build-fuzz/crash-*; docs/fuzzing.md lists the targets and what each
# checks. Usage: scripts/fuzz.sh TARGET [SECONDS]   (TARGET: fuzz_model_config, ...)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "fuzz.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: scripts/fuzz.sh TARGET [SECONDS]"; fi
target=$1 seconds=${2:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then die "SECONDS must be a whole number of seconds, got '$seconds'"; fi
case $target in
  fuzz_gguf_header) corpus=gguf_header dict=gguf.dict ;;
  fuzz_safetensors_header) corpus=safetensors_header dict=safetensors.dict ;;
  fuzz_chat_template) corpus=chat_template dict=chat_template.dict ;;
  fuzz_dsml_chat) corpus=dsml_chat dict=dsml_chat.dict ;;
  fuzz_tokenizer) corpus=tokenizer dict="" ;;
  fuzz_tiktoken) corpus=tiktoken dict="" ;;
  fuzz_tokenizer_config) corpus=tokenizer_config dict=tokenizer_config.dict ;;
  fuzz_model_config) corpus=model_config dict=model_config.dict ;;
  fuzz_openai_request) corpus=openai_request dict=openai_request.dict ;;
  fuzz_output_parsers) corpus=output_parsers dict=output_parsers.dict ;;
  *) die "unknown target '$target' (the targets are the fuzz/fuzz_*.cpp files)" ;;
esac

"$root/scripts/install-deps.sh" clang
build="$root/build-fuzz"
mkdir -p "$build"
CXX=clang++ CC=clang cmake -S "$root" -B "$build" -G Ninja -DDSINFER_FUZZ=ON -DDSINFER_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build/configure.log" || die "configure failed: see $build/configure.log"
cmake --build "$build" --target "$target" -j "${DSINFER_JOBS:-2}"

found="$build/corpus/${target#fuzz_}"
mkdir -p "$found"
args=("$found")
[ -n "$corpus" ] && args+=("$root/fuzz/corpus/$corpus")
[ -n "$dict" ] && args+=("-dict=$root/fuzz/$dict")
cd "$build"
"$build/fuzz/$target" "${args[@]}" -max_total_time="$seconds" -timeout=10 -max_len=4096
