/*
 * Unit tests for gpkg_metadata.c: the dataset record (GDAL's form, read back with GDAL), one QGIS layer metadata
 * record per layer, runs of two commands merged, a second run replacing rather than adding, a record someone
 * else wrote kept, gpkg_contents identifiers, gpkg_data_columns for every column, extension rows exactly once,
 * timestamps in the form validate_gpkg.py requires, and GDAL's validate_gpkg.py on the result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <dirent.h>
#include <gdal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context.h"
#include "gpkg.h"
#include "gpkg_metadata.h"
#include "test_folder.h"

#define VALIDATOR "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"

typedef struct fixture {
    hm_ctx *ctx;
    char dir[512];
    char path[1024];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->ctx = hm_ctx_create();
    hm_ctx_set_verbosity(f->ctx, HM_QUIET);
    if (test_folder_create(f->dir, sizeof f->dir, "gpkg_metadata") != 0) return -1;
    snprintf(f->path, sizeof f->path, "%s/out.gpkg", f->dir);
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

static hm_value text(const char *value)
{
    hm_value v = {value == NULL, {.text = value}};
    return v;
}

static hm_value integer(long long value)
{
    hm_value v = {0, {.integer = value}};
    return v;
}

/* A GeoPackage as geocode writes it, in miniature: incidents (dated points) and the runs table; metadata written
 * inside the writer's transaction. */
static void make_gpkg(fixture *f)
{
    hm_gpkg *gpkg = NULL;
    assert_int_equal(hm_gpkg_create(f->ctx, f->path, 27700, &gpkg), HM_OK);
    const hm_gpkg_field incident_fields[] = {{"date", HM_FIELD_TEXT, "Date of the record"},
                                             {"category", HM_FIELD_TEXT, NULL},
                                             {"mystery", HM_FIELD_TEXT, NULL}};
    hm_gpkg_layer *incidents = NULL, *runs = NULL;
    assert_int_equal(hm_gpkg_add_layer(gpkg, "incidents", "Crime incidents", HM_GEOMETRY_POINT, incident_fields, 3,
                                       &incidents), HM_OK);
    const char *dates[] = {"2026-03", "2026-01", "2026-02"};
    for (int i = 0; i < 3; i++) {
        hm_value values[3] = {text(dates[i]), text("Burglary"), text(NULL)};
        assert_int_equal(hm_gpkg_insert_point(incidents, 360000 + i, 170000, values), HM_OK);
    }
    const hm_gpkg_field run_fields[] = {
        {"run_started", HM_FIELD_TEXT, "When"},   {"input", HM_FIELD_TEXT, "Input"},
        {"kind", HM_FIELD_TEXT, "Kind"},          {"format", HM_FIELD_TEXT, "Format"},
        {"records_read", HM_FIELD_INTEGER, "R"},  {"placed", HM_FIELD_INTEGER, "P"},
        {"outside_area", HM_FIELD_INTEGER, "O"},  {"rejected", HM_FIELD_INTEGER, "X"},
        {"transformation", HM_FIELD_TEXT, "T"},   {"harm_model", HM_FIELD_TEXT, "H"},
    };
    assert_int_equal(hm_gpkg_add_layer(gpkg, "runs", "Accounting", HM_GEOMETRY_NONE, run_fields, 10, &runs), HM_OK);
    hm_value row[10] = {text("2026-02-03T04:05:06Z"), text("jan.csv"), text("incidents"), text("police.uk"),
                        integer(4), integer(3), integer(0), integer(1), text("Helmert"), text("cchi (test)")};
    assert_int_equal(hm_gpkg_insert_row(runs, row), HM_OK);
    const hm_run_parameter parameters[] = {{"snap_m", "25"}, {"wards", "wards.gpkg"}, {"beats", NULL}};
    const hm_run_description run = {"geocode", "2026-02-03T04:05:06Z", parameters, 3, NULL};
    assert_int_equal(hm_gpkg_metadata_write(f->ctx, hm_gpkg_database(gpkg), &run, NULL), HM_OK);
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

static void expect_contains(sqlite3 *db, const char *sql, const char *part)
{
    char *got = query(db, sql);
    if (!got || !strstr(got, part)) fail_msg("%s\n  got %s\n  without %s", sql, got, part);
    free(got);
}

static void validate(const char *path)
{
    if (access(VALIDATOR, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) return; /* python3-gdal absent */
    char command[2048];
    snprintf(command, sizeof command, "/usr/bin/python3 %s %s", VALIDATOR, path);
    int status = system(command);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void metadata_is_written_once_and_read_by_gdal(void **state)
{
    fixture *f = *state;
    make_gpkg(f);
    validate(f->path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    expect_query(db, "SELECT count(*) FROM gpkg_metadata_reference WHERE reference_scope = 'geopackage'", "1");
    expect_query(db, "SELECT group_concat(table_name, ' ') FROM (SELECT table_name FROM gpkg_metadata_reference "
                     "WHERE reference_scope = 'table' ORDER BY table_name)", "incidents runs");
    expect_query(db, "SELECT group_concat(DISTINCT timestamp) FROM gpkg_metadata_reference", "2026-02-03T04:05:06.000Z");
    expect_query(db, "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_metadata'", "2");
    /* QGIS's layer metadata: title, abstract with the run's accounting, the temporal extent of the dates. */
    const char *incidents_record = "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON "
                                   "r.md_file_id = m.id WHERE r.table_name = 'incidents'";
    expect_contains(db, incidents_record, "<identifier>harmmap:incidents</identifier>");
    expect_contains(db, incidents_record, "<title>Incidents</title>");
    expect_contains(db, incidents_record, "jan.csv (police.uk: read 4, placed 3, outside 0, rejected 1)");
    expect_contains(db, incidents_record, "<start>2026-01-01T00:00:00Z</start>");
    expect_contains(db, incidents_record, "<end>2026-03-31T23:59:59Z</end>");
    expect_contains(db, incidents_record, "<authid>EPSG:27700</authid>");
    expect_contains(db, incidents_record, "<history>2026-02-03T04:05:06.000Z: harmmap geocode</history>");
    /* gpkg_contents and gpkg_data_columns. */
    expect_query(db, "SELECT identifier FROM gpkg_contents WHERE table_name = 'incidents'", "Incidents");
    expect_query(db, "SELECT identifier FROM gpkg_contents WHERE table_name = 'runs'", "Geocode runs");
    expect_query(db, "SELECT count(*) FROM pragma_table_info('incidents') p LEFT JOIN gpkg_data_columns d ON "
                     "d.table_name = 'incidents' AND d.column_name = p.name WHERE d.description IS NULL OR "
                     "d.description = ''", "1"); /* "mystery": neither its writer nor fields.csv describes it */
    expect_query(db, "SELECT description FROM gpkg_data_columns WHERE table_name = 'incidents' AND column_name = "
                     "'date'", "Date of the record"); /* the writer's description is kept */
    expect_query(db, "SELECT title FROM gpkg_data_columns WHERE table_name = 'incidents' AND column_name = "
                     "'category'", "Category");
    expect_query(db, "SELECT description FROM gpkg_data_columns WHERE table_name = 'incidents' AND column_name = "
                     "'geom'", "Geometry (point) in OSGB36 / British National Grid");
    expect_query(db, "SELECT count(*) FROM gpkg_data_columns WHERE name IS NOT NULL", "0");
    sqlite3_close(db);
    /* GDAL reads the dataset record as metadata items. */
    GDALAllRegister();
    GDALDatasetH dataset = GDALOpenEx(f->path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(dataset);
    const char *item = GDALGetMetadataItem(dataset, "HARMMAP_GEOCODE_SNAP_M", NULL);
    assert_non_null(item);
    assert_string_equal(item, "25");
    assert_string_equal(GDALGetMetadataItem(dataset, "HARMMAP_GEOCODE_RUN", NULL), "2026-02-03T04:05:06.000Z");
    assert_string_equal(GDALGetMetadataItem(dataset, "HARMMAP_HARM_INDEX", NULL), "cchi (test)");
    assert_string_equal(GDALGetMetadataItem(dataset, "HARMMAP_TRANSFORMATION", NULL), "Helmert");
    assert_null(GDALGetMetadataItem(dataset, "HARMMAP_GEOCODE_BEATS", NULL)); /* not given: not written */
    assert_non_null(strstr(GDALGetMetadataItem(dataset, "HARMMAP_INPUTS", NULL), "jan.csv (police.uk, incidents)"));
    GDALClose(dataset);
}

static void runs_merge_and_replace(void **state)
{
    fixture *f = *state;
    make_gpkg(f);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    /* Someone else's QGIS metadata for runs, and a gpkg_schema row registered twice (INSERT OR IGNORE with a NULL
     * column_name does that). */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) VALUES "
                                  "('dataset', 'http://mrcc.com/qgis.dtd', 'text/xml', '<qgis><identifier>mine"
                                  "</identifier></qgis>');"
                                  "DELETE FROM gpkg_metadata_reference WHERE table_name = 'runs';"
                                  "DELETE FROM gpkg_metadata WHERE id NOT IN (SELECT md_file_id FROM "
                                  "gpkg_metadata_reference) AND metadata NOT LIKE '%mine%';"
                                  "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, timestamp, "
                                  "md_file_id) SELECT 'table', 'runs', '2026-01-01T00:00:00.000Z', id FROM "
                                  "gpkg_metadata WHERE metadata LIKE '%mine%';"
                                  "INSERT INTO gpkg_extensions VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', "
                                  "'http://www.geopackage.org/spec121/#extension_schema', 'read-write');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    const hm_run_parameter parameters[] = {{"population", "pop.csv"}};
    const hm_run_description aggregate = {"aggregate", "2026-02-04T00:00:00.123Z", parameters, 1, NULL};
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(hm_gpkg_metadata_write(f->ctx, db, &aggregate, NULL), HM_OK);
    assert_int_equal(hm_gpkg_metadata_write(f->ctx, db, &aggregate, NULL), HM_OK); /* twice: nothing doubles */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    expect_query(db, "SELECT count(*) FROM gpkg_metadata", "3");
    expect_query(db, "SELECT count(*) FROM gpkg_metadata_reference", "3");
    expect_contains(db, "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON r.md_file_id = "
                        "m.id WHERE r.table_name = 'runs'", "<identifier>mine</identifier>");
    expect_query(db, "SELECT count(*) FROM gpkg_extensions WHERE table_name = 'gpkg_data_columns'", "1");
    const char *incidents_record = "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON "
                                   "r.md_file_id = m.id WHERE r.table_name = 'incidents'";
    expect_contains(db, incidents_record, "<history>2026-02-03T04:05:06.000Z: harmmap geocode</history>\n  "
                                          "<history>2026-02-04T00:00:00.123Z: harmmap aggregate</history>");
    sqlite3_close(db);
    validate(f->path);
    GDALAllRegister();
    GDALDatasetH dataset = GDALOpenEx(f->path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(dataset);
    assert_string_equal(GDALGetMetadataItem(dataset, "HARMMAP_GEOCODE_SNAP_M", NULL), "25");
    assert_string_equal(GDALGetMetadataItem(dataset, "HARMMAP_AGGREGATE_POPULATION", NULL), "pop.csv");
    assert_string_equal(GDALGetMetadataItem(dataset, "HARMMAP_AGGREGATE_RUN", NULL), "2026-02-04T00:00:00.123Z");
    GDALClose(dataset);
}

static void spatialrefsys_names_the_crs(void **state)
{
    fixture *f = *state;
    sqlite3_str *out = sqlite3_str_new(NULL);
    assert_int_equal(hm_qgis_append_spatialrefsys(f->ctx, out, 27700, 2), HM_OK);
    char *text = sqlite3_str_finish(out);
    assert_non_null(strstr(text, "  <spatialrefsys>\n    <wkt>PROJCRS[&quot;OSGB36 / British National Grid&quot;"));
    assert_non_null(strstr(text, "<proj4>+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 "
                                 "+ellps=airy +units=m +no_defs</proj4>"));
    assert_non_null(strstr(text, "<authid>EPSG:27700</authid>"));
    assert_non_null(strstr(text, "<geographicflag>false</geographicflag>"));
    sqlite3_free(text);
    out = sqlite3_str_new(NULL);
    assert_int_equal(hm_qgis_append_spatialrefsys(f->ctx, out, 4326, 0), HM_OK);
    text = sqlite3_str_finish(out);
    assert_non_null(strstr(text, "<geographicflag>true</geographicflag>"));
    sqlite3_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(metadata_is_written_once_and_read_by_gdal, setup, teardown),
        cmocka_unit_test_setup_teardown(runs_merge_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(spatialrefsys_names_the_crs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
