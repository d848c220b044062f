#!/usr/bin/env bash
# Makes this machine ready for SandboxShift: a Docker engine that answers (with gVisor's runsc
# registered when we install it), Node dependencies, the small busybox test image, and Podman's
# Docker-compatible API beside it (scripts/setup-podman.sh; SANDBOXSHIFT_PODMAN=0 skips it).
# Idempotent: every step checks first. Safe to run on every CI run and every session.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_dir="${SANDBOXSHIFT_STATE_DIR:-/var/tmp/sandboxshift}"
dockerd_log="$state_dir/dockerd.log"
mkdir -p "$state_dir"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

engine_answers() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

is_debian_root() {
  [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -q >"$state_dir/apt.log" 2>&1 || die "apt-get update failed; see $state_dir/apt.log"
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$state_dir/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed; see $state_dir/apt.log"
}

write_daemon_config() {
  # runsc needs --network=host on kernels where its netstack cannot take over the veth.
  local cfg=/etc/docker/daemon.json
  [ -f "$cfg" ] && grep -q '"runsc"' "$cfg" && return 0
  [ -f "$cfg" ] && { log "$cfg exists without runsc; leaving it alone"; return 0; }
  mkdir -p /etc/docker
  cat >"$cfg" <<'JSON'
{
  "runtimes": {
    "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=host"] }
  }
}
JSON
}

start_engine() {
  if engine_answers; then
    log "Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST. Start it, or unset DOCKER_HOST to use the local socket."
  fi
  if ! is_debian_root; then
    die "no Docker engine answers on /var/run/docker.sock. Start Docker (or set DOCKER_HOST), or run this script as root on Debian to install docker.io."
  fi
  apt_install docker.io runsc
  write_daemon_config
  log "starting dockerd (log: $dockerd_log)"
  nohup dockerd >"$dockerd_log" 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && { log "Docker engine is up"; return 0; }
    sleep 1
  done
  tail -20 "$dockerd_log" >&2 || true
  die "dockerd did not answer within 60 s; see $dockerd_log"
}

install_node_deps() {
  cd "$here"
  # A worktree whose node_modules links to another checkout's: npm ci would empty that one
  # through the link (it did once). Leave it to whoever owns it.
  if [ -L node_modules ]; then
    log "node_modules links to $(readlink node_modules); not running npm ci here (run setup in that checkout)"
    return 0
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
}

build_test_image() {
  local tag=sandboxshift/busybox:test
  if docker image inspect "$tag" >/dev/null 2>&1; then return 0; fi
  local bb=/bin/busybox
  if ! [ -x "$bb" ] || ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
    is_debian_root && apt_install busybox-static
  fi
  [ -x "$bb" ] || die "busybox-static is needed for the test image: apt-get install busybox-static"
  log "building $tag from $bb"
  local ctx; ctx="$(mktemp -d)"
  cp "$bb" "$ctx/busybox"
  cp "$here/images/test-busybox/Dockerfile" "$ctx/Dockerfile"
  docker build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# debian:bookworm-slim, the base of the runtime images in images/. Built offline from this
# machine's Debian mirror by scripts/build-base.sh (debootstrap). A registry is contacted only
# when asked (SANDBOXSHIFT_PULL_BASE=1): some machines must not reach one at all.
build_base_image() {
  local base=debian:bookworm-slim
  if docker image inspect "$base" >/dev/null 2>&1; then return 0; fi
  if [ "${SANDBOXSHIFT_PULL_BASE:-0}" = 1 ] && docker pull -q "$base" >/dev/null 2>&1; then log "pulled $base"; return 0; fi
  if ! is_debian_root; then
    log "$base is missing; the runtime images in images/ need it: run scripts/build-base.sh as root on Debian, or set SANDBOXSHIFT_PULL_BASE=1 where a registry answers"
    return 0
  fi
  log "building $base from the apt mirror"
  bash "$here/scripts/build-base.sh" || die "building $base failed; see the messages above"
}

# Podman's Docker-compatible API next to Docker (test/e2e/podman.test.ts runs against it):
# on by default where this script may install packages; SANDBOXSHIFT_PODMAN=0 skips it.
setup_podman() {
  [ "${SANDBOXSHIFT_PODMAN:-1}" = 0 ] && return 0
  if ! is_debian_root && ! command -v podman >/dev/null; then
    log "podman is not installed (test/e2e/podman.test.ts will fail): run setup as root on Debian, or set SANDBOXSHIFT_PODMAN=0 and leave that test out"
    return 0
  fi
  bash "$here/scripts/setup-podman.sh"
}

# The pi agent image's build context (images/agent-pi/stage, gitignored), assembled on the host by
# images/agent-pi/stage.sh with npm (test/e2e/agent-pi.test.ts and `image: pi` build from it).
# Again only when a source is newer than the staged archive.
stage_pi_image() {
  local dir="$here/images/agent-pi" archive="$here/images/agent-pi/stage/pi-rootfs.tar.gz" src
  local fresh=1
  [ -f "$archive" ] || fresh=0
  for src in "$dir/package.json" "$dir/package-lock.json" "$dir/Dockerfile" "$dir/stage.sh" "$here/images/entrypoint/sandboxshift-entrypoint"; do
    [ "$fresh" = 1 ] && [ "$src" -nt "$archive" ] && fresh=0
  done
  [ "$fresh" = 1 ] && return 0
  log "staging the pi agent image's build context (npm ci into images/agent-pi/stage)"
  sh "$dir/stage.sh" || die "staging the pi agent image failed; see the messages above"
}

# A real authenticated registry for test/e2e/registry.test.ts, which starts its own on 127.0.0.1:
# Debian's docker-registry and htpasswd (apache2-utils).
install_registry_tools() {
  command -v docker-registry >/dev/null && command -v htpasswd >/dev/null && return 0
  if ! is_debian_root; then
    log "docker-registry or htpasswd is missing (test/e2e/registry.test.ts will fail): apt-get install docker-registry apache2-utils"
    return 0
  fi
  apt_install docker-registry apache2-utils
}

# Debian's Go, for the egress proxy's own tests (images/egress-proxy; scripts/go.sh finds it). The
# proxy's image compiles it with the same package inside its build, so apply does not need it.
install_go() {
  [ -n "$(bash "$here/scripts/go.sh" --path 2>/dev/null)" ] && return 0
  if ! is_debian_root; then
    log "Go is missing (npm test runs the egress proxy's Go tests): apt-get install golang-1.19-go"
    return 0
  fi
  apt_install golang-1.19-go
}

start_engine
install_go
install_node_deps
build_test_image
build_base_image
stage_pi_image
setup_podman
install_registry_tools
log "ready"
