#!/usr/bin/env bash
# Hostile boundaries: a ward of a million vertices (generated here, as GeoJSON: 24 MB) is loaded and used
# correctly in bounded time and memory; a layer whose polygons overlap (a duplicated feature, two wards drawn
# over each other) is refused with the pairs named, because a record there would be in two wards; an overlap
# that is only a digitising sliver is a warning; a self-intersecting polygon is repaired and reported.
source "$(dirname "$0")/hostile_lib.sh"
cd "$work"
crs='"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}}'
points="id,date,category,weight,easting,northing"

# A star-like ring of 1,000,000 vertices around (359000, 172500), radius 2000 m +- 5%.
awk -v crs="$crs" 'BEGIN {
  n = 1000000; cx = 359000; cy = 172500; r = 2000; pi = 3.14159265358979
  printf "{\"type\":\"FeatureCollection\",%s,\"features\":[{\"type\":\"Feature\",\"properties\":{\"code\":\"E05999999\",\"name\":\"Million\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[", crs
  for (i = 0; i < n; i++) { a = 2 * pi * i / n; rr = r * (1 + 0.05 * sin(a * 997)); printf "[%.3f,%.3f],", cx + rr * cos(a), cy + rr * sin(a) }
  printf "[%.3f,%.3f]]]}}]}\n", cx + r, cy }' >million.geojson
printf '%s\n' "$points" "c,2026-01-01,Burglary,1,359000,172500" "far,2026-01-01,Burglary,1,365000,172500" \
  "edge,2026-01-01,Burglary,1,361050,172500" "in,2026-01-01,Burglary,1,360900,172500" >million.csv
started=$SECONDS
/usr/bin/time -f "%M" -o rss.txt "$HM_BINARY" geocode -q -o million.gpkg --wards million.geojson million.csv
expect_eq "placement against a million-vertex ward" \
  "$(sql million.gpkg "select group_concat(record_id||':'||placement, ' ') from (select * from incidents order by fid)")" \
  "c:inside far:outside_area edge:outside_area in:inside"
expect_eq "vertices kept" "$(sql million.gpkg "select count(*) from wards")" "1"
[ $((SECONDS - started)) -lt 60 ] || fail "geocode with a million-vertex ward took $((SECONDS - started)) s"
[ "$(cat rss.txt)" -lt 1500000 ] || fail "geocode with a million-vertex ward peaked at $(cat rss.txt) KB"
"$HM_BINARY" density -q million.gpkg -o million.tif --extent wards --cell 50
gdalinfo million.tif >/dev/null || fail "density masked by the million-vertex ward"
echo "  a million vertices: geocode $((SECONDS - started)) s in all, peak $(( $(cat rss.txt) / 1024 )) MiB"

# polygon LAYER.geojson CODE NAME X0 Y0 X1 Y1...: a GeoJSON feature of a rectangle.
square() { printf '{"type":"Feature","properties":{"code":"%s","name":"%s"},"geometry":{"type":"Polygon","coordinates":[[[%s,%s],[%s,%s],[%s,%s],[%s,%s],[%s,%s]]]}}' \
  "$1" "$2" "$3" "$4" "$5" "$4" "$5" "$6" "$3" "$6" "$3" "$4"; }
layer() { printf '{"type":"FeatureCollection",%s,"features":[%s]}\n' "$crs" "$(IFS=,; echo "$*")"; }
printf '%s\n' "$points" "w,2026-01-01,Burglary,1,358500,172500" "both,2026-01-01,Burglary,1,359250,172500" >two.csv

layer "$(square E05000001 West 358000 172000 359500 173000)" "$(square E05000002 East 359000 172000 360000 173000)" >overlap.geojson
expect_error "two wards drawn over each other" "E05000001 (West) and E05000002 (East): 500000 m2" \
  geocode -q -o x.gpkg --wards overlap.geojson two.csv
layer "$(square E05000001 West 358000 172000 359000 173000)" "$(square E05000002 East 359000 172000 360000 173000)" \
  "$(square E05000002b "East again" 359000 172000 360000 173000)" >duplicate.geojson
expect_error "a duplicated ward" "E05000002 (East) and E05000002b (East again)" \
  geocode -q -o x.gpkg --wards duplicate.geojson two.csv
expect_error "overlapping beats" "--beats overlap.geojson: 1 pair" \
  geocode -q -o x.gpkg --wards "$wards" --beats overlap.geojson two.csv
[ ! -e x.gpkg ] || fail "an output was written from overlapping boundaries"
# --overlaps-checked (harmmap update, over the boundary files its run checked) skips the check: the same
# overlapping wards are then taken as they are.
"$HM_BINARY" geocode -q -o x.gpkg --wards overlap.geojson --overlaps-checked two.csv ||
  fail "--overlaps-checked still checked the overlaps"
rm -f x.gpkg

# A sliver: the shared edge off by 0.5 mm over 1 km (0.5 m2, under a millionth of a 1 km2 ward): a warning.
layer "$(square E05000001 West 358000 172000 359000.0005 173000)" "$(square E05000002 East 359000 172000 360000 173000)" >sliver.geojson
"$HM_BINARY" geocode -o sliver.gpkg --wards sliver.geojson two.csv >/dev/null 2>warn.txt
grep -q "1 pair of polygons overlap by slivers" warn.txt || fail "no warning for a sliver: $(cat warn.txt)"
expect_eq "sliver: both placed" "$(sql sliver.gpkg "select count(*) from incidents where ward_code <> ''")" "2"

# Wards that only touch (a tiling, with a hole filled by another ward) are not overlaps: the sample's 36 wards.
"$HM_BINARY" geocode -q -o sample.gpkg --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" \
  "$sample/street/2026-01-avon-and-somerset-street.csv" 2>warn.txt
grep -q "overlap" warn.txt && fail "the sample's tiling reported as overlapping: $(cat warn.txt)"

# A self-intersecting ring (a bow tie) is repaired with GEOS MakeValid and reported, not refused.
printf '{"type":"FeatureCollection",%s,"features":[{"type":"Feature","properties":{"code":"E05000009","name":"Bow tie"},"geometry":{"type":"Polygon","coordinates":[[[358000,172000],[359000,173000],[359000,172000],[358000,173000],[358000,172000]]]}}]}\n' "$crs" >bowtie.geojson
printf '%s\n' "$points" "left,2026-01-01,Burglary,1,358100,172500" "middle,2026-01-01,Burglary,1,358500,172100" >bowtie.csv
"$HM_BINARY" geocode -o bowtie.gpkg --wards bowtie.geojson bowtie.csv >/dev/null 2>warn.txt
grep -qi "repair\|invalid" warn.txt || fail "no report of the repaired bow tie: $(cat warn.txt)"
expect_eq "bow tie placement" "$(sql bowtie.gpkg "select group_concat(record_id||':'||placement, ' ') from (select * from incidents order by fid)")" \
  "left:inside middle:outside_area"
echo "hostile_polygons: a million vertices handled; overlapping wards and beats refused; slivers warned; bow tie repaired"
