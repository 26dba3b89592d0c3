/*
 * row_writer.h - writes GeoPackage rows on a background thread, in the order they were queued.
 *
 * Geocoding a million records spends about half its CPU time parsing, transforming and placing, and half in
 * SQLite inserting rows; both are sequential by nature but independent of each other. The row writer lets the
 * two halves run on two cores: the caller queues inserts (values are copied into a batch), a writer thread
 * performs them with hm_gpkg_insert_* in exactly the queued order, so the output is the same as writing inline.
 * Memory is bounded: at most two batches are in flight, and the caller waits when both are full.
 *
 * While the writer runs, the caller must not touch the hm_gpkg (every insert goes through the queue) and the
 * writer reports errors through the hm_ctx the GeoPackage was created with; the caller stops queueing at the
 * first writer error (every queue call then returns it) and calls hm_row_writer_finish before reporting.
 */
#ifndef HM_ROW_WRITER_H
#define HM_ROW_WRITER_H

#include "context.h"
#include "gpkg.h"

typedef struct hm_row_writer hm_row_writer;

/* batch_rows: rows per batch (0 means 4096). */
int hm_row_writer_start(hm_ctx *ctx, size_t batch_rows, hm_row_writer **out);

/* Queues an insert into `layer`, whose fields are `fields` (the types say which values are text to copy). A
 * point when has_point is nonzero, else an attribute row. Returns HM_OK, or the writer's error code. */
int hm_row_writer_queue(hm_row_writer *writer, hm_gpkg_layer *layer, const hm_gpkg_field *fields,
                        size_t field_count, int has_point, double x, double y, const hm_value *values);

/* Writes everything still queued, stops the thread and frees the writer. Returns the first error the writer
 * met (its message is in the hm_ctx), or HM_OK. */
int hm_row_writer_finish(hm_row_writer *writer);

#endif
