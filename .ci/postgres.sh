#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `start` installs PostgreSQL from Debian if it is
# missing, creates a cluster in a temporary directory, serves it on a free loopback port and
# prints the `export AFTERCARE_TEST_POSTGRES_URL=...` line; `stop` stops it and deletes it.
#
#   eval "$(.ci/postgres.sh start)"   # then run the tests
#   .ci/postgres.sh stop
#
# The cluster directory is $AFTERCARE_PG_DIR (default: /tmp/aftercare-pg-<user>). PostgreSQL
# refuses to run as root, so under root the cluster belongs to the `postgres` system user.
set -euo pipefail

DIR="${AFTERCARE_PG_DIR:-${TMPDIR:-/tmp}/aftercare-pg-$(id -un)}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

bin_dir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$found" ] || [ ! -x "$found/initdb" ]; then
    echo "installing PostgreSQL from Debian" >&2
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
    found="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  echo "$found"
}

# Run a PostgreSQL program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local bin port
  bin="$(bin_dir)"
  if [ -f "$DIR/url" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    echo "export AFTERCARE_TEST_POSTGRES_URL=$(cat "$DIR/url")"
    return
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
  port="$(free_port)"
  as_owner "$bin/initdb" -D "$DIR/data" -U aftercare -A trust -E UTF8 --no-locale >"$DIR/initdb.log"
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
    start >/dev/null
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U aftercare aftercare_test
  echo "postgresql+psycopg://aftercare@127.0.0.1:$port/aftercare_test" | as_owner tee "$DIR/url" >/dev/null
  echo "PostgreSQL is up on 127.0.0.1:$port (cluster in $DIR)" >&2
  echo "export AFTERCARE_TEST_POSTGRES_URL=$(cat "$DIR/url")"
}

stop() {
  local bin
  [ -d "$DIR/data" ] || return 0
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
