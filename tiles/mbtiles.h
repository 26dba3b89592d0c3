/*
 * mbtiles.h - MBTiles 1.3 (SQLite) output: the same PNG tiles in one file, rows in TMS order as the spec
 * says.
 *
 * Written to NAME.tmp-XXXXXX beside the target with journalling off (a half-written file is thrown away,
 * never opened) and renamed over the target only when complete, so the previous file stays intact until then.
 * The unique index on (zoom_level, tile_column, tile_row) is built after the rows are in, which is faster
 * than keeping it up to date row by row. The file is rebuilt whole on every run, in the renderer's fixed tile
 * order, so an update gives the same rows as a full render.
 */
#ifndef HM_MBTILES_H
#define HM_MBTILES_H

#include "context.h"

#include <stddef.h>

typedef struct hm_mbtiles hm_mbtiles;

int hm_mbtiles_create(hm_ctx *ctx, const char *path, hm_mbtiles **out);
/* zoom/x/y in XYZ numbering; stored as TMS rows. */
int hm_mbtiles_put_tile(hm_ctx *ctx, hm_mbtiles *mbtiles, int zoom, int x, int y, const void *data,
                        size_t size);
int hm_mbtiles_put_metadata(hm_ctx *ctx, hm_mbtiles *mbtiles, const char *name, const char *value);
/* Commits, indexes and renames into place; frees the writer whatever happens. */
int hm_mbtiles_finish(hm_ctx *ctx, hm_mbtiles *mbtiles);
void hm_mbtiles_abort(hm_mbtiles *mbtiles);

#endif
