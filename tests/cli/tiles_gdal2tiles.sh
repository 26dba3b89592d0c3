#!/usr/bin/env bash
# harmmap's tiles line up with gdal2tiles' grid.
# 1. Exactly: a raster in EPSG:3857 on zoom 13's pixel grid, offset from the tile corners, cut with nearest
#    neighbour: harmmap's tiles are exactly the raster's pixels, and identical (transparent/opaque) to
#    gdal2tiles' wherever a tile lies inside the raster. (At the raster's edges gdal2tiles 3.6 puts the data one
#    pixel up and left of where it belongs, a rounding in its geo_query; harmmap is checked against the raster.)
# 2. Through a reprojection: the British National Grid surface, and an RGBA rendering of it (alpha 0 where the
#    surface is 0) for gdal2tiles.py --xyz: the same tile names at zooms 10-13, and transparent/opaque pixels
#    agreeing almost everywhere. They cannot agree everywhere: gdal2tiles resamples twice (into its warped VRT,
#    then to the tile), harmmap once, straight from the surface to the tile.
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
$check gdal2tiles g2t hm 10 13 0.03

"$py" - <<'PY'
import numpy as np
from osgeo import gdal, osr
from osgeo_utils.gdal2tiles import GlobalMercator
gdal.UseExceptions()
m = GlobalMercator(256)
res = m.Resolution(13)
west, _, _, north = m.TileBounds(4036, 2 ** 13 - 1 - 2726, 13)
west += 37 * res   # not on a tile corner
north -= 53 * res
rng = np.random.default_rng(7)
blocks = rng.uniform(0, 10, size=(225, 275)) * (rng.uniform(size=(225, 275)) < 0.6)
values = np.kron(blocks, np.ones((4, 4))).astype(np.float32)
values[rng.integers(0, 900, 500), rng.integers(0, 1100, 500)] = 5.0  # lone pixels
h, w = values.shape
srs = osr.SpatialReference()
srs.ImportFromEPSG(3857)
for name, bands in (("m.tif", [values]), ("m_rgba.tif", [np.full(values.shape, 200), np.full(values.shape, 80),
                                                          np.full(values.shape, 40), np.where(values > 0, 255, 0)])):
    ds = gdal.GetDriverByName("GTiff").Create(name, w, h, len(bands),
                                               gdal.GDT_Float32 if len(bands) == 1 else gdal.GDT_Byte)
    ds.SetGeoTransform((west, res, 0, north, 0, -res))
    ds.SetProjection(srs.ExportToWkt())
    for i, b in enumerate(bands):
        ds.GetRasterBand(i + 1).WriteArray(b)
    if len(bands) == 4:
        ds.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
    ds = None
PY
gdal2tiles.py --xyz -z 13 -r near --exclude --processes=1 -w none -q m_rgba.tif g2t_exact
"$HM_BINARY" tiles m.tif -o hm_exact --zoom 13 --resampling near -q
$check truth m.tif hm_exact 13
$check gdal2tiles g2t_exact hm_exact 13 13 0 m.tif
echo "tiles_gdal2tiles: ok"
