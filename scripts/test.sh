#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, every test on both
# storage backends. It installs and starts what the tests need (DynamoDB Local and
# moto's S3 server, into .tools/, on free loopback ports) and stops them at the end,
# checks the SAM template offline with cfn-lint and the SAM CLI (also into .tools/),
# and installs Debian's gnupg when gpg is missing (the CLI's signature test).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--with-servers" ]; then
  exec ./scripts/aws-local.sh "$0" --with-servers
fi

step() { printf '\n==> %s\n' "$*"; }

# A one-shot run gains nothing from incremental state but its disk space.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# The CLI's signature test signs with the real gpg (Debian's gnupg).
if ! command -v gpg >/dev/null 2>&1; then
  step "installing gnupg (apt) for the GPG signature test"
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq gnupg >/dev/null
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo test: every crate; the HTTP suite on the embedded backend"
cargo test --workspace --all-features --locked

step "the HTTP suite again, on the aws backend (DynamoDB Local + moto S3)"
# Every cargo call below selects the same packages and features as the one above,
# so each reuses its build instead of compiling the workspace again.
OPENWORKFLOW_TEST_BACKEND=aws cargo test --workspace --all-features --locked --test api

step "the AWS deployment: cfn-lint, sam validate --lint, the CloudFront Function"
./scripts/infra-check.sh

step "benchmarks compile and run once (figures: see README, Measured)"
cargo test --profile bench -p registry-core --bench registry --locked -- --test
cargo test --workspace --all-features --locked --bench cold_start --bench index_scale --bench health_pass

printf '\nAll checks passed.\n'
