#!/usr/bin/env bash
# The test command: install, build, run every unit, MPI and end-to-end fault test with ctest, then the
# unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
#   bash scripts/test.sh            (as root or with sudo; a fresh Debian 12 machine is fine)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
(cd build && ctest --output-on-failure -j2 "$@")
echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DACGAN_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
(cd build-asan && ctest --output-on-failure -j2 -L unit)
