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
# shellcheck source=bench/lib.sh
. bench/lib.sh
SECS=${1:-8}
port=18431
if [ -z "${BIN:-}" ]; then
  bench_build postgres,mysql
  BIN=$CARGO_TARGET_DIR/release/camcops-web
fi
bin=$BIN
bench_init session-bench
server_log=

wrk_run() { # url conns [cookie] -> "rps p50 p99"; warns of non-2xx answers
  local url=$1 c=$2 cookie=${3:-}
  local t=$(( c < 2 ? 1 : 2 ))
  local rps p50 p99 non2xx
  if [ -n "$cookie" ]; then
    read -r rps p50 p99 non2xx < <(wrk -t"$t" -c"$c" -d"${SECS}s" --latency -H "Cookie: $cookie" "$url" | wrk_stats)
  else
    read -r rps p50 p99 non2xx < <(wrk -t"$t" -c"$c" -d"${SECS}s" --latency "$url" | wrk_stats)
  fi
  if [ "$non2xx" != 0 ]; then echo "WARNING: $non2xx non-2xx responses on $url" >&2; fi
  echo "$rps $p50 $p99"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo
echo "| backend | write interval | conns | no-DB route req/s (p50/p99) | authenticated req/s (p50/p99) | ratio |"
echo "|---|---|---|---|---|---|"
for backend in ${BACKENDS:-sqlite postgres mysql}; do
  for interval in ${INTERVALS:-0 60}; do
    bench_db "$backend"
    # SQLite works in-process: one connection per core; the servers wait on a socket: 16.
    if [ "$backend" = sqlite ]; then POOL=$(nproc); else POOL=16; fi
    bench_config SESSION_ACTIVITY_WRITE_INTERVAL_S="$interval" ALLOW_INSECURE_COOKIES=True DB_POOL_SIZE="$POOL"
    bench_superusers bench-password-42 bench
    bench_serve warn
    COOKIE=$(bench_login bench bench-password-42)
    for c in ${CONNS:-1 16 64}; do
      read -r nrps np50 np99 < <(wrk_run "http://127.0.0.1:$port/login" "$c")
      read -r arps ap50 ap99 < <(wrk_run "http://127.0.0.1:$port/" "$c" "$COOKIE")
      ratio=$(awk -v a="$arps" -v n="$nrps" 'BEGIN {printf "%.2f", a/n}')
      echo "| $backend | ${interval}s | $c | $nrps ($np50/$np99) | $arps ($ap50/$ap99) | $ratio |"
    done
    bench_stop
  done
done
