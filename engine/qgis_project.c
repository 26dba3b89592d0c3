/* qgis_project.c - see qgis_project.h. */
#include "qgis_project.h"

#include "argv.h"
#include "tempfiles.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_minixml.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <gdal.h>
#include <limits.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define QGIS_VERSION "3.22.16-Bia\xC5\x82owie\xC5\xBC" "a"

/* ---------------------------------------------------------------------------------------------------------- */
/* GeoPackages                                                                                                */

int hm_qgis_prepare_database(hm_ctx *ctx, sqlite3 *db, const hm_run_description *run,
                             const hm_gpkg_style_options *styles)
{
    hm_run_description fallback = {"qgis", NULL, NULL, 0, NULL};
    if (!run) run = &fallback;
    hm_gpkg_style_options style_options = {0};
    if (styles) style_options = *styles;
    if (!style_options.update_time) style_options.update_time = run->started;
    if (!style_options.styles_dir) style_options.styles_dir = run->styles_dir;
    /* One read of each layer for both (a million incidents: one read instead of three); the caller's, if given. */
    hm_layer_summaries *own = style_options.summaries ? NULL : hm_layer_summaries_create(db);
    if (!style_options.summaries && !(style_options.summaries = own)) return hm_error(ctx, HM_ENOMEM, "out of memory");
    /* Styles first: the metadata then describes layer_styles too. */
    int status = hm_styles_write_gpkg(ctx, db, &style_options, NULL);
    if (status == HM_OK) status = hm_gpkg_metadata_write(ctx, db, run, style_options.summaries);
    hm_layer_summaries_destroy(own);
    return status;
}

/* hm_qgis_prepare_gpkg, with the layer summaries kept in kept_path (NULL: none) continued when continue_kept and
 * written there after a successful commit. */
static int prepare_gpkg_file(hm_ctx *ctx, const char *path, const hm_run_description *run,
                             const hm_gpkg_style_options *styles, const hm_kept_summaries *kept)
{
    const char *kept_path = kept ? kept->path : NULL;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        int status = hm_error(ctx, HM_ESQL, "%s: cannot open the GeoPackage: %s", path,
                              db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return status;
    }
    sqlite3_busy_timeout(db, 5000);
    int status = HM_OK;
    hm_gpkg_style_options with_summaries = {0};
    if (styles) with_summaries = *styles;
    hm_layer_summaries *summaries = kept_path ? hm_layer_summaries_create(db) : NULL;
    if (kept_path && !summaries) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    if (status == HM_OK && summaries && kept->continue_kept)
        status = hm_layer_summaries_continue(ctx, summaries, kept_path, kept->continued);
    with_summaries.summaries = summaries;
    if (status == HM_OK && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        status = hm_error(ctx, HM_ESQL, "%s: cannot start a transaction: %s (is it open elsewhere?)", path,
                          sqlite3_errmsg(db));
    if (status == HM_OK) status = hm_qgis_prepare_database(ctx, db, run, summaries ? &with_summaries : styles);
    if (status == HM_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        status = hm_error(ctx, HM_ESQL, "%s: commit failed: %s", path, sqlite3_errmsg(db));
    if (status != HM_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        hm_error_prefix(ctx, "%s", path);
    }
    if (status == HM_OK && summaries) status = hm_layer_summaries_keep(ctx, summaries, kept_path, kept->append_only);
    hm_layer_summaries_destroy(summaries);
    sqlite3_close(db);
    return status;
}

int hm_qgis_prepare_gpkg(hm_ctx *ctx, const char *path, const hm_run_description *run,
                         const hm_gpkg_style_options *styles)
{
    return prepare_gpkg_file(ctx, path, run, styles, NULL);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Paths                                                                                                      */

static void directory_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - path), path);
}

/* The path QGIS should store: "./x" for files inside the project's folder (QGIS's relative form), else absolute. */
static void project_relative(const char *project_dir_real, const char *path, char *out, size_t size)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(out, size, "%s", path);
        return;
    }
    size_t n = strlen(project_dir_real);
    if (strncmp(real, project_dir_real, n) == 0 && real[n] == '/')
        snprintf(out, size, "./%s", real + n + 1);
    else if (strcmp(project_dir_real, "/") == 0)
        snprintf(out, size, ".%s", real);
    else
        snprintf(out, size, "%s", real);
}

/* Percent-encodes what a URL inside QGIS's data source string cannot hold as is. */
static void url_encode_path(const char *path, char *out, size_t size)
{
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && used + 4 < size; p++) {
        if (isalnum(*p) || strchr("./_-~", *p))
            out[used++] = (char)*p;
        else
            used += (size_t)snprintf(out + used, size - used, "%%%02X", *p);
    }
    out[used] = '\0';
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Writing the project                                                                                        */

typedef struct project_job {
    hm_ctx *ctx;
    sqlite3_str *xml;
    char dir_real[PATH_MAX];
    int srs_epsg;
    double extent[4];
    int has_extent;
} project_job;

static void grow_extent(project_job *job, double min_x, double min_y, double max_x, double max_y)
{
    if (!(isfinite(min_x) && isfinite(min_y) && isfinite(max_x) && isfinite(max_y))) return;
    if (!job->has_extent) {
        job->extent[0] = min_x, job->extent[1] = min_y, job->extent[2] = max_x, job->extent[3] = max_y;
        job->has_extent = 1;
        return;
    }
    if (min_x < job->extent[0]) job->extent[0] = min_x;
    if (min_y < job->extent[1]) job->extent[1] = min_y;
    if (max_x > job->extent[2]) job->extent[2] = max_x;
    if (max_y > job->extent[3]) job->extent[3] = max_y;
}

/* What the project needs to know about one layer, read before any XML is written. */
typedef struct layer_info {
    char id[160];
    char name[256];
    char datasource[3 * PATH_MAX + 256];
    const char *provider; /* ogr, gdal, wms */
    const char *type;     /* vector, raster */
    char geometry[32];    /* vector: Point, Polygon, No geometry */
    char wkb_type[32];    /* vector: Point, MultiPolygon, NoGeometry */
    int srs_epsg;         /* 0: none (attribute table) */
    char *style;          /* QML text to embed, or NULL */
} layer_info;

/* QGIS keeps a layer id from the project only when it is longer than 10 characters (QgsMapLayer::readLayerXml);
 * shorter ones are replaced by random ids, which would make the file differ from run to run. */
static void make_id(const char *name, size_t index, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "harmmap_");
    for (const char *p = name; *p && used + 1 < size && used < 100; p++)
        out[used++] = isalnum((unsigned char)*p) ? *p : '_';
    snprintf(out + used, size - used, "_%03zu", index);
}

static int gpkg_layer_info(project_job *job, const hm_qgis_layer *layer, layer_info *info)
{
    hm_ctx *ctx = job->ctx;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(layer->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        int status = hm_error(ctx, HM_ESQL, "%s: cannot open: %s", layer->path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return status;
    }
    int status = HM_OK;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT c.data_type, g.geometry_type_name, s.organization_coordsys_id, c.min_x, "
                               "c.min_y, c.max_x, c.max_y FROM gpkg_contents c LEFT JOIN gpkg_geometry_columns g USING "
                               "(table_name) LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id AND "
                               "s.organization = 'EPSG' WHERE c.table_name = ?", -1, &stmt, NULL) != SQLITE_OK) {
        status = hm_error(ctx, HM_ESQL, "%s: not a GeoPackage? %s", layer->path, sqlite3_errmsg(db));
    } else {
        sqlite3_bind_text(stmt, 1, layer->table, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) != SQLITE_ROW) {
            status = hm_error(ctx, HM_EINVAL, "%s: no layer %s", layer->path, layer->table);
        } else {
            const char *geometry = (const char *)sqlite3_column_text(stmt, 1);
            info->srs_epsg = sqlite3_column_type(stmt, 2) == SQLITE_NULL ? 0 : sqlite3_column_int(stmt, 2);
            if (!geometry) {
                snprintf(info->geometry, sizeof info->geometry, "No geometry");
                snprintf(info->wkb_type, sizeof info->wkb_type, "NoGeometry");
            } else {
                char upper[64];
                snprintf(upper, sizeof upper, "%s", geometry);
                for (char *p = upper; *p; p++) *p = (char)toupper((unsigned char)*p);
                int point = strstr(upper, "POINT") != NULL;
                int line = strstr(upper, "LINE") != NULL;
                snprintf(info->geometry, sizeof info->geometry, "%s", point ? "Point" : line ? "Line" : "Polygon");
                /* QGIS's names: Point, MultiPolygon, ... (GeoPackage's are upper case). */
                const char *names[] = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString",
                                       "MultiPolygon", "GeometryCollection"};
                snprintf(info->wkb_type, sizeof info->wkb_type, "%s", geometry);
                for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                    if (strcasecmp(names[i], geometry) == 0) snprintf(info->wkb_type, sizeof info->wkb_type, "%s",
                                                                      names[i]);
                if (info->srs_epsg == job->srs_epsg && sqlite3_column_type(stmt, 3) != SQLITE_NULL)
                    grow_extent(job, sqlite3_column_double(stmt, 3), sqlite3_column_double(stmt, 4),
                                sqlite3_column_double(stmt, 5), sqlite3_column_double(stmt, 6));
            }
        }
    }
    sqlite3_finalize(stmt);
    if (status == HM_OK) status = hm_styles_read_default_qml(ctx, db, layer->table, &info->style);
    sqlite3_close(db);
    if (status != HM_OK) return status;
    char relative[PATH_MAX];
    project_relative(job->dir_real, layer->path, relative, sizeof relative);
    snprintf(info->datasource, sizeof info->datasource, "%s|layername=%s", relative, layer->table);
    snprintf(info->name, sizeof info->name, "%s", layer->title ? layer->title : hm_styles_layer_title(layer->table));
    info->provider = "ogr";
    info->type = "vector";
    return HM_OK;
}

/* "<raster without extension>.qml" when it exists, as QGIS finds a raster's default style. */
static int read_sidecar_qml(hm_ctx *ctx, const char *path, char **qml)
{
    *qml = NULL;
    char sidecar[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - path) : strlen(path);
    snprintf(sidecar, sizeof sidecar, "%.*s.qml", (int)stem, path);
    FILE *file = fopen(sidecar, "rb");
    if (!file) return HM_OK;
    sqlite3_str *text = sqlite3_str_new(NULL);
    char buffer[8192];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) sqlite3_str_append(text, buffer, (int)got);
    fclose(file);
    char *result = sqlite3_str_finish(text);
    if (!result) return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", sidecar);
    *qml = strdup(result);
    sqlite3_free(result);
    return *qml ? HM_OK : hm_error(ctx, HM_ENOMEM, "out of memory");
}

static int raster_layer_info(project_job *job, const hm_qgis_layer *layer, layer_info *info)
{
    hm_ctx *ctx = job->ctx;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH dataset = GDALOpenEx(layer->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!dataset) return hm_error(ctx, HM_EGDAL, "%s: GDAL cannot open it as a raster", layer->path);
    double transform[6];
    OGRSpatialReferenceH srs = GDALGetSpatialRef(dataset);
    const char *authority = srs ? OSRGetAuthorityName(srs, NULL) : NULL;
    const char *code = srs ? OSRGetAuthorityCode(srs, NULL) : NULL;
    info->srs_epsg = authority && code && strcmp(authority, "EPSG") == 0 ? atoi(code) : 0;
    if (info->srs_epsg == job->srs_epsg && GDALGetGeoTransform(dataset, transform) == CE_None && transform[2] == 0 &&
        transform[4] == 0) {
        double x0 = transform[0], y0 = transform[3];
        double x1 = x0 + transform[1] * GDALGetRasterXSize(dataset), y1 = y0 + transform[5] * GDALGetRasterYSize(dataset);
        grow_extent(job, fmin(x0, x1), fmin(y0, y1), fmax(x0, x1), fmax(y0, y1));
    }
    GDALClose(dataset);
    int status = layer->kind == HM_QGIS_RASTER ? read_sidecar_qml(ctx, layer->path, &info->style) : HM_OK;
    if (status != HM_OK) return status;
    project_relative(job->dir_real, layer->path, info->datasource, sizeof info->datasource);
    const char *slash = strrchr(layer->path, '/');
    snprintf(info->name, sizeof info->name, "%s", layer->title ? layer->title : slash ? slash + 1 : layer->path);
    info->provider = "gdal";
    info->type = "raster";
    return HM_OK;
}

static int xyz_layer_info(project_job *job, const hm_qgis_layer *layer, layer_info *info)
{
    hm_surface_style style;
    hm_surface_style_init(&style);
    char ramp[64] = "";
    int min_zoom = 0, max_zoom = 18, tms = 0;
    int status = hm_styles_read_tiles_manifest(job->ctx, layer->path, &style, ramp, NULL, 0, &min_zoom, &max_zoom);
    if (status != HM_OK) return status;
    char manifest[PATH_MAX];
    snprintf(manifest, sizeof manifest, "%s/tiles-manifest.txt", layer->path);
    FILE *file = fopen(manifest, "r");
    char line[256];
    while (file && fgets(line, sizeof line, file))
        if (sscanf(line, "tms %d", &tms) == 1) break;
    if (file) fclose(file);
    char relative[PATH_MAX], encoded[PATH_MAX * 3];
    project_relative(job->dir_real, layer->path, relative, sizeof relative);
    url_encode_path(relative[0] == '.' ? relative + 2 : relative, encoded, sizeof encoded);
    /* QGIS stores a file: URL inside the project's folder as "file:./dir/..." and resolves it on reading. */
    snprintf(info->datasource, sizeof info->datasource,
             "type=xyz&url=file:%s%s/%%7Bz%%7D/%%7Bx%%7D/%%7B%sy%%7D.png&zmax=%d&zmin=%d",
             relative[0] == '.' ? "./" : "//", encoded, tms ? "-" : "", max_zoom, min_zoom);
    const char *slash = strrchr(layer->path, '/');
    snprintf(info->name, sizeof info->name, "%s", layer->title ? layer->title : slash ? slash + 1 : layer->path);
    info->provider = "wms";
    info->type = "raster";
    info->srs_epsg = 3857;
    return HM_OK;
}

/* The style's root attributes go on <maplayer>, its children inside it: how QGIS itself embeds a style. */
static int append_style(project_job *job, const char *qml, const char *layer_name, int attributes)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLXMLNode *root = CPLParseXMLString(qml);
    CPLPopErrorHandler();
    CPLXMLNode *qgis = root ? CPLSearchXMLNode(root, "=qgis") : NULL;
    if (!qgis) {
        if (root) CPLDestroyXMLNode(root);
        return hm_error(job->ctx, HM_EFORMAT, "the default style of %s is not QGIS XML (no <qgis> element)",
                        layer_name);
    }
    for (CPLXMLNode *child = qgis->psChild; child; child = child->psNext) {
        if (attributes && child->eType == CXT_Attribute && strcmp(child->pszValue, "version") != 0) {
            sqlite3_str_appendf(job->xml, " %s=\"", child->pszValue);
            hm_xml_append_escaped(job->xml, CPLGetXMLValue(child, NULL, ""));
            sqlite3_str_appendall(job->xml, "\"");
        } else if (!attributes && child->eType == CXT_Element) {
            CPLXMLNode *next = child->psNext;
            child->psNext = NULL;
            char *text = CPLSerializeXMLTree(child);
            child->psNext = next;
            if (text) sqlite3_str_appendall(job->xml, text);
            CPLFree(text);
        }
    }
    CPLDestroyXMLNode(root);
    return HM_OK;
}

static void append_text_element(sqlite3_str *xml, int indent, const char *name, const char *text)
{
    sqlite3_str_appendf(xml, "%*s<%s>", indent, "", name);
    hm_xml_append_escaped(xml, text);
    sqlite3_str_appendf(xml, "</%s>\n", name);
}

static int append_maplayer(project_job *job, const layer_info *info)
{
    sqlite3_str *xml = job->xml;
    sqlite3_str_appendf(xml, "    <maplayer type=\"%s\"", info->type);
    if (strcmp(info->type, "vector") == 0)
        sqlite3_str_appendf(xml, " geometry=\"%s\" wkbType=\"%s\"", info->geometry, info->wkb_type);
    int status = HM_OK;
    if (info->style)
        status = append_style(job, info->style, info->name, 1);
    else
        sqlite3_str_appendall(xml, " hasScaleBasedVisibilityFlag=\"0\" maxScale=\"0\" minScale=\"1e+08\" "
                                   "styleCategories=\"AllStyleCategories\"");
    if (status != HM_OK) return status;
    sqlite3_str_appendall(xml, ">\n");
    append_text_element(xml, 6, "id", info->id);
    append_text_element(xml, 6, "datasource", info->datasource);
    append_text_element(xml, 6, "layername", info->name);
    if (info->srs_epsg > 0) {
        sqlite3_str_appendall(xml, "      <srs>\n");
        status = hm_qgis_append_spatialrefsys(job->ctx, xml, info->srs_epsg, 8);
        if (status != HM_OK) return status;
        sqlite3_str_appendall(xml, "      </srs>\n");
    }
    if (strcmp(info->provider, "ogr") == 0)
        sqlite3_str_appendall(xml, "      <provider encoding=\"UTF-8\">ogr</provider>\n");
    else
        sqlite3_str_appendf(xml, "      <provider>%s</provider>\n", info->provider);
    if (info->style) {
        status = append_style(job, info->style, info->name, 0);
    } else if (strcmp(info->provider, "wms") == 0 || strcmp(info->type, "raster") == 0) {
        /* Tiles are RGBA images: QGIS's default renderer for them, written out so the project is complete. */
        sqlite3_str_appendall(xml, "      <pipe>\n        <rasterrenderer type=\"singlebandcolordata\" band=\"1\" "
                                   "opacity=\"1\" alphaBand=\"-1\" nodataColor=\"\">\n          <rasterTransparency/>\n"
                                   "          <minMaxOrigin>\n            <limits>None</limits>\n            "
                                   "<extent>WholeRaster</extent>\n            <statAccuracy>Estimated</statAccuracy>\n"
                                   "            <cumulativeCutLower>0.02</cumulativeCutLower>\n            "
                                   "<cumulativeCutUpper>0.98</cumulativeCutUpper>\n            "
                                   "<stdDevFactor>2</stdDevFactor>\n          </minMaxOrigin>\n        "
                                   "</rasterrenderer>\n        <brightnesscontrast brightness=\"0\" contrast=\"0\" "
                                   "gamma=\"1\"/>\n        <huesaturation saturation=\"0\" grayscaleMode=\"0\" "
                                   "colorizeOn=\"0\" colorizeRed=\"255\" colorizeGreen=\"128\" colorizeBlue=\"128\" "
                                   "colorizeStrength=\"100\" invertColors=\"0\"/>\n        <rasterresampler "
                                   "maxOversampling=\"2\"/>\n        <resamplingStage>resamplingFilter"
                                   "</resamplingStage>\n      </pipe>\n      <blendMode>0</blendMode>\n");
    }
    if (status != HM_OK) return status;
    sqlite3_str_appendall(xml, "    </maplayer>\n");
    return HM_OK;
}

int hm_qgis_project_write(hm_ctx *ctx, const char *project_path, const hm_qgis_layer *layers, size_t layer_count,
                          const hm_qgis_project_options *options)
{
    hm_qgis_project_options defaults = {NULL, 0};
    if (!options) options = &defaults;
    project_job job;
    memset(&job, 0, sizeof job);
    job.ctx = ctx;
    job.srs_epsg = options->srs_epsg > 0 ? options->srs_epsg : 27700;
    char dir[PATH_MAX];
    directory_of(project_path, dir, sizeof dir);
    if (!realpath(dir, job.dir_real))
        return hm_error(ctx, HM_EIO, "%s: the project's folder %s: %s", project_path, dir, strerror(errno));

    layer_info *infos = calloc(layer_count ? layer_count : 1, sizeof *infos);
    if (!infos) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int status = HM_OK;
    for (size_t i = 0; i < layer_count && status == HM_OK; i++) {
        const hm_qgis_layer *layer = &layers[i];
        layer_info *info = &infos[i];
        if (layer->kind == HM_QGIS_GPKG_LAYER)
            status = gpkg_layer_info(&job, layer, info);
        else if (layer->kind == HM_QGIS_XYZ_TILES)
            status = xyz_layer_info(&job, layer, info);
        else
            status = raster_layer_info(&job, layer, info);
        make_id(layer->kind == HM_QGIS_GPKG_LAYER ? layer->table : info->name, i + 1, info->id, sizeof info->id);
    }
    const char *title = options->title ? options->title : "harmmap";
    job.xml = sqlite3_str_new(NULL);
    sqlite3_str *xml = job.xml;
    if (status == HM_OK) {
        sqlite3_str_appendf(xml, "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis version=\"%s\" "
                                 "projectname=\"", QGIS_VERSION);
        hm_xml_append_escaped(xml, title);
        sqlite3_str_appendall(xml, "\">\n  <homePath path=\"\"/>\n");
        append_text_element(xml, 2, "title", title);
        sqlite3_str_appendall(xml, "  <projectCrs>\n");
        status = hm_qgis_append_spatialrefsys(ctx, xml, job.srs_epsg, 4);
        sqlite3_str_appendall(xml, "  </projectCrs>\n  <layer-tree-group>\n    <customproperties/>\n");
    }
    for (size_t i = 0; i < layer_count && status == HM_OK; i++) {
        sqlite3_str_appendf(xml, "    <layer-tree-layer id=\"%s\" name=\"", infos[i].id);
        hm_xml_append_escaped(xml, infos[i].name);
        sqlite3_str_appendall(xml, "\" source=\"");
        hm_xml_append_escaped(xml, infos[i].datasource);
        sqlite3_str_appendf(xml, "\" providerKey=\"%s\" checked=\"%s\" expanded=\"%d\">\n      "
                                 "<customproperties/>\n    </layer-tree-layer>\n",
                            infos[i].provider, layers[i].hidden ? "Qt::Unchecked" : "Qt::Checked",
                            layers[i].kind == HM_QGIS_GPKG_LAYER && !layers[i].hidden);
    }
    if (status == HM_OK) {
        sqlite3_str_appendall(xml, "  </layer-tree-group>\n");
        if (job.has_extent) {
            /* The initial view: the outputs' extent with a 5% margin. */
            double margin_x = (job.extent[2] - job.extent[0]) * 0.05, margin_y = (job.extent[3] - job.extent[1]) * 0.05;
            sqlite3_str_appendf(xml, "  <mapcanvas name=\"theMapCanvas\" annotationsVisible=\"1\">\n    "
                                     "<units>meters</units>\n    <extent>\n      <xmin>%.17g</xmin>\n      "
                                     "<ymin>%.17g</ymin>\n      <xmax>%.17g</xmax>\n      <ymax>%.17g</ymax>\n    "
                                     "</extent>\n    <rotation>0</rotation>\n    <destinationsrs>\n",
                                job.extent[0] - margin_x, job.extent[1] - margin_y, job.extent[2] + margin_x,
                                job.extent[3] + margin_y);
            status = hm_qgis_append_spatialrefsys(ctx, xml, job.srs_epsg, 6);
            sqlite3_str_appendall(xml, "    </destinationsrs>\n    <rendermaptile>0</rendermaptile>\n  </mapcanvas>\n");
        }
        sqlite3_str_appendall(xml, "  <projectlayers>\n");
    }
    for (size_t i = 0; i < layer_count && status == HM_OK; i++) status = append_maplayer(&job, &infos[i]);
    if (status == HM_OK) {
        sqlite3_str_appendall(xml, "  </projectlayers>\n  <layerorder>\n");
        for (size_t i = 0; i < layer_count; i++) sqlite3_str_appendf(xml, "    <layer id=\"%s\"/>\n", infos[i].id);
        /* QGIS 3.22 reads projectCrs only when SpatialRefSys/ProjectionsEnabled is set. */
        sqlite3_str_appendall(xml, "  </layerorder>\n  <properties>\n    <Paths>\n      <Absolute type=\"bool\">false"
                                   "</Absolute>\n    </Paths>\n    <Measurement>\n      <DistanceUnits type=\"QString\">"
                                   "meters</DistanceUnits>\n      <AreaUnits type=\"QString\">km2</AreaUnits>\n    "
                                   "</Measurement>\n    <SpatialRefSys>\n      <ProjectionsEnabled type=\"int\">1"
                                   "</ProjectionsEnabled>\n    </SpatialRefSys>\n  </properties>\n");
        sqlite3_str_appendall(xml, "  <projectMetadata>\n");
        append_text_element(xml, 4, "identifier", "harmmap");
        append_text_element(xml, 4, "language", "en-GB");
        append_text_element(xml, 4, "type", "project");
        append_text_element(xml, 4, "title", title);
        append_text_element(xml, 4, "abstract",
                            "harmmap outputs: records placed in wards and beats, harm per area, harm density surface "
                            "and tiles. Each layer's Metadata tab says how it was made.");
        sqlite3_str_appendall(xml, "    <links/>\n    <author>harmmap</author>\n  </projectMetadata>\n");
        sqlite3_str_appendall(xml, "  <ProjectViewSettings UseProjectScales=\"0\" rotation=\"0\">\n    <Scales/>\n");
        if (job.has_extent) {
            double margin_x = (job.extent[2] - job.extent[0]) * 0.05, margin_y = (job.extent[3] - job.extent[1]) * 0.05;
            sqlite3_str_appendf(xml, "    <DefaultViewExtent xmin=\"%.17g\" ymin=\"%.17g\" xmax=\"%.17g\" "
                                     "ymax=\"%.17g\">\n",
                                job.extent[0] - margin_x, job.extent[1] - margin_y, job.extent[2] + margin_x,
                                job.extent[3] + margin_y);
            status = hm_qgis_append_spatialrefsys(ctx, xml, job.srs_epsg, 6);
            sqlite3_str_appendall(xml, "    </DefaultViewExtent>\n");
        }
        sqlite3_str_appendall(xml, "  </ProjectViewSettings>\n</qgis>\n");
    }
    char *text = sqlite3_str_finish(xml);
    for (size_t i = 0; i < layer_count; i++) free(infos[i].style);
    free(infos);
    if (status == HM_OK && !text) status = hm_error(ctx, HM_ENOMEM, "out of memory writing %s", project_path);
    if (status == HM_OK) status = hm_write_file_atomically(ctx, project_path, text, strlen(text));
    sqlite3_free(text);
    return status;
}

/* A GeoPackage of the folder gets its styles and metadata on a copy beside it, renamed over it when complete:
 * written in place, a kill would leave a hot rollback journal that read-only readers (ogrinfo -ro, a QGIS
 * without write access) cannot open until a writer rolls it back. The copy costs one read and write of the file;
 * the pipeline spares it for harmmap.gpkg, whose styles go into its working copy (hm_qgis_options_set_prepared_gpkg). */
static int prepare_gpkg_atomically(hm_ctx *ctx, const char *path, const hm_run_description *run,
                                   const hm_gpkg_style_options *styles)
{
    char temp[PATH_MAX + 32];
    if (snprintf(temp, sizeof temp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof temp)
        return hm_error(ctx, HM_EINVAL, "%s: the path is too long", path);
    int status = hm_copy_file(ctx, path, temp);
    if (status == HM_OK) status = hm_qgis_prepare_gpkg(ctx, temp, run, styles);
    if (status == HM_OK && hm_fsync_path(temp) != 0)
        status = hm_error(ctx, HM_EIO, "%s: cannot flush to disk: %s", temp, strerror(errno));
    if (status == HM_OK && rename(temp, path) != 0)
        status = hm_error(ctx, HM_EIO, "cannot rename %s to %s: %s", temp, path, strerror(errno));
    if (status != HM_OK) unlink(temp);
    else hm_remove_stale_temporaries(ctx, temp); /* left by killed runs */
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* A folder of outputs                                                                                        */

typedef struct found_files {
    char **names;
    size_t count, capacity;
} found_files;

static int found_push(hm_ctx *ctx, found_files *files, const char *path)
{
    if (files->count == files->capacity) {
        size_t capacity = files->capacity ? 2 * files->capacity : 16;
        char **names = realloc(files->names, capacity * sizeof *names);
        if (!names) return hm_error(ctx, HM_ENOMEM, "out of memory");
        files->names = names;
        files->capacity = capacity;
    }
    if (!(files->names[files->count] = strdup(path))) return hm_error(ctx, HM_ENOMEM, "out of memory");
    files->count++;
    return HM_OK;
}

static void found_free(found_files *files)
{
    for (size_t i = 0; i < files->count; i++) free(files->names[i]);
    free(files->names);
    memset(files, 0, sizeof *files);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcasecmp(name + n - s, suffix) == 0;
}

/* Drawing order of known layers, top first; unknown spatial layers come after these, tables last. */
static int layer_rank(const char *table, int spatial)
{
    static const char *const order[] = {"intelligence", "incidents", "beats", "wards", "beat_harm", "ward_harm"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (strcmp(order[i], table) == 0) return (int)i;
    return spatial ? 50 : 100;
}

typedef struct gpkg_entry {
    char path[PATH_MAX];
    char table[256];
    int rank;
    size_t file_index;
} gpkg_entry;

static int compare_entries(const void *a, const void *b)
{
    const gpkg_entry *x = a, *y = b;
    if (x->rank != y->rank) return x->rank - y->rank;
    if (x->file_index != y->file_index) return x->file_index < y->file_index ? -1 : 1;
    return strcmp(x->table, y->table);
}

static int list_gpkg_layers(hm_ctx *ctx, const char *path, size_t file_index, gpkg_entry **entries, size_t *count,
                            size_t *capacity)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return hm_error(ctx, HM_ESQL, "%s: cannot open", path);
    }
    sqlite3_stmt *stmt = NULL;
    int status = HM_OK;
    if (sqlite3_prepare_v2(db, "SELECT table_name, data_type FROM gpkg_contents WHERE data_type IN ('features', "
                               "'attributes') AND table_name <> 'layer_styles' ORDER BY rowid", -1, &stmt,
                           NULL) != SQLITE_OK)
        status = hm_error(ctx, HM_ESQL, "%s: not a GeoPackage? %s", path, sqlite3_errmsg(db));
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        if (*count == *capacity) {
            size_t grown = *capacity ? 2 * *capacity : 32;
            gpkg_entry *bigger = realloc(*entries, grown * sizeof *bigger);
            if (!bigger) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            *entries = bigger;
            *capacity = grown;
        }
        gpkg_entry *entry = &(*entries)[(*count)++];
        snprintf(entry->path, sizeof entry->path, "%s", path);
        snprintf(entry->table, sizeof entry->table, "%s", (const char *)sqlite3_column_text(stmt, 0));
        entry->rank = layer_rank(entry->table, strcmp((const char *)sqlite3_column_text(stmt, 1), "features") == 0);
        entry->file_index = file_index;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return status;
}

/* harmmap's own GeoPackages (geocode's runs table, aggregate's aggregate_runs, or harmmap metadata): a folder may
 * also hold the analyst's inputs (boundaries), which are neither restyled nor described nor opened. */
static int is_harmmap_gpkg(const char *path)
{
    sqlite3 *db = NULL;
    int found = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('runs', "
                                   "'aggregate_runs') UNION ALL SELECT 1 FROM gpkg_metadata WHERE metadata LIKE "
                                   "'%HARMMAP_%' LIMIT 1", -1, &stmt, NULL) != SQLITE_OK) {
            sqlite3_finalize(stmt);
            stmt = NULL;
            sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('runs', "
                                   "'aggregate_runs')", -1, &stmt, NULL);
        }
        found = stmt && sqlite3_step(stmt) == SQLITE_ROW;
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return found;
}

/* A harm surface: one band of floating-point numbers (harmmap density writes Float32). Other rasters (an aerial
 * photograph dropped in the folder) get no .qml of ours. */
static int is_surface(const char *path)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH dataset = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!dataset) return 0;
    GDALDataType type = GDALGetRasterCount(dataset) == 1 ? GDALGetRasterDataType(GDALGetRasterBand(dataset, 1))
                                                          : GDT_Unknown;
    GDALClose(dataset);
    return type == GDT_Float32 || type == GDT_Float64;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int holds_outputs(const char *dir)
{
    DIR *listing = opendir(dir);
    if (!listing) return 0;
    struct dirent *entry;
    int found = 0;
    while (!found && (entry = readdir(listing)))
        found = entry->d_name[0] != '.' && (has_suffix(entry->d_name, ".gpkg") || has_suffix(entry->d_name, ".tif"));
    closedir(listing);
    return found;
}

static int prepare_folder(hm_ctx *ctx, const char *dir, const hm_qgis_folder_options *options, char *project_path,
                          size_t project_path_size, int depth)
{
    DIR *listing = opendir(dir);
    if (!listing) return hm_error(ctx, HM_EIO, "%s: cannot list the folder: %s", dir, strerror(errno));
    found_files gpkgs = {0}, rasters = {0}, tiles = {0}, mbtiles = {0}, subfolders = {0};
    int status = HM_OK;
    struct dirent *entry;
    while (status == HM_OK && (entry = readdir(listing))) {
        if (entry->d_name[0] == '.') continue;
        if (strstr(entry->d_name, ".tmp-")) continue; /* another writer's temporary file */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat info;
        if (stat(path, &info) != 0) continue;
        if (S_ISDIR(info.st_mode)) {
            char manifest[PATH_MAX + 32];
            snprintf(manifest, sizeof manifest, "%s/tiles-manifest.txt", path);
            if (access(manifest, R_OK) == 0)
                status = found_push(ctx, &tiles, path);
            else if (depth == 0 && holds_outputs(path))
                status = found_push(ctx, &subfolders, path); /* e.g. public/: a product of its own */
        } else if (has_suffix(entry->d_name, ".gpkg")) {
            if (is_harmmap_gpkg(path))
                status = found_push(ctx, &gpkgs, path);
            else
                hm_info(ctx, "%s: not written by harmmap: left as it is and not in the project", path);
        } else if (has_suffix(entry->d_name, ".tif") || has_suffix(entry->d_name, ".tiff")) {
            if (is_surface(path))
                status = found_push(ctx, &rasters, path);
            else
                hm_info(ctx, "%s: not a one-band surface: left as it is and not in the project", path);
        } else if (has_suffix(entry->d_name, ".mbtiles")) {
            status = found_push(ctx, &mbtiles, path);
        }
    }
    closedir(listing);
    if (status == HM_OK && depth == 0 && gpkgs.count + rasters.count + tiles.count + mbtiles.count + subfolders.count == 0)
        status = hm_error(ctx, HM_EINVAL, "%s: no harmmap outputs here (GeoPackages written by harmmap, surfaces, tile "
                                          "folders); give the folder harmmap geocode, aggregate or run wrote to", dir);
    found_files *all[] = {&gpkgs, &rasters, &tiles, &mbtiles, &subfolders};
    for (size_t i = 0; i < 5; i++)
        if (all[i]->count) qsort(all[i]->names, all[i]->count, sizeof(char *), compare_names);

    hm_run_description fallback_run = {"qgis", NULL, NULL, 0, NULL};
    const hm_run_description *run = options->run ? options->run : &fallback_run;
    for (size_t i = 0; status == HM_OK && i < gpkgs.count; i++)
        if (!(depth == 0 && options->prepared_gpkg && same_file(gpkgs.names[i], options->prepared_gpkg)))
            status = prepare_gpkg_atomically(ctx, gpkgs.names[i], run, options->styles);

    /* Surfaces: the style of the tile set made from them, else the tiles' defaults. */
    for (size_t i = 0; status == HM_OK && i < rasters.count; i++) {
        hm_surface_style style;
        hm_surface_style_init(&style);
        style.ramp = options->surface_ramp;
        style.styles_dir = options->styles ? options->styles->styles_dir : NULL;
        style.ramp_dir = options->styles ? options->styles->ramp_dir : NULL;
        char ramp[64], source[PATH_MAX];
        for (size_t t = 0; t < tiles.count; t++) {
            hm_surface_style from_tiles = style;
            if (hm_styles_read_tiles_manifest(ctx, tiles.names[t], &from_tiles, ramp, source, sizeof source, NULL,
                                              NULL) != HM_OK) {
                hm_error_clear(ctx);
                continue;
            }
            if (same_file(source, rasters.names[i])) {
                style = from_tiles;
                break;
            }
        }
        status = hm_styles_write_surface_qml(ctx, rasters.names[i], &style, NULL, 0);
        if (status == HM_EINVAL && style.ramp != options->surface_ramp) {
            /* The tiles were drawn with a ramp file given by path: the manifest keeps only its name. */
            hm_warn(ctx, "%s: the tiles' ramp '%s' is not in harmmap's ramps, so the surface's .qml uses %s instead "
                         "(give the ramp with --surface-ramp to match)",
                    rasters.names[i], style.ramp, options->surface_ramp ? options->surface_ramp : "viridis");
            hm_error_clear(ctx);
            style.ramp = options->surface_ramp;
            status = hm_styles_write_surface_qml(ctx, rasters.names[i], &style, NULL, 0);
        }
    }

    char path[PATH_MAX];
    const char *name = options->project_name ? options->project_name : "harmmap.qgs";
    if (status == HM_OK && *name) {
        gpkg_entry *entries = NULL;
        size_t count = 0, capacity = 0;
        for (size_t i = 0; status == HM_OK && i < gpkgs.count; i++)
            status = list_gpkg_layers(ctx, gpkgs.names[i], i, &entries, &count, &capacity);
        if (status == HM_OK && count) qsort(entries, count, sizeof *entries, compare_entries);
        size_t total = count + rasters.count + tiles.count + mbtiles.count;
        hm_qgis_layer *layers = calloc(total ? total : 1, sizeof *layers);
        if (status == HM_OK && !layers) status = hm_error(ctx, HM_ENOMEM, "out of memory");
        size_t n = 0;
        int choropleth = 0;
        for (size_t i = 0; status == HM_OK && i < count; i++)
            if (strcmp(entries[i].table, "ward_harm") == 0) choropleth = 1;
        /* Spatial layers, then surfaces and tiles, then the attribute tables. */
        for (size_t i = 0; status == HM_OK && i < count && entries[i].rank < 100; i++)
            layers[n++] = (hm_qgis_layer){HM_QGIS_GPKG_LAYER, entries[i].path, entries[i].table, NULL,
                                          strcmp(entries[i].table, "beat_harm") == 0};
        for (size_t i = 0; status == HM_OK && i < rasters.count; i++)
            layers[n++] = (hm_qgis_layer){HM_QGIS_RASTER, rasters.names[i], NULL, NULL, choropleth};
        for (size_t i = 0; status == HM_OK && i < tiles.count; i++)
            layers[n++] = (hm_qgis_layer){HM_QGIS_XYZ_TILES, tiles.names[i], NULL, NULL, 1};
        for (size_t i = 0; status == HM_OK && i < mbtiles.count; i++)
            layers[n++] = (hm_qgis_layer){HM_QGIS_MBTILES, mbtiles.names[i], NULL, NULL, 1};
        for (size_t i = 0; status == HM_OK && i < count; i++)
            if (entries[i].rank >= 100)
                layers[n++] = (hm_qgis_layer){HM_QGIS_GPKG_LAYER, entries[i].path, entries[i].table, NULL, 0};
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char title[256];
        if (options->title) {
            snprintf(title, sizeof title, "%s", options->title);
        } else {
            char real[PATH_MAX];
            const char *base = realpath(dir, real) ? strrchr(real, '/') : NULL;
            snprintf(title, sizeof title, "harmmap: %s", base && base[1] ? base + 1 : dir);
        }
        hm_qgis_project_options project = {title, 27700};
        if (status == HM_OK) status = hm_qgis_project_write(ctx, path, layers, n, &project);
        if (status == HM_OK && project_path) snprintf(project_path, project_path_size, "%s", path);
        free(layers);
        free(entries);
    }
    /* A folder of outputs inside (the public product) gets its styles and a project of its own, so that it can be
     * handed on as a whole without the restricted layers. */
    for (size_t i = 0; status == HM_OK && i < subfolders.count; i++) {
        hm_qgis_folder_options inner = *options;
        inner.title = NULL;
        status = prepare_folder(ctx, subfolders.names[i], &inner, NULL, 0, depth + 1);
    }
    for (size_t i = 0; i < 5; i++) found_free(all[i]);
    return status;
}

int hm_qgis_prepare_folder(hm_ctx *ctx, const char *dir, const hm_qgis_folder_options *options, char *project_path,
                           size_t project_path_size)
{
    hm_qgis_folder_options defaults = {0};
    return prepare_folder(ctx, dir, options ? options : &defaults, project_path, project_path_size, 0);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* `harmmap qgis`                                                                                             */

struct hm_qgis_options {
    const char *dir;
    const char *project_name;
    hm_gpkg_style_options styles;
    const char *surface_ramp;
    int no_project;
    const char *prepared_gpkg; /* hm_qgis_options_set_prepared_gpkg */
};

static const char qgis_usage[] =
    "Usage: harmmap qgis DIR [-o NAME.qgs] [--no-project] [--classes N] [--method jenks|quantile]\n"
    "                    [--choropleth-ramp NAME] [--surface-ramp NAME] [-q]\n"
    "\n"
    "Makes the outputs in DIR ready for QGIS (the other commands do this already; run it after moving files or to\n"
    "restyle): a default style for every layer of every GeoPackage (layer_styles, with class breaks computed\n"
    "from the data), dataset, layer and field metadata, a .qml beside every GeoTIFF (with the ramp and range of the\n"
    "tile folder made from it), and a QGIS project opening them all (British National Grid).\n"
    "\n"
    "  -o NAME.qgs               project file name in DIR (default harmmap.qgs)\n"
    "  --no-project              styles and metadata only\n"
    "  --classes N               classes in the ward and beat choropleths (default 5, at most 12)\n"
    "  --method jenks|quantile   class breaks: Jenks natural breaks (default, as QGIS) or quantiles\n"
    "  --choropleth-ramp NAME    ramp of the choropleths (data/ramps; default ylorrd)\n"
    "  --surface-ramp NAME       ramp of surfaces no tile set was made from (default viridis)\n"
    "  -q                        quiet\n";

void hm_qgis_options_free(hm_qgis_options *options)
{
    free(options);
}

int hm_qgis_options_new(hm_ctx *ctx, int argc, char **argv, hm_qgis_options **out)
{
    *out = NULL;
    hm_qgis_options *options = calloc(1, sizeof *options);
    if (!options) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int status = HM_OK;
    for (int i = 1; i < argc && status == HM_OK; i++) {
        const char *arg = argv[i], *value = NULL;
        int matched = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(qgis_usage, stdout);
            free(options);
            return HM_OK;
        }
        if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            hm_ctx_set_verbosity(ctx, HM_QUIET);
            continue;
        }
        if (strcmp(arg, "--no-project") == 0) {
            options->no_project = 1;
            continue;
        }
        if ((matched = hm_arg_value(ctx, argc, argv, &i, "-o", &value)) == 1) {
            if (strchr(value, '/'))
                status = hm_error(ctx, HM_EINVAL, "-o %s: give a file name; the project is written in DIR, beside "
                                                  "the outputs it opens", value);
            options->project_name = value;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--classes", &value)) == 1) {
            long classes = 0;
            status = hm_arg_long(ctx, "--classes", value, &classes);
            if (status == HM_OK && (classes < 1 || classes > HM_MAX_CLASSES))
                status = hm_error(ctx, HM_EINVAL, "--classes %s: give 1 to %d", value, HM_MAX_CLASSES);
            options->styles.class_count = (int)classes;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--method", &value)) == 1) {
            if (strcasecmp(value, "jenks") == 0)
                options->styles.method = HM_CLASS_JENKS;
            else if (strcasecmp(value, "quantile") == 0 || strcasecmp(value, "quantiles") == 0)
                options->styles.method = HM_CLASS_QUANTILE;
            else
                status = hm_error(ctx, HM_EINVAL, "--method %s: give jenks or quantile", value);
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--choropleth-ramp", &value)) == 1) {
            options->styles.choropleth_ramp = value;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--surface-ramp", &value)) == 1) {
            options->surface_ramp = value;
        }
        if (matched < 0) status = matched;
        if (matched || status != HM_OK) continue;
        if (arg[0] == '-' && arg[1])
            status = hm_error(ctx, HM_EINVAL, "unknown option '%s' (see 'harmmap help qgis')", arg);
        else if (options->dir)
            status = hm_error(ctx, HM_EINVAL, "%s: give one folder (the outputs are already named %s)", arg,
                              options->dir);
        else
            options->dir = arg;
    }
    if (status == HM_OK && !options->dir)
        status = hm_error(ctx, HM_EINVAL, "no folder: give the folder holding harmmap's outputs");
    struct stat info;
    if (status == HM_OK && (stat(options->dir, &info) != 0 || !S_ISDIR(info.st_mode)))
        status = hm_error(ctx, HM_EINVAL, "%s: not a folder; give the folder holding harmmap's outputs", options->dir);
    if (status != HM_OK) {
        free(options);
        return status;
    }
    *out = options;
    return HM_OK;
}

void hm_qgis_options_set_prepared_gpkg(hm_qgis_options *options, const char *path)
{
    if (options) options->prepared_gpkg = path;
}

/* What `harmmap qgis` records in the metadata of the GeoPackages it prepares: its settings. */
typedef struct qgis_run {
    char method[32], classes[16];
    hm_run_parameter parameters[3];
    hm_run_description description;
} qgis_run;

static void describe_qgis_run(const hm_qgis_options *options, qgis_run *run)
{
    snprintf(run->method, sizeof run->method, "%s", hm_class_method_name(options->styles.method));
    snprintf(run->classes, sizeof run->classes, "%d", options->styles.class_count ? options->styles.class_count : 5);
    run->parameters[0] = (hm_run_parameter){"classes", run->classes};
    run->parameters[1] = (hm_run_parameter){"method", run->method};
    run->parameters[2] = (hm_run_parameter){"choropleth_ramp",
                                            options->styles.choropleth_ramp ? options->styles.choropleth_ramp : "ylorrd"};
    run->description = (hm_run_description){"qgis", NULL, run->parameters, 3, NULL};
}

int hm_qgis_prepare_output_gpkg(hm_ctx *ctx, const hm_qgis_options *options, const char *path,
                                const hm_kept_summaries *kept)
{
    qgis_run run;
    describe_qgis_run(options, &run);
    return prepare_gpkg_file(ctx, path, &run.description, &options->styles, kept);
}

int hm_qgis(hm_ctx *ctx, const hm_qgis_options *options)
{
    if (!options) return HM_OK; /* --help was printed */
    qgis_run run;
    describe_qgis_run(options, &run);
    hm_qgis_folder_options folder = {options->no_project ? "" : options->project_name, NULL, &run.description,
                                     &options->styles, options->surface_ramp, options->prepared_gpkg};
    char project[PATH_MAX] = "";
    int status = hm_qgis_prepare_folder(ctx, options->dir, &folder, project, sizeof project);
    if (status == HM_OK && hm_ctx_verbosity(ctx) >= HM_NORMAL) {
        if (*project)
            printf("wrote %s\n", project);
        else
            printf("styled and described the outputs in %s\n", options->dir);
    }
    return status;
}
