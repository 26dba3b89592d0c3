/*
 * Unit tests for qgis_project.c: the project file read back as XML (CRS and the property QGIS 3.22 needs to read
 * it, relative paths, ids QGIS keeps, embedded default styles, XYZ data sources with escaped paths, visibility and
 * order, the initial view), a folder of outputs made ready (styles, .qml with the tiles' range, project), and the
 * `harmmap qgis` options. tests/cli/qgis_outputs.sh opens such projects in QGIS itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <cpl_conv.h>
#include <cpl_minixml.h>
#include <dirent.h>
#include <gdal.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"
#include "gpkg.h"
#include "qgis_project.h"
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
    if (test_folder_create(f->dir, sizeof f->dir, "qgis_project") != 0) return -1;
    GDALAllRegister();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(test_folder_remove(f->dir), 0);
    hm_ctx_destroy(f->ctx);
    free(f);
    return 0;
}

/* outputs: harmmap.gpkg (incidents, wards, ward_harm, runs), density.tif, "my tiles/" made from it. */
static void make_outputs(fixture *f)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/harmmap.gpkg", f->dir);
    hm_gpkg *gpkg = NULL;
    assert_int_equal(hm_gpkg_create(f->ctx, path, 27700, &gpkg), HM_OK);
    const hm_gpkg_field point_fields[] = {{"category", HM_FIELD_TEXT, "Category"}};
    const hm_gpkg_field area_fields[] = {{"ward_name", HM_FIELD_TEXT, "Ward"}, {"harm", HM_FIELD_REAL, "Harm"}};
    const hm_gpkg_field run_fields[] = {{"input", HM_FIELD_TEXT, "Input"}};
    hm_gpkg_layer *runs = NULL, *incidents = NULL, *wards = NULL, *ward_harm = NULL;
    /* Added in an order other than the drawing order, to see the project sort them. */
    assert_int_equal(hm_gpkg_add_layer(gpkg, "runs", "Runs", HM_GEOMETRY_NONE, run_fields, 1, &runs), HM_OK);
    assert_int_equal(hm_gpkg_add_layer(gpkg, "ward_harm", "Harm", HM_GEOMETRY_MULTIPOLYGON, area_fields, 2, &ward_harm),
                     HM_OK);
    assert_int_equal(hm_gpkg_add_layer(gpkg, "wards", "Wards", HM_GEOMETRY_MULTIPOLYGON, area_fields, 1, &wards), HM_OK);
    assert_int_equal(hm_gpkg_add_layer(gpkg, "incidents", "Incidents", HM_GEOMETRY_POINT, point_fields, 1, &incidents),
                     HM_OK);
    hm_value input = {0, {.text = "a.csv"}};
    assert_int_equal(hm_gpkg_insert_row(runs, &input), HM_OK);
    GEOSContextHandle_t geos = hm_ctx_geos(f->ctx);
    for (int i = 0; i < 6; i++) {
        char wkt[200];
        double x = 360000 + 1000 * i;
        snprintf(wkt, sizeof wkt, "POLYGON((%g 170000,%g 170000,%g 171000,%g 171000,%g 170000))", x, x + 1000,
                 x + 1000, x, x);
        GEOSWKTReader *reader = GEOSWKTReader_create_r(geos);
        GEOSGeometry *polygon = GEOSWKTReader_read_r(geos, reader, wkt);
        GEOSWKTReader_destroy_r(geos, reader);
        hm_value values[2] = {{0, {.text = "Ward"}}, {0, {.real = i * i}}};
        assert_int_equal(hm_gpkg_insert_geometry(ward_harm, polygon, geos, values), HM_OK);
        assert_int_equal(hm_gpkg_insert_geometry(wards, polygon, geos, values), HM_OK);
        GEOSGeom_destroy_r(geos, polygon);
        hm_value category = {0, {.text = i % 2 ? "Burglary" : "Robbery"}};
        assert_int_equal(hm_gpkg_insert_point(incidents, x + 500, 170500, &category), HM_OK);
    }
    assert_int_equal(hm_gpkg_commit(gpkg), HM_OK);

    snprintf(path, sizeof path, "%s/density.tif", f->dir);
    GDALDatasetH dataset = GDALCreate(GDALGetDriverByName("GTiff"), path, 60, 10, 1, GDT_Float32, NULL);
    double transform[6] = {360000, 100, 0, 171000, 0, -100};
    GDALSetGeoTransform(dataset, transform);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 27700);
    GDALSetSpatialRef(dataset, srs);
    OSRDestroySpatialReference(srs);
    float cells[600];
    for (int i = 0; i < 600; i++) cells[i] = (float)(i % 60);
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(dataset, 1), GF_Write, 0, 0, 60, 10, cells, 60, 10, GDT_Float32, 0,
                                  0), CE_None);
    GDALClose(dataset);

    char tiles[1024];
    snprintf(tiles, sizeof tiles, "%s/my tiles", f->dir);
    assert_int_equal(mkdir(tiles, 0755), 0);
    snprintf(path, sizeof path, "%s/tiles-manifest.txt", tiles);
    FILE *file = fopen(path, "w");
    fprintf(file, "# harmmap tiles manifest 1\nsettings 00\nrange 0 40\nthreshold 2\nzoom 9 14\ntile_size 256\n"
                  "ramp magma\ntms 0\nsource %s/density.tif\n", f->dir);
    fclose(file);
}

static CPLXMLNode *read_project(const char *path)
{
    CPLXMLNode *root = CPLParseXMLFile(path);
    assert_non_null(root);
    return root;
}

static void folder_becomes_a_project(void **state)
{
    fixture *f = *state;
    make_outputs(f);
    char project[1024];
    hm_qgis_folder_options options = {NULL, "Test", NULL, NULL, NULL, NULL};
    assert_int_equal(hm_qgis_prepare_folder(f->ctx, f->dir, &options, project, sizeof project), HM_OK);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s/harmmap.qgs", f->dir);
    assert_string_equal(project, expected);

    /* The surface's .qml has the tile set's ramp, range and threshold. */
    char qml[1024];
    snprintf(qml, sizeof qml, "%s/density.qml", f->dir);
    CPLXMLNode *style = CPLParseXMLFile(qml);
    assert_non_null(style);
    assert_string_equal(CPLGetXMLValue(style, "=qgis.pipe.rasterrenderer.classificationMax", ""), "40");
    assert_string_equal(CPLGetXMLValue(style, "=qgis.pipe.rasterrenderer.rasterTransparency.singleValuePixelList."
                                              "pixelListEntry.max", ""), "2");
    assert_string_equal(CPLGetXMLValue(style, "=qgis.pipe.rasterrenderer.rastershader.colorrampshader.item.color", ""),
                        "#000004"); /* magma's first stop */
    CPLDestroyXMLNode(style);

    CPLXMLNode *root = read_project(project);
    CPLXMLNode *qgis = CPLSearchXMLNode(root, "=qgis");
    assert_string_equal(CPLGetXMLValue(qgis, "projectCrs.spatialrefsys.authid", ""), "EPSG:27700");
    assert_string_equal(CPLGetXMLValue(qgis, "properties.SpatialRefSys.ProjectionsEnabled", ""), "1");
    assert_string_equal(CPLGetXMLValue(qgis, "properties.Paths.Absolute", ""), "false");
    assert_string_equal(CPLGetXMLValue(qgis, "title", ""), "Test");
    /* Drawing order, top first, and what is shown at start. */
    const char *names[16], *checked[16];
    int n = 0;
    for (CPLXMLNode *node = CPLGetXMLNode(qgis, "layer-tree-group")->psChild; node; node = node->psNext)
        if (node->eType == CXT_Element && strcmp(node->pszValue, "layer-tree-layer") == 0 && n < 16) {
            names[n] = CPLGetXMLValue(node, "name", "");
            checked[n++] = CPLGetXMLValue(node, "checked", "");
        }
    assert_int_equal(n, 6);
    const char *order[] = {"Incidents", "Wards", "Harm per ward", "density.tif", "my tiles", "Geocode runs"};
    const char *shown[] = {"Qt::Checked", "Qt::Checked", "Qt::Checked", "Qt::Unchecked", "Qt::Unchecked", "Qt::Checked"};
    for (int i = 0; i < n; i++) {
        assert_string_equal(names[i], order[i]);
        assert_string_equal(checked[i], shown[i]);
    }
    /* Map layers: ids QGIS keeps (more than 10 characters), relative sources, embedded styles. */
    int layers = 0;
    for (CPLXMLNode *node = CPLGetXMLNode(qgis, "projectlayers")->psChild; node; node = node->psNext) {
        if (node->eType != CXT_Element) continue;
        layers++;
        const char *id = CPLGetXMLValue(node, "id", "");
        assert_true(strlen(id) > 10);
        const char *source = CPLGetXMLValue(node, "datasource", "");
        const char *provider = CPLGetXMLValue(node, "provider", "");
        if (strcmp(provider, "ogr") == 0) assert_true(strncmp(source, "./harmmap.gpkg|layername=", 25) == 0);
        if (strcmp(provider, "gdal") == 0) {
            assert_string_equal(source, "./density.tif");
            assert_string_equal(CPLGetXMLValue(node, "pipe.rasterrenderer.type", ""), "singlebandpseudocolor");
        }
        if (strcmp(provider, "wms") == 0)
            assert_string_equal(source, "type=xyz&url=file:./my%20tiles/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=14&zmin=9");
        if (strstr(source, "layername=wards")) {
            assert_string_equal(CPLGetXMLValue(node, "labelsEnabled", ""), "1");
            assert_string_equal(CPLGetXMLValue(node, "renderer-v2.type", ""), "singleSymbol");
        }
        if (strstr(source, "layername=ward_harm"))
            assert_string_equal(CPLGetXMLValue(node, "renderer-v2.type", ""), "graduatedSymbol");
        if (strstr(source, "layername=incidents"))
            assert_string_equal(CPLGetXMLValue(node, "renderer-v2.type", ""), "categorizedSymbol");
    }
    assert_int_equal(layers, 6);
    /* The initial view covers the outputs (360000-366000, 170000-171000) with a margin. */
    CPLXMLNode *view = CPLGetXMLNode(qgis, "ProjectViewSettings.DefaultViewExtent");
    assert_non_null(view);
    assert_true(atof(CPLGetXMLValue(view, "xmin", "0")) < 360000 && atof(CPLGetXMLValue(view, "xmax", "0")) > 366000);
    assert_true(atof(CPLGetXMLValue(view, "ymin", "0")) < 170000 && atof(CPLGetXMLValue(view, "ymax", "0")) > 171000);
    CPLDestroyXMLNode(root);

    /* Styles and metadata went into the GeoPackage. */
    char path[1024];
    snprintf(path, sizeof path, "%s/harmmap.gpkg", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM layer_styles WHERE useAsDefault", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 3);
    sqlite3_finalize(stmt);
    sqlite3_close(db);

    /* A second run gives the same project, byte for byte. */
    FILE *file = fopen(project, "rb");
    static char first[1 << 20], second[1 << 20];
    size_t first_length = fread(first, 1, sizeof first, file);
    fclose(file);
    assert_int_equal(hm_qgis_prepare_folder(f->ctx, f->dir, &options, NULL, 0), HM_OK);
    file = fopen(project, "rb");
    size_t second_length = fread(second, 1, sizeof second, file);
    fclose(file);
    assert_true(first_length == second_length && memcmp(first, second, first_length) == 0);
}

static long file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (long)info.st_size : -1;
}

/* The analyst's own files in the folder (a boundary GeoPackage, an aerial photograph) are not touched, and tiles
 * drawn with a ramp file harmmap cannot find again still leave the surface styled (with a warning). */
static void foreign_files_are_left_alone(void **state)
{
    fixture *f = *state;
    make_outputs(f);
    char boundaries[1024], photo[1024], manifest[1024];
    snprintf(boundaries, sizeof boundaries, "%s/boundaries.gpkg", f->dir);
    GDALDatasetH dataset = GDALCreate(GDALGetDriverByName("GPKG"), boundaries, 0, 0, 0, GDT_Unknown, NULL);
    assert_non_null(GDALDatasetCreateLayer(dataset, "areas", NULL, wkbPolygon, NULL));
    GDALClose(dataset);
    snprintf(photo, sizeof photo, "%s/photo.tif", f->dir);
    dataset = GDALCreate(GDALGetDriverByName("GTiff"), photo, 8, 8, 3, GDT_Byte, NULL);
    GDALClose(dataset);
    long boundaries_size = file_size(boundaries), photo_size = file_size(photo);
    snprintf(manifest, sizeof manifest, "%s/my tiles/tiles-manifest.txt", f->dir);
    FILE *file = fopen(manifest, "w");
    fprintf(file, "range 0 40\nthreshold 0\nzoom 9 14\nramp my-own-ramp\ntms 0\nsource %s/density.tif\n", f->dir);
    fclose(file);
    char project[1024];
    assert_int_equal(hm_qgis_prepare_folder(f->ctx, f->dir, NULL, project, sizeof project), HM_OK);
    assert_int_equal(file_size(boundaries), boundaries_size);
    assert_int_equal(file_size(photo), photo_size);
    char path[1100];
    snprintf(path, sizeof path, "%s/photo.qml", f->dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/density.qml", f->dir);
    CPLXMLNode *style = CPLParseXMLFile(path);
    assert_non_null(style);
    assert_string_equal(CPLGetXMLValue(style, "=qgis.pipe.rasterrenderer.rastershader.colorrampshader.item.color", ""),
                        "#440154"); /* viridis, in place of the ramp it cannot find */
    CPLDestroyXMLNode(style);
    CPLXMLNode *root = CPLParseXMLFile(project);
    char *text = CPLSerializeXMLTree(root);
    assert_null(strstr(text, "boundaries.gpkg"));
    assert_null(strstr(text, "photo.tif"));
    CPLFree(text);
    CPLDestroyXMLNode(root);
    /* A folder without harmmap outputs is refused rather than given an empty project. */
    char empty[1100];
    snprintf(empty, sizeof empty, "%s/empty", f->dir);
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(hm_qgis_prepare_folder(f->ctx, empty, NULL, NULL, 0), HM_EINVAL);
    hm_error_clear(f->ctx);
}

static void command_options_are_checked(void **state)
{
    fixture *f = *state;
    hm_qgis_options *options = NULL;
    char *ok[] = {"qgis", f->dir, "--classes", "7", "--method", "quantile", "-o", "x.qgs", NULL};
    assert_int_equal(hm_qgis_options_new(f->ctx, 8, ok, &options), HM_OK);
    assert_non_null(options);
    hm_qgis_options_free(options);
    char *bad_classes[] = {"qgis", f->dir, "--classes", "13", NULL};
    assert_int_equal(hm_qgis_options_new(f->ctx, 4, bad_classes, &options), HM_EINVAL);
    hm_error_clear(f->ctx);
    char *bad_method[] = {"qgis", f->dir, "--method", "equal", NULL};
    assert_int_equal(hm_qgis_options_new(f->ctx, 4, bad_method, &options), HM_EINVAL);
    hm_error_clear(f->ctx);
    char *bad_name[] = {"qgis", f->dir, "-o", "sub/x.qgs", NULL};
    assert_int_equal(hm_qgis_options_new(f->ctx, 4, bad_name, &options), HM_EINVAL);
    hm_error_clear(f->ctx);
    char *no_dir[] = {"qgis", NULL};
    assert_int_equal(hm_qgis_options_new(f->ctx, 1, no_dir, &options), HM_EINVAL);
    hm_error_clear(f->ctx);
    char *not_dir[] = {"qgis", "/no/such/folder", NULL};
    assert_int_equal(hm_qgis_options_new(f->ctx, 2, not_dir, &options), HM_EINVAL);
    assert_null(options);
    hm_error_clear(f->ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(folder_becomes_a_project, setup, teardown),
        cmocka_unit_test_setup_teardown(foreign_files_are_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(command_options_are_checked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
