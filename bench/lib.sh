# Shared by the five bench scripts: one camcops-web at a time on a fresh SQLite, PostgreSQL or
# MariaDB database, with its config, log and cookie jars in a temporary directory; the database,
# the directory and the server go on exit. Source it from the repository root, set `bin` (the
# binary) and `port` and call bench_init. Only ever talks to 127.0.0.1 (PostgreSQL on 5432 as
# user postgres, MariaDB on 3306 as root).
# shellcheck shell=bash
# shellcheck disable=SC2154 # bin and port are the sourcing script's

# The release build with features $1 (and the cargo target arguments that follow), in
# $CARGO_TARGET_DIR (default: target).
bench_build() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
    cargo build --release --features "$1" -q "${@:2}"
}

# Makes the working directory ($work, with $conf in it) and names the database of this run:
# $db (the SQLite file) and $db_name (the PostgreSQL or MariaDB database). $1: a name for both.
# The server's output goes to $server_log; set it empty to let it through to this terminal.
bench_init() {
    work="$(mktemp -d "/tmp/camcops-$1.XXXXXX")"
    server_pid=""
    server_log="$work/server.log"
    db="$work/camcops.sqlite"
    db_url="sqlite://$db"
    db_name="camcops_${1//-/_}_$$"
    made_dbs=""
    conf="$work/camcops.conf"
    trap bench_cleanup EXIT
}

# Stops the server, drops the databases bench_db made and removes $work.
bench_cleanup() {
    bench_stop
    case " $made_dbs " in *" postgres "*) pg_q -c "DROP DATABASE IF EXISTS $db_name" >/dev/null 2>&1 || true ;; esac
    case " $made_dbs " in *" mysql "*) mariadb_q "DROP DATABASE IF EXISTS $db_name" >/dev/null 2>&1 || true ;; esac
    rm -rf "$work"
}

# A psql or mysql client on the local server as its superuser.
pg_q() { psql -q -h 127.0.0.1 -U postgres "$@"; }
mariadb_q() { mysql -h127.0.0.1 -P3306 -uroot -N -B -e "$1"; }

# A fresh, empty database on backend $1 (sqlite, postgres or mysql), its URL in $db_url; $2 is
# appended to a PostgreSQL URL (e.g. "?sslmode=disable").
bench_db() {
    case $1 in
      sqlite)
        rm -f "$db"*
        db_url="sqlite://$db" ;;
      postgres)
        made_dbs="$made_dbs postgres"
        pg_q -c "DROP DATABASE IF EXISTS $db_name" >/dev/null
        pg_q -c "CREATE DATABASE $db_name" >/dev/null
        db_url="postgres://postgres@127.0.0.1:5432/$db_name${2:-}" ;;
      mysql)
        made_dbs="$made_dbs mysql"
        mariadb_q "DROP DATABASE IF EXISTS $db_name"
        mariadb_q "CREATE DATABASE $db_name CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        db_url="mysql://root@127.0.0.1:3306/$db_name" ;;
      *) echo "unknown backend $1" >&2; exit 2 ;;
    esac
}

# Writes $conf for $db_url, serving on 127.0.0.1:$port, with further settings as KEY=VALUE
# arguments (e.g. BCRYPT_COST=4); then creates the schema.
bench_config() {
    local setting
    local edits=(-e "s/^PORT = .*/PORT = $port/" -e "s/^HOST = .*/HOST = 127.0.0.1/")
    for setting in "$@"; do
        edits+=(-e "s/^${setting%%=*} = .*/${setting%%=*} = ${setting#*=}/")
    done
    "$bin" demo-camcops-config --db-url "$db_url" | sed "${edits[@]}" > "$conf"
    "$bin" --config "$conf" upgrade-db >/dev/null
}

# Makes superusers $2... with the password $1.
bench_superusers() {
    local pw="$1" user
    shift
    for user in "$@"; do
        "$bin" --config "$conf" make-superuser --username "$user" --password "$pw" >/dev/null
    done
}

# Starts the server (log level $1; binary $2, default $bin) and waits until it answers.
bench_serve() {
    local binary="${2:-$bin}"
    if [ -n "$server_log" ]; then
        RUST_LOG="$1" "$binary" --config "$conf" serve > "$server_log" 2>&1 &
    else
        RUST_LOG="$1" "$binary" --config "$conf" serve &
    fi
    server_pid=$!
    for _ in $(seq 1 200); do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the server did not answer in 20 s" >&2
    [ -z "$server_log" ] || { echo "its log:" >&2; cat "$server_log" >&2; }
    return 1
}

bench_stop() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    server_pid=""
}

# The CSRF token of the form at path $1, fetched with the curl arguments that follow (a cookie
# jar or a Cookie header); empty if the page has none.
bench_csrf() {
    local path="$1"
    shift
    curl -s "$@" "http://127.0.0.1:$port$path" | grep -o 'name="csrf_token" value="[^"]*"' \
        | head -1 | sed 's/.*value="//; s/"$//' || true
}

# The session cookie in cookie jar $1, as a Cookie header value.
jar_cookie() { awk '$6=="camcops" {print "camcops=" $7}' "$1"; }

# Logs user $1 in with password $2 as a browser does (the login form's CSRF token, then POST
# /login with its cookie jar), agrees the terms of use if asked and prints the Cookie header
# value of the session; fails unless the main menu then answers 200.
bench_login() {
    local jar="$work/jar.$1" token cookie code
    rm -f "$jar"
    token="$(bench_csrf /login -c "$jar" -b "$jar")"
    curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "username=$1" --data-urlencode "password=$2" \
        --data-urlencode "csrf_token=$token" --data-urlencode redirect_url=/ "http://127.0.0.1:$port/login"
    agree_terms "$jar"
    cookie="$(jar_cookie "$jar")"
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port/")"
    [ "$code" = 200 ] || { echo "login as $1 failed (GET / answered $code)" >&2; return 1; }
    echo "$cookie"
}

# Cookie jar $1: agrees the terms of use if the server offers them (a new user must).
agree_terms() {
    local jar="$1" token
    token="$(bench_csrf /offer_terms -c "$jar" -b "$jar")"
    [ -z "$token" ] || curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
        --data-urlencode submit=1 "http://127.0.0.1:$port/offer_terms"
}

# wrk --latency output on stdin -> "rps p50 p99 non2xx" (non2xx: the count of non-2xx/3xx
# answers, 0 if wrk reports none).
wrk_stats() {
    awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {bad=$NF} END {print r, p50, p99, (bad==""?0:bad)}'
}
