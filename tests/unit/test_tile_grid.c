/* Unit tests for tiles/tile_grid.c: tile bounds against the standard formulas and, bit for bit, against
 * gdal2tiles' GlobalMercator (values printed by GDAL 3.6.2's osgeo_utils.gdal2tiles, see each table). */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "tile_grid.h"

/* /usr/bin/python3 -c "from osgeo_utils.gdal2tiles import GlobalMercator; m = GlobalMercator(256);
 *   print(m.TileBounds(x, 2**z - 1 - y, z))"  (TileBounds takes TMS rows; these are XYZ) */
static const struct {
    int zoom, x, y;
    double min_x, min_y, max_x, max_y;
} gdal2tiles_bounds[] = {
    {0, 0, 0, -20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244},
    {1, 1, 0, 0.0, 0.0, 20037508.342789244, 20037508.342789244},
    {8, 126, 85, -313086.06785608083, 6574807.42497772, -156543.03392804042, 6731350.45890576},
    {12, 2024, 1368, -234814.55089206249, 6643295.00232124, -225030.6112715602, 6653078.941941742},
    {15, 16113, 10887, -331430.95464452356, 6721566.519285258, -330207.9621919617, 6722789.5117378235},
    {20, 518000, 350000, -240318.01692859456, 6660990.174369257, -240279.79841445014, 6661028.392883398},
};

static void test_bounds_equal_gdal2tiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof gdal2tiles_bounds / sizeof gdal2tiles_bounds[0]; i++) {
        hm_tile_bounds b =
            hm_tile_bounds_xyz(gdal2tiles_bounds[i].zoom, gdal2tiles_bounds[i].x, gdal2tiles_bounds[i].y);
        /* Exact: the same operations in the same order give the same doubles. */
        assert_true(b.min_x_m == gdal2tiles_bounds[i].min_x);
        assert_true(b.min_y_m == gdal2tiles_bounds[i].min_y);
        assert_true(b.max_x_m == gdal2tiles_bounds[i].max_x);
        assert_true(b.max_y_m == gdal2tiles_bounds[i].max_y);
    }
}

/* The slippy-map formulas (OpenStreetMap wiki): lon = x / 2^z * 360 - 180,
 * lat = atan(sinh(pi * (1 - 2 y / 2^z))), then spherical Mercator metres. */
static void test_bounds_match_standard_formulas(void **state)
{
    (void)state;
    const int cases[][3] = {{0, 0, 0}, {3, 2, 5}, {10, 505, 340}, {14, 8040, 5460}, {18, 130000, 87000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int z = cases[i][0], x = cases[i][1], y = cases[i][2];
        double n = ldexp(1.0, z);
        double west = x / n * 360 - 180, east = (x + 1) / n * 360 - 180;
        double north = atan(sinh(M_PI * (1 - 2 * y / n))) * 180 / M_PI;
        double south = atan(sinh(M_PI * (1 - 2 * (y + 1) / n))) * 180 / M_PI;
        double min_x, min_y, max_x, max_y;
        hm_lonlat_to_mercator(west, south, &min_x, &min_y);
        hm_lonlat_to_mercator(east, north, &max_x, &max_y);
        hm_tile_bounds b = hm_tile_bounds_xyz(z, x, y);
        assert_true(fabs(b.min_x_m - min_x) < 1e-6);
        assert_true(fabs(b.max_x_m - max_x) < 1e-6);
        /* Latitude round trip through sinh/atan and log/tan: within a micrometre scaled by the world size. */
        assert_true(fabs(b.min_y_m - min_y) < 1e-6 * (1 + fabs(min_y) / 1e6));
        assert_true(fabs(b.max_y_m - max_y) < 1e-6 * (1 + fabs(max_y) / 1e6));
        double lon, lat;
        hm_mercator_to_lonlat(b.max_x_m, b.max_y_m, &lon, &lat);
        assert_true(fabs(lon - east) < 1e-9 && fabs(lat - north) < 1e-9);
    }
}

static void test_resolution_and_flip(void **state)
{
    (void)state;
    assert_true(fabs(hm_tile_resolution_m(0, 256) - 156543.03392804062) < 1e-9);
    assert_true(hm_tile_resolution_m(1, 512) * 2 == hm_tile_resolution_m(0, 512));
    assert_int_equal(hm_tile_flip_y(15, 10887), 32767 - 10887);
    assert_int_equal(hm_tile_flip_y(15, hm_tile_flip_y(15, 123)), 123);
    /* 512-pixel tiles cover the same ground as 256-pixel tiles of the same z/x/y. */
    assert_true(hm_tile_resolution_m(12, 512) * 512 == hm_tile_resolution_m(12, 256) * 256);
}

/* gdal2tiles' tminmax for extent (-300000.5, 6600000.25, -200000, 6700000) (MetersToTile, printed by
 * GDAL 3.6.2): z8 TMS 126..126 x 170..170, z12 2017..2027 x 2722..2732, z15 16138..16220 x 21780..21862. */
static void test_range_equals_gdal2tiles(void **state)
{
    (void)state;
    hm_tile_bounds extent = {-300000.5, 6600000.25, -200000.0, 6700000.0};
    const int expected[][5] = {
        {8, 126, 170, 126, 170}, {12, 2017, 2722, 2027, 2732}, {15, 16138, 21780, 16220, 21862}};
    for (int i = 0; i < 3; i++) {
        int z = expected[i][0];
        hm_tile_range r = hm_tile_range_for_extent(z, 256, &extent);
        assert_int_equal(r.min_x, expected[i][1]);
        assert_int_equal(r.max_x, expected[i][3]);
        assert_int_equal(r.min_y, hm_tile_flip_y(z, expected[i][4]));
        assert_int_equal(r.max_y, hm_tile_flip_y(z, expected[i][2]));
        assert_int_equal(hm_tile_range_count(&r), (long long)(expected[i][3] - expected[i][1] + 1) *
                                                      (expected[i][4] - expected[i][2] + 1));
    }
    /* An extent ending exactly on a tile edge stays in the tile below the edge (ceil(px / 256) - 1). */
    hm_tile_bounds edge = {0.0, 0.0, HM_MERCATOR_ORIGIN_SHIFT_M, HM_MERCATOR_ORIGIN_SHIFT_M};
    hm_tile_range r = hm_tile_range_for_extent(1, 256, &edge);
    assert_int_equal(r.min_x, 0); /* gdal2tiles: MetersToTile(0) at z1 = ceil(1) - 1 = 0 */
    assert_int_equal(r.max_x, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_equal_gdal2tiles),
        cmocka_unit_test(test_bounds_match_standard_formulas),
        cmocka_unit_test(test_resolution_and_flip),
        cmocka_unit_test(test_range_equals_gdal2tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
