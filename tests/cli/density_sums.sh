#!/usr/bin/env bash
# harmmap density --accumulator (the sums `harmmap run` and `update` keep between runs): a surface continued from
# the kept sums with a new load batch is byte for byte the surface computed from nothing, on data where the order
# of the additions shows in float32 (a one-pass sum, or the previous surface plus the new kernels, differs); any
# change the sums cannot follow (a record loaded before, the settings, a damaged file) computes in full, says so,
# and still gives those bytes; any thread count gives them too.
set -euo pipefail
source "$HM_SOURCE_DIR/tests/cli/density_common.sh"
work=$HM_TMP/density_sums
rm -rf "$work"
mkdir -p "$work"
cd "$work"

# batch_csv FILE SEED SOURCE: points with a source_file column; the first batch holds a few points of weight 1e10,
# so that near the edges of their discs the cells are sums of terms of very different sizes and the rounding of
# the order of additions reaches float32.
batch_csv() {
  make_points raw.csv 1500 "$2"
  awk -F, -v s="$3" -v big="$4" 'NR == 1 { print $0 ",source_file"; next }
    { if (big && NR % 300 == 0) $3 = "1e10"; print $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," s }' OFS=, raw.csv >"$1"
}
batch_csv a.csv 11 first.csv 1
batch_csv b.csv 12 second.csv 0
batch_csv c.csv 13 third.csv 0
to_gpkg a.csv old.gpkg incidents
cp old.gpkg new.gpkg
to_gpkg b.csv new.gpkg incidents append
to_gpkg c.csv new.gpkg incidents append
args=(--weight weight --radius 400 --cell 10)
note() { grep -o 'density: .*batches.*' "$1" | head -1; }

# 1. From nothing (no sums kept) on all three batches; then the update: the sums of the first batch kept by a run
#    on old.gpkg, continued with the two new batches.
"$HM_BINARY" density new.gpkg -o full.tif "${args[@]}" --accumulator full.sums 2>full.log
note full.log | grep -q "no sums kept yet: all 3 batches computed" || fail "full run: $(cat full.log)"
"$HM_BINARY" density old.gpkg -o old.tif "${args[@]}" --accumulator update.sums 2>/dev/null
"$HM_BINARY" density new.gpkg -o update.tif "${args[@]}" --accumulator update.sums 2>update.log
note update.log | grep -q "1 of 3 batches from the kept sums, 2 computed" || fail "update: $(cat update.log)"
cmp full.tif update.tif || fail "the update's surface differs from the full computation's"
cmp full.sums update.sums || fail "the update's kept sums differ from the full computation's"
echo "ok   an update continuing the kept sums writes the full computation's bytes"

# 2. The test can fail: on these data the order of the additions shows in float32. A one-pass surface (no
#    --accumulator) and "the previous surface plus the new kernels" both differ from the batch sums.
"$HM_BINARY" density new.gpkg -o onepass.tif "${args[@]}" -q
"$HM_BINARY" density old.gpkg -o a_only.tif "${args[@]}" -q --like full.tif
ogr2ogr -f GPKG bc.gpkg b.csv -nln incidents -a_srs EPSG:27700 -oo X_POSSIBLE_NAMES=x -oo Y_POSSIBLE_NAMES=y \
  -oo AUTODETECT_TYPE=YES -oo KEEP_GEOM_COLUMNS=NO
to_gpkg c.csv bc.gpkg incidents append
"$HM_BINARY" density bc.gpkg -o bc_only.tif "${args[@]}" -q --like full.tif
gdal_calc.py --quiet -A a_only.tif -B bc_only.tif --calc "A + B" --type Float32 --NoDataValue=-9999 \
  --outfile naive.tif >/dev/null 2>&1 || fail "gdal_calc.py failed"
read -r onepass naive < <(/usr/bin/python3 - <<'PY'
from osgeo import gdal
full = gdal.Open("full.tif").ReadAsArray()
print(*(int((full != gdal.Open(f).ReadAsArray()).sum()) for f in ("onepass.tif", "naive.tif")))
PY
)
[ "$onepass" -gt 0 ] || fail "one-pass sums equal the batch sums here: the test proves nothing"
[ "$naive" -gt 0 ] || fail "previous surface + new kernels equals the batch sums here: the test proves nothing"
echo "ok   on these data, one-pass sums differ in $onepass cells, previous surface + new kernels in $naive"

# 3. Whatever the threads.
"$HM_BINARY" density new.gpkg -o t1.tif "${args[@]}" --accumulator t1.sums --threads 1 -q
"$HM_BINARY" density new.gpkg -o t5.tif "${args[@]}" --accumulator t5.sums --threads 5 -q
cmp full.tif t1.tif && cmp full.tif t5.tif || fail "the batch sums depend on the thread count"
echo "ok   the same bytes with 1, 5 and all threads"

# 4. What the sums cannot follow is computed in full, said, and gives the full computation's bytes.
cp update.sums kept.sums
cp new.gpkg changed.gpkg
ogrinfo -q changed.gpkg -sql "UPDATE incidents SET weight = weight * 1.5 WHERE fid = 7" >/dev/null # of the first batch
"$HM_BINARY" density changed.gpkg -o changed_full.tif "${args[@]}" -q
"$HM_BINARY" density changed.gpkg -o changed.tif "${args[@]}" --accumulator kept.sums 2>changed.log
note changed.log | grep -q "full computation (the records of incidents loaded before changed)" ||
  fail "a changed record: $(cat changed.log)"
"$HM_BINARY" density changed.gpkg -o changed_fresh.tif "${args[@]}" --accumulator fresh.sums -q
cmp changed.tif changed_fresh.tif || fail "after a changed record, the surface is not the full computation's"
echo "ok   a record loaded before changed: computed in full"

cp update.sums kept.sums
"$HM_BINARY" density new.gpkg -o r3.tif --weight weight --radius 300 --cell 10 --accumulator kept.sums 2>r3.log
note r3.log | grep -q "full computation (the settings, grid or version changed)" || fail "new radius: $(cat r3.log)"
"$HM_BINARY" density new.gpkg -o r3_fresh.tif --weight weight --radius 300 --cell 10 --accumulator r3.sums -q
cmp r3.tif r3_fresh.tif || fail "after a settings change, the surface is not the full computation's"
echo "ok   other settings: computed in full"

# A damaged file (cut short, or a flipped byte in the sums) is not used.
cp update.sums kept.sums
truncate -s -8 kept.sums
"$HM_BINARY" density new.gpkg -o cut.tif "${args[@]}" --accumulator kept.sums 2>cut.log
note cut.log | grep -q "damaged or foreign" || fail "a truncated file: $(cat cut.log)"
cmp full.tif cut.tif || fail "with a truncated file, the surface is not the full computation's"
cp update.sums kept.sums
size=$(stat -c %s kept.sums)
printf '\x55' | dd of=kept.sums bs=1 seek=$((size - 1000)) conv=notrunc status=none
"$HM_BINARY" density new.gpkg -o flip.tif "${args[@]}" --accumulator kept.sums 2>flip.log
note flip.log | grep -q "damaged or foreign" || fail "a damaged file: $(cat flip.log)"
cmp full.tif flip.tif || fail "with a damaged file, the surface is not the full computation's"
cmp full.sums kept.sums || fail "the damaged file was not replaced by the right sums"
echo "ok   a damaged file of sums: not used, replaced"

# 5. --kept-unchanged (what `harmmap update` passes when nothing wrote its GeoPackage since the sums were kept):
#    only the records after the kept ones are read, and the bytes are still the full computation's. The grid must
#    not come from the points (--like here, --extent in a project).
like=(--weight weight --radius 400 --cell 10 --like full.tif)
"$HM_BINARY" density new.gpkg -o like_full.tif "${like[@]}" --accumulator like_full.sums -q
"$HM_BINARY" density old.gpkg -o like_old.tif "${like[@]}" --accumulator like.sums -q
cp like.sums like_kept.sums
"$HM_BINARY" density new.gpkg -o like_kept.tif "${like[@]}" --accumulator like.sums --kept-unchanged 2>like.log
note like.log | grep -q "1 of 3 batches from the kept sums, 2 computed; only the records after the kept ones read" ||
  fail "--kept-unchanged: $(cat like.log)"
cmp like_full.tif like_kept.tif || fail "--kept-unchanged: the surface is not the full computation's"
cmp like_full.sums like.sums || fail "--kept-unchanged: the kept sums are not the full computation's"
[ "$(gdalinfo like_kept.tif | grep -c 'POINTS=4500')" = 1 ] || fail "--kept-unchanged: the point count is not all records'"
echo "ok   --kept-unchanged: the records after the kept ones read, the full computation's bytes"

# ... and the records before are really not read: a change to one of them goes unseen (the caller vouched).
"$HM_BINARY" density changed.gpkg -o trusted.tif "${like[@]}" --accumulator like_kept.sums --kept-unchanged -q
same_cells=$(/usr/bin/python3 -c "
from osgeo import gdal
print(int((gdal.Open('like_full.tif').ReadAsArray() == gdal.Open('trusted.tif').ReadAsArray()).all()))")
[ "$same_cells" = 1 ] || fail "--kept-unchanged read the records it was told were unchanged"
echo "ok   --kept-unchanged: the kept records are not read again"

# New records of the same source as the last kept batch: a full read would join them into one batch, so every
# record is read; likewise when the grid comes from the points.
batch_csv more.csv 14 first.csv 0
cp old.gpkg same_source.gpkg
to_gpkg more.csv same_source.gpkg incidents append
"$HM_BINARY" density old.gpkg -o ss_old.tif "${like[@]}" --accumulator ss.sums -q
"$HM_BINARY" density same_source.gpkg -o ss.tif "${like[@]}" --accumulator ss.sums --kept-unchanged 2>ss.log
note ss.log | grep -q "every record read (the new records of incidents continue the last load batch kept)" ||
  fail "same source: $(cat ss.log)"
"$HM_BINARY" density same_source.gpkg -o ss_fresh.tif "${like[@]}" --accumulator ss_fresh.sums -q
cmp ss.tif ss_fresh.tif || fail "same source: the surface is not the full computation's"
cp update.sums points_extent.sums
"$HM_BINARY" density new.gpkg -o pe.tif "${args[@]}" --accumulator points_extent.sums --kept-unchanged 2>pe.log
note pe.log | grep -q "the grid is the points' extent" || fail "extent from the points: $(cat pe.log)"
cmp full.tif pe.tif || fail "extent from the points: the surface is not the full computation's"
if "$HM_BINARY" density new.gpkg -o x.tif "${args[@]}" --kept-unchanged 2>flag.log; then
  fail "--kept-unchanged without --accumulator was accepted"
fi
grep -q "needs --accumulator" flag.log || fail "--kept-unchanged alone: $(cat flag.log)"
# A header changed by hand (the incidents' count here) is not taken on trust: its own hash no longer matches.
"$HM_BINARY" density old.gpkg -o hd_old.tif "${like[@]}" --accumulator hd.sums -q
sed -i -E '3s/^(layer [0-9a-f]+ [0-9]+ [0-9a-f]+ [0-9]+ )[0-9]+/\1999/' hd.sums
grep -q '^layer [0-9a-f]* [0-9]* [0-9a-f]* [0-9]* 999 ' hd.sums || fail "the test did not change the header"
"$HM_BINARY" density new.gpkg -o hd.tif "${like[@]}" --accumulator hd.sums --kept-unchanged 2>hd.log
note hd.log | grep -q "no kept sums, or damaged ones" || fail "a changed header: $(cat hd.log)"
cmp like_full.tif hd.tif || fail "a changed header: the surface is not the full computation's"
echo "ok   --kept-unchanged falls back to reading every record where the kept sums cannot continue"
echo "density_sums: all checks passed"
