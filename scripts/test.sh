#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, every test.
# It installs and starts whatever the tests need, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo test"
cargo test --workspace --all-features --locked

step "benchmarks compile and run once (figures: cargo bench -p registry-core)"
cargo test --release -p registry-core --bench registry --locked -- --test

printf '\nAll checks passed.\n'
