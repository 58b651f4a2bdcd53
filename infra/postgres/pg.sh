#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for skillstream's tests, from Debian's packages.
#
#   infra/postgres/pg.sh up     install (if missing, as root), init (once), start; print the URL
#   infra/postgres/pg.sh down   stop it
#   infra/postgres/pg.sh clean  stop it and delete its data
#
# The cluster listens on 127.0.0.1 only, with trust authentication: it is for
# tests, never for data that matters. Environment:
#   SKILLSTREAM_PG_HOME  data + log directory (default /tmp/skillstream-postgres)
#   SKILLSTREAM_PG_PORT  port (default 15432)
set -euo pipefail

home=${SKILLSTREAM_PG_HOME:-/tmp/skillstream-postgres}
port=${SKILLSTREAM_PG_PORT:-15432}
db=skillstream_test
say() { printf 'postgres: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_owner() {
  # PostgreSQL refuses to run as root: run its tools as the 'postgres' user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  [ -n "$(bindir)" ] && return 0
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; install Debian's 'postgresql' package (as root: apt-get install postgresql)."
  say "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed: are Debian's package mirrors reachable?"
  apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed (see above)"
  [ -n "$(bindir)" ] || die "postgresql installed but no server binaries under /usr/lib/postgresql"
}

up() {
  install
  local bin
  bin=$(bindir)
  mkdir -p "$home"
  [ "$(id -u)" = 0 ] && chown postgres: "$home"
  if [ ! -f "$home/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$home/data" -U postgres -A trust -E UTF8 >"$home/initdb.log" 2>&1 \
      || die "initdb failed; see $home/initdb.log"
  fi
  if ! as_owner "$bin/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 \
      -o "-p $port -k $home -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >&2 \
      || die "the server did not start; see $home/server.log"
  fi
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
  fi
  echo "postgresql+psycopg://postgres@127.0.0.1:$port/$db"
}

down() {
  local bin
  bin=$(bindir)
  [ -n "$bin" ] && [ -f "$home/data/PG_VERSION" ] || { say "not running"; return 0; }
  as_owner "$bin/pg_ctl" -D "$home/data" -m fast stop >&2 2>/dev/null || say "not running"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  clean) down; rm -rf "$home" ;;
  *) die "usage: $0 up|down|clean" ;;
esac
