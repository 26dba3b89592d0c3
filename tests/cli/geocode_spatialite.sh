#!/usr/bin/env bash
# Ward assignment identical to SpatiaLite's ST_Within, record by record, on the bundled sample data and on the
# real data.police.uk files and ward boundaries in $HM_REAL_DATA (when present). Both sides transform WGS84 to
# British National Grid with PROJ (ogr2ogr for SpatiaLite), so they see the same coordinates.
source "$(dirname "$0")/lib.sh"
command -v spatialite >/dev/null || skip "spatialite CLI absent (scripts/setup --test installs spatialite-bin)"

# compare NAME WARDS CODE_FIELD CSV X_NAME Y_NAME SOURCE_SRS
compare() {
  local name=$1 wards=$2 code=$3 csv=$4 xname=$5 yname=$6 srs=$7
  local h="$work/$name.gpkg" s="$work/$name.sqlite"
  "$HM_BINARY" geocode -q -o "$h" --wards "$wards" --ward-code "$code" "$csv"
  ogr2ogr -f SQLite -dsco SPATIALITE=YES "$s" "$wards" -nln wards -t_srs EPSG:27700 -lco SPATIAL_INDEX=YES -lco GEOMETRY_NAME=GEOMETRY \
    -lco LAUNDER=NO -nlt MULTIPOLYGON
  ogr2ogr -append -f SQLite "$s" "$csv" -nln points -oo X_POSSIBLE_NAMES="$xname" -oo Y_POSSIBLE_NAMES="$yname" \
    -oo KEEP_GEOM_COLUMNS=NO -s_srs "$srs" -t_srs EPSG:27700 -nlt POINT -lco SPATIAL_INDEX=YES -lco LAUNDER=NO -lco GEOMETRY_NAME=GEOMETRY
  # Each ward searches the points' spatial index (the fast way round, see ../shared/reference/performance.md).
  spatialite -batch -bail "$s" >/dev/null <<SQL
CREATE TABLE s_place AS
  SELECT p.ogc_fid AS fid, w."$code" AS ward FROM wards w JOIN points p
  ON p.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'points' AND search_frame = w.GEOMETRY)
  AND ST_Within(p.GEOMETRY, w.GEOMETRY);
ATTACH '$h' AS h;
CREATE TABLE mismatch AS
  SELECT i.source_line, i.ward_code AS harmmap, s.ward AS spatialite FROM h.incidents i
  LEFT JOIN s_place s ON s.fid = i.source_line - 1
  WHERE coalesce(i.ward_code, '') != coalesce(s.ward, '');
SQL
  local placed_h placed_s mismatches
  placed_h=$(sql "$h" "select count(*) from incidents where ward_code is not null")
  placed_s=$(sql "$s" "select count(*) from s_place")
  mismatches=$(sql "$s" "select count(*) from mismatch")
  if [ "$mismatches" != 0 ]; then
    sql "$s" "select * from mismatch limit 10" >&2
    fail "$name: $mismatches records placed differently from SpatiaLite ST_Within"
  fi
  expect_eq "$name: placed records" "$placed_h" "$placed_s"
  [ "$placed_h" -gt 0 ] || fail "$name: nothing placed"
  echo "$name: $placed_h records in the same wards as SpatiaLite ST_Within"
}

sample="$HM_SOURCE_DIR/data/sample"
for month in "$sample"/street/*.csv; do
  compare "sample-$(basename "$month" | cut -c1-7)" "$sample/wards.gpkg" WD23CD "$month" Longitude Latitude EPSG:4326
done

if [ -d "${HM_REAL_DATA:-}/avon-somerset-crime-2023-01" ]; then
  compare bristol "$HM_REAL_DATA/wards-census-merged-2011/E06000023.geojson" cmwd11cd \
    "$HM_REAL_DATA/avon-somerset-crime-2023-01/2023-01-avon-and-somerset-street.csv" Longitude Latitude EPSG:4326
  compare birmingham "$HM_REAL_DATA/wards-census-merged-2011/E08000025.geojson" cmwd11cd \
    "$HM_REAL_DATA/west-midlands-crime-2011-02-legacy/2011-02-west-midlands-street.csv" Easting Northing EPSG:27700
else
  echo "real data absent ($HM_REAL_DATA): real-data comparison skipped"
fi
echo ok
