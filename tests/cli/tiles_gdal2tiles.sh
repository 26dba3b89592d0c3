#!/usr/bin/env bash
# harmmap's tiles line up with gdal2tiles' grid: gdal2tiles.py --xyz on an RGBA rendering of the same surface
# (alpha 0 where the surface is 0) gives the same tile names, and nearest-neighbour tiles from both agree on
# which pixels are transparent almost everywhere (they differ only where GDAL's approximate transformer, which
# harmmap uses and gdal2tiles' exact VRT does not, moves a sample across a cell edge).
set -euo pipefail
py=/usr/bin/python3
"$py" -c "import osgeo, numpy, osgeo_utils.gdal2tiles" 2>/dev/null || { echo "skip: needs python3-gdal (gdal2tiles) and numpy"; exit 77; }
command -v gdal2tiles.py >/dev/null || { echo "skip: gdal2tiles.py not found (Debian gdal-bin)"; exit 77; }
check="$py $HM_SOURCE_DIR/tests/cli/tiles_check.py"
tmp=$HM_TMP/tiles_gdal2tiles
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
"$py" "$HM_SOURCE_DIR/tests/cli/tiles_surface.py" s.tif --width-km 12 --height-km 8 --cell-m 50 --points 120
"$py" - <<'PY'
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
src = gdal.Open("s.tif")
v = src.ReadAsArray()
out = gdal.GetDriverByName("GTiff").Create("rgba.tif", src.RasterXSize, src.RasterYSize, 4, gdal.GDT_Byte)
out.SetGeoTransform(src.GetGeoTransform())
out.SetProjection(src.GetProjection())
t = np.clip(v / v.max(), 0, 1)
for i, channel in enumerate([68 + t * 185, 1 + t * 230, 84 - t * 47]):
    out.GetRasterBand(i + 1).WriteArray(channel.astype(np.uint8))
out.GetRasterBand(4).WriteArray(np.where(v > 0, 255, 0).astype(np.uint8))
out.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
out = None
PY
gdal2tiles.py --xyz -z 10-13 -r near --exclude --processes=1 -w none -q rgba.tif g2t
"$HM_BINARY" tiles s.tif -o hm --zoom 10-13 --resampling near -q
$check gdal2tiles g2t hm 10 13
echo "tiles_gdal2tiles: ok"
