#!/usr/bin/env bash
# Bad input to harmmap tiles fails with a clear message (exit status 1, or 2 for usage), and the previous tile set
# and MBTiles file are left exactly as they were.
set -euo pipefail
py=/usr/bin/python3
"$py" -c "import osgeo, numpy" 2>/dev/null || { echo "skip: needs /usr/bin/python3 with python3-gdal and numpy"; exit 77; }
tmp=$HM_TMP/tiles_bad_input
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
surface="$py $HM_SOURCE_DIR/tests/cli/tiles_surface.py"
$surface s.tif --width-km 8 --height-km 6 --cell-m 50 --points 60
$surface nogeo.tif --width-km 8 --height-km 6 --cell-m 50 --points 60 --no-georef
# 200 km x 200 km at 2 km cells: a tiny file whose zoom 0-22 pyramid has about 1.4 billion tiles.
$surface wide.tif --width-km 200 --height-km 200 --cell-m 2000 --points 50
$surface mars.tif --width-km 8 --height-km 6 --cell-m 50 --points 60 --crs "+proj=eqc +a=3396190 +b=3376200 +units=m +no_defs"
$surface local.tif --width-km 8 --height-km 6 --cell-m 50 --points 60 --crs local
"$py" - <<'PY'
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.Translate("nocrs.tif", "s.tif")
ds.SetProjection("")
ds = None
PY
printf '0 0 0 0\n0.5 300 20 20\n1 255 255 255\n' >bad-colour.txt
printf '0 0 0 0\n0.8 10 10 10\n0.4 20 20 20\n1 255 255 255\n' >bad-order.txt
echo "not a raster" >text.tif

"$HM_BINARY" tiles s.tif -o live --zoom 9-12 --mbtiles live.mbtiles -q
cp -a live keep
cp live.mbtiles keep.mbtiles

# expect STATUS PATTERN ARGS...: the command fails with that status and message; the live set is untouched.
expect() {
  local want_status=$1 pattern=$2
  shift 2
  set +e
  "$HM_BINARY" tiles "$@" 2>err.txt >/dev/null
  local status=$?
  set -e
  if [ "$status" -ne "$want_status" ]; then
    echo "tiles $*: exit status $status, expected $want_status"; cat err.txt; exit 1
  fi
  if ! grep -q -- "$pattern" err.txt; then
    echo "tiles $*: message lacks '$pattern':"; cat err.txt; exit 1
  fi
  diff -r keep live >/dev/null || { echo "tiles $*: the previous tile set changed"; exit 1; }
  cmp -s keep.mbtiles live.mbtiles || { echo "tiles $*: the previous MBTiles changed"; exit 1; }
  ls -a . | grep -q '\.tmp-' && { echo "tiles $*: left a temporary file or folder"; ls -a; exit 1; }
  echo "ok: $(head -1 err.txt)"
}

expect 1 "not georeferenced" nogeo.tif -o live --zoom 9-12 --mbtiles live.mbtiles
expect 1 "no coordinate reference system" nocrs.tif -o live --zoom 9-12 --mbtiles live.mbtiles
expect 1 "cannot be placed on the Earth" local.tif -o live --zoom 9-12 --mbtiles live.mbtiles
expect 1 "no transformation from the raster's CRS" mars.tif -o live --zoom 9-12 --mbtiles live.mbtiles
expect 1 "cannot open as a raster" text.tif -o live --zoom 9-12
expect 1 "cannot open as a raster" missing.tif -o live --zoom 9-12
expect 2 "covers [0-9]* tile positions" wide.tif -o live --zoom 0-22 --mbtiles live.mbtiles
expect 2 "add --force" wide.tif -o live --zoom 10-20
expect 1 "bad-colour.txt:2: bad colour" s.tif -o live --ramp ./bad-colour.txt --mbtiles live.mbtiles
expect 1 "bad-order.txt:3: position 0.4 does not increase" s.tif -o live --ramp ./bad-order.txt
expect 2 "no ramp of that name" s.tif -o live --ramp rainbow
expect 2 "--zoom 'x'" s.tif -o live --zoom x
expect 2 "MIN must be below MAX" s.tif -o live --range 5,1
expect 2 "unknown option" s.tif -o live --frobnicate
# Unwritable output: under /proc nothing can be created; a file where the parent folder should be.
expect 1 "cannot create a folder" s.tif -o /proc/harmmap-tiles --zoom 9-12
touch plainfile
expect 1 "cannot create a folder" s.tif -o plainfile/tiles --zoom 9-12
expect 1 "cannot create a file beside it" s.tif -o live --zoom 9-12 --mbtiles /proc/harmmap.mbtiles
# A folder with other things in it is never swapped away.
mkdir -p docs && echo precious >docs/notes.txt
expect 2 "holds no harmmap tile set" s.tif -o docs --zoom 9-12
[ "$(cat docs/notes.txt)" = precious ]
# A failure after drawing (a broken overlay, found when writing the viewer) still leaves everything as it was.
echo "{ not json" >broken.geojson
expect 1 "cannot open as a vector file" s.tif -o live --zoom 9-12 --mbtiles live.mbtiles --overlay broken.geojson
echo "tiles_bad_input: ok"
