/*
 * boundaries.c - see boundaries.h.
 *
 * Every feature goes through the same steps, whatever the source: its geometry is reduced to polygons (curves
 * linearised, Z dropped, KML MultiGeometry unpacked; anything that is not a polygon is an error naming the
 * feature), reprojected by OGR (which runs PROJ) with both CRSs in traditional GIS axis order (x = easting or
 * longitude), converted to GEOS through WKB, and checked with GEOSisValid. An invalid polygon is repaired with
 * GEOSMakeValid and only its polygonal parts are kept; each repair is counted and reported with GEOS's reason,
 * because a repaired ward may no longer share its edges exactly with its neighbours.
 *
 * Code and name fields are detected rather than configured because boundary files come from many publishers:
 * ONS files carry pairs such as WD22CD/WD22NM or cmwd11cd/cmwd11nm next to other pairs (lad11cd/lad11nm), so a
 * pair whose prefix names the kind wins (wd for wards), then the first pair whose codes are unique per feature.
 * A folder of KML files (data.police.uk neighbourhoods) is read file by file in name order, so the order of
 * the set never depends on the file system.
 *
 * The set owns a GEOS context of its own: its geometries outlive the hm_ctx that loaded them and can be read
 * (not modified) from any thread.
 */
#include "boundaries.h"

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct hm_boundary_set {
    GEOSContextHandle_t geos;
    size_t count;
    size_t capacity;
    char **codes;
    char **names;
    GEOSGeometry **geometries;
    char *source;
    char *code_field;
    char *name_field;
    char *source_crs;
    size_t repaired;
    double xmin, ymin, xmax, ymax;
    char geos_message[512];
};

/* What one load needs besides the set being filled. */
typedef struct loader {
    hm_ctx *ctx;
    hm_boundary_set *set;
    const char *source;
    const char *kind;
    char code_option[64]; /* e.g. "--ward-code", for messages */
    char name_option[64];
    OGRSpatialReferenceH target;
    OGRCoordinateTransformationH transform; /* NULL when the source is already in the target CRS */
    char **labels;                          /* "feature 12" or a KML file name, per loaded feature */
    unsigned char *wkb;
    size_t wkb_capacity;
} loader;

static char *duplicate(const char *text)
{
    size_t length = strlen(text ? text : "");
    char *copy = malloc(length + 1);
    if (copy) memcpy(copy, text ? text : "", length + 1);
    return copy;
}

static void geos_error_handler(const char *message, void *userdata)
{
    hm_boundary_set *set = userdata;
    snprintf(set->geos_message, sizeof set->geos_message, "%s", message);
}

static const char *gdal_message(void)
{
    const char *message = CPLGetLastErrorMsg();
    return message && message[0] ? message : "no detail from GDAL";
}

/* ---- the set ---------------------------------------------------------------------------------------------- */

static hm_boundary_set *set_create(const char *source)
{
    hm_boundary_set *set = calloc(1, sizeof *set);
    if (!set) return NULL;
    set->geos = GEOS_init_r();
    set->source = duplicate(source);
    if (!set->geos || !set->source) return hm_boundaries_destroy(set);
    GEOSContext_setErrorMessageHandler_r(set->geos, geos_error_handler, set);
    GEOSContext_setNoticeMessageHandler_r(set->geos, NULL, NULL);
    return set;
}

hm_boundary_set *hm_boundaries_destroy(hm_boundary_set *set)
{
    if (!set) return NULL;
    for (size_t i = 0; i < set->count; i++) {
        free(set->codes[i]);
        free(set->names[i]);
        if (set->geometries[i]) GEOSGeom_destroy_r(set->geos, set->geometries[i]);
    }
    free(set->codes);
    free(set->names);
    free(set->geometries);
    free(set->source);
    free(set->code_field);
    free(set->name_field);
    free(set->source_crs);
    if (set->geos) GEOS_finish_r(set->geos);
    free(set);
    return NULL;
}

size_t hm_boundaries_count(const hm_boundary_set *set)
{
    return set->count;
}

const char *hm_boundaries_code(const hm_boundary_set *set, size_t index)
{
    return index < set->count ? set->codes[index] : NULL;
}

const char *hm_boundaries_name(const hm_boundary_set *set, size_t index)
{
    return index < set->count ? set->names[index] : NULL;
}

const GEOSGeometry *hm_boundaries_geometry(const hm_boundary_set *set, size_t index)
{
    return index < set->count ? set->geometries[index] : NULL;
}

const char *hm_boundaries_source(const hm_boundary_set *set)
{
    return set->source;
}

const char *hm_boundaries_code_field(const hm_boundary_set *set)
{
    return set->code_field ? set->code_field : "";
}

const char *hm_boundaries_name_field(const hm_boundary_set *set)
{
    return set->name_field ? set->name_field : "";
}

const char *hm_boundaries_source_crs(const hm_boundary_set *set)
{
    return set->source_crs ? set->source_crs : "";
}

size_t hm_boundaries_repaired_count(const hm_boundary_set *set)
{
    return set->repaired;
}

void hm_boundaries_extent(const hm_boundary_set *set, double *xmin, double *ymin, double *xmax, double *ymax)
{
    *xmin = set->xmin;
    *ymin = set->ymin;
    *xmax = set->xmax;
    *ymax = set->ymax;
}

/* ---- geometry: OGR feature geometry -> valid GEOS (multi)polygon in the target CRS ------------------------ */

/* Adds every polygon in g to multi; returns 0, or -1 with *bad_type set when g holds something else. */
static int collect_ogr_polygons(OGRGeometryH g, OGRGeometryH multi, const char **bad_type)
{
    OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(g));
    if (type == wkbPolygon) {
        if (!OGR_G_IsEmpty(g)) OGR_G_AddGeometry(multi, g);
        return 0;
    }
    if (type == wkbMultiPolygon || type == wkbGeometryCollection) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            if (collect_ogr_polygons(OGR_G_GetGeometryRef(g, i), multi, bad_type) != 0) return -1;
        return 0;
    }
    *bad_type = OGR_G_GetGeometryName(g);
    return -1;
}

/* Adds clones of the polygons in g (a MakeValid result) to parts; lines and points are dropped. */
static int collect_geos_polygons(GEOSContextHandle_t geos, const GEOSGeometry *g, GEOSGeometry ***parts,
                                 size_t *count, size_t *capacity)
{
    int type = GEOSGeomTypeId_r(geos, g);
    if (type == GEOS_POLYGON) {
        if (GEOSisEmpty_r(geos, g)) return 0;
        if (*count == *capacity) {
            size_t grown = *capacity ? 2 * *capacity : 8;
            GEOSGeometry **bigger = realloc(*parts, grown * sizeof *bigger);
            if (!bigger) return -1;
            *parts = bigger;
            *capacity = grown;
        }
        GEOSGeometry *clone = GEOSGeom_clone_r(geos, g);
        if (!clone) return -1;
        (*parts)[(*count)++] = clone;
        return 0;
    }
    if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        for (int i = 0; i < GEOSGetNumGeometries_r(geos, g); i++)
            if (collect_geos_polygons(geos, GEOSGetGeometryN_r(geos, g, i), parts, count, capacity) != 0)
                return -1;
    }
    return 0;
}

/* Replaces *geometry (invalid) by the polygonal part of GEOSMakeValid's result. */
static int repair(loader *ld, const char *label, GEOSGeometry **geometry)
{
    hm_boundary_set *set = ld->set;
    GEOSGeometry *valid = GEOSMakeValid_r(set->geos, *geometry);
    if (!valid)
        return hm_error(ld->ctx, HM_EGEOS, "%s: %s: GEOS MakeValid failed (%s); fix the polygon in QGIS",
                        ld->source, label, set->geos_message);
    GEOSGeometry **parts = NULL;
    size_t count = 0, capacity = 0;
    int failed = collect_geos_polygons(set->geos, valid, &parts, &count, &capacity);
    GEOSGeom_destroy_r(set->geos, valid);
    if (failed) {
        for (size_t i = 0; i < count; i++) GEOSGeom_destroy_r(set->geos, parts[i]);
        free(parts);
        return hm_error(ld->ctx, HM_ENOMEM, "%s: %s: out of memory repairing the polygon", ld->source, label);
    }
    if (count == 0) {
        free(parts);
        return hm_error(ld->ctx, HM_EFORMAT,
                        "%s: %s: the polygon is invalid and nothing polygonal is left after repair; fix it in "
                        "QGIS (Vector > Geometry Tools > Fix Geometries) or remove the feature",
                        ld->source, label);
    }
    GEOSGeometry *result = count == 1 ? parts[0]
                                      : GEOSGeom_createCollection_r(set->geos, GEOS_MULTIPOLYGON, parts,
                                                                    (unsigned)count);
    free(parts);
    if (!result) return hm_error(ld->ctx, HM_EGEOS, "%s: %s: %s", ld->source, label, set->geos_message);
    if (GEOSisValid_r(set->geos, result) != 1) {
        GEOSGeom_destroy_r(set->geos, result);
        return hm_error(ld->ctx, HM_EGEOS,
                        "%s: %s: the polygon is still invalid after GEOS MakeValid; fix it in QGIS (Vector > "
                        "Geometry Tools > Fix Geometries)",
                        ld->source, label);
    }
    GEOSGeom_destroy_r(set->geos, *geometry);
    *geometry = result;
    return HM_OK;
}

/* Converts an OGR geometry (not owned) to a valid GEOS polygon or multipolygon in the target CRS. */
static int to_geos(loader *ld, const char *label, const char *code, OGRGeometryH source, GEOSGeometry **out)
{
    hm_boundary_set *set = ld->set;
    *out = NULL;
    if (!source || OGR_G_IsEmpty(source))
        return hm_error(ld->ctx, HM_EFORMAT, "%s: %s (%s %s) has no geometry; every %s needs a polygon",
                        ld->source, label, ld->kind, code, ld->kind);
    OGRGeometryH linear = NULL;
    if (OGR_G_HasCurveGeometry(source, TRUE)) {
        linear = OGR_G_GetLinearGeometry(source, 0, NULL);
        if (!linear)
            return hm_error(ld->ctx, HM_EGDAL, "%s: %s: cannot linearise its curves: %s", ld->source, label,
                            gdal_message());
    }
    OGRGeometryH multi = OGR_G_CreateGeometry(wkbMultiPolygon);
    const char *bad_type = NULL;
    int collected = collect_ogr_polygons(linear ? linear : source, multi, &bad_type);
    if (linear) OGR_G_DestroyGeometry(linear);
    if (collected != 0) {
        hm_error(ld->ctx, HM_EFORMAT, "%s: %s (%s %s) is a %s, not a polygon; %s boundaries must be polygons",
                 ld->source, label, ld->kind, code, bad_type ? bad_type : "non-polygon", ld->kind);
        OGR_G_DestroyGeometry(multi);
        return HM_EFORMAT;
    }
    if (OGR_G_GetGeometryCount(multi) == 0) {
        OGR_G_DestroyGeometry(multi);
        return hm_error(ld->ctx, HM_EFORMAT, "%s: %s (%s %s) has an empty polygon; every %s needs a polygon",
                        ld->source, label, ld->kind, code, ld->kind);
    }
    OGRGeometryH polygons = multi;
    if (OGR_G_GetGeometryCount(multi) == 1) {
        polygons = OGR_G_Clone(OGR_G_GetGeometryRef(multi, 0));
        OGR_G_DestroyGeometry(multi);
    }
    OGR_G_FlattenTo2D(polygons);
    int status = HM_OK;
    if (ld->transform && OGR_G_Transform(polygons, ld->transform) != OGRERR_NONE) {
        status = hm_error(ld->ctx, HM_EPROJ,
                          "%s: %s (%s %s): cannot reproject to %s: %s; check the layer's CRS", ld->source,
                          label, ld->kind, code, OSRGetName(ld->target), gdal_message());
        goto done;
    }
    size_t size = OGR_G_WkbSizeEx(polygons);
    if (size > ld->wkb_capacity) {
        unsigned char *bigger = realloc(ld->wkb, size);
        if (!bigger) {
            status = hm_error(ld->ctx, HM_ENOMEM, "%s: %s: out of memory (%zu bytes of WKB)", ld->source, label,
                              size);
            goto done;
        }
        ld->wkb = bigger;
        ld->wkb_capacity = size;
    }
    OGR_G_ExportToWkb(polygons, wkbNDR, ld->wkb);
    GEOSGeometry *geometry = GEOSGeomFromWKB_buf_r(set->geos, ld->wkb, size);
    if (!geometry) {
        status = hm_error(ld->ctx, HM_EGEOS, "%s: %s (%s %s): GEOS cannot read the polygon: %s", ld->source,
                          label, ld->kind, code, set->geos_message);
        goto done;
    }
    char valid = GEOSisValid_r(set->geos, geometry);
    if (valid == 2) {
        GEOSGeom_destroy_r(set->geos, geometry);
        status = hm_error(ld->ctx, HM_EGEOS, "%s: %s (%s %s): GEOS cannot check the polygon: %s", ld->source,
                          label, ld->kind, code, set->geos_message);
        goto done;
    }
    if (valid == 0) {
        char *reason = GEOSisValidReason_r(set->geos, geometry);
        status = repair(ld, label, &geometry);
        if (status == HM_OK) {
            set->repaired++;
            hm_warn(ld->ctx, "%s: %s (%s %s): invalid polygon (%s) repaired with GEOS MakeValid", ld->source,
                    label, ld->kind, code, reason ? reason : "no reason given");
        } else {
            GEOSGeom_destroy_r(set->geos, geometry);
            geometry = NULL;
        }
        if (reason) GEOSFree_r(set->geos, reason);
    }
    *out = geometry;
done:
    OGR_G_DestroyGeometry(polygons);
    return status;
}

/* Appends one feature to the set (geometry converted here; code, name and label copied). */
static int add_feature(loader *ld, const char *label, const char *code, const char *name, OGRGeometryH geometry)
{
    hm_boundary_set *set = ld->set;
    const char *c = code;
    while (*c && isspace((unsigned char)*c)) c++;
    if (!*c)
        return hm_error(ld->ctx, HM_EFORMAT,
                        "%s: %s has an empty %s code; every %s needs one (choose another field with %s, or "
                        "remove the feature)",
                        ld->source, label, ld->kind, ld->kind, ld->code_option);
    if (set->count == set->capacity) {
        size_t grown = set->capacity ? 2 * set->capacity : 64;
        char **codes = realloc(set->codes, grown * sizeof *codes);
        if (codes) set->codes = codes;
        char **names = realloc(set->names, grown * sizeof *names);
        if (names) set->names = names;
        GEOSGeometry **geometries = realloc(set->geometries, grown * sizeof *geometries);
        if (geometries) set->geometries = geometries;
        char **labels = realloc(ld->labels, grown * sizeof *labels);
        if (labels) ld->labels = labels;
        if (!codes || !names || !geometries || !labels)
            return hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory after %zu features", ld->source, set->count);
        set->capacity = grown;
    }
    GEOSGeometry *polygon = NULL;
    int status = to_geos(ld, label, code, geometry, &polygon);
    if (status != HM_OK) return status;
    size_t i = set->count;
    set->codes[i] = duplicate(code);
    set->names[i] = duplicate(name);
    set->geometries[i] = polygon;
    ld->labels[i] = duplicate(label);
    set->count++;
    if (!set->codes[i] || !set->names[i] || !ld->labels[i])
        return hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory after %zu features", ld->source, set->count);
    double xmin, ymin, xmax, ymax;
    GEOSGeom_getXMin_r(set->geos, polygon, &xmin);
    GEOSGeom_getYMin_r(set->geos, polygon, &ymin);
    GEOSGeom_getXMax_r(set->geos, polygon, &xmax);
    GEOSGeom_getYMax_r(set->geos, polygon, &ymax);
    if (i == 0 || xmin < set->xmin) set->xmin = xmin;
    if (i == 0 || ymin < set->ymin) set->ymin = ymin;
    if (i == 0 || xmax > set->xmax) set->xmax = xmax;
    if (i == 0 || ymax > set->ymax) set->ymax = ymax;
    return HM_OK;
}

/* ---- CRS ------------------------------------------------------------------------------------------------- */

static char *describe_crs(OGRSpatialReferenceH srs)
{
    const char *authority = OSRGetAuthorityName(srs, NULL);
    const char *code = OSRGetAuthorityCode(srs, NULL);
    if (authority && code) {
        char text[128];
        snprintf(text, sizeof text, "%s:%s", authority, code);
        return duplicate(text);
    }
    /* An ESRI .prj has no authority: ask GDAL which EPSG code it is, else use its name. */
    OGRSpatialReferenceH identified = OSRClone(srs);
    char *description = NULL;
    if (identified && OSRAutoIdentifyEPSG(identified) == OGRERR_NONE && OSRGetAuthorityCode(identified, NULL)) {
        char text[128];
        snprintf(text, sizeof text, "EPSG:%s", OSRGetAuthorityCode(identified, NULL));
        description = duplicate(text);
    }
    if (identified) OSRDestroySpatialReference(identified);
    if (description) return description;
    const char *name = OSRGetName(srs);
    return duplicate(name ? name : "unnamed CRS");
}

/* Sets up ld->transform from the layer's CRS (or the assumed one) to ld->target. */
static int prepare_transform(loader *ld, OGRLayerH layer, OGRSpatialReferenceH layer_srs,
                             const hm_boundary_options *options)
{
    OGRSpatialReferenceH source = NULL;
    if (layer_srs) {
        source = OSRClone(layer_srs);
    } else if (options && options->assume_crs) {
        source = OSRNewSpatialReference(NULL);
        if (OSRSetFromUserInput(source, options->assume_crs) != OGRERR_NONE) {
            OSRDestroySpatialReference(source);
            return hm_error(ld->ctx, HM_EINVAL, "%s: the CRS to assume, '%s', is not understood: %s", ld->source,
                            options->assume_crs, gdal_message());
        }
    } else {
        const char *hint = "";
        OGREnvelope extent;
        if (layer && OGR_L_GetExtent(layer, &extent, TRUE) == OGRERR_NONE && extent.MinX >= 0 &&
            extent.MaxX <= 700000 && extent.MinY >= 0 && extent.MaxY <= 1300000 && extent.MaxX > 1000)
            hint = " (its coordinates look like British National Grid metres: if so, use EPSG:27700)";
        return hm_error(ld->ctx, HM_EFORMAT,
                        "%s: layer '%s' has no coordinate reference system (a Shapefile without its .prj?); "
                        "say which CRS it is in%s, e.g. with ogr2ogr -a_srs EPSG:27700 fixed.gpkg '%s'",
                        ld->source, layer ? OGR_L_GetName(layer) : "", hint, ld->source);
    }
    OSRSetAxisMappingStrategy(source, OAMS_TRADITIONAL_GIS_ORDER);
    ld->set->source_crs = describe_crs(source);
    int status = HM_OK;
    if (!OSRIsSame(source, ld->target)) {
        ld->transform = OCTNewCoordinateTransformation(source, ld->target);
        if (!ld->transform)
            status = hm_error(ld->ctx, HM_EPROJ, "%s: no transformation from %s to %s: %s", ld->source,
                              ld->set->source_crs, OSRGetName(ld->target), gdal_message());
    }
    OSRDestroySpatialReference(source);
    return status;
}

/* ---- fields ---------------------------------------------------------------------------------------------- */

static int field_index(OGRFeatureDefnH definition, const char *name)
{
    for (int i = 0; i < OGR_FD_GetFieldCount(definition); i++)
        if (strcasecmp(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, i)), name) == 0) return i;
    return -1;
}

static void list_fields(OGRFeatureDefnH definition, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    int count = OGR_FD_GetFieldCount(definition);
    if (count == 0) snprintf(buffer, size, "none");
    for (int i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(buffer + used, size - used, "%s%s", i ? ", " : "",
                                 OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, i)));
}

/* Length of the stem of an ONS-style field name `^[a-z]{2,6}[0-9]{2}<suffix>$` (6 for cmwd11cd), or 0. */
static size_t ons_stem(const char *name, const char *suffix)
{
    size_t length = strlen(name);
    if (length < 6 || length > 10 || strcasecmp(name + length - 2, suffix) != 0) return 0;
    size_t letters = length - 4;
    for (size_t i = 0; i < letters; i++)
        if (!isalpha((unsigned char)name[i])) return 0;
    if (!isdigit((unsigned char)name[letters]) || !isdigit((unsigned char)name[letters + 1])) return 0;
    return length - 2;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether the field's values are non-empty and unique over the layer (reads the layer once). */
static int field_is_unique(OGRLayerH layer, int field)
{
    size_t count = 0, capacity = 0;
    char **values = NULL;
    int unique = 1;
    OGR_L_ResetReading(layer);
    OGRFeatureH feature;
    while (unique && (feature = OGR_L_GetNextFeature(layer)) != NULL) {
        const char *value = OGR_F_IsFieldSetAndNotNull(feature, field) ? OGR_F_GetFieldAsString(feature, field) : "";
        if (!value[0]) unique = 0;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 256;
            char **bigger = realloc(values, capacity * sizeof *bigger);
            if (!bigger) unique = 0;
            else values = bigger;
        }
        if (unique && (values[count] = duplicate(value)) != NULL) count++;
        else unique = 0;
        OGR_F_Destroy(feature);
    }
    OGR_L_ResetReading(layer);
    if (unique) qsort(values, count, sizeof *values, compare_strings);
    for (size_t i = 1; unique && i < count; i++)
        if (strcmp(values[i - 1], values[i]) == 0) unique = 0;
    for (size_t i = 0; i < count; i++) free(values[i]);
    free(values);
    return unique;
}

static int has_kml_extension(const char *name)
{
    size_t length = strlen(name);
    return length > 4 && strcasecmp(name + length - 4, ".kml") == 0;
}

/* The field indexes chosen for a layer (-1: none). */
typedef struct field_choice {
    int code;
    int name;
} field_choice;

/* Index of the first field named like one of `names` (case-insensitive), or -1. */
static int first_field(OGRFeatureDefnH definition, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int index = names[i] ? field_index(definition, names[i]) : -1;
        if (index >= 0) return index;
    }
    return -1;
}

/* The `..yyNM` partner of an ONS `..yyCD` field, or -1. */
static int ons_partner(OGRFeatureDefnH definition, int code_field)
{
    const char *code_name = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, code_field));
    size_t stem = ons_stem(code_name, "cd");
    if (!stem) return -1;
    for (int i = 0; i < OGR_FD_GetFieldCount(definition); i++) {
        const char *name = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, i));
        if (ons_stem(name, "nm") == stem && strncasecmp(name, code_name, stem) == 0) return i;
    }
    return -1;
}

static int detect_fields(loader *ld, OGRLayerH layer, const hm_boundary_options *options, field_choice *choice)
{
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    char fields[1024];
    list_fields(definition, fields, sizeof fields);
    const char *layer_name = OGR_L_GetName(layer);
    choice->code = choice->name = -1;
    int name_from_pair = -1;

    if (options && options->code_field) {
        choice->code = field_index(definition, options->code_field);
        if (choice->code < 0)
            return hm_error(ld->ctx, HM_EFORMAT,
                            "%s: layer '%s' has no field '%s' (given with %s); its fields are: %s", ld->source,
                            layer_name, options->code_field, ld->code_option, fields);
        name_from_pair = ons_partner(definition, choice->code);
    } else {
        /* ONS pairs: the kind's own prefix first (wd in WD22CD or cmwd11cd for wards), else the first pair
         * whose codes are unique per feature (lad11cd repeats the district on every ward). */
        int candidates[64], count = 0, preferred = -1;
        const char *kind_letters = strcmp(ld->kind, "ward") == 0 ? "wd" : NULL;
        for (int i = 0; i < OGR_FD_GetFieldCount(definition) && count < 64; i++) {
            const char *name = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, i));
            size_t stem = ons_stem(name, "cd");
            if (!stem) continue;
            candidates[count++] = i;
            if (preferred < 0 && kind_letters) {
                for (size_t k = 0; k + 1 < stem - 2; k++)
                    if (strncasecmp(name + k, kind_letters, 2) == 0) preferred = i;
            }
        }
        if (preferred >= 0) choice->code = preferred;
        else if (count == 1) choice->code = candidates[0];
        for (int k = 0; choice->code < 0 && k < count; k++)
            if (field_is_unique(layer, candidates[k])) choice->code = candidates[k];
        if (choice->code < 0 && count > 0) choice->code = candidates[0];
        if (choice->code >= 0) {
            name_from_pair = ons_partner(definition, choice->code);
        } else {
            char kind_code[64], kind_plain[64], kind_id[64];
            snprintf(kind_code, sizeof kind_code, "%s_code", ld->kind);
            snprintf(kind_plain, sizeof kind_plain, "%scode", ld->kind);
            snprintf(kind_id, sizeof kind_id, "%s_id", ld->kind);
            int beat = strcmp(ld->kind, "beat") == 0;
            const char *const names[] = {"code",
                                         kind_code,
                                         kind_plain,
                                         kind_id,
                                         "id",
                                         beat ? "neighbourhood_id" : NULL,
                                         beat ? "neighbourhood_code" : NULL,
                                         beat ? "neighbourhood" : NULL,
                                         beat ? "nhood_id" : NULL,
                                         beat ? "beat" : NULL};
            choice->code = first_field(definition, names, sizeof names / sizeof names[0]);
        }
        if (choice->code < 0)
            return hm_error(ld->ctx, HM_EFORMAT,
                            "%s: layer '%s': cannot tell which field holds the %s codes (fields: %s); name it "
                            "with %s FIELD (and the names with %s FIELD)%s",
                            ld->source, layer_name, ld->kind, fields, ld->code_option, ld->name_option,
                            has_kml_extension(ld->source)
                                ? ", or, for data.police.uk neighbourhood files (one per neighbourhood, named by "
                                  "its id), give the folder that holds them"
                                : "");
    }

    if (options && options->name_field) {
        choice->name = field_index(definition, options->name_field);
        if (choice->name < 0)
            return hm_error(ld->ctx, HM_EFORMAT,
                            "%s: layer '%s' has no field '%s' (given with %s); its fields are: %s", ld->source,
                            layer_name, options->name_field, ld->name_option, fields);
    } else if (name_from_pair >= 0) {
        choice->name = name_from_pair;
    } else {
        char kind_name[64], kind_plain[64];
        snprintf(kind_name, sizeof kind_name, "%s_name", ld->kind);
        snprintf(kind_plain, sizeof kind_plain, "%sname", ld->kind);
        int beat = strcmp(ld->kind, "beat") == 0;
        const char *const names[] = {"name", kind_name, kind_plain, beat ? "neighbourhood_name" : NULL,
                                     beat ? "nhood_name" : NULL};
        choice->name = first_field(definition, names, sizeof names / sizeof names[0]);
        if (choice->name == choice->code) choice->name = -1;
    }
    return HM_OK;
}

/* ---- sources --------------------------------------------------------------------------------------------- */

static int is_polygonal_type(OGRwkbGeometryType type)
{
    type = wkbFlatten(type);
    return type == wkbPolygon || type == wkbMultiPolygon || type == wkbCurvePolygon || type == wkbMultiSurface;
}

static void list_layers(GDALDatasetH dataset, char *buffer, size_t size)
{
    size_t used = 0;
    int count = GDALDatasetGetLayerCount(dataset);
    snprintf(buffer, size, "none");
    for (int i = 0; i < count && used < size; i++) {
        OGRLayerH layer = GDALDatasetGetLayer(dataset, i);
        used += (size_t)snprintf(buffer + used, size - used, "%s%s (%s)", i ? ", " : "", OGR_L_GetName(layer),
                                 OGRGeometryTypeToName(OGR_L_GetGeomType(layer)));
    }
}

static int choose_layer(loader *ld, GDALDatasetH dataset, const hm_boundary_options *options, OGRLayerH *out)
{
    char layers[1024];
    list_layers(dataset, layers, sizeof layers);
    *out = NULL;
    if (options && options->layer_name) {
        *out = GDALDatasetGetLayerByName(dataset, options->layer_name);
        if (!*out)
            return hm_error(ld->ctx, HM_EFORMAT, "%s: no layer named '%s'; its layers are: %s", ld->source,
                            options->layer_name, layers);
        return HM_OK;
    }
    int count = GDALDatasetGetLayerCount(dataset);
    for (int i = 0; i < count && !*out; i++) {
        OGRLayerH layer = GDALDatasetGetLayer(dataset, i);
        if (is_polygonal_type(OGR_L_GetGeomType(layer))) *out = layer;
    }
    /* Formats without a declared layer geometry type (KML, mixed GeoJSON): the first layer with features. */
    for (int i = 0; i < count && !*out; i++) {
        OGRLayerH layer = GDALDatasetGetLayer(dataset, i);
        OGRwkbGeometryType type = wkbFlatten(OGR_L_GetGeomType(layer));
        if ((type == wkbUnknown || type == wkbGeometryCollection) && OGR_L_GetFeatureCount(layer, TRUE) > 0)
            *out = layer;
    }
    if (!*out)
        return hm_error(ld->ctx, HM_EFORMAT,
                        "%s: no layer of polygons (layers: %s); give a file with %s polygons", ld->source, layers,
                        ld->kind);
    return HM_OK;
}

static int load_layer(loader *ld, GDALDatasetH dataset, const hm_boundary_options *options)
{
    OGRLayerH layer = NULL;
    int status = choose_layer(ld, dataset, options, &layer);
    if (status != HM_OK) return status;
    status = prepare_transform(ld, layer, OGR_L_GetSpatialRef(layer), options);
    if (status != HM_OK) return status;
    field_choice fields;
    status = detect_fields(ld, layer, options, &fields);
    if (status != HM_OK) return status;
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    ld->set->code_field = duplicate(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, fields.code)));
    ld->set->name_field =
        duplicate(fields.name >= 0 ? OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(definition, fields.name)) : "");
    if (!ld->set->code_field || !ld->set->name_field)
        return hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory", ld->source);

    OGR_L_ResetReading(layer);
    OGRFeatureH feature;
    CPLErrorReset();
    while (status == HM_OK && (feature = OGR_L_GetNextFeature(layer)) != NULL) {
        char label[64];
        snprintf(label, sizeof label, "feature %lld", (long long)OGR_F_GetFID(feature));
        /* OGR_F_GetFieldAsString's text for a number lives until the next call on the feature: copy it. */
        char *code = duplicate(
            OGR_F_IsFieldSetAndNotNull(feature, fields.code) ? OGR_F_GetFieldAsString(feature, fields.code) : "");
        const char *name = fields.name >= 0 && OGR_F_IsFieldSetAndNotNull(feature, fields.name)
                               ? OGR_F_GetFieldAsString(feature, fields.name)
                               : "";
        status = code ? add_feature(ld, label, code, name, OGR_F_GetGeometryRef(feature))
                      : hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory", ld->source);
        free(code);
        OGR_F_Destroy(feature);
    }
    if (status == HM_OK && CPLGetLastErrorType() >= CE_Failure)
        return hm_error(ld->ctx, HM_EGDAL, "%s: layer '%s': reading stopped after %zu features: %s", ld->source,
                        OGR_L_GetName(layer), ld->set->count, gdal_message());
    if (status == HM_OK && ld->set->count == 0)
        return hm_error(ld->ctx, HM_EFORMAT, "%s: layer '%s' has no features; give a file with %s polygons",
                        ld->source, OGR_L_GetName(layer), ld->kind);
    return status;
}

/* The *.kml file names in folder, sorted; *count 0 when there are none. */
static int list_kml_files(loader *ld, const char *folder, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *directory = opendir(folder);
    if (!directory) return hm_error(ld->ctx, HM_EIO, "%s: cannot read the folder: %s", folder, strerror(errno));
    size_t capacity = 0;
    char **names = NULL;
    int status = HM_OK;
    struct dirent *entry;
    while (status == HM_OK && (entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.' || !has_kml_extension(entry->d_name)) continue;
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            char **bigger = realloc(names, capacity * sizeof *bigger);
            if (!bigger) {
                status = hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory listing the folder", folder);
                break;
            }
            names = bigger;
        }
        names[*count] = duplicate(entry->d_name);
        if (!names[*count]) status = hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory listing the folder", folder);
        else (*count)++;
    }
    closedir(directory);
    if (*count) qsort(names, *count, sizeof *names, compare_strings);
    *out = names;
    return status;
}

/* A folder of KML files as data.police.uk publishes neighbourhoods: one file per neighbourhood, the file name
 * (without .kml) is its code and the placemark name its name; all placemarks of a file make one polygon. */
static int load_kml_folder(loader *ld, char **files, size_t count)
{
    /* KML coordinates are WGS84 longitude/latitude by definition (OGC KML 2.2, section 6.2). */
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    int status = prepare_transform(ld, NULL, wgs84, NULL);
    OSRDestroySpatialReference(wgs84);
    if (status != HM_OK) return status;
    ld->set->code_field = duplicate("file name");
    ld->set->name_field = duplicate("Name");
    size_t folder_length = strlen(ld->source);
    for (size_t f = 0; status == HM_OK && f < count; f++) {
        size_t length = folder_length + 1 + strlen(files[f]) + 1;
        char *path = malloc(length);
        if (!path) return hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory", ld->source);
        snprintf(path, length, "%s/%s", ld->source, files[f]);
        CPLErrorReset();
        GDALDatasetH dataset =
            GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
        if (!dataset) {
            status = hm_error(ld->ctx, HM_EGDAL, "%s: GDAL cannot read this KML file: %s", path, gdal_message());
            free(path);
            break;
        }
        OGRGeometryH parts = OGR_G_CreateGeometry(wkbGeometryCollection);
        char *name = NULL;
        for (int l = 0; l < GDALDatasetGetLayerCount(dataset); l++) {
            OGRLayerH layer = GDALDatasetGetLayer(dataset, l);
            int name_field = field_index(OGR_L_GetLayerDefn(layer), "name");
            OGR_L_ResetReading(layer);
            OGRFeatureH feature;
            while ((feature = OGR_L_GetNextFeature(layer)) != NULL) {
                OGRGeometryH geometry = OGR_F_GetGeometryRef(feature);
                if (geometry) OGR_G_AddGeometry(parts, geometry);
                if (!name && name_field >= 0 && OGR_F_IsFieldSetAndNotNull(feature, name_field) &&
                    OGR_F_GetFieldAsString(feature, name_field)[0])
                    name = duplicate(OGR_F_GetFieldAsString(feature, name_field));
                OGR_F_Destroy(feature);
            }
        }
        char code[256];
        snprintf(code, sizeof code, "%.*s", (int)(strlen(files[f]) - 4), files[f]);
        status = add_feature(ld, files[f], code, name ? name : code, parts);
        free(name);
        OGR_G_DestroyGeometry(parts);
        GDALClose(dataset);
        free(path);
    }
    return status;
}

typedef struct code_entry {
    const char *code;
    size_t index;
} code_entry;

static int compare_code_entries(const void *a, const void *b)
{
    const code_entry *x = a, *y = b;
    int order = strcmp(x->code, y->code);
    if (order) return order;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int check_unique_codes(loader *ld)
{
    hm_boundary_set *set = ld->set;
    if (set->count < 2) return HM_OK;
    code_entry *entries = malloc(set->count * sizeof *entries);
    if (!entries) return hm_error(ld->ctx, HM_ENOMEM, "%s: out of memory", ld->source);
    for (size_t i = 0; i < set->count; i++) entries[i] = (code_entry){set->codes[i], i};
    qsort(entries, set->count, sizeof *entries, compare_code_entries);
    int status = HM_OK;
    for (size_t i = 1; i < set->count && status == HM_OK; i++) {
        if (strcmp(entries[i - 1].code, entries[i].code) != 0) continue;
        status = hm_error(ld->ctx, HM_EFORMAT,
                          "%s: %s and %s have the same %s code '%s' in field '%s'; each %s must be one feature "
                          "with its own code: merge the parts (QGIS: Dissolve by the code field) or choose "
                          "another field with %s",
                          ld->source, ld->labels[entries[i - 1].index], ld->labels[entries[i].index], ld->kind,
                          entries[i].code, hm_boundaries_code_field(set), ld->kind, ld->code_option);
    }
    free(entries);
    return status;
}

int hm_boundaries_load(hm_ctx *ctx, const char *source, const hm_boundary_options *options,
                       hm_boundary_set **out)
{
    *out = NULL;
    if (!source || !source[0])
        return hm_error(ctx, HM_EINVAL, "no boundary file given; name a GeoPackage, Shapefile, GeoJSON or KML "
                                        "file, or a folder of KML files");
    loader ld = {.ctx = ctx, .source = source};
    ld.kind = options && options->kind ? options->kind : "ward";
    snprintf(ld.code_option, sizeof ld.code_option, "--%s-code", ld.kind);
    snprintf(ld.name_option, sizeof ld.name_option, "--%s-name", ld.kind);
    if (GDALGetDriverCount() == 0) GDALAllRegister();
    /* GDAL would print its own errors to stderr; we report them once, with the file and what to do. */
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    GDALDatasetH dataset = NULL;
    char **kml_files = NULL;
    size_t kml_count = 0;
    int status = HM_OK;

    ld.set = set_create(source);
    if (!ld.set) {
        status = hm_error(ctx, HM_ENOMEM, "%s: out of memory", source);
        goto done;
    }
    const char *target_crs = options && options->target_crs ? options->target_crs : "EPSG:27700";
    ld.target = OSRNewSpatialReference(NULL);
    if (OSRSetFromUserInput(ld.target, target_crs) != OGRERR_NONE) {
        status = hm_error(ctx, HM_EINVAL, "target CRS '%s' is not understood: %s", target_crs, gdal_message());
        goto done;
    }
    OSRSetAxisMappingStrategy(ld.target, OAMS_TRADITIONAL_GIS_ORDER);

    struct stat info;
    if (stat(source, &info) != 0) {
        status = hm_error(ctx, HM_EIO, "%s: cannot open the %s boundaries: %s", source, ld.kind, strerror(errno));
        goto done;
    }
    if (S_ISDIR(info.st_mode)) {
        status = list_kml_files(&ld, source, &kml_files, &kml_count);
        if (status != HM_OK) goto done;
        if (kml_count > 0) {
            status = load_kml_folder(&ld, kml_files, kml_count);
            goto checked;
        }
    }
    /* A folder without KML files may still be a dataset GDAL knows (a folder of Shapefiles). */
    dataset = GDALOpenEx(source, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
    if (!dataset) {
        FILE *probe = S_ISDIR(info.st_mode) ? NULL : fopen(source, "rb");
        if (!S_ISDIR(info.st_mode) && !probe)
            status = hm_error(ctx, HM_EIO, "%s: cannot open the %s boundaries: %s", source, ld.kind,
                              strerror(errno));
        else
            status = hm_error(ctx, HM_EGDAL,
                              "%s: GDAL cannot read it as a vector file (%s); give %s boundaries as a GeoPackage, "
                              "Shapefile, GeoJSON or KML file (anything `ogrinfo` lists), or a folder of KML files",
                              source, gdal_message(), ld.kind);
        if (probe) fclose(probe);
        goto done;
    }
    status = load_layer(&ld, dataset, options);
checked:
    if (status == HM_OK) status = check_unique_codes(&ld);
done:
    for (size_t i = 0; i < kml_count; i++) free(kml_files[i]);
    free(kml_files);
    if (ld.set && ld.labels)
        for (size_t i = 0; i < ld.set->count; i++) free(ld.labels[i]);
    free(ld.labels);
    free(ld.wkb);
    if (ld.transform) OCTDestroyCoordinateTransformation(ld.transform);
    if (ld.target) OSRDestroySpatialReference(ld.target);
    if (dataset) GDALClose(dataset);
    CPLPopErrorHandler();
    if (status != HM_OK) {
        hm_boundaries_destroy(ld.set);
        return status;
    }
    *out = ld.set;
    return HM_OK;
}
