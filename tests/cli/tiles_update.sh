#!/usr/bin/env bash
# --update after a small change redraws only the tiles whose cells changed, keeps the others (the same files,
# hard-linked), drops tiles that became empty, and equals a full render byte for byte (tiles, manifest, MBTiles).
set -euo pipefail
py=/usr/bin/python3
"$py" -c "import osgeo, numpy" 2>/dev/null || { echo "skip: needs /usr/bin/python3 with python3-gdal and numpy"; exit 77; }
check="$py $HM_SOURCE_DIR/tests/cli/tiles_check.py"
tmp=$HM_TMP/tiles_update
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
surface="$py $HM_SOURCE_DIR/tests/cli/tiles_surface.py"
$surface a.tif --width-km 16 --height-km 10 --cell-m 50 --points 300
# b: 15 new points within 400 m of one spot; c: fewer points overall (tiles go empty).
$surface b.tif --width-km 16 --height-km 10 --cell-m 50 --points 300 --add-points 15 --add-near 356000,168000 --add-radius-m 400
$surface c.tif --width-km 16 --height-km 10 --cell-m 50 --points 100

"$HM_BINARY" tiles a.tif -o live --zoom 9-14 --mbtiles live.mbtiles -q
range=$(awk '/^range /{print $2 "," $3}' live/tiles-manifest.txt)
before=$($check list live | wc -l)
# Tiles by inode: a kept tile is the same file (hard-linked into the new set), a drawn one a new file.
(cd live && find . -name '*.png' -printf '%P %i\n' | sort) >inodes-before.txt

"$HM_BINARY" tiles b.tif -o live --zoom 9-14 --mbtiles live.mbtiles --update 2>update.txt
cat update.txt
drawn=$(sed -n 's/.*(\([0-9]*\) drawn, \([0-9]*\) kept.*/\1/p' update.txt)
kept=$(sed -n 's/.*(\([0-9]*\) drawn, \([0-9]*\) kept.*/\2/p' update.txt)
[ -n "$drawn" ] && [ "$drawn" -gt 0 ] || { echo "update drew nothing"; exit 1; }
[ "$drawn" -le $(( before / 5 )) ] || { echo "update drew $drawn of $before tiles: too many"; exit 1; }
[ "$kept" -gt 0 ] || { echo "update kept nothing"; exit 1; }
grep -q "kept from the previous run" update.txt || { echo "range not kept from the previous run"; exit 1; }
(cd live && find . -name '*.png' -printf '%P %i\n' | sort) >inodes-after.txt
same=$(comm -12 inodes-before.txt inodes-after.txt | wc -l)
[ "$same" -eq "$kept" ] || { echo "$same tiles are the same files, but the update says it kept $kept"; exit 1; }

"$HM_BINARY" tiles b.tif -o full --zoom 9-14 --mbtiles full.mbtiles --range "$range" -q
diff -r live full
cmp live.mbtiles full.mbtiles
echo "update drew $drawn of $before tiles and equals a full render"

# Tiles that become empty are removed; still equal to a full render.
"$HM_BINARY" tiles c.tif -o live --zoom 9-14 --mbtiles live.mbtiles --update -q
"$HM_BINARY" tiles c.tif -o full2 --zoom 9-14 --mbtiles full2.mbtiles --range "$range" -q
diff -r live full2
cmp live.mbtiles full2.mbtiles
after=$($check list live | wc -l)
[ "$after" -lt "$before" ] || { echo "no tile was removed ($after >= $before)"; exit 1; }

# Changing the colour range cannot reuse anything: the update says so and draws every tile.
"$HM_BINARY" tiles c.tif -o live --zoom 9-14 --range auto --update 2>auto.txt
grep -q "update drew every tile" auto.txt || { echo "range change not reported"; cat auto.txt; exit 1; }
"$HM_BINARY" tiles c.tif -o full3 --zoom 9-14 --range auto -q
diff -r live full3

# A tile deleted by hand is drawn again by --update.
victim=$($check list live | sed -n 3p)
read -r vz vx vy <<<"$victim"
rm "live/$vz/$vx/$vy.png"
"$HM_BINARY" tiles c.tif -o live --zoom 9-14 --update -q
diff -r live full3
# Cells that change by far less than a colour step (one ulp; the surface is fixed, so which pixels could cross a
# step is fixed too, and none does): the tiles under them are drawn again (their source hash
# changed) but come out with the same pixels, so the previous files are kept (the same inodes), not encoded and
# written again; the set still equals a full render, manifest included.
"$HM_BINARY" tiles a.tif -o same --zoom 9-14 --range 0,1000 --mbtiles same.mbtiles -q
"$py" - <<'PY'
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
src = gdal.Open("a.tif")
v = src.ReadAsArray().astype(np.float32)
h, w = v.shape
window = v[h // 3:h // 2, w // 3:w // 2]
window[window > 0] = np.nextafter(window[window > 0], np.float32(np.inf))  # one ulp: far below a colour step
out = gdal.GetDriverByName("GTiff").CreateCopy("a2.tif", src)
out.GetRasterBand(1).WriteArray(v)
out = None
PY
(cd same && find . -mindepth 3 -name '*.png' -printf '%P %i\n' | sort) >same-before.txt
"$HM_BINARY" tiles a2.tif -o same --zoom 9-14 --range 0,1000 --mbtiles same.mbtiles --update 2>same.txt
cat same.txt
drawn=$(sed -n 's/.*(\([0-9]*\) drawn, .*/\1/p' same.txt)
unchanged=$(sed -n 's/.*, \([0-9]*\) of them drawn with the same pixels.*/\1/p' same.txt)
[ -n "$drawn" ] && [ "$drawn" -gt 0 ] || { echo "the changed cells drew nothing"; exit 1; }
[ "$unchanged" -gt 0 ] || { echo "no tile was found with the same pixels"; exit 1; }
(cd same && find . -mindepth 3 -name '*.png' -printf '%P %i\n' | sort) >same-after.txt
cmp same-before.txt same-after.txt || { echo "tiles with unchanged pixels were written again"; exit 1; }
"$HM_BINARY" tiles a2.tif -o same_full --zoom 9-14 --range 0,1000 --mbtiles same_full.mbtiles -q
diff -r same same_full
cmp same.mbtiles same_full.mbtiles
echo "$drawn tiles drawn again over changed cells, $unchanged with the same pixels: kept, and equal to a full render"
echo "tiles_update: ok"
