#!/usr/bin/env bash
# Line coverage of src/session/ by the unit tests and the integration tests (tests/it, SQLite
# backend), measured with cargo-tarpaulin's ptrace engine.
# Usage: scripts/coverage.sh        (installs cargo-tarpaulin from crates.io if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-tarpaulin >/dev/null || cargo install cargo-tarpaulin --locked
cargo tarpaulin --engine ptrace --skip-clean --target-dir target/tarpaulin \
  --lib --test it --include-files "src/session/*" --out Stdout
