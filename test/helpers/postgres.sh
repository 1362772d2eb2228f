#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests that need one.
#
#   eval "$(test/helpers/postgres.sh start)"   # prints `export CAIRN_TEST_POSTGRES=postgres://…`
#   test/helpers/postgres.sh stop
#
# The cluster lives in a temporary folder (kept in $STATE) and trusts local connections: it is for tests
# only. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (Debian's package
# creates it). Binaries come from Debian's postgresql package (/usr/lib/postgresql/<major>/bin).
set -euo pipefail
STATE="${CAIRN_TEST_POSTGRES_STATE:-${TMPDIR:-/tmp}/cairn-test-postgres.state}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[[ -n "$BIN" && -x "$BIN/initdb" ]] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
start)
  if [[ -f "$STATE" ]]; then
    # shellcheck disable=SC1090
    source "$STATE"
    if as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then echo "export CAIRN_TEST_POSTGRES=$URL"; exit 0; fi
  fi
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-postgres.XXXXXX")"
  [[ $(id -u) -eq 0 ]] && chown postgres "$DIR"
  # A free port: ask the kernel for one, then hand it to the server (a race with another process is harmless here: start fails loudly).
  PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  as_owner "$BIN/initdb" -D "$DIR/data" -U cairn --auth=trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  # The tests' own role needs no password; every other role does (a test checks a wrong password is reported as such).
  printf 'local all cairn trust\nhost all cairn 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$DIR/data/pg_hba.conf"
  # fsync stays on: the tests kill relays and check that nothing acknowledged is lost, which is the server's durability.
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=200" start >/dev/null ||
    { cat "$DIR/server.log" >&2; exit 1; }
  URL="postgres://cairn@127.0.0.1:$PORT/postgres"
  printf 'DIR=%q\nURL=%q\n' "$DIR" "$URL" >"$STATE"
  echo "export CAIRN_TEST_POSTGRES=$URL"
  ;;
stop)
  [[ -f "$STATE" ]] || exit 0
  # shellcheck disable=SC1090
  source "$STATE"
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR" "$STATE"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
