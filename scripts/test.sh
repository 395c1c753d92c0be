#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, every test on the
# three storage backends. It installs and starts what the tests need (DynamoDB
# Local and moto's S3 server, into .tools/, and Debian's PostgreSQL, each on a free
# loopback port) and stops them at the end,
# checks the SAM template offline with cfn-lint and the SAM CLI (also into .tools/),
# installs Debian's gnupg, openssl, chromium and chromium-driver when missing, axe-core
# into .tools/browser, oidc-provider into .tools/oidc and aiosmtpd into
# .tools/venv-smtp (the suites start their own chromedriver, OpenID provider and
# SMTP server per test).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--with-servers" ]; then
  exec ./scripts/aws-local.sh ./scripts/postgres-local.sh "$0" --with-servers
fi

step() { printf '\n==> %s\n' "$*"; }

# A one-shot run gains nothing from incremental state but its disk space.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Debian packages the tests drive: the CLI's signature test signs with the real
# gpg; the browser suite runs headless Chromium through chromedriver; the
# PostgreSQL TLS test makes its CA and certificate with openssl.
missing=()
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (apt)"
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null
fi

# axe-core (npm), which the browser suite injects into every page type.
AXE_CORE_PACKAGE="axe-core@4.14.1"
export AXE_CORE_JS="$PWD/.tools/browser/node_modules/axe-core/axe.min.js"
if [ ! -f "$AXE_CORE_JS" ] || ! grep -q "\"version\": \"${AXE_CORE_PACKAGE#axe-core@}\"" .tools/browser/node_modules/axe-core/package.json; then
  step "installing $AXE_CORE_PACKAGE (npm) into .tools/browser"
  npm install --no-audit --no-fund --silent --prefix .tools/browser "$AXE_CORE_PACKAGE" >&2
fi

# oidc-provider (npm), the certified OpenID provider the browser suite signs in with.
OIDC_PROVIDER_PACKAGE="oidc-provider@9.13.3"
export OIDC_PROVIDER_MODULE_DIR="$PWD/.tools/oidc/node_modules/oidc-provider"
if [ ! -f "$OIDC_PROVIDER_MODULE_DIR/package.json" ] || ! grep -q "\"version\": \"${OIDC_PROVIDER_PACKAGE#oidc-provider@}\"" "$OIDC_PROVIDER_MODULE_DIR/package.json"; then
  step "installing $OIDC_PROVIDER_PACKAGE (npm) into .tools/oidc"
  npm install --no-audit --no-fund --silent --prefix .tools/oidc "$OIDC_PROVIDER_PACKAGE" >&2
fi

# aiosmtpd (PyPI), the SMTP server owners' notices are delivered to; its own
# venv, so its pins never meet moto's or the SAM CLI's.
AIOSMTPD_PACKAGE="aiosmtpd==1.4.6"
export AIOSMTPD_PYTHON="$PWD/.tools/venv-smtp/bin/python"
if ! "$AIOSMTPD_PYTHON" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '${AIOSMTPD_PACKAGE#aiosmtpd==}')" 2>/dev/null; then
  step "installing $AIOSMTPD_PACKAGE (PyPI) into .tools/venv-smtp"
  python3 -m venv .tools/venv-smtp
  .tools/venv-smtp/bin/pip install --quiet --disable-pip-version-check "$AIOSMTPD_PACKAGE" >&2
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

step "the HTTP suite again, on the postgres backend (PostgreSQL + files)"
OPENWORKFLOW_TEST_BACKEND=postgres cargo test --workspace --all-features --locked --test api

step "the AWS deployment: cfn-lint, sam validate --lint, the CloudFront Function"
./scripts/infra-check.sh

step "benchmarks compile and run once (figures: see README, Measured)"
cargo test --profile bench -p registry-core --bench registry --locked -- --test
cargo test --workspace --all-features --locked --bench cold_start --bench index_scale --bench health_pass --bench webhooks

printf '\nAll checks passed.\n'
