/*
 * tiles_command.h - `harmmap tiles`: a density surface to web map tiles (XYZ folder, MBTiles, legend,
 * viewer).
 *
 *   harmmap tiles IN.tif -o DIR [--zoom 8-15] [--ramp NAME|FILE] [--range auto|MIN,MAX] [--threshold V]
 *                 [--mbtiles FILE] [--tms] [--tile-size 256|512] [--threads N] [--update] [--force]
 *                 [--overlay WARDS.gpkg [--overlay-layer NAME]] [--title TEXT] [--attribution TEXT] [-q]
 *
 * The work is done by the harmmap_tiles library (tiles/tiles.h); this file only turns argv into its options,
 * as GDAL's utilities do (GDALTranslateOptionsNew), so that the command line and the library call cannot
 * drift.
 *
 * Layering note: harmmap_tiles uses engine/context.h for hm_ctx and errors and therefore links
 * harmmap_engine, while this file (in harmmap_engine) calls harmmap_tiles; the harmmap executable links both.
 * Moving context.c (and argv.c) into a harmmap_core library would remove the back-reference.
 */
#ifndef HM_TILES_COMMAND_H
#define HM_TILES_COMMAND_H

#include "context.h"

#include <gdal.h>

typedef struct hm_tiles_options hm_tiles_options;

/* Parses the tiles arguments (argv[0] is the command name). "--help" prints the options and sets *out NULL.
 * */
int hm_tiles_options_new(hm_ctx *ctx, int argc, char **argv, hm_tiles_options **out);
void hm_tiles_options_free(hm_tiles_options *options);

/* Runs the command. progress may be NULL: GDALTermProgress is used unless -q. Prints a one-line summary. */
int hm_tiles(hm_ctx *ctx, const hm_tiles_options *options, GDALProgressFunc progress);

/* Whether `harmmap tiles -o DIR` could replace DIR (an empty folder, a previous tile set, or nothing there). */
int hm_tiles_check_output(hm_ctx *ctx, const char *dir);

#endif
