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
OPENWORKFLOW_TEST_BACKEND=aws cargo test -p registry-tests --locked

step "the AWS deployment: cfn-lint, sam validate --lint, the CloudFront Function"
./scripts/infra-check.sh

step "benchmarks compile and run once (figures: see README, Measured)"
cargo test --release -p registry-core --bench registry --locked -- --test
cargo test -p registry-functions --bench cold_start --locked
cargo test -p registry-index --bench index_scale --locked
cargo test -p registry-tests --bench health_pass --locked

printf '\nAll checks passed.\n'
