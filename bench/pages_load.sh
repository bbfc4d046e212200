#!/usr/bin/env bash
# Staff pages under load (issues 4 and 13): with demo tasks on SQLite, PostgreSQL and MariaDB,
# p50/p99 and req/s of an authenticated GET /view_tasks (no filter; a surname filter; a date
# range) at 8 and 16 connections, each with its ratio to a route of the same binary that touches
# no database (GET /login without a cookie) measured in the same run; on MariaDB also the
# server's Com_stmt_prepare and Com_stmt_execute over the /view_tasks runs; POST /login
# throughput (bounded by bcrypt) against cores / bcrypt time; and the p99 of authenticated page
# views while a login storm runs. Loopback only; each database is made fresh and dropped.
# Usage: bench/pages_load.sh [tasks] [seconds-per-run]   (needs wrk)
# BACKENDS (default "sqlite postgres mysql") picks backends; CONNS (default "8 16") the
# connection counts; NO_LOGINS=1 skips the login storm; BIN runs a given binary instead of
# building one; BIN_LIST="before=/path/a after=/path/b" measures several binaries in turn on
# the same database (the login storm then runs on the last server started); PG_URL_PARAMS is appended to the PostgreSQL URL (e.g. "?sslmode=disable").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
TASKS=${1:-1000000}
SECS=${2:-10}
port=18432
bench_build postgres,mysql --bin camcops-web --example bcrypt_time
BCRYPT_MS=$("$CARGO_TARGET_DIR/release/examples/bcrypt_time" 12)
bin=${BIN:-$CARGO_TARGET_DIR/release/camcops-web}
PW='bench-password-42'
bench_init pages-bench
server_log=
stmt_counts() { # MariaDB: "prepares executes" so far (server-wide)
  mariadb_q "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_stmt_prepare','Com_stmt_execute')" \
    | awk '$1=="Com_stmt_prepare" {p=$2} $1=="Com_stmt_execute" {e=$2} END {print p, e}'
}

set_filter() { # cookie, extra form fields
  local cookie=$1 body=$2 token
  token=$(bench_csrf /set_filters -H "Cookie: $cookie")
  curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" --data "csrf_token=$token&set_filters=1&$body" "http://127.0.0.1:$port/set_filters"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F); tasks: $TASKS"
echo "bcrypt cost 12: $BCRYPT_MS ms per hash; cores / bcrypt time = $(awk -v c="$(nproc)" -v m="$BCRYPT_MS" 'BEGIN {printf "%.1f", c*1000/m}') logins/s at most"
for backend in ${BACKENDS:-sqlite postgres mysql}; do
  bench_db "$backend" "${PG_URL_PARAMS:-}"
  bench_config ALLOW_INSECURE_COOKIES=True DB_POOL_SIZE=16
  start=$(date +%s.%N)
  "$bin" --config "$conf" demo-data --patients 20000 --tasks "$TASKS" --seed 1 >/dev/null
  echo
  echo "### $backend: demo-data --patients 20000 --tasks $TASKS took $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e-s}') s"
  bench_superusers "$PW" bench_plain bench_surname bench_dates bench_menu storm
  bench_serve warn
  RUNNING=$bin
  C_PLAIN=$(bench_login bench_plain "$PW"); C_SURNAME=$(bench_login bench_surname "$PW")
  C_DATES=$(bench_login bench_dates "$PW"); C_MENU=$(bench_login bench_menu "$PW")
  # A surname that exists in the demo data; a 30-day window in the middle of the data.
  SURNAME=$(curl -s -H "Cookie: $C_PLAIN" "http://127.0.0.1:$port/view_tasks?rows_per_page=25" | grep -o '<td class="patient">[^<,]*' | head -1 | sed 's/.*>//' || true)
  [ -n "$SURNAME" ] || SURNAME=SMITH
  s1=$(set_filter "$C_SURNAME" "surname=$SURNAME")
  s2=$(set_filter "$C_DATES" "start_datetime=$(date -u -d '-400 days' +%Y-%m-%dT00:00)&end_datetime=$(date -u -d '-370 days' +%Y-%m-%dT00:00)")
  echo "(filters set: surname '$SURNAME' → $s1, dates → $s2)"
  # Each binary of BIN_LIST in turn on the same database and sessions (the cookie secret is
  # the config's), so that builds are compared within one run.
  for entry in ${BIN_LIST:-this=$bin}; do
    label=${entry%%=*}; entry_bin=${entry#*=}
    if [ "$entry_bin" != "$RUNNING" ]; then
      bench_stop
      bench_serve warn "$entry_bin"
      RUNNING=$entry_bin
    fi
    echo
    echo "| $backend, $label | conns | req/s | p50 | p99 | ratio to the no-DB route |"
    echo "|---|---|---|---|---|---|"
    [ "$backend" = mysql ] && read -r prep0 exec0 < <(stmt_counts)
    for c in ${CONNS:-8 16}; do
      read -r nrps np50 np99 _ < <(wrk -t2 -c"$c" -d"${SECS}s" --latency "http://127.0.0.1:$port/login" | wrk_stats)
      echo "| GET /login, no cookie (no database) | $c | $nrps | $np50 | $np99 | 1 |"
      for v in "no filter:$C_PLAIN" "surname filter:$C_SURNAME" "date-range filter:$C_DATES" "main menu:$C_MENU"; do
        name=${v%%:*}; cookie=${v#*:}
        page=/view_tasks; [ "$name" = "main menu" ] && page=/
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port$page")
        [ "$code" = 200 ] || { echo "GET $page ($name) answered $code, not 200" >&2; exit 1; }
        read -r rps p50 p99 _ < <(wrk -t2 -c"$c" -d"${SECS}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$page" | wrk_stats)
        echo "| GET $page, $name | $c | $rps | $p50 | $p99 | $(awk -v a="$rps" -v n="$nrps" 'BEGIN {printf "%.4f", a/n}') |"
      done
    done
    if [ "$backend" = mysql ]; then
      read -r prep1 exec1 < <(stmt_counts)
      echo
      echo "MariaDB over the runs above (server-wide status counters): Com_stmt_prepare +$((prep1 - prep0)), Com_stmt_execute +$((exec1 - exec0))"
    fi
  done
  if [ -n "${NO_LOGINS:-}" ]; then
    bench_stop
    continue
  fi
  # Login storm: POST /login with the right password as fast as 4 connections go.
  JAR=$work/jar.storm; rm -f "$JAR"
  TOKEN=$(bench_csrf /login -c "$JAR" -b "$JAR")
  SCOOKIE=$(jar_cookie "$JAR")
  cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = "username=storm&password=$PW&redirect_url=%2F&csrf_token=$TOKEN"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "$SCOOKIE"
LUA
  read -r lrps lp50 lp99 _ < <(wrk -t2 -c4 -d"${SECS}s" --latency -s "$work/login.lua" "http://127.0.0.1:$port/login" | wrk_stats)
  echo "| POST /login (4 connections, correct password) | $lrps logins/s | $lp50 | $lp99 |"
  wrk -t1 -c4 -d"$((SECS + 2))s" -s "$work/login.lua" "http://127.0.0.1:$port/login" >/dev/null &
  STORM=$!
  sleep 1
  read -r mrps mp50 mp99 _ < <(wrk -t1 -c16 -d"${SECS}s" --latency -H "Cookie: $C_MENU" "http://127.0.0.1:$port/" | wrk_stats)
  wait $STORM || true
  echo "| GET / (main menu) during the login storm | $mrps | $mp50 | $mp99 |"
  bench_stop
done
