#!/usr/bin/env bash
# README's second command: install, type check, run every test, print "N passed, N failed".
# The PostgreSQL suites run against a private cluster started here (installed when missing) and
# stopped at the end; the system cluster is never touched. The S3 image store suites run against
# an S3-compatible server (s3rver) started here the same way.
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
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
# CPU seconds (user + system) of this (sub)shell's finished children, as the `times` builtin reports
# them: it runs in this shell (in a pipe or $(...) it would see a fresh subshell's zeros).
cpu() {
  local f
  f=$(mktemp)
  times >"$f"
  awk 'END { t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] } printf "%.1f s", t }' "$f"
  rm -f "$f"
}
# The HTTP suites whose test server runs on either database (tests/helpers/server.ts): the second
# pass runs them again on PostgreSQL (TEST_BACKEND=postgres), next to the first pass.
BOTH_DATABASES=(
  tests/integration/auth.test.ts
  tests/integration/listing.test.ts tests/integration/listing-filters.test.ts tests/integration/listing-bounds.test.ts tests/integration/listing-heavy.test.ts
  tests/integration/relay-*.test.ts
  tests/integration/image-forwarder.test.ts tests/integration/image-store.test.ts tests/integration/image-encoding.test.ts
  tests/integration/image-rendition.test.ts
  tests/integration/webhooks.test.ts
  # The dashboard's browser suites; image-weight (20 full-size grids, a minute of CPU) reads no
  # database path the others do not, so it runs once.
  tests/browser/button-names.test.ts tests/browser/dashboard-first-hour.test.ts tests/browser/dashboard.test.ts
  tests/browser/deep-links.test.ts tests/browser/reconcile.test.ts
)
# A step that cannot run ends the run as one failure, with the last line CI reads.
give_up() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}
started=$(now)
echo "== typecheck"
t=$(now)
bun run typecheck || give_up "typecheck failed"
echo "typecheck took $(took "$t")"
echo "== lint (Biome: rules and formatting)"
t=$(now)
bun run lint || give_up "lint failed"
echo "lint took $(took "$t")"
echo "== PostgreSQL"
t=$(now)
pg=$(bash scripts/pg-cluster.sh start) || give_up "could not start a private PostgreSQL cluster"
PGDIR=$(printf '%s\n' "$pg" | sed -n 's/^PGDIR=//p')
export TEST_DATABASE_URL=$(printf '%s\n' "$pg" | sed -n 's/^DATABASE_URL=//p')
log=$(mktemp)
pglog=$(mktemp)
pgonlylog=$(mktemp)
S3DIR=""
trap 'bash scripts/pg-cluster.sh stop "$PGDIR"; [ -n "$S3DIR" ] && bash scripts/s3-server.sh stop "$S3DIR"; rm -f "$log" "$pglog" "$pgonlylog"' EXIT
echo "private cluster in $PGDIR (started in $(took "$t"))"
# The image store's S3 suites run against a real S3-compatible server (s3rver, a devDependency):
# started here once, stopped at the end; one that cannot start fails the run (never a skip).
echo "== S3-compatible server"
t=$(now)
s3=$(bash scripts/s3-server.sh start) || give_up "could not start the S3-compatible test server (scripts/s3-server.sh)"
S3DIR=$(printf '%s\n' "$s3" | sed -n 's/^S3DIR=//p')
export TEST_S3_ENDPOINT=$(printf '%s\n' "$s3" | sed -n 's/^S3_ENDPOINT=//p')
export TEST_S3_BUCKET=$(printf '%s\n' "$s3" | sed -n 's/^S3_BUCKET=//p')
echo "S3 server at $TEST_S3_ENDPOINT (started in $(took "$t"))"
# Integration tests start real servers and processes: give them room on a 2-core machine.
# Named files run once, as named; with none, the second pass runs alongside the first.
# The PostgreSQL-only files (tests/integration/pg-*.test.ts, about a minute) join the second pass,
# after its HTTP suites, so the two passes take about as long as each other.
pgpid=""
first=("$@")
if [ $# -eq 0 ]; then
  PG_ONLY=(tests/integration/pg-*.test.ts)
  mapfile -t first < <(find tests -name '*.test.ts' ! -path 'tests/integration/pg-*' | sort)
  echo "== tests on PostgreSQL (${#BOTH_DATABASES[@]} files on PostgreSQL, then the ${#PG_ONLY[@]} PostgreSQL-only files; in the background, shown after the first pass)"
  ( t=$(now); TEST_BACKEND=postgres bun test --timeout 30000 "${BOTH_DATABASES[@]}" >"$pglog" 2>&1; rc=$?
    bun test --timeout 30000 "${PG_ONLY[@]}" >"$pgonlylog" 2>&1; rc2=$?
    cat "$pgonlylog" >>"$pglog"
    { echo -n "pass on PostgreSQL took $(took "$t") ("; cpu; echo " CPU, the database server's not counted)"; } >>"$pglog"
    [ "$rc" -eq 0 ] && rc=$rc2; exit "$rc" ) &
  pgpid=$!
fi
echo "== tests"
t=$(now)
( bun test --timeout 30000 "${first[@]}" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  echo -n "first pass took $(took "$t") ("; cpu; echo " CPU, the database server's not counted)"; exit "$rc" )
rc=$?
count() { grep -E "^ *[0-9]+ $1\$" "$2" | tail -1 | awk '{print $1}'; }
pass=$(count pass "$log")
fail=$(count fail "$log")
pass=${pass:-0}
fail=${fail:-0}
if [ -n "$pgpid" ]; then
  wait "$pgpid"
  pgrc=$?
  echo "== tests on PostgreSQL (TEST_BACKEND=postgres)"
  cat "$pglog"
  # Two runs in that log: the HTTP suites' summary, then the PostgreSQL-only files'.
  pgpass=$(grep -E '^ *[0-9]+ pass$' "$pglog" | awk '{n += $1} END {print n + 0}')
  pgfail=$(grep -E '^ *[0-9]+ fail$' "$pglog" | awk '{n += $1} END {print n + 0}')
  [ "$(grep -cE '^ *[0-9]+ pass$' "$pglog")" -lt 2 ] && [ "${pgfail:-0}" -eq 0 ] && pgfail=1
  # A pass that ended without its summary (a crash) counts as a failure.
  [ "$pgrc" -ne 0 ] && [ "${pgfail:-0}" -eq 0 ] && pgfail=1
  echo "PostgreSQL pass: ${pgpass:-0} passed, ${pgfail:-0} failed"
  pass=$((pass + ${pgpass:-0}))
  fail=$((fail + ${pgfail:-0}))
  [ "$pgrc" -ne 0 ] && [ "$rc" -eq 0 ] && rc=$pgrc
fi
echo "all tests took $(took "$started") (typecheck included)"
echo "${pass} passed, ${fail} failed"
exit "$rc"
