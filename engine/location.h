/*
 * location.h - parsing and checking what users give as a location, a date or a number.
 *
 * Pure functions, no I/O and no allocation: the hot path of geocoding calls them per record. Each returns a
 * hm_reject_reason, HM_REJECT_NONE on success, so that the caller can write a reject row with a stable code and
 * a detail that says what was wrong.
 *
 * Plausibility checks use the extent of Great Britain's National Grid (0..700000 E, 0..1300000 N) and the
 * WGS84 box around the United Kingdom (-9..2.5 E, 49..61 N): values outside are rejected, and the reason says
 * when they look like a known mistake (latitude and longitude swapped, eastings given as longitudes).
 */
#ifndef HM_LOCATION_H
#define HM_LOCATION_H

#include <stddef.h>

typedef enum hm_reject_reason {
    HM_REJECT_NONE = 0,
    HM_REJECT_NO_LOCATION,      /* no_location: every location field empty */
    HM_REJECT_BAD_NUMBER,       /* bad_number: a coordinate or weight that does not parse, NaN or infinite */
    HM_REJECT_BAD_COORDINATE,   /* bad_coordinate: outside the plausible range */
    HM_REJECT_SWAPPED_LON_LAT,  /* swapped_lon_lat: latitude and longitude given the wrong way round */
    HM_REJECT_WRONG_CRS,        /* wrong_crs: e.g. eastings/northings in longitude/latitude columns */
    HM_REJECT_BAD_GRIDREF,      /* bad_gridref: not an OS grid reference */
    HM_REJECT_BAD_POSTCODE,     /* bad_postcode: not shaped like a UK postcode */
    HM_REJECT_UNKNOWN_POSTCODE, /* unknown_postcode: well formed but not in the postcode table */
    HM_REJECT_BAD_DATE,         /* bad_date */
    HM_REJECT_BAD_WEIGHT,       /* bad_weight: weight not a number, negative, NaN or infinite */
    HM_REJECT_BAD_GRADING,      /* bad_grading: intelligence grading outside the 3x5x2 scheme */
    HM_REJECT_DUPLICATE_ID,     /* duplicate_id: a record id seen before in this run */
    HM_REJECT_MISSING_FIELD,    /* missing_field: the record has fewer fields than the header */
    HM_REJECT_RECORD_TOO_LONG,  /* record_too_long */
    HM_REJECT_TRANSFORM_FAILED, /* transform_failed: PROJ could not transform the point */
    HM_REJECT_REASON_COUNT
} hm_reject_reason;

/* Stable snake_case code written in the rejects layer ("no_location", ...). */
const char *hm_reject_reason_code(hm_reject_reason reason);

/* Strict decimal number: optional surrounding spaces, the whole text consumed, finite. Empty text is an error. */
hm_reject_reason hm_parse_number(const char *text, double *out);

/* Checks WGS84 longitude/latitude against the UK box; detects swapped values and BNG metres. */
hm_reject_reason hm_check_lonlat(double longitude, double latitude);
/* Checks British National Grid easting/northing; detects degrees given as metres (wrong_crs) and swapped axes
 * (swapped_lon_lat, when easting > 700000 and the pair fits the other way round). 0,0 is bad_coordinate. */
hm_reject_reason hm_check_bng(double easting, double northing);

/* OS grid reference: two letters then 0-10 digits (even count), spaces allowed ("ST 58720 73010", "ST5872",
 * "st587730"). Returns the south-west corner plus half the precision, i.e. the centre of the square the
 * reference names, and the square's side in metres (1 m for 10 digits ... 100 km for letters alone). */
hm_reject_reason hm_parse_gridref(const char *text, double *easting, double *northing, double *precision_m);

/* Normalises a UK postcode to the ONS 'pcds' form: upper case, single space before the 3-character inward code
 * ("bs1  4dj" -> "BS1 4DJ", "B11AA" -> "B1 1AA"). out must hold 9 bytes. */
hm_reject_reason hm_postcode_normalise(const char *text, char out[9]);

/* A calendar date as days since 1970-01-01 plus how precise it was. Accepted: YYYY-MM (data.police.uk months,
 * taken as the first of the month), YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm|-hh:mm] (an offset is
 * converted to UTC), "YYYY-MM-DD hh:mm[:ss]", D/M/YYYY or DD/MM/YYYY optionally followed by " hh:mm[:ss]" (UK
 * order; never MM/DD). Day and month are range-checked (no 2023-02-30); surrounding blanks are ignored. */
typedef enum hm_date_precision { HM_DATE_MONTH = 1, HM_DATE_DAY = 2, HM_DATE_TIME = 3 } hm_date_precision;
typedef struct hm_date {
    long days_since_epoch;
    int seconds_of_day;
    hm_date_precision precision;
} hm_date;
hm_reject_reason hm_parse_date(const char *text, hm_date *out);
/* Writes the date as ISO 8601 (YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss per precision). out >= 24 bytes. */
void hm_date_format(const hm_date *date, char *out, size_t size);

#endif
