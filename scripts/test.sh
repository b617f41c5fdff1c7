#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole default test suite
# (ctest; long runs labelled `slow` are left out: run them with
# `ctest --test-dir build -L slow`). WERROR=ON makes warnings errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
bash scripts/build.sh -DWALSHIP_WERROR="${WERROR:-OFF}"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -LE slow -j"$(nproc)" --timeout 900
