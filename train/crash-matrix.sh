#!/usr/bin/env bash
# The crash matrix: every family's trainer (MLP, EvoNorm, EBV, PONITA, CLIP, PromptSRC, YOLOv9
# with EMA and mosaics, Aranyani's sweep) killed with SIGKILL after its first checkpoint and at
# POINTS random moments of its run (start-up, between checkpoints, during their writes), then
# resumed with --resume; every resumed run must end with the uninterrupted run's metrics and
# weights, bit for bit. Runs the kill tests one at a time (so that a moment of the reference's
# duration means the same in the killed run) and prints a table per trainer.
#
#   train/crash-matrix.sh [POINTS] [SEED]     # default 8 points per trainer, seed from the clock
#
# CI runs the cheap families at 3 points (.ci/run); the README records this script's last run.
set -uo pipefail
cd "$(dirname "$0")/.."
points=${1:-8}
seed=${2:-$(date +%s)}
log=$(mktemp /tmp/crash-matrix.XXXXXX.log)
start=$(date +%s)
echo "crash matrix: $points random points per trainer, ZOO_CRASH_SEED=$seed, log $log" >&2
ZOO_CRASH_POINTS=$points ZOO_CRASH_SEED=$seed cargo test -p zoo-train \
    --test sigkill_families --test promptsrc --test yolov9 --test aranyani_resume -- \
    --test-threads 1 --nocapture after_sigkill sigkill_then_resume a_killed_sweep >"$log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
# One line per kill: "<path>/train-X: killed <when>, <how>: the same result" or
# "<path>/train-X: finished before the kill <when>; not a crash point".
printf '| trainer | kills resumed to the same result | of them after the first checkpoint | started afresh (killed before run.json) | finished before the kill |\n|---|---|---|---|---|\n'
grep -oE 'train-[a-z0-9]+: (killed|finished before).*' "$log" | awk -F': ' '
    { t = $1; trainers[t] = 1 }
    /the same result/ { same[t]++ }
    /after its first checkpoint/ { first[t]++ }
    /started afresh/ { fresh[t]++ }
    /not a crash point/ { early[t]++ }
    END { for (t in trainers) printf "| %s | %d | %d | %d | %d |\n", t, same[t], first[t], fresh[t], early[t] }' | sort
failures=$(grep -cE '^test .* FAILED$|panicked at' "$log")
echo
echo "$(date -u +%F), ${elapsed} s, ZOO_CRASH_POINTS=$points ZOO_CRASH_SEED=$seed: cargo test exit $status, ${failures} failure lines (log: $log)"
exit $status
