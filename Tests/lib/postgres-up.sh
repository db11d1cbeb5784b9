#!/usr/bin/env bash
# Starts Debian's PostgreSQL (installed by scripts/test) and prepares a fresh, empty test
# database owned by a test role. Prints the connection URL on stdout; everything else to stderr.
#
#   VBOOT_TEST_POSTGRES=$(Tests/lib/postgres-up.sh)
#   VBOOT_PG_SOCKET=1 Tests/lib/postgres-up.sh   the URL over the Unix socket instead of TCP: it
#                                                reaches the server from inside network namespaces
#
# Needs root (it runs pg_ctlcluster and psql as the postgres user). Idempotent.
set -euo pipefail

DB=${VBOOT_TEST_DB:-vboot_test}
ROLE=vboot_test
PASSWORD=vboot_test

command -v pg_lsclusters >/dev/null || { echo "postgres-up: postgresql is not installed" >&2; exit 1; }
cluster=$(pg_lsclusters --no-header | awk 'NR == 1 { print $1 " " $2 " " $4 }')
if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    echo "postgres-up: creating cluster $version/main" >&2
    pg_createcluster "$version" main >&2
    cluster=$(pg_lsclusters --no-header | awk 'NR == 1 { print $1 " " $2 " " $4 }')
fi
read -r version name status <<<"$cluster"
if [ "$status" != online ]; then
    echo "postgres-up: starting cluster $version/$name" >&2
    pg_ctlcluster "$version" "$name" start >&2
fi
port=$(pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $3 }')

as_postgres() { (cd / && su postgres -c "$*"); }
for _ in $(seq 1 50); do
    as_postgres "psql -p $port -qtAc 'SELECT 1'" >/dev/null 2>&1 && break
    sleep 0.2
done
as_postgres "psql -p $port -qtAc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'; END IF; END \\\$\\\$\"" >&2
# Password logins for the test role over the Unix socket too (Debian's default there is peer).
hba=$(as_postgres "psql -p $port -qtAc 'SHOW hba_file'")
rule="local all $ROLE scram-sha-256"
if ! grep -qxF "$rule" "$hba"; then
    { echo "$rule"; cat "$hba"; } >"$hba.vboot" && cat "$hba.vboot" >"$hba" && rm -f "$hba.vboot"
    as_postgres "psql -p $port -qtAc 'SELECT pg_reload_conf()'" >/dev/null
fi
as_postgres "dropdb -p $port --if-exists --force $DB" >&2
as_postgres "createdb -p $port -O $ROLE $DB" >&2
if [ "${VBOOT_PG_SOCKET:-0}" = 1 ]; then
    socket=$(as_postgres "psql -p $port -qtAc 'SHOW unix_socket_directories'" | cut -d, -f1)
    echo "postgres://$ROLE:$PASSWORD@localhost:$port/$DB?host=$socket"
else
    echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$port/$DB?sslmode=disable"
fi
