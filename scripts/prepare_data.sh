#!/usr/bin/env bash
# Converts an IDX dataset (Fashion-MNIST by default, MNIST works the same) into the HDF5 schema of the
# README, resized to 32x32.
#   scripts/prepare_data.sh [IDX_DIR] [OUT_PREFIX] [SIZE]
#   scripts/prepare_data.sh /usr/share/datasets/fashion-mnist data/fashion-mnist 32
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-/usr/share/datasets/fashion-mnist}
out=${2:-data/fashion-mnist}
size=${3:-32}
for split in train t10k; do
  dst="$out-$([ $split = train ] && echo train || echo test).h5"
  if [ -f "$dst" ]; then echo "prepare_data: $dst exists"; continue; fi
  img=$(ls "$src/$split-images-idx3-ubyte"* 2>/dev/null | head -1 || true)
  lab=$(ls "$src/$split-labels-idx1-ubyte"* 2>/dev/null | head -1 || true)
  [ -n "$img" ] && [ -n "$lab" ] || { echo "prepare_data: no $split IDX files in $src" >&2; exit 1; }
  build/acgan_idx2h5 --images "$img" --labels "$lab" --out "$dst" --size "$size"
done
