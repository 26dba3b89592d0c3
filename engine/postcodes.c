/*
 * postcodes.c - see postcodes.h.
 *
 * The table. A normalised postcode is at most 8 bytes ("SW1A 1AA"), so it is stored as its bytes padded with
 * NULs in one uint64_t: comparing keys is one integer comparison and the table holds no strings. Coordinates
 * are kept as whole centimetres in int32_t (the grid is 0..1,300,000 m, so centimetres fit with room to spare
 * and the 1 m values of both sources round-trip exactly). An entry is 16 bytes; the full ONS directory
 * (about 2.7 million postcodes) needs a 4M-slot table, 64 MiB. Open addressing with linear probing, XXH3 of
 * the 8 key bytes, the table doubled when it is 70% full; key 0 marks an empty slot (no postcode normalises
 * to 8 NUL bytes).
 *
 * Layout detection looks at the first record only:
 *   - ONSPD: a header naming pcds, pcd or pcd2 and oseast1m and osnrth1m (any order, any case). ONSPD rows
 * with blank coordinates (terminated or unplaced postcodes, the Channel Islands and the Isle of Man) are
 * skipped, and so are BT postcodes, because ONSPD gives Northern Ireland's in the Irish Grid, not the British
 * one.
 *   - Code-Point Open: no header; the first field normalises as a postcode and there are at least 4 fields
 *     (Postcode, Positional_quality_indicator, Eastings, Northings, ...). Quality 90 rows have no
 * coordinates. A Code-Point Open file to which someone added a header row naming Postcode, Eastings and
 * Northings (as in Code-Point_Open_Column_Headers.csv) is read through that header. Rows that fail (a field
 * missing, a postcode or number that does not parse, coordinates off the grid, a postcode seen before) are
 * counted as skipped; the first occurrence of a postcode wins.
 */
#include "postcodes.h"

#include "csv.h"
#include "location.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

typedef struct postcode_entry {
    uint64_t key;
    int32_t easting_cm;
    int32_t northing_cm;
} postcode_entry;

struct hm_postcode_table {
    postcode_entry *entries;
    size_t capacity; /* a power of two */
    size_t count;
    size_t skipped;
};

static uint64_t postcode_key(const char *normalised)
{
    char bytes[8] = {0};
    size_t length = strnlen(normalised, 8);
    memcpy(bytes, normalised, length);
    uint64_t key;
    memcpy(&key, bytes, sizeof key);
    return key;
}

static size_t slot_of(uint64_t key, size_t capacity)
{
    return (size_t)XXH3_64bits(&key, sizeof key) & (capacity - 1);
}

static int table_grow(hm_postcode_table *table)
{
    size_t capacity = table->capacity ? table->capacity * 2 : 1 << 14;
    postcode_entry *entries = calloc(capacity, sizeof *entries);
    if (!entries) return -1;
    for (size_t i = 0; i < table->capacity; i++) {
        postcode_entry entry = table->entries[i];
        if (!entry.key) continue;
        size_t slot = slot_of(entry.key, capacity);
        while (entries[slot].key)
            slot = (slot + 1) & (capacity - 1);
        entries[slot] = entry;
    }
    free(table->entries);
    table->entries = entries;
    table->capacity = capacity;
    return 0;
}

/* Returns 1 when added, 0 when the postcode was already there, -1 when out of memory. */
static int table_add(hm_postcode_table *table, const char *normalised, double easting, double northing)
{
    if ((table->count + 1) * 10 > table->capacity * 7 && table_grow(table) != 0) return -1;
    uint64_t key = postcode_key(normalised);
    size_t slot = slot_of(key, table->capacity);
    while (table->entries[slot].key) {
        if (table->entries[slot].key == key) return 0;
        slot = (slot + 1) & (table->capacity - 1);
    }
    table->entries[slot].key = key;
    table->entries[slot].easting_cm = (int32_t)lround(easting * 100.0);
    table->entries[slot].northing_cm = (int32_t)lround(northing * 100.0);
    table->count++;
    return 1;
}

int hm_postcode_table_find(const hm_postcode_table *table, const char *normalised, double *easting,
                           double *northing)
{
    if (!table || !table->count || !normalised) return 0;
    if (strnlen(normalised, 9) > 8) return 0;
    uint64_t key = postcode_key(normalised);
    size_t slot = slot_of(key, table->capacity);
    while (table->entries[slot].key) {
        if (table->entries[slot].key == key) {
            *easting = table->entries[slot].easting_cm / 100.0;
            *northing = table->entries[slot].northing_cm / 100.0;
            return 1;
        }
        slot = (slot + 1) & (table->capacity - 1);
    }
    return 0;
}

size_t hm_postcode_table_count(const hm_postcode_table *table)
{
    return table ? table->count : 0;
}

size_t hm_postcode_table_skipped(const hm_postcode_table *table)
{
    return table ? table->skipped : 0;
}

hm_postcode_table *hm_postcode_table_destroy(hm_postcode_table *table)
{
    if (!table) return NULL;
    free(table->entries);
    free(table);
    return NULL;
}

/* Field text with surrounding blanks removed, copied into `out` (truncated to its size). */
static const char *field_text(const hm_csv_record *record, size_t index, char *out, size_t size)
{
    const char *text = record->fields[index];
    size_t length = record->field_lengths[index];
    while (length && (*text == ' ' || *text == '\t'))
        text++, length--;
    while (length && (text[length - 1] == ' ' || text[length - 1] == '\t'))
        length--;
    if (length >= size) length = size - 1;
    memcpy(out, text, length);
    out[length] = '\0';
    return out;
}

typedef struct layout {
    size_t postcode, easting, northing, quality; /* column indexes; quality is SIZE_MAX when absent */
    size_t needed_fields;
} layout;

static int find_column(const hm_csv_record *record, const char *name, size_t *index)
{
    char text[64];
    for (size_t i = 0; i < record->field_count; i++) {
        if (strcasecmp(field_text(record, i, text, sizeof text), name) == 0) {
            *index = i;
            return 1;
        }
    }
    return 0;
}

static size_t max3(size_t a, size_t b, size_t c)
{
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* Returns 1 for a header row (ONSPD, or Code-Point Open with a header), 2 for Code-Point Open without a
 * header (the first row is data), 0 for neither. */
static int detect_layout(const hm_csv_record *first, layout *out)
{
    if (first->too_long) return 0;
    size_t postcode;
    if ((find_column(first, "pcds", &postcode) || find_column(first, "pcd", &postcode) ||
         find_column(first, "pcd2", &postcode)) &&
        find_column(first, "oseast1m", &out->easting) && find_column(first, "osnrth1m", &out->northing)) {
        out->postcode = postcode;
        out->quality = SIZE_MAX;
        out->needed_fields = max3(out->postcode, out->easting, out->northing) + 1;
        return 1;
    }
    /* Code-Point Open with its column names added as a header row. */
    if (find_column(first, "Postcode", &out->postcode) && find_column(first, "Eastings", &out->easting) &&
        find_column(first, "Northings", &out->northing)) {
        if (!find_column(first, "Positional_quality_indicator", &out->quality)) out->quality = SIZE_MAX;
        out->needed_fields = max3(out->postcode, out->easting, out->northing) + 1;
        if (out->quality != SIZE_MAX && out->quality + 1 > out->needed_fields)
            out->needed_fields = out->quality + 1;
        return 1;
    }
    char text[32], normalised[9];
    if (first->field_count >= 4 &&
        hm_postcode_normalise(field_text(first, 0, text, sizeof text), normalised) == HM_REJECT_NONE) {
        out->postcode = 0;
        out->quality = 1;
        out->easting = 2;
        out->northing = 3;
        out->needed_fields = 4;
        return 2;
    }
    return 0;
}

/* Adds one data row, or counts it as skipped. Returns HM_OK or HM_ENOMEM. */
static int load_row(hm_postcode_table *table, const hm_csv_record *record, const layout *columns)
{
    char text[64], normalised[9];
    double easting, northing;
    if (record->too_long || record->field_count < columns->needed_fields ||
        hm_postcode_normalise(field_text(record, columns->postcode, text, sizeof text), normalised) !=
            HM_REJECT_NONE ||
        strncmp(normalised, "BT", 2) == 0 ||
        (columns->quality != SIZE_MAX &&
         strcmp(field_text(record, columns->quality, text, sizeof text), "90") == 0) ||
        hm_parse_number(field_text(record, columns->easting, text, sizeof text), &easting) !=
            HM_REJECT_NONE ||
        hm_parse_number(field_text(record, columns->northing, text, sizeof text), &northing) !=
            HM_REJECT_NONE ||
        hm_check_bng(easting, northing) != HM_REJECT_NONE) {
        table->skipped++;
        return HM_OK;
    }
    int added = table_add(table, normalised, easting, northing);
    if (added < 0) return HM_ENOMEM;
    if (added == 0) table->skipped++;
    return HM_OK;
}

int hm_postcode_table_load(hm_ctx *ctx, const char *path, hm_postcode_table **out)
{
    *out = NULL;
    hm_csv_reader *reader = NULL;
    int status = hm_csv_open(ctx, path, NULL, &reader);
    if (status != HM_OK) return status;
    hm_postcode_table *table = calloc(1, sizeof *table);
    if (!table || table_grow(table) != 0) {
        status = hm_error(ctx, HM_ENOMEM, "%s: out of memory creating the postcode table", path);
        goto done;
    }
    hm_csv_record record;
    status = hm_csv_next(reader, &record);
    if (status < 0) goto done;
    if (status == 0) {
        status = hm_error(
            ctx, HM_EFORMAT,
            "%s: the postcode file is empty; give an ONS Postcode Directory or Code-Point Open CSV", path);
        goto done;
    }
    layout columns;
    int kind = detect_layout(&record, &columns);
    if (kind == 0) {
        status =
            hm_error(ctx, HM_EFORMAT,
                     "%s:%lu: not a postcode file: expected an ONS Postcode Directory CSV (a header with a "
                     "pcds, pcd or pcd2 column and oseast1m and osnrth1m columns) or OS Code-Point Open (no "
                     "header; columns Postcode, Positional_quality_indicator, Eastings, Northings, ...); the "
                     "first line is \"%.80s\"",
                     path, record.line, record.raw);
        goto done;
    }
    if (kind == 2 && (status = load_row(table, &record, &columns)) != HM_OK) goto oom;
    while ((status = hm_csv_next(reader, &record)) == 1) {
        if ((status = load_row(table, &record, &columns)) != HM_OK) goto oom;
    }
    if (status < 0) goto done;
    status = HM_OK;
    *out = table;
    table = NULL;
    goto done;
oom:
    status = hm_error(ctx, HM_ENOMEM, "%s:%lu: out of memory growing the postcode table past %zu postcodes",
                      path, record.line, table->count);
done:
    hm_postcode_table_destroy(table);
    hm_csv_close(reader);
    return status;
}
