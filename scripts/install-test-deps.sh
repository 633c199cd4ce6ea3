#!/usr/bin/env bash
# The servers the test suite runs inside test hosts (PostgreSQL and Redis, from Debian's
# packages): installed where missing, left alone where present. Needs root (apt-get).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Debian keeps initdb and postgres off PATH, under /usr/lib/postgresql/<version>/bin.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: postgresql and redis-server are installed"
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
