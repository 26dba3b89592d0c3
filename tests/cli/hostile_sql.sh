#!/usr/bin/env bash
# Hostile input: SQL metacharacters and quotes in field values, in column, layer and field names and in file
# names. Values must be stored verbatim (they are bound, never spliced into SQL), names must work when quoted
# (any SQL naming a layer or field quotes it), and the HTML report must escape what it shows.
source "$(dirname "$0")/hostile_lib.sh"
cd "$work"

# Values: quotes, comments, statement separators, printf directives, HTML.
cat >values.csv <<'EOF'
id,date,category,weight,easting,northing
"x1'; DROP TABLE incidents; --",2026-01-05,"Burglary"" OR 1=1 --",1,358500,172500
x2,2026-01-05,"<script>alert('x')</script>",1,358500,172500
x3,2026-01-05,"%s%n%x\",1,358500,172500
x4,2026-01-05,"Robbery'),(1,2,3);--",1,359500,172500
"x5"" ",2026-01-05,"Drugs; ATTACH DATABASE '/tmp/x' AS x",1,359500,172500
EOF
out="o'ut \"q\"; x.gpkg"
"$HM_BINARY" geocode -q -o "$out" --wards "$wards" values.csv
expect_eq "values stored verbatim" "$(sql "$out" "select group_concat(record_id || '|' || category, '#') from (select * from incidents order by fid)")" \
  "x1'; DROP TABLE incidents; --|Burglary\" OR 1=1 --#x2|<script>alert('x')</script>#x3|%s%n%x\\#x4|Robbery'),(1,2,3);--#x5\" |Drugs; ATTACH DATABASE '/tmp/x' AS x"
expect_eq "all placed" "$(sql "$out" "select placed || ' ' || rejected from runs")" "5 0"
[ ! -e /tmp/x ] || [ "$(stat -c %Y /tmp/x)" -lt "$(stat -c %Y values.csv)" ] || fail "a value was run as SQL (ATTACH)"

# aggregate reads those categories back with SQL and shows them in the report: escaped there.
"$HM_BINARY" aggregate "$out" -o "rep dir'" >/dev/null
grep -q "<script>alert" "rep dir'/report.html" && fail "report.html shows a category unescaped"
grep -q "&lt;script&gt;alert" "rep dir'/report.html" || fail "report.html lacks the escaped category"
expect_eq "ward_harm rows" "$(sql "$out" "select count(*) from ward_harm")" "2"

# Names: CSV columns named with quotes, commas, semicolons and brackets, given with the --*-field options.
printf '%s\n' 'i"d,da'"'"'te,"cat, ""egory""",w;eight,"e""asting",north]ing' 'a1,2026-01-05,Burglary,2,358500,172500' >names.csv
fields=(--id-field 'i"d' --date-field "da'te" --category-field 'cat, "egory"' --weight-field 'w;eight'
  --easting-field 'e"asting' --northing-field 'north]ing')
"$HM_BINARY" geocode -q -o names.gpkg --wards "$wards" "${fields[@]}" names.csv
expect_eq "record read through quoted column names" "$(sql names.gpkg "select record_id||' '||date||' '||category||' '||weight||' '||ward_code from incidents")" \
  "a1 2026-01-05 Burglary 2.0 E05000001"

# A boundary layer and its fields named with quotes and a statement separator; names holding SQL.
/usr/bin/python3 - "$wards" <<'EOF'
import sys
from osgeo import ogr, osr
source_ds = ogr.Open(sys.argv[1])  # kept referenced: its layer dies with it
source = source_ds.GetLayer(0)
ds = ogr.GetDriverByName('GPKG').CreateDataSource("wa'rds.gpkg")
srs = osr.SpatialReference(); srs.ImportFromEPSG(27700)
layer = ds.CreateLayer('wa"rd; layer', srs, ogr.wkbMultiPolygon)
layer.CreateField(ogr.FieldDefn("co'de", ogr.OFTString))
layer.CreateField(ogr.FieldDefn('na"me', ogr.OFTString))
for f in source:
    o = ogr.Feature(layer.GetLayerDefn())
    o.SetField(0, f.GetField('WD23CD') + "'--"); o.SetField(1, f.GetField('WD23NM') + '"); DROP TABLE wards; --')
    o.SetGeometry(ogr.ForceToMultiPolygon(f.GetGeometryRef().Clone()))
    layer.CreateFeature(o)
EOF
"$HM_BINARY" geocode -q -o layer.gpkg --wards "wa'rds.gpkg" --ward-layer 'wa"rd; layer' --ward-code "co'de" \
  --ward-name 'na"me' "${fields[@]}" names.csv
expect_eq "ward code and name with SQL in them" "$(sql layer.gpkg "select ward_code||'|'||ward_name from incidents")" \
  "E05000001'--|West Square\"); DROP TABLE wards; --"
expect_eq "wards layer intact" "$(sql layer.gpkg "select count(*) from wards")" "2"
expect_error "undetectable quoted fields" "cannot tell which field holds the ward codes" geocode -q -o x.gpkg \
  --wards "wa'rds.gpkg" "${fields[@]}" names.csv
expect_error "unknown layer named with a quote" "no layer\|not found\|layer" geocode -q -o x.gpkg --wards "wa'rds.gpkg" \
  --ward-layer "no'pe\"" "${fields[@]}" names.csv

# density: an OGR point layer and fields named with quotes, selected with --layers, --weight, --date-field.
/usr/bin/python3 - <<'EOF'
from osgeo import ogr, osr
ds = ogr.GetDriverByName('GPKG').CreateDataSource("po'ints.gpkg")
srs = osr.SpatialReference(); srs.ImportFromEPSG(27700)
layer = ds.CreateLayer('po"ints; drop', srs, ogr.wkbPoint)
layer.CreateField(ogr.FieldDefn('we"ight', ogr.OFTReal))
layer.CreateField(ogr.FieldDefn("da'te", ogr.OFTString))
for i in range(50):
    o = ogr.Feature(layer.GetLayerDefn())
    o.SetField(0, 1.5); o.SetField(1, "2026-01-%02d" % (i % 28 + 1))
    o.SetGeometry(ogr.CreateGeometryFromWkt('POINT (%d %d)' % (358000 + 20 * i, 172000 + 13 * i)))
    layer.CreateFeature(o)
EOF
"$HM_BINARY" density -q "po'ints.gpkg" -o "d'en sity.tif" --layers 'po"ints; drop' --weight 'we"ight' \
  --date-field "da'te" --from 2026-01-05 --to 2026-01-20
gdalinfo "d'en sity.tif" | grep -q 'POINTS=32' || fail "density did not read the 32 points dated 5-20 January"
expect_error "weight field that does not exist, with a quote" "no field 'nope\"x'" density -q "po'ints.gpkg" \
  -o w.tif --layers 'po"ints; drop' --weight 'nope"x'
"$HM_BINARY" tiles -q "d'en sity.tif" -o "ti'les \"dir\"" --zoom 12-13 --mbtiles "m'b.mbtiles"
[ -f "ti'les \"dir\"/tiles-manifest.txt" ] && [ -s "m'b.mbtiles" ] || fail "tiles with quotes in the paths"
echo "hostile_sql: values, column names, layer and field names and paths with SQL metacharacters all handled"
