#!/usr/bin/env bash
# `make run`: the API (gunicorn), a Celery worker with its beat (the reconciler) on this machine,
# against local PostgreSQL and Redis (or the broker DEPLOY_GATE_BROKER_URL names), with the
# development targets file (config/dev.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

PGURL_ADMIN="postgresql://postgres@127.0.0.1:5432/postgres"
for database in deploy_gate deploy_gate_target deploy_gate_demo deploy_gate_shadow; do
  if ! psql "$PGURL_ADMIN" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    psql "$PGURL_ADMIN" -qc "CREATE DATABASE $database" >/dev/null
    echo "run: created database $database"
  fi
done

export DEPLOY_GATE_DATABASE_URL="${DEPLOY_GATE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/deploy_gate}"
export DEPLOY_GATE_BROKER_URL="${DEPLOY_GATE_BROKER_URL:-${DEPLOY_GATE_REDIS_URL:-redis://127.0.0.1:6379/0}}"
export DEPLOY_GATE_CONFIG="${DEPLOY_GATE_CONFIG:-config/dev.toml}"
export LOCAL_TARGET_DATABASE_URL="${LOCAL_TARGET_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/deploy_gate_target}"
export DEMO_TARGET_DATABASE_URL="${DEMO_TARGET_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/deploy_gate_demo}"
export LOCAL_SHADOW_DATABASE_URL="${LOCAL_SHADOW_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/deploy_gate_shadow}"
# A development key for the console's session cookies (config/dev.toml); production sets its own secret.
export DEPLOY_GATE_CONSOLE_SECRET="${DEPLOY_GATE_CONSOLE_SECRET:-dev-console-session-secret-not-for-production}"
PORT="${PORT:-8080}"

.venv/bin/deploy-gate migrate-store  # the release step: the API and workers only check the store is current

.venv/bin/celery -A workers.celery_app worker --beat --concurrency=2 -Q deploy_gate &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM

echo "run: API on http://127.0.0.1:$PORT (token: dev-token; console: http://127.0.0.1:$PORT/console/), worker pid $WORKER"
echo "run: the CLI is $PWD/.venv/bin/deploy-gate; in another shell: . .venv/bin/activate && export DEPLOY_GATE_TOKEN=dev-token"
.venv/bin/gunicorn "service.http.wsgi:application()" --bind "127.0.0.1:$PORT"  # settings: gunicorn.conf.py
