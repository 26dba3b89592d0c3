#!/usr/bin/env bash
# Crash safety: harmmap is killed with SIGKILL at random moments while it writes, many times, and after every kill
# the outputs are whole: each is byte for byte either the one the previous run left or the one the killed run was
# writing (never a mixture, never truncated), and it opens in GDAL. Leftover temporary files must not disturb the
# next run, and the next successful run removes them.
#
# Each command alternates between two inputs A and B whose outputs differ, so "intact" can be checked exactly:
#   geocode  sample months 1-3 (A) or 1-6 with intelligence (B)  -> out.gpkg
#   density  A.gpkg or B.gpkg                                     -> out.tif
#   tiles    A.tif or B.tif, XYZ folder and MBTiles               -> tiles/, out.mbtiles
#   aggregate adds layers to a copy of A.gpkg                     -> agg.gpkg (either without or with them)
#   update   a project run on months 1-3, then `update --add` month 4 -> every output of the project
# A kill lands uniformly in [0, 1.3 x the command's measured run time], so it falls in every phase: reading,
# computing, writing the temporary, fsync, rename. HM_CRASH_SEED repeats a sequence (the seed is printed);
# HM_CRASH_KILLS sets the kills per command (default 8; HM_CRASH_UPDATE_KILLS for update, default 5),
# HM_CRASH_SECONDS bounds the kill loops (default 90).
source "$(dirname "$0")/lib.sh"
command -v gdalinfo >/dev/null || skip "gdalinfo is missing"
seed=${HM_CRASH_SEED:-$(( $(date +%s) % 32768 ))}
kills=${HM_CRASH_KILLS:-8}
deadline=$(( SECONDS + ${HM_CRASH_SECONDS:-90} ))
RANDOM=$seed
echo "crash_safety: seed $seed (HM_CRASH_SEED=$seed repeats it), $kills kills per command"
sample="$HM_SOURCE_DIR/data/sample"
cd "$work"

# checksum PATH: one hash for a file, or for a folder's files and their relative names. PATH:dump hashes a
# GeoPackage's stable dump instead (tests/cli/gpkg_dump.py: its contents, with the style and metadata tables'
# surrogate ids renumbered; a file updated in place is not byte-stable across runs).
dump="$HM_SOURCE_DIR/tests/cli/gpkg_dump.py"
checksum() {
  if [ "${1%:dump}" != "$1" ]; then
    if [ -e "${1%:dump}" ]; then /usr/bin/python3 "$dump" "${1%:dump}" | sha256sum | cut -c1-64; else echo missing; fi
  elif [ -d "$1" ]; then (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
  elif [ -e "$1" ]; then sha256sum <"$1" | cut -c1-64
  else echo missing; fi
}
# Temporaries harmmap leaves beside an output when killed (gpkg, tif, mbtiles, csv: NAME.tmp-*; tile folders
# .NAME.tmp-*).
temporaries() { find "$work/run" -maxdepth 2 -name "*.tmp-*" -printf "%P\n" | sort; }

geocode_a=(geocode -q --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" --postcodes "$sample/postcodes.csv"
  "$sample"/street/2026-0[1-3]-*.csv)
geocode_b=(geocode -q --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" --postcodes "$sample/postcodes.csv"
  --intel "$sample/intelligence.csv" "$sample"/street/*.csv)
"$HM_BINARY" "${geocode_a[@]}" -o A.gpkg
"$HM_BINARY" "${geocode_b[@]}" -o B.gpkg
density_args=(-q --weight harm --cell 10 --radius 400 --threads 2)
"$HM_BINARY" density A.gpkg -o A.tif "${density_args[@]}"
"$HM_BINARY" density B.gpkg -o B.tif "${density_args[@]}"
tiles_args=(-q --zoom 10-14 --threads 2 --range 0,40)
mkdir run

# crash_loop NAME OUTPUTS CHECK A-COMMAND... -- B-COMMAND...
#   OUTPUTS: space-separated paths under run/; CHECK: a function that opens them in GDAL.
crash_loop() {
  local name=$1 outputs=$2 check=$3
  shift 3
  local a=() b=()
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  local output
  # Reference outputs of A and B, and how long a run takes.
  declare -A reference_a=() reference_b=()
  "$HM_BINARY" "${a[@]}" >/dev/null || fail "$name: run A failed"
  for output in $outputs; do reference_a[$output]=$(checksum "run/$output"); done
  local started=$(date +%s%N)
  "$HM_BINARY" "${b[@]}" >/dev/null || fail "$name: run B failed"
  local run_ns=$(( $(date +%s%N) - started ))
  local differ=0
  for output in $outputs; do
    reference_b[$output]=$(checksum "run/$output")
    [ "${reference_a[$output]}" = "${reference_b[$output]}" ] || differ=1
  done
  [ $differ -eq 1 ] || fail "$name: A and B give the same outputs: the test could not tell them apart"
  local i killed_early=0 completed=0
  for ((i = 0; i < kills && SECONDS < deadline; i++)); do
    local which=$((RANDOM % 2))
    local delay_us=$(( (RANDOM * 32768 + RANDOM) % (run_ns * 13 / 10000 + 1) ))
    if [ $which -eq 0 ]; then "$HM_BINARY" "${a[@]}" >/dev/null 2>&1 & else "$HM_BINARY" "${b[@]}" >/dev/null 2>&1 & fi
    local pid=$!
    sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
    kill -KILL $pid 2>/dev/null || true
    local code=0
    wait $pid 2>/dev/null || code=$?
    [ $code -eq 0 ] && completed=$((completed + 1))
    [ $code -eq 137 ] && killed_early=$((killed_early + 1))
    [ $code -eq 0 ] || [ $code -eq 137 ] || fail "$name: run $i exited $code (not killed, not successful)"
    # GDAL read-only first: the checksum's dump opens GeoPackages read-write, which would roll back a hot journal
    # that read-only readers cannot.
    $check || fail "$name: after kill $i at ${delay_us} us, GDAL cannot open the outputs (seed $seed)"
    for output in $outputs; do
      local now
      now=$(checksum "run/$output")
      [ "$now" = "${reference_a[$output]}" ] || [ "$now" = "${reference_b[$output]}" ] ||
        fail "$name: after kill $i at ${delay_us} us, $output is neither A's nor B's (seed $seed)"
    done
  done
  local leftovers
  leftovers=$(temporaries | tr '\n' ' ')
  # One more complete run: it must succeed beside the leftovers and remove them.
  "$HM_BINARY" "${b[@]}" >"$work/last.log" 2>&1 || { cat "$work/last.log"; fail "$name: a run after the kills failed (leftovers: $leftovers)"; }
  for output in $outputs; do
    expect_eq "$name: $output after the kills" "$(checksum "run/$output")" "${reference_b[$output]}"
  done
  local remaining
  remaining=$(temporaries | tr '\n' ' ')
  [ -z "$remaining" ] || fail "$name: temporary files left after a successful run: $remaining (before it: $leftovers)"
  echo "crash_safety: $name: $i kills ($killed_early during the run, $completed runs finished first), run $((run_ns / 1000000)) ms; $(wc -w <<<"$leftovers") temporaries left, all removed by the next run"
}

check_gpkg() { ogrinfo -ro -so run/out.gpkg >/dev/null 2>&1 && [ "$(sql run/out.gpkg "pragma integrity_check")" = ok ]; }
check_tif() { gdalinfo -checksum run/out.tif >/dev/null 2>&1; }
check_tiles() {
  gdalinfo run/out.mbtiles >/dev/null 2>&1 && [ "$(sql run/out.mbtiles "pragma integrity_check")" = ok ] &&
    [ -f run/tiles/tiles-manifest.txt ] && gdalinfo "$(find run/tiles -name '*.png' | head -1)" >/dev/null 2>&1
}
check_aggregate() {
  ogrinfo -ro -so run/agg.gpkg ward_harm >/dev/null 2>&1 && [ "$(sql run/agg.gpkg "pragma integrity_check")" = ok ]
}

crash_loop geocode "out.gpkg" check_gpkg "${geocode_a[@]}" -o run/out.gpkg -- "${geocode_b[@]}" -o run/out.gpkg
crash_loop density "out.tif" check_tif density A.gpkg -o run/out.tif "${density_args[@]}" -- \
  density B.gpkg -o run/out.tif "${density_args[@]}"
crash_loop tiles "tiles out.mbtiles" check_tiles tiles A.tif -o run/tiles --mbtiles run/out.mbtiles "${tiles_args[@]}" -- \
  tiles B.tif -o run/tiles --mbtiles run/out.mbtiles "${tiles_args[@]}"
# aggregate rewrites its input GeoPackage (adding ward_harm, beat_harm) and writes CSVs and a report: each file
# is replaced atomically on its own, so after a kill each is A's or B's.
cp A.gpkg run/agg.gpkg
crash_loop aggregate "agg.gpkg:dump report/ward_harm.csv report/beat_harm.csv report/report.html" check_aggregate \
  aggregate run/agg.gpkg -o run/report -- aggregate run/agg.gpkg -o run/report --population "$sample/population.csv"

# qgis restyles the GeoPackages of a folder (layer_styles, metadata) and writes the project: each file is replaced
# atomically on its own (a GeoPackage through a copy renamed over it: restyled in place, a kill left a hot journal
# that `ogrinfo -ro` cannot open).
mkdir run/qgis && cp B.gpkg run/qgis/out.gpkg
check_qgis() { ogrinfo -ro -so run/qgis/out.gpkg >/dev/null 2>&1 && [ "$(sql run/qgis/out.gpkg "pragma integrity_check")" = ok ]; }
crash_loop qgis "qgis/out.gpkg:dump qgis/harmmap.qgs" check_qgis qgis run/qgis -q --classes 4 -- qgis run/qgis -q --classes 7

# update (harmmap update PROJECT.ini --add NEW.csv): several stages, each output replaced atomically on its own:
# harmmap.gpkg as a whole (the merged records, aggregate's ward_harm and beat_harm, styles and metadata, in one
# working copy renamed over it), aggregate's CSVs and report, density and tiles --update theirs, and the project
# file gets the new input appended. The update as a whole is not atomic (engine/pipeline.c: "until the update
# finishes the outputs are mixed: a later update refuses and says to run again"), so after a kill each output, and
# harmmap.gpkg as a whole, is on its own what the run before left or what the update makes, and every file opens
# in GDAL. Then an update again either finishes or refuses and says to run `harmmap run`; either way
# the outputs end as a clean run makes them, with no temporary file left.
update_kills=${HM_CRASH_UPDATE_KILLS:-5}
mkdir upd && cd upd
{
  printf '[project]\nname = Crash city\noutput = out\n[boundaries]\nwards = %s/wards.gpkg\nbeats = %s/beats.gpkg\n' \
    "$sample" "$sample"
  printf '[inputs]\n'
  for m in 01 02 03; do printf 'incidents = %s/street/2026-%s-avon-and-somerset-street.csv\n' "$sample" "$m"; done
  printf 'intelligence = %s/intelligence.csv\n[density]\nradius = 500\ncell = 25\n[tiles]\nzoom = 11-13\nrange = 0,3000\n' "$sample"
} >p.ini
new="$sample/street/2026-04-avon-and-somerset-street.csv"
"$HM_BINARY" run -q p.ini >/dev/null || fail "update: the first run failed"
cd "$work" && cp -a upd pristine
# state DIR: one line per output: name and hash (GeoPackage by its stable dump; tiles as a folder).
state() {
  local d=$1 f
  echo "p.ini $(checksum "$d/p.ini")"
  local table
  echo "harmmap.gpkg:records $(sql "$d/out/harmmap.gpkg" "select * from incidents order by fid; select * from
    intelligence order by fid; select * from rejects order by fid; select * from runs order by fid" | sha256sum | cut -c1-64)"
  for table in ward_harm beat_harm; do
    echo "harmmap.gpkg:$table $(sql "$d/out/harmmap.gpkg" "select * from $table order by fid" | sha256sum | cut -c1-64)"
  done
  # harmmap.gpkg changes as a whole (pipeline.c: one working copy renamed over it): records and ward tables together
  # are the previous ones or the updated ones, never new records beside the previous ward tables.
  echo "harmmap.gpkg:whole $(sql "$d/out/harmmap.gpkg" "select * from incidents order by fid; select * from
    intelligence order by fid; select * from ward_harm order by fid; select * from beat_harm order by fid" |
    sha256sum | cut -c1-64)"
  for f in density.tif ward_harm.csv beat_harm.csv report.html tiles; do echo "$f $(checksum "$d/out/$f")"; done
}
state pristine >before.txt
(cd upd && "$HM_BINARY" update -q p.ini --add "$new" >/dev/null) || fail "update: an update without kills failed"
state upd >after.txt
started=$(date +%s%N)
rm -rf upd && cp -a pristine upd
(cd upd && "$HM_BINARY" update -q p.ini --add "$new" >/dev/null)
run_ns=$(( $(date +%s%N) - started ))
for ((i = 0; i < update_kills && SECONDS < deadline; i++)); do
  rm -rf upd && cp -a pristine upd
  delay_us=$(( (RANDOM * 32768 + RANDOM) % (run_ns * 11 / 10000 + 1) ))
  (cd upd && exec "$HM_BINARY" update -q p.ini --add "$new" >/dev/null 2>&1) &
  pid=$!
  sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
  kill -KILL $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  ogrinfo -ro -so upd/out/harmmap.gpkg >/dev/null 2>&1 || fail "update: after a kill at $delay_us us, harmmap.gpkg does not open (seed $seed)"
  gdalinfo upd/out/density.tif >/dev/null 2>&1 || fail "update: after a kill at $delay_us us, density.tif does not open (seed $seed)"
  state upd >now.txt
  while read -r name hash; do
    grep -qx "$name $hash" before.txt || grep -qx "$name $hash" after.txt ||
      fail "update: after a kill at $delay_us us, $name is neither the previous nor the updated one (seed $seed)"
  done <now.txt
done
# Recovery from the last kill: update again, or a full run when update refuses.
if ! (cd upd && "$HM_BINARY" update -q p.ini --add "$new" >"$work/update.log" 2>&1); then
  grep -q "harmmap run" "$work/update.log" || fail "update after a kill failed without saying what to do: $(cat "$work/update.log")"
  (cd upd && "$HM_BINARY" run -q p.ini >/dev/null) || fail "update: harmmap run after a killed update failed"
fi
state upd >recovered.txt
if grep -q "^p.ini $(grep '^p.ini ' after.txt | cut -d' ' -f2)\$" recovered.txt; then expected=after.txt; else expected=before.txt; fi
diff "$expected" recovered.txt >/dev/null || fail "update: outputs after recovery differ from a clean run's: $(diff "$expected" recovered.txt)"
leftovers=$(find upd -name "*.tmp*" | tr '\n' ' ')
[ -z "$leftovers" ] || fail "update: temporary files left after recovery: $leftovers"
echo "crash_safety: update: $i kills, run $((run_ns / 1000000)) ms; every output old or new after each; recovered to a clean run's outputs"
