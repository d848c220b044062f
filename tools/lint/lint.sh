#!/usr/bin/env bash
# `npm run lint`: eslint from tools/lint, installed there first when missing or out of date
# (its own node_modules; see package.json beside this file for why).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "lint: npm ci in tools/lint" >&2
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >&2
fi
cd "$here/../.."
exec node "$here/node_modules/eslint/bin/eslint.js" --max-warnings 0 "$@" .
