#!/usr/bin/env bash
# Console load benchmark: the queue pages and the ticket page with N tickets
# (default 1,000,000) in the database, 32 concurrent connections, wrk.
#
#   benches/console.sh sqlite [N]
#   benches/console.sh postgres [N]      (uses postgres://postgres@127.0.0.1:5432/tusk_console_bench)
#
# Needs target/release/tusk (or BIN=path), wrk and curl. The dataset is
# generated once with `tusk seed` and reused by later runs (delete
# /tmp/tusk-console-bench-* to start over; DIR=… and PGDB=… reuse another
# seeded dataset, e.g. the one of benches/reports.sh). Prints wrk's latency
# distribution (p50/p90/p99) per URL.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:-sqlite}
N=${2:-1000000}
BIN=${BIN:-$PWD/target/release/tusk}
DIR=${DIR:-/tmp/tusk-console-bench-$BACKEND-$N}
PORT=${PORT:-18190}
DURATION=${DURATION:-20s}
mkdir -p "$DIR"
export TUSK_DATA_DIR=$DIR RUST_LOG=warn
case "$BACKEND" in
    sqlite) export TUSK_DATABASE_URL=sqlite://$DIR/tusk.db ;;
    postgres)
        DB=${PGDB:-tusk_console_bench_$N}
        psql -h 127.0.0.1 -U postgres -d test -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
            || psql -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $DB" >/dev/null
        export TUSK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
        # Three connections per core when PostgreSQL runs on the same two
        # cores: requests queue for a connection in arrival order, and more
        # connections only add backends competing for the CPU (p99 60-90 ms
        # with 16, 40-55 ms with 6).
        export TUSK_DATABASE_POOL_SIZE=${POOL_SIZE:-6} ;;
    *) echo "usage: $0 sqlite|postgres [N]" >&2; exit 2 ;;
esac
if [ ! -f "$DIR/seeded" ]; then
    "$BIN" migrate >/dev/null
    echo "seeding $N tickets ($BACKEND)..."
    /usr/bin/time -f "seed: %e s" "$BIN" seed --tickets "$N"
    touch "$DIR/seeded"
fi
# Migrations added since the dataset was seeded; then fresh planner
# statistics (autovacuum may be off, as on the CI machine, and a bulk load
# leaves none behind).
"$BIN" migrate >/dev/null
[ "$BACKEND" = postgres ] && psql -h 127.0.0.1 -U postgres -d "$DB" -qc "VACUUM ANALYZE" >/dev/null
if [ ! -f "$DIR/bench-agent" ]; then
    echo "bench-password-123" | "$BIN" admin create-agent --email bench@tusk.example --name Bench --role admin >/dev/null
    touch "$DIR/bench-agent"
fi
TUSK_SERVER_BIND=127.0.0.1:$PORT "$BIN" serve >/dev/null 2>"$DIR/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
# Measured after the SLA evaluator's first pass, which compares every ticket
# with its SLA row (about 1.5 s of one core over a million tickets; later
# passes look only at recently updated tickets).
sleep "${WARMUP:-10}"

# Sign in like a browser: the login form's CSRF cookie and token, then POST.
JAR=$DIR/cookies
rm -f "$JAR"
TOKEN=$(curl -s -c "$JAR" "http://127.0.0.1:$PORT/console/login" | sed -n 's/.*name="_csrf" value="\([0-9a-f]*\)".*/\1/p' | head -n1)
curl -s -b "$JAR" -c "$JAR" -o /dev/null -w "sign-in: %{http_code}\n" \
    --data "_csrf=$TOKEN&email=bench%40tusk.example&password=bench-password-123" "http://127.0.0.1:$PORT/console/login"
SESSION=$(awk '$6 == "tusk_session" {print $7}' "$JAR")
[ -n "$SESSION" ] || { echo "sign-in failed" >&2; exit 1; }
TICKET=$((N / 2))

for path in "/console/tickets?queue=unassigned" "/console/tickets?queue=due" "/console/tickets?queue=all" \
            "/console/tickets?queue=all&plan=managed&priority=high" "/console/tickets/$TICKET"; do
    code=$(curl -s -o /dev/null -w "%{http_code}" -b "tusk_session=$SESSION" "http://127.0.0.1:$PORT$path")
    echo "== $path (HTTP $code)"
    wrk -t2 -c32 -d"$DURATION" --latency -H "Cookie: tusk_session=$SESSION" "http://127.0.0.1:$PORT$path" \
        | grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx"
done
