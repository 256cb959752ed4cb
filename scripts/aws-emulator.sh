#!/usr/bin/env bash
# Installs the moto AWS emulator (server mode) into a virtual environment for
# the sched-aws integration tests, and prints the path of its `moto_server`.
#
# Idempotent: a venv that already holds the pinned version is reused.
# The venv lives in target/moto-venv unless SCHED_MOTO_VENV names another.
# The tests find the server through SCHED_MOTO_SERVER or that default venv.
set -euo pipefail

MOTO_VERSION="5.2.5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SCHED_MOTO_VENV:-$root/target/moto-venv}"
python="${PYTHON:-python3}"

if [[ -x "$venv/bin/moto_server" ]] \
    && [[ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" == "$MOTO_VERSION" ]]; then
    echo "$venv/bin/moto_server"
    exit 0
fi

echo "installing moto[server]==$MOTO_VERSION into $venv" >&2
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
echo "$venv/bin/moto_server"
