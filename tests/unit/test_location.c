/* Unit tests for location.c: numbers, lon/lat and BNG checks, OS grid references, postcodes and dates. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "location.h"

static void test_reason_codes(void **state)
{
    (void)state;
    assert_string_equal(hm_reject_reason_code(HM_REJECT_NO_LOCATION), "no_location");
    assert_string_equal(hm_reject_reason_code(HM_REJECT_SWAPPED_LON_LAT), "swapped_lon_lat");
    assert_string_equal(hm_reject_reason_code(HM_REJECT_WRONG_CRS), "wrong_crs");
    assert_string_equal(hm_reject_reason_code(HM_REJECT_TRANSFORM_FAILED), "transform_failed");
    assert_string_equal(hm_reject_reason_code(HM_REJECT_REASON_COUNT), "unknown");
    for (int r = 1; r < HM_REJECT_REASON_COUNT; r++) {
        const char *code = hm_reject_reason_code((hm_reject_reason)r);
        assert_non_null(code);
        for (const char *c = code; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
    }
}

static void expect_number(const char *text, double expected)
{
    double value = -12345;
    if (hm_parse_number(text, &value) != HM_REJECT_NONE) fail_msg("'%s' did not parse", text);
    if (value != expected) fail_msg("'%s' parsed as %.17g, expected %.17g", text, value, expected);
}

static void expect_bad_number(const char *text)
{
    double value = 0;
    if (hm_parse_number(text, &value) != HM_REJECT_BAD_NUMBER)
        fail_msg("'%s' should not parse", text ? text : "(null)");
}

static void test_numbers(void **state)
{
    (void)state;
    expect_number("0", 0);
    expect_number("358720", 358720);
    expect_number("  -2.591 ", -2.591);
    expect_number("51.4545", 51.4545);
    expect_number("+1.5", 1.5);
    expect_number(".5", 0.5);
    expect_number("5.", 5);
    expect_number("1e3", 1000);
    expect_number("2.5E-2", 0.025);
    expect_number("0.000001", 1e-6);
    expect_number("00012.50", 12.5);
    expect_number("-0", 0);
    /* Exactness: the same double as strtod, also beyond the fast path. */
    const char *exact[] = {"0.1",
                           "0.3",
                           "123456.789",
                           "-179.99999999",
                           "3.141592653589793238462643383",
                           "12345678901234567890",
                           "1e-30",
                           "4.9e-300",
                           "1.7976931348623157e308",
                           "0.000000000000000000000000000123"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        expect_number(exact[i], strtod(exact[i], NULL));
    expect_bad_number(NULL);
    expect_bad_number("");
    expect_bad_number("   ");
    expect_bad_number("abc");
    expect_bad_number("nan");
    expect_bad_number("NaN");
    expect_bad_number("inf");
    expect_bad_number("-Infinity");
    expect_bad_number("0x10");
    expect_bad_number("1,5");
    expect_bad_number("12m");
    expect_bad_number("1 2");
    expect_bad_number("+");
    expect_bad_number("-");
    expect_bad_number(".");
    expect_bad_number("e5");
    expect_bad_number("1e");
    expect_bad_number("1e+");
    expect_bad_number("--1");
    expect_bad_number("1e999");
    expect_bad_number("-1e400");
}

static void test_lonlat_checks(void **state)
{
    (void)state;
    assert_int_equal(hm_check_lonlat(-2.59, 51.45), HM_REJECT_NONE);
    assert_int_equal(hm_check_lonlat(-1.89, 52.48), HM_REJECT_NONE);
    assert_int_equal(hm_check_lonlat(-8.9, 60.9), HM_REJECT_NONE);
    assert_int_equal(hm_check_lonlat(51.45, -2.59), HM_REJECT_SWAPPED_LON_LAT);
    assert_int_equal(hm_check_lonlat(358720, 173010), HM_REJECT_WRONG_CRS);
    assert_int_equal(hm_check_lonlat(173010, 358720), HM_REJECT_WRONG_CRS);
    assert_int_equal(hm_check_lonlat(0, 0), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_lonlat(2.35, 48.85), HM_REJECT_BAD_COORDINATE); /* Paris */
    assert_int_equal(hm_check_lonlat(-200, 51), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_lonlat(5000000, 51), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_lonlat(NAN, 51), HM_REJECT_BAD_NUMBER);
    assert_int_equal(hm_check_lonlat(-2, INFINITY), HM_REJECT_BAD_NUMBER);
}

static void test_bng_checks(void **state)
{
    (void)state;
    assert_int_equal(hm_check_bng(358720, 173010), HM_REJECT_NONE);
    assert_int_equal(hm_check_bng(700000, 1300000), HM_REJECT_NONE);
    assert_int_equal(hm_check_bng(-2.59, 51.45), HM_REJECT_WRONG_CRS);
    assert_int_equal(hm_check_bng(51.45, -2.59), HM_REJECT_WRONG_CRS);
    assert_int_equal(hm_check_bng(1.2, 52.6), HM_REJECT_WRONG_CRS);
    assert_int_equal(hm_check_bng(0, 0), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_bng(358100, 9999999), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_bng(-100, 173010), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_bng(700001, 100), HM_REJECT_SWAPPED_LON_LAT);
    assert_int_equal(hm_check_bng(1173010, 358720), HM_REJECT_SWAPPED_LON_LAT);
    assert_int_equal(hm_check_bng(1400000, 358720), HM_REJECT_BAD_COORDINATE);
    assert_int_equal(hm_check_bng(NAN, 1), HM_REJECT_BAD_NUMBER);
}

static void expect_gridref(const char *text, double easting, double northing, double precision)
{
    double e = 0, n = 0, p = 0;
    hm_reject_reason reason = hm_parse_gridref(text, &e, &n, &p);
    if (reason != HM_REJECT_NONE) fail_msg("'%s' rejected as %s", text, hm_reject_reason_code(reason));
    if (e != easting || n != northing || p != precision)
        fail_msg("'%s' -> %.1f %.1f %g, expected %.1f %.1f %g", text, e, n, p, easting, northing, precision);
}

static void expect_bad_gridref(const char *text)
{
    double e, n, p;
    if (hm_parse_gridref(text, &e, &n, &p) != HM_REJECT_BAD_GRIDREF)
        fail_msg("'%s' should be rejected", text ? text : "(null)");
}

static void test_gridrefs(void **state)
{
    (void)state;
    expect_gridref("ST 58720 73010", 358720.5, 173010.5, 1);
    expect_gridref("ST5872073010", 358720.5, 173010.5, 1);
    expect_gridref("st 58720 73010", 358720.5, 173010.5, 1);
    expect_gridref("ST5873", 358500, 173500, 1000);
    expect_gridref("ST 58 73", 358500, 173500, 1000);
    expect_gridref("TQ 30 80", 530500, 180500, 1000);
    expect_gridref("NN 166 712", 216650, 771250, 100);
    expect_gridref("nn166712", 216650, 771250, 100);
    expect_gridref(" SU 1 2 ", 415000, 125000, 10000);
    expect_gridref("ST", 350000, 150000, 100000);
    expect_gridref("ST 5872 7301", 358725, 173015, 10);
    expect_gridref("SV 00 00", 500, 500, 1000);        /* south-west corner of the grid */
    expect_gridref("HP 60 16", 460500, 1216500, 1000); /* Shetland, Muckle Flugga */
    expect_gridref("TG 51 13", 651500, 313500, 1000);  /* Lowestoft */
    expect_gridref("OV 00 00", 500500, 500500, 1000);  /* O lies east of N */
    expect_bad_gridref(NULL);
    expect_bad_gridref("");
    expect_bad_gridref("II 123 456");
    expect_bad_gridref("ZZ 123 456");
    expect_bad_gridref("SI 123 456");
    expect_bad_gridref("XX 123");
    expect_bad_gridref("AB 123 456"); /* A is not a 500 km square of the GB grid */
    expect_bad_gridref("HA 123 456"); /* north of the grid */
    expect_bad_gridref("OC 123 456"); /* east of the grid */
    expect_bad_gridref("ST 587 2730");
    expect_bad_gridref("ST 58720 73010 1");
    expect_bad_gridref("ST587");
    expect_bad_gridref("ST 123456 123456");
    expect_bad_gridref("ST 5872O 73010");
    expect_bad_gridref("S 5872 7301");
    expect_bad_gridref("358720 173010");
    expect_bad_gridref("ST-5872-7301");
}

static void expect_postcode(const char *text, const char *expected)
{
    char out[9] = "xxxxxxxx";
    hm_reject_reason reason = hm_postcode_normalise(text, out);
    if (reason != HM_REJECT_NONE) fail_msg("'%s' rejected", text);
    assert_string_equal(out, expected);
}

static void expect_bad_postcode(const char *text)
{
    char out[9];
    if (hm_postcode_normalise(text, out) != HM_REJECT_BAD_POSTCODE)
        fail_msg("'%s' should be rejected", text ? text : "(null)");
}

static void test_postcodes(void **state)
{
    (void)state;
    expect_postcode("bs1  4dj", "BS1 4DJ");
    expect_postcode("BS14DJ", "BS1 4DJ");
    expect_postcode("B11AA", "B1 1AA");
    expect_postcode("B1 1AA", "B1 1AA");
    expect_postcode("SW1A1AA", "SW1A 1AA");
    expect_postcode("sw1a 1aa", "SW1A 1AA");
    expect_postcode("W1A 0AX", "W1A 0AX");
    expect_postcode("M60 1NW", "M60 1NW");
    expect_postcode("CR2 6XH", "CR2 6XH");
    expect_postcode("DN55 1PT", "DN55 1PT");
    expect_postcode(" \tEC1A 1BB\t ", "EC1A 1BB");
    expect_postcode("GIR 0AA", "GIR 0AA");
    expect_postcode("B1  1AA", "B1 1AA"); /* ONSPD pcd fixed-width form */
    expect_bad_postcode(NULL);
    expect_bad_postcode("");
    expect_bad_postcode("hello");
    expect_bad_postcode("12345");
    expect_bad_postcode("BS1");
    expect_bad_postcode("BS1 4D");
    expect_bad_postcode("BS1 44J");
    expect_bad_postcode("BS1-4DJ");
    expect_bad_postcode("BS1 4DJX");
    expect_bad_postcode("BSS1A 4DJ");
    expect_bad_postcode("1S1 4DJ");
    expect_bad_postcode("B 1AA");
    expect_bad_postcode("BS1 4DJ extra");
    expect_bad_postcode("BS1\x01"
                        "4DJ");
    expect_bad_postcode("BS1 4DJ\xC2\xA0");
}

static void expect_date(const char *text, const char *formatted, hm_date_precision precision)
{
    hm_date date;
    hm_reject_reason reason = hm_parse_date(text, &date);
    if (reason != HM_REJECT_NONE) fail_msg("'%s' rejected", text);
    char out[32];
    hm_date_format(&date, out, sizeof out);
    if (strcmp(out, formatted) != 0) fail_msg("'%s' -> '%s', expected '%s'", text, out, formatted);
    assert_int_equal(date.precision, precision);
}

static void expect_bad_date(const char *text)
{
    hm_date date;
    if (hm_parse_date(text, &date) != HM_REJECT_BAD_DATE)
        fail_msg("'%s' should be rejected", text ? text : "(null)");
}

static void test_dates(void **state)
{
    (void)state;
    hm_date date;
    assert_int_equal(hm_parse_date("1970-01-01", &date), HM_REJECT_NONE);
    assert_int_equal(date.days_since_epoch, 0);
    assert_int_equal(hm_parse_date("2023-01", &date), HM_REJECT_NONE);
    assert_int_equal(date.days_since_epoch, 19358);
    assert_int_equal(date.precision, HM_DATE_MONTH);
    assert_int_equal(hm_parse_date("1969-12-31T23:59:59", &date), HM_REJECT_NONE);
    assert_int_equal(date.days_since_epoch, -1);
    assert_int_equal(date.seconds_of_day, 86399);

    expect_date("2023-01", "2023-01", HM_DATE_MONTH);
    expect_date("2023-01-15", "2023-01-15", HM_DATE_DAY);
    expect_date(" 2023-01-15 ", "2023-01-15", HM_DATE_DAY);
    expect_date("2023-01-15T10:30:00", "2023-01-15T10:30:00", HM_DATE_TIME);
    expect_date("2023-01-15T10:30", "2023-01-15T10:30:00", HM_DATE_TIME);
    expect_date("2023-01-15T10:30:05Z", "2023-01-15T10:30:05", HM_DATE_TIME);
    expect_date("2023-01-15T10:30:05.123Z", "2023-01-15T10:30:05", HM_DATE_TIME);
    expect_date("2023-01-15T00:30:00+01:00", "2023-01-14T23:30:00", HM_DATE_TIME);
    expect_date("2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00", HM_DATE_TIME);
    expect_date("2023-01-15 10:30", "2023-01-15T10:30:00", HM_DATE_TIME);
    expect_date("2023-01-15 10:30:59", "2023-01-15T10:30:59", HM_DATE_TIME);
    expect_date("15/01/2023", "2023-01-15", HM_DATE_DAY);
    expect_date("5/1/2023", "2023-01-05", HM_DATE_DAY);
    expect_date("15/01/2023 08:05", "2023-01-15T08:05:00", HM_DATE_TIME);
    expect_date("2024-02-29", "2024-02-29", HM_DATE_DAY);
    expect_date("2000-02-29", "2000-02-29", HM_DATE_DAY);
    expect_date("29/02/2024", "2024-02-29", HM_DATE_DAY);
    expect_date("1899-12-31", "1899-12-31", HM_DATE_DAY);
    expect_date("2011-02", "2011-02", HM_DATE_MONTH);

    expect_bad_date(NULL);
    expect_bad_date("");
    expect_bad_date("2023-02-30");
    expect_bad_date("2023-02-29");
    expect_bad_date("1900-02-29");
    expect_bad_date("2023-13");
    expect_bad_date("2023-00");
    expect_bad_date("2023-04-31");
    expect_bad_date("2023-01-00");
    expect_bad_date("2023-1-5");
    expect_bad_date("2023-01-15T24:00");
    expect_bad_date("2023-01-15T10:60");
    expect_bad_date("2023-01-15T10:30:61");
    expect_bad_date("2023-01-15T10");
    expect_bad_date("2023-01-15X");
    expect_bad_date("2023-01-15 junk");
    expect_bad_date("31/02/2023");
    expect_bad_date("01/13/2023"); /* never MM/DD */
    expect_bad_date("15/01/23");
    expect_bad_date("15-01-2023");
    expect_bad_date("2023/01/15");
    expect_bad_date("January 2023");
    expect_bad_date("0000-01-01");
    expect_bad_date("20230115");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_codes),  cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_lonlat_checks), cmocka_unit_test(test_bng_checks),
        cmocka_unit_test(test_gridrefs),      cmocka_unit_test(test_postcodes),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
