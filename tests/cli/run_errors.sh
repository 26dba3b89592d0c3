#!/usr/bin/env bash
# harmmap run and update on mistakes: each stops before writing anything, with exit status 2 for a mistake in
# the command or the project file, and a message naming the file, line and key and what to write instead.
source "$(dirname "$0")/pipeline_lib.sh"
cd "$work"

# expect_refusal STATUS FRAGMENT COMMAND...: the command fails with STATUS and says FRAGMENT on stderr.
expect_refusal() {
  local want=$1 fragment=$2
  shift 2
  local status=0
  "$@" >out.log 2>err.log || status=$?
  [ "$status" = "$want" ] || fail "$*: exit status $status, expected $want ($(cat err.log))"
  grep -qF -- "$fragment" err.log || fail "$*: no \"$fragment\" in: $(cat err.log)"
}

write_project p.ini "01"
sed 's/^radius = 500/radius = wide/' p.ini >bad.ini
expect_refusal 2 "bad.ini:22: [density] radius = wide: give a positive number of metres, or silverman or arcgis" \
  "$HM_BINARY" run bad.ini
sed 's/^zoom = 11-14/zooms = 11-14/' p.ini >bad.ini
expect_refusal 2 "bad.ini:26: [tiles] zooms: unknown key; the keys of [tiles] are zoom, ramp, range" "$HM_BINARY" run bad.ini
sed "s|^wards = .*|wards = $work/nowhere.gpkg|" p.ini >bad.ini
expect_refusal 2 "bad.ini:6: [boundaries] wards = $work/nowhere.gpkg: No such file or directory" "$HM_BINARY" run bad.ini
[ ! -e out ] || fail "a refused run created the output folder"
expect_refusal 2 "no-such.ini: No such file or directory" "$HM_BINARY" run no-such.ini
expect_refusal 2 "give the project file" "$HM_BINARY" run
expect_refusal 2 "unknown option '--add'" "$HM_BINARY" run p.ini --add x.csv
# An output folder whose tiles/ holds someone's files (not a tile set, which the tiles stage replaces as a whole):
# refused before any output is written, not after geocode, aggregate and density have written theirs.
sed 's|^output = out|output = theirs|' p.ini >theirs.ini
mkdir -p theirs/tiles
echo "not a tile" >theirs/tiles/holiday.png
expect_refusal 2 "theirs.ini, [project] output: -o $work/theirs/tiles: the folder exists, is not empty and holds no harmmap tile set" \
  "$HM_BINARY" run theirs.ini
expect_eq "files in the refused output folder" "$(cd theirs && find . | sort | tr '\n' ' ')" ". ./tiles ./tiles/holiday.png "

# One run or update at a time per output folder: a second one, while the lock is held, is refused before it
# touches anything (one process holds flock(2) on it here, as a running harmmap would).
mkdir -p out/.harmmap
/usr/bin/python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); f.write("4242\n"); f.flush(); time.sleep(60)' \
  out/.harmmap/lock >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do grep -q 4242 out/.harmmap/lock 2>/dev/null && break; sleep 0.1; done
expect_refusal 2 "$work/out is being written by another harmmap run or update (process 4242)" "$HM_BINARY" run p.ini
expect_refusal 2 "is being written by another harmmap run or update" "$HM_BINARY" update p.ini
kill "$holder"
wait "$holder" 2>/dev/null || true
[ ! -e out/harmmap.gpkg ] || fail "a refused run wrote harmmap.gpkg"
rm -rf out

# update needs a finished run, and files that exist.
expect_refusal 2 "has no previous run" "$HM_BINARY" update p.ini
"$HM_BINARY" run -q p.ini || fail "run failed"
expect_refusal 2 "--add nowhere.csv: No such file or directory" "$HM_BINARY" update p.ini --add nowhere.csv
expect_refusal 2 "is already an intelligence input" "$HM_BINARY" update p.ini --add "$sample/intelligence.csv"
# A file whose header geocode cannot read: the update stops in geocode and leaves the outputs as they were.
printf 'a,b\n1,2\n' >strange.csv
cp out/harmmap.gpkg before.gpkg
expect_refusal 1 "stage geocode" "$HM_BINARY" update p.ini --add strange.csv
cmp before.gpkg out/harmmap.gpkg || fail "a failed update changed the GeoPackage"
grep -q strange.csv p.ini && fail "a failed update added its file to the project"
# ... and a later update still works (the failure changed no output, so the state was put back).
"$HM_BINARY" update -q p.ini --add "$sample/street/2026-02-avon-and-somerset-street.csv" || fail "update after a failed one"
echo "run_errors: refusals checked"
