/*
 * tile_grid.h - the Web Mercator tile pyramid (EPSG:3857), exactly as gdal2tiles' GlobalMercator defines it.
 *
 * The world is the square [-S, S] x [-S, S] metres with S = pi * 6378137 (20037508.342789244); zoom z cuts it
 * into 2^z x 2^z tiles, each tile_size_px pixels wide, so a pixel is 2 * S / (tile_size_px * 2^z) metres. The
 * formulas are written in the same order of operations as gdal2tiles (PixelsToMeters: px * res - S) so that
 * tile edges agree bit for bit, not just to a tolerance. Tiles are numbered XYZ (Google, y = 0 at the top)
 * inside harmmap; TMS (y = 0 at the bottom, the MBTiles row order and `--tms`) is hm_tile_flip_y away.
 *
 * The range of tiles covering a raster follows gdal2tiles too: the raster's EPSG:3857 extent (from
 * GDALSuggestedWarpOutput) goes through MetersToTile, ceil(px / tile_size) - 1, which puts an extent that
 * ends exactly on a tile edge into the tile below that edge.
 */
#ifndef HM_TILE_GRID_H
#define HM_TILE_GRID_H

#define HM_MERCATOR_ORIGIN_SHIFT_M 20037508.342789244 /* pi * 6378137, gdal2tiles' originShift */
#define HM_MAX_ZOOM 30

typedef struct hm_tile_bounds {
    double min_x_m, min_y_m, max_x_m, max_y_m; /* EPSG:3857 */
} hm_tile_bounds;

/* An inclusive rectangle of XYZ tiles at one zoom. Empty when max < min. */
typedef struct hm_tile_range {
    int zoom;
    int min_x, min_y, max_x, max_y;
} hm_tile_range;

/* Metres per pixel at `zoom` (gdal2tiles' Resolution). */
double hm_tile_resolution_m(int zoom, int tile_size_px);

/* Bounds of XYZ tile (zoom, x, y) in EPSG:3857 metres; the same for any tile size. */
hm_tile_bounds hm_tile_bounds_xyz(int zoom, int x, int y);

/* XYZ <-> TMS row: y' = 2^zoom - 1 - y (its own inverse). */
int hm_tile_flip_y(int zoom, int y);

/* The tiles that cover an EPSG:3857 extent at `zoom`, as gdal2tiles computes its tminmax, in XYZ rows. */
hm_tile_range hm_tile_range_for_extent(int zoom, int tile_size_px, const hm_tile_bounds *extent);

long long hm_tile_range_count(const hm_tile_range *range);

/* Spherical Mercator <-> WGS84 longitude/latitude in degrees (gdal2tiles' MetersToLatLon / LatLonToMeters).
 * */
void hm_mercator_to_lonlat(double x_m, double y_m, double *lon_deg, double *lat_deg);
void hm_lonlat_to_mercator(double lon_deg, double lat_deg, double *x_m, double *y_m);

#endif
