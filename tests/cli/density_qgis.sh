#!/usr/bin/env bash
# Parity with QGIS itself: `harmmap density --compat qgis` against qgis_process's
# qgis:heatmapkerneldensityestimation (Debian's QGIS 3.22, headless) on the same GeoPackage: the same grid
# (size and geotransform exactly), the same nodata cells, and values within 1e-5 of the maximum, for every
# kernel; on synthetic points (weights, odd radius and pixel sizes), on the bundled sample's street-level CSVs and,
# when present, on a real data.police.uk month. Also prints how far QGIS's surface is from the exact one.
# Skipped (77) when QGIS is not installed: scripts/setup --qgis (or scripts/test) installs it.
set -euo pipefail
source "$HM_SOURCE_DIR/tests/cli/density_common.sh"
qgis=/usr/bin/qgis_process.bin
if [ ! -x $qgis ]; then
  echo "SKIP: $qgis not found: install QGIS with scripts/setup --qgis to run the QGIS parity test"
  exit 77
fi
if ! /usr/bin/python3 -c 'import numpy, osgeo' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 lacks numpy or osgeo (scripts/setup --test installs python3-numpy python3-gdal)"
  exit 77
fi
work=$HM_TMP/density_qgis
rm -rf "$work"
mkdir -p "$work/xdg"
chmod 700 "$work/xdg"
cd "$work"
export QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=$work/xdg

# compare HARMMAP.tif QGIS.tif LABEL [EXACT.tif]
compare() {
  /usr/bin/python3 - "$@" <<'PY'
import sys
import numpy as np
from osgeo import gdal
ours, theirs, label = sys.argv[1:4]
a, b = gdal.Open(ours), gdal.Open(theirs)
problems = []
if (a.RasterXSize, a.RasterYSize) != (b.RasterXSize, b.RasterYSize):
    problems.append("size %dx%d vs QGIS %dx%d" % (a.RasterXSize, a.RasterYSize, b.RasterXSize, b.RasterYSize))
if a.GetGeoTransform() != b.GetGeoTransform():
    problems.append("geotransform %s vs QGIS %s" % (a.GetGeoTransform(), b.GetGeoTransform()))
if problems:
    print("FAIL %s: %s" % (label, "; ".join(problems)))
    sys.exit(1)
A = a.GetRasterBand(1).ReadAsArray().astype(np.float64)
B = b.GetRasterBand(1).ReadAsArray().astype(np.float64)
nodata_a, nodata_b = A == -9999, B == -9999
maximum = B[~nodata_b].max()
difference = np.abs(np.where(nodata_b, 0, A) - np.where(nodata_b, 0, B)).max() / maximum
identical = (A == B).mean()
line = "%s: %dx%d cells, nodata cells %d (QGIS %d), max |harmmap - QGIS| = %.2e of the maximum, %.4f%% bit-identical" % (
    label, A.shape[1], A.shape[0], nodata_a.sum(), nodata_b.sum(), difference, 100 * identical)
if len(sys.argv) > 4:
    e = gdal.Open(sys.argv[4])
    E = e.GetRasterBand(1).ReadAsArray().astype(np.float64)
    line += "; exact surface vs QGIS: %.2e of the maximum" % (np.abs(E - np.where(nodata_b, 0, B)).max() / maximum)
if (nodata_a != nodata_b).any() or difference > 1e-5:
    print("FAIL " + line)
    sys.exit(1)
print("ok   " + line)
PY
}

# run_pair GPKG LAYER RADIUS PIXEL KERNEL_INDEX KERNEL_NAME WEIGHT_FIELD DECAY LABEL
run_pair() {
  local gpkg=$1 layer=$2 radius=$3 pixel=$4 index=$5 kernel=$6 weight=$7 decay=$8 label=$9
  local qgis_args=("INPUT=$gpkg|layername=$layer" RADIUS="$radius" PIXEL_SIZE="$pixel" KERNEL="$index"
    OUTPUT_VALUE=0 DECAY="$decay" OUTPUT="$work/q_$label.tif")
  local ours=(--layers "$layer" --radius "$radius" --cell "$pixel" --kernel "$kernel")
  if [ -n "$weight" ]; then
    qgis_args+=(WEIGHT_FIELD="$weight")
    ours+=(--weight "$weight")
  fi
  [ "$kernel" = triangular ] && ours+=(--decay "$decay")
  $qgis run qgis:heatmapkerneldensityestimation -- "${qgis_args[@]}" >"q_$label.log" 2>&1 ||
    fail "qgis_process failed: $(tail -5 "q_$label.log")"
  "$HM_BINARY" density "$gpkg" -o "h_$label.tif" "${ours[@]}" --compat qgis -q
  # The exact surface on QGIS's grid, to show how far QGIS's numbers are from the kernel at its cell centres.
  "$HM_BINARY" density "$gpkg" -o "e_$label.tif" "${ours[@]}" --like "q_$label.tif" -q
  compare "h_$label.tif" "q_$label.tif" "$label" "e_$label.tif"
}

make_points points.csv 3000 11
to_gpkg points.csv points.gpkg incidents
run_pair points.gpkg incidents 500 25 0 quartic "" 0 quartic_500m_25m
run_pair points.gpkg incidents 333.3 20 1 triangular weight 0.3 triangular_333m_20m_decay0.3
run_pair points.gpkg incidents 250 12.5 2 uniform weight 0 uniform_250m_12.5m
run_pair points.gpkg incidents 420 17.3 3 triweight weight 0 triweight_420m_17.3m
run_pair points.gpkg incidents 260.7 10 4 epanechnikov weight 0 epanechnikov_260.7m_10m

# The bundled sample: its six street-level CSVs (WGS84) as one BNG point layer.
sample=$HM_SOURCE_DIR/data/sample/street
if ls "$sample"/*.csv >/dev/null 2>&1; then
  first=1
  for csv in "$sample"/*.csv; do
    mode=()
    [ $first = 1 ] || mode=(-append)
    ogr2ogr "${mode[@]}" -f GPKG sample.gpkg "$csv" -nln incidents -s_srs EPSG:4326 -t_srs EPSG:27700 \
      -oo X_POSSIBLE_NAMES=Longitude -oo Y_POSSIBLE_NAMES=Latitude -where "Longitude <> ''"
    first=0
  done
  run_pair sample.gpkg incidents 500 25 0 quartic "" 0 sample_quartic_500m_25m
fi

real=${HM_REAL_DATA:-}/avon-somerset-crime-2023-01/2023-01-avon-and-somerset-street.csv
if [ -f "$real" ]; then
  ogr2ogr -f GPKG real.gpkg "$real" -nln incidents -s_srs EPSG:4326 -t_srs EPSG:27700 \
    -oo X_POSSIBLE_NAMES=Longitude -oo Y_POSSIBLE_NAMES=Latitude -where "Longitude <> ''"
  run_pair real.gpkg incidents 1500 400 0 quartic "" 0 avon_somerset_2023-01_quartic_1500m_400m
else
  echo "note: real data absent ($real): real-data parity not run"
fi
