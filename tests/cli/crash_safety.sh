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
# A kill lands uniformly in [0, 1.3 x the command's measured run time], so it falls in every phase: reading,
# computing, writing the temporary, fsync, rename. HM_CRASH_SEED repeats a sequence (the seed is printed);
# HM_CRASH_KILLS sets the kills per command (default 10), HM_CRASH_SECONDS bounds the whole test (default 90).
source "$(dirname "$0")/lib.sh"
command -v gdalinfo >/dev/null || skip "gdalinfo is missing"
seed=${HM_CRASH_SEED:-$(( $(date +%s) % 32768 ))}
kills=${HM_CRASH_KILLS:-10}
deadline=$(( SECONDS + ${HM_CRASH_SECONDS:-90} ))
RANDOM=$seed
echo "crash_safety: seed $seed (HM_CRASH_SEED=$seed repeats it), $kills kills per command"
sample="$HM_SOURCE_DIR/data/sample"
cd "$work"

# checksum PATH: one hash for a file, or for a folder's files and their relative names. PATH:dump hashes a
# GeoPackage's SQL dump instead (its contents: a file updated in place is not byte-stable across runs).
checksum() {
  if [ "${1%:dump}" != "$1" ]; then
    if [ -e "${1%:dump}" ]; then sqlite3 "${1%:dump}" .dump | sha256sum | cut -c1-64; else echo missing; fi
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
    if kill -KILL $pid 2>/dev/null; then killed_early=$((killed_early + 1)); fi
    local code=0
    wait $pid 2>/dev/null || code=$?
    [ $code -eq 0 ] && completed=$((completed + 1))
    [ $code -eq 0 ] || [ $code -eq 137 ] || fail "$name: run $i exited $code (not killed, not successful)"
    for output in $outputs; do
      local now
      now=$(checksum "run/$output")
      [ "$now" = "${reference_a[$output]}" ] || [ "$now" = "${reference_b[$output]}" ] ||
        fail "$name: after kill $i at ${delay_us} us, $output is neither A's nor B's (seed $seed)"
    done
    $check || fail "$name: after kill $i at ${delay_us} us, GDAL cannot open the outputs (seed $seed)"
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
