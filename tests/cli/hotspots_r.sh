#!/usr/bin/env bash
# The committed spdep values in tests/data/hotspots/ (which test_hotspots checks harmmap against) are what the
# installed R spdep computes today: reruns make_expected.R into a scratch folder and compares. Skips without R.
source "$(dirname "$0")/lib.sh"
command -v Rscript >/dev/null || skip "Rscript not installed (scripts/setup --test installs r-cran-spdep)"
Rscript -e 'suppressMessages({library(sf); library(spdep)})' >/dev/null 2>&1 || skip "R packages sf/spdep missing"
cp "$HM_DATA/hotspots/grid.geojson" "$HM_DATA/hotspots/make_expected.R" "$work/"
(cd "$work" && Rscript make_expected.R "$work" >"$work/r.log" 2>&1) || { cat "$work/r.log"; fail "Rscript failed"; }
for f in expected.csv change_tests.csv bh.csv; do
  # Compare numerically (to 1e-12 relative): the last digits of 17-digit output may differ between R builds.
  /usr/bin/python3 - "$HM_DATA/hotspots/$f" "$work/$f" <<'PY' || fail "$f differs from what R computes now"
import csv, math, sys
a = list(csv.reader(open(sys.argv[1]))); b = list(csv.reader(open(sys.argv[2])))
assert len(a) == len(b), "row counts differ"
for ra, rb in zip(a, b):
    for x, y in zip(ra, rb):
        x, y = x.strip(), y.strip()
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            assert x == y, (x, y); continue
        if math.isnan(fx) and math.isnan(fy): continue
        assert abs(fx - fy) <= 1e-12 * max(1, abs(fx)), (x, y)
PY
done
grep -q "spdep" "$work/r.log" || fail "no spdep version in the R output"
echo "spdep parity data current ($(cat "$work/r.log"))"
