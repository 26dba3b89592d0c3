/*
 * aggregate.c - see aggregate.h.
 *
 * Order of work: check that the input was made by `harmmap geocode` (its layers and the runs table), read the
 * ward and beat polygons with OGR, read the records with SQLite (a GeoPackage is an SQLite file; a plain SELECT
 * of the attribute columns is much faster than OGR features and needs no geometry), weigh them (their `harm`
 * column, or the harm model), then compute every statistic in memory, and only then write: CSV files and the
 * report to temporary names, the GeoPackage (a copy of the input, or a new public.gpkg) to a temporary name, and
 * rename them all at the end, so a failure leaves the previous outputs as they were.
 */
#include "aggregate.h"

#include "aggregate_internal.h"
#include "argv.h"
#include "csv.h"
#include "harm.h"
#include "hotspots.h"
#include "layer_summary.h"
#include "location.h"
#include "qgis_project.h"
#include "styles.h"
#include "tempfiles.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_PERIODS 16
#define MAX_NAMED_IN_MESSAGE 10 /* codes or lines listed in one warning before "and N more" */

struct hm_aggregate_options {
    const char *input_path;
    const char *output_dir;
    const char *population_path;
    hm_agg_period periods[MAX_PERIODS];
    size_t period_count;
    int public_mode;
    long min_count;
    hm_harm_options harm;
    int harm_options_given;
    int recompute_harm;
    int has_reference_date;
    const char *hotspot_variable;
    double neighbour_tolerance_m;
    long top_categories;
    double dominance_share;
    /* hm_aggregate_options_set_working_copy: read and write this file in place instead of input_path. */
    const char *working_copy;
    /* hm_aggregate_options_set_state: the running sums kept between runs, and where to say how they were used. */
    const char *state_path;
    char *state_note;
    size_t state_note_size;
    /* --kept-unchanged (harmmap update): the kept sums' incidents are vouched for, not read again. */
    int kept_unchanged;
    /* hm_aggregate_options_set_layer_summaries: the pipeline's kept summaries, for the styles and metadata. */
    const char *layer_summaries;
};

static const char aggregate_usage[] =
    "Usage: harmmap aggregate IN.gpkg [-o DIR] [--population FILE] [--period NAME:FROM..TO]... [--public]\n"
    "\n"
    "Harm per ward and per beat from a GeoPackage made by 'harmmap geocode': counts, harm, rates, ranks, top\n"
    "categories, changes between periods with an exact test, and hot spots (Getis-Ord Gi*, Local Moran's I).\n"
    "Adds layers ward_harm, beat_harm and table aggregate_runs to IN.gpkg (atomically) and writes ward_harm.csv,\n"
    "beat_harm.csv and report.html to DIR (default: the folder of IN.gpkg).\n"
    "\n"
    "  -o, --output DIR                   folder for the CSV files and the report (created if missing)\n"
    "  --population FILE                  CSV of ward code and population (ONS mid-year estimate style):\n"
    "                                     adds harm per 1,000 residents\n"
    "  --period NAME:FROM..TO             a period (dates YYYY-MM or YYYY-MM-DD, inclusive; a month as TO means\n"
    "                                     its last day); repeat for more. With two or more, the change from the\n"
    "                                     earliest to the latest is tested (exact conditional test on counts)\n"
    "  --public                           public product: leave out intelligence not graded P, suppress every\n"
    "                                     figure of areas with fewer than --min-count records, write no point\n"
    "                                     layer: outputs go to DIR (default IN-public/) with public.gpkg\n"
    "  --min-count N                      suppression threshold for --public (default 5)\n"
    "Harm (used when the records have no harm column, or with --recompute-harm):\n"
    "  --harm-index cchi|css|FILE         weight table (default cchi: Cambridge Crime Harm Index)\n"
    "  --grading-table FILE               3x5x2 grading multipliers (default data/harm/grading.csv)\n"
    "  --ocg-table FILE                   organised crime group scores (columns ocg_ref,score)\n"
    "  --half-life DAYS[d|w|y]            recency decay, e.g. 180d (default none)\n"
    "  --reference-date YYYY-MM-DD        date the decay counts back from (default: the latest record)\n"
    "  --exclude-proactive                give proactive categories (drugs, weapons possession) no harm\n"
    "  --recompute-harm                   ignore the harm column geocode wrote and weigh the records here\n"
    "Hot spots and flags:\n"
    "  --hotspot-variable density|rate|harm  value compared between neighbours (default density: harm per km2;\n"
    "                                     rate: harm per 1,000 residents, needs --population)\n"
    "  --neighbour-tolerance METRES       areas closer than this are neighbours (default 0.01)\n"
    "  --top-categories N                 categories listed per area (default 3)\n"
    "  --dominance-share S                flag areas whose 3 largest records carry at least S of the harm\n"
    "                                     (default 0.5)\n"
    "  --accumulator FILE                 keep the running sums in FILE: a later run whose incidents begin with\n"
    "                                     exactly those summed there reads only the ones after them (same\n"
    "                                     results); anything else is a full pass. Not with --public\n"
    "  --kept-unchanged                   for harmmap update, which knows that the GeoPackage the sums were kept\n"
    "                                     from has not been written since: the incidents they cover are taken as\n"
    "                                     they were, not read and checked again (without it they are)\n"
    "  -q                                 quiet\n";

void hm_aggregate_options_free(hm_aggregate_options *options)
{
    free(options);
}

void hm_aggregate_options_set_working_copy(hm_aggregate_options *options, const char *path)
{
    if (options) options->working_copy = path;
}

void hm_aggregate_options_set_layer_summaries(hm_aggregate_options *options, const char *path)
{
    if (options) options->layer_summaries = path;
}

void hm_aggregate_options_set_state(hm_aggregate_options *options, const char *path, char *note, size_t note_size)
{
    if (!options) return;
    options->state_path = path;
    options->state_note = note;
    options->state_note_size = note_size;
    if (note && note_size) note[0] = '\0';
}

/* The GeoPackage the records are read from: the caller's working copy when there is one. Messages and outputs
 * still name input_path, the file the working copy becomes. */
static const char *source_path(const hm_aggregate_options *options)
{
    return options->working_copy && !options->public_mode ? options->working_copy : options->input_path;
}

static double clock_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- dates ---- */

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
    return days[month - 1];
}

static void civil_from_days(long days, int *year, int *month, int *day)
{
    time_t seconds = (time_t)days * 86400;
    struct tm utc;
    gmtime_r(&seconds, &utc);
    *year = utc.tm_year + 1900;
    *month = utc.tm_mon + 1;
    *day = utc.tm_mday;
}

static long month_last_day(long first_day)
{
    int year, month, day;
    civil_from_days(first_day, &year, &month, &day);
    return first_day - (day - 1) + days_in_month(year, month) - 1;
}

static void format_day(long days, char *out, size_t size)
{
    int year, month, day;
    civil_from_days(days, &year, &month, &day);
    snprintf(out, size, "%04d-%02d-%02d", year % 10000, month % 100, day % 100);
}

/* One end of a period: YYYY-MM or YYYY-MM-DD. A month is its first day, or its last day when is_end. */
static int parse_period_date(hm_ctx *ctx, const char *spec, const char *text, int is_end, long *days)
{
    hm_date date;
    if (hm_parse_date(text, &date) != HM_REJECT_NONE || date.precision == HM_DATE_TIME)
        return hm_error(ctx, HM_EINVAL, "--period %s: '%s' is not a date: give YYYY-MM or YYYY-MM-DD", spec, text);
    *days = date.days_since_epoch;
    if (is_end && date.precision == HM_DATE_MONTH) *days = month_last_day(date.days_since_epoch);
    return HM_OK;
}

static int parse_period(hm_ctx *ctx, const char *spec, hm_agg_period *period)
{
    memset(period, 0, sizeof *period);
    snprintf(period->text, sizeof period->text, "%s", spec);
    const char *colon = strchr(spec, ':');
    const char *dots = colon ? strstr(colon + 1, "..") : NULL;
    if (!colon || !dots)
        return hm_error(ctx, HM_EINVAL, "--period %s: give NAME:FROM..TO, e.g. before:2023-01..2023-06", spec);
    size_t name_length = (size_t)(colon - spec);
    if (name_length == 0 || name_length > 32)
        return hm_error(ctx, HM_EINVAL, "--period %s: the name must have 1 to 32 characters", spec);
    for (size_t i = 0; i < name_length; i++) {
        char c = spec[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && ((c >= '0' && c <= '9') || c == '_'));
        if (!ok)
            return hm_error(ctx, HM_EINVAL, "--period %s: the name may have only letters, digits and '_' and must "
                            "start with a letter (it becomes part of field names such as count_NAME)", spec);
    }
    memcpy(period->name, spec, name_length);
    period->name[name_length] = '\0';
    char from[64], to[64];
    size_t from_length = (size_t)(dots - colon - 1);
    if (from_length == 0 || from_length >= sizeof from || strlen(dots + 2) == 0 || strlen(dots + 2) >= sizeof to)
        return hm_error(ctx, HM_EINVAL, "--period %s: give both dates, FROM..TO", spec);
    memcpy(from, colon + 1, from_length);
    from[from_length] = '\0';
    snprintf(to, sizeof to, "%s", dots + 2);
    int status = parse_period_date(ctx, spec, from, 0, &period->from_days);
    if (status == HM_OK) status = parse_period_date(ctx, spec, to, 1, &period->to_days);
    if (status == HM_OK && period->to_days < period->from_days)
        status = hm_error(ctx, HM_EINVAL, "--period %s: it ends before it starts", spec);
    return status;
}

static int compare_periods(const void *a, const void *b)
{
    const hm_agg_period *x = a, *y = b;
    return x->from_days < y->from_days ? -1 : x->from_days > y->from_days;
}

static int parse_half_life(hm_ctx *ctx, const char *text, double *days)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    double scale = 1;
    if (end && *end) {
        if (strcmp(end, "d") == 0) scale = 1;
        else if (strcmp(end, "w") == 0) scale = 7;
        else if (strcmp(end, "y") == 0) scale = 365.25;
        else end = NULL;
    }
    if (end == text || !end || errno == ERANGE || !isfinite(value) || value <= 0)
        return hm_error(ctx, HM_EINVAL, "--half-life %s: give a positive number of days, e.g. 180d, 26w or 1y", text);
    *days = value * scale;
    return HM_OK;
}

int hm_aggregate_options_new(hm_ctx *ctx, int argc, char **argv, hm_aggregate_options **out)
{
    *out = NULL;
    hm_aggregate_options *options = calloc(1, sizeof *options);
    if (!options) return hm_error(ctx, HM_ENOMEM, "out of memory");
    options->min_count = 5;
    options->hotspot_variable = "density";
    options->neighbour_tolerance_m = 0.01;
    options->top_categories = 3;
    options->dominance_share = 0.5;

    int status = HM_OK;
    for (int i = 1; i < argc && status == HM_OK; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        int matched = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(aggregate_usage, stdout);
            hm_aggregate_options_free(options);
            return HM_OK;
        }
        if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            hm_ctx_set_verbosity(ctx, HM_QUIET);
            continue;
        }
        if (strcmp(arg, "--verbose") == 0) {
            hm_ctx_set_verbosity(ctx, HM_VERBOSE);
            continue;
        }
        if (strcmp(arg, "--public") == 0) {
            options->public_mode = 1;
            continue;
        }
        if (strcmp(arg, "--exclude-proactive") == 0) {
            options->harm.exclude_proactive = 1;
            options->harm_options_given = 1;
            continue;
        }
        if (strcmp(arg, "--recompute-harm") == 0) {
            options->recompute_harm = 1;
            continue;
        }
        if (strcmp(arg, "--kept-unchanged") == 0) {
            options->kept_unchanged = 1;
            continue;
        }
#define STRING_OPTION(name, target)                                                                           \
    if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, name, &value)) == 1) target = value;
        STRING_OPTION("-o", options->output_dir)
        STRING_OPTION("--output", options->output_dir)
        STRING_OPTION("--population", options->population_path)
        STRING_OPTION("--hotspot-variable", options->hotspot_variable)
        STRING_OPTION("--accumulator", options->state_path)
#undef STRING_OPTION
        if (matched < 0) {
            status = matched;
            break;
        }
        if (matched) continue;
        if ((matched = hm_arg_value(ctx, argc, argv, &i, "--harm-index", &value)) == 1) {
            options->harm.index = value;
            options->harm_options_given = 1;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--grading-table", &value)) == 1) {
            options->harm.grading_table = value;
            options->harm_options_given = 1;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--ocg-table", &value)) == 1) {
            options->harm.ocg_table = value;
            options->harm_options_given = 1;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--half-life", &value)) == 1) {
            status = parse_half_life(ctx, value, &options->harm.half_life_days);
            options->harm_options_given = 1;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--reference-date", &value)) == 1) {
            hm_date date = {0};
            if (hm_parse_date(value, &date) != HM_REJECT_NONE)
                status = hm_error(ctx, HM_EINVAL, "--reference-date %s: give a date YYYY-MM-DD", value);
            options->harm.reference_days = date.days_since_epoch;
            options->has_reference_date = 1;
            options->harm_options_given = 1;
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--period", &value)) == 1) {
            if (options->period_count == MAX_PERIODS)
                status = hm_error(ctx, HM_EINVAL, "--period %s: at most %d periods", value, MAX_PERIODS);
            else
                status = parse_period(ctx, value, &options->periods[options->period_count++]);
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--min-count", &value)) == 1) {
            status = hm_arg_long(ctx, "--min-count", value, &options->min_count);
            if (status == HM_OK && options->min_count < 1)
                status = hm_error(ctx, HM_EINVAL, "--min-count %s: give 1 or more", value);
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--neighbour-tolerance", &value)) == 1) {
            status = hm_arg_double(ctx, "--neighbour-tolerance", value, &options->neighbour_tolerance_m);
            if (status == HM_OK && options->neighbour_tolerance_m < 0)
                status = hm_error(ctx, HM_EINVAL, "--neighbour-tolerance %s: give zero or more metres", value);
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--top-categories", &value)) == 1) {
            status = hm_arg_long(ctx, "--top-categories", value, &options->top_categories);
            if (status == HM_OK && (options->top_categories < 0 || options->top_categories > 10))
                status = hm_error(ctx, HM_EINVAL, "--top-categories %s: give 0 to 10", value);
        } else if (!matched && (matched = hm_arg_value(ctx, argc, argv, &i, "--dominance-share", &value)) == 1) {
            status = hm_arg_double(ctx, "--dominance-share", value, &options->dominance_share);
            if (status == HM_OK && !(options->dominance_share > 0 && options->dominance_share <= 1))
                status = hm_error(ctx, HM_EINVAL, "--dominance-share %s: give a share above 0 and at most 1", value);
        }
        if (matched < 0) {
            status = matched;
            break;
        }
        if (matched) continue;
        if (arg[0] == '-' && arg[1] != '\0') {
            status = hm_error(ctx, HM_EINVAL, "unknown option '%s' (see 'harmmap help aggregate')", arg);
            break;
        }
        if (options->input_path) {
            status = hm_error(ctx, HM_EINVAL, "'%s': give one input GeoPackage (already have %s)", arg,
                              options->input_path);
            break;
        }
        options->input_path = arg;
    }
    if (status == HM_OK && !options->input_path)
        status = hm_error(ctx, HM_EINVAL, "no input: give the GeoPackage 'harmmap geocode' wrote (see 'harmmap help "
                          "aggregate')");
    const char *variable = options->hotspot_variable;
    if (status == HM_OK && strcmp(variable, "density") != 0 && strcmp(variable, "rate") != 0 &&
        strcmp(variable, "harm") != 0)
        status = hm_error(ctx, HM_EINVAL, "--hotspot-variable %s: give density, rate or harm", variable);
    if (status == HM_OK && strcmp(variable, "rate") == 0 && !options->population_path)
        status = hm_error(ctx, HM_EINVAL, "--hotspot-variable rate needs --population FILE");
    if (status == HM_OK && options->period_count > 0) {
        qsort(options->periods, options->period_count, sizeof options->periods[0], compare_periods);
        for (size_t i = 0; status == HM_OK && i < options->period_count; i++)
            for (size_t j = 0; status == HM_OK && j < i; j++) {
                const hm_agg_period *a = &options->periods[j], *b = &options->periods[i];
                if (strcmp(a->name, b->name) == 0)
                    status = hm_error(ctx, HM_EINVAL, "--period %s and --period %s have the same name: give each "
                                      "period its own", a->text, b->text);
                else if (b->from_days <= a->to_days)
                    status = hm_error(ctx, HM_EINVAL, "--period %s overlaps --period %s: a record must belong to "
                                      "one period at most", a->text, b->text);
            }
    }
    if (status == HM_OK && options->period_count == 1)
        hm_info(ctx, "one --period given: its counts are reported, the change test needs two or more");
    if (status != HM_OK) {
        hm_aggregate_options_free(options);
        return status;
    }
    *out = options;
    return HM_OK;
}

/* ---- a string -> index hash (exact match, owns copies) ---- */

typedef struct string_index {
    char **keys;
    size_t *values;
    size_t capacity, count;
} string_index;

static uint64_t hash_string(const char *text)
{
    uint64_t hash = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ULL;
    }
    return hash;
}

static size_t string_index_slot(const string_index *index, const char *key)
{
    size_t mask = index->capacity - 1, slot = (size_t)hash_string(key) & mask;
    while (index->keys[slot] && strcmp(index->keys[slot], key) != 0) slot = (slot + 1) & mask;
    return slot;
}

static int string_index_find(const string_index *index, const char *key, size_t *value)
{
    if (!index->capacity || !key) return 0;
    size_t slot = string_index_slot(index, key);
    if (!index->keys[slot]) return 0;
    *value = index->values[slot];
    return 1;
}

/* Returns 1 inserted, 0 present (*existing set), -1 out of memory. */
static int string_index_insert(string_index *index, const char *key, size_t value, size_t *existing)
{
    if ((index->count + 1) * 2 > index->capacity) {
        size_t capacity = index->capacity ? index->capacity * 2 : 64;
        string_index bigger = {calloc(capacity, sizeof(char *)), calloc(capacity, sizeof(size_t)), capacity, 0};
        if (!bigger.keys || !bigger.values) {
            free(bigger.keys);
            free(bigger.values);
            return -1;
        }
        for (size_t i = 0; i < index->capacity; i++)
            if (index->keys[i]) {
                size_t slot = string_index_slot(&bigger, index->keys[i]);
                bigger.keys[slot] = index->keys[i];
                bigger.values[slot] = index->values[i];
                bigger.count++;
            }
        free(index->keys);
        free(index->values);
        *index = bigger;
    }
    size_t slot = string_index_slot(index, key);
    if (index->keys[slot]) {
        if (existing) *existing = index->values[slot];
        return 0;
    }
    size_t length = strlen(key);
    char *copy = malloc(length + 1);
    if (!copy) return -1;
    memcpy(copy, key, length + 1);
    index->keys[slot] = copy;
    index->values[slot] = value;
    index->count++;
    return 1;
}

static void string_index_free(string_index *index)
{
    for (size_t i = 0; i < index->capacity; i++) free(index->keys[i]);
    free(index->keys);
    free(index->values);
    memset(index, 0, sizeof *index);
}

static char *copy_text(const char *text)
{
    if (!text) text = "";
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy) memcpy(copy, text, length + 1);
    return copy;
}

/* ---- the run ---- */

typedef struct agg_record {
    int32_t ward;     /* index, or -1 outside every ward */
    int32_t beat;     /* index, or -1 */
    int32_t category; /* index into result.categories */
    int16_t period;   /* index, or -1 */
    uint8_t is_intelligence;
    uint8_t in_totals;  /* counted in area totals (--public: only records in published wards and beats) */
    uint8_t in_periods; /* counted in period figures (--public: only where both areas' periods are published) */
    double harm;
} agg_record;

/* A growable byte buffer (the state file); failed is set when memory ran out. */
typedef struct agg_bytes {
    unsigned char *data;
    size_t size, capacity;
    int failed;
} agg_bytes;

/* The counters of hm_agg_result that records add to, kept with the sums. */
#define AGG_COUNTERS 9

/* A state file read and checked: the raw bytes and where its parts start. */
typedef struct agg_kept {
    int valid;
    agg_bytes bytes;
    long long last_fid, incident_rows, incident_records;
    uint64_t incident_hash;
    uint64_t hash_before_last; /* incident_hash before the last incident: checks that one without the others */
    long long flagged_null;    /* the incidents' agg_flagged, as after the kept ones */
    size_t flagged_count;
    char **flagged_names;
    long long *flagged_counts;
    long long counters[AGG_COUNTERS];
    double placed_harm;
    size_t category_count;
    char **categories;
    size_t areas_offset; /* start of the per-area sums in bytes.data */
} agg_kept;

/* Figures derived from the areas alone, kept with the sums so that a run that finds the same inputs does not
 * work them out again ("kept sums", derived figures), for one set (wards or beats). */
typedef struct agg_derived {
    uint64_t outline_key; /* the areas' geometries and the tolerance the pairs were found for; 0: none */
    size_t pair_count;
    uint64_t *pairs;      /* neighbours (i << 32 | j, i < j), as hm_neighbours_queen found them */
    size_t test_count;    /* 0, or one change test per area */
    long long *test_first, *test_last; /* the counts of the first and last period each test was made for */
    double *test_p;
    uint64_t outlines_key; /* the geometries and the report's outline form the outlines were drawn for; 0: none */
    size_t outline_count;  /* wards only: the report's maps (hm_agg_result.ward_outlines) */
    char **outlines;
} agg_derived;

/* Records whose harm is 0 for want of a weight (geocode's harm_flag), by category, counted while reading: the
 * report names them (describe_flagged). */
typedef struct agg_flagged {
    string_index index; /* category -> position in names and counts */
    char **names;
    long long *counts;
    size_t count;
    long long null_count; /* records without a category */
} agg_flagged;

typedef struct agg_run {
    hm_ctx *ctx;
    const hm_aggregate_options *options;
    hm_agg_result result;
    string_index ward_index, beat_index, category_index;
    OGRSpatialReferenceH srs;
    sqlite3 *db;
    hm_harm_model *model;
    int use_harm_column;
    agg_record *records;
    size_t record_count, record_capacity;
    char output_dir[4096];
    long long null_harm_values;

    /* Running sums kept between runs (hm_aggregate_options_set_state; "kept sums" below). */
    int state_enabled;             /* read and write a state: not --public, harm from geocode's column */
    uint64_t identity;             /* what the sums depend on besides the records */
    agg_kept kept;                 /* the state read, when its records check out */
    uint64_t incident_hash;        /* running hash of the incident rows read, in fid order */
    uint64_t hash_before_last;     /* incident_hash before the last row was added */
    long long incident_rows, last_incident_fid;
    long long incident_counters[AGG_COUNTERS]; /* result counters after the incidents */
    size_t incident_records;       /* the first run->records come from incidents */
    size_t incident_categories;    /* categories first seen among incidents */
    double incident_placed_harm;   /* placed_harm_total after the incidents */
    agg_bytes snapshot;            /* the state after the incidents, to be written */
    char state_note[512];          /* which pass ran and why */
    /* Where the time went, for the note: reading, statistics, CSVs and report, layers, styles and metadata;
     * and the processor time of the whole command (its thread's: the pipeline runs other stages beside it).
     */
    double seconds[5], cpu_seconds;
    agg_flagged flagged[2];   /* incidents, intelligence */
    uint64_t outline_hash[2]; /* of the wards' and the beats' geometries (WKB, in index order) */
    agg_derived cached[2];    /* derived figures read with the state (wards, beats) */
    agg_derived computed[2];  /* and those of this run, to be kept */
    /* Sets whose neighbours came from the state, of those with hot spots; change tests likewise. */
    int neighbours_taken, neighbours_total;
    size_t tests_taken, tests_total;
    size_t summaries_continued; /* layer summaries continued for the styles (the pipeline's) */
} agg_run;

static int table_has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", table);
    sqlite3_stmt *statement = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) return 0;
    while (sqlite3_step(statement) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(statement, 1);
        if (name && strcasecmp(name, column) == 0) found = 1;
    }
    sqlite3_finalize(statement);
    return found;
}

static int table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *statement = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?", -1,
                           &statement, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(statement, 1, table, -1, SQLITE_STATIC);
    found = sqlite3_step(statement) == SQLITE_ROW;
    sqlite3_finalize(statement);
    return found;
}

/* Checks that the file is a GeoPackage that `harmmap geocode` wrote, and opens it read-only with SQLite. */
static int open_input(agg_run *run)
{
    hm_ctx *ctx = run->ctx;
    const char *path = source_path(run->options);
    struct stat info;
    if (stat(path, &info) != 0)
        return hm_error(ctx, HM_EIO, "%s: %s: give the GeoPackage 'harmmap geocode' wrote", path, strerror(errno));
    /* One thread uses the connection: without its mutex, each of the ~11 million column reads of a million
     * records saves a lock and an unlock (about 5% of the stage's CPU). */
    if (sqlite3_open_v2(path, &run->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return hm_error(ctx, HM_EFORMAT, "%s: SQLite cannot open it (%s): it is not a GeoPackage", path,
                        run->db ? sqlite3_errmsg(run->db) : "out of memory");
    if (!table_exists(run->db, "gpkg_contents"))
        return hm_error(ctx, HM_EFORMAT, "%s is not a GeoPackage (no gpkg_contents table): give the output of "
                        "'harmmap geocode'", path);
    const char *missing = NULL;
    if (!table_exists(run->db, "runs") || !table_has_column(run->db, "runs", "harmmap_version"))
        missing = "runs table (with a harmmap_version column)";
    else if (!table_exists(run->db, "wards") || !table_has_column(run->db, "wards", "ward_code"))
        missing = "wards layer (with a ward_code column)";
    else if (!table_exists(run->db, "incidents") && !table_exists(run->db, "intelligence"))
        missing = "incidents or intelligence layer";
    if (missing)
        return hm_error(ctx, HM_EFORMAT, "%s was not made by 'harmmap geocode': it has no %s; run harmmap geocode "
                        "first and give its output", path, missing);
    const char *layers[] = {"incidents", "intelligence"};
    const char *required[] = {"ward_code", "category", "date"};
    for (size_t l = 0; l < 2; l++) {
        if (!table_exists(run->db, layers[l])) continue;
        for (size_t c = 0; c < sizeof required / sizeof required[0]; c++)
            if (!table_has_column(run->db, layers[l], required[c]))
                return hm_error(ctx, HM_EFORMAT, "%s: layer %s has no column %s: it was not made by this version of "
                                "'harmmap geocode'; run geocode again", path, layers[l], required[c]);
    }
    if (table_exists(run->db, "intelligence") && !table_has_column(run->db, "intelligence", "handling_code"))
        return hm_error(ctx, HM_EFORMAT, "%s: layer intelligence has no column handling_code: without it nothing "
                        "can be known about who may see the records; run geocode again", path);
    return HM_OK;
}

/* The state's checks: 64-bit XXH3 (libxxhash), chained: each piece is hashed with the hash so far as the seed, so a
 * check can be kept in the state and continued by the next update with only the new records. Against accidents (a
 * kept sum applied to other records), not against tampering. */
#define AGG_HASH_START 0xcbf29ce484222325ULL
static uint64_t hash_bytes(uint64_t hash, const void *data, size_t size)
{
    return XXH3_64bits_withSeed(data, size, hash);
}

static uint64_t hash_word(uint64_t hash, uint64_t word)
{
    return XXH3_64bits_withSeed(&word, sizeof word, hash);
}

/* A row's pieces gathered into one buffer and hashed with one call, not one call per piece: a full pass hashes every
 * incident. A piece that does not fit is hashed after what came before it. */
typedef struct row_hash {
    unsigned char bytes[512];
    size_t size;
    uint64_t hash;
} row_hash;

static void row_hash_put(row_hash *row, const void *data, size_t size)
{
    if (row->size + size > sizeof row->bytes) {
        row->hash = hash_bytes(row->hash, row->bytes, row->size);
        row->size = 0;
        if (size > sizeof row->bytes) {
            row->hash = hash_bytes(row->hash, data, size);
            return;
        }
    }
    memcpy(row->bytes + row->size, data, size);
    row->size += size;
}

static uint64_t row_hash_end(row_hash *row)
{
    return hash_bytes(row->hash, row->bytes, row->size);
}

/* Reads a polygon layer (wards or beats) with OGR. */
static int load_areas(agg_run *run, GDALDatasetH dataset, const char *layer_name, const char *kind,
                      hm_agg_set *set, string_index *index)
{
    hm_ctx *ctx = run->ctx;
    const char *path = run->options->input_path;
    OGRLayerH layer = GDALDatasetGetLayerByName(dataset, layer_name);
    if (!layer) return hm_error(ctx, HM_EFORMAT, "%s: GDAL cannot read layer %s", path, layer_name);
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    char code_field[32], name_field[32];
    snprintf(code_field, sizeof code_field, "%s_code", kind);
    snprintf(name_field, sizeof name_field, "%s_name", kind);
    int code_column = OGR_FD_GetFieldIndex(definition, code_field);
    int name_column = OGR_FD_GetFieldIndex(definition, name_field);
    int area_column = OGR_FD_GetFieldIndex(definition, "area_km2");
    if (code_column < 0)
        return hm_error(ctx, HM_EFORMAT, "%s: layer %s has no field %s: run harmmap geocode again", path, layer_name,
                        code_field);
    if (!run->srs && OGR_L_GetSpatialRef(layer)) run->srs = OSRClone(OGR_L_GetSpatialRef(layer));
    set->kind = kind;
    set->layer_name = strcmp(kind, "ward") == 0 ? "ward_harm" : "beat_harm";
    size_t capacity = (size_t)(OGR_L_GetFeatureCount(layer, TRUE) > 0 ? OGR_L_GetFeatureCount(layer, TRUE) : 16);
    set->areas = calloc(capacity, sizeof *set->areas);
    if (!set->areas) return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", layer_name);
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    OGR_L_ResetReading(layer);
    OGRFeatureH feature;
    int status = HM_OK;
    while (status == HM_OK && (feature = OGR_L_GetNextFeature(layer)) != NULL) {
        if (set->count == capacity) {
            hm_agg_area *areas = realloc(set->areas, capacity * 2 * sizeof *areas);
            if (!areas) {
                OGR_F_Destroy(feature);
                return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", layer_name);
            }
            memset(areas + capacity, 0, capacity * sizeof *areas);
            set->areas = areas;
            capacity *= 2;
        }
        hm_agg_area *area = &set->areas[set->count];
        const char *code = OGR_F_IsFieldSetAndNotNull(feature, code_column)
                               ? OGR_F_GetFieldAsString(feature, code_column) : "";
        long long fid = (long long)OGR_F_GetFID(feature);
        OGRGeometryH geometry = OGR_F_GetGeometryRef(feature);
        if (!*code) {
            status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, feature %lld: empty %s: every area needs a code", path,
                              layer_name, fid, code_field);
        } else if (!geometry || OGR_G_IsEmpty(geometry)) {
            status = hm_error(ctx, HM_EFORMAT, "%s: layer %s, %s %s: no geometry", path, layer_name, kind, code);
        } else {
            size_t existing = 0;
            int inserted = string_index_insert(index, code, set->count, &existing);
            if (inserted < 0)
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
            else if (inserted == 0)
                status = hm_error(ctx, HM_EFORMAT, "%s: layer %s: %s code %s is used by two features (%s and %s): "
                                  "codes must be unique", path, layer_name, kind, code,
                                  set->areas[existing].name && *set->areas[existing].name ? set->areas[existing].name
                                                                                           : "(no name)",
                                  name_column >= 0 ? OGR_F_GetFieldAsString(feature, name_column) : "(no name)");
        }
        if (status == HM_OK) {
            area->code = copy_text(code);
            area->name = copy_text(name_column >= 0 ? OGR_F_GetFieldAsString(feature, name_column) : "");
            area->geometry = OGR_G_ForceToMultiPolygon(OGR_G_Clone(geometry));
            int size = OGR_G_WkbSize(area->geometry);
            unsigned char *wkb = malloc(size > 0 ? (size_t)size : 1);
            if (wkb && OGR_G_ExportToWkb(area->geometry, wkbNDR, wkb) == OGRERR_NONE) {
                area->geos = GEOSGeomFromWKB_buf_r(geos, wkb, (size_t)size);
                uint64_t *outline = &run->outline_hash[strcmp(kind, "beat") == 0];
                *outline = hash_bytes(*outline, wkb, (size_t)size);
            }
            free(wkb);
            set->count++;
            if (!area->code || !area->name || !area->geos)
                status = hm_error(ctx, HM_EGEOS, "%s: layer %s, %s %s: the geometry could not be converted for GEOS",
                                  path, layer_name, kind, code);
            double area_km2 = area_column >= 0 ? OGR_F_GetFieldAsDouble(feature, area_column) : 0;
            if (status == HM_OK && !(area_km2 > 0)) {
                double area_m2 = 0;
                GEOSArea_r(geos, area->geos, &area_m2);
                area_km2 = area_m2 / 1e6;
            }
            area->area_km2 = area_km2;
            if (status == HM_OK && !(area_km2 > 0))
                hm_warn(ctx, "%s %s (%s) has zero area: its harm per km2 is left empty", kind, code, area->name);
        }
        OGR_F_Destroy(feature);
    }
    if (status == HM_OK && set->count == 0)
        status = hm_error(ctx, HM_EFORMAT, "%s: layer %s has no features", path, layer_name);
    return status;
}

static int load_boundaries(agg_run *run)
{
    hm_ctx *ctx = run->ctx;
    GDALDatasetH dataset = GDALOpenEx(source_path(run->options), GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!dataset)
        return hm_error(ctx, HM_EGDAL, "%s: GDAL cannot open it as a vector dataset: %s", source_path(run->options),
                        CPLGetLastErrorMsg());
    int status = load_areas(run, dataset, "wards", "ward", &run->result.wards, &run->ward_index);
    if (status == HM_OK && GDALDatasetGetLayerByName(dataset, "beats")) {
        run->result.has_beats = 1;
        status = load_areas(run, dataset, "beats", "beat", &run->result.beats, &run->beat_index);
    }
    GDALClose(dataset);
    return status;
}

/* ---- population ---- */

static int find_header_column(const hm_csv_record *header, const char *const *names)
{
    for (size_t n = 0; names[n]; n++)
        for (size_t c = 0; c < header->field_count; c++) {
            char normal[128];
            size_t k = 0;
            for (const char *p = header->fields[c]; *p && k + 1 < sizeof normal; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) normal[k++] = *p;
                else if (*p >= 'A' && *p <= 'Z') normal[k++] = (char)(*p - 'A' + 'a');
            normal[k] = '\0';
            if (strcmp(normal, names[n]) == 0) return (int)c;
        }
    return -1;
}

/* ONS code columns are named like WD23CD or LAD21CD. */
static int find_ons_code_column(const hm_csv_record *header)
{
    for (size_t c = 0; c < header->field_count; c++) {
        const char *name = header->fields[c];
        size_t length = strlen(name);
        if (length >= 4 && length <= 8 && strcasecmp(name + length - 2, "CD") == 0) return (int)c;
    }
    return -1;
}

/* Parses a population figure: digits with optional thousands separators ("12,345"), optional decimals. */
static int parse_population(const char *text, double *out)
{
    char digits[64];
    size_t k = 0;
    while (*text == ' ') text++;
    for (const char *p = text; *p; p++) {
        if (*p == ',' || (*p == ' ' && p[1] != '\0' && p[1] != ' ')) continue;
        if (*p == ' ') continue;
        if (k + 1 >= sizeof digits) return 0;
        digits[k++] = *p;
    }
    digits[k] = '\0';
    if (k == 0) return 0;
    char *end = NULL;
    double value = strtod(digits, &end);
    if (*end != '\0' || !isfinite(value) || value < 0) return 0;
    *out = value;
    return 1;
}

typedef struct line_list {
    char text[MAX_NAMED_IN_MESSAGE * 48];
    size_t count;
} line_list;

static void line_list_add(line_list *list, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void line_list_add(line_list *list, const char *format, ...)
{
    list->count++;
    if (list->count > MAX_NAMED_IN_MESSAGE) return;
    size_t used = strlen(list->text);
    if (used && used + 2 < sizeof list->text) {
        memcpy(list->text + used, ", ", 3);
        used += 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(list->text + used, sizeof list->text - used, format, args);
    va_end(args);
}

static const char *line_list_more(const line_list *list, char *buffer, size_t size)
{
    if (list->count > MAX_NAMED_IN_MESSAGE)
        snprintf(buffer, size, " and %zu more", list->count - MAX_NAMED_IN_MESSAGE);
    else
        buffer[0] = '\0';
    return buffer;
}

static int load_population(agg_run *run)
{
    hm_ctx *ctx = run->ctx;
    const char *path = run->options->population_path;
    hm_agg_set *wards = &run->result.wards;
    hm_csv_reader *reader = NULL;
    int status = hm_csv_open(ctx, path, NULL, &reader);
    if (status != HM_OK) return hm_error_prefix(ctx, "--population");
    hm_csv_record row;
    int got = hm_csv_next(reader, &row);
    if (got <= 0) {
        hm_csv_close(reader);
        return got < 0 ? hm_error_prefix(ctx, "--population %s", path)
                       : hm_error(ctx, HM_EFORMAT, "--population %s: the file is empty: give a header line "
                                  "(code,population) and one row per ward", path);
    }
    static const char *const code_names[] = {"code", "wardcode", "areacode", "geographycode", "geocode", NULL};
    static const char *const population_names[] = {"population", "pop", "allages", "total", "count", NULL};
    int code_column = find_header_column(&row, code_names);
    if (code_column < 0) code_column = find_ons_code_column(&row);
    int population_column = find_header_column(&row, population_names);
    if (code_column < 0 || population_column < 0) {
        char header[512] = "";
        for (size_t c = 0; c < row.field_count; c++) {
            size_t used = strlen(header);
            snprintf(header + used, sizeof header - used, "%s%s", c ? ", " : "", row.fields[c]);
        }
        hm_csv_close(reader);
        return hm_error(ctx, HM_EFORMAT, "--population %s: line 1: no %s column among (%s): name them code and "
                        "population", path, code_column < 0 ? "ward code" : "population", header);
    }
    unsigned long *seen_line = calloc(wards->count, sizeof *seen_line);
    if (!seen_line) {
        hm_csv_close(reader);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    line_list unmatched = {0}, zero = {0};
    while ((got = hm_csv_next(reader, &row)) > 0) {
        const char *code = (size_t)code_column < row.field_count ? row.fields[code_column] : "";
        const char *text = (size_t)population_column < row.field_count ? row.fields[population_column] : "";
        double population = 0;
        if (!*code) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: the ward code is empty: give a code on every row", path,
                              row.line);
            break;
        }
        if (!parse_population(text, &population)) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field population '%s' of %s is not a number of zero or more",
                              path, row.line, text, code);
            break;
        }
        size_t ward = 0;
        if (!string_index_find(&run->ward_index, code, &ward)) {
            line_list_add(&unmatched, "%s (line %lu)", code, row.line);
            continue;
        }
        if (seen_line[ward]) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: ward %s is given twice (also at line %lu): give each ward one "
                              "row", path, row.line, code, seen_line[ward]);
            break;
        }
        seen_line[ward] = row.line;
        if (population == 0) {
            line_list_add(&zero, "%s (line %lu)", code, row.line);
            continue; /* no rate: never a division by zero */
        }
        wards->areas[ward].population = population;
        wards->areas[ward].has_population = 1;
    }
    if (status == HM_OK && got < 0) status = hm_error_prefix(ctx, "--population %s", path);
    hm_csv_close(reader);
    char more[64];
    if (status == HM_OK && unmatched.count)
        hm_warn(ctx, "--population %s: %zu code%s match no ward of %s and are ignored: %s%s", path, unmatched.count,
                unmatched.count == 1 ? "" : "s", run->options->input_path, unmatched.text,
                line_list_more(&unmatched, more, sizeof more));
    if (status == HM_OK && zero.count)
        hm_warn(ctx, "--population %s: population 0 for %s%s: harm per 1,000 residents left empty for %s", path,
                zero.text, line_list_more(&zero, more, sizeof more), zero.count == 1 ? "it" : "them");
    line_list missing = {0};
    for (size_t i = 0; status == HM_OK && i < wards->count; i++)
        if (!seen_line[i]) line_list_add(&missing, "%s (%s)", wards->areas[i].code, wards->areas[i].name);
    if (status == HM_OK && missing.count)
        hm_warn(ctx, "--population %s: no population for %zu ward%s: %s%s: harm per 1,000 residents left empty", path,
                missing.count, missing.count == 1 ? "" : "s", missing.text, line_list_more(&missing, more, sizeof more));
    free(seen_line);
    run->result.has_population = status == HM_OK;
    snprintf(run->result.population_path, sizeof run->result.population_path, "%s", path);
    return status;
}

/* ---- records ---- */

static int push_record(agg_run *run, const agg_record *record)
{
    if (run->record_count == run->record_capacity) {
        size_t capacity = run->record_capacity ? run->record_capacity * 2 : 4096;
        agg_record *records = realloc(run->records, capacity * sizeof *records);
        if (!records) return hm_error(run->ctx, HM_ENOMEM, "out of memory holding %zu records", run->record_count);
        run->records = records;
        run->record_capacity = capacity;
    }
    run->records[run->record_count++] = *record;
    return HM_OK;
}

static int intern_category(agg_run *run, const char *category, int32_t *out)
{
    if (!category || !*category) category = "(no category)";
    size_t index = 0;
    if (string_index_find(&run->category_index, category, &index)) {
        *out = (int32_t)index;
        return HM_OK;
    }
    hm_agg_result *result = &run->result;
    char **categories = realloc(result->categories, (result->category_count + 1) * sizeof *categories);
    if (!categories) return hm_error(run->ctx, HM_ENOMEM, "out of memory");
    result->categories = categories;
    result->categories[result->category_count] = copy_text(category);
    if (!result->categories[result->category_count] ||
        string_index_insert(&run->category_index, category, result->category_count, NULL) < 0)
        return hm_error(run->ctx, HM_ENOMEM, "out of memory");
    *out = (int32_t)result->category_count++;
    return HM_OK;
}

static int latest_record_day(agg_run *run, long *days)
{
    const char *layers[] = {"incidents", "intelligence"};
    int found = 0;
    for (size_t l = 0; l < 2; l++) {
        if (!table_exists(run->db, layers[l])) continue;
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT date FROM \"%s\" WHERE date IS NOT NULL", layers[l]);
        sqlite3_stmt *statement = NULL;
        if (sqlite3_prepare_v2(run->db, sql, -1, &statement, NULL) != SQLITE_OK)
            return hm_error(run->ctx, HM_ESQL, "%s: %s", run->options->input_path, sqlite3_errmsg(run->db));
        while (sqlite3_step(statement) == SQLITE_ROW) {
            hm_date date;
            const char *text = (const char *)sqlite3_column_text(statement, 0);
            if (!text || hm_parse_date(text, &date) != HM_REJECT_NONE) continue;
            long day = date.precision == HM_DATE_MONTH ? month_last_day(date.days_since_epoch)
                                                       : date.days_since_epoch;
            if (!found || day > *days) *days = day;
            found = 1;
        }
        sqlite3_finalize(statement);
    }
    if (!found)
        return hm_error(run->ctx, HM_EINVAL, "--half-life: no record has a date to count back from: give "
                        "--reference-date YYYY-MM-DD");
    return HM_OK;
}

/* Harm from geocode's columns: say which model made it (runs.harm_model) and name the categories it could not
 * weigh (harm_flag), as describe_unweighted does for harm computed here. */
static void describe_column_harm(agg_run *run)
{
    hm_agg_result *result = &run->result;
    sqlite3_stmt *statement = NULL;
    if (table_has_column(run->db, "runs", "harm_model") &&
        sqlite3_prepare_v2(run->db, "SELECT DISTINCT harm_model FROM runs WHERE harm_model IS NOT NULL", -1,
                           &statement, NULL) == SQLITE_OK) {
        size_t used = strlen(result->harm_source);
        while (sqlite3_step(statement) == SQLITE_ROW && used + 4 < sizeof result->harm_source) {
            const char *model = (const char *)sqlite3_column_text(statement, 0);
            int written = snprintf(result->harm_source + used, sizeof result->harm_source - used, "; %s", model);
            if (written < 0) break;
            used = strlen(result->harm_source);
        }
        sqlite3_finalize(statement);
        if (strstr(result->harm_source, "days of custody")) snprintf(result->unit, sizeof result->unit, "days of custody");
    }
}

static int compare_flagged_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names the categories geocode could not weigh (harm_flag unknown_category or no_weight), by layer, in the order of
 * their names (SQLite's ORDER BY: no category first), as describe_unweighted does for harm computed here. Counted
 * while the records are read (count_flagged): a query of its own scanned every record again. */
static void describe_flagged(agg_run *run)
{
    hm_agg_result *result = &run->result;
    size_t used = 0;
    for (size_t l = 0; l < 2; l++) {
        agg_flagged *flagged = &run->flagged[l];
        char **names = malloc((flagged->count ? flagged->count : 1) * sizeof *names);
        if (!names) return;
        if (flagged->count) memcpy(names, flagged->names, flagged->count * sizeof *names);
        qsort(names, flagged->count, sizeof *names, compare_flagged_names);
        for (size_t k = 0; k <= flagged->count; k++) {
            const char *category = NULL;
            long long count = flagged->null_count;
            if (k == 0 && !flagged->null_count) continue;
            if (k > 0) {
                size_t position = 0;
                category = names[k - 1];
                string_index_find(&flagged->index, category, &position);
                count = flagged->counts[position];
            }
            char item[256];
            if (run->options->public_mode)
                snprintf(item, sizeof item, "%s", category ? category : "(no category)");
            else
                snprintf(item, sizeof item, "%s (%lld %s record%s)", category ? category : "(no category)", count,
                         l == 1 ? "intelligence" : "incident", count == 1 ? "" : "s");
            int written = snprintf(result->unweighted_note + used, sizeof result->unweighted_note - used, "%s%s",
                                   used ? "; " : "", item);
            if (written < 0 || (size_t)written >= sizeof result->unweighted_note - used) break;
            used += (size_t)written;
        }
        free(names);
    }
}

#define LAYER_FLAG_COLUMN 11 /* harm_flag (with harm from geocode's column), for count_flagged */

/* Adds `count` records of `category` (NULL: none) to describe_flagged's list of a layer. */
static int add_flagged(agg_run *run, int layer, const char *category, long long count)
{
    agg_flagged *flagged = &run->flagged[layer];
    size_t position = 0;
    if (!category) {
        flagged->null_count += count;
        return HM_OK;
    }
    if (string_index_find(&flagged->index, category, &position)) {
        flagged->counts[position] += count;
        return HM_OK;
    }
    char **names = realloc(flagged->names, (flagged->count + 1) * sizeof *names);
    if (names) flagged->names = names;
    long long *counts = realloc(flagged->counts, (flagged->count + 1) * sizeof *counts);
    if (counts) flagged->counts = counts;
    char *name = names && counts ? copy_text(category) : NULL;
    if (!name || string_index_insert(&flagged->index, category, flagged->count, NULL) < 0) {
        free(name);
        return hm_error(run->ctx, HM_ENOMEM, "out of memory");
    }
    flagged->names[flagged->count] = name;
    flagged->counts[flagged->count++] = count;
    return HM_OK;
}

/* Counts a record in describe_flagged's list when geocode could not weigh it. */
static int count_flagged(agg_run *run, int layer, sqlite3_stmt *statement)
{
    const char *flag = (const char *)sqlite3_column_text(statement, LAYER_FLAG_COLUMN);
    if (!flag || (strcmp(flag, "unknown_category") != 0 && strcmp(flag, "no_weight") != 0)) return HM_OK;
    return add_flagged(run, layer, (const char *)sqlite3_column_text(statement, 2), 1);
}

static void free_flagged(agg_flagged *flagged)
{
    for (size_t k = 0; k < flagged->count; k++) free(flagged->names[k]);
    free(flagged->names);
    free(flagged->counts);
    string_index_free(&flagged->index);
}

static int prepare_harm(agg_run *run)
{
    hm_ctx *ctx = run->ctx;
    const hm_aggregate_options *options = run->options;
    int incidents = table_exists(run->db, "incidents"), intelligence = table_exists(run->db, "intelligence");
    int has_column = (!incidents || table_has_column(run->db, "incidents", "harm")) &&
                     (!intelligence || table_has_column(run->db, "intelligence", "harm"));
    run->use_harm_column = has_column && !options->recompute_harm;
    if (run->use_harm_column) {
        if (options->harm_options_given)
            hm_warn(ctx, "the records already carry harm (column harm, written by geocode): --harm-index, "
                    "--half-life and the other harm options are ignored; give --recompute-harm to weigh them here");
        snprintf(run->result.harm_source, sizeof run->result.harm_source,
                 "the harm column of each record, as written by harmmap geocode");
        snprintf(run->result.unit, sizeof run->result.unit, "harm");
        describe_column_harm(run);
        return HM_OK;
    }
    hm_harm_options harm = options->harm;
    if (harm.half_life_days > 0 && !options->has_reference_date) {
        int status = latest_record_day(run, &harm.reference_days);
        if (status != HM_OK) return status;
    }
    int status = hm_harm_model_load(ctx, &harm, &run->model);
    if (status != HM_OK) return status;
    snprintf(run->result.harm_source, sizeof run->result.harm_source, "computed by harmmap aggregate%s: %s",
             has_column ? " (--recompute-harm)" : " (the records have no harm column)",
             hm_harm_model_description(run->model));
    snprintf(run->result.unit, sizeof run->result.unit, "%s", hm_harm_model_unit(run->model));
    return HM_OK;
}

static int find_period(const agg_run *run, long day)
{
    for (size_t p = 0; p < run->options->period_count; p++)
        if (day >= run->options->periods[p].from_days && day <= run->options->periods[p].to_days) return (int)p;
    return -1;
}

/* The SELECT of a layer's records, in fid order (the order of their sums), with `where` ("" or a WHERE clause).
 * Column LAYER_FID_COLUMN is the fid; the state's identity includes this text without `where`. */
#define LAYER_FID_COLUMN 10
static int layer_sql(agg_run *run, const char *layer, int is_intelligence, const char *where, char *sql, size_t size)
{
    sqlite3 *db = run->db;
    int has_beat = table_has_column(db, layer, "beat_code");
    int has_weight = table_has_column(db, layer, "weight");
    int intel_grading = is_intelligence && table_has_column(db, layer, "source_evaluation") &&
                        table_has_column(db, layer, "intelligence_assessment");
    int has_ocg = is_intelligence && table_has_column(db, layer, "ocg_ref");
    snprintf(sql, size,
             "SELECT ward_code, %s, category, date, %s, %s, %s, %s, %s, %s, fid, %s FROM \"%s\"%s ORDER BY fid",
             has_beat ? "beat_code" : "NULL", has_weight ? "weight" : "1",
             run->use_harm_column ? "harm" : "NULL", is_intelligence ? "handling_code" : "NULL",
             intel_grading ? "source_evaluation" : "0", intel_grading ? "intelligence_assessment" : "0",
             has_ocg ? "ocg_ref" : "NULL",
             run->use_harm_column && table_has_column(db, layer, "harm_flag") ? "harm_flag" : "NULL", layer, where);
    return intel_grading;
}

/* What read_layer reads of an incident, as it reads it: ward, beat, category and date as text (NULL apart), weight
 * and harm as numbers (NULL apart), and the fid. The other columns of the incidents' SELECT are constants, which
 * the identity holds (the SELECT's text). Hashing the values already fetched costs little beside the reading. */
static uint64_t hash_incident(sqlite3_stmt *statement, uint64_t hash)
{
    row_hash row = {.size = 0, .hash = hash};
    for (int c = 0; c < 4; c++) {
        const unsigned char *text = sqlite3_column_text(statement, c);
        uint64_t length = text ? (uint64_t)sqlite3_column_bytes(statement, c) : UINT64_MAX; /* NULL apart from "" */
        row_hash_put(&row, &length, sizeof length);
        if (text) row_hash_put(&row, text, (size_t)length);
    }
    for (int c = 4; c < 6; c++) {
        int is_null = sqlite3_column_type(statement, c) == SQLITE_NULL;
        double value = is_null ? 0 : sqlite3_column_double(statement, c);
        unsigned char flag = (unsigned char)is_null;
        row_hash_put(&row, &flag, 1);
        row_hash_put(&row, &value, sizeof value);
    }
    int64_t fid = sqlite3_column_int64(statement, LAYER_FID_COLUMN);
    row_hash_put(&row, &fid, sizeof fid);
    return row_hash_end(&row);
}

static long long *counter_slot(agg_run *run, int i)
{
    hm_agg_result *r = &run->result;
    long long *slots[AGG_COUNTERS] = {&r->records_read, &r->records_outside, &r->records_undated,
                                      &r->records_outside_periods, &r->partial_month_records,
                                      &r->wards.unmatched_records, &r->beats.unmatched_records,
                                      &run->null_harm_values, &r->withheld_intelligence};
    return slots[i];
}

static int read_layer(agg_run *run, const char *layer, int is_intelligence, const char *where)
{
    hm_ctx *ctx = run->ctx;
    sqlite3 *db = run->db;
    char sql[1024];
    int intel_grading = layer_sql(run, layer, is_intelligence, where, sql, sizeof sql);
    int hashed = run->state_enabled && !is_intelligence;
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK)
        return hm_error(ctx, HM_ESQL, "%s: reading layer %s: %s", run->options->input_path, layer, sqlite3_errmsg(db));
    if (is_intelligence && !intel_grading && !run->use_harm_column)
        hm_warn(ctx, "layer intelligence has no grading columns: grading multiplier treated as outside the scheme");
    hm_agg_result *result = &run->result;
    int status = HM_OK, step;
    line_list unmatched_wards = {0}, unmatched_beats = {0};
    string_index unmatched_seen = {0};
    while (status == HM_OK && (step = sqlite3_step(statement)) == SQLITE_ROW) {
        if (hashed) {
            run->hash_before_last = run->incident_hash;
            run->incident_hash = hash_incident(statement, run->incident_hash);
            run->incident_rows++;
            run->last_incident_fid = sqlite3_column_int64(statement, LAYER_FID_COLUMN);
        }
        result->records_read++;
        const char *ward_code = (const char *)sqlite3_column_text(statement, 0);
        const char *beat_code = (const char *)sqlite3_column_text(statement, 1);
        const char *category = (const char *)sqlite3_column_text(statement, 2);
        const char *date_text = (const char *)sqlite3_column_text(statement, 3);
        double weight = sqlite3_column_type(statement, 4) == SQLITE_NULL ? 1 : sqlite3_column_double(statement, 4);
        const char *handling = (const char *)sqlite3_column_text(statement, 6);
        if (is_intelligence && run->options->public_mode && !(handling && strcmp(handling, "P") == 0)) {
            /* Handling code C (or missing): sharing only under conditions that travel with the record. */
            result->withheld_intelligence++;
            continue;
        }
        if (run->use_harm_column && (status = count_flagged(run, is_intelligence, statement)) != HM_OK) break;
        agg_record record = {-1, -1, 0, -1, (uint8_t)is_intelligence, 1, 1, 0};
        if (ward_code && *ward_code) {
            size_t index = 0;
            if (string_index_find(&run->ward_index, ward_code, &index)) {
                record.ward = (int32_t)index;
            } else {
                result->wards.unmatched_records++;
                if (string_index_insert(&unmatched_seen, ward_code, 0, NULL) == 1)
                    line_list_add(&unmatched_wards, "%s", ward_code);
            }
        }
        if (beat_code && *beat_code && result->has_beats) {
            size_t index = 0;
            if (string_index_find(&run->beat_index, beat_code, &index)) {
                record.beat = (int32_t)index;
            } else {
                result->beats.unmatched_records++;
                if (string_index_insert(&unmatched_seen, beat_code, 1, NULL) == 1)
                    line_list_add(&unmatched_beats, "%s", beat_code);
            }
        }
        if (record.ward < 0) result->records_outside++;
        status = intern_category(run, category, &record.category);
        hm_date date = {0};
        int has_date = date_text && hm_parse_date(date_text, &date) == HM_REJECT_NONE;
        if (!has_date) {
            result->records_undated++;
        } else if (run->options->period_count) {
            record.period = (int16_t)find_period(run, date.days_since_epoch);
            if (record.period < 0) result->records_outside_periods++;
            if (date.precision == HM_DATE_MONTH) {
                /* A month that a period boundary cuts: the record's day is unknown. */
                long first = date.days_since_epoch, last = month_last_day(first);
                for (size_t p = 0; p < run->options->period_count; p++) {
                    const hm_agg_period *period = &run->options->periods[p];
                    if ((period->from_days > first && period->from_days <= last) ||
                        (period->to_days >= first && period->to_days < last)) {
                        result->partial_month_records++;
                        break;
                    }
                }
            }
        }
        if (run->use_harm_column) {
            if (sqlite3_column_type(statement, 5) == SQLITE_NULL) {
                run->null_harm_values++;
                record.harm = 0;
            } else {
                record.harm = sqlite3_column_double(statement, 5);
            }
        } else {
            hm_harm_input in = {0};
            in.category = category;
            in.is_intelligence = is_intelligence;
            in.source_evaluation = sqlite3_column_int(statement, 7);
            in.intelligence_assessment = sqlite3_column_int(statement, 8);
            in.ocg_ref = (const char *)sqlite3_column_text(statement, 9);
            in.has_date = has_date;
            in.date_days = has_date ? date.days_since_epoch : 0;
            in.weight = weight >= 0 && isfinite(weight) ? weight : 0;
            hm_harm_parts parts;
            hm_harm_model_weigh(run->model, &in, &parts);
            record.harm = parts.harm;
        }
        if (!isfinite(record.harm) || record.harm < 0) {
            status = hm_error(ctx, HM_EFORMAT, "%s: layer %s has a harm value %g that is negative or not finite: "
                              "run geocode again", run->options->input_path, layer, record.harm);
            break;
        }
        if (status == HM_OK) status = push_record(run, &record);
    }
    if (status == HM_OK && step != SQLITE_DONE)
        status = hm_error(ctx, HM_ESQL, "%s: reading layer %s: %s", run->options->input_path, layer,
                          sqlite3_errmsg(db));
    sqlite3_finalize(statement);
    string_index_free(&unmatched_seen);
    char more[64];
    if (status == HM_OK && unmatched_wards.count)
        hm_warn(ctx, "layer %s: records name %zu ward code%s that are not in the wards layer (left out of the "
                "ward figures): %s%s", layer, unmatched_wards.count, unmatched_wards.count == 1 ? "" : "s",
                unmatched_wards.text, line_list_more(&unmatched_wards, more, sizeof more));
    if (status == HM_OK && unmatched_beats.count)
        hm_warn(ctx, "layer %s: records name %zu beat code%s that are not in the beats layer: %s%s", layer,
                unmatched_beats.count, unmatched_beats.count == 1 ? "" : "s", unmatched_beats.text,
                line_list_more(&unmatched_beats, more, sizeof more));
    return status;
}

/* Names the categories that got harm 0 for want of a weight, for the report: a planner must know what the map
 * leaves out. Counts are left out of public products (they may be small). */
static void describe_unweighted(agg_run *run)
{
    char *note = run->result.unweighted_note;
    size_t size = sizeof run->result.unweighted_note, used = 0;
    note[0] = '\0';
    for (size_t i = 0; i < hm_harm_model_flagged_count(run->model); i++) {
        hm_harm_flag flag;
        const char *name;
        long long count;
        hm_harm_model_flagged(run->model, i, &flag, &name, &count);
        if (flag != HM_HARM_UNKNOWN_CATEGORY && flag != HM_HARM_NO_WEIGHT) continue;
        char item[256];
        if (run->options->public_mode)
            snprintf(item, sizeof item, "%s", name);
        else
            snprintf(item, sizeof item, "%s (%lld record%s)", name, count, count == 1 ? "" : "s");
        int written = snprintf(note + used, size - used, "%s%s", used ? "; " : "", item);
        if (written < 0 || (size_t)written >= size - used) break;
        used += (size_t)written;
    }
}

/* ---- kept sums ----
 *
 * The sums of a full pass are sums in record order: the incidents in fid order, then the intelligence in fid
 * order (read_records), each record added to its ward's and beat's accumulators (add_record: counts, harm,
 * harm per period and per category, the largest record harms) and to placed_harm_total. Floating-point
 * addition is not associative, so only the same additions in the same order give the same bits; but a sum
 * continued from the value it had after record N, with records N+1.. in order, makes exactly those additions.
 * An update appends incidents with fids above every loaded one, so the full pass of the updated file adds the
 * same incidents as before, in the same order, then the new ones, then all the intelligence. The state
 * (hm_aggregate_options_set_state, the pipeline's .harmmap/aggregate.state) is therefore every accumulator as
 * it was after the last incident, taken during the pass (accumulate), with the counters read_layer adds to
 * and the categories in their order of first appearance (an area's top categories break ties by that order).
 * An update restores it, reads the incidents with a higher fid and all the intelligence (about 2% of the
 * records here), continues the same additions, and derives everything else (rates, ranks, shares, tests, hot
 * spots, FDR, the files) from the accumulators exactly as a full pass does, since it runs the same code on
 * the same bits.
 *
 * It is used only when it summarises these records: its header holds a hash of its identity (this format and
 * harmmap version, the SELECT that reads the incidents, the periods, the ward and beat codes in index order,
 * the population table's bytes) and of every value read from every incident it covers, in fid order
 * (hash_incident), with their count and the last fid. The kept incidents are read again and hashed (a plain
 * scan, no lookups or parsing) before the state is trusted, so a record that changed (harm whose recency
 * decay moved, a rewritten file) sends the stage to the full pass. That scan is most of what summing them
 * costs, so a caller that knows they have not changed says so (--kept-unchanged: harmmap update, when
 * harmmap.gpkg and this file are, by their identities, the files the last run or update left; pipeline.c):
 * the state's hash, count and flags are then taken as they are, and only the last kept incident is read and
 * checked against the hash before it, which catches sums given with another GeoPackage. The incidents' flags
 * (harm_flag, for the report) are kept with the sums for that reason. Without the option the check is always
 * made. A full pass is also made for a missing or damaged file (a hash of all its bytes ends it), --public
 * (its record selection is iterated over all records), harm computed here (its model's flags count every
 * record), and kept records whose codes name no area (their warning lists the codes). The stage's note says
 * which pass ran and why. */

static void bytes_put(agg_bytes *bytes, const void *data, size_t size)
{
    if (bytes->failed) return;
    if (bytes->size + size > bytes->capacity) {
        size_t capacity = bytes->capacity ? bytes->capacity : 4096;
        while (capacity < bytes->size + size) capacity *= 2;
        unsigned char *grown = realloc(bytes->data, capacity);
        if (!grown) {
            bytes->failed = 1;
            return;
        }
        bytes->data = grown;
        bytes->capacity = capacity;
    }
    memcpy(bytes->data + bytes->size, data, size);
    bytes->size += size;
}

static void put_i64(agg_bytes *bytes, long long value)
{
    int64_t v = value;
    bytes_put(bytes, &v, sizeof v);
}

static void put_u64(agg_bytes *bytes, uint64_t value)
{
    bytes_put(bytes, &value, sizeof value);
}

static void put_double(agg_bytes *bytes, double value)
{
    bytes_put(bytes, &value, sizeof value);
}

typedef struct agg_reader {
    const agg_bytes *bytes;
    size_t at;
    int failed;
} agg_reader;

static void get(agg_reader *reader, void *out, size_t size)
{
    if (reader->failed || reader->at + size > reader->bytes->size) {
        reader->failed = 1;
        memset(out, 0, size);
        return;
    }
    memcpy(out, reader->bytes->data + reader->at, size);
    reader->at += size;
}

static long long get_i64(agg_reader *reader)
{
    int64_t v;
    get(reader, &v, sizeof v);
    return (long long)v;
}

static uint64_t get_u64(agg_reader *reader)
{
    uint64_t v;
    get(reader, &v, sizeof v);
    return v;
}

static double get_double(agg_reader *reader)
{
    double v;
    get(reader, &v, sizeof v);
    return v;
}

static const char state_magic[8] = {'H', 'M', 'A', 'G', 'G', 'S', '0', '5'};

/* Sets the note (more 0) or continues it (more 1), here and in the caller's copy. */
static void state_note_more(agg_run *run, int more, const char *format, va_list args)
{
    size_t used = more ? strlen(run->state_note) : 0;
    vsnprintf(run->state_note + used, sizeof run->state_note - used, format, args);
    const hm_aggregate_options *options = run->options;
    if (options->state_note && options->state_note_size)
        snprintf(options->state_note, options->state_note_size, "%s", run->state_note);
}

static void state_note(agg_run *run, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void state_note(agg_run *run, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    state_note_more(run, 0, format, args);
    va_end(args);
}

static void state_note_append(agg_run *run, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void state_note_append(agg_run *run, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    state_note_more(run, 1, format, args);
    va_end(args);
}

/* What the sums depend on besides the records (see above). */
static int compute_identity(agg_run *run)
{
    const hm_aggregate_options *options = run->options;
    uint64_t hash = hash_bytes(AGG_HASH_START, state_magic, sizeof state_magic);
    const char *version = hm_version();
    hash = hash_bytes(hash, version, strlen(version) + 1);
    char sql[1024];
    layer_sql(run, "incidents", 0, "", sql, sizeof sql);
    hash = hash_bytes(hash, sql, strlen(sql) + 1);
    uint64_t periods = options->period_count;
    hash = hash_bytes(hash, &periods, sizeof periods);
    for (size_t p = 0; p < options->period_count; p++) {
        int64_t days[2] = {options->periods[p].from_days, options->periods[p].to_days};
        hash = hash_bytes(hash, days, sizeof days);
        hash = hash_bytes(hash, options->periods[p].name, strlen(options->periods[p].name) + 1);
    }
    const hm_agg_set *sets[2] = {&run->result.wards, &run->result.beats};
    for (int k = 0; k < 2; k++) {
        uint64_t count = k == 1 && !run->result.has_beats ? 0 : sets[k]->count;
        hash = hash_bytes(hash, &count, sizeof count);
        for (size_t i = 0; i < count; i++)
            hash = hash_bytes(hash, sets[k]->areas[i].code, strlen(sets[k]->areas[i].code) + 1);
    }
    if (options->population_path) {
        FILE *file = fopen(options->population_path, "rb");
        if (!file) return 0;
        unsigned char buffer[65536];
        size_t got;
        while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) hash = hash_bytes(hash, buffer, got);
        int failed = ferror(file);
        fclose(file);
        if (failed) return 0;
    } else {
        hash = hash_bytes(hash, "no population", 14);
    }
    run->identity = hash;
    return 1;
}

/* ---- kept sums: derived figures ----
 *
 * Three figures depend on no record, or on few, and cost as much as everything else a continued pass does:
 * which areas are neighbours (GEOS distances between every pair of nearby polygons, for the hot spots), the
 * change tests (a binomial sum over every possible count, per area) and the report's outlines. The state
 * keeps them after the sums, each with what it was computed from, and a later pass takes a figure from there
 * when that is unchanged, else computes it:
 *   - the neighbour pairs of a set, with a key of the set's geometries (the WKB of each area, in index
 * order), the tolerance and the number of areas (outline_key);
 *   - each area's test p-value, with the first and last period's counts it was made for (the periods
 * themselves are in the state's identity). A week's records outside the last period change no test;
 *   - the wards' outlines on the report's maps (simplified SVG paths, most of the report's time), with a key
 * of the wards' geometries and the report's outline form (hm_agg_outline_form). Each is a pure function of
 * what is kept with it, so a figure taken from the state has the bits a new computation gives; the state
 * written holds this pass's figures, computed or taken, and is a full pass's. A change to what
 * hm_neighbours_queen or hm_poisson_change_test compute must therefore change state_magic (the outlines have
 * their form string). */

static void free_derived(agg_derived *derived)
{
    for (size_t k = 0; derived->outlines && k < derived->outline_count; k++) free(derived->outlines[k]);
    free(derived->outlines);
    free(derived->pairs);
    free(derived->test_first);
    free(derived->test_last);
    free(derived->test_p);
    memset(derived, 0, sizeof *derived);
}

static uint64_t outline_key(const agg_run *run, int which, size_t count)
{
    uint64_t hash = hash_word(run->outline_hash[which], (uint64_t)count);
    double tolerance = run->options->neighbour_tolerance_m;
    uint64_t bits;
    memcpy(&bits, &tolerance, sizeof bits);
    hash = hash_word(hash, bits);
    return hash ? hash : 1; /* 0 means none */
}

/* The key of the wards' outlines on the report's maps. */
static uint64_t outlines_key(const agg_run *run)
{
    const char *form = hm_agg_outline_form();
    uint64_t hash =
        hash_bytes(hash_word(run->outline_hash[0], (uint64_t)run->result.wards.count), form, strlen(form));
    return hash ? hash : 1;
}

static void put_derived(const agg_derived *derived, agg_bytes *bytes)
{
    put_u64(bytes, derived->outline_key);
    put_u64(bytes, derived->pair_count);
    for (size_t k = 0; k < derived->pair_count; k++) put_u64(bytes, derived->pairs[k]);
    put_u64(bytes, derived->test_count);
    for (size_t k = 0; k < derived->test_count; k++) {
        put_i64(bytes, derived->test_first[k]);
        put_i64(bytes, derived->test_last[k]);
        put_double(bytes, derived->test_p[k]);
    }
    int outlines = derived->outlines_key != 0;
    for (size_t k = 0; outlines && k < derived->outline_count; k++) outlines = derived->outlines[k] != NULL;
    put_u64(bytes, outlines ? derived->outlines_key : 0);
    put_u64(bytes, outlines ? derived->outline_count : 0);
    for (size_t k = 0; outlines && k < derived->outline_count; k++) {
        size_t length = strlen(derived->outlines[k]);
        put_u64(bytes, length);
        bytes_put(bytes, derived->outlines[k], length);
    }
}

/* Reads one set's derived figures; sets reader->failed when they do not fit `areas`. */
static void get_derived(agg_reader *reader, size_t areas, agg_derived *derived)
{
    derived->outline_key = get_u64(reader);
    uint64_t pairs = get_u64(reader);
    if (reader->failed || pairs > reader->bytes->size / 8) {
        reader->failed = 1;
        return;
    }
    derived->pairs = malloc((pairs ? pairs : 1) * sizeof *derived->pairs);
    if (!derived->pairs) reader->failed = 1;
    for (uint64_t k = 0; !reader->failed && k < pairs; k++) {
        derived->pairs[k] = get_u64(reader);
        if ((derived->pairs[k] >> 32) >= areas || (derived->pairs[k] & 0xffffffffu) >= areas)
            reader->failed = 1;
    }
    derived->pair_count = reader->failed ? 0 : pairs;
    uint64_t tests = get_u64(reader);
    if (reader->failed || (tests != 0 && tests != areas)) {
        reader->failed = 1;
        return;
    }
    derived->test_first = malloc((tests ? tests : 1) * sizeof *derived->test_first);
    derived->test_last = malloc((tests ? tests : 1) * sizeof *derived->test_last);
    derived->test_p = malloc((tests ? tests : 1) * sizeof *derived->test_p);
    if (!derived->test_first || !derived->test_last || !derived->test_p) reader->failed = 1;
    for (uint64_t k = 0; !reader->failed && k < tests; k++) {
        derived->test_first[k] = get_i64(reader);
        derived->test_last[k] = get_i64(reader);
        derived->test_p[k] = get_double(reader);
    }
    derived->test_count = reader->failed ? 0 : tests;
    derived->outlines_key = get_u64(reader);
    uint64_t outlines = get_u64(reader);
    if (reader->failed || (outlines != 0 && outlines != areas)) {
        reader->failed = 1;
        return;
    }
    derived->outlines = calloc(outlines ? outlines : 1, sizeof *derived->outlines);
    if (!derived->outlines) reader->failed = 1;
    for (uint64_t k = 0; !reader->failed && k < outlines; k++) {
        uint64_t length = get_u64(reader);
        if (reader->failed || length > reader->bytes->size || !(derived->outlines[k] = malloc(length + 1))) {
            reader->failed = 1;
            break;
        }
        derived->outline_count = k + 1;
        get(reader, derived->outlines[k], length);
        derived->outlines[k][length] = '\0';
    }
}

/* The neighbours of a set's `count` areas: from the state when its key matches, else found (and kept). */
static int set_neighbours(agg_run *run, int which, const GEOSGeometry *const *geometries, size_t count,
                          hm_neighbours **out)
{
    hm_ctx *ctx = run->ctx;
    uint64_t key = run->state_enabled ? outline_key(run, which, count) : 0;
    const agg_derived *cached = &run->cached[which];
    int status;
    run->neighbours_total++;
    if (key && cached->outline_key == key) {
        run->neighbours_taken++;
        size_t(*pairs)[2] = malloc((cached->pair_count ? cached->pair_count : 1) * sizeof *pairs);
        if (!pairs) return hm_error(ctx, HM_ENOMEM, "out of memory");
        for (size_t k = 0; k < cached->pair_count; k++) {
            pairs[k][0] = (size_t)(cached->pairs[k] >> 32);
            pairs[k][1] = (size_t)(cached->pairs[k] & 0xffffffffu);
        }
        status = hm_neighbours_from_pairs(ctx, count, (const size_t(*)[2])pairs, cached->pair_count, out);
        free(pairs);
    } else {
        status = hm_neighbours_queen(ctx, geometries, count, run->options->neighbour_tolerance_m, out);
    }
    if (status != HM_OK || !key) return status;
    agg_derived *kept = &run->computed[which];
    free(kept->pairs);
    kept->pairs = NULL;
    kept->outline_key = kept->pair_count = 0;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) total += hm_neighbours_degree(*out, i);
    kept->pairs = malloc((total ? total : 1) * sizeof *kept->pairs);
    if (!kept->pairs || count > 0xffffffffu) return HM_OK; /* not kept: the next pass finds them again */
    for (size_t i = 0; i < count; i++) {
        const size_t *of = hm_neighbours_of(*out, i);
        for (size_t k = 0; k < hm_neighbours_degree(*out, i); k++)
            if (of[k] > i) kept->pairs[kept->pair_count++] = (uint64_t)i << 32 | (uint64_t)of[k];
    }
    kept->outline_key = key;
    return HM_OK;
}

/* Whether the wards' outlines kept with the state are those the report would draw now. */
static int outlines_kept(const agg_run *run)
{
    const agg_derived *cached = &run->cached[0];
    return run->state_enabled && cached->outlines_key == outlines_key(run) &&
           cached->outline_count == run->result.wards.count;
}

/* Before the report: the wards' outlines from the state when they fit, else empty slots the report fills. */
static void take_outlines(agg_run *run)
{
    if (!run->state_enabled) return;
    size_t count = run->result.wards.count;
    char **outlines = calloc(count ? count : 1, sizeof *outlines);
    if (!outlines) return; /* the report draws them, nothing is kept */
    if (outlines_kept(run))
        for (size_t k = 0; k < count; k++) {
            outlines[k] = run->cached[0].outlines[k];
            run->cached[0].outlines[k] = NULL;
        }
    run->result.ward_outlines = outlines;
}

/* After it: kept with this pass's derived figures. */
static void keep_outlines(agg_run *run)
{
    if (!run->result.ward_outlines) return;
    agg_derived *kept = &run->computed[0];
    kept->outlines = run->result.ward_outlines;
    kept->outline_count = run->result.wards.count;
    kept->outlines_key = outlines_key(run);
    run->result.ward_outlines = NULL;
}

/* The change test of area `index` of a set: from the state when made for the same counts, else computed (and
 * kept). */
static int change_test(agg_run *run, int which, size_t index, size_t areas, long long first,
                       double first_days, long long last, double last_days, double *p)
{
    const agg_derived *cached = &run->cached[which];
    int status = HM_OK;
    run->tests_total++;
    if (run->state_enabled && cached->test_count == areas && cached->test_first[index] == first &&
        cached->test_last[index] == last) {
        *p = cached->test_p[index];
        run->tests_taken++;
    } else
        status = hm_poisson_change_test(run->ctx, first, first_days, last, last_days, p);
    agg_derived *kept = &run->computed[which];
    if (status != HM_OK || !run->state_enabled) return status;
    if (kept->test_count != areas) {
        free(kept->test_first);
        free(kept->test_last);
        free(kept->test_p);
        kept->test_first = malloc(areas * sizeof *kept->test_first);
        kept->test_last = malloc(areas * sizeof *kept->test_last);
        kept->test_p = malloc(areas * sizeof *kept->test_p);
        kept->test_count = kept->test_first && kept->test_last && kept->test_p ? areas : 0;
        for (size_t k = 0; k < kept->test_count; k++) {
            kept->test_first[k] = kept->test_last[k] = -1; /* no test made: never matches a count */
            kept->test_p[k] = NAN;
        }
    }
    if (index < kept->test_count) {
        kept->test_first[index] = first;
        kept->test_last[index] = last;
        kept->test_p[index] = *p;
    }
    return HM_OK;
}

static void free_kept(agg_kept *kept)
{
    for (size_t c = 0; c < kept->category_count; c++) free(kept->categories[c]);
    free(kept->categories);
    for (size_t c = 0; c < kept->flagged_count; c++) free(kept->flagged_names[c]);
    free(kept->flagged_names);
    free(kept->flagged_counts);
    free(kept->bytes.data);
    memset(kept, 0, sizeof *kept);
}

/* Reads the state file and checks everything but the records; "" in why when it can be used. */
static int load_kept(agg_run *run, char *why, size_t why_size)
{
    agg_kept *kept = &run->kept;
    const char *path = run->options->state_path;
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(why, why_size, "no kept sums (%s)", strerror(errno));
        return 0;
    }
    unsigned char buffer[65536];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) bytes_put(&kept->bytes, buffer, got);
    int failed = ferror(file) || kept->bytes.failed;
    fclose(file);
    const char *problem = NULL;
    if (failed) problem = "the kept sums could not be read";
    else if (kept->bytes.size < sizeof state_magic + 8 || memcmp(kept->bytes.data, state_magic, sizeof state_magic))
        problem = "the kept sums are damaged (not a state file of this version)";
    uint64_t trailer = 0;
    if (!problem) {
        memcpy(&trailer, kept->bytes.data + kept->bytes.size - 8, 8);
        if (hash_bytes(AGG_HASH_START, kept->bytes.data, kept->bytes.size - 8) != trailer)
            problem = "the kept sums are damaged (their hash does not match)";
    }
    agg_reader reader = {&kept->bytes, sizeof state_magic, 0};
    if (!problem && get_u64(&reader) != run->identity)
        problem = "the kept sums were made with other settings, boundaries, population table or harmmap version";
    if (problem) {
        snprintf(why, why_size, "%s", problem);
        return 0;
    }
    kept->last_fid = get_i64(&reader);
    kept->incident_rows = get_i64(&reader);
    kept->incident_hash = get_u64(&reader);
    kept->hash_before_last = get_u64(&reader);
    kept->incident_records = get_i64(&reader);
    for (int i = 0; i < AGG_COUNTERS; i++) kept->counters[i] = get_i64(&reader);
    kept->placed_harm = get_double(&reader);
    uint64_t categories = get_u64(&reader);
    if (!reader.failed && categories < 1000000) {
        kept->categories = calloc(categories ? categories : 1, sizeof *kept->categories);
        if (!kept->categories) reader.failed = 1;
        for (uint64_t c = 0; !reader.failed && c < categories; c++) {
            uint64_t length = get_u64(&reader);
            if (reader.failed || length > kept->bytes.size) {
                reader.failed = 1;
                break;
            }
            kept->categories[c] = malloc(length + 1);
            if (!kept->categories[c]) {
                reader.failed = 1;
                break;
            }
            kept->category_count = c + 1;
            get(&reader, kept->categories[c], length);
            kept->categories[c][length] = '\0';
        }
    } else {
        reader.failed = 1;
    }
    kept->flagged_null = get_i64(&reader);
    uint64_t flagged = get_u64(&reader);
    if (!reader.failed && flagged < 1000000) {
        kept->flagged_names = calloc(flagged ? flagged : 1, sizeof *kept->flagged_names);
        kept->flagged_counts = calloc(flagged ? flagged : 1, sizeof *kept->flagged_counts);
        if (!kept->flagged_names || !kept->flagged_counts) reader.failed = 1;
        for (uint64_t c = 0; !reader.failed && c < flagged; c++) {
            uint64_t length = get_u64(&reader);
            if (reader.failed || length > kept->bytes.size ||
                !(kept->flagged_names[c] = malloc(length + 1))) {
                reader.failed = 1;
                break;
            }
            kept->flagged_count = c + 1;
            get(&reader, kept->flagged_names[c], length);
            kept->flagged_names[c][length] = '\0';
            kept->flagged_counts[c] = get_i64(&reader);
        }
    } else {
        reader.failed = 1;
    }
    uint64_t wards = get_u64(&reader), beats = get_u64(&reader), periods = get_u64(&reader);
    size_t per_area = 8 * (3 + 1 + HM_AGG_TOP_RECORDS + 2 * run->options->period_count + kept->category_count);
    size_t areas = run->result.wards.count + (run->result.has_beats ? run->result.beats.count : 0);
    if (reader.failed || wards != run->result.wards.count ||
        beats != (run->result.has_beats ? run->result.beats.count : 0) || periods != run->options->period_count ||
        reader.at + areas * per_area + 8 > kept->bytes.size) {
        snprintf(why, why_size, "the kept sums are damaged (their sizes do not match)");
        return 0;
    }
    kept->areas_offset = reader.at;
    reader.at += areas * per_area;
    get_derived(&reader, run->result.wards.count, &run->cached[0]);
    if (run->result.has_beats) get_derived(&reader, run->result.beats.count, &run->cached[1]);
    if (reader.failed || reader.at + 8 != kept->bytes.size) {
        for (int k = 0; k < 2; k++) free_derived(&run->cached[k]);
        snprintf(why, why_size, "the kept sums are damaged (their sizes do not match)");
        return 0;
    }
    /* Codes that name no area are listed by their warning: only a full pass can list them all. */
    if (kept->counters[5] || kept->counters[6]) {
        snprintf(why, why_size, "kept records have codes that name no ward or beat");
        return 0;
    }
    if (kept->incident_rows <= 0) {
        snprintf(why, why_size, "the kept sums hold no incidents");
        return 0;
    }
    return 1;
}

/* Reads the kept incidents again and checks that they are, value for value, those the sums were made from. */
static int verify_kept_records(agg_run *run, int *same)
{
    char where[64], sql[1024];
    snprintf(where, sizeof where, " WHERE fid <= %lld", run->kept.last_fid);
    layer_sql(run, "incidents", 0, where, sql, sizeof sql);
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2(run->db, sql, -1, &statement, NULL) != SQLITE_OK)
        return hm_error(run->ctx, HM_ESQL, "%s: reading layer incidents: %s", run->options->input_path,
                        sqlite3_errmsg(run->db));
    uint64_t hash = AGG_HASH_START, before_last = AGG_HASH_START;
    long long rows = 0, last = -1;
    int step;
    while ((step = sqlite3_step(statement)) == SQLITE_ROW) {
        before_last = hash;
        hash = hash_incident(statement, hash);
        if (count_flagged(run, 0, statement) != HM_OK) {
            sqlite3_finalize(statement);
            return HM_ENOMEM;
        }
        rows++;
        last = sqlite3_column_int64(statement, LAYER_FID_COLUMN);
    }
    sqlite3_finalize(statement);
    if (step != SQLITE_DONE)
        return hm_error(run->ctx, HM_ESQL, "%s: reading layer incidents: %s", run->options->input_path,
                        sqlite3_errmsg(run->db));
    *same = rows == run->kept.incident_rows && last == run->kept.last_fid && hash == run->kept.incident_hash;
    run->incident_hash = hash;
    run->hash_before_last = before_last;
    run->incident_rows = rows;
    run->last_incident_fid = last;
    return HM_OK;
}

/* --kept-unchanged: the caller (harmmap update) vouches that the kept incidents are those the sums were made
 * from, so they are taken as the state describes them (hash, count, flags). Only the last of them is read and
 * checked against the hash before it: a lookup by fid that catches sums given with another GeoPackage. */
static int take_kept_records(agg_run *run, int *same)
{
    agg_kept *kept = &run->kept;
    char where[64], sql[1024];
    snprintf(where, sizeof where, " WHERE fid = %lld", kept->last_fid);
    layer_sql(run, "incidents", 0, where, sql, sizeof sql);
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2(run->db, sql, -1, &statement, NULL) != SQLITE_OK)
        return hm_error(run->ctx, HM_ESQL, "%s: reading layer incidents: %s", run->options->input_path,
                        sqlite3_errmsg(run->db));
    int step = sqlite3_step(statement);
    *same = step == SQLITE_ROW && hash_incident(statement, kept->hash_before_last) == kept->incident_hash;
    sqlite3_finalize(statement);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return hm_error(run->ctx, HM_ESQL, "%s: reading layer incidents: %s", run->options->input_path,
                        sqlite3_errmsg(run->db));
    if (!*same) return HM_OK;
    run->incident_hash = kept->incident_hash;
    run->hash_before_last = kept->hash_before_last;
    run->incident_rows = kept->incident_rows;
    run->last_incident_fid = kept->last_fid;
    int status = add_flagged(run, 0, NULL, kept->flagged_null);
    for (size_t c = 0; status == HM_OK && c < kept->flagged_count; c++)
        status = add_flagged(run, 0, kept->flagged_names[c], kept->flagged_counts[c]);
    return status;
}

/* The sums of one set after the kept incidents (accumulate starts from them instead of zeros). */
static void restore_kept_sums(agg_run *run, hm_agg_set *set, agg_reader *reader)
{
    size_t periods = run->options->period_count;
    for (size_t i = 0; i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        area->count = get_i64(reader);
        area->incident_count = get_i64(reader);
        area->intelligence_count = get_i64(reader);
        area->harm = get_double(reader);
        for (int k = 0; k < HM_AGG_TOP_RECORDS; k++) area->top_harm[k] = get_double(reader);
        for (size_t p = 0; p < periods; p++) area->period_count[p] = get_i64(reader);
        for (size_t p = 0; p < periods; p++) area->period_harm[p] = get_double(reader);
        for (size_t c = 0; c < run->kept.category_count; c++) area->category_harm[c] = get_double(reader);
    }
}

static void put_sums(agg_run *run, const hm_agg_set *set, agg_bytes *bytes)
{
    size_t periods = run->options->period_count;
    for (size_t i = 0; i < set->count; i++) {
        const hm_agg_area *area = &set->areas[i];
        put_i64(bytes, area->count);
        put_i64(bytes, area->incident_count);
        put_i64(bytes, area->intelligence_count);
        put_double(bytes, area->harm);
        for (int k = 0; k < HM_AGG_TOP_RECORDS; k++) put_double(bytes, area->top_harm[k]);
        for (size_t p = 0; p < periods; p++) put_i64(bytes, area->period_count[p]);
        for (size_t p = 0; p < periods; p++) put_double(bytes, area->period_harm[p]);
        for (size_t c = 0; c < run->incident_categories; c++) put_double(bytes, area->category_harm[c]);
    }
}

/* The state after the last incident, taken by accumulate at that point of the pass. */
static void take_snapshot(agg_run *run)
{
    agg_bytes *bytes = &run->snapshot;
    hm_agg_result *result = &run->result;
    bytes->size = 0;
    bytes_put(bytes, state_magic, sizeof state_magic);
    put_u64(bytes, run->identity);
    put_i64(bytes, run->last_incident_fid);
    put_i64(bytes, run->incident_rows);
    put_u64(bytes, run->incident_hash);
    put_u64(bytes, run->hash_before_last);
    put_i64(bytes, (long long)run->incident_records + (run->kept.valid ? run->kept.incident_records : 0));
    for (int i = 0; i < AGG_COUNTERS; i++) put_i64(bytes, run->incident_counters[i]);
    put_double(bytes, run->incident_placed_harm);
    put_u64(bytes, run->incident_categories);
    for (size_t c = 0; c < run->incident_categories; c++) {
        size_t length = strlen(result->categories[c]);
        put_u64(bytes, length);
        bytes_put(bytes, result->categories[c], length);
    }
    /* The incidents' flags, all of them read by now (the intelligence's are counted apart). */
    const agg_flagged *flagged = &run->flagged[0];
    put_i64(bytes, flagged->null_count);
    put_u64(bytes, flagged->count);
    for (size_t c = 0; c < flagged->count; c++) {
        size_t length = strlen(flagged->names[c]);
        put_u64(bytes, length);
        bytes_put(bytes, flagged->names[c], length);
        put_i64(bytes, flagged->counts[c]);
    }
    put_u64(bytes, result->wards.count);
    put_u64(bytes, result->has_beats ? result->beats.count : 0);
    put_u64(bytes, run->options->period_count);
    put_sums(run, &result->wards, bytes);
    if (result->has_beats) put_sums(run, &result->beats, bytes);
}

/* Written beside the outputs under a temporary name and renamed: a reader finds the previous state or this one.
 * Not fsynced: a file cut short by a crash fails its hash and costs one full pass. A state that cannot be
 * written is only a warning (the next run makes a full pass). */
static void save_state(agg_run *run)
{
    const char *path = run->options->state_path;
    /* After the sums (the snapshot): the derived figures of this pass, then a hash of it all. */
    if (run->snapshot.size) {
        put_derived(&run->computed[0], &run->snapshot);
        if (run->result.has_beats) put_derived(&run->computed[1], &run->snapshot);
        if (!run->snapshot.failed)
            put_u64(&run->snapshot, hash_bytes(AGG_HASH_START, run->snapshot.data, run->snapshot.size));
    }
    if (run->snapshot.failed || !run->snapshot.size) {
        unlink(path);
        hm_warn(run->ctx, "%s: the sums could not be kept (out of memory): the next run makes a full pass", path);
        return;
    }
    /* Owner-only, as density's sums: derived from records that may be restricted. */
    const hm_file_part part = {run->snapshot.data, run->snapshot.size};
    if (hm_write_parts_atomically(run->ctx, path, &part, 1, HM_WRITE_OWNER_ONLY | HM_WRITE_NO_SYNC) != HM_OK) {
        unlink(path);
        hm_warn(run->ctx, "%s: the sums could not be kept (%s): the next run makes a full pass", path,
                hm_error_message(run->ctx));
        hm_error_clear(run->ctx);
    }
}

static int read_records(agg_run *run)
{
    int status = HM_OK;
    char where[64] = "";
    if (run->options->state_path && !run->state_enabled) {
        state_note(run, "full pass: %s", run->options->public_mode ? "--public selects its records from all of them"
                   : "harm is computed by aggregate, not read from the records");
    } else if (run->state_enabled && !table_exists(run->db, "incidents")) {
        run->state_enabled = 0;
        state_note(run, "full pass: no incidents layer");
    } else if (run->state_enabled) {
        char why[256] = "";
        if (!compute_identity(run)) {
            run->state_enabled = 0;
            state_note(run, "full pass: the population table could not be read for the kept sums' identity");
        } else if (!load_kept(run, why, sizeof why)) {
            state_note(run, "full pass: %s", why);
        } else {
            int same = 0;
            if (run->options->kept_unchanged) {
                status = take_kept_records(run, &same);
                if (status == HM_OK && !same)
                    state_note(
                        run,
                        "full pass: the last of the %lld incidents the kept sums cover is not the one "
                        "they end with (--kept-unchanged, but the GeoPackage is not the one they were kept "
                        "from)",
                        run->kept.incident_rows);
            } else {
                status = verify_kept_records(run, &same);
                if (status == HM_OK && !same)
                    state_note(run,
                               "full pass: the %lld incidents the kept sums cover are not those read now",
                               run->kept.incident_rows);
            }
            if (status != HM_OK) return status;
            if (same) {
                run->kept.valid = 1;
                for (size_t c = 0; status == HM_OK && c < run->kept.category_count; c++) {
                    int32_t index;
                    status = intern_category(run, run->kept.categories[c], &index);
                }
                if (status != HM_OK) return status;
                for (int i = 0; i < AGG_COUNTERS; i++) *counter_slot(run, i) = run->kept.counters[i];
                snprintf(where, sizeof where, " WHERE fid > %lld", run->kept.last_fid);
            }
        }
        if (!run->kept.valid) {
            free_kept(&run->kept);
            run->incident_hash = run->hash_before_last = AGG_HASH_START;
            run->incident_rows = 0;
            run->last_incident_fid = -1;
            /* The check counted the kept incidents' flags: the full pass counts them again. */
            free_flagged(&run->flagged[0]);
            memset(&run->flagged[0], 0, sizeof run->flagged[0]);
        }
    }
    if (table_exists(run->db, "incidents")) status = read_layer(run, "incidents", 0, where);
    run->incident_records = run->record_count;
    run->incident_categories = run->result.category_count;
    for (int i = 0; i < AGG_COUNTERS; i++)
        run->incident_counters[i] = *counter_slot(run, i);
    if (status == HM_OK && run->kept.valid)
        state_note(
            run,
            "incremental: sums of %lld kept incidents (fid <= %lld, %s) continued with %zu new incidents "
            "and the intelligence",
            run->kept.incident_rows, run->kept.last_fid,
            run->options->kept_unchanged ? "unchanged since they were kept: not read again"
                                         : "checked by hash",
            run->incident_records);
    if (status == HM_OK && table_exists(run->db, "intelligence"))
        status = read_layer(run, "intelligence", 1, "");
    if (status != HM_OK) return status;
    hm_agg_result *result = &run->result;
    if (run->model) {
        hm_harm_model_warn(run->ctx, run->model);
        describe_unweighted(run);
    }
    if (run->use_harm_column) describe_flagged(run);
    if (run->null_harm_values)
        hm_warn(run->ctx, "%lld records have an empty harm value: counted with harm 0", run->null_harm_values);
    if (result->records_undated && run->options->period_count)
        hm_warn(run->ctx, "%lld records have no date: counted in the totals, in no period", result->records_undated);
    if (result->partial_month_records)
        hm_warn(run->ctx, "%lld records are dated by month only (data.police.uk) in a month that a period boundary "
                "cuts: each is counted in the period holding the first day of its month; give periods in whole "
                "months for such data", result->partial_month_records);
    result->records_used = (long long)run->record_count + (run->kept.valid ? run->kept.incident_records : 0);
    return HM_OK;
}

/* ---- statistics ---- */

static int allocate_area_arrays(agg_run *run, hm_agg_set *set)
{
    size_t periods = run->options->period_count, categories = run->result.category_count;
    for (size_t i = 0; i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        area->period_count = calloc(periods ? periods : 1, sizeof *area->period_count);
        area->period_harm = calloc(periods ? periods : 1, sizeof *area->period_harm);
        area->period_suppressed = calloc(periods ? periods : 1, sizeof *area->period_suppressed);
        area->category_harm = calloc(categories ? categories : 1, sizeof *area->category_harm);
        if (!area->period_count || !area->period_harm || !area->period_suppressed || !area->category_harm)
            return hm_error(run->ctx, HM_ENOMEM, "out of memory");
    }
    return HM_OK;
}

static void add_record(hm_agg_area *area, const agg_record *record)
{
    if (record->in_periods && record->period >= 0) {
        area->period_count[record->period]++;
        area->period_harm[record->period] += record->harm;
    }
    if (!record->in_totals) return;
    area->count++;
    if (record->is_intelligence)
        area->intelligence_count++;
    else
        area->incident_count++;
    area->harm += record->harm;
    area->category_harm[record->category] += record->harm;
    /* Keep the largest HM_AGG_TOP_RECORDS harms, descending. */
    double value = record->harm;
    for (int k = 0; k < HM_AGG_TOP_RECORDS; k++)
        if (value > area->top_harm[k]) {
            double displaced = area->top_harm[k];
            area->top_harm[k] = value;
            value = displaced;
        }
}

typedef struct ranked {
    double value;
    size_t index;
} ranked;

static int compare_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->value != y->value) return x->value > y->value ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Competition ranking ("1224"): 1 = highest; areas whose value is NaN or that are suppressed get 0. */
static int rank_areas(hm_ctx *ctx, hm_agg_set *set, size_t value_offset, size_t rank_offset)
{
    ranked *list = malloc((set->count ? set->count : 1) * sizeof *list);
    if (!list) return hm_error(ctx, HM_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        double value = *(const double *)((const char *)area + value_offset);
        *(long *)((char *)area + rank_offset) = 0;
        if (!area->suppressed && !isnan(value)) list[n++] = (ranked){value, i};
    }
    qsort(list, n, sizeof *list, compare_ranked);
    for (size_t k = 0; k < n; k++) {
        long rank = (long)k + 1;
        if (k > 0 && list[k].value == list[k - 1].value)
            rank = *(long *)((char *)&set->areas[list[k - 1].index] + rank_offset);
        *(long *)((char *)&set->areas[list[k].index] + rank_offset) = rank;
    }
    free(list);
    return HM_OK;
}

static void describe_top_categories(const agg_run *run, hm_agg_area *area)
{
    area->top_categories[0] = '\0';
    if (!(area->harm > 0)) return;
    size_t used = 0;
    size_t chosen[16];
    size_t chosen_count = 0;
    for (long t = 0; t < run->options->top_categories && t < 16; t++) {
        size_t best = (size_t)-1;
        for (size_t c = 0; c < run->result.category_count; c++) {
            int already = 0;
            for (size_t k = 0; k < chosen_count; k++) already |= chosen[k] == c;
            if (already || !(area->category_harm[c] > 0)) continue;
            if (best == (size_t)-1 || area->category_harm[c] > area->category_harm[best]) best = c;
        }
        if (best == (size_t)-1) break;
        chosen[chosen_count++] = best;
        double percent = 100.0 * area->category_harm[best] / area->harm;
        char share[16];
        if (percent < 0.5)
            snprintf(share, sizeof share, "<1%%");
        else
            snprintf(share, sizeof share, "%.0f%%", percent);
        int written = snprintf(area->top_categories + used, sizeof area->top_categories - used, "%s%s %s",
                               used ? "; " : "", run->result.categories[best], share);
        if (written < 0 || (size_t)written >= sizeof area->top_categories - used) break;
        used += (size_t)written;
    }
}

static double hotspot_value(const agg_run *run, const hm_agg_area *area)
{
    if (strcmp(run->options->hotspot_variable, "rate") == 0) return area->harm_per_1000;
    if (strcmp(run->options->hotspot_variable, "harm") == 0) return area->harm;
    return area->harm_per_km2;
}

/* Hot spots over the areas whose figures are published: all of them, or with --public only the unsuppressed
 * ones, since a suppressed area's value would otherwise be recoverable from its neighbours' statistics. */
static int compute_hotspots(agg_run *run, hm_agg_set *set)
{
    hm_ctx *ctx = run->ctx;
    size_t total = set->count;
    line_list undefined = {0};
    size_t *members = malloc((total ? total : 1) * sizeof *members);
    double *x = malloc((total ? total : 1) * sizeof *x);
    double *p = malloc((total ? total : 1) * sizeof *p);
    double *q = malloc((total ? total : 1) * sizeof *q);
    hm_gi_star_result *gi = malloc((total ? total : 1) * sizeof *gi);
    hm_local_moran_result *moran = malloc((total ? total : 1) * sizeof *moran);
    GEOSGeometry **geometries = malloc((total ? total : 1) * sizeof *geometries);
    hm_neighbours *nb = NULL;
    int status = HM_OK;
    size_t n = 0;
    if (!members || !x || !p || !q || !gi || !moran || !geometries) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    for (size_t i = 0; status == HM_OK && i < total; i++) {
        hm_agg_area *area = &set->areas[i];
        area->hotspot_value = hotspot_value(run, area);
        area->gi.z = area->gi.p = area->gi_q = area->moran_q = NAN;
        area->moran = (hm_local_moran_result){NAN, NAN, NAN, NAN, NAN, HM_QUADRANT_NONE};
        area->gi_class = "";
        if (area->suppressed) continue;
        members[n] = i;
        x[n] = area->hotspot_value;
        geometries[n] = area->geos;
        if (isnan(x[n])) line_list_add(&undefined, "%s", area->code);
        n++;
    }
    char more[64];
    const char *among = run->options->public_mode ? " published" : "";
    if (status == HM_OK && n < 3) {
        snprintf(set->hotspot_note, sizeof set->hotspot_note, "not computed: %zu%s %ss (3 or more are needed)", n,
                 among, set->kind);
    } else if (status == HM_OK && undefined.count) {
        snprintf(set->hotspot_note, sizeof set->hotspot_note, "not computed: %s is undefined for %s%s",
                 run->result.hotspot_label, undefined.text, line_list_more(&undefined, more, sizeof more));
        hm_warn(ctx, "%s hot spots %s", set->kind, set->hotspot_note);
    } else if (status == HM_OK) {
        status =
            set_neighbours(run, set == &run->result.beats, (const GEOSGeometry *const *)geometries, n, &nb);
        if (status == HM_OK) status = hm_gi_star(ctx, nb, x, gi);
        if (status == HM_OK) status = hm_local_moran(ctx, nb, x, moran);
        for (size_t k = 0; status == HM_OK && k < n; k++) {
            hm_agg_area *area = &set->areas[members[k]];
            area->neighbour_count = hm_neighbours_degree(nb, k);
            area->gi = gi[k];
            area->moran = moran[k];
        }
        /* False discovery rate over the areas tested. */
        for (size_t k = 0; status == HM_OK && k < n; k++) p[k] = gi[k].p;
        if (status == HM_OK) status = hm_benjamini_hochberg(ctx, p, n, q);
        for (size_t k = 0; status == HM_OK && k < n; k++) {
            hm_agg_area *area = &set->areas[members[k]];
            area->gi_q = q[k];
            if (q[k] < 0.05) area->gi_class = gi[k].z > 0 ? "hot" : "cold";
        }
        for (size_t k = 0; status == HM_OK && k < n; k++) p[k] = moran[k].p;
        if (status == HM_OK) status = hm_benjamini_hochberg(ctx, p, n, q);
        for (size_t k = 0; status == HM_OK && k < n; k++) set->areas[members[k]].moran_q = q[k];
        if (status == HM_OK) {
            set->hotspots_computed = 1;
            set->islands = hm_neighbours_islands(nb);
            snprintf(set->hotspot_note, sizeof set->hotspot_note,
                     "Getis-Ord Gi* (binary weights, area included) and Local Moran's I (row-standardised) of %s "
                     "over %zu%s %ss; queen contiguity (areas within %g m are neighbours); %zu without neighbours",
                     run->result.hotspot_label, n, among, set->kind, run->options->neighbour_tolerance_m,
                     set->islands);
            if (set->islands)
                hm_warn(ctx, "%zu %s%s no neighbour within %g m: Local Moran's I is left empty for %s", set->islands,
                        set->kind, set->islands == 1 ? " has" : "s have", run->options->neighbour_tolerance_m,
                        set->islands == 1 ? "it" : "them");
        }
    }
    hm_neighbours_destroy(nb);
    free(members);
    free(x);
    free(p);
    free(q);
    free(gi);
    free(moran);
    free(geometries);
    return status;
}

static int area_is_small(const agg_run *run, const hm_agg_area *area)
{
    return area->count < run->options->min_count;
}

static int periods_are_small(const agg_run *run, const hm_agg_area *area)
{
    if (area_is_small(run, area)) return 1;
    for (size_t p = 0; p < run->options->period_count; p++)
        if (area->period_count[p] < run->options->min_count) return 1;
    return 0;
}

static int compute_set(agg_run *run, hm_agg_set *set)
{
    hm_ctx *ctx = run->ctx;
    const hm_aggregate_options *options = run->options;
    size_t periods = options->period_count;
    int status = HM_OK;
    /* Suppression first: it decides what is ranked and totalled. */
    for (size_t i = 0; i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        area->suppressed = options->public_mode && area_is_small(run, area);
        /* One small period hidden beside published ones could be recovered by subtraction from the total: an
         * area's periods are published all together or not at all. */
        int periods_small = periods_are_small(run, area);
        for (size_t p = 0; p < periods; p++) area->period_suppressed[p] = options->public_mode && periods_small;
        if (area->suppressed) set->suppressed_count++;
    }
    set->harm_total = 0;
    set->count_total = 0;
    for (size_t i = 0; i < set->count; i++)
        if (!set->areas[i].suppressed) {
            set->harm_total += set->areas[i].harm;
            set->count_total += set->areas[i].count;
        }
    double *change_p = calloc(set->count ? set->count : 1, sizeof *change_p);
    double *change_q = calloc(set->count ? set->count : 1, sizeof *change_q);
    if (!change_p || !change_q) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    for (size_t i = 0; status == HM_OK && i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        area->harm_per_km2 = area->area_km2 > 0 ? area->harm / area->area_km2 : NAN;
        area->harm_per_1000 = area->has_population ? 1000.0 * area->harm / area->population : NAN;
        area->share = set->harm_total > 0 && !area->suppressed ? area->harm / set->harm_total : NAN;
        double top = 0;
        for (int k = 0; k < HM_AGG_TOP_RECORDS; k++) top += area->top_harm[k];
        area->top_share = area->harm > 0 ? top / area->harm : NAN;
        area->dominated = area->harm > 0 && area->top_share >= options->dominance_share;
        describe_top_categories(run, area);
        area->count_change = area->harm_change = area->harm_ratio = area->change_p = NAN;
        change_p[i] = NAN;
        if (periods >= 2) {
            size_t first = 0, last = periods - 1;
            if (!area->period_suppressed[first] && !area->period_suppressed[last] && !area->suppressed) {
                area->count_change = (double)(area->period_count[last] - area->period_count[first]);
                area->harm_change = area->period_harm[last] - area->period_harm[first];
                area->harm_ratio = area->period_harm[first] > 0 ? area->period_harm[last] / area->period_harm[first]
                                                                : NAN;
                const hm_agg_period *a = &options->periods[first], *b = &options->periods[last];
                status = change_test(run, set == &run->result.beats, i, set->count,
                                     area->period_count[first], (double)(a->to_days - a->from_days + 1),
                                     area->period_count[last], (double)(b->to_days - b->from_days + 1),
                                     &area->change_p);
                change_p[i] = area->change_p;
            }
        }
    }
    if (status == HM_OK) status = hm_benjamini_hochberg(ctx, change_p, set->count, change_q);
    for (size_t i = 0; status == HM_OK && i < set->count; i++) set->areas[i].change_q = change_q[i];
    free(change_p);
    free(change_q);
    if (status == HM_OK) status = rank_areas(ctx, set, offsetof(hm_agg_area, harm), offsetof(hm_agg_area, rank));
    if (status == HM_OK)
        status = rank_areas(ctx, set, offsetof(hm_agg_area, harm_per_km2), offsetof(hm_agg_area, rank_per_km2));
    if (status == HM_OK)
        status = rank_areas(ctx, set, offsetof(hm_agg_area, harm_per_1000), offsetof(hm_agg_area, rank_per_1000));
    if (status == HM_OK) status = compute_hotspots(run, set);
    return status;
}

static void clear_sums(agg_run *run, hm_agg_set *set)
{
    size_t periods = run->options->period_count, categories = run->result.category_count;
    for (size_t i = 0; i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        area->count = area->incident_count = area->intelligence_count = 0;
        area->harm = 0;
        memset(area->top_harm, 0, sizeof area->top_harm);
        memset(area->period_count, 0, (periods ? periods : 1) * sizeof *area->period_count);
        memset(area->period_harm, 0, (periods ? periods : 1) * sizeof *area->period_harm);
        memset(area->category_harm, 0, (categories ? categories : 1) * sizeof *area->category_harm);
    }
}

/* The sums in record order, from zeros or from the kept sums (see "kept sums"); with a state, the sums after the
 * last incident are taken as the next state on the way. */
static void accumulate(agg_run *run)
{
    hm_agg_result *result = &run->result;
    clear_sums(run, &result->wards);
    if (result->has_beats) clear_sums(run, &result->beats);
    if (run->kept.valid) {
        agg_reader reader = {&run->kept.bytes, run->kept.areas_offset, 0};
        restore_kept_sums(run, &result->wards, &reader);
        if (result->has_beats) restore_kept_sums(run, &result->beats, &reader);
    }
    for (size_t r = 0; r <= run->record_count; r++) {
        if (r == run->incident_records && run->state_enabled) take_snapshot(run);
        if (r == run->record_count) break;
        const agg_record *record = &run->records[r];
        if (record->ward >= 0) add_record(&result->wards.areas[record->ward], record);
        if (record->beat >= 0) add_record(&result->beats.areas[record->beat], record);
    }
}

/* --public. Wards and beats overlap, so a figure withheld in one layer could be recovered by subtraction from
 * the other (a beat's count minus its published wards' counts). Every published figure is therefore a sum over
 * one set of records: those in a published ward and a published beat, found by removing records of small areas
 * until nothing changes (removal only lowers counts, so this ends). Period figures likewise use only records
 * whose ward's and beat's periods are all published. Records outside every ward are not used at all. */
static void select_public_records(agg_run *run)
{
    hm_agg_result *result = &run->result;
    for (size_t r = 0; r < run->record_count; r++)
        run->records[r].in_totals = run->records[r].in_periods = run->records[r].ward >= 0;
    for (int changed = 1; changed;) {
        accumulate(run);
        changed = 0;
        for (size_t r = 0; r < run->record_count; r++) {
            agg_record *record = &run->records[r];
            if (!record->in_totals && !record->in_periods) continue;
            const hm_agg_area *ward = record->ward >= 0 ? &result->wards.areas[record->ward] : NULL;
            const hm_agg_area *beat = record->beat >= 0 ? &result->beats.areas[record->beat] : NULL;
            int in_totals = record->in_totals && ward && !area_is_small(run, ward) &&
                            !(beat && area_is_small(run, beat));
            int in_periods = in_totals && record->in_periods && !periods_are_small(run, ward) &&
                             !(beat && periods_are_small(run, beat));
            if (in_totals != record->in_totals || in_periods != record->in_periods) {
                record->in_totals = (uint8_t)in_totals;
                record->in_periods = (uint8_t)in_periods;
                changed = 1;
            }
        }
    }
}

static int compute(agg_run *run)
{
    hm_agg_result *result = &run->result;
    int status = allocate_area_arrays(run, &result->wards);
    if (status == HM_OK && result->has_beats) status = allocate_area_arrays(run, &result->beats);
    if (status != HM_OK) return status;
    result->placed_harm_total = run->kept.valid ? run->kept.placed_harm : 0;
    for (size_t r = 0; r <= run->record_count; r++) {
        if (r == run->incident_records) run->incident_placed_harm = result->placed_harm_total;
        if (r == run->record_count) break;
        if (run->records[r].ward >= 0) result->placed_harm_total += run->records[r].harm;
    }
    accumulate(run);
    /* Harm is conserved: the wards' sums add up to the harm of the records placed in them. */
    double ward_total = 0;
    for (size_t i = 0; i < result->wards.count; i++) ward_total += result->wards.areas[i].harm;
    if (fabs(ward_total - result->placed_harm_total) > 1e-9 * fmax(1.0, result->placed_harm_total))
        return hm_error(run->ctx, HM_EINTERNAL, "harm not conserved: wards sum to %.17g, placed records to %.17g",
                        ward_total, result->placed_harm_total);
    /* A period no record falls in is most likely mistyped dates: its columns would all be 0 and its change tests
     * would read as a fall to nothing. */
    for (size_t p = 0; p < result->period_count; p++) {
        long long in_period = 0;
        for (size_t i = 0; i < result->wards.count; i++) in_period += result->wards.areas[i].period_count[p];
        if (in_period == 0)
            hm_warn(run->ctx, "period %s holds no record placed in a ward: its columns are all 0; check its dates "
                    "against the records' (--period, or [periods] in a project)", result->periods[p].text);
    }
    if (run->options->public_mode) select_public_records(run);
    status = compute_set(run, &result->wards);
    if (status == HM_OK && result->has_beats) status = compute_set(run, &result->beats);
    return status;
}

/* ---- output columns ---- */

typedef enum column_type { COLUMN_TEXT, COLUMN_INTEGER, COLUMN_REAL } column_type;

typedef struct column_def {
    char name[64];
    column_type type;
    char description[320];
} column_def;

typedef struct cell {
    int is_null;
    long long integer;
    double real;
    const char *text;
} cell;

#define MAX_COLUMNS (48 + 2 * MAX_PERIODS)

static void add_column(column_def *columns, size_t *count, const char *name, column_type type,
                       const char *description)
{
    column_def *column = &columns[(*count)++];
    snprintf(column->name, sizeof column->name, "%s", name);
    column->type = type;
    snprintf(column->description, sizeof column->description, "%s", description);
}

static size_t build_columns(const agg_run *run, const hm_agg_set *set, column_def *columns)
{
    const hm_agg_result *result = &run->result;
    size_t n = 0;
    char name[64], description[320];
    snprintf(name, sizeof name, "%s_code", set->kind);
    add_column(columns, &n, name, COLUMN_TEXT, "Area code (from the input's boundary layer)");
    snprintf(name, sizeof name, "%s_name", set->kind);
    add_column(columns, &n, name, COLUMN_TEXT, "Area name");
    add_column(columns, &n, "area_km2", COLUMN_REAL, "Area in square kilometres");
    if (result->has_population && strcmp(set->kind, "ward") == 0)
        add_column(columns, &n, "population", COLUMN_REAL, "Residents, from --population");
    add_column(columns, &n, "count", COLUMN_INTEGER, "Records placed in the area (incidents + intelligence)");
    /* Not in public products: a small part, or its complement, could be recovered by subtraction. */
    if (!result->public_mode) {
        add_column(columns, &n, "incident_count", COLUMN_INTEGER, "Incidents placed in the area");
        add_column(columns, &n, "intelligence_count", COLUMN_INTEGER, "Intelligence records placed in the area");
    }
    snprintf(description, sizeof description, "Sum of the records' harm (%s)", result->unit);
    add_column(columns, &n, "harm", COLUMN_REAL, description);
    if (result->has_population && strcmp(set->kind, "ward") == 0)
        add_column(columns, &n, "harm_per_1000", COLUMN_REAL, "Harm per 1,000 residents (empty: no population)");
    add_column(columns, &n, "harm_per_km2", COLUMN_REAL, "Harm per square kilometre");
    add_column(columns, &n, "rank", COLUMN_INTEGER, "Rank by harm, 1 = most (ties share a rank)");
    add_column(columns, &n, "rank_per_km2", COLUMN_INTEGER, "Rank by harm per km2, 1 = most");
    if (result->has_population && strcmp(set->kind, "ward") == 0)
        add_column(columns, &n, "rank_per_1000", COLUMN_INTEGER, "Rank by harm per 1,000 residents, 1 = most");
    add_column(columns, &n, "share", COLUMN_REAL, "Share of the total harm of all (published) areas, 0-1");
    add_column(columns, &n, "top_categories", COLUMN_TEXT, "Categories carrying the most harm, with their share");
    /* Not in public products: with the harm it gives the harm of single records. */
    if (!result->public_mode)
        add_column(columns, &n, "top3_share", COLUMN_REAL, "Share of the area's harm carried by its 3 largest records");
    add_column(columns, &n, "dominated", COLUMN_INTEGER, "1 when the 3 largest records carry at least "
                                                         "--dominance-share of the harm: read with care");
    for (size_t p = 0; p < result->period_count; p++) {
        const hm_agg_period *period = &result->periods[p];
        char from[32], to[32];
        format_day(period->from_days, from, sizeof from);
        format_day(period->to_days, to, sizeof to);
        snprintf(name, sizeof name, "count_%.40s", period->name);
        snprintf(description, sizeof description, "Records dated %s to %s", from, to);
        add_column(columns, &n, name, COLUMN_INTEGER, description);
        snprintf(name, sizeof name, "harm_%.40s", period->name);
        snprintf(description, sizeof description, "Harm of the records dated %s to %s", from, to);
        add_column(columns, &n, name, COLUMN_REAL, description);
    }
    if (result->period_count >= 2) {
        const char *first = result->periods[0].name, *last = result->periods[result->period_count - 1].name;
        snprintf(description, sizeof description, "count_%s - count_%s", last, first);
        add_column(columns, &n, "count_change", COLUMN_INTEGER, description);
        snprintf(description, sizeof description, "harm_%s - harm_%s", last, first);
        add_column(columns, &n, "harm_change", COLUMN_REAL, description);
        snprintf(description, sizeof description, "harm_%s / harm_%s (empty when harm_%s is 0)", last, first, first);
        add_column(columns, &n, "harm_ratio", COLUMN_REAL, description);
        add_column(columns, &n, "change_p", COLUMN_REAL, "Two-sided p of the change in counts per day (exact "
                                                         "conditional binomial test, as R's poisson.test)");
        add_column(columns, &n, "change_q", COLUMN_REAL, "change_p adjusted for the false discovery rate "
                                                         "(Benjamini-Hochberg) over the areas");
    }
    snprintf(description, sizeof description, "The value compared between neighbours: %s", result->hotspot_label);
    add_column(columns, &n, "hotspot_value", COLUMN_REAL, description);
    add_column(columns, &n, "neighbours", COLUMN_INTEGER, "Neighbouring areas (queen contiguity)");
    add_column(columns, &n, "gi_z", COLUMN_REAL, "Getis-Ord Gi* z-score of hotspot_value");
    add_column(columns, &n, "gi_p", COLUMN_REAL, "Two-sided p of gi_z (normal)");
    add_column(columns, &n, "gi_q", COLUMN_REAL, "gi_p adjusted (Benjamini-Hochberg)");
    add_column(columns, &n, "gi_class", COLUMN_TEXT, "hot or cold where gi_q < 0.05");
    add_column(columns, &n, "moran_i", COLUMN_REAL, "Local Moran's I of hotspot_value (row-standardised)");
    add_column(columns, &n, "moran_e", COLUMN_REAL, "Expectation of moran_i (spdep conditional = TRUE)");
    add_column(columns, &n, "moran_var", COLUMN_REAL, "Variance of moran_i");
    add_column(columns, &n, "moran_z", COLUMN_REAL, "(moran_i - moran_e) / sqrt(moran_var)");
    add_column(columns, &n, "moran_p", COLUMN_REAL, "Two-sided p of moran_z");
    add_column(columns, &n, "moran_q", COLUMN_REAL, "moran_p adjusted (Benjamini-Hochberg)");
    add_column(columns, &n, "moran_quadrant", COLUMN_TEXT, "High-High, Low-Low, High-Low or Low-High (value and "
                                                          "neighbours' mean against their means)");
    if (result->public_mode)
        add_column(columns, &n, "suppressed", COLUMN_INTEGER, "1: fewer than --min-count records: figures withheld");
    return n;
}

static cell text_cell(const char *text)
{
    cell c = {0};
    c.text = text ? text : "";
    return c;
}

static cell integer_cell(long long value)
{
    cell c = {0};
    c.integer = value;
    return c;
}

static cell real_cell(double value)
{
    cell c = {0};
    c.is_null = isnan(value);
    c.real = value;
    return c;
}

static cell null_cell(void)
{
    cell c = {0};
    c.is_null = 1;
    return c;
}

static size_t build_row(const agg_run *run, const hm_agg_set *set, const hm_agg_area *area, cell *cells)
{
    const hm_agg_result *result = &run->result;
    int hide = area->suppressed;
    int ward = strcmp(set->kind, "ward") == 0;
    size_t n = 0;
    cells[n++] = text_cell(area->code);
    cells[n++] = text_cell(area->name);
    cells[n++] = real_cell(area->area_km2);
    if (result->has_population && ward) cells[n++] = area->has_population ? real_cell(area->population) : null_cell();
    cells[n++] = hide ? null_cell() : integer_cell(area->count);
    if (!result->public_mode) {
        cells[n++] = integer_cell(area->incident_count);
        cells[n++] = integer_cell(area->intelligence_count);
    }
    cells[n++] = hide ? null_cell() : real_cell(area->harm);
    if (result->has_population && ward) cells[n++] = hide ? null_cell() : real_cell(area->harm_per_1000);
    cells[n++] = hide ? null_cell() : real_cell(area->harm_per_km2);
    cells[n++] = area->rank ? integer_cell(area->rank) : null_cell();
    cells[n++] = area->rank_per_km2 ? integer_cell(area->rank_per_km2) : null_cell();
    if (result->has_population && ward) cells[n++] = area->rank_per_1000 ? integer_cell(area->rank_per_1000) : null_cell();
    cells[n++] = hide ? null_cell() : real_cell(area->share);
    cells[n++] = hide ? null_cell() : text_cell(area->top_categories);
    if (!result->public_mode) cells[n++] = real_cell(area->top_share);
    cells[n++] = hide ? null_cell() : integer_cell(area->dominated);
    for (size_t p = 0; p < result->period_count; p++) {
        int hide_period = hide || area->period_suppressed[p];
        cells[n++] = hide_period ? null_cell() : integer_cell(area->period_count[p]);
        cells[n++] = hide_period ? null_cell() : real_cell(area->period_harm[p]);
    }
    if (result->period_count >= 2) {
        cells[n++] = isnan(area->count_change) ? null_cell() : integer_cell((long long)area->count_change);
        cells[n++] = real_cell(area->harm_change);
        cells[n++] = real_cell(area->harm_ratio);
        cells[n++] = real_cell(area->change_p);
        cells[n++] = real_cell(area->change_q);
    }
    cells[n++] = hide ? null_cell() : real_cell(area->hotspot_value);
    cells[n++] = set->hotspots_computed ? integer_cell((long long)area->neighbour_count) : null_cell();
    cells[n++] = hide ? null_cell() : real_cell(area->gi.z);
    cells[n++] = hide ? null_cell() : real_cell(area->gi.p);
    cells[n++] = hide ? null_cell() : real_cell(area->gi_q);
    cells[n++] = hide ? null_cell() : text_cell(area->gi_class);
    cells[n++] = hide ? null_cell() : real_cell(area->moran.i);
    cells[n++] = hide ? null_cell() : real_cell(area->moran.expectation);
    cells[n++] = hide ? null_cell() : real_cell(area->moran.variance);
    cells[n++] = hide ? null_cell() : real_cell(area->moran.z);
    cells[n++] = hide ? null_cell() : real_cell(area->moran.p);
    cells[n++] = hide ? null_cell() : real_cell(area->moran_q);
    cells[n++] = hide ? null_cell() : text_cell(hm_moran_quadrant_name(area->moran.quadrant));
    if (result->public_mode) cells[n++] = integer_cell(area->suppressed);
    return n;
}

/* ---- files ---- */

/* "dir/name.ext" -> "dir/name.tmp-PID.ext": beside the target (same file system, so rename is atomic) and with
 * the same extension (GDAL checks a GeoPackage's). */
static int make_temp_path(hm_ctx *ctx, const char *target, char *out, size_t size)
{
    const char *slash = strrchr(target, '/');
    const char *dot = strrchr(target, '.');
    if (!dot || (slash && dot < slash)) dot = target + strlen(target);
    int length = snprintf(out, size, "%.*s.tmp-%ld%s", (int)(dot - target), target, (long)getpid(), dot);
    if (length < 0 || (size_t)length >= size) return hm_error(ctx, HM_EINVAL, "path %s is too long", target);
    return HM_OK;
}

static void csv_write_text(FILE *file, const char *text)
{
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, file);
        return;
    }
    fputc('"', file);
    for (const char *p = text; *p; p++) {
        if (*p == '"') fputc('"', file);
        fputc(*p, file);
    }
    fputc('"', file);
}

static int write_csv(agg_run *run, const hm_agg_set *set, const char *path)
{
    hm_ctx *ctx = run->ctx;
    column_def columns[MAX_COLUMNS];
    cell cells[MAX_COLUMNS];
    size_t column_count = build_columns(run, set, columns);
    FILE *file = fopen(path, "w");
    if (!file) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    for (size_t c = 0; c < column_count; c++) {
        if (c) fputc(',', file);
        csv_write_text(file, columns[c].name);
    }
    fputc('\n', file);
    for (size_t i = 0; i < set->count; i++) {
        size_t n = build_row(run, set, &set->areas[i], cells);
        if (n != column_count) {
            fclose(file);
            return hm_error(ctx, HM_EINTERNAL, "%s: %zu cells for %zu columns", path, n, column_count);
        }
        for (size_t c = 0; c < n; c++) {
            if (c) fputc(',', file);
            if (cells[c].is_null) continue;
            if (columns[c].type == COLUMN_TEXT)
                csv_write_text(file, cells[c].text);
            else if (columns[c].type == COLUMN_INTEGER)
                fprintf(file, "%lld", cells[c].integer);
            else
                fprintf(file, "%.15g", cells[c].real);
        }
        fputc('\n', file);
    }
    int failed = ferror(file);
    if (fflush(file) != 0 || fsync(fileno(file)) != 0) failed = 1;
    if (fclose(file) != 0) failed = 1;
    if (failed) return hm_error(ctx, HM_EIO, "%s: write failed: %s", path, strerror(errno));
    return HM_OK;
}

static int set_cell_field(OGRFeatureH feature, int field, const column_def *column, const cell *value)
{
    if (value->is_null) {
        OGR_F_SetFieldNull(feature, field);
        return 0;
    }
    if (column->type == COLUMN_TEXT)
        OGR_F_SetFieldString(feature, field, value->text);
    else if (column->type == COLUMN_INTEGER)
        OGR_F_SetFieldInteger64(feature, field, value->integer);
    else
        OGR_F_SetFieldDouble(feature, field, value->real);
    return 0;
}

static int write_area_layer(agg_run *run, GDALDatasetH dataset, const hm_agg_set *set)
{
    hm_ctx *ctx = run->ctx;
    column_def columns[MAX_COLUMNS];
    cell cells[MAX_COLUMNS];
    size_t column_count = build_columns(run, set, columns);
    char description[512];
    snprintf(description, sizeof description, "DESCRIPTION=Harm per %s (harmmap aggregate%s): %s", set->kind,
             run->result.public_mode ? ", public: small counts suppressed" : "", run->result.unit);
    char *layer_options[] = {"FID=fid", "GEOMETRY_NAME=geom", description, NULL};
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, set->layer_name, run->srs, wkbMultiPolygon, layer_options);
    if (!layer)
        return hm_error(ctx, HM_EGDAL, "cannot create layer %s: %s", set->layer_name, CPLGetLastErrorMsg());
    for (size_t c = 0; c < column_count; c++) {
        OGRFieldType type = columns[c].type == COLUMN_TEXT      ? OFTString
                            : columns[c].type == COLUMN_INTEGER ? OFTInteger64
                                                                : OFTReal;
        OGRFieldDefnH field = OGR_Fld_Create(columns[c].name, type);
        OGRErr error = OGR_L_CreateField(layer, field, TRUE);
        OGR_Fld_Destroy(field);
        if (error != OGRERR_NONE)
            return hm_error(ctx, HM_EGDAL, "layer %s: cannot create field %s: %s", set->layer_name, columns[c].name,
                            CPLGetLastErrorMsg());
    }
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    for (size_t i = 0; i < set->count; i++) {
        const hm_agg_area *area = &set->areas[i];
        build_row(run, set, area, cells);
        OGRFeatureH feature = OGR_F_Create(definition);
        for (size_t c = 0; c < column_count; c++) set_cell_field(feature, (int)c, &columns[c], &cells[c]);
        OGR_F_SetGeometry(feature, area->geometry);
        OGRErr error = OGR_L_CreateFeature(layer, feature);
        OGR_F_Destroy(feature);
        if (error != OGRERR_NONE)
            return hm_error(ctx, HM_EGDAL, "layer %s, %s %s: cannot write the feature: %s", set->layer_name, set->kind,
                            area->code, CPLGetLastErrorMsg());
    }
    return HM_OK;
}

/* The caller's working copy (hm_aggregate_options_set_working_copy) is private until the caller flushes it
 * and renames it into place, and is removed if anything fails: written without a journal on disk and without
 * fsync, as the pipeline's merge writes it. Each sync of the freshly copied ~500 MB file flushed much of it
 * (0.2-0.4 s of the stage at a million records). Other files are written with SQLite's defaults. */
static int is_working_copy(const agg_run *run, const char *path)
{
    const char *working_copy = run->options->public_mode ? NULL : run->options->working_copy;
    return working_copy && strcmp(path, working_copy) == 0;
}

static int open_gpkg_for_writing(agg_run *run, const char *path, sqlite3 **db)
{
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        int status = hm_error(run->ctx, HM_ESQL, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return status;
    }
    sqlite3_busy_timeout(*db, 5000);
    if (is_working_copy(run, path) &&
        sqlite3_exec(*db, "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF", NULL, NULL, NULL) !=
            SQLITE_OK) {
        int status = hm_error(run->ctx, HM_ESQL, "%s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
        return status;
    }
    return HM_OK;
}

/* gpkg_data_columns descriptions (GeoPackage schema extension), so QGIS and ogrinfo can show what each field is. */
static int write_field_descriptions(agg_run *run, const char *path)
{
    sqlite3 *db = NULL;
    int status = open_gpkg_for_writing(run, path, &db);
    if (status != HM_OK) return status;
    const char *setup =
        "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
        "name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
        "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
        "CONSTRAINT gdc_tn UNIQUE (table_name, name));"
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT "
        "NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, "
        "extension_name));"
        "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, constraint_type "
        "TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN, "
        "description TEXT, CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));"
        /* Not INSERT OR IGNORE: column_name is NULL, and NULLs never collide in a UNIQUE constraint, so every
         * run on the same file would add the rows again. */
        "INSERT INTO gpkg_extensions SELECT 'gpkg_data_columns', NULL, 'gpkg_schema', "
        "'http://www.geopackage.org/spec121/#extension_schema', 'read-write' WHERE NOT EXISTS (SELECT 1 FROM "
        "gpkg_extensions WHERE table_name = 'gpkg_data_columns' AND extension_name = 'gpkg_schema');"
        "INSERT INTO gpkg_extensions SELECT 'gpkg_data_column_constraints', NULL, 'gpkg_schema', "
        "'http://www.geopackage.org/spec121/#extension_schema', 'read-write' WHERE NOT EXISTS (SELECT 1 FROM "
        "gpkg_extensions WHERE table_name = 'gpkg_data_column_constraints' AND extension_name = 'gpkg_schema');";
    char *message = NULL;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK || sqlite3_exec(db, setup, NULL, NULL, &message) != SQLITE_OK) {
        status = hm_error(run->ctx, HM_ESQL, "%s: gpkg_data_columns: %s", path, message ? message : sqlite3_errmsg(db));
        sqlite3_free(message);
    }
    sqlite3_stmt *insert = NULL;
    if (status == HM_OK &&
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, description) "
                               "VALUES (?, ?, ?)", -1, &insert, NULL) != SQLITE_OK)
        status = hm_error(run->ctx, HM_ESQL, "%s: %s", path, sqlite3_errmsg(db));
    const hm_agg_set *sets[2] = {&run->result.wards, run->result.has_beats ? &run->result.beats : NULL};
    for (int s = 0; status == HM_OK && s < 2; s++) {
        if (!sets[s]) continue;
        column_def columns[MAX_COLUMNS];
        size_t count = build_columns(run, sets[s], columns);
        for (size_t c = 0; status == HM_OK && c < count; c++) {
            sqlite3_bind_text(insert, 1, sets[s]->layer_name, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 2, columns[c].name, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 3, columns[c].description, -1, SQLITE_STATIC);
            if (sqlite3_step(insert) != SQLITE_DONE) status = hm_error(run->ctx, HM_ESQL, "%s: %s", path, sqlite3_errmsg(db));
            sqlite3_reset(insert);
        }
    }
    sqlite3_finalize(insert);
    if (status == HM_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        status = hm_error(run->ctx, HM_ESQL, "%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return status;
}

typedef struct metadata_item {
    const char *key;
    char value[20480];
} metadata_item;

static int write_metadata_layer(agg_run *run, GDALDatasetH dataset)
{
    hm_ctx *ctx = run->ctx;
    const hm_agg_result *result = &run->result;
    char *layer_options[] = {"FID=fid", "DESCRIPTION=How harmmap aggregate made ward_harm and beat_harm", NULL};
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, "aggregate_runs", NULL, wkbNone, layer_options);
    if (!layer) return hm_error(ctx, HM_EGDAL, "cannot create table aggregate_runs: %s", CPLGetLastErrorMsg());
    const char *names[] = {"run_started", "item", "value"};
    for (int f = 0; f < 3; f++) {
        OGRFieldDefnH field = OGR_Fld_Create(names[f], OFTString);
        OGR_L_CreateField(layer, field, TRUE);
        OGR_Fld_Destroy(field);
    }
    static metadata_item items[20];
    size_t n = 0;
    char libraries[256];
    hm_library_versions(libraries, sizeof libraries);
    items[n].key = "harmmap_version";
    snprintf(items[n++].value, sizeof items[0].value, "harmmap %s (%s)", hm_version(), libraries);
    items[n].key = "input";
    snprintf(items[n++].value, sizeof items[0].value, "%s", result->input_path);
    items[n].key = "harm_source";
    snprintf(items[n++].value, sizeof items[0].value, "%s", result->harm_source);
    if (result->unweighted_note[0]) {
        items[n].key = "unweighted_categories";
        snprintf(items[n++].value, sizeof items[0].value, "no weight, harm 0: %s", result->unweighted_note);
    }
    items[n].key = "hotspots_wards";
    snprintf(items[n++].value, sizeof items[0].value, "%s", result->wards.hotspot_note);
    if (result->has_beats) {
        items[n].key = "hotspots_beats";
        snprintf(items[n++].value, sizeof items[0].value, "%s", result->beats.hotspot_note);
    }
    items[n].key = "population";
    snprintf(items[n++].value, sizeof items[0].value, "%s", result->has_population ? result->population_path : "none");
    items[n].key = "periods";
    items[n].value[0] = '\0';
    for (size_t p = 0; p < result->period_count; p++) {
        size_t used = strlen(items[n].value);
        snprintf(items[n].value + used, sizeof items[0].value - used, "%s%s", p ? "; " : "", result->periods[p].text);
    }
    n++;
    items[n].key = "public";
    if (result->public_mode)
        snprintf(items[n++].value, sizeof items[0].value, "yes: areas with fewer than %ld records suppressed "
                 "(%zu wards, %zu beats); intelligence not graded P left out", result->min_count,
                 result->wards.suppressed_count, result->beats.suppressed_count);
    else
        snprintf(items[n++].value, sizeof items[0].value, "no");
    /* Not in a public product: the overall totals minus the published areas' would reveal the suppressed ones. */
    if (!result->public_mode) {
        items[n].key = "records";
        snprintf(items[n++].value, sizeof items[0].value, "%lld used; %lld outside every ward; %lld undated",
                 result->records_used, result->records_outside, result->records_undated);
    }
    if (!result->public_mode) {
        items[n].key = "harm_placed_total";
        snprintf(items[n++].value, sizeof items[0].value, "%.17g (= sum of ward_harm.harm)", result->placed_harm_total);
    }
    OGRFeatureDefnH definition = OGR_L_GetLayerDefn(layer);
    for (size_t i = 0; i < n; i++) {
        OGRFeatureH feature = OGR_F_Create(definition);
        OGR_F_SetFieldString(feature, 0, result->started);
        OGR_F_SetFieldString(feature, 1, items[i].key);
        OGR_F_SetFieldString(feature, 2, items[i].value);
        OGRErr error = OGR_L_CreateFeature(layer, feature);
        OGR_F_Destroy(feature);
        if (error != OGRERR_NONE) return hm_error(ctx, HM_EGDAL, "aggregate_runs: %s", CPLGetLastErrorMsg());
    }
    return HM_OK;
}

static int delete_layer_if_present(hm_ctx *ctx, GDALDatasetH dataset, const char *name)
{
    for (int i = 0; i < GDALDatasetGetLayerCount(dataset); i++) {
        OGRLayerH layer = GDALDatasetGetLayer(dataset, i);
        if (strcmp(OGR_L_GetName(layer), name) == 0) {
            if (GDALDatasetDeleteLayer(dataset, i) != OGRERR_NONE)
                return hm_error(ctx, HM_EGDAL, "cannot replace layer %s: %s", name, CPLGetLastErrorMsg());
            return HM_OK;
        }
    }
    return HM_OK;
}

/* Writes the layers to `path`: an existing copy of the input (update) or a new GeoPackage (create). */
static int write_geopackage(agg_run *run, const char *path, int create)
{
    hm_ctx *ctx = run->ctx;
    GDALDatasetH dataset = NULL;
    if (create) {
        GDALDriverH driver = GDALGetDriverByName("GPKG");
        if (!driver) return hm_error(ctx, HM_EGDAL, "GDAL has no GPKG driver");
        dataset = GDALCreate(driver, path, 0, 0, 0, GDT_Unknown, NULL);
    } else if (is_working_copy(run, path)) {
        /* See open_gpkg_for_writing; set for this thread and this open only. */
        char *journal = CPLStrdup(CPLGetThreadLocalConfigOption("OGR_SQLITE_JOURNAL", NULL));
        char *synchronous = CPLStrdup(CPLGetThreadLocalConfigOption("OGR_SQLITE_SYNCHRONOUS", NULL));
        CPLSetThreadLocalConfigOption("OGR_SQLITE_JOURNAL", "MEMORY");
        CPLSetThreadLocalConfigOption("OGR_SQLITE_SYNCHRONOUS", "OFF");
        dataset = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL);
        CPLSetThreadLocalConfigOption("OGR_SQLITE_JOURNAL", *journal ? journal : NULL);
        CPLSetThreadLocalConfigOption("OGR_SQLITE_SYNCHRONOUS", *synchronous ? synchronous : NULL);
        CPLFree(journal);
        CPLFree(synchronous);
    } else {
        dataset = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL);
    }
    if (!dataset) return hm_error(ctx, HM_EGDAL, "%s: GDAL cannot write it: %s", path, CPLGetLastErrorMsg());
    int status = HM_OK;
    const char *replaced[] = {"ward_harm", "beat_harm", "aggregate_runs"};
    for (size_t i = 0; status == HM_OK && !create && i < 3; i++)
        status = delete_layer_if_present(ctx, dataset, replaced[i]);
    if (status == HM_OK && GDALDatasetStartTransaction(dataset, FALSE) != OGRERR_NONE)
        status = hm_error(ctx, HM_EGDAL, "%s: cannot start a transaction: %s", path, CPLGetLastErrorMsg());
    if (status == HM_OK) status = write_area_layer(run, dataset, &run->result.wards);
    if (status == HM_OK && run->result.has_beats) status = write_area_layer(run, dataset, &run->result.beats);
    if (status == HM_OK) status = write_metadata_layer(run, dataset);
    if (status == HM_OK && GDALDatasetCommitTransaction(dataset) != OGRERR_NONE)
        status = hm_error(ctx, HM_EGDAL, "%s: cannot commit: %s", path, CPLGetLastErrorMsg());
    GDALClose(dataset);
    if (status == HM_OK) status = write_field_descriptions(run, path);
    return status;
}

static int ensure_directory(hm_ctx *ctx, const char *path)
{
    struct stat info;
    if (stat(path, &info) == 0) {
        if (!S_ISDIR(info.st_mode)) return hm_error(ctx, HM_EIO, "-o %s: exists and is not a folder", path);
        return HM_OK;
    }
    if (mkdir(path, 0777) != 0) return hm_error(ctx, HM_EIO, "-o %s: cannot create the folder: %s", path, strerror(errno));
    return HM_OK;
}

static void default_output_dir(const hm_aggregate_options *options, char *out, size_t size)
{
    if (options->output_dir) {
        snprintf(out, size, "%s", options->output_dir);
        return;
    }
    if (options->public_mode) {
        size_t length = strlen(options->input_path);
        if (length > 5 && strcasecmp(options->input_path + length - 5, ".gpkg") == 0) length -= 5;
        snprintf(out, size, "%.*s-public", (int)length, options->input_path);
        return;
    }
    const char *slash = strrchr(options->input_path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == options->input_path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - options->input_path), options->input_path);
}

typedef struct pending_file {
    char temp[4200];
    char target[4200];
} pending_file;

static int write_outputs(agg_run *run)
{
    hm_ctx *ctx = run->ctx;
    const hm_aggregate_options *options = run->options;
    default_output_dir(options, run->output_dir, sizeof run->output_dir);
    int status = ensure_directory(ctx, run->output_dir);
    if (status != HM_OK) return status;
    pending_file files[5];
    size_t file_count = 0;
    double clock = hm_monotonic_seconds();
    const char *names[] = {"ward_harm.csv", "beat_harm.csv", "report.html"};
    for (size_t f = 0; status == HM_OK && f < 3; f++) {
        if (f == 1 && !run->result.has_beats) continue;
        pending_file *file = &files[file_count++];
        snprintf(file->target, sizeof file->target, "%s/%s", run->output_dir, names[f]);
        status = make_temp_path(ctx, file->target, file->temp, sizeof file->temp);
        if (status != HM_OK) break;
        if (f == 0) status = write_csv(run, &run->result.wards, file->temp);
        if (f == 1) status = write_csv(run, &run->result.beats, file->temp);
        if (f == 2) {
            take_outlines(run);
            status = hm_agg_write_report(ctx, &run->result, file->temp);
            keep_outlines(run);
        }
    }
    /* In a working copy the caller owns (the pipeline's one write of harmmap.gpkg per run or update), the layers,
     * styles and metadata go straight into it: the caller flushes it and renames it over input_path. */
    const char *working_copy = options->public_mode ? NULL : options->working_copy;
    run->seconds[2] = hm_monotonic_seconds() - clock;
    clock = hm_monotonic_seconds();
    if (status == HM_OK && working_copy) {
        status = write_geopackage(run, working_copy, 0);
        run->seconds[3] = hm_monotonic_seconds() - clock;
        clock = hm_monotonic_seconds();
        sqlite3 *db = NULL;
        if (status == HM_OK) status = open_gpkg_for_writing(run, working_copy, &db);
        if (status == HM_OK && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            status = hm_error(ctx, HM_ESQL, "%s: cannot start a transaction: %s", working_copy,
                              sqlite3_errmsg(db));
        /* The records' summaries (categories, dates, rows) continued from those the pipeline keeps, when it
         * vouches for the records they cover: the new rows read, not a million (layer_summary.h). Written by
         * the qgis stage, not here. */
        hm_gpkg_style_options styles = {0};
        int continued = status == HM_OK && options->kept_unchanged && options->layer_summaries;
        if (continued && !(styles.summaries = hm_layer_summaries_create(db)))
            status = hm_error(ctx, HM_ENOMEM, "out of memory");
        if (continued && status == HM_OK)
            status = hm_layer_summaries_continue(ctx, styles.summaries, options->layer_summaries,
                                                 &run->summaries_continued);
        if (status == HM_OK) {
            /* As hm_qgis_prepare_gpkg, on the connection without syncs. */
            const hm_run_parameter parameters[] = {{"population", options->population_path}, {"public", "no"}};
            const hm_run_description description = {"aggregate", run->result.started, parameters, 2, NULL};
            status = hm_qgis_prepare_database(ctx, db, &description, continued ? &styles : NULL);
            if (status == HM_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                status = hm_error(ctx, HM_ESQL, "%s: commit failed: %s", working_copy, sqlite3_errmsg(db));
            if (status != HM_OK) {
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                hm_error_prefix(ctx, "%s", working_copy);
            }
        }
        hm_layer_summaries_destroy(styles.summaries);
        sqlite3_close(db);
        run->seconds[4] = hm_monotonic_seconds() - clock;
    } else if (status == HM_OK) {
        pending_file *file = &files[file_count++];
        if (options->public_mode)
            snprintf(file->target, sizeof file->target, "%s/public.gpkg", run->output_dir);
        else
            snprintf(file->target, sizeof file->target, "%s", options->input_path);
        status = make_temp_path(ctx, file->target, file->temp, sizeof file->temp);
        if (status == HM_OK && !options->public_mode) status = hm_copy_file(ctx, options->input_path, file->temp);
        if (status == HM_OK) status = write_geopackage(run, file->temp, options->public_mode);
        /* QGIS-ready (qgis_project.h): default styles with this run's classes, metadata, on the copy before it is
         * renamed into place. */
        if (status == HM_OK) {
            const hm_run_parameter parameters[] = {{"population", options->population_path},
                                                   {"public", options->public_mode ? "yes" : "no"}};
            const hm_run_description description = {"aggregate", run->result.started, parameters, 2, NULL};
            status = hm_qgis_prepare_gpkg(ctx, file->temp, &description, NULL);
        }
        if (status == HM_OK && hm_fsync_path(file->temp) != 0)
            status = hm_error(ctx, HM_EIO, "%s: fsync failed: %s", file->temp, strerror(errno));
    }
    /* Outside --public the outputs hold what the input holds: they get its permissions (geocode makes a file
     * holding intelligence readable by its owner only). */
    struct stat input_info;
    if (status == HM_OK && !options->public_mode && stat(source_path(options), &input_info) == 0)
        for (size_t f = 0; f < file_count; f++) chmod(files[f].temp, input_info.st_mode & 0777);
    for (size_t f = 0; status == HM_OK && f < file_count; f++)
        if (rename(files[f].temp, files[f].target) != 0)
            status = hm_error(ctx, HM_EIO, "cannot rename %s to %s: %s", files[f].temp, files[f].target,
                              strerror(errno));
    if (status != HM_OK)
        for (size_t f = 0; f < file_count; f++) unlink(files[f].temp);
    for (size_t f = 0; status == HM_OK && f < file_count; f++)
        hm_remove_stale_temporaries(ctx, files[f].temp); /* left by killed runs */
    /* Without beats there is no beat table: one left by an earlier run with beats would be read as this one's. */
    char stale[sizeof run->output_dir + 32];
    if (status == HM_OK && !run->result.has_beats &&
        snprintf(stale, sizeof stale, "%s/beat_harm.csv", run->output_dir) < (int)sizeof stale && unlink(stale) == 0)
        hm_info(ctx, "removed %s: it was made with beats, and this run has none", stale);
    return status;
}

/* ---- the command ---- */

/* Removes the folders from the paths in `text`: in each word (a run of characters between spaces, ',', ';', '(',
 * ')' and ':') that holds a '/', only what follows its last '/' is kept. */
static void strip_folders(char *text)
{
    static const char separators[] = " ,;():";
    char *out = text;
    for (const char *in = text; *in;) {
        if (strchr(separators, *in)) {
            *out++ = *in++;
            continue;
        }
        const char *end = in + strcspn(in, separators);
        const char *name = in;
        for (const char *c = in; c < end; c++)
            if (*c == '/') name = c + 1;
        while (name < end) *out++ = *name++;
        in = end;
    }
    *out = '\0';
}

/* A public product names the files it was made from by their names only: the folders they sat in (a user's home,
 * an operation's name) are not for the public. */
static void keep_file_names_only(hm_agg_result *result)
{
    strip_folders(result->input_path);
    strip_folders(result->population_path);
    strip_folders(result->harm_source);
}

/* The note (hm_aggregate_options_set_state) ends with where the time went. */
static void note_seconds(const agg_run *run)
{
    const hm_aggregate_options *options = run->options;
    if (!options->state_note || !options->state_note_size) return;
    size_t used = strlen(options->state_note);
    if (used >= options->state_note_size) return;
    snprintf(options->state_note + used, options->state_note_size - used,
             "; records %.2f s, statistics %.2f s, tables and report %.2f s, layers %.2f s, their styles and "
             "metadata %.2f s (%zu kept layer summaries continued); CPU %.2f s",
             run->seconds[0], run->seconds[1], run->seconds[2], run->seconds[3], run->seconds[4],
             run->summaries_continued, run->cpu_seconds);
}

static void free_set(hm_ctx *ctx, hm_agg_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        hm_agg_area *area = &set->areas[i];
        free(area->code);
        free(area->name);
        if (area->geometry) OGR_G_DestroyGeometry(area->geometry);
        if (area->geos) GEOSGeom_destroy_r(hm_ctx_geos(ctx), area->geos);
        free(area->period_count);
        free(area->period_harm);
        free(area->period_suppressed);
        free(area->category_harm);
    }
    free(set->areas);
}

static void print_summary(const agg_run *run)
{
    const hm_agg_result *result = &run->result;
    char harm[64];
    hm_agg_format_number(result->wards.harm_total, 1, harm, sizeof harm);
    printf("records: %lld read, %lld of them outside every ward%s", result->records_used, result->records_outside,
           result->public_mode ? "" : "\n");
    if (result->public_mode) printf(" (intelligence not graded P left out)\n");
    const hm_agg_set *sets[2] = {&result->wards, result->has_beats ? &result->beats : NULL};
    for (int s = 0; s < 2; s++) {
        const hm_agg_set *set = sets[s];
        if (!set) continue;
        size_t hot = 0, cold = 0;
        for (size_t i = 0; i < set->count; i++) {
            hot += strcmp(set->areas[i].gi_class, "hot") == 0;
            cold += strcmp(set->areas[i].gi_class, "cold") == 0;
        }
        hm_agg_format_number(set->harm_total, 1, harm, sizeof harm);
        printf("%s: %zu %ss, harm %s %s", set->layer_name, set->count, set->kind, harm, result->unit);
        if (set->hotspots_computed) printf("; Gi* hot spots %zu, cold spots %zu (q < 0.05)", hot, cold);
        if (result->public_mode) printf("; %zu suppressed (< %ld records)", set->suppressed_count, result->min_count);
        printf("\n");
    }
    if (result->public_mode)
        printf("wrote %s/public.gpkg, ward_harm.csv%s and report.html\n", run->output_dir,
               result->has_beats ? ", beat_harm.csv" : "");
    else
        printf("wrote layers %s and aggregate_runs to %s; ward_harm.csv%s and report.html to %s/\n",
               result->has_beats ? "ward_harm, beat_harm" : "ward_harm", result->input_path,
               result->has_beats ? ", beat_harm.csv" : "", run->output_dir);
}

int hm_aggregate(hm_ctx *ctx, const hm_aggregate_options *options, GDALProgressFunc progress)
{
    if (!options) return HM_OK; /* --help was printed */
    agg_run run;
    memset(&run, 0, sizeof run);
    run.ctx = ctx;
    run.options = options;
    hm_agg_result *result = &run.result;
    snprintf(result->input_path, sizeof result->input_path, "%s", options->input_path);
    hm_timestamp_now(result->started);
    result->periods = run.options->period_count ? (hm_agg_period *)options->periods : NULL;
    result->period_count = options->period_count;
    result->public_mode = options->public_mode;
    result->min_count = options->min_count;
    result->hotspot_variable = options->hotspot_variable;
    result->hotspot_label = strcmp(options->hotspot_variable, "rate") == 0   ? "harm per 1,000 residents"
                            : strcmp(options->hotspot_variable, "harm") == 0 ? "harm (not adjusted for area size)"
                                                                              : "harm per km²";
    result->neighbour_tolerance_m = options->neighbour_tolerance_m;

    double cpu_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    run.outline_hash[0] = run.outline_hash[1] = AGG_HASH_START;
    int status = open_input(&run);
    if (status == HM_OK) status = load_boundaries(&run);
    if (status == HM_OK && progress) progress(0.2, "boundaries read", NULL);
    if (status == HM_OK && options->population_path) status = load_population(&run);
    if (status == HM_OK) status = prepare_harm(&run);
    run.state_enabled = options->state_path && !options->public_mode && run.use_harm_column;
    run.incident_hash = run.hash_before_last = AGG_HASH_START;
    run.last_incident_fid = -1;
    double clock = hm_monotonic_seconds();
    if (status == HM_OK) status = read_records(&run);
    if (status == HM_OK && progress) progress(0.5, "records read", NULL);
    if (run.db) sqlite3_close(run.db);
    run.db = NULL;
    run.seconds[0] = hm_monotonic_seconds() - clock;
    clock = hm_monotonic_seconds();
    if (status == HM_OK) status = compute(&run);
    run.seconds[1] = hm_monotonic_seconds() - clock;
    if (status == HM_OK && run.state_enabled)
        state_note_append(
            &run,
            "; from the kept sums too: the neighbours of %d of %d layers, %zu of %zu change tests, "
            "%s",
            run.neighbours_taken, run.neighbours_total, run.tests_taken, run.tests_total,
            outlines_kept(&run) ? "the report's ward outlines" : "not the report's ward outlines");
    if (status == HM_OK && progress) progress(0.7, "statistics computed", NULL);
    if (status == HM_OK && options->public_mode) keep_file_names_only(result);
    if (status == HM_OK) status = write_outputs(&run);
    if (status == HM_OK && run.state_enabled) save_state(&run);
    if (status == HM_OK && options->state_path && !options->state_note) hm_info(ctx, "aggregate: %s", run.state_note);
    run.cpu_seconds = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    if (status == HM_OK) note_seconds(&run);
    if (status == HM_OK && progress) progress(1.0, "written", NULL);
    if (status == HM_OK && hm_ctx_verbosity(ctx) >= HM_NORMAL) print_summary(&run);

    free_set(ctx, &result->wards);
    free_set(ctx, &result->beats);
    for (size_t c = 0; c < result->category_count; c++) free(result->categories[c]);
    free(result->categories);
    string_index_free(&run.ward_index);
    string_index_free(&run.beat_index);
    string_index_free(&run.category_index);
    if (run.srs) OSRDestroySpatialReference(run.srs);
    hm_harm_model_destroy(run.model);
    free(run.records);
    free_kept(&run.kept);
    free_flagged(&run.flagged[0]);
    free_flagged(&run.flagged[1]);
    for (int k = 0; k < 2; k++) {
        free_derived(&run.cached[k]);
        free_derived(&run.computed[k]);
    }
    free(run.snapshot.data);
    return status;
}
