#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole default test suite
# (ctest; long runs labelled `slow` are left out: run them with
# `ctest --test-dir build -L slow`; so are the crash runs labelled `crash`,
# kill -9 and S3 fault injection end to end, about 5 minutes: run them with
# `ctest --test-dir build -L crash`, as CI does). WERROR=ON makes warnings errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
bash scripts/build.sh -DWALSHIP_WERROR="${WERROR:-OFF}"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -LE "slow|crash" -j"$(nproc)" --timeout 900
