#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 300) from its seeds, with
# limits that turn a hang or an unbounded allocation into a failure: one allocation over 1 GiB,
# over 3 GiB resident, or 10 s for one input. Needs cargo-fuzz (`cargo install cargo-fuzz`) and
# nightly, or, where no nightly toolchain can be installed, the stable one with
# RUSTC_BOOTSTRAP=1 (which lets it take cargo-fuzz's -Z sanitizer flags; FUZZ_TOOLCHAIN=stable
# forces it); CARGO_TARGET_DIR is
# honoured. A failing input lands in fuzz/artifacts/<target>/ (the run's log beside it); once
# fixed, copy it to fuzz/regressions/<target>/, where `cargo test` and fuzz/replay.sh replay it.
# The corpus grows in fuzz/corpus/<target>/; `--minimize` afterwards merges it into the
# smallest set with the same coverage, which is committed and replayed by CI.
#   fuzz/run-campaign.sh [SECONDS] [TARGET...]
#   fuzz/run-campaign.sh --minimize [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
# FUZZ_TOOLCHAIN=stable|nightly picks one; by default nightly where it is installed.
toolchain=${FUZZ_TOOLCHAIN:-$(cargo +nightly --version >/dev/null 2>&1 && echo nightly || echo stable)}
if [ "$toolchain" = nightly ]; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
minimize=0
if [ "${1:-}" = "--minimize" ]; then
    minimize=1
    shift
    seconds=0
else
    seconds=${1:-300}
    shift || true
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <("${fuzz[@]}" list)
fi
target_dir=${CARGO_TARGET_DIR:-target}
"${fuzz[@]}" build --target-dir "$target_dir" || exit 1
mkdir -p artifacts
if [ $minimize = 1 ]; then
    for t in "${targets[@]}"; do
        [ -d "corpus/$t" ] || continue
        before=$(find "corpus/$t" -type f | wc -l)
        "${fuzz[@]}" cmin --target-dir "$target_dir" "$t" "corpus/$t" -- -rss_limit_mb=3072 -timeout=10 \
            >"artifacts/$t.cmin.log" 2>&1 || { echo "$t: cmin failed, see artifacts/$t.cmin.log"; exit 1; }
        echo "$t: corpus $before -> $(find "corpus/$t" -type f | wc -l) inputs"
    done
    exit 0
fi
started=$(date +%s)
all_runs=0
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    log="artifacts/$t.log"
    "${fuzz[@]}" run --target-dir "$target_dir" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -malloc_limit_mb=1024 -rss_limit_mb=3072 -timeout=10 \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1
    status=$?
    runs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1)
    cov=$(grep -oP 'cov: \K[0-9]+' "$log" | tail -1)
    all_runs=$((all_runs + ${runs:-0}))
    if [ $status -eq 0 ]; then
        echo "$t: ${seconds}s, ${runs:-?} inputs, coverage ${cov:-?}: no failure"
    else
        failed=1
        echo "$t: FAILED after ${runs:-?} inputs; see $log and artifacts/$t/"
    fi
done
echo "campaign $(date -u +%F): ${#targets[@]} targets x ${seconds} s, $(( $(date +%s) - started )) s in all," \
    "$all_runs inputs, $([ $failed = 0 ] && echo 'no failure' || echo 'FAILURES (above)')"
exit $failed
