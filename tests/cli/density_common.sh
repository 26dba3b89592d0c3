# Helpers sourced by tests/cli/density*.sh (not a test itself).

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# make_points FILE COUNT SEED [X0 Y0 WIDTH HEIGHT]: a CSV of points in British National Grid with a weight
# (1 to 4, some 0.5), an ISO month date in 2023 and a category.
make_points() {
  local file=$1 count=$2 seed=$3 x0=${4:-358000} y0=${5:-172000} width=${6:-4000} height=${7:-3000}
  awk -v n="$count" -v seed="$seed" -v x0="$x0" -v y0="$y0" -v w="$width" -v h="$height" 'BEGIN {
    srand(seed); print "x,y,weight,date,category,r";
    for (i = 0; i < n; i++) {
      # clustered: half the points around four centres, the rest uniform
      if (i % 2 == 0) { c = i % 8; cx = x0 + w * (0.2 + 0.2 * (c % 4)); cy = y0 + h * (0.3 + 0.15 * (c % 3));
        x = cx + (rand() - 0.5) * w * 0.2; y = cy + (rand() - 0.5) * h * 0.2 }
      else { x = x0 + rand() * w; y = y0 + rand() * h }
      weight = (i % 5 == 0) ? 0.5 : 1 + int(rand() * 4);
      printf "%.2f,%.2f,%s,2023-%02d,%s,%d\n", x, y, weight, 1 + int(rand() * 12), (i % 3 ? "burglary" : "robbery"), 150 + int(rand() * 300)
    } }' >"$file"
}

# to_gpkg CSV GPKG LAYER [append]: a point layer in EPSG:27700 from make_points' CSV.
to_gpkg() {
  local mode=()
  [ "${4:-}" = append ] && mode=(-append)
  ogr2ogr "${mode[@]}" -f GPKG "$2" "$1" -nln "$3" -a_srs EPSG:27700 -oo X_POSSIBLE_NAMES=x \
    -oo Y_POSSIBLE_NAMES=y -oo AUTODETECT_TYPE=YES -oo KEEP_GEOM_COLUMNS=NO
}

# meta FILE KEY: a metadata item of a GeoTIFF.
meta() {
  gdalinfo "$1" | sed -n "s/^ *$2=//p" | head -1
}

# pixel FILE COLUMN ROW
pixel() {
  gdallocationinfo -valonly "$1" "$2" "$3"
}

# close A B TOLERANCE: |A - B| <= TOLERANCE * max(|B|, 1e-300)
close() {
  awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
    exit !(d <= t * (m > 0 ? m : 1e-300)) }'
}

# expect_failure NAME EXPECTED_TEXT harmmap-arguments...: exits non-zero with EXPECTED_TEXT on stderr, writes no
# output file (the output, when the arguments name one, is out.tif in the current folder).
expect_failure() {
  local name=$1 expected=$2
  shift 2
  rm -f out.tif
  set +e
  "$HM_BINARY" "$@" >stdout.txt 2>stderr.txt
  local status=$?
  set -e
  [ "$status" -ne 0 ] || fail "$name: exit status 0 (expected an error)"
  [ "$status" -lt 128 ] || fail "$name: crashed (status $status): $(cat stderr.txt)"
  grep -qF -- "$expected" stderr.txt || fail "$name: message lacks '$expected': $(cat stderr.txt)"
  [ ! -e out.tif ] || fail "$name: an output file was written"
  ls ./*.tmp-* >/dev/null 2>&1 && fail "$name: a temporary file was left behind"
  echo "ok   $name: $(head -c 200 stderr.txt | tr '\n' ' ')"
}
