#!/usr/bin/env bash
# A private S3-compatible server for the image store's tests: s3rver (a devDependency pinned in
# package.json, run by Bun) in a temp folder on a free loopback port, with one bucket.
#   scripts/s3-server.sh start   → prints `S3DIR=<folder>`, `S3_ENDPOINT=<url>` and `S3_BUCKET=<name>`
#                                  (MJ_S3_OWNER_PID=<pid>: stopped once that process is gone)
#   scripts/s3-server.sh stop <folder>
# Its credentials are s3rver's fixed test account (S3RVER / S3RVER). Fails loudly (exit 1, the
# server's log on stderr) when the server cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
BUCKET=mj-test
BIN=node_modules/s3rver/bin/s3rver.js

start() {
  if [ ! -f "$BIN" ]; then
    echo "s3rver is not installed: run bun install (it is a devDependency)" >&2
    exit 1
  fi
  local dir port
  dir=$(mktemp -d /tmp/mj-gateway-s3.XXXXXX)
  mkdir -p "$dir/data"
  # Port 0: the server picks a free one and says which on its first line.
  setsid bun "$BIN" -d "$dir/data" -a 127.0.0.1 -p 0 --configure-bucket "$BUCKET" -s \
    </dev/null >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  # Up to 60 s: a loaded 2-core machine (the suite beside it) can take long to start Bun.
  for _ in $(seq 1 600); do
    port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/server.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "${port:-}" ]; then
    echo "the S3 test server (s3rver) did not start:" >&2
    cat "$dir/server.log" >&2
    stop "$dir"
    exit 1
  fi
  echo "S3DIR=$dir"
  if [ -n "${MJ_S3_OWNER_PID:-}" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"' _ \
      "$MJ_S3_OWNER_PID" "$0" "$dir" </dev/null >/dev/null 2>&1 &
  fi
  echo "S3_ENDPOINT=http://127.0.0.1:$port"
  echo "S3_BUCKET=$BUCKET"
}

stop() {
  local dir=$1 pid
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    # Its own session (setsid): the whole group goes.
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  fi
  case "$dir" in /tmp/mj-gateway-s3.*) rm -rf "$dir" ;; esac
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?folder}" ;;
  *) echo "usage: $0 start | stop <folder>" >&2; exit 2 ;;
esac
