#!/usr/bin/env bash
# Output permissions never widen access: every file and folder harmmap creates respects the umask, and outputs
# holding intelligence (or made from outputs that hold it) are readable by their owner only, whatever the umask:
#   geocode with --intel -> owner-only GeoPackage (gpkg.h owner_only); without -> 0666 minus the umask
#   aggregate            -> its outputs get the input GeoPackage's permissions (not --public ones)
#   density              -> a surface no more readable than the points it is made from
#   tiles                -> tiles, folder and MBTiles no more readable than the surface
# Checked at umask 022 (usual), 027 (group-only sites) and 077 (private), plus a re-run over an existing output
# that was world-readable (the new file must not inherit the old mode).
source "$(dirname "$0")/lib.sh"
sample="$HM_SOURCE_DIR/data/sample"
cd "$work"
mode() { stat -c %a "$1"; }
# within ALLOWED PATH WHAT: fail when any file or folder under PATH has a mode bit outside ALLOWED (octal).
within() {
  local allowed=$1 path=$2 what=$3 item
  while IFS= read -r item; do
    local m=$((8#$(stat -c %a "$item")))
    [ $((m & ~8#$allowed & 8#777)) -eq 0 ] || fail "$what: $item has mode $(stat -c %a "$item"), allowed at most $allowed"
  done < <(find "$path")
}
streets=("$sample"/street/2026-0[1-2]-*.csv)
geocode() { "$HM_BINARY" geocode -q --wards "$sample/wards.gpkg" --beats "$sample/beats.gpkg" "$@"; }

for mask in 022 027 077; do
  dir="$work/u$mask"
  mkdir "$dir"
  (
    umask $mask
    cd "$dir"
    file_mode=$(printf '%o' $((8#666 & ~8#$mask)))
    dir_mode=$(printf '%o' $((8#777 & ~8#$mask)))
    # Incidents only: an ordinary file, as the umask says.
    geocode -o incidents.gpkg "${streets[@]}"
    expect_eq "umask $mask: geocode without intelligence" "$(mode incidents.gpkg)" "$file_mode"
    "$HM_BINARY" aggregate incidents.gpkg -o report >/dev/null
    within "$dir_mode" report "umask $mask: aggregate of incidents"
    expect_eq "umask $mask: aggregate's GeoPackage keeps its mode" "$(mode incidents.gpkg)" "$file_mode"
    "$HM_BINARY" density -q incidents.gpkg -o incidents.tif --cell 50
    expect_eq "umask $mask: density of incidents" "$(mode incidents.tif)" "$file_mode"
    "$HM_BINARY" tiles -q incidents.tif -o tiles --zoom 11-12 --mbtiles incidents.mbtiles
    within "$dir_mode" tiles "umask $mask: tiles of incidents"
    expect_eq "umask $mask: MBTiles of incidents" "$(mode incidents.mbtiles)" "$file_mode"

    # With intelligence: owner-only from geocode to tiles.
    geocode -o intel.gpkg --intel "$sample/intelligence.csv" "${streets[@]}"
    expect_eq "umask $mask: geocode with intelligence" "$(mode intel.gpkg)" "600"
    "$HM_BINARY" aggregate intel.gpkg -o intel-report >/dev/null
    expect_eq "umask $mask: aggregate keeps the GeoPackage owner-only" "$(mode intel.gpkg)" "600"
    # (the folder is made by the umask: only the fixed file names are in it; the files are owner-only)
    for f in intel-report/*; do expect_eq "umask $mask: aggregate of intelligence: $f" "$(mode "$f")" "600"; done
    "$HM_BINARY" density -q intel.gpkg -o intel.tif --cell 50
    expect_eq "umask $mask: density of intelligence" "$(mode intel.tif)" "600"
    "$HM_BINARY" tiles -q intel.tif -o intel-tiles --zoom 11-12 --mbtiles intel.mbtiles
    within 700 intel-tiles "umask $mask: tiles of intelligence"
    expect_eq "umask $mask: MBTiles of intelligence" "$(mode intel.mbtiles)" "600"

    # Replacing an output that was world-readable does not keep the old, wider mode.
    chmod 644 incidents.gpkg
    geocode -o incidents.gpkg --intel "$sample/intelligence.csv" "${streets[@]}"
    expect_eq "umask $mask: intelligence written over a 644 file" "$(mode incidents.gpkg)" "600"
    ls | grep -q '\.tmp-' && fail "umask $mask: temporary files left: $(ls)"
    true
  )
done
# The pipeline's kept state (.harmmap/: sums per area and per cell, counts by grade) is made from the
# intelligence too: owner-only at the usual umask.
(umask 022 && "$HM_BINARY" run -q "$sample/project.ini" -o "$work/pipeline") || fail "harmmap run failed"
for kept in density.sums aggregate.state layer_summaries; do
  [ -f "$work/pipeline/.harmmap/$kept" ] || fail "no .harmmap/$kept after a run"
  [ "$(mode "$work/pipeline/.harmmap/$kept")" = 600 ] ||
    fail ".harmmap/$kept has mode $(mode "$work/pipeline/.harmmap/$kept"): it is made from intelligence"
done
echo "permissions: outputs respect umask 022, 027, 077; intelligence and what is made from it owner-only"
