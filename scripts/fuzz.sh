#!/usr/bin/env bash
# Coverage-guided differential fuzzing (cargo-fuzz, libFuzzer) of the target in fuzz/: raw
# bytes become a scenario (fork, gas, value, calldata, code), run in revm's interpreter and as
# native code at every OptLevel. The seed corpus is written from the state tests' and bench
# fixtures' contracts by `revm-jit fuzz --write-corpus` (never committed).
#
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Crashes (any
# difference, or a panic in native code) land in fuzz/artifacts/differential/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
corpus=fuzz/corpus/differential
if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    cargo run --release -- fuzz --write-corpus "$corpus"
fi
cd fuzz
# No sanitizer: the code under test is machine code LLVM emits at run time, which no
# sanitizer instruments; the comparison with the interpreter is the oracle.
exec cargo +nightly fuzz run --sanitizer none differential -- -max_total_time="$seconds" -max_len=25000 -timeout=60 "$@"
