# Shared by the aggregate CLI tests: builds the fixture GeoPackage (tests/cli/aggregate_fixture.py).
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'from osgeo import ogr' 2>/dev/null || skip "GDAL's Python bindings (python3-gdal) are missing"
fixture() { /usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/aggregate_fixture.py" "$@"; }
periods=(--period before:2023-01..2023-06 --period after:2023-07..2023-12)
# value GPKG LAYER CODE FIELD: one field of one area
value() { sql "$1" "SELECT $4 FROM $2 WHERE ${2%_harm}_code = '$3'"; }
# close A B: numbers equal to 1e-9 relative
close() { /usr/bin/python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(a-b) > 1e-9*max(1,abs(b)))" "$1" "$2"; }
expect_close() { close "$2" "$3" || fail "$1: got '$2', expected '$3'"; }
