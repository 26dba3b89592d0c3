/*
 * tiles.c - build a tile set: the steps in tiles.h, in an order that keeps the previous set safe.
 *
 * Everything that can be checked before drawing is checked first (options, the raster, the ramp, the number
 * of tiles, the output folder), so bad input costs nothing and touches nothing. Drawing then writes only into
 * the new folder and the MBTiles temporary file; the MBTiles file is renamed into place and the folder
 * swapped in last (tile_store.h). Any error on the way removes the new files and leaves the previous set as
 * it was.
 *
 * The colour range is part of a tile's bytes, so it is held fixed: by default a run keeps the range recorded
 * in the previous set's manifest (last week's and this week's tiles stay comparable), `--range auto` takes it
 * from the surface, `--range MIN,MAX` fixes it. An update reuses a previous tile only when the settings hash
 * (range, ramp, threshold, tile size, resampling, PNG settings, the raster's grid and CRS, and the GDAL,
 * libpng and zlib versions) is unchanged and the hash of the tile's source window matches.
 */
#include "tiles.h"

#include "legend.h"
#include "manifest.h"
#include "mbtiles.h"
#include "ramp.h"
#include "raster_source.h"
#include "tile_grid.h"
#include "tile_store.h"
#include "viewer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#ifndef HM_RAMP_DIR
#define HM_RAMP_DIR "data/ramps"
#endif

void hm_tileset_options_init(hm_tileset_options *o)
{
    memset(o, 0, sizeof *o);
    o->min_zoom = 8;
    o->max_zoom = 15;
    o->tile_size_px = 256;
    o->ramp = "viridis";
    o->ramp_dir = HM_RAMP_DIR;
    o->range_mode = HM_RANGE_KEEP;
    o->max_tiles = HM_TILES_DEFAULT_MAX;
    o->resampling = HM_RESAMPLING_AUTO;
    o->png = hm_png_default_settings();
}

typedef struct job {
    hm_ctx *ctx;
    const hm_tileset_options *options;
    hm_tile_store *store;
    hm_mbtiles *mbtiles;
    FILE *manifest_file;
    char manifest_path[PATH_MAX];
    hm_manifest previous;
    int previous_found;
    int reuse_allowed;
    hm_buffer file_buffer;
} job;

static int check_options(hm_ctx *ctx, const hm_tileset_options *o)
{
    if (!o->input_path) return hm_error(ctx, HM_EINVAL, "give the surface to tile (a GeoTIFF)");
    if (!o->output_dir) return hm_error(ctx, HM_EINVAL, "-o: give the output folder");
    int top = o->tile_size_px == 512 ? 21 : 22;
    if (o->min_zoom < 0 || o->max_zoom > top || o->min_zoom > o->max_zoom)
        return hm_error(ctx, HM_EINVAL,
                        "--zoom %d-%d: zooms run from 0 to %d, the first no larger than the last",
                        o->min_zoom, o->max_zoom, top);
    if (o->tile_size_px != 256 && o->tile_size_px != 512)
        return hm_error(ctx, HM_EINVAL, "--tile-size %d: use 256 or 512", o->tile_size_px);
    if (!isfinite(o->threshold)) return hm_error(ctx, HM_EINVAL, "--threshold: give a finite number");
    if (o->range_mode == HM_RANGE_FIXED &&
        !(isfinite(o->range_min) && isfinite(o->range_max) && o->range_min < o->range_max))
        return hm_error(ctx, HM_EINVAL, "--range %g,%g: give MIN,MAX with MIN < MAX", o->range_min,
                        o->range_max);
    if (o->png.zlib_level < 0 || o->png.zlib_level > 9)
        return hm_error(ctx, HM_EINVAL, "--png-level %d: use 0 to 9", o->png.zlib_level);
    return HM_OK;
}

static void hash_text(XXH3_state_t *state, const char *name, const char *value)
{
    XXH3_128bits_update(state, name, strlen(name) + 1);
    XXH3_128bits_update(state, value, strlen(value) + 1);
}

static void hash_number(XXH3_state_t *state, const char *name, double value)
{
    char text[64];
    snprintf(text, sizeof text, "%.17g", value);
    hash_text(state, name, text);
}

/* Everything besides a tile's source cells that shapes its bytes. */
static hm_hash128 settings_hash(const hm_tileset_options *o, const hm_raster_source *source,
                                const hm_ramp *ramp, double range_min, double range_max)
{
    XXH3_state_t *state = XXH3_createState();
    hm_hash128 out = {0, 0};
    if (!state) return out;
    XXH3_128bits_reset(state);
    hash_text(state, "format", "harmmap tiles 2");
    hash_number(state, "lattice_px", HM_RENDER_LATTICE_PX);
    hash_number(state, "lattice_max_m", HM_RENDER_LATTICE_MAX_M);
    hash_number(state, "tile_size", o->tile_size_px);
    hash_number(state, "threshold", o->threshold);
    hash_number(state, "range_min", range_min);
    hash_number(state, "range_max", range_max);
    hash_text(state, "resampling", hm_resampling_name(o->resampling));
    hash_number(state, "png_level", o->png.zlib_level);
    hash_number(state, "png_filter", o->png.filter);
    hash_number(state, "png_strategy", o->png.strategy);
    hash_number(state, "tms", o->tms);
    XXH3_128bits_update(state, ramp->palette_rgba, sizeof ramp->palette_rgba);
    hash_text(state, "srs", source->srs_wkt);
    for (int i = 0; i < 6; i++)
        hash_number(state, "geotransform", source->geotransform[i]);
    hash_number(state, "width", source->width);
    hash_number(state, "height", source->height);
    hash_number(state, "nodata", source->has_nodata ? source->nodata : NAN);
    hash_text(state, "gdal", GDALVersionInfo("RELEASE_NAME"));
    hash_text(state, "libpng", PNG_LIBPNG_VER_STRING);
    hash_text(state, "zlib", zlibVersion());
    XXH128_hash_t h = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    out.high = h.high64;
    out.low = h.low64;
    return out;
}

static int same_hash(hm_hash128 a, hm_hash128 b)
{
    return a.high == b.high && a.low == b.low;
}

/* Before warping: the same source window as last time. After drawing (pixels_hash given): the same palette
 * indices as last time, hence the same PNG bytes (png_encode.h: they follow from the indices and the
 * settings, which the settings hash holds fixed). */
static int reuse_tile(void *user, int zoom, int x, int y, hm_hash128 source_hash,
                      const hm_hash128 *pixels_hash, int *was_empty, hm_hash128 *png_hash,
                      hm_hash128 *known_pixels_hash, int *has_known_pixels_hash)
{
    job *j = user;
    if (!j->reuse_allowed) return 0;
    const hm_manifest_entry *e = hm_manifest_find(&j->previous, zoom, x, y);
    if (!e) return 0;
    if (pixels_hash) {
        if (e->empty || !e->has_pixels_hash || !same_hash(e->pixels_hash, *pixels_hash)) return 0;
    } else {
        if (!same_hash(e->source_hash, source_hash)) return 0;
        if (e->empty) {
            *was_empty = 1;
            return 1;
        }
        /* Written before manifests held pixel hashes: draw it, so the manifest equals a full render's. */
        if (!e->has_pixels_hash) return 0;
    }
    char path[PATH_MAX];
    hm_tile_store_path(j->store, 1, zoom, x, y, path, sizeof path);
    if (access(path, R_OK) != 0) return 0; /* deleted by hand: draw it again */
    *png_hash = e->png_hash;
    if (!pixels_hash) {
        *known_pixels_hash = e->pixels_hash;
        *has_known_pixels_hash = 1;
    }
    return 1;
}

static int read_whole_file(hm_ctx *ctx, const char *path, hm_buffer *buffer)
{
    buffer->size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return hm_error(ctx, HM_EIO, "%s: cannot read: %s", path, strerror(errno));
    char chunk[16384];
    size_t n;
    int status = HM_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (hm_buffer_append(buffer, chunk, n) != 0) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory");
            break;
        }
    if (ferror(f)) status = hm_error(ctx, HM_EIO, "%s: read error", path);
    fclose(f);
    return status;
}

static int commit_tiles(void *user, const hm_tile_result *tiles, int count)
{
    job *j = user;
    hm_ctx *ctx = j->ctx;
    for (int i = 0; i < count; i++) {
        const hm_tile_result *t = &tiles[i];
        int status = HM_OK;
        const hm_hash128 *png_hash = NULL;
        switch (t->state) {
        case HM_TILE_NOTHING_TO_DRAW:
            continue;
        case HM_TILE_DRAWN_EMPTY:
            break;
        case HM_TILE_DRAWN:
            png_hash = &t->png_hash;
            status = hm_tile_store_write(ctx, j->store, t->zoom, t->x, t->y, t->png.data, t->png.size);
            if (status == HM_OK && j->mbtiles)
                status = hm_mbtiles_put_tile(ctx, j->mbtiles, t->zoom, t->x, t->y, t->png.data, t->png.size);
            break;
        case HM_TILE_REUSED:
            png_hash = &t->png_hash;
            status = hm_tile_store_keep(ctx, j->store, t->zoom, t->x, t->y);
            if (status == HM_OK && j->mbtiles) {
                char path[PATH_MAX];
                hm_tile_store_path(j->store, 0, t->zoom, t->x, t->y, path, sizeof path);
                status = read_whole_file(ctx, path, &j->file_buffer);
                if (status == HM_OK)
                    status = hm_mbtiles_put_tile(ctx, j->mbtiles, t->zoom, t->x, t->y, j->file_buffer.data,
                                                 j->file_buffer.size);
            }
            break;
        }
        if (status != HM_OK) return status;
        if (hm_manifest_write_tile(j->manifest_file, t->zoom, t->x, t->y, t->source_hash, png_hash,
                                   t->has_pixels_hash ? &t->pixels_hash : NULL) != 0)
            return hm_error(ctx, HM_EIO, "%s: cannot write: %s", j->manifest_path, strerror(errno));
    }
    return HM_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int write_mbtiles_metadata(hm_ctx *ctx, hm_mbtiles *m, const hm_tileset_options *o, const char *title,
                                  const hm_ramp *ramp, double west, double south, double east, double north,
                                  double range_min, double range_max)
{
    char bounds[128], center[128], minzoom[16], maxzoom[16], vmin[32], vmax[32], threshold[32],
        description[256];
    snprintf(bounds, sizeof bounds, "%.6f,%.6f,%.6f,%.6f", west, south, east, north);
    snprintf(center, sizeof center, "%.6f,%.6f,%d", (west + east) / 2, (south + north) / 2, o->min_zoom);
    snprintf(minzoom, sizeof minzoom, "%d", o->min_zoom);
    snprintf(maxzoom, sizeof maxzoom, "%d", o->max_zoom);
    snprintf(vmin, sizeof vmin, "%.17g", range_min);
    snprintf(vmax, sizeof vmax, "%.17g", range_max);
    snprintf(threshold, sizeof threshold, "%.17g", o->threshold);
    snprintf(description, sizeof description,
             "%s coloured with the %s ramp from %.6g to %.6g (values at or below %.6g are transparent)",
             base_name(o->input_path), ramp->name, range_min, range_max, o->threshold);
    const char *rows[][2] = {
        {"name", title},
        {"format", "png"},
        {"bounds", bounds},
        {"center", center},
        {"minzoom", minzoom},
        {"maxzoom", maxzoom},
        {"attribution", o->attribution ? o->attribution : ""},
        {"type", "overlay"},
        {"version", "1"},
        {"description", description},
        {"value_min", vmin},
        {"value_max", vmax},
        {"value_threshold", threshold},
        {"ramp", ramp->name},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int status = hm_mbtiles_put_metadata(ctx, m, rows[i][0], rows[i][1]);
        if (status != HM_OK) return status;
    }
    return HM_OK;
}

static int tileset_build(hm_ctx *ctx, const hm_tileset_options *o, GDALProgressFunc progress,
                         void *progress_data, hm_tileset_summary *summary);

int hm_tileset_check_output(hm_ctx *ctx, const char *output_dir)
{
    return hm_tile_store_check(ctx, output_dir);
}

/* Tiles are no more readable than the surface they show (a surface made from intelligence is owner-only, and
 * even the names of the tile files tell where it is): the permission bits the input lacks are added to the
 * umask while the folder, tiles and MBTiles are created. */
int hm_tileset_build(hm_ctx *ctx, const hm_tileset_options *o, GDALProgressFunc progress, void *progress_data,
                     hm_tileset_summary *summary)
{
    struct stat info;
    mode_t narrower = o->input_path && stat(o->input_path, &info) == 0 ? (~info.st_mode & 0077) : 0;
    mode_t saved_umask = umask(0);
    umask(saved_umask | narrower);
    int status = tileset_build(ctx, o, progress, progress_data, summary);
    umask(saved_umask);
    return status;
}

static int tileset_build(hm_ctx *ctx, const hm_tileset_options *o, GDALProgressFunc progress,
                         void *progress_data, hm_tileset_summary *summary)
{
    double started = hm_monotonic_seconds();
    memset(summary, 0, sizeof *summary);
    job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    j.options = o;
    hm_raster_source *source = NULL;
    hm_ramp ramp;
    int status = check_options(ctx, o);
    if (status != HM_OK) return status;
    if ((status = hm_raster_source_open(ctx, o->input_path, &source)) != HM_OK) return status;
    if ((status = hm_ramp_load(ctx, o->ramp, o->ramp_dir, &ramp)) != HM_OK) {
        hm_error_prefix(ctx, "--ramp %s", o->ramp);
        goto done;
    }

    /* Refuse tile counts nobody means before touching anything. */
    hm_render_settings settings;
    memset(&settings, 0, sizeof settings);
    settings.min_zoom = o->min_zoom;
    settings.max_zoom = o->max_zoom;
    settings.tile_size_px = o->tile_size_px;
    hm_tile_range ranges[HM_MAX_ZOOM + 1];
    long long positions = hm_render_ranges(source, &settings, ranges);
    if (positions > o->max_tiles && !o->force) {
        long long first_ok = -1;
        long long running = 0;
        for (int z = o->min_zoom; z <= o->max_zoom; z++) {
            running += hm_tile_range_count(&ranges[z]);
            if (running <= o->max_tiles) first_ok = z;
        }
        char hint[96] = "";
        if (first_ok >= o->min_zoom)
            snprintf(hint, sizeof hint, " (--zoom %d-%lld stays under it)", o->min_zoom, first_ok);
        status = hm_error(ctx, HM_EINVAL,
                          "--zoom %d-%d covers %lld tile positions over %s, more than the limit of "
                          "%lld; lower the top zoom%s, or add --force if you mean it",
                          o->min_zoom, o->max_zoom, positions, base_name(o->input_path), o->max_tiles, hint);
        goto done;
    }

    if ((status = hm_tile_store_begin(ctx, o->output_dir, o->tms, &j.store)) != HM_OK) goto done;

    if (hm_tile_store_has_previous(j.store)) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", o->output_dir, HM_MANIFEST_NAME);
        if (hm_manifest_read(ctx, path, &j.previous, &j.previous_found) != HM_OK) {
            hm_warn(ctx, "%s; ignoring the previous tile set", hm_error_message(ctx));
            hm_error_clear(ctx);
            j.previous_found = 0;
        }
    }

    double range_min, range_max;
    if (o->range_mode == HM_RANGE_FIXED) {
        range_min = o->range_min;
        range_max = o->range_max;
    } else if (o->range_mode == HM_RANGE_KEEP && j.previous_found &&
               j.previous.range_max > j.previous.range_min) {
        range_min = j.previous.range_min;
        range_max = j.previous.range_max;
        summary->range_from_previous = 1;
    } else {
        range_min = o->threshold;
        range_max = hm_raster_source_max_above(source, o->threshold);
        if (!(range_max > range_min)) {
            hm_warn(ctx, "%s has no value above %g: the tile set will be empty", o->input_path, o->threshold);
            range_max = range_min + 1;
        }
    }
    summary->range_min = range_min;
    summary->range_max = range_max;
    /* A kept or given range is held fixed on purpose (comparable weeks), but cells above its top all get the top
     * colour: say so, since nothing on the map shows it. */
    double top = hm_raster_source_max_above(source, o->threshold);
    if (top > range_max)
        hm_warn(ctx,
                "%s reaches %.6g, above the top of the colour range (%.6g): those cells all show the top colour; "
                "widen the range (--range MIN,MAX; [tiles] range in a project) or use --range auto to tell them "
                "apart",
                base_name(o->input_path), top, range_max);

    hm_manifest header;
    memset(&header, 0, sizeof header);
    header.settings_hash = settings_hash(o, source, &ramp, range_min, range_max);
    header.range_min = range_min;
    header.range_max = range_max;
    header.threshold = o->threshold;
    header.min_zoom = o->min_zoom;
    header.max_zoom = o->max_zoom;
    header.tile_size_px = o->tile_size_px;
    header.tms = o->tms;
    snprintf(header.ramp, sizeof header.ramp, "%s", ramp.name);

    summary->full_render = 1;
    if (o->update) {
        if (!j.previous_found)
            snprintf(summary->full_render_reason, sizeof summary->full_render_reason,
                     "no previous tile set in %s", o->output_dir);
        else if (j.previous.settings_hash.high != header.settings_hash.high ||
                 j.previous.settings_hash.low != header.settings_hash.low)
            snprintf(summary->full_render_reason, sizeof summary->full_render_reason,
                     "the settings, colour range, raster grid or libraries differ from the previous run");
        else {
            j.reuse_allowed = 1;
            summary->full_render = 0;
        }
    }

    snprintf(j.manifest_path, sizeof j.manifest_path, "%s/%s", hm_tile_store_dir(j.store), HM_MANIFEST_NAME);
    j.manifest_file = fopen(j.manifest_path, "w");
    if (!j.manifest_file) {
        status = hm_error(ctx, HM_EIO, "%s: cannot create: %s", j.manifest_path, strerror(errno));
        goto done;
    }
    if ((status = hm_manifest_write_header(ctx, j.manifest_file, &header, o->input_path)) != HM_OK) goto done;
    if (o->mbtiles_path && (status = hm_mbtiles_create(ctx, o->mbtiles_path, &j.mbtiles)) != HM_OK) goto done;

    settings.resampling = o->resampling;
    settings.threshold = o->threshold;
    settings.value_min = range_min;
    settings.value_max = range_max;
    settings.ramp = &ramp;
    settings.png = o->png;
    /* For tests and for checking a new GDAL: every tile warped without GDAL's call is warped by it too and
     * must come out bit for bit the same (tile_render.c, warp_tile_bilinear). */
    settings.check_direct_warp = getenv("HM_TILES_CHECK_DIRECT_WARP") != NULL;
    settings.threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (settings.threads < 1) settings.threads = 1;
    /* The viewer's overlay is converted meanwhile (viewer.h); it is waited for even when drawing fails. */
    hm_viewer_overlay *overlay = NULL;
    if (o->overlay_path && (status = hm_viewer_overlay_start(ctx, hm_tile_store_dir(j.store), o->overlay_path,
                                                             o->overlay_layer, &overlay)) != HM_OK)
        goto done;
    status = hm_render_tiles(ctx, source, &settings, reuse_tile, commit_tiles, &j, progress, progress_data,
                             &summary->counts);
    int overlay_status = hm_viewer_overlay_finish(status == HM_OK ? ctx : NULL, overlay);
    if (status == HM_OK) status = overlay_status;
    if (status != HM_OK) goto done;
    int manifest_failed = ferror(j.manifest_file);
    if (fclose(j.manifest_file) != 0 || manifest_failed) {
        j.manifest_file = NULL;
        status = hm_error(ctx, HM_EIO, "%s: cannot write: %s", j.manifest_path, strerror(errno));
        goto done;
    }
    j.manifest_file = NULL;

    char legend_path[PATH_MAX + 16];
    snprintf(legend_path, sizeof legend_path, "%s/legend.png", hm_tile_store_dir(j.store));
    if ((status = hm_legend_write_png(ctx, legend_path, &ramp, range_min, range_max)) != HM_OK) goto done;

    double west, south, east, north;
    hm_mercator_to_lonlat(source->extent_3857.min_x_m, source->extent_3857.min_y_m, &west, &south);
    hm_mercator_to_lonlat(source->extent_3857.max_x_m, source->extent_3857.max_y_m, &east, &north);
    const char *title = o->title ? o->title : base_name(o->input_path);
    hm_viewer_info viewer = {title,
                             o->attribution,
                             o->min_zoom,
                             o->max_zoom,
                             o->tile_size_px,
                             o->tms,
                             west,
                             south,
                             east,
                             north,
                             range_min,
                             range_max,
                             o->threshold,
                             ramp.name,
                             o->overlay_path,
                             o->overlay_layer,
                             o->leaflet_dir,
                             o->overlay_path != NULL};
    if ((status = hm_viewer_write(ctx, hm_tile_store_dir(j.store), &viewer)) != HM_OK) goto done;

    if (j.mbtiles) {
        status = write_mbtiles_metadata(ctx, j.mbtiles, o, title, &ramp, west, south, east, north, range_min,
                                        range_max);
        if (status == HM_OK) status = hm_mbtiles_finish(ctx, j.mbtiles);
        j.mbtiles = NULL;
        if (status != HM_OK) goto done;
    }
    status = hm_tile_store_commit(ctx, j.store);
    j.store = NULL;
done:
    if (j.manifest_file) fclose(j.manifest_file);
    hm_mbtiles_abort(j.mbtiles);
    hm_tile_store_abort(j.store);
    hm_manifest_free(&j.previous);
    hm_buffer_free(&j.file_buffer);
    hm_raster_source_destroy(source);
    summary->seconds = hm_monotonic_seconds() - started;
    return status;
}
