#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: bash fuzz/run.sh [seconds-per-target] [target…]
# (default 60 s each; targets: reply config rules zonefile axfr). Builds the driver in the
# debug profile, where arithmetic overflow panics, and into $CARGO_TARGET_DIR (default
# target/), the directory `cargo test` uses, so after the tests only the driver is compiled.
# Prints executions and executions per second per target. Exits 1 if any input panicked (the
# input is written to fuzz/artifacts/<target>/), 3 if one ran longer than 10 s.
# FUZZ_SEED=N repeats a run's mutations (each run prints its seed).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
target_dir=${CARGO_TARGET_DIR:-target}

cargo build --locked -p dnsgrade-fuzz
args=(run --seconds "$seconds" --corpus fuzz/corpus --artifacts fuzz/artifacts)
if [ -n "${FUZZ_SEED:-}" ]; then
  args+=(--seed "$FUZZ_SEED")
fi
"$target_dir/debug/dnsgrade-fuzz" "${args[@]}" "$@"
