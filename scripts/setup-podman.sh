#!/usr/bin/env bash
# Makes Podman's Docker-compatible API ready next to Docker (README "Podman"): Debian's podman
# (and catatonit, the init Podman runs for `Init: true`), /etc/containers/containers.conf with
# the open-files fix, `podman system service` on /run/podman/podman.sock, and the images the
# tests use copied in from Docker. Never touches dockerd. Idempotent; run as root on Debian.
# Called by scripts/setup.sh unless SANDBOXSHIFT_PODMAN=0.
set -euo pipefail

state_dir="${SANDBOXSHIFT_STATE_DIR:-/var/tmp/sandboxshift}"
socket=/run/podman/podman.sock
service_log="$state_dir/podman-service.log"
# Podman reads CONTAINERS_CONF instead of the default path when it is set; so does this script.
conf="${CONTAINERS_CONF:-/etc/containers/containers.conf}"
mkdir -p "$state_dir"

log() { printf 'setup-podman: %s\n' "$*" >&2; }
die() { printf 'setup-podman: error: %s\n' "$*" >&2; exit 1; }

podman_answers() {
  docker -H "unix://$socket" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_podman() {
  local missing=()
  for pkg in podman catatonit; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "podman is missing: install it (apt-get install podman catatonit) as root"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$state_dir/apt.log" 2>&1 \
    || { apt-get update -q >>"$state_dir/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$state_dir/apt.log" 2>&1; } \
    || die "apt-get install ${missing[*]} failed; see $state_dir/apt.log"
}

# Podman sets every container's open-files limit to 1048576 by default; above this machine's
# hard limit that fails each start with "error setting rlimit type 7: operation not
# permitted". An empty default_ulimits leaves the limits the service itself runs with.
write_containers_conf() {
  if [ -f "$conf" ]; then
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=' "$conf" \
      || die "$conf exists without default_ulimits; add under its [containers] table the line: default_ulimits = []   (Podman's default open-files limit is above this machine's hard limit $(ulimit -Hn)), then run setup again"
    grep -Eq '^[[:space:]]*network_backend[[:space:]]*=[[:space:]]*"cni"' "$conf" && return 0
    grep -Eq '^[[:space:]]*(network_backend[[:space:]]*=|\[network\])' "$conf" \
      && die "$conf sets its own [network] table; set network_backend = \"cni\" in it (egress needs internal networks on which the host has no address), then run setup again"
    printf '\n# Egress: with CNI an internal network gives the host no address (isGateway false);\n# netavark gives the host the gateway address on internal networks too.\n[network]\nnetwork_backend = "cni"\n' >>"$conf"
    log "added network_backend = \"cni\" to $conf"
    return 0
  fi
  mkdir -p "$(dirname "$conf")"
  cat >"$conf" <<'CONF'
# Written by SandboxShift's scripts/setup-podman.sh.
# Podman's default open-files limit (1048576) can be above the host's hard limit; then every
# container start fails with "error setting rlimit type 7: operation not permitted".
[containers]
default_ulimits = []

# Egress: with CNI an internal network gives the host no address (isGateway false);
# netavark gives the host the gateway address on internal networks too.
[network]
network_backend = "cni"
CONF
  log "wrote $conf (default_ulimits = [], network_backend = \"cni\")"
}

# The service reads the backend once, at start: one started under netavark is stopped (with the
# containers it ran, which name networks the CNI backend does not have) and started again.
restart_service_on_other_backend() {
  podman_answers || return 0
  local backend
  backend=$(podman --remote --url "unix://$socket" info --format '{{.Host.NetworkBackend}}' 2>/dev/null || true)
  [ "$backend" = cni ] && return 0
  # Containers made under netavark name networks CNI does not have. Only SandboxShift's own (its
  # environments, proxies and locks, and its tests' servers) are removed; anyone else's stop setup.
  local others
  others=$(podman ps -a --format '{{.Names}} {{.Labels}}' | grep -v -e 'io.sandboxshift.project:' -e 'io.sandboxshift.test:' | cut -d' ' -f1 | tr '\n' ' ')
  [ -z "$others" ] || die "Podman runs with network backend '${backend:-unknown}' and has containers SandboxShift did not make ($others); egress needs network_backend = \"cni\", and switching backends strands containers on netavark networks: remove or move them, or skip Podman with SANDBOXSHIFT_PODMAN=0, then run setup again"
  log "podman system service runs with network backend '${backend:-unknown}'; removing SandboxShift's containers and starting it again with cni"
  podman ps -aq --filter label=io.sandboxshift.project | xargs -r podman rm -f >/dev/null 2>&1 || true
  podman ps -aq --filter label=io.sandboxshift.test | xargs -r podman rm -f >/dev/null 2>&1 || true
  pkill -f "podman system service --time=0 unix://$socket" || true
  for _ in $(seq 1 20); do podman_answers || break; sleep 0.5; done
  # netavark's default bridge holds 10.88.0.1/16, the subnet CNI's default network uses too.
  ip link show podman0 >/dev/null 2>&1 && ip link delete podman0
  return 0
}

start_service() {
  podman_answers && return 0
  mkdir -p "$(dirname "$socket")"
  log "starting podman system service on $socket (log: $service_log)"
  nohup podman system service --time=0 "unix://$socket" >>"$service_log" 2>&1 &
  echo $! >"$state_dir/podman-service.pid"
  for _ in $(seq 1 60); do
    podman_answers && return 0
    sleep 0.5
  done
  tail -20 "$service_log" >&2 || true
  die "podman system service did not answer within 30 s; see $service_log"
}

# Podman names a loaded image by its registry: sandboxshift/busybox:test becomes
# localhost/sandboxshift/busybox:test, debian:bookworm-slim docker.io/library/... or
# localhost/...; its Docker API resolves the short names the configs use to either.
copy_image() {
  local ref=$1
  podman image exists "$ref" && return 0
  docker image inspect "$ref" >/dev/null 2>&1 || { log "$ref is not on Docker; not copied to Podman"; return 0; }
  log "copying $ref from Docker to Podman"
  docker save "$ref" | podman load -q >/dev/null || die "copying $ref into Podman failed"
}

install_podman
write_containers_conf
restart_service_on_other_backend
start_service
copy_image sandboxshift/busybox:test
copy_image debian:bookworm-slim
log "Podman answers at unix://$socket ($(docker -H "unix://$socket" version --format '{{.Server.Version}}'))"
