#!/usr/bin/env bash
# The main job on the root sandboxshift.yaml: make the machine ready, then validate, plan,
# apply, and plan again to show that nothing is left to do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
npm run build --silent
# A demo value for the quickstart's secret; a real one comes from your environment.
export QUICKSTART_API_KEY="${QUICKSTART_API_KEY:-demo-key-not-a-real-secret}"
ss() { echo "\$ sandboxshift $*"; node dist/cli/main.js "$@"; }
ss validate
echo
ss plan
echo
ss apply --auto-approve
echo
ss plan --detailed-exitcode
echo
ss status
