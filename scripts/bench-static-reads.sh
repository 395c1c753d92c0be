#!/usr/bin/env bash
# Static reads side by side: wrk against the self-hosted server's GET /plugins/{slug}
# and against nginx serving the very same bytes from a file (bench/nginx.conf:
# access_log off, sendfile, open_file_cache), in one run on this machine, loopback.
# Needs a release build, so it is not part of the test suite.
#
#   scripts/bench-static-reads.sh            # 3 rounds of 10 s each, 2 threads, 32 connections
#   ROUNDS=5 SECONDS_EACH=20 scripts/bench-static-reads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
SECONDS_EACH="${SECONDS_EACH:-10}"
log() { printf '[bench] %s\n' "$*" >&2; }

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    log "installing $2 (apt)"
    if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    "${apt_get[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "$2" >/dev/null
  fi
}
need wrk wrk
need nginx nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log "building the server (cargo build --profile server)"
cargo build --profile server --locked -p openworkflow-registry >&2
SERVER=target/server/openworkflow-registry

WORK=$(mktemp -d)
chmod 755 "$WORK"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

REGISTRY_PORT=$(free_port)
RUST_LOG=warn "$SERVER" serve --data "$WORK/data" --listen "127.0.0.1:$REGISTRY_PORT" >"$WORK/server.out" 2>"$WORK/server.err" &
pids+=($!)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$REGISTRY_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
KEY=$(cat "$WORK/data/admin.key")
cat >"$WORK/plugin.yaml" <<'YAML'
slug: github
version: 1.2.0
name: GitHub Integration
description: Interact with GitHub repositories, issues, and pull requests from your workflows, with tokens scoped per step
author: OpenWorkflow Community
homepage: https://docs.openworkflowspec.org/plugins/github
repository: https://github.com/Open-Workflow/connector-github
license: MIT
icon: https://docs.openworkflowspec.org/plugins/github/icon.svg
tags: [vcs, github, git, development]
actions:
  - name: create_issue
    description: Create a new issue
  - name: list_repos
    description: List repositories
  - name: create_pull_request
    description: Open a pull request from a branch
runtime:
  memory: 512MB
  timeout: 60
environment:
  - name: GITHUB_TOKEN
    description: GitHub personal access token
    required: true
YAML
curl -fs -X POST "http://127.0.0.1:$REGISTRY_PORT/plugins" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/yaml' --data-binary @"$WORK/plugin.yaml" >/dev/null
mkdir -p "$WORK/root/plugins"
curl -fs "http://127.0.0.1:$REGISTRY_PORT/plugins/github" -o "$WORK/root/plugins/github"
chmod -R a+rX "$WORK/root"
log "details document: $(stat -c %s "$WORK/root/plugins/github") bytes"

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
sed -e "s|__PORT__|$NGINX_PORT|" -e "s|__ROOT__|$WORK/root|" -e "s|__TMP__|$WORK/nginx|" \
  bench/nginx.conf >"$WORK/nginx/nginx.conf"
"$NGINX" -c "$WORK/nginx/nginx.conf" &
pids+=($!)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$NGINX_PORT/plugins/github" >/dev/null 2>&1 && break
  sleep 0.1
done
cmp <(curl -fs "http://127.0.0.1:$NGINX_PORT/plugins/github") "$WORK/root/plugins/github"

rate() { wrk -t2 -c32 -d"${SECONDS_EACH}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
printf '%-6s %14s %14s %8s\n' round registry nginx ratio
for round in $(seq "$ROUNDS"); do
  r=$(rate "http://127.0.0.1:$REGISTRY_PORT/plugins/github")
  n=$(rate "http://127.0.0.1:$NGINX_PORT/plugins/github")
  printf '%-6s %14s %14s %8s\n' "$round" "$r" "$n" "$(python3 -c "print(f'{$r/$n:.2f}')")"
done
