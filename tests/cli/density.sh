#!/usr/bin/env bash
# harmmap density end to end: a Float32 COG in EPSG:27700 with nodata, overviews and its parameters in the
# metadata; byte-identical for any thread count; scaled surfaces integrate to the total weight; weights, dates,
# extents, boundary masks, bandwidth rules, per-record radius, CSV input, the difference of two periods; a failed
# run leaves the previous output in place.
set -euo pipefail
source "$HM_SOURCE_DIR/tests/cli/density_common.sh"
work=$HM_TMP/density
rm -rf "$work"
mkdir -p "$work"
cd "$work"

make_points incidents.csv 2000 7
make_points intelligence.csv 300 8
to_gpkg incidents.csv in.gpkg incidents
to_gpkg intelligence.csv in.gpkg intelligence append
# A ward layer: two squares side by side, with a gap between them.
printf 'WKT,code\n"POLYGON((358500 172500,360000 172500,360000 174500,358500 174500,358500 172500))",A\n"POLYGON((360200 172500,361500 172500,361500 174500,360200 174500,360200 172500))",B\n' >wards.csv
ogr2ogr -append -f GPKG in.gpkg wards.csv -nln wards -a_srs EPSG:27700 -nlt POLYGON

# 1. The default surface.
"$HM_BINARY" density in.gpkg -o exact.tif --radius 400 --cell 5 -q
info=$(gdalinfo exact.tif)
for want in 'Type=Float32' 'Block=512x512' 'COMPRESSION=DEFLATE' 'PREDICTOR=3' 'NoData Value=-9999' \
  'Overviews: ' 'ID["EPSG",27700]]' 'MODE=exact' 'KERNEL=quartic' 'OUTPUT_VALUES=raw' 'POINTS=2300' \
  'TOTAL_WEIGHT=2300' 'RADIUS_M=400' 'WEIGHT=count' 'VALUE_FORMULA=sum over points' 'STATISTICS_MAXIMUM=' \
  'LAYERS=incidents (2000 points'; do
  grep -qF -- "$want" <<<"$info" || fail "gdalinfo lacks '$want'"
done
origin=$(gdalinfo exact.tif | sed -n 's/^Origin = (\([^,]*\),\([^)]*\))/\1 \2/p')
awk -v o="$origin" 'BEGIN { split(o, a, " "); exit !(a[1] % 5 == 0 && a[2] % 5 == 0) }' ||
  fail "the grid origin $origin is not a multiple of the cell size"
if /usr/bin/python3 -c 'import osgeo_utils' 2>/dev/null; then
  /usr/bin/python3 -m osgeo_utils.samples.validate_cloud_optimized_geotiff -q exact.tif ||
    fail "exact.tif is not a valid Cloud Optimized GeoTIFF"
fi
echo "ok   default surface: $(meta exact.tif GRID | cut -d';' -f1), max $(meta exact.tif STATISTICS_MAXIMUM)"

# 2. Thread count: the same bytes, both modes.
for mode in "" "--compat qgis"; do
  # shellcheck disable=SC2086
  for t in 1 2 3; do "$HM_BINARY" density in.gpkg -o t$t.tif --radius 300 --cell 7 --kernel triweight $mode --threads $t -q; done
  cmp t1.tif t2.tif && cmp t1.tif t3.tif || fail "output depends on the thread count ($mode)"
done
echo "ok   byte-identical with 1, 2 and 3 threads (exact and --compat qgis)"

# 3. Scaled surfaces integrate to the total weight (the grid holds every kernel whole).
for kernel in quartic triweight epanechnikov uniform triangular; do
  "$HM_BINARY" density in.gpkg -o scaled.tif --radius 350 --cell 10 --kernel $kernel --output scaled --weight weight -q
  integral=$(meta scaled.tif SURFACE_INTEGRAL)
  total=$(meta scaled.tif TOTAL_WEIGHT)
  tolerance=1e-4
  case $kernel in uniform | triangular) tolerance=3e-3 ;; esac
  close "$integral" "$total" $tolerance || fail "$kernel: scaled integral $integral vs total weight $total"
  echo "ok   scaled $kernel integrates to $integral (total weight $total)"
done

# 4. Weights and dates: the points and weights selected are the ones awk counts.
expected_weight=$(awk -F, 'NR > 1 { s += $3 } END { printf "%.10g", s }' incidents.csv intelligence.csv)
"$HM_BINARY" density in.gpkg -o weighted.tif --weight weight -q
[ "$(meta weighted.tif TOTAL_WEIGHT)" = "$expected_weight" ] ||
  fail "total weight $(meta weighted.tif TOTAL_WEIGHT), expected $expected_weight"
expected_points=$(awk -F, 'NR > 1 && $4 >= "2023-03" && $4 <= "2023-05"' incidents.csv intelligence.csv | wc -l)
"$HM_BINARY" density in.gpkg -o dated.tif --from 2023-03 --to 2023-05 -q
[ "$(meta dated.tif POINTS)" = "$expected_points" ] || fail "--from/--to: $(meta dated.tif POINTS) points, expected $expected_points"
grep -qF "outside dates $((2300 - expected_points))" <<<"$(meta dated.tif RECORDS_REJECTED)" ||
  fail "rejected count: $(meta dated.tif RECORDS_REJECTED)"
"$HM_BINARY" density in.gpkg -o one_layer.tif --layers intelligence -q
[ "$(meta one_layer.tif POINTS)" = 300 ] || fail "--layers intelligence: $(meta one_layer.tif POINTS) points"
echo "ok   weights ($expected_weight), dates ($expected_points points in 2023-03..05), layers"

# 5. The difference of two periods on one grid: D = B - A cell by cell.
box=358000,172000,362000,175000
"$HM_BINARY" density in.gpkg -o a.tif --to 2023-06 --extent $box --cell 20 -q
"$HM_BINARY" density in.gpkg -o b.tif --from 2023-07 --extent $box --cell 20 -q
"$HM_BINARY" density --difference a.tif b.tif -o d.tif -q
[ "$(meta d.tif MODE)" = difference ] || fail "difference metadata"
for cell in "10 10" "100 75" "150 20" "57 123"; do
  # shellcheck disable=SC2086
  va=$(pixel a.tif $cell) vb=$(pixel b.tif $cell) vd=$(pixel d.tif $cell)
  close "$vd" "$(awk -v a="$va" -v b="$vb" 'BEGIN { printf "%.9g", b - a }')" 1e-6 ||
    fail "difference at $cell: $vd, expected $vb - $va"
done
"$HM_BINARY" density in.gpkg -o c.tif --cell 25 -q
set +e
"$HM_BINARY" density --difference a.tif c.tif -o d2.tif 2>err.txt
status=$?
set -e
[ $status -ne 0 ] && grep -q "not on the same grid" err.txt && [ ! -e d2.tif ] || fail "difference of different grids accepted"
echo "ok   --difference: B - A at sample cells; different grids refused"

# 6. Extents: a box widened to whole cells; wards mask cells outside the polygons (the gap between them).
"$HM_BINARY" density in.gpkg -o box.tif --extent 358010,172020,360990,174980 --cell 25 -q
gdalinfo box.tif | grep -q 'Origin = (358000.000000000000000,175000.000000000000000)' || fail "box extent not widened"
gdalinfo box.tif | grep -q 'Size is 120, 120' || fail "box extent size"
"$HM_BINARY" density in.gpkg -o masked.tif --extent wards --cell 25 -q
valid=$(meta masked.tif STATISTICS_CELLS_VALID)
[ "$valid" = $(((1500 / 25) * (2000 / 25) + (1300 / 25) * (2000 / 25))) ] || fail "ward mask: $valid valid cells"
[ "$(pixel masked.tif 61 40)" = -9999 ] || fail "the gap between the wards is not nodata"
echo "ok   --extent box and --extent wards (mask: $valid cells)"

# 7. Bandwidth rules and per-record radius.
for rule in silverman arcgis; do
  "$HM_BINARY" density in.gpkg -o rule.tif --radius $rule -q
  r=$(meta rule.tif RADIUS_M)
  meta rule.tif RADIUS_RULE | grep -q "^$rule" || fail "$rule not reported"
  awk -v r="$r" 'BEGIN { exit !(r > 10 && r < 5000) }' || fail "$rule radius $r"
  echo "ok   --radius $rule: $r m"
done
"$HM_BINARY" density in.gpkg -o field.tif --radius-field r --cell 10 -q
meta field.tif RADIUS_RULE | grep -q "per record, field r (largest 449" || fail "--radius-field: $(meta field.tif RADIUS_RULE)"
echo "ok   --radius-field"

# 8. A CSV read directly (x, y columns), and harmmap's GeoPackage read through OGR from a Shapefile too.
"$HM_BINARY" density incidents.csv -o csv.tif --weight weight -q
[ "$(meta csv.tif POINTS)" = 2000 ] || fail "CSV input: $(meta csv.tif POINTS) points"
ogr2ogr -f "ESRI Shapefile" shp in.gpkg incidents
"$HM_BINARY" density shp/incidents.shp -o shp.tif -q
[ "$(meta shp.tif POINTS)" = 2000 ] || fail "Shapefile input"
echo "ok   CSV and Shapefile inputs"

# 8b. GeoPackages are read with SQLite directly; any --oo sends them through OGR: the same surface, byte for byte,
# also with multipoints, empty and NULL geometries, NULL weights and a date filter.
printf 'WKT,weight,date\n"MULTIPOINT((358600 172600),(358900 172950))",2,2023-02\n"POINT EMPTY",1,2023-02\n,1,2023-03\n"POINT(359000 173000)",,2023-04\n"POINT(359100 173100)",3,2023-05-17\n"POINT(359200 173200)",1,\n' >odd.csv
ogr2ogr -f GPKG odd.gpkg odd.csv -nln incidents -a_srs EPSG:27700 -nlt GEOMETRY -oo AUTODETECT_TYPE=YES
for options in "" "--from 2023-01 --to 2023-04"; do
  # shellcheck disable=SC2086
  "$HM_BINARY" density odd.gpkg -o fast.tif --weight weight $options -q
  # shellcheck disable=SC2086
  "$HM_BINARY" density odd.gpkg -o ogr.tif --weight weight $options --oo LIST_ALL_TABLES=NO -q
  cmp fast.tif ogr.tif || fail "SQLite and OGR readings differ ($options)"
done
[ "$(meta fast.tif POINTS)" = 2 ] && meta fast.tif RECORDS_REJECTED | grep -q "no location 2, empty weight 1, empty radius 0, no date 1, outside dates 1" ||
  fail "odd records: $(meta fast.tif POINTS) points, $(meta fast.tif RECORDS_REJECTED)"
"$HM_BINARY" density in.gpkg -o fast.tif --weight weight -q
"$HM_BINARY" density in.gpkg -o ogr.tif --weight weight --oo LIST_ALL_TABLES=NO -q
cmp fast.tif ogr.tif || fail "SQLite and OGR readings differ"
echo "ok   GeoPackage read by SQLite equals OGR's reading (multipoints, empty and NULL geometries, NULL weights, dates)"

# 9. A failed run keeps the previous output, and leaves no temporary file.
cp exact.tif before.tif
set +e
"$HM_BINARY" density in.gpkg -o exact.tif --weight no_such_field 2>err.txt
status=$?
set -e
[ $status -ne 0 ] && cmp -s exact.tif before.tif || fail "a failed run changed the previous output"
ls ./*.tmp-* >/dev/null 2>&1 && fail "temporary files left: $(ls ./*.tmp-*)"
"$HM_BINARY" help density | grep -q -- "--compat qgis" || fail "help density"
echo "ok   atomic output; help"
