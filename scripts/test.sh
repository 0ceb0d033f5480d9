#!/usr/bin/env bash
# The test command: installs what is missing (LLVM 22), checks formatting and lints, then runs
# every test target — unit and integration tests, the generated-program differential test,
# the Ethereum state tests in every mode (`statetests/`), and the benchmarks in test mode.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --release --all-targets -- -D warnings

echo "== cargo test --release --all-targets"
cargo test --release --all-targets

echo "== cargo test --release --doc"
cargo test --release --doc

echo "== examples"
for example in jit_evm turning_native inspect_tx; do
    echo "-- $example"
    cargo run --release --example "$example"
done
