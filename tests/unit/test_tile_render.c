/* Unit tests for tiles/tile_render.c: the lattice the warper interpolates stays within a hundredth of a
 * source cell of GDAL's exact transformation, from zoom 7 to 20, for a British National Grid surface; tiles
 * warped without GDAL's call are GDAL's bit for bit. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raster_source.h"
#include "tile_render.h"

/* A Float32 GeoTIFF in British National Grid (EPSG:27700), its top-left corner at (west, north). */
static GDALDatasetH create_grid(const char *path, int width, int height, double west, double north,
                                double cell_m)
{
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, width, height, 1, GDT_Float32, NULL);
    assert_non_null(ds);
    double gt[6] = {west, cell_m, 0, north, 0, -cell_m};
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 27700);
    char *wkt = NULL;
    OSRExportToWkt(srs, &wkt);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    return ds;
}

/* A 60 km x 40 km grid of 25 m cells near E 360000 N 170000 (EPSG:27700), in GDAL's memory file system. */
static void make_surface(const char *path, double cell_m)
{
    int width = (int)(60000 / cell_m), height = (int)(40000 / cell_m);
    GDALDatasetH ds = create_grid(path, width, height, 330000, 190000, cell_m);
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

/* A smooth surface of 50 m cells, 12 km x 8 km, with a band of nodata and a NaN cell (those windows go to
 * GDAL). */
static void make_smooth_surface(const char *path)
{
    const int width = 240, height = 160;
    GDALDatasetH ds = create_grid(path, width, height, 354000, 174000, 50);
    GDALSetRasterNoDataValue(GDALGetRasterBand(ds, 1), -9999);
    float *v = malloc(sizeof(float) * width * height);
    assert_non_null(v);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            v[y * width + x] = (float)(50 + 40 * sin(x / 7.3) * cos(y / 5.1) + x * 0.37 + y * 0.11);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < 12; x++)
            v[y * width + x] = -9999; /* a strip of nodata along the west edge */
    v[80 * width + 120] = NAN;
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, width, height, v, width, height,
                                  GDT_Float32, 0, 0),
                     CE_None);
    free(v);
    GDALClose(ds);
}

static int commit_nothing(void *user, const hm_tile_result *tiles, int count)
{
    (void)tiles;
    *(long long *)user += count;
    return HM_OK;
}

/* Bilinear tiles over valid cells skip GDAL's call (warp_tile_bilinear, and its AVX2 form where the processor
 * has it): with check_direct_warp, each one is warped by GDAL as well and the render fails unless both are
 * the same bits. Both forms are checked (portable = 1 forces the portable one). */
static void check_direct_bilinear(int portable)
{
    hm_ctx *ctx = hm_ctx_create();
    const char *path = "/vsimem/test_tile_render_smooth.tif";
    make_smooth_surface(path);
    hm_raster_source *source = NULL;
    assert_int_equal(hm_raster_source_open(ctx, path, &source), HM_OK);
    hm_ramp ramp;
    memset(&ramp, 0, sizeof ramp);
    for (int tile_size = 256; tile_size <= 512; tile_size += 256) {
        hm_render_settings settings;
        memset(&settings, 0, sizeof settings);
        settings.min_zoom = 11;
        settings.max_zoom = 16;
        settings.tile_size_px = tile_size;
        settings.resampling = HM_RESAMPLING_AUTO;
        settings.threshold = 0;
        settings.value_min = 0;
        settings.value_max = 150;
        settings.ramp = &ramp;
        settings.png = hm_png_default_settings();
        settings.threads = 2;
        settings.check_direct_warp = 1;
        settings.portable_direct_warp = portable;
        long long committed = 0;
        hm_render_counts counts;
        int status =
            hm_render_tiles(ctx, source, &settings, NULL, commit_nothing, &committed, NULL, NULL, &counts);
        if (status != HM_OK) print_error("%s\n", hm_error_message(ctx));
        assert_int_equal(status, HM_OK);
        print_message("%d px tiles: %lld warped, %lld of them directly (%s)\n", tile_size,
                      counts.tiles_warped, counts.tiles_warped_direct,
                      portable ? "portable" : "AVX2 where available");
        assert_true(counts.tiles_warped_direct > counts.tiles_warped / 2);
        assert_true(counts.tiles_warped_direct < counts.tiles_warped); /* edges, nodata, zoomed out: GDAL */
    }
    hm_raster_source_destroy(source);
    VSIUnlink(path);
    hm_ctx_destroy(ctx);
}

static void test_direct_bilinear_equals_gdal(void **state)
{
    (void)state;
    check_direct_bilinear(0);
    check_direct_bilinear(1);
}

int main(void)
{
    GDALAllRegister();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lattice_is_exact_enough),
        cmocka_unit_test(test_direct_bilinear_equals_gdal),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    GDALDestroyDriverManager();
    return failed;
}
