#!/usr/bin/env bash
# Replays a trace (the bundled nf-core/rnaseq one by default) and prints the
# strategies side by side. Arguments go to `sched-sim replay`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec cargo run --quiet --release -p sched-sim -- replay "$@"
