/* density.c - see density.h. The computation itself is in kde.c; this file is the input, the checks and the
 * GeoTIFF. */
#include "density.h"

#include "argv.h"
#include "kde.h"
#include "styles.h"
#include "tempfiles.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <errno.h>
#include <gdal_alg.h>
#include <gdal_utils.h>
#include <math.h>
#include <pthread.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define HM_DENSITY_EPSG 27700
#define HM_DEFAULT_MAX_MEMORY (2.0 * 1024 * 1024 * 1024)

typedef enum radius_rule { RADIUS_FIXED, RADIUS_SILVERMAN, RADIUS_ARCGIS } radius_rule;
typedef enum extent_kind { EXTENT_POINTS, EXTENT_BOX, EXTENT_LAYER, EXTENT_LIKE } extent_kind;

struct hm_density_options {
    const char *input;
    const char *output;
    char *layers_text; /* owned copy of --layers, cut at the commas into `layers` */
    hm_string_list layers;
    int layers_given;
    double radius_m;
    radius_rule rule;
    const char *radius_field;
    double cell_m;
    hm_kernel kernel;
    double decay;
    const char *weight_field; /* NULL: count (one per point) */
    hm_kde_output values;
    extent_kind extent;
    double box[4];
    const char *extent_layer;
    const char *like; /* --like FILE.tif: that raster's grid */
    const char *boundaries;
    int compat_qgis;
    const char *date_from, *date_to, *date_field;
    long from_key, to_key; /* yyyymmdd */
    char **creation_options;
    char **open_options;
    double max_memory_bytes;
    int threads;
    const char *difference_a, *difference_b;
    const char *accumulator; /* --accumulator FILE: the per-layer sums kept between runs (see "Sums kept") */
    int kept_unchanged;      /* --kept-unchanged: the records the kept sums were made from are vouched for */
    hm_verbosity verbosity;
};

static void print_help(void)
{
    printf("Usage: harmmap density IN -o OUT.tif [options]\n"
           "       harmmap density --difference A.tif B.tif -o D.tif\n\n"
           "A kernel density surface of weighted points as a Cloud Optimized GeoTIFF (Float32, EPSG:27700).\n"
           "IN is harmmap's GeoPackage (layers incidents, intelligence) or any OGR point source.\n\n"
           "  -o FILE                  output GeoTIFF (written atomically)\n"
           "  --layers A,B             point layers to read (default incidents,intelligence, those present;\n"
           "                           a source with a single layer uses it)\n"
           "  --radius METRES|silverman|arcgis\n"
           "                           kernel radius (default 500), or a bandwidth rule computed from the points\n"
           "  --radius-field FIELD     per-record radius in metres\n"
           "  --cell METRES            cell size (default 25)\n"
           "  --kernel NAME            quartic (default), triangular, uniform, triweight, epanechnikov\n"
           "  --decay RATIO            triangular kernel: value at the radius (default 0), as in QGIS\n"
           "  --weight harm|count|FIELD  weight of a record (default count: 1 each)\n"
           "  --output raw|scaled      raw kernel sums (default), or scaled so the surface integrates to the\n"
           "                           total weight (each kernel divided by its integral over the disc)\n"
           "  --extent wards|beats|xmin,ymin,xmax,ymax\n"
           "                           grid extent (widened to whole cells; default: the points plus the radius);\n"
           "                           wards or beats also set cells outside the polygons to nodata\n"
           "  --boundaries FILE        where the wards or beats layer is (default IN)\n"
           "  --like FILE.tif          the grid (and cell size) of an existing raster, exactly, e.g. a QGIS\n"
           "                           heatmap to compare with\n"
           "  --compat qgis            reproduce QGIS 3.22's Heatmap raster (its grid and arithmetic; raw only)\n"
           "  --from DATE --to DATE    records dated within [from, to] (YYYY, YYYY-MM or YYYY-MM-DD)\n"
           "  --date-field FIELD       date field (default date)\n"
           "  --threads N              threads (default: all processors); results do not depend on it\n"
           "  --max-memory SIZE        refuse grids needing more (default 2G; K, M, G suffixes, plain = MiB)\n"
           "  -co NAME=VALUE           GDAL COG creation option (default COMPRESS=DEFLATE, BLOCKSIZE=512)\n"
           "  --oo NAME=VALUE          GDAL open option for IN\n"
           "  --difference A.tif B.tif write B - A (same grid) to -o\n"
           "  --accumulator FILE       sum the surface load batch by load batch (the records of one source_file,\n"
           "                           in load order) and keep the sums in FILE, so that the next run with the\n"
           "                           same settings computes only the batches added since (harmmap run/update)\n"
           "  --kept-unchanged         with --accumulator: the records the kept sums were made from are vouched\n"
           "                           for (harmmap update says so when nothing wrote its GeoPackage since): read\n"
           "                           only the records after them instead of checking them all again\n"
           "  -q, --quiet / --verbose  less or more on stderr\n");
}

/* ---- option parsing ---------------------------------------------------------------------------------------- */

/* "2023", "2023-04" or "2023-04-17" (also with '/') to yyyymmdd; upper picks the last day of a year or month. A
 * time after the day ("T12:00", " 12:00") is ignored. Returns 0 when the text is not such a date. */
static int parse_date_key(const char *text, int upper, long *key)
{
    int year = 0, month = 0, day = 0, n = 0;
    const char *p = text;
    while (*p == ' ') p++;
    for (n = 0; n < 4; n++, p++) {
        if (*p < '0' || *p > '9') return 0;
        year = year * 10 + (*p - '0');
    }
    if (*p == '-' || *p == '/') {
        p++;
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return 0;
        month = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == '-' || *p == '/') {
            p++;
            if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return 0;
            day = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    if (*p != '\0' && *p != 'T' && *p != ' ') return 0;
    if (month > 12 || day > 31 || (month == 0 && day != 0) || year == 0) return 0;
    if (month == 0) month = upper ? 12 : 1;
    if (day == 0) day = upper ? 31 : 1;
    if (month < 1 || day < 1) return 0;
    *key = (long)year * 10000 + month * 100 + day;
    return 1;
}

/* "512M", "2G", "1.5G", "65536K", plain number = MiB. */
static int parse_memory(hm_ctx *ctx, const char *text, double *bytes)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || errno == ERANGE || !(value > 0) || !isfinite(value))
        return hm_error(ctx, HM_EINVAL, "--max-memory '%s': expected a size such as 512M or 4G", text);
    double unit = 1024.0 * 1024;
    if (*end == 'K' || *end == 'k') unit = 1024, end++;
    else if (*end == 'M' || *end == 'm') unit = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g') unit = 1024.0 * 1024 * 1024, end++;
    else if (*end == 'T' || *end == 't') unit = 1024.0 * 1024 * 1024 * 1024, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end != '\0') return hm_error(ctx, HM_EINVAL, "--max-memory '%s': expected a size such as 512M or 4G", text);
    *bytes = value * unit;
    return HM_OK;
}

static void format_bytes(double bytes, char *buffer, size_t size)
{
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buffer, size, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) snprintf(buffer, size, "%.1f MiB", bytes / (1024.0 * 1024));
    else snprintf(buffer, size, "%.0f KiB", ceil(bytes / 1024.0));
}

void hm_density_options_free(hm_density_options *options)
{
    if (!options) return;
    free(options->layers_text);
    hm_string_list_free(&options->layers);
    CSLDestroy(options->creation_options);
    CSLDestroy(options->open_options);
    free(options);
}

static int parse_box(hm_ctx *ctx, const char *text, double box[4])
{
    char *copy = strdup(text);
    if (!copy) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int count = 0, status = HM_OK;
    char *save = NULL;
    for (char *part = strtok_r(copy, ",", &save); part && status == HM_OK; part = strtok_r(NULL, ",", &save)) {
        if (count == 4) {
            count++;
            break;
        }
        status = hm_arg_double(ctx, "--extent", part, &box[count++]);
    }
    free(copy);
    if (status != HM_OK) return status;
    if (count != 4 || !(box[0] < box[2]) || !(box[1] < box[3]))
        return hm_error(ctx, HM_EINVAL,
                        "--extent '%s': expected wards, beats or xmin,ymin,xmax,ymax in metres (EPSG:27700) with "
                        "xmin < xmax and ymin < ymax",
                        text);
    return HM_OK;
}

int hm_density_options_new(hm_ctx *ctx, int argc, char **argv, hm_density_options **out)
{
    *out = NULL;
    hm_density_options *o = calloc(1, sizeof *o);
    if (!o) return hm_error(ctx, HM_ENOMEM, "out of memory");
    o->radius_m = 500;
    o->rule = RADIUS_FIXED;
    o->cell_m = 25;
    o->kernel = HM_KERNEL_QUARTIC;
    o->values = HM_KDE_RAW;
    o->extent = EXTENT_POINTS;
    o->date_field = "date";
    o->max_memory_bytes = HM_DEFAULT_MAX_MEMORY;
    o->verbosity = hm_ctx_verbosity(ctx);
    int status = HM_OK, decay_given = 0;
    for (int i = 1; i < argc && status == HM_OK; i++) {
        const char *a = argv[i], *v = NULL;
        int got;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help();
            hm_density_options_free(o);
            return HM_OK;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->verbosity = HM_QUIET;
            continue;
        }
        if (strcmp(a, "--verbose") == 0) {
            o->verbosity = HM_VERBOSE;
            continue;
        }
        if (strcmp(a, "--difference") == 0) {
            if (i + 2 >= argc) {
                status = hm_error(ctx, HM_EINVAL, "--difference needs two rasters: --difference A.tif B.tif");
                break;
            }
            o->difference_a = argv[++i];
            o->difference_b = argv[++i];
            continue;
        }
#define OPTION(name) ((got = hm_arg_value(ctx, argc, argv, &i, name, &v)) != 0)
        if (OPTION("-o")) {
            if (got < 0) status = got;
            else o->output = v;
        } else if (got == 0 && OPTION("--layers")) {
            if (got < 0) {
                status = got;
                break;
            }
            free(o->layers_text);
            hm_string_list_free(&o->layers);
            o->layers_text = strdup(v);
            if (!o->layers_text) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            char *save = NULL;
            for (char *name = strtok_r(o->layers_text, ",", &save); name && status == HM_OK;
                 name = strtok_r(NULL, ",", &save))
                status = hm_string_list_push(ctx, &o->layers, name);
            if (status == HM_OK && o->layers.count == 0)
                status = hm_error(ctx, HM_EINVAL, "--layers '%s': give one or more layer names, comma-separated", v);
            o->layers_given = 1;
        } else if (got == 0 && OPTION("--radius")) {
            if (got < 0) status = got;
            else if (strcmp(v, "silverman") == 0) o->rule = RADIUS_SILVERMAN;
            else if (strcmp(v, "arcgis") == 0) o->rule = RADIUS_ARCGIS;
            else {
                o->rule = RADIUS_FIXED;
                status = hm_arg_double(ctx, "--radius", v, &o->radius_m);
                if (status == HM_OK && !(o->radius_m > 0))
                    status = hm_error(ctx, HM_EINVAL,
                                      "--radius %s: the radius must be a positive number of metres (or silverman, "
                                      "arcgis)",
                                      v);
            }
        } else if (got == 0 && OPTION("--radius-field")) {
            if (got < 0) status = got;
            else o->radius_field = v;
        } else if (got == 0 && OPTION("--cell")) {
            if (got < 0) status = got;
            else {
                status = hm_arg_double(ctx, "--cell", v, &o->cell_m);
                if (status == HM_OK && !(o->cell_m > 0))
                    status = hm_error(ctx, HM_EINVAL, "--cell %s: the cell size must be a positive number of metres",
                                      v);
            }
        } else if (got == 0 && OPTION("--kernel")) {
            if (got < 0) status = got;
            else {
                int kernel = hm_kernel_from_name(v);
                if (kernel < 0)
                    status = hm_error(ctx, HM_EINVAL,
                                      "--kernel %s: unknown kernel; use quartic, triangular, uniform, triweight or "
                                      "epanechnikov",
                                      v);
                else o->kernel = (hm_kernel)kernel;
            }
        } else if (got == 0 && OPTION("--decay")) {
            if (got < 0) status = got;
            else {
                status = hm_arg_double(ctx, "--decay", v, &o->decay);
                decay_given = 1;
                if (status == HM_OK && !(o->decay >= -100 && o->decay <= 100))
                    status = hm_error(ctx, HM_EINVAL, "--decay %s: must be between -100 and 100, as in QGIS", v);
            }
        } else if (got == 0 && OPTION("--weight")) {
            if (got < 0) status = got;
            else o->weight_field = strcmp(v, "count") == 0 ? NULL : v;
        } else if (got == 0 && OPTION("--output")) {
            if (got < 0) status = got;
            else if (strcmp(v, "raw") == 0) o->values = HM_KDE_RAW;
            else if (strcmp(v, "scaled") == 0) o->values = HM_KDE_SCALED;
            else status = hm_error(ctx, HM_EINVAL, "--output %s: use raw or scaled (the output file is -o FILE)", v);
        } else if (got == 0 && OPTION("--extent")) {
            if (got < 0) status = got;
            else if (strchr(v, ',')) {
                o->extent = EXTENT_BOX;
                status = parse_box(ctx, v, o->box);
            } else {
                o->extent = EXTENT_LAYER;
                o->extent_layer = v;
            }
        } else if (got == 0 && OPTION("--like")) {
            if (got < 0) status = got;
            else {
                o->extent = EXTENT_LIKE;
                o->like = v;
            }
        } else if (got == 0 && OPTION("--boundaries")) {
            if (got < 0) status = got;
            else o->boundaries = v;
        } else if (got == 0 && OPTION("--accumulator")) {
            if (got < 0) status = got;
            else o->accumulator = v;
        } else if (strcmp(argv[i], "--kept-unchanged") == 0) {
            o->kept_unchanged = 1;
        } else if (got == 0 && OPTION("--compat")) {
            if (got < 0) status = got;
            else if (strcmp(v, "qgis") == 0) o->compat_qgis = 1;
            else status = hm_error(ctx, HM_EINVAL, "--compat %s: the only compatibility mode is qgis", v);
        } else if (got == 0 && OPTION("--from")) {
            if (got < 0) status = got;
            else if (!parse_date_key(v, 0, &o->from_key))
                status = hm_error(ctx, HM_EINVAL, "--from %s: expected a date YYYY, YYYY-MM or YYYY-MM-DD", v);
            else o->date_from = v;
        } else if (got == 0 && OPTION("--to")) {
            if (got < 0) status = got;
            else if (!parse_date_key(v, 1, &o->to_key))
                status = hm_error(ctx, HM_EINVAL, "--to %s: expected a date YYYY, YYYY-MM or YYYY-MM-DD", v);
            else o->date_to = v;
        } else if (got == 0 && OPTION("--date-field")) {
            if (got < 0) status = got;
            else o->date_field = v;
        } else if (got == 0 && OPTION("--threads")) {
            long threads = 0;
            if (got < 0) status = got;
            else if ((status = hm_arg_long(ctx, "--threads", v, &threads)) == HM_OK) {
                if (threads < 0 || threads > 1024)
                    status = hm_error(ctx, HM_EINVAL, "--threads %s: use 0 (all processors) to 1024", v);
                o->threads = (int)threads;
            }
        } else if (got == 0 && OPTION("--max-memory")) {
            if (got < 0) status = got;
            else status = parse_memory(ctx, v, &o->max_memory_bytes);
        } else if (got == 0 && OPTION("-co")) {
            if (got < 0) status = got;
            else if (!strchr(v, '='))
                status = hm_error(ctx, HM_EINVAL, "-co %s: creation options are NAME=VALUE (GDAL GTiff driver)", v);
            else o->creation_options = CSLAddString(o->creation_options, v);
        } else if (got == 0 && OPTION("--oo")) {
            if (got < 0) status = got;
            else if (!strchr(v, '='))
                status = hm_error(ctx, HM_EINVAL, "--oo %s: open options are NAME=VALUE (GDAL driver of IN)", v);
            else o->open_options = CSLAddString(o->open_options, v);
        } else if (got < 0) {
            status = got;
        } else if (a[0] == '-' && a[1] != '\0') {
            status = hm_error(ctx, HM_EINVAL, "unknown option %s (see 'harmmap help density')", a);
        } else if (!o->input) {
            o->input = a;
        } else {
            status = hm_error(ctx, HM_EINVAL, "unexpected argument '%s': density reads one source (IN = %s)", a,
                              o->input);
        }
#undef OPTION
    }
    if (status == HM_OK && !o->output)
        status = hm_error(ctx, HM_EINVAL, "no output file: give -o OUT.tif");
    if (status == HM_OK && o->difference_a && o->input)
        status = hm_error(ctx, HM_EINVAL, "--difference reads two rasters and no IN ('%s'): drop one of them",
                          o->input);
    if (status == HM_OK && !o->difference_a && !o->input)
        status = hm_error(ctx, HM_EINVAL, "no input: give the points to map (harmmap density IN -o OUT.tif)");
    if (status == HM_OK && o->radius_field && o->rule != RADIUS_FIXED)
        status = hm_error(ctx, HM_EINVAL, "--radius-field and a bandwidth rule (--radius %s) exclude each other",
                          o->rule == RADIUS_SILVERMAN ? "silverman" : "arcgis");
    if (status == HM_OK && o->compat_qgis && o->values == HM_KDE_SCALED)
        status = hm_error(ctx, HM_EINVAL,
                          "--compat qgis gives raw values only: QGIS 3.22's scaled quartic is 7.25 times too large "
                          "(fixed upstream in 2025) and is not reproduced; drop --output scaled, or drop --compat "
                          "for an exact scaled surface");
    if (status == HM_OK && o->compat_qgis && o->extent != EXTENT_POINTS)
        status = hm_error(ctx, HM_EINVAL, "--compat qgis uses QGIS's own grid (the points' extent plus the radius): "
                                          "drop --%s",
                          o->extent == EXTENT_LIKE ? "like" : "extent");
    if (status == HM_OK && o->kept_unchanged && !o->accumulator)
        status = hm_error(ctx, HM_EINVAL, "--kept-unchanged says the records behind the kept sums are unchanged: it "
                                          "needs --accumulator FILE");
    if (status == HM_OK && o->date_from && o->date_to && o->from_key > o->to_key)
        status = hm_error(ctx, HM_EINVAL, "--from %s is after --to %s", o->date_from, o->date_to);
    if (status == HM_OK && decay_given && o->kernel != HM_KERNEL_TRIANGULAR)
        status = hm_error(ctx, HM_EINVAL, "--decay applies to the triangular kernel only (--kernel triangular)");
    if (status == HM_OK && o->kernel == HM_KERNEL_TRIANGULAR && o->values == HM_KDE_SCALED && !(o->decay > -0.5))
        status = hm_error(ctx, HM_EINVAL,
                          "--decay %g with --output scaled: the triangular kernel's integral, pi r^2 (1 + 2 decay) / "
                          "3, must be positive (decay > -0.5)",
                          o->decay);
    if (status != HM_OK) {
        hm_density_options_free(o);
        return status;
    }
    *out = o;
    return HM_OK;
}

/* ---- reading points ---------------------------------------------------------------------------------------- */

/* A load batch: consecutive points of one layer read from one source file (harmmap's source_file column, read
 * with --accumulator; the whole layer when it has none). Only --accumulator uses them. */
typedef struct point_batch {
    size_t first, count;
    XXH128_hash_t layer, source; /* hashes of the layer's and the source file's names */
} point_batch;

typedef struct point_set {
    double *x, *y, *weight, *radius;
    size_t count, capacity;
    int with_radius;
    point_batch *batches;
    size_t batch_count, batch_capacity;
    XXH128_hash_t layer; /* of the layer being read */
    size_t rejected_geometry, rejected_weight, rejected_radius, rejected_date_missing, rejected_date_outside;
    char first_bad_date[64];
    /* The union of the layers' extents as OGR reports them (what QGIS's grid starts from); valid when every layer
     * reported one in EPSG:27700. */
    double layer_extent[4];
    int layer_extent_valid, layer_extent_invalid;
    int kept_unreadable; /* --kept-unchanged: a layer could not be read from its kept records on (read it all) */
} point_set;

static void point_set_free(point_set *p)
{
    free(p->x);
    free(p->y);
    free(p->weight);
    free(p->radius);
    free(p->batches);
    memset(p, 0, sizeof *p);
}

/* The points pushed from now on belong to the batch of `source` in the current layer: a new batch unless the last
 * one is that batch already (an empty last batch is taken over). */
static int point_set_batch(hm_ctx *ctx, point_set *p, const void *source, size_t length)
{
    XXH128_hash_t name = XXH3_128bits(source, length);
    point_batch *last = p->batch_count ? &p->batches[p->batch_count - 1] : NULL;
    if (last && XXH128_isEqual(last->layer, p->layer) && XXH128_isEqual(last->source, name)) return HM_OK;
    if (!last || last->first != p->count) {
        if (p->batch_count == p->batch_capacity) {
            size_t capacity = p->batch_capacity ? 2 * p->batch_capacity : 16;
            point_batch *grown = realloc(p->batches, capacity * sizeof *grown);
            if (!grown) return hm_error(ctx, HM_ENOMEM, "out of memory for %zu load batches", capacity);
            p->batches = grown;
            p->batch_capacity = capacity;
        }
        last = &p->batches[p->batch_count++];
    }
    *last = (point_batch){p->count, 0, p->layer, name};
    return HM_OK;
}

/* Counts of the batches once every point is read; empty ones are dropped and neighbours of the same layer and
 * source joined: the batches are the longest runs of points of one source, whatever rows were rejected between. */
static void point_set_close_batches(point_set *p)
{
    size_t kept = 0;
    for (size_t b = 0; b < p->batch_count; b++) {
        size_t end = b + 1 < p->batch_count ? p->batches[b + 1].first : p->count;
        point_batch batch = p->batches[b];
        batch.count = end - batch.first;
        if (batch.count == 0) continue;
        point_batch *last = kept ? &p->batches[kept - 1] : NULL;
        if (last && XXH128_isEqual(last->layer, batch.layer) && XXH128_isEqual(last->source, batch.source))
            last->count += batch.count;
        else p->batches[kept++] = batch;
    }
    p->batch_count = kept;
}

static int point_set_push(hm_ctx *ctx, point_set *p, double x, double y, double weight, double radius)
{
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? p->capacity * 2 : 4096;
        double *nx = realloc(p->x, capacity * sizeof *nx);
        if (nx) p->x = nx;
        double *ny = realloc(p->y, capacity * sizeof *ny);
        if (ny) p->y = ny;
        double *nw = realloc(p->weight, capacity * sizeof *nw);
        if (nw) p->weight = nw;
        double *nr = p->with_radius ? realloc(p->radius, capacity * sizeof *nr) : NULL;
        if (nr) p->radius = nr;
        if (!nx || !ny || !nw || (p->with_radius && !nr))
            return hm_error(ctx, HM_ENOMEM, "out of memory reading %zu points", p->count);
        p->capacity = capacity;
    }
    p->x[p->count] = x;
    p->y[p->count] = y;
    p->weight[p->count] = weight;
    if (p->with_radius) p->radius[p->count] = radius;
    p->count++;
    return HM_OK;
}

static int is_bng(OGRSpatialReferenceH srs)
{
    const char *authority = OSRGetAuthorityName(srs, NULL), *code = OSRGetAuthorityCode(srs, NULL);
    if (authority && code && EQUAL(authority, "EPSG")) return strcmp(code, "27700") == 0;
    OGRSpatialReferenceH bng = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(bng, HM_DENSITY_EPSG);
    const char *options[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", NULL};
    int same = OSRIsSameEx(srs, bng, options);
    OSRDestroySpatialReference(bng);
    return same;
}

/* A transformation from the layer's CRS to EPSG:27700, or NULL when none is needed (same CRS, or none given:
 * then EPSG:27700 is assumed). */
static int layer_transformation(hm_ctx *ctx, const char *source, OGRLayerH layer, OGRCoordinateTransformationH *out)
{
    *out = NULL;
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    if (!srs) {
        hm_info(ctx, "%s: layer %s has no CRS; taken as British National Grid (EPSG:27700)", source,
                OGR_L_GetName(layer));
        return HM_OK;
    }
    if (is_bng(srs)) return HM_OK;
    OGRSpatialReferenceH from = OSRClone(srs), to = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(to, HM_DENSITY_EPSG);
    OSRSetAxisMappingStrategy(from, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(to, OAMS_TRADITIONAL_GIS_ORDER);
    *out = OCTNewCoordinateTransformation(from, to);
    const char *name = OSRGetName(srs);
    OSRDestroySpatialReference(from);
    OSRDestroySpatialReference(to);
    if (!*out)
        return hm_error(ctx, HM_EPROJ, "%s: layer %s: no transformation from %s to EPSG:27700 (%s)", source,
                        OGR_L_GetName(layer), name ? name : "its CRS", CPLGetLastErrorMsg());
    hm_info(ctx, "%s: layer %s is in %s; points transformed to EPSG:27700", source, OGR_L_GetName(layer),
            name ? name : "another CRS");
    return HM_OK;
}

/* A numeric attribute of a feature. Returns 1 with *value set, 0 when NULL/unset, or a negative status when the
 * value is not a number (a text field whose value is not a number). */
static int field_number(hm_ctx *ctx, OGRFeatureH feature, int field, const char *what, const char *layer_name,
                        double *value)
{
    if (!OGR_F_IsFieldSetAndNotNull(feature, field)) return 0;
    OGRFieldDefnH definition = OGR_F_GetFieldDefnRef(feature, field);
    OGRFieldType type = OGR_Fld_GetType(definition);
    if (type == OFTReal || type == OFTInteger || type == OFTInteger64) {
        *value = OGR_F_GetFieldAsDouble(feature, field);
        return 1;
    }
    const char *text = OGR_F_GetFieldAsString(feature, field);
    char *end = NULL;
    while (*text == ' ') text++;
    if (*text == '\0') return 0;
    errno = 0;
    *value = strtod(text, &end);
    while (end && *end == ' ') end++;
    if (end == text || !end || *end != '\0' || errno == ERANGE)
        return hm_error(ctx, HM_EFORMAT, "layer %s, feature %lld: %s field %s is '%s', not a number", layer_name,
                        (long long)OGR_F_GetFID(feature), what, OGR_Fld_GetNameRef(definition), text);
    return 1;
}

/* The date of a feature as yyyymmdd, 0 when missing or unreadable. */
static long feature_date(OGRFeatureH feature, int field, char *bad, size_t bad_size)
{
    if (!OGR_F_IsFieldSetAndNotNull(feature, field)) return 0;
    OGRFieldType type = OGR_Fld_GetType(OGR_F_GetFieldDefnRef(feature, field));
    if (type == OFTDate || type == OFTDateTime) {
        int year, month, day, hour, minute, tz;
        float second;
        if (OGR_F_GetFieldAsDateTimeEx(feature, field, &year, &month, &day, &hour, &minute, &second, &tz) &&
            year > 0 && month >= 1 && day >= 1)
            return (long)year * 10000 + month * 100 + day;
        return 0;
    }
    const char *text = OGR_F_GetFieldAsString(feature, field);
    long key = 0;
    if (parse_date_key(text, 0, &key)) return key;
    if (bad[0] == '\0') snprintf(bad, bad_size, "%s", text);
    return 0;
}

/* ---- a fast path for GeoPackage point layers ---------------------------------------------------------------- */

/* Reading a million features through OGR costs about a second (a feature object per row); harmmap's own output is
 * a GeoPackage, whose point geometries are a small header and WKB. This path reads the same columns with one
 * SQLite statement and decodes the blobs (GeoPackage 1.3, clause 2.1.3), in the same row order as OGR (rowid),
 * with the same checks and the same messages. Anything it does not expect (extended geometry types, a view, an
 * unreadable header) sends the layer back to OGR before a row is taken. */

static const unsigned char *gpkg_wkb(const unsigned char *blob, int size, int *empty)
{
    if (size < 8 || blob[0] != 'G' || blob[1] != 'P') return NULL;
    int flags = blob[3];
    if (flags & 0x20) return NULL; /* extended (non-standard) geometry type */
    static const int envelope_bytes[8] = {0, 32, 48, 48, 64, -1, -1, -1};
    int envelope = envelope_bytes[(flags >> 1) & 7];
    if (envelope < 0 || 8 + envelope >= size) return NULL;
    *empty = (flags & 0x10) != 0;
    return blob + 8 + envelope;
}

static uint32_t wkb_uint32(const unsigned char *p, int little)
{
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                  : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static double wkb_double(const unsigned char *p, int little)
{
    unsigned char bytes[8];
    for (int k = 0; k < 8; k++) bytes[k] = little ? p[k] : p[7 - k];
    double value;
    memcpy(&value, bytes, sizeof value);
    return value; /* hosts are little-endian where harmmap runs (x86-64, arm64) */
}

/* One WKB point (ISO types 1, 1001, 2001, 3001): 1 with x, y; 0 when empty (NaN coordinates); -1 when not a point
 * or truncated. *used receives its length. */
static int wkb_point(const unsigned char *p, const unsigned char *end, double *x, double *y, size_t *used)
{
    if (end - p < 5) return -1;
    int little = p[0] == 1;
    uint32_t type = wkb_uint32(p + 1, little);
    int dimensions = type == 1 ? 2 : type == 1001 || type == 2001 ? 3 : type == 3001 ? 4 : 0;
    if (!dimensions || end - p < 5 + 8 * dimensions) return -1;
    *x = wkb_double(p + 5, little);
    *y = wkb_double(p + 13, little);
    *used = 5 + 8 * (size_t)dimensions;
    return isnan(*x) && isnan(*y) ? 0 : 1;
}

/* A column's number: 1 with *value, 0 for NULL or an empty text, or an error for a text that is not a number. */
static int column_number(hm_ctx *ctx, sqlite3_stmt *row, int column, const char *what, const char *field,
                         const char *layer_name, double *value)
{
    switch (sqlite3_column_type(row, column)) {
    case SQLITE_NULL: return 0;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: *value = sqlite3_column_double(row, column); return 1;
    default: break;
    }
    const char *text = (const char *)sqlite3_column_text(row, column), *start = text;
    if (!text) return 0;
    while (*start == ' ') start++;
    if (*start == '\0') return 0;
    char *end = NULL;
    errno = 0;
    *value = strtod(start, &end);
    while (end && *end == ' ') end++;
    if (end == start || !end || *end != '\0' || errno == ERANGE)
        return hm_error(ctx, HM_EFORMAT, "layer %s, feature %lld: %s field %s is '%s', not a number", layer_name,
                        (long long)sqlite3_column_int64(row, 0), what, field, start);
    return 1;
}

static char *quote_identifier(const char *name)
{
    size_t length = strlen(name), quotes = 0;
    for (size_t k = 0; k < length; k++) quotes += name[k] == '"';
    char *quoted = malloc(length + quotes + 3), *q = quoted;
    if (!quoted) return NULL;
    *q++ = '"';
    for (size_t k = 0; k < length; k++) {
        if (name[k] == '"') *q++ = '"';
        *q++ = name[k];
    }
    *q++ = '"';
    *q = '\0';
    return quoted;
}

typedef struct layer_report {
    char name[128];
    size_t points;
    double weight;            /* the points' weights added one by one in fid order */
    long long last_fid;       /* the last record of the layer read, used or not (-1: none) */
    size_t rejected[5];       /* records skipped: no location, empty weight, empty radius, no date, outside dates */
    XXH128_hash_t last_source; /* of the layer's last load batch */
} layer_report;

/* What the kept sums say of a layer's records (see "sums kept between runs"): with --kept-unchanged, the reading
 * starts after them and these stand for them. */
typedef struct kept_layer {
    XXH128_hash_t name;
    long long last_fid;
    size_t points, batches;
    double weight;
    size_t rejected[5];
    XXH128_hash_t last_source;
    XXH128_hash_t *batch_ids;
    unsigned long long data_hash; /* of the layer's sums, which follow the header */
} kept_layer;

typedef struct kept_records {
    kept_layer layers[64];
    size_t count;
} kept_records;

static void kept_records_free(kept_records *k)
{
    for (size_t l = 0; l < k->count; l++) free(k->layers[l].batch_ids);
    memset(k, 0, sizeof *k);
}

static const kept_layer *kept_layer_named(const kept_records *k, const char *name)
{
    XXH128_hash_t hash = XXH3_128bits(name, strlen(name));
    for (size_t l = 0; k && l < k->count; l++)
        if (XXH128_isEqual(k->layers[l].name, hash)) return &k->layers[l];
    return NULL;
}

/* Returns 1 when the layer was read here (status in *status), 0 when OGR should read it. Reads the records after
 * after_fid (-1: all); the last one read, used or not, goes to report->last_fid, the source of the last point used
 * to report->last_source. */
static int read_layer_gpkg(hm_ctx *ctx, const hm_density_options *o, OGRLayerH layer, long long after_fid,
                           point_set *points, layer_report *report, int *status)
{
    const char *name = OGR_L_GetName(layer), *fid = OGR_L_GetFIDColumn(layer);
    const char *geometry = OGR_L_GetGeometryColumn(layer);
    if (!fid || !fid[0] || !geometry || !geometry[0]) return 0;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(o->input, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    const char *source = o->accumulator && OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(layer), "source_file") >= 0
                             ? "source_file"
                             : NULL;
    const char *columns[6] = {fid, geometry, o->weight_field, o->radius_field,
                              o->date_from || o->date_to ? o->date_field : NULL, source};
    char *quoted[7] = {NULL};
    size_t sql_size = 64;
    int ok = 1;
    for (int k = 0; k < 6; k++)
        if (columns[k]) {
            quoted[k] = quote_identifier(columns[k]);
            ok = ok && quoted[k];
            sql_size += quoted[k] ? strlen(quoted[k]) + 2 : 0;
        }
    quoted[6] = quote_identifier(name);
    ok = ok && quoted[6];
    char *sql = ok ? malloc(sql_size + (quoted[6] ? strlen(quoted[6]) : 0) + strlen(quoted[0]) + 32) : NULL;
    sqlite3_stmt *row = NULL;
    if (sql) {
        strcpy(sql, "SELECT ");
        for (int k = 0; k < 6; k++) {
            strcat(sql, k ? ", " : "");
            strcat(sql, quoted[k] ? quoted[k] : "NULL");
        }
        strcat(sql, " FROM ");
        strcat(sql, quoted[6]);
        if (after_fid >= 0) sprintf(sql + strlen(sql), " WHERE %s > %lld", quoted[0], after_fid);
        if (sqlite3_prepare_v2(db, sql, -1, &row, NULL) != SQLITE_OK) row = NULL;
    }
    free(sql);
    for (int k = 0; k < 7; k++) free(quoted[k]);
    if (!row) {
        sqlite3_close(db);
        return 0;
    }
    /* The first row must decode, or OGR reads the layer. */
    int step = sqlite3_step(row), handled = 1;
    if (step == SQLITE_ROW && sqlite3_column_type(row, 1) == SQLITE_BLOB) {
        int empty;
        if (!gpkg_wkb(sqlite3_column_blob(row, 1), sqlite3_column_bytes(row, 1), &empty)) handled = 0;
    }
    int filter_dates = o->date_from || o->date_to;
    for (; handled && step == SQLITE_ROW && *status == HM_OK; step = sqlite3_step(row)) {
        long long feature = sqlite3_column_int64(row, 0);
        if (feature > report->last_fid) report->last_fid = feature;
        if (filter_dates) {
            long key = 0;
            const char *text = (const char *)sqlite3_column_text(row, 4);
            if (text && !parse_date_key(text, 0, &key) && points->first_bad_date[0] == '\0')
                snprintf(points->first_bad_date, sizeof points->first_bad_date, "%s", text);
            if (key == 0) {
                points->rejected_date_missing++;
                continue;
            }
            if ((o->date_from && key < o->from_key) || (o->date_to && key > o->to_key)) {
                points->rejected_date_outside++;
                continue;
            }
        }
        const unsigned char *blob = sqlite3_column_blob(row, 1);
        int size = sqlite3_column_bytes(row, 1), empty = 0;
        const unsigned char *wkb = blob ? gpkg_wkb(blob, size, &empty) : NULL;
        if (!blob || empty) {
            points->rejected_geometry++;
            continue;
        }
        const unsigned char *end = blob + size;
        if (!wkb || end - wkb < 9) {
            *status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: unreadable geometry", o->input, name,
                               feature);
            break;
        }
        int little = wkb[0] == 1;
        uint32_t type = wkb_uint32(wkb + 1, little) % 1000;
        if (type != 1 && type != 4) {
            *status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld is a %s: density needs points", o->input,
                               name, feature, OGRGeometryTypeToName((OGRwkbGeometryType)type));
            break;
        }
        double weight = 1, radius = 0;
        if (o->weight_field) {
            int got = column_number(ctx, row, 2, "weight", o->weight_field, name, &weight);
            if (got < 0) {
                *status = got;
                break;
            }
            if (got == 0) {
                points->rejected_weight++;
                continue;
            }
            if (!isfinite(weight) || weight < 0) {
                *status = hm_error(ctx, HM_EINVAL,
                                   "%s: layer %s, feature %lld: weight %g (field %s): weights must be finite and >= 0",
                                   o->input, name, feature, weight, o->weight_field);
                break;
            }
        }
        if (o->radius_field) {
            int got = column_number(ctx, row, 3, "radius", o->radius_field, name, &radius);
            if (got < 0) {
                *status = got;
                break;
            }
            if (got == 0) {
                points->rejected_radius++;
                continue;
            }
            if (!isfinite(radius) || !(radius > 0)) {
                *status = hm_error(ctx, HM_EINVAL,
                                   "%s: layer %s, feature %lld: radius %g (field %s): a radius must be a positive "
                                   "number of metres",
                                   o->input, name, feature, radius, o->radius_field);
                break;
            }
        }
        if (o->accumulator) {
            *status = point_set_batch(ctx, points, sqlite3_column_blob(row, 5), (size_t)sqlite3_column_bytes(row, 5));
            if (*status != HM_OK) break;
        }
        double x, y;
        size_t used;
        if (type == 1) {
            int got = wkb_point(wkb, end, &x, &y, &used);
            if (got < 0) *status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: unreadable point", o->input,
                                            name, feature);
            else if (got == 0) points->rejected_geometry++;
            else if (!isfinite(x) || !isfinite(y))
                *status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: coordinates are not finite",
                                   o->input, name, feature);
            else *status = point_set_push(ctx, points, x, y, weight, radius);
            continue;
        }
        uint32_t parts = wkb_uint32(wkb + 5, little);
        const unsigned char *p = wkb + 9;
        int any = 0;
        for (uint32_t k = 0; k < parts && *status == HM_OK; k++, p += used) {
            int got = wkb_point(p, end, &x, &y, &used);
            if (got < 0) *status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: unreadable multipoint",
                                            o->input, name, feature);
            else if (got > 0 && (!isfinite(x) || !isfinite(y)))
                *status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: coordinates are not finite",
                                   o->input, name, feature);
            else if (got > 0) {
                *status = point_set_push(ctx, points, x, y, weight, radius);
                any = 1;
            }
        }
        if (*status == HM_OK && !any) points->rejected_geometry++;
    }
    if (handled && *status == HM_OK && step != SQLITE_DONE)
        *status = hm_error(ctx, HM_ESQL, "%s: layer %s: reading failed (%s)", o->input, name, sqlite3_errmsg(db));
    sqlite3_finalize(row);
    sqlite3_close(db);
    return handled;
}

static size_t *rejected_counter(point_set *p, int k)
{
    size_t *counters[5] = {&p->rejected_geometry, &p->rejected_weight, &p->rejected_radius,
                           &p->rejected_date_missing, &p->rejected_date_outside};
    return counters[k];
}

/* Reads the layer's points into points, and what it holds into report. kept (NULL: none): the layer's records up
 * to kept->last_fid are those the kept sums were made from; only those after them are read. */
static int read_layer(hm_ctx *ctx, const hm_density_options *o, OGRLayerH layer, int is_gpkg, int required,
                      const kept_layer *kept, point_set *points, layer_report *report)
{
    const char *name = OGR_L_GetName(layer);
    snprintf(report->name, sizeof report->name, "%s", name);
    report->last_fid = kept ? kept->last_fid : -1;
    report->weight = kept ? kept->weight : 0;
    report->last_source = kept ? kept->last_source : XXH3_128bits("", 0);
    size_t before[5];
    for (int k = 0; k < 5; k++) {
        before[k] = *rejected_counter(points, k);
        if (kept) *rejected_counter(points, k) += kept->rejected[k];
    }
    OGRwkbGeometryType geometry_type = wkbFlatten(OGR_L_GetGeomType(layer));
    if (geometry_type != wkbPoint && geometry_type != wkbMultiPoint && geometry_type != wkbUnknown)
        return hm_error(ctx, HM_EFORMAT, "%s: layer %s holds %s geometries, not points", o->input, name,
                        OGRGeometryTypeToName(geometry_type));
    GIntBig feature_count = OGR_L_GetFeatureCount(layer, TRUE);
    if (feature_count == 0) {
        if (required)
            return hm_error(ctx, HM_EINVAL, "%s: layer %s is empty: there is nothing to map", o->input, name);
        hm_info(ctx, "%s: layer %s is empty", o->input, name);
        return HM_OK;
    }
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    int weight_field = -1, radius_field = -1, date_field = -1;
    if (o->weight_field) {
        weight_field = OGR_FD_GetFieldIndex(definition, o->weight_field);
        if (weight_field < 0)
            return hm_error(ctx, HM_EFORMAT, "%s: layer %s has no field '%s' for --weight%s; use --weight count or a "
                                             "numeric field",
                            o->input, name, o->weight_field,
                            strcmp(o->weight_field, "harm") == 0 ? " harm (run the harm model first)" : "");
        OGRFieldType type = OGR_Fld_GetType(OGR_FD_GetFieldDefn(definition, weight_field));
        if (type != OFTReal && type != OFTInteger && type != OFTInteger64 && type != OFTString)
            return hm_error(ctx, HM_EFORMAT, "%s: layer %s: --weight field '%s' is %s, not numeric", o->input, name,
                            o->weight_field, OGR_GetFieldTypeName(type));
    }
    if (o->radius_field) {
        radius_field = OGR_FD_GetFieldIndex(definition, o->radius_field);
        if (radius_field < 0)
            return hm_error(ctx, HM_EFORMAT, "%s: layer %s has no field '%s' for --radius-field", o->input, name,
                            o->radius_field);
        OGRFieldType type = OGR_Fld_GetType(OGR_FD_GetFieldDefn(definition, radius_field));
        if (type != OFTReal && type != OFTInteger && type != OFTInteger64 && type != OFTString)
            return hm_error(ctx, HM_EFORMAT, "%s: layer %s: --radius-field '%s' is %s, not numeric", o->input, name,
                            o->radius_field, OGR_GetFieldTypeName(type));
    }
    int filter_dates = o->date_from || o->date_to;
    if (filter_dates) {
        date_field = OGR_FD_GetFieldIndex(definition, o->date_field);
        if (date_field < 0)
            return hm_error(ctx, HM_EFORMAT, "%s: layer %s has no field '%s' for --from/--to (see --date-field)",
                            o->input, name, o->date_field);
    }
    /* Read only the fields used: GDAL then selects only those columns. */
    char **ignored = CSLAddString(NULL, "OGR_STYLE");
    for (int f = 0; f < OGR_FD_GetFieldCount(definition); f++)
        if (f != weight_field && f != radius_field && f != date_field)
            ignored = CSLAddString(ignored, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, f)));
    OGR_L_SetIgnoredFields(layer, (const char **)ignored);
    CSLDestroy(ignored);

    points->layer = XXH3_128bits(name, strlen(name));
    if (o->accumulator && point_set_batch(ctx, points, "", 0) != HM_OK) /* the whole layer, unless read below */
        return hm_error_code(ctx);
    OGRCoordinateTransformationH transformation = NULL;
    int status = layer_transformation(ctx, o->input, layer, &transformation);
    if (status != HM_OK) return status;
    OGREnvelope envelope;
    if (!transformation && OGR_L_GetExtent(layer, &envelope, TRUE) == OGRERR_NONE) {
        double *e = points->layer_extent;
        if (!points->layer_extent_valid) e[0] = envelope.MinX, e[1] = envelope.MinY, e[2] = envelope.MaxX, e[3] = envelope.MaxY;
        e[0] = fmin(e[0], envelope.MinX), e[1] = fmin(e[1], envelope.MinY);
        e[2] = fmax(e[2], envelope.MaxX), e[3] = fmax(e[3], envelope.MaxY);
        points->layer_extent_valid = 1;
    } else {
        points->layer_extent_invalid = 1;
    }
    size_t first = points->count;
    OGRFeatureH feature = NULL;
    int read_by_sqlite = is_gpkg && !o->open_options &&
                         read_layer_gpkg(ctx, o, layer, kept ? kept->last_fid : -1, points, report, &status);
    if (!read_by_sqlite && kept) { /* the caller reads every layer again, in full */
        points->kept_unreadable = 1;
        return HM_OK;
    }
    if (!read_by_sqlite) OGR_L_ResetReading(layer);
    while (!read_by_sqlite && status == HM_OK && (feature = OGR_L_GetNextFeature(layer)) != NULL) {
        if (OGR_F_GetFID(feature) > report->last_fid) report->last_fid = OGR_F_GetFID(feature);
        double weight = 1, radius = 0;
        int got;
        if (filter_dates) {
            long key = feature_date(feature, date_field, points->first_bad_date, sizeof points->first_bad_date);
            if (key == 0) {
                points->rejected_date_missing++;
                OGR_F_Destroy(feature);
                continue;
            }
            if ((o->date_from && key < o->from_key) || (o->date_to && key > o->to_key)) {
                points->rejected_date_outside++;
                OGR_F_Destroy(feature);
                continue;
            }
        }
        OGRGeometryH geometry = OGR_F_GetGeometryRef(feature);
        if (!geometry || OGR_G_IsEmpty(geometry)) {
            points->rejected_geometry++;
            OGR_F_Destroy(feature);
            continue;
        }
        OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(geometry));
        if (type != wkbPoint && type != wkbMultiPoint) {
            status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld is a %s: density needs points", o->input,
                              name, (long long)OGR_F_GetFID(feature), OGRGeometryTypeToName(type));
            OGR_F_Destroy(feature);
            break;
        }
        if (weight_field >= 0) {
            got = field_number(ctx, feature, weight_field, "weight", name, &weight);
            if (got < 0) status = got;
            else if (got == 0) {
                points->rejected_weight++;
                OGR_F_Destroy(feature);
                continue;
            } else if (!isfinite(weight) || weight < 0)
                status = hm_error(ctx, HM_EINVAL,
                                  "%s: layer %s, feature %lld: weight %g (field %s): weights must be finite and >= 0",
                                  o->input, name, (long long)OGR_F_GetFID(feature), weight, o->weight_field);
        }
        if (status == HM_OK && radius_field >= 0) {
            got = field_number(ctx, feature, radius_field, "radius", name, &radius);
            if (got < 0) status = got;
            else if (got == 0) {
                points->rejected_radius++;
                OGR_F_Destroy(feature);
                continue;
            } else if (!isfinite(radius) || !(radius > 0))
                status = hm_error(ctx, HM_EINVAL,
                                  "%s: layer %s, feature %lld: radius %g (field %s): a radius must be a positive number "
                                  "of metres",
                                  o->input, name, (long long)OGR_F_GetFID(feature), radius, o->radius_field);
        }
        if (status == HM_OK) {
            int parts = type == wkbPoint ? 1 : OGR_G_GetGeometryCount(geometry);
            for (int k = 0; k < parts && status == HM_OK; k++) {
                OGRGeometryH point = type == wkbPoint ? geometry : OGR_G_GetGeometryRef(geometry, k);
                if (OGR_G_IsEmpty(point)) continue;
                double x = OGR_G_GetX(point, 0), y = OGR_G_GetY(point, 0);
                if (!isfinite(x) || !isfinite(y))
                    status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: coordinates are not finite",
                                      o->input, name, (long long)OGR_F_GetFID(feature));
                else status = point_set_push(ctx, points, x, y, weight, radius);
            }
        }
        OGR_F_Destroy(feature);
    }
    if (status == HM_OK && transformation && points->count > first) {
        size_t n = points->count - first;
        int *success = malloc(n * sizeof *success);
        if (!success) status = hm_error(ctx, HM_ENOMEM, "out of memory transforming %zu points", n);
        else if (!OCTTransformEx(transformation, (int)n, points->x + first, points->y + first, NULL, success))
            status = hm_error(ctx, HM_EPROJ, "%s: layer %s: transforming to EPSG:27700 failed (%s)", o->input, name,
                              CPLGetLastErrorMsg());
        for (size_t k = 0; status == HM_OK && k < n; k++)
            if (!success[k] || !isfinite(points->x[first + k]) || !isfinite(points->y[first + k]))
                status = hm_error(ctx, HM_EPROJ, "%s: layer %s: point %zu cannot be transformed to EPSG:27700",
                                  o->input, name, k + 1);
        free(success);
    }
    if (transformation) OCTDestroyCoordinateTransformation(transformation);
    report->points = (kept ? kept->points : 0) + (points->count - first);
    for (size_t n = first; n < points->count; n++) report->weight += points->weight[n];
    /* The source of the layer's last point: the batch holding it (batches of this layer, newest first). */
    for (size_t b = points->batch_count; b > 0 && XXH128_isEqual(points->batches[b - 1].layer, points->layer); b--) {
        size_t end = b < points->batch_count ? points->batches[b].first : points->count;
        if (points->batches[b - 1].first < end && points->batches[b - 1].first >= first) {
            report->last_source = points->batches[b - 1].source;
            break;
        }
    }
    for (int k = 0; k < 5; k++) report->rejected[k] = *rejected_counter(points, k) - before[k];
    return status;
}

static int is_csv(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcasecmp(path + n - 4, ".csv") == 0;
}

/* kept (NULL: none): the layers' records the kept sums stand for, read from after them (read_layer). */
static int read_points(hm_ctx *ctx, const hm_density_options *o, const kept_records *kept, point_set *points,
                       layer_report **reports, size_t *report_count)
{
    char **open_options = CSLDuplicate(o->open_options);
    if (is_csv(o->input) && !open_options) {
        /* A CSV with easting/northing columns (a WKT column is found by OGR itself). */
        open_options = CSLAddString(open_options, "X_POSSIBLE_NAMES=x,easting,X");
        open_options = CSLAddString(open_options, "Y_POSSIBLE_NAMES=y,northing,Y");
        open_options = CSLAddString(open_options, "AUTODETECT_TYPE=YES");
    }
    GDALDatasetH source = GDALOpenEx(o->input, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL,
                                     (const char *const *)open_options, NULL);
    CSLDestroy(open_options);
    if (!source) {
        const char *why = CPLGetLastErrorMsg();
        if (access(o->input, F_OK) != 0) why = "no such file";
        else if (!why[0]) why = "not a vector format GDAL reads";
        return hm_error(ctx, HM_EIO, "%s: cannot open as a vector source (%s)", o->input, why);
    }
    int status = HM_OK, layer_count = GDALDatasetGetLayerCount(source);
    int is_gpkg = EQUAL(GDALGetDriverShortName(GDALGetDatasetDriver(source)), "GPKG");
    hm_string_list names = {0};
    int required = o->layers_given;
    if (o->layers_given) {
        for (size_t k = 0; k < o->layers.count && status == HM_OK; k++)
            status = hm_string_list_push(ctx, &names, o->layers.items[k]);
    } else {
        const char *defaults[] = {"incidents", "intelligence"};
        for (int k = 0; k < 2 && status == HM_OK; k++)
            if (GDALDatasetGetLayerByName(source, defaults[k])) status = hm_string_list_push(ctx, &names, defaults[k]);
        if (status == HM_OK && names.count == 0) {
            if (layer_count == 1) {
                status = hm_string_list_push(ctx, &names, OGR_L_GetName(GDALDatasetGetLayer(source, 0)));
                required = 1;
            } else {
                char list[1024] = "";
                for (int k = 0; k < layer_count && strlen(list) < sizeof list - 130; k++) {
                    strcat(list, k ? ", " : "");
                    strncat(list, OGR_L_GetName(GDALDatasetGetLayer(source, k)), 120);
                }
                status = hm_error(ctx, HM_EINVAL,
                                  "%s has no incidents or intelligence layer and %d layers (%s): choose with --layers",
                                  o->input, layer_count, list);
            }
        }
    }
    *reports = calloc(names.count + 1, sizeof **reports);
    if (status == HM_OK && !*reports) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    *report_count = 0;
    for (size_t k = 0; k < names.count && status == HM_OK; k++) {
        OGRLayerH layer = GDALDatasetGetLayerByName(source, names.items[k]);
        if (!layer) {
            char list[1024] = "";
            for (int n = 0; n < layer_count && strlen(list) < sizeof list - 130; n++) {
                strcat(list, n ? ", " : "");
                strncat(list, OGR_L_GetName(GDALDatasetGetLayer(source, n)), 120);
            }
            status = hm_error(ctx, HM_EINVAL, "%s has no layer '%s' (layers: %s)", o->input, names.items[k], list);
            break;
        }
        status = read_layer(ctx, o, layer, is_gpkg, required, kept_layer_named(kept, names.items[k]), points,
                            &(*reports)[k]);
        (*report_count)++;
    }
    hm_string_list_free(&names);
    GDALClose(source);
    return status;
}

/* ---- grid, mask and memory --------------------------------------------------------------------------------- */

static int boundary_layer(hm_ctx *ctx, const hm_density_options *o, GDALDatasetH *dataset, OGRLayerH *layer)
{
    const char *path = o->boundaries ? o->boundaries : o->input;
    *dataset = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!*dataset) return hm_error(ctx, HM_EIO, "--extent %s: cannot open %s (%s)", o->extent_layer, path,
                                   CPLGetLastErrorMsg());
    *layer = GDALDatasetGetLayerByName(*dataset, o->extent_layer);
    if (!*layer) {
        GDALClose(*dataset);
        *dataset = NULL;
        return hm_error(ctx, HM_EINVAL,
                        "--extent %s: %s has no layer '%s'; give the boundaries with --boundaries FILE, or the "
                        "extent as xmin,ymin,xmax,ymax",
                        o->extent_layer, path, o->extent_layer);
    }
    OGRwkbGeometryType type = wkbFlatten(OGR_L_GetGeomType(*layer));
    if (type != wkbPolygon && type != wkbMultiPolygon && type != wkbUnknown) {
        GDALClose(*dataset);
        *dataset = NULL;
        return hm_error(ctx, HM_EFORMAT, "--extent %s: layer %s in %s holds %s geometries, not polygons",
                        o->extent_layer, o->extent_layer, path, OGRGeometryTypeToName(type));
    }
    return HM_OK;
}

/* The grid of an existing north-up raster with square cells. */
static int like_grid(hm_ctx *ctx, const char *path, hm_kde_grid *grid)
{
    GDALDatasetH raster = GDALOpen(path, GA_ReadOnly);
    if (!raster) return hm_error(ctx, HM_EIO, "--like %s: cannot open (%s)", path, CPLGetLastErrorMsg());
    double t[6];
    int status = HM_OK;
    if (GDALGetGeoTransform(raster, t) != CE_None || t[2] != 0 || t[4] != 0 || !(t[1] > 0) || t[5] != -t[1])
        status = hm_error(ctx, HM_EFORMAT, "--like %s: needs a north-up grid of square cells", path);
    else {
        grid->x_min_m = t[0];
        grid->y_max_m = t[3];
        grid->cell_m = t[1];
        grid->columns = GDALGetRasterXSize(raster);
        grid->rows = GDALGetRasterYSize(raster);
    }
    GDALClose(raster);
    return status;
}

static OGRSpatialReferenceH new_bng(void)
{
    OGRSpatialReferenceH bng = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(bng, HM_DENSITY_EPSG);
    OSRSetAxisMappingStrategy(bng, OAMS_TRADITIONAL_GIS_ORDER);
    return bng;
}

static int boundary_extent(hm_ctx *ctx, const hm_density_options *o, OGRLayerH layer, double box[4])
{
    OGREnvelope envelope;
    if (OGR_L_GetExtent(layer, &envelope, TRUE) != OGRERR_NONE)
        return hm_error(ctx, HM_EINVAL, "--extent %s: the layer is empty", o->extent_layer);
    box[0] = envelope.MinX, box[1] = envelope.MinY, box[2] = envelope.MaxX, box[3] = envelope.MaxY;
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    if (srs && !is_bng(srs)) {
        OGRSpatialReferenceH from = OSRClone(srs), to = new_bng();
        OSRSetAxisMappingStrategy(from, OAMS_TRADITIONAL_GIS_ORDER);
        OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(from, to);
        int ok = ct && OCTTransformBounds(ct, box[0], box[1], box[2], box[3], &box[0], &box[1], &box[2], &box[3], 21);
        if (ct) OCTDestroyCoordinateTransformation(ct);
        OSRDestroySpatialReference(from);
        OSRDestroySpatialReference(to);
        if (!ok) return hm_error(ctx, HM_EPROJ, "--extent %s: cannot transform its extent to EPSG:27700",
                                 o->extent_layer);
    }
    return HM_OK;
}

static char *bng_wkt(void)
{
    OGRSpatialReferenceH bng = new_bng();
    char *wkt = NULL;
    OSRExportToWkt(bng, &wkt);
    OSRDestroySpatialReference(bng);
    return wkt;
}

static void grid_geotransform(const hm_kde_grid *g, double transform[6])
{
    transform[0] = g->x_min_m;
    transform[1] = g->cell_m;
    transform[2] = 0;
    transform[3] = g->y_max_m;
    transform[4] = 0;
    transform[5] = -g->cell_m;
}

/* Cells inside the layer's polygons (centre inside) get 1. */
static int rasterize_mask(hm_ctx *ctx, const hm_density_options *o, OGRLayerH layer, const hm_kde_grid *g,
                          unsigned char *mask)
{
    GDALDriverH mem = GDALGetDriverByName("MEM");
    GDALDatasetH dataset = mem ? GDALCreate(mem, "", (int)g->columns, (int)g->rows, 0, GDT_Byte, NULL) : NULL;
    if (!dataset) return hm_error(ctx, HM_EGDAL, "cannot create the mask raster (%s)", CPLGetLastErrorMsg());
    char pointer[64], pixel[32], line[64];
    memset(pointer, 0, sizeof pointer);
    snprintf(pointer, sizeof pointer, "DATAPOINTER=");
    CPLPrintPointer(pointer + strlen(pointer), mask, (int)(sizeof pointer - strlen(pointer) - 1));
    snprintf(pixel, sizeof pixel, "PIXELOFFSET=1");
    snprintf(line, sizeof line, "LINEOFFSET=%ld", g->columns);
    char *band_options[] = {pointer, pixel, line, NULL};
    memset(mask, 0, (size_t)g->columns * (size_t)g->rows);
    int status = HM_OK;
    if (GDALAddBand(dataset, GDT_Byte, band_options) != CE_None)
        status = hm_error(ctx, HM_EGDAL, "cannot create the mask band (%s)", CPLGetLastErrorMsg());
    double transform[6];
    grid_geotransform(g, transform);
    char *wkt = bng_wkt();
    GDALSetGeoTransform(dataset, transform);
    GDALSetProjection(dataset, wkt);
    CPLFree(wkt);
    int band = 1;
    double burn = 1;
    if (status == HM_OK && GDALRasterizeLayers(dataset, 1, &band, 1, &layer, NULL, NULL, &burn, NULL, NULL, NULL) !=
                               CE_None)
        status = hm_error(ctx, HM_EGDAL, "--extent %s: rasterizing the polygons failed (%s)", o->extent_layer,
                          CPLGetLastErrorMsg());
    GDALClose(dataset);
    return status;
}

/* ---- statistics, metadata and the GeoTIFF ------------------------------------------------------------------ */

typedef struct surface_stats {
    double minimum, maximum, mean, stddev, sum;
    size_t valid;
} surface_stats;

static surface_stats compute_stats(const float *data, size_t cells, float nodata)
{
    surface_stats s = {0, 0, 0, 0, 0, 0};
    double sum = 0, square_sum = 0, minimum = INFINITY, maximum = -INFINITY;
    for (size_t k = 0; k < cells; k++) {
        float v = data[k];
        if (v == nodata || isnan(v)) continue;
        double d = v;
        sum += d;
        square_sum += d * d;
        if (d < minimum) minimum = d;
        if (d > maximum) maximum = d;
        s.valid++;
    }
    if (s.valid) {
        s.minimum = minimum;
        s.maximum = maximum;
        s.sum = sum;
        s.mean = sum / (double)s.valid;
        double variance = square_sum / (double)s.valid - s.mean * s.mean;
        s.stddev = variance > 0 ? sqrt(variance) : 0;
    }
    return s;
}

static char **set_metadata(char **list, const char *key, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static char **set_metadata(char **list, const char *key, const char *format, ...)
{
    char value[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    return CSLSetNameValue(list, key, value);
}

static int resolve_threads(int threads)
{
    if (threads > 0) return threads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

/* Overview factors 2, 4, ... until the smallest level fits in one 512-pixel tile, as GDAL's COG driver does. */
static int overview_levels(const hm_kde_grid *g, int levels[32])
{
    int count = 0;
    for (long factor = 2; count < 32; factor *= 2) {
        if ((g->columns + factor / 2 - 1) / (factor / 2) <= 512 && (g->rows + factor / 2 - 1) / (factor / 2) <= 512)
            break;
        levels[count++] = (int)factor;
    }
    return count;
}

/* Writes data (rows x columns float32, row 0 at the top) as a Cloud Optimized GeoTIFF at path, through a
 * temporary file beside it renamed at the end. The layout is GDAL's COG layout made the direct way: the surface
 * is wrapped (not copied) as an in-memory raster, its AVERAGE overviews are built in memory, and the GTiff driver
 * writes tiles and overviews in one pass with COPY_SRC_OVERVIEWS=YES (the COG driver would compute the overviews
 * into a temporary file first, which takes twice as long here). DEFLATE with the floating-point predictor at
 * level 1: a third smaller than DEFLATE alone and faster (-co ZLEVEL=9 for the smallest file). */
static int write_cog_file(hm_ctx *ctx, const hm_density_options *o, const char *path, const hm_kde_grid *g,
                          float *data, char **metadata, const surface_stats *stats, GDALProgressFunc progress,
                          void *progress_data);

/* The surface is no more readable than what it is made from (geocode makes a GeoPackage holding intelligence
 * owner-only): the permission bits its inputs lack are added to the umask while the file is created. */
static mode_t narrow_umask(const hm_density_options *o)
{
    const char *sources[] = {o->input, o->difference_a, o->difference_b};
    mode_t narrower = 0;
    struct stat info;
    for (size_t k = 0; k < sizeof sources / sizeof sources[0]; k++)
        if (sources[k] && stat(sources[k], &info) == 0) narrower |= ~info.st_mode & 0077;
    mode_t saved_umask = umask(0);
    umask(saved_umask | narrower);
    return saved_umask;
}

static int write_cog(hm_ctx *ctx, const hm_density_options *o, const char *path, const hm_kde_grid *g, float *data,
                     char **metadata, const surface_stats *stats, GDALProgressFunc progress, void *progress_data)
{
    mode_t saved_umask = narrow_umask(o);
    int status = write_cog_file(ctx, o, path, g, data, metadata, stats, progress, progress_data);
    umask(saved_umask);
    return status;
}

static int write_cog_file(hm_ctx *ctx, const hm_density_options *o, const char *path, const hm_kde_grid *g,
                          float *data, char **metadata, const surface_stats *stats, GDALProgressFunc progress,
                          void *progress_data)
{
    GDALDriverH mem = GDALGetDriverByName("MEM");
    if (!mem || !GDALGetDriverByName("GTiff"))
        return hm_error(ctx, HM_EGDAL, "GDAL lacks the MEM or GTiff driver");
    GDALDatasetH dataset = GDALCreate(mem, "", (int)g->columns, (int)g->rows, 0, GDT_Float32, NULL);
    if (!dataset) return hm_error(ctx, HM_EGDAL, "cannot create the raster in memory (%s)", CPLGetLastErrorMsg());
    char pointer[64] = "DATAPOINTER=", pixel[32], line[64];
    CPLPrintPointer(pointer + strlen(pointer), data, (int)(sizeof pointer - strlen(pointer) - 1));
    snprintf(pixel, sizeof pixel, "PIXELOFFSET=%d", (int)sizeof(float));
    snprintf(line, sizeof line, "LINEOFFSET=%ld", g->columns * (long)sizeof(float));
    char *band_options[] = {pointer, pixel, line, NULL};
    int status = HM_OK;
    char temporary[4096] = "";
    if (GDALAddBand(dataset, GDT_Float32, band_options) != CE_None)
        status = hm_error(ctx, HM_EGDAL, "cannot wrap the surface as a raster band (%s)", CPLGetLastErrorMsg());
    if (status == HM_OK) {
        double transform[6];
        grid_geotransform(g, transform);
        char *wkt = bng_wkt();
        GDALSetGeoTransform(dataset, transform);
        GDALSetProjection(dataset, wkt);
        CPLFree(wkt);
        GDALSetMetadata(dataset, metadata, NULL);
        GDALRasterBandH band = GDALGetRasterBand(dataset, 1);
        GDALSetRasterNoDataValue(band, HM_KDE_NODATA);
        if (stats->valid) GDALSetRasterStatistics(band, stats->minimum, stats->maximum, stats->mean, stats->stddev);
        GDALSetDescription(band, "density");
        int levels[32], level_count = overview_levels(g, levels);
        if (level_count > 0 &&
            GDALBuildOverviews(dataset, "AVERAGE", level_count, levels, 0, NULL, NULL, NULL) != CE_None)
            status = hm_error(ctx, HM_EGDAL, "building the overviews failed (%s)", CPLGetLastErrorMsg());
    }
    char **arguments = NULL;
    if (status == HM_OK) {
        char threads[32];
        snprintf(threads, sizeof threads, "NUM_THREADS=%d", resolve_threads(o->threads));
        const char *defaults[] = {"TILED=YES",   "BLOCKXSIZE=512", "BLOCKYSIZE=512",          "COMPRESS=DEFLATE",
                                  "PREDICTOR=3", "ZLEVEL=1",       "COPY_SRC_OVERVIEWS=YES", "BIGTIFF=IF_SAFER",
                                  threads};
        arguments = CSLAddString(arguments, "-of");
        arguments = CSLAddString(arguments, "GTiff");
        for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(strchr(defaults[k], '=') - defaults[k]), defaults[k]);
            if (CSLFetchNameValue(o->creation_options, name)) continue; /* the user's -co wins */
            arguments = CSLAddString(arguments, "-co");
            arguments = CSLAddString(arguments, defaults[k]);
        }
        for (char **option = o->creation_options; option && *option; option++) {
            arguments = CSLAddString(arguments, "-co");
            arguments = CSLAddString(arguments, *option);
        }
        snprintf(temporary, sizeof temporary, "%s.tmp-%ld.tif", path, (long)getpid());
        GDALTranslateOptions *options = GDALTranslateOptionsNew(arguments, NULL);
        if (!options) status = hm_error(ctx, HM_EINVAL, "-co: GDAL rejected the creation options (%s)",
                                        CPLGetLastErrorMsg());
        else {
            if (progress) GDALTranslateOptionsSetProgress(options, progress, progress_data);
            int usage_error = 0;
            CPLErrorReset();
            GDALDatasetH written = GDALTranslate(temporary, dataset, options, &usage_error);
            GDALTranslateOptionsFree(options);
            if (!written)
                status = hm_error(ctx, HM_EIO, "%s: writing the GeoTIFF failed (%s)", path, CPLGetLastErrorMsg());
            else {
                CPLErrorReset();
                GDALClose(written);
                if (CPLGetLastErrorType() >= CE_Failure)
                    status = hm_error(ctx, HM_EIO, "%s: closing the GeoTIFF failed (%s)", path, CPLGetLastErrorMsg());
            }
        }
    }
    CSLDestroy(arguments);
    GDALClose(dataset);
    if (status == HM_OK && rename(temporary, path) != 0)
        status = hm_error(ctx, HM_EIO, "%s: cannot rename %s over it (%s)", path, temporary, strerror(errno));
    if (status != HM_OK && temporary[0]) VSIUnlink(temporary);
    if (status == HM_OK) hm_remove_stale_temporaries(ctx, temporary); /* left by killed runs */
    return status;
}

static char **common_metadata(char **md, const hm_kde_grid *g, const surface_stats *stats)
{
    md = set_metadata(md, "HARMMAP_VERSION", "%s", hm_version());
    md = set_metadata(md, "CRS", "EPSG:27700 (British National Grid)");
    md = set_metadata(md, "CELL_M", "%.17g", g->cell_m);
    md = set_metadata(md, "GRID", "%ld columns x %ld rows; cell (i, j) centre x = %.17g + (i + 0.5) * %.17g, "
                                  "y = %.17g - (j + 0.5) * %.17g",
                      g->columns, g->rows, g->x_min_m, g->cell_m, g->y_max_m, g->cell_m);
    md = set_metadata(md, "NODATA", "%g", HM_KDE_NODATA);
    md = set_metadata(md, "STATISTICS_CELLS_VALID", "%zu", stats->valid);
    md = set_metadata(md, "SURFACE_INTEGRAL", "%.10g", stats->sum * g->cell_m * g->cell_m);
    return md;
}

static int check_memory(hm_ctx *ctx, const hm_density_options *o, const hm_kde_grid *g, double needed,
                        double per_cell)
{
    if (needed <= o->max_memory_bytes) return HM_OK;
    char need[32], limit[32];
    format_bytes(needed, need, sizeof need);
    format_bytes(o->max_memory_bytes, limit, sizeof limit);
    /* Most of the need grows with the number of cells, as 1 / cell^2: the cell size that would fit, rounded up to
     * two significant figures, for the message. */
    double grid_part = per_cell * (double)g->columns * (double)g->rows, other = needed - grid_part;
    if (other >= o->max_memory_bytes)
        return hm_error(ctx, HM_ENOMEM,
                        "the points and work buffers alone need %s and --max-memory is %s: raise --max-memory", need,
                        limit);
    double cell = g->cell_m * sqrt(grid_part / (o->max_memory_bytes - other));
    double magnitude = pow(10, floor(log10(cell)) - 1);
    cell = ceil(cell / magnitude) * magnitude;
    return hm_error(ctx, HM_ENOMEM,
                    "a grid of %ld x %ld cells of %g m needs %s and --max-memory is %s: use a larger --cell (about "
                    "%g m would fit), a smaller --extent, or raise --max-memory",
                    g->columns, g->rows, g->cell_m, need, limit, cell);
}

/* ---- sums kept between runs (--accumulator) ----------------------------------------------------------------
 *
 * An update adds a week of records to a million. For its surface to equal a full run's bit for bit, both must add
 * the same doubles in the same order: floating-point addition is not associative, so "old surface + new kernels"
 * equals a full run only when the full run is defined that way. With --accumulator the surface is therefore
 *
 *     S = L_1 + L_2 + ...           one term per layer (incidents, then intelligence: the order they are read)
 *     L = ((0 + P_1) + P_2) + ...   one term per load batch of the layer, in load (fid) order
 *
 * cell by cell in double, rounded once to float32, where P_k is hm_kde_exact's double surface of batch k's points
 * alone (a batch: the consecutive records of one source_file; the whole layer without that column). P_k is a
 * function of its points, the settings and the grid only (kde.h: not of the thread count, nor of other points),
 * and the accumulate mode adds exactly that double. Loads append: the pipeline gives new records fids after those
 * of their kind, so the batches of an earlier load are a prefix of the batches now. The file keeps each layer's L
 * with the identity of the batches summed into it: settings, grid and code revision (the key), and per batch its
 * layer, source, count and a 128-bit hash of the bits of every x, y, weight and radius. A run whose batches begin
 * with exactly the stored ones continues L from the stored doubles, adding P for the batches after them: the
 * same additions, in the same order, as a run from nothing, hence the same bits. Anything else computes the layer
 * from nothing: other settings or grid (an extent from the points that grew), records loaded before that changed
 * (harm weights whose recency decay moved with the newest record, a file removed or re-geocoded), a missing,
 * damaged or foreign file. The file is a cache checked against the records themselves, never trusted: deleting it
 * changes the time taken, not the output. It is renamed into place after the GeoTIFF; a kill between the two
 * leaves a file that describes its own batches, checked like any other.
 *
 * Checking the stored batches against the records means reading every record again: at a million records, a
 * third of an update's density stage. With --kept-unchanged the caller (harmmap update, when nothing has written
 * its GeoPackage since the sums were kept) vouches for them instead: each layer is read from after the last
 * record the sums were made from (LASTFID), the stored batch identities stand for the records before, and the
 * layer's count, weight and skipped records continue from the stored ones (the weight is added point by point in
 * fid order, so continuing it gives a full read's bits). What cannot continue - other settings or grid, a damaged
 * file, a new batch of the same source as the last kept one (a full read would join them), the per-point
 * bandwidths of --radius-field or a rule over all points, an extent from the points - reads every record, as
 * without the flag.
 *
 * Layout: text lines, then each layer's sums (columns * rows doubles, in the order of the layer lines):
 *     harmmap density sums 2
 *     key HEX32                           settings, grid, code revision, double layout
 *     layer NAME32 BATCHES DATAHASH16 LASTFID POINTS WEIGHTBITS16 LASTSOURCE32 SKIPPED*5
 *                                         followed by BATCHES lines "batch HEX32"
 *     check HEX16                         XXH3-64 of the lines above
 *     end                                                                                                     */

#define SUMS_MAGIC "harmmap density sums 2\n"
#define SUMS_MAX_LAYERS 64

typedef struct sums_layer {
    XXH128_hash_t name;
    const char *label;               /* for messages */
    size_t first_batch, batch_count; /* this run's batches of the layer */
    size_t kept;                     /* how many of them the stored sum holds */
    size_t unread;                   /* how many of the first ones have no points in memory (--kept-unchanged) */
    size_t first_point_batch;        /* the index in the point set's batches of its first batch in memory */
    double *sum;
} sums_layer;

typedef struct kept_sums {
    sums_layer layers[SUMS_MAX_LAYERS];
    size_t layer_count;
    XXH128_hash_t key;
    XXH128_hash_t *batch_ids;
    size_t batch_count, cells, batches_computed;
    char note[256];
} kept_sums;

static void kept_sums_free(kept_sums *s)
{
    for (size_t l = 0; l < s->layer_count; l++) free(s->layers[l].sum);
    free(s->batch_ids);
    memset(s, 0, sizeof *s);
}

static void hex128(XXH128_hash_t h, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

static int parse_hex128(const char *text, XXH128_hash_t *out)
{
    char high[17], *end = NULL;
    if (strlen(text) != 32) return 0;
    memcpy(high, text, 16);
    high[16] = '\0';
    out->high64 = strtoull(high, &end, 16);
    if (*end) return 0;
    out->low64 = strtoull(text + 16, &end, 16);
    return *end == '\0';
}

/* Reads the header of the kept sums from f into k and *key and leaves f at the sums. 0 when the header is damaged
 * or of another format (k is then empty). */
static int sums_read_header(FILE *f, kept_records *k, XXH128_hash_t *key)
{
    memset(k, 0, sizeof *k);
    char line[400], name[40], source[40], weight_bits[24];
    XXH3_state_t *hash = XXH3_createState();
    int ok = hash && XXH3_64bits_reset(hash) == XXH_OK && fgets(line, sizeof line, f) &&
             strcmp(line, SUMS_MAGIC) == 0 && fgets(line, sizeof line, f) && sscanf(line, "key %32s", name) == 1 &&
             parse_hex128(name, key);
    if (ok) {
        XXH3_64bits_update(hash, SUMS_MAGIC, strlen(SUMS_MAGIC));
        XXH3_64bits_update(hash, line, strlen(line));
    }
    unsigned long long check = 0;
    int checked = 0;
    while (ok && fgets(line, sizeof line, f) && strcmp(line, "end\n") != 0) {
        if (sscanf(line, "check %llx", &check) == 1) {
            checked = check == (unsigned long long)XXH3_64bits_digest(hash);
            continue;
        }
        XXH3_64bits_update(hash, line, strlen(line));
        kept_layer *l = &k->layers[k->count];
        unsigned long long batches, points, skipped[5];
        long long last_fid;
        ok = k->count < sizeof k->layers / sizeof k->layers[0] &&
             sscanf(line, "layer %32s %llu %llx %lld %llu %16s %32s %llu %llu %llu %llu %llu", name, &batches,
                    &l->data_hash, &last_fid, &points, weight_bits, source, &skipped[0], &skipped[1], &skipped[2],
                    &skipped[3], &skipped[4]) == 12 &&
             parse_hex128(name, &l->name) && parse_hex128(source, &l->last_source) && batches < 100000000;
        if (!ok) break;
        uint64_t bits = strtoull(weight_bits, NULL, 16);
        memcpy(&l->weight, &bits, sizeof l->weight);
        l->last_fid = last_fid;
        l->points = (size_t)points;
        l->batches = (size_t)batches;
        for (int r = 0; r < 5; r++) l->rejected[r] = (size_t)skipped[r];
        l->batch_ids = malloc((l->batches + 1) * sizeof *l->batch_ids);
        k->count++;
        ok = l->batch_ids != NULL;
        for (size_t b = 0; ok && b < l->batches; b++) {
            ok = fgets(line, sizeof line, f) && sscanf(line, "batch %32s", name) == 1 &&
                 parse_hex128(name, &l->batch_ids[b]);
            if (ok) XXH3_64bits_update(hash, line, strlen(line));
        }
    }
    ok = ok && checked && strcmp(line, "end\n") == 0;
    XXH3_freeState(hash);
    if (!ok) kept_records_free(k);
    return ok;
}

/* The header of the kept sums: what each layer's records were (--kept-unchanged). 0 when the file is missing,
 * damaged or of another format (the caller reads every record). */
static int sums_peek(const char *path, kept_records *k)
{
    memset(k, 0, sizeof *k);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    XXH128_hash_t key;
    int ok = sums_read_header(f, k, &key);
    fclose(f);
    return ok;
}

static XXH128_hash_t batch_identity(const point_set *p, const point_batch *b)
{
    struct {
        XXH128_hash_t layer, source, x, y, weight, radius;
        uint64_t count;
    } parts;
    memset(&parts, 0, sizeof parts);
    size_t bytes = b->count * sizeof(double);
    parts.layer = b->layer;
    parts.source = b->source;
    parts.x = XXH3_128bits(p->x + b->first, bytes);
    parts.y = XXH3_128bits(p->y + b->first, bytes);
    parts.weight = XXH3_128bits(p->weight + b->first, bytes);
    if (p->radius) parts.radius = XXH3_128bits(p->radius + b->first, bytes);
    parts.count = b->count;
    return XXH3_128bits(&parts, sizeof parts);
}

static XXH128_hash_t sums_key(const hm_kde_params *params, int per_point_radius, const hm_kde_grid *g)
{
    double probe = 1.5;
    unsigned char bytes[sizeof probe];
    memcpy(bytes, &probe, sizeof bytes);
    char text[512];
    int length = snprintf(text, sizeof text,
                          "harmmap %s kde-revision %d | kernel %d decay %.17g output %d radius %.17g per-point %d | "
                          "grid %.17g %.17g %.17g %ld %ld | double %zu %02x%02x",
                          hm_version(), HM_KDE_EXACT_REVISION, (int)params->kernel, params->decay,
                          (int)params->output, params->radius_m, per_point_radius, g->x_min_m, g->y_max_m, g->cell_m,
                          g->columns, g->rows, sizeof probe, bytes[0], bytes[sizeof bytes - 1]);
    return XXH3_128bits(text, (size_t)length);
}

/* Reads the stored sums that this run's batches continue into layers[].sum and .kept; says in s->note why the
 * other layers start from nothing. A file that cannot be used is a reason, never an error. */
static void sums_load(const char *path, kept_sums *s)
{
    char why[120] = "";
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(s->note, sizeof s->note, "no sums kept yet: all %zu batches computed", s->batch_count);
        return;
    }
    kept_records stored;
    XXH128_hash_t key;
    int ok = sums_read_header(f, &stored, &key);
    if (ok && !XXH128_isEqual(key, s->key)) {
        snprintf(why, sizeof why, "the settings, grid or version changed");
        ok = 0;
    }
    long continued[SUMS_MAX_LAYERS]; /* per stored layer: the index in s->layers it continues, or -1 */
    for (size_t k = 0; ok && k < stored.count; k++) {
        const kept_layer *h = &stored.layers[k];
        long match = -1;
        for (size_t l = 0; l < s->layer_count && match < 0; l++)
            if (XXH128_isEqual(s->layers[l].name, h->name) && !s->layers[l].sum && s->layers[l].kept == 0)
                match = (long)l;
        int prefix = match >= 0 && h->batches > 0 && h->batches <= s->layers[match].batch_count;
        for (size_t b = 0; prefix && b < h->batches; b++)
            prefix = XXH128_isEqual(s->batch_ids[s->layers[match].first_batch + b], h->batch_ids[b]);
        if (match >= 0 && !prefix && !why[0])
            snprintf(why, sizeof why, "the records of %s loaded before changed", s->layers[match].label);
        if (prefix) s->layers[match].kept = h->batches; /* claims the layer; confirmed below */
        continued[k] = prefix ? match : -1;
    }
    for (size_t k = 0; ok && k < stored.count; k++) {
        size_t bytes = s->cells * sizeof(double);
        if (continued[k] < 0) {
            ok = fseeko(f, (off_t)bytes, SEEK_CUR) == 0;
            continue;
        }
        sums_layer *layer = &s->layers[continued[k]];
        layer->sum = malloc(bytes);
        ok = layer->sum && fread(layer->sum, 1, bytes, f) == bytes &&
             XXH3_64bits(layer->sum, bytes) == (XXH64_hash_t)stored.layers[k].data_hash;
    }
    kept_records_free(&stored);
    if (ok && fgetc(f) != EOF) ok = 0;
    fclose(f);
    if (!ok) { /* nothing from a damaged file */
        for (size_t l = 0; l < s->layer_count; l++) {
            free(s->layers[l].sum);
            s->layers[l].sum = NULL;
            s->layers[l].kept = 0;
        }
        if (!why[0]) snprintf(why, sizeof why, "the file of kept sums is damaged or foreign");
    }
    for (size_t l = 0; l < s->layer_count; l++)
        if (!s->layers[l].sum) s->layers[l].kept = 0;
    size_t kept = 0;
    for (size_t l = 0; l < s->layer_count; l++) kept += s->layers[l].kept;
    if (kept == 0)
        snprintf(s->note, sizeof s->note, "full computation (%s): all %zu batches computed",
                 why[0] ? why : "no batch kept", s->batch_count);
    else if (why[0])
        snprintf(s->note, sizeof s->note, "%zu of %zu batches from the kept sums; %s, so that layer was computed "
                                          "in full", kept, s->batch_count, why);
    else
        snprintf(s->note, sizeof s->note, "%zu of %zu batches from the kept sums, %zu computed", kept,
                 s->batch_count, s->batch_count - kept);
}

/* The surface as the sum of the batches' surfaces (see above), continuing the kept sums where they apply. The
 * layers are those of the reports, in their order: each one's batches are those of kept (NULL: none; --kept-
 * unchanged: the batches of the records not read) followed by its batches in the point set. When kept batches
 * cannot be continued, *read_all is set and nothing is computed: the caller reads every record and calls again. */
static int compute_by_batches(hm_ctx *ctx, const hm_density_options *o, const hm_kde_params *params,
                              const point_set *points, const layer_report *reports, size_t report_count,
                              const kept_records *kept, const hm_kde_grid *g, const unsigned char *mask, float *surface,
                              kept_sums *s, int *read_all)
{
    memset(s, 0, sizeof *s);
    *read_all = 0;
    s->cells = (size_t)g->columns * (size_t)g->rows;
    s->key = sums_key(params, points->radius != NULL, g);
    s->batch_count = points->batch_count;
    for (size_t k = 0; kept && k < report_count; k++) {
        const kept_layer *unread = kept_layer_named(kept, reports[k].name);
        if (unread) s->batch_count += unread->batches;
    }
    s->batch_ids = malloc((s->batch_count + 1) * sizeof *s->batch_ids);
    if (!s->batch_ids) return hm_error(ctx, HM_ENOMEM, "out of memory for %zu batches", s->batch_count);
    size_t next = 0, in_memory = 0;
    for (size_t k = 0; k < report_count; k++) {
        XXH128_hash_t name = XXH3_128bits(reports[k].name, strlen(reports[k].name));
        const kept_layer *unread = kept ? kept_layer_named(kept, reports[k].name) : NULL;
        size_t first_in_memory = in_memory;
        while (in_memory < points->batch_count && XXH128_isEqual(points->batches[in_memory].layer, name))
            in_memory++;
        if (in_memory == first_in_memory && (!unread || unread->batches == 0)) continue; /* nothing to map */
        if (unread && unread->batches && in_memory > first_in_memory &&
            XXH128_isEqual(points->batches[first_in_memory].source, unread->last_source)) {
            snprintf(s->note, sizeof s->note, "the new records of %s continue the last load batch kept",
                     reports[k].name);
            *read_all = 1; /* a full read would join them into one batch */
            return HM_OK;
        }
        if (s->layer_count == SUMS_MAX_LAYERS)
            return hm_error(ctx, HM_EINVAL, "--accumulator: more than %d layers", SUMS_MAX_LAYERS);
        sums_layer *layer = &s->layers[s->layer_count++];
        layer->name = name;
        layer->label = reports[k].name;
        layer->first_batch = next;
        layer->first_point_batch = first_in_memory;
        layer->unread = unread ? unread->batches : 0;
        for (size_t b = 0; b < layer->unread; b++) s->batch_ids[next++] = unread->batch_ids[b];
        for (size_t b = first_in_memory; b < in_memory; b++)
            s->batch_ids[next++] = batch_identity(points, &points->batches[b]);
        layer->batch_count = next - layer->first_batch;
    }
    if (in_memory != points->batch_count) /* batches of a layer no report names: cannot be */
        return hm_error(ctx, HM_EINVAL, "--accumulator: the load batches do not follow the layers");
    s->batch_count = next;
    sums_load(o->accumulator, s);
    for (size_t l = 0; l < s->layer_count; l++)
        if (s->layers[l].kept < s->layers[l].unread) { /* the sums of records not read are not there to continue */
            *read_all = 1;
            return HM_OK;
        }
    int status = HM_OK;
    for (size_t l = 0; l < s->layer_count && status == HM_OK; l++) {
        sums_layer *layer = &s->layers[l];
        if (!layer->sum && !(layer->sum = calloc(s->cells, sizeof(double))))
            return hm_error(ctx, HM_ENOMEM, "out of memory for the sums of %ld x %ld cells", g->columns, g->rows);
        for (size_t b = layer->kept; b < layer->batch_count; b++) {
            const point_batch *batch = &points->batches[layer->first_point_batch + (b - layer->unread)];
            hm_kde_points part = {points->x + batch->first, points->y + batch->first,
                                  points->weight + batch->first, points->radius ? points->radius + batch->first : NULL,
                                  batch->count};
            hm_kde_raster raster = {NULL, layer->sum, NULL, HM_KDE_NODATA, 1};
            status = hm_kde_exact(ctx, params, &part, g, &raster);
            if (status != HM_OK) break;
            s->batches_computed++;
        }
    }
    for (size_t c = 0; c < s->cells && status == HM_OK; c++) {
        double value = s->layer_count ? s->layers[0].sum[c] : 0;
        for (size_t l = 1; l < s->layer_count; l++) value += s->layers[l].sum[c];
        surface[c] = mask && !mask[c] ? (float)HM_KDE_NODATA : (float)value;
    }
    return status;
}

/* Writes the sums atomically (a temporary beside the file, renamed over it). Not fsynced: after a power cut the
 * file may be empty or cut short, which the next run finds (size, data hashes) and answers by computing in full;
 * the sync cost 0.1 to 0.2 s of an update's density stage at a million records for nothing else. */
static int sums_write(hm_ctx *ctx, const char *path, const kept_sums *s, const layer_report *reports,
                      size_t report_count)
{
    size_t header_size = 128 + s->layer_count * 320 + s->batch_count * 48, used = 0;
    char *header = malloc(header_size), hex[33];
    if (!header) return hm_error(ctx, HM_ENOMEM, "out of memory");
    hex128(s->key, hex);
    used += (size_t)snprintf(header + used, header_size - used, SUMS_MAGIC "key %s\n", hex);
    size_t bytes = s->cells * sizeof(double);
    for (size_t l = 0; l < s->layer_count; l++) {
        const sums_layer *layer = &s->layers[l];
        hex128(layer->name, hex);
        const layer_report *report = NULL;
        for (size_t k = 0; k < report_count && !report; k++)
            if (strcmp(reports[k].name, layer->label) == 0) report = &reports[k];
        if (!report) { /* cannot be: each layer is a report's */
            free(header);
            return hm_error(ctx, HM_EINVAL, "%s: no report of layer %s", path, layer->label);
        }
        uint64_t weight_bits;
        memcpy(&weight_bits, &report->weight, sizeof weight_bits);
        char source[33];
        hex128(report->last_source, source);
        used += (size_t)snprintf(header + used, header_size - used,
                                 "layer %s %zu %016llx %lld %zu %016llx %s %zu %zu %zu %zu %zu\n", hex,
                                 layer->batch_count, (unsigned long long)XXH3_64bits(layer->sum, bytes),
                                 report->last_fid, report->points, (unsigned long long)weight_bits, source,
                                 report->rejected[0], report->rejected[1], report->rejected[2], report->rejected[3],
                                 report->rejected[4]);
        for (size_t b = 0; b < layer->batch_count; b++) {
            hex128(s->batch_ids[layer->first_batch + b], hex);
            used += (size_t)snprintf(header + used, header_size - used, "batch %s\n", hex);
        }
    }
    /* The header's own hash: --kept-unchanged takes its counts and weights as they are. */
    used += (size_t)snprintf(header + used, header_size - used, "check %016llx\nend\n",
                             (unsigned long long)XXH3_64bits(header, used));
    hm_file_part *parts = malloc((1 + s->layer_count) * sizeof *parts);
    int status = parts ? HM_OK : hm_error(ctx, HM_ENOMEM, "out of memory");
    if (status == HM_OK) {
        parts[0] = (hm_file_part){header, used};
        for (size_t l = 0; l < s->layer_count; l++) parts[1 + l] = (hm_file_part){s->layers[l].sum, bytes};
        status = hm_write_parts_atomically(ctx, path, parts, 1 + s->layer_count, HM_WRITE_NO_SYNC);
        if (status != HM_OK)
            hm_error_prefix(ctx, "%s: cannot write the kept sums (the next run will compute them again)", path);
    }
    free(parts);
    free(header);
    return status;
}

/* The kept sums written beside the GeoTIFF's compression (see the caller). A cache: failing to keep it costs the
 * next run time, no more, so its error is a warning. The thread has its own context, as context.h asks. */
typedef struct sums_writer {
    const char *path; /* NULL: nothing to write */
    const kept_sums *sums;
    const layer_report *reports;
    size_t report_count;
    hm_ctx *ctx;
    int status, started;
    pthread_t thread;
} sums_writer;

static void *sums_writer_main(void *argument)
{
    sums_writer *w = argument;
    w->status = sums_write(w->ctx, w->path, w->sums, w->reports, w->report_count);
    return NULL;
}

static void sums_writer_start(sums_writer *w, const char *path, const kept_sums *sums, const layer_report *reports,
                              size_t report_count)
{
    memset(w, 0, sizeof *w);
    if (!path) return;
    w->path = path;
    w->sums = sums;
    w->reports = reports;
    w->report_count = report_count;
    w->ctx = hm_ctx_create();
    if (w->ctx && pthread_create(&w->thread, NULL, sums_writer_main, w) == 0) w->started = 1;
}

static void sums_writer_finish(hm_ctx *ctx, sums_writer *w)
{
    if (!w->path) return;
    if (w->started) pthread_join(w->thread, NULL);
    else w->status = sums_write(ctx, w->path, w->sums, w->reports, w->report_count); /* no thread: here */
    if (w->status != HM_OK) {
        hm_warn(ctx, "%s", w->started ? hm_error_message(w->ctx) : hm_error_message(ctx));
        if (!w->started) hm_error_clear(ctx);
    }
    hm_ctx_destroy(w->ctx);
    w->path = NULL;
}

/* ---- the difference of two surfaces ------------------------------------------------------------------------ */

static int run_difference(hm_ctx *ctx, const hm_density_options *o, GDALProgressFunc progress,
                          hm_density_summary *summary)
{
    const char *paths[2] = {o->difference_a, o->difference_b};
    GDALDatasetH rasters[2] = {NULL, NULL};
    float *data = NULL, *row = NULL;
    char **md = NULL;
    int status = HM_OK;
    double transforms[2][6];
    for (int k = 0; k < 2 && status == HM_OK; k++) {
        rasters[k] = GDALOpen(paths[k], GA_ReadOnly);
        if (!rasters[k]) status = hm_error(ctx, HM_EIO, "--difference: cannot open %s (%s)", paths[k],
                                           CPLGetLastErrorMsg());
        else if (GDALGetRasterCount(rasters[k]) != 1)
            status = hm_error(ctx, HM_EFORMAT, "--difference: %s has %d bands; a density surface has one", paths[k],
                              GDALGetRasterCount(rasters[k]));
        else if (GDALGetGeoTransform(rasters[k], transforms[k]) != CE_None || transforms[k][2] != 0 ||
                 transforms[k][4] != 0)
            status = hm_error(ctx, HM_EFORMAT, "--difference: %s has no north-up georeferencing", paths[k]);
    }
    hm_kde_grid g = {0, 0, 0, 0, 0};
    if (status == HM_OK) {
        int same = GDALGetRasterXSize(rasters[0]) == GDALGetRasterXSize(rasters[1]) &&
                   GDALGetRasterYSize(rasters[0]) == GDALGetRasterYSize(rasters[1]);
        for (int k = 0; k < 6; k++) same = same && transforms[0][k] == transforms[1][k];
        if (!same)
            status = hm_error(ctx, HM_EINVAL,
                              "--difference: %s (%d x %d cells at %.10g,%.10g, cell %g) and %s (%d x %d at "
                              "%.10g,%.10g, cell %g) are not on the same grid: make both with the same --cell and "
                              "--extent",
                              paths[0], GDALGetRasterXSize(rasters[0]), GDALGetRasterYSize(rasters[0]),
                              transforms[0][0], transforms[0][3], transforms[0][1], paths[1],
                              GDALGetRasterXSize(rasters[1]), GDALGetRasterYSize(rasters[1]), transforms[1][0],
                              transforms[1][3], transforms[1][1]);
        g.x_min_m = transforms[0][0];
        g.y_max_m = transforms[0][3];
        g.cell_m = transforms[0][1];
        g.columns = GDALGetRasterXSize(rasters[0]);
        g.rows = GDALGetRasterYSize(rasters[0]);
    }
    if (status == HM_OK) {
        const char *a_srs = GDALGetProjectionRef(rasters[0]), *b_srs = GDALGetProjectionRef(rasters[1]);
        OGRSpatialReferenceH a = OSRNewSpatialReference(a_srs), b = OSRNewSpatialReference(b_srs);
        if (!a || !b || !OSRIsSame(a, b))
            status = hm_error(ctx, HM_EINVAL, "--difference: %s and %s are not in the same CRS", paths[0], paths[1]);
        if (a) OSRDestroySpatialReference(a);
        if (b) OSRDestroySpatialReference(b);
    }
    if (status == HM_OK) {
        /* Parameters that make a difference meaningless when they differ: warn, the user may know better. */
        const char *keys[] = {"MODE", "KERNEL", "RADIUS_M", "OUTPUT_VALUES", "WEIGHT"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const char *va = GDALGetMetadataItem(rasters[0], keys[k], NULL);
            const char *vb = GDALGetMetadataItem(rasters[1], keys[k], NULL);
            if (va && vb && strcmp(va, vb) != 0)
                hm_warn(ctx, "--difference: %s differs (%s in %s, %s in %s)", keys[k], va, paths[0], vb, paths[1]);
        }
        double needed = 4.0 * (double)g.columns * (double)(g.rows + 1);
        status = check_memory(ctx, o, &g, needed, 4.0);
    }
    if (status == HM_OK) {
        data = malloc((size_t)g.columns * (size_t)g.rows * sizeof *data);
        row = malloc((size_t)g.columns * sizeof *row);
        if (!data || !row) status = hm_error(ctx, HM_ENOMEM, "out of memory for %ld x %ld cells", g.columns, g.rows);
    }
    int has_nodata[2] = {0, 0};
    double nodata[2] = {0, 0};
    for (int k = 0; k < 2 && status == HM_OK; k++)
        nodata[k] = GDALGetRasterNoDataValue(GDALGetRasterBand(rasters[k], 1), &has_nodata[k]);
    for (long j = 0; j < g.rows && status == HM_OK; j++) {
        float *out = data + j * g.columns;
        if (GDALRasterIO(GDALGetRasterBand(rasters[0], 1), GF_Read, 0, (int)j, (int)g.columns, 1, out,
                         (int)g.columns, 1, GDT_Float32, 0, 0) != CE_None ||
            GDALRasterIO(GDALGetRasterBand(rasters[1], 1), GF_Read, 0, (int)j, (int)g.columns, 1, row,
                         (int)g.columns, 1, GDT_Float32, 0, 0) != CE_None) {
            status = hm_error(ctx, HM_EIO, "--difference: reading row %ld failed (%s)", j, CPLGetLastErrorMsg());
            break;
        }
        for (long i = 0; i < g.columns; i++) {
            int a_missing = (has_nodata[0] && out[i] == (float)nodata[0]) || isnan(out[i]);
            int b_missing = (has_nodata[1] && row[i] == (float)nodata[1]) || isnan(row[i]);
            /* QGIS-style surfaces mark "no kernel here" as nodata: that is a zero density, not a missing one, but
             * only the producer knows; a cell missing in either is missing in the difference. */
            out[i] = a_missing || b_missing ? (float)HM_KDE_NODATA : (float)((double)row[i] - (double)out[i]);
        }
    }
    if (status == HM_OK) {
        surface_stats stats = compute_stats(data, (size_t)g.columns * (size_t)g.rows, (float)HM_KDE_NODATA);
        md = common_metadata(md, &g, &stats);
        md = set_metadata(md, "MODE", "difference");
        md = set_metadata(md, "DIFFERENCE", "B - A, cell by cell; nodata where either is nodata");
        md = set_metadata(md, "DIFFERENCE_A", "%s", paths[0]);
        md = set_metadata(md, "DIFFERENCE_B", "%s", paths[1]);
        const char *copied[] = {"KERNEL", "RADIUS_M", "OUTPUT_VALUES", "WEIGHT", "VALUE_FORMULA"};
        for (size_t k = 0; k < sizeof copied / sizeof copied[0]; k++) {
            const char *va = GDALGetMetadataItem(rasters[0], copied[k], NULL);
            const char *vb = GDALGetMetadataItem(rasters[1], copied[k], NULL);
            char key[64];
            if (va) {
                snprintf(key, sizeof key, "A_%s", copied[k]);
                md = CSLSetNameValue(md, key, va);
            }
            if (vb) {
                snprintf(key, sizeof key, "B_%s", copied[k]);
                md = CSLSetNameValue(md, key, vb);
            }
        }
        status = write_cog(ctx, o, o->output, &g, data, md, &stats, progress, NULL);
        if (summary) {
            summary->columns = g.columns;
            summary->rows = g.rows;
            summary->cell_m = g.cell_m;
            summary->minimum = stats.minimum;
            summary->maximum = stats.maximum;
            summary->mean = stats.mean;
            summary->surface_integral = stats.sum * g.cell_m * g.cell_m;
        }
        if (status == HM_OK)
            hm_info(ctx, "density: wrote %s = %s - %s (%ld x %ld cells, change from %.6g to %.6g)", o->output,
                    paths[1], paths[0], g.columns, g.rows, stats.minimum, stats.maximum);
    }
    for (int k = 0; k < 2; k++)
        if (rasters[k]) GDALClose(rasters[k]);
    free(data);
    free(row);
    CSLDestroy(md);
    return status;
}

/* Stage timings on stderr with --verbose (never in the file: the output must not depend on the run). */
static void verbose_time(hm_ctx *ctx, const char *stage, double *since)
{
    double now = hm_monotonic_seconds();
    if (hm_ctx_verbosity(ctx) >= HM_VERBOSE) hm_info(ctx, "density: %s in %.3f s", stage, now - *since);
    *since = now;
}

/* ---- the command ------------------------------------------------------------------------------------------- */

/* GDAL's errors reach the user inside harmmap's own message (CPLGetLastErrorMsg), so they are not printed a
 * second time; its warnings are passed on. */
static void CPL_STDCALL gdal_message(CPLErr level, CPLErrorNum number, const char *message)
{
    (void)number;
    if (level == CE_Warning && CPLGetErrorHandlerUserData())
        hm_warn((hm_ctx *)CPLGetErrorHandlerUserData(), "GDAL: %s", message);
}

static int density_run(hm_ctx *ctx, const hm_density_options *o, GDALProgressFunc progress,
                       hm_density_summary *summary);

/* What was read after the kept records forgotten, every record read (--kept-unchanged could not be used). */
static int read_every_record(hm_ctx *ctx, const hm_density_options *o, kept_records *kept, point_set *points,
                             layer_report **reports, size_t *report_count)
{
    kept_records_free(kept);
    point_set_free(points);
    points->with_radius = o->radius_field != NULL;
    free(*reports);
    *reports = NULL;
    *report_count = 0;
    return read_points(ctx, o, NULL, points, reports, report_count);
}

/* The records skipped and the points of all records, read or kept (--kept-unchanged); the total weight layer by
 * layer, each layer's added point by point in fid order (what the kept sums can continue). */
static void count_totals(const point_set *points, const layer_report *reports, size_t report_count, size_t *rejected,
                         size_t *point_total, double *total_weight)
{
    *rejected = points->rejected_geometry + points->rejected_weight + points->rejected_radius +
                points->rejected_date_missing + points->rejected_date_outside;
    *point_total = 0;
    *total_weight = 0;
    for (size_t k = 0; k < report_count; k++) {
        *point_total += reports[k].points;
        *total_weight += reports[k].weight;
    }
}

int hm_density(hm_ctx *ctx, const hm_density_options *o, GDALProgressFunc progress, hm_density_summary *summary)
{
    if (!o) return HM_OK; /* --help */
    CPLPushErrorHandlerEx(gdal_message, o->verbosity == HM_QUIET ? NULL : ctx);
    int status = density_run(ctx, o, progress, summary);
    CPLPopErrorHandler();
    return status;
}

static int density_run(hm_ctx *ctx, const hm_density_options *o, GDALProgressFunc progress,
                       hm_density_summary *summary)
{
    hm_verbosity saved_verbosity = hm_ctx_verbosity(ctx);
    hm_ctx_set_verbosity(ctx, o->verbosity);
    if (summary) memset(summary, 0, sizeof *summary);
    if (!progress && o->verbosity != HM_QUIET && isatty(STDERR_FILENO)) progress = GDALTermProgress;
    if (o->difference_a) {
        int status = run_difference(ctx, o, progress, summary);
        hm_ctx_set_verbosity(ctx, saved_verbosity);
        return status;
    }

    point_set points;
    memset(&points, 0, sizeof points);
    points.with_radius = o->radius_field != NULL;
    layer_report *reports = NULL;
    size_t report_count = 0;
    unsigned char *mask = NULL;
    float *surface = NULL;
    char **md = NULL;
    GDALDatasetH boundaries = NULL;
    OGRLayerH boundary = NULL;
    double clock = hm_monotonic_seconds();
    int by_batches = o->accumulator && !o->compat_qgis; /* QGIS's float32 sums are QGIS's, in one pass */
    /* --kept-unchanged: the records the kept sums stand for are not read (see "sums kept between runs"). */
    kept_records kept;
    memset(&kept, 0, sizeof kept);
    const char *kept_why = NULL;
    if (o->kept_unchanged && !by_batches) kept_why = "--compat qgis sums in one pass";
    else if (o->kept_unchanged && (o->rule != RADIUS_FIXED || o->radius_field))
        kept_why = "the bandwidths depend on every point";
    else if (o->kept_unchanged && o->extent == EXTENT_POINTS) kept_why = "the grid is the points' extent";
    else if (o->kept_unchanged && !sums_peek(o->accumulator, &kept)) kept_why = "no kept sums, or damaged ones";
    int status = read_points(ctx, o, kept.count ? &kept : NULL, &points, &reports, &report_count);
    if (status == HM_OK && points.kept_unreadable) { /* a layer that SQLite could not read from a record on */
        kept_why = "a layer cannot be read from a record on";
        status = read_every_record(ctx, o, &kept, &points, &reports, &report_count);
    }
    point_set_close_batches(&points);
    verbose_time(ctx, "read the points", &clock);
    kept_sums sums;
    memset(&sums, 0, sizeof sums);
    size_t rejected = 0, point_total = 0;
    double total_weight = 0;
    count_totals(&points, reports, report_count, &rejected, &point_total, &total_weight);
    if (status == HM_OK && point_total == 0) {
        if (o->date_from || o->date_to)
            status = hm_error(ctx, HM_EINVAL,
                              "%s: no records dated within %s .. %s (%zu outside, %zu without a readable %s): "
                              "nothing to map",
                              o->input, o->date_from ? o->date_from : "the start", o->date_to ? o->date_to : "the end",
                              points.rejected_date_outside, points.rejected_date_missing, o->date_field);
        else
            status = hm_error(ctx, HM_EINVAL, "%s: no points to map (%zu records without a location, weight or "
                                              "radius)",
                              o->input, rejected);
    }
    if (status == HM_OK) {
        if (points.rejected_geometry)
            hm_warn(ctx, "%zu records without a location were skipped", points.rejected_geometry);
        if (points.rejected_weight)
            hm_warn(ctx, "%zu records with an empty %s were skipped", points.rejected_weight, o->weight_field);
        if (points.rejected_radius)
            hm_warn(ctx, "%zu records with an empty %s were skipped", points.rejected_radius, o->radius_field);
        if (points.rejected_date_missing)
            hm_warn(ctx, "%zu records without a readable %s were left out by --from/--to%s%s%s",
                    points.rejected_date_missing, o->date_field, points.first_bad_date[0] ? " (e.g. '" : "",
                    points.first_bad_date, points.first_bad_date[0] ? "')" : "");
    }
    if (status == HM_OK && !(total_weight > 0))
        status = hm_error(ctx, HM_EINVAL, "%s: the %zu points have a total weight of 0: the surface would be empty",
                          o->input, point_total);

    hm_kde_points kde_points = {points.x, points.y, points.weight, points.radius, points.count};
    hm_kde_params params = {o->kernel, o->decay, o->values, o->radius_m, o->threads, NULL};
    /* QGIS starts its grid from the layer's extent as OGR reports it; with a date filter it would be given a
     * subset, whose extent is its points' bounding box. */
    if (o->compat_qgis && points.layer_extent_valid && !points.layer_extent_invalid && !o->date_from && !o->date_to)
        params.source_extent = points.layer_extent;
    if (status == HM_OK && o->rule == RADIUS_SILVERMAN)
        status = hm_kde_bandwidth_silverman(ctx, &kde_points, o->kernel, o->decay, &params.radius_m);
    if (status == HM_OK && o->rule == RADIUS_ARCGIS) status = hm_kde_bandwidth_arcgis(ctx, &kde_points, &params.radius_m);
    if (status == HM_OK && o->rule != RADIUS_FIXED)
        hm_info(ctx, "density: bandwidth rule %s gives a radius of %.1f m", o->rule == RADIUS_SILVERMAN ? "silverman"
                                                                                                         : "arcgis",
                params.radius_m);

    /* The grid. */
    hm_kde_grid grid;
    memset(&grid, 0, sizeof grid);
    double max_radius = points.radius ? 0 : params.radius_m;
    if (points.radius)
        for (size_t n = 0; n < points.count; n++) max_radius = fmax(max_radius, points.radius[n]);
    if (status == HM_OK && o->compat_qgis) {
        status = hm_kde_qgis_grid(ctx, &params, &kde_points, o->cell_m, &grid);
    } else if (status == HM_OK) {
        double box[4];
        if (o->extent == EXTENT_BOX) {
            memcpy(box, o->box, sizeof box);
        } else if (o->extent == EXTENT_LAYER) {
            status = boundary_layer(ctx, o, &boundaries, &boundary);
            if (status == HM_OK) status = boundary_extent(ctx, o, boundary, box);
        } else if (o->extent == EXTENT_LIKE) {
            status = like_grid(ctx, o->like, &grid);
        } else {
            box[0] = box[1] = INFINITY;
            box[2] = box[3] = -INFINITY;
            for (size_t n = 0; n < points.count; n++) {
                double r = points.radius ? points.radius[n] : params.radius_m;
                box[0] = fmin(box[0], points.x[n] - r);
                box[1] = fmin(box[1], points.y[n] - r);
                box[2] = fmax(box[2], points.x[n] + r);
                box[3] = fmax(box[3], points.y[n] + r);
            }
        }
        if (status == HM_OK && o->extent != EXTENT_LIKE)
            status = hm_kde_grid_aligned(ctx, box[0], box[1], box[2], box[3], o->cell_m, &grid);
    }

    /* Memory: the float32 surface, the mask, the kernel's work buffers; the points are already in memory. */
    if (status == HM_OK) {
        double cells = (double)grid.columns * (double)grid.rows;
        double per_cell = 4.0 * 4.0 / 3.0 + (boundary ? 1.0 : 0.0); /* float32 surface, overviews, mask */
        if (by_batches) { /* a double sum per layer */
            size_t layers = 0;
            for (size_t b = 0; b < points.batch_count; b++)
                layers += b == 0 || !XXH128_isEqual(points.batches[b].layer, points.batches[b - 1].layer);
            per_cell += 8.0 * (double)layers;
        }
        double work = o->compat_qgis ? (double)hm_kde_qgis_work_bytes(&params, points.count, &grid)
                                     : (double)hm_kde_exact_work_bytes(&params, points.count, &grid);
        double points_bytes = (double)points.count * (points.radius ? 32.0 : 24.0);
        status = check_memory(ctx, o, &grid, cells * per_cell + work + points_bytes, per_cell);
    }
    if (status == HM_OK) {
        size_t cells = (size_t)grid.columns * (size_t)grid.rows;
        surface = malloc(cells * sizeof *surface);
        if (boundary) mask = malloc(cells);
        if (!surface || (boundary && !mask))
            status = hm_error(ctx, HM_ENOMEM, "out of memory for %ld x %ld cells", grid.columns, grid.rows);
    }
    if (status == HM_OK && boundary) status = rasterize_mask(ctx, o, boundary, &grid, mask);
    verbose_time(ctx, "chose the grid and its mask", &clock);
    if (progress && status == HM_OK) progress(0.05, "computing", NULL);

    size_t dropped = 0;
    if (status == HM_OK) {
        hm_kde_raster raster = {surface, NULL, mask, HM_KDE_NODATA, 0};
        int read_all = 0;
        if (by_batches)
            status = compute_by_batches(ctx, o, &params, &points, reports, report_count, kept.count ? &kept : NULL,
                                        &grid, mask, surface, &sums, &read_all);
        if (status == HM_OK && read_all) { /* the kept sums cannot stand for the records not read */
            char why[256];
            snprintf(why, sizeof why, "%s", sums.note[0] ? sums.note : "the kept sums do not continue");
            kept_sums_free(&sums);
            status = read_every_record(ctx, o, &kept, &points, &reports, &report_count);
            point_set_close_batches(&points);
            count_totals(&points, reports, report_count, &rejected, &point_total, &total_weight);
            if (status == HM_OK)
                status = compute_by_batches(ctx, o, &params, &points, reports, report_count, NULL, &grid, mask,
                                            surface, &sums, &read_all);
            if (status == HM_OK) {
                char note[2 * sizeof sums.note + 32];
                snprintf(note, sizeof note, "every record read (%s); %s", why, sums.note);
                snprintf(sums.note, sizeof sums.note, "%.*s", (int)sizeof sums.note - 1, note);
            }
        } else if (status == HM_OK && by_batches && o->kept_unchanged) {
            char note[2 * sizeof sums.note + 32];
            snprintf(note, sizeof note, "%s; %s", sums.note,
                     kept.count ? "only the records after the kept ones read" : kept_why ? kept_why : "");
            snprintf(sums.note, sizeof sums.note, "%.*s", (int)sizeof sums.note - 1, note);
        }
        if (!by_batches)
            status = o->compat_qgis ? hm_kde_qgis(ctx, &params, &kde_points, &grid, &raster, &dropped)
                                    : hm_kde_exact(ctx, &params, &kde_points, &grid, &raster);
    }
    if (status == HM_OK && by_batches) hm_info(ctx, "density: %s", sums.note);
    verbose_time(ctx, "computed the surface", &clock);
    if (status == HM_OK && dropped)
        hm_warn(ctx, "--compat qgis: %zu points are dropped, as QGIS drops them (their kernel block does not fit "
                     "inside its raster)",
                dropped);

    if (status == HM_OK) {
        surface_stats stats = compute_stats(surface, (size_t)grid.columns * (size_t)grid.rows, (float)HM_KDE_NODATA);
        double constant = hm_kernel_disc_integral(o->kernel, o->decay);
        md = common_metadata(md, &grid, &stats);
        md = set_metadata(md, "MODE", "%s",
                          o->compat_qgis ? "qgis-3.22-compat: QGIS 3.22 Heatmap (qgskde.cpp) reproduced, its grid and "
                                           "float32 arithmetic; values are not the kernel at the cell centres"
                                         : "exact: kernel sum at the true cell centres of a grid aligned to the cell "
                                           "size");
        md = set_metadata(md, "KERNEL", "%s", hm_kernel_name(o->kernel));
        md = set_metadata(md, "KERNEL_FORMULA", "%s", hm_kernel_formula(o->kernel));
        if (o->kernel == HM_KERNEL_TRIANGULAR) md = set_metadata(md, "DECAY", "%.17g", o->decay);
        md = set_metadata(md, "OUTPUT_VALUES", "%s", o->values == HM_KDE_SCALED ? "scaled" : "raw");
        if (o->values == HM_KDE_SCALED)
            md = set_metadata(md, "VALUE_FORMULA",
                              "sum over points with d <= r of w * K(d / r) / (%.17g * pi * r^2), d = distance from "
                              "the point to the cell centre; integrates to the total weight (per square metre)",
                              constant);
        else
            md = set_metadata(md, "VALUE_FORMULA",
                              "sum over points with d <= r of w * K(d / r), d = distance from the point to the cell "
                              "centre%s",
                              o->compat_qgis ? " as QGIS 3.22 samples it; cells no kernel reaches are nodata" : "");
        if (o->values == HM_KDE_SCALED) md = set_metadata(md, "SCALE_CONSTANT", "%.17g", constant);
        if (o->radius_field) {
            md = set_metadata(md, "RADIUS_RULE", "per record, field %s (largest %.17g m)", o->radius_field, max_radius);
        } else {
            md = set_metadata(md, "RADIUS_M", "%.17g", params.radius_m);
            if (o->rule == RADIUS_SILVERMAN)
                md = set_metadata(md, "RADIUS_RULE",
                                  "silverman: r = A(K) sigma n^(-1/6), A(%s) = %.6g, sigma^2 = (var x + var y) / 2, n = "
                                  "(sum w)^2 / sum w^2 (Silverman 1986, eq. 4.14, table 4.1)",
                                  hm_kernel_name(o->kernel), hm_kernel_silverman_factor(o->kernel, o->decay));
            else if (o->rule == RADIUS_ARCGIS)
                md = set_metadata(md, "RADIUS_RULE",
                                  "arcgis: r = 0.9 min(SD, sqrt(1 / ln 2) Dm) n^(-0.2), SD standard distance, Dm "
                                  "median distance from the mean centre, n = sum of weights (ArcGIS Pro default)");
            else md = set_metadata(md, "RADIUS_RULE", "fixed");
        }
        md = set_metadata(md, "WEIGHT", "%s", o->weight_field ? o->weight_field : "count");
        md = set_metadata(md, "TOTAL_WEIGHT", "%.17g", total_weight);
        md = set_metadata(md, "POINTS", "%zu", point_total);
        md = set_metadata(md, "RECORDS_REJECTED",
                          "%zu (no location %zu, empty weight %zu, empty radius %zu, no date %zu, outside dates %zu)",
                          rejected, points.rejected_geometry, points.rejected_weight, points.rejected_radius,
                          points.rejected_date_missing, points.rejected_date_outside);
        if (o->compat_qgis) md = set_metadata(md, "POINTS_DROPPED_AS_QGIS_DOES", "%zu", dropped);
        char layer_text[1024] = "";
        for (size_t k = 0; k < report_count; k++) {
            char one[256];
            snprintf(one, sizeof one, "%s%s (%zu points, weight %.10g)", k ? ", " : "", reports[k].name,
                     reports[k].points, reports[k].weight);
            strncat(layer_text, one, sizeof layer_text - strlen(layer_text) - 1);
        }
        md = set_metadata(md, "SOURCE", "%s", o->input);
        md = set_metadata(md, "LAYERS", "%s", layer_text);
        if (o->date_from || o->date_to)
            md = set_metadata(md, "DATES", "%s .. %s (field %s)", o->date_from ? o->date_from : "",
                              o->date_to ? o->date_to : "", o->date_field);
        if (o->extent == EXTENT_LAYER)
            md = set_metadata(md, "EXTENT", "layer %s; cells whose centre is outside its polygons are nodata",
                              o->extent_layer);
        else if (o->extent == EXTENT_LIKE)
            md = set_metadata(md, "EXTENT", "the grid of %s", o->like);
        else if (o->extent == EXTENT_BOX)
            md = set_metadata(md, "EXTENT", "%.17g,%.17g,%.17g,%.17g widened to whole cells", o->box[0], o->box[1],
                              o->box[2], o->box[3]);
        else
            md = set_metadata(md, "EXTENT", "%s",
                              o->compat_qgis ? (params.source_extent ? "the layers' extent as OGR reports it, plus the "
                                                                       "radius (QGIS)"
                                                                     : "the points' extent plus the radius (QGIS)")
                                                                 : "points' extent plus the radius, widened to whole "
                                                                   "cells");
        size_t point_count = point_total;
        point_set_free(&points); /* not needed any more: the write is the peak of memory */
        /* Progress: reading and computing to 0.5, writing (GDAL's own progress, scaled) to 1. */
        if (progress) progress(0.5, "writing", NULL);
        void *scaled = progress ? GDALCreateScaledProgress(0.5, 1.0, progress, NULL) : NULL;
        /* The kept sums (60 MB of doubles at a million records) are written on a thread of their own while the
         * GeoTIFF is compressed, under the same narrowed umask (the umask is the process's). */
        mode_t saved_umask = narrow_umask(o);
        sums_writer writer;
        sums_writer_start(&writer, by_batches ? o->accumulator : NULL, &sums, reports, report_count);
        status = write_cog(ctx, o, o->output, &grid, surface, md, &stats, scaled ? GDALScaledProgress : NULL, scaled);
        if (scaled) GDALDestroyScaledProgress(scaled);
        sums_writer_finish(ctx, &writer);
        umask(saved_umask);
        verbose_time(ctx, by_batches ? "wrote the GeoTIFF and kept the sums" : "wrote the GeoTIFF", &clock);
        /* QGIS's default style beside the surface (the tiles' ramp): a missing style is not worth failing for. */
        if (status == HM_OK && hm_styles_write_surface_qml(ctx, o->output, NULL, NULL, 0) != HM_OK) {
            hm_warn(ctx, "%s: the QGIS style beside it was not written: %s", o->output, hm_error_message(ctx));
            hm_error_clear(ctx);
        }
        if (summary) {
            summary->points = point_count;
            summary->rejected = rejected;
            summary->dropped_by_qgis = dropped;
            summary->total_weight = total_weight;
            summary->radius_m = o->radius_field ? 0 : params.radius_m;
            summary->columns = grid.columns;
            summary->rows = grid.rows;
            summary->cell_m = grid.cell_m;
            summary->minimum = stats.minimum;
            summary->maximum = stats.maximum;
            summary->mean = stats.mean;
            summary->surface_integral = stats.sum * grid.cell_m * grid.cell_m;
            if (by_batches) snprintf(summary->batches_note, sizeof summary->batches_note, "%s", sums.note);
            else if (o->accumulator)
                snprintf(summary->batches_note, sizeof summary->batches_note,
                         "--compat qgis: one pass in QGIS's order, no sums kept");
        }
        if (status == HM_OK)
            hm_info(ctx,
                    "density: %zu points (total weight %.10g) -> %s: %s %s, radius %s%.6g m, cell %g m, %ld x %ld "
                    "cells, max %.6g",
                    point_count, total_weight, o->output, o->compat_qgis ? "qgis-compat" : "exact",
                    hm_kernel_name(o->kernel), o->radius_field ? "up to " : "", max_radius, grid.cell_m, grid.columns,
                    grid.rows, stats.maximum);
    }
    if (boundaries) GDALClose(boundaries);
    CSLDestroy(md);
    free(surface);
    free(mask);
    free(reports);
    point_set_free(&points);
    kept_sums_free(&sums);
    kept_records_free(&kept);
    hm_ctx_set_verbosity(ctx, saved_verbosity);
    return status;
}
