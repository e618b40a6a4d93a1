#!/usr/bin/env bash
# Shared install step of start.sh and test.sh: the pinned Bun (through npm when missing), then
# the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=$(sed -n 's/.*"packageManager": *"bun@\([^"]*\)".*/\1/p' package.json)
if ! command -v bun >/dev/null 2>&1 || [ "$(bun --version)" != "$BUN_VERSION" ]; then
  echo "installing bun@$BUN_VERSION through npm" >&2
  npm install -g "bun@$BUN_VERSION" >&2
  hash -r
fi
bun install --frozen-lockfile >&2
