#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages (if missing), starts a throwaway server on
# 127.0.0.1 as the unprivileged 'postgres' user (or as yourself when not root), data in a temp
# dir, and prints on stdout the one line for the services' integration tests:
#   export GROUNDWORK_TEST_DATABASE_URL=postgres://groundwork@127.0.0.1:PORT/postgres?sslmode=disable
# Usage: eval "$(bash .ci/postgres.sh)". Everything else goes to stderr. Loopback only, trust
# auth: a test server, never a deployment.
set -euo pipefail

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "postgres.sh: PostgreSQL is not installed and installing it needs root (apt-get install postgresql)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --) # initdb refuses to run as root
fi

port=${GROUNDWORK_TEST_PGPORT:-55432}
free_port() {
  while "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1)) # taken: by an earlier run or anything else
  done
}

dir=$(mktemp -d /tmp/groundwork-pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U groundwork --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
# Another server can take the port between the check and the start: then try the next one.
for attempt in 1 2 3 4 5; do
  free_port
  if "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=256MB" start >&2; then
    break
  fi
  if [ "$attempt" -eq 5 ] || ! grep -q "Address already in use" "$dir/server.log"; then
    cat "$dir/server.log" >&2; exit 1
  fi
  port=$((port + 1))
done
echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir (stop: ${as_pg[*]} $bin/pg_ctl -D $dir/data stop)" >&2
echo "export GROUNDWORK_TEST_DATABASE_URL=postgres://groundwork@127.0.0.1:$port/postgres?sslmode=disable"
