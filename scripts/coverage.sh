#!/usr/bin/env bash
# Line coverage of src/session/ by the session tests (unit tests in src/session/ and the
# session_* integration tests), measured with cargo-tarpaulin's ptrace engine.
# Usage: scripts/coverage.sh        (installs cargo-tarpaulin from crates.io if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-tarpaulin >/dev/null || cargo install cargo-tarpaulin --locked
cargo tarpaulin --engine ptrace --skip-clean --target-dir target/tarpaulin \
  --lib --test it --include-files 'src/session/*' --out Stdout -- session
