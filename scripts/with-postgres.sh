#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL server on loopback, then stop and delete it.
#
#   scripts/with-postgres.sh .venv/bin/python -m pytest
#
# Installs Debian's `postgresql` package when no server binaries are found (as root, with
# apt-get), starts a server in a temporary data folder as the `postgres` user (the server
# refuses to run as root), creates a database, and exports its URL as
# SCRATCHMLP_TEST_POSTGRES for the command. Without a usable server the command still runs:
# the tests that need PostgreSQL then skip and say why.
set -euo pipefail

note() { echo "with-postgres: $*" >&2; }

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; fi
}

PGBIN=$(find_bin)
if [ -z "$PGBIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  note "installing Debian's postgresql package"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(find_bin)
fi
if [ -z "$PGBIN" ]; then
  note "no PostgreSQL server binaries (apt-get install postgresql); its tests will skip"
  exec "$@"
fi

# the server refuses root: run it as `postgres` (the package's user) when we are root
if [ "$(id -u)" = 0 ]; then
  RUN_AS=(runuser -u postgres --)
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
else
  RUN_AS=()
fi

DATA=$(mktemp -d "${TMPDIR:-/tmp}/scratchmlp-pg.XXXXXX")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
[ "$(id -u)" = 0 ] && chown postgres: "$DATA"
printf '%s\n' "$PASSWORD" > "$DATA.pw"
[ "$(id -u)" = 0 ] && chown postgres: "$DATA.pw"

stop() {
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA/db" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DATA" "$DATA.pw"
}
trap stop EXIT
trap 'exit 130' INT TERM

"${RUN_AS[@]}" "$PGBIN/initdb" -D "$DATA/db" -U postgres --pwfile="$DATA.pw" \
  --auth=scram-sha-256 --no-sync -E UTF8 >/dev/null
rm -f "$DATA.pw"
if ! "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w -t 60 \
     -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c max_connections=50" \
     start >/dev/null; then
  note "the server did not start:"; cat "$DATA/server.log" >&2 || true
  exit 1
fi
PGPASSWORD="$PASSWORD" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres scratchmlp_test

export SCRATCHMLP_TEST_POSTGRES="postgresql://postgres:$PASSWORD@127.0.0.1:$PORT/scratchmlp_test"
note "PostgreSQL server ($PGBIN) on 127.0.0.1:$PORT, data in $DATA"
set +e
"$@"
status=$?
set -e
exit $status
