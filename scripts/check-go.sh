#!/usr/bin/env bash
# The egress proxy's static checks (part of scripts/checks.sh): gofmt and go vet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
gofmt_bin="$(dirname "$(bash scripts/go.sh --path)")/gofmt"
unformatted="$("$gofmt_bin" -l images/egress-proxy)"
if [ -n "$unformatted" ]; then
  printf 'gofmt: these files need formatting (run %s -w images/egress-proxy):\n%s\n' "$gofmt_bin" "$unformatted" >&2
  exit 1
fi
bash scripts/go.sh vet ./...
