#!/usr/bin/env bash
# README's first command: install, then start the gateway on an embedded SQLite file with the
# built-in upstream simulator registered as channel "demo".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bun run build >&2
export DEMO="${DEMO:-1}"
# It prints a root access token, so it listens on loopback only unless HOST says otherwise
# (HOST=0.0.0.0 exposes it on purpose). `bun run start` keeps the 0.0.0.0 default.
export HOST="${HOST:-127.0.0.1}"
exec bun run src/index.ts
