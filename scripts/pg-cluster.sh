#!/usr/bin/env bash
# A private PostgreSQL cluster for the test suite and the benchmark: a temp folder, a free
# loopback port, never the system cluster. Installs Debian's `postgresql` when it is missing.
#   scripts/pg-cluster.sh start   → prints `PGDIR=<folder>` and `DATABASE_URL=<url>` lines
#                                   (MJ_PG_OWNER_PID=<pid>: stopped once that process is gone)
#   scripts/pg-cluster.sh stop <folder>
#   scripts/pg-cluster.sh halt <folder> [fast|immediate]   stops the server, keeps the folder (outage
#                                            tests; `immediate` is a crash: no shutdown packets)
#   scripts/pg-cluster.sh resume <folder>   starts it again on the same port
#   scripts/pg-cluster.sh restart <folder>  both (open connections are cut)
set -euo pipefail

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

# As root the server binaries run as the `postgres` user; as anyone else, as that user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_pg() {
  if [ -z "$(pg_bin)" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "PostgreSQL is not installed and this is not root: install Debian's postgresql package" >&2
      exit 1
    fi
    echo "installing Debian's postgresql (for the PostgreSQL suites)" >&2
    if [ ! -f /tmp/.mj-gateway-apt-updated ]; then apt-get update -qq >&2 && touch /tmp/.mj-gateway-apt-updated; fi
    # Only the binaries are wanted: keep the package from creating a system cluster.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  install_pg
  local bin dir port
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/mj-gateway-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; exit 1; }
  for attempt in 1 2 3; do
    port=$(free_port)
    # Kept in the folder so `resume` starts the same server on the same port.
    echo "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >"$dir/opts"
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$(cat "$dir/opts")" start >/dev/null 2>&1; then
      echo "PGDIR=$dir"
      # A test process that dies (or a runner that runs no exit hooks, as `bun test`) must not
      # leave its cluster behind: a detached watchdog stops it once the owner is gone.
      if [ -n "${MJ_PG_OWNER_PID:-}" ]; then
        setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"' _ \
          "$MJ_PG_OWNER_PID" "$0" "$dir" </dev/null >/dev/null 2>&1 &
      fi
      echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
  done
  cat "$dir/server.log" >&2
  exit 1
}

stop() {
  local dir=$1 bin
  bin=$(pg_bin)
  [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

halt() {
  as_pg "$(pg_bin)/pg_ctl" -D "$1/data" -m "${2:-fast}" -w stop >/dev/null
}

resume() {
  as_pg "$(pg_bin)/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 -o "$(cat "$1/opts")" start >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?folder}" ;;
  halt) halt "${2:?folder}" "${3:-fast}" ;;
  resume) resume "${2:?folder}" ;;
  restart) halt "${2:?folder}" && resume "$2" ;;
  *) echo "usage: $0 start | stop <folder> | halt <folder> | resume <folder> | restart <folder>" >&2; exit 2 ;;
esac
