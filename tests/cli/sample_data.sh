#!/usr/bin/env bash
# data/sample is reproducible and sound: regenerate it with scripts/make-sample-data into $HM_TMP, require the
# same bytes as the committed files, and check with SpatiaLite SQL (ogrinfo's SQLite dialect) that the wards tile
# the area (valid, sum of areas == area of the union, no overlaps, no gaps) and that the beats cover the same
# outline. Skips (77) without Debian's python3-gdal, python3-numpy and python3-shapely.
set -euo pipefail
src=$HM_SOURCE_DIR/data/sample
out=$HM_TMP/sample_data
if ! /usr/bin/python3 -c "import osgeo.ogr, numpy, shapely" 2>/dev/null; then
  echo "SKIP: needs python3-gdal, python3-numpy and python3-shapely (scripts/setup --test)"
  exit 77
fi
rm -rf "$out"
"$HM_SOURCE_DIR/scripts/make-sample-data" -o "$out"

# 1. Same files, same bytes. GeoPackage bytes depend on the GDAL and SQLite versions: the committed ones were
#    written with GDAL 3.6.2 (Debian bookworm); elsewhere only their content is checked (step 2).
gdal_version=$(ogrinfo --version | sed -n 's/^GDAL \([0-9.]*\).*/\1/p')
# project.ini is the hand-written sample job (harmmap run), not generated.
committed() { (cd "$src" && find . -type f ! -name .gitattributes ! -name project.ini ! -path './out/*' | sort); }
diff <(committed) <(cd "$out" && find . -type f | sort)
status=0
for f in $(committed); do
  case "$f" in *.gpkg) [ "$gdal_version" = 3.6.2 ] || { echo "note: $f not compared (GDAL $gdal_version)"; continue; } ;; esac
  cmp "$src/$f" "$out/$f" || { echo "FAIL: $f differs from the committed file (run scripts/make-sample-data)"; status=1; }
done

# 2. Wards tile the outline; beats cover the same outline.
check=$HM_TMP/sample_data_check.gpkg
rm -f "$check"
cp "$out/wards.gpkg" "$check"
ogr2ogr -update "$check" "$out/beats.gpkg" beats
ogrinfo -q -dialect SQLite -sql "SELECT COUNT(*) AS n, SUM(ST_IsValid(geom)) AS valid,
    SUM(ST_Area(geom)) AS sum_area, ST_Area(ST_Union(geom)) AS union_area,
    ST_NumGeometries(ST_Union(geom)) AS parts, ST_NumInteriorRing(ST_Union(geom)) AS holes,
    (SELECT COUNT(*) FROM wards a, wards b WHERE a.fid < b.fid AND ST_Overlaps(a.geom, b.geom)) AS overlaps,
    (SELECT COUNT(*) FROM wards WHERE ST_NumInteriorRing(ST_GeometryN(geom, 1)) > 0) AS with_hole,
    (SELECT COUNT(*) FROM wards WHERE ST_NumGeometries(geom) > 1) AS multipart,
    (SELECT COUNT(DISTINCT WD23CD) FROM wards) AS codes,
    (SELECT COUNT(*) FROM beats) AS beats, (SELECT SUM(ST_IsValid(geom)) FROM beats) AS beats_valid,
    ST_Area(ST_SymDifference(ST_Union(geom), (SELECT ST_Union(geom) FROM beats))) AS beats_diff
    FROM wards" "$check" | tee "$HM_TMP/sample_data_check.txt"
awk -F' = ' '/\(/ { split($1, a, " "); v[a[1]] = $2 }
  END {
    fail = 0
    if (v["n"] < 30 || v["valid"] != v["n"] || v["codes"] != v["n"]) { print "FAIL: wards count/valid/codes"; fail = 1 }
    d = v["sum_area"] - v["union_area"]; if (d < 0) d = -d
    if (d > 1e-6 * v["union_area"] || v["overlaps"] != 0) { print "FAIL: wards overlap (sum of areas " v["sum_area"] " != union " v["union_area"] ")"; fail = 1 }
    if (v["parts"] != 1 || v["holes"] != 0) { print "FAIL: the union of the wards has gaps or several parts"; fail = 1 }
    if (v["with_hole"] < 1 || v["multipart"] < 1) { print "FAIL: no ward with a hole, or none in two parts"; fail = 1 }
    if (v["beats"] < 4 || v["beats_valid"] != v["beats"] || v["beats_diff"] > 1) { print "FAIL: beats do not cover the wards outline"; fail = 1 }
    exit fail
  }' "$HM_TMP/sample_data_check.txt" || status=1

# 3. The street files have the data.police.uk header, CRLF line endings and 12 fields on every row.
header=$'Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\r'
for f in "$out"/street/*.csv; do
  [ "$(head -n 1 "$f")" = "$header" ] || { echo "FAIL: $f header"; status=1; }
  awk -F, 'NF != 12 || !/\r$/ { print FILENAME ":" NR ": " NF " fields"; bad = 1 } END { exit bad }' "$f" || status=1
done
[ $status -eq 0 ] && echo "sample_data: OK"
exit $status
