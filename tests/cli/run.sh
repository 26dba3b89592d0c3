#!/usr/bin/env bash
# harmmap run on the bundled sample project (data/sample/project.ini, written elsewhere with -o): every output is
# there, run.json says what went in (SHA-256 as sha256sum computes it), with which parameters, what came out and
# how long each stage took; a second run writes the same outputs; records already loaded from an earlier file
# (a copy of a file, an overlapping extract) are skipped.
source "$(dirname "$0")/pipeline_lib.sh"
cd "$work"
"$HM_BINARY" run "$sample/project.ini" -o first >run.log 2>&1 || { cat run.log; fail "harmmap run failed"; }
for f in harmmap.gpkg ward_harm.csv beat_harm.csv report.html density.tif density.qml tiles/index.html \
         tiles/tiles-manifest.txt harmmap.qgs run.json; do
  [ -s "first/$f" ] || fail "no $f in the output folder"
done
grep -q "outputs in .*first" run.log || fail "run does not say where the outputs are"
expect_eq "layers" "$(sql first/harmmap.gpkg "SELECT group_concat(table_name, ' ') FROM (SELECT table_name FROM gpkg_contents WHERE table_name IN ('incidents','intelligence','wards','beats','rejects','runs','ward_harm','beat_harm') ORDER BY table_name)")" \
  "beat_harm beats incidents intelligence rejects runs ward_harm wards"

m=first/run.json
expect_eq "command" "$(json $m 'm["command"]')" run
expect_eq "inputs" "$(json $m 'len(m["inputs"])')" 7
for i in 0 3 6; do
  path=$(json $m "m['inputs'][$i]['path']")
  expect_eq "SHA-256 of $path" "$(json $m "m['inputs'][$i]['sha256']")" "$(sha256sum "$path" | cut -d' ' -f1)"
done
expect_eq "SHA-256 of the wards" "$(json $m '[d["sha256"] for d in m["other_inputs"] if d["role"] == "wards"][0]')" \
  "$(sha256sum "$sample/wards.gpkg" | cut -d' ' -f1)"
expect_eq "accounting" "$(json $m 'all(i["read"] == i["placed"] + i["outside_area"] + i["rejected"] for i in m["inputs"])')" True
expect_eq "records" "$(json $m 'm["counts"]["read"]')" 4000
expect_eq "stages" "$(json $m '" ".join(s["name"] for s in m["stages"] if s["ran"])')" "inputs geocode aggregate density tiles qgis"
expect_eq "timings" "$(json $m 'all(s["seconds"] >= 0 for s in m["stages"])')" True
expect_eq "GDAL version" "$(json $m 'm["versions"]["gdal"]')" "$(gdal-config --version 2>/dev/null || json $m 'm["versions"]["gdal"]')"
expect_eq "geocode argv" "$(json $m '" ".join(a.split("/")[-1] for a in m["parameters"]["geocode"] if a.endswith(".csv"))')" \
  "postcodes.csv 2026-01-avon-and-somerset-street.csv 2026-02-avon-and-somerset-street.csv 2026-03-avon-and-somerset-street.csv 2026-04-avon-and-somerset-street.csv 2026-05-avon-and-somerset-street.csv 2026-06-avon-and-somerset-street.csv intelligence.csv"
expect_eq "density weighted by harm" "$(json $m '"harm" in m["parameters"]["density"]')" True

# The same project, run again into the same folder: the same outputs (the run is deterministic).
mv first second
"$HM_BINARY" run -q "$sample/project.ini" -o first || fail "second run failed"
same_outputs first second

# Records already loaded from an earlier file are skipped: a copy of January, and an extract overlapping
# January and February.
jan="$sample/street/2026-01-avon-and-somerset-street.csv"
feb="$sample/street/2026-02-avon-and-somerset-street.csv"
cp "$jan" copy-of-january.csv
{ head -n 11 "$jan"; sed -n '2,6p' "$feb"; } >extract.csv
write_project dup.ini "01 02"
sed -i "s|^intelligence = .*|incidents = $work/copy-of-january.csv\nincidents = $work/extract.csv\n&|" dup.ini
"$HM_BINARY" run -q dup.ini || fail "run with repeated records failed"
expect_eq "skipped" "$(json out/run.json '[i["skipped_already_loaded"] for i in m["inputs"]][:4]')" "[0, 0, 567, 15]"
write_project plain.ini "01 02"
sed -i 's|^output = out|output = plain|' plain.ini
"$HM_BINARY" run -q plain.ini || fail "plain run failed"
expect_eq "incidents without the repeats" "$(sql out/harmmap.gpkg "SELECT count(*) FROM incidents")" \
  "$(sql plain/harmmap.gpkg "SELECT count(*) FROM incidents")"
expect_eq "runs rows" "$(sql out/harmmap.gpkg "SELECT group_concat(records_read, ' ') FROM runs")" "567 512 0 0 400"

# Beats are optional. A run without them, into a folder where a run with them left its outputs, leaves no beat table
# behind to be read as this run's, and run.json names none.
write_project nobeats.ini "01"
sed -i '/^beats = /d; s|^output = out|output = plain|' nobeats.ini
[ -s plain/beat_harm.csv ] || fail "the run with beats wrote no beat_harm.csv"
"$HM_BINARY" run nobeats.ini >nobeats.log 2>&1 || { cat nobeats.log; fail "run without beats failed"; }
[ ! -e plain/beat_harm.csv ] || fail "beat_harm.csv of the earlier run with beats is still there"
grep -q "removed .*beat_harm.csv" nobeats.log || fail "the run does not say it removed the stale beat_harm.csv"
expect_eq "run.json outputs without beats" "$(json plain/run.json '"beat_table" in m["outputs"]')" False
expect_eq "layers without beats" "$(sql plain/harmmap.gpkg "SELECT count(*) FROM gpkg_contents WHERE table_name IN ('beats','beat_harm')")" 0
expect_eq "run.json outputs with beats" "$(json out/run.json 'm["outputs"]["beat_table"]')" beat_harm.csv
echo "run: outputs, manifest, determinism, skipping and a run without beats checked"
