#!/usr/bin/env bash
# README's second command: install, type check, run every test, print "N passed, N failed".
# The PostgreSQL suites run against a private cluster started here (installed when missing) and
# stopped at the end; the system cluster is never touched.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
# What the suites need from Debian, installed when missing with one `apt-get update`: Chromium for
# the dashboard's browser tests, PostgreSQL's server binaries for the PostgreSQL suites.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (apt)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # The suites run their own private cluster: keep the package from creating a system one.
  if [[ " ${need[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common &&
      echo 'create_main_cluster = false' | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
    echo "could not install ${need[*]}; the tests that need them will fail" >&2
fi
echo "== typecheck"
if ! bun run typecheck; then
  echo "typecheck failed"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "== PostgreSQL"
if ! pg=$(bash scripts/pg-cluster.sh start); then
  echo "could not start a private PostgreSQL cluster"
  echo "0 passed, 1 failed"
  exit 1
fi
PGDIR=$(printf '%s\n' "$pg" | sed -n 's/^PGDIR=//p')
export TEST_DATABASE_URL=$(printf '%s\n' "$pg" | sed -n 's/^DATABASE_URL=//p')
trap 'bash scripts/pg-cluster.sh stop "$PGDIR"' EXIT
echo "private cluster in $PGDIR"
echo "== tests"
log=$(mktemp)
# Integration tests start real servers and processes: give them room on a 2-core machine.
bun test --timeout 30000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | awk '{print $1}')
fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | awk '{print $1}')
rm -f "$log"
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$rc"
