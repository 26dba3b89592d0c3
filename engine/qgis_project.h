/*
 * qgis_project.h - harmmap's outputs, ready to open in QGIS: styles and metadata in every GeoPackage, a style
 * beside every surface, and a QGIS project (.qgs) that opens them all.
 *
 * The project is the XML QGIS 3.22 writes, reduced to what QGIS needs to read it back (checked by
 * tests/cli/qgis_check.py, which opens it in PyQGIS and renders it): British National Grid as project CRS, the
 * initial view on the outputs' extent, paths relative to the project's folder (so the folder can be moved or
 * shared whole), and each layer with its default style embedded - the layer_styles row of its GeoPackage or the
 * .qml beside its raster - so the project draws exactly what opening the layers alone would. Layers are listed top
 * first: intelligence, incidents, beats, wards, harm per beat, harm per ward, other layers, surfaces, tile sets,
 * then the attribute tables (rejects, runs). Shown at start: points, boundaries and harm per ward; harm per beat,
 * surfaces under a choropleth, and tile sets (they repeat the surface) are listed but unticked.
 *
 * Tile folders written by `harmmap tiles` are added as XYZ layers (QGIS's wms provider with type=xyz and a
 * file: URL, as QGIS itself saves them), with the zoom range from the folder's manifest.
 */
#ifndef HM_QGIS_PROJECT_H
#define HM_QGIS_PROJECT_H

#include "context.h"
#include "gpkg_metadata.h"
#include "styles.h"

#include <sqlite3.h>
#include <stddef.h>

/* ---- GeoPackages ---- */

/* Default styles (styles.h) and metadata (gpkg_metadata.h) for an open GeoPackage, inside the caller's
 * transaction: geocode calls it with hm_gpkg_database() before hm_gpkg_commit. styles may be NULL (defaults). */
int hm_qgis_prepare_database(hm_ctx *ctx, sqlite3 *db, const hm_run_description *run,
                             const hm_gpkg_style_options *styles);

/* The same on a GeoPackage file, in one SQLite transaction: all or nothing. For commands that write through GDAL
 * (aggregate writes a copy, then renames it: call this on the copy before the rename). */
int hm_qgis_prepare_gpkg(hm_ctx *ctx, const char *path, const hm_run_description *run,
                         const hm_gpkg_style_options *styles);

/* ---- projects ---- */

typedef enum hm_qgis_layer_kind {
    HM_QGIS_GPKG_LAYER, /* a layer (table) of a GeoPackage, vector or attributes */
    HM_QGIS_RASTER,     /* a GeoTIFF (or any GDAL raster); its .qml, when present, is embedded */
    HM_QGIS_XYZ_TILES,  /* a folder of {z}/{x}/{y}.png written by `harmmap tiles` */
    HM_QGIS_MBTILES     /* an MBTiles file, opened with GDAL */
} hm_qgis_layer_kind;

typedef struct hm_qgis_layer {
    hm_qgis_layer_kind kind;
    const char *path;  /* the file or folder */
    const char *table; /* HM_QGIS_GPKG_LAYER: the layer name */
    const char *title; /* the name in the layer panel; NULL: a title from the layer */
    int hidden;        /* listed but unticked */
} hm_qgis_layer;

typedef struct hm_qgis_project_options {
    const char *title; /* NULL: "harmmap" */
    int srs_epsg;      /* project CRS; 0: 27700 (British National Grid) */
} hm_qgis_project_options;

/* Writes the project (atomically: a temporary file renamed over project_path). layers are top first; options may
 * be NULL. */
int hm_qgis_project_write(hm_ctx *ctx, const char *project_path, const hm_qgis_layer *layers, size_t layer_count,
                          const hm_qgis_project_options *options);

/* ---- a folder of outputs ---- */

typedef struct hm_qgis_folder_options {
    const char *project_name;            /* NULL: "harmmap.qgs"; "" : write no project */
    const char *title;                   /* project title; NULL: the folder's name */
    const hm_run_description *run;       /* what to record in the GeoPackages' metadata; NULL: command "qgis" */
    const hm_gpkg_style_options *styles; /* may be NULL */
    const char *surface_ramp;            /* surfaces no tile set was made from: NULL = viridis (tiles' default) */
    const char *prepared_gpkg;           /* a GeoPackage of the folder whose styles and metadata the caller has
                                            already written (hm_qgis_prepare_output_gpkg): not written again, still
                                            in the project; NULL: none */
} hm_qgis_folder_options;

/* Makes every output in `dir` ready for QGIS: each *.gpkg styled and described, a .qml beside each *.tif (with the
 * ramp, range and threshold of the tile folder made from it, if any), and the project. A subfolder holding
 * GeoPackages or GeoTIFFs (the public product, public/) is made ready the same way, with a project of its own
 * that opens only what that folder holds, so it can be handed on as a whole. Every file is replaced atomically (a
 * GeoPackage through a copy beside it renamed over it), so a killed run leaves each as it was or as new.
 * project_path (may be NULL) receives the project's path. options may be NULL. */
int hm_qgis_prepare_folder(hm_ctx *ctx, const char *dir, const hm_qgis_folder_options *options, char *project_path,
                           size_t project_path_size);

/* ---- `harmmap qgis` ---- */

typedef struct hm_qgis_options hm_qgis_options;

/* Parses `harmmap qgis DIR [-o NAME.qgs] [--no-project] [--classes N] [--method jenks|quantile]
 * [--choropleth-ramp NAME] [--surface-ramp NAME] [-q]` (argv[0] is the command name). "--help" prints the options
 * and sets *out NULL. */
int hm_qgis_options_new(hm_ctx *ctx, int argc, char **argv, hm_qgis_options **out);
void hm_qgis_options_free(hm_qgis_options *options);
int hm_qgis(hm_ctx *ctx, const hm_qgis_options *options);

/* The pipeline writes harmmap.gpkg once per run or update, as a working copy renamed over it at the end, so the
 * styles and metadata `harmmap qgis` would write into it go into the working copy first:
 * hm_qgis_prepare_output_gpkg writes them into `path` exactly as hm_qgis(options) would into a GeoPackage of its
 * folder, and hm_qgis_options_set_prepared_gpkg makes hm_qgis leave that GeoPackage (once renamed into the folder)
 * as it is. `path` is borrowed. */
typedef struct hm_kept_summaries {
    const char *path;  /* the layer summaries kept between runs (layer_summary.h), written after the styles */
    int continue_kept; /* the caller vouches that the rows they summarise are unchanged: continue them */
    size_t *continued; /* may be NULL: receives how many summaries were continued */
    const char *const *append_only; /* NULL-terminated: the tables whose summaries are kept (rows only appended) */
} hm_kept_summaries;
/* kept (NULL: none): the pipeline's summaries kept between runs, so that an update reads only its new rows. */
int hm_qgis_prepare_output_gpkg(hm_ctx *ctx, const hm_qgis_options *options, const char *path,
                                const hm_kept_summaries *kept);
void hm_qgis_options_set_prepared_gpkg(hm_qgis_options *options, const char *path);

#endif
