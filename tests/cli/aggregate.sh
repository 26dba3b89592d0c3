#!/usr/bin/env bash
# harmmap aggregate on a hand-computed map (tests/cli/aggregate_fixture.py): counts, harm, rates, ranks, shares,
# dominance, periods and the change test (against R's poisson.test), harm conservation, the harm column path,
# layers replaced on a second run, and Gi* / Local Moran's I against R's spdep on the output when R is installed.
source "$(dirname "$0")/aggregate_lib.sh"
cd "$work"
fixture in.gpkg
printf 'code,population\nW01,2000\nW02,3000\nW03,1500\nW04,2500\nW05,1000\nW06,4000\nW07,0\n' > pop.csv
incidents_before=$(sql in.gpkg "SELECT count(*) FROM incidents")
"$HM_BINARY" aggregate in.gpkg --population pop.csv "${periods[@]}" -o out > run.log 2> err.log \
  || { cat err.log; fail "aggregate failed"; }
g=in.gpkg
# Counts and harm, by hand: CCHI days; intelligence x grading (W04: 273.5 x 0.7 x 0.6).
expect_eq "W01 count" "$(value $g ward_harm W01 count)" 35
expect_close "W01 harm" "$(value $g ward_harm W01 harm)" 35
expect_close "W01 harm per 1000" "$(value $g ward_harm W01 harm_per_1000)" 17.5
expect_eq "W02 counts" "$(value $g ward_harm W02 "count || ' ' || incident_count || ' ' || intelligence_count")" "11 6 5"
expect_close "W02 harm" "$(value $g ward_harm W02 harm)" 4015
expect_close "W03 harm" "$(value $g ward_harm W03 harm)" 5480
expect_eq "W03 dominated (one homicide)" "$(value $g ward_harm W03 dominated)" 1
expect_eq "W02 not dominated" "$(value $g ward_harm W02 dominated)" 0
expect_close "W04 harm" "$(value $g ward_harm W04 harm)" 2302.87
expect_close "W06 harm (fraud has no weight)" "$(value $g ward_harm W06 harm)" 120
expect_eq "W09 empty ward" "$(value $g ward_harm W09 "count || ' ' || harm || ' ' || rank")" "0 0.0 9"
expect_eq "ranks by harm" "$(sql $g "SELECT group_concat(ward_code, ' ') FROM (SELECT ward_code FROM ward_harm ORDER BY rank, ward_code)")" \
  "W05 W03 W02 W04 W06 W01 W08 W07 W09"
expect_eq "W07 zero population: no rate" "$(value $g ward_harm W07 "coalesce(harm_per_1000, 'NULL')")" NULL
expect_eq "W08 no population: no rate" "$(value $g ward_harm W08 "coalesce(harm_per_1000, 'NULL')")" NULL
expect_close "W05 share" "$(value $g ward_harm W05 share)" "$(/usr/bin/python3 -c 'print(6205/18186.87)')"
expect_eq "top categories" "$(value $g ward_harm W03 top_categories)" "Homicide 100%; Shoplifting <1%"
grep -q "Fraud" err.log || fail "no warning about the unknown category Fraud"
# Harm is conserved: wards and beats both add up to the records placed in a ward.
expect_close "sum of ward harm" "$(sql $g "SELECT sum(harm) FROM ward_harm")" 18186.87
expect_close "sum of beat harm" "$(sql $g "SELECT sum(harm) FROM beat_harm")" 18186.87
expect_eq "sum of ward counts" "$(sql $g "SELECT sum(count) FROM ward_harm")" 90
# Periods and the change test: R: poisson.test(c(25, 10), c(184, 181))$p.value = 0.016800243853036748
expect_eq "W01 periods" "$(value $g ward_harm W01 "count_before || ' ' || count_after || ' ' || count_change")" "10 25 15"
expect_close "W01 change p" "$(value $g ward_harm W01 change_p)" 0.016800243853036748
expect_close "W01 harm ratio" "$(value $g ward_harm W01 harm_ratio)" 2.5
expect_eq "W09 ratio undefined" "$(value $g ward_harm W09 "coalesce(harm_ratio, 'NULL')")" NULL
# The CSV holds the same numbers.
expect_eq "CSV rows" "$(wc -l < out/ward_harm.csv)" 10
grep -q '^W01,Ward 1,1,2000,35,35,0,35,17.5,' out/ward_harm.csv || fail "ward_harm.csv W01 row: $(grep ^W01 out/ward_harm.csv)"
! grep -qiE 'nan|inf' out/ward_harm.csv out/beat_harm.csv || fail "NaN or infinity written to a CSV"
[ -s out/report.html ] || fail "no report.html"
grep -q "Not counted in harm:</strong>.*Fraud (2 records)" out/report.html || fail "report does not name the unweighted category"
# Metadata says where harm came from; the input's own layers are untouched.
sql $g "SELECT value FROM aggregate_runs WHERE item = 'harm_source'" | grep -q "computed by harmmap aggregate" \
  || fail "aggregate_runs does not say harm was computed here"
expect_eq "incidents untouched" "$(sql $g "SELECT count(*) FROM incidents")" "$incidents_before"
sql $g "SELECT description FROM gpkg_data_columns WHERE table_name = 'ward_harm' AND column_name = 'gi_z'" \
  | grep -q "Getis-Ord" || fail "no field description for gi_z"
# Outputs of a restricted input are restricted too.
chmod 600 in.gpkg
"$HM_BINARY" aggregate -q in.gpkg -o out
expect_eq "permissions follow the input" "$(stat -c %a out/ward_harm.csv out/report.html in.gpkg | tr '\n' ' ')" "600 600 600 "
# A second run replaces the layers.
"$HM_BINARY" aggregate -q in.gpkg -o out
expect_eq "ward_harm rows after a second run" "$(sql $g "SELECT count(*) FROM ward_harm")" 9
expect_eq "no leftover temporaries" "$(ls | grep -c tmp || true)" 0
validator=/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py
if [ -f $validator ]; then
  # Without the pinned OGR_CURRENT_DATE of the test environment, which the validator finds too coarse.
  (unset OGR_CURRENT_DATE; fixture valid.gpkg; "$HM_BINARY" aggregate -q valid.gpkg "${periods[@]}" -o out3)
  /usr/bin/python3 $validator valid.gpkg > validate.log 2>&1 || { cat validate.log; fail "validate_gpkg.py rejects it"; }
fi

# Records that carry harm (from geocode) are used as they are: the fixture gives 2 x the CCHI weight.
fixture with_harm.gpkg --harm-column
"$HM_BINARY" aggregate -q with_harm.gpkg -o out2
expect_close "W01 harm from the harm column" "$(value with_harm.gpkg ward_harm W01 harm)" 70
sql with_harm.gpkg "SELECT value FROM aggregate_runs WHERE item = 'harm_source'" | grep -q "harm column" \
  || fail "aggregate_runs does not say the harm column was used"
grep -q "Not counted in harm:</strong>.*Fraud (2 incident records)" out2/report.html \
  || fail "report does not name the category geocode flagged"
"$HM_BINARY" aggregate -q with_harm.gpkg -o out2 --recompute-harm --harm-index css
expect_close "W02 harm recomputed with CSS (robbery 993.55)" "$(value with_harm.gpkg ward_harm W02 harm)" \
  "$(/usr/bin/python3 -c 'print(11*993.55)')"

# Gi* and Local Moran's I on the output against R's spdep, when installed.
if command -v Rscript >/dev/null && Rscript -e 'suppressMessages({library(sf); library(spdep)})' >/dev/null 2>&1; then
  Rscript - "$work/in.gpkg" > r.log 2>&1 <<'R' || { cat r.log; fail "harmmap's Gi*/Moran differ from spdep"; }
suppressMessages({ library(sf); library(spdep) })
w <- st_read(commandArgs(trailingOnly = TRUE)[1], "ward_harm", quiet = TRUE)
nb <- poly2nb(w, queen = TRUE, snap = 0.01)
z <- as.numeric(localG(w$hotspot_value, nb2listw(include.self(nb), style = "B")))
lm <- localmoran(w$hotspot_value, nb2listw(nb, style = "W"), conditional = TRUE, mlvar = TRUE, adjust.x = FALSE)
stopifnot(isTRUE(all.equal(z, w$gi_z, tolerance = 1e-9)))
stopifnot(isTRUE(all.equal(as.numeric(lm[, 1]), w$moran_i, tolerance = 1e-9)))
stopifnot(isTRUE(all.equal(as.numeric(lm[, 4]), w$moran_z, tolerance = 1e-9)))
stopifnot(isTRUE(all.equal(p.adjust(2 * pnorm(-abs(z)), "BH"), w$gi_q, tolerance = 1e-9)))
cat("spdep agrees\n")
R
fi
echo "aggregate: hand-computed figures match"
