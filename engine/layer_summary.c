/* layer_summary.c - see layer_summary.h. */
#include "layer_summary.h"

#include "tempfiles.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct entry {
    hm_layer_summary summary;
    char *table, *field, *date_min, *date_max;
    hm_value_count *values;
    long long last_rowid; /* the last row read (-1: none) */
    int has_date, has_field; /* which columns were read */
    int kept;                /* taken from a kept file: the next question continues it */
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

int hm_layer_has_column(sqlite3 *db, const char *table, const char *column)
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

static int counter_grow(counter *c)
{
    if (2 * (c->used + 1) <= c->capacity) return 0;
    size_t capacity = c->capacity ? 2 * c->capacity : 64;
    hm_value_count *bigger = calloc(capacity, sizeof *bigger);
    if (!bigger) return -1;
    for (size_t i = 0; i < c->capacity; i++)
        if (c->slots[i].value)
            bigger[slot_of(bigger, capacity, (const unsigned char *)c->slots[i].value, strlen(c->slots[i].value))] =
                c->slots[i];
    free(c->slots);
    c->slots = bigger;
    c->capacity = capacity;
    return 0;
}

static int counter_add(counter *c, const unsigned char *text, size_t length)
{
    if (counter_grow(c) != 0) return -1;
    size_t j = slot_of(c->slots, c->capacity, text, length);
    if (!c->slots[j].value) {
        if (!(c->slots[j].value = copy_text(text, length))) return -1;
        c->used++;
    }
    c->slots[j].count++;
    return 0;
}

/* A value counted before (a kept summary's), its string taken over. */
static int counter_take(counter *c, hm_value_count value)
{
    if (counter_grow(c) != 0) return -1;
    size_t j = slot_of(c->slots, c->capacity, (const unsigned char *)value.value, strlen(value.value));
    if (c->slots[j].value) return -1; /* twice in a kept file: not ours */
    c->slots[j] = value;
    c->used++;
    return 0;
}

static int compare_counts(const void *a, const void *b)
{
    const hm_value_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->value, y->value);
}

/* One read of the table into e; a kept summary (e->kept) is continued with the rows after its last one. */
static int read_table(hm_ctx *ctx, sqlite3 *db, entry *e)
{
    if (!e->kept) {
        e->has_date = hm_layer_has_column(db, e->table, "date");
        e->has_field = e->field && hm_layer_has_column(db, e->table, e->field);
        e->last_rowid = -1;
    }
    int has_date = e->has_date, has_field = e->has_field;
    /* The row count comes with the read; a table with neither column is counted the cheap way (count(*) walks the
     * smallest index). */
    char *sql = !has_date && !has_field
                    ? sqlite3_mprintf("SELECT count(*) FROM \"%w\"", e->table)
                    : sqlite3_mprintf("SELECT rowid, %s, %s%w%s FROM \"%w\" WHERE rowid > ?",
                                      has_date ? "\"date\"" : "NULL", has_field ? "\"" : "",
                                      has_field ? e->field : "NULL", has_field ? "\"" : "", e->table);
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
        sqlite3_bind_int64(stmt, 1, e->last_rowid);
        counter values = {0};
        for (size_t i = 0; i < e->summary.value_count && status == HM_OK; i++)
            if (counter_take(&values, e->values[i]) != 0) {
                free(e->values[i].value);
                status = hm_error(ctx, HM_ENOMEM, "out of memory reading layer %s", e->table);
            }
        free(e->values);
        e->values = NULL;
        e->summary.value_count = 0;
        while (status == HM_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            e->summary.rows++;
            long long rowid = sqlite3_column_int64(stmt, 0);
            if (rowid > e->last_rowid) e->last_rowid = rowid;
            if (has_date && sqlite3_column_type(stmt, 1) == SQLITE_TEXT) {
                const unsigned char *date = sqlite3_column_text(stmt, 1);
                size_t length = (size_t)sqlite3_column_bytes(stmt, 1);
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
                const unsigned char *text = sqlite3_column_text(stmt, 2);
                size_t length = (size_t)sqlite3_column_bytes(stmt, 2);
                if (!text || length == 0) continue;
                if (counter_add(&values, text, length) != 0) break;
                e->summary.valued_rows++;
            }
        }
        if (status == HM_OK && rc == SQLITE_ROW)
            status = hm_error(ctx, HM_ENOMEM, "out of memory reading layer %s", e->table);
        size_t n = 0; /* the used slots, packed and sorted: the order does not depend on the reading's */
        for (size_t i = 0; i < values.capacity; i++)
            if (values.slots[i].value) values.slots[n++] = values.slots[i];
        if (n) qsort(values.slots, n, sizeof *values.slots, compare_counts);
        e->values = values.slots;
        e->summary.value_count = n;
    }
    if (status == HM_OK && rc != SQLITE_DONE)
        status = hm_error(ctx, HM_ESQL, "reading layer %s: %s", e->table, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    e->kept = 0;
    /* the range of the non-empty dates, as min(nullif()) gives */
    e->summary.date_min = has_date && e->date_min && e->date_max ? e->date_min : NULL;
    e->summary.date_max = has_date && e->date_min && e->date_max ? e->date_max : NULL;
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
            int status = e->kept ? read_table(ctx, s->db, e) : HM_OK; /* the rows after the kept ones */
            if (status == HM_OK) *out = &e->summary;
            return status;
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

/* ---- summaries kept between runs ----
 * The file: a line "harmmap layer summaries 1", then per summary a line
 *     summary TABLE FIELD HAS_DATE HAS_FIELD ROWS LAST_ROWID VALUED_ROWS DATE_MIN DATE_MAX VALUES
 * followed by VALUES lines "value COUNT TEXT"; every text in hexadecimal ("-" for none), as values may hold
 * anything; then "end". */
#define KEPT_MAGIC "harmmap layer summaries 1\n"

static void put_hex(sqlite3_str *out, const char *text)
{
    if (!text) {
        sqlite3_str_appendall(out, " -");
        return;
    }
    sqlite3_str_appendall(out, " x");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) sqlite3_str_appendf(out, "%02x", *p);
}

/* "-" -> NULL (*out) and 1; "x..." -> the text and 1; else 0. */
static int get_hex(const char *word, char **out)
{
    *out = NULL;
    if (strcmp(word, "-") == 0) return 1;
    size_t length = strlen(word);
    if (word[0] != 'x' || length % 2 == 0) return 0;
    char *text = malloc(length / 2 + 1);
    if (!text) return 0;
    size_t n = 0;
    for (size_t i = 1; i + 1 < length; i += 2) {
        unsigned value;
        if (sscanf(word + i, "%2x", &value) != 1 || value == 0) {
            free(text);
            return 0;
        }
        text[n++] = (char)value;
    }
    text[n] = '\0';
    *out = text;
    return 1;
}

static int listed(const char *const *names, const char *name)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

int hm_layer_summaries_keep(hm_ctx *ctx, const hm_layer_summaries *s, const char *path,
                            const char *const *append_only)
{
    sqlite3_str *out = sqlite3_str_new(NULL);
    sqlite3_str_appendall(out, KEPT_MAGIC);
    for (size_t i = 0; i < s->count; i++) {
        const entry *e = s->entries[i];
        if (e->kept || (!e->has_date && !e->has_field)) continue; /* not read: nothing to continue */
        if (!listed(append_only, e->table)) continue;
        sqlite3_str_appendall(out, "summary");
        put_hex(out, e->table);
        put_hex(out, e->field);
        sqlite3_str_appendf(out, " %d %d %lld %lld %lld", e->has_date, e->has_field, e->summary.rows, e->last_rowid,
                            e->summary.valued_rows);
        put_hex(out, e->date_min);
        put_hex(out, e->date_max);
        sqlite3_str_appendf(out, " %llu\n", (unsigned long long)e->summary.value_count); /* sqlite: no %zu */
        for (size_t v = 0; v < e->summary.value_count; v++) {
            sqlite3_str_appendf(out, "value %lld", e->values[v].count);
            put_hex(out, e->values[v].value);
            sqlite3_str_appendall(out, "\n");
        }
    }
    sqlite3_str_appendall(out, "end\n");
    int length = sqlite3_str_length(out);
    char *text = sqlite3_str_finish(out);
    if (!text) return hm_error(ctx, HM_ENOMEM, "out of memory");
    hm_file_part part = {text, (size_t)length};
    /* Owner-only: it counts the intelligence records by grade. Not synced: the pipeline records its identity, and
     * a file lost to a power cut only makes the next update read every record. */
    int status = hm_write_parts_atomically(ctx, path, &part, 1, HM_WRITE_OWNER_ONLY | HM_WRITE_NO_SYNC);
    sqlite3_free(text);
    return status;
}

/* Reads one line of any length into *line (getline); 0 at the end. */
static int next_line(FILE *f, char **line, size_t *size)
{
    ssize_t got = getline(line, size, f);
    if (got <= 0) return 0;
    if ((*line)[got - 1] == '\n') (*line)[got - 1] = '\0';
    return 1;
}

int hm_layer_summaries_continue(hm_ctx *ctx, hm_layer_summaries *s, const char *path, size_t *taken)
{
    if (taken) *taken = 0;
    if (s->count) return hm_error(ctx, HM_EINVAL, "layer summaries: continue before any question");
    FILE *f = fopen(path, "r");
    if (!f) return HM_OK;
    char *line = NULL, *words[12];
    size_t size = 0;
    int ok = next_line(f, &line, &size) && strcmp(line, "harmmap layer summaries 1") == 0, ended = 0;
    while (ok && next_line(f, &line, &size)) {
        if (strcmp(line, "end") == 0) {
            ended = 1;
            break;
        }
        size_t n = 0;
        char *rest = NULL;
        for (char *word = strtok_r(line, " ", &rest); word && n < 12; word = strtok_r(NULL, " ", &rest))
            words[n++] = word;
        entry *e = calloc(1, sizeof *e);
        entry **grown = e ? realloc(s->entries, (s->count + 1) * sizeof *grown) : NULL;
        if (!grown) {
            free(e);
            ok = 0;
            break;
        }
        s->entries = grown;
        s->entries[s->count++] = e; /* freed with the cache, whatever follows */
        char *end = NULL;
        unsigned long long values = 0;
        ok = n == 11 && strcmp(words[0], "summary") == 0 && get_hex(words[1], &e->table) && e->table &&
             get_hex(words[2], &e->field) && get_hex(words[8], &e->date_min) && get_hex(words[9], &e->date_max) &&
             sscanf(words[3], "%d", &e->has_date) == 1 && sscanf(words[4], "%d", &e->has_field) == 1 &&
             sscanf(words[5], "%lld", &e->summary.rows) == 1 && sscanf(words[6], "%lld", &e->last_rowid) == 1 &&
             sscanf(words[7], "%lld", &e->summary.valued_rows) == 1 &&
             (values = strtoull(words[10], &end, 10), *end == '\0') && values < 10000000 &&
             (!e->has_field || e->field);
        if (ok) e->values = calloc(values + 1, sizeof *e->values);
        ok = ok && e->values;
        for (unsigned long long v = 0; ok && v < values; v++) {
            ok = next_line(f, &line, &size);
            n = 0;
            for (char *word = ok ? strtok_r(line, " ", &rest) : NULL; word && n < 3; word = strtok_r(NULL, " ", &rest))
                words[n++] = word;
            ok = ok && n == 3 && strcmp(words[0], "value") == 0 &&
                 sscanf(words[1], "%lld", &e->values[v].count) == 1 && get_hex(words[2], &e->values[v].value) &&
                 e->values[v].value;
            if (ok) e->summary.value_count = (size_t)v + 1;
        }
        e->kept = 1;
        e->summary.table = e->table;
    }
    free(line);
    fclose(f);
    if (!ok || !ended) { /* nothing from a damaged file */
        for (size_t i = 0; i < s->count; i++) {
            entry_free(s->entries[i]);
            free(s->entries[i]);
        }
        s->count = 0;
        return HM_OK;
    }
    if (taken) *taken = s->count;
    return HM_OK;
}
