#!/usr/bin/env bash
# Peers measured side by side with our exact solver, in one session.
#
# Creates a virtual environment under target/peers-venv, installs pinned
# OR-Tools (CP-SAT) and PuLP (CBC), writes the `milp` bench's batch problems
# with our solver's time and objective (examples/export_batches.rs), then
# solves the same problems with CP-SAT and CBC under the same time limit and
# prints the ratios. Not run in CI.
#
# usage: benches/peers/run.sh [TIME_LIMIT_MS [MAX_TASKS]]
#   (default 2000 ms, as the bench, and every batch size)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
limit_ms="${1:-2000}"
max_tasks="${2:-1000000}"
venv="target/peers-venv"
out="target/peers"
mkdir -p "$out"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "ortools==9.15.6755" "pulp==3.3.2"

cargo run --quiet --release --example export_batches -- "$out/batches.json" "$limit_ms" "$max_tasks"
"$venv/bin/python" benches/peers/solve_peers.py "$out/batches.json" "$out/results.json"
