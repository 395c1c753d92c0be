#!/usr/bin/env bash
# Checks the AWS deployment offline: cfn-lint and `sam validate --lint` on
# infra/template.yaml (any finding fails), and the CloudFront Function's tests.
# Installs pinned cfn-lint and aws-sam-cli into their own venvs under .tools/
# (their pins must not meet each other's or moto's).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
CFN_LINT_REQUIREMENT="cfn-lint==1.58.0"
SAM_CLI_REQUIREMENT="aws-sam-cli==1.170.0"

log() { printf '[infra] %s\n' "$*" >&2; }

venv_tool() {
  local venv=$1 tool=$2 requirement=$3
  if [ ! -x "$TOOLS/$venv/bin/$tool" ]; then
    log "installing $requirement (PyPI) into .tools/$venv"
    python3 -m venv "$TOOLS/$venv"
    "$TOOLS/$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement" >&2
  fi
}

venv_tool venv-cfn-lint cfn-lint "$CFN_LINT_REQUIREMENT"
venv_tool venv-sam sam "$SAM_CLI_REQUIREMENT"

log "cfn-lint infra/template.yaml"
"$TOOLS/venv-cfn-lint/bin/cfn-lint" infra/template.yaml

log "sam validate --lint (template and settings from samconfig.toml)"
SAM_CLI_TELEMETRY=0 AWS_REGION="${AWS_REGION:-us-east-1}" "$TOOLS/venv-sam/bin/sam" validate --lint

log "CloudFront Function tests (node --test)"
node --test infra/tests/router.test.mjs
