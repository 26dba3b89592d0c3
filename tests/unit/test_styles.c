/*
 * Unit tests for styles.c: the template filler (scalars, sections, escaping, comments, errors), class breaks
 * against QGIS 3.22's own QgsClassificationJenks and QgsClassificationQuantile (values computed once with PyQGIS on
 * the same data, see classify_matches_qgis), colour ramps, the layer_styles table (schema as QGIS creates it,
 * harmmap's row replaced on a second run, a user's default style kept) and the .qml written beside a surface.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <dirent.h>
#include <gdal.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "gpkg.h"
#include "styles.h"
#include "test_folder.h"

typedef struct fixture {
    hm_ctx *ctx;
    char dir[512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->ctx = hm_ctx_create();
    hm_ctx_set_verbosity(f->ctx, HM_QUIET);
    if (test_folder_create(f->dir, sizeof f->dir, "styles") != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_folder_remove(f->dir);
    hm_ctx_destroy(f->ctx);
    free(f);
    return 0;
}

/* ---- templates ---- */

static void template_fills_scalars_sections_and_escapes(void **state)
{
    fixture *f = *state;
    const hm_template_value row_values[2][2] = {{{"name", "a<b"}, {"n", "1"}}, {{"name", "\"q\" & 'r'"}, {"n", "2"}}};
    const hm_template_scope rows[2] = {{row_values[0], 2, NULL, 0}, {row_values[1], 2, NULL, 0}};
    const hm_template_value values[] = {{"title", "T&T"}, {"n", "outer"}};
    const hm_template_section sections[] = {{"items", rows, 2}, {"none", NULL, 0}};
    const hm_template_scope scope = {values, 2, sections, 2};
    const char *text = "{{! a comment\n   over two lines }}\n<t v=\"{{title}}\">\n{{#items}}\n  <i n=\"{{n}}\">{{name}} "
                       "{{title}}</i>\n{{/items}}\n{{#none}}\nnever\n{{/none}}\n</t> {{n}}\n";
    char *out = NULL;
    assert_int_equal(hm_template_fill(f->ctx, "test", text, &scope, &out), HM_OK);
    assert_string_equal(out, "<t v=\"T&amp;T\">\n  <i n=\"1\">a&lt;b T&amp;T</i>\n"
                             "  <i n=\"2\">&quot;q&quot; &amp; &apos;r&apos; T&amp;T</i>\n</t> outer\n");
    free(out);
}

static void template_errors_name_the_line(void **state)
{
    fixture *f = *state;
    const hm_template_value values[] = {{"a", "1"}};
    const hm_template_scope scope = {values, 1, NULL, 0};
    char *out = NULL;
    assert_int_equal(hm_template_fill(f->ctx, "t.qml", "x\n{{b}}\n", &scope, &out), HM_EFORMAT);
    assert_null(out);
    assert_non_null(strstr(hm_error_message(f->ctx), "t.qml:2"));
    assert_non_null(strstr(hm_error_message(f->ctx), "{{b}}"));
    hm_error_clear(f->ctx);
    assert_int_equal(hm_template_fill(f->ctx, "t.qml", "{{#s}}x", &scope, &out), HM_EFORMAT);
    hm_error_clear(f->ctx);
    assert_int_equal(hm_template_fill(f->ctx, "t.qml", "{{a", &scope, &out), HM_EFORMAT);
    hm_error_clear(f->ctx);
    assert_int_equal(hm_template_fill(f->ctx, "t.qml", "{{/a}}", &scope, &out), HM_EFORMAT);
    hm_error_clear(f->ctx);
}

static void xml_escape_replaces_invalid_utf8_and_controls(void **state)
{
    (void)state;
    sqlite3_str *out = sqlite3_str_new(NULL);
    hm_xml_append_escaped(out, "caf\xC3\xA9 \xE9t\xE9\x01<");
    char *text = sqlite3_str_finish(out);
    assert_string_equal(text, "caf\xC3\xA9 \xEF\xBF\xBDt\xEF\xBF\xBD &lt;");
    sqlite3_free(text);
}

/* ---- classification ---- */

static const double qgis_values[] = {1, 2, 4, 5, 7, 9, 10, 20, 21, 22, 40, 41, 42, 60, 95, 100, 3.5, 8.25, 15, 33, 7, 7, 41};
#define QGIS_VALUE_COUNT (sizeof qgis_values / sizeof qgis_values[0])

static void classify(fixture *f, hm_class_method method, int k, double *minimum, double *upper, int *classes)
{
    double values[QGIS_VALUE_COUNT];
    memcpy(values, qgis_values, sizeof values);
    assert_int_equal(hm_classify(f->ctx, values, QGIS_VALUE_COUNT, method, k, minimum, upper, classes), HM_OK);
}

/* Reference: QgsClassificationJenks / QgsClassificationQuantile .classes() on a memory layer of qgis_values
 * (QGIS 3.22.16, Debian bookworm). */
static void classify_matches_qgis(void **state)
{
    fixture *f = *state;
    double minimum, upper[HM_MAX_CLASSES];
    int classes;
    classify(f, HM_CLASS_JENKS, 3, &minimum, upper, &classes);
    assert_int_equal(classes, 3);
    assert_true(minimum == 1 && upper[0] == 22 && upper[1] == 60 && upper[2] == 100);
    classify(f, HM_CLASS_JENKS, 5, &minimum, upper, &classes);
    assert_int_equal(classes, 5);
    const double jenks5[] = {5, 10, 22, 60, 100};
    for (int i = 0; i < 5; i++) assert_true(upper[i] == jenks5[i]);
    classify(f, HM_CLASS_QUANTILE, 3, &minimum, upper, &classes);
    assert_int_equal(classes, 3);
    assert_true(fabs(upper[0] - 7.416666666666666) < 1e-12 && fabs(upper[1] - 29.333333333333325) < 1e-12);
    classify(f, HM_CLASS_QUANTILE, 5, &minimum, upper, &classes);
    const double quantile5[] = {5.800000000000001, 8.850000000000001, 21.2, 41.0, 100};
    for (int i = 0; i < 5; i++) assert_true(fabs(upper[i] - quantile5[i]) < 1e-12);
}

static void classify_collapses_repeated_values(void **state)
{
    fixture *f = *state;
    double minimum, upper[HM_MAX_CLASSES];
    int classes;
    double same[] = {4, 4, 4, 4};
    assert_int_equal(hm_classify(f->ctx, same, 4, HM_CLASS_JENKS, 5, &minimum, upper, &classes), HM_OK);
    assert_int_equal(classes, 1);
    assert_true(minimum == 4 && upper[0] == 4);
    double three[] = {3, 1, 2, 1, 3};
    assert_int_equal(hm_classify(f->ctx, three, 5, HM_CLASS_QUANTILE, 5, &minimum, upper, &classes), HM_OK);
    assert_int_equal(classes, 3);
    assert_true(minimum == 1 && upper[0] == 1 && upper[1] == 2 && upper[2] == 3);
    double many[200];
    for (int i = 0; i < 200; i++) many[i] = i < 190 ? 0 : i; /* mostly zeros: quantile breaks repeat */
    assert_int_equal(hm_classify(f->ctx, many, 200, HM_CLASS_QUANTILE, 5, &minimum, upper, &classes), HM_OK);
    for (int i = 1; i < classes; i++) assert_true(upper[i] > upper[i - 1]);
    assert_true(upper[classes - 1] == 199);
    assert_int_equal(hm_classify(f->ctx, many, 0, HM_CLASS_JENKS, 5, &minimum, upper, &classes), HM_OK);
    assert_int_equal(classes, 0);
    assert_int_equal(hm_classify(f->ctx, many, 10, HM_CLASS_JENKS, 13, &minimum, upper, &classes), HM_EINVAL);
    hm_error_clear(f->ctx);
}

static void classify_large_input_is_sampled_and_ends_exact(void **state)
{
    fixture *f = *state;
    size_t n = 50000;
    double *values = malloc(n * sizeof *values);
    for (size_t i = 0; i < n; i++) values[i] = (double)((i * 7919) % n) * 0.5;
    double minimum, upper[HM_MAX_CLASSES];
    int classes;
    assert_int_equal(hm_classify(f->ctx, values, n, HM_CLASS_JENKS, 5, &minimum, upper, &classes), HM_OK);
    assert_int_equal(classes, 5);
    assert_true(minimum == 0 && upper[4] == (double)(n - 1) * 0.5);
    for (int i = 1; i < classes; i++) assert_true(upper[i] > upper[i - 1]);
    free(values);
}

/* ---- ramps ---- */

static void ramp_colours_interpolate_between_stops(void **state)
{
    fixture *f = *state;
    hm_style_ramp ramp;
    assert_int_equal(hm_style_ramp_load(f->ctx, "ylorrd", NULL, &ramp), HM_OK);
    assert_int_equal(ramp.count, 9);
    unsigned char rgba[4];
    hm_style_ramp_colour(&ramp, 0, rgba);
    assert_true(rgba[0] == 0xff && rgba[1] == 0xff && rgba[2] == 0xcc && rgba[3] == 255);
    hm_style_ramp_colour(&ramp, 1, rgba);
    assert_true(rgba[0] == 0x80 && rgba[1] == 0x00 && rgba[2] == 0x26);
    hm_style_ramp_colour(&ramp, 0.0625, rgba); /* halfway between the first two stops */
    assert_true(rgba[0] == 0xff && rgba[1] == (0xff + 0xed + 1) / 2 && rgba[2] == (0xcc + 0xa0) / 2);
    assert_int_equal(hm_style_ramp_load(f->ctx, "ViRiDiS", NULL, &ramp), HM_OK);
    assert_int_equal(hm_style_ramp_load(f->ctx, "no-such-ramp", NULL, &ramp), HM_EINVAL);
    hm_error_clear(f->ctx);
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.txt", f->dir);
    FILE *file = fopen(path, "w");
    fputs("0 0 0 0\n0.5 1 1\n1 #ffffff\n", file);
    fclose(file);
    assert_int_equal(hm_style_ramp_load(f->ctx, path, NULL, &ramp), HM_EFORMAT);
    assert_non_null(strstr(hm_error_message(f->ctx), "bad.txt:2"));
    hm_error_clear(f->ctx);
}

/* ---- GeoPackage styles ---- */

static void make_gpkg(fixture *f, const char *path)
{
    hm_gpkg *gpkg = NULL;
    assert_int_equal(hm_gpkg_create(f->ctx, path, 27700, &gpkg), HM_OK);
    const hm_gpkg_field point_fields[] = {{"category", HM_FIELD_TEXT, "Crime category"},
                                          {"intelligence_assessment", HM_FIELD_INTEGER, NULL}};
    hm_gpkg_layer *incidents = NULL, *areas = NULL, *wards = NULL;
    assert_int_equal(hm_gpkg_add_layer(gpkg, "incidents", "Incidents", HM_GEOMETRY_POINT, point_fields, 1, &incidents),
                     HM_OK);
    const char *categories[] = {"Burglary", "Robbery", "Made-up category", "Burglary", NULL};
    for (int i = 0; i < 5; i++) {
        hm_value value = {categories[i] == NULL, {.text = categories[i]}};
        assert_int_equal(hm_gpkg_insert_point(incidents, 360000 + i, 170000 + i, &value), HM_OK);
    }
    const hm_gpkg_field area_fields[] = {{"ward_name", HM_FIELD_TEXT, "Ward"},
                                         {"harm_per_1000", HM_FIELD_REAL, "Harm per 1,000 residents"},
                                         {"harm_per_km2", HM_FIELD_REAL, "Harm per km2"}};
    assert_int_equal(hm_gpkg_add_layer(gpkg, "ward_harm", "Harm per ward", HM_GEOMETRY_MULTIPOLYGON, area_fields, 3,
                                       &areas), HM_OK);
    assert_int_equal(hm_gpkg_add_layer(gpkg, "wards", "Wards", HM_GEOMETRY_MULTIPOLYGON, area_fields, 1, &wards),
                     HM_OK);
    GEOSContextHandle_t geos = hm_ctx_geos(f->ctx);
    for (int i = 0; i < 24; i++) { /* the 23 values QGIS classified, and a ward without population (NULL) */
        char wkt[160];
        snprintf(wkt, sizeof wkt, "POLYGON((%d 0,%d 0,%d 10,%d 10,%d 0))", 10 * i, 10 * i + 10, 10 * i + 10, 10 * i,
                 10 * i);
        GEOSWKTReader *reader = GEOSWKTReader_create_r(geos);
        GEOSGeometry *polygon = GEOSWKTReader_read_r(geos, reader, wkt);
        GEOSWKTReader_destroy_r(geos, reader);
        char name[32];
        snprintf(name, sizeof name, "Ward %d", i);
        hm_value values[3] = {{0, {.text = name}}, {i == 23, {.real = i < 23 ? qgis_values[i] : 0}}, {0, {.real = i}}};
        assert_int_equal(hm_gpkg_insert_geometry(areas, polygon, geos, values), HM_OK);
        assert_int_equal(hm_gpkg_insert_geometry(wards, polygon, geos, values), HM_OK);
        GEOSGeom_destroy_r(geos, polygon);
    }
    sqlite3 *db = hm_gpkg_database(gpkg);
    hm_gpkg_style_options options = {HM_CLASS_JENKS, 5, NULL, NULL, NULL, "2026-01-01T00:00:00Z", NULL};
    int styled = 0;
    assert_int_equal(hm_styles_write_gpkg(f->ctx, db, &options, &styled), HM_OK);
    assert_int_equal(styled, 3);
    assert_int_equal(hm_gpkg_commit(gpkg), HM_OK);
}

static char *query(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    char *result = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        result = strdup(sqlite3_column_text(stmt, 0) ? (const char *)sqlite3_column_text(stmt, 0) : "(null)");
    sqlite3_finalize(stmt);
    return result;
}

static void expect_query(sqlite3 *db, const char *sql, const char *expected)
{
    char *got = query(db, sql);
    if (!got || strcmp(got, expected) != 0) fail_msg("%s\n  got      %s\n  expected %s", sql, got, expected);
    free(got);
}

static void gpkg_styles_use_qgis_schema_and_the_data(void **state)
{
    fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/styled.gpkg", f->dir);
    make_gpkg(f, path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    /* The DDL QGIS 3.22 creates through GDAL 3.6 (QgsOgrProviderMetadata::saveStyle), as sqlite_master holds it. */
    expect_query(db, "SELECT sql FROM sqlite_master WHERE name = 'layer_styles'",
                 "CREATE TABLE \"layer_styles\" ( \"id\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, \"f_table_catalog\" "
                 "TEXT(256), \"f_table_schema\" TEXT(256), \"f_table_name\" TEXT(256), \"f_geometry_column\" TEXT(256), "
                 "\"styleName\" TEXT(30), \"styleQML\" TEXT, \"styleSLD\" TEXT, \"useAsDefault\" BOOLEAN, "
                 "\"description\" TEXT, \"owner\" TEXT(30), \"ui\" TEXT(30), \"update_time\" DATETIME DEFAULT "
                 "(strftime('%Y-%m-%dT%H:%M:%fZ','now')))");
    expect_query(db, "SELECT data_type || ' ' || srs_id FROM gpkg_contents WHERE table_name = 'layer_styles'",
                 "attributes 0");
    expect_query(db, "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'layer_styles'", "3");
    expect_query(db, "SELECT group_concat(f_table_name || ':' || quote(f_table_catalog) || quote(f_table_schema) || "
                     "f_geometry_column || ':' || styleName || ':' || useAsDefault || ':' || owner || ':' || "
                     "update_time, ' ') FROM (SELECT * FROM layer_styles ORDER BY f_table_name)",
                 "incidents:''''geom:harmmap:1:harmmap:2026-01-01T00:00:00.000Z "
                 "ward_harm:''''geom:harmmap:1:harmmap:2026-01-01T00:00:00.000Z "
                 "wards:''''geom:harmmap:1:harmmap:2026-01-01T00:00:00.000Z");
    /* The choropleth: Jenks breaks of harm_per_1000 (NULL for one ward; QGIS's breaks are those of the rest). */
    char *qml = NULL;
    assert_int_equal(hm_styles_read_default_qml(f->ctx, db, "ward_harm", &qml), HM_OK);
    assert_non_null(strstr(qml, "type=\"graduatedSymbol\" attr=\"harm_per_1000\""));
    assert_non_null(strstr(qml, "<classificationMethod id=\"Jenks\">"));
    assert_non_null(strstr(qml, "lower=\"1\" upper=\"5\""));
    assert_non_null(strstr(qml, "lower=\"22\" upper=\"60\""));
    assert_non_null(strstr(qml, "upper=\"100\" label=\"60 \xE2\x80\x93 100\""));
    assert_non_null(strstr(qml, "<alias field=\"harm_per_1000\" index=\"2\" name=\"Harm per 1,000 residents\"/>"));
    assert_null(strstr(qml, "{{"));
    free(qml);
    /* Categories: known ones first in categories.csv order with its colours, then the rest, then all others. */
    assert_int_equal(hm_styles_read_default_qml(f->ctx, db, "incidents", &qml), HM_OK);
    const char *robbery = strstr(qml, "value=\"Robbery\"");
    const char *burglary = strstr(qml, "value=\"Burglary\"");
    const char *made_up = strstr(qml, "value=\"Made-up category\"");
    const char *other = strstr(qml, "value=\"\"");
    assert_true(robbery && burglary && made_up && other && robbery < burglary && burglary < made_up && made_up < other);
    assert_non_null(strstr(qml, "value=\"231,41,138,255\"")); /* Robbery #e7298a */
    free(qml);
    assert_int_equal(hm_styles_read_default_qml(f->ctx, db, "wards", &qml), HM_OK);
    assert_non_null(strstr(qml, "type=\"singleSymbol\""));
    assert_non_null(strstr(qml, "fieldName=\"ward_name\""));
    free(qml);
    expect_query(db, "SELECT count(*) FROM layer_styles WHERE styleSLD LIKE '<?xml%' AND styleQML LIKE '<!DOCTYPE qgis%'",
                 "3");

    /* A user's own default style for wards is kept and stays the default; harmmap's is replaced, not repeated. */
    assert_int_equal(sqlite3_exec(db, "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                                      "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                                      "owner) VALUES ('', '', 'wards', 'geom', 'mine', '<qgis/>', '', 1, '', '')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = 'wards' AND "
                                      "styleName = 'harmmap'", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(hm_styles_write_gpkg(f->ctx, db, NULL, NULL), HM_OK);
    expect_query(db, "SELECT count(*) FROM layer_styles", "4");
    expect_query(db, "SELECT group_concat(styleName || useAsDefault, ' ') FROM (SELECT * FROM layer_styles WHERE "
                     "f_table_name = 'wards' ORDER BY styleName)", "harmmap0 mine1");
    expect_query(db, "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'layer_styles'", "4");
    sqlite3_close(db);
}

static void surface_qml_has_the_tiles_range(void **state)
{
    fixture *f = *state;
    char tif[1024], qml_path[1024];
    snprintf(tif, sizeof tif, "%s/surface.v2.tif", f->dir);
    GDALAllRegister();
    GDALDatasetH dataset = GDALCreate(GDALGetDriverByName("GTiff"), tif, 4, 3, 1, GDT_Float32, NULL);
    float cells[12] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12.5f};
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(dataset, 1), GF_Write, 0, 0, 4, 3, cells, 4, 3, GDT_Float32, 0, 0),
                     CE_None);
    GDALClose(dataset);
    hm_surface_style style;
    hm_surface_style_init(&style);
    assert_int_equal(hm_styles_write_surface_qml(f->ctx, tif, &style, qml_path, sizeof qml_path), HM_OK);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s/surface.v2.qml", f->dir); /* QGIS: completeBaseName + .qml */
    assert_string_equal(qml_path, expected);
    FILE *file = fopen(qml_path, "r");
    char text[16384];
    size_t got = fread(text, 1, sizeof text - 1, file);
    text[got] = '\0';
    fclose(file);
    assert_non_null(strstr(text, "classificationMin=\"0\" classificationMax=\"12.5\""));
    assert_non_null(strstr(text, "<item value=\"0\" color=\"#440154\" alpha=\"255\""));
    assert_non_null(strstr(text, "<item value=\"12.5\" color=\"#fde725\""));
    assert_non_null(strstr(text, "max=\"0\" percentTransparent=\"100\""));
    /* A fixed range and another ramp, as `harmmap tiles --range 1,10 --ramp magma --threshold 0.5` would use. */
    style.ramp = "magma";
    style.range_min = 1;
    style.range_max = 10;
    style.threshold = 0.5;
    assert_int_equal(hm_styles_write_surface_qml(f->ctx, tif, &style, NULL, 0), HM_OK);
    file = fopen(qml_path, "r");
    got = fread(text, 1, sizeof text - 1, file);
    text[got] = '\0';
    fclose(file);
    assert_non_null(strstr(text, "classificationMin=\"1\" classificationMax=\"10\""));
    assert_non_null(strstr(text, "max=\"0.5\" percentTransparent=\"100\""));
    assert_non_null(strstr(text, "clip=\"0\""));
}

static void tiles_manifest_is_read(void **state)
{
    fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tiles-manifest.txt", f->dir);
    FILE *file = fopen(path, "w");
    fputs("# harmmap tiles manifest 1\nsettings 00\nrange 0.5 212.40354919433594\nthreshold 0.25\nzoom 9 14\n"
          "tile_size 256\nramp magma\ntms 0\nsource /data/surface.tif\n9 1 2 aa bb\n", file);
    fclose(file);
    hm_surface_style style;
    hm_surface_style_init(&style);
    char ramp[64], source[256];
    int min_zoom = 0, max_zoom = 0;
    assert_int_equal(hm_styles_read_tiles_manifest(f->ctx, f->dir, &style, ramp, source, sizeof source, &min_zoom,
                                                   &max_zoom), HM_OK);
    assert_true(style.range_min == 0.5 && style.range_max == 212.40354919433594 && style.threshold == 0.25);
    assert_string_equal(style.ramp, "magma");
    assert_string_equal(source, "/data/surface.tif");
    assert_true(min_zoom == 9 && max_zoom == 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(template_fills_scalars_sections_and_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(template_errors_name_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(xml_escape_replaces_invalid_utf8_and_controls, setup, teardown),
        cmocka_unit_test_setup_teardown(classify_matches_qgis, setup, teardown),
        cmocka_unit_test_setup_teardown(classify_collapses_repeated_values, setup, teardown),
        cmocka_unit_test_setup_teardown(classify_large_input_is_sampled_and_ends_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(ramp_colours_interpolate_between_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(gpkg_styles_use_qgis_schema_and_the_data, setup, teardown),
        cmocka_unit_test_setup_teardown(surface_qml_has_the_tiles_range, setup, teardown),
        cmocka_unit_test_setup_teardown(tiles_manifest_is_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
