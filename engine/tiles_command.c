/* tiles_command.c - argv -> hm_tileset_options for `harmmap tiles` (see tiles_command.h). */
#include "tiles_command.h"

#include "argv.h"
#include "styles.h"
#include "tiles.h"

#include <cpl_conv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hm_tiles_options {
    hm_tileset_options tileset;
    hm_verbosity verbosity;
};

static void print_usage(void)
{
    printf(
        "Usage: harmmap tiles IN.tif -o DIR [options]\n"
        "\n"
        "Renders a surface (a Float32 GeoTIFF from 'harmmap density', in any CRS PROJ knows) as web map "
        "tiles:\n"
        "DIR/{z}/{x}/{y}.png, DIR/legend.png, DIR/index.html (an offline viewer: open it in a browser) and\n"
        "DIR/tiles-manifest.txt. DIR is replaced as a whole when the run succeeds, and left as it was when "
        "not.\n"
        "\n"
        "Options:\n"
        "  -o DIR               output folder (new, empty, or a previous harmmap tile set)\n"
        "  --zoom Z1-Z2         zoom levels (default 8-15); --zoom Z for one level\n"
        "  --ramp NAME|FILE     colour ramp: viridis (default), magma, inferno, cividis, ylorrd, or a ramp "
        "file\n"
        "                       (lines of 'position red green blue [alpha]', see data/ramps/viridis.txt)\n"
        "  --range auto|MIN,MAX colour scale; default: the previous tile set's, else auto (threshold to the\n"
        "                       surface's maximum). Kept fixed so that successive runs stay comparable\n"
        "  --threshold V        values at or below V are transparent (default 0)\n"
        "  --mbtiles FILE       also write an MBTiles 1.3 file\n"
        "  --tms                number rows from the south (TMS) instead of XYZ\n"
        "  --tile-size 256|512  pixels per tile side (default 256)\n"
        "  --threads N          worker threads (default: one per processor); tiles are identical for any N\n"
        "  --update             redraw only tiles whose source cells changed since the previous run\n"
        "  --force              allow more than %lld tiles\n"
        "  --resampling R       auto (default: bilinear zoomed in, average zoomed out), near, bilinear, "
        "cubic,\n"
        "                       average\n"
        "  --overlay FILE       vector boundaries (e.g. wards) drawn over the tiles in index.html\n"
        "  --overlay-layer NAME the layer of --overlay to draw (default: the first)\n"
        "  --title TEXT         the tile set's name (default: the input's file name)\n"
        "  --attribution TEXT   attribution shown in the viewer and stored in the MBTiles\n"
        "  --png-level N, --png-filter none|sub|up|avg|paeth|adaptive, --png-strategy default|filtered|rle\n"
        "                       PNG encoding (defaults chosen by measurement: scripts/bench-tiles)\n"
        "  --leaflet-dir DIR    where leaflet.js is (default /usr/share/javascript/leaflet)\n"
        "  -q                   quiet: no progress bar or summary\n",
        HM_TILES_DEFAULT_MAX);
}

static int parse_zoom(hm_ctx *ctx, const char *text, int *min_zoom, int *max_zoom)
{
    char tail = 0;
    if (sscanf(text, "%d-%d%c", min_zoom, max_zoom, &tail) == 2) return HM_OK;
    if (sscanf(text, "%d%c", min_zoom, &tail) == 1) {
        *max_zoom = *min_zoom;
        return HM_OK;
    }
    return hm_error(ctx, HM_EINVAL, "--zoom '%s': give a range such as 8-15 or one zoom such as 12", text);
}

static int parse_range(hm_ctx *ctx, const char *text, hm_tileset_options *o)
{
    if (strcmp(text, "auto") == 0) {
        o->range_mode = HM_RANGE_AUTO;
        return HM_OK;
    }
    const char *comma = strchr(text, ',');
    if (!comma) return hm_error(ctx, HM_EINVAL, "--range '%s': give auto or MIN,MAX (e.g. 0,250)", text);
    char first[64];
    size_t n = (size_t)(comma - text);
    if (n >= sizeof first) n = sizeof first - 1;
    memcpy(first, text, n);
    first[n] = '\0';
    int status = hm_arg_double(ctx, "--range", first, &o->range_min);
    if (status == HM_OK) status = hm_arg_double(ctx, "--range", comma + 1, &o->range_max);
    if (status != HM_OK) return status;
    if (!(o->range_min < o->range_max))
        return hm_error(ctx, HM_EINVAL, "--range '%s': MIN must be below MAX", text);
    o->range_mode = HM_RANGE_FIXED;
    return HM_OK;
}

int hm_tiles_options_new(hm_ctx *ctx, int argc, char **argv, hm_tiles_options **out)
{
    *out = NULL;
    hm_tiles_options *options = calloc(1, sizeof *options);
    if (!options) return hm_error(ctx, HM_ENOMEM, "out of memory");
    hm_tileset_options *o = &options->tileset;
    hm_tileset_options_init(o);
    o->attribution = "harmmap";
    options->verbosity = hm_ctx_verbosity(ctx);
    int status = HM_OK;
    for (int i = 1; i < argc && status == HM_OK; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        long number = 0;
        int matched;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage();
            hm_tiles_options_free(options);
            return HM_OK;
        } else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            options->verbosity = HM_QUIET;
        } else if (strcmp(arg, "--verbose") == 0) {
            options->verbosity = HM_VERBOSE;
        } else if (strcmp(arg, "--tms") == 0) {
            o->tms = 1;
        } else if (strcmp(arg, "--update") == 0) {
            o->update = 1;
        } else if (strcmp(arg, "--force") == 0) {
            o->force = 1;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "-o", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->output_dir = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--zoom", &value)) != 0) {
            status = matched < 0 ? matched : parse_zoom(ctx, value, &o->min_zoom, &o->max_zoom);
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--ramp", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->ramp = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--range", &value)) != 0) {
            status = matched < 0 ? matched : parse_range(ctx, value, o);
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--threshold", &value)) != 0) {
            status = matched < 0 ? matched : hm_arg_double(ctx, "--threshold", value, &o->threshold);
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--mbtiles", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->mbtiles_path = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--tile-size", &value)) != 0) {
            status = matched < 0 ? matched : hm_arg_long(ctx, "--tile-size", value, &number);
            if (status == HM_OK && number != 256 && number != 512)
                status = hm_error(ctx, HM_EINVAL, "--tile-size %ld: use 256 or 512", number);
            o->tile_size_px = (int)number;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--threads", &value)) != 0) {
            status = matched < 0 ? matched : hm_arg_long(ctx, "--threads", value, &number);
            if (status == HM_OK && (number < 1 || number > 256))
                status = hm_error(ctx, HM_EINVAL, "--threads %ld: use 1 to 256", number);
            o->threads = (int)number;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--resampling", &value)) != 0) {
            int r = matched < 0 ? -1 : hm_resampling_from_name(value);
            if (matched < 0)
                status = matched;
            else if (r < 0)
                status = hm_error(ctx, HM_EINVAL,
                                  "--resampling '%s': use auto, near, bilinear, cubic or average", value);
            else
                o->resampling = (hm_resampling)r;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--overlay", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->overlay_path = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--overlay-layer", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->overlay_layer = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--title", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->title = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--attribution", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->attribution = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--leaflet-dir", &value)) != 0) {
            if (matched < 0)
                status = matched;
            else
                o->leaflet_dir = value;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--png-level", &value)) != 0) {
            status = matched < 0 ? matched : hm_arg_long(ctx, "--png-level", value, &number);
            if (status == HM_OK && (number < 0 || number > 9))
                status = hm_error(ctx, HM_EINVAL, "--png-level %ld: use 0 to 9", number);
            o->png.zlib_level = (int)number;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--png-filter", &value)) != 0) {
            int f = matched < 0 ? -1 : hm_png_filter_from_name(value);
            if (matched < 0)
                status = matched;
            else if (f < 0)
                status = hm_error(ctx, HM_EINVAL,
                                  "--png-filter '%s': use none, sub, up, avg, paeth or adaptive", value);
            else
                o->png.filter = (hm_png_filter)f;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "--png-strategy", &value)) != 0) {
            int s = matched < 0 ? -1 : hm_png_strategy_from_name(value);
            if (matched < 0)
                status = matched;
            else if (s < 0)
                status = hm_error(ctx, HM_EINVAL, "--png-strategy '%s': use default, filtered or rle", value);
            else
                o->png.strategy = (hm_png_strategy)s;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            status = hm_error(ctx, HM_EINVAL, "unknown option %s; run 'harmmap help tiles'", arg);
        } else if (o->input_path) {
            status = hm_error(ctx, HM_EINVAL, "one input surface only (got %s and %s)", o->input_path, arg);
        } else {
            o->input_path = arg;
        }
    }
    if (status == HM_OK && !o->input_path)
        status = hm_error(ctx, HM_EINVAL, "give the surface to tile: harmmap tiles IN.tif -o DIR");
    if (status == HM_OK && !o->output_dir)
        status = hm_error(ctx, HM_EINVAL, "-o DIR: give the output folder");
    if (status != HM_OK) {
        hm_tiles_options_free(options);
        return status;
    }
    *out = options;
    return HM_OK;
}

void hm_tiles_options_free(hm_tiles_options *options)
{
    free(options);
}

int hm_tiles_check_output(hm_ctx *ctx, const char *dir)
{
    return hm_tileset_check_output(ctx, dir);
}

int hm_tiles(hm_ctx *ctx, const hm_tiles_options *options, GDALProgressFunc progress)
{
    if (!options) return HM_OK; /* --help */
    hm_ctx_set_verbosity(ctx, options->verbosity);
    int quiet = options->verbosity == HM_QUIET;
    if (!progress && !quiet) progress = GDALTermProgress;
    if (quiet) progress = NULL;
    hm_tileset_summary s;
    int status = hm_tileset_build(ctx, &options->tileset, progress, NULL, &s);
    fflush(stdout); /* GDAL's progress bar is on stdout; finish it before the summary on stderr */
    if (status != HM_OK) return status;
    const hm_tileset_options *o = &options->tileset;
    if (o->update && s.full_render) hm_info(ctx, "update drew every tile: %s", s.full_render_reason);
    hm_info(
        ctx,
        "%s: zooms %d-%d, %lld tiles written (%lld drawn, %lld kept from the previous run, %lld of them "
        "drawn with the same pixels, %lld uniform), %lld positions with nothing to draw; colour range %.6g to "
        "%.6g%s; %.2f s",
        o->output_dir, o->min_zoom, o->max_zoom, s.counts.written + s.counts.reused, s.counts.drawn,
        s.counts.reused, s.counts.same_pixels, s.counts.uniform, s.counts.nothing_to_draw, s.range_min,
        s.range_max,
        s.range_from_previous ? " (kept from the previous run; --range auto recomputes it)" : "", s.seconds);
    /* The surface opened alone in QGIS gets the tiles' ramp, range and threshold: <surface>.qml (styles.h).
     * The tiles are the product: a folder we cannot write to costs only a warning. */
    hm_surface_style style;
    hm_surface_style_init(&style);
    style.ramp = o->ramp;
    style.ramp_dir = o->ramp_dir;
    style.range_min = s.range_min;
    style.range_max = s.range_max;
    style.threshold = o->threshold;
    if (hm_styles_write_surface_qml(ctx, o->input_path, &style, NULL, 0) != HM_OK) {
        hm_warn(ctx, "no QGIS style beside the surface: %s", hm_error_message(ctx));
        hm_error_clear(ctx);
    }
    return HM_OK;
}
