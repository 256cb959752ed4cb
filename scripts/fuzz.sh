#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (default 60 s each) from the
# seed corpora under fuzz/corpus/, with cargo-fuzz, in fuzz/target (fuzz builds use
# sanitizer flags, so they do not share the workspace's target dir).
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz (pinned) when it is missing. cargo-fuzz passes -Z flags
# to rustc, which a nightly toolchain takes; without one, the stable compiler
# is told to accept them (RUSTC_BOOTSTRAP=1), as no other toolchain may be
# downloadable. Exits non-zero when a target finds a crash; the input is left
# under fuzz/artifacts/.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/../fuzz"
unset CARGO_TARGET_DIR
targets=(trace_reader catalog_loader engine_events)

CARGO_FUZZ_VERSION="0.13.2"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz() { cargo +nightly fuzz "$@"; }
else
    echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
    fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
fi

fuzz build
status=0
for target in "${targets[@]}"; do
    # Work on a copy so the committed seeds stay as they are.
    work="target/corpus/$target"
    mkdir -p "$work"
    cp -n corpus/"$target"/* "$work"/ 2>/dev/null || true
    start=$(date +%s)
    if fuzz run "$target" "$work" -- \
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
