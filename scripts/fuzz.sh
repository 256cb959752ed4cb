#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (default 60 s each) from the
# seed corpora under fuzz/corpus/, on nightly, in fuzz/target (fuzz builds use
# sanitizer flags, so they do not share the workspace's target dir).
#
#   scripts/fuzz.sh [SECONDS]
#
# Needs `cargo install cargo-fuzz` and a nightly toolchain. Exits non-zero
# when a target finds a crash; the input is left under fuzz/artifacts/.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/../fuzz"
unset CARGO_TARGET_DIR
targets=(trace_reader catalog_loader engine_events)
cargo +nightly fuzz build
status=0
for target in "${targets[@]}"; do
    # Work on a copy so the committed seeds stay as they are.
    work="target/corpus/$target"
    mkdir -p "$work"
    cp -n corpus/"$target"/* "$work"/ 2>/dev/null || true
    start=$(date +%s)
    if cargo +nightly fuzz run "$target" "$work" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>"target/$target.log"; then
        result="no crash"
    else
        result="CRASH (see fuzz/artifacts/$target and fuzz/target/$target.log)"
        status=1
    fi
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "target/$target.log" | grep -Eo '[0-9]+$' || echo "?")
    echo "$target: ran $(( $(date +%s) - start )) s, $runs inputs, corpus $(ls "$work" | wc -l) files: $result"
done
exit "$status"
