#!/usr/bin/env bash
# README's first command: install, then start the gateway on an embedded SQLite file with the
# built-in upstream simulator registered as channel "demo".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bun run build >&2
export DEMO="${DEMO:-1}"
exec bun run src/index.ts
