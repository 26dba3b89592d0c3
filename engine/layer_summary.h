/*
 * layer_summary.h - what one read of a layer says about it: its row count, its date range and how often each
 * value of one field occurs.
 *
 * The styles (categories with their counts) and the metadata (feature count, temporal extent) of a GeoPackage both
 * need these, and on a million incidents each full read of the table costs about a quarter of a second (the rows
 * are ~480 bytes: the read is the table's pages, whatever columns are asked). Styles and metadata used to read the
 * incidents three times between them (categories, count, dates); an hm_layer_summaries cache, made for one write of
 * one GeoPackage, reads each table once and answers both.
 *
 * The answers are those of the SQL they replace: rows = count(*); date_min = min(nullif(date, '')) and date_max =
 * max(date) over the text values of the `date` column (binary order, as SQLite's default collation); values = the
 * distinct non-empty text values of the field with their counts, most frequent first, ties by value (bytes).
 */
#ifndef HM_LAYER_SUMMARY_H
#define HM_LAYER_SUMMARY_H

#include "context.h"

#include <sqlite3.h>
#include <stddef.h>

typedef struct hm_value_count {
    char *value;
    long long count;
} hm_value_count;

typedef struct hm_layer_summary {
    const char *table;
    long long rows;
    /* The date range; NULL when the table has no `date` column or no non-empty date (then the range is unknown). */
    const char *date_min, *date_max;
    /* The counted field (NULL: none was asked), its distinct non-empty values and the rows that have one. */
    const char *field;
    const hm_value_count *values;
    size_t value_count;
    long long valued_rows;
} hm_layer_summary;

typedef struct hm_layer_summaries hm_layer_summaries;

/* Whether `table` of the open connection has a column named `column` (exactly). */
int hm_layer_has_column(sqlite3 *db, const char *table, const char *column);

/* A cache over the open connection db; the tables must not change while it is used (it answers from its first
 * read). NULL when out of memory. */
hm_layer_summaries *hm_layer_summaries_create(sqlite3 *db);
void hm_layer_summaries_destroy(hm_layer_summaries *summaries);

/* The summary of `table`, counting the values of `field` (NULL: no field). The first question about a table reads
 * it; later ones are answered from that read, unless they ask for a field it did not count (then the table is read
 * again, for that field). *out stays valid until the cache is destroyed. */
int hm_layer_summaries_get(hm_ctx *ctx, hm_layer_summaries *summaries, const char *table, const char *field,
                           const hm_layer_summary **out);

/* ---- summaries kept between runs ----
 * An update adds a week to a million records, and the styles and metadata then need the summaries of all of
 * them. The pipeline keeps the summaries in a file (.harmmap/layer_summaries) and, when it vouches that the records
 * summarised are unchanged (nothing has written harmmap.gpkg since it kept them: pipeline.c, "the outputs an update
 * continues from"), an update continues each summary with the rows after the last one it read (rowid order:
 * records are only ever appended). Counts, date range and value counts do not depend on the order the rows are
 * read in, so a continued summary is the one a full read gives. */

/* Takes the summaries kept in `path` as the first reads of their tables: a later question about one of them reads
 * only the rows after those it summarises. A missing, damaged or foreign file is not an error: nothing is taken
 * (*taken, may be NULL, says how many summaries were). Call before any question. */
int hm_layer_summaries_continue(hm_ctx *ctx, hm_layer_summaries *summaries, const char *path, size_t *taken);

/* Writes the summaries of the tables read (those with a date column or a counted field) to `path`, atomically;
 * only those of `append_only` (NULL-terminated): a table rewritten between runs (ward_harm, say) cannot be
 * continued from its last rowid. */
int hm_layer_summaries_keep(hm_ctx *ctx, const hm_layer_summaries *summaries, const char *path,
                            const char *const *append_only);

#endif
