#!/bin/sh
# Vendor Leaflet into static/vendor/leaflet/ from the npm registry (no CDN at run time).
# Usage: scripts/vendor_leaflet.sh [version]   (default 1.9.4)
set -eu
version="${1:-1.9.4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "leaflet@$version" >/dev/null
tar xzf "leaflet-$version.tgz"
dest="$root/static/vendor/leaflet"
rm -rf "$dest"
mkdir -p "$dest/images"
cp package/dist/leaflet.js package/dist/leaflet.css package/LICENSE "$dest/"
cp package/dist/images/*.png "$dest/images/"
echo "$version" > "$dest/VERSION"
echo "Leaflet $version vendored into $dest"
