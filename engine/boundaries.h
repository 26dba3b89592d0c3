/*
 * boundaries.h - ward and beat polygons, loaded from any OGR vector source into the working CRS.
 *
 * A source is a file GDAL opens (GeoPackage, Shapefile, GeoJSON, KML, ...) or a folder of KML files, one per
 * neighbourhood as data.police.uk publishes them (the file name without .kml is the neighbourhood id, the
 * placemark name its name). Code and name fields are found from the options, else detected: ONS style
 * `WDyyCD`/`WDyyNM` (and other `..yyCD`/`..yyNM` pairs such as cmwd11cd), then `code`/`name`, `id`, police
 * neighbourhood ids. Geometries are reprojected with PROJ (through OGR's coordinate transformation) to the
 * working CRS, and invalid polygons are repaired with GEOS MakeValid and reported; empty or non-polygon
 * features are errors that name the feature.
 */
#ifndef HM_BOUNDARIES_H
#define HM_BOUNDARIES_H

#include "context.h"

#include <geos_c.h>
#include <stddef.h>

typedef struct hm_boundary_set hm_boundary_set;

typedef struct hm_boundary_options {
    const char *kind;       /* "ward" or "beat": used in messages and field detection */
    const char *layer_name; /* NULL: the first layer with polygons */
    const char *code_field; /* NULL: detect */
    const char *name_field; /* NULL: detect; a missing name field is allowed (names left empty) */
    const char *target_crs; /* "EPSG:27700" when NULL */
    const char *assume_crs; /* CRS of a source that declares none (e.g. a Shapefile without .prj); NULL: error */
} hm_boundary_options;

int hm_boundaries_load(hm_ctx *ctx, const char *source, const hm_boundary_options *options,
                       hm_boundary_set **out);
hm_boundary_set *hm_boundaries_destroy(hm_boundary_set *set);

size_t hm_boundaries_count(const hm_boundary_set *set);
const char *hm_boundaries_code(const hm_boundary_set *set, size_t index);
const char *hm_boundaries_name(const hm_boundary_set *set, size_t index);
/* Valid Polygon or MultiPolygon in the working CRS, owned by the set (created with the set's GEOS context). */
const GEOSGeometry *hm_boundaries_geometry(const hm_boundary_set *set, size_t index);
/* How the polygons were read, for reports and metadata. */
const char *hm_boundaries_source(const hm_boundary_set *set);
const char *hm_boundaries_code_field(const hm_boundary_set *set);
const char *hm_boundaries_name_field(const hm_boundary_set *set); /* "" when the source has no names */
const char *hm_boundaries_source_crs(const hm_boundary_set *set); /* e.g. "EPSG:4326" or a WKT name */
size_t hm_boundaries_repaired_count(const hm_boundary_set *set);
/* Envelope of all polygons. */
void hm_boundaries_extent(const hm_boundary_set *set, double *xmin, double *ymin, double *xmax, double *ymax);

#endif
