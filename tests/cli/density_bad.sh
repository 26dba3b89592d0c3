#!/usr/bin/env bash
# harmmap density on bad input: each case fails with a message that says what is wrong and what to do, exits
# without crashing, and writes no raster (never a silently empty one).
set -euo pipefail
source "$HM_SOURCE_DIR/tests/cli/density_common.sh"
work=$HM_TMP/density_bad
rm -rf "$work"
mkdir -p "$work"
cd "$work"

make_points points.csv 200 3
to_gpkg points.csv in.gpkg incidents
# An empty point layer, a polygon layer, a text weight, negative and NaN weights, a non-positive radius field.
ogr2ogr -f GPKG in.gpkg points.csv -append -nln empty -a_srs EPSG:27700 -oo X_POSSIBLE_NAMES=x \
  -oo Y_POSSIBLE_NAMES=y -where "1 = 0"
printf 'WKT,code\n"POLYGON((358000 172000,359000 172000,359000 173000,358000 172000))",A\n' >wards.csv
ogr2ogr -append -f GPKG in.gpkg wards.csv -nln wards -a_srs EPSG:27700 -nlt POLYGON
printf 'x,y,weight,r\n358100,172100,2,100\n358200,172200,lots,100\n' >text_weight.csv
printf 'x,y,weight,r\n358100,172100,2,100\n358200,172200,-1,100\n' >negative_weight.csv
printf 'x,y,weight,r\n358100,172100,2,100\n358200,172200,nan,100\n' >nan_weight.csv
printf 'x,y,weight,r\n358100,172100,2,100\n358200,172200,1,0\n' >zero_radius.csv
printf 'x,y,weight\n358100,172100,0\n358200,172200,0\n' >zero_weights.csv
printf 'x,y,weight\n' >header_only.csv

d=(density in.gpkg -o out.tif)
expect_failure "radius 0" "radius must be a positive number" "${d[@]}" --radius 0
expect_failure "radius negative" "radius must be a positive number" "${d[@]}" --radius -5
expect_failure "radius text" "is not a number" "${d[@]}" --radius wide
expect_failure "cell 0" "cell size must be a positive number" "${d[@]}" --cell 0
expect_failure "cell negative" "cell size must be a positive number" "${d[@]}" --cell -25
expect_failure "max memory" "--max-memory is 20.0 MiB" "${d[@]}" --cell 1 --max-memory 20M
suggested=$(sed -n 's/.*use a larger --cell (about \([0-9.]*\) m would fit).*/\1/p' stderr.txt)
grep -q "needs .* MiB" stderr.txt && [ -n "$suggested" ] || fail "memory message lacks the need or the cell size that fits"
"$HM_BINARY" density in.gpkg -o fits.tif --cell "$suggested" --max-memory 20M -q || fail "the suggested cell $suggested does not fit"
expect_failure "huge grid" "too large: use a larger --cell" "${d[@]}" --cell 0.000001
expect_failure "empty layer" "layer empty is empty" "${d[@]}" --layers empty
expect_failure "not points" "holds Polygon geometries, not points" "${d[@]}" --layers wards
expect_failure "missing layer" "has no layer 'nothere' (layers: incidents, empty, wards)" "${d[@]}" --layers nothere
expect_failure "missing weight field" "has no field 'height' for --weight" "${d[@]}" --weight height
expect_failure "missing harm field" "--weight harm (run the harm model first)" "${d[@]}" --weight harm
expect_failure "text weight" "weight field weight is 'lots', not a number" density text_weight.csv -o out.tif --weight weight
expect_failure "negative weight" "weights must be finite and >= 0" density negative_weight.csv -o out.tif --weight weight
ogr2ogr -f GPKG text.gpkg text_weight.csv -nln incidents -a_srs EPSG:27700 -oo X_POSSIBLE_NAMES=x -oo Y_POSSIBLE_NAMES=y
ogr2ogr -f GPKG negative.gpkg negative_weight.csv -nln incidents -a_srs EPSG:27700 -oo X_POSSIBLE_NAMES=x \
  -oo Y_POSSIBLE_NAMES=y -oo AUTODETECT_TYPE=YES
expect_failure "text weight (GeoPackage)" "feature 2: weight field weight is 'lots', not a number" density text.gpkg -o out.tif --weight weight
expect_failure "negative weight (GeoPackage)" "feature 2: weight -1 (field weight): weights must be finite and >= 0" density negative.gpkg -o out.tif --weight weight
expect_failure "NaN weight" "weights must be finite and >= 0" density nan_weight.csv -o out.tif --weight weight
expect_failure "zero radius field" "a radius must be a positive number of metres" density zero_radius.csv -o out.tif --radius-field r
expect_failure "all weights zero" "total weight of 0" density zero_weights.csv -o out.tif --weight weight
expect_failure "no points" "layer header_only is empty" density header_only.csv -o out.tif
expect_failure "dates select nothing" "no records dated within 2030-01 .. the end" "${d[@]}" --from 2030-01
expect_failure "from after to" "--from 2023-05 is after --to 2023-01" "${d[@]}" --from 2023-05 --to 2023-01
expect_failure "bad date" "expected a date YYYY, YYYY-MM or YYYY-MM-DD" "${d[@]}" --from 2023-13
expect_failure "no date field" "has no field 'when' for --from/--to" "${d[@]}" --from 2023 --date-field when
expect_failure "compat scaled" "7.25 times too large" "${d[@]}" --compat qgis --output scaled
expect_failure "compat extent" "drop --extent" "${d[@]}" --compat qgis --extent wards
expect_failure "compat other" "the only compatibility mode is qgis" "${d[@]}" --compat arcgis
expect_failure "unknown kernel" "unknown kernel" "${d[@]}" --kernel gaussian
expect_failure "decay without triangular" "--decay applies to the triangular kernel only" "${d[@]}" --decay 0.5
expect_failure "scaled negative decay" "must be positive (decay > -0.5)" "${d[@]}" --kernel triangular --decay -0.7 --output scaled
expect_failure "unknown option" "unknown option --bandwidth" "${d[@]}" --bandwidth 5
expect_failure "no output" "no output file: give -o OUT.tif" density in.gpkg
expect_failure "no input" "no input" density -o out.tif
expect_failure "missing input" "cannot open as a vector source (no such file)" density nothere.gpkg -o out.tif
expect_failure "bad extent" "expected wards, beats or xmin,ymin,xmax,ymax" "${d[@]}" --extent 1,2,3
expect_failure "no wards layer" "has no layer 'beats'" "${d[@]}" --extent beats
expect_failure "bad creation option" "creation options are NAME=VALUE" "${d[@]}" -co DEFLATE
printf 'x,y\n358100,172100\n' >one_point.csv
expect_failure "rule needs points" "needs at least two points" density one_point.csv -o out.tif --radius silverman
expect_failure "difference missing" "--difference: cannot open" density --difference nothere.tif other.tif -o out.tif
expect_failure "output folder missing" "writing the GeoTIFF failed" "${d[@]/out.tif/no/such/folder/out.tif}"
