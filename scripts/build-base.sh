#!/usr/bin/env bash
# Builds debian:bookworm-slim, the image the runtime Dockerfiles in images/ start from, without a
# container registry: debootstrap from the Debian mirror this machine's apt already uses, then
# `docker import`. Where a registry answers, `docker pull debian:bookworm-slim` gives the same
# starting point and this script is never needed; the Dockerfiles are the same either way.
# Idempotent: does nothing when the engine already has the image.
#
# The mirror is read from apt's configuration at run time, never written here: the build must
# work on any machine whose apt works. Override with DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR.
set -euo pipefail

image=debian:bookworm-slim
suite=bookworm

log() { printf 'build-base: %s\n' "$*" >&2; }
die() { printf 'build-base: error: %s\n' "$*" >&2; exit 1; }

# Prints "URI SUITE" for every enabled binary source apt uses: deb822 *.sources stanzas and
# one-line `deb` entries (options in [brackets] skipped).
apt_source_entries() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print uris[i], suites[j]
        types = ""; enabled = ""; nu = 0; ns = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); $1 = "" }
      key == "types:"   { types = $0 }
      key == "enabled:" { enabled = tolower($2) }
      key == "uris:"    { nu = split($0, uris, " ") }
      key == "suites:"  { ns = split($0, suites, " ") }
      END { flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
}

# The URI apt uses for one suite, or nothing.
mirror_for() {
  apt_source_entries | awk -v s="$1" '$2 == s { print $1; exit }'
}

# Acquire options a rootfs from this mirror needs to keep working: the mirror may be a dated
# snapshot whose Release files are past Valid-Until. Proxies are left out on purpose (they are
# host-specific and may hold credentials); `docker build` passes http_proxy through as usual.
host_apt_options() {
  apt-config dump 2>/dev/null \
    | grep -E '^Acquire::(Check-Valid-Until|Check-Date|Retries|ForceIPv4|ForceIPv6) ' \
    | sort -u || true
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
    || die "debootstrap is needed to build $image offline: run as root on Debian, or install debootstrap (or pull $image where a registry answers)"
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; } \
    || die "apt-get install debootstrap failed"
}

# The same trimming the official slim image does: no docs, man pages or translations, and apt
# tuned for containers (no cache kept, no Recommends pulled in by autoremove).
write_slim_config() {
  local root="$1"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\n' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # Package scripts must not try to start services inside an image build.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  # Files installed before the excludes above existed.
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
}

write_sources() {
  local root="$1" main="$2" security="$3" updates="$4"
  rm -f "$root/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s%s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$main" "$suite" "${updates:+ $suite-updates}"
    [ -n "$security" ] && printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$security" "$suite"
  } >"$root/etc/apt/sources.list.d/debian.sources"
}

root=""
# Removes the rootfs on any exit, a failed debootstrap included. Unmounts first: a debootstrap
# that died half-way can leave /proc or /sys mounted inside it.
remove_rootfs() {
  [ -n "$root" ] && [ -d "$root" ] || return 0
  awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$root"
}

build_base() {
  if docker image inspect "$image" >/dev/null 2>&1; then
    log "$image is present"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "building $image offline needs root (debootstrap); or pull $image where a registry answers"

  local main security updates options
  main="${DEBIAN_MIRROR:-$(mirror_for "$suite")}"
  [ -n "$main" ] || die "no '$suite' suite in this machine's apt sources; set DEBIAN_MIRROR to a Debian mirror URL"
  security="${DEBIAN_SECURITY_MIRROR:-$(mirror_for "$suite-security")}"
  updates="$(mirror_for "$suite-updates")"
  options="$(host_apt_options)"

  ensure_debootstrap
  root="$(mktemp -d /var/tmp/sandboxshift-base.XXXXXX)"
  trap remove_rootfs EXIT

  log "debootstrap --variant=minbase $suite from the apt mirror (${security:+with security, }log: $root.log)"
  debootstrap --variant=minbase "$suite" "$root" "$main" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; die "debootstrap failed; see $root.log"; }

  write_sources "$root" "$main" "$security" "$updates"
  if [ -n "$options" ]; then
    printf '%s\n' "$options" >"$root/etc/apt/apt.conf.d/99sandboxshift-mirror"
  fi
  write_slim_config "$root"

  # Bring in the security suite's fixes, then drop everything apt downloaded.
  if [ -n "$security" ] || [ -n "$updates" ]; then
    log "applying $suite updates inside the rootfs"
    chroot "$root" /bin/sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade' >>"$root.log" 2>&1 \
      || { tail -20 "$root.log" >&2; die "apt-get upgrade in the rootfs failed; see $root.log"; }
  fi
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
  mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
  # The engine fills these in at run time.
  : >"$root/etc/resolv.conf"
  : >"$root/etc/hostname"
  rm -rf "$root"/dev/*

  log "importing $image"
  tar --numeric-owner -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change 'LABEL io.sandboxshift.base.source="debootstrap --variant=minbase '"$suite"'"' \
    - "$image" >/dev/null
  rm -f "$root.log"
  log "$image is ready ($(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

build_base
