/* tile_grid.c - Web Mercator tile arithmetic; see tile_grid.h for the conventions. */
#include "tile_grid.h"

#include <math.h>

double hm_tile_resolution_m(int zoom, int tile_size_px)
{
    /* gdal2tiles: initialResolution = 2 * pi * 6378137 / tile_size; Resolution = initialResolution / 2**zoom
     * */
    double initial_resolution_m = 2 * M_PI * 6378137 / tile_size_px;
    return initial_resolution_m / ldexp(1.0, zoom);
}

hm_tile_bounds hm_tile_bounds_xyz(int zoom, int x, int y)
{
    /* gdal2tiles' TileBounds works on TMS rows with 256-pixel tiles: px * res - originShift. */
    const int tile_size_px = 256;
    int tms_y = hm_tile_flip_y(zoom, y);
    double res_m = hm_tile_resolution_m(zoom, tile_size_px);
    hm_tile_bounds b;
    b.min_x_m = (double)x * tile_size_px * res_m - HM_MERCATOR_ORIGIN_SHIFT_M;
    b.min_y_m = (double)tms_y * tile_size_px * res_m - HM_MERCATOR_ORIGIN_SHIFT_M;
    b.max_x_m = (double)(x + 1) * tile_size_px * res_m - HM_MERCATOR_ORIGIN_SHIFT_M;
    b.max_y_m = (double)(tms_y + 1) * tile_size_px * res_m - HM_MERCATOR_ORIGIN_SHIFT_M;
    return b;
}

int hm_tile_flip_y(int zoom, int y)
{
    return (int)((1LL << zoom) - 1 - y);
}

/* gdal2tiles' MetersToTile: pixels = (m + originShift) / res; tile = ceil(px / tile_size) - 1. */
static int meters_to_tile(double m, int zoom, int tile_size_px)
{
    double px = (m + HM_MERCATOR_ORIGIN_SHIFT_M) / hm_tile_resolution_m(zoom, tile_size_px);
    return (int)(ceil(px / (double)tile_size_px) - 1);
}

hm_tile_range hm_tile_range_for_extent(int zoom, int tile_size_px, const hm_tile_bounds *extent)
{
    int last = (int)((1LL << zoom) - 1);
    int tms_min_x = meters_to_tile(extent->min_x_m, zoom, tile_size_px);
    int tms_min_y = meters_to_tile(extent->min_y_m, zoom, tile_size_px);
    int tms_max_x = meters_to_tile(extent->max_x_m, zoom, tile_size_px);
    int tms_max_y = meters_to_tile(extent->max_y_m, zoom, tile_size_px);
    if (tms_min_x < 0) tms_min_x = 0;
    if (tms_min_y < 0) tms_min_y = 0;
    if (tms_max_x > last) tms_max_x = last;
    if (tms_max_y > last) tms_max_y = last;
    hm_tile_range r;
    r.zoom = zoom;
    r.min_x = tms_min_x;
    r.max_x = tms_max_x;
    /* TMS rows grow northwards; XYZ rows southwards. */
    r.min_y = hm_tile_flip_y(zoom, tms_max_y);
    r.max_y = hm_tile_flip_y(zoom, tms_min_y);
    return r;
}

long long hm_tile_range_count(const hm_tile_range *range)
{
    if (range->max_x < range->min_x || range->max_y < range->min_y) return 0;
    return (long long)(range->max_x - range->min_x + 1) * (range->max_y - range->min_y + 1);
}

void hm_mercator_to_lonlat(double x_m, double y_m, double *lon_deg, double *lat_deg)
{
    *lon_deg = (x_m / HM_MERCATOR_ORIGIN_SHIFT_M) * 180.0;
    double lat = (y_m / HM_MERCATOR_ORIGIN_SHIFT_M) * 180.0;
    *lat_deg = 180 / M_PI * (2 * atan(exp(lat * M_PI / 180.0)) - M_PI / 2.0);
}

void hm_lonlat_to_mercator(double lon_deg, double lat_deg, double *x_m, double *y_m)
{
    *x_m = lon_deg * HM_MERCATOR_ORIGIN_SHIFT_M / 180.0;
    double my = log(tan((90 + lat_deg) * M_PI / 360.0)) / (M_PI / 180.0);
    *y_m = my * HM_MERCATOR_ORIGIN_SHIFT_M / 180.0;
}
