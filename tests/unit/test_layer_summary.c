/* Unit tests for layer_summary.c: on a table with empty, NULL, tied and multi-byte values, each answer equals the
 * SQL it replaces (count(*), min(nullif(date, '')), max(date), GROUP BY counts ordered by count then value); a
 * table without the date column or the field; one read answers a later question without a field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "layer_summary.h"

static sqlite3 *open_fixture(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    const char *sql =
        "CREATE TABLE incidents (fid INTEGER PRIMARY KEY, date TEXT, category TEXT);"
        "INSERT INTO incidents (date, category) VALUES ('2026-03', 'burglary'), ('', 'burglary'), (NULL, 'drugs'),"
        " ('2026-01', 'drugs'), ('2026-02', ''), ('2026-12', NULL), ('2026-01-15', 'b\xc3\xa9ton'),"
        " ('2026-1', 'robbery'), ('2025-12-31', 'Robbery'), ('2026-01', 'burglary');"
        "CREATE TABLE plain (fid INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO plain (name) VALUES ('a'), ('b'), ('c');"
        "CREATE TABLE empty_dates (fid INTEGER PRIMARY KEY, date TEXT);"
        "INSERT INTO empty_dates (date) VALUES (''), (NULL), ('');";
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static char *query_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    const unsigned char *text = sqlite3_column_text(stmt, 0);
    char *copy = text ? strdup((const char *)text) : NULL;
    sqlite3_finalize(stmt);
    return copy;
}

static void test_answers_equal_the_sql(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    sqlite3 *db = open_fixture();
    hm_layer_summaries *summaries = hm_layer_summaries_create(db);
    assert_non_null(summaries);
    const hm_layer_summary *s = NULL;
    assert_int_equal(hm_layer_summaries_get(ctx, summaries, "incidents", "category", &s), HM_OK);
    assert_int_equal(s->rows, 10);
    char *min = query_text(db, "SELECT min(nullif(date, '')) FROM incidents");
    char *max = query_text(db, "SELECT max(date) FROM incidents");
    assert_string_equal(s->date_min, min);
    assert_string_equal(s->date_max, max);
    assert_string_equal(s->date_min, "2025-12-31");
    assert_string_equal(s->date_max, "2026-12");
    free(min);
    free(max);
    /* The counts, as GROUP BY with the same order. */
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT category, count(*) AS n FROM incidents WHERE category <> '' "
                                            "GROUP BY category ORDER BY n DESC, category", -1, &stmt, NULL),
                     SQLITE_OK);
    size_t i = 0;
    long long valued = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        assert_true(i < s->value_count);
        assert_string_equal(s->values[i].value, (const char *)sqlite3_column_text(stmt, 0));
        assert_int_equal(s->values[i].count, sqlite3_column_int64(stmt, 1));
        valued += s->values[i].count;
        i++;
    }
    sqlite3_finalize(stmt);
    assert_int_equal(i, s->value_count);
    assert_int_equal(s->value_count, 5);
    assert_int_equal(s->valued_rows, valued);
    assert_int_equal(s->valued_rows, 8);
    assert_string_equal(s->field, "category");

    /* A question without a field is answered from that read: the same summary. */
    const hm_layer_summary *again = NULL;
    assert_int_equal(hm_layer_summaries_get(ctx, summaries, "incidents", NULL, &again), HM_OK);
    assert_ptr_equal(again, s);
    /* Another field is read again and kept beside the first. */
    const hm_layer_summary *dates = NULL;
    assert_int_equal(hm_layer_summaries_get(ctx, summaries, "incidents", "date", &dates), HM_OK);
    assert_ptr_not_equal(dates, s);
    assert_int_equal(dates->value_count, 7);
    assert_string_equal(dates->values[0].value, "2026-01"); /* twice; the rest once, by value */
    assert_string_equal(s->values[0].value, "burglary");    /* the first answer is still valid */
    hm_layer_summaries_destroy(summaries);
    sqlite3_close(db);
    hm_ctx_destroy(ctx);
}

static void test_tables_without_the_columns(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    sqlite3 *db = open_fixture();
    hm_layer_summaries *summaries = hm_layer_summaries_create(db);
    const hm_layer_summary *s = NULL;
    assert_int_equal(hm_layer_summaries_get(ctx, summaries, "plain", "category", &s), HM_OK);
    assert_int_equal(s->rows, 3);
    assert_null(s->date_min);
    assert_null(s->date_max);
    assert_null(s->field);
    assert_int_equal(s->value_count, 0);
    /* Dates that are all empty or NULL: no range, as min(nullif(date, '')) is NULL. */
    assert_int_equal(hm_layer_summaries_get(ctx, summaries, "empty_dates", NULL, &s), HM_OK);
    assert_int_equal(s->rows, 3);
    assert_null(s->date_min);
    assert_null(s->date_max);
    /* A table that does not exist: an error that names it. */
    assert_int_not_equal(hm_layer_summaries_get(ctx, summaries, "missing", NULL, &s), HM_OK);
    assert_non_null(strstr(hm_error_message(ctx), "missing"));
    hm_layer_summaries_destroy(summaries);
    sqlite3_close(db);
    hm_ctx_destroy(ctx);
}

static void expect_same(const hm_layer_summary *a, const hm_layer_summary *b)
{
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->valued_rows, b->valued_rows);
    assert_string_equal(a->date_min ? a->date_min : "-", b->date_min ? b->date_min : "-");
    assert_string_equal(a->date_max ? a->date_max : "-", b->date_max ? b->date_max : "-");
    assert_int_equal(a->value_count, b->value_count);
    for (size_t i = 0; i < a->value_count; i++) {
        assert_string_equal(a->values[i].value, b->values[i].value);
        assert_int_equal(a->values[i].count, b->values[i].count);
    }
}

/* Kept summaries continued with the rows appended since answer as a full read does, whatever the values hold
 * (spaces, a tab, a newline, UTF-8); a damaged file is not taken. */
static void test_kept_summaries_continue(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    sqlite3 *db = open_fixture();
    assert_int_equal(sqlite3_exec(db, "INSERT INTO incidents (date, category) VALUES ('2026-02', 'a b\tc\nd')",
                                  NULL, NULL, NULL), SQLITE_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/layer_summaries", getenv("HM_TMP") ? getenv("HM_TMP") : "/tmp");
    hm_layer_summaries *first = hm_layer_summaries_create(db);
    const hm_layer_summary *s = NULL;
    assert_int_equal(hm_layer_summaries_get(ctx, first, "incidents", "category", &s), HM_OK);
    assert_int_equal(hm_layer_summaries_get(ctx, first, "plain", NULL, &s), HM_OK); /* not kept: nothing to read */
    const char *const append_only[] = {"incidents", "empty_dates", NULL};
    assert_int_equal(hm_layer_summaries_get(ctx, first, "empty_dates", NULL, &s), HM_OK);
    assert_int_equal(hm_layer_summaries_keep(ctx, first, path, append_only + 1), HM_OK); /* empty_dates only */
    hm_layer_summaries *probe = hm_layer_summaries_create(db);
    size_t taken = 0;
    assert_int_equal(hm_layer_summaries_continue(ctx, probe, path, &taken), HM_OK);
    assert_int_equal(taken, 1); /* a table not said to be append-only is not kept */
    hm_layer_summaries_destroy(probe);
    assert_int_equal(hm_layer_summaries_keep(ctx, first, path, append_only), HM_OK);
    hm_layer_summaries_destroy(first);
    /* Rows appended: a new earliest and latest date, a new value, more of an old one, empty values. */
    assert_int_equal(sqlite3_exec(db, "INSERT INTO incidents (date, category) VALUES ('2024-05', 'drugs'),"
                                      " ('2027-01', 'arson'), ('', ''), (NULL, 'a b\tc\nd'), ('2026-03', 'drugs');",
                                  NULL, NULL, NULL), SQLITE_OK);
    hm_layer_summaries *continued = hm_layer_summaries_create(db), *fresh = hm_layer_summaries_create(db);
    assert_int_equal(hm_layer_summaries_continue(ctx, continued, path, &taken), HM_OK);
    assert_int_equal(taken, 2);
    const hm_layer_summary *a = NULL, *b = NULL;
    assert_int_equal(hm_layer_summaries_get(ctx, continued, "incidents", "category", &a), HM_OK);
    assert_int_equal(hm_layer_summaries_get(ctx, fresh, "incidents", "category", &b), HM_OK);
    expect_same(a, b);
    assert_int_equal(a->rows, 16);
    assert_string_equal(a->date_min, "2024-05");
    assert_string_equal(a->date_max, "2027-01");
    hm_layer_summaries_destroy(continued);

    /* A damaged file (a value line cut short) is not taken; the answers are a full read's. */
    FILE *file = fopen(path, "r+");
    assert_non_null(file);
    fseek(file, -12, SEEK_END);
    fputs("zz\n", file);
    fclose(file);
    hm_layer_summaries *damaged = hm_layer_summaries_create(db);
    assert_int_equal(hm_layer_summaries_continue(ctx, damaged, path, &taken), HM_OK);
    assert_int_equal(taken, 0);
    assert_int_equal(hm_layer_summaries_get(ctx, damaged, "incidents", "category", &a), HM_OK);
    expect_same(a, b);
    hm_layer_summaries_destroy(damaged);
    hm_layer_summaries_destroy(fresh);
    unlink(path);
    sqlite3_close(db);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_equal_the_sql),
        cmocka_unit_test(test_tables_without_the_columns),
        cmocka_unit_test(test_kept_summaries_continue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
