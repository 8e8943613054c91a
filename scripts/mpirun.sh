#!/usr/bin/env bash
# mpirun with the flags this machine needs: as root Open MPI wants --allow-run-as-root, and more ranks
# than cores need --oversubscribe. With ranks filling the cores, one OpenBLAS thread per rank.
#   scripts/mpirun.sh 2 build/acgan_mpi train.cfg [section.key=value ...]
set -euo pipefail
np=$1; shift
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
if [ "$np" -ge "$(nproc)" ]; then export OPENBLAS_NUM_THREADS=1; fi
exec mpirun "${flags[@]}" -np "$np" "$@"
