/*
 * fuzz_csv - libFuzzer target for the CSV record reader (engine/csv.c).
 *
 * The first input byte chooses the options (delimiter, a small or the default record size limit); the rest is
 * the file. Every record must keep the reader's promises: NUL-terminated fields and raw text, increasing line
 * numbers, no more raw bytes than the limit allows, fields no longer than the raw text. Built only with
 * -DHM_FUZZ=ON (see tests/CMakeLists.txt).
 */
#include "context.h"
#include "csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char file_path[4096];

static void remove_file(void)
{
    if (file_path[0]) unlink(file_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char delimiters[] = {',', '\t', ';', ' ', '|', 0};
    hm_csv_options options = {.delimiter = delimiters[data[0] % sizeof delimiters],
                              .max_record_bytes = (data[0] & 0x80) ? 1 + (data[0] & 0x3f) : 0};
    size_t limit = options.max_record_bytes ? options.max_record_bytes : (size_t)1 << 20;
    data++;
    size--;
    if (!file_path[0]) { /* one file per process, in $HM_TMP when ctest replays the corpus, removed at exit */
        const char *dir = getenv("HM_TMP");
        snprintf(file_path, sizeof file_path, "%s/fuzz_csv_%ld.csv", dir && *dir ? dir : "/tmp",
                 (long)getpid());
        atexit(remove_file);
    }
    FILE *file = fopen(file_path, "wb");
    if (!file) abort();
    if (size && fwrite(data, 1, size, file) != size) abort();
    fclose(file);

    static hm_ctx *ctx; /* one for the whole run: creating PROJ and GEOS contexts dominates otherwise */
    if (!ctx) ctx = hm_ctx_create();
    hm_csv_reader *reader = NULL;
    if (hm_csv_open(ctx, file_path, &options, &reader) != HM_OK) abort();
    hm_csv_record record;
    unsigned long last_line = 0;
    size_t records = 0;
    int status;
    while ((status = hm_csv_next(reader, &record)) == 1) {
        if (record.line <= last_line) abort();
        last_line = record.line;
        if (record.raw[record.raw_length] != '\0') abort();
        if (record.raw_length > limit) abort();
        if (record.too_long && record.field_count != 0) abort();
        size_t field_bytes = 0;
        for (size_t i = 0; i < record.field_count; i++) {
            if (record.fields[i][record.field_lengths[i]] != '\0') abort();
            field_bytes += record.field_lengths[i];
        }
        if (field_bytes > record.raw_length) abort();
        if (++records > size + 1) abort(); /* a record has at least one byte */
    }
    if (status != 0) abort();
    if (hm_csv_next(reader, &record) != 0) abort();
    hm_csv_close(reader);
    return 0;
}
