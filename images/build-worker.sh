#!/usr/bin/env bash
# Build the workers-spawner universal worker image.
#
# Usage: bash images/build-worker.sh [--force]
#
# Environment:
#   WORKER_IMAGE       tag to build                         (default: workers-spawner/universal-worker:latest)
#   BASE_IMAGE         base image                           (default: ubuntu:24.04)
#                      Hosts without a reachable image registry first run
#                      images/bootstrap-base.sh and then use
#                      BASE_IMAGE=workers-spawner/base:trixie
#   SPAWNER_CA_BUNDLE  PEM file with extra CA certificates to trust inside the image
#                      (e.g. a TLS-intercepting proxy's CA; the host's
#                      $NODE_EXTRA_CA_CERTS is a good value). Unset: none.
#   DOCKER_BUILDKIT    left as is when set; otherwise the classic builder is used
#                      when the buildx plugin is missing.
#
# The build is skipped when WORKER_IMAGE exists and was built from the same inputs
# (Dockerfile, scripts, CA bundle, base image); --force always rebuilds.
set -euo pipefail

WORKER_IMAGE="${WORKER_IMAGE:-workers-spawner/universal-worker:latest}"
BASE_IMAGE="${BASE_IMAGE:-ubuntu:24.04}"
SPAWNER_CA_BUNDLE="${SPAWNER_CA_BUNDLE:-}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/universal-worker"

log() { printf 'build-worker: %s\n' "$*"; }
die() { printf 'build-worker: error: %s\n' "$*" >&2; exit 1; }

force=0
for arg in "$@"; do
  case "$arg" in
    --force|-f) force=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: $0 [--force])" ;;
  esac
done

command -v docker >/dev/null 2>&1 || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running? are you allowed to use it?)"
[[ -f "$src/Dockerfile" ]] || die "missing $src/Dockerfile"

if [[ -n "$SPAWNER_CA_BUNDLE" ]]; then
  [[ -r "$SPAWNER_CA_BUNDLE" ]] || die "SPAWNER_CA_BUNDLE=$SPAWNER_CA_BUNDLE is not a readable file"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$SPAWNER_CA_BUNDLE" \
    || die "SPAWNER_CA_BUNDLE=$SPAWNER_CA_BUNDLE contains no PEM certificate"
fi

# The base image must be present locally or pullable.
base_id="$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)"
if [[ -z "$base_id" ]]; then
  case "$BASE_IMAGE" in
    workers-spawner/base:*)
      die "base image $BASE_IMAGE not found; create it with: bash images/bootstrap-base.sh" ;;
  esac
  log "base image $BASE_IMAGE not present locally; docker build will try to pull it"
  log "(no registry? run images/bootstrap-base.sh and set BASE_IMAGE=workers-spawner/base:trixie)"
fi

ctx="$(mktemp -d "${TMPDIR:-/tmp}/workers-spawner-worker-ctx.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
cp -a "$src/." "$ctx/"
if [[ -n "$SPAWNER_CA_BUNDLE" ]]; then
  cp "$SPAWNER_CA_BUNDLE" "$ctx/extra-ca.pem"
else
  : >"$ctx/extra-ca.pem"
fi
chmod 0644 "$ctx/extra-ca.pem"

# The orchestrator CLI, bundled into one file (needs `npm ci` in the repository first).
repo="$(cd "$here/.." && pwd)"
esbuild="$repo/node_modules/.bin/esbuild"
[[ -x "$esbuild" ]] || die "esbuild not found: run 'npm ci' in $repo first (it bundles the orchestrator CLI)"
"$esbuild" "$repo/src/cli/main.ts" --bundle --platform=node --target=node20 --format=esm \
  --outfile="$ctx/cli/orchestrator.mjs" --log-level=warning \
  || die "could not bundle the orchestrator CLI"

# Fingerprint of every input; stored as a label to detect stale images.
inputs_hash="$( (cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum;
                 echo "base=$BASE_IMAGE id=$base_id") | sha256sum | cut -c1-32)"

if [[ "$force" -eq 0 ]]; then
  current="$(docker image inspect --format '{{ index .Config.Labels "workers-spawner.inputs" }}' "$WORKER_IMAGE" 2>/dev/null || true)"
  if [[ -n "$current" && "$current" == "$inputs_hash" ]]; then
    log "image $WORKER_IMAGE is up to date, skipping (use --force to rebuild)"
    exit 0
  elif [[ -n "$current" ]] || docker image inspect "$WORKER_IMAGE" >/dev/null 2>&1; then
    log "image $WORKER_IMAGE exists but its inputs changed; rebuilding"
  fi
fi

if [[ -z "${DOCKER_BUILDKIT:-}" ]] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

log "building $WORKER_IMAGE from $BASE_IMAGE (extra CA: ${SPAWNER_CA_BUNDLE:-none})"
start=$SECONDS
docker build \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  --label "workers-spawner.inputs=$inputs_hash" \
  --label "workers-spawner.base-image=$BASE_IMAGE" \
  -t "$WORKER_IMAGE" \
  "$ctx"
elapsed=$((SECONDS - start))

size="$(docker image inspect --format '{{.Size}}' "$WORKER_IMAGE")"
node_version="$(docker run --rm --entrypoint node "$WORKER_IMAGE" --version)"
log "built $WORKER_IMAGE in ${elapsed} s ($((size / 1024 / 1024)) MB, node $node_version)"
