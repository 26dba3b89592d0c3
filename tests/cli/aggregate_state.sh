#!/usr/bin/env bash
# harmmap aggregate --accumulator (the sums `harmmap run` and `update` keep in .harmmap/aggregate.state): the sums
# kept after a run's incidents, continued with the incidents added since and all the intelligence, give outputs
# identical to a full pass (ward_harm and beat_harm by the stable dump, the CSVs, the report), and the note says
# the kept sums were used; whatever the sums cannot follow makes a full pass, says which, and gives those outputs
# too: no kept sums, a damaged or cut-short file, another population table, a kept incident that changed. With
# --kept-unchanged (the update vouches for the kept incidents) they are not read again, with the same outputs, and
# sums given with another GeoPackage are still caught by their last incident. Last, the pipeline: an update whose
# state file is damaged makes the full pass and says so in run.json; an update that finds harmmap.gpkg and the
# sums as the run left them does not read the kept incidents, and one that finds them touched (edited in place,
# edited with its time put back, replaced by a copy) checks them, with a full run's outputs each time. The
# neighbours, change tests and the report's ward outlines kept with the sums are taken when what they were made
# from is unchanged: the same outputs either way, and a changed boundary or tolerance, or changed period counts,
# make them again.
source "$(dirname "$0")/pipeline_lib.sh"
cd "$work"

# Two GeoPackages from the pipeline: five months, and the same five months plus June (same fids for the five).
mkdir five six
(cd five && write_project p.ini "01 02 03 04 05" && "$HM_BINARY" run -q p.ini) || fail "run of five months failed"
(cd six && write_project p.ini "01 02 03 04 05 06" && "$HM_BINARY" run -q p.ini) || fail "run of six months failed"
cp "$sample/population.csv" pop.csv
args=(--population pop.csv --period q1:2026-01..2026-03 --period q2:2026-04..2026-06)

# sql_edit GPKG SQL: an edit with Python's sqlite3, with stand-ins for the R-tree triggers' SpatiaLite functions
# (which an UPDATE of attributes never calls), as QGIS would make it.
sql_edit() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
    db.create_function(name, 1, lambda g: 0)
db.executescript(sys.argv[2])
db.commit()
PY
}
# Kept incidents geocode could not weigh (harm_flag): the report names their category with a count, which the
# kept sums carry for the incidents they do not read again. The same incidents in both GeoPackages.
flag_some='UPDATE incidents SET category = '"'"'Mystery offence'"'"', harm = 0, harm_flag = '"'"'unknown_category'"'"' WHERE fid IN (3, 50, 700)'
cp five/out/harmmap.gpkg five.gpkg
cp six/out/harmmap.gpkg six.gpkg
sql_edit five.gpkg "$flag_some"
sql_edit six.gpkg "$flag_some"

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
expect_in_note() { grep -q "aggregate: .*$2" "$1.log" || fail "$1: expected '$2' in the note: $(cat "$1.log")"; }

aggregate_case full six.gpkg ""
grep -c "ward_harm" full.dump >/dev/null || fail "the dump has no ward_harm rows"
grep -q "Mystery offence (3 incident records)" full/out/report.html || fail "the report does not name the flagged incidents"

# The sums kept by a pass over five months, continued with June: the full pass's bits.
aggregate_case kept five.gpkg "$work/five.state"
expect_note kept "full pass: no kept sums"
expect_eq "permissions of the kept sums" "$(stat -c %a five.state)" 600
cp five.state five.state.orig
aggregate_case incremental six.gpkg "$work/five.state"
expect_note incremental "incremental: sums of [0-9]* kept incidents"
same_as_full incremental
# June is in the last period: the areas with June records have new counts, their tests are made again.
tests=$(sed -n 's/.*the neighbours of 2 of 2 layers, \([0-9]*\) of \([0-9]*\) change tests.*/\1 \2/p' incremental.log)
[ -n "$tests" ] && [ "${tests% *}" -lt "${tests#* }" ] || fail "incremental: expected the kept neighbours and some kept tests: $(cat incremental.log)"
# The state it wrote is the one a full pass writes.
aggregate_case full_state six.gpkg "$work/six.state"
cmp five.state six.state || fail "the continued state differs from the full pass's"

# Vouched for (--kept-unchanged, as harmmap update passes it): the kept incidents are not read again, and the
# outputs and the state written are still the full pass's (the flagged incidents' counts come from the state).
cp five.state.orig vouched.state
aggregate_case vouched six.gpkg "$work/vouched.state" --kept-unchanged
expect_note vouched "incremental: sums of [0-9]* kept incidents (fid <= [0-9]*, unchanged since they were kept: not read again)"
same_as_full vouched
cmp vouched.state six.state || fail "the state continued without reading the kept incidents differs from the full pass's"

# Derived figures. The same records again: every neighbour and test from the kept sums, the full pass's outputs.
cp six.state again.state
aggregate_case again six.gpkg "$work/again.state"
tests=$(sed -n 's/.*the neighbours of 2 of 2 layers, \([0-9]*\) of \([0-9]*\) change tests.*/\1 \2/p' again.log)
[ -n "$tests" ] && [ "${tests% *}" = "${tests#* }" ] || fail "again: expected every figure from the kept sums: $(cat again.log)"
expect_in_note again "change tests, the report's ward outlines"
same_as_full again
cmp again.state six.state || fail "the state with derived figures taken differs from the full pass's"
# Another tolerance: the neighbours are found again (the tests are kept).
aggregate_case tolerance_full six.gpkg "" --neighbour-tolerance 30
cp six.state tolerance.state
aggregate_case tolerance six.gpkg "$work/tolerance.state" --neighbour-tolerance 30
expect_in_note tolerance "the neighbours of 0 of 2 layers"
diff tolerance_full.dump tolerance.dump >/dev/null || fail "tolerance: harmmap.gpkg differs from the full pass"
for f in ward_harm.csv beat_harm.csv report.html; do cmp tolerance_full/out/$f tolerance/out/$f || fail "tolerance: $f differs from the full pass"; done
# A ward's boundary changed (two wards swap theirs): the wards' neighbours are found again, the beats' kept.
cp six.gpkg moved.gpkg
sql_edit moved.gpkg "UPDATE wards SET geom = (SELECT geom FROM wards w WHERE w.fid = 2) WHERE fid = 1"
aggregate_case moved_full moved.gpkg ""
cp six.state moved.state
aggregate_case moved moved.gpkg "$work/moved.state"
expect_in_note moved "the neighbours of 1 of 2 layers, [0-9]* of [0-9]* change tests, not the report's ward outlines"
diff moved_full.dump moved.dump >/dev/null || fail "moved: harmmap.gpkg differs from the full pass"
for f in ward_harm.csv beat_harm.csv report.html; do cmp moved_full/out/$f moved/out/$f || fail "moved: $f differs from the full pass"; done
diff full.dump moved_full.dump >/dev/null && fail "moved: the swapped boundaries changed nothing"
# Vouched for with another GeoPackage, whose last kept incident differs: caught, a full pass.
last_kept=$(sqlite3 five.gpkg "SELECT max(fid) FROM incidents")
cp six.gpkg other.gpkg
sql_edit other.gpkg "UPDATE incidents SET harm = harm + 1 WHERE fid = $last_kept"
aggregate_case other_full other.gpkg ""
cp five.state.orig other.state
aggregate_case other other.gpkg "$work/other.state" --kept-unchanged
expect_note other "full pass: the last of the [0-9]* incidents the kept sums cover is not the one they end with"
diff other_full.dump other.dump >/dev/null || fail "other: harmmap.gpkg differs from the full pass"
for f in ward_harm.csv beat_harm.csv report.html; do cmp other_full/out/$f other/out/$f || fail "other: $f differs from the full pass"; done

# A damaged file: one byte changed, or cut short.
cp five.state.orig damaged.state
printf '\x55' | dd of=damaged.state bs=1 seek=200 conv=notrunc status=none
aggregate_case damaged six.gpkg "$work/damaged.state"
expect_note damaged "full pass: the kept sums are damaged"
same_as_full damaged
head -c 1000 five.state.orig >short.state
aggregate_case short six.gpkg "$work/short.state"
expect_note short "full pass: the kept sums are damaged"
same_as_full short

# Another population table: the state's identity differs.
cp five.state.orig pop.state
sed -i '2s/,\([0-9]\)/,1\1/' pop.csv
aggregate_case pop_full six.gpkg ""
aggregate_case pop six.gpkg "$work/pop.state"
expect_note pop "full pass: the kept sums were made with other settings, boundaries, population table"
diff pop_full.dump pop.dump >/dev/null || fail "pop: harmmap.gpkg differs from the full pass"
cmp pop_full/out/ward_harm.csv pop/out/ward_harm.csv || fail "pop: ward_harm.csv differs from the full pass"
cmp full/out/ward_harm.csv pop/out/ward_harm.csv >/dev/null && fail "pop: the changed population table changed nothing"
cp "$sample/population.csv" pop.csv

# A kept incident that changed (its harm, as a recency decay that moved would change it). The check has counted
# the flagged incidents it read: the full pass counts them once (the report's list).
cp six.gpkg changed.gpkg
sql_edit changed.gpkg "UPDATE incidents SET harm = harm + 1 WHERE fid = (SELECT min(fid) FROM incidents WHERE ward_code IS NOT NULL)"
aggregate_case changed_full changed.gpkg ""
cp five.state.orig changed.state
aggregate_case changed changed.gpkg "$work/changed.state"
expect_note changed "full pass: the [0-9]* incidents the kept sums cover are not those read now"
diff changed_full.dump changed.dump >/dev/null || fail "changed: harmmap.gpkg differs from the full pass"
for f in ward_harm.csv beat_harm.csv report.html; do cmp changed_full/out/$f changed/out/$f || fail "changed: $f differs from the full pass"; done

# --public: a full pass, said so.
aggregate_case public six.gpkg "$work/public.state" --public -o w/public
expect_note public "full pass: --public"

# The pipeline: a damaged state file makes the update's aggregate a full pass, noted in run.json.
cd five
printf 'garbage' >out/.harmmap/aggregate.state
"$HM_BINARY" update p.ini --add "$sample/street/2026-06-avon-and-somerset-street.csv" >update.log 2>&1 \
  || { cat update.log; fail "update failed"; }
note=$(json out/run.json '[s["note"] for s in m["stages"] if s["name"] == "aggregate"][0]')
grep -q "^full pass: the kept sums are damaged" <<<"$note" || fail "update's aggregate note: $note"
for f in ward_harm.csv beat_harm.csv; do cmp out/$f ../six/out/$f || fail "update after a damaged state: $f differs"; done
cd "$work"

# The pipeline, by how the update finds harmmap.gpkg and the kept sums: as the run left them (the update vouches
# for the kept incidents, which are not read again), or touched since (checked, as without the flag).
# update_case NAME EDIT: a run of five months in NAME/, EDIT (shell, in NAME/out), an update with June; its
# aggregate note in $note.
june="$sample/street/2026-06-avon-and-somerset-street.csv"
update_case() {
  mkdir "$1" && cd "$1" || fail "$1: no folder"
  write_project p.ini "01 02 03 04 05"
  "$HM_BINARY" run -q p.ini || fail "$1: run failed"
  (cd out && eval "$2") || fail "$1: the edit failed"
  "$HM_BINARY" update p.ini --add "$june" >update.log 2>&1 || { cat update.log; fail "$1: update failed"; }
  note=$(json out/run.json '[s["note"] for s in m["stages"] if s["name"] == "aggregate"][0]')
  cd "$work"
}
# same_as_six NAME: the update's tables are the six months' run's.
same_as_six() {
  local f
  for f in ward_harm.csv beat_harm.csv; do cmp "$1/out/$f" six/out/$f || fail "$1: $f differs from a full run"; done
}
update_case as_left ":"
grep -q "^incremental: sums of [0-9]* kept incidents (fid <= [0-9]*, unchanged since they were kept: not read again)" \
  <<<"$note" || fail "as_left: $note"
# The styles aggregate writes continue the layer summaries the run kept (incidents, intelligence), too.
grep -q "(2 kept layer summaries continued)" <<<"$note" || fail "as_left: the layer summaries were not continued: $note"
same_as_six as_left
# Replaced by a copy of itself (restored from a backup, say): checked, the same records, the kept sums used.
update_case copied "cp harmmap.gpkg copy.gpkg && mv copy.gpkg harmmap.gpkg"
grep -q "^incremental: sums of [0-9]* kept incidents (fid <= [0-9]*, checked by hash)" <<<"$note" || fail "copied: $note"
grep -q "(0 kept layer summaries continued)" <<<"$note" || fail "copied: layer summaries continued: $note"
same_as_six copied
# The kept sums replaced by a copy: the same.
update_case state_copied "cp .harmmap/aggregate.state s && mv s .harmmap/aggregate.state"
grep -q "^incremental: sums of [0-9]* kept incidents (fid <= [0-9]*, checked by hash)" <<<"$note" || fail "state_copied: $note"
same_as_six state_copied
# Edited in place (a kept incident's harm, as in QGIS): checked, found changed, a full pass of what is there.
edit="UPDATE incidents SET harm = harm + 1 WHERE fid = (SELECT min(fid) FROM incidents WHERE ward_code IS NOT NULL)"
update_case edited 'sql_edit harmmap.gpkg "$edit"'
grep -q "^full pass: the [0-9]* incidents the kept sums cover are not those read now" <<<"$note" || fail "edited: $note"
aggregate_case edited_full edited/out/harmmap.gpkg ""
for f in ward_harm.csv beat_harm.csv; do cmp edited_full/out/$f edited/out/$f || fail "edited: $f differs from a full pass"; done
cmp edited/out/ward_harm.csv six/out/ward_harm.csv >/dev/null && fail "edited: the edit changed nothing"
# Edited with its size, time and inode as they were: SQLite's change counter tells.
update_case retimed 'cp -p harmmap.gpkg ../stamp.gpkg && sql_edit harmmap.gpkg "$edit" && touch -r ../stamp.gpkg harmmap.gpkg &&
  [ "$(stat -c "%s %.9Y" harmmap.gpkg)" = "$(stat -c "%s %.9Y" ../stamp.gpkg)" ]'
grep -q "^full pass: the [0-9]* incidents the kept sums cover are not those read now" <<<"$note" || fail "retimed: $note"
aggregate_case retimed_full retimed/out/harmmap.gpkg ""
for f in ward_harm.csv beat_harm.csv; do cmp retimed_full/out/$f retimed/out/$f || fail "retimed: $f differs from a full pass"; done
echo "aggregate_state: kept sums give a full pass's outputs; every fallback is a full pass"
