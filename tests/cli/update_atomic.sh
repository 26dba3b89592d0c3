#!/usr/bin/env bash
# harmmap.gpkg changes once per update, as a whole (engine/pipeline.c, "harmmap.gpkg: written once per run or
# update"): the merge of the new records, aggregate's ward_harm/beat_harm and the styles and metadata all go into
# one working copy, renamed over harmmap.gpkg at the end. So an update that stops after the merge leaves
# harmmap.gpkg exactly as it was, byte for byte: never the new records beside the previous ward tables, which is
# what the merge's own rename used to leave (issue 7). Here aggregate fails after the merge (its report cannot be
# renamed into place: report.html is made a folder), and harmmap.gpkg must be unchanged, with no temporary left;
# the refusal afterwards and a full run recover. Also: a run and an update leave no working copy behind, and a
# working copy of a killed run is removed by the next.
source "$(dirname "$0")/pipeline_lib.sh"
cd "$work"
write_project p.ini "01 02 03"
"$HM_BINARY" run -q p.ini || fail "first run failed"
before=$(sha256sum <out/harmmap.gpkg)
records_before=$(sql out/harmmap.gpkg "select count(*) from incidents")

# A working copy left by a killed writer (a process id that cannot be alive) must go with the next publish.
dead=999999999
cp out/harmmap.gpkg "out/harmmap.tmp-$dead.gpkg"
touch "out/harmmap.tmp-$dead.gpkg-journal" "out/harmmap.gpkg.tmp-$dead-merge"

rm out/report.html && mkdir out/report.html && touch out/report.html/keep
new="$sample/street/2026-04-avon-and-somerset-street.csv"
if "$HM_BINARY" update p.ini --add "$new" >update.log 2>&1; then
  fail "the update succeeded although aggregate could not write report.html"
fi
grep -q "stage aggregate" update.log || { cat update.log; fail "the update failed elsewhere than in aggregate"; }
expect_eq "harmmap.gpkg after an update that stopped after the merge (sha256)" "$(sha256sum <out/harmmap.gpkg)" "$before"
expect_eq "incidents after an update that stopped after the merge" \
  "$(sql out/harmmap.gpkg "select count(*) from incidents")" "$records_before"
expect_eq "the update's own temporaries" "$(find out -name '*.tmp-*' ! -name "*$dead*" | sort)" ""

# The outputs are marked incomplete: update refuses and says to run; the run recovers and removes the leftovers.
rm -r out/report.html
if "$HM_BINARY" update p.ini --add "$new" >again.log 2>&1; then fail "update after a failed update did not refuse"; fi
grep -q "harmmap run" again.log || { cat again.log; fail "the refusal does not say to run harmmap run"; }
"$HM_BINARY" run -q p.ini || fail "the run after a failed update failed"
expect_eq "temporaries after a complete run" "$(find out -name '*.tmp-*' | sort)" ""

# A complete update: one working copy, renamed over harmmap.gpkg; nothing left beside it.
"$HM_BINARY" update -q p.ini --add "$new" || fail "update failed"
expect_eq "temporaries after a complete update" "$(find out -name '*.tmp-*' | sort)" ""
[ "$(sql out/harmmap.gpkg "select count(*) from incidents")" -gt "$records_before" ] || fail "the update added nothing"
ogrinfo -ro -so out/harmmap.gpkg ward_harm >/dev/null || fail "ward_harm does not open after the update"
echo "update_atomic: an update stopped after the merge leaves harmmap.gpkg byte for byte as it was"
