#!/usr/bin/env bash
# A throwaway Postgres server on 127.0.0.1 for the history tests (Debian's `postgresql` package).
#
#   scripts/test-postgres.sh start [DIR]   # prints the URL to put in PAWL_TEST_POSTGRES_URL
#   scripts/test-postgres.sh stop [DIR]
#
# The server runs as the `postgres` user the package creates (Postgres refuses to run as root), with its
# data in DIR (default /tmp/pawl-test-postgres), on port PAWL_TEST_POSTGRES_PORT (default 55432). It
# holds one role, `pawl`, with a password (so that the tests see passwords kept out of messages) and the
# right to create the databases each test makes for itself.
set -euo pipefail
dir=${2:-/tmp/pawl-test-postgres}
port=${PAWL_TEST_POSTGRES_PORT:-55432}
password=pawl-test-secret
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "Postgres is not installed: apt-get install -y postgresql" >&2; exit 2; }
as_postgres() { runuser -u postgres -- "$@"; }

case "${1:-}" in
start)
    if as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        echo "postgres://pawl:$password@127.0.0.1:$port/postgres"
        exit 0
    fi
    rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 2; }
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=off" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 2; }
    as_postgres "$bin/psql" -h "$dir" -p "$port" -U postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE pawl LOGIN CREATEDB PASSWORD '$password'" >/dev/null
    echo "postgres://pawl:$password@127.0.0.1:$port/postgres"
    ;;
stop)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 2
    ;;
esac
