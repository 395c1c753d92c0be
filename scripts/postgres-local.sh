#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on a free loopback port,
# installing Debian's `postgresql` first when it is missing, and stops the server
# and deletes its data afterwards (also when the command fails). The command sees
# OPENWORKFLOW_TEST_POSTGRES_URL, a superuser URL for the server's `postgres`
# database; each test makes a schema of its own in it.
#
#   scripts/postgres-local.sh cargo test -p registry-postgres
#
# PostgreSQL refuses to run as root: as root (CI), initdb and the server run as the
# `postgres` user, in a temporary directory that user owns.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[postgres-local] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  log "installing postgresql (apt)"
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq postgresql >/dev/null
fi
BIN=$(pg_bin)

as_server_user=()
if [ "$(id -u)" = 0 ]; then
  as_server_user=(runuser -u postgres --)
fi

DIR=$(mktemp -d /tmp/openworkflow-postgres.XXXXXX)
chmod 0700 "$DIR"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR"
fi
PORT=
stop_server() {
  if [ -n "$PORT" ]; then
    # Fast shutdown: open sessions are ended, nothing waits for them.
    "${as_server_user[@]}" "$BIN/pg_ctl" stop -D "$DIR/data" -m fast -s >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}
trap stop_server EXIT

"${as_server_user[@]}" "$BIN/initdb" -D "$DIR/data" -U registry --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }

PORT=$(free_port)
# Loopback only, its socket in its own directory, no fsync: the data is thrown
# away at the end, and the suite's writes should cost what the code costs.
"${as_server_user[@]}" "$BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/server.log" -w -t 60 -s \
  -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
  || { log "postgres did not start; its log:"; cat "$DIR/server.log" >&2; exit 1; }
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"

export OPENWORKFLOW_TEST_POSTGRES_URL="postgres://registry@127.0.0.1:$PORT/postgres"
"$@"
