#!/usr/bin/env bash
# harmmap aggregate on real data: Avon and Somerset's January 2023 data.police.uk file placed in Bristol's 35
# census wards by harmmap geocode. Every ward's count and harm are recomputed independently here (Python, from
# the incidents layer and data/harm/cchi.csv); Gi* and Local Moran's I are compared with R's spdep on the real
# polygons (neighbours from poly2nb with the same tolerance). Skips without the real data.
source "$(dirname "$0")/aggregate_lib.sh"
real=${HM_REAL_DATA:-}
[ -n "$real" ] && [ -f "$real/avon-somerset-crime-2023-01/2023-01-avon-and-somerset-street.csv" ] \
  || skip "real data not present (HM_REAL_DATA)"
cd "$work"
"$HM_BINARY" geocode -q -o bristol.gpkg --wards "$real/wards-census-merged-2011/E06000023.geojson" \
  "$real/avon-somerset-crime-2023-01/2023-01-avon-and-somerset-street.csv"
"$HM_BINARY" aggregate -q bristol.gpkg -o out 2> err.log || { cat err.log; fail "aggregate failed"; }
/usr/bin/python3 - bristol.gpkg "$HM_SOURCE_DIR/data/harm/cchi.csv" <<'PY' || fail "ward figures differ from an independent count"
import csv, re, sqlite3, sys
norm = lambda s: re.sub(r"[^a-z0-9]", "", (s or "").lower())
weights = {}
for row in csv.DictReader(open(sys.argv[2])):
    for name in [row["category"]] + [a for a in row["aliases"].split("|") if a]:
        weights[norm(name)] = float(row["weight"] or 0)
db = sqlite3.connect(sys.argv[1])
count, harm = {}, {}
for ward, category, weight in db.execute("SELECT ward_code, category, weight FROM incidents WHERE ward_code <> ''"):
    count[ward] = count.get(ward, 0) + 1
    harm[ward] = harm.get(ward, 0.0) + weights.get(norm(category), 0.0) * (weight if weight is not None else 1)
rows = db.execute("SELECT ward_code, count, harm FROM ward_harm").fetchall()
assert len(rows) == 35, len(rows)
for ward, c, h in rows:
    assert c == count.get(ward, 0), (ward, c, count.get(ward))
    assert abs(h - harm.get(ward, 0.0)) <= 1e-9 * max(1.0, h), (ward, h, harm.get(ward))
total = sum(h for _, _, h in rows)
assert abs(total - sum(harm.values())) <= 1e-9 * total
print(f"35 wards, {sum(count.values())} records, harm {total:.1f}: independent count agrees")
PY
if command -v Rscript >/dev/null && Rscript -e 'suppressMessages({library(sf); library(spdep)})' >/dev/null 2>&1; then
  Rscript - bristol.gpkg > r.log 2>&1 <<'R' || { cat r.log; fail "harmmap's hot spots differ from spdep on real wards"; }
suppressMessages({ library(sf); library(spdep) })
w <- st_read(commandArgs(trailingOnly = TRUE)[1], "ward_harm", quiet = TRUE)
nb <- poly2nb(w, queen = TRUE, snap = 0.01)
stopifnot(all(card(nb) == w$neighbours))
z <- as.numeric(localG(w$hotspot_value, nb2listw(include.self(nb), style = "B")))
lm <- localmoran(w$hotspot_value, nb2listw(nb, style = "W"), conditional = TRUE, mlvar = TRUE, adjust.x = FALSE)
stopifnot(isTRUE(all.equal(z, w$gi_z, tolerance = 1e-9)))
stopifnot(isTRUE(all.equal(as.numeric(lm[, 1]), w$moran_i, tolerance = 1e-9)))
stopifnot(isTRUE(all.equal(as.numeric(lm[, 3]), w$moran_var, tolerance = 1e-9)))
stopifnot(isTRUE(all.equal(as.numeric(lm[, 4]), w$moran_z, tolerance = 1e-9)))
stopifnot(identical(as.character(attr(lm, "quadr")$mean), w$moran_quadrant))
cat("spdep agrees on", nrow(w), "real wards\n")
R
fi
echo "aggregate on real data: independent checks agree"
