#!/usr/bin/env bash
# Every GeoPackage the sample run writes passes GDAL's validate_gpkg.py (Debian's python3-gdal): harmmap geocode's
# alone, `harmmap run`'s (records and ward_harm/beat_harm in one file) and the public product's; again after
# `harmmap qgis` restyles them (twice: nothing is added twice). The layer_styles rows have the form QGIS looks
# styles up by (f_table_schema '' not NULL, f_geometry_column the layer's geometry column, one default per layer)
# and every column of every table is described in gpkg_data_columns.
source "$(dirname "$0")/lib.sh"
validator=/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py
[ -r "$validator" ] || skip "GDAL's validate_gpkg.py is not installed (python3-gdal)"
sample="$HM_SOURCE_DIR/data/sample"
validate() { # WHEN FILE...
  local when=$1
  shift
  for gpkg in "$@"; do
    /usr/bin/python3 "$validator" "$gpkg" || fail "$when: $gpkg does not pass validate_gpkg.py"
  done
}
described() { # FILE: the form checks
  local g=$1
  expect_eq "$g: one default style per styled layer" "$(sql "$g" "SELECT count(*) || ' ' || count(DISTINCT f_table_name)
      FROM layer_styles WHERE useAsDefault")" "$(sql "$g" "SELECT count(DISTINCT f_table_name) || ' ' ||
      count(DISTINCT f_table_name) FROM layer_styles")"
  expect_eq "$g: layer_styles rows in QGIS's form" "$(sql "$g" "SELECT count(*) FROM layer_styles s
      LEFT JOIN gpkg_geometry_columns g ON g.table_name = s.f_table_name AND g.column_name = s.f_geometry_column
      WHERE g.table_name IS NULL OR s.f_table_schema IS NOT '' OR s.f_table_catalog IS NOT ''
      OR s.styleQML NOT LIKE '<!DOCTYPE qgis%'")" 0
  expect_eq "$g: every column described" "$(sql "$g" "SELECT count(*) FROM gpkg_contents c
      JOIN pragma_table_info(c.table_name) p LEFT JOIN gpkg_data_columns d ON d.table_name = c.table_name
      AND d.column_name = p.name WHERE d.description IS NULL OR d.description = ''")" 0
  expect_eq "$g: dataset metadata" "$(sql "$g" "SELECT count(*) FROM gpkg_metadata m JOIN gpkg_metadata_reference r
      ON r.md_file_id = m.id WHERE r.reference_scope = 'geopackage' AND m.md_standard_uri = 'http://gdal.org'")" 1
}
counts() {
  sql "$1" "SELECT (SELECT count(*) FROM layer_styles) || ' ' || (SELECT count(*) FROM gpkg_metadata) || ' ' ||
      (SELECT count(*) FROM gpkg_extensions) || ' ' || (SELECT count(*) FROM gpkg_data_columns)"
}

# geocode alone: styled and described inside its own transaction.
"$HM_BINARY" geocode -q -o "$work/geocode.gpkg" --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" \
  --postcodes "$sample/postcodes.csv" "$sample"/street/*.csv --intel "$sample/intelligence.csv" \
  || fail "geocode failed"
validate "after geocode" "$work/geocode.gpkg"
described "$work/geocode.gpkg"
expect_eq "geocode's default styles" "$(sql "$work/geocode.gpkg" "SELECT group_concat(f_table_name, ' ') FROM
    (SELECT f_table_name FROM layer_styles WHERE useAsDefault ORDER BY f_table_name)")" "beats incidents intelligence wards"
ogrinfo -so -ro "$work/geocode.gpkg" 2>/dev/null | grep -q "HARMMAP_GEOCODE_RUN=" \
  || fail "ogrinfo does not list the run's metadata"

# The sample run, and the public product.
out="$work/out"
"$HM_BINARY" run -q "$sample/project.ini" -o "$out" > run.log 2>&1 || { cat run.log; fail "harmmap run failed"; }
"$HM_BINARY" aggregate -q "$out/harmmap.gpkg" --population "$sample/population.csv" --public -o "$out/public" \
  || fail "aggregate --public failed"
"$HM_BINARY" qgis -q "$out" || fail "harmmap qgis failed"
gpkgs=("$out"/*.gpkg "$out"/public/*.gpkg)
expect_eq "GeoPackages written" "${#gpkgs[@]}" 2
validate "after harmmap run" "${gpkgs[@]}"
for g in "${gpkgs[@]}"; do described "$g"; done
expect_eq "run's default styles" "$(sql "$out/harmmap.gpkg" "SELECT group_concat(f_table_name, ' ') FROM
    (SELECT f_table_name FROM layer_styles WHERE useAsDefault ORDER BY f_table_name)")" \
  "beat_harm beats incidents intelligence ward_harm wards"
before="$(counts "$out/harmmap.gpkg") $(counts "$out/public/public.gpkg")"
"$HM_BINARY" qgis -q --no-project "$out" || fail "harmmap qgis --no-project failed"
"$HM_BINARY" qgis -q "$out" || fail "harmmap qgis (again) failed"
validate "after harmmap qgis twice" "${gpkgs[@]}"
expect_eq "nothing added twice" "$(counts "$out/harmmap.gpkg") $(counts "$out/public/public.gpkg")" "$before"
