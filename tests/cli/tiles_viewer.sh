#!/usr/bin/env bash
# The offline viewer (index.html + Leaflet copied from Debian's libjs-leaflet) shows the tiles and the boundary
# overlay in headless Chromium: the screenshot must show the ramp's colours. Skips when chromium or Leaflet is
# missing (scripts/setup --test installs both).
set -euo pipefail
py=/usr/bin/python3
"$py" -c "import osgeo, numpy" 2>/dev/null || { echo "skip: needs /usr/bin/python3 with python3-gdal and numpy"; exit 77; }
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "skip: chromium not installed"; exit 77; }
[ -f /usr/share/javascript/leaflet/leaflet.js ] || { echo "skip: libjs-leaflet not installed"; exit 77; }
tmp=$HM_TMP/tiles_viewer
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
"$py" "$HM_SOURCE_DIR/tests/cli/tiles_surface.py" s.tif --width-km 12 --height-km 8 --cell-m 50 --points 400
# Boundaries: a 3 x 2 grid of "wards" over the surface, in British National Grid.
"$py" - <<'PY'
import json
west, north = 354000, 174000
features = []
for i in range(3):
    for j in range(2):
        x0, y0 = west + i * 4000, north - (j + 1) * 4000
        ring = [[x0, y0], [x0 + 4000, y0], [x0 + 4000, y0 + 4000], [x0, y0 + 4000], [x0, y0]]
        features.append({"type": "Feature", "properties": {"ward_code": "E0500%d%d" % (i, j)},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
json.dump({"type": "FeatureCollection", "name": "wards",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
           "features": features}, open("wards.geojson", "w"))
PY
"$HM_BINARY" tiles s.tif -o view --zoom 9-13 --overlay wards.geojson --title "Test surface" -q
grep -q "hmOverlay" view/overlay.js
grep -q "E05000" view/overlay.js
grep -q '<script src="overlay.js">' view/index.html
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$tmp/profile" \
  --hide-scrollbars --window-size=900,650 --virtual-time-budget=8000 --screenshot="$tmp/shot.png" \
  "file://$tmp/view/index.html" >chromium.log 2>&1 || { cat chromium.log; exit 1; }
[ -s shot.png ] || { echo "no screenshot"; cat chromium.log; exit 1; }
"$py" "$HM_SOURCE_DIR/tests/cli/tiles_check.py" screenshot shot.png
echo "tiles_viewer: ok"
