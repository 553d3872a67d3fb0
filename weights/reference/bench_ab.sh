#!/bin/bash
# A/B timing of two `bench` binaries (e.g. before and after a change), alternating, two rounds:
#   weights/reference/bench_ab.sh BEFORE_BIN AFTER_BIN ["MODEL AND FLAGS" ...]
# (without specs: the activation kernels' set below).
# Each line: which, round, bench's JSON. BENCHMARKS.md reports the medians of the rounds.
set -u
before=$1
after=$2
shift 2
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(
    "ponita --mode infer --batch 100 --size 5 --iters 10 --warmup 2"
    "clip-image --batch 8 --iters 5 --warmup 1"
    "clip-text --batch 8 --iters 5 --warmup 1"
    "promptsrc-tiny --mode infer --batch 4 --size 15 --iters 30 --warmup 3"
    "ultralytics-yolov9t-fused --batch 1 --size 640 --iters 5 --warmup 2"
)
for spec in "${specs[@]}"; do
    for round in 1 2; do
        # shellcheck disable=SC2086
        echo "before $round $("$before" --model $spec --json 2>/dev/null | tail -1)"
        # shellcheck disable=SC2086
        echo "after $round $("$after" --model $spec --json 2>/dev/null | tail -1)"
    done
done
