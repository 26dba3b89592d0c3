#!/usr/bin/python3
"""Writes a GeoPackage in the schema `harmmap geocode` writes (layers incidents, intelligence, wards, beats, rejects,
runs), with records whose ward figures are worked out by hand in tests/cli/aggregate.sh.

Usage: aggregate_fixture.py OUT.gpkg [--harm-column] [--no-runs]
  --harm-column  give incidents and intelligence a `harm` column (2 x the CCHI weight, so a test can tell it is used)
  --no-runs      leave out the runs table (a GeoPackage not made by geocode)

The map: 3 x 3 wards of 1 km2 (W01 bottom left .. W09 top right, row by row), two beats split at x = 351500.
Records per ward (CCHI days): W01 10 shoplifting before, 25 after (35); W02 6 robbery + 3 intelligence robbery
graded P + 2 graded C (INT-RESTRICTED-1, -2); W03 1 homicide + 5 shoplifting (5480, dominated); W04 8 burglary
(2188) + 1 intelligence burglary graded 2/C, handling C (114.87); W05 2 robbery + 1 homicide (6205: 3 records,
suppressed in --public); W06 12 violence + 2 fraud (unknown category); W07 7 criminal damage (14); W08 5 drugs (15);
W09 nothing; 2 incidents outside every ward.
"""
import sys

from osgeo import ogr, osr

X0, Y0, SIDE = 350000.0, 170000.0, 1000.0

CCHI = {"Shoplifting": 1, "Robbery": 365, "Homicide": 5475, "Burglary": 273.5, "Violence and sexual offences": 10,
        "Criminal damage and arson": 2, "Drugs": 3, "Fraud": 0}
GRADING = {1: 1.0, 2: 0.7, 3: 0.4}, {1: 1.0, 2: 0.8, 3: 0.6, 4: 0.3, 5: 0.0}

# (ward, category, date, count)
INCIDENTS = [
    ("W01", "Shoplifting", "2023-02", 10), ("W01", "Shoplifting", "2023-08", 25),
    ("W02", "Robbery", "2023-03", 3), ("W02", "Robbery", "2023-09", 3),
    ("W03", "Homicide", "2023-05", 1), ("W03", "Shoplifting", "2023-10", 5),
    ("W04", "Burglary", "2023-04", 8),
    ("W05", "Robbery", "2023-02", 2), ("W05", "Homicide", "2023-11", 1),
    ("W06", "Violence and sexual offences", "2023-01", 6), ("W06", "Violence and sexual offences", "2023-12", 6),
    ("W06", "Fraud", "2023-06", 2),
    ("W07", "Criminal damage and arson", "2023-07", 7),
    ("W08", "Drugs", "2023-09", 5),
    ("", "Robbery", "2023-05", 2),
]
# (id, ward, category, date, source_evaluation, intelligence_assessment, handling)
INTELLIGENCE = [
    ("INT-P-1", "W02", "Robbery", "2023-06-15", 1, 1, "P"),
    ("INT-P-2", "W02", "Robbery", "2023-07-01", 1, 1, "P"),
    ("INT-P-3", "W02", "Robbery", "2023-08-20", 1, 1, "P"),
    ("INT-RESTRICTED-1", "W02", "Robbery", "2023-03-03", 1, 1, "C"),
    ("INT-RESTRICTED-2", "W02", "Robbery", "2023-09-09", 1, 1, "C"),
    ("INT-RESTRICTED-3", "W04", "Burglary", "2023-04-04", 2, 3, "C"),
]


def ward_square(code):
    k = int(code[1:]) - 1
    row, col = divmod(k, 3)
    return X0 + col * SIDE, Y0 + row * SIDE


def square(x, y, w, h):
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)):
        ring.AddPoint_2D(px, py)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    multi = ogr.Geometry(ogr.wkbMultiPolygon)
    multi.AddGeometry(polygon)
    return multi


def main():
    path = sys.argv[1]
    harm_column = "--harm-column" in sys.argv
    no_runs = "--no-runs" in sys.argv
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(27700)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)

    def layer(name, geometry, fields):
        lyr = ds.CreateLayer(name, srs if geometry != ogr.wkbNone else None, geometry)
        for field, kind in fields:
            lyr.CreateField(ogr.FieldDefn(field, kind))
        return lyr

    S, I, R = ogr.OFTString, ogr.OFTInteger, ogr.OFTReal
    common = [("record_id", S), ("source_file", S), ("source_line", I), ("date", S), ("category", S), ("weight", R)]
    place = [("ward_code", S), ("ward_name", S), ("beat_code", S), ("beat_name", S), ("placement", S),
             ("snap_distance_m", R)]
    harm = [("harm", R), ("harm_flag", S)] if harm_column else []
    incidents = layer("incidents", ogr.wkbPoint, common + [("location_method", S)] + place + harm)
    intel = layer("intelligence", ogr.wkbPoint, common + [("source_evaluation", I), ("intelligence_assessment", I),
                                                          ("handling_code", S), ("grading", S), ("ocg_ref", S),
                                                          ("location_method", S)] + place + harm)
    wards = layer("wards", ogr.wkbMultiPolygon, [("ward_code", S), ("ward_name", S), ("area_km2", R)])
    beats = layer("beats", ogr.wkbMultiPolygon, [("beat_code", S), ("beat_name", S), ("area_km2", R)])
    layer("rejects", ogr.wkbNone, [("source_file", S), ("source_line", I), ("kind", S), ("reason", S)])
    if not no_runs:
        runs = layer("runs", ogr.wkbNone, [("run_started", S), ("harmmap_version", S), ("input", S)])
        f = ogr.Feature(runs.GetLayerDefn())
        f["run_started"], f["harmmap_version"], f["input"] = "2026-01-01T00:00:00Z", "fixture", "fixture.csv"
        runs.CreateFeature(f)

    for k in range(1, 10):
        code = "W%02d" % k
        x, y = ward_square(code)
        f = ogr.Feature(wards.GetLayerDefn())
        f["ward_code"], f["ward_name"], f["area_km2"] = code, "Ward %d" % k, 1.0
        f.SetGeometry(square(x, y, SIDE, SIDE))
        wards.CreateFeature(f)
    for code, x, w in (("B1", X0, 1500.0), ("B2", X0 + 1500.0, 1500.0)):
        f = ogr.Feature(beats.GetLayerDefn())
        f["beat_code"], f["beat_name"], f["area_km2"] = code, "Beat " + code, w * 3 * SIDE / 1e6
        f.SetGeometry(square(x, Y0, w, 3 * SIDE))
        beats.CreateFeature(f)

    def place_record(f, ward, n, total):
        if ward:
            x, y = ward_square(ward)
            px = x + SIDE * (n + 1) / (total + 1)
            py = y + SIDE / 2
            beat = "B1" if px < X0 + 1500 else "B2"
            f["ward_code"], f["ward_name"], f["placement"] = ward, "Ward %d" % int(ward[1:]), "inside"
            f["beat_code"], f["beat_name"] = beat, "Beat " + beat
        else:
            px, py = X0 - 5000, Y0 - 5000
            f["placement"] = "outside_area"
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(px, py)
        f.SetGeometry(point)

    line = 2
    for ward, category, date, count in INCIDENTS:
        for n in range(count):
            f = ogr.Feature(incidents.GetLayerDefn())
            f["record_id"], f["source_file"], f["source_line"] = "INC-%d" % line, "police.csv", line
            f["date"], f["category"], f["weight"], f["location_method"] = date, category, 1.0, "lon_lat"
            if harm_column:
                f["harm"] = 2 * CCHI[category]
                f["harm_flag"] = "unknown_category" if category == "Fraud" else ""
            place_record(f, ward, n, count)
            incidents.CreateFeature(f)
            line += 1
    for n, (rid, ward, category, date, se, ia, handling) in enumerate(INTELLIGENCE):
        f = ogr.Feature(intel.GetLayerDefn())
        f["record_id"], f["source_file"], f["source_line"] = rid, "intel.csv", n + 2
        f["date"], f["category"], f["weight"] = date, category, 1.0
        f["source_evaluation"], f["intelligence_assessment"], f["handling_code"] = se, ia, handling
        f["grading"], f["location_method"] = "%d%s%s" % (se, "ABCDE"[ia - 1], handling), "easting_northing"
        if harm_column:
            f["harm"] = 2 * CCHI[category] * GRADING[0][se] * GRADING[1][ia]
        place_record(f, ward, n, len(INTELLIGENCE))
        intel.CreateFeature(f)
    ds = None


if __name__ == "__main__":
    main()
