/*
 * tile_store.h - the XYZ (or TMS) folder of tiles, replaced as a whole or not at all.
 *
 * A run never writes into the live folder. It builds the new tile set in a fresh sibling folder
 * (.NAME.tmp-<pid>-XXXXXX, same file system) and, only when everything (tiles, manifest, legend, viewer) is
 * written, swaps it in with renameat2(RENAME_EXCHANGE): readers see the old set or the new one, never a mix,
 * and a run that fails or is killed at any point leaves the previous set untouched (a killed run leaves its
 * .tmp folder behind; the next run removes those whose process is gone). On file systems without
 * RENAME_EXCHANGE the swap is two renames, with a moment where the folder is missing. An update does not copy
 * the unchanged tiles: it hard-links them from the live folder into the new one (copying only where links are
 * not allowed), so its cost follows the number of changed tiles.
 *
 * The swap is atomic against failures of the run, not against power loss: tiles are not fsync'ed (that would
 * cost more than rendering); after a crash of the machine, render again.
 *
 * An existing folder is only replaced when it holds a previous tile set (its manifest) or is empty, so a
 * wrong -o cannot swap away someone's documents. Two runs on one folder at once do not corrupt it (each swaps
 * in a complete set; the last to finish wins), but an --update racing another run may reuse tiles of a set
 * that is being replaced: run one at a time.
 */
#ifndef HM_TILE_STORE_H
#define HM_TILE_STORE_H

#include "context.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hm_tile_store hm_tile_store;

/* Whether `final_dir` may receive a tile set: it does not exist, or is an empty folder or a previous tile set.
 * Otherwise an error saying what to do. hm_tile_store_begin checks the same first. */
int hm_tile_store_check(hm_ctx *ctx, const char *final_dir);

/* Prepares a new tile set for `final_dir`. Fails (with what to do) when the parent is not writable or
 * final_dir exists and is not a tile set. */
int hm_tile_store_begin(hm_ctx *ctx, const char *final_dir, int tms, hm_tile_store **out);

const char *hm_tile_store_dir(const hm_tile_store *store);  /* the new folder, being written */
int hm_tile_store_has_previous(const hm_tile_store *store); /* final_dir holds a previous set */
const char *hm_tile_store_final_dir(const hm_tile_store *store);

/* Writes tile (zoom, x, y) (XYZ numbering; flipped on disk when tms) into the new set. */
int hm_tile_store_write(hm_ctx *ctx, hm_tile_store *store, int zoom, int x, int y, const void *data,
                        size_t size);
/* Links the previous set's tile into the new set. Returns HM_OK, or HM_EIO when the previous file is missing.
 * */
int hm_tile_store_keep(hm_ctx *ctx, hm_tile_store *store, int zoom, int x, int y);
/* Path of a tile in the previous (prev = 1) or new set. */
void hm_tile_store_path(const hm_tile_store *store, int previous, int zoom, int x, int y, char *path,
                        size_t size);

/* Swaps the new set in and removes the old one; or removes the new set (abort). Both free the store. */
int hm_tile_store_commit(hm_ctx *ctx, hm_tile_store *store);
void hm_tile_store_abort(hm_tile_store *store);

/* Removes a folder and everything under it (no symlink is followed). 0 or -1 with errno. */
int hm_remove_tree(const char *path);

/* snprintf for paths: returns 0, or -1 when the result did not fit (out is then truncated but terminated). */
int hm_path_format(char *out, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* Writes a whole file (used for the viewer's files too). */
int hm_write_file(hm_ctx *ctx, const char *path, const void *data, size_t size);

#endif
