#!/usr/bin/env bash
# Hostile input: NaN, infinite, overflowing and oddly written numbers. In CSV records they are rejects with the
# field named (coordinates bad_number, weights bad_weight: a weight of 1e308 once gave an infinite harm); in an
# OGR point layer given to density, a clear error naming the feature; in a surface given to tiles, non-finite
# cells are not drawn and do not stretch the colour range.
source "$(dirname "$0")/hostile_lib.sh"
cd "$work"
cat >numbers.csv <<'EOF'
id,date,category,weight,easting,northing,longitude,latitude
n1,2026-01-05,Burglary,1,nan,172500,,
n2,2026-01-05,Burglary,1,358500,NaN,,
n3,2026-01-05,Burglary,1,inf,172500,,
n4,2026-01-05,Burglary,1,358500,-Infinity,,
n5,2026-01-05,Burglary,1,1e999,172500,,
n6,2026-01-05,Burglary,1,,,nan,51.45
n7,2026-01-05,Burglary,1,,,-2.58,inf
n8,2026-01-05,Burglary,nan,358500,172500,,
n9,2026-01-05,Burglary,inf,358500,172500,,
n10,2026-01-05,Burglary,1e308,358500,172500,,
n11,2026-01-05,Burglary,-1,358500,172500,,
n12,2026-01-05,Burglary,1,0x1p20,172500,,
n13,2026-01-05,Burglary,1,-0,-0,,
n14,2026-01-05,Burglary,1,358500.0000000000000000001,172500,,
n15,2026-01-05,Burglary,1e9,358500,172500,,
EOF
"$HM_BINARY" geocode -q -o numbers.gpkg --wards "$wards" numbers.csv
expect_eq "rejects" "$(reasons numbers.gpkg)" \
  "2:bad_number 3:bad_number 4:bad_number 5:bad_number 6:bad_number 7:bad_number 8:bad_number 9:bad_weight 10:bad_weight 11:bad_weight 12:bad_weight 13:bad_number 14:bad_coordinate"
expect_eq "placed" "$(sql numbers.gpkg "select group_concat(record_id) from incidents")" "n14,n15"
expect_eq "every harm finite" "$(sql numbers.gpkg "select count(*) from incidents where not (harm between 0 and 1e300)")" "0"
expect_eq "field named" "$(sql numbers.gpkg "select field||': '||detail from rejects where source_line = 11")" \
  "weight: weight '1e308' is not a number from 0 to 1e9"

# density: points with NaN or infinite coordinates, infinite weights, a point 1e300 m away.
/usr/bin/python3 - <<'EOF'
import struct
from osgeo import ogr, osr
srs = osr.SpatialReference(); srs.ImportFromEPSG(27700)
def layer_file(path, points):
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(path)
    layer = ds.CreateLayer('points', srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn('w', ogr.OFTReal))
    for x, y, w in points:
        f = ogr.Feature(layer.GetLayerDefn()); f.SetField(0, w)
        f.SetGeometry(ogr.CreateGeometryFromWkb(struct.pack('<BIdd', 1, 1, x, y)))
        layer.CreateFeature(f)
good = [(358000 + 10 * i, 172000, 1.0) for i in range(20)]
layer_file('nan.gpkg', good + [(float('nan'), 172000, 1.0)])
layer_file('inf.gpkg', good + [(358000, float('inf'), 1.0)])
layer_file('infweight.gpkg', good + [(358100, 172100, float('inf'))])
layer_file('far.gpkg', good + [(1e300, 172000, 1.0)])
EOF
expect_error "density: NaN coordinate" "feature 21: coordinates are not finite" density -q nan.gpkg -o x.tif
expect_error "density: infinite coordinate" "feature 21: coordinates are not finite" density -q inf.gpkg -o x.tif
expect_error "density: infinite weight" "weights must be finite" density -q infweight.gpkg -o x.tif --weight w
expect_error "density: a point 1e300 m away" "too large" density -q far.gpkg -o x.tif

# tiles: a surface holding NaN, +inf and -inf cells.
/usr/bin/python3 - <<'EOF'
import numpy as np
from osgeo import gdal, osr
d = gdal.GetDriverByName('GTiff').Create('naninf.tif', 100, 100, 1, gdal.GDT_Float32)
d.SetGeoTransform((358000, 25, 0, 173000, 0, -25))
s = osr.SpatialReference(); s.ImportFromEPSG(27700); d.SetProjection(s.ExportToWkt())
a = np.random.RandomState(1).rand(100, 100).astype('float32') * 10
a[10:20, 10:20] = np.nan; a[30:40, 30:40] = np.inf; a[50:60, 50:60] = -np.inf
d.GetRasterBand(1).WriteArray(a)
EOF
"$HM_BINARY" tiles -q naninf.tif -o tiles --zoom 12-13 --mbtiles t.mbtiles
range=$(awk '$1 == "range" {print $2, $3}' tiles/tiles-manifest.txt)
awk -v r="$range" 'BEGIN {split(r, v, " "); exit !(v[1] == 0 && v[2] > 9 && v[2] < 10)}' ||
  fail "colour range of a surface with non-finite cells: $range (expected 0 to the finite maximum, ~10)"
echo "hostile_numbers: NaN, infinities and overflow rejected in records, refused in point layers, skipped in surfaces"
