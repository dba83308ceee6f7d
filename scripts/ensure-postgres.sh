#!/usr/bin/env bash
# Make sure the PostgreSQL server the tests need answers; start the local cluster if it is down.
# Fails (exit 1) when it cannot: the tests never skip PostgreSQL.
set -euo pipefail
HOST="${OPSREL_TEST_PG_HOST:-127.0.0.1}"
PORT="${OPSREL_TEST_PG_PORT:-5432}"

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "ensure-postgres: pg_isready not found; PostgreSQL client tools are required" >&2
  exit 1
fi
if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
  if [ -n "$version" ]; then
    echo "ensure-postgres: starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
fi
for _ in $(seq 1 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "ensure-postgres: PostgreSQL is not reachable at $HOST:$PORT; the tests need it" >&2
exit 1
