#!/usr/bin/env bash
# harmmap update gives the outputs a full run gives: run the sample's first five months, update with the sixth
# month, a file overlapping what is loaded (records skipped, Crime IDs repeated with new content) and intelligence
# (copies skipped, ids reused with other content rejected as duplicate_id, new records, a reject), then run the
# whole project again in the same place and compare: GeoPackage by its stable dump, every other output byte for
# byte. Then: adding a file again changes nothing, and a changed setting or input makes update refuse.
source "$(dirname "$0")/pipeline_lib.sh"
cd "$work"
write_project p.ini "01 02 03 04 05"
"$HM_BINARY" run -q p.ini || fail "first run failed"

# Fixtures: an incident file overlapping May and June, and new intelligence.
/usr/bin/python3 - "$sample" <<'PY'
import sys
sample = sys.argv[1]
def rows(path):
    with open(path, newline="") as f:
        return f.read().split("\r\n")
may = rows(sample + "/street/2026-05-avon-and-somerset-street.csv")
june = rows(sample + "/street/2026-06-avon-and-somerset-street.csv")
header, may = may[0], [r for r in may[1:] if r]
june = [r for r in june[1:] if r]
with_id = [r for r in may if r.split(",")[0]]
no_location = [r for r in may if ",,," in r and r.split(",")[0]][0]
out = [header]
out += may[:20]                                                 # loaded already: skipped
out += [with_id[30], with_id[30]]                               # loaded once, here twice: one is new (flagged)
out += [r.replace(",2026-05,", ",2026-07,", 1) for r in with_id[40:45]]  # same Crime ID, new content: flagged
out += june[100:105]                                            # in June, added by the same update first: skipped
out += [no_location.replace(",2026-05,", ",2026-07,", 1)]       # new, no location: a reject
with open("overlap.csv", "w", newline="") as f:
    f.write("\r\n".join(out) + "\r\n")

intel = open(sample + "/intelligence.csv").read().splitlines()
header, intel = intel[0], intel[1:]
lines = [header]
lines += intel[10:13]                                           # loaded already: skipped
for r in intel[20:22]:                                          # an id loaded before, other content: duplicate_id
    f = r.split(","); f[6] = "County lines" if f[6] != "County lines" else "Firearms"; lines.append(",".join(f))
lines += ["INT-2026-90001,2026-07-02,1,A,P,,Drugs supply,360100,170100,,",
          "INT-2026-90002,2026-07-03,2,B,C,OCG-03,Firearms,359500,169800,,",
          "INT-2026-90003,2026-07-04,3,C,P,,Knife crime,,,ST 58720 73010,",
          "INT-2026-90004,2026-07-05,2,B,P,,Exploitation,,,,",        # no location: a reject
          "INT-2026-90001,2026-07-06,1,A,P,,Firearms,360200,170200,,"] # repeated id in this file: duplicate_id
with open("newintel.csv", "w") as f:
    f.write("\n".join(lines) + "\n")
PY

june="$sample/street/2026-06-avon-and-somerset-street.csv"
"$HM_BINARY" update p.ini --add "$june" --add overlap.csv --add-intel newintel.csv >update.log 2>&1 \
  || { cat update.log; fail "update failed"; }

# The project file names the new files where a run loads them: after the last file of their kind.
expect_eq "inputs of the project after the update" "$(sed -n 's/^\(incidents\|intelligence\) = \(.*\/\)\{0,1\}\([^/]*\)$/\1 \3/p' p.ini)" \
"incidents 2026-01-avon-and-somerset-street.csv
incidents 2026-02-avon-and-somerset-street.csv
incidents 2026-03-avon-and-somerset-street.csv
incidents 2026-04-avon-and-somerset-street.csv
incidents 2026-05-avon-and-somerset-street.csv
incidents 2026-06-avon-and-somerset-street.csv
incidents overlap.csv
intelligence intelligence.csv
intelligence newintel.csv"
# What the update did (run.json): only the new records were geocoded, the rules applied across the files.
m=out/run.json
expect_eq "command" "$(json $m 'm["command"]')" update
expect_eq "overlap.csv skipped" "$(json $m '[i["skipped_already_loaded"] for i in m["inputs"] if i["path"].endswith("overlap.csv")][0]')" 26
expect_eq "newintel.csv skipped" "$(json $m '[i["skipped_already_loaded"] for i in m["inputs"] if i["path"].endswith("newintel.csv")][0]')" 3
expect_eq "repeated Crime IDs flagged by the merge" "$(json $m 'm["counts"]["update_repeated_ids_flagged"]')" 6
expect_eq "intelligence ids loaded before, rejected by the merge" "$(json $m 'm["counts"]["update_duplicate_ids_rejected"]')" 2
expect_eq "incidents added" "$(json $m 'm["counts"]["update_incidents_added"]')" "$((657 + 1 + 6))" # June placed and outside, 6 from overlap.csv
expect_eq "intelligence added" "$(json $m 'm["counts"]["update_intelligence_added"]')" 3
changed=$(json $m 'm["counts"]["update_tiles_changed"]')
total=$(json $m 'm["counts"]["tiles"]')
[ "$changed" -gt 0 ] && [ "$changed" -lt "$total" ] || fail "update redrew $changed of $total tiles: expected some, not all"
expect_eq "repeated_id flags" "$(sql out/harmmap.gpkg "SELECT count(*) FROM incidents WHERE source_file LIKE '%overlap.csv' AND repeated_id = 1")" 6
expect_eq "duplicate_id rejects" "$(sql out/harmmap.gpkg "SELECT count(*) FROM rejects WHERE source_file LIKE '%newintel.csv' AND reason = 'duplicate_id'")" 3

# density continued the sums kept by the run (six batches: five months, intelligence) with the three new files.
density_note=$(json $m '[s["note"] for s in m["stages"] if s["name"] == "density"][0]')
grep -q "6 of 9 batches from the kept sums, 3 computed" <<<"$density_note" || fail "density: $density_note"
# ... reading only the new records: nothing wrote harmmap.gpkg or the kept sums since the run (pipeline.c, "the
# outputs an update continues from").
grep -q "only the records after the kept ones read" <<<"$density_note" || fail "density read the kept records"
inputs_note=$(json $m '[s["note"] for s in m["stages"] if s["name"] == "inputs"][0]')
grep -q "harmmap.gpkg and the kept sums are as the last run or update left them" <<<"$inputs_note" ||
  fail "inputs: $inputs_note"
# aggregate continued the sums it kept after the run's incidents with the new incidents and all the intelligence
# (aggregate.c, "kept sums"): the comparison with a full run below is what proves the bits the same.
aggregate_note=$(json $m '[s["note"] for s in m["stages"] if s["name"] == "aggregate"][0]')
grep -q "^incremental: sums of [0-9]* kept incidents" <<<"$aggregate_note" || fail "aggregate: $aggregate_note"

# The same project run in full, in the same place, writes the same outputs.
mv out updated
"$HM_BINARY" run -q p.ini || fail "full run failed"
same_outputs updated out
expect_eq "records in the full run" "$(json out/run.json 'm["counts"]["skipped_already_loaded"]')" 29

# Adding a loaded file again: nothing to do, nothing touched.
cp out/harmmap.gpkg before.gpkg
"$HM_BINARY" update p.ini --add overlap.csv >again.log 2>&1 || { cat again.log; fail "second update failed"; }
grep -q "already loaded" again.log || fail "no 'already loaded' message: $(cat again.log)"
cmp before.gpkg out/harmmap.gpkg || fail "an update with nothing new changed the GeoPackage"

# harmmap.gpkg written by something else since (here `harmmap qgis`, which restyles a copy renamed over it): the
# next update does not vouch for the kept records, and the stages check them.
"$HM_BINARY" qgis out -q || fail "harmmap qgis failed"
/usr/bin/python3 - "$sample" <<'PY' >later.csv
import sys
rows = open(sys.argv[1] + "/street/2026-06-avon-and-somerset-street.csv", newline="").read().split("\r\n")
print(rows[0], end="\r\n")
for n, r in enumerate([r for r in rows[1:] if r and r.split(",")[0]][:30]):
    print("%064x" % (n + 1) + r[r.index(","):].replace(",2026-06,", ",2026-08,", 1), end="\r\n")
PY
"$HM_BINARY" update -q p.ini --add later.csv || fail "update after harmmap qgis failed"
inputs_note=$(json out/run.json '[s["note"] for s in m["stages"] if s["name"] == "inputs"][0]')
grep -q "harmmap.gpkg changed since the last run or update" <<<"$inputs_note" || fail "inputs: $inputs_note"
density_note=$(json out/run.json '[s["note"] for s in m["stages"] if s["name"] == "density"][0]')
if grep -q "only the records after the kept ones read" <<<"$density_note"; then
  fail "density trusted the kept records of a GeoPackage written since: $density_note"
fi

# Refusals, each naming what changed and what to do.
sed 's/^radius = 500/radius = 400/' p.ini >changed.ini
mv changed.ini p.ini
if "$HM_BINARY" update p.ini --add "$sample/street/2026-03-avon-and-somerset-street.csv" >refuse.log 2>&1; then
  fail "update ran although the settings changed"
fi
grep -q "settings.*changed.*harmmap run" refuse.log || fail "unclear refusal: $(cat refuse.log)"
sed -i 's/^radius = 400/radius = 500/' p.ini
printf 'INT-2026-99999,2026-07-09,1,A,P,,Firearms,360000,170000,,\n' >>newintel.csv
if "$HM_BINARY" update p.ini >refuse.log 2>&1; then fail "update ran although a loaded input changed"; fi
grep -q "newintel.csv.*changed since it was loaded.*harmmap run" refuse.log || fail "unclear refusal: $(cat refuse.log)"
echo "update: outputs identical to a full run"
