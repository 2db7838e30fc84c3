#!/usr/bin/env bash
# Installs dependencies, builds dsinfer, writes the tiny demo model and generates from it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
model="$root/build/models/v3-tiny"
"$root/build/bin/dsinfer" make-test-model --preset v3-tiny --seed 1 --out "$model"
"$root/build/bin/dsinfer" inspect --model "$model"
echo "generated token ids:"
"$root/build/bin/dsinfer" run --model "$model" --prompt-tokens 3,17,42 -n 16
