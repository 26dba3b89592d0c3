/* geocode.c - see geocode.h. */
#include "geocode.h"

#include "argv.h"
#include "boundaries.h"
#include "csv.h"
#include "gpkg.h"
#include "harm.h"
#include "idset.h"
#include "overlaps.h"
#include "pip.h"
#include "postcodes.h"
#include "qgis_project.h"
#include "records.h"
#include "row_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct hm_geocode_options {
    const char *output_path;
    const char *wards_source;
    const char *beats_source;
    hm_boundary_options ward_options;
    hm_boundary_options beat_options;
    const char *target_crs;
    const char *postcodes_path;
    double snap_m;
    long max_record_bytes;
    hm_string_list incident_paths;
    hm_string_list intelligence_paths;
    hm_field_names field_names;
    hm_harm_options harm;
    const char *half_life_text, *reference_date_text;
    int overlaps_checked; /* --overlaps-checked: the boundaries passed the overlap check in an earlier run */
};

static const char geocode_usage[] =
    "Usage: harmmap geocode -o OUT.gpkg --wards WARDS [--beats BEATS] [options] INPUT... [--intel FILE]...\n"
    "\n"
    "Places every incident (INPUT: data.police.uk street-level CSV or generic CSV) and intelligence record\n"
    "(--intel) in its ward and beat, and writes layers incidents, intelligence, wards, beats, rejects and the\n"
    "runs table to OUT.gpkg (replaced atomically, only when the run succeeds).\n"
    "\n"
    "Boundaries (any OGR source; a folder of data.police.uk neighbourhood KML files for beats):\n"
    "  --wards SRC, --beats SRC           ward and beat polygons\n"
    "  --ward-layer, --beat-layer NAME    layer to read (default: the first polygon layer)\n"
    "  --ward-code, --ward-name FIELD     code and name fields (default: detected, e.g. WD23CD/WD23NM)\n"
    "  --beat-code, --beat-name FIELD\n"
    "  --crs CRS                          working CRS (default EPSG:27700, British National Grid)\n"
    "Placement:\n"
    "  --snap METRES                      points outside every ward but within METRES of one go to the\n"
    "                                     nearest (default 0: kept with empty codes, flagged outside_area)\n"
    "Inputs:\n"
    "  --intel FILE                       intelligence records with 3x5x2 grading (repeatable)\n"
    "  --postcodes FILE                   postcode table (ONS Postcode Directory or Code-Point Open CSV)\n"
    "  --id-field, --date-field, --category-field, --weight-field NAME\n"
    "  --lon-field, --lat-field, --easting-field, --northing-field, --gridref-field, --postcode-field NAME\n"
    "  --source-evaluation-field, --intelligence-assessment-field, --handling-code-field, --grading-field,\n"
    "  --ocg-field NAME                   name the columns when they are not detected from the header\n"
    "  --grading-order SIH                order of the parts in a single grading column (S source evaluation,\n"
    "                                     I intelligence assessment, H handling code)\n"
    "  --max-record-bytes N               longest record accepted (default 1048576)\n"
    "  --overlaps-checked                 skip the check that no two wards (or beats) overlap: the same files\n"
    "                                     passed it in an earlier run (harmmap update says so)\n"
    "Harm (each record's harm and its parts are written in its row):\n"
    "  --harm-index cchi|css|FILE         category weights: Cambridge Crime Harm Index (default), ONS Crime\n"
    "                                     Severity Score, or a CSV table (see data/harm/README.md)\n"
    "  --grading-table FILE               intelligence grading multipliers (default data/harm/grading.csv)\n"
    "  --ocg-table FILE                   organised crime group scores (ocg_ref,score) multiplying harm\n"
    "  --half-life DAYS[d]                recency decay 0.5^(age / half-life) back from --reference-date\n"
    "  --reference-date YYYY-MM-DD        the date ages are measured from (required with --half-life)\n"
    "  --exclude-proactive                proactively found categories (drugs, weapons) get harm 0, as in\n"
    "                                     the original Cambridge method\n"
    "  -q                                 quiet: no summary\n";

void hm_geocode_options_free(hm_geocode_options *options)
{
    if (!options) return;
    hm_string_list_free(&options->incident_paths);
    hm_string_list_free(&options->intelligence_paths);
    free(options);
}

/* --half-life 180 or 180d (days), with a --reference-date to measure ages from. */
static int parse_recency(hm_ctx *ctx, hm_geocode_options *options)
{
    if (!options->half_life_text) {
        if (options->reference_date_text)
            return hm_error(ctx, HM_EINVAL, "--reference-date is only used with --half-life: give both or neither");
        return HM_OK;
    }
    char number[64];
    snprintf(number, sizeof number, "%s", options->half_life_text);
    size_t length = strlen(number);
    if (length > 0 && (number[length - 1] == 'd' || number[length - 1] == 'D')) number[length - 1] = '\0';
    int status = hm_arg_double(ctx, "--half-life", number, &options->harm.half_life_days);
    if (status != HM_OK) return status;
    if (options->harm.half_life_days <= 0)
        return hm_error(ctx, HM_EINVAL, "--half-life %s: give a positive number of days, e.g. 180d",
                        options->half_life_text);
    if (!options->reference_date_text)
        return hm_error(ctx, HM_EINVAL, "--half-life needs --reference-date YYYY-MM-DD, the date ages are "
                        "measured from (usually the end of the period analysed)");
    hm_date reference;
    if (hm_parse_date(options->reference_date_text, &reference) != HM_REJECT_NONE)
        return hm_error(ctx, HM_EINVAL, "--reference-date %s: not a date (YYYY-MM-DD)", options->reference_date_text);
    options->harm.reference_days = reference.days_since_epoch;
    return HM_OK;
}

static const char *input_path_at(const hm_geocode_options *options, size_t index)
{
    if (index < options->incident_paths.count) return options->incident_paths.items[index];
    return options->intelligence_paths.items[index - options->incident_paths.count];
}

int hm_geocode_options_new(hm_ctx *ctx, int argc, char **argv, hm_geocode_options **out)
{
    *out = NULL;
    hm_geocode_options *options = calloc(1, sizeof *options);
    if (!options) return hm_error(ctx, HM_ENOMEM, "out of memory");
    options->ward_options.kind = "ward";
    options->beat_options.kind = "beat";
    options->target_crs = "EPSG:27700";
    options->max_record_bytes = 1 << 20;

    int status = HM_OK;
    for (int i = 1; i < argc && status == HM_OK; i++) {
        const char *value = NULL;
        const char *arg = argv[i];
        int matched = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(geocode_usage, stdout);
            hm_geocode_options_free(options);
            return HM_OK;
        }
        if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            hm_ctx_set_verbosity(ctx, HM_QUIET);
            continue;
        }
        if (strcmp(arg, "--exclude-proactive") == 0) {
            options->harm.exclude_proactive = 1;
            continue;
        }
        if (strcmp(arg, "--overlaps-checked") == 0) {
            options->overlaps_checked = 1;
            continue;
        }
        if (strcmp(arg, "--verbose") == 0) {
            hm_ctx_set_verbosity(ctx, HM_VERBOSE);
            continue;
        }
#define STRING_OPTION(name, target)                                                                           \
    if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, name, &value)) == 1) target = value;
        STRING_OPTION("-o", options->output_path)
        STRING_OPTION("--output", options->output_path)
        STRING_OPTION("--wards", options->wards_source)
        STRING_OPTION("--beats", options->beats_source)
        STRING_OPTION("--ward-layer", options->ward_options.layer_name)
        STRING_OPTION("--beat-layer", options->beat_options.layer_name)
        STRING_OPTION("--ward-code", options->ward_options.code_field)
        STRING_OPTION("--ward-name", options->ward_options.name_field)
        STRING_OPTION("--beat-code", options->beat_options.code_field)
        STRING_OPTION("--beat-name", options->beat_options.name_field)
        STRING_OPTION("--crs", options->target_crs)
        STRING_OPTION("--postcodes", options->postcodes_path)
        STRING_OPTION("--grading-order", options->field_names.grading_order)
        STRING_OPTION("--harm-index", options->harm.index)
        STRING_OPTION("--grading-table", options->harm.grading_table)
        STRING_OPTION("--ocg-table", options->harm.ocg_table)
        STRING_OPTION("--half-life", options->half_life_text)
        STRING_OPTION("--reference-date", options->reference_date_text)
#undef STRING_OPTION
        if (matched < 0) {
            status = matched;
            break;
        }
        if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--intel", &value)) == 1)
            status = hm_string_list_push(ctx, &options->intelligence_paths, value);
        if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--snap", &value)) == 1) {
            status = hm_arg_double(ctx, "--snap", value, &options->snap_m);
            if (status == HM_OK && options->snap_m < 0)
                status = hm_error(ctx, HM_EINVAL, "--snap %s: the distance must be zero or more metres", value);
        }
        if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--max-record-bytes", &value)) == 1) {
            status = hm_arg_long(ctx, "--max-record-bytes", value, &options->max_record_bytes);
            if (status == HM_OK && options->max_record_bytes < 64)
                status = hm_error(ctx, HM_EINVAL, "--max-record-bytes %s: give at least 64", value);
        }
        for (int role = 0; role < HM_ROLE_COUNT && !matched; role++) {
            char name[64];
            snprintf(name, sizeof name, "--%s-field", hm_role_name((hm_role)role));
            if ((matched = hm_arg_value(ctx, argc, argv, &i, name, &value)) == 1)
                options->field_names.names[role] = value;
        }
        if (matched < 0) {
            status = matched;
            break;
        }
        if (matched) continue;
        if (arg[0] == '-' && arg[1] != '\0') {
            status = hm_error(ctx, HM_EINVAL, "unknown option '%s' (see 'harmmap help geocode')", arg);
            break;
        }
        status = hm_string_list_push(ctx, &options->incident_paths, arg);
    }
    if (status == HM_OK && !options->output_path)
        status = hm_error(ctx, HM_EINVAL, "no output: give -o OUT.gpkg (see 'harmmap help geocode')");
    if (status == HM_OK && !options->wards_source)
        status = hm_error(ctx, HM_EINVAL, "no wards: give --wards with a boundary file (see 'harmmap help geocode')");
    if (status == HM_OK && options->incident_paths.count == 0 && options->intelligence_paths.count == 0)
        status = hm_error(ctx, HM_EINVAL, "no inputs: give incident CSV files and/or --intel FILE");
    /* The same file twice would double its records; ids would only catch it in some formats. */
    for (size_t i = 0; status == HM_OK && i < options->incident_paths.count + options->intelligence_paths.count; i++)
        for (size_t j = 0; status == HM_OK && j < i; j++) {
            const char *a = input_path_at(options, i), *b = input_path_at(options, j);
            if (strcmp(a, b) == 0)
                status = hm_error(ctx, HM_EINVAL, "%s is given twice as an input: give each file once", a);
        }
    if (status == HM_OK) status = parse_recency(ctx, options);
    const char *order = options->field_names.grading_order;
    if (status == HM_OK && order &&
        (strlen(order) != 3 || !strchr(order, 'S') || !strchr(order, 'I') || !strchr(order, 'H')))
        status = hm_error(ctx, HM_EINVAL, "--grading-order %s: give the letters S, I and H once each, e.g. SIH",
                          order);
    if (status != HM_OK) {
        hm_geocode_options_free(options);
        return status;
    }
    *out = options;
    return HM_OK;
}

/* ---- output layers ---- */

/* The harm columns, the same in both point layers (harm.h explains each part). */
enum { HARM_VALUE, HARM_BASE, HARM_GRADING, HARM_OCG, HARM_RECENCY, HARM_FLAG, HARM_FIELD_COUNT };
#define HARM_FIELDS                                                                                           \
    {"harm", HM_FIELD_REAL, "Harm of the record: harm_base x the three multipliers x weight"},                \
    {"harm_base", HM_FIELD_REAL, "Weight of the category in the harm index (see the runs table for which)"},  \
    {"harm_grading_multiplier", HM_FIELD_REAL, "Confidence from the 3x5x2 grading (1 for incidents)"},       \
    {"harm_ocg_multiplier", HM_FIELD_REAL, "Organised crime group score multiplier (1 when none)"},           \
    {"harm_recency_multiplier", HM_FIELD_REAL, "Recency decay 0.5^(age/half-life) (1 when no half-life)"},    \
    {"harm_flag", HM_FIELD_TEXT, "Why harm is 0 or a part fell back to 1: unknown_category, no_weight, "        \
                                 "proactive_excluded, bad_grading, unknown_ocg, no_date, after_reference"}

enum {
    INCIDENT_RECORD_ID, INCIDENT_SOURCE_FILE, INCIDENT_SOURCE_LINE, INCIDENT_DATE, INCIDENT_CATEGORY,
    INCIDENT_WEIGHT, INCIDENT_LOCATION_METHOD, INCIDENT_LOCATION_PRECISION, INCIDENT_LOCATION_DESCRIPTION,
    INCIDENT_LSOA, INCIDENT_OUTCOME, INCIDENT_WARD_CODE, INCIDENT_WARD_NAME, INCIDENT_BEAT_CODE,
    INCIDENT_BEAT_NAME, INCIDENT_PLACEMENT, INCIDENT_SNAP_DISTANCE, INCIDENT_REPEATED_ID, INCIDENT_HARM,
    INCIDENT_FIELD_COUNT = INCIDENT_HARM + HARM_FIELD_COUNT
};
static const hm_gpkg_field incident_fields[INCIDENT_FIELD_COUNT] = {
    {"record_id", HM_FIELD_TEXT, "Record id from the input (data.police.uk Crime ID); empty for anti-social behaviour"},
    {"source_file", HM_FIELD_TEXT, "Input file the record was read from"},
    {"source_line", HM_FIELD_INTEGER, "Line of the input file where the record starts (1 is the header)"},
    {"date", HM_FIELD_TEXT, "Date of the record, ISO 8601: YYYY-MM for data.police.uk months, else YYYY-MM-DD"},
    {"category", HM_FIELD_TEXT, "Crime category (data.police.uk Crime type) or offence group"},
    {"weight", HM_FIELD_REAL, "Weight given in the input (1 when the input has none)"},
    {"location_method", HM_FIELD_TEXT, "How the location was given: easting_northing, lon_lat, grid_reference, postcode"},
    {"location_precision_m", HM_FIELD_REAL, "Side of the square a grid reference names, in metres (0 for coordinates)"},
    {"location_description", HM_FIELD_TEXT, "data.police.uk location text (On or near ...)"},
    {"lsoa_code", HM_FIELD_TEXT, "LSOA code given in the input"},
    {"outcome", HM_FIELD_TEXT, "Last outcome category given in the input"},
    {"ward_code", HM_FIELD_TEXT, "Code of the ward containing the point (empty when outside the area)"},
    {"ward_name", HM_FIELD_TEXT, "Name of the ward"},
    {"beat_code", HM_FIELD_TEXT, "Code of the police beat (neighbourhood) containing the point"},
    {"beat_name", HM_FIELD_TEXT, "Name of the police beat"},
    {"placement", HM_FIELD_TEXT, "inside: within a ward; snapped: moved to the nearest ward within --snap; outside_area"},
    {"snap_distance_m", HM_FIELD_REAL, "Distance to the ward it was snapped to, metres (0 when inside)"},
    {"repeated_id", HM_FIELD_INTEGER, "1 when a data.police.uk Crime ID appeared on an earlier row of this run "
                                      "(one crime at several places or victims; kept)"},
    HARM_FIELDS,
};

enum {
    INTEL_RECORD_ID, INTEL_SOURCE_FILE, INTEL_SOURCE_LINE, INTEL_DATE, INTEL_CATEGORY, INTEL_WEIGHT,
    INTEL_SOURCE_EVALUATION, INTEL_INTELLIGENCE_ASSESSMENT, INTEL_HANDLING_CODE, INTEL_GRADING, INTEL_OCG,
    INTEL_LOCATION_METHOD, INTEL_LOCATION_PRECISION, INTEL_WARD_CODE, INTEL_WARD_NAME, INTEL_BEAT_CODE,
    INTEL_BEAT_NAME, INTEL_PLACEMENT, INTEL_SNAP_DISTANCE, INTEL_HARM,
    INTEL_FIELD_COUNT = INTEL_HARM + HARM_FIELD_COUNT
};
static const hm_gpkg_field intel_fields[INTEL_FIELD_COUNT] = {
    {"record_id", HM_FIELD_TEXT, "Intelligence record id"},
    {"source_file", HM_FIELD_TEXT, "Input file the record was read from"},
    {"source_line", HM_FIELD_INTEGER, "Line of the input file where the record starts (1 is the header)"},
    {"date", HM_FIELD_TEXT, "Date of the report, ISO 8601"},
    {"category", HM_FIELD_TEXT, "Intelligence category"},
    {"weight", HM_FIELD_REAL, "Weight given in the input (1 when the input has none)"},
    {"source_evaluation", HM_FIELD_INTEGER, "3x5x2 source evaluation: 1 reliable, 2 untested, 3 not reliable"},
    {"intelligence_assessment", HM_FIELD_INTEGER, "3x5x2 intelligence assessment 1 (A, known directly) to 5 (E, suspected false)"},
    {"handling_code", HM_FIELD_TEXT, "3x5x2 handling code: P lawful sharing permitted, C sharing with conditions"},
    {"grading", HM_FIELD_TEXT, "The grading as written in the input (source, intelligence, handling)"},
    {"ocg_ref", HM_FIELD_TEXT, "Organised crime group reference, when given"},
    {"location_method", HM_FIELD_TEXT, "How the location was given: easting_northing, lon_lat, grid_reference, postcode"},
    {"location_precision_m", HM_FIELD_REAL, "Side of the square a grid reference names, in metres (0 for coordinates)"},
    {"ward_code", HM_FIELD_TEXT, "Code of the ward containing the point (empty when outside the area)"},
    {"ward_name", HM_FIELD_TEXT, "Name of the ward"},
    {"beat_code", HM_FIELD_TEXT, "Code of the police beat (neighbourhood) containing the point"},
    {"beat_name", HM_FIELD_TEXT, "Name of the police beat"},
    {"placement", HM_FIELD_TEXT, "inside, snapped (within --snap of a ward) or outside_area"},
    {"snap_distance_m", HM_FIELD_REAL, "Distance to the ward it was snapped to, metres (0 when inside)"},
    HARM_FIELDS,
};

enum { REJECT_SOURCE_FILE, REJECT_SOURCE_LINE, REJECT_KIND, REJECT_REASON, REJECT_FIELD, REJECT_DETAIL, REJECT_RAW,
       REJECT_FIELD_COUNT };
static const hm_gpkg_field reject_fields[REJECT_FIELD_COUNT] = {
    {"source_file", HM_FIELD_TEXT, "Input file of the rejected record"},
    {"source_line", HM_FIELD_INTEGER, "Line where the rejected record starts"},
    {"kind", HM_FIELD_TEXT, "incidents or intelligence"},
    {"reason", HM_FIELD_TEXT, "Reason code: no_location, bad_number, bad_coordinate, swapped_lon_lat, wrong_crs, "
                              "bad_gridref, bad_postcode, unknown_postcode, bad_date, bad_weight, bad_grading, "
                              "duplicate_id, missing_field, record_too_long, transform_failed"},
    {"field", HM_FIELD_TEXT, "The field at fault, when one is"},
    {"detail", HM_FIELD_TEXT, "What is wrong and what to do"},
    {"raw", HM_FIELD_TEXT, "The record as it was in the file"},
};

enum { BOUNDARY_CODE, BOUNDARY_NAME, BOUNDARY_AREA, BOUNDARY_FIELD_COUNT };

enum { RUN_STARTED, RUN_VERSION, RUN_INPUT, RUN_KIND, RUN_FORMAT, RUN_READ, RUN_PLACED, RUN_OUTSIDE, RUN_REJECTED,
       RUN_NO_BEAT, RUN_SNAPPED, RUN_REPEATED_IDS, RUN_TRANSFORMATION, RUN_HARM_MODEL, RUN_FIELD_COUNT };
static const hm_gpkg_field run_fields[RUN_FIELD_COUNT] = {
    {"run_started", HM_FIELD_TEXT, "When the run started (UTC)"},
    {"harmmap_version", HM_FIELD_TEXT, "harmmap and library versions"},
    {"input", HM_FIELD_TEXT, "Input file"},
    {"kind", HM_FIELD_TEXT, "incidents or intelligence"},
    {"format", HM_FIELD_TEXT, "Recognised format: police.uk, police.uk-legacy, generic, intelligence"},
    {"records_read", HM_FIELD_INTEGER, "Records read (header excluded); = placed + outside_area + rejected"},
    {"placed", HM_FIELD_INTEGER, "Records placed in a ward (inside or snapped)"},
    {"outside_area", HM_FIELD_INTEGER, "Records kept with empty codes: outside every ward"},
    {"rejected", HM_FIELD_INTEGER, "Records written to the rejects table"},
    {"no_beat", HM_FIELD_INTEGER, "Placed records outside every beat (beat code empty)"},
    {"snapped", HM_FIELD_INTEGER, "Placed records moved to a ward within --snap"},
    {"repeated_ids", HM_FIELD_INTEGER, "data.police.uk rows whose Crime ID appeared earlier (kept, flagged)"},
    {"transformation", HM_FIELD_TEXT, "PROJ transformation used for longitude/latitude inputs"},
    {"harm_model", HM_FIELD_TEXT, "Harm index, grading and OCG tables and recency decay used for the harm columns"},
};

/* ---- the run ---- */

typedef struct geocode_run {
    hm_ctx *ctx;
    const hm_geocode_options *options;
    hm_boundary_set *wards, *beats;
    hm_pip_index *ward_index, *beat_index;
    hm_postcode_table *postcodes;
    hm_harm_model *harm;
    PJ *lonlat_to_target; /* WGS84 lon/lat -> working CRS */
    PJ *bng_to_target;    /* EPSG:27700 -> working CRS, NULL when the working CRS is British National Grid */
    char transformation[512];
    hm_gpkg *gpkg;
    hm_gpkg_layer *incidents, *intelligence, *rejects, *runs;
    hm_row_writer *writer; /* all inserts while records stream go through the background writer */
    hm_idset *ids[2]; /* record ids seen, per kind */
    char started[32];
} geocode_run;

typedef struct input_counts {
    hm_geocode_counts counts;
    long long no_beat, snapped, repeated_ids;
    long long by_reason[HM_REJECT_REASON_COUNT];
} input_counts;

static hm_value text_value(const char *text)
{
    hm_value value = {0};
    value.is_null = text == NULL;
    value.as.text = text;
    return value;
}

static hm_value optional_text(const char *text)
{
    return text_value(text && *text ? text : NULL);
}

static hm_value integer_value(long long integer)
{
    hm_value value = {0};
    value.as.integer = integer;
    return value;
}

static hm_value real_value(double real)
{
    hm_value value = {0};
    value.as.real = real;
    return value;
}

static int srs_epsg_of(hm_ctx *ctx, const char *crs, int *epsg)
{
    PJ *object = proj_create(hm_ctx_proj(ctx), crs);
    if (!object) return hm_error(ctx, HM_EPROJ, "--crs %s: PROJ does not know this CRS (give e.g. EPSG:27700)", crs);
    const char *authority = proj_get_id_auth_name(object, 0);
    const char *code = proj_get_id_code(object, 0);
    int status = HM_OK;
    if (!authority || strcmp(authority, "EPSG") != 0 || !code)
        status = hm_error(ctx, HM_EINVAL, "--crs %s: give the working CRS as an EPSG code (e.g. EPSG:27700)", crs);
    else
        *epsg = atoi(code);
    proj_destroy(object);
    return status;
}

static int create_transforms(geocode_run *run)
{
    hm_ctx *ctx = run->ctx;
    PJ_CONTEXT *proj = hm_ctx_proj(ctx);
    const char *target = run->options->target_crs;
    PJ *raw = proj_create_crs_to_crs(proj, "EPSG:4326", target, NULL);
    if (!raw) return hm_error(ctx, HM_EPROJ, "PROJ cannot transform WGS84 to %s", target);
    run->lonlat_to_target = proj_normalize_for_visualization(proj, raw);
    proj_destroy(raw);
    if (!run->lonlat_to_target) return hm_error(ctx, HM_EPROJ, "PROJ cannot order the axes of WGS84 to %s", target);
    /* Debian's proj-data has no OSTN15 grid: PROJ falls back to a Helmert transformation (about 2 m error),
     * the same in GDAL, SpatiaLite and QGIS here. The description of what was used goes in the runs table.
     * PROJ picks among candidate operations per point, so ask which it used for a point in Great Britain. */
    proj_trans(run->lonlat_to_target, PJ_FWD, proj_coord(-2.0, 53.0, 0, 0));
    PJ *used = proj_trans_get_last_used_operation(run->lonlat_to_target);
    PJ_PROJ_INFO info = proj_pj_info(used ? used : run->lonlat_to_target);
    const char *description = info.description ? info.description : "unknown";
    if (info.accuracy >= 0)
        snprintf(run->transformation, sizeof run->transformation, "%s (accuracy %.3g m)", description,
                 info.accuracy);
    else
        snprintf(run->transformation, sizeof run->transformation, "%s (accuracy unknown)", description);
    proj_destroy(used);
    if (strcasecmp(target, "EPSG:27700") != 0) {
        raw = proj_create_crs_to_crs(proj, "EPSG:27700", target, NULL);
        if (!raw) return hm_error(ctx, HM_EPROJ, "PROJ cannot transform British National Grid to %s", target);
        run->bng_to_target = proj_normalize_for_visualization(proj, raw);
        proj_destroy(raw);
        if (!run->bng_to_target) return hm_error(ctx, HM_EPROJ, "PROJ cannot order the axes of EPSG:27700 to %s", target);
    }
    return HM_OK;
}

static int to_working_crs(PJ *transform, double *x, double *y)
{
    if (!transform) return 1;
    PJ_COORD coordinate = proj_coord(*x, *y, 0, 0);
    coordinate = proj_trans(transform, PJ_FWD, coordinate);
    if (coordinate.xy.x == HUGE_VAL || !isfinite(coordinate.xy.x) || !isfinite(coordinate.xy.y)) return 0;
    *x = coordinate.xy.x;
    *y = coordinate.xy.y;
    return 1;
}

static int write_boundaries(geocode_run *run, const char *layer_name, const char *description,
                            const hm_boundary_set *set, const char *kind)
{
    char code_field[32], name_field[32], code_description[96], name_description[96];
    snprintf(code_field, sizeof code_field, "%s_code", kind);
    snprintf(name_field, sizeof name_field, "%s_name", kind);
    snprintf(code_description, sizeof code_description, "%s code (from field %s of %s)", kind,
             hm_boundaries_code_field(set), hm_boundaries_source(set));
    snprintf(name_description, sizeof name_description, "%s name", kind);
    hm_gpkg_field fields[BOUNDARY_FIELD_COUNT] = {
        {code_field, HM_FIELD_TEXT, code_description},
        {name_field, HM_FIELD_TEXT, name_description},
        {"area_km2", HM_FIELD_REAL, "Area in square kilometres, in the working CRS"},
    };
    hm_gpkg_layer *layer = NULL;
    int status = hm_gpkg_add_layer(run->gpkg, layer_name, description, HM_GEOMETRY_MULTIPOLYGON, fields,
                                   BOUNDARY_FIELD_COUNT, &layer);
    GEOSContextHandle_t geos = hm_ctx_geos(run->ctx);
    for (size_t i = 0; status == HM_OK && i < hm_boundaries_count(set); i++) {
        double area = 0;
        GEOSArea_r(geos, hm_boundaries_geometry(set, i), &area);
        hm_value values[BOUNDARY_FIELD_COUNT] = {optional_text(hm_boundaries_code(set, i)),
                                                 optional_text(hm_boundaries_name(set, i)),
                                                 real_value(area / 1e6)};
        status = hm_gpkg_insert_geometry(layer, hm_boundaries_geometry(set, i), geos, values);
    }
    return status;
}

static int write_reject(geocode_run *run, const char *path, const hm_csv_record *row, hm_input_kind kind,
                        const hm_record_problem *problem)
{
    hm_value values[REJECT_FIELD_COUNT] = {
        text_value(path), integer_value((long long)row->line),
        text_value(kind == HM_INPUT_INTELLIGENCE ? "intelligence" : "incidents"),
        text_value(hm_reject_reason_code(problem->reason)), optional_text(problem->field),
        text_value(problem->detail), text_value(row->raw)};
    return hm_row_writer_queue(run->writer, run->rejects, reject_fields, REJECT_FIELD_COUNT, 0, 0, 0, values);
}

/* Returns 1 when the record repeats an id seen earlier in this run (of the same kind), 0 when new, <0 on
 * failure. In generic and intelligence files the id is the user's key and a repeat is rejected. data.police.uk
 * files legitimately repeat themselves: anti-social behaviour rows have no Crime ID, so two incidents at the
 * same street point in one month are identical rows (231 such rows in Avon and Somerset's January 2023 file,
 * 4,466 in West Midlands' February 2011 file), and a Crime ID recurs on rows for other places or victims (43
 * ids). Those rows are all kept, as data.police.uk counts them; a recurring Crime ID is flagged in
 * `repeated_id` and counted in the summary. */
static int seen_before(geocode_run *run, hm_input_kind kind, const hm_record *record)
{
    if (!record->id || !*record->id) return 0;
    int fresh = hm_idset_insert(run->ids[kind], record->id, strlen(record->id));
    if (fresh < 0) return hm_error(run->ctx, HM_ENOMEM, "out of memory remembering record ids");
    return fresh == 0;
}

#define HARM_VALUES(parts)                                                                                    \
    real_value((parts).harm), real_value((parts).base), real_value((parts).grading_multiplier),                 \
        real_value((parts).ocg_multiplier), real_value((parts).recency_multiplier),                             \
        optional_text(hm_harm_flag_code((parts).flag))

/* Where a point falls: its ward and beat (-1 when none), and whether --snap moved it into the ward. */
typedef struct placement {
    long ward, beat;
    int snapped;
    double snap_distance;
} placement;

static placement locate(const geocode_run *run, double x, double y)
{
    placement where = {-1, -1, 0, 0};
    double snap_m = run->options->snap_m;
    where.ward = hm_pip_index_locate(run->ward_index, x, y);
    if (where.ward < 0 && snap_m > 0) {
        where.ward = hm_pip_index_nearest(run->ward_index, x, y, snap_m, &where.snap_distance);
        where.snapped = where.ward >= 0;
        if (!where.snapped) where.snap_distance = 0;
    }
    if (run->beat_index) {
        where.beat = hm_pip_index_locate(run->beat_index, x, y);
        /* A point snapped into a ward may lie outside the beats too: the same tolerance applies. */
        if (where.beat < 0 && where.ward >= 0 && snap_m > 0)
            where.beat = hm_pip_index_nearest(run->beat_index, x, y, snap_m, NULL);
    }
    return where;
}

static int process_input(geocode_run *run, const char *path, hm_input_kind kind, input_counts *counts,
                         hm_input_format *format)
{
    hm_ctx *ctx = run->ctx;
    hm_csv_options csv_options = {',', (size_t)run->options->max_record_bytes};
    hm_csv_reader *reader = NULL;
    int status = hm_csv_open(ctx, path, &csv_options, &reader);
    if (status != HM_OK) return status;

    hm_csv_record row;
    int got = hm_csv_next(reader, &row);
    if (got <= 0) {
        hm_csv_close(reader);
        if (got < 0) return got;
        hm_warn(ctx, "%s: the file is empty (no header): nothing read", path);
        *format = HM_FORMAT_GENERIC;
        return HM_OK;
    }
    /* A header that is too long or holds control bytes means the file is not a CSV of records: say so, rather
     * than list its "columns" (binary bytes, possibly terminal escape sequences) in the message. */
    size_t control = 0;
    while (control < row.raw_length && ((unsigned char)row.raw[control] >= 0x20 || row.raw[control] == '\t' ||
                                        row.raw[control] == '\r' || row.raw[control] == '\n') &&
           row.raw[control] != 0x7f)
        control++;
    if (row.too_long || control < row.raw_length) {
        unsigned char byte = control < row.raw_length ? (unsigned char)row.raw[control] : 0; /* row dies with reader */
        hm_csv_close(reader);
        if (row.too_long)
            return hm_error(ctx, HM_EFORMAT, "%s:1: the header is longer than %ld bytes (--max-record-bytes): this "
                            "is not a CSV file of records; check the file", path, run->options->max_record_bytes);
        return hm_error(ctx, HM_EFORMAT, "%s:1: the header holds a control byte (0x%02x at byte %zu): this is not a "
                        "CSV text file; check the file", path, byte, control + 1);
    }
    hm_schema schema;
    status = hm_schema_detect(ctx, path, &row, kind, &run->options->field_names, &schema);
    if (status != HM_OK) {
        hm_csv_close(reader);
        return status;
    }
    *format = schema.format;
    if (schema.column[HM_ROLE_DATE] < 0)
        hm_warn(ctx, "%s: no date column: dates are left empty (name it with --date-field)", path);

    int police_uk = schema.format == HM_FORMAT_POLICE_UK || schema.format == HM_FORMAT_POLICE_UK_LEGACY;
    char date_text[32];
    hm_record record;
    hm_record_problem problem;
    while (status == HM_OK && (got = hm_csv_next(reader, &row)) > 0) {
        counts->counts.read++;
        hm_reject_reason reason = hm_record_parse(&schema, &row, run->postcodes, &record, &problem);
        int repeated = 0;
        if (reason == HM_REJECT_NONE) {
            repeated = seen_before(run, kind, &record);
            if (repeated < 0) {
                status = repeated;
                break;
            }
            if (repeated && !police_uk) {
                reason = problem.reason = HM_REJECT_DUPLICATE_ID;
                problem.field = "id";
                snprintf(problem.detail, sizeof problem.detail,
                         "record id '%.80s' was read earlier in this run: ids must be unique", record.id);
            } else if (repeated) {
                counts->repeated_ids++;
            }
        }
        if (reason == HM_REJECT_NONE) {
            PJ *transform = record.method == HM_METHOD_LONLAT ? run->lonlat_to_target : run->bng_to_target;
            if (!to_working_crs(transform, &record.x, &record.y)) {
                reason = problem.reason = HM_REJECT_TRANSFORM_FAILED;
                problem.field = NULL;
                snprintf(problem.detail, sizeof problem.detail, "PROJ could not transform the point to %s",
                         run->options->target_crs);
            }
        }
        if (reason != HM_REJECT_NONE) {
            counts->counts.rejected++;
            counts->by_reason[reason]++;
            status = write_reject(run, path, &row, kind, &problem);
            continue;
        }

        placement where = locate(run, record.x, record.y);
        if (where.ward < 0) {
            counts->counts.outside++;
        } else {
            counts->counts.placed++;
            if (where.snapped) counts->snapped++;
            if (where.beat < 0) counts->no_beat++;
        }
        long ward = where.ward, beat = where.beat;
        const char *placement = where.ward < 0 ? "outside_area" : where.snapped ? "snapped" : "inside";
        double snap_distance = where.snap_distance;
        const char *ward_code = ward >= 0 ? hm_boundaries_code(run->wards, (size_t)ward) : NULL;
        const char *ward_name = ward >= 0 ? hm_boundaries_name(run->wards, (size_t)ward) : NULL;
        const char *beat_code = beat >= 0 ? hm_boundaries_code(run->beats, (size_t)beat) : NULL;
        const char *beat_name = beat >= 0 ? hm_boundaries_name(run->beats, (size_t)beat) : NULL;
        hm_harm_input harm_input = {record.category, kind == HM_INPUT_INTELLIGENCE, record.source_evaluation,
                                    record.intelligence_assessment, record.ocg, record.has_date,
                                    record.date.days_since_epoch, record.weight};
        hm_harm_parts harm;
        hm_harm_model_weigh(run->harm, &harm_input, &harm);
        hm_value date = {0};
        if (record.has_date) {
            hm_date_format(&record.date, date_text, sizeof date_text);
            date = text_value(date_text);
        } else {
            date.is_null = 1;
        }
        if (kind == HM_INPUT_INCIDENTS) {
            hm_value values[INCIDENT_FIELD_COUNT] = {
                optional_text(record.id), text_value(path), integer_value((long long)row.line), date,
                optional_text(record.category), real_value(record.weight),
                text_value(hm_location_method_name(record.method)), real_value(record.precision_m),
                optional_text(record.location_description), optional_text(record.lsoa),
                optional_text(record.outcome), optional_text(ward_code), optional_text(ward_name),
                optional_text(beat_code), optional_text(beat_name), text_value(placement),
                real_value(snap_distance), integer_value(repeated), HARM_VALUES(harm)};
            status = hm_row_writer_queue(run->writer, run->incidents, incident_fields, INCIDENT_FIELD_COUNT, 1,
                                         record.x, record.y, values);
        } else {
            hm_value values[INTEL_FIELD_COUNT] = {
                optional_text(record.id), text_value(path), integer_value((long long)row.line), date,
                optional_text(record.category), real_value(record.weight),
                integer_value(record.source_evaluation), integer_value(record.intelligence_assessment),
                text_value(record.handling_code == 'P' ? "P" : "C"), text_value(record.grading),
                optional_text(record.ocg), text_value(hm_location_method_name(record.method)),
                real_value(record.precision_m), optional_text(ward_code), optional_text(ward_name),
                optional_text(beat_code), optional_text(beat_name), text_value(placement),
                real_value(snap_distance), HARM_VALUES(harm)};
            status = hm_row_writer_queue(run->writer, run->intelligence, intel_fields, INTEL_FIELD_COUNT, 1,
                                         record.x, record.y, values);
        }
    }
    if (status == HM_OK && got < 0) status = got;
    hm_csv_close(reader);
    return status;
}

static int write_run_row(geocode_run *run, const char *path, hm_input_kind kind, hm_input_format format,
                         const input_counts *counts)
{
    char version[320];
    char libraries[256];
    hm_library_versions(libraries, sizeof libraries);
    snprintf(version, sizeof version, "harmmap %s (%s)", hm_version(), libraries);
    hm_value values[RUN_FIELD_COUNT] = {
        text_value(run->started), text_value(version), text_value(path),
        text_value(kind == HM_INPUT_INTELLIGENCE ? "intelligence" : "incidents"),
        text_value(hm_input_format_name(format)), integer_value(counts->counts.read),
        integer_value(counts->counts.placed), integer_value(counts->counts.outside),
        integer_value(counts->counts.rejected), integer_value(counts->no_beat), integer_value(counts->snapped),
        integer_value(counts->repeated_ids), text_value(run->transformation),
        text_value(hm_harm_model_description(run->harm))};
    return hm_row_writer_queue(run->writer, run->runs, run_fields, RUN_FIELD_COUNT, 0, 0, 0, values);
}

static void print_counts(const char *path, hm_input_format format, const input_counts *counts)
{
    printf("%-44s %-16s %9lld %9lld %9lld %9lld\n", path, hm_input_format_name(format), counts->counts.read,
           counts->counts.placed, counts->counts.outside, counts->counts.rejected);
    if (counts->repeated_ids)
        printf("    kept, Crime ID repeated      %9lld\n", counts->repeated_ids);
    for (int reason = 1; reason < HM_REJECT_REASON_COUNT; reason++)
        if (counts->by_reason[reason])
            printf("    rejected %-20s %9lld\n", hm_reject_reason_code((hm_reject_reason)reason),
                   counts->by_reason[reason]);
}

static int open_inputs(geocode_run *run)
{
    hm_ctx *ctx = run->ctx;
    const hm_geocode_options *options = run->options;
    hm_boundary_options ward_options = options->ward_options;
    hm_boundary_options beat_options = options->beat_options;
    ward_options.target_crs = beat_options.target_crs = options->target_crs;
    int status = hm_boundaries_load(ctx, options->wards_source, &ward_options, &run->wards);
    if (status != HM_OK) return hm_error_prefix(ctx, "--wards %s", options->wards_source);
    if (hm_boundaries_count(run->wards) == 0)
        return hm_error(ctx, HM_EFORMAT, "--wards %s: no polygons in the layer", options->wards_source);
    /* The check costs half of geocoding a week's records against 400 wards: an update skips it when the run it
     * continues made it on the same files. */
    if (!options->overlaps_checked)
        status = hm_boundaries_check_overlaps(ctx, run->wards, "--wards", options->wards_source, NULL);
    if (status != HM_OK) return status;
    status = hm_pip_index_build(ctx, run->wards, &run->ward_index);
    if (status != HM_OK) return status;
    if (options->beats_source) {
        status = hm_boundaries_load(ctx, options->beats_source, &beat_options, &run->beats);
        if (status != HM_OK) return hm_error_prefix(ctx, "--beats %s", options->beats_source);
        if (!options->overlaps_checked)
            status = hm_boundaries_check_overlaps(ctx, run->beats, "--beats", options->beats_source, NULL);
        if (status != HM_OK) return status;
        status = hm_pip_index_build(ctx, run->beats, &run->beat_index);
        if (status != HM_OK) return status;
    }
    if (options->postcodes_path) {
        status = hm_postcode_table_load(ctx, options->postcodes_path, &run->postcodes);
        if (status != HM_OK) return hm_error_prefix(ctx, "--postcodes %s", options->postcodes_path);
    }
    status = hm_harm_model_load(ctx, &options->harm, &run->harm);
    if (status != HM_OK) return status;
    return create_transforms(run);
}

static int create_output(geocode_run *run)
{
    int epsg = 27700;
    int status = srs_epsg_of(run->ctx, run->options->target_crs, &epsg);
    /* Intelligence is sensitive: a GeoPackage holding it is readable by its owner only. */
    hm_gpkg_options gpkg_options = {0};
    gpkg_options.srs_epsg = epsg;
    gpkg_options.owner_only = run->options->intelligence_paths.count > 0;
    if (status == HM_OK)
        status = hm_gpkg_create_with_options(run->ctx, run->options->output_path, &gpkg_options, &run->gpkg);
    if (status == HM_OK)
        status = hm_gpkg_add_layer(run->gpkg, "incidents", "Crime incidents placed in their ward and beat",
                                   HM_GEOMETRY_POINT, incident_fields, INCIDENT_FIELD_COUNT, &run->incidents);
    if (status == HM_OK)
        status = hm_gpkg_add_layer(run->gpkg, "intelligence",
                                   "Intelligence records (3x5x2 graded) placed in their ward and beat",
                                   HM_GEOMETRY_POINT, intel_fields, INTEL_FIELD_COUNT, &run->intelligence);
    if (status == HM_OK)
        status = write_boundaries(run, "wards", "Ward boundaries as used for placement", run->wards, "ward");
    if (status == HM_OK && run->beats)
        status = write_boundaries(run, "beats", "Police beat (neighbourhood) boundaries as used for placement",
                                  run->beats, "beat");
    if (status == HM_OK)
        status = hm_gpkg_add_layer(run->gpkg, "rejects", "Input records that could not be placed, with the reason",
                                   HM_GEOMETRY_NONE, reject_fields, REJECT_FIELD_COUNT, &run->rejects);
    if (status == HM_OK)
        status = hm_gpkg_add_layer(run->gpkg, "runs", "Accounting per input: read = placed + outside + rejected",
                                   HM_GEOMETRY_NONE, run_fields, RUN_FIELD_COUNT, &run->runs);
    return status;
}

int hm_geocode(hm_ctx *ctx, const hm_geocode_options *options, GDALProgressFunc progress)
{
    (void)progress;
    if (!options) return HM_OK; /* --help was printed */
    geocode_run run = {0};
    run.ctx = ctx;
    run.options = options;
    hm_timestamp_now(run.started);
    int status = open_inputs(&run);
    run.ids[0] = hm_idset_create();
    run.ids[1] = hm_idset_create();
    if (status == HM_OK && (!run.ids[0] || !run.ids[1]))
        status = hm_error(ctx, HM_ENOMEM, "out of memory");
    if (status == HM_OK) status = create_output(&run);
    if (status == HM_OK) status = hm_row_writer_start(ctx, 0, &run.writer);

    int verbose = hm_ctx_verbosity(ctx) >= HM_NORMAL;
    if (status == HM_OK && verbose)
        printf("%-44s %-16s %9s %9s %9s %9s\n", "input", "format", "read", "placed", "outside", "rejected");
    input_counts total = {0};
    for (int pass = 0; pass < 2 && status == HM_OK; pass++) {
        hm_input_kind kind = pass == 0 ? HM_INPUT_INCIDENTS : HM_INPUT_INTELLIGENCE;
        const hm_string_list *paths = pass == 0 ? &options->incident_paths : &options->intelligence_paths;
        for (size_t i = 0; i < paths->count && status == HM_OK; i++) {
            input_counts counts = {0};
            hm_input_format format = HM_FORMAT_GENERIC;
            status = process_input(&run, paths->items[i], kind, &counts, &format);
            if (status != HM_OK) break;
            const hm_geocode_counts *c = &counts.counts;
            if (c->read != c->placed + c->outside + c->rejected) {
                status = hm_error(ctx, HM_EINTERNAL, "%s: accounting does not add up: read %lld != placed %lld + "
                                  "outside %lld + rejected %lld", paths->items[i], c->read, c->placed,
                                  c->outside, c->rejected);
                break;
            }
            status = write_run_row(&run, paths->items[i], kind, format, &counts);
            if (verbose) print_counts(paths->items[i], format, &counts);
            total.counts.read += c->read;
            total.counts.placed += c->placed;
            total.counts.outside += c->outside;
            total.counts.rejected += c->rejected;
        }
    }
    /* The id sets (8 bytes a slot, 128 MiB at ten million ids) are not needed once the last record is read: freed
     * before the commit, whose R-tree bulk load is the other large allocation (scripts/bench-memory). */
    run.ids[0] = hm_idset_destroy(run.ids[0]);
    run.ids[1] = hm_idset_destroy(run.ids[1]);
    int writer_status = hm_row_writer_finish(run.writer);
    if (status == HM_OK) status = writer_status;
    /* QGIS-ready (qgis_project.h): default layer styles, dataset, layer and field metadata, in the GeoPackage's own
     * transaction, so the file appears complete or not at all. */
    if (status == HM_OK) {
        char snap[32];
        snprintf(snap, sizeof snap, "%g", options->snap_m);
        const hm_run_parameter parameters[] = {{"wards", options->wards_source}, {"beats", options->beats_source},
                                               {"crs", options->target_crs}, {"snap_m", snap},
                                               {"postcodes", options->postcodes_path}};
        const hm_run_description description = {"geocode", run.started, parameters, 5, NULL};
        status = hm_qgis_prepare_database(ctx, hm_gpkg_database(run.gpkg), &description, NULL);
    }
    if (status == HM_OK) {
        status = hm_gpkg_commit(run.gpkg);
        run.gpkg = NULL;
    }
    if (status == HM_OK && verbose) {
        printf("%-44s %-16s %9lld %9lld %9lld %9lld\n", "total", "", total.counts.read, total.counts.placed,
               total.counts.outside, total.counts.rejected);
        printf("wrote %s (%zu wards%s)\n", options->output_path, hm_boundaries_count(run.wards),
               run.beats ? ", beats" : "");
    }
    if (run.gpkg) hm_gpkg_abort(run.gpkg);
    hm_idset_destroy(run.ids[0]);
    hm_idset_destroy(run.ids[1]);
    if (run.lonlat_to_target) proj_destroy(run.lonlat_to_target);
    if (run.bng_to_target) proj_destroy(run.bng_to_target);
    if (run.harm && status == HM_OK) hm_harm_model_warn(ctx, run.harm);
    hm_harm_model_destroy(run.harm);
    hm_postcode_table_destroy(run.postcodes);
    hm_pip_index_destroy(run.ward_index);
    hm_pip_index_destroy(run.beat_index);
    hm_boundaries_destroy(run.wards);
    hm_boundaries_destroy(run.beats);
    return status;
}
