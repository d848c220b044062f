#!/usr/bin/env bash
# The static checks `npm test` runs before building and testing (so CI runs them too):
# eslint, then the type check of src/ and of the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run lint --silent
npm run typecheck --silent
# Formatting: enable the next line once the whole tree has been formatted (`npm run format`).
# npm run format:check --silent
