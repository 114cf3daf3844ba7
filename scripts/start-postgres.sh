#!/usr/bin/env bash
# Starts a throw-away PostgreSQL for the test suite and prints its URL on stdout.
set -euo pipefail
port="${REHOST_TEST_PG_PORT:-54329}"
dir="${REHOST_TEST_PG_DIR:-/tmp/rehost-test-pg}"
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
owner=postgres
if ! id "$owner" >/dev/null 2>&1; then owner=$(id -un); fi
run() { if [[ $(id -u) -eq 0 && "$owner" != root ]]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
if ! run "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"; chown "$owner" "$dir"
    run "$bindir/initdb" -D "$dir" -U rehost --auth=trust -E UTF8 >/dev/null
  fi
  run "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
fi
for db in rehost_test; do
  run "$bindir/psql" -h 127.0.0.1 -p "$port" -U rehost -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || run "$bindir/createdb" -h 127.0.0.1 -p "$port" -U rehost "$db"
done
echo "postgresql+psycopg://rehost@127.0.0.1:$port/rehost_test"
