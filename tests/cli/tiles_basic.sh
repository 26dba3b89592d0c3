#!/usr/bin/env bash
# harmmap tiles on a small generated surface: PNGs decode to the tile size with alpha (transparent where the
# surface is zero), the MBTiles file opens in gdalinfo and holds the same tiles in TMS rows with its metadata,
# the output is byte-identical for 1 and 2 threads, --tms flips the rows, 512-pixel tiles, -q is silent and the
# progress bar shows otherwise.
set -euo pipefail
py=/usr/bin/python3
"$py" -c "import osgeo, numpy" 2>/dev/null || { echo "skip: needs /usr/bin/python3 with python3-gdal and numpy"; exit 77; }
check="$py $HM_SOURCE_DIR/tests/cli/tiles_check.py"
tmp=$HM_TMP/tiles_basic
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
"$py" "$HM_SOURCE_DIR/tests/cli/tiles_surface.py" s.tif --width-km 12 --height-km 8 --cell-m 50 --points 150

"$HM_BINARY" tiles s.tif -o out --zoom 9-13 --mbtiles out.mbtiles --threads 2 -q >log 2>&1
[ ! -s log ] || { echo "-q printed:"; cat log; exit 1; }
for f in index.html legend.png leaflet.js leaflet.css tiles-manifest.txt; do
  [ -s "out/$f" ] || { echo "out/$f missing"; exit 1; }
done
$check pngs out 256
file out/legend.png | grep -q "PNG image data, 296 x 46" || { echo "legend.png:"; file out/legend.png; exit 1; }

gdalinfo out.mbtiles >gdalinfo.txt
grep -q "Driver: MBTiles/MBTiles" gdalinfo.txt || { cat gdalinfo.txt; exit 1; }
grep -q "ZOOM_LEVEL=13" gdalinfo.txt || { echo "gdalinfo does not see zoom 13"; cat gdalinfo.txt; exit 1; }
$check mbtiles out.mbtiles out

# A fixed colour range below the surface's maximum: drawn (the top colour), and said.
"$HM_BINARY" tiles s.tif -o low --zoom 9-10 --range 0,0.001 2>low.txt
grep -q "warning: s.tif reaches .*, above the top of the colour range (0.001)" low.txt ||
  { echo "no warning for a range below the surface's maximum:"; cat low.txt; exit 1; }
"$HM_BINARY" tiles s.tif -o auto --zoom 9-10 --range auto 2>auto.txt
if grep -q "warning" auto.txt; then echo "--range auto warned:"; cat auto.txt; exit 1; fi

# Threads do not change a byte (tiles, manifest, MBTiles rows).
"$HM_BINARY" tiles s.tif -o out1 --zoom 9-13 --mbtiles out1.mbtiles --threads 1 -q
diff -r out out1
cmp out.mbtiles out1.mbtiles

# --tms: the same tiles, rows numbered from the south.
"$HM_BINARY" tiles s.tif -o tms --zoom 9-13 --tms -q
diff <($check list out) <($check list tms --tms)
first=$($check list out | sed -n 1p)
read -r z x y <<<"$first"
cmp "out/$z/$x/$y.png" "tms/$z/$x/$(( (1 << z) - 1 - y )).png"

# 512-pixel tiles.
"$HM_BINARY" tiles s.tif -o big --zoom 9-12 --tile-size 512 -q
$check pngs big 512

# Without -q: GDAL's progress bar and a summary.
# (GDAL's progress bar goes to stdout, as in GDAL's utilities; messages go to stderr.)
"$HM_BINARY" tiles s.tif -o out --zoom 9-13 >progress.txt 2>&1
grep -q "100 - done" progress.txt || { echo "no progress bar:"; cat progress.txt; exit 1; }
grep -q "tiles written" progress.txt || { echo "no summary:"; cat progress.txt; exit 1; }
echo "tiles_basic: ok"
