/*
 * gpkg_metadata.h - what a harmmap GeoPackage says about itself: how it was made, and what each layer and field is.
 *
 * A GeoPackage passed on to another analyst must carry its own explanation: which files went in, with which
 * options, which harm index weighted the records, when it ran and what each column means. This module writes that
 * into the places GDAL and QGIS read, beside what the writers (gpkg.c, aggregate.c) already put there:
 *
 *   gpkg_metadata (GeoPackage metadata extension) with gpkg_metadata_reference:
 *     - one dataset record at 'geopackage' scope in GDAL's form (md_standard_uri http://gdal.org, a
 *       <GDALMultiDomainMetadata> document): `ogrinfo` and `gdalinfo` list its HARMMAP_* items. Each command adds
 *       its own items (HARMMAP_<COMMAND>_RUN, HARMMAP_<COMMAND>_<PARAMETER>) and keeps the others', so a package
 *       made by geocode and then aggregate records both runs. Items derived from the package are refreshed:
 *       HARMMAP_INPUTS (from the runs table), HARMMAP_TRANSFORMATION, HARMMAP_CRS, HARMMAP_HARM_INDEX (from
 *       aggregate_runs), HARMMAP_LAYERS.
 *     - one record per layer at 'table' scope in QGIS's layer metadata form (md_standard_uri
 *       http://mrcc.com/qgis.dtd, as QGIS 3.22 writes it when you save a layer's metadata to a GeoPackage): the
 *       Metadata tab of the layer's properties in QGIS shows its title, abstract (what the layer holds and how it
 *       was made), keywords, access constraints (intelligence), history (the runs), CRS and extents. Its
 *       identifier is "harmmap:<table>"; such records are replaced on each run, and a record someone else wrote is
 *       left alone (harmmap's is then not written).
 *   gpkg_contents: identifier set to the layer's title ("Harm per ward"), description filled where empty.
 *   gpkg_data_columns: a row for every column of every layer, with the writer's description kept, a description
 *     from data/styles/fields.csv where the writer gave none, and the title (QGIS alias) from the same file. The
 *     `name` column is left NULL: GDAL 3.6 declares it UNIQUE across the whole file.
 *
 * Everything runs on an open SQLite connection and inside the caller's transaction when there is one, so geocode
 * calls it before hm_gpkg_commit and the file appears complete or not at all.
 */
#ifndef HM_GPKG_METADATA_H
#define HM_GPKG_METADATA_H

#include "context.h"
#include "layer_summary.h"

#include <sqlite3.h>
#include <stddef.h>

typedef struct hm_run_parameter {
    const char *name;  /* the option as a user gives it, without dashes: "snap", "wards", "population" */
    const char *value; /* as given; NULL: not given (not written) */
} hm_run_parameter;

typedef struct hm_run_description {
    const char *command; /* "geocode", "aggregate", "density", "run", "qgis" */
    const char *started; /* when the run started, UTC ISO 8601; NULL: now (OGR_CURRENT_DATE when set) */
    const hm_run_parameter *parameters; /* the options that shaped the outputs; may be NULL */
    size_t parameter_count;
    const char *styles_dir; /* NULL: harmmap's data/styles (for fields.csv) */
} hm_run_description;

/* Writes the dataset metadata, the layer metadata, gpkg_contents identifiers and gpkg_data_columns rows of the
 * open GeoPackage, as described above. Row counts and date ranges come from `summaries` (shared with the styles,
 * layer_summary.h); NULL: the call reads the layers itself. */
int hm_gpkg_metadata_write(hm_ctx *ctx, sqlite3 *db, const hm_run_description *run, hm_layer_summaries *summaries);

/* A QGIS <spatialrefsys> element for EPSG:epsg (WKT2 from PROJ, as QGIS writes it), appended to out with each
 * line indented by `indent` spaces. Used for the layer metadata and the project file. */
int hm_qgis_append_spatialrefsys(hm_ctx *ctx, sqlite3_str *out, int epsg, int indent);

#endif
