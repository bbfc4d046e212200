#!/usr/bin/env bash
# The audit trail at scale (issue 12): with 1,000,000 rows in _security_audit on SQLite and
# PostgreSQL, p50/p99 and req/s of an authenticated superuser GET /view_audit_trail (25 rows,
# newest first) at 16 connections, unfiltered and with each kind of filter. Loopback only.
# Usage: bench/audit_load.sh [rows] [seconds-per-run]   (needs wrk, sqlite3, psql)
# BACKENDS="postgres" runs one backend only (default: sqlite postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
SECS=${2:-10}
PORT=18433
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --features postgres -q --bin camcops-web
BIN=$CARGO_TARGET_DIR/release/camcops-web
WORK=$(mktemp -d)
PGDB=camcops_audit_bench_$$
PW='bench-password-42'
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wrk_stats() { # wrk output on stdin -> "rps p50 p99 non2xx"
  awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {bad=$NF} END {print r, p50, p99, (bad==""?0:bad)}'
}

login() { # user -> cookie header value; CSRF token from the login page, as a browser
  local jar=$WORK/jar.$1 token
  rm -f "$jar"
  token=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$PORT/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "username=$1" --data-urlencode "password=$PW" \
    --data-urlencode "csrf_token=$token" --data-urlencode redirect_url=/ "http://127.0.0.1:$PORT/login"
  awk '$6=="camcops" {print "camcops=" $7}' "$jar"
}

# The rows: one a minute going back ROWS minutes (about 1.9 years for 1,000,000); sources
# webviewer 80 %, tablet 15 %, console 5 %; 200 client addresses; 50 users (plus NULL for
# failed logins); a task table and server pk on a tenth; details of 40-60 characters.
SQL_BODY="
  CASE WHEN n % 20 = 0 THEN 'console' WHEN n % 20 < 4 THEN 'tablet' ELSE 'webviewer' END,
  '10.1.' || (n % 200 / 100) || '.' || (n % 100),
  CASE WHEN n % 10 = 9 THEN NULL ELSE 1 + n % 50 END,
  CASE WHEN n % 10 = 3 THEN 'phq9' WHEN n % 10 = 4 THEN 'gad7' ELSE NULL END,
  CASE WHEN n % 10 IN (3, 4) THEN n % 5000 ELSE NULL END,
  'Login from benchmark row ' || n || CASE WHEN n % 1000 = 0 THEN ' needle' ELSE '' END"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F); audit rows: $ROWS"
for backend in ${BACKENDS:-sqlite postgres}; do
  if [ "$backend" = sqlite ]; then
    URL="sqlite://$WORK/audit.sqlite"
  else
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB" >/dev/null
    URL="postgres://postgres@127.0.0.1:5432/$PGDB"
  fi
  CONF=$WORK/$backend.conf
  "$BIN" demo-camcops-config --db-url "$URL" \
    | sed -e "s/^ALLOW_INSECURE_COOKIES = .*/ALLOW_INSECURE_COOKIES = True/" -e "s/^PORT = .*/PORT = $PORT/" \
          -e "s/^DB_POOL_SIZE = .*/DB_POOL_SIZE = 16/" -e "s/^BCRYPT_COST = .*/BCRYPT_COST = 4/" > "$CONF"
  "$BIN" --config "$CONF" upgrade-db >/dev/null
  for u in $(seq -f 'benchuser%g' 1 50); do
    "$BIN" --config "$CONF" make-superuser --username "$u" --password "$PW" >/dev/null
  done
  start=$(date +%s.%N)
  if [ "$backend" = sqlite ]; then
    sqlite3 "$WORK/audit.sqlite" "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $ROWS)
      INSERT INTO _security_audit (when_access_utc, source, remote_addr, user_id, table_name, server_pk, details)
      SELECT strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || ($ROWS - n) || ' minutes'), $SQL_BODY FROM s; ANALYZE;"
  else
    psql -q -h 127.0.0.1 -U postgres -d "$PGDB" -c "INSERT INTO _security_audit (when_access_utc, source, remote_addr, user_id, table_name, server_pk, details)
      SELECT (now() AT TIME ZONE 'UTC') - (($ROWS - n) * interval '1 minute'), $SQL_BODY FROM generate_series(1, $ROWS) AS s(n); ANALYZE;" >/dev/null
  fi
  echo
  echo "### $backend: $ROWS audit rows inserted in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e-s}') s"
  RUST_LOG=warn "$BIN" --config "$CONF" serve & SERVER=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  COOKIE=$(login benchuser1)
  START=$(date -u -d '-200 days' +%Y-%m-%dT00:00)
  END=$(date -u -d '-199 days' +%Y-%m-%dT00:00)
  echo
  echo "| $backend, 16 connections, 25 rows a page | req/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|"
  for v in "no filter:" \
           "source=tablet:source=tablet" \
           "remote_ip_addr:remote_ip_addr=10.1.1.17" \
           "username:username=benchuser7" \
           "table_name + server_pk:table_name=phq9&server_pk=1203" \
           "one day (start + end):start_datetime=$START&end_datetime=$END" \
           "combined (source + username + one day):source=webviewer&username=benchuser8&start_datetime=$START&end_datetime=$END" \
           "text_contains (1 row in 1,000, no index):text_contains=needle" \
           "page 40 of source=console:source=console&page=40"; do
    name=${v%%:*}; q=${v#*:}
    read -r rps p50 p99 bad < <(wrk -t2 -c16 -d"${SECS}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/view_audit_trail?rows_per_page=25&$q" | wrk_stats)
    echo "| $name | $rps | $p50 | $p99 | $bad |"
  done
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
done
