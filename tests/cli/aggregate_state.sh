#!/usr/bin/env bash
# harmmap aggregate --accumulator (the sums `harmmap run` and `update` keep in .harmmap/aggregate.state): the sums
# kept after a run's incidents, continued with the incidents added since and all the intelligence, give outputs
# identical to a full pass (ward_harm and beat_harm by the stable dump, the CSVs, the report), and the note says
# the kept sums were used; whatever the sums cannot follow makes a full pass, says which, and gives those outputs
# too: no kept sums, a damaged or cut-short file, another population table, a kept incident that changed. Last,
# the pipeline: an update whose state file is damaged makes the full pass and says so in run.json.
source "$(dirname "$0")/pipeline_lib.sh"
cd "$work"

# Two GeoPackages from the pipeline: five months, and the same five months plus June (same fids for the five).
mkdir five six
(cd five && write_project p.ini "01 02 03 04 05" && "$HM_BINARY" run -q p.ini) || fail "run of five months failed"
(cd six && write_project p.ini "01 02 03 04 05 06" && "$HM_BINARY" run -q p.ini) || fail "run of six months failed"
cp "$sample/population.csv" pop.csv
args=(--population pop.csv --period q1:2026-01..2026-03 --period q2:2026-04..2026-06)

# aggregate_case NAME GPKG STATE [ARGS...]: aggregate GPKG into case NAME, always through the same paths (w/), so
# that outputs naming their input compare; stderr in NAME.log.
aggregate_case() {
  local name=$1 gpkg=$2 state=$3
  shift 3
  rm -rf w
  mkdir w
  cp "$gpkg" w/in.gpkg
  local with_state=()
  [ -z "$state" ] || with_state=(--accumulator "$state")
  "$HM_BINARY" aggregate w/in.gpkg -o w/out "${args[@]}" "${with_state[@]}" "$@" >/dev/null 2>"$name.log" \
    || { cat "$name.log"; fail "aggregate ($name) failed"; }
  /usr/bin/python3 "$dump" w/in.gpkg >"$name.dump" || fail "$name: the dump failed"
  mv w "$name"
}
# same_as_full NAME: NAME's outputs are the full pass's.
same_as_full() {
  diff full.dump "$1.dump" >/dev/null || fail "$1: harmmap.gpkg differs from the full pass ($(diff full.dump "$1.dump" | head -3))"
  local f
  for f in ward_harm.csv beat_harm.csv report.html; do cmp full/out/$f "$1/out/$f" || fail "$1: $f differs from the full pass"; done
}
expect_note() { grep -q "aggregate: $2" "$1.log" || fail "$1: expected the note '$2': $(cat "$1.log")"; }

aggregate_case full six/out/harmmap.gpkg ""
grep -c "ward_harm" full.dump >/dev/null || fail "the dump has no ward_harm rows"

# The sums kept by a pass over five months, continued with June: the full pass's bits.
aggregate_case kept five/out/harmmap.gpkg "$work/five.state"
expect_note kept "full pass: no kept sums"
expect_eq "permissions of the kept sums" "$(stat -c %a five.state)" 600
cp five.state five.state.orig
aggregate_case incremental six/out/harmmap.gpkg "$work/five.state"
expect_note incremental "incremental: sums of [0-9]* kept incidents"
same_as_full incremental
# The state it wrote is the one a full pass writes.
aggregate_case full_state six/out/harmmap.gpkg "$work/six.state"
cmp five.state six.state || fail "the continued state differs from the full pass's"

# A damaged file: one byte changed, or cut short.
cp five.state.orig damaged.state
printf '\x55' | dd of=damaged.state bs=1 seek=200 conv=notrunc status=none
aggregate_case damaged six/out/harmmap.gpkg "$work/damaged.state"
expect_note damaged "full pass: the kept sums are damaged"
same_as_full damaged
head -c 1000 five.state.orig >short.state
aggregate_case short six/out/harmmap.gpkg "$work/short.state"
expect_note short "full pass: the kept sums are damaged"
same_as_full short

# Another population table: the state's identity differs.
cp five.state.orig pop.state
sed -i '2s/,\([0-9]\)/,1\1/' pop.csv
aggregate_case pop_full six/out/harmmap.gpkg ""
aggregate_case pop six/out/harmmap.gpkg "$work/pop.state"
expect_note pop "full pass: the kept sums were made with other settings, boundaries, population table"
diff pop_full.dump pop.dump >/dev/null || fail "pop: harmmap.gpkg differs from the full pass"
cmp pop_full/out/ward_harm.csv pop/out/ward_harm.csv || fail "pop: ward_harm.csv differs from the full pass"
cmp full/out/ward_harm.csv pop/out/ward_harm.csv >/dev/null && fail "pop: the changed population table changed nothing"
cp "$sample/population.csv" pop.csv

# A kept incident that changed (its harm, as a recency decay that moved would change it).
cp six/out/harmmap.gpkg changed.gpkg
# (Python's sqlite3 with stand-ins for the R-tree triggers' SpatiaLite functions, which an UPDATE of harm never calls.)
/usr/bin/python3 - changed.gpkg <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
    db.create_function(name, 1, lambda g: 0)
db.execute("UPDATE incidents SET harm = harm + 1 WHERE fid = (SELECT min(fid) FROM incidents WHERE ward_code IS NOT NULL)")
db.commit()
PY
aggregate_case changed_full changed.gpkg ""
cp five.state.orig changed.state
aggregate_case changed changed.gpkg "$work/changed.state"
expect_note changed "full pass: the [0-9]* incidents the kept sums cover are not those read now"
diff changed_full.dump changed.dump >/dev/null || fail "changed: harmmap.gpkg differs from the full pass"
cmp changed_full/out/ward_harm.csv changed/out/ward_harm.csv || fail "changed: ward_harm.csv differs from the full pass"

# --public: a full pass, said so.
aggregate_case public six/out/harmmap.gpkg "$work/public.state" --public -o w/public
expect_note public "full pass: --public"

# The pipeline: a damaged state file makes the update's aggregate a full pass, noted in run.json.
cd five
printf 'garbage' >out/.harmmap/aggregate.state
"$HM_BINARY" update p.ini --add "$sample/street/2026-06-avon-and-somerset-street.csv" >update.log 2>&1 \
  || { cat update.log; fail "update failed"; }
note=$(json out/run.json '[s["note"] for s in m["stages"] if s["name"] == "aggregate"][0]')
grep -q "^full pass: the kept sums are damaged" <<<"$note" || fail "update's aggregate note: $note"
for f in ward_harm.csv beat_harm.csv; do cmp out/$f ../six/out/$f || fail "update after a damaged state: $f differs"; done
echo "aggregate_state: kept sums give a full pass's outputs; every fallback is a full pass"
