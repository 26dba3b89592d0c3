/*
 * pipeline.h - `harmmap run PROJECT.ini` and `harmmap update PROJECT.ini --add NEW.csv ...`: the analyst's
 * whole job from one project file (project.h), and the weekly update that adds new records to it.
 *
 * run: geocode -> aggregate -> density -> tiles -> qgis, every stage a library call made with the argv the project
 * maps to (so that `harmmap run` does what those commands typed by hand would do), into the output folder.
 * harmmap.gpkg is written once per run or update: geocode writes a working copy beside it, aggregate adds its layers
 * and the styles and metadata go into that copy, and it is renamed over harmmap.gpkg as a whole; then density and
 * tiles read it, with the public product beside them on a thread of its own (pipeline.c, "harmmap.gpkg: written
 * once per run or update"):
 *
 *   harmmap.gpkg                  records (incidents, intelligence), boundaries, rejects, runs, ward_harm, beat_harm
 *   ward_harm.csv, beat_harm.csv, report.html        tables and the report for planners
 *   public/                       the public product, with [aggregate] public = yes
 *   density.tif, density.qml      the harm density surface (Cloud Optimized GeoTIFF) and its QGIS style
 *   tiles/                        web map tiles, legend and an offline viewer (tiles/index.html)
 *   harmmap.qgs                   a QGIS project opening all of them, styled
 *   harm.mbtiles                  with [tiles] mbtiles = yes
 *   run.json                      the manifest: inputs and their SHA-256, parameters (each stage's argv),
 *                                 counts, timings per stage, versions of harmmap, GDAL, PROJ and GEOS
 *   .harmmap/                     what an update needs: state.txt (inputs, their sizes, times and hashes, the
 *                                 settings' hash) and keys/ (the record keys of every input)
 *
 * Records already loaded. Before geocode, every input is read once to give each record a key: its kind, its file's
 * header and every field (pipeline_internal.h). A record whose key was loaded from an earlier file is skipped
 * (the first n copies, where an earlier file had n: a file with a record twice where an earlier had it once adds
 * one). A file holding such records is given to geocode as a copy with those records blanked out (geocode skips
 * blank lines, so line numbers stay those of the original, whose path is put back in the GeoPackage). A run and
 * an update apply this rule identically, so re-adding last week's file, or an extract that overlaps it, adds
 * only what is new; a record whose id was loaded before but whose content differs is new, and geocode treats it
 * as it treats any repeated id (flagged repeated_id in data.police.uk files, rejected duplicate_id elsewhere).
 *
 * update: the project's inputs not yet loaded (lines added by hand at the end of [inputs], and the --add files,
 * which are appended to the project file so that a later run loads them in the same place) are loaded, and
 * everything that depends on them is made again, so that the outputs are those a full `harmmap run` of the
 * project would write:
 *
 *   inputs     the new files are scanned for their record keys; of the loaded records' keys (.harmmap/keys) only
 *              those a new record has are read, to skip what is loaded already.
 *   geocode    only the new files are read: geocode writes them to a scratch GeoPackage with the project's
 *              settings (without the overlap check its run made on the same boundary files), while the update's
 *              working copy of harmmap.gpkg is copied on another thread (the one copy of the file an update
 *              makes, which aggregate and the styles also write into before it replaces harmmap.gpkg, whole, at
 *              once); then pipeline_records.c merges the scratch GeoPackage into it in one SQLite transaction. What
 *              a full run would do differently is exactly what depends on records read earlier in the same run:
 *              the ids seen (a new record whose id is in the project is flagged repeated_id, or becomes a
 *              duplicate_id reject with the raw text and words geocode uses) and the order of rows (new records
 *              get the fids after their kind's last; rejects and runs rows of new incident files go before those
 *              of intelligence files, as geocode writes them). Extents, feature counts and sequences follow.
 *              Cost: the new records only (plus an index lookup per id).
 *   aggregate  continues the per-area sums kept in .harmmap/aggregate.state with the new incidents and all the
 *              intelligence (floating-point sums in record order: the same additions as a full pass), then
 *              computes every figure that depends on all areas again from the sums; neighbours, change tests and
 *              the report's outlines are kept too, under keys of what they are made from.
 *   density    continues the sums kept in .harmmap/density.sums (one surface per load batch, summed in order)
 *              with the new load batches only, then writes the whole GeoTIFF. Skipped when no record was added.
 *   tiles      `harmmap tiles --update`: a tile is drawn again only when the cells under it changed (the tiles
 *              manifest keeps a hash of each tile's source window); others are kept byte for byte. The colour
 *              range is the project's (or auto, then a new maximum redraws every tile, as a full run would).
 *   qgis       styles (class breaks) and metadata (row counts, inputs) describe the whole GeoPackage: written
 *              into the working copy as `harmmap qgis` would, before it replaces harmmap.gpkg, from the layer
 *              summaries kept in .harmmap/layer_summaries continued with the new rows; then `harmmap qgis` on the
 *              output folder for the rest (surface style, public/, the project).
 *
 * Aggregate, density and the layer summaries can each check their kept state against the records, which means
 * reading every record again. When harmmap.gpkg and the kept files are as the last run or update left them
 * (their identity recorded in .harmmap/state.txt: device, inode, size, mtime and SQLite's change counter), the
 * update tells them so (--kept-unchanged) and they read only the new records; otherwise they check.
 *
 * An update refuses, and says to run `harmmap run` instead, when a full run would not give the same result from
 * the same project: the settings or the harmmap/GDAL/PROJ/GEOS versions changed, a loaded input or another file
 * the outputs depend on changed (size and time first, then SHA-256), or the previous run or update did not finish.
 * tests/cli/update.sh checks that an update and a full run give the same GeoPackage contents (a stable dump), the
 * same GeoTIFF and the same tiles, byte for byte.
 */
#ifndef HM_PIPELINE_H
#define HM_PIPELINE_H

#include "context.h"

#include <gdal.h>

typedef struct hm_pipeline_options hm_pipeline_options;

/* `harmmap run PROJECT.ini [-o DIR] [-q|--verbose]` (argv[0] is the command name). "--help" prints the options
 * and the project file format and sets *out NULL. */
int hm_run_options_new(hm_ctx *ctx, int argc, char **argv, hm_pipeline_options **out);
/* `harmmap update PROJECT.ini [--add FILE.csv]... [--add-intel FILE.csv]... [-o DIR] [-q|--verbose]` */
int hm_update_options_new(hm_ctx *ctx, int argc, char **argv, hm_pipeline_options **out);
void hm_pipeline_options_free(hm_pipeline_options *options);

/* What a run or update did, for callers and tests. */
typedef struct hm_pipeline_summary {
    long long records_read;    /* data records in the inputs read by this run or update */
    long long records_skipped; /* already loaded */
    long long incidents_added, intelligence_added, rejects_added; /* rows written to the GeoPackage */
    int inputs_added;          /* update: files loaded */
    int density_computed, tiles_drawn_again; /* stages that ran */
    double seconds;
} hm_pipeline_summary;

/* progress may be NULL. summary may be NULL. */
int hm_run(hm_ctx *ctx, const hm_pipeline_options *options, GDALProgressFunc progress, hm_pipeline_summary *summary);
int hm_update(hm_ctx *ctx, const hm_pipeline_options *options, GDALProgressFunc progress,
              hm_pipeline_summary *summary);

#endif
