/*
 * tempfiles.h - removing the temporary files that killed runs leave beside their outputs.
 *
 * Every harmmap output is written to a temporary file beside its target and renamed over it only when complete
 * (so a killed run leaves the previous output intact). The temporary's name holds the writer's process id:
 * "<name>.tmp-<pid><anything>" (out.tif.tmp-4242.tif, out.gpkg.tmp-4242-9f3a01c2, ward_harm.tmp-4242.csv). A
 * run that was killed cannot remove its own, so the next successful run of the same output does: after its
 * rename, it removes the files with the same "<name>.tmp-" prefix whose process no longer exists. Files of a
 * live process (another harmmap writing the same output right now) are left alone. PIDs are per host and PID
 * namespace: a folder shared between hosts or containers should not rely on this (a temporary there is at worst
 * left behind, never used as an output).
 */
#ifndef HM_TEMPFILES_H
#define HM_TEMPFILES_H

#include "context.h"

/* `own_temp_path` is the temporary this process used (already renamed away, or not): its file name must contain
 * ".tmp-<this process id>". Removes the files in the same folder whose name has the same prefix up to ".tmp-",
 * followed by the id of a process that no longer exists and then a non-digit or the end of the name. Logs each
 * removal with hm_info. Returns the number removed (failures to remove are not errors: the file stays). */
int hm_remove_stale_temporaries(hm_ctx *ctx, const char *own_temp_path);

/* Copies the file `from` to `to` (created or truncated, with from's permission bits minus the umask): the first
 * step of changing a file atomically (copy beside it, change the copy, rename it over). Not fsynced. */
int hm_copy_file(hm_ctx *ctx, const char *from, const char *to);

/* fsync of a file or a folder (after a rename, the folder's entry) by path: 0, or -1 with errno set. */
int hm_fsync_path(const char *path);

/* One piece of a file written by hm_write_parts_atomically. */
typedef struct hm_file_part {
    const void *data;
    size_t length;
} hm_file_part;

enum {
    HM_WRITE_OWNER_ONLY = 1, /* created 0600 (minus the umask) rather than 0666: derived from restricted records */
    HM_WRITE_NO_SYNC = 2     /* not fsynced: for caches whose readers detect a file cut short by a power cut */
};

/* Writes the parts, one after another, to `path` atomically: to "<path>.tmp-<pid>" beside it (0666 or, with
 * HM_WRITE_OWNER_ONLY, 0600, minus the umask), fsynced unless HM_WRITE_NO_SYNC, then renamed over `path`;
 * afterwards removes the temporaries of earlier writers of `path` that were killed (hm_remove_stale_temporaries).
 * On failure the temporary is removed, `path` is untouched and the error names the file and what to check. */
int hm_write_parts_atomically(hm_ctx *ctx, const char *path, const hm_file_part *parts, size_t count, int flags);

/* hm_write_parts_atomically of one part, fsynced, with the umask's permissions. */
int hm_write_file_atomically(hm_ctx *ctx, const char *path, const void *data, size_t length);

#endif
