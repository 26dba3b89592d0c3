/*
 * tile_render.h - the renderer: the surface warped to Web Mercator and cut into indexed PNG tiles, on N
 * threads, handed back in a fixed order.
 *
 * Work is handed out in blocks of up to HM_RENDER_BLOCK_TILES x HM_RENDER_BLOCK_TILES tiles (block = tile / 4
 * at each zoom, clipped to the tiles that cover the raster). For each tile of a block a worker
 *   1. finds each tile's source window: the exact inverse transform of points along the tile's edges, widened
 *      by the resampling kernel's reach, and hashes the window's cells (XXH3-128), noting whether any cell is
 *      above the threshold. A tile whose window has nothing to draw is empty without warping; a tile whose
 *      hash equals the previous run's is reused (the caller's `reuse` callback decides, see tiles.c);
 *   2. warps each tile to draw with GDAL's warper (GDALWarpRegionToBuffer on the zoom's global pixel grid,
 *      bilinear when zoomed in past the source cells and average when zoomed out), reading exactly the hashed
 *      window, through a transformer that interpolates the exact transformation on a lattice fixed in the
 *      zoom's pixel grid (tile_render.c says why GDAL's approximate transformer would not do); bilinear tiles
 *      over valid cells, most of a set, take GDAL's arithmetic directly, bit for bit (warp_tile_bilinear,
 * four pixels at a time with AVX2 where the processor has it);
 *   3. maps the values to palette indices (ramp.h), skips tiles with nothing visible, reuses one encoding for
 *      uniform tiles, and encodes the rest as PNG.
 *
 * Determinism: a tile's pixels are a function of its window's cells, its position and the settings alone (the
 * lattice is global, the kernel's scale fixed per zoom, the source window the hashed one). Hence tiles are
 * byte-identical for any --threads, and re-rendering only the tiles whose window hash changed gives exactly
 * what a full render gives.
 * Blocks are handed to `commit` on the calling thread in block order (a small reorder window keeps memory
 * bounded), so files, MBTiles rows and the manifest are written in the same order every time.
 */
#ifndef HM_TILE_RENDER_H
#define HM_TILE_RENDER_H

#include "context.h"
#include "png_encode.h"
#include "ramp.h"
#include "raster_source.h"
#include "tile_grid.h"

#include <gdal.h>
#include <stdint.h>

#define HM_RENDER_BLOCK_TILES 4      /* tiles per block side: the unit of scheduling and of ordered commits */
#define HM_RENDER_LATTICE_PX 16      /* spacing of the exactly transformed lattice the warper interpolates, */
#define HM_RENDER_LATTICE_MAX_M 2000 /* halved at low zooms until a lattice cell is at most this wide */

typedef enum hm_resampling {
    HM_RESAMPLING_AUTO = 0, /* bilinear when a tile pixel is smaller than a cell, average when larger */
    HM_RESAMPLING_NEAR,
    HM_RESAMPLING_BILINEAR,
    HM_RESAMPLING_CUBIC,
    HM_RESAMPLING_AVERAGE
} hm_resampling;

int hm_resampling_from_name(const char *name); /* -1 when unknown */
const char *hm_resampling_name(hm_resampling resampling);

typedef struct hm_hash128 {
    uint64_t high, low;
} hm_hash128;

typedef enum hm_tile_state {
    HM_TILE_NOTHING_TO_DRAW =
        0,               /* no cell above the threshold under the tile: not written, not in the manifest */
    HM_TILE_DRAWN_EMPTY, /* drawn, and nothing visible: not written, kept in the manifest */
    HM_TILE_DRAWN,       /* drawn: png holds the file */
    HM_TILE_REUSED       /* unchanged since the previous run: the caller keeps its previous file */
} hm_tile_state;

typedef struct hm_tile_result {
    int zoom, x, y; /* XYZ */
    hm_tile_state state;
    hm_hash128 source_hash; /* of the tile's source window (not set for NOTHING_TO_DRAW) */
    hm_hash128 png_hash;    /* of the PNG bytes (DRAWN; REUSED copies it from the caller) */
    hm_hash128 pixels_hash; /* of the palette indices (DRAWN; REUSED when the caller knows it) */
    int has_pixels_hash;
    hm_buffer png; /* DRAWN only */
} hm_tile_result;

typedef struct hm_render_settings {
    int min_zoom, max_zoom;
    int tile_size_px;
    hm_resampling resampling;
    double threshold;            /* values <= threshold are transparent */
    double value_min, value_max; /* the colour scale */
    const hm_ramp *ramp;
    hm_png_settings png;
    int threads;
    int check_direct_warp; /* tests: warp directly-warped tiles with GDAL too and fail unless bit-identical */
    int portable_direct_warp; /* tests: the portable direct warp even where the AVX2 one would run */
} hm_render_settings;

/* Called from worker threads, twice at most per tile. First with pixels_hash NULL, before warping: return 1
 * (and set *was_empty, or *png_hash and *pixels_hash when known) when the previous run's tile had this source
 * hash, 0 to draw it. Then, for a tile drawn with something visible, with the hash of its palette indices:
 * return 1 (and set *png_hash) when the previous run's tile had exactly these pixels, so that its PNG, the
 * same bytes an encoding would give (they follow from the indices and the settings), is kept instead of
 * encoded and written again. Must be thread-safe. */
typedef int (*hm_tile_reuse_fn)(void *user, int zoom, int x, int y, hm_hash128 source_hash,
                                const hm_hash128 *pixels_hash, int *was_empty, hm_hash128 *png_hash,
                                hm_hash128 *known_pixels_hash, int *has_known_pixels_hash);
/* Called on the calling thread, in block order. Return HM_OK or an error (recorded in ctx) to stop. */
typedef int (*hm_tile_commit_fn)(void *user, const hm_tile_result *tiles, int count);

typedef struct hm_render_counts {
    long long positions;       /* tile positions in the zoom ranges */
    long long nothing_to_draw; /* skipped by the source check */
    long long drawn;           /* warped and coloured this run (written or found empty) */
    long long written;         /* drawn and not empty */
    long long uniform;         /* written from the uniform-tile cache */
    long long reused;          /* kept from the previous run (not counting tiles that stay empty) */
    long long same_pixels;     /* of those, drawn again (cells changed) and found with the same pixels */
    long long tiles_warped;
    long long
        tiles_warped_direct; /* of those, by warp_tile_bilinear (tile_render.c) rather than GDAL's call */
} hm_render_counts;

/* The tiles covering the source at each zoom; returns the total number of positions. */
long long hm_render_ranges(const hm_raster_source *source, const hm_render_settings *settings,
                           hm_tile_range *ranges /* [max_zoom + 1] */);

int hm_render_tiles(hm_ctx *ctx, const hm_raster_source *source, const hm_render_settings *settings,
                    hm_tile_reuse_fn reuse, hm_tile_commit_fn commit, void *user, GDALProgressFunc progress,
                    void *progress_data, hm_render_counts *counts);

/* The largest distance, in source cells, between the lattice interpolation the warper is given and GDAL's
 * exact transformation, over pixel centres of nine tiles spread over the zoom's range (for tests and
 * diagnostics). */
int hm_render_lattice_error(hm_ctx *ctx, const hm_raster_source *source, int zoom, int tile_size_px,
                            double *max_error_cells);

/* Hex form of a hash (32 characters + NUL) and back (0 or -1). */
void hm_hash128_format(hm_hash128 hash, char text[33]);
int hm_hash128_parse(const char *text, hm_hash128 *hash);
hm_hash128 hm_hash128_of(const void *data, size_t size);

#endif
