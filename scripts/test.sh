#!/usr/bin/env bash
# Every check CI runs: formatting, lints, docs, the dependency rule, all tests,
# and that the benchmarks compile. One target directory for everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --with-aws-emulator

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "sched-core depends on no cloud SDK and no async runtime"
if cargo tree -p sched-core -e normal --prefix none | grep -E '^(aws-|tokio |hyper )'; then
  echo "sched-core must not depend on the crates above" >&2
  exit 1
fi

step "cargo clippy"
# `--profile test` here and for doc: the tests build under the test profile, and
# sharing it lets all three commands share the build-script runs (HiGHS's C++
# build among them; see the build-override note in Cargo.toml).
cargo clippy --profile test --workspace --all-targets --quiet -- -D warnings

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --profile test --workspace --no-deps --quiet

step "AWS emulator (moto, on 127.0.0.1 only) for the sched-aws tests"
# Installs moto into target/moto-venv once; each test starts its own server.
SCHED_MOTO_SERVER="$(scripts/aws-emulator.sh)"
export SCHED_MOTO_SERVER

step "cargo test"
# --all-targets also builds the benchmarks and runs each once, in the debug
# profile, so CI never builds the dependencies a second time in release.
cargo test --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
