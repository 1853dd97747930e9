#!/usr/bin/env bash
# Build a minimal Debian base image without any image registry:
#   debootstrap --variant=minbase <suite> <dir> <mirror>  |  docker import
#
# Usage: bash images/bootstrap-base.sh [--force]
#
# Environment:
#   BASE_TAG       image tag to create        (default: workers-spawner/base:trixie)
#   DEBIAN_SUITE   Debian suite to bootstrap  (default: trixie)
#   DEBIAN_MIRROR  Debian package mirror      (default: http://deb.debian.org/debian)
#
# The resulting image is meant to be used as BASE_IMAGE for images/build-worker.sh
# on hosts where `docker pull` is not possible.
set -euo pipefail

DEBIAN_SUITE="${DEBIAN_SUITE:-trixie}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_TAG="${BASE_TAG:-workers-spawner/base:${DEBIAN_SUITE}}"

log() { printf 'bootstrap-base: %s\n' "$*"; }
die() { printf 'bootstrap-base: error: %s\n' "$*" >&2; exit 1; }

force=0
for arg in "$@"; do
  case "$arg" in
    --force|-f) force=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: $0 [--force])" ;;
  esac
done

command -v docker >/dev/null 2>&1 || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running? are you allowed to use it?)"

if [[ "$force" -eq 0 ]] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  log "image $BASE_TAG already exists, skipping (use --force to rebuild)"
  exit 0
fi

[[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root; re-run as root (e.g. sudo bash $0)"
command -v debootstrap >/dev/null 2>&1 \
  || die "debootstrap not found; install it first (apt-get install -y debootstrap)"

workdir="$(mktemp -d "${TMPDIR:-/var/tmp}/workers-spawner-base.XXXXXX")"
rootfs="$workdir/rootfs"

cleanup() {
  # debootstrap mounts proc/sys (and sometimes dev) inside the target; never delete
  # through a mount point.
  local mp
  if [[ -d "$rootfs" ]]; then
    while read -r mp; do
      umount -l "$mp" 2>/dev/null || true
    done < <(awk -v root="$rootfs" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
  fi
  rm -rf --one-file-system "$workdir"
}
trap cleanup EXIT

start=$SECONDS
log "debootstrap --variant=minbase $DEBIAN_SUITE from $DEBIAN_MIRROR (log: $workdir/debootstrap.log)"
if ! debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
    >"$workdir/debootstrap.log" 2>&1; then
  tail -n 30 "$workdir/debootstrap.log" >&2 || true
  [[ -f "$rootfs/debootstrap/debootstrap.log" ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi

# Slim the tree: no downloaded .debs, package lists or logs in the image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/var/log/*.log \
       "$rootfs"/debootstrap \
       "$rootfs"/tmp/* "$rootfs"/var/tmp/* 2>/dev/null || true
mkdir -p "$rootfs/var/lib/apt/lists/partial"
# Make sure apt knows where to fetch packages from inside the image.
if [[ ! -s "$rootfs/etc/apt/sources.list" && -z "$(ls -A "$rootfs/etc/apt/sources.list.d" 2>/dev/null)" ]]; then
  echo "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" >"$rootfs/etc/apt/sources.list"
fi
# Keep apt small and quiet in containers.
cat >"$rootfs/etc/apt/apt.conf.d/90workers-spawner" <<'APTCONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APTCONF

log "importing root filesystem as $BASE_TAG"
tar --numeric-owner --xattrs -C "$rootfs" -c . | docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL workers-spawner.image=base workers-spawner.base.suite=$DEBIAN_SUITE" \
  --message "debootstrap --variant=minbase $DEBIAN_SUITE $DEBIAN_MIRROR" \
  - "$BASE_TAG" >/dev/null

size="$(docker image inspect --format '{{.Size}}' "$BASE_TAG")"
log "built $BASE_TAG ($((size / 1024 / 1024)) MB) in $((SECONDS - start)) s"
