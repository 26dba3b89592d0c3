#!/usr/bin/env bash
# Hostile input: paths with spaces, non-ASCII letters, a leading dash, a newline and shell metacharacters, for
# every file the pipeline reads or writes (geocode -> aggregate -> density -> tiles), plus outputs in a folder
# that does not exist or cannot be written: a clear error naming it.
source "$(dirname "$0")/hostile_lib.sh"
cd "$work"
dir="$work/a dir with spaces/ünïcödé \$(echo no) & ; |"
mkdir -p "$dir"
cp "$sample/wards.gpkg" "$dir/wards file.gpkg"
cp "$sample/beats.gpkg" "$dir/-beats.gpkg"
cp "$sample/postcodes.csv" "$dir/post codes.csv"
cp "$sample/intelligence.csv" "$dir/intel ligence.csv"
cp "$sample/street/2026-01-avon-and-somerset-street.csv" "$dir/jan uary.csv"
cp "$sample/street/2026-02-avon-and-somerset-street.csv" "$dir/feb"$'\n'"ruary.csv"
cp "$sample/population.csv" "$dir/popu lation.csv"

out="$dir/out put.gpkg"
"$HM_BINARY" geocode -q -o "$out" --wards "$dir/wards file.gpkg" --beats "$dir/-beats.gpkg" \
  --postcodes "$dir/post codes.csv" --intel "$dir/intel ligence.csv" "$dir/jan uary.csv" "$dir/feb"$'\n'"ruary.csv"
expect_eq "records from the two files" "$(sql "$out" "select sum(records_read) from runs where kind = 'incidents'")" "1079"
expect_eq "source file names kept" "$(sql "$out" "select count(distinct source_file) from incidents")" "2"
sql "$out" "select input from runs" | grep -q "feb" || fail "source_file lacks the file with a newline"

"$HM_BINARY" aggregate "$out" -o "$dir/re port" --population "$dir/popu lation.csv" >/dev/null
[ -s "$dir/re port/ward_harm.csv" ] && [ -s "$dir/re port/report.html" ] || fail "aggregate outputs missing"
"$HM_BINARY" density -q "$out" -o "$dir/sur face.tif" --weight harm --cell 50 --extent wards
gdalinfo "$dir/sur face.tif" >/dev/null || fail "the surface does not open"
"$HM_BINARY" tiles -q "$dir/sur face.tif" -o "$dir/ti les" --zoom 11-12 --mbtiles "$dir/ti les.mbtiles" \
  --overlay "$out" --overlay-layer wards
[ -f "$dir/ti les/index.html" ] && [ -s "$dir/ti les.mbtiles" ] || fail "tiles outputs missing"
"$HM_BINARY" tiles -q "$dir/sur face.tif" -o "$dir/ti les" --zoom 11-12 --update

# Outputs where they cannot go: a clear error naming the place, and nothing left behind.
expect_error "output in a missing folder" "no such\|not exist\|cannot" geocode -q -o "$dir/missing dir/o.gpkg" \
  --wards "$dir/wards file.gpkg" "$dir/jan uary.csv"
mkdir "$dir/read only"
chmod 555 "$dir/read only"
if [ "$(id -u)" -ne 0 ]; then # root writes anywhere
  expect_error "output in a read-only folder" "read only\|permission\|cannot" geocode -q -o "$dir/read only/o.gpkg" \
    --wards "$dir/wards file.gpkg" "$dir/jan uary.csv"
fi
expect_error "an input that is a folder" "folder\|directory\|cannot" geocode -q -o "$dir/o.gpkg" \
  --wards "$dir/wards file.gpkg" "$dir/read only"
expect_error "density into a missing folder" "missing dir" density -q "$out" -o "$dir/missing dir/s.tif"
ls -a "$dir" | grep -q '\.tmp-' && fail "temporary files left: $(ls -a "$dir")"
echo "hostile_paths: spaces, non-ASCII, leading dash, newline and shell metacharacters in every path"
