/*
 * fuzz_location - libFuzzer target for the location, date and number parsers (engine/location.c).
 *
 * The input, NUL-terminated, goes through every parser; accepted values must be consistent: a normalised
 * postcode normalises to itself, a parsed date formats and parses back to the same day, a grid reference lies
 * on the grid at the centre of its square, checks return a known reason. Built only with -DHM_FUZZ=ON.
 */
#include "location.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    double number = 0;
    if (hm_parse_number(text, &number) == HM_REJECT_NONE && !isfinite(number)) abort();
    if ((unsigned)hm_check_lonlat(number, number / 2) >= HM_REJECT_REASON_COUNT) abort();
    if ((unsigned)hm_check_bng(number, number * 3) >= HM_REJECT_REASON_COUNT) abort();
    if (hm_reject_reason_code(hm_check_bng(number, -number)) == NULL) abort();

    double easting, northing, precision;
    if (hm_parse_gridref(text, &easting, &northing, &precision) == HM_REJECT_NONE) {
        if (!(easting > 0 && easting < 700000 && northing > 0 && northing < 1300000)) abort();
        if (!(precision >= 1 && precision <= 100000)) abort();
        if (fmod(easting - precision / 2, precision) != 0) abort();
    }

    char postcode[9], again[9];
    if (hm_postcode_normalise(text, postcode) == HM_REJECT_NONE) {
        if (strlen(postcode) < 6 || strlen(postcode) > 8) abort();
        if (hm_postcode_normalise(postcode, again) != HM_REJECT_NONE || strcmp(postcode, again) != 0) abort();
    }

    hm_date date, reparsed;
    if (hm_parse_date(text, &date) == HM_REJECT_NONE) {
        char formatted[32];
        hm_date_format(&date, formatted, sizeof formatted);
        if (hm_parse_date(formatted, &reparsed) != HM_REJECT_NONE) abort();
        if (reparsed.days_since_epoch != date.days_since_epoch || reparsed.precision != date.precision)
            abort();
        if (date.precision == HM_DATE_TIME && reparsed.seconds_of_day != date.seconds_of_day) abort();
    }
    free(text);
    return 0;
}
