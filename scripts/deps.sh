#!/usr/bin/env bash
# Installs walship's Debian build dependencies; with --test also what the
# tests need (Debian packages, then the npm test tools pinned in package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

BUILD_PKGS=(build-essential cmake pkg-config sqlite3 libsqlite3-dev libcurl4-openssl-dev libssl-dev libexpat1-dev liblz4-dev
  libzstd-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libbenchmark-dev)
TEST_PKGS=(clang libclang-rt-14-dev)

pkgs=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then
  pkgs+=("${TEST_PKGS[@]}")
  # Python 3 and Node.js/npm may come from elsewhere than Debian (this machine
  # image ships its own): install Debian's only when the command is missing.
  command -v python3 >/dev/null || pkgs+=(python3)
  command -v npm >/dev/null || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    echo "deps: installing npm test tools"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
