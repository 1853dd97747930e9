#!/bin/sh
# Add the certificates of a PEM bundle to the system trust store.
#
# Usage: install-extra-ca.sh [bundle.pem]   (default: /usr/local/share/workers-spawner/extra-ca.pem)
#
# Each certificate that /etc/ssl/certs/ca-certificates.crt does not already contain is
# written to its own file under /usr/local/share/ca-certificates/workers-spawner/, so it
# stays trusted whenever update-ca-certificates runs again (for example when a derived
# image installs packages). An empty or certificate-free bundle is a no-op.
set -eu

extra="${1:-/usr/local/share/workers-spawner/extra-ca.pem}"
bundle=/etc/ssl/certs/ca-certificates.crt
dir=/usr/local/share/ca-certificates/workers-spawner

if [ ! -f "$extra" ] || ! grep -q -- '-----BEGIN CERTIFICATE-----' "$extra"; then
  echo "install-extra-ca: no certificate in ${extra}, nothing to do"
  exit 0
fi
command -v update-ca-certificates >/dev/null 2>&1 || {
  echo "install-extra-ca: update-ca-certificates not found (install ca-certificates first)" >&2
  exit 1
}

mkdir -p "$dir"
touch "$bundle"
start="$(find "$dir" -name 'extra-ca-*.crt' | wc -l)"

awk -v dir="$dir" -v start="$start" '
  function squash(s) { gsub(/[ \t\r]/, "", s); return s }
  FILENAME == ARGV[1] {
    if ($0 ~ /-----BEGIN CERTIFICATE-----/) { inb = 1; b = ""; next }
    if ($0 ~ /-----END CERTIFICATE-----/)   { inb = 0; known[b] = 1; next }
    if (inb) b = b squash($0)
    next
  }
  /-----BEGIN CERTIFICATE-----/ { inc = 1; pem = "-----BEGIN CERTIFICATE-----\n"; b = ""; next }
  /-----END CERTIFICATE-----/ {
    if (!inc) next
    inc = 0
    if (!(b in known)) {
      n++
      f = sprintf("%s/extra-ca-%03d.crt", dir, start + n)
      printf "%s-----END CERTIFICATE-----\n", pem > f
      close(f)
      known[b] = 1
    }
    next
  }
  inc { line = $0; sub(/\r$/, "", line); pem = pem line "\n"; b = b squash(line) }
  END { printf "install-extra-ca: %d new certificate(s) from %s\n", n, ARGV[2] }
' "$bundle" "$extra"

update-ca-certificates >/dev/null

# Belt and braces: every certificate written above must be in the bundle.
flat="$(tr -d ' \r\n' < "$bundle")"
for crt in "$dir"/*.crt; do
  [ -e "$crt" ] || continue
  key="$(grep -v -- '-----' "$crt" | tr -d ' \r\n')"
  case "$flat" in
    *"$key"*) ;;
    *) cat "$crt" >> "$bundle" ;;
  esac
done
echo "install-extra-ca: $(grep -c -- '-----BEGIN CERTIFICATE-----' "$bundle") certificate(s) in $bundle"
