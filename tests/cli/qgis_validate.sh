#!/usr/bin/env bash
# Every GeoPackage the sample run writes passes GDAL's validate_gpkg.py (Debian's python3-gdal), after geocode and
# after `harmmap qgis` restyles it (twice: nothing is added twice); the layer_styles rows have the form QGIS looks
# styles up by (f_table_schema '' not NULL, f_geometry_column the layer's geometry column, one default per layer).
# TODO: when `harmmap run` lands, validate what it writes (aggregate's layers and public.gpkg too).
source "$(dirname "$0")/lib.sh"
validator=/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py
[ -r "$validator" ] || skip "GDAL's validate_gpkg.py is not installed (python3-gdal)"
sample="$HM_SOURCE_DIR/data/sample"
out="$work/out"
mkdir "$out"
validate_all() {
  local n=0
  for gpkg in "$out"/*.gpkg; do
    /usr/bin/python3 "$validator" "$gpkg" || fail "$1: $(basename "$gpkg") does not pass validate_gpkg.py"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || fail "$1: no GeoPackage written"
}
"$HM_BINARY" geocode -q -o "$out/harmmap.gpkg" --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" \
  --postcodes "$sample/postcodes.csv" "$sample"/street/*.csv --intel "$sample/intelligence.csv" \
  || fail "geocode failed"
validate_all "after geocode"
g="$out/harmmap.gpkg"
expect_eq "layer_styles rows in QGIS's form" "$(sql "$g" "SELECT count(*) FROM layer_styles s JOIN gpkg_geometry_columns g
    ON g.table_name = s.f_table_name AND g.column_name = s.f_geometry_column WHERE s.f_table_schema = ''
    AND s.f_table_catalog = '' AND s.useAsDefault = 1 AND s.styleQML LIKE '<!DOCTYPE qgis%'")" 4
expect_eq "one default style per layer" "$(sql "$g" "SELECT max(n) FROM (SELECT count(*) AS n FROM layer_styles
    WHERE useAsDefault GROUP BY f_table_name)")" 1
expect_eq "every column described" "$(sql "$g" "SELECT count(*) FROM gpkg_contents c JOIN pragma_table_info(c.table_name) p
    LEFT JOIN gpkg_data_columns d ON d.table_name = c.table_name AND d.column_name = p.name
    WHERE d.description IS NULL OR d.description = ''")" 0
expect_eq "dataset metadata" "$(sql "$g" "SELECT count(*) FROM gpkg_metadata m JOIN gpkg_metadata_reference r
    ON r.md_file_id = m.id WHERE r.reference_scope = 'geopackage' AND m.md_standard_uri = 'http://gdal.org'")" 1
ogrinfo -so -ro "$g" 2>/dev/null | grep -q "HARMMAP_GEOCODE_RUN=" || fail "ogrinfo does not list the run's metadata"
before=$(sql "$g" "SELECT (SELECT count(*) FROM layer_styles) || ' ' || (SELECT count(*) FROM gpkg_metadata) || ' '
    || (SELECT count(*) FROM gpkg_extensions) || ' ' || (SELECT count(*) FROM gpkg_data_columns)")
"$HM_BINARY" qgis -q --no-project "$out" || fail "harmmap qgis failed"
"$HM_BINARY" qgis -q "$out" || fail "harmmap qgis (second run) failed"
validate_all "after harmmap qgis"
expect_eq "nothing added twice" "$(sql "$g" "SELECT (SELECT count(*) FROM layer_styles) || ' ' || (SELECT count(*) FROM
    gpkg_metadata) || ' ' || (SELECT count(*) FROM gpkg_extensions) || ' ' || (SELECT count(*) FROM gpkg_data_columns)")" \
  "$before"
