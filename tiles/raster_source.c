/* raster_source.c - open, check and read the surface (see raster_source.h). */
#include "raster_source.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_alg.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *copy_string(const char *text)
{
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, text, n);
    return copy;
}

/* GDAL's last message, shortened: PROJ's "cannot find coordinate operations" quotes both CRSs in full WKT. */
static const char *short_gdal_message(char *buffer, size_t size)
{
    const char *message = CPLGetLastErrorMsg();
    if (strstr(message, "Cannot find coordinate operations"))
        message = "PROJ knows no coordinate operation between them (is it a CRS of another body, or a datum "
                  "with no path to WGS 84?)";
    snprintf(buffer, size, "%s", message);
    if (strlen(message) >= size && size > 4) memcpy(buffer + size - 4, "...", 4);
    return buffer;
}

static int check_georeferencing(hm_ctx *ctx, const char *path, GDALDatasetH dataset, hm_raster_source *source)
{
    if (GDALGetGeoTransform(dataset, source->geotransform) != CE_None)
        return hm_error(ctx, HM_EFORMAT,
                        "%s: the raster is not georeferenced (no geotransform: gdalinfo shows no "
                        "Origin or Pixel Size); tile a GeoTIFF written by 'harmmap density', or "
                        "georeference it with gdal_translate -a_ullr ... -a_srs EPSG:27700",
                        path);
    const double *gt = source->geotransform;
    if (gt[2] != 0.0 || gt[4] != 0.0)
        return hm_error(ctx, HM_EFORMAT,
                        "%s: the geotransform is rotated or skewed; warp it to a north-up grid "
                        "first with gdalwarp",
                        path);
    if (gt[1] <= 0.0 || gt[5] == 0.0)
        return hm_error(ctx, HM_EFORMAT,
                        "%s: the geotransform has a pixel size of %g x %g; it must be positive "
                        "across and non-zero down",
                        path, gt[1], gt[5]);
    OGRSpatialReferenceH srs = GDALGetSpatialRef(dataset);
    if (!srs)
        return hm_error(ctx, HM_EFORMAT,
                        "%s: the raster has no coordinate reference system; assign one, e.g. "
                        "gdal_edit.py -a_srs EPSG:27700 %s",
                        path, path);
    const char *name = OSRGetName(srs);
    snprintf(source->srs_name, sizeof source->srs_name, "%s", name ? name : "unnamed CRS");
    if (OSRIsLocal(srs))
        return hm_error(ctx, HM_EPROJ,
                        "%s: the CRS '%s' is a local/engineering CRS that cannot be placed on the "
                        "Earth; assign the raster's real CRS (e.g. EPSG:27700) with gdal_edit.py "
                        "-a_srs",
                        path, source->srs_name);
    OGRSpatialReferenceH mercator = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(mercator, 3857);
    OSRSetAxisMappingStrategy(mercator, OAMS_TRADITIONAL_GIS_ORDER);
    OGRSpatialReferenceH source_srs = OSRClone(srs);
    OSRSetAxisMappingStrategy(source_srs, OAMS_TRADITIONAL_GIS_ORDER);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    OGRCoordinateTransformationH transform = OCTNewCoordinateTransformation(source_srs, mercator);
    CPLPopErrorHandler();
    char *wkt = NULL, *mercator_wkt = NULL;
    char message[200];
    int status = HM_OK;
    if (!transform) {
        status = hm_error(ctx, HM_EPROJ,
                          "%s: no transformation from the raster's CRS '%s' to Web Mercator "
                          "(EPSG:3857): %s; assign a CRS that PROJ knows (e.g. EPSG:27700)",
                          path, source->srs_name, short_gdal_message(message, sizeof message));
    } else if (OSRExportToWkt(source_srs, &wkt) != OGRERR_NONE ||
               OSRExportToWkt(mercator, &mercator_wkt) != OGRERR_NONE) {
        status = hm_error(ctx, HM_EPROJ, "%s: cannot write the CRS '%s' as WKT", path, source->srs_name);
    } else {
        source->srs_wkt = copy_string(wkt);
        source->mercator_wkt = copy_string(mercator_wkt);
        if (!source->srs_wkt || !source->mercator_wkt) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    CPLFree(wkt);
    CPLFree(mercator_wkt);
    if (transform) OCTDestroyCoordinateTransformation(transform);
    OSRDestroySpatialReference(source_srs);
    OSRDestroySpatialReference(mercator);
    return status;
}

/* The EPSG:3857 extent as gdal2tiles computes it (AutoCreateWarpedVRT -> GDALSuggestedWarpOutput, exact). */
static int mercator_extent(hm_ctx *ctx, const char *path, GDALDatasetH dataset, hm_raster_source *source)
{
    char **options = CSLSetNameValue(NULL, "SRC_SRS", source->srs_wkt);
    options = CSLSetNameValue(options, "DST_SRS", source->mercator_wkt);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    void *transformer = GDALCreateGenImgProjTransformer2(dataset, NULL, options);
    double gt[6];
    int pixels = 0, lines = 0;
    CPLErr err = transformer ? GDALSuggestedWarpOutput(dataset, GDALGenImgProjTransform, transformer, gt,
                                                       &pixels, &lines)
                             : CE_Failure;
    CPLPopErrorHandler();
    CSLDestroy(options);
    if (transformer) GDALDestroyGenImgProjTransformer(transformer);
    if (err != CE_None)
        return hm_error(ctx, HM_EPROJ,
                        "%s: cannot work out the raster's extent in Web Mercator (%s); is the CRS "
                        "'%s' right for the coordinates?",
                        path, CPLGetLastErrorMsg(), source->srs_name);
    source->extent_3857.min_x_m = gt[0];
    source->extent_3857.max_x_m = gt[0] + pixels * gt[1];
    source->extent_3857.max_y_m = gt[3];
    source->extent_3857.min_y_m = gt[3] - lines * gt[1];
    return HM_OK;
}

int hm_raster_source_open(hm_ctx *ctx, const char *path, hm_raster_source **out)
{
    *out = NULL;
    hm_raster_source *source = calloc(1, sizeof *source);
    if (!source) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int status = HM_OK;
    /* The whole surface is read before any tile is drawn: a GeoTIFF's compressed blocks are decoded on every
     * processor (GDAL_NUM_THREADS, which GDAL 3.6's GTiff reads when the file is opened), unless the user
     * set GDAL_NUM_THREADS. */
    char *user_threads = CPLStrdup(CPLGetThreadLocalConfigOption("GDAL_NUM_THREADS", NULL));
    if (!CPLGetConfigOption("GDAL_NUM_THREADS", NULL))
        CPLSetThreadLocalConfigOption("GDAL_NUM_THREADS", "ALL_CPUS");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH dataset =
        GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!dataset) {
        status = hm_error(ctx, HM_EGDAL, "%s: cannot open as a raster: %s", path, CPLGetLastErrorMsg());
        goto done;
    }
    source->path = copy_string(path);
    source->width = GDALGetRasterXSize(dataset);
    source->height = GDALGetRasterYSize(dataset);
    if (GDALGetRasterCount(dataset) < 1) {
        status = hm_error(ctx, HM_EFORMAT, "%s: the raster has no bands", path);
        goto done;
    }
    if (GDALGetRasterCount(dataset) > 1)
        hm_warn(ctx, "%s has %d bands; tiling band 1", path, GDALGetRasterCount(dataset));
    if ((status = check_georeferencing(ctx, path, dataset, source)) != HM_OK) goto done;
    if ((status = mercator_extent(ctx, path, dataset, source)) != HM_OK) goto done;

    GDALRasterBandH band = GDALGetRasterBand(dataset, 1);
    source->nodata = GDALGetRasterNoDataValue(band, &source->has_nodata);
    size_t count = (size_t)source->width * (size_t)source->height;
    source->values = malloc(count * sizeof *source->values);
    if (!source->values) {
        status = hm_error(ctx, HM_ENOMEM, "%s: %d x %d cells need %zu MB of memory; tile a coarser surface",
                          path, source->width, source->height, count * sizeof(float) >> 20);
        goto done;
    }
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErr err = GDALRasterIO(band, GF_Read, 0, 0, source->width, source->height, source->values,
                              source->width, source->height, GDT_Float32, 0, 0);
    CPLPopErrorHandler();
    if (err != CE_None) {
        status = hm_error(ctx, HM_EGDAL, "%s: cannot read band 1: %s", path, CPLGetLastErrorMsg());
        goto done;
    }
    float nodata = (float)source->nodata;
    double lo = INFINITY, hi = -INFINITY;
    long long valid = 0;
    for (size_t i = 0; i < count; i++) {
        float v = source->values[i];
        if (!isfinite(v) || (source->has_nodata && v == nodata)) continue;
        valid++;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    source->valid_count = valid;
    source->value_min = valid ? lo : 0;
    source->value_max = valid ? hi : 0;
done:
    if (dataset) GDALClose(dataset);
    CPLSetThreadLocalConfigOption("GDAL_NUM_THREADS", user_threads[0] ? user_threads : NULL);
    CPLFree(user_threads);
    if (status != HM_OK) source = hm_raster_source_destroy(source);
    *out = source;
    return status;
}

hm_raster_source *hm_raster_source_destroy(hm_raster_source *source)
{
    if (!source) return NULL;
    free(source->path);
    free(source->srs_wkt);
    free(source->mercator_wkt);
    free(source->values);
    free(source);
    return NULL;
}

GDALDatasetH hm_raster_source_dataset(hm_ctx *ctx, const hm_raster_source *source)
{
    GDALDriverH driver = GDALGetDriverByName("MEM");
    if (!driver) {
        hm_error(ctx, HM_EGDAL, "GDAL's MEM driver is missing");
        return NULL;
    }
    GDALDatasetH dataset = GDALCreate(driver, "", source->width, source->height, 0, GDT_Float32, NULL);
    if (!dataset) {
        hm_error(ctx, HM_EGDAL, "cannot create an in-memory dataset: %s", CPLGetLastErrorMsg());
        return NULL;
    }
    char option[96];
    snprintf(option, sizeof option, "DATAPOINTER=%p", (void *)source->values);
    char *options[] = {option, NULL};
    if (GDALAddBand(dataset, GDT_Float32, options) != CE_None) {
        GDALClose(dataset);
        hm_error(ctx, HM_EGDAL, "cannot wrap the surface in a MEM dataset: %s", CPLGetLastErrorMsg());
        return NULL;
    }
    double gt[6];
    memcpy(gt, source->geotransform, sizeof gt);
    GDALSetGeoTransform(dataset, gt);
    GDALSetProjection(dataset, source->srs_wkt);
    if (source->has_nodata) GDALSetRasterNoDataValue(GDALGetRasterBand(dataset, 1), source->nodata);
    return dataset;
}

double hm_raster_source_max_above(const hm_raster_source *source, double threshold)
{
    return source->value_max > threshold ? source->value_max : threshold;
}
