#!/usr/bin/env bash
# Installs dependencies, builds dsinfer, writes the demo model (V3-shaped, random
# weights, the real DeepSeek-V3 tokenizer and chat template) and generates from it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
model="$root/build/models/demo"
[ -f "$model/model.safetensors" ] || "$root/build/bin/dsinfer" make-test-model --preset demo --seed 1 --out "$model"
"$root/build/bin/dsinfer" inspect --model "$model"
echo "--- dsinfer run -p (random weights: the words are noise, the pipeline is real)"
"$root/build/bin/dsinfer" run --model "$model" -p "The capital of France is" -n 24 --temperature 0.7 --seed 1
echo "--- dsinfer chat (one turn from stdin)"
echo "Hello! Who are you?" | "$root/build/bin/dsinfer" chat --model "$model" -n 24 --seed 1
