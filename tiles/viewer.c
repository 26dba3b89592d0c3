/* viewer.c - the offline Leaflet viewer (see viewer.h). */
#include "viewer.h"

#include "tile_store.h"

#include <cpl_error.h>
#include <cpl_vsi.h>
#include <dirent.h>
#include <errno.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int copy_into(hm_ctx *ctx, const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) return hm_error(ctx, HM_EIO, "%s: cannot read: %s", from, strerror(errno));
    char *data = NULL;
    size_t size = 0, capacity = 0;
    char chunk[65536];
    size_t n;
    int status = HM_OK;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0) {
        if (size + n > capacity) {
            capacity = (size + n) * 2;
            char *grown = realloc(data, capacity);
            if (!grown) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            data = grown;
        }
        memcpy(data + size, chunk, n);
        size += n;
    }
    fclose(in);
    if (status == HM_OK) status = hm_write_file(ctx, to, data ? data : "", size);
    free(data);
    return status;
}

static int copy_leaflet(hm_ctx *ctx, const char *dir, const char *leaflet_dir)
{
    char from[PATH_MAX], to[PATH_MAX];
    static const char *files[] = {"leaflet.js", "leaflet.css"};
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/%s", leaflet_dir, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        int status = copy_into(ctx, from, to);
        if (status != HM_OK) return status;
    }
    snprintf(from, sizeof from, "%s/images", leaflet_dir);
    DIR *images = opendir(from);
    if (!images) return HM_OK;
    snprintf(to, sizeof to, "%s/images", dir);
    mkdir(to, 0755);
    struct dirent *entry;
    int status = HM_OK;
    while (status == HM_OK && (entry = readdir(images))) {
        size_t n = strlen(entry->d_name);
        if (n < 5 || strcmp(entry->d_name + n - 4, ".png") != 0) continue;
        char image_from[PATH_MAX + NAME_MAX + 2], image_to[PATH_MAX + NAME_MAX + 2];
        snprintf(image_from, sizeof image_from, "%s/%s", from, entry->d_name);
        snprintf(image_to, sizeof image_to, "%s/%s", to, entry->d_name);
        status = copy_into(ctx, image_from, image_to);
    }
    closedir(images);
    return status;
}

/* The overlay as `var hmOverlay = <GeoJSON>;` in overlay.js, via GDALVectorTranslate to WGS84. */
static int write_overlay(hm_ctx *ctx, const char *dir, const char *overlay_path, const char *overlay_layer)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH source =
        GDALOpenEx(overlay_path, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!source)
        return hm_error(ctx, HM_EGDAL, "--overlay %s: cannot open as a vector file: %s", overlay_path,
                        CPLGetLastErrorMsg());
    char *argv[] = {"-f",   "GeoJSON",     "-t_srs", "EPSG:4326",
                    "-lco", "RFC7946=YES", "-lco",   "COORDINATE_PRECISION=6",
                    NULL,   NULL};
    if (overlay_layer) argv[8] = (char *)overlay_layer;
    const char *memory_path = "/vsimem/harmmap_overlay.geojson";
    GDALVectorTranslateOptions *options = GDALVectorTranslateOptionsNew(argv, NULL);
    int usage_error = 0;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH out = GDALVectorTranslate(memory_path, NULL, 1, &source, options, &usage_error);
    CPLPopErrorHandler();
    GDALVectorTranslateOptionsFree(options);
    GDALClose(source);
    if (!out) {
        VSIUnlink(memory_path);
        return hm_error(ctx, HM_EGDAL,
                        "--overlay %s: cannot convert to GeoJSON in WGS84: %s (does it have a "
                        "CRS%s?)",
                        overlay_path, CPLGetLastErrorMsg(), overlay_layer ? " and that layer" : "");
    }
    GDALClose(out);
    vsi_l_offset length = 0;
    GByte *json = VSIGetMemFileBuffer(memory_path, &length, FALSE);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/overlay.js", dir);
    FILE *file = fopen(path, "w");
    int status = HM_OK;
    if (!file || fputs("var hmOverlay = ", file) < 0 ||
        fwrite(json, 1, (size_t)length, file) != (size_t)length || fputs(";\n", file) < 0)
        status = hm_error(ctx, HM_EIO, "%s: cannot write: %s", path, strerror(errno));
    if (file && fclose(file) != 0 && status == HM_OK)
        status = hm_error(ctx, HM_EIO, "%s: cannot write: %s", path, strerror(errno));
    VSIUnlink(memory_path);
    return status;
}

/* Text for inside a JavaScript string in a <script> element. */
static void js_string(FILE *f, const char *text)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '<' || *p == '>' || *p == '&' || *p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void html_text(FILE *f, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else
            fputc(*p, f);
    }
}

int hm_viewer_write(hm_ctx *ctx, const char *dir, const hm_viewer_info *info)
{
    const char *leaflet_dir = info->leaflet_dir ? info->leaflet_dir : HM_LEAFLET_DIR;
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/leaflet.js", leaflet_dir);
    int have_leaflet = access(probe, R_OK) == 0;
    if (have_leaflet) {
        int status = copy_leaflet(ctx, dir, leaflet_dir);
        if (status != HM_OK) return status;
    } else {
        hm_warn(ctx,
                "%s not found: index.html needs Leaflet beside it (install Debian's libjs-leaflet, or copy "
                "leaflet.js and leaflet.css into the tile folder)",
                probe);
    }
    int have_overlay = info->overlay_path != NULL;
    if (have_overlay && !info->overlay_written) {
        int status = write_overlay(ctx, dir, info->overlay_path, info->overlay_layer);
        if (status != HM_OK) return status;
    }

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    if (!f) return hm_error(ctx, HM_EIO, "%s: cannot create: %s", path, strerror(errno));
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    html_text(f, info->title);
    fputs("</title>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<link rel=\"stylesheet\" href=\"leaflet.css\">\n"
          "<style>\n"
          "html, body, #map { height: 100%; margin: 0; }\n"
          "#map { background: #f4f4f2; }\n"
          ".hm-legend { background: rgba(255,255,255,0.92); padding: 6px 8px; border-radius: 4px;\n"
          "             font: 12px/1.4 sans-serif; color: #222; }\n"
          ".hm-legend img { display: block; }\n"
          "</style>\n<script src=\"leaflet.js\"></script>\n",
          f);
    if (have_overlay) fputs("<script src=\"overlay.js\"></script>\n", f);
    fputs("</head>\n<body>\n<div id=\"map\"></div>\n<script>\n", f);
    /* Leaflet counts zoom for 256-pixel tiles: 512-pixel tiles of zoom z show at map zoom z + 1. */
    int offset = info->tile_size_px == 512 ? 1 : 0;
    fprintf(f, "var hmTiles = {minZoom: %d, maxZoom: %d, tms: %s, tileSize: %d, zoomOffset: %d,\n",
            info->min_zoom, info->max_zoom, info->tms ? "true" : "false", info->tile_size_px, -offset);
    fprintf(f, "  bounds: [[%.7f, %.7f], [%.7f, %.7f]], range: [%.6g, %.6g], threshold: %.6g, ramp: ",
            info->south_deg, info->west_deg, info->north_deg, info->east_deg, info->value_min,
            info->value_max, info->threshold);
    js_string(f, info->ramp_name);
    fputs(", title: ", f);
    js_string(f, info->title);
    fputs(", attribution: ", f);
    js_string(f, info->attribution);
    fputs("};\n", f);
    fputs(
        "if (typeof L === 'undefined') {\n"
        "  document.body.innerHTML = '<p style=\"font:16px sans-serif;padding:1em\">leaflet.js is missing "
        "from "
        "this folder: install Debian\\'s libjs-leaflet and render again, or copy leaflet.js and leaflet.css "
        "here.</p>';\n"
        "} else {\n",
        f);
    fprintf(f, "  var map = L.map('map', {minZoom: 0, maxZoom: %d});\n", info->max_zoom + offset + 3);
    fprintf(f,
            "  var heat = L.tileLayer('{z}/{x}/{y}.png', {tms: hmTiles.tms, tileSize: hmTiles.tileSize,\n"
            "    zoomOffset: hmTiles.zoomOffset, minNativeZoom: %d, maxNativeZoom: %d, maxZoom: %d,\n"
            "    bounds: hmTiles.bounds, attribution: hmTiles.attribution, opacity: 0.85}).addTo(map);\n",
            info->min_zoom + offset, info->max_zoom + offset, info->max_zoom + offset + 3);
    fputs("  map.fitBounds(hmTiles.bounds);\n"
          "  var layers = {};\n"
          "  layers[hmTiles.title] = heat;\n"
          "  if (typeof hmOverlay !== 'undefined') {\n"
          "    var overlay = L.geoJSON(hmOverlay, {\n"
          "      style: {color: '#333333', weight: 1.2, opacity: 0.8, fill: true, fillOpacity: 0},\n"
          "      onEachFeature: function (feature, layer) {\n"
          "        var p = feature.properties || {}, keys = Object.keys(p).slice(0, 3);\n"
          "        if (keys.length) layer.bindTooltip(keys.map(function (k) { return k + ': ' + p[k]; })"
          ".join('<br>'), {sticky: true});\n"
          "      }\n"
          "    }).addTo(map);\n"
          "    layers['Boundaries'] = overlay;\n"
          "  }\n"
          "  L.control.layers(null, layers, {collapsed: false}).addTo(map);\n"
          "  var legend = L.control({position: 'bottomright'});\n"
          "  legend.onAdd = function () {\n"
          "    var div = L.DomUtil.create('div', 'hm-legend');\n"
          "    div.appendChild(document.createTextNode(hmTiles.title));\n"
          "    var img = L.DomUtil.create('img', '', div);\n"
          "    img.src = 'legend.png';\n"
          "    img.alt = 'colour scale from ' + hmTiles.range[0] + ' to ' + hmTiles.range[1];\n"
          "    div.appendChild(document.createTextNode('ramp ' + hmTiles.ramp + '; clear at or below ' +\n"
          "      hmTiles.threshold));\n"
          "    return div;\n"
          "  };\n"
          "  legend.addTo(map);\n"
          "  L.control.scale({imperial: false}).addTo(map);\n"
          "}\n</script>\n</body>\n</html>\n",
          f);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) return hm_error(ctx, HM_EIO, "%s: cannot write: %s", path, strerror(errno));
    return HM_OK;
}

struct hm_viewer_overlay {
    pthread_t thread;
    hm_ctx *ctx; /* the thread's errors */
    char *dir, *path, *layer;
    int status;
};

static void *overlay_main(void *arg)
{
    hm_viewer_overlay *o = arg;
    o->status = write_overlay(o->ctx, o->dir, o->path, o->layer);
    return NULL;
}

static hm_viewer_overlay *overlay_free(hm_viewer_overlay *o)
{
    hm_ctx_destroy(o->ctx);
    free(o->dir);
    free(o->path);
    free(o->layer);
    free(o);
    return NULL;
}

int hm_viewer_overlay_start(hm_ctx *ctx, const char *dir, const char *overlay_path, const char *overlay_layer,
                            hm_viewer_overlay **out)
{
    *out = NULL;
    hm_viewer_overlay *o = calloc(1, sizeof *o);
    if (!o) return hm_error(ctx, HM_ENOMEM, "out of memory");
    o->ctx = hm_ctx_create();
    o->dir = strdup(dir);
    o->path = strdup(overlay_path);
    o->layer = overlay_layer ? strdup(overlay_layer) : NULL;
    if (!o->ctx || !o->dir || !o->path || (overlay_layer && !o->layer)) {
        overlay_free(o);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    if (pthread_create(&o->thread, NULL, overlay_main, o) != 0) {
        overlay_free(o);
        return hm_error(ctx, HM_EINTERNAL, "cannot start a thread for --overlay");
    }
    *out = o;
    return HM_OK;
}

int hm_viewer_overlay_finish(hm_ctx *ctx, hm_viewer_overlay *o)
{
    if (!o) return HM_OK;
    pthread_join(o->thread, NULL);
    int status = o->status;
    if (status != HM_OK && ctx) status = hm_error(ctx, hm_error_code(o->ctx), "%s", hm_error_message(o->ctx));
    overlay_free(o);
    return status;
}
