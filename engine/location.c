/*
 * location.c - see location.h.
 *
 * OS grid references follow the OS National Grid lettering: the first letter names a 500 km square (S, T, N,
 * H or O on the grid that covers Great Britain), the second a 100 km square inside it, both from A-Z without
 * I laid out 5 x 5 from the north-west corner. The arithmetic is the usual one (as in Ordnance Survey's "A
 * guide to coordinate systems in Great Britain" and Chris Veness's OsGridRef): with letters numbered 0..24
 * skipping I, e100k = ((l1 - 2) mod 5) * 5 + l2 mod 5,    n100k = (19 - (l1 / 5) * 5) - l2 / 5, and a pair is
 * valid only when the square lies on the grid (0..6 east, 0..12 north), which rejects pairs such as "ZZ" or
 * "SZ"-style squares off the grid without a table of names.
 *
 * Numbers: hm_parse_number checks the syntax itself (no "nan", "inf", hex, "1,5" or trailing text) and then
 * converts exactly with Clinger's fast path (an integer significand of at most 2^53 scaled by an exactly
 * representable power of ten, one correctly rounded operation), which covers coordinates and weights and does
 * not depend on the C locale; longer numbers fall back to strtod.
 *
 * Dates use Howard Hinnant's days_from_civil / civil_from_days algorithms (proleptic Gregorian calendar).
 */
#include "location.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reject_codes[HM_REJECT_REASON_COUNT] = {
    [HM_REJECT_NONE] = "none",
    [HM_REJECT_NO_LOCATION] = "no_location",
    [HM_REJECT_BAD_NUMBER] = "bad_number",
    [HM_REJECT_BAD_COORDINATE] = "bad_coordinate",
    [HM_REJECT_SWAPPED_LON_LAT] = "swapped_lon_lat",
    [HM_REJECT_WRONG_CRS] = "wrong_crs",
    [HM_REJECT_BAD_GRIDREF] = "bad_gridref",
    [HM_REJECT_BAD_POSTCODE] = "bad_postcode",
    [HM_REJECT_UNKNOWN_POSTCODE] = "unknown_postcode",
    [HM_REJECT_BAD_DATE] = "bad_date",
    [HM_REJECT_BAD_WEIGHT] = "bad_weight",
    [HM_REJECT_BAD_GRADING] = "bad_grading",
    [HM_REJECT_DUPLICATE_ID] = "duplicate_id",
    [HM_REJECT_MISSING_FIELD] = "missing_field",
    [HM_REJECT_RECORD_TOO_LONG] = "record_too_long",
    [HM_REJECT_TRANSFORM_FAILED] = "transform_failed",
};

const char *hm_reject_reason_code(hm_reject_reason reason)
{
    if ((int)reason < 0 || reason >= HM_REJECT_REASON_COUNT) return "unknown";
    return reject_codes[reason];
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* ---- numbers ---- */

static const double exact_powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

hm_reject_reason hm_parse_number(const char *text, double *out)
{
    if (!text) return HM_REJECT_BAD_NUMBER;
    const char *p = text;
    while (is_blank(*p))
        p++;
    const char *begin = p;
    int negative = 0;
    if (*p == '+' || *p == '-') negative = *p++ == '-';
    uint64_t significand = 0;
    int significant_digits = 0, digits = 0, exponent = 0;
    for (; is_digit(*p); p++, digits++) {
        if (significand == 0 && *p == '0') continue;
        if (significant_digits < 19)
            significand = significand * 10 + (uint64_t)(*p - '0');
        else
            exponent++;
        significant_digits++;
    }
    if (*p == '.') {
        for (p++; is_digit(*p); p++, digits++) {
            if (significand == 0 && *p == '0') {
                exponent--;
                continue;
            }
            if (significant_digits < 19) {
                significand = significand * 10 + (uint64_t)(*p - '0');
                exponent--;
            }
            significant_digits++;
        }
    }
    if (digits == 0) return HM_REJECT_BAD_NUMBER;
    if (*p == 'e' || *p == 'E') {
        p++;
        int exponent_negative = 0;
        if (*p == '+' || *p == '-') exponent_negative = *p++ == '-';
        if (!is_digit(*p)) return HM_REJECT_BAD_NUMBER;
        long written = 0;
        for (; is_digit(*p); p++)
            if (written < 100000) written = written * 10 + (*p - '0');
        exponent += (int)(exponent_negative ? -written : written);
    }
    const char *number_end = p;
    while (is_blank(*p))
        p++;
    if (*p != '\0') return HM_REJECT_BAD_NUMBER;

    double value;
    if (significand == 0) {
        value = 0.0;
    } else if (significant_digits <= 19 && significand <= ((uint64_t)1 << 53) && exponent >= -22 &&
               exponent <= 22) {
        value = (double)significand;
        value = exponent < 0 ? value / exact_powers_of_ten[-exponent] : value * exact_powers_of_ten[exponent];
    } else {
        /* Rare: more than 15-16 significant digits or a large exponent. The syntax is already checked. */
        char local[128];
        size_t length = (size_t)(number_end - begin);
        if (length >= sizeof local) return HM_REJECT_BAD_NUMBER;
        memcpy(local, begin, length);
        local[length] = '\0';
        value = fabs(strtod(local, NULL));
    }
    if (!isfinite(value)) return HM_REJECT_BAD_NUMBER;
    *out = negative ? -value : value;
    return HM_REJECT_NONE;
}

/* ---- coordinate checks ---- */

static int in_uk_lonlat_box(double longitude, double latitude)
{
    return longitude >= -9.0 && longitude <= 2.5 && latitude >= 49.0 && latitude <= 61.0;
}

static int on_national_grid(double easting, double northing)
{
    return easting >= 0.0 && easting <= 700000.0 && northing >= 0.0 && northing <= 1300000.0;
}

hm_reject_reason hm_check_lonlat(double longitude, double latitude)
{
    if (!isfinite(longitude) || !isfinite(latitude)) return HM_REJECT_BAD_NUMBER;
    if (in_uk_lonlat_box(longitude, latitude)) return HM_REJECT_NONE;
    if (in_uk_lonlat_box(latitude, longitude)) return HM_REJECT_SWAPPED_LON_LAT;
    /* Values that cannot be degrees but lie on the National Grid: eastings and northings in the wrong
     * columns. */
    if ((fabs(longitude) > 180.0 || fabs(latitude) > 90.0) &&
        (on_national_grid(longitude, latitude) || on_national_grid(latitude, longitude)))
        return HM_REJECT_WRONG_CRS;
    return HM_REJECT_BAD_COORDINATE;
}

hm_reject_reason hm_check_bng(double easting, double northing)
{
    if (!isfinite(easting) || !isfinite(northing)) return HM_REJECT_BAD_NUMBER;
    /* Degrees of the UK given as metres would sit within 61 m of the grid's origin, in the sea off Scilly. */
    if (in_uk_lonlat_box(easting, northing) || in_uk_lonlat_box(northing, easting))
        return HM_REJECT_WRONG_CRS;
    /* 0,0 is how many systems (and Code-Point Open's quality 90 rows) write "no coordinates". */
    if (easting == 0.0 && northing == 0.0) return HM_REJECT_BAD_COORDINATE;
    if (on_national_grid(easting, northing)) return HM_REJECT_NONE;
    if (on_national_grid(northing, easting)) return HM_REJECT_SWAPPED_LON_LAT;
    return HM_REJECT_BAD_COORDINATE;
}

/* ---- OS grid references ---- */

/* A-Z without I numbered 0..24, or -1. */
static int grid_letter_index(char c)
{
    c = to_upper(c);
    if (!is_upper(c) || c == 'I') return -1;
    return c > 'I' ? c - 'A' - 1 : c - 'A';
}

hm_reject_reason hm_parse_gridref(const char *text, double *easting, double *northing, double *precision_m)
{
    if (!text) return HM_REJECT_BAD_GRIDREF;
    const char *p = text;
    while (is_blank(*p))
        p++;
    char first = to_upper(p[0]);
    if (first != 'S' && first != 'T' && first != 'N' && first != 'H' && first != 'O')
        return HM_REJECT_BAD_GRIDREF;
    int l1 = grid_letter_index(p[0]);
    int l2 = grid_letter_index(p[1]);
    if (l1 < 0 || l2 < 0) return HM_REJECT_BAD_GRIDREF;
    int e100k = ((l1 - 2) % 5) * 5 + l2 % 5;
    int n100k = (19 - (l1 / 5) * 5) - l2 / 5;
    if (e100k < 0 || e100k > 6 || n100k < 0 || n100k > 12) return HM_REJECT_BAD_GRIDREF;
    p += 2;

    /* Digits: one group of even length, or two groups of equal length separated by white space. */
    char digits[11];
    size_t digit_count = 0, group_lengths[2] = {0, 0};
    int groups = 0;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0') break;
        if (!is_digit(*p) || groups == 2) return HM_REJECT_BAD_GRIDREF;
        size_t length = 0;
        while (is_digit(*p)) {
            if (digit_count == 10) return HM_REJECT_BAD_GRIDREF;
            digits[digit_count++] = *p++;
            length++;
        }
        group_lengths[groups++] = length;
    }
    if (digit_count % 2 != 0) return HM_REJECT_BAD_GRIDREF;
    if (groups == 2 && group_lengths[0] != group_lengths[1]) return HM_REJECT_BAD_GRIDREF;
    size_t per_axis = digit_count / 2;
    long east_digits = 0, north_digits = 0;
    for (size_t i = 0; i < per_axis; i++) {
        east_digits = east_digits * 10 + (digits[i] - '0');
        north_digits = north_digits * 10 + (digits[per_axis + i] - '0');
    }
    double square_m = 100000.0;
    for (size_t i = 0; i < per_axis; i++)
        square_m /= 10.0;
    *easting = e100k * 100000.0 + (double)east_digits * square_m + square_m / 2.0;
    *northing = n100k * 100000.0 + (double)north_digits * square_m + square_m / 2.0;
    *precision_m = square_m;
    return HM_REJECT_NONE;
}

/* ---- postcodes ---- */

hm_reject_reason hm_postcode_normalise(const char *text, char out[9])
{
    if (!text) return HM_REJECT_BAD_POSTCODE;
    char compact[8];
    size_t length = 0;
    for (const char *p = text; *p; p++) {
        char c = to_upper(*p);
        if (is_blank(c)) continue;
        if (!is_upper(c) && !is_digit(c)) return HM_REJECT_BAD_POSTCODE;
        if (length == 7) return HM_REJECT_BAD_POSTCODE;
        compact[length++] = c;
    }
    if (length < 5) return HM_REJECT_BAD_POSTCODE;
    const char *inward = compact + length - 3;
    size_t outward_length = length - 3;
    if (!is_digit(inward[0]) || !is_upper(inward[1]) || !is_upper(inward[2])) return HM_REJECT_BAD_POSTCODE;
    /* Outward code shapes: A9, A99, AA9, A9A, AA99, AA9A (and GIR, the one historic exception). */
    const char *o = compact;
    int valid = 0;
    if (outward_length == 2)
        valid = is_upper(o[0]) && is_digit(o[1]);
    else if (outward_length == 3)
        valid = (is_upper(o[0]) && is_digit(o[1]) && (is_digit(o[2]) || is_upper(o[2]))) ||
                (is_upper(o[0]) && is_upper(o[1]) && is_digit(o[2])) || memcmp(o, "GIR", 3) == 0;
    else if (outward_length == 4)
        valid = is_upper(o[0]) && is_upper(o[1]) && is_digit(o[2]) && (is_digit(o[3]) || is_upper(o[3]));
    if (!valid) return HM_REJECT_BAD_POSTCODE;
    memcpy(out, compact, outward_length);
    out[outward_length] = ' ';
    memcpy(out + outward_length + 1, inward, 3);
    out[outward_length + 4] = '\0';
    return HM_REJECT_NONE;
}

/* ---- dates ---- */

static long days_from_civil(long year, unsigned month, unsigned day)
{
    year -= month <= 2;
    long era = (year >= 0 ? year : year - 399) / 400;
    unsigned year_of_era = (unsigned)(year - era * 400);
    unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + (long)day_of_era - 719468;
}

static void civil_from_days(long days, long *year, unsigned *month, unsigned *day)
{
    days += 719468;
    long era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned day_of_era = (unsigned)(days - era * 146097);
    unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    unsigned mp = (5 * day_of_year + 2) / 153;
    *day = day_of_year - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (long)year_of_era + era * 400 + (*month <= 2);
}

static int days_in_month(long year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
    return days[month - 1];
}

/* Reads exactly `count` digits. */
static int read_digits(const char **p, int count, int *value)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (!is_digit((*p)[i])) return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += count;
    *value = v;
    return 1;
}

/* Reads one or two digits. */
static int read_one_or_two_digits(const char **p, int *value)
{
    if (!is_digit(**p)) return 0;
    int v = *(*p)++ - '0';
    if (is_digit(**p)) v = v * 10 + (*(*p)++ - '0');
    *value = v;
    return 1;
}

/* hh:mm[:ss[.fraction]][Z|+hh[:mm]|-hh[:mm]] -> seconds after midnight UTC (may leave the day). */
static int read_time(const char **p, long *seconds)
{
    int hour, minute, second = 0;
    if (!read_digits(p, 2, &hour) || **p != ':') return 0;
    (*p)++;
    if (!read_digits(p, 2, &minute)) return 0;
    if (**p == ':') {
        (*p)++;
        if (!read_digits(p, 2, &second)) return 0;
        if (**p == '.' || **p == ',') {
            (*p)++;
            if (!is_digit(**p)) return 0;
            while (is_digit(**p))
                (*p)++; /* fractions of a second are dropped */
        }
    }
    if (hour > 23 || minute > 59 || second > 59) return 0;
    long offset = 0;
    if (**p == 'Z') {
        (*p)++;
    } else if (**p == '+' || **p == '-') {
        int sign = **p == '-' ? -1 : 1, offset_hours, offset_minutes = 0;
        (*p)++;
        if (!read_digits(p, 2, &offset_hours)) return 0;
        if (**p == ':') (*p)++;
        if (is_digit(**p) && !read_digits(p, 2, &offset_minutes)) return 0;
        if (offset_hours > 14 || offset_minutes > 59) return 0;
        offset = sign * (offset_hours * 3600L + offset_minutes * 60L);
    }
    *seconds = hour * 3600L + minute * 60L + second - offset;
    return 1;
}

hm_reject_reason hm_parse_date(const char *text, hm_date *out)
{
    if (!text) return HM_REJECT_BAD_DATE;
    const char *p = text;
    while (is_blank(*p))
        p++;
    int year = 0, month = 0, day = 1;
    hm_date_precision precision;
    long seconds = 0;
    if (is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) && is_digit(p[3]) && p[4] == '-') {
        read_digits(&p, 4, &year);
        p++;
        if (!read_digits(&p, 2, &month)) return HM_REJECT_BAD_DATE;
        precision = HM_DATE_MONTH;
        if (*p == '-') {
            p++;
            if (!read_digits(&p, 2, &day)) return HM_REJECT_BAD_DATE;
            precision = HM_DATE_DAY;
            if (*p == 'T' || (*p == ' ' && is_digit(p[1]))) {
                p++;
                if (!read_time(&p, &seconds)) return HM_REJECT_BAD_DATE;
                precision = HM_DATE_TIME;
            }
        }
    } else {
        /* DD/MM/YYYY, UK order, optionally followed by a time. */
        if (!read_one_or_two_digits(&p, &day) || *p++ != '/') return HM_REJECT_BAD_DATE;
        if (!read_one_or_two_digits(&p, &month) || *p++ != '/') return HM_REJECT_BAD_DATE;
        if (!read_digits(&p, 4, &year)) return HM_REJECT_BAD_DATE;
        precision = HM_DATE_DAY;
        if (*p == ' ' && is_digit(p[1])) {
            p++;
            if (!read_time(&p, &seconds)) return HM_REJECT_BAD_DATE;
            precision = HM_DATE_TIME;
        }
    }
    while (is_blank(*p))
        p++;
    if (*p != '\0') return HM_REJECT_BAD_DATE;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return HM_REJECT_BAD_DATE;
    long days = days_from_civil(year, (unsigned)month, (unsigned)day);
    /* A time zone offset may move the instant into the previous or next day. */
    while (seconds < 0) {
        seconds += 86400;
        days--;
    }
    while (seconds >= 86400) {
        seconds -= 86400;
        days++;
    }
    out->days_since_epoch = days;
    out->seconds_of_day = (int)seconds;
    out->precision = precision;
    return HM_REJECT_NONE;
}

void hm_date_format(const hm_date *date, char *out, size_t size)
{
    long year;
    unsigned month, day;
    civil_from_days(date->days_since_epoch, &year, &month, &day);
    int seconds = date->seconds_of_day;
    switch (date->precision) {
    case HM_DATE_MONTH:
        snprintf(out, size, "%04ld-%02u", year, month);
        break;
    case HM_DATE_TIME:
        snprintf(out, size, "%04ld-%02u-%02uT%02d:%02d:%02d", year, month, day, seconds / 3600,
                 seconds / 60 % 60, seconds % 60);
        break;
    case HM_DATE_DAY:
    default:
        snprintf(out, size, "%04ld-%02u-%02u", year, month, day);
        break;
    }
}
