#!/usr/bin/env bash
# Inbound email benchmarks (issue "Inbound email"), on the release binary.
#
#   benches/ingest.sh            # all three
#   benches/ingest.sh ingest     # tusk ingest: 10,000 corpus messages with unique
#                                #   Message-IDs into SQLite and PostgreSQL (msg/s)
#   benches/ingest.sh http       # POST /inbound/email, 8 concurrent clients (wrk)
#   benches/ingest.sh rss        # peak RSS of ingesting a 1 GB mbox
#
# Needs: target/release/tusk (cargo build --release), ../shared/corpus/email,
# wrk and GNU time (apt-get install wrk time), PostgreSQL at
# $TUSK_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test;
# a database tusk_bench_ingest is created and dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/target/release/tusk
CORPUS=${TUSK_CORPUS_DIR:-$PWD/../shared/corpus/email}
PG=${TUSK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d /tmp/tusk-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
test -x "$BIN" || { echo "build first: cargo build --release" >&2; exit 1; }
what=${1:-all}

pg_db() { # replace the database of $PG by $1
    echo "${PG%/*}/$1"
}

bench_ingest() {
    python3 benches/make_mbox.py "$CORPUS" "$WORK/10k.mbox" --count 10000
    echo "== tusk ingest, SQLite"
    TUSK_DATA_DIR=$WORK/sqlite TUSK_DATABASE_URL=sqlite://$WORK/sqlite/tusk.db RUST_LOG=warn \
        "$BIN" migrate >/dev/null
    TUSK_DATA_DIR=$WORK/sqlite TUSK_DATABASE_URL=sqlite://$WORK/sqlite/tusk.db RUST_LOG=warn \
        "$BIN" ingest --quiet "$WORK/10k.mbox"
    echo "== tusk ingest, PostgreSQL"
    psql "$PG" -qc "DROP DATABASE IF EXISTS tusk_bench_ingest" -qc "CREATE DATABASE tusk_bench_ingest"
    TUSK_DATA_DIR=$WORK/pg TUSK_DATABASE_URL=$(pg_db tusk_bench_ingest) RUST_LOG=warn "$BIN" migrate >/dev/null
    TUSK_DATA_DIR=$WORK/pg TUSK_DATABASE_URL=$(pg_db tusk_bench_ingest) RUST_LOG=warn \
        "$BIN" ingest --quiet "$WORK/10k.mbox"
    psql "$PG" -qc "DROP DATABASE IF EXISTS tusk_bench_ingest WITH (FORCE)"
}

bench_http() {
    local port=18181
    echo "== POST /inbound/email, 8 connections, 20 s (SQLite, durable on commit)"
    TUSK_DATA_DIR=$WORK/http TUSK_DATABASE_URL=sqlite://$WORK/http/tusk.db TUSK_SERVER_BIND=127.0.0.1:$port \
        TUSK_MAIL_INBOUND_TOKEN=bench-token TUSK_MAIL_LOOP_LIMIT_PER_HOUR=100000000 RUST_LOG=warn \
        "$BIN" serve &
    local pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    wrk -t8 -c8 -d20s --latency -s benches/inbound_post.lua "http://127.0.0.1:$port/inbound/email"
    kill -TERM $pid; wait $pid || true
}

bench_rss() {
    python3 benches/make_mbox.py "$CORPUS" "$WORK/1g.mbox" --bytes 1073741824
    echo "== peak RSS of tusk ingest of a 1 GB mbox (SQLite)"
    TUSK_DATA_DIR=$WORK/rss TUSK_DATABASE_URL=sqlite://$WORK/rss/tusk.db RUST_LOG=warn "$BIN" migrate >/dev/null
    TUSK_DATA_DIR=$WORK/rss TUSK_DATABASE_URL=sqlite://$WORK/rss/tusk.db RUST_LOG=warn \
        /usr/bin/time -f "peak RSS %M KiB, %e s" "$BIN" ingest --quiet "$WORK/1g.mbox"
}

case $what in
    ingest) bench_ingest ;;
    http) bench_http ;;
    rss) bench_rss ;;
    all) bench_ingest; bench_http; bench_rss ;;
    *) echo "usage: $0 [ingest|http|rss|all]" >&2; exit 2 ;;
esac
