#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 300) from its seeds, with
# limits that turn a hang or an unbounded allocation into a failure: one allocation over 1 GiB,
# over 3 GiB resident, or 10 s for one input. Needs nightly and cargo-fuzz
# (`cargo install cargo-fuzz`); CARGO_TARGET_DIR is honoured. A failing input lands in
# fuzz/artifacts/<target>/ (the run's log beside it); once fixed, copy it to
# fuzz/regressions/<target>/, where `cargo test` replays it.
#   fuzz/run-campaign.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
target_dir=${CARGO_TARGET_DIR:-target}
cargo +nightly fuzz build --target-dir "$target_dir" || exit 1
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    log="artifacts/$t.log"
    cargo +nightly fuzz run --target-dir "$target_dir" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -malloc_limit_mb=1024 -rss_limit_mb=3072 -timeout=10 \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1
    status=$?
    runs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1)
    cov=$(grep -oP 'cov: \K[0-9]+' "$log" | tail -1)
    if [ $status -eq 0 ]; then
        echo "$t: ${seconds}s, ${runs:-?} inputs, coverage ${cov:-?}: no failure"
    else
        failed=1
        echo "$t: FAILED after ${runs:-?} inputs; see $log and artifacts/$t/"
    fi
done
exit $failed
