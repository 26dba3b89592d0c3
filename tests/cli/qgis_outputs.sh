#!/usr/bin/env bash
# The sample run's outputs opened in QGIS itself (tests/cli/qgis_check.py through PyQGIS, headless): every layer
# valid with the feature count written, harmmap's default styles applied (not QGIS's single symbol), EPSG:27700,
# the surface drawn with the tiles' colours, the project read and rendered to a PNG that is not blank; the same for
# the public product's own project, and for a project without intelligence or beats. Skipped when PyQGIS (Debian's
# python3-qgis, scripts/setup --qgis) is absent.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import qgis.core" 2>/dev/null \
  || skip "PyQGIS is not installed: /usr/bin/python3 cannot import qgis.core (install it with scripts/setup --qgis)"
export QT_QPA_PLATFORM=offscreen
export XDG_RUNTIME_DIR="$work/xdg"
mkdir -m 700 "$XDG_RUNTIME_DIR"
sample="$HM_SOURCE_DIR/data/sample"
out="$work/out"
"$HM_BINARY" run -q "$sample/project.ini" -o "$out" > run.log 2>&1 || { cat run.log; fail "harmmap run failed"; }
# The public product, as [aggregate] public = yes makes it, then the qgis stage again (it makes public/ ready too).
"$HM_BINARY" aggregate -q "$out/harmmap.gpkg" --population "$sample/population.csv" --public -o "$out/public" \
  || fail "aggregate --public failed"
"$HM_BINARY" qgis -q "$out" || fail "harmmap qgis failed"
for f in harmmap.qgs density.qml public/harmmap.qgs; do [ -s "$out/$f" ] || fail "no $f in the outputs"; done
/usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/qgis_check.py" "$out" "$out/harmmap.qgs" "$work/render" \
  || fail "QGIS checks of the outputs failed (see above)"
/usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/qgis_check.py" "$out/public" "$out/public/harmmap.qgs" "$work/render-public" \
  || fail "QGIS checks of the public product failed (see above)"
# Paths in the project are relative: the folder moved elsewhere still opens whole.
mv "$out" "$work/moved"
/usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/qgis_check.py" "$work/moved" "$work/moved/harmmap.qgs" "$work/render-moved" \
  || fail "QGIS checks of the moved output folder failed (see above)"
# A project with neither intelligence nor beats (police.uk files and wards only, a common first project): its
# outputs open as well, the empty intelligence layer with its catch-all category.
sed -e '/^intelligence = /d' -e '/^beats = /d' -e "s|= \([a-z]*[./]\)|= $sample/\1|" -e "s|^output = .*|output = $work/plain|" \
  -e 's/^zoom = .*/zoom = 10-12/' "$sample/project.ini" >plain.ini
"$HM_BINARY" run -q plain.ini >plain.log 2>&1 || { cat plain.log; fail "harmmap run without intelligence and beats failed"; }
/usr/bin/python3 "$HM_SOURCE_DIR/tests/cli/qgis_check.py" "$work/plain" "$work/plain/harmmap.qgs" "$work/render-plain" \
  || fail "QGIS checks of a project without intelligence and beats failed (see above)"
