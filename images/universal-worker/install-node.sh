#!/bin/bash
# Make sure Node.js >= NODE_MIN_MAJOR and npm are on PATH. Runs as root during the image
# build, after the extra CA is installed (everything here goes through TLS).
#
# Environment (build arguments in the Dockerfile):
#   NODE_MIN_MAJOR         minimum Node.js major version (default 20)
#   NODE_FALLBACK_VERSION  Node.js version (major or exact) used when the distro Node.js
#                          is missing or too old (default 22)
#   NPM_VERSION            npm major version to install (default 10)
#   NPM_REGISTRY           registry URL (default https://registry.npmjs.org)
#
# Node.js: the distro package when it is new enough (Debian 13: 20.x; the Dockerfile
# installs it only then). Otherwise (Ubuntu 24.04 and Debian 12 ship 18.x) the official
# binary from the npm registry package node-linux-<arch> (what `npm install -g node@22`
# would fetch) is unpacked to /usr/local/lib/nodejs and linked as /usr/local/bin/node.
# npm: from the registry (Debian's npm package drags in ~200 MB of node-* packages); if
# the registry cannot be reached and the distro Node.js is usable, the distro npm.
# Exits non-zero unless `node --version` ends up >= NODE_MIN_MAJOR and npm works.
set -euo pipefail

NODE_MIN_MAJOR="${NODE_MIN_MAJOR:-20}"
NODE_FALLBACK_VERSION="${NODE_FALLBACK_VERSION:-22}"
NPM_VERSION="${NPM_VERSION:-10}"
NPM_REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"
NPM_REGISTRY="${NPM_REGISTRY%/}"
export NPM_CONFIG_REGISTRY="$NPM_REGISTRY" DEBIAN_FRONTEND=noninteractive
npm_flags=(-g --prefix /usr/local --no-audit --no-fund --no-update-notifier --loglevel=warn)

say() { printf 'install-node: %s\n' "$*"; }
die() { printf 'install-node: ERROR: %s\n' "$*" >&2; exit 1; }
node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Tarball URL of the newest release of package $1 whose version starts with $2
# ("22" or "22.1" or "22.1.0"), read from the abbreviated packument. Needs no node.
tarball_url() {
  local pkg="$1" want="$2"
  curl -fsSL --retry 3 -H 'Accept: application/vnd.npm.install-v1+json' "$NPM_REGISTRY/$pkg" \
    | python3 -c '
import json, re, sys
pkg, want = sys.argv[1], sys.argv[2]
p = json.load(sys.stdin)
vs = [v for v in p["versions"] if re.fullmatch(r"\d+\.\d+\.\d+", v) and (v == want or v.startswith(want + "."))]
if not vs:
    sys.exit("no %s release matching %s" % (pkg, want))
best = max(vs, key=lambda v: tuple(map(int, v.split("."))))
print(p["versions"][best]["dist"]["tarball"])
' "$pkg" "$want"
}

if command -v node >/dev/null 2>&1 && [[ "$(node_major)" -ge "$NODE_MIN_MAJOR" ]]; then
  say "distro Node.js $(node --version)"
else
  if command -v node >/dev/null 2>&1; then
    say "distro Node.js $(node --version) is older than $NODE_MIN_MAJOR"
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    armv7l) arch=armv7l ;;
    ppc64le) arch=ppc64le ;;
    s390x) arch=s390x ;;
    *) die "no Node.js binary package for architecture $(uname -m)" ;;
  esac
  url="$(tarball_url "node-linux-$arch" "$NODE_FALLBACK_VERSION")" \
    || die "cannot resolve node-linux-$arch@$NODE_FALLBACK_VERSION on $NPM_REGISTRY"
  say "installing Node.js from $url"
  mkdir -p /usr/local/lib/nodejs
  curl -fsSL --retry 3 "$url" | tar -xz -C /usr/local/lib/nodejs --strip-components=1 \
    || die "cannot download $url"
  # C headers (65 MB) are only useful with a compiler, which the image does not have.
  rm -rf /usr/local/lib/nodejs/share /usr/local/lib/nodejs/include
  ln -sf /usr/local/lib/nodejs/bin/node /usr/local/bin/node
  hash -r
fi

npm_from_registry() {
  local url
  url="$(tarball_url npm "$NPM_VERSION")" || return 1
  say "bootstrapping npm from $url"
  mkdir -p "$tmp/npm"
  curl -fsSL --retry 3 "$url" | tar -xz -C "$tmp/npm" || return 1
  node "$tmp/npm/package/bin/npm-cli.js" install "${npm_flags[@]}" "npm@$NPM_VERSION" || return 1
  [[ -x /usr/local/bin/npm ]]
}

if npm_from_registry; then
  say "npm installed from $NPM_REGISTRY"
elif dpkg -s nodejs >/dev/null 2>&1; then
  say "WARNING: could not install npm from $NPM_REGISTRY; falling back to the distro npm" >&2
  apt-get update
  apt-get install -y --no-install-recommends npm
else
  die "could not install npm from $NPM_REGISTRY"
fi
hash -r

# Global installs by root (e.g. `USER root` + `RUN npm install -g ...` in derived images)
# go to /usr/local, wherever node lives. This is npm's builtin config, the
# lowest-priority layer; a user's ~/.npmrc still wins.
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
if [[ -f "$npm_dir/package.json" ]] && ! grep -qs '^prefix *=' "$npm_dir/npmrc"; then
  echo 'prefix=/usr/local' >>"$npm_dir/npmrc"
fi
[[ "$(HOME=/nonexistent npm config get prefix)" == /usr/local ]] || die "npm global prefix is not /usr/local"

apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /root/.npm /root/.config

say "node $(node --version) at $(command -v node), npm $(npm --version) at $(command -v npm)"
[[ "$(node_major)" -ge "$NODE_MIN_MAJOR" ]] || die "Node.js $(node --version) is older than $NODE_MIN_MAJOR"
