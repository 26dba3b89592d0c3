/*
 * aggregate.h - `harmmap aggregate`: harm per ward and per beat, compared for planners.
 *
 * Input: a GeoPackage written by `harmmap geocode` (layers wards, runs, and incidents and/or intelligence;
 * beats when present). Each placed record's harm is taken from its `harm` column when geocode wrote one, else
 * computed here with the harm model (harm.h), and the output metadata says which.
 *
 * Per area (ward, beat): record count (incidents, intelligence), harm sum, harm per 1,000 residents (with
 * --population), harm per km^2, ranks, share of the total, top categories by harm, and how much of the harm
 * its three largest records carry (`dominated` when they carry half or more: one homicide can make a ward).
 * With two or more --period options: count and harm in each period, and between the first and the last period
 * the change, its ratio and an exact conditional test of the change in counts (hotspots.h), with BH q-values.
 * Hot spots between areas: Getis-Ord Gi* and Local Moran's I over queen contiguity (hotspots.h) of harm per km^2
 * by default (--hotspot-variable), with two-sided p-values and Benjamini-Hochberg q-values.
 *
 * Output: layers ward_harm and beat_harm (polygons: the boundary plus the statistics) and the table
 * aggregate_runs (how the numbers were made) added to the input GeoPackage in place, atomically (a copy beside it
 * is written and renamed over it); ward_harm.csv, beat_harm.csv and report.html (self-contained: inline SVG maps
 * and charts) in the output folder (-o DIR, default the GeoPackage's folder).
 *
 * --public: leaves out intelligence whose handling code is not P (C: conditions travel with the record, so it is
 * never public), suppresses every figure of an area (and of an area's period) with fewer than --min-count records
 * (default 5), ranks and totals only what is published, and writes a new GeoPackage public.gpkg with the polygon
 * layers only (no point layer) to the output folder, default "<input without .gpkg>-public/"; the input is not
 * changed. The report says what was suppressed.
 */
#ifndef HM_AGGREGATE_H
#define HM_AGGREGATE_H

#include "context.h"

#include <gdal.h>

typedef struct hm_aggregate_options hm_aggregate_options;

/* Parses the aggregate arguments (argv[0] is the command name). "--help" prints the options and sets *out NULL. */
int hm_aggregate_options_new(hm_ctx *ctx, int argc, char **argv, hm_aggregate_options **out);
void hm_aggregate_options_free(hm_aggregate_options *options);

/* For a caller that owns the atomicity of the GeoPackage (harmmap run and update write harmmap.gpkg once, as a
 * working copy renamed over it at the end): records are read from `path`, and ward_harm, beat_harm,
 * aggregate_runs, styles and metadata are written into `path` in place, neither copied nor renamed; the outputs
 * still name input_path, which the caller replaces with `path`. The CSVs and the report are written atomically
 * as always. Ignored with --public. `path` is borrowed: it must outlive the options. */
void hm_aggregate_options_set_working_copy(hm_aggregate_options *options, const char *path);

/* Keeps the running sums of the records in `path` between runs (the pipeline's .harmmap/aggregate.state): a run
 * whose incidents begin with exactly those the file summarises reads only the ones after them and writes the
 * same bits as a full pass (aggregate.c, "kept sums"); anything else makes a full pass. Either way the file is
 * then rewritten. `note` (borrowed, may be NULL) receives which pass ran and why. Not used with --public or with
 * harm computed by aggregate. */
void hm_aggregate_options_set_state(hm_aggregate_options *options, const char *path, char *note, size_t note_size);

/* For the pipeline, which keeps the summaries of harmmap.gpkg's layers between runs (layer_summary.h): with
 * --kept-unchanged, the styles and metadata written into the working copy continue those in `path` (borrowed)
 * with the rows after them instead of reading every record. The file is not written here. */
void hm_aggregate_options_set_layer_summaries(hm_aggregate_options *options, const char *path);

/* Runs the aggregate job. progress may be NULL. */
int hm_aggregate(hm_ctx *ctx, const hm_aggregate_options *options, GDALProgressFunc progress);

#endif
