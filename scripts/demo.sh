#!/usr/bin/env bash
# The main job on a fresh machine: install, build, convert Fashion-MNIST, train a short demo on 2 ranks.
#   sudo bash scripts/demo.sh [section.key=value ...]        (2000 steps: about 7 minutes on 2 idle cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
bash scripts/prepare_data.sh
out=runs/demo
bash scripts/mpirun.sh 2 build/acgan_mpi train.cfg train.max_steps=2000 output.dir=$out \
  output.sample_interval=400 output.checkpoint_interval=1000 "$@"
echo
echo "demo finished: sample grids in $out/samples/ (one row per class), metrics in $out/metrics.csv,"
echo "checkpoints in $out/checkpoints/ (run the same command again to resume from the newest one)."
