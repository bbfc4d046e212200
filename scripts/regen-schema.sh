#!/usr/bin/env bash
# Regenerates src/db/schema.rs from migrations/sqlite with diesel print-schema.
#
#   scripts/regen-schema.sh           rewrite src/db/schema.rs
#   scripts/regen-schema.sh --check   only compare; exit 1 (and show the diff) if it differs
#
# The migrations are applied to a throw-away SQLite file, never to a real database. Needs
# diesel_cli with SQLite; if `diesel` is missing it is installed (a few minutes, once):
#   cargo install diesel_cli --no-default-features --features sqlite-bundled --locked
set -euo pipefail

mode=write
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
schema=src/db/schema.rs

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v diesel >/dev/null 2>&1; then
    echo "diesel_cli not found; installing it (SQLite only, bundled)"
    cargo install diesel_cli --no-default-features --features sqlite-bundled --locked
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A config of our own for `migration run`: with the project's diesel.toml it would also
# rewrite src/db/schema.rs as a side effect (print_schema.file), which --check must not do.
printf '[migrations_directory]\ndir = "%s"\n' "$root/migrations/sqlite" > "$tmp/migrate.toml"
diesel migration run --config-file "$tmp/migrate.toml" --database-url "$tmp/schema.sqlite" >/dev/null
# print-schema reads the project's diesel.toml (its [print_schema] options) and prints to stdout.
diesel print-schema --database-url "$tmp/schema.sqlite" > "$tmp/schema.rs"

if [[ "$mode" == check ]]; then
    if diff -u "$schema" "$tmp/schema.rs"; then
        echo "$schema is up to date with migrations/sqlite"
    else
        echo "$schema differs from what diesel print-schema generates from migrations/sqlite (diff above)." >&2
        echo "Run scripts/regen-schema.sh and commit the result (or fix the migration)." >&2
        exit 1
    fi
else
    cp "$tmp/schema.rs" "$schema"
    echo "wrote $schema"
fi
