#!/usr/bin/env bash
# `tusk serve` start-up time on an empty SQLite database (spawn to the first
# 200 from /healthz, migrations included) and idle RSS, over N runs.
#   benches/startup.sh [N]      (needs target/release/tusk)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/target/release/tusk
N=${1:-10}
PORT=18182
for i in $(seq 1 "$N"); do
    dir=$(mktemp -d /tmp/tusk-startup.XXXXXX)
    start=$(date +%s%N)
    TUSK_DATA_DIR=$dir TUSK_DATABASE_URL=sqlite://$dir/tusk.db TUSK_SERVER_BIND=127.0.0.1:$PORT RUST_LOG=warn \
        "$BIN" serve >/dev/null 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do sleep 0.002; done
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    if [ "$i" -eq "$N" ]; then
        sleep 5
        rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
        echo "idle RSS after 5 s: ${rss} KiB"
    fi
    kill -TERM $pid; wait $pid 2>/dev/null || true
    rm -rf "$dir"
    echo "run $i: ${ms} ms to healthy"
done | sort -t: -k2 -n
