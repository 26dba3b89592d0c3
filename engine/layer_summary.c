/* layer_summary.c - see layer_summary.h. */
#include "layer_summary.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct entry {
    hm_layer_summary summary;
    char *table, *field, *date_min, *date_max;
    hm_value_count *values;
} entry;

struct hm_layer_summaries {
    sqlite3 *db;
    entry **entries; /* each on its own: the summaries handed out stay where they are as more are added */
    size_t count;
};

hm_layer_summaries *hm_layer_summaries_create(sqlite3 *db)
{
    hm_layer_summaries *s = calloc(1, sizeof *s);
    if (s) s->db = db;
    return s;
}

static void entry_free(entry *e)
{
    for (size_t i = 0; i < e->summary.value_count; i++) free(e->values[i].value);
    free(e->values);
    free(e->table);
    free(e->field);
    free(e->date_min);
    free(e->date_max);
}

void hm_layer_summaries_destroy(hm_layer_summaries *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) {
        entry_free(s->entries[i]);
        free(s->entries[i]);
    }
    free(s->entries);
    free(s);
}

static int column_exists(sqlite3 *db, const char *table, const char *column)
{
    char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, column);
    sqlite3_stmt *stmt = NULL;
    int found = sql && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    return found;
}

/* SQLite's BINARY collation: memcmp over the shorter length, then the shorter first. */
static int compare_text(const unsigned char *a, size_t a_length, const char *b)
{
    size_t b_length = strlen(b);
    int c = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (c) return c;
    return a_length < b_length ? -1 : a_length > b_length;
}

static char *copy_text(const unsigned char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (copy) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

/* Counting distinct values in one pass with an open-addressing table kept at most half full: GROUP BY sorts every
 * row, five times slower on a million incidents. */
typedef struct counter {
    hm_value_count *slots;
    size_t capacity, used;
} counter;

static size_t slot_of(const hm_value_count *slots, size_t capacity, const unsigned char *text, size_t length)
{
    size_t j = (size_t)XXH3_64bits(text, length) & (capacity - 1);
    while (slots[j].value && !(strlen(slots[j].value) == length && memcmp(slots[j].value, text, length) == 0))
        j = (j + 1) & (capacity - 1);
    return j;
}

static int counter_add(counter *c, const unsigned char *text, size_t length)
{
    if (2 * (c->used + 1) > c->capacity) {
        size_t capacity = c->capacity ? 2 * c->capacity : 64;
        hm_value_count *bigger = calloc(capacity, sizeof *bigger);
        if (!bigger) return -1;
        for (size_t i = 0; i < c->capacity; i++)
            if (c->slots[i].value)
                bigger[slot_of(bigger, capacity, (const unsigned char *)c->slots[i].value,
                               strlen(c->slots[i].value))] = c->slots[i];
        free(c->slots);
        c->slots = bigger;
        c->capacity = capacity;
    }
    size_t j = slot_of(c->slots, c->capacity, text, length);
    if (!c->slots[j].value) {
        if (!(c->slots[j].value = copy_text(text, length))) return -1;
        c->used++;
    }
    c->slots[j].count++;
    return 0;
}

static int compare_counts(const void *a, const void *b)
{
    const hm_value_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->value, y->value);
}

/* One read of the table into e. */
static int read_table(hm_ctx *ctx, sqlite3 *db, entry *e)
{
    int has_date = column_exists(db, e->table, "date");
    int has_field = e->field && column_exists(db, e->table, e->field);
    /* The row count comes with the read; a table with neither column is counted the cheap way (count(*) walks the
     * smallest index). */
    char *sql = !has_date && !has_field ? sqlite3_mprintf("SELECT count(*) FROM \"%w\"", e->table)
                : has_field ? sqlite3_mprintf("SELECT %s, \"%w\" FROM \"%w\"", has_date ? "\"date\"" : "NULL",
                                              e->field, e->table)
                            : sqlite3_mprintf("SELECT \"date\", NULL FROM \"%w\"", e->table);
    sqlite3_stmt *stmt = NULL;
    if (!sql) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return hm_error(ctx, HM_ESQL, "reading layer %s: %s", e->table, sqlite3_errmsg(db));
    int status = HM_OK;
    if (!has_date && !has_field) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            e->summary.rows = sqlite3_column_int64(stmt, 0);
            rc = SQLITE_DONE;
        }
    } else {
        counter values = {0};
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            e->summary.rows++;
            if (has_date && sqlite3_column_type(stmt, 0) == SQLITE_TEXT) {
                const unsigned char *date = sqlite3_column_text(stmt, 0);
                size_t length = (size_t)sqlite3_column_bytes(stmt, 0);
                if (length > 0 && (!e->date_min || compare_text(date, length, e->date_min) < 0)) {
                    free(e->date_min);
                    if (!(e->date_min = copy_text(date, length))) break;
                }
                if (!e->date_max || compare_text(date, length, e->date_max) > 0) {
                    free(e->date_max);
                    if (!(e->date_max = copy_text(date, length))) break;
                }
            }
            if (has_field) {
                const unsigned char *text = sqlite3_column_text(stmt, 1);
                size_t length = (size_t)sqlite3_column_bytes(stmt, 1);
                if (!text || length == 0) continue;
                if (counter_add(&values, text, length) != 0) break;
                e->summary.valued_rows++;
            }
        }
        if (rc == SQLITE_ROW) status = hm_error(ctx, HM_ENOMEM, "out of memory reading layer %s", e->table);
        size_t n = 0; /* the used slots, packed and sorted */
        for (size_t i = 0; i < values.capacity; i++)
            if (values.slots[i].value) values.slots[n++] = values.slots[i];
        if (n) qsort(values.slots, n, sizeof *values.slots, compare_counts);
        e->values = values.slots;
        e->summary.value_count = n;
    }
    if (status == HM_OK && rc != SQLITE_DONE)
        status = hm_error(ctx, HM_ESQL, "reading layer %s: %s", e->table, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    if (has_date && e->date_min && e->date_max) { /* the range of the non-empty dates, as min(nullif()) gives */
        e->summary.date_min = e->date_min;
        e->summary.date_max = e->date_max;
    }
    e->summary.field = has_field ? e->field : NULL;
    e->summary.values = e->values;
    return status;
}

int hm_layer_summaries_get(hm_ctx *ctx, hm_layer_summaries *s, const char *table, const char *field,
                           const hm_layer_summary **out)
{
    *out = NULL;
    for (size_t i = 0; i < s->count; i++) {
        entry *e = s->entries[i];
        if (strcmp(e->table, table) == 0 && (!field || (e->field && strcmp(e->field, field) == 0))) {
            *out = &e->summary;
            return HM_OK;
        }
    }
    entry **grown = realloc(s->entries, (s->count + 1) * sizeof *grown);
    if (!grown) return hm_error(ctx, HM_ENOMEM, "out of memory");
    s->entries = grown;
    entry *e = calloc(1, sizeof *e);
    if (!e) return hm_error(ctx, HM_ENOMEM, "out of memory");
    e->table = strdup(table);
    e->field = field ? strdup(field) : NULL;
    int status = !e->table || (field && !e->field) ? hm_error(ctx, HM_ENOMEM, "out of memory")
                                                   : read_table(ctx, s->db, e);
    if (status != HM_OK) {
        entry_free(e);
        free(e);
        return status;
    }
    e->summary.table = e->table;
    s->entries[s->count++] = e;
    *out = &e->summary;
    return HM_OK;
}
