#!/bin/bash
# Without SLURM: the full run on one machine with N ranks (default 2). Resumes from the newest checkpoint.
#   bash jobs/train_mpirun.sh 4
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/mpirun.sh "${1:-2}" build/acgan_mpi train.cfg "${@:2}"
