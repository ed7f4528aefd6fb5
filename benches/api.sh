#!/usr/bin/env bash
# JSON API load benchmark (issue 7): `GET /api/v1/tickets` (50 per page, with
# filters, keyset pages) over N tickets (default 100,000), 32 concurrent
# connections, wrk. Target: p99 under 30 ms.
#
#   benches/api.sh sqlite [N]
#   benches/api.sh postgres [N]     (database tusk_api_bench_N on postgres://postgres@127.0.0.1:5432)
#
# Needs target/release/tusk (or BIN=path; built when missing), wrk and curl.
# The dataset is generated once with `tusk seed --tickets N` and reused by
# later runs (delete /tmp/tusk-api-bench-* to start over). Runs wrk once per
# URL (DURATION each, default 15s, after WARM unmeasured, default 2s) and
# once over all of them in turn (benches/api_tickets.lua), printing wrk's
# latency distribution.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:-sqlite}
N=${2:-100000}
BIN=${BIN:-$PWD/target/release/tusk}
DIR=/tmp/tusk-api-bench-$BACKEND-$N
PORT=${PORT:-18290}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
[ -x "$BIN" ] || cargo build --release --bin tusk
mkdir -p "$DIR"
export TUSK_DATA_DIR=$DIR RUST_LOG=warn TUSK_SMTP_WORKER_ENABLED=false
case "$BACKEND" in
    sqlite) export TUSK_DATABASE_URL=sqlite://$DIR/tusk.db ;;
    postgres)
        DB=tusk_api_bench_$N
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
    "$BIN" admin create-token --name api-bench --scopes tickets:read 2>/dev/null >"$DIR/token"
    touch "$DIR/seeded"
fi
# Migrations added since the dataset was seeded; then fresh planner
# statistics (autovacuum may be off, as on the CI machine, and a bulk load
# leaves none behind).
"$BIN" migrate >/dev/null
[ "$BACKEND" = postgres ] && psql -h 127.0.0.1 -U postgres -d "$DB" -qc "VACUUM ANALYZE" >/dev/null
TOKEN=$(cat "$DIR/token")
TUSK_SERVER_BIND=127.0.0.1:$PORT "$BIN" serve >/dev/null 2>"$DIR/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
# Measured after the SLA evaluator's first pass, which compares every ticket
# with its SLA row (about 1.5 s of one core over a million tickets; later
# passes look only at recently updated tickets).
sleep "${WARMUP:-10}"
BASE=http://127.0.0.1:$PORT
AUTH="Authorization: Bearer $TOKEN"

# A second page: the cursor of the first page of a filtered queue.
Q="/api/v1/tickets?status=new,open,pending&priority=high,urgent"
CURSOR=$(curl -sf -H "$AUTH" "$BASE$Q" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
INSTITUTION=$(curl -sf -H "$AUTH" "$BASE/api/v1/tickets?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tickets"][0]["institution_id"])')

URLS=(
    "/api/v1/tickets"
    "$Q"
    "$Q&cursor=$CURSOR"
    "/api/v1/tickets?status=new,open&assignee=none"
    "/api/v1/tickets?plan=managed&status=open,pending,on_hold"
    "/api/v1/tickets?tag=federation&status=open,pending"
    "/api/v1/tickets?institution_id=$INSTITUTION&status=solved,closed"
    "/api/v1/tickets?needs_triage=true"
    "/api/v1/tickets?sort=priority&status=open"
    "/api/v1/tickets?sort=created&order=asc&created_from=2026-01-01T00:00:00Z"
)
for path in "${URLS[@]}"; do
    rows=$(curl -s -H "$AUTH" "$BASE$path" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tickets"]))')
    code=$(curl -s -o /dev/null -w "%{http_code}" -H "$AUTH" "$BASE$path")
    echo "== $path (HTTP $code, $rows rows)"
    # Unmeasured: every pooled connection prepares the statement and
    # PostgreSQL settles on its plan for it (custom plans for the first five
    # runs on each connection, 1-3 ms of planning each); measured is the
    # steady state.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARM:-2s}" -H "$AUTH" "$BASE$path" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" "$BASE$path" \
        | grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx|errors"
done
printf '%s\n' "${URLS[@]}" >"$DIR/urls"
echo "== all of the above in turn (benches/api_tickets.lua)"
URLS_FILE=$DIR/urls wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" \
    -s benches/api_tickets.lua "$BASE" | grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx|errors"
