#!/usr/bin/env bash
# Installs what the build needs on a fresh Debian machine with a Rust toolchain.
# Idempotent: a machine that has everything is left alone. Sourced by the other
# scripts; safe to run by hand.
set -euo pipefail

need_pkgs=()
# The HiGHS solver (through highs-sys) is built from C++ source: cmake and libclang.
if grep -q '^name = "highs-sys"' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.lock" 2>/dev/null; then
  command -v cmake >/dev/null 2>&1 || need_pkgs+=(cmake)
  # bindgen loads libclang itself (libclang.so / libclang-N.so), not libclang-cpp.
  compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null \
    || compgen -G '/usr/lib/*-linux-gnu/libclang-[0-9]*.so*' >/dev/null \
    || need_pkgs+=(libclang1-14)
  command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++)
fi

# The tests (`source scripts/setup.sh --with-aws-emulator`) also need Python
# with venv: the AWS emulator they run against is moto, from PyPI.
if [ "${1:-}" = "--with-aws-emulator" ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    need_pkgs+=(python3 python3-venv)
  elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    need_pkgs+=(python3-venv)
  fi
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found; install Rust from rustup first" >&2; exit 1; }
