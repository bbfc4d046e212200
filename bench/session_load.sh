#!/usr/bin/env bash
# Session-resolution load test (issue 3): requests/s and p50/p99 of an authenticated GET of a
# small page that resolves the session ("/", the main menu), against a route of the same binary
# that touches no database ("/login" without a cookie), at 1, 16 and 64 connections, on SQLite,
# PostgreSQL and MariaDB, with SESSION_ACTIVITY_WRITE_INTERVAL_S 0 and 60. Loopback only.
#
# Usage: bench/session_load.sh [seconds-per-run]     (needs wrk: apt-get install -y wrk)
# Builds the release binary with the postgres and mysql features; PostgreSQL at 127.0.0.1:5432
# user postgres, MariaDB at 127.0.0.1:3306 user root (a fresh database each, dropped after).
# BACKENDS (default "sqlite postgres mysql"), INTERVALS (default "0 60") and CONNS (default
# "1 16 64") choose the rows; BIN runs a given binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
PORT=18431
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${BIN:-}" ]; then
  cargo build --release --features postgres,mysql -q
  BIN=$CARGO_TARGET_DIR/release/camcops-web
fi
WORK=$(mktemp -d)
PGDB=camcops_bench_$$
MYDB=camcops_bench_$$
mariadb_q() { mysql -h127.0.0.1 -P3306 -uroot -N -B -e "$1"; }
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
  mariadb_q "DROP DATABASE IF EXISTS $MYDB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wrk_run() { # url conns [cookie] -> "rps p50 p99"
  local url=$1 c=$2 cookie=${3:-}
  local t=$(( c < 2 ? 1 : 2 ))
  local out
  if [ -n "$cookie" ]; then
    out=$(wrk -t"$t" -c"$c" -d"${SECS}s" --latency -H "Cookie: $cookie" "$url")
  else
    out=$(wrk -t"$t" -c"$c" -d"${SECS}s" --latency "$url")
  fi
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  if [ -n "$non2xx" ]; then echo "WARNING: $non2xx non-2xx responses on $url" >&2; fi
  echo "$rps $p50 $p99"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo
echo "| backend | write interval | conns | no-DB route req/s (p50/p99) | authenticated req/s (p50/p99) | ratio |"
echo "|---|---|---|---|---|---|"
for backend in ${BACKENDS:-sqlite postgres mysql}; do
  for interval in ${INTERVALS:-0 60}; do
    case $backend in
      sqlite)
        rm -f "$WORK"/bench.sqlite*
        URL="sqlite://$WORK/bench.sqlite" ;;
      postgres)
        psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null
        psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB" >/dev/null
        URL="postgres://postgres@127.0.0.1:5432/$PGDB" ;;
      mysql)
        mariadb_q "DROP DATABASE IF EXISTS $MYDB"
        mariadb_q "CREATE DATABASE $MYDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        URL="mysql://root@127.0.0.1:3306/$MYDB" ;;
      *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    # SQLite works in-process: one connection per core; the servers wait on a socket: 16.
    if [ "$backend" = sqlite ]; then POOL=$(nproc); else POOL=16; fi
    CONF=$WORK/bench.conf
    "$BIN" demo-camcops-config --db-url "$URL" \
      | sed -e "s/^SESSION_ACTIVITY_WRITE_INTERVAL_S = .*/SESSION_ACTIVITY_WRITE_INTERVAL_S = $interval/" \
            -e "s/^ALLOW_INSECURE_COOKIES = .*/ALLOW_INSECURE_COOKIES = True/" \
            -e "s/^PORT = .*/PORT = $PORT/" -e "s/^DB_POOL_SIZE = .*/DB_POOL_SIZE = $POOL/" > "$CONF"
    "$BIN" --config "$CONF" upgrade-db >/dev/null
    "$BIN" --config "$CONF" make-superuser --username bench --password 'bench-password-42' >/dev/null
    RUST_LOG=warn "$BIN" --config "$CONF" serve & SERVER=$!
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
    JAR=$WORK/jar
    rm -f "$JAR"
    TOKEN=$(curl -s -c "$JAR" -b "$JAR" "http://127.0.0.1:$PORT/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
    curl -s -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode username=bench --data-urlencode password=bench-password-42 \
      --data-urlencode "csrf_token=$TOKEN" --data-urlencode redirect_url=/ "http://127.0.0.1:$PORT/login"
    # A new user agrees the terms of use first.
    TOKEN=$(curl -s -c "$JAR" -b "$JAR" "http://127.0.0.1:$PORT/offer_terms" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//' || true)
    [ -z "$TOKEN" ] || curl -s -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$TOKEN" --data-urlencode submit=1 "http://127.0.0.1:$PORT/offer_terms"
    COOKIE=$(awk '$6=="camcops" {print "camcops=" $7}' "$JAR")
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/")
    [ "$code" = 200 ] || { echo "login for the benchmark failed ($code)" >&2; exit 1; }
    for c in ${CONNS:-1 16 64}; do
      read -r nrps np50 np99 < <(wrk_run "http://127.0.0.1:$PORT/login" "$c")
      read -r arps ap50 ap99 < <(wrk_run "http://127.0.0.1:$PORT/" "$c" "$COOKIE")
      ratio=$(awk -v a="$arps" -v n="$nrps" 'BEGIN {printf "%.2f", a/n}')
      echo "| $backend | ${interval}s | $c | $nrps ($np50/$np99) | $arps ($ap50/$ap99) | $ratio |"
    done
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  done
done
