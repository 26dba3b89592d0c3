/*
 * csv.h - streaming CSV record reader that keeps each record's raw text and first line number.
 *
 * Field splitting (RFC 4180 quoting, quoted commas and newlines, CRLF) is done by libcsv (Debian libcsv-dev).
 * We feed libcsv one physical line at a time, so that when it reports the end of a record we know the record's
 * first physical line number and hold its raw bytes: both go into reject rows so an analyst can find and fix the
 * line. A UTF-8 byte order mark at the start of the file is skipped. Memory is bounded by the longest record:
 * a record longer than max_record_bytes is returned with `too_long` set (its fields empty) and reading goes on.
 *
 * What a caller sees, from libcsv's rules: spaces and tabs around unquoted fields (and after a closing quote) are
 * trimmed; lines that are empty or all blanks are not records (line numbers still count them); a CR that is not
 * part of a line ending is data. A record ends at the first line ending outside a quoted field in the RFC 4180
 * sense, so text after a closing quote ("ab"x,...) cannot swallow the following lines: that record keeps to its
 * line (with whatever fields libcsv made of it, usually too few). An unterminated quote runs to the end of the
 * file or to max_record_bytes, as in any CSV reader.
 */
#ifndef HM_CSV_H
#define HM_CSV_H

#include "context.h"

#include <stddef.h>

typedef struct hm_csv_reader hm_csv_reader;

typedef struct hm_csv_options {
    char delimiter;          /* ',' by default (0 means ',') */
    size_t max_record_bytes; /* 0 means 1 MiB */
} hm_csv_options;

/* One record, valid until the next call to hm_csv_next. */
typedef struct hm_csv_record {
    size_t field_count;
    const char *const *fields;   /* NUL-terminated field values, after unquoting */
    const size_t *field_lengths; /* lengths (fields may contain NUL bytes from binary garbage) */
    unsigned long line;          /* 1-based physical line where the record starts */
    const char *raw;             /* the record's raw bytes without its final line ending, NUL-terminated */
    size_t raw_length;
    int too_long;                /* the record exceeded max_record_bytes: fields are empty, raw is truncated */
} hm_csv_record;

/* Opens `path` ("-" is standard input). */
int hm_csv_open(hm_ctx *ctx, const char *path, const hm_csv_options *options, hm_csv_reader **out);
/* Returns 1 and fills *record, 0 at end of file, or a negative hm_status on a read error. */
int hm_csv_next(hm_csv_reader *reader, hm_csv_record *record);
hm_csv_reader *hm_csv_close(hm_csv_reader *reader);

#endif
