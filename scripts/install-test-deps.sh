#!/usr/bin/env bash
# The servers the test suite runs inside test hosts (PostgreSQL, Redis and MariaDB, from
# Debian's packages): installed where missing, left alone where present. Needs root (apt-get).
# MariaDB (for mysql2): about 25 s to install on the reference machine; the tests make their own
# data folder and start the server themselves (the package's own service is never used).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Debian keeps initdb and postgres off PATH, under /usr/lib/postgresql/<version>/bin.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
# The server is in /usr/sbin, which an ordinary user's PATH leaves out.
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: postgresql, redis-server and mariadb-server are installed"
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
