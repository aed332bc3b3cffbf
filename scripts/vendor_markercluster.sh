#!/bin/sh
# Vendor Leaflet.markercluster into static/vendor/leaflet.markercluster/ from the npm registry.
# Usage: scripts/vendor_markercluster.sh [version]   (default 1.5.3)
set -eu
version="${1:-1.5.3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "leaflet.markercluster@$version" >/dev/null
tar xzf "leaflet.markercluster-$version.tgz"
dest="$root/static/vendor/leaflet.markercluster"
rm -rf "$dest"
mkdir -p "$dest"
cp package/dist/leaflet.markercluster.js package/dist/MarkerCluster.css \
   package/dist/MarkerCluster.Default.css "$dest/"
cp package/MIT-LICENCE.txt "$dest/LICENSE"
echo "$version" > "$dest/VERSION"
echo "Leaflet.markercluster $version vendored into $dest"
