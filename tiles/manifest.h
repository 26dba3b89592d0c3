/*
 * manifest.h - the tile set's manifest: what produced it and a content hash per tile, kept beside the tiles
 * as DIR/tiles-manifest.txt so that `--update` can tell which tiles must be drawn again.
 *
 *     # harmmap tiles manifest 1
 *     settings 5d0c...        hash of everything besides the source cells that shapes a tile's bytes
 *     range 0 212.40354919433594
 *     threshold 0
 *     zoom 8 15
 *     tile_size 256
 *     ramp viridis
 *     tms 0
 *     source /path/surface.tif
 *     8 126 85 <source window hash> <png hash | -> [<pixels hash>]
 *     ...
 *
 * A tile line is written for every tile that was drawn (x, y in XYZ numbering, whatever --tms says); "-"
 * marks one that drew nothing visible, so that it is not drawn again while its cells do not change. Tiles
 * with no cell above the threshold under them are not listed: the source check finds them again without
 * drawing. The pixels hash (of the tile's palette indices; manifests written before it lack it) lets an update
 * keep a tile whose cells changed but whose colours did not. Numbers are written with 17 significant digits so that the colour range read back is the same
 * double.
 */
#ifndef HM_MANIFEST_H
#define HM_MANIFEST_H

#include "context.h"
#include "tile_render.h"

#include <stdint.h>
#include <stdio.h>

#define HM_MANIFEST_NAME "tiles-manifest.txt"

typedef struct hm_manifest_entry {
    uint64_t key; /* hm_manifest_key(zoom, x, y) */
    hm_hash128 source_hash;
    hm_hash128 png_hash;
    hm_hash128 pixels_hash;
    int has_pixels_hash;
    int empty;
} hm_manifest_entry;

typedef struct hm_manifest {
    hm_hash128 settings_hash;
    double range_min, range_max;
    double threshold;
    int min_zoom, max_zoom;
    int tile_size_px;
    int tms;
    char ramp[64];
    hm_manifest_entry *entries; /* sorted by key after hm_manifest_read */
    size_t count, capacity;
} hm_manifest;

static inline uint64_t hm_manifest_key(int zoom, int x, int y)
{
    return ((uint64_t)zoom << 58) | ((uint64_t)x << 29) | (uint64_t)y;
}

/* Reads DIR's manifest. *found is 0 (and HM_OK returned) when there is none. */
int hm_manifest_read(hm_ctx *ctx, const char *path, hm_manifest *manifest, int *found);
void hm_manifest_free(hm_manifest *manifest);
const hm_manifest_entry *hm_manifest_find(const hm_manifest *manifest, int zoom, int x, int y);

/* Writing: the header, then one line per tile as they are committed. */
int hm_manifest_write_header(hm_ctx *ctx, FILE *file, const hm_manifest *manifest, const char *source_path);
/* png_hash NULL for a tile with nothing visible; pixels_hash NULL when unknown. */
int hm_manifest_write_tile(FILE *file, int zoom, int x, int y, hm_hash128 source_hash,
                           const hm_hash128 *png_hash, const hm_hash128 *pixels_hash);

#endif
