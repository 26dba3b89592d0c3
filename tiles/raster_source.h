/*
 * raster_source.h - the surface to be tiled: a single-band raster read whole into memory as Float32.
 *
 * Reading once and sharing the values is what lets every worker thread warp and hash without touching the
 * file: each thread gets its own GDAL MEM dataset over the same read-only buffer (GDAL dataset handles are
 * not thread-safe, the bytes under them are). A 60 km x 40 km surface at 10 m cells is 96 MB.
 *
 * Opening checks what the tiler needs and says how to fix what is missing: a geotransform without rotation, a
 * CRS, and a transformation from that CRS to Web Mercator (EPSG:3857). The EPSG:3857 extent comes from
 * GDALSuggestedWarpOutput with GDAL's exact transformer, as gdal2tiles gets it through
 * GDALAutoCreateWarpedVRT, so both pick the same tiles.
 */
#ifndef HM_RASTER_SOURCE_H
#define HM_RASTER_SOURCE_H

#include "context.h"
#include "tile_grid.h"

#include <gdal.h>

typedef struct hm_raster_source {
    char *path;
    int width, height;
    double geotransform[6];
    char *srs_wkt;      /* the raster's CRS */
    char *mercator_wkt; /* EPSG:3857 */
    int has_nodata;
    double nodata;
    float *values; /* width * height, row-major; nodata values are kept as they are */
    /* Over values that are finite and not nodata: */
    long long valid_count;
    double value_min, value_max;
    hm_tile_bounds extent_3857;
    char srs_name[128];
} hm_raster_source;

int hm_raster_source_open(hm_ctx *ctx, const char *path, hm_raster_source **out);
hm_raster_source *hm_raster_source_destroy(hm_raster_source *source);

/* A dataset handle over the shared values for one thread; close with GDALClose. */
GDALDatasetH hm_raster_source_dataset(hm_ctx *ctx, const hm_raster_source *source);

/* Largest value > threshold among valid values, or threshold when none. */
double hm_raster_source_max_above(const hm_raster_source *source, double threshold);

#endif
