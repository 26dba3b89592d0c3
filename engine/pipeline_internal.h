/*
 * pipeline_internal.h - the parts of `harmmap run` and `harmmap update` that deal with records and files, private
 * to pipeline.c and pipeline_records.c (the public interface is pipeline.h):
 *
 *   - SHA-256 of input files (OpenSSL's EVP interface), for run.json and to notice inputs that changed;
 *   - record keys: which records of a file are already loaded from an earlier file (same kind, id and content),
 *     and filtered copies of files that hold some, so that geocode never sees them;
 *   - the project GeoPackage after geocode: paths of filtered copies put back, an index on record_id, and the
 *     update's merge of newly geocoded records into it (pipeline.h explains why the result equals a full run).
 */
#ifndef HM_PIPELINE_INTERNAL_H
#define HM_PIPELINE_INTERNAL_H

#include "context.h"

#include <stddef.h>
#include <stdint.h>

/* ---- file identity ---- */

typedef struct pl_file_id {
    char sha256[65];      /* hex */
    long long size_bytes; /* for a folder: the sum over its files */
    long long mtime_ns;   /* for a folder: the latest of its files */
} pl_file_id;

struct stat;
/* A file's modification time in nanoseconds, the form kept in the state. */
long long pl_mtime_ns(const struct stat *info);
/* Size and modification time only (cheap): used to decide whether the SHA-256 must be computed again. */
int pl_file_stat(hm_ctx *ctx, const char *path, pl_file_id *id);
/* Size, time and SHA-256 of a file, or of a folder's files (name and hash of each, in name order). */
int pl_file_identify(hm_ctx *ctx, const char *path, pl_file_id *id);

/* ---- record keys ---- */

/* A 128-bit key per record: XXH3-128 of the record's kind, its file's header and every field (length and bytes).
 * Two records have the same key when they are of the same kind and have the same id and content, column by
 * column under the same header. */
typedef struct pl_key {
    uint64_t low, high;
} pl_key;

/* A multiset of keys: how many records with each key are loaded. */
typedef struct pl_keyset pl_keyset;
pl_keyset *pl_keyset_create(void);
pl_keyset *pl_keyset_destroy(pl_keyset *set);
uint32_t pl_keyset_count(const pl_keyset *set, pl_key key);
/* count(key) = max(count(key), count); HM_ENOMEM on failure. */
int pl_keyset_raise(pl_keyset *set, pl_key key, uint32_t count);

/* What scanning one input found. */
typedef struct pl_scan {
    long long records; /* data records in the file (the header is not one) */
    long long skipped; /* records already loaded from an earlier file */
    /* Physical line ranges [first, last] of the skipped records (last = ULONG_MAX: to the end of the file). */
    unsigned long *skip_first, *skip_last;
    size_t skip_count, skip_capacity;
    /* Distinct keys of the file and how often each occurs: what this file adds to the loaded multiset. */
    pl_key *keys;
    uint32_t *key_counts;
    size_t key_count;
} pl_scan;

/* Reads `path` (kind 0 incidents, 1 intelligence) and decides, record by record, which are already loaded:
 * the first loaded(k) records with key k are skipped, the rest kept (so a file holding a record twice where an
 * earlier file held it once adds one copy). Records longer than max_record_bytes are never skipped. */
int pl_scan_input(hm_ctx *ctx, const char *path, int kind, size_t max_record_bytes, const pl_keyset *loaded,
                  pl_scan *scan);
void pl_scan_free(pl_scan *scan);
/* loaded(k) = max(loaded(k), count in this file) for every key of the scan. */
int pl_keyset_add_scan(hm_ctx *ctx, pl_keyset *loaded, const pl_scan *scan);

/* The scan's keys and counts as a file (sorted by key), and back into a multiset (raising counts): all of them, or
 * only those `wanted` holds (NULL: all) - the keys of the new files are all an update needs to know of. */
int pl_keys_write(hm_ctx *ctx, const char *path, const pl_scan *scan);
int pl_keys_read(hm_ctx *ctx, const char *path, pl_keyset *loaded, const pl_keyset *wanted);

/* Copies `path` to `copy` with the scan's skipped records replaced by empty lines: geocode skips empty lines,
 * so every kept record keeps its line number. */
int pl_write_filtered_copy(hm_ctx *ctx, const char *path, const pl_scan *scan, const char *copy);

/* ---- the project GeoPackage ---- */

/* After geocode read filtered copies: source_file (and runs.input) back to the original paths. */
int pl_gpkg_rename_sources(hm_ctx *ctx, const char *gpkg, const char *const *from, const char *const *to,
                           size_t count);
/* Indexes record_id in the point layers (used by updates to find repeated ids; useful in QGIS too). */
int pl_gpkg_index_record_ids(hm_ctx *ctx, const char *gpkg);

/* What the merge of an update did. */
typedef struct pl_merge_counts {
    long long incidents_added, intelligence_added, rejects_added;
    long long flagged_repeated;    /* data.police.uk rows whose Crime ID was loaded before: repeated_id = 1 */
    long long rejected_duplicates; /* generic or intelligence rows whose id was loaded before: duplicate_id */
} pl_merge_counts;

/* Merges `fresh` (written by geocode from the new files only, with the project's settings) into `work_gpkg`, a
 * working copy of the project's GeoPackage that the caller renames over it when the whole update is written, in
 * one SQLite transaction, so that the result holds what geocode would have written from all the files:
 * records appended after their kind's records, ids checked against every record loaded before, rejects and
 * runs rows in load order, extents, counts and sequences updated. It writes without a rollback journal and
 * without fsync (the copy is private until renamed): when it fails, `work_gpkg` is left undefined and the caller
 * must remove it, as the pipeline removes its working copy whenever an update stops. */
int pl_gpkg_merge(hm_ctx *ctx, const char *work_gpkg, const char *fresh, pl_merge_counts *counts);
/* The styles and metadata geocode writes describe the whole GeoPackage (class breaks, row counts, inputs, dates);
 * the merge leaves them, and the pipeline writes them again from the final contents into the working copy, as
 * `harmmap qgis` would (hm_qgis_prepare_output_gpkg), in a run and in an update alike. */

#endif
