#!/usr/bin/env bash
# End-to-end fault tolerance of the real program (acgan_mpi under mpirun) on a tiny synthetic dataset:
# reproducibility, exact resume (also by signal and across rank counts), replica checks, dead ranks,
# NaN handling, corrupt checkpoints, kill -9 at random moments. Usage: fault_tolerance.sh BUILD_DIR
set -u
B=$(cd "${1:?usage: fault_tolerance.sh BUILD_DIR}" && pwd)
T=$(mktemp -d /tmp/acgan_fault.XXXX)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && sed 's/^/    | /' "$2" | tail -n 15; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-}"; fi; }

"$B/make_tiny_dataset" "$T/tiny.h5" 60 8 3 >/dev/null || { echo "cannot make the dataset"; exit 1; }
cat > "$T/tiny.cfg" <<CFG
[data]
train = $T/tiny.h5
[model]
img_size = 8
latent_dim = 8
[train]
batch_size = 12
epochs = 100
log_interval = 1
check_interval = 1
[output]
sample_interval = 4
checkpoint_interval = 4
CFG
# run NP OUTDIR [key=value ...]: acgan_mpi on the tiny config, output in $T/OUTDIR, log in $T/OUTDIR.log
run() {
  local np=$1 out=$2; shift 2
  timeout 120 mpirun -np "$np" "$B/acgan_mpi" "$T/tiny.cfg" output.dir="$T/$out" "$@" >>"$T/$out.log" 2>&1
}
same() { "$B/acgan_ckpt" same "$1" "$2" >/dev/null 2>&1; }
ck() { echo "$T/$1/checkpoints/step_$(printf %07d "$2").h5"; }

# Reproducibility: same seed and ranks -> identical checkpoints.
run 2 rep_a train.max_steps=8; run 2 rep_b train.max_steps=8
check "same seed, np=2: bitwise-identical checkpoints" "same $(ck rep_a 8) $(ck rep_b 8)" "$T/rep_b.log"
run 2 rep_c train.max_steps=8 train.seed=7
check "a different seed gives a different state" "! same $(ck rep_a 8) $(ck rep_c 8)"

# Exact resume at np 1, 2, 4, stopping mid-epoch (5 steps per epoch at np=1).
for np in 1 2 4; do
  run $np straight$np train.max_steps=11 output.checkpoint_interval=0
  run $np split$np train.max_steps=7 output.checkpoint_interval=0
  run $np split$np train.max_steps=11 output.checkpoint_interval=0
  check "np=$np: 11 straight steps == 7 + resume + 4 (mid-epoch)" "same $(ck straight$np 11) $(ck split$np 11)" "$T/split$np.log"
  check "np=$np: eval-mode sample grids equal after resume" \
    "cmp -s $T/straight$np/samples/step_0000011.png $T/split$np/samples/step_0000011.png"
done

# Stop signal on one rank: all ranks checkpoint at a step boundary and exit 75; resuming gives the same run.
ACGAN_TEST_FAULT=term:1:5 run 2 sig train.max_steps=11 output.checkpoint_interval=0; rc=$?
check "SIGTERM to rank 1: exit code 75" "[ $rc -eq 75 ]" "$T/sig.log"
check "SIGTERM: checkpoint written at the stop step" "[ -f $(ck sig 6) ]" "$T/sig.log"
run 2 sig train.max_steps=11 output.checkpoint_interval=0
check "SIGTERM + resume == straight run" "same $(ck straight2 11) $(ck sig 11)" "$T/sig.log"
check "SIGTERM + resume: metrics.csv rows equal the straight run's (but img/s)" \
  "diff <(cut -d, -f1-7 $T/straight2/metrics.csv) <(cut -d, -f1-7 $T/sig/metrics.csv) >/dev/null" "$T/sig/metrics.csv"

# A different number of ranks on resume: re-sharded, carried over, logged.
run 2 reshard train.max_steps=8; run 1 reshard train.max_steps=12; rc=$?
check "resume np=2 -> np=1 works" "[ $rc -eq 0 ] && [ -f $(ck reshard 12) ]" "$T/reshard.log"
check "resume with other rank count is logged" "grep -q 're-sharded' $T/reshard.log" "$T/reshard.log"

# Resuming with other settings: one warning naming the changed keys (routine ones like max_steps are not).
run 1 changed train.max_steps=4; run 1 changed train.max_steps=6 train.lr=0.001
check "resume with a changed config warns, naming the key" \
  "grep -q 'differs from the checkpoint.*train.lr = 0.001 (was 0.0002)' $T/changed.log && ! grep -q 'max_steps = 6 (was' $T/changed.log" "$T/changed.log"

# Replica drift is detected and names the rank and step.
ACGAN_TEST_FAULT=drift:1:3 run 2 drift train.max_steps=8; rc=$?
check "drifted replica stops the job" "[ $rc -ne 0 ] && grep -q 'diverged at step 4.*rank 1 differ' $T/drift.log" "$T/drift.log"

# A dead or crashing rank brings the job down quickly, naming the rank; no hang.
for kind in exit crash; do
  start=$(date +%s); ACGAN_TEST_FAULT=$kind:1:3 run 2 dead_$kind train.max_steps=1000; rc=$?; took=$(( $(date +%s) - start ))
  check "rank 1 $kind: nonzero exit within 30 s (took ${took}s)" "[ $rc -ne 0 ] && [ $took -lt 30 ]" "$T/dead_$kind.log"
  check "rank 1 $kind: mpirun's message names the rank" \
    "grep -Eq 'Process name: \[\[[0-9]+,[0-9]+\],1\]|process rank 1 ' $T/dead_$kind.log" "$T/dead_$kind.log"
done

# NaN on one rank: detected collectively; stop without writing a non-finite checkpoint, or skip.
ACGAN_TEST_FAULT=nan:1:5 run 2 nan train.max_steps=12; rc=$?
check "NaN on rank 1: job stops with a message" "[ $rc -eq 1 ] && grep -q 'NaN or Inf' $T/nan.log" "$T/nan.log"
check "NaN: no checkpoint after the bad step" "[ -f $(ck nan 4) ] && ! ls $T/nan/checkpoints/ | grep -qv 'step_0000004.h5'" "$T/nan.log"
ACGAN_TEST_FAULT=nan:1:5 run 2 nanskip train.max_steps=12 train.nonfinite=skip; rc=$?
check "NaN with train.nonfinite=skip: run finishes" "[ $rc -eq 0 ] && grep -q 'skipped' $T/nanskip.log && $B/acgan_ckpt verify $(ck nanskip 12) >/dev/null" "$T/nanskip.log"

# Corrupt newest checkpoint: auto-resume names it and falls back; an explicit path to it is an error.
run 1 corrupt train.max_steps=8
cp "$(ck corrupt 8)" "$T/good8.h5"
size=$(stat -c %s "$(ck corrupt 8)")
printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$(ck corrupt 8)" bs=1 seek=$((size * 2 / 3)) conv=notrunc 2>/dev/null
check "acgan_ckpt verify reports the corrupt file" "! $B/acgan_ckpt verify $(ck corrupt 8) >/dev/null 2>&1"
run 1 corrupt train.max_steps=10; rc=$?
check "auto-resume skips the corrupt checkpoint, naming it" \
  "[ $rc -eq 0 ] && grep -q 'skipping checkpoint.*step_0000008.h5' $T/corrupt.log && grep -q 'resumed from .*step_0000004.h5' $T/corrupt.log" "$T/corrupt.log"
truncate -s $((size / 2)) "$T/good8.h5"
run 1 explicit train.max_steps=10 output.resume="$T/good8.h5"; rc=$?
check "explicit resume from a truncated checkpoint is an error naming it" "[ $rc -ne 0 ] && grep -q 'good8.h5' $T/explicit.log" "$T/explicit.log"

# Incompatible model: refused, naming the tensor.
run 1 shape train.max_steps=4
run 1 shape train.max_steps=8 model.latent_dim=9; rc=$?
check "checkpoint of another model shape is refused naming the tensor" \
  "[ $rc -ne 0 ] && grep -q \"tensor 'G/params' has\" $T/shape.log" "$T/shape.log"

# Uneven data: 60 samples on 7 ranks (shards of 8 and 9) with a global batch of 14: same steps everywhere.
run 7 uneven train.batch_size=14 train.max_steps=9 train.epochs=3; rc=$?
check "uneven shards at np=7 finish (no hang)" "[ $rc -eq 0 ] && [ -f $(ck uneven 9) ]" "$T/uneven.log"
run 2 toosmall train.batch_size=128; rc=$?
check "dataset too small for the batch: clear error" "[ $rc -ne 0 ] && grep -q 'too few' $T/toosmall.log" "$T/toosmall.log"
run 4 tinybatch train.batch_size=4; rc=$?
check "one sample per rank: clear error (BatchNorm)" "[ $rc -ne 0 ] && grep -q 'at least 2 per rank' $T/tinybatch.log" "$T/tinybatch.log"

# One run directory, one job: a second job is refused while the first runs; a fresh start (resume=never)
# refuses a directory that already holds a run.
timeout 120 mpirun -np 1 "$B/acgan_mpi" "$T/tiny.cfg" output.dir="$T/locked" train.epochs=1000000 \
  output.checkpoint_interval=0 output.sample_interval=0 >"$T/locked_first.log" 2>&1 &
first=$!
for _ in $(seq 100); do grep -q '^step' "$T/locked_first.log" 2>/dev/null && break; sleep 0.2; done
run 1 locked train.max_steps=2; rc=$?
kill -TERM $first 2>/dev/null; wait $first 2>/dev/null
check "a second job on a run directory in use is refused" "[ $rc -ne 0 ] && grep -q 'in use by another acgan_mpi job' $T/locked.log" "$T/locked.log"
run 1 fresh train.max_steps=4
run 1 fresh train.max_steps=8 output.resume=never; rc=$?
check "resume=never on a directory holding a run is refused" "[ $rc -ne 0 ] && grep -q 'already holds a run' $T/fresh.log && [ ! -f $(ck fresh 8) ]" "$T/fresh.log"

# kill -9 at random moments with a checkpoint every step: every checkpoint left behind loads.
for i in $(seq 1 20); do {
  timeout 60 mpirun -np 2 "$B/acgan_mpi" "$T/tiny.cfg" output.dir="$T/kill" train.epochs=1000000 \
    output.checkpoint_interval=1 output.sample_interval=0 >>"$T/kill.log" 2>&1 &
  sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
  pkill -9 -f "acgan_mpi $T/tiny.cfg output.dir=$T/kill" 2>/dev/null
  wait
} 2>/dev/null; done
bad_files=0
for f in "$T"/kill/checkpoints/step_*.h5; do
  [ -e "$f" ] || continue
  "$B/acgan_ckpt" verify "$f" >/dev/null 2>&1 || { bad_files=$((bad_files + 1)); echo "    unreadable: $f"; }
done
n_files=$(ls "$T"/kill/checkpoints/step_*.h5 2>/dev/null | wc -l)
check "20 kill -9 trials: all $n_files checkpoints load" "[ $bad_files -eq 0 ] && [ $n_files -gt 0 ]" "$T/kill.log"
last=$(ls "$T"/kill/checkpoints/step_*.h5 | sort | tail -1 | sed 's/.*step_0*//; s/\.h5//')
run 2 kill train.max_steps=$((last + 2)) train.epochs=1000000 output.checkpoint_interval=1; rc=$?
check "after the kills, auto-resume continues from the newest (step $last)" \
  "[ $rc -eq 0 ] && grep -q \"resumed from .*step_$(printf %07d "$last").h5\" $T/kill.log" "$T/kill.log"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
