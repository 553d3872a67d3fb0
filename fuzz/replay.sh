#!/usr/bin/env bash
# Replays the committed corpus of every fuzz target (seeds/, regressions/ and corpus/ of each)
# through its libFuzzer binary, built by a stable `cargo build` (no nightly, no coverage
# instrumentation: each input runs once, through the same entry point a campaign uses). A panic,
# a crash, 10 s on one input or 3 GiB resident fails it. CI runs this; campaigns are
# run-campaign.sh. CARGO_TARGET_DIR is honoured (CI shares the zoo's, whose dependency builds
# this reuses: same profile).
set -euo pipefail
cd "$(dirname "$0")"
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --locked --bins
mapfile -t targets < <(grep -A1 '^\[\[bin\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"$/\1/p')
mkdir -p artifacts
total=0
for t in "${targets[@]}"; do
    dirs=()
    for d in seeds regressions corpus; do
        [ -d "$d/$t" ] && dirs+=("$d/$t")
    done
    log=$(mktemp)
    if ! "$target_dir/debug/$t" -runs=0 -timeout=10 -rss_limit_mb=3072 -artifact_prefix="artifacts/$t-" \
        "${dirs[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "$t: FAILED on the committed corpus (above; the input is copied to fuzz/artifacts/)" >&2
        exit 1
    fi
    n=$(grep -oP 'corpus: files: \K[0-9]+' "$log" | head -1)
    rm -f "$log"
    total=$((total + ${n:-0}))
    echo "$t: ${n:-0} inputs replayed (${dirs[*]})"
done
echo "fuzz replay: ${#targets[@]} targets, $total inputs, no failure"
