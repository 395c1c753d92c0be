#!/usr/bin/env bash
# Fuzzes the registry's parsers with AFL++ (cargo-afl, on stable Rust), then folds
# what the fuzzer found into the committed corpus and records its stats.
#
#   scripts/fuzz.sh                     # every target, 10 minutes each, one at a time
#   FUZZ_SECONDS=60 scripts/fuzz.sh bundle multipart
#   FUZZ_JOBS=2 scripts/fuzz.sh         # two targets at once (one per core)
#
# cargo-afl is installed into .tools/cargo-afl and builds AFL++ from the crate's own
# sources on first use. Each target starts from fuzz/corpus/<target> (seeded from
# the test fixtures on its first run) and runs for FUZZ_SECONDS; a crash stops the
# script with the crashing inputs named. Otherwise the fuzzer's queue is minimised
# (afl-cmin) back into fuzz/corpus/<target>, files named by content hash, and its
# fuzzer_stats copied to fuzz/stats/<target>.txt. `cargo test -p registry-fuzz`
# replays the corpus through the same entry points.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CARGO_AFL_VERSION="0.18.2"
TOOLS="$ROOT/.tools/cargo-afl"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-600}"
JOBS="${FUZZ_JOBS:-1}"
WORK="$ROOT/fuzz/out"

log() { printf '[fuzz] %s\n' "$*" >&2; }

if [ ! -x "$TOOLS/bin/cargo-afl" ]; then
  log "installing cargo-afl $CARGO_AFL_VERSION (crates.io) into $TOOLS"
  cargo install --quiet --locked --root "$TOOLS" --version "$CARGO_AFL_VERSION" cargo-afl
fi
export PATH="$TOOLS/bin:$PATH"
# Builds AFL++ once, into cargo-afl's data directory; later runs find it built.
if ! built=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$built"; then
  printf '%s\n' "$built" >&2
  exit 1
fi

log "building the harness (cargo afl build --release)"
(cd fuzz && cargo afl build --release --locked --quiet)
HARNESS="$ROOT/fuzz/target/release/fuzz-target"
SEEDS="$ROOT/fuzz/target/release/fuzz-seeds"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("$HARNESS" 2>&1 | sed -n 's/^usage: fuzz-target <\(.*\)>$/\1/p' | tr '|' '\n')
fi

# AFL++ refuses to start on a machine not tuned for it; these say we accept that.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=0

fuzz_one() {
  local target=$1 corpus="$ROOT/fuzz/corpus/$1" out="$WORK/$1"
  if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
    log "$target: seeding the corpus from the test fixtures"
    local seeds
    seeds=$(mktemp -d)
    "$SEEDS" "$seeds"
    mkdir -p "$corpus"
    cp "$seeds/$target"/* "$corpus/"
    rm -rf "$seeds"
  fi
  rm -rf "$out"
  mkdir -p "$out"
  log "$target: fuzzing for ${SECONDS_PER_TARGET}s"
  cargo afl fuzz -i "$corpus" -o "$out" -V "$SECONDS_PER_TARGET" -- "$HARNESS" "$target" \
    >"$out/afl.log" 2>&1 || { log "$target: afl-fuzz failed; see $out/afl.log"; tail -20 "$out/afl.log" >&2; return 1; }
  local crashes
  crashes=$(find "$out/default/crashes" "$out/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  if [ "$crashes" -gt 0 ]; then
    log "$target: $crashes crashing or hanging inputs; fix what they show, then add them"
    log "to the corpus as crash-<hash> (they are kept from then on) and run again:"
    find "$out/default/crashes" "$out/default/hangs" -type f -name 'id:*' >&2
    return 1
  fi
  local minimised="$out/minimised"
  cargo afl cmin -i "$out/default/queue" -o "$minimised" -- "$HARNESS" "$target" >"$out/cmin.log" 2>&1
  # Inputs that once crashed (crash-*) stay whatever their coverage: they are the
  # regression tests of the fixes they led to.
  local kept
  kept=$(mktemp -d)
  find "$corpus" -maxdepth 1 -name 'crash-*' -exec cp {} "$kept/" \;
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$kept"/* "$corpus/" 2>/dev/null || true
  rm -rf "$kept"
  for input in "$minimised"/*; do
    cp "$input" "$corpus/$(sha256sum "$input" | cut -c1-16)"
  done
  mkdir -p "$ROOT/fuzz/stats"
  cp "$out/default/fuzzer_stats" "$ROOT/fuzz/stats/$target.txt"
  log "$target: $(grep -E '^(execs_done|corpus_count|saved_crashes|saved_hangs)' "$out/default/fuzzer_stats" | tr -s ' ' | tr '\n' ' ')"
  log "$target: corpus now $(ls "$corpus" | wc -l) inputs"
}

status=0
running=0
for target in "${targets[@]}"; do
  fuzz_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit "$status"
