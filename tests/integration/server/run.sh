#!/usr/bin/env bash
# ctest entry point: installs the client, then runs every *.test.mjs here with node:test.
# Usage: run.sh DSINFER_BINARY WORK_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DSINFER=${1:?usage: run.sh DSINFER_BINARY WORK_DIR}
export DSINFER_TEST_DIR=${2:?usage: run.sh DSINFER_BINARY WORK_DIR}
mkdir -p "$DSINFER_TEST_DIR"
"$here/install.sh"
cd "$here"
# One file at a time: each starts its own servers, and the machine may be small.
exec node --test --test-concurrency=1 ./*.test.mjs
