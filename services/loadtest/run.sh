#!/usr/bin/env bash
# Load test of the user service's read and write endpoints (ES256 tokens verified in the path), the read
# side by side with a bare net/http + pgx handler, against a real PostgreSQL on
# loopback. Starts PostgreSQL with .ci/postgres.sh unless GROUNDWORK_TEST_DATABASE_URL is set.
# Bounded: each phase stops at DURATION or REQUESTS, whichever comes first.
#   bash services/loadtest/run.sh            # 16 clients, 10s per phase
#   CLIENTS=32 DURATION=20s bash services/loadtest/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${GROUNDWORK_TEST_DATABASE_URL:-}" ]; then
  eval "$(bash .ci/postgres.sh)"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$out/user" ./services/user
go build -o "$out/loadtest" ./services/loadtest
"$out/loadtest" -bin "$out/user" -clients "${CLIENTS:-16}" -duration "${DURATION:-10s}" -requests "${REQUESTS:-200000}" -profiles "${PROFILES:-2000}"
