# Shared by the bench scripts that run one camcops-web on SQLite in a temporary directory:
# source it after setting `bin` and `port`. Only ever talks to 127.0.0.1.

# Makes the working directory ($work, with $db and $conf in it), removed on exit with the
# server. $1: a name for the directory.
bench_init() {
    work="$(mktemp -d "/tmp/camcops-$1.XXXXXX")"
    server_pid=""
    db="$work/camcops.sqlite"
    conf="$work/camcops.conf"
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}

# Writes $conf for $db on 127.0.0.1:$port with BCRYPT_COST $1; further `sed -e` expressions
# may follow. Then creates the schema.
bench_config() {
    local cost="$1"
    shift
    "$bin" demo-camcops-config --db-url "sqlite://$db" > "$conf"
    sed -i -e "s/^PORT = .*/PORT = $port/" -e "s/^HOST = .*/HOST = 127.0.0.1/" \
        -e "s/^BCRYPT_COST = .*/BCRYPT_COST = $cost/" "$@" "$conf"
    "$bin" --config "$conf" upgrade-db >/dev/null
}

# Starts the server (log level $1, log in $work/server.log) and waits until it answers.
bench_serve() {
    RUST_LOG="$1" "$bin" --config "$conf" serve > "$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the server did not answer; its log:" >&2
    cat "$work/server.log" >&2
    return 1
}
