#!/usr/bin/env bash
# Bad input never crashes and never disappears: each bad record becomes a reject row with its reason, field,
# line and raw text (tests/data/geocode/bad.csv has a BOM, CRLF and a quoted field with a comma and a newline);
# bad files and options stop the run with a message naming the file and what to do, and leave the previous
# output intact.
source "$(dirname "$0")/lib.sh"
out="$work/out.gpkg"
wards="$HM_DATA/geocode/wards.geojson"
"$HM_BINARY" geocode -q -o "$out" --wards "$wards" --postcodes "$HM_DATA/geocode/postcodes.csv" "$HM_DATA/geocode/bad.csv"
q() { sql "$out" "$1"; }
expect_eq "reasons by line" "$(q "select group_concat(source_line||':'||reason, ' ') from (select * from rejects order by source_line)")" \
  "3:bad_date 4:bad_number 5:wrong_crs 6:swapped_lon_lat 7:wrong_crs 8:bad_gridref 9:unknown_postcode 10:bad_postcode 11:bad_weight 12:duplicate_id 13:missing_field 16:no_location 17:bad_number 18:bad_coordinate"
expect_eq "accounting" "$(q "select records_read||'='||placed||'+'||outside_area||'+'||rejected from runs")" "17=3+0+14"
# (the file's line endings are CRLF, so the newline inside the quoted field is CRLF too, and is kept)
expect_eq "quoted field with comma, quote and newline" "$(q "select replace(category, char(13), '') from incidents where record_id='ok2'")" 'Drugs, "supply"
second line'
expect_eq "line of the record after the multi-line one" "$(q "select source_line from incidents where record_id='ok3'")" "19"
expect_eq "raw line kept without CR" "$(q "select raw from rejects where source_line=3")" "b01,2026-02-30,Burglary,1,358100,172100,,,,"
expect_eq "BOM stripped from the first column name" "$(q "select count(*) from incidents where record_id='ok1'")" "1"
[ -n "$(q "select detail from rejects where reason='swapped_lon_lat'")" ] || fail "no detail for swapped_lon_lat"

# Failures that stop the run; the previous output must survive each.
before=$(sha256sum "$out")
expect_fail() { # expect_fail WHAT PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  set +e; "$HM_BINARY" geocode -q -o "$out" "$@" 2>"$work/err"; local status=$?; set -e
  [ $status -ne 0 ] || fail "$what: exit status 0"
  grep -qi -- "$pattern" "$work/err" || fail "$what: message lacks '$pattern': $(cat "$work/err")"
  expect_eq "$what leaves the output intact" "$(sha256sum "$out")" "$before"
  ls "$work" | grep -q '\.tmp-' && fail "$what left a temporary file: $(ls "$work")"
  return 0
}
printf 'id,date,category\nx1,2026-01-01,Burglary\n' > "$work/nolocation.csv"
expect_fail "no location columns" "no location columns" --wards "$wards" "$work/nolocation.csv"
printf 'id,date,easting,northing\n' > "$work/header_only.csv"
expect_fail "named column missing" "no column 'Easting_X'" --wards "$wards" --easting-field Easting_X "$work/header_only.csv"
expect_fail "missing input file" "missing.csv" --wards "$wards" "$work/missing.csv"
expect_fail "boundary file that cannot be opened" "nowards.gpkg" --wards "$work/nowards.gpkg" "$HM_DATA/geocode/incidents.csv"
expect_fail "boundary without the code field" "NOPE" --wards "$wards" --ward-code NOPE "$HM_DATA/geocode/incidents.csv"
expect_fail "negative snap" "--snap" --wards "$wards" --snap -5 "$HM_DATA/geocode/incidents.csv"
expect_fail "unknown option" "unknown option" --wards "$wards" --frobnicate "$HM_DATA/geocode/incidents.csv"

# An empty file is reported and counted, not fatal; a header-only file reads zero records.
: > "$work/empty.csv"
"$HM_BINARY" geocode -q -o "$out" --wards "$wards" "$work/empty.csv" "$work/header_only.csv" 2>"$work/err"
expect_eq "empty inputs" "$(q "select group_concat(records_read) from runs")" "0,0"
echo ok
