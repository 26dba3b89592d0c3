/*
 * records.h - from a CSV header and row to a harmmap record: which column plays which role, and the record's
 * parsed id, date, category, weight, location and (for intelligence) grading.
 *
 * Formats are recognised by their header: data.police.uk street-level CSV (Crime ID, Month, Longitude,
 * Latitude, Crime type ...), its 2011 legacy variant (Easting, Northing, no Crime ID), harmmap's intelligence
 * CSV (grading columns) and generic CSV. Column names match case-insensitively, ignoring spaces, '_' and '-',
 * against a list of aliases per role, unless the user names the column (--id-field ...).
 *
 * The location of a record is taken from the first filled form in order of precision: easting/northing, then
 * longitude/latitude, then OS grid reference, then postcode. Coordinates are checked for plausibility
 * (location.h) so swapped or wrong-CRS values are rejected with their own reason.
 */
#ifndef HM_RECORDS_H
#define HM_RECORDS_H

#include "context.h"
#include "csv.h"
#include "location.h"
#include "postcodes.h"

typedef enum hm_input_kind { HM_INPUT_INCIDENTS, HM_INPUT_INTELLIGENCE } hm_input_kind;

typedef enum hm_input_format {
    HM_FORMAT_POLICE_UK,        /* data.police.uk street-level CSV (2013 onwards) */
    HM_FORMAT_POLICE_UK_LEGACY, /* data.police.uk 2010-2012 street-level CSV with BNG easting/northing */
    HM_FORMAT_GENERIC,          /* any CSV with named or detected columns */
    HM_FORMAT_INTELLIGENCE      /* intelligence records with 3x5x2 grading */
} hm_input_format;

const char *hm_input_format_name(hm_input_format format);

typedef enum hm_role {
    HM_ROLE_ID, HM_ROLE_DATE, HM_ROLE_CATEGORY, HM_ROLE_WEIGHT,
    HM_ROLE_LONGITUDE, HM_ROLE_LATITUDE, HM_ROLE_EASTING, HM_ROLE_NORTHING, HM_ROLE_GRIDREF, HM_ROLE_POSTCODE,
    HM_ROLE_LOCATION_DESCRIPTION, HM_ROLE_LSOA, HM_ROLE_OUTCOME,
    HM_ROLE_SOURCE_EVALUATION, HM_ROLE_INTELLIGENCE_ASSESSMENT, HM_ROLE_HANDLING_CODE, HM_ROLE_GRADING,
    HM_ROLE_OCG,
    HM_ROLE_COUNT
} hm_role;

const char *hm_role_name(hm_role role); /* "id", "date", ... as in the --<role>-field options */

/* Column names given by the user, by role (NULL: detect). */
typedef struct hm_field_names {
    const char *names[HM_ROLE_COUNT];
    const char *grading_order; /* order of the parts in a single grading column, e.g. "SIH" (the default) */
} hm_field_names;

typedef struct hm_schema {
    hm_input_format format;
    hm_input_kind kind;
    int column[HM_ROLE_COUNT]; /* column index per role, -1 if absent */
    size_t header_field_count;
    char grading_order[4];
} hm_schema;

/* Works out the schema from a header record. Errors (HM_EFORMAT) name the file, the missing column and the
 * columns that exist, and the option that names it. */
int hm_schema_detect(hm_ctx *ctx, const char *path, const hm_csv_record *header, hm_input_kind kind,
                     const hm_field_names *names, hm_schema *schema);

typedef enum hm_location_method {
    HM_METHOD_NONE, HM_METHOD_BNG, HM_METHOD_LONLAT, HM_METHOD_GRIDREF, HM_METHOD_POSTCODE
} hm_location_method;
const char *hm_location_method_name(hm_location_method method);

/* A parsed record. Strings point into the CSV record and are valid until the next hm_csv_next. */
typedef struct hm_record {
    const char *id; /* may be "" */
    hm_date date;
    int has_date;
    const char *category;
    double weight;
    hm_location_method method;
    double x, y;            /* easting/northing (EPSG:27700) for BNG, grid refs and postcodes; lon/lat for LONLAT */
    double precision_m;     /* size of the square a grid reference names; 0 for coordinates */
    const char *location_description, *lsoa, *outcome;
    int source_evaluation;       /* 1..3, 0 when not intelligence */
    int intelligence_assessment; /* 1..5 */
    char handling_code;          /* 'P' or 'C' */
    char grading[8];             /* the grading as written, e.g. "1AP" */
    const char *ocg;
} hm_record;

/* Rejection details: the reason, the column involved (or NULL) and a message for the detail column. */
typedef struct hm_record_problem {
    hm_reject_reason reason;
    const char *field;
    char detail[256];
} hm_record_problem;

/* Parses one data record. Returns HM_REJECT_NONE and fills *record, or a reason with *problem filled. */
hm_reject_reason hm_record_parse(const hm_schema *schema, const hm_csv_record *row,
                                 const hm_postcode_table *postcodes, hm_record *record, hm_record_problem *problem);

#endif
