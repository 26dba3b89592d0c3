/* tile_render.c - warp, colour and encode tiles on worker threads (see tile_render.h for the design). */
#include "tile_render.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_alg.h>
#include <gdalwarper.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define HM_HAVE_AVX2_WARP 1
#include <immintrin.h>
#else
#define HM_HAVE_AVX2_WARP 0
#endif

#define EDGE_SAMPLES 16 /* points per tile edge when finding a tile's source window */
#define BLOCKS_IN_FLIGHT_PER_THREAD 4

int hm_resampling_from_name(const char *name)
{
    static const char *names[] = {"auto", "near", "bilinear", "cubic", "average"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

const char *hm_resampling_name(hm_resampling resampling)
{
    static const char *names[] = {"auto", "near", "bilinear", "cubic", "average"};
    return names[resampling];
}

void hm_hash128_format(hm_hash128 hash, char text[33])
{
    snprintf(text, 33, "%016llx%016llx", (unsigned long long)hash.high, (unsigned long long)hash.low);
}

int hm_hash128_parse(const char *text, hm_hash128 *hash)
{
    if (strlen(text) != 32) return -1;
    unsigned long long parts[2];
    for (int p = 0; p < 2; p++) {
        unsigned long long v = 0;
        for (int i = 0; i < 16; i++) {
            char c = text[p * 16 + i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + (unsigned long long)d;
        }
        parts[p] = v;
    }
    hash->high = parts[0];
    hash->low = parts[1];
    return 0;
}

hm_hash128 hm_hash128_of(const void *data, size_t size)
{
    XXH128_hash_t h = XXH3_128bits(data, size);
    hm_hash128 out = {h.high64, h.low64};
    return out;
}

typedef struct block {
    int zoom;
    int min_x, min_y, max_x, max_y; /* XYZ tiles, inclusive */
} block;

typedef struct block_slot {
    int done;
    hm_tile_result *tiles;
    int count;
} block_slot;

typedef struct shared_state {
    const hm_raster_source *source;
    const hm_render_settings *settings;
    hm_tile_reuse_fn reuse;
    void *user;
    block *blocks;
    int block_count;
    block_slot *slots;
    pthread_mutex_t mutex;
    pthread_cond_t work_ready, block_done;
    int next_block;
    int committed;
    int in_flight_limit;
    int failed;
    hm_status error_code;
    char error[1024];
    hm_render_counts counts;
    int use_avx2; /* warp_tile_bilinear_avx2 may run (see direct_bilinear) */
} shared_state;

typedef struct window {
    int x0, y0, x1, y1; /* source cells [x0, x1) x [y0, y1); empty when x1 <= x0 */
} window;

typedef struct worker {
    shared_state *shared;
    pthread_t thread;
    hm_ctx *ctx;
    GDALDatasetH dataset;
    int zoom;
    void *exact;
    /* Exact source positions of the lattice nodes around the block being processed, each transformed once,
     * when a tile first needs it (see nodes_begin). */
    struct {
        long long i0, j0; /* global lattice index of node 0 */
        int nx, ny;
        double *x, *y;
        signed char *ok; /* 1 transformed, 0 failed, -1 not yet (-2 queued for nodes_flush) */
        size_t capacity;
        double *queue_x, *queue_y, *queue_z; /* nodes_queue's points, transformed together by nodes_flush */
        int *queue_ok;
        size_t *queue_node;
        size_t queued;
    } nodes;
    /* The nodes covering the tile being warped, within `nodes` (see lattice_transform). */
    struct {
        int step_px;      /* lattice spacing at this zoom: see lattice_step_px */
        long long i0, j0; /* global lattice index of the tile's first node */
        int nx, ny;
        size_t stride; /* from one row of nodes to the next */
        const double *x, *y;
        const signed char *ok;
        double *row_x,
            *row_y; /* one row's values, interpolated down each lattice column (lattice_transform) */
        int *row_ok;
        size_t row_capacity;
    } lattice;
    GDALWarpOptions *warp_options;
    GDALWarpOperationH warp;
    double source_cells_per_pixel;
    int margin_cells;
    int direct_bilinear;   /* this zoom may take warp_tile_bilinear (see there) */
    double *row_x, *row_y; /* one row of pixel centres, for warp_tile_bilinear */
    int *row_ok;
    float *tile_values;
    float *check_values; /* settings->check_direct_warp: GDAL's answer, to compare */
    uint8_t *indices;
    hm_buffer uniform_png[256];
    hm_hash128 uniform_hash[256];
    XXH3_state_t *hash_state;
    hm_png_encoder *png;
    hm_render_counts counts;
} worker;

long long hm_render_ranges(const hm_raster_source *source, const hm_render_settings *settings,
                           hm_tile_range *ranges)
{
    long long total = 0;
    for (int z = settings->min_zoom; z <= settings->max_zoom; z++) {
        ranges[z] = hm_tile_range_for_extent(z, settings->tile_size_px, &source->extent_3857);
        total += hm_tile_range_count(&ranges[z]);
    }
    return total;
}

static void fail(shared_state *shared, hm_status code, const char *message)
{
    pthread_mutex_lock(&shared->mutex);
    if (!shared->failed) {
        shared->failed = 1;
        shared->error_code = code;
        snprintf(shared->error, sizeof shared->error, "%s", message);
    }
    pthread_cond_broadcast(&shared->work_ready);
    pthread_cond_broadcast(&shared->block_done);
    pthread_mutex_unlock(&shared->mutex);
}

static void release_zoom(worker *w)
{
    if (w->warp) GDALDestroyWarpOperation(w->warp);
    w->warp = NULL;
    if (w->warp_options) {
        w->warp_options->hSrcDS = NULL;
        w->warp_options->pTransformerArg = NULL;
        GDALDestroyWarpOptions(w->warp_options);
    }
    w->warp_options = NULL;
    if (w->exact) GDALDestroyGenImgProjTransformer(w->exact);
    w->exact = NULL;
    w->zoom = -1;
}

static int transform_to_source(worker *w, int count, double *x, double *y)
{
    double *z = calloc((size_t)count, sizeof *z);
    int *ok = calloc((size_t)count, sizeof *ok);
    int result = z && ok && GDALGenImgProjTransform(w->exact, TRUE, count, x, y, z, ok);
    for (int i = 0; result && i < count; i++)
        if (!ok[i]) result = 0;
    free(z);
    free(ok);
    return result;
}

/*
 * The warper's transformer. GDAL's approximate transformer interpolates along each row of the region being
 * warped, so its answer for a pixel depends on where the region starts and ends. Instead, the exact
 * transformation (GDALGenImgProjTransform: the raster's CRS to EPSG:3857 through PROJ) is evaluated on a
 * lattice fixed in the zoom's global pixel grid and interpolated bilinearly inside each lattice cell: a
 * pixel's source position is then a function of the pixel alone, whichever tile or region asks. The spacing
 * is HM_RENDER_LATTICE_PX pixels, halved at low zooms until a lattice cell is at most HM_RENDER_LATTICE_MAX_M
 * metres across (a power of two, so that dividing by it is exact): over 2 km the transformation between
 * British National Grid and Web Mercator is flat to a few centimetres, well under a hundredth of a 25 m cell
 * at every zoom (unit test test_tile_render). At zoom 12 and above that is at most 289 exact transforms for a
 * directly warped 256-pixel tile, fewer where its neighbours in the block shared them (nodes_begin), instead
 * of at least three per row.
 */
static int lattice_step_px(int zoom, int tile_size_px)
{
    double res_m = hm_tile_resolution_m(zoom, tile_size_px);
    int step = HM_RENDER_LATTICE_PX;
    while (step > 1 && step * res_m > HM_RENDER_LATTICE_MAX_M)
        step /= 2;
    return step;
}

/*
 * The nodes of a block: every tile of the block needs the nodes along its edges (tile_window) and a tile to
 * warp needs all the nodes of its lattice (lattice_prepare), tiles side by side share the nodes between them,
 * and most tiles of an update are not warped. So the exact transformation is computed per node, once per
 * block, for the nodes asked: queued, then transformed in one call. A node's position is a function of the
 * node alone (GDALGenImgProjTransform transforms each point on its own), so it does not matter which tile
 * asked first or which points shared the call.
 */
static int nodes_begin(worker *w, int min_x, int min_y, int max_x, int max_y)
{
    const long long per_tile = w->shared->settings->tile_size_px / w->lattice.step_px;
    /* lattice_prepare's reach for the first and last tiles */
    const long long i0 = min_x * per_tile - 1, i1 = (max_x + 1LL) * per_tile + 2;
    const long long j0 = min_y * per_tile - 1, j1 = (max_y + 1LL) * per_tile + 2;
    const int nx = (int)(i1 - i0 + 1), ny = (int)(j1 - j0 + 1);
    const size_t count = (size_t)nx * (size_t)ny;
    if (count > w->nodes.capacity) {
        free(w->nodes.x), free(w->nodes.y), free(w->nodes.ok);
        free(w->nodes.queue_x), free(w->nodes.queue_y), free(w->nodes.queue_z);
        free(w->nodes.queue_ok), free(w->nodes.queue_node);
        w->nodes.x = malloc(count * sizeof(double));
        w->nodes.y = malloc(count * sizeof(double));
        w->nodes.ok = malloc(count);
        w->nodes.queue_x = malloc(count * sizeof(double));
        w->nodes.queue_y = malloc(count * sizeof(double));
        w->nodes.queue_z = malloc(count * sizeof(double));
        w->nodes.queue_ok = malloc(count * sizeof(int));
        w->nodes.queue_node = malloc(count * sizeof(size_t));
        w->nodes.capacity = count;
        if (!w->nodes.x || !w->nodes.y || !w->nodes.ok || !w->nodes.queue_x || !w->nodes.queue_y ||
            !w->nodes.queue_z || !w->nodes.queue_ok || !w->nodes.queue_node) {
            w->nodes.capacity = 0;
            return hm_error(w->ctx, HM_ENOMEM, "out of memory");
        }
    }
    memset(w->nodes.ok, -1, count);
    w->nodes.i0 = i0;
    w->nodes.j0 = j0;
    w->nodes.nx = nx;
    w->nodes.ny = ny;
    w->nodes.queued = 0;
    return HM_OK;
}

static inline size_t node_at(const worker *w, long long i, long long j)
{
    return (size_t)(j - w->nodes.j0) * (size_t)w->nodes.nx + (size_t)(i - w->nodes.i0);
}

/* Queues node (i, j) (global lattice index, within the block's) unless it is known or queued already. */
static inline void nodes_queue(worker *w, long long i, long long j)
{
    const size_t n = node_at(w, i, j);
    if (w->nodes.ok[n] != -1) return;
    w->nodes.ok[n] = -2;
    const size_t q = w->nodes.queued++;
    w->nodes.queue_x[q] = (double)(i * w->lattice.step_px);
    w->nodes.queue_y[q] = (double)(j * w->lattice.step_px);
    w->nodes.queue_z[q] = 0;
    w->nodes.queue_node[q] = n;
}

static void nodes_flush(worker *w)
{
    const size_t count = w->nodes.queued;
    if (!count) return;
    GDALGenImgProjTransform(w->exact, TRUE, (int)count, w->nodes.queue_x, w->nodes.queue_y, w->nodes.queue_z,
                            w->nodes.queue_ok);
    for (size_t q = 0; q < count; q++) {
        const size_t n = w->nodes.queue_node[q];
        w->nodes.x[n] = w->nodes.queue_x[q];
        w->nodes.y[n] = w->nodes.queue_y[q];
        w->nodes.ok[n] = w->nodes.queue_ok[q] ? 1 : 0;
    }
    w->nodes.queued = 0;
}

/* The lattice of one tile (pixels [x0, x1) x [y0, y1) of the zoom's grid), with a node more on each side
 * and two more past the far edges, within the block's nodes (nodes_begin). Its nodes are transformed by
 * lattice_complete, or only those its pixels use by warp_tile_bilinear_avx2. */
static int lattice_prepare(worker *w, double x0, double y0, double x1, double y1)
{
    const int step = w->lattice.step_px;
    long long i0 = (long long)floor(x0 / step) - 1, i1 = (long long)floor(x1 / step) + 2;
    long long j0 = (long long)floor(y0 / step) - 1, j1 = (long long)floor(y1 / step) + 2;
    int nx = (int)(i1 - i0 + 1), ny = (int)(j1 - j0 + 1);
    if (i0 < w->nodes.i0 || j0 < w->nodes.j0 || i1 >= w->nodes.i0 + w->nodes.nx ||
        j1 >= w->nodes.j0 + w->nodes.ny)
        return hm_error(w->ctx, HM_EINTERNAL, "a tile's lattice reaches outside its block's");
    if ((size_t)nx > w->lattice.row_capacity) {
        free(w->lattice.row_x);
        free(w->lattice.row_y);
        free(w->lattice.row_ok);
        w->lattice.row_x = malloc((size_t)nx * sizeof(double));
        w->lattice.row_y = malloc((size_t)nx * sizeof(double));
        w->lattice.row_ok = malloc((size_t)nx * sizeof(int));
        w->lattice.row_capacity = (size_t)nx;
        if (!w->lattice.row_x || !w->lattice.row_y || !w->lattice.row_ok) {
            w->lattice.row_capacity = 0;
            return hm_error(w->ctx, HM_ENOMEM, "out of memory");
        }
    }
    const size_t first = node_at(w, i0, j0);
    w->lattice.i0 = i0;
    w->lattice.j0 = j0;
    w->lattice.nx = nx;
    w->lattice.ny = ny;
    w->lattice.stride = (size_t)w->nodes.nx;
    w->lattice.x = w->nodes.x + first;
    w->lattice.y = w->nodes.y + first;
    w->lattice.ok = w->nodes.ok + first;
    return HM_OK;
}

/* Every node of the tile's lattice (GDAL's warper may ask for any point of the tile). */
static void lattice_complete(worker *w)
{
    for (long long j = w->lattice.j0; j < w->lattice.j0 + w->lattice.ny; j++)
        for (long long i = w->lattice.i0; i < w->lattice.i0 + w->lattice.nx; i++)
            nodes_queue(w, i, j);
    nodes_flush(w);
}

static inline double lerp(double a, double b, double f)
{
    return a + f * (b - a);
}

/* floor() without the library call; exact for the values here (|v| < 2^52). */
static inline double floor_fast(double v)
{
    double t = (double)(long long)v;
    return t > v ? t - 1 : t;
}

/* A point is interpolated down its lattice cell's two columns at its row fraction, then across: the same
 * arithmetic whether it comes alone or in a row (GWK asks a row at a time, which the fast path below serves
 * by interpolating each column once per row), so that a point's answer never depends on the other points
 * asked. */
static int lattice_transform(void *arg, int dst_to_src, int count, double *x, double *y, double *z, int *ok)
{
    worker *w = arg;
    if (!dst_to_src) return GDALGenImgProjTransform(w->exact, FALSE, count, x, y, z, ok);
    const int nx = w->lattice.nx, ny = w->lattice.ny;
    const size_t stride = w->lattice.stride;
    const double *lx = w->lattice.x, *ly = w->lattice.y;
    const signed char *lok = w->lattice.ok;
    const double per_px = 1.0 / w->lattice.step_px; /* a power of two: x * per_px == x / step exactly */
    int same_row = count > 1;
    for (int k = 1; k < count && same_row; k++)
        same_row = y[k] == y[0];
    if (same_row) {
        double gy = y[0] * per_px, fj = floor_fast(gy), fy = gy - fj;
        long long j = (long long)fj - w->lattice.j0;
        if (j >= 0 && j + 1 < ny) {
            double *row_x = w->lattice.row_x, *row_y = w->lattice.row_y;
            int *row_ok = w->lattice.row_ok;
            for (int i = 0; i < nx; i++) {
                size_t n0 = (size_t)j * stride + (size_t)i, n1 = n0 + stride;
                row_x[i] = lerp(lx[n0], lx[n1], fy);
                row_y[i] = lerp(ly[n0], ly[n1], fy);
                row_ok[i] = lok[n0] & lok[n1];
            }
            for (int k = 0; k < count; k++) {
                double gx = x[k] * per_px, fi = floor_fast(gx);
                long long i = (long long)fi - w->lattice.i0;
                if (i < 0 || i + 1 >= nx || !(row_ok[i] & row_ok[i + 1])) {
                    ok[k] = 0;
                    continue;
                }
                double fx = gx - fi;
                x[k] = lerp(row_x[i], row_x[i + 1], fx);
                y[k] = lerp(row_y[i], row_y[i + 1], fx);
                if (z) z[k] = 0;
                ok[k] = 1;
            }
            return TRUE;
        }
    }
    for (int k = 0; k < count; k++) {
        double gx = x[k] * per_px, gy = y[k] * per_px;
        double fi = floor_fast(gx), fj = floor_fast(gy);
        long long i = (long long)fi - w->lattice.i0, j = (long long)fj - w->lattice.j0;
        if (i < 0 || j < 0 || i + 1 >= nx || j + 1 >= ny) {
            ok[k] = 0; /* outside the tile being warped: never asked for */
            continue;
        }
        size_t n00 = (size_t)j * stride + (size_t)i, n10 = n00 + 1, n01 = n00 + stride, n11 = n01 + 1;
        if (!(lok[n00] & lok[n10] & lok[n01] & lok[n11])) {
            ok[k] = 0;
            continue;
        }
        double fx = gx - fi, fy = gy - fj;
        x[k] = lerp(lerp(lx[n00], lx[n01], fy), lerp(lx[n10], lx[n11], fy), fx);
        y[k] = lerp(lerp(ly[n00], ly[n01], fy), lerp(ly[n10], ly[n11], fy), fx);
        if (z) z[k] = 0;
        ok[k] = 1;
    }
    return TRUE;
}

/* Transformers and the warp operation for one zoom: the destination is the zoom's whole pixel grid
 * (origin at the top-left corner of the world), so block offsets are plain pixel numbers. */
static int setup_zoom(worker *w, int zoom, const hm_tile_range *range)
{
    const hm_render_settings *settings = w->shared->settings;
    const hm_raster_source *source = w->shared->source;
    release_zoom(w);
    double res_m = hm_tile_resolution_m(zoom, settings->tile_size_px);
    double dst_gt[6] = {-HM_MERCATOR_ORIGIN_SHIFT_M, res_m, 0, HM_MERCATOR_ORIGIN_SHIFT_M, 0, -res_m};
    char **options = CSLSetNameValue(NULL, "DST_SRS", source->mercator_wkt);
    CPLErrorReset();
    w->exact = GDALCreateGenImgProjTransformer2(w->dataset, NULL, options);
    CSLDestroy(options);
    if (!w->exact)
        return hm_error(w->ctx, HM_EPROJ, "cannot transform %s to Web Mercator: %s", source->path,
                        CPLGetLastErrorMsg());
    GDALSetGenImgProjTransformerDstGeoTransform(w->exact, dst_gt);
    w->lattice.step_px = lattice_step_px(zoom, settings->tile_size_px);
    if (settings->tile_size_px % (EDGE_SAMPLES * w->lattice.step_px) !=
        0) /* tile_window's points are nodes */
        return hm_error(w->ctx, HM_EINVAL, "tiles of %d pixels are not supported", settings->tile_size_px);

    /* How many source cells one tile pixel spans, at the middle of the tiles: picks the resampling and the
     * kernel's reach. Fixed per zoom so that it cannot differ between blocks or runs. */
    double cx = ((range->min_x + range->max_x + 1) / 2.0) * settings->tile_size_px;
    double cy = ((range->min_y + range->max_y + 1) / 2.0) * settings->tile_size_px;
    double px[3] = {cx, cx + 1, cx}, py[3] = {cy, cy, cy + 1};
    double scale = 1.0;
    if (transform_to_source(w, 3, px, py)) {
        double sx = hypot(px[1] - px[0], py[1] - py[0]), sy = hypot(px[2] - px[0], py[2] - py[0]);
        scale = sx > sy ? sx : sy;
    }
    w->source_cells_per_pixel = scale;
    hm_resampling resampling = settings->resampling;
    if (resampling == HM_RESAMPLING_AUTO)
        resampling = scale > 1.0 ? HM_RESAMPLING_AVERAGE : HM_RESAMPLING_BILINEAR;
    /* GDAL takes its 4-sample bilinear formula when the kernel's scale is at least 0.95 (XSCALE = 1/scale).
     */
    w->direct_bilinear = resampling == HM_RESAMPLING_BILINEAR && scale <= 1.0;
    double reach = resampling == HM_RESAMPLING_CUBIC ? 2 : resampling == HM_RESAMPLING_NEAR ? 0 : 1;
    w->margin_cells = 2 + (int)ceil(reach * (scale > 1.0 ? scale : 1.0));

    GDALWarpOptions *o = GDALCreateWarpOptions();
    o->hSrcDS = w->dataset;
    o->hDstDS = NULL;
    o->nBandCount = 1;
    o->panSrcBands = CPLMalloc(sizeof(int));
    o->panDstBands = CPLMalloc(sizeof(int));
    o->panSrcBands[0] = o->panDstBands[0] = 1;
    static const GDALResampleAlg algorithms[] = {GRA_Bilinear, GRA_NearestNeighbour, GRA_Bilinear, GRA_Cubic,
                                                 GRA_Average};
    o->eResampleAlg = algorithms[resampling];
    o->eWorkingDataType = GDT_Float32;
    o->pfnTransformer = lattice_transform;
    o->pTransformerArg = w;
    if (source->has_nodata) {
        o->padfSrcNoDataReal = CPLMalloc(sizeof(double));
        o->padfSrcNoDataReal[0] = source->nodata;
    }
    /* One thread per warp (tiles are the parallelism); the kernel's scale fixed per zoom, not taken from the
     * size of the source window, so that a tile's pixels depend only on its own source cells. */
    char scale_text[64];
    snprintf(scale_text, sizeof scale_text, "%.17g", 1.0 / scale);
    o->papszWarpOptions = CSLSetNameValue(o->papszWarpOptions, "NUM_THREADS", "1");
    o->papszWarpOptions = CSLSetNameValue(o->papszWarpOptions, "XSCALE", scale_text);
    o->papszWarpOptions = CSLSetNameValue(o->papszWarpOptions, "YSCALE", scale_text);
    w->warp_options = o;
    w->warp = GDALCreateWarpOperation(o);
    if (!w->warp) return hm_error(w->ctx, HM_EGDAL, "cannot set up GDAL's warper: %s", CPLGetLastErrorMsg());
    w->zoom = zoom;
    return HM_OK;
}

/* The k-th of the 4 * EDGE_SAMPLES points around tile (x, y) where its source window is sought, as the
 * lattice node it falls on (setup_zoom checks that each does): along the top west to east, the east side
 * north to south, the bottom east to west and the west side south to north, in turn. */
static void edge_node(const worker *w, int x, int y, int k, long long *i, long long *j)
{
    const long long per_tile = w->shared->settings->tile_size_px / w->lattice.step_px;
    const long long along = (long long)(k / 4) * (per_tile / EDGE_SAMPLES);
    switch (k % 4) {
    case 0:
        *i = x * per_tile + along, *j = y * per_tile;
        break;
    case 1:
        *i = (x + 1) * per_tile, *j = y * per_tile + along;
        break;
    case 2:
        *i = (x + 1) * per_tile - along, *j = (y + 1) * per_tile;
        break;
    default:
        *i = x * per_tile, *j = (y + 1) * per_tile - along;
        break;
    }
}

/* The source cells a tile can read: the box around the exact transforms of points along its edges (queued
 * for the block by process_block), widened by the kernel's reach. */
static window tile_window(worker *w, int x, int y)
{
    const hm_raster_source *source = w->shared->source;
    double px[4 * EDGE_SAMPLES], py[4 * EDGE_SAMPLES];
    window win = {0, 0, source->width, source->height};
    for (int k = 0; k < 4 * EDGE_SAMPLES; k++) {
        long long i, j;
        edge_node(w, x, y, k, &i, &j);
        const size_t n = node_at(w, i, j);
        if (w->nodes.ok[n] != 1) return win; /* cannot tell: the whole raster */
        px[k] = w->nodes.x[n];
        py[k] = w->nodes.y[n];
    }
    const int n = 4 * EDGE_SAMPLES;
    double min_x = px[0], max_x = px[0], min_y = py[0], max_y = py[0];
    for (int i = 1; i < n; i++) {
        if (px[i] < min_x) min_x = px[i];
        if (px[i] > max_x) max_x = px[i];
        if (py[i] < min_y) min_y = py[i];
        if (py[i] > max_y) max_y = py[i];
    }
    double m = w->margin_cells;
    double x0 = floor(min_x) - m, x1 = ceil(max_x) + m, y0 = floor(min_y) - m, y1 = ceil(max_y) + m;
    win.x0 = x0 < 0 ? 0 : x0 > source->width ? source->width : (int)x0;
    win.x1 = x1 < 0 ? 0 : x1 > source->width ? source->width : (int)x1;
    win.y0 = y0 < 0 ? 0 : y0 > source->height ? source->height : (int)y0;
    win.y1 = y1 < 0 ? 0 : y1 > source->height ? source->height : (int)y1;
    return win;
}

/* Hashes the window's cells and reports whether any is above the threshold (and not nodata). *all_valid tells
 * whether every cell is a finite value other than nodata (looked at only when the zoom may warp directly). */
static int hash_window(worker *w, const window *win, hm_hash128 *hash, int *all_valid)
{
    const hm_raster_source *source = w->shared->source;
    float threshold = (float)w->shared->settings->threshold;
    float nodata = (float)source->nodata;
    int has_nodata = source->has_nodata;
    XXH3_128bits_reset(w->hash_state);
    XXH3_128bits_update(w->hash_state, win, sizeof *win);
    int content = 0;
    int check_valid = w->direct_bilinear;
    size_t row_cells = (size_t)(win->x1 - win->x0);
    for (int y = win->y0; y < win->y1; y++) {
        const float *row = source->values + (size_t)y * (size_t)source->width + win->x0;
        XXH3_128bits_update(w->hash_state, row, row_cells * sizeof *row);
        if (check_valid) {
            int valid = 1;
            for (size_t i = 0; i < row_cells; i++)
                valid &= isfinite(row[i]) & (!has_nodata | (row[i] != nodata));
            check_valid = valid;
        }
        if (content) continue;
        int any = 0;
        if (has_nodata) {
            for (size_t i = 0; i < row_cells; i++)
                any |= (row[i] > threshold) & (row[i] != nodata);
        } else {
            for (size_t i = 0; i < row_cells; i++)
                any |= row[i] > threshold;
        }
        content = any;
    }
    XXH128_hash_t h = XXH3_128bits_digest(w->hash_state);
    hash->high = h.high64;
    hash->low = h.low64;
    *all_valid = check_valid;
    return content;
}

/*
 * GDAL's warper, bilinear, for the tiles most of a tile set is made of (zoomed in past the cells, the whole
 * window valid): the same arithmetic as GDAL 3.6's no-mask path (GWKResampleNoMasksOrDstDensityOnlyThread
 * with GWKBilinearResampleNoMasks4SampleT), without its per-call set-up, window copy, mask scan and
 * per-pixel checks, which cost three times the arithmetic. Each pixel centre goes through the same lattice
 * transformer GDAL is given, row by row as GDAL asks, and is sampled from the same window:
 *     sx = X - window x0,  ix = floor(sx - 0.5),  rx = 1.5 - (sx - ix)   (the same for y)
 *     value = (float)(line(iy) * ry + line(iy + 1) * (1 - ry)),  line(j) = c(ix, j) * rx + c(ix + 1, j) * (1
 * - rx) in double. Returns 0, having written nothing that counts, when a pixel falls where GDAL would take
 * another branch (a transform failing, the 2 x 2 cells leaving the window: tiles over the raster's edge); the
 * caller then asks GDAL. `--resampling` other than bilinear, zooms out past the cells and windows with nodata
 * always go to GDAL. settings->check_direct_warp compares every such tile with GDAL's, bit for bit
 * (test_tile_render), and the build keeps the compiler from fusing multiplies and adds
 * (tiles/CMakeLists.txt).
 */
static int warp_tile_bilinear(worker *w, int x, int y, const window *win)
{
    const hm_raster_source *source = w->shared->source;
    const int ts = w->shared->settings->tile_size_px;
    const int sx = win->x1 - win->x0, sy = win->y1 - win->y0;
    const size_t stride = (size_t)source->width;
    const float *cells = source->values + (size_t)win->y0 * stride + (size_t)win->x0;
    const double x_off = win->x0, y_off = win->y0;
    double *px = w->row_x, *py = w->row_y;
    for (int j = 0; j < ts; j++) {
        const double row_y = j + 0.5 + (double)y * ts;
        for (int i = 0; i < ts; i++) {
            px[i] = i + 0.5 + (double)x * ts;
            py[i] = row_y;
        }
        lattice_transform(w, TRUE, ts, px, py, NULL, w->row_ok);
        float *out = w->tile_values + (size_t)j * ts;
        for (int i = 0; i < ts; i++) {
            if (!w->row_ok[i]) return 0;
            const double src_x = px[i] - x_off, src_y = py[i] - y_off;
            if (!(src_x >= 0.5 && src_x < sx - 0.5 && src_y >= 0.5 && src_y < sy - 0.5)) return 0;
            const int ix = (int)floor(src_x - 0.5), iy = (int)floor(src_y - 0.5);
            if (ix < 0 || ix + 1 >= sx || iy < 0 || iy + 1 >= sy) return 0;
            const double rx = 1.5 - (src_x - ix), ry = 1.5 - (src_y - iy);
            const float *c = cells + (size_t)iy * stride + (size_t)ix;
            const double line1 = (double)c[0] * rx + (double)c[1] * (1.0 - rx);
            const double line2 = (double)c[stride] * rx + (double)c[stride + 1] * (1.0 - rx);
            out[i] = (float)(line1 * ry + line2 * (1.0 - ry));
        }
    }
    return 1;
}

#if HM_HAVE_AVX2_WARP
/*
 * warp_tile_bilinear four pixels at a time, for processors with AVX2 (chosen at run time, see warp_tile): the
 * same operations on the same doubles in the same order, so the same bits. Two things are taken out of the
 * pixel loop because they are the same on every row of a tile: each pixel's lattice column and its fraction
 * across it. Every operation here is exact or correctly rounded alike in SSE/AVX and scalar code (add, sub,
 * mul, floor, the conversions), there is no fused multiply-add (this function's target lacks FMA, and the
 * file is built with -ffp-contract=off), and a tile goes to GDAL whenever warp_tile_bilinear would send it
 * there: before any cell is read, every lane is checked as warp_tile_bilinear checks its pixel.
 * check_direct_warp compares it with GDAL's warper (test_tile_render runs it both ways).
 */
__attribute__((target("avx2"))) static int warp_tile_bilinear_avx2(worker *w, int x, int y, const window *win)
{
    const hm_raster_source *source = w->shared->source;
    const int ts = w->shared->settings->tile_size_px;
    const int sx = win->x1 - win->x0, sy = win->y1 - win->y0;
    const size_t stride = (size_t)source->width;
    const float *cells = source->values + (size_t)win->y0 * stride + (size_t)win->x0;
    const int nx = w->lattice.nx, ny = w->lattice.ny;
    const size_t lattice_stride = w->lattice.stride;
    const double *lx = w->lattice.x, *ly = w->lattice.y;
    const signed char *lok = w->lattice.ok;
    const double per_px = 1.0 / w->lattice.step_px;
    /* Each pixel's lattice column and fraction, as lattice_transform finds them. */
    int *column = w->row_ok;
    double *fraction = w->row_x;
    for (int i = 0; i < ts; i++) {
        const double px = i + 0.5 + (double)x * ts;
        const double gx = px * per_px, fi = floor_fast(gx);
        const long long c = (long long)fi - w->lattice.i0;
        if (c < 0 || c + 1 >= nx) return 0;
        column[i] = (int)c;
        fraction[i] = gx - fi;
    }
    const int first = column[0], last = column[ts - 1] + 1; /* the lattice columns the tile's pixels use */
    /* ... and rows (those outside the lattice fail below, row by row): only these nodes are transformed. */
    const long long top = (long long)floor_fast((0.5 + (double)y * ts) * per_px) - w->lattice.j0;
    const long long bottom =
        (long long)floor_fast((ts - 1 + 0.5 + (double)y * ts) * per_px) - w->lattice.j0 + 1;
    for (long long r = top < 0 ? 0 : top; r <= bottom && r < ny; r++)
        for (int c = first; c <= last; c++)
            nodes_queue(w, w->lattice.i0 + c, w->lattice.j0 + r);
    nodes_flush(w);
    double *row_x = w->lattice.row_x, *row_y = w->lattice.row_y;
    const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0), one_and_half = _mm256_set1_pd(1.5);
    const __m256d x_off = _mm256_set1_pd(win->x0), y_off = _mm256_set1_pd(win->y0);
    const __m256d x_end = _mm256_set1_pd(sx - 0.5), y_end = _mm256_set1_pd(sy - 0.5);
    const __m128i zero = _mm_setzero_si128(), last_x = _mm_set1_epi32(sx - 2),
                  last_y = _mm_set1_epi32(sy - 2);
    const __m128i stride_v = _mm_set1_epi32((int)stride);
    const __m256i unpair = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    for (int j = 0; j < ts; j++) {
        /* The row's interpolation down each lattice column (lattice_transform's same_row branch). */
        const double py = j + 0.5 + (double)y * ts;
        const double gy = py * per_px, fj = floor_fast(gy), fy = gy - fj;
        const long long r = (long long)fj - w->lattice.j0;
        if (r < 0 || r + 1 >= ny) return 0;
        for (int c = first; c <= last; c++) {
            const size_t n0 = (size_t)r * lattice_stride + c, n1 = n0 + lattice_stride;
            if (!(lok[n0] & lok[n1])) return 0;
            row_x[c] = lerp(lx[n0], lx[n1], fy);
            row_y[c] = lerp(ly[n0], ly[n1], fy);
        }
        float *out = w->tile_values + (size_t)j * ts;
        for (int i = 0; i < ts; i += 4) {
            /* The four pixels share a lattice column (direct_bilinear: step_px is a multiple of four). */
            const int col = column[i];
            const __m256d f = _mm256_loadu_pd(fraction + i);
            const __m256d ax = _mm256_broadcast_sd(row_x + col), bx = _mm256_broadcast_sd(row_x + col + 1);
            const __m256d ay = _mm256_broadcast_sd(row_y + col), by = _mm256_broadcast_sd(row_y + col + 1);
            /* lerp(a, b, f) = a + f * (b - a), then minus the window's offset */
            const __m256d src_x =
                _mm256_sub_pd(_mm256_add_pd(ax, _mm256_mul_pd(f, _mm256_sub_pd(bx, ax))), x_off);
            const __m256d src_y =
                _mm256_sub_pd(_mm256_add_pd(ay, _mm256_mul_pd(f, _mm256_sub_pd(by, ay))), y_off);
            const __m256d inside = _mm256_and_pd(_mm256_and_pd(_mm256_cmp_pd(src_x, half, _CMP_GE_OQ),
                                                               _mm256_cmp_pd(src_x, x_end, _CMP_LT_OQ)),
                                                 _mm256_and_pd(_mm256_cmp_pd(src_y, half, _CMP_GE_OQ),
                                                               _mm256_cmp_pd(src_y, y_end, _CMP_LT_OQ)));
            if (_mm256_movemask_pd(inside) != 0xF) return 0;
            const __m256d fx0 = _mm256_floor_pd(_mm256_sub_pd(src_x, half));
            const __m256d fy0 = _mm256_floor_pd(_mm256_sub_pd(src_y, half));
            const __m128i ix = _mm256_cvttpd_epi32(fx0), iy = _mm256_cvttpd_epi32(fy0);
            const __m128i outside =
                _mm_or_si128(_mm_or_si128(_mm_cmpgt_epi32(zero, ix), _mm_cmpgt_epi32(ix, last_x)),
                             _mm_or_si128(_mm_cmpgt_epi32(zero, iy), _mm_cmpgt_epi32(iy, last_y)));
            if (!_mm_testz_si128(outside, outside)) return 0;
            const __m256d rx = _mm256_sub_pd(one_and_half, _mm256_sub_pd(src_x, fx0));
            const __m256d ry = _mm256_sub_pd(one_and_half, _mm256_sub_pd(src_y, fy0));
            /* Each lane's two cells of a line are adjacent: one 8-byte load fetches both (four such loads per
             * gather), then the pairs are sorted into the left cells and the right cells. */
            const __m128i at = _mm_add_epi32(_mm_mullo_epi32(iy, stride_v), ix);
            const __m256 pairs0 =
                _mm256_castsi256_ps(_mm256_i32gather_epi64((const long long *)cells, at, 4));
            const __m256 pairs1 =
                _mm256_castsi256_ps(_mm256_i32gather_epi64((const long long *)(cells + stride), at, 4));
            const __m256 line0 = _mm256_permutevar8x32_ps(pairs0, unpair);
            const __m256 line1_cells = _mm256_permutevar8x32_ps(pairs1, unpair);
            const __m256d c00 = _mm256_cvtps_pd(_mm256_castps256_ps128(line0));
            const __m256d c10 = _mm256_cvtps_pd(_mm256_extractf128_ps(line0, 1));
            const __m256d c01 = _mm256_cvtps_pd(_mm256_castps256_ps128(line1_cells));
            const __m256d c11 = _mm256_cvtps_pd(_mm256_extractf128_ps(line1_cells, 1));
            const __m256d rx1 = _mm256_sub_pd(one, rx), ry1 = _mm256_sub_pd(one, ry);
            const __m256d line1 = _mm256_add_pd(_mm256_mul_pd(c00, rx), _mm256_mul_pd(c10, rx1));
            const __m256d line2 = _mm256_add_pd(_mm256_mul_pd(c01, rx), _mm256_mul_pd(c11, rx1));
            const __m256d value = _mm256_add_pd(_mm256_mul_pd(line1, ry), _mm256_mul_pd(line2, ry1));
            _mm_storeu_ps(out + i, _mm256_cvtpd_ps(value));
        }
    }
    return 1;
}
#endif

/* Warps one tile from its source window into w->tile_values (tile_size x tile_size, NaN where nothing lands).
 * */
static int warp_tile_gdal(worker *w, int x, int y, const window *source_window, float *values)
{
    int ts = w->shared->settings->tile_size_px;
    size_t cells = (size_t)ts * ts;
    for (size_t i = 0; i < cells; i++)
        values[i] = NAN;
    CPLErrorReset();
    lattice_complete(w);
    CPLErr err = GDALWarpRegionToBuffer(
        w->warp, x * ts, y * ts, ts, ts, values, GDT_Float32, source_window->x0, source_window->y0,
        source_window->x1 - source_window->x0, source_window->y1 - source_window->y0);
    if (err != CE_None)
        return hm_error(w->ctx, HM_EGDAL, "GDAL's warper failed on tile %d/%d/%d: %s", w->zoom, x, y,
                        CPLGetLastErrorMsg());
    return HM_OK;
}

/* warp_tile_bilinear_avx2 where the processor has AVX2, each four pixels of a row within one lattice cell
 * (the tile and the lattice step multiples of four) and the window's cells numbered within an int (its
 * gathers take 32-bit offsets); else warp_tile_bilinear. */
static int direct_bilinear(worker *w, int x, int y, const window *win)
{
#if HM_HAVE_AVX2_WARP
    const int ts = w->shared->settings->tile_size_px;
    if (w->shared->use_avx2 && ts % 4 == 0 && w->lattice.step_px % 4 == 0 &&
        (size_t)(win->y1 - win->y0 + 1) * (size_t)w->shared->source->width < (size_t)INT_MAX)
        return warp_tile_bilinear_avx2(w, x, y, win);
#endif
    lattice_complete(w);
    return warp_tile_bilinear(w, x, y, win);
}

static int warp_tile(worker *w, int x, int y, const window *source_window, int all_valid)
{
    int ts = w->shared->settings->tile_size_px;
    double x0 = (double)x * ts, y0 = (double)y * ts;
    int status = lattice_prepare(w, x0, y0, x0 + ts, y0 + ts);
    if (status != HM_OK) return status;
    w->counts.tiles_warped++;
    if (w->direct_bilinear && all_valid && direct_bilinear(w, x, y, source_window)) {
        w->counts.tiles_warped_direct++;
        if (!w->shared->settings->check_direct_warp) return HM_OK;
        if ((status = warp_tile_gdal(w, x, y, source_window, w->check_values)) != HM_OK) return status;
        for (size_t i = 0; i < (size_t)ts * ts; i++)
            if (memcmp(&w->tile_values[i], &w->check_values[i], sizeof(float)) != 0)
                return hm_error(w->ctx, HM_EINTERNAL,
                                "tile %d/%d/%d, pixel %zu: the direct bilinear warp gave %.9g, GDAL %.9g",
                                w->zoom, x, y, i, w->tile_values[i], w->check_values[i]);
        return HM_OK;
    }
    status = warp_tile_gdal(w, x, y, source_window, w->tile_values);
    if (status != HM_OK) return status;
    return HM_OK;
}

/* Colours the warped tile and encodes it into t->png (or marks it empty). */
static int draw_tile(worker *w, hm_tile_result *t)
{
    const hm_render_settings *settings = w->shared->settings;
    int ts = settings->tile_size_px;
    const float *origin = w->tile_values;
    float threshold = (float)settings->threshold, min = (float)settings->value_min;
    float scale = (float)(254.0 / (settings->value_max - settings->value_min));
    uint8_t *out = w->indices;
    size_t count = (size_t)ts * ts;
    int any_visible = 0;
    int uniform = hm_ramp_indices(origin, count, threshold, min, scale, out, &any_visible);
    uint8_t first = out[0];
    w->counts.drawn++;
    if (!any_visible) {
        t->state = HM_TILE_DRAWN_EMPTY;
        return HM_OK;
    }
    /* Cells under the tile changed, but perhaps not its colours (a week of incidents moves most cells by less
     * than one of the ramp's 254 steps): then the previous PNG is these bytes already. */
    t->pixels_hash = hm_hash128_of(out, count);
    t->has_pixels_hash = 1;
    hm_tile_reuse_fn reuse = w->shared->reuse;
    int was_empty = 0;
    hm_hash128 ignored;
    int ignored_flag;
    if (reuse && reuse(w->shared->user, t->zoom, t->x, t->y, t->source_hash, &t->pixels_hash, &was_empty,
                       &t->png_hash, &ignored, &ignored_flag)) {
        t->state = HM_TILE_REUSED;
        w->counts.reused++;
        w->counts.same_pixels++;
        return HM_OK;
    }
    t->state = HM_TILE_DRAWN;
    w->counts.written++;
    if (uniform) {
        hm_buffer *cached = &w->uniform_png[first];
        if (!cached->size) {
            int status =
                hm_png_encoder_encode(w->ctx, w->png, out, ts, ts, settings->ramp->palette_rgba, cached);
            if (status != HM_OK) return status;
            w->uniform_hash[first] = hm_hash128_of(cached->data, cached->size);
        }
        w->counts.uniform++;
        if (hm_buffer_append(&t->png, cached->data, cached->size) != 0)
            return hm_error(w->ctx, HM_ENOMEM, "out of memory");
        t->png_hash = w->uniform_hash[first];
        return HM_OK;
    }
    int status = hm_png_encoder_encode(w->ctx, w->png, out, ts, ts, settings->ramp->palette_rgba, &t->png);
    if (status != HM_OK) return status;
    t->png_hash = hm_hash128_of(t->png.data, t->png.size);
    return HM_OK;
}

static int process_block(worker *w, const block *b, block_slot *slot)
{
    shared_state *shared = w->shared;
    int nx = b->max_x - b->min_x + 1, ny = b->max_y - b->min_y + 1;
    slot->count = nx * ny;
    slot->tiles = calloc((size_t)slot->count, sizeof *slot->tiles);
    window *windows = calloc((size_t)slot->count, sizeof *windows);
    int status = HM_OK;
    if (!slot->tiles || !windows) {
        status = hm_error(w->ctx, HM_ENOMEM, "out of memory");
        goto done;
    }
    /* Every tile's edges first, in one call: each tile's window and hash decide whether it is drawn. */
    if ((status = nodes_begin(w, b->min_x, b->min_y, b->max_x, b->max_y)) != HM_OK) goto done;
    for (int i = 0; i < slot->count; i++)
        for (int k = 0; k < 4 * EDGE_SAMPLES; k++) {
            long long ni, nj;
            edge_node(w, b->min_x + i % nx, b->min_y + i / nx, k, &ni, &nj);
            nodes_queue(w, ni, nj);
        }
    nodes_flush(w);
    for (int i = 0; i < slot->count && status == HM_OK; i++) {
        hm_tile_result *t = &slot->tiles[i];
        t->zoom = b->zoom;
        t->x = b->min_x + i % nx;
        t->y = b->min_y + i / nx;
        windows[i] = tile_window(w, t->x, t->y);
        const window *win = &windows[i];
        if (win->x1 <= win->x0 || win->y1 <= win->y0) continue; /* off the raster */
        int all_valid = 0;
        if (!hash_window(w, win, &t->source_hash, &all_valid)) {
            w->counts.nothing_to_draw++;
            continue;
        }
        int was_empty = 0;
        if (shared->reuse && shared->reuse(shared->user, t->zoom, t->x, t->y, t->source_hash, NULL,
                                           &was_empty, &t->png_hash, &t->pixels_hash, &t->has_pixels_hash)) {
            t->state = was_empty ? HM_TILE_DRAWN_EMPTY : HM_TILE_REUSED;
            if (!was_empty) w->counts.reused++;
            continue;
        }
        /* The warp reads exactly the hashed window: the tile's bytes follow from the hash and the settings.
         * */
        status = warp_tile(w, t->x, t->y, win, all_valid);
        if (status == HM_OK) status = draw_tile(w, t);
    }
done:
    free(windows);
    return status;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared_state *shared = w->shared;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    for (;;) {
        pthread_mutex_lock(&shared->mutex);
        while (!shared->failed && shared->next_block < shared->block_count &&
               shared->next_block >= shared->committed + shared->in_flight_limit)
            pthread_cond_wait(&shared->work_ready, &shared->mutex);
        if (shared->failed || shared->next_block >= shared->block_count) {
            pthread_mutex_unlock(&shared->mutex);
            break;
        }
        int index = shared->next_block++;
        pthread_mutex_unlock(&shared->mutex);

        const block *b = &shared->blocks[index];
        int status = HM_OK;
        if (w->zoom != b->zoom) {
            hm_tile_range range = hm_tile_range_for_extent(b->zoom, shared->settings->tile_size_px,
                                                           &shared->source->extent_3857);
            status = setup_zoom(w, b->zoom, &range);
        }
        if (status == HM_OK) status = process_block(w, b, &shared->slots[index]);
        if (status != HM_OK) {
            fail(shared, hm_error_code(w->ctx), hm_error_message(w->ctx));
            break;
        }
        pthread_mutex_lock(&shared->mutex);
        shared->slots[index].done = 1;
        pthread_cond_broadcast(&shared->block_done);
        pthread_mutex_unlock(&shared->mutex);
    }
    CPLPopErrorHandler();
    return NULL;
}

static void free_lattice(worker *w)
{
    free(w->nodes.x), free(w->nodes.y), free(w->nodes.ok);
    free(w->nodes.queue_x), free(w->nodes.queue_y), free(w->nodes.queue_z);
    free(w->nodes.queue_ok), free(w->nodes.queue_node);
    free(w->lattice.row_x), free(w->lattice.row_y), free(w->lattice.row_ok);
}

static void free_slot(block_slot *slot)
{
    for (int i = 0; i < slot->count && slot->tiles; i++)
        hm_buffer_free(&slot->tiles[i].png);
    free(slot->tiles);
    slot->tiles = NULL;
    slot->count = 0;
}

static int plan_blocks(hm_ctx *ctx, const hm_render_settings *settings, const hm_tile_range *ranges,
                       block **out, int *count)
{
    const int k = HM_RENDER_BLOCK_TILES;
    long long total = 0;
    for (int z = settings->min_zoom; z <= settings->max_zoom; z++) {
        const hm_tile_range *r = &ranges[z];
        if (hm_tile_range_count(r) == 0) continue;
        total += (long long)(r->max_x / k - r->min_x / k + 1) * (r->max_y / k - r->min_y / k + 1);
    }
    if (total > 100000000) return hm_error(ctx, HM_ENOMEM, "%lld blocks of tiles is too many", total);
    block *blocks = calloc(total ? (size_t)total : 1, sizeof *blocks);
    if (!blocks) return hm_error(ctx, HM_ENOMEM, "out of memory planning %lld blocks", total);
    int n = 0;
    for (int z = settings->min_zoom; z <= settings->max_zoom; z++) {
        const hm_tile_range *r = &ranges[z];
        if (hm_tile_range_count(r) == 0) continue;
        for (int by = r->min_y / k; by <= r->max_y / k; by++)
            for (int bx = r->min_x / k; bx <= r->max_x / k; bx++) {
                block *b = &blocks[n++];
                b->zoom = z;
                b->min_x = bx * k > r->min_x ? bx * k : r->min_x;
                b->max_x = bx * k + k - 1 < r->max_x ? bx * k + k - 1 : r->max_x;
                b->min_y = by * k > r->min_y ? by * k : r->min_y;
                b->max_y = by * k + k - 1 < r->max_y ? by * k + k - 1 : r->max_y;
            }
    }
    *out = blocks;
    *count = n;
    return HM_OK;
}

static void add_counts(hm_render_counts *to, const hm_render_counts *from)
{
    to->nothing_to_draw += from->nothing_to_draw;
    to->drawn += from->drawn;
    to->written += from->written;
    to->uniform += from->uniform;
    to->reused += from->reused;
    to->same_pixels += from->same_pixels;
    to->tiles_warped += from->tiles_warped;
    to->tiles_warped_direct += from->tiles_warped_direct;
}

int hm_render_tiles(hm_ctx *ctx, const hm_raster_source *source, const hm_render_settings *settings,
                    hm_tile_reuse_fn reuse, hm_tile_commit_fn commit, void *user, GDALProgressFunc progress,
                    void *progress_data, hm_render_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    if (!(settings->value_max > settings->value_min))
        return hm_error(ctx, HM_EINVAL, "colour range %g..%g is empty; give --range MIN,MAX with MIN < MAX",
                        settings->value_min, settings->value_max);
    hm_tile_range ranges[HM_MAX_ZOOM + 1];
    counts->positions = hm_render_ranges(source, settings, ranges);
    shared_state shared;
    memset(&shared, 0, sizeof shared);
    shared.source = source;
    shared.settings = settings;
    shared.reuse = reuse;
    shared.user = user;
#if HM_HAVE_AVX2_WARP
    __builtin_cpu_init();
    shared.use_avx2 = !settings->portable_direct_warp && __builtin_cpu_supports("avx2");
#endif
    int status = plan_blocks(ctx, settings, ranges, &shared.blocks, &shared.block_count);
    if (status != HM_OK) return status;
    int threads = settings->threads < 1 ? 1 : settings->threads;
    shared.in_flight_limit = BLOCKS_IN_FLIGHT_PER_THREAD * threads;
    shared.slots = calloc((size_t)shared.block_count + 1, sizeof *shared.slots);
    worker *workers = calloc((size_t)threads, sizeof *workers);
    pthread_mutex_init(&shared.mutex, NULL);
    pthread_cond_init(&shared.work_ready, NULL);
    pthread_cond_init(&shared.block_done, NULL);
    int started = 0;
    if (!shared.slots || !workers) {
        status = hm_error(ctx, HM_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < threads; i++) {
        worker *w = &workers[i];
        w->shared = &shared;
        w->zoom = -1;
        w->ctx = hm_ctx_create();
        w->hash_state = XXH3_createState();
        w->png = hm_png_encoder_create(&settings->png);
        w->indices = malloc((size_t)settings->tile_size_px * settings->tile_size_px);
        w->tile_values = malloc((size_t)settings->tile_size_px * settings->tile_size_px * sizeof(float));
        w->check_values = malloc((size_t)settings->tile_size_px * settings->tile_size_px * sizeof(float));
        w->row_x = malloc((size_t)settings->tile_size_px * sizeof(double));
        w->row_y = malloc((size_t)settings->tile_size_px * sizeof(double));
        w->row_ok = malloc((size_t)settings->tile_size_px * sizeof(int));
        if (!w->ctx || !w->hash_state || !w->png || !w->indices || !w->tile_values || !w->check_values ||
            !w->row_x || !w->row_y || !w->row_ok) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory starting worker threads");
            goto done;
        }
        w->dataset = hm_raster_source_dataset(w->ctx, source);
        if (!w->dataset) {
            status = hm_error(ctx, hm_error_code(w->ctx), "%s", hm_error_message(w->ctx));
            goto done;
        }
    }
    for (; started < threads; started++)
        if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]) != 0) {
            status = hm_error(ctx, HM_EINTERNAL, "cannot start worker thread %d", started + 1);
            fail(&shared, HM_EINTERNAL, "interrupted");
            goto join;
        }

    long long positions_done = 0;
    for (int i = 0; i < shared.block_count; i++) {
        pthread_mutex_lock(&shared.mutex);
        while (!shared.failed && !shared.slots[i].done)
            pthread_cond_wait(&shared.block_done, &shared.mutex);
        int failed = shared.failed;
        pthread_mutex_unlock(&shared.mutex);
        if (failed) break;
        block_slot *slot = &shared.slots[i];
        status = commit(user, slot->tiles, slot->count);
        positions_done += slot->count;
        free_slot(slot);
        if (status != HM_OK) {
            fail(&shared, hm_error_code(ctx), "commit failed");
            break;
        }
        pthread_mutex_lock(&shared.mutex);
        shared.committed = i + 1;
        pthread_cond_broadcast(&shared.work_ready);
        pthread_mutex_unlock(&shared.mutex);
        if (progress && !progress((double)positions_done / (double)counts->positions, NULL, progress_data)) {
            status = hm_error(ctx, HM_EIO, "interrupted");
            fail(&shared, HM_EIO, "interrupted");
            break;
        }
    }
join:
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    if (status == HM_OK && shared.failed) status = hm_error(ctx, shared.error_code, "%s", shared.error);
    if (status == HM_OK && progress && counts->positions == 0) progress(1.0, NULL, progress_data);
done:
    for (int i = 0; i < threads && workers; i++) {
        worker *w = &workers[i];
        add_counts(counts, &w->counts);
        release_zoom(w);
        if (w->dataset) GDALClose(w->dataset);
        free(w->tile_values);
        free(w->check_values);
        free(w->row_x);
        free(w->row_y);
        free(w->row_ok);
        free_lattice(w);
        free(w->indices);
        for (int c = 0; c < 256; c++)
            hm_buffer_free(&w->uniform_png[c]);
        if (w->hash_state) XXH3_freeState(w->hash_state);
        w->png = hm_png_encoder_destroy(w->png);
        hm_ctx_destroy(w->ctx);
    }
    for (int i = 0; shared.slots && i < shared.block_count; i++)
        free_slot(&shared.slots[i]);
    free(shared.slots);
    free(shared.blocks);
    free(workers);
    pthread_mutex_destroy(&shared.mutex);
    pthread_cond_destroy(&shared.work_ready);
    pthread_cond_destroy(&shared.block_done);
    return status;
}

int hm_render_lattice_error(hm_ctx *ctx, const hm_raster_source *source, int zoom, int tile_size_px,
                            double *max_error_cells)
{
    *max_error_cells = 0;
    hm_render_settings settings;
    memset(&settings, 0, sizeof settings);
    settings.min_zoom = settings.max_zoom = zoom;
    settings.tile_size_px = tile_size_px;
    shared_state shared;
    memset(&shared, 0, sizeof shared);
    shared.source = source;
    shared.settings = &settings;
    worker w;
    memset(&w, 0, sizeof w);
    w.shared = &shared;
    w.ctx = ctx;
    w.zoom = -1;
    w.dataset = hm_raster_source_dataset(ctx, source);
    if (!w.dataset) return hm_error_code(ctx);
    hm_tile_range range = hm_tile_range_for_extent(zoom, tile_size_px, &source->extent_3857);
    int status = setup_zoom(&w, zoom, &range);
    /* The corner and middle tiles of the range; every 8th pixel centre of each. */
    const int xs[3] = {range.min_x, (range.min_x + range.max_x) / 2, range.max_x};
    const int ys[3] = {range.min_y, (range.min_y + range.max_y) / 2, range.max_y};
    int n = tile_size_px / 8;
    double *ax = malloc(sizeof(double) * (size_t)n), *ay = malloc(sizeof(double) * (size_t)n);
    double *ex = malloc(sizeof(double) * (size_t)n), *ey = malloc(sizeof(double) * (size_t)n);
    double *ez = calloc((size_t)n, sizeof(double));
    int *aok = malloc(sizeof(int) * (size_t)n), *eok = malloc(sizeof(int) * (size_t)n);
    if (!ax || !ay || !ex || !ey || !ez || !aok || !eok) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    for (int t = 0; t < 9 && status == HM_OK; t++) {
        int tx = xs[t % 3], ty = ys[t / 3];
        double x0 = (double)tx * tile_size_px, y0 = (double)ty * tile_size_px;
        if ((status = nodes_begin(&w, tx, ty, tx, ty)) != HM_OK) break;
        if ((status = lattice_prepare(&w, x0, y0, x0 + tile_size_px, y0 + tile_size_px)) != HM_OK) break;
        lattice_complete(&w);
        for (int row = 0; row < tile_size_px; row += 8) {
            for (int i = 0; i < n; i++) {
                ax[i] = ex[i] = x0 + 8 * i + 0.5;
                ay[i] = ey[i] = y0 + row + 0.5;
                ez[i] = 0;
            }
            lattice_transform(&w, TRUE, n, ax, ay, NULL, aok);
            GDALGenImgProjTransform(w.exact, TRUE, n, ex, ey, ez, eok);
            for (int i = 0; i < n; i++) {
                if (!aok[i] || !eok[i]) continue;
                double e = hypot(ax[i] - ex[i], ay[i] - ey[i]);
                if (e > *max_error_cells) *max_error_cells = e;
            }
        }
    }
    free(ax), free(ay), free(ex), free(ey), free(ez), free(aok), free(eok);
    free_lattice(&w);
    release_zoom(&w);
    GDALClose(w.dataset);
    return status;
}
