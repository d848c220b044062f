#!/usr/bin/env bash
# Runs Go for the egress proxy (images/egress-proxy): `go` on PATH, else Debian's golang-1.19-go
# (which installs outside PATH). `scripts/go.sh --path` prints the binary it would run.
set -euo pipefail
go_bin="$(command -v go || true)"
[ -n "$go_bin" ] || { [ -x /usr/lib/go-1.19/bin/go ] && go_bin=/usr/lib/go-1.19/bin/go; }
if [ -z "$go_bin" ]; then
  printf 'go.sh: no Go here: run scripts/setup.sh (as root on Debian it installs golang-1.19-go), or apt-get install golang-1.19-go\n' >&2
  exit 1
fi
if [ "${1:-}" = "--path" ]; then
  printf '%s\n' "$go_bin"
  exit 0
fi
cd "$(dirname "${BASH_SOURCE[0]}")/../images/egress-proxy"
exec "$go_bin" "$@"
