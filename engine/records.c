/* records.c - see records.h. */
#include "records.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const role_names[HM_ROLE_COUNT] = {
    "id", "date", "category", "weight", "lon", "lat", "easting", "northing", "gridref", "postcode",
    "location", "lsoa", "outcome", "source-evaluation", "intelligence-assessment", "handling-code", "grading",
    "ocg"};

/* Aliases per role, already folded (lower case, no spaces, '_' or '-'). The first match in header order wins. */
static const char *const *role_aliases(hm_role role)
{
    static const char *const id[] = {"crimeid", "id", "recordid", "incidentid", "intelid", "reference",
                                     "urn", "ref", NULL};
    static const char *const date[] = {"month", "date", "reportdate", "incidentdate", "occurred",
                                       "datetime", "reporteddate", NULL};
    static const char *const category[] = {"crimetype", "category", "offencegroup", "offence", "type", NULL};
    static const char *const weight[] = {"weight", NULL};
    static const char *const lon[] = {"longitude", "lon", "lng", "long", NULL};
    static const char *const lat[] = {"latitude", "lat", NULL};
    static const char *const easting[] = {"easting", "eastings", "east", "x", NULL};
    static const char *const northing[] = {"northing", "northings", "north", "y", NULL};
    static const char *const gridref[] = {"gridref", "gridreference", "osgridref", "osgridreference", "ngr",
                                          NULL};
    static const char *const postcode[] = {"postcode", "postalcode", "pcds", "pcd", NULL};
    static const char *const location[] = {"location", "locationdescription", NULL};
    static const char *const lsoa[] = {"lsoacode", NULL};
    static const char *const outcome[] = {"lastoutcomecategory", "outcome", NULL};
    static const char *const source[] = {"sourceevaluation", "sourcegrade", "source", NULL};
    static const char *const assessment[] = {"intelligenceassessment", "intelassessment", "assessment", NULL};
    static const char *const handling[] = {"handlingcode", "handling", NULL};
    static const char *const grading[] = {"grading", "grade", NULL};
    static const char *const ocg[] = {"ocgref", "ocg", "ocgreference", "ocgid", NULL};
    static const char *const *const table[HM_ROLE_COUNT] = {
        id, date, category, weight, lon, lat, easting, northing, gridref, postcode,
        location, lsoa, outcome, source, assessment, handling, grading, ocg};
    return table[role];
}

const char *hm_role_name(hm_role role)
{
    return role_names[role];
}

const char *hm_input_format_name(hm_input_format format)
{
    switch (format) {
    case HM_FORMAT_POLICE_UK: return "police.uk";
    case HM_FORMAT_POLICE_UK_LEGACY: return "police.uk-legacy";
    case HM_FORMAT_GENERIC: return "generic";
    case HM_FORMAT_INTELLIGENCE: return "intelligence";
    }
    return "unknown";
}

const char *hm_location_method_name(hm_location_method method)
{
    switch (method) {
    case HM_METHOD_NONE: return "none";
    case HM_METHOD_BNG: return "easting_northing";
    case HM_METHOD_LONLAT: return "lon_lat";
    case HM_METHOD_GRIDREF: return "grid_reference";
    case HM_METHOD_POSTCODE: return "postcode";
    }
    return "unknown";
}

/* Lower case without spaces, '_', '-' or '.', so "Crime ID", "crime_id" and "CrimeID" compare equal. */
static void fold_name(const char *name, char *out, size_t size)
{
    size_t length = 0;
    for (; *name && length + 1 < size; name++) {
        unsigned char c = (unsigned char)*name;
        if (c == ' ' || c == '_' || c == '-' || c == '.') continue;
        out[length++] = (char)tolower(c);
    }
    out[length] = '\0';
}

static int find_column(const hm_csv_record *header, const char *folded_wanted)
{
    char folded[128];
    for (size_t i = 0; i < header->field_count; i++) {
        fold_name(header->fields[i], folded, sizeof folded);
        if (strcmp(folded, folded_wanted) == 0) return (int)i;
    }
    return -1;
}

static void list_columns(const hm_csv_record *header, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < header->field_count && used + 4 < size; i++) {
        int written = snprintf(out + used, size - used, "%s'%s'", i ? ", " : "", header->fields[i]);
        if (written < 0) break;
        used += (size_t)written;
    }
}

int hm_schema_detect(hm_ctx *ctx, const char *path, const hm_csv_record *header, hm_input_kind kind,
                     const hm_field_names *names, hm_schema *schema)
{
    memset(schema, 0, sizeof *schema);
    schema->kind = kind;
    schema->header_field_count = header->field_count;
    snprintf(schema->grading_order, sizeof schema->grading_order, "%s",
             names && names->grading_order ? names->grading_order : "SIH");
    char columns[1024];
    list_columns(header, columns, sizeof columns);

    for (int role = 0; role < HM_ROLE_COUNT; role++) {
        schema->column[role] = -1;
        const char *given = names ? names->names[role] : NULL;
        if (given) {
            /* A column the user named must exist: say which exist and how to name another. */
            char folded[128];
            fold_name(given, folded, sizeof folded);
            schema->column[role] = find_column(header, folded);
            if (schema->column[role] < 0)
                return hm_error(ctx, HM_EFORMAT,
                                "%s:1: no column '%s' (given with --%s-field); the header has %s", path, given,
                                role_names[role], columns);
            continue;
        }
        for (const char *const *alias = role_aliases((hm_role)role); *alias; alias++) {
            schema->column[role] = find_column(header, *alias);
            if (schema->column[role] >= 0) break;
        }
    }
    /* "x"/"y" are aliases for easting/northing only when no longitude/latitude pair was found. */
    int has_lonlat = schema->column[HM_ROLE_LONGITUDE] >= 0 && schema->column[HM_ROLE_LATITUDE] >= 0;
    int has_bng = schema->column[HM_ROLE_EASTING] >= 0 && schema->column[HM_ROLE_NORTHING] >= 0;
    int has_gridref = schema->column[HM_ROLE_GRIDREF] >= 0;
    int has_postcode = schema->column[HM_ROLE_POSTCODE] >= 0;
    if ((schema->column[HM_ROLE_LONGITUDE] >= 0) != (schema->column[HM_ROLE_LATITUDE] >= 0))
        return hm_error(ctx, HM_EFORMAT, "%s:1: a longitude column needs a latitude column and the other way "
                        "round; the header has %s (name them with --lon-field and --lat-field)", path, columns);
    if ((schema->column[HM_ROLE_EASTING] >= 0) != (schema->column[HM_ROLE_NORTHING] >= 0))
        return hm_error(ctx, HM_EFORMAT, "%s:1: an easting column needs a northing column and the other way "
                        "round; the header has %s (name them with --easting-field and --northing-field)", path,
                        columns);
    if (!has_lonlat && !has_bng && !has_gridref && !has_postcode)
        return hm_error(ctx, HM_EFORMAT,
                        "%s:1: no location columns: expected longitude/latitude, easting/northing, a grid "
                        "reference or a postcode; the header has %s (name them with --lon-field/--lat-field, "
                        "--easting-field/--northing-field, --gridref-field or --postcode-field)", path, columns);

    if (kind == HM_INPUT_INTELLIGENCE) {
        schema->format = HM_FORMAT_INTELLIGENCE;
        int has_parts = schema->column[HM_ROLE_SOURCE_EVALUATION] >= 0 &&
                        schema->column[HM_ROLE_INTELLIGENCE_ASSESSMENT] >= 0 &&
                        schema->column[HM_ROLE_HANDLING_CODE] >= 0;
        if (!has_parts && schema->column[HM_ROLE_GRADING] < 0)
            return hm_error(ctx, HM_EFORMAT,
                            "%s:1: intelligence needs its 3x5x2 grading: columns source_evaluation, "
                            "intelligence_assessment and handling_code, or one grading column such as '1AP'; "
                            "the header has %s (name them with --source-evaluation-field, "
                            "--intelligence-assessment-field, --handling-code-field or --grading-field)",
                            path, columns);
        if (schema->column[HM_ROLE_ID] < 0)
            return hm_error(ctx, HM_EFORMAT, "%s:1: intelligence needs a record id column; the header has %s "
                            "(name it with --id-field)", path, columns);
    } else if (find_column(header, "crimeid") >= 0 && find_column(header, "fallswithin") >= 0) {
        schema->format = HM_FORMAT_POLICE_UK;
    } else if (find_column(header, "fallswithin") >= 0 && has_bng) {
        schema->format = HM_FORMAT_POLICE_UK_LEGACY;
    } else {
        schema->format = HM_FORMAT_GENERIC;
    }
    return HM_OK;
}

static const char *field_value(const hm_csv_record *row, int column)
{
    if (column < 0 || (size_t)column >= row->field_count) return "";
    return row->fields[column];
}

static int is_blank(const char *text)
{
    while (*text == ' ' || *text == '\t') text++;
    return *text == '\0';
}

static hm_reject_reason problem_at(hm_record_problem *problem, hm_reject_reason reason, const char *field,
                                   const char *fmt, const char *value)
{
    problem->reason = reason;
    problem->field = field;
    snprintf(problem->detail, sizeof problem->detail, fmt, value);
    return reason;
}

/* Source evaluation 1-3 (or A-C), intelligence assessment 1-5 (or A-E), handling code P or C. */
static int grade_value(char c, int maximum)
{
    if (c >= '1' && c < '1' + maximum) return c - '0';
    c = (char)toupper((unsigned char)c);
    if (c >= 'A' && c < 'A' + maximum) return c - 'A' + 1;
    return 0;
}

static hm_reject_reason parse_grading(const hm_schema *schema, const hm_csv_record *row, hm_record *record,
                                      hm_record_problem *problem)
{
    const char *source = "", *assessment = "", *handling = "";
    char parts[3][2] = {{0}};
    const char *grading = field_value(row, schema->column[HM_ROLE_GRADING]);
    if (schema->column[HM_ROLE_SOURCE_EVALUATION] >= 0) {
        source = field_value(row, schema->column[HM_ROLE_SOURCE_EVALUATION]);
        assessment = field_value(row, schema->column[HM_ROLE_INTELLIGENCE_ASSESSMENT]);
        handling = field_value(row, schema->column[HM_ROLE_HANDLING_CODE]);
    } else {
        /* One column such as "1AP": its parts in the configured order (S source, I intelligence, H handling). */
        char compact[8];
        size_t length = 0;
        for (const char *p = grading; *p && length < sizeof compact - 1; p++)
            if (!isspace((unsigned char)*p)) compact[length++] = *p;
        compact[length] = '\0';
        if (length != 3 || strlen(grading) > 6)
            return problem_at(problem, HM_REJECT_BAD_GRADING, "grading",
                              "grading '%.40s' is not three parts (source, intelligence, handling) such as 1AP",
                              grading);
        for (int i = 0; i < 3; i++) {
            int slot = schema->grading_order[i] == 'S' ? 0 : schema->grading_order[i] == 'I' ? 1 : 2;
            parts[slot][0] = compact[i];
        }
        source = parts[0];
        assessment = parts[1];
        handling = parts[2];
    }
    while (isspace((unsigned char)*source)) source++;
    while (isspace((unsigned char)*assessment)) assessment++;
    while (isspace((unsigned char)*handling)) handling++;
    record->source_evaluation = strlen(source) == 1 || (strlen(source) > 1 && isspace((unsigned char)source[1]))
                                    ? grade_value(source[0], 3) : 0;
    if (!record->source_evaluation)
        return problem_at(problem, HM_REJECT_BAD_GRADING, "source_evaluation",
                          "source evaluation '%.40s' is not 1, 2 or 3 (A, B or C)", source);
    record->intelligence_assessment =
        strlen(assessment) == 1 || (strlen(assessment) > 1 && isspace((unsigned char)assessment[1]))
            ? grade_value(assessment[0], 5) : 0;
    if (!record->intelligence_assessment)
        return problem_at(problem, HM_REJECT_BAD_GRADING, "intelligence_assessment",
                          "intelligence assessment '%.40s' is not A to E (1 to 5)", assessment);
    char code = (char)toupper((unsigned char)handling[0]);
    if ((code != 'P' && code != 'C') || (handling[1] && !isspace((unsigned char)handling[1])))
        return problem_at(problem, HM_REJECT_BAD_GRADING, "handling_code",
                          "handling code '%.40s' is not P (sharing permitted) or C (sharing with conditions); "
                          "records without a handling code cannot be shared and are not loaded", handling);
    record->handling_code = code;
    snprintf(record->grading, sizeof record->grading, "%c%c%c", source[0], assessment[0], code);
    return HM_REJECT_NONE;
}

static hm_reject_reason parse_location(const hm_schema *schema, const hm_csv_record *row,
                                       const hm_postcode_table *postcodes, hm_record *record,
                                       hm_record_problem *problem)
{
    const char *easting = field_value(row, schema->column[HM_ROLE_EASTING]);
    const char *northing = field_value(row, schema->column[HM_ROLE_NORTHING]);
    const char *lon = field_value(row, schema->column[HM_ROLE_LONGITUDE]);
    const char *lat = field_value(row, schema->column[HM_ROLE_LATITUDE]);
    const char *gridref = field_value(row, schema->column[HM_ROLE_GRIDREF]);
    const char *postcode = field_value(row, schema->column[HM_ROLE_POSTCODE]);
    hm_reject_reason reason;
    record->precision_m = 0;

    if (!is_blank(easting) || !is_blank(northing)) {
        if ((reason = hm_parse_number(easting, &record->x)) != HM_REJECT_NONE)
            return problem_at(problem, reason, "easting", "easting '%.40s' is not a number", easting);
        if ((reason = hm_parse_number(northing, &record->y)) != HM_REJECT_NONE)
            return problem_at(problem, reason, "northing", "northing '%.40s' is not a number", northing);
        if ((reason = hm_check_bng(record->x, record->y)) != HM_REJECT_NONE) {
            char pair[96];
            snprintf(pair, sizeof pair, "%.10g, %.10g", record->x, record->y);
            return problem_at(problem, reason, "easting",
                              reason == HM_REJECT_WRONG_CRS
                                  ? "easting/northing (%s) look like longitude/latitude degrees: put them in "
                                    "longitude/latitude columns"
                                  : "easting/northing (%s) are outside the British National Grid",
                              pair);
        }
        record->method = HM_METHOD_BNG;
        return HM_REJECT_NONE;
    }
    if (!is_blank(lon) || !is_blank(lat)) {
        if ((reason = hm_parse_number(lon, &record->x)) != HM_REJECT_NONE)
            return problem_at(problem, reason, "longitude", "longitude '%.40s' is not a number", lon);
        if ((reason = hm_parse_number(lat, &record->y)) != HM_REJECT_NONE)
            return problem_at(problem, reason, "latitude", "latitude '%.40s' is not a number", lat);
        if ((reason = hm_check_lonlat(record->x, record->y)) != HM_REJECT_NONE) {
            char pair[96];
            snprintf(pair, sizeof pair, "%.10g, %.10g", record->x, record->y);
            const char *message =
                reason == HM_REJECT_SWAPPED_LON_LAT
                    ? "longitude/latitude (%s) are swapped: latitude is in the longitude column"
                : reason == HM_REJECT_WRONG_CRS
                    ? "longitude/latitude (%s) look like British National Grid metres: put them in easting/"
                      "northing columns"
                    : "longitude/latitude (%s) are outside the United Kingdom";
            return problem_at(problem, reason, "longitude", message, pair);
        }
        record->method = HM_METHOD_LONLAT;
        return HM_REJECT_NONE;
    }
    if (!is_blank(gridref)) {
        if ((reason = hm_parse_gridref(gridref, &record->x, &record->y, &record->precision_m)) != HM_REJECT_NONE)
            return problem_at(problem, reason, "grid_ref",
                              "'%.40s' is not an OS grid reference (two letters and an even number of digits, "
                              "e.g. ST 58720 73010)", gridref);
        record->method = HM_METHOD_GRIDREF;
        return HM_REJECT_NONE;
    }
    if (!is_blank(postcode)) {
        char normalised[9];
        if ((reason = hm_postcode_normalise(postcode, normalised)) != HM_REJECT_NONE)
            return problem_at(problem, reason, "postcode", "'%.40s' is not a UK postcode", postcode);
        if (!postcodes)
            return problem_at(problem, HM_REJECT_UNKNOWN_POSTCODE, "postcode",
                              "postcode %s cannot be looked up: give a postcode table with --postcodes",
                              normalised);
        if (!hm_postcode_table_find(postcodes, normalised, &record->x, &record->y))
            return problem_at(problem, HM_REJECT_UNKNOWN_POSTCODE, "postcode",
                              "postcode %s is not in the postcode table (--postcodes)", normalised);
        record->method = HM_METHOD_POSTCODE;
        return HM_REJECT_NONE;
    }
    return problem_at(problem, HM_REJECT_NO_LOCATION, NULL, "%s", "the record has no location");
}

hm_reject_reason hm_record_parse(const hm_schema *schema, const hm_csv_record *row,
                                 const hm_postcode_table *postcodes, hm_record *record, hm_record_problem *problem)
{
    memset(record, 0, sizeof *record);
    problem->reason = HM_REJECT_NONE;
    problem->field = NULL;
    problem->detail[0] = '\0';
    if (row->too_long)
        return problem_at(problem, HM_REJECT_RECORD_TOO_LONG, NULL, "%s",
                          "the record is longer than the limit (--max-record-bytes)");
    if (row->field_count < schema->header_field_count) {
        char counts[64];
        snprintf(counts, sizeof counts, "%zu of %zu", row->field_count, schema->header_field_count);
        return problem_at(problem, HM_REJECT_MISSING_FIELD, NULL,
                          "the record has %s fields: a field or a delimiter is missing", counts);
    }

    record->id = field_value(row, schema->column[HM_ROLE_ID]);
    record->category = field_value(row, schema->column[HM_ROLE_CATEGORY]);
    record->location_description = field_value(row, schema->column[HM_ROLE_LOCATION_DESCRIPTION]);
    record->lsoa = field_value(row, schema->column[HM_ROLE_LSOA]);
    record->outcome = field_value(row, schema->column[HM_ROLE_OUTCOME]);
    record->ocg = field_value(row, schema->column[HM_ROLE_OCG]);

    if (schema->column[HM_ROLE_DATE] >= 0) {
        const char *date = field_value(row, schema->column[HM_ROLE_DATE]);
        if (hm_parse_date(date, &record->date) != HM_REJECT_NONE)
            return problem_at(problem, HM_REJECT_BAD_DATE, "date",
                              "date '%.40s' is not a date (YYYY-MM, YYYY-MM-DD, ISO 8601 date-time or DD/MM/YYYY)",
                              date);
        record->has_date = 1;
    }
    record->weight = 1.0;
    if (schema->column[HM_ROLE_WEIGHT] >= 0) {
        const char *weight = field_value(row, schema->column[HM_ROLE_WEIGHT]);
        /* The upper bound keeps harm (weight x category weight x multipliers) and its sums over millions of
         * records finite: 1e308 was accepted and gave an infinite harm. */
        if (hm_parse_number(weight, &record->weight) != HM_REJECT_NONE || record->weight < 0 ||
            record->weight > 1e9)
            return problem_at(problem, HM_REJECT_BAD_WEIGHT, "weight",
                              "weight '%.40s' is not a number from 0 to 1e9", weight);
    }
    if (schema->kind == HM_INPUT_INTELLIGENCE) {
        if (is_blank(record->id))
            return problem_at(problem, HM_REJECT_MISSING_FIELD, "id", "%s",
                              "intelligence record without an id");
        hm_reject_reason reason = parse_grading(schema, row, record, problem);
        if (reason != HM_REJECT_NONE) return reason;
    }
    return parse_location(schema, row, postcodes, record, problem);
}
