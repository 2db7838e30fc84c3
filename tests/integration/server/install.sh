#!/usr/bin/env bash
# Installs the pinned OpenAI Node client into ./node_modules with `npm ci` (exactly what
# package-lock.json says). Skipped when node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.dsinfer-package-lock.json
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
