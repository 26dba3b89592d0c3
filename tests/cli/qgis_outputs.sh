#!/usr/bin/env bash
# The sample run's outputs opened in QGIS itself (tests/cli/qgis_check.py through PyQGIS, headless): every layer
# valid with the feature count written, harmmap's default styles applied (not QGIS's single symbol), EPSG:27700,
# the surface drawn with the tiles' colours, the project read and rendered to a PNG that is not blank. Skipped when
# PyQGIS (Debian's python3-qgis, scripts/setup --qgis) is absent.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import qgis.core" 2>/dev/null \
  || skip "PyQGIS is not installed: /usr/bin/python3 cannot import qgis.core (install it with scripts/setup --qgis)"
export QT_QPA_PLATFORM=offscreen
export XDG_RUNTIME_DIR="$work/xdg"
mkdir -m 700 "$XDG_RUNTIME_DIR"
sample="$HM_SOURCE_DIR/data/sample"
out="$work/out"
mkdir "$out"
"$HM_BINARY" geocode -q -o "$out/harmmap.gpkg" --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" \
  --postcodes "$sample/postcodes.csv" "$sample"/street/*.csv --intel "$sample/intelligence.csv" \
  || fail "geocode failed"
# geocode alone already leaves a styled, described GeoPackage.
expect_eq "default styles written by geocode" \
  "$(sql "$out/harmmap.gpkg" "SELECT group_concat(f_table_name, ' ') FROM (SELECT f_table_name FROM layer_styles
      WHERE useAsDefault ORDER BY f_table_name)")" "beats incidents intelligence wards"
expect_eq "layer metadata written by geocode" \
  "$(sql "$out/harmmap.gpkg" "SELECT count(*) FROM gpkg_metadata_reference WHERE reference_scope = 'table'")" 6
"$HM_BINARY" aggregate -q "$out/harmmap.gpkg" --population "$sample/population.csv" -o "$out" || fail "aggregate failed"
"$HM_BINARY" density -q "$out/harmmap.gpkg" -o "$out/density.tif" || fail "density failed"
"$HM_BINARY" tiles -q "$out/density.tif" -o "$out/tiles" --zoom 10-12 || fail "tiles failed"
"$HM_BINARY" qgis -q "$out" || fail "harmmap qgis failed"
[ -s "$out/harmmap.qgs" ] || fail "no project file"
[ -s "$out/density.qml" ] || fail "no density.qml beside density.tif"
/usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/qgis_check.py" "$out" "$out/harmmap.qgs" "$work/render" \
  || fail "QGIS checks failed (see above)"
