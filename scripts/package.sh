#!/usr/bin/env bash
# Builds every Lambda function for AWS (arm64 by default, `--x86-64` for x86_64)
# with cargo-lambda and Zig, as `sam build` does, and reports each zip's size.
# Installs pinned cargo-lambda and ziglang (PyPI) into .tools/venv-lambda.
#
#   scripts/package.sh            # target/lambda/<function>/bootstrap.zip
#   scripts/package.sh --sam      # then `sam build` (.aws-sam/build), ready for `sam deploy`
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
LAMBDA_REQUIREMENTS=("cargo-lambda==1.9.2" "ziglang==0.17.1")
SAM_CLI_REQUIREMENT="aws-sam-cli==1.170.0"

log() { printf '[package] %s\n' "$*" >&2; }

ARCH_FLAG=--arm64
TARGET=aarch64-unknown-linux-gnu
RUN_SAM=no
for arg in "$@"; do
  case "$arg" in
    --x86-64) ARCH_FLAG=--x86-64; TARGET=x86_64-unknown-linux-gnu ;;
    --sam) RUN_SAM=yes ;;
    *) log "unknown argument $arg"; exit 2 ;;
  esac
done

if [ ! -x "$TOOLS/venv-lambda/bin/cargo-lambda" ]; then
  log "installing ${LAMBDA_REQUIREMENTS[*]} (PyPI) into .tools/venv-lambda"
  python3 -m venv "$TOOLS/venv-lambda"
  "$TOOLS/venv-lambda/bin/pip" install --quiet --disable-pip-version-check "${LAMBDA_REQUIREMENTS[@]}" >&2
fi
export PATH="$TOOLS/venv-lambda/bin:$PATH"
rustup target add "$TARGET" >&2

log "cargo lambda build --release $ARCH_FLAG (every function)"
cargo lambda build --release "$ARCH_FLAG" --locked -p registry-lambda --output-format zip >&2

printf '%-14s %12s\n' function "zip bytes"
for zip in target/lambda/*/bootstrap.zip; do
  printf '%-14s %12s\n' "$(basename "$(dirname "$zip")")" "$(stat -c %s "$zip")"
done

if [ "$RUN_SAM" = yes ]; then
  if [ ! -x "$TOOLS/venv-sam/bin/sam" ]; then
    python3 -m venv "$TOOLS/venv-sam"
    "$TOOLS/venv-sam/bin/pip" install --quiet --disable-pip-version-check "$SAM_CLI_REQUIREMENT" >&2
  fi
  log "sam build (settings from samconfig.toml)"
  SAM_CLI_TELEMETRY=0 "$TOOLS/venv-sam/bin/sam" build
fi
