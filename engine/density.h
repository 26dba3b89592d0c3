/*
 * density.h - `harmmap density`: a harm density surface (kernel density of weighted points) as a Cloud Optimized
 * GeoTIFF, and the change between two such surfaces.
 *
 *   harmmap density IN -o OUT.tif [--layers incidents,intelligence] [--radius METRES|silverman|arcgis]
 *       [--radius-field FIELD] [--cell METRES] [--kernel quartic|triangular|uniform|triweight|epanechnikov]
 *       [--decay RATIO] [--weight harm|count|FIELD] [--output raw|scaled]
 *       [--extent wards|beats|xmin,ymin,xmax,ymax] [--boundaries FILE] [--like FILE.tif] [--compat qgis]
 *       [--from DATE] [--to DATE] [--date-field FIELD] [--threads N] [--max-memory SIZE]
 *       [-co NAME=VALUE]... [--oo NAME=VALUE]... [--accumulator FILE] [-q|--verbose]
 *   harmmap density --difference A.tif B.tif -o D.tif
 *
 * Pipeline: points are read with OGR from harmmap's GeoPackage (layers incidents and intelligence) or any OGR
 * point source, filtered by date, weighted and checked (every record is used, rejected with a count, or stops the
 * run with a message naming it); the grid is chosen (aligned to the cell size, or QGIS's own grid in
 * --compat qgis); the memory it needs is checked against --max-memory before anything large is allocated; the
 * surface is computed by kde.c on all cores; statistics and every parameter and formula go into the GeoTIFF's
 * metadata; the file is written with GDAL's COG driver (tiled, DEFLATE, overviews) to a temporary file beside the
 * target and renamed over it, so a failed run never leaves a half-written surface. With --accumulator (what
 * `harmmap run` and `update` pass) the surface is summed load batch by load batch and the sums are kept in FILE, so
 * that a run adding records computes only their kernels and still writes the bytes a run from nothing writes
 * (density.c, "sums kept between runs", argues why).
 *
 * The options are parsed from the same argv as the command line (GDAL's utility API style), so the library and
 * the CLI cannot drift apart.
 */
#ifndef HM_DENSITY_H
#define HM_DENSITY_H

#include "context.h"

#include <gdal.h>
#include <stddef.h>

typedef struct hm_density_options hm_density_options;

/* Parses the density arguments (argv[0] is the command name). "--help" prints the options and sets *out NULL. */
int hm_density_options_new(hm_ctx *ctx, int argc, char **argv, hm_density_options **out);
void hm_density_options_free(hm_density_options *options);

/* What a run did, for callers and tests (all zero for --difference except the grid and statistics). */
typedef struct hm_density_summary {
    size_t points;             /* points used */
    size_t rejected;           /* records skipped: no geometry, NULL weight or radius, date missing or outside */
    size_t dropped_by_qgis;    /* --compat qgis: points whose block QGIS cannot write (they add nothing there) */
    double total_weight;       /* sum of the weights of the points used */
    double radius_m;           /* the fixed radius, or the one a rule gave; 0 with --radius-field */
    long columns, rows;
    double cell_m;
    double minimum, maximum, mean; /* over cells that are not nodata */
    double surface_integral;       /* sum of the cells times the cell area */
    char batches_note[256];        /* --accumulator: how many load batches came from the kept sums, and why not */
} hm_density_summary;

/* Runs the command. progress may be NULL (GDALTermProgress is used on a terminal unless quiet); summary may be
 * NULL. */
int hm_density(hm_ctx *ctx, const hm_density_options *options, GDALProgressFunc progress,
               hm_density_summary *summary);

#endif
