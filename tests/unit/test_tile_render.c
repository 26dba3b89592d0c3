/* Unit tests for tiles/tile_render.c: the lattice the warper interpolates stays within a hundredth of a
 * source cell of GDAL's exact transformation, from zoom 7 to 20, for a British National Grid surface. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>

#include "raster_source.h"
#include "tile_render.h"

/* A 60 km x 40 km grid of 25 m cells near E 360000 N 170000 (EPSG:27700), in GDAL's memory file system. */
static void make_surface(const char *path, double cell_m)
{
    int width = (int)(60000 / cell_m), height = (int)(40000 / cell_m);
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, width, height, 1, GDT_Float32, NULL);
    assert_non_null(ds);
    double gt[6] = {330000, cell_m, 0, 190000, 0, -cell_m};
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 27700);
    char *wkt = NULL;
    OSRExportToWkt(srs, &wkt);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    float one = 1.0f;
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, width / 2, height / 2, 1, 1, &one, 1, 1,
                                  GDT_Float32, 0, 0),
                     CE_None);
    GDALClose(ds);
}

static void test_lattice_is_exact_enough(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    const char *path = "/vsimem/test_tile_render.tif";
    make_surface(path, 25);
    hm_raster_source *source = NULL;
    assert_int_equal(hm_raster_source_open(ctx, path, &source), HM_OK);
    const int zooms[] = {7, 11, 14, 17, 20};
    for (size_t i = 0; i < sizeof zooms / sizeof zooms[0]; i++) {
        for (int ts = 256; ts <= 512; ts += 256) {
            double error_cells = -1;
            assert_int_equal(hm_render_lattice_error(ctx, source, zooms[i], ts, &error_cells), HM_OK);
            print_message("zoom %d, %d px tiles: lattice within %.2e cells of the exact transformation\n",
                          zooms[i], ts, error_cells);
            assert_true(error_cells >= 0 && error_cells < 0.01);
        }
    }
    hm_raster_source_destroy(source);
    VSIUnlink(path);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    GDALAllRegister();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lattice_is_exact_enough),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    GDALDestroyDriverManager();
    return failed;
}
