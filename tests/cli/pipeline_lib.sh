# Shared by the run*.sh and update*.sh tests: a project over the bundled sample, and a comparison of two output
# folders (GeoPackage by its stable dump, every other file byte for byte).
source "$(dirname "$0")/lib.sh"
sample="$HM_SOURCE_DIR/data/sample"
dump="$HM_SOURCE_DIR/tests/cli/gpkg_dump.py"
command -v sqlite3 >/dev/null || skip "needs the sqlite3 command"

# write_project FILE MONTHS [EXTRA_LINES]: the sample's project with the street files of the given months
# (e.g. "01 02 03"), tiles at zooms 11-14 to keep the test fast and a fixed colour range so that an update redraws
# only the tiles whose cells changed.
write_project() {
  local file=$1 months=$2 extra=${3:-}
  {
    printf '[project]\nname = Test city\noutput = out\n\n[boundaries]\nwards = %s/wards.gpkg\nbeats = %s/beats.gpkg\n\n' \
      "$sample" "$sample"
    printf '[inputs]\n'
    for m in $months; do printf 'incidents = %s/street/2026-%s-avon-and-somerset-street.csv\n' "$sample" "$m"; done
    printf 'intelligence = %s/intelligence.csv\npostcodes = %s/postcodes.csv\n\n' "$sample" "$sample"
    printf '[aggregate]\npopulation = %s/population.csv\n\n[periods]\nq1 = 2026-01..2026-03\nq2 = 2026-04..2026-06\n\n' \
      "$sample"
    printf '[density]\nradius = 500\ncell = 25\n\n[tiles]\nzoom = 11-14\nrange = 0,3000\n'
    printf '%b' "$extra"
  } >"$file"
}

# same_outputs A B: fails naming the first output that differs.
same_outputs() {
  local a=$1 b=$2
  /usr/bin/python3 "$dump" "$a/harmmap.gpkg" >"$work/dump-a.txt"
  /usr/bin/python3 "$dump" "$b/harmmap.gpkg" >"$work/dump-b.txt"
  diff "$work/dump-a.txt" "$work/dump-b.txt" >"$work/dump.diff" || {
    head -40 "$work/dump.diff" | cut -c1-300 >&2
    fail "harmmap.gpkg: $a and $b differ (stable dump above)"
  }
  local f
  for f in density.tif density.qml ward_harm.csv beat_harm.csv report.html harmmap.qgs; do
    [ -e "$a/$f" ] || [ -e "$b/$f" ] || continue
    cmp "$a/$f" "$b/$f" || fail "$f differs between $a and $b"
  done
  diff -r "$a/tiles" "$b/tiles" >/dev/null || {
    diff -rq "$a/tiles" "$b/tiles" | head -5 >&2
    fail "tiles differ between $a and $b"
  }
  # run.json and .harmmap/ describe how the outputs were made (timings, history): they differ, on purpose.
  expect_eq "files in $a and $b" "$(cd "$a" && find . -path ./.harmmap -prune -o -type f -print | sort | grep -v run.json)" \
    "$(cd "$b" && find . -path ./.harmmap -prune -o -type f -print | sort | grep -v run.json)"
}

# json FILE EXPRESSION: a value from run.json (EXPRESSION in Python over `m`)
json() { /usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"; }
