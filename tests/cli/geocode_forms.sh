#!/usr/bin/env bash
# geocode places records given by each location form (easting/northing, lon/lat, OS grid reference, postcode),
# keeps points outside every ward flagged outside_area, snaps within --snap, decides a shared-edge tie one way,
# reads intelligence grading, and keeps the accounting read = placed + outside + rejected in the runs table.
source "$(dirname "$0")/lib.sh"
out="$work/out.gpkg"
"$HM_BINARY" geocode -q -o "$out" --wards "$HM_DATA/geocode/wards.geojson" --beats "$HM_DATA/geocode/beats.geojson" \
  --postcodes "$HM_DATA/geocode/postcodes.csv" --intel "$HM_DATA/geocode/intel.csv" \
  "$HM_DATA/geocode/incidents.csv" "$HM_DATA/geocode/police.csv"

q() { sql "$out" "$1"; }
expect_eq "g1 by easting/northing" "$(q "select ward_code||' '||beat_code||' '||location_method from incidents where record_id='g1'")" "E05000001 ASP_B1 easting_northing"
expect_eq "g2 by lon/lat" "$(q "select ward_code||' '||location_method from incidents where record_id='g2'")" "E05000002 lon_lat"
expect_eq "g3 by grid reference" "$(q "select ward_code||' '||location_method||' '||location_precision_m from incidents where record_id='g3'")" "E05000001 grid_reference 1.0"
expect_eq "g4 by postcode" "$(q "select ward_code||' '||beat_code||' '||location_method from incidents where record_id='g4'")" "E05000002 ASP_B2 postcode"
expect_eq "g5 on the shared edge goes to one ward" "$(q "select count(*) from incidents where record_id='g5' and ward_code in ('E05000001','E05000002')")" "1"
expect_eq "g6 outside" "$(q "select placement||' '||coalesce(ward_code,'-') from incidents where record_id='g6'")" "outside_area -"
expect_eq "g7 outside without --snap" "$(q "select placement from incidents where record_id='g7'")" "outside_area"
expect_eq "geometry of g1" "$(q "select count(*) from incidents where record_id='g1'")" "1"

# data.police.uk: anti-social behaviour without id kept; a reused Crime ID kept and flagged, even on an identical
# row (data.police.uk counts each row); a row without location rejected as no_location.
expect_eq "police.uk rows kept" "$(q "select count(*) from incidents where source_file like '%police.csv'")" "4"
expect_eq "repeated Crime IDs flagged" "$(q "select group_concat(source_line) from incidents where repeated_id=1")" "4,5"
expect_eq "police.uk rejects" "$(q "select group_concat(reason||'@'||source_line, ' ') from (select * from rejects where source_file like '%police.csv' order by source_line)")" "no_location@6"

# Intelligence: grading parsed; bad grading rejected with the field named.
expect_eq "i1" "$(q "select source_evaluation||intelligence_assessment||handling_code||' '||ward_code||' '||ocg_ref from intelligence where record_id='i1'")" "11P E05000001 OCG-01"
expect_eq "i2 grid ref 100 m" "$(q "select ward_code||' '||beat_code||' '||location_precision_m from intelligence where record_id='i2'")" "E05000002 ASP_B2 100.0"
expect_eq "i6 postcode" "$(q "select ward_code from intelligence where record_id='i6'")" "E05000001"
expect_eq "intel rejects" "$(q "select group_concat(field, ' ') from (select field from rejects where kind='intelligence' order by source_line)")" "source_evaluation handling_code handling_code"

# Harm and its parts in each row: Robbery (CCHI 365 days) with weight 2.
expect_eq "g2 harm parts" "$(q "select harm||' '||harm_base||' '||harm_grading_multiplier||' '||harm_recency_multiplier from incidents where record_id='g2'")" "730.0 365.0 1.0 1.0"
expect_eq "anti-social behaviour has no harm" "$(q "select harm from incidents where category='Anti-social behaviour'")" "0.0"
expect_eq "grading multiplier differs by grading" "$(q "select count(distinct harm_grading_multiplier) from intelligence")" "3"
[ -n "$(q "select harm_model from runs limit 1")" ] || fail "runs.harm_model is empty"

# Accounting per input, and read = placed + outside + rejected.
expect_eq "runs" "$(q "select group_concat(format||':'||records_read||'='||placed||'+'||outside_area||'+'||rejected, ' ') from runs")" \
  "generic:7=5+2+0 police.uk:5=4+0+1 intelligence:6=3+0+3"
expect_eq "accounting" "$(q "select count(*) from runs where records_read != placed + outside_area + rejected")" "0"
expect_eq "wards layer" "$(q "select count(*) from wards")" "2"
expect_eq "beats layer" "$(q "select group_concat(beat_code) from beats")" "ASP_B1,ASP_B2"

# --snap brings g7 (30 m east of the area) into the nearest ward (g4 is now rejected: no --postcodes).
"$HM_BINARY" geocode -q -o "$out" --snap 100 --wards "$HM_DATA/geocode/wards.geojson" "$HM_DATA/geocode/incidents.csv"
expect_eq "g7 snapped" "$(q "select placement||' '||ward_code||' '||cast(round(snap_distance_m) as int) from incidents where record_id='g7'")" "snapped E05000002 30"
expect_eq "runs after snap" "$(q "select records_read||'='||placed||'+'||outside_area||'+'||rejected||' snapped '||snapped from runs")" "7=5+1+1 snapped 1"

# OGR reads the layers as points in British National Grid.
summary=$(ogrinfo -ro -so "$out" incidents)
grep -q "Geometry: Point" <<<"$summary" || fail "incidents is not a Point layer for OGR"
grep -q 'ID\["EPSG",27700\]' <<<"$summary" || fail "incidents is not in EPSG:27700 for OGR"
# The transformation actually used for lon/lat (Debian has no OSTN15 grid: a Helmert fallback) is recorded.
grep -q "Helmert\|OSGB" <<<"$(q "select transformation from runs limit 1")" || fail "runs.transformation: $(q "select transformation from runs limit 1")"
# Another working CRS: boundaries, BNG, grid reference and postcode locations are all transformed into it.
"$HM_BINARY" geocode -q -o "$out" --crs EPSG:3857 --wards "$HM_DATA/geocode/wards.geojson" \
  --postcodes "$HM_DATA/geocode/postcodes.csv" "$HM_DATA/geocode/incidents.csv"
expect_eq "wards in EPSG:3857" "$(q "select group_concat(record_id||':'||coalesce(ward_code,'-'), ' ') from (select * from incidents where record_id != 'g5' order by record_id)")" \
  "g1:E05000001 g2:E05000002 g3:E05000001 g4:E05000002 g6:- g7:-"
expect_eq "layer CRS" "$(q "select group_concat(distinct srs_id) from gpkg_geometry_columns")" "3857"
ogrinfo -ro -q "$out" incidents -where "record_id='g1'" | grep -q "POINT (-2892" || fail "g1 not at its Web Mercator position"
echo ok
