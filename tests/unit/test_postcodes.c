/* Unit tests for postcodes.c: ONSPD and Code-Point Open layouts, skipped rows, files of neither layout, and
 * the real Code-Point Open BS file when $HM_REAL_DATA is present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "postcodes.h"

static void temp_path(char *out, size_t size, const char *name)
{
    const char *dir = getenv("HM_TMP");
    snprintf(out, size, "%s/test_postcodes_%s", dir && *dir ? dir : "/tmp", name);
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(text, 1, strlen(text), file), strlen(text));
    assert_int_equal(fclose(file), 0);
}

static hm_postcode_table *load_text(hm_ctx *ctx, const char *name, const char *text, int expected_status)
{
    char path[4096];
    temp_path(path, sizeof path, name);
    write_text(path, text);
    hm_postcode_table *table = NULL;
    int status = hm_postcode_table_load(ctx, path, &table);
    if (status != expected_status) fail_msg("%s: status %d (%s)", name, status, hm_error_message(ctx));
    return table;
}

static void expect_found(const hm_postcode_table *table, const char *postcode, double easting,
                         double northing)
{
    double e = -1, n = -1;
    if (!hm_postcode_table_find(table, postcode, &e, &n)) fail_msg("%s not found", postcode);
    if (e != easting || n != northing)
        fail_msg("%s -> %.2f %.2f, expected %.2f %.2f", postcode, e, n, easting, northing);
}

static void test_onspd(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_postcode_table *table =
        load_text(ctx, "onspd.csv",
                  "\xEF\xBB\xBF\"pcd\",\"pcd2\",\"pcds\",\"dointr\",\"oseast1m\",\"osnrth1m\",\"ctry\"\r\n"
                  "\"BS1 4DJ\",\"BS1  4DJ\",\"BS1 4DJ\",\"198001\",\"358720\",\"173010\",\"E92000001\"\r\n"
                  "\"B1  1AA\",\"B1   1AA\",\"B1 1AA\",\"198001\",\"406500\",\"286800\",\"E92000001\"\r\n"
                  "\"SW1A1AA\",\"SW1A 1AA\",\"SW1A 1AA\",\"198001\",\"529090\",\"179645\",\"E92000001\"\r\n"
                  "\"GY1 1AA\",\"GY1  1AA\",\"GY1 1AA\",\"198001\",\"\",\"\",\"L93000001\"\r\n"
                  "\"BT1 1AA\",\"BT1  1AA\",\"BT1 1AA\",\"198001\",\"146000\",\"530000\",\"N92000002\"\r\n"
                  "\"ZZ1 1ZZ\",\"ZZ1  1ZZ\",\"ZZ1 1ZZ\",\"198001\",\"abc\",\"1\",\"E92000001\"\r\n"
                  "\"junk\",\"junk\",\"junk\",\"198001\",\"1\",\"1\",\"E92000001\"\r\n"
                  "\"BS1 4DJ\",\"BS1  4DJ\",\"BS1 4DJ\",\"198001\",\"1\",\"1\",\"E92000001\"\r\n"
                  "\"BS2 0AA\",\"BS2  0AA\"\r\n"
                  "\"BS3 1AA\",\"BS3  1AA\",\"BS3 1AA\",\"198001\",\"358000.5\",\"171000\",\"E92000001\"\r\n",
                  HM_OK);
    assert_non_null(table);
    assert_int_equal(hm_postcode_table_count(table), 4);
    /* Guernsey (no coordinates), Northern Ireland (Irish Grid), bad number, bad postcode, duplicate, short
     * row. */
    assert_int_equal(hm_postcode_table_skipped(table), 6);
    expect_found(table, "BS1 4DJ", 358720, 173010); /* the first row wins */
    expect_found(table, "B1 1AA", 406500, 286800);
    expect_found(table, "SW1A 1AA", 529090, 179645);
    expect_found(table, "BS3 1AA", 358000.5, 171000);
    double e, n;
    assert_int_equal(hm_postcode_table_find(table, "GY1 1AA", &e, &n), 0);
    assert_int_equal(hm_postcode_table_find(table, "BT1 1AA", &e, &n), 0);
    assert_int_equal(hm_postcode_table_find(table, "BS1 4DK", &e, &n), 0);
    assert_int_equal(hm_postcode_table_find(table, "bs1 4dj", &e, &n),
                     0); /* keys are normalised by the caller */
    assert_int_equal(hm_postcode_table_find(table, "BS1 4DJ TOO LONG", &e, &n), 0);
    assert_int_equal(hm_postcode_table_find(table, "", &e, &n), 0);
    table = hm_postcode_table_destroy(table);
    assert_null(table);

    /* Only pcd2 and the coordinate columns, in another order and case. */
    table = load_text(ctx, "onspd_pcd2.csv", "OSNRTH1M,PCD2,OSEAST1M\n173010,BS1  4DJ,358720\n", HM_OK);
    expect_found(table, "BS1 4DJ", 358720, 173010);
    hm_postcode_table_destroy(table);
    hm_ctx_destroy(ctx);
}

static void test_codepoint_open(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_postcode_table *table = load_text(
        ctx, "codepoint.csv",
        "\"BS1 "
        "1AD\",10,360204,173429,\"E92000001\",\"E19000002\",\"E18000010\",\"\",\"E06000023\",\"E05001995\"\n"
        "\"BS1 1AE\",90,0,0,\"E92000001\",\"E19000002\",\"E18000010\",\"\",\"E06000023\",\"E05001995\"\n"
        "\"BS1 1AF\",10,360100\n"
        "\"BS1 1AG\",10,-2.59,51.45,\"E92000001\"\n"
        "\"BS11AH\",10,360300,173500\n"
        "\n"
        "\"B1 1BB\",10,406000,286000\n",
        HM_OK);
    assert_non_null(table);
    assert_int_equal(hm_postcode_table_count(table), 3);
    assert_int_equal(hm_postcode_table_skipped(table), 3);
    expect_found(table, "BS1 1AD", 360204, 173429);
    expect_found(table, "BS1 1AH", 360300, 173500);
    expect_found(table, "B1 1BB", 406000, 286000);
    hm_postcode_table_destroy(table);

    /* The same layout with the column names from Code-Point_Open_Column_Headers.csv as a header row. */
    table = load_text(ctx, "codepoint_header.csv",
                      "Postcode,Positional_quality_indicator,Eastings,Northings,Country_code\n"
                      "\"BS1 1AD\",10,360204,173429,\"E92000001\"\n\"BS1 1AE\",90,0,0,\"E92000001\"\n",
                      HM_OK);
    assert_int_equal(hm_postcode_table_count(table), 1);
    assert_int_equal(hm_postcode_table_skipped(table), 1);
    expect_found(table, "BS1 1AD", 360204, 173429);
    hm_postcode_table_destroy(table);
    hm_ctx_destroy(ctx);
}

static void test_not_a_postcode_file(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_postcode_table *table = (hm_postcode_table *)1;
    table = load_text(ctx, "wrong.csv", "id,date,easting,northing\n1,2023-01-01,358720,173010\n", HM_EFORMAT);
    assert_null(table);
    const char *message = hm_error_message(ctx);
    assert_non_null(strstr(message, "test_postcodes_wrong.csv"));
    assert_non_null(strstr(message, "pcds"));
    assert_non_null(strstr(message, "oseast1m"));
    assert_non_null(strstr(message, "Code-Point Open"));
    hm_error_clear(ctx);

    /* A header with pcds but no coordinates is not ONSPD either. */
    load_text(ctx, "nocoords.csv", "pcds,lat,long\nBS1 4DJ,51.4,-2.5\n", HM_EFORMAT);
    hm_error_clear(ctx);
    /* A postcode first but fewer than 4 columns. */
    load_text(ctx, "short.csv", "BS1 4DJ,358720\n", HM_EFORMAT);
    hm_error_clear(ctx);
    load_text(ctx, "empty.csv", "", HM_EFORMAT);
    assert_non_null(strstr(hm_error_message(ctx), "empty"));
    hm_error_clear(ctx);
    load_text(ctx, "binary.csv", "\x01\x02\x03\0\xff\xfe,\"\n", HM_EFORMAT);
    hm_error_clear(ctx);

    hm_postcode_table *missing = NULL;
    assert_int_equal(hm_postcode_table_load(ctx, "/nonexistent/postcodes.csv", &missing), HM_EIO);
    assert_null(missing);
    assert_non_null(strstr(hm_error_message(ctx), "/nonexistent/postcodes.csv"));
    hm_ctx_destroy(ctx);

    double e, n;
    assert_int_equal(hm_postcode_table_find(NULL, "BS1 4DJ", &e, &n), 0);
    assert_int_equal(hm_postcode_table_count(NULL), 0);
    assert_null(hm_postcode_table_destroy(NULL));
}

static void test_many_postcodes(void **state)
{
    (void)state;
    /* Enough rows to grow the table several times; every one must be found again. */
    char path[4096];
    temp_path(path, sizeof path, "many.csv");
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    const char letters[] = "ABDEFGHJLNPQRSTUWXYZ";
    int rows = 0;
    for (int district = 1; district <= 99; district++)
        for (int sector = 0; sector <= 9; sector++)
            for (int unit = 0; unit < 100; unit++, rows++)
                fprintf(file, "\"ZZ%d %d%c%c\",10,%d,%d\n", district, sector, letters[unit / 20 % 20],
                        letters[unit % 20], 100000 + rows, 200000 + rows);
    fclose(file);
    hm_ctx *ctx = hm_ctx_create();
    hm_postcode_table *table = NULL;
    assert_int_equal(hm_postcode_table_load(ctx, path, &table), HM_OK);
    assert_int_equal(hm_postcode_table_count(table), (size_t)rows);
    assert_int_equal(hm_postcode_table_skipped(table), 0);
    rows = 0;
    for (int district = 1; district <= 99; district++)
        for (int sector = 0; sector <= 9; sector++)
            for (int unit = 0; unit < 100; unit++, rows++) {
                char postcode[16];
                snprintf(postcode, sizeof postcode, "ZZ%d %d%c%c", district, sector, letters[unit / 20 % 20],
                         letters[unit % 20]);
                double e, n;
                assert_int_equal(hm_postcode_table_find(table, postcode, &e, &n), 1);
                assert_true(e == 100000 + rows && n == 200000 + rows);
            }
    hm_postcode_table_destroy(table);
    hm_ctx_destroy(ctx);
}

static void test_real_codepoint_bs(void **state)
{
    (void)state;
    const char *real = getenv("HM_REAL_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/codepoint-open-2014-08/bs.csv", real ? real : "");
    FILE *probe = real && *real ? fopen(path, "rb") : NULL;
    if (!probe) {
        skip();
        return;
    }
    fclose(probe);
    hm_ctx *ctx = hm_ctx_create();
    hm_postcode_table *table = NULL;
    assert_int_equal(hm_postcode_table_load(ctx, path, &table), HM_OK);
    /* 26,424 rows (SOURCE.md); quality 90 rows have no coordinates. */
    assert_int_equal(hm_postcode_table_count(table) + hm_postcode_table_skipped(table), 26424);
    assert_true(hm_postcode_table_count(table) > 26000);
    expect_found(table, "BS1 1AD", 360204, 173429);
    expect_found(table, "BS1 1BU", 358827, 172905);
    hm_postcode_table_destroy(table);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onspd),
        cmocka_unit_test(test_codepoint_open),
        cmocka_unit_test(test_not_a_postcode_file),
        cmocka_unit_test(test_many_postcodes),
        cmocka_unit_test(test_real_codepoint_bs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
