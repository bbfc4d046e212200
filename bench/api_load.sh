#!/usr/bin/env bash
# Tablet API load test: requests/s of `check_upload_user_and_device` with a reused API session
# (no password check) at 16 concurrent connections, against the first-call cost (username and
# password, one bcrypt and one new session per request).
#
# Needs: wrk, curl, sqlite3 (for the SQLite default) and a release build
# (`cargo build --release`). Only ever talks to 127.0.0.1.
#
# Usage: bench/api_load.sh            (SQLite in a temporary directory)
#   DURATION=30s CONNECTIONS=16 THREADS=2 PORT=8765 BCRYPT_COST=12 bench/api_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bin="${BIN:-$PWD/target/release/camcops-web}"
duration="${DURATION:-20s}"
first_duration="${FIRST_DURATION:-30s}"
conns="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
port="${PORT:-8765}"
cost="${BCRYPT_COST:-12}"
user=benchuser
pass='plum-tractor-violin-42'
device=benchtab

[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }

bench_init api-bench
bench_config BCRYPT_COST="$cost"
bench_superusers "$pass" "$user"
# An upload group for the user (superusers may upload into their upload group).
sqlite3 "$db" "INSERT INTO _security_groups (name, description) VALUES ('bench', 'benchmark');
  UPDATE _security_users SET upload_group_id = (SELECT id FROM _security_groups WHERE name = 'bench')
  WHERE username = '$user';"

bench_serve warn
url="http://127.0.0.1:$port/api"

api() { curl -fsS -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data "$1" "$url"; }
common="device=$device&camcops_version=2.4.15&user=$user"

# Register the device through the API itself (one password check).
api "operation=register&$common&password=$pass&devicefriendlyname=Benchmark" | grep -q '^success:1' \
    || { echo "register failed" >&2; cat "$work/server.log" >&2; exit 1; }

# One login; the reused-session body carries the id and token, no password.
reply="$(api "operation=check_upload_user_and_device&$common&password=$pass")"
sid="$(printf '%s\n' "$reply" | sed -n 's/^session_id://p')"
tok="$(printf '%s\n' "$reply" | sed -n 's/^session_token://p')"
if [ -z "$sid" ] || [ "$sid" = 0 ]; then echo "login failed: $reply" >&2; exit 1; fi

run() {  # $1 = label, $2 = duration, $3 = body
    echo "== $1 ($conns connections, $threads threads, $2)"
    API_BODY="$3" wrk -t"$threads" -c"$conns" -d"$2" --timeout 60s --latency \
        -s bench/api_post.lua "$url"
}

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run "reused API session (no password)" "$duration" \
    "operation=check_upload_user_and_device&$common&session_id=$sid&session_token=$tok"
run "first call (username + password, BCRYPT_COST=$cost)" "$first_duration" \
    "operation=check_upload_user_and_device&$common&password=$pass"

# The cost of one first call on its own (no concurrency): 5 sequential logins.
echo "== one first call at a time (seconds):"
for _ in 1 2 3 4 5; do
    curl -sS -o /dev/null -w '%{time_total}\n' -X POST \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data "operation=check_upload_user_and_device&$common&password=$pass" "$url"
done | sort -n | awk '{a[NR]=$1} END {printf "min %s, median %s, max %s\n", a[1], a[3], a[5]}'
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== session rows after the run: $(sqlite3 "$db" 'SELECT COUNT(*) FROM _security_webviewer_sessions')"
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
