#!/usr/bin/env bash
# SLA report benchmark (issue 9): the tier report over one year with
# 1,000,000 seeded tickets, on SQLite and PostgreSQL, release build.
#
#   benches/reports.sh              # seed (once) and time both backends
#   TICKETS=100000 benches/reports.sh
#
# `tusk seed` spreads the tickets over two years (rising volume) and fills
# their SLA facts (ticket_sla) from the same history; the report covers the
# last 365 days (about 60 % of the tickets). Timed with hyperfine, end to end:
# process start, opening the database, `tusk report sla --group-by tier
# --format json` (every section: compliance with median/p90, breach list,
# backlog, weekly volume), output discarded.
#
# Needs: target/release/tusk (cargo build --release), hyperfine, psql, and
# PostgreSQL at $TUSK_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/test; a database tusk_bench_reports is
# created and kept for reruns, like the SQLite file under $WORK; set
# FRESH=1 to seed again).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/target/release/tusk}
PG=${TUSK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
TICKETS=${TICKETS:-1000000}
WORK=${WORK:-/tmp/tusk-bench-reports-$TICKETS}
PGDB=tusk_bench_reports_$TICKETS
PGURL="${PG%/*}/$PGDB"
test -x "$BIN" || { echo "build first: cargo build --release" >&2; exit 1; }
FROM=$(date -u -d '364 days ago' +%F)
TO=$(date -u +%F)

if [ "${FRESH:-0}" = 1 ]; then
    rm -rf "$WORK"
    psql "$PG" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
fi
mkdir -p "$WORK"
if [ ! -f "$WORK/seeded" ]; then
    echo "== seeding $TICKETS tickets into SQLite"
    /usr/bin/time -f "seed sqlite: %e s, %M KB max RSS" env TUSK_DATA_DIR=$WORK TUSK_DATABASE_URL=sqlite://$WORK/tusk.db \
        RUST_LOG=warn "$BIN" seed --tickets "$TICKETS"
    touch "$WORK/seeded"
fi
if ! psql "$PG" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PGDB'" | grep -q 1; then
    psql "$PG" -qc "CREATE DATABASE $PGDB"
    echo "== seeding $TICKETS tickets into PostgreSQL"
    /usr/bin/time -f "seed postgres: %e s, %M KB max RSS" env TUSK_DATA_DIR=$WORK/pg TUSK_DATABASE_URL=$PGURL \
        RUST_LOG=warn "$BIN" seed --tickets "$TICKETS"
    # What autovacuum would do shortly after a bulk load.
    psql "$PGURL" -qc "VACUUM ANALYZE"
fi

in_range() { # tickets in the report range, for the record
    echo "tickets opened $FROM..$TO: $(TUSK_DATA_DIR=$1 TUSK_DATABASE_URL=$2 RUST_LOG=warn "$BIN" report sla \
        --from "$FROM" --to "$TO" --format csv | tail -1 | cut -d, -f4)"
}

# hyperfine when installed, else five runs under GNU time. RUST_LOG shows
# the time of each stage of the report (tusk::reports at debug level).
timed() { # data_dir database_url
    local cmd="env TUSK_DATA_DIR=$1 TUSK_DATABASE_URL=$2 RUST_LOG=warn $BIN report sla --from $FROM --to $TO --group-by tier --format json"
    if command -v hyperfine >/dev/null; then
        hyperfine --warmup 1 --runs 5 -N "$cmd"
    else
        for _ in 1 2 3 4 5; do /usr/bin/time -f "%e s wall, %M KB max RSS" $cmd >/dev/null; done
    fi
    env TUSK_DATA_DIR="$1" TUSK_DATABASE_URL="$2" RUST_LOG=tusk::reports=debug "$BIN" report sla \
        --from "$FROM" --to "$TO" --group-by tier --format json 2>&1 >/dev/null | sed 's/\x1b\[[0-9;]*m//g'
}
echo "== SQLite"
in_range "$WORK" "sqlite://$WORK/tusk.db"
timed "$WORK" "sqlite://$WORK/tusk.db"
echo "== PostgreSQL"
in_range "$WORK/pg" "$PGURL"
timed "$WORK/pg" "$PGURL"
