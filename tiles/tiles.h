/*
 * tiles.h - the public face of harmmap_tiles: a raster surface to a web map tile set.
 *
 *   surface.tif (Float32, any CRS PROJ knows)
 *     -> raster_source: checked, read into memory, extent in EPSG:3857
 *     -> tile_render:   warped per block with GDAL's warper, coloured through a ramp, PNG-encoded, N threads
 *     -> tile_store:    DIR/{z}/{x}/{y}.png (TMS rows with tms), built beside DIR and swapped in
 *        mbtiles:       the same tiles in an MBTiles 1.3 file (optional)
 *        manifest:      per-tile hashes, so that `update` redraws only tiles whose cells changed
 *        legend, viewer: legend.png and an offline index.html
 *
 * This library knows rasters, colour ramps and tiles, not what the values mean: the engine's `tiles` command
 * (engine/tiles_command.c) parses the command line into hm_tileset_options and calls hm_tileset_build.
 */
#ifndef HM_TILES_H
#define HM_TILES_H

#include "context.h"
#include "png_encode.h"
#include "tile_render.h"

#include <gdal.h>

typedef enum hm_range_mode {
    HM_RANGE_KEEP = 0, /* the previous tile set's range when there is one, else as AUTO (the default) */
    HM_RANGE_AUTO,     /* threshold .. the surface's maximum */
    HM_RANGE_FIXED     /* range_min .. range_max */
} hm_range_mode;

typedef struct hm_tileset_options {
    const char *input_path;
    const char *output_dir;
    const char *mbtiles_path; /* NULL: no MBTiles */
    int min_zoom, max_zoom;   /* default 8-15 */
    int tile_size_px;         /* 256 or 512 */
    const char *ramp;         /* a name in ramp_dir or a file path; default viridis */
    const char *ramp_dir;
    hm_range_mode range_mode;
    double range_min, range_max;
    double threshold; /* values <= threshold are transparent; default 0 */
    int tms;
    int threads; /* 0: one per processor */
    int update;  /* redraw only tiles whose cells changed since the previous run */
    int force;   /* allow more than max_tiles tile positions */
    long long max_tiles;
    hm_resampling resampling;
    hm_png_settings png;
    const char *title; /* MBTiles name and the viewer's title; default: the input's file name */
    const char *attribution;
    const char *overlay_path; /* vector boundaries shown in the viewer */
    const char *overlay_layer;
    const char *leaflet_dir;
} hm_tileset_options;

#define HM_TILES_DEFAULT_MAX 2000000LL

void hm_tileset_options_init(hm_tileset_options *options);

typedef struct hm_tileset_summary {
    hm_render_counts counts;
    double range_min, range_max;
    int range_from_previous; /* the range was kept from the previous tile set */
    int full_render;         /* 0 when an update reused the previous tiles */
    char full_render_reason[160];
    double seconds;
} hm_tileset_summary;

int hm_tileset_build(hm_ctx *ctx, const hm_tileset_options *options, GDALProgressFunc progress,
                     void *progress_data, hm_tileset_summary *summary);

/* Whether hm_tileset_build could replace `output_dir` (tile_store.h): for callers that check everything before
 * they start, as the pipeline does. */
int hm_tileset_check_output(hm_ctx *ctx, const char *output_dir);

#endif
