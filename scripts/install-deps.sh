#!/usr/bin/env bash
# Installs what dsinfer needs to build and test, from Debian 12 packages only, plus any
# packages named as arguments (scripts/test-aarch64.sh adds its cross toolchain).
# Skips apt entirely when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev
  python3 python3-numpy python3-jinja2 python3-regex
  nodejs
  "$@"
)
# The server tests' OpenAI client comes from npm; some nodejs builds bundle it.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "installing: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
