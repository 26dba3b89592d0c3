#!/usr/bin/env bash
# Determinism: the same inputs give byte-identical GeoTIFFs, tiles and MBTiles whatever --threads, and identical
# GeoPackage contents on every run (byte-identical too when OGR_CURRENT_DATE pins the timestamps, as here).
# Thread counts tried: 1, 2 and 7 (more threads than cells in some blocks, and than processors).
# Also: running aggregate again on its own output changes nothing (it once added gpkg_extensions rows each time).
source "$(dirname "$0")/lib.sh"
sample="$HM_SOURCE_DIR/data/sample"
cd "$work"
same() { cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"; }
# tree_sum DIR: one hash over the folder's files and their names.
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }
# contents GPKG: the GeoPackage's stable dump (tests/cli/gpkg_dump.py: schema and rows, independent of page
# layout and of the surrogate ids of the style and metadata tables, which every styling run renumbers).
contents() { /usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/gpkg_dump.py" "$1"; }

geocode=(geocode -q --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" --postcodes "$sample/postcodes.csv"
  --intel "$sample/intelligence.csv" "$sample"/street/*.csv)
"$HM_BINARY" "${geocode[@]}" -o g1.gpkg
"$HM_BINARY" "${geocode[@]}" -o g2.gpkg
same g1.gpkg g2.gpkg "geocode twice"
# Without the pinned date only the timestamps may differ.
OGR_CURRENT_DATE= "$HM_BINARY" "${geocode[@]}" -o g3.gpkg
untimed() { contents "$1" | sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?/TIME/g'; }
diff <(untimed g1.gpkg) <(untimed g3.gpkg) >/dev/null ||
  fail "geocode without OGR_CURRENT_DATE: contents other than timestamps differ: $(diff <(untimed g1.gpkg) <(untimed g3.gpkg) | cut -c1-200 | head -4)"

# density: exact kernel density (harm-weighted, and a bandwidth rule) and QGIS's heatmap, at 1, 2 and 7 threads.
for variant in "exact:--weight harm --cell 20 --radius 300" "rule:--radius silverman --cell 25 --kernel triweight" \
    "qgis:--compat qgis --cell 30 --radius 400"; do
  name=${variant%%:*}
  read -r -a args <<<"${variant#*:}"
  for threads in 1 2 7; do
    "$HM_BINARY" density -q g1.gpkg -o "$name-$threads.tif" "${args[@]}" --threads $threads
  done
  same "$name-1.tif" "$name-2.tif" "density $name, 1 and 2 threads"
  same "$name-1.tif" "$name-7.tif" "density $name, 1 and 7 threads"
done

# tiles: XYZ folder, MBTiles, legend and viewer, at 1, 2 and 7 threads.
for threads in 1 2 7; do
  "$HM_BINARY" tiles -q exact-1.tif -o "tiles-$threads" --zoom 10-14 --mbtiles "t-$threads.mbtiles" --threads $threads
done
expect_eq "tiles, 1 and 2 threads" "$(tree_sum tiles-2)" "$(tree_sum tiles-1)"
expect_eq "tiles, 1 and 7 threads" "$(tree_sum tiles-7)" "$(tree_sum tiles-1)"
same t-1.mbtiles t-2.mbtiles "MBTiles, 1 and 2 threads"
same t-1.mbtiles t-7.mbtiles "MBTiles, 1 and 7 threads"

# aggregate: a second run on the same GeoPackage gives the same contents and the same CSVs and report.
cp g1.gpkg a.gpkg
"$HM_BINARY" aggregate a.gpkg -o report1 --population "$sample/population.csv" >/dev/null
contents a.gpkg >first.sql
"$HM_BINARY" aggregate a.gpkg -o report2 --population "$sample/population.csv" >/dev/null
contents a.gpkg >second.sql
diff first.sql second.sql >/dev/null || fail "aggregate run again on its output: contents differ: $(diff first.sql second.sql | head -5)"
expect_eq "aggregate CSVs and report, run twice" "$(tree_sum report2)" "$(tree_sum report1)"
expect_eq "gpkg_extensions rows repeated" "$(sql a.gpkg "select count(*) from (select 1 from gpkg_extensions group by table_name, column_name, extension_name having count(*) > 1)")" "0"
echo "determinism: geocode, density (3 variants), tiles and MBTiles identical at 1, 2 and 7 threads; aggregate idempotent"
