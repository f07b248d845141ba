#!/usr/bin/env bash
# A PostgreSQL of the bench's own, sized like a deployment: its data in .bench/postgres, on
# its own port, with shared_buffers big enough to hold the search table at 1 M products.
#
#   bench/postgres.sh start [port] [shared_buffers]   (defaults: 5433, 2GB)
#   bench/postgres.sh stop
#
# Then: DATABASE_URL=postgres://postgres@127.0.0.1:5433/postgres npm run bench search
#
# Why: a machine's stock PostgreSQL has 128 MB of shared_buffers, and the search table with
# its indexes is about 800 MB at 1 M products. Every uncached search then copies most of the
# heap pages it visits from the OS cache (one syscall and an 8 KB copy per page), and the
# figures measure that setting instead of the platform. The README asks a deployment for
# buffers at least the size of the search table; this is that deployment, on this machine.
# Everything else is PostgreSQL's default (fsync and synchronous_commit stay on).
set -euo pipefail
cd "$(dirname "$0")/.."

ACTION=${1:?usage: bench/postgres.sh start [port] [shared_buffers] | stop}
PORT=${2:-5433}
BUFFERS=${3:-2GB}
DIR="$PWD/.bench/postgres"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || BIN=$(dirname "$(command -v pg_ctl)")
[ -x "$BIN/pg_ctl" ] || { echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)"; exit 2; }

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$ACTION" in
  start)
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >"$DIR/initdb.log"
    fi
    if as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      echo "postgres.sh: already running (its settings are those it started with)"
    else
      as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c shared_buffers=$BUFFERS" start >/dev/null
    fi
    echo "postgres.sh: DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres (shared_buffers $BUFFERS)"
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop
    ;;
  *)
    echo "usage: bench/postgres.sh start [port] [shared_buffers] | stop"; exit 2
    ;;
esac
