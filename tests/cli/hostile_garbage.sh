#!/usr/bin/env bash
# Hostile input: enormous lines and binary garbage. A record longer than --max-record-bytes is a reject
# (record_too_long) and reading goes on; a header that long, a file without a single line end, or a file of
# random bytes is not a CSV of records: a clear error that does not echo the bytes. Garbage given where a
# boundary file, postcode table, harm table, population table, GeoPackage or GeoTIFF is expected: a clear error.
# Garbage rows inside a good CSV: rejects. Memory stays bounded (the record limit, not the line, sets it).
source "$(dirname "$0")/hostile_lib.sh"
cd "$work"
head -c 200000 /dev/urandom >garbage.bin
printf 'ab\0cd\x1b[31m,"\xff\xfe"\n' >>garbage.bin # a NUL and a terminal escape sequence, for sure
header="id,date,category,weight,easting,northing"

# Enormous records among good ones: 5 MB unquoted, then an unterminated quote that swallows the rest.
{
  echo "$header"
  echo "a1,2026-01-05,Burglary,1,358500,172500"
  printf 'a2,2026-01-05,'; head -c 5000000 /dev/zero | tr '\0' x; echo ",1,358500,172500"
  echo "a3,2026-01-05,Burglary,1,359500,172500"
  printf '"a4,'; head -c 3000000 /dev/zero | tr '\0' y; echo
  echo "a5,2026-01-05,Burglary,1,359500,172500"
} >long.csv
/usr/bin/time -f "%M" -o rss.txt "$HM_BINARY" geocode -q -o long.gpkg --wards "$wards" long.csv
expect_eq "long records rejected, others placed" "$(sql long.gpkg "select group_concat(record_id) from incidents")" "a1,a3"
expect_eq "reject reasons" "$(reasons long.gpkg)" "3:record_too_long 5:record_too_long"
expect_eq "accounting" "$(sql long.gpkg "select records_read||'='||placed||'+'||rejected from runs")" "4=2+2"
[ "$(cat rss.txt)" -lt 300000 ] || fail "peak memory $(cat rss.txt) KB reading 8 MB of long lines"
"$HM_BINARY" geocode -q -o limit.gpkg --wards "$wards" --max-record-bytes 64 long.csv
expect_eq "a lower --max-record-bytes" "$(sql limit.gpkg "select placed||' '||rejected from runs")" "2 2"

{ printf 'id,'; head -c 4000000 /dev/zero | tr '\0' h; echo ",easting,northing"; echo "a1,x,358500,172500"; } >longhead.csv
expect_error "a 4 MB header" "header is longer than" geocode -q -o x.gpkg --wards "$wards" longhead.csv
head -c 20000000 /dev/zero | tr '\0' z >oneline.csv
expect_error "20 MB without a line end" "header is longer than" geocode -q -o x.gpkg --wards "$wards" oneline.csv
expect_error "random bytes as incidents" "not a CSV text file" geocode -q -o x.gpkg --wards "$wards" garbage.bin
expect_error "random bytes as intelligence" "not a CSV text file" geocode -q -o x.gpkg --wards "$wards" --intel garbage.bin

# Garbage rows inside a good file: each a reject, the good rows around them placed.
{ echo "$header"; echo "g1,2026-01-05,Burglary,1,358500,172500"; head -c 50000 /dev/urandom; echo
  echo "g2,2026-01-05,Burglary,1,359500,172500"; } >mixed.csv
"$HM_BINARY" geocode -q -o mixed.gpkg --wards "$wards" mixed.csv
expect_eq "good rows around garbage placed" "$(sql mixed.gpkg "select group_concat(record_id) from incidents where record_id in ('g1','g2')")" "g1,g2"
expect_eq "garbage rows all rejected" "$(sql mixed.gpkg "select records_read = placed + rejected and rejected > 0 from runs")" "1"

# Garbage where other files are expected.
cp garbage.bin garbage.gpkg
cp garbage.bin garbage.tif
good="$HM_DATA/geocode/incidents.csv"
expect_error "garbage as wards" "cannot read it as a vector file" geocode -q -o x.gpkg --wards garbage.gpkg "$good"
expect_error "garbage as beats" "cannot read it as a vector file" geocode -q -o x.gpkg --wards "$wards" --beats garbage.bin "$good"
expect_error "garbage as postcodes" "not a postcode file" geocode -q -o x.gpkg --wards "$wards" --postcodes garbage.bin "$good"
expect_error "garbage as the harm index" "harm-index" geocode -q -o x.gpkg --wards "$wards" --harm-index garbage.bin "$good"
expect_error "garbage as the OCG table" "ocg-table" geocode -q -o x.gpkg --wards "$wards" --ocg-table garbage.bin "$good"
"$HM_BINARY" geocode -q -o good.gpkg --wards "$wards" "$good"
expect_error "garbage as population" "population" aggregate good.gpkg -o rep --population garbage.bin
expect_error "garbage as aggregate's GeoPackage" "not a GeoPackage" aggregate garbage.gpkg -o rep
expect_error "garbage as density's input" "cannot open" density -q garbage.gpkg -o x.tif
expect_error "garbage as tiles' surface" "cannot open" tiles -q garbage.tif -o t
"$HM_BINARY" density -q good.gpkg -o good.tif --cell 50
expect_error "garbage as a ramp file" "ramp" tiles -q good.tif -o t --ramp "$work/garbage.bin"
ls | grep -q '\.tmp-' && fail "temporary files left: $(ls)"
echo "hostile_garbage: long records rejected, long headers and binary files refused clearly, garbage rows rejected"
