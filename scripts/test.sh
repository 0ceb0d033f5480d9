#!/usr/bin/env bash
# The test command: installs what is missing (LLVM 22), checks formatting, lints and docs, then
# runs every test target of the workspace — unit and integration tests, the generated-program
# differential test, the Ethereum state tests in every mode (`statetests/`), the benchmarks in
# test mode — then the library without LLVM (loading artifacts the LLVM build wrote), and a
# crate that depends on revm-jit from outside the repository. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

bash scripts/setup.sh

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "== cargo fmt --check"
cargo fmt --all --check

# Every LLVM-build step enables the `alloy-evm` and `metrics` features, so one build of the dependency graph
# serves them all (the alloy-evm block-execution test and example included).
features=(--features revm-jit/alloy-evm,revm-jit/metrics)

echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --release --workspace --all-targets "${features[@]}" -- -D warnings

echo "== cargo doc --workspace (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace "${features[@]}"

echo "== cargo test --release --workspace --all-targets"
cargo test --release --workspace --all-targets "${features[@]}"

# Differential fuzzing on a fixed budget: random and mutated real contracts (the state tests'
# and bench fixtures'), interpreter against native code at every OptLevel. A new seed each run
# (printed); mismatches are saved in fuzz-mismatches/ for `revm-jit fuzz --replay FILE`.
echo "== revm-jit fuzz --seconds 60"
"${CARGO_TARGET_DIR:-$root/target}/release/revm-jit" fuzz --seconds 60 --out "$root/fuzz-mismatches"

echo "== cargo test --release --workspace --doc"
cargo test --release --workspace --doc "${features[@]}"

echo "== examples"
for example in jit_evm turning_native inspect_tx alloy_factory; do
    echo "-- $example"
    cargo run --release "${features[@]}" --example "$example"
done

# The library without the `llvm` feature, with LLVM hidden from the build: no
# `LLVM_SYS_221_PREFIX` that points anywhere (the repository's .cargo/config.toml sets one, so
# it is overridden with a directory that does not exist) and a PATH without any llvm-config.
# Its tests include loading and running the artifacts that the LLVM build's
# `revm-jit compile` writes here (the test fails if it loads nothing).
echo "== AOT store written by the LLVM build"
store="$scratch/store"
# The CLI binary the workspace test build made (`cargo run` alone would rebuild revm with the
# CLI's narrower feature set: minutes for nothing).
"${CARGO_TARGET_DIR:-$root/target}/release/revm-jit" compile --programs --spec Cancun --store "$store"

echo "== without LLVM: cargo test -p revm-jit --no-default-features"
no_llvm_bin="$scratch/no-llvm-bin"
mkdir -p "$no_llvm_bin"
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
    [ -d "$dir" ] || continue
    for program in "$dir"/*; do
        name="$(basename "$program")"
        case "$name" in llvm-config*) continue ;; esac
        [ -e "$no_llvm_bin/$name" ] || ln -s "$program" "$no_llvm_bin/$name"
    done
done
no_llvm=(env -u LLVM_SYS_221_PREFIX PATH="$no_llvm_bin" cargo --config 'env.LLVM_SYS_221_PREFIX="/nonexistent"')
if "${no_llvm[@]}" tree -p revm-jit --no-default-features -e normal,build,dev --prefix none |
    grep -E '^(inkwell|llvm-sys) '; then
    echo "error: the build without the llvm feature still depends on LLVM" >&2
    exit 1
fi
"${no_llvm[@]}" clippy --release -p revm-jit --no-default-features --all-targets -- -D warnings
REVM_JIT_AOT_STORE="$store" "${no_llvm[@]}" test --release -p revm-jit --no-default-features

# A crate outside the workspace and outside the repository (so the repository's
# .cargo/config.toml does not apply), depending on revm-jit by path, built with exactly what
# the README tells a user: LLVM 22 installed and LLVM_SYS_221_PREFIX set. It runs one
# transaction natively. The workspace's lock file keeps it on the same dependency versions, so
# the shared target directory reuses their builds.
echo "== a dependent crate, built as the README says"
dependent="$scratch/dependent"
cp -r examples/dependent "$dependent"
cp Cargo.lock "$dependent/"
sed -i "s|path = \"../..\"|path = \"$root\"|" "$dependent/Cargo.toml"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$dependent" && LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 cargo run --release)
