#!/usr/bin/env bash
# Mail outbox throughput to an SMTP sink on loopback, in release mode.
#
#   benches/outbox.sh [MESSAGES] [POOL_SIZE] [BATCH_SIZE] [DATABASE_URL]
#
# Queues MESSAGES acknowledgement rows (default 5000) for one ticket, then
# times the real mail worker draining them: claim with a lease, render the
# built-in templates, compose, send through lettre's pooled async SMTP
# transport (POOL_SIZE connections, default 4) to the in-process sink of
# tests/support/smtp_sink.rs over TCP, and record `sent`. Prints messages/s.
# DATABASE_URL defaults to a fresh SQLite file; a PostgreSQL URL must name an
# empty database.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example outbox_bench -- "$@"
