#!/usr/bin/env bash
# harmmap aggregate --public: searches every output file for restricted records (intelligence graded C, any record
# id) and for sub-threshold counts, and finds none; no point layer; the report says what was suppressed; the
# input is not changed.
source "$(dirname "$0")/aggregate_lib.sh"
cd "$work"
fixture in.gpkg
before=$(md5sum < in.gpkg)
"$HM_BINARY" aggregate in.gpkg --public "${periods[@]}" > run.log 2> err.log || { cat err.log; fail "aggregate --public failed"; }
out=in-public
[ -d "$out" ] || fail "no default output folder in-public/"
expect_eq "input unchanged" "$(md5sum < in.gpkg)" "$before"
expect_eq "files written" "$(ls "$out" | sort | tr '\n' ' ')" "beat_harm.csv public.gpkg report.html ward_harm.csv "
# No record ids at all, restricted or not, in any byte of any output.
for id in INT-RESTRICTED INT-P- INC-; do
  ! grep -rla -- "$id" "$out" >/dev/null || fail "record id $id found in $(grep -rla -- "$id" "$out")"
done
# No point layer: only polygon layers, the metadata table and the QGIS styles table.
expect_eq "layers" "$(sql $out/public.gpkg "SELECT group_concat(table_name || ':' || data_type, ' ') FROM (SELECT * FROM gpkg_contents ORDER BY table_name)")" \
  "aggregate_runs:attributes beat_harm:features layer_styles:attributes ward_harm:features"
expect_eq "geometry types" "$(sql $out/public.gpkg "SELECT group_concat(geometry_type_name, ' ') FROM gpkg_geometry_columns")" "MULTIPOLYGON MULTIPOLYGON"
# Intelligence graded C is left out: W02 has 6 incidents + 3 P (not 5) intelligence records.
expect_eq "W02 count without C" "$(value $out/public.gpkg ward_harm W02 count)" 9
expect_close "W02 harm without C" "$(value $out/public.gpkg ward_harm W02 harm)" 3285
# W05 (3 records, harm 6205) and W09 (0 records) are suppressed: nothing of them anywhere.
expect_eq "W05 suppressed" "$(value $out/public.gpkg ward_harm W05 "suppressed || coalesce(count, '-') || coalesce(harm, '-') || coalesce(rank, '-')")" "1---"
expect_eq "W09 suppressed" "$(value $out/public.gpkg ward_harm W09 "suppressed || coalesce(count, '-')")" "1-"
! grep -rla "6205" "$out" >/dev/null || fail "W05's harm 6205 appears in $(grep -rla 6205 "$out")"
grep -q '^W05,Ward 5,1,,,,,,,' $out/ward_harm.csv || fail "W05 CSV row not empty: $(grep ^W05 $out/ward_harm.csv)"
# Every count published anywhere is at least 5 (or empty).
/usr/bin/python3 - "$out" <<'PY' || fail "a count under 5 is published"
import csv, sys, sqlite3
out = sys.argv[1]
for name in ("ward_harm", "beat_harm"):
    rows = list(csv.DictReader(open(f"{out}/{name}.csv")))
    db = sqlite3.connect(f"{out}/public.gpkg")
    cur = db.execute(f"SELECT * FROM {name}")
    cols = [d[0] for d in cur.description]
    layer_rows = [dict(zip(cols, r)) for r in cur]
    for row in rows + layer_rows:
        for key, value in row.items():
            if key.startswith("count") and key != "count_change" and value not in ("", None):
                assert int(value) >= 5, (name, row.get("ward_code") or row.get("beat_code"), key, value)
PY
# No differencing across layers: beats add up to exactly the published wards.
expect_close "beats = published wards" "$(sql $out/public.gpkg "SELECT sum(harm) FROM beat_harm")" \
  "$(sql $out/public.gpkg "SELECT sum(harm) FROM ward_harm")"
# The report says what was suppressed, and shows W05 only as suppressed.
grep -q "Public version" $out/report.html || fail "report does not say it is the public version"
grep -q "fewer than 5 records" $out/report.html || fail "report does not say what was suppressed"
grep -q 'data-code="W05"><td></td><td>W05</td><td>Ward 5</td><td colspan="[0-9]*">suppressed' $out/report.html \
  || fail "W05's report row is not marked suppressed"
# The files it was made from are named without their folders (a user's home or an operation's name is not for the
# public): here the input and the harm tables, given by full paths.
for folder in "$work" "$HM_SOURCE_DIR"; do
  ! grep -rlaF -- "$folder" "$out" >/dev/null || fail "the folder $folder is named in $(grep -rlaF -- "$folder" "$out")"
done
expect_eq "input named" "$(sql $out/public.gpkg "SELECT value FROM aggregate_runs WHERE item = 'input'")" in.gpkg
"$HM_BINARY" aggregate -q "$work/in.gpkg" --public -o "$work/absolute" || fail "aggregate --public of a full path failed"
! grep -rlaF -- "$work" absolute >/dev/null || fail "the folder $work is named in $(grep -rlaF -- "$work" absolute)"
# A ward under a raised threshold disappears too.
"$HM_BINARY" aggregate -q in.gpkg --public --min-count 10 -o out10
expect_eq "W02 (9 records) suppressed at --min-count 10" "$(value out10/public.gpkg ward_harm W02 suppressed)" 1
echo "aggregate --public: nothing restricted or sub-threshold found"
