#!/usr/bin/env bash
# A PostgreSQL of the bench's own, sized like a deployment: its data in .bench/postgres, on
# its own port, with shared_buffers big enough to hold the search table at 1 M products.
#
#   bench/postgres.sh start [port] [shared_buffers]   (defaults: 5433, 2GB)
#   bench/postgres.sh stop
#   HUGE_PAGES=1 bench/postgres.sh start               (as root: reserves huge pages first)
#
# Then: DATABASE_URL=postgres://postgres@127.0.0.1:5433/postgres npm run bench search
#
# Why: a machine's stock PostgreSQL has 128 MB of shared_buffers, and the search table with
# its indexes is about 800 MB at 1 M products. Every uncached search then copies most of the
# heap pages it visits from the OS cache (one syscall and an 8 KB copy per page), and the
# figures measure that setting instead of the platform. The README asks a deployment for
# buffers at least the size of the search table; this is that deployment, on this machine.
# Everything else is PostgreSQL's default (fsync and synchronous_commit stay on).
#
# Huge pages: a search visits one buffer per match, each a fresh 8 KB page, and with 4 KB
# memory pages over 2 GB of buffers most of those visits also miss the TLB. PostgreSQL uses
# huge pages when the kernel has some reserved (huge_pages=try, its default); HUGE_PAGES=1
# reserves enough (sysctl vm.nr_hugepages, root only) before starting. Measured at 1 M
# products: 7-8 % less PostgreSQL CPU per uncached search.
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
    if [ "${HUGE_PAGES:-}" = 1 ]; then
      case "$BUFFERS" in
        *GB) MB=$(( ${BUFFERS%GB} * 1024 )) ;;
        *MB) MB=${BUFFERS%MB} ;;
        *) echo "postgres.sh: HUGE_PAGES=1 needs shared_buffers in MB or GB, got $BUFFERS"; exit 2 ;;
      esac
      # 2 MB pages, with room for the rest of PostgreSQL's shared memory.
      sysctl -q -w vm.nr_hugepages=$(( MB / 2 + 128 )) || { echo "postgres.sh: could not reserve huge pages (root only)"; exit 2; }
    fi
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
    TOTAL=$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)
    FREE=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    RSVD=$(awk '/HugePages_Rsvd/ {print $2}' /proc/meminfo)
    if [ "${TOTAL:-0}" -gt 0 ] && [ $(( FREE - RSVD )) -lt "$TOTAL" ]; then
      echo "postgres.sh: huge pages in use"
    else
      echo "postgres.sh: no huge pages (HUGE_PAGES=1 bench/postgres.sh start reserves them, as root)"
    fi
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop
    ;;
  *)
    echo "usage: bench/postgres.sh start [port] [shared_buffers] | stop"; exit 2
    ;;
esac
