#!/usr/bin/env bash
# harmmap aggregate on bad input: clear errors or warnings naming the rows, never a division by zero.
source "$(dirname "$0")/aggregate_lib.sh"
cd "$work"
fixture in.gpkg
# expect_failure STATUS TEXT COMMAND...: the command exits STATUS with TEXT in its message
expect_failure() {
  local want=$1 text=$2; shift 2
  set +e; "$@" > out.log 2> err.log; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat err.log; fail "$* exited $got, expected $want"; }
  grep -qF -- "$text" err.log || { cat err.log; fail "$*: message lacks '$text'"; }
}
printf 'code,population\nW01,2000\nW01,2100\n' > dup.csv
expect_failure 1 "dup.csv:3: ward W01 is given twice (also at line 2)" "$HM_BINARY" aggregate -q in.gpkg --population dup.csv
printf 'code,population\nW01,many\n' > word.csv
expect_failure 1 "word.csv:2: field population 'many' of W01 is not a number" "$HM_BINARY" aggregate -q in.gpkg --population word.csv
printf 'ward,people\nW01,1\n' > header.csv
expect_failure 1 "no ward code column among (ward, people)" "$HM_BINARY" aggregate -q in.gpkg --population header.csv
printf 'code,population\n,12\n' > blank.csv
expect_failure 1 "blank.csv:2: the ward code is empty" "$HM_BINARY" aggregate -q in.gpkg --population blank.csv
# Warnings that name the rows, and empty rates rather than a division by zero.
printf 'WD23CD,Population\nW01,"2,000"\nW02,0\nW99,5\n' > warn.csv
"$HM_BINARY" aggregate in.gpkg --population warn.csv -o out > out.log 2> err.log || { cat err.log; fail "warnings made it fail"; }
grep -q "W99 (line 4)" err.log || fail "unmatched code W99 not named: $(cat err.log)"
grep -q "population 0 for W02 (line 3)" err.log || fail "zero population not named"
grep -q "no population for 7 wards: W03 (Ward 3)" err.log || fail "wards without population not named"
expect_close "thousands separator read" "$(value in.gpkg ward_harm W01 harm_per_1000)" 17.5
expect_eq "zero population: empty rate" "$(value in.gpkg ward_harm W02 "coalesce(harm_per_1000, 'NULL')")" NULL
! grep -qiE 'nan|inf' out/ward_harm.csv || fail "NaN or infinity in the CSV"
# Periods.
expect_failure 2 "overlaps" "$HM_BINARY" aggregate -q in.gpkg --period a:2023-01..2023-06 --period b:2023-06..2023-12
expect_failure 2 "give NAME:FROM..TO" "$HM_BINARY" aggregate -q in.gpkg --period 2023-01..2023-06
expect_failure 2 "'2023-13' is not a date" "$HM_BINARY" aggregate -q in.gpkg --period a:2023-13..2024-01
expect_failure 2 "it ends before it starts" "$HM_BINARY" aggregate -q in.gpkg --period a:2023-06..2023-01
expect_failure 2 "the same name" "$HM_BINARY" aggregate -q in.gpkg --period a:2023-01..2023-02 --period a:2023-03..2023-04
expect_failure 2 "must start with a letter" "$HM_BINARY" aggregate -q in.gpkg --period 1x:2023-01..2023-02
# Periods that cut a month in two, with records dated by month only: a warning, not a silent guess.
"$HM_BINARY" aggregate in.gpkg --period a:2023-01-01..2023-02-14 --period b:2023-02-15..2023-12 -o out > out.log 2> err.log
grep -q "12 records are dated by month only" err.log || fail "no warning about months cut by a period: $(cat err.log)"
# Inputs that harmmap geocode did not make.
fixture no_runs.gpkg --no-runs
expect_failure 1 "was not made by 'harmmap geocode': it has no runs table" "$HM_BINARY" aggregate -q no_runs.gpkg
echo "not a database" > text.gpkg
expect_failure 1 "not a GeoPackage" "$HM_BINARY" aggregate -q text.gpkg
expect_failure 1 "missing.gpkg: No such file" "$HM_BINARY" aggregate -q missing.gpkg
sqlite3 plain.gpkg "CREATE TABLE gpkg_contents(table_name TEXT); CREATE TABLE t(a);"
expect_failure 1 "was not made by 'harmmap geocode'" "$HM_BINARY" aggregate -q plain.gpkg
# Options.
expect_failure 2 "needs --population" "$HM_BINARY" aggregate -q in.gpkg --hotspot-variable rate
expect_failure 2 "give a positive number of days" "$HM_BINARY" aggregate -q in.gpkg --half-life soon
expect_failure 2 "unknown option" "$HM_BINARY" aggregate -q in.gpkg --frobnicate
expect_failure 1 "weights.csv" "$HM_BINARY" aggregate -q in.gpkg --recompute-harm --harm-index weights.csv
# A period no record falls in (mistyped dates): the run goes on, and says so.
"$HM_BINARY" aggregate in.gpkg --period before:2023-01..2023-06 --period later:2030-01..2030-03 -o empty \
  >empty.log 2>&1 || { cat empty.log; fail "aggregate with an empty period failed"; }
grep -q "warning: period later:2030-01..2030-03 holds no record placed in a ward" empty.log ||
  fail "no warning for a period no record falls in: $(cat empty.log)"
grep -q "warning: period before" empty.log && fail "a period with records was called empty: $(cat empty.log)"
echo "aggregate: bad input reported"
