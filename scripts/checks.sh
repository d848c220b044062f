#!/usr/bin/env bash
# The static checks `npm test` runs before building and testing (so CI runs them too):
# eslint, the type check of src/ and of the tests, the formatting, and gofmt and go vet for the
# egress proxy (scripts/check-go.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run lint --silent
npm run typecheck --silent
npm run format:check --silent
bash scripts/check-go.sh
