#!/usr/bin/env bash
# The aggregate report renders in headless Chromium (no network: the page is self-contained) to a PNG that is not
# blank: many colours, the choropleth's reds among them. Skips when Chromium is not installed.
source "$(dirname "$0")/aggregate_lib.sh"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed (apt-get install chromium)"
/usr/bin/python3 -c 'from osgeo import gdal; import numpy' 2>/dev/null || skip "python3-gdal/numpy missing"
cd "$work"
fixture in.gpkg
"$HM_BINARY" aggregate -q in.gpkg "${periods[@]}" -o out
! grep -qiE '(src|href)="https?:' out/report.html || fail "the report loads something from the network"
mkdir -m 0700 profile
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$work/profile" \
  --window-size=1100,2200 --screenshot="$work/report.png" "file://$work/out/report.html" > chromium.log 2>&1 \
  || { tail -5 chromium.log; fail "chromium failed"; }
[ -s report.png ] || fail "no screenshot"
/usr/bin/python3 - report.png <<'PY' || fail "the rendered report looks blank"
import sys
import numpy as np
from osgeo import gdal
ds = gdal.Open(sys.argv[1])
rgb = np.dstack([ds.GetRasterBand(b + 1).ReadAsArray() for b in range(3)]).astype(np.int64)
packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
colours = len(np.unique(packed))
non_white = float((packed != 0xFFFFFF).mean())
# The darkest ramp class (#bd0026) fills the highest-harm ward.
dark_red = int(((abs(rgb[..., 0] - 0xbd) < 8) & (rgb[..., 1] < 12) & (abs(rgb[..., 2] - 0x26) < 8)).sum())
print(f"{colours} colours, {non_white:.1%} not white, {dark_red} dark red pixels")
assert colours > 50 and non_white > 0.05 and dark_red > 1000
PY
echo "aggregate report renders"
