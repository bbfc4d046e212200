#!/usr/bin/env bash
# Failed-login timing: does a wrong password answer as fast for an unknown username as for a
# real user with a CamCOPS cost-6 hash or a cost-12 hash (BCRYPT_COST 12)? For each kind, N
# wrong-password attempts through the tablet API and through the web login form, one at a
# time, interleaved (so that load changes hit every kind alike); prints the median of each
# and the spread of the medians ((max - min) / min). The target is a spread under 10 %.
#
# Needs: curl, sqlite3 and a build (`cargo build --release`, or BIN=target/debug/camcops-web:
# dependencies, bcrypt included, are optimised in the dev profile too). Only ever talks to
# 127.0.0.1.
#
# Usage: bench/login_timing.sh          (SQLite in a temporary directory)
#   N=50 PORT=8766 BCRYPT_COST=12 BIN=target/debug/camcops-web bench/login_timing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bin="${BIN:-$PWD/target/release/camcops-web}"
n="${N:-50}"
port="${PORT:-8766}"
cost="${BCRYPT_COST:-12}"
pass='plum-tractor-violin-42'
wrong='Wrong-Password-2026'
# The `admin` hash CamCOPS 2.4.24 wrote (cost 6), as in tests/fixtures.
# shellcheck disable=SC2016 # a literal hash, nothing to expand
camcops_hash='$2a$06$oj5CQnhXtKYng4izhf2n9usFTh7aJu06NXLrioO2N5gFpFnZiftFG'

[ -x "$bin" ] || { echo "build first: cargo build --release (or set BIN)" >&2; exit 1; }

bench_init timing-bench
# No lockout and no per-address budget during the measurement (both would answer without a
# password check); cookies over plain HTTP for the web form on 127.0.0.1.
bench_config BCRYPT_COST="$cost" LOCKOUT_THRESHOLD=1000000 LOGIN_FAILURES_PER_ADDRESS=0 \
    ALLOW_INSECURE_COOKIES=True
bench_superusers "$pass" user12 user6
sqlite3 "$db" "UPDATE _security_users SET hashedpw = '$camcops_hash' WHERE username = 'user6';"
echo "== stored hashes: $(sqlite3 "$db" "SELECT username || ' ' || substr(hashedpw, 1, 7) FROM _security_users ORDER BY username" | tr '\n' ' ')"

bench_serve error
base="http://127.0.0.1:$port"

api_time() {  # $1 = username: seconds of one wrong-password API call
    curl -sS -o /dev/null -w '%{time_total}\n' -X POST \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data "operation=check_device_registered&device=tab1&camcops_version=2.4.15&user=$1&password=$wrong" \
        "$base/api"
}

web_time() {  # $1 = username: seconds of one wrong-password POST /login (form fetched first)
    local jar="$work/jar" token
    rm -f "$jar"
    token="$(bench_csrf /login -c "$jar" -b "$jar")"
    curl -sS -o /dev/null -b "$jar" -c "$jar" -w '%{time_total}\n' -X POST \
        --data-urlencode "username=$1" --data-urlencode "password=$wrong" \
        --data-urlencode "csrf_token=$token" --data-urlencode "redirect_url=/" "$base/login"
}

kinds="nosuchuser user6 user12"
# Warm-up (dummy hash creation, connections).
for k in $kinds; do api_time "$k" >/dev/null; web_time "$k" >/dev/null; done
for _ in $(seq 1 "$n"); do
    for k in $kinds; do
        api_time "$k" >> "$work/api_$k"
        web_time "$k" >> "$work/web_$k"
    done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "== $n wrong-password attempts per kind, BCRYPT_COST=$cost, median seconds"
printf '%-6s %-24s %-24s %-24s %s\n' path "unknown user" "user, cost-6 hash" "user, cost-12 hash" "spread"
for path in api web; do
    m1="$(median "$work/${path}_nosuchuser")"
    m2="$(median "$work/${path}_user6")"
    m3="$(median "$work/${path}_user12")"
    spread="$(awk -v a="$m1" -v b="$m2" -v c="$m3" 'BEGIN {lo=a; hi=a; if (b<lo) lo=b; if (c<lo) lo=c; if (b>hi) hi=b; if (c>hi) hi=c; printf "%.1f %%", 100*(hi-lo)/lo}')"
    printf '%-6s %-24s %-24s %-24s %s\n' "$path" "$m1" "$m2" "$m3" "$spread"
done
echo "== failure rows: $(sqlite3 "$db" 'SELECT COUNT(*) FROM _security_login_failures')"
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== binary: $bin"
