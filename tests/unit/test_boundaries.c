/* Unit tests for boundaries.c: every source kind, field detection and options, CRS handling, repairs and the
 * errors a user meets. Fixtures are written at test time (boundary_fixtures.h); the real ward files are used
 * when $HM_REAL_DATA has them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "boundaries.h"
#include "boundary_fixtures.h"

#include <string.h>

/* WKT of an axis-aligned square; a ring of static buffers so that several can sit in one initialiser. */
static const char *square(double x0, double y0, double size)
{
    static char buffers[16][320];
    static int next;
    char *wkt = buffers[next++ % 16];
    snprintf(wkt, sizeof buffers[0], "POLYGON((%.17g %.17g,%.17g %.17g,%.17g %.17g,%.17g %.17g,%.17g %.17g))", x0,
             y0, x0 + size, y0, x0 + size, y0 + size, x0, y0 + size, x0, y0);
    return wkt;
}

static hm_ctx *quiet_context(void)
{
    hm_ctx *ctx = hm_ctx_create();
    assert_non_null(ctx);
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    return ctx;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part)) fail_msg("expected \"%s\" in: %s", part, text);
}

static double geometry_area(const hm_boundary_set *set, size_t i)
{
    GEOSContextHandle_t geos = GEOS_init_r();
    double area = 0;
    GEOSArea_r(geos, hm_boundaries_geometry(set, i), &area);
    GEOS_finish_r(geos);
    return area;
}

static void check_real(const char *file, size_t expected, double xmin, double ymin, double xmax, double ymax)
{
    char *path = fixture_real_wards(file);
    if (!path) skip();
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;
    hm_boundary_options options = {.kind = "ward"};
    int status = hm_boundaries_load(ctx, path, &options, &set);
    if (status != HM_OK) fail_msg("%s", hm_error_message(ctx));
    assert_int_equal(hm_boundaries_count(set), expected);
    assert_string_equal(hm_boundaries_code_field(set), "cmwd11cd");
    assert_string_equal(hm_boundaries_name_field(set), "cmwd11nm");
    assert_string_equal(hm_boundaries_source_crs(set), "EPSG:4326");
    assert_string_equal(hm_boundaries_source(set), path);
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    for (size_t i = 0; i < expected; i++) {
        assert_memory_equal(hm_boundaries_code(set, i), "E36", 3);
        assert_true(strlen(hm_boundaries_name(set, i)) > 0);
        assert_int_equal(GEOSisValid_r(geos, hm_boundaries_geometry(set, i)), 1);
        int type = GEOSGeomTypeId_r(geos, hm_boundaries_geometry(set, i));
        assert_true(type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON);
        /* Census merged wards are a few km^2: a BNG area in m^2, not degrees^2. */
        double area = geometry_area(set, i);
        assert_true(area > 2e5 && area < 5e7);
    }
    double x0, y0, x1, y1;
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    assert_true(x0 > xmin && x1 < xmax && y0 > ymin && y1 < ymax);
    assert_true(x1 - x0 > 10000 && y1 - y0 > 10000);
    hm_boundaries_destroy(set);
    hm_ctx_destroy(ctx);
    free(path);
}

static void test_real_bristol(void **state)
{
    (void)state;
    check_real("E06000023.geojson", 35, 345000, 160000, 370000, 190000);
}

static void test_real_birmingham(void **state)
{
    (void)state;
    check_real("E08000025.geojson", 40, 390000, 270000, 425000, 305000);
}

/* Source order, the first code for a feature, the ward pair preferred over the district pair. */
static void test_geopackage(void **state)
{
    (void)state;
    char *folder = fixture_folder("boundaries-gpkg");
    char *path = fixture_path(folder, "wards.gpkg");
    const char *fields[] = {"LAD22CD", "WD22CD", "WD22NM"};
    const char *rows[] = {"E08000025", "E05000002", "Beta",  square(400000, 280000, 1000),
                          "E08000025", "E05000001", "Alpha", square(401000, 280000, 1000),
                          "E08000025", "E05000003", "Gamma", square(400000, 281000, 1000)};
    assert_int_equal(fixture_write_layer(path, "GPKG", "wards", 27700, 3, fields, 3, rows), 0);
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;
    int status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "ward"}, &set);
    if (status != HM_OK) fail_msg("%s", hm_error_message(ctx));
    assert_int_equal(hm_boundaries_count(set), 3);
    assert_string_equal(hm_boundaries_code_field(set), "WD22CD");
    assert_string_equal(hm_boundaries_name_field(set), "WD22NM");
    assert_string_equal(hm_boundaries_code(set, 0), "E05000002");
    assert_string_equal(hm_boundaries_name(set, 1), "Alpha");
    assert_string_equal(hm_boundaries_code(set, 2), "E05000003");
    assert_string_equal(hm_boundaries_source_crs(set), "EPSG:27700");
    assert_int_equal(hm_boundaries_repaired_count(set), 0);
    double x0, y0, x1, y1;
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    assert_true(x0 == 400000 && y0 == 280000 && x1 == 402000 && y1 == 282000); /* no reprojection noise */
    assert_true(geometry_area(set, 0) == 1e6);
    hm_boundaries_destroy(set);
    set = NULL;

    /* Explicit fields, case-insensitively. */
    status = hm_boundaries_load(
        ctx, path, &(hm_boundary_options){.kind = "ward", .code_field = "wd22cd", .name_field = "wd22nm"}, &set);
    assert_int_equal(status, HM_OK);
    assert_string_equal(hm_boundaries_code_field(set), "WD22CD");
    assert_string_equal(hm_boundaries_name(set, 2), "Gamma");
    set = hm_boundaries_destroy(set);

    /* The district code repeats: an error that names both features and the option. */
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "ward", .code_field = "LAD22CD"}, &set);
    assert_int_equal(status, HM_EFORMAT);
    assert_null(set);
    assert_contains(hm_error_message(ctx), "feature 1 and feature 2");
    assert_contains(hm_error_message(ctx), "E08000025");
    assert_contains(hm_error_message(ctx), "--ward-code");
    hm_error_clear(ctx);

    /* A missing field lists the fields there are and the option to use. */
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "ward", .code_field = "ward_id"}, &set);
    assert_int_equal(status, HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "no field 'ward_id'");
    assert_contains(hm_error_message(ctx), "--ward-code");
    assert_contains(hm_error_message(ctx), "LAD22CD, WD22CD, WD22NM");
    hm_error_clear(ctx);
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "beat", .name_field = "beat_name"}, &set);
    assert_int_equal(status, HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "--beat-name");
    hm_error_clear(ctx);

    /* A named layer that is not there lists the layers. */
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.layer_name = "beats"}, &set);
    assert_int_equal(status, HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "no layer named 'beats'");
    assert_contains(hm_error_message(ctx), "wards");
    hm_error_clear(ctx);

    /* Another working CRS. */
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.target_crs = "EPSG:4326"}, &set);
    assert_int_equal(status, HM_OK);
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    assert_true(x0 > -2.1 && x0 < -1.9 && y0 > 52.3 && y0 < 52.6); /* longitude first */
    set = hm_boundaries_destroy(set);
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.target_crs = "EPSG:nonsense"}, &set);
    assert_int_equal(status, HM_EINVAL);
    assert_contains(hm_error_message(ctx), "EPSG:nonsense");
    hm_ctx_destroy(ctx);
    free(path);
    fixture_remove_folder(folder);
    free(folder);
}

/* WGS84 lon/lat reprojected to BNG; `code`/`name` detected; a Shapefile without .prj. */
static void test_shapefile(void **state)
{
    (void)state;
    char *folder = fixture_folder("boundaries-shp");
    char *path = fixture_path(folder, "beats.shp");
    const char *fields[] = {"code", "name"};
    const char *rows[] = {"BS1", "Centre", "POLYGON((-2.60 51.45,-2.58 51.45,-2.58 51.46,-2.60 51.46,-2.60 51.45))",
                          "BS2", "East", "POLYGON((-2.58 51.45,-2.56 51.45,-2.56 51.46,-2.58 51.46,-2.58 51.45))"};
    assert_int_equal(fixture_write_layer(path, "ESRI Shapefile", "beats", 4326, 2, fields, 2, rows), 0);
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;
    int status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "beat"}, &set);
    if (status != HM_OK) fail_msg("%s", hm_error_message(ctx));
    assert_int_equal(hm_boundaries_count(set), 2);
    assert_string_equal(hm_boundaries_code_field(set), "code");
    assert_string_equal(hm_boundaries_name_field(set), "name");
    assert_string_equal(hm_boundaries_code(set, 1), "BS2");
    assert_string_equal(hm_boundaries_source_crs(set), "EPSG:4326");
    double x0, y0, x1, y1;
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    /* Central Bristol in British National Grid metres. */
    assert_true(x0 > 356000 && x0 < 360000 && y0 > 171000 && y0 < 174000);
    assert_true(x1 - x0 > 2700 && x1 - x0 < 2900 && y1 - y0 > 1050 && y1 - y0 < 1200);
    set = hm_boundaries_destroy(set);

    /* Without the .prj the layer has no CRS: an error that says what to do, unless a CRS is assumed. */
    char *prj = fixture_path(folder, "beats.prj");
    assert_int_equal(unlink(prj), 0);
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "beat"}, &set);
    assert_int_equal(status, HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "no coordinate reference system");
    assert_contains(hm_error_message(ctx), "beats.shp");
    hm_error_clear(ctx);
    status = hm_boundaries_load(ctx, path, &(hm_boundary_options){.kind = "beat", .assume_crs = "EPSG:4326"}, &set);
    assert_int_equal(status, HM_OK);
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    assert_true(x0 > 356000 && x0 < 360000);
    set = hm_boundaries_destroy(set);
    hm_ctx_destroy(ctx);
    free(prj);
    free(path);
    fixture_remove_folder(folder);
    free(folder);
}

/* A folder of data.police.uk style KML files: codes from file names, names from placemarks, name order. */
static void test_kml_folder(void **state)
{
    (void)state;
    char *folder = fixture_folder("boundaries-kml");
    const char *files[] = {"SN3.kml", "BC1.kml", "ER2.kml"};
    const char *names[] = {"St Nicholas", "Broadmead", NULL};
    const char *squares[] = {"-2.60,51.45 -2.58,51.45 -2.58,51.46 -2.60,51.46 -2.60,51.45",
                             "-2.58,51.45 -2.56,51.45 -2.56,51.46 -2.58,51.46 -2.58,51.45",
                             "-2.60,51.46,0 -2.58,51.46,0 -2.58,51.47,0 -2.60,51.47,0 -2.60,51.46,0"};
    for (int i = 0; i < 3; i++) {
        char *path = fixture_path(folder, files[i]);
        assert_int_equal(fixture_write_kml(path, names[i], squares[i]), 0);
        free(path);
    }
    char *other = fixture_path(folder, "README.txt");
    assert_int_equal(fixture_write_text(other, "not a boundary\n"), 0);
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;
    int status = hm_boundaries_load(ctx, folder, &(hm_boundary_options){.kind = "beat"}, &set);
    if (status != HM_OK) fail_msg("%s", hm_error_message(ctx));
    assert_int_equal(hm_boundaries_count(set), 3);
    assert_string_equal(hm_boundaries_code(set, 0), "BC1");
    assert_string_equal(hm_boundaries_name(set, 0), "Broadmead");
    assert_string_equal(hm_boundaries_code(set, 1), "ER2");
    assert_string_equal(hm_boundaries_name(set, 1), "ER2"); /* no placemark name: the code */
    assert_string_equal(hm_boundaries_code(set, 2), "SN3");
    assert_string_equal(hm_boundaries_name(set, 2), "St Nicholas");
    assert_string_equal(hm_boundaries_code_field(set), "file name");
    assert_string_equal(hm_boundaries_source_crs(set), "EPSG:4326");
    double x0, y0, x1, y1;
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    assert_true(x0 > 356000 && x0 < 360000 && y0 > 171000 && y0 < 174000);
    set = hm_boundaries_destroy(set);

    /* A broken KML file is named in the error. */
    char *broken = fixture_path(folder, "ZZ9.kml");
    assert_int_equal(fixture_write_text(broken, "<kml><Document><Placemark><name>x</name>"), 0);
    status = hm_boundaries_load(ctx, folder, &(hm_boundary_options){.kind = "beat"}, &set);
    assert_true(status == HM_EGDAL || status == HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "ZZ9.kml");
    hm_ctx_destroy(ctx);
    free(broken);
    free(other);
    fixture_remove_folder(folder);
    free(folder);
}

/* ONS pairs without a preferred prefix: the first whose codes are unique; plain fallbacks; nothing to detect. */
static void test_field_detection(void **state)
{
    (void)state;
    char *folder = fixture_folder("boundaries-fields");
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;

    char *ons = fixture_path(folder, "ons.gpkg");
    const char *ons_fields[] = {"lad11cd", "lad11nm", "msoa11cd", "msoa11nm"};
    const char *ons_rows[] = {"E06000023", "Bristol", "E02003012", "Bristol 001", square(350000, 170000, 100),
                              "E06000023", "Bristol", "E02003013", "Bristol 002", square(350100, 170000, 100)};
    assert_int_equal(fixture_write_layer(ons, "GPKG", "msoa", 27700, 4, ons_fields, 2, ons_rows), 0);
    assert_int_equal(hm_boundaries_load(ctx, ons, &(hm_boundary_options){.kind = "beat"}, &set), HM_OK);
    assert_string_equal(hm_boundaries_code_field(set), "msoa11cd");
    assert_string_equal(hm_boundaries_name_field(set), "msoa11nm");
    assert_string_equal(hm_boundaries_name(set, 1), "Bristol 002");
    set = hm_boundaries_destroy(set);

    char *beats = fixture_path(folder, "beats.gpkg");
    const char *beat_fields[] = {"force", "neighbourhood", "label"};
    const char *beat_rows[] = {"avon-and-somerset", "SX101", "Cabot", square(350000, 170000, 100)};
    assert_int_equal(fixture_write_layer(beats, "GPKG", "beats", 27700, 3, beat_fields, 1, beat_rows), 0);
    assert_int_equal(hm_boundaries_load(ctx, beats, &(hm_boundary_options){.kind = "beat"}, &set), HM_OK);
    assert_string_equal(hm_boundaries_code_field(set), "neighbourhood");
    assert_string_equal(hm_boundaries_name_field(set), ""); /* no name field: names left empty */
    assert_string_equal(hm_boundaries_name(set, 0), "");
    set = hm_boundaries_destroy(set);

    /* The same file as wards: nothing to detect, so the error lists the fields and the options. */
    assert_int_equal(hm_boundaries_load(ctx, beats, &(hm_boundary_options){.kind = "ward"}, &set), HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "cannot tell which field holds the ward codes");
    assert_contains(hm_error_message(ctx), "force, neighbourhood, label");
    assert_contains(hm_error_message(ctx), "--ward-code FIELD");
    hm_error_clear(ctx);
    assert_int_equal(hm_boundaries_load(ctx, beats,
                                        &(hm_boundary_options){.kind = "ward", .code_field = "neighbourhood",
                                                               .name_field = "label"},
                                        &set),
                     HM_OK);
    assert_string_equal(hm_boundaries_name(set, 0), "Cabot");
    set = hm_boundaries_destroy(set);

    char *plain = fixture_path(folder, "plain.geojson");
    assert_int_equal(fixture_write_text(plain, "{\"type\":\"FeatureCollection\",\"features\":["
                                               "{\"type\":\"Feature\",\"properties\":{\"ID\":7,\"Name\":\"Seven\"},"
                                               "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                                               "[[[-2.6,51.45],[-2.59,51.45],[-2.59,51.46],[-2.6,51.45]]]}}]}"),
                     0);
    assert_int_equal(hm_boundaries_load(ctx, plain, NULL, &set), HM_OK);
    assert_string_equal(hm_boundaries_code(set, 0), "7");
    assert_string_equal(hm_boundaries_name(set, 0), "Seven");
    set = hm_boundaries_destroy(set);
    hm_ctx_destroy(ctx);
    free(plain);
    free(beats);
    free(ons);
    fixture_remove_folder(folder);
    free(folder);
}

/* A bow-tie is repaired into its two triangles and counted; a point or an empty code is an error. */
static void test_repairs_and_bad_features(void **state)
{
    (void)state;
    char *folder = fixture_folder("boundaries-bad");
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;
    char *path = fixture_path(folder, "bowtie.gpkg");
    const char *fields[] = {"code", "name"};
    const char *rows[] = {"W1", "Square", square(0, 0, 10), "W2", "Bow-tie",
                          "POLYGON((20 0, 30 10, 30 0, 20 10, 20 0))"};
    assert_int_equal(fixture_write_layer(path, "GPKG", "wards", 27700, 2, fields, 2, rows), 0);
    assert_int_equal(hm_boundaries_load(ctx, path, NULL, &set), HM_OK);
    assert_int_equal(hm_boundaries_repaired_count(set), 1);
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    const GEOSGeometry *repaired = hm_boundaries_geometry(set, 1);
    assert_int_equal(GEOSisValid_r(geos, repaired), 1);
    assert_int_equal(GEOSGeomTypeId_r(geos, repaired), GEOS_MULTIPOLYGON);
    assert_int_equal(GEOSGetNumGeometries_r(geos, repaired), 2);
    assert_true(fabs(geometry_area(set, 1) - 50) < 1e-9);
    set = hm_boundaries_destroy(set);

    char *points = fixture_path(folder, "points.gpkg");
    const char *point_rows[] = {"W1", "Square", square(0, 0, 10), "W2", "Dot", "POINT(5 5)"};
    assert_int_equal(fixture_write_layer(points, "GPKG", "wards", 27700, 2, fields, 2, point_rows), 0);
    assert_int_equal(hm_boundaries_load(ctx, points, NULL, &set), HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "feature 2 (ward W2) is a POINT, not a polygon");
    hm_error_clear(ctx);

    char *empty = fixture_path(folder, "empty.gpkg");
    const char *empty_rows[] = {"W1", "Square", square(0, 0, 10), "", "Nameless", square(10, 0, 10), "W3",
                                "No shape", NULL};
    assert_int_equal(fixture_write_layer(empty, "GPKG", "wards", 27700, 2, fields, 3, empty_rows), 0);
    assert_int_equal(hm_boundaries_load(ctx, empty, NULL, &set), HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "feature 2 has an empty ward code");
    hm_error_clear(ctx);
    empty_rows[3] = "W2";
    assert_int_equal(fixture_write_layer(empty, "GPKG", "wards", 27700, 2, fields, 3, empty_rows), 0);
    assert_int_equal(hm_boundaries_load(ctx, empty, NULL, &set), HM_EFORMAT);
    assert_contains(hm_error_message(ctx), "feature 3 (ward W3) has no geometry");
    hm_ctx_destroy(ctx);
    free(empty);
    free(points);
    free(path);
    fixture_remove_folder(folder);
    free(folder);
}

/* Files that cannot be opened are named, with the reason. */
static void test_cannot_open(void **state)
{
    (void)state;
    char *folder = fixture_folder("boundaries-open");
    hm_ctx *ctx = quiet_context();
    hm_boundary_set *set = NULL;
    char *missing = fixture_path(folder, "no-such-wards.gpkg");
    assert_int_equal(hm_boundaries_load(ctx, missing, NULL, &set), HM_EIO);
    assert_null(set);
    assert_contains(hm_error_message(ctx), "no-such-wards.gpkg");
    assert_contains(hm_error_message(ctx), "No such file");
    hm_error_clear(ctx);
    char *junk = fixture_path(folder, "junk.gpkg");
    assert_int_equal(fixture_write_text(junk, "this is not a GeoPackage\n"), 0);
    assert_int_equal(hm_boundaries_load(ctx, junk, NULL, &set), HM_EGDAL);
    assert_contains(hm_error_message(ctx), "junk.gpkg");
    assert_contains(hm_error_message(ctx), "GDAL cannot read it");
    hm_error_clear(ctx);
    assert_int_equal(hm_boundaries_load(ctx, folder, NULL, &set), HM_EGDAL); /* a folder with no KML */
    hm_ctx_destroy(ctx);
    free(junk);
    free(missing);
    fixture_remove_folder(folder);
    free(folder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_bristol),     cmocka_unit_test(test_real_birmingham),
        cmocka_unit_test(test_geopackage),       cmocka_unit_test(test_shapefile),
        cmocka_unit_test(test_kml_folder),       cmocka_unit_test(test_field_detection),
        cmocka_unit_test(test_repairs_and_bad_features), cmocka_unit_test(test_cannot_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
