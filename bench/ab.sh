#!/usr/bin/env bash
# A/B: API CPU per request of an earlier commit against the working tree, on this noisy machine.
#
#   bench/ab.sh REV [product|cart] [rounds]      e.g. bench/ab.sh HEAD~1 cart 8
#
# Starts one API process (WEB_CONCURRENCY=1) on REV (a git worktree) and one on the working
# tree, side by side against the same seeded bench database, warms both, then alternates
# 4-second wrk runs against each and prints the API's CPU per request (µs, from /proc) for
# every round, and the medians. Why: this VM's speed drifts by up to 2x within an hour, so two
# `npm run bench` runs minutes apart cannot show a 5 % difference; back-to-back rounds can.
#
# Needs: wrk (apt-get install wrk), psql, DATABASE_URL (the server), REDIS_URL, and a seeded
# bench database, BENCH_DATABASE (default shop_bench_20k; `BENCH_DATABASE=shop_bench_20k npm
# run bench product` makes one).
set -euo pipefail
cd "$(dirname "$0")/.."

REV=${1:?usage: bench/ab.sh REV [product|cart] [rounds]}
SCENARIO=${2:-product}
ROUNDS=${3:-6}
DB=${BENCH_DATABASE:-shop_bench_20k}
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL server}" "${REDIS_URL:?REDIS_URL must name the Redis server}"
command -v wrk >/dev/null || { echo "ab: needs wrk (apt-get install wrk)"; exit 2; }
DB_URL="${DATABASE_URL%/*}/$DB"
psql "$DB_URL" -Atc 'select 1' >/dev/null 2>&1 || { echo "ab: no database $DB; seed one with: BENCH_DATABASE=$DB npm run bench product"; exit 2; }

WORK=$(mktemp -d)
OLD="$WORK/old"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git worktree remove --force "$OLD" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
git worktree add --detach --force "$OLD" "$REV" >/dev/null 2>&1
ln -s "$PWD/node_modules" "$OLD/node_modules"

start() { # dir port -> pid
  (cd "$1" && exec env PORT="$2" HOST=127.0.0.1 DATABASE_URL="$DB_URL" REDIS_URL="$REDIS_URL" INSTANCE="ab-$2-$$" \
    WEB_CONCURRENCY=1 LOG_LEVEL=warn node --import tsx src/main.ts api >"$WORK/api-$2.log" 2>&1) &
  echo $!
}
A_PORT=39211 B_PORT=39212
PIDS+=("$(start "$OLD" $A_PORT)") PIDS+=("$(start "$PWD" $B_PORT)")
A_PID=${PIDS[0]} B_PID=${PIDS[1]}

wait_up() {
  for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$1/health/live" && return; sleep 0.5; done
  echo "ab: the API on :$1 did not start:"; tail -20 "$WORK/api-$1.log"; exit 1
}

case "$SCENARIO" in
  product)
    psql "$DB_URL" -Atc "select '/store/products/' || id from catalog.products where deleted_at is null order by md5(id::text) limit 2000" >"$WORK/paths"
    for port in $A_PORT $B_PORT; do cp "$WORK/paths" "$WORK/paths-$port"; done
    export BENCH_WRK_METHOD=GET
    ;;
  cart)
    VARIANT=$(psql "$DB_URL" -Atc "select v.id from catalog.variants v join catalog.products p on p.id = v.product_id where p.deleted_at is null order by v.id limit 1")
    psql "$DB_URL" -Atc "update inventory.stock set available = 1000000000 where variant_id = $VARIANT" >/dev/null
    export BENCH_WRK_METHOD=POST BENCH_WRK_BODY="{\"variantId\":\"$VARIANT\",\"quantity\":1}" BENCH_WRK_HEADERS="content-type: application/json"
    ;;
  *) echo "ab: scenario must be product or cart"; exit 2 ;;
esac

for port in $A_PORT $B_PORT; do
  wait_up $port
  if [ "$SCENARIO" = cart ]; then
    # 10,000 guest carts per side: a run adds about 20 units to each, far below a line's 99.
    node -e '
      const [url, n] = [process.argv[1], 10000]; const out = []; let made = 0
      Promise.all(Array.from({ length: 16 }, async () => {
        while (made < n) { made++; const r = await fetch(url + "/store/carts", { method: "POST" }); out.push("/store/carts/" + (await r.json()).id + "/items") }
      })).then(() => console.log(out.join("\n")))' "http://127.0.0.1:$port" >"$WORK/paths-$port"
  else
    # Every product once, so both start cache-hot.
    sed "s#^#http://127.0.0.1:$port#" "$WORK/paths" | xargs -P 8 -n 50 curl -s >/dev/null
  fi
  BENCH_WRK_PATHS="$WORK/paths-$port" wrk -t1 -c32 -d3s -s bench/wrk.lua "http://127.0.0.1:$port" >/dev/null
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
round() { # pid port -> µs of API CPU per request
  local before after requests
  before=$(cpu_ticks "$1")
  requests=$(BENCH_WRK_PATHS="$WORK/paths-$2" wrk -t1 -c32 -d4s -s bench/wrk.lua "http://127.0.0.1:$2" | sed -n 's/^{"requests":\([0-9]*\).*/\1/p')
  after=$(cpu_ticks "$1")
  echo $(( (after - before) * 1000000 / $(getconf CLK_TCK) / requests ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

A=() B=()
for _ in $(seq 1 "$ROUNDS"); do A+=("$(round "$A_PID" $A_PORT)"); B+=("$(round "$B_PID" $B_PORT)"); done
echo "$SCENARIO, API CPU µs per request, $ROUNDS alternating rounds of 4 s, 32 connections:"
echo "  A $REV: ${A[*]}  (median $(median "${A[@]}"))"
echo "  B working tree: ${B[*]}  (median $(median "${B[@]}"))"
