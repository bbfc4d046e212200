#!/usr/bin/env bash
# The audit trail at scale (issue 12): with 1,000,000 rows in _security_audit on SQLite and
# PostgreSQL, p50/p99 and req/s of an authenticated superuser GET /view_audit_trail (25 rows,
# newest first) at 16 connections, unfiltered and with each kind of filter. Loopback only.
# Usage: bench/audit_load.sh [rows] [seconds-per-run]   (needs wrk, sqlite3, psql)
# BACKENDS="postgres" runs one backend only (default: sqlite postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROWS=${1:-1000000}
SECS=${2:-10}
port=18433
bench_build postgres --bin camcops-web
bin=$CARGO_TARGET_DIR/release/camcops-web
PW='bench-password-42'
bench_init audit-bench
server_log=

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
  bench_db "$backend"
  bench_config ALLOW_INSECURE_COOKIES=True DB_POOL_SIZE=16 BCRYPT_COST=4
  # shellcheck disable=SC2046 # the 50 user names, one word each
  bench_superusers "$PW" $(seq -f 'benchuser%g' 1 50)
  start=$(date +%s.%N)
  if [ "$backend" = sqlite ]; then
    sqlite3 "$db" "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $ROWS)
      INSERT INTO _security_audit (when_access_utc, source, remote_addr, user_id, table_name, server_pk, details)
      SELECT strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || ($ROWS - n) || ' minutes'), $SQL_BODY FROM s; ANALYZE;"
  else
    pg_q -d "$db_name" -c "INSERT INTO _security_audit (when_access_utc, source, remote_addr, user_id, table_name, server_pk, details)
      SELECT (now() AT TIME ZONE 'UTC') - (($ROWS - n) * interval '1 minute'), $SQL_BODY FROM generate_series(1, $ROWS) AS s(n); ANALYZE;" >/dev/null
  fi
  echo
  echo "### $backend: $ROWS audit rows inserted in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e-s}') s"
  bench_serve warn
  COOKIE=$(bench_login benchuser1 "$PW")
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
    read -r rps p50 p99 bad < <(wrk -t2 -c16 -d"${SECS}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$port/view_audit_trail?rows_per_page=25&$q" | wrk_stats)
    echo "| $name | $rps | $p50 | $p99 | $bad |"
  done
  bench_stop
done
