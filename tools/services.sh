#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis servers the tests use are up.
# Starts the local services if they are installed but stopped; installs them
# from Debian's packages on a machine that lacks them. Never skips silently.
set -euo pipefail

PGHOST=127.0.0.1 PGPORT=5432 REDIS_PORT=6379

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "services: need root to install $*" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# --- PostgreSQL -------------------------------------------------------------
if ! have pg_ctlcluster || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  apt_install postgresql
fi
if ! pg_up; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "services: PostgreSQL did not start on $PGHOST:$PGPORT" >&2; exit 1; }
# The tests connect as postgres over TCP without a password (trust), to database test.
if ! psql -h "$PGHOST" -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  su postgres -c "psql -Atc \"select 1 from pg_database where datname='test'\"" | grep -q 1 ||
    su postgres -c "createdb test"
  hba=$(su postgres -c "psql -Atc 'show hba_file'")
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    su postgres -c "psql -Atc 'select pg_reload_conf()'" >/dev/null
  fi
fi
psql -h "$PGHOST" -U postgres -d test -Atc 'select 1' >/dev/null

# --- Redis ------------------------------------------------------------------
have redis-server || apt_install redis-server
if ! redis_up; then
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
fi
redis_up || { echo "services: Redis did not start on 127.0.0.1:$REDIS_PORT" >&2; exit 1; }
echo "services: PostgreSQL and Redis are up"
