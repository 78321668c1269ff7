#!/usr/bin/env bash
# Make sure what the tests talk to is here and running: PostgreSQL, Redis and RabbitMQ (the broker
# the end-to-end test runs a deploy on besides Redis) on 127.0.0.1, and Node.js with npm for the
# Prisma CLI interop tests, and Debian's Chromium for the console's browser tests. Starts what is installed but stopped and
# installs with apt-get what is missing. Safe to run again: it only acts on what is wrong.
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432
REDIS_PORT_NUM=6379
APT_UPDATED=0

say() { echo "ensure-services: $*" >&2; }

apt_install() {
  if ! command -v apt-get >/dev/null; then
    say "cannot install $* without apt-get; install it and run again"; exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq; APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

postgres_ready() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" 2>/dev/null; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql postgresql-client
  fi
  if ! postgres_ready; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do postgres_ready && break; sleep 1; done
  fi
  postgres_ready || { say "PostgreSQL did not start on $PGHOST_ADDR:$PGPORT_NUM"; exit 1; }
  # Tests connect over TCP as postgres without a password (trust), as on the development machines.
  if ! psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    local hba
    hba=$(as_root su postgres -c "psql -Atqc 'show hba_file'")
    say "allowing trust authentication from 127.0.0.1 and ::1 in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    as_root su postgres -c "psql -Atqc 'select pg_reload_conf()'" >/dev/null
  fi
}

redis_ready() { redis-cli -h "$PGHOST_ADDR" -p "$REDIS_PORT_NUM" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis_ready; then
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT_NUM" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
  fi
  redis_ready || { say "Redis did not start on $PGHOST_ADDR:$REDIS_PORT_NUM"; exit 1; }
}

rabbitmq_ready() { as_root rabbitmqctl -q await_startup --timeout 2 >/dev/null 2>&1; }

ensure_rabbitmq() {
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  if ! rabbitmq_ready; then
    say "starting RabbitMQ"
    # Debian's init script (no systemd in containers); it runs the server as the rabbitmq user.
    as_root /etc/init.d/rabbitmq-server start >/dev/null 2>&1 \
      || as_root su rabbitmq -s /bin/sh -c 'rabbitmq-server -detached' || true
    as_root rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 || true
  fi
  rabbitmq_ready || { say "RabbitMQ did not start on $PGHOST_ADDR:5672"; exit 1; }
}

ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
}

# The browser tests (tests/browser) drive Debian's Chromium with Playwright, which never downloads its own.
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

case "${1:-all}" in
  postgres) ensure_postgres ;;
  redis) ensure_redis ;;
  rabbitmq) ensure_rabbitmq ;;
  node) ensure_node ;;
  chromium) ensure_chromium ;;
  all) ensure_postgres; ensure_redis; ensure_rabbitmq; ensure_node; ensure_chromium ;;
  *) say "usage: $0 [postgres|redis|rabbitmq|node|chromium|all]"; exit 2 ;;
esac
