/*
 * project.c - see project.h.
 *
 * One table (`keys` below) says everything about the project file: which keys each section has, what values
 * they take, which stage and option each feeds, and a line of help. Reading, checking, the argvs and `harmmap help
 * run` all come from it, so they cannot disagree.
 */
#include "project.h"

#include "tempfiles.h"

#include <ini.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPORTED_PROBLEMS 12

typedef enum value_type {
    V_TEXT,             /* any text */
    V_PATH,             /* an existing file or folder, relative to the project folder */
    V_OUTPUT_DIR,       /* a folder to write (need not exist) */
    V_NUMBER,           /* a number in [min, max] */
    V_INTEGER,          /* a whole number in [min, max] */
    V_BOOL,             /* yes/no */
    V_CHOICE,           /* one of `choices` */
    V_CHOICE_OR_PATH,   /* one of `choices`, or an existing file */
    V_CHOICE_OR_NUMBER, /* one of `choices`, or a number in [min, max] */
    V_CHOICE_OR_FIELD,  /* one of `choices`, or a field name */
    V_EPSG,             /* EPSG:NNNN */
    V_SIZE,             /* a size such as 2G, 512M (plain numbers are MiB) */
    V_DAYS,             /* 180 or 180d */
    V_DATE,             /* YYYY-MM-DD */
    V_DATE_PREFIX,      /* YYYY, YYYY-MM or YYYY-MM-DD */
    V_PERIOD,           /* FROM..TO, each YYYY-MM or YYYY-MM-DD */
    V_EXTENT,           /* wards, beats or xmin,ymin,xmax,ymax */
    V_RANGE,            /* auto or MIN,MAX */
    V_ZOOM,             /* Z or Z1-Z2 */
    V_GRADING_ORDER     /* S, I and H once each */
} value_type;

enum { KEY_REPEATABLE = 1, KEY_REQUIRED = 2 };

typedef struct key_spec {
    const char *section;
    const char *key; /* NULL: any name (the [periods] section) */
    value_type type;
    const char *choices; /* "a|b|c" */
    double min, max;
    unsigned flags;
    const char *command; /* the stage the key feeds, NULL when the pipeline itself uses it */
    const char *option;  /* the stage's option */
    const char *help;
} key_spec;

#define ANY 0, 0
static const key_spec keys[] = {
    {"project", "name", V_TEXT, NULL, ANY, 0, "tiles", "--title", "the job's name (viewer and MBTiles title)"},
    {"project", "output", V_OUTPUT_DIR, NULL, ANY, 0, NULL, NULL,
     "output folder (default out/NAME-OF-THIS-FILE), created when missing"},
    {"project", "crs", V_EPSG, NULL, ANY, 0, "geocode", "--crs", "working CRS (default EPSG:27700)"},
    {"project", "threads", V_INTEGER, NULL, 1, 256, 0, NULL, NULL,
     "threads for density and tiles (default: one per processor; results do not depend on it)"},
    {"project", "max_memory", V_SIZE, NULL, ANY, 0, "density", "--max-memory",
     "largest density grid allowed, e.g. 2G (default 2G)"},

    {"boundaries", "wards", V_PATH, NULL, ANY, KEY_REQUIRED, "geocode", "--wards",
     "ward polygons: GeoPackage, Shapefile, GeoJSON or KML"},
    {"boundaries", "ward_layer", V_TEXT, NULL, ANY, 0, "geocode", "--ward-layer", "layer of the wards file"},
    {"boundaries", "ward_code", V_TEXT, NULL, ANY, 0, "geocode", "--ward-code", "ward code field (detected)"},
    {"boundaries", "ward_name", V_TEXT, NULL, ANY, 0, "geocode", "--ward-name", "ward name field (detected)"},
    {"boundaries", "beats", V_PATH, NULL, ANY, 0, "geocode", "--beats",
     "police beat polygons, or a folder of data.police.uk neighbourhood KML files"},
    {"boundaries", "beat_layer", V_TEXT, NULL, ANY, 0, "geocode", "--beat-layer", "layer of the beats file"},
    {"boundaries", "beat_code", V_TEXT, NULL, ANY, 0, "geocode", "--beat-code", "beat code field (detected)"},
    {"boundaries", "beat_name", V_TEXT, NULL, ANY, 0, "geocode", "--beat-name", "beat name field (detected)"},

    {"inputs", "incidents", V_PATH, NULL, ANY, KEY_REPEATABLE, "geocode", "", "an incident CSV (data.police.uk "
     "street-level or generic); one line per file, loaded in this order"},
    {"inputs", "intelligence", V_PATH, NULL, ANY, KEY_REPEATABLE, "geocode", "--intel",
     "an intelligence CSV graded 3x5x2; one line per file"},
    {"inputs", "postcodes", V_PATH, NULL, ANY, 0, "geocode", "--postcodes",
     "postcode table (ONS Postcode Directory or Code-Point Open CSV)"},
    {"inputs", "snap", V_NUMBER, NULL, 0, 1e6, 0, "geocode", "--snap",
     "metres: points outside every ward but this close to one go to the nearest (default 0)"},
    {"inputs", "grading_order", V_GRADING_ORDER, NULL, ANY, 0, "geocode", "--grading-order",
     "order of the parts of a single grading column, e.g. SIH"},
    {"inputs", "max_record_bytes", V_INTEGER, NULL, 64, 1 << 30, 0, "geocode", "--max-record-bytes",
     "longest record accepted (default 1048576)"},
    {"inputs", "id_field", V_TEXT, NULL, ANY, 0, "geocode", "--id-field", "the column playing each role, when not detected from the header"},
    {"inputs", "date_field", V_TEXT, NULL, ANY, 0, "geocode", "--date-field", NULL},
    {"inputs", "category_field", V_TEXT, NULL, ANY, 0, "geocode", "--category-field", NULL},
    {"inputs", "weight_field", V_TEXT, NULL, ANY, 0, "geocode", "--weight-field", NULL},
    {"inputs", "lon_field", V_TEXT, NULL, ANY, 0, "geocode", "--lon-field", NULL},
    {"inputs", "lat_field", V_TEXT, NULL, ANY, 0, "geocode", "--lat-field", NULL},
    {"inputs", "easting_field", V_TEXT, NULL, ANY, 0, "geocode", "--easting-field", NULL},
    {"inputs", "northing_field", V_TEXT, NULL, ANY, 0, "geocode", "--northing-field", NULL},
    {"inputs", "gridref_field", V_TEXT, NULL, ANY, 0, "geocode", "--gridref-field", NULL},
    {"inputs", "postcode_field", V_TEXT, NULL, ANY, 0, "geocode", "--postcode-field", NULL},
    {"inputs", "location_field", V_TEXT, NULL, ANY, 0, "geocode", "--location-field", NULL},
    {"inputs", "lsoa_field", V_TEXT, NULL, ANY, 0, "geocode", "--lsoa-field", NULL},
    {"inputs", "outcome_field", V_TEXT, NULL, ANY, 0, "geocode", "--outcome-field", NULL},
    {"inputs", "source_evaluation_field", V_TEXT, NULL, ANY, 0, "geocode", "--source-evaluation-field", NULL},
    {"inputs", "intelligence_assessment_field", V_TEXT, NULL, ANY, 0, "geocode", "--intelligence-assessment-field",
     NULL},
    {"inputs", "handling_code_field", V_TEXT, NULL, ANY, 0, "geocode", "--handling-code-field", NULL},
    {"inputs", "grading_field", V_TEXT, NULL, ANY, 0, "geocode", "--grading-field", NULL},
    {"inputs", "ocg_field", V_TEXT, NULL, ANY, 0, "geocode", "--ocg-field", NULL},

    {"harm", "index", V_CHOICE_OR_PATH, "cchi|css", ANY, 0, "geocode", "--harm-index",
     "category weights: cchi (Cambridge Crime Harm Index, default), css (ONS Crime Severity Score) or a CSV"},
    {"harm", "grading_table", V_PATH, NULL, ANY, 0, "geocode", "--grading-table",
     "3x5x2 grading multipliers (default data/harm/grading.csv)"},
    {"harm", "ocg_table", V_PATH, NULL, ANY, 0, "geocode", "--ocg-table",
     "organised crime group scores (columns ocg_ref,score)"},
    {"harm", "half_life", V_DAYS, NULL, ANY, 0, "geocode", "--half-life", "recency decay half-life in days, e.g. 180d"},
    {"harm", "reference_date", V_DATE, NULL, ANY, 0, "geocode", "--reference-date",
     "YYYY-MM-DD ages are measured from (required with half_life)"},
    {"harm", "exclude_proactive", V_BOOL, NULL, ANY, 0, "geocode", "--exclude-proactive",
     "yes: proactively found categories (drugs, weapons) get harm 0"},

    {"aggregate", "population", V_PATH, NULL, ANY, 0, "aggregate", "--population",
     "CSV of ward code and population: adds harm per 1,000 residents"},
    {"aggregate", "hotspot_variable", V_CHOICE, "density|rate|harm", ANY, 0, "aggregate", "--hotspot-variable",
     "value compared between neighbours (default density)"},
    {"aggregate", "neighbour_tolerance", V_NUMBER, NULL, 0, 1e5, 0, "aggregate", "--neighbour-tolerance",
     "metres: areas closer than this are neighbours (default 0.01)"},
    {"aggregate", "top_categories", V_INTEGER, NULL, 1, 100, 0, "aggregate", "--top-categories",
     "categories listed per area (default 3)"},
    {"aggregate", "dominance_share", V_NUMBER, NULL, 0, 1, 0, "aggregate", "--dominance-share",
     "flag areas whose 3 largest records carry this share of the harm (default 0.5)"},
    {"aggregate", "public", V_BOOL, NULL, ANY, 0, "aggregate", "--public",
     "yes: also write the public product (suppressed small counts, no points) to OUTPUT/public"},
    {"aggregate", "min_count", V_INTEGER, NULL, 1, 1000000, 0, "aggregate", "--min-count",
     "public product: areas with fewer records are suppressed (default 5)"},

    {"periods", NULL, V_PERIOD, NULL, ANY, KEY_REPEATABLE, "aggregate", "--period",
     "NAME = FROM..TO (YYYY-MM or YYYY-MM-DD, inclusive); with two or more, the first and last are compared"},

    {"density", "radius", V_CHOICE_OR_NUMBER, "silverman|arcgis", 1e-9, 1e6, 0, "density", "--radius",
     "kernel radius in metres (default 500), or a bandwidth rule"},
    {"density", "radius_field", V_TEXT, NULL, ANY, 0, "density", "--radius-field", "per-record radius field"},
    {"density", "cell", V_NUMBER, NULL, 1e-6, 1e6, 0, "density", "--cell", "cell size in metres (default 25)"},
    {"density", "kernel", V_CHOICE, "quartic|triangular|uniform|triweight|epanechnikov", ANY, 0, "density",
     "--kernel", "kernel shape (default quartic)"},
    {"density", "decay", V_NUMBER, NULL, -1e6, 1, 0, "density", "--decay",
     "triangular kernel: value at the radius (default 0)"},
    {"density", "weight", V_CHOICE_OR_FIELD, "harm|count", ANY, 0, "density", "--weight",
     "weight of a record: harm (default), count, or a numeric field"},
    {"density", "output", V_CHOICE, "raw|scaled", ANY, 0, "density", "--output",
     "raw kernel sums (default) or scaled to integrate to the total weight"},
    {"density", "extent", V_EXTENT, NULL, ANY, 0, "density", "--extent",
     "wards (default: cells outside every ward are nodata), beats, or xmin,ymin,xmax,ymax"},
    {"density", "layers", V_TEXT, NULL, ANY, 0, "density", "--layers",
     "point layers used (default incidents,intelligence)"},
    {"density", "from", V_DATE_PREFIX, NULL, ANY, 0, "density", "--from", "only records dated from (YYYY[-MM[-DD]])"},
    {"density", "to", V_DATE_PREFIX, NULL, ANY, 0, "density", "--to", "only records dated up to"},
    {"density", "date_field", V_TEXT, NULL, ANY, 0, "density", "--date-field", "date field (default date)"},

    {"tiles", "zoom", V_ZOOM, NULL, 0, 22, 0, "tiles", "--zoom", "zoom levels, e.g. 8-15 (the default)"},
    {"tiles", "ramp", V_CHOICE_OR_PATH, "viridis|magma|inferno|cividis|ylorrd", ANY, 0, "tiles", "--ramp",
     "colour ramp (default viridis) or a ramp file"},
    {"tiles", "range", V_RANGE, NULL, ANY, 0, "tiles", "--range",
     "colour scale MIN,MAX, or auto (default: 0 to the surface's maximum, recomputed every run)"},
    {"tiles", "threshold", V_NUMBER, NULL, -1e300, 1e300, 0, "tiles", "--threshold",
     "values at or below are transparent (default 0)"},
    {"tiles", "tile_size", V_CHOICE, "256|512", ANY, 0, "tiles", "--tile-size", "pixels per tile side (default 256)"},
    {"tiles", "resampling", V_CHOICE, "auto|near|bilinear|cubic|average", ANY, 0, "tiles", "--resampling",
     "resampling (default auto)"},
    {"tiles", "tms", V_BOOL, NULL, ANY, 0, "tiles", "--tms", "yes: number rows from the south (TMS)"},
    {"tiles", "mbtiles", V_BOOL, NULL, ANY, 0, "tiles", "--mbtiles", "yes: also write OUTPUT/harm.mbtiles"},
    {"tiles", "overlay", V_CHOICE, "wards|beats|none", ANY, 0, "tiles", "--overlay",
     "boundaries drawn over the tiles in the viewer (default wards)"},
    {"tiles", "attribution", V_TEXT, NULL, ANY, 0, "tiles", "--attribution", "attribution shown in the viewer"},

    {"qgis", "classes", V_INTEGER, NULL, 1, 12, 0, "qgis", "--classes",
     "classes in the ward and beat choropleths (default 5)"},
    {"qgis", "method", V_CHOICE, "jenks|quantile", ANY, 0, "qgis", "--method", "class breaks (default jenks)"},
    {"qgis", "choropleth_ramp", V_CHOICE, "ylorrd|viridis|magma|inferno|cividis", ANY, 0, "qgis",
     "--choropleth-ramp", "colour ramp of the choropleths (default ylorrd)"},
};
#undef ANY
#define KEY_COUNT (sizeof keys / sizeof keys[0])

static const char *const sections[] = {"project", "boundaries", "inputs", "harm", "aggregate",
                                       "periods", "density", "tiles", "qgis"};
#define SECTION_COUNT (sizeof sections / sizeof sections[0])

typedef struct entry {
    const key_spec *spec;
    char *key;      /* as written (the period's name in [periods]) */
    char *value;    /* as written */
    char *resolved; /* absolute path for path values that are paths, else NULL */
    int line;
} entry;

struct hm_project {
    char *path, *dir, *stem, *output_dir;
    entry *entries;
    size_t entry_count, entry_capacity;
    hm_project_input *inputs;
    size_t input_count;
};

/* ---- small helpers ---- */

static char *copy_string(const char *text)
{
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy) memcpy(copy, text, length + 1);
    return copy;
}

static char *join_path(const char *dir, const char *path)
{
    if (path[0] == '/') return copy_string(path);
    size_t a = strlen(dir), b = strlen(path);
    char *joined = malloc(a + b + 2);
    if (!joined) return NULL;
    memcpy(joined, dir, a);
    size_t used = a;
    if (used && joined[used - 1] != '/') joined[used++] = '/';
    /* "./x" -> "x" keeps paths in messages and manifests tidy. */
    while (path[0] == '.' && path[1] == '/') path += 2;
    memcpy(joined + used, path, strlen(path) + 1);
    return joined;
}

/* Absolute path of an existing file (symbolic links resolved), or NULL with errno set. */
static char *absolute_existing(const char *dir, const char *path)
{
    char *joined = join_path(dir, path);
    if (!joined) return NULL;
    char *real = realpath(joined, NULL);
    int saved = errno;
    free(joined);
    errno = saved;
    return real;
}

static int choice_listed(const char *choices, const char *value)
{
    size_t length = strlen(value);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == length && strncmp(p, value, n) == 0) return 1;
        p = bar ? bar + 1 : p + n;
    }
    return 0;
}

/* "a|b|c" -> "a, b or c" */
static void format_choices(const char *choices, char *out, size_t size)
{
    size_t used = 0, count = 1;
    for (const char *p = choices; *p; p++) count += *p == '|';
    size_t index = 0;
    out[0] = '\0';
    for (const char *p = choices; *p && used + 1 < size;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        const char *separator = index == 0 ? "" : index + 1 == count ? " or " : ", ";
        int written = snprintf(out + used, size - used, "%s%.*s", separator, (int)n, p);
        if (written < 0) break;
        used += (size_t)written;
        if (used >= size) used = size - 1;
        index++;
        p = bar ? bar + 1 : p + n;
    }
}

static int parse_number(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value)) return 0;
    *out = value;
    return 1;
}

static int parse_whole(const char *text, long *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) return 0;
    *out = value;
    return 1;
}

static int is_digits(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (text[i] < '0' || text[i] > '9') return 0;
    return 1;
}

/* YYYY, YYYY-MM or YYYY-MM-DD with a real month and day; *parts receives how many parts were given. */
static int parse_date_prefix(const char *text, size_t length, int *parts)
{
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (length != 4 && length != 7 && length != 10) return 0;
    if (!is_digits(text, 4)) return 0;
    *parts = 1;
    if (length == 4) return 1;
    if (text[4] != '-' || !is_digits(text + 5, 2)) return 0;
    int month = (text[5] - '0') * 10 + (text[6] - '0');
    if (month < 1 || month > 12) return 0;
    *parts = 2;
    if (length == 7) return 1;
    if (text[7] != '-' || !is_digits(text + 8, 2)) return 0;
    int day = (text[8] - '0') * 10 + (text[9] - '0');
    int year = atoi(text);
    int days = month_days[month - 1];
    if (month == 2 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) days = 28;
    if (day < 1 || day > days) return 0;
    *parts = 3;
    return 1;
}

/* A period's first and last day as YYYYMMDD numbers, a month's last day as its 31st (only compared, never shown).
 * 0 when the value is not FROM..TO with dates YYYY-MM or YYYY-MM-DD. */
static int period_bounds(const char *value, long *from, long *to)
{
    const char *dots = strstr(value, "..");
    int parts_from = 0, parts_to = 0;
    if (!dots || !parse_date_prefix(value, (size_t)(dots - value), &parts_from) || parts_from < 2 ||
        !parse_date_prefix(dots + 2, strlen(dots + 2), &parts_to) || parts_to < 2)
        return 0;
    *from = atol(value) * 10000 + atol(value + 5) * 100 + (parts_from == 3 ? atol(value + 8) : 1);
    *to = atol(dots + 2) * 10000 + atol(dots + 7) * 100 + (parts_to == 3 ? atol(dots + 10) : 31);
    return 1;
}

/* ---- problems ---- */

typedef struct problems {
    char text[3800]; /* the context's message buffer holds 4096 bytes */
    size_t used;
    size_t count;
} problems;

static void add_problem(problems *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_problem(problems *list, const char *fmt, ...)
{
    list->count++;
    if (list->count > MAX_REPORTED_PROBLEMS || list->used + 1 >= sizeof list->text) return;
    if (list->used) {
        int written = snprintf(list->text + list->used, sizeof list->text - list->used, "\n  ");
        if (written > 0) list->used += (size_t)written;
        if (list->used >= sizeof list->text) list->used = sizeof list->text - 1;
    }
    va_list args;
    va_start(args, fmt);
    int written = vsnprintf(list->text + list->used, sizeof list->text - list->used, fmt, args);
    va_end(args);
    if (written > 0) list->used += (size_t)written;
    if (list->used >= sizeof list->text) list->used = sizeof list->text - 1;
}

/* ---- reading ---- */

typedef struct reader_state {
    FILE *file;
    int line;
    char *buffer;
    size_t buffer_size;
    int last_line_too_long;
} reader_state;

typedef struct load_state {
    hm_project *project;
    reader_state *reader;
    problems problems;
    const char *display_path; /* the path as given, for messages */
    char unknown_sections[1024];
    int out_of_memory;
} load_state;

/* inih's reader: one physical line at a time, so that reader->line is the line of the key being handled. A line
 * longer than inih's buffer is replaced by an empty line and reported, rather than cut in two. */
static char *read_line(char *str, int num, void *stream)
{
    reader_state *reader = stream;
    ssize_t length = getline(&reader->buffer, &reader->buffer_size, reader->file);
    if (length < 0) return NULL;
    reader->line++;
    reader->last_line_too_long = 0;
    size_t content = (size_t)length;
    while (content && (reader->buffer[content - 1] == '\n' || reader->buffer[content - 1] == '\r')) content--;
    if (num < 4 || content > (size_t)num - 3) {
        reader->last_line_too_long = 1;
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    memcpy(str, reader->buffer, content);
    str[content] = '\n';
    str[content + 1] = '\0';
    return str;
}

static const key_spec *find_spec(const char *section, const char *key)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(keys[i].section, section) == 0 && (!keys[i].key || strcmp(keys[i].key, key) == 0))
            return &keys[i];
    return NULL;
}

static int known_section(const char *section)
{
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (strcmp(sections[i], section) == 0) return 1;
    return 0;
}

static void list_section_keys(const char *section, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < KEY_COUNT && used + 1 < size; i++) {
        if (strcmp(keys[i].section, section) != 0 || !keys[i].key) continue;
        int written = snprintf(out + used, size - used, "%s%s", used ? ", " : "", keys[i].key);
        if (written < 0) break;
        used += (size_t)written;
        if (used >= size) used = size - 1;
    }
}

static void list_sections(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < SECTION_COUNT && used + 1 < size; i++) {
        int written = snprintf(out + used, size - used, "%s[%s]", used ? ", " : "", sections[i]);
        if (written < 0) break;
        used += (size_t)written;
        if (used >= size) used = size - 1;
    }
}

static const entry *first_entry(const hm_project *project, const char *section, const char *key)
{
    for (size_t i = 0; i < project->entry_count; i++) {
        const entry *e = &project->entries[i];
        if (strcmp(e->spec->section, section) == 0 && strcmp(e->key, key) == 0) return e;
    }
    return NULL;
}

/* Checks one value against its key's type. Returns 1 when valid; else adds a problem and returns 0.
 * *resolved receives a malloc'd absolute path for path values. */
static int check_value(load_state *state, const key_spec *spec, const char *key, const char *value, int line,
                       char **resolved)
{
    const char *file = state->display_path;
    const hm_project *project = state->project;
    char choices[256] = "";
    if (spec->choices) format_choices(spec->choices, choices, sizeof choices);
    double number = 0;
    long whole = 0;
    *resolved = NULL;
    if (!*value && spec->type != V_TEXT) {
        add_problem(&state->problems, "%s:%d: [%s] %s: the value is empty; %s", file, line, spec->section, key,
                    spec->choices ? "use one of the values listed in 'harmmap help run'" : "give a value or "
                    "delete the line");
        return 0;
    }
    switch (spec->type) {
    case V_TEXT:
        if (!*value) {
            add_problem(&state->problems, "%s:%d: [%s] %s: the value is empty; give a value or delete the line",
                        file, line, spec->section, key);
            return 0;
        }
        return 1;
    case V_CHOICE_OR_PATH:
        if (choice_listed(spec->choices, value)) return 1;
        /* fall through */
    case V_PATH: {
        char *path = absolute_existing(project->dir, value);
        if (!path) {
            char *joined = join_path(project->dir, value);
            if (spec->type == V_CHOICE_OR_PATH)
                add_problem(&state->problems, "%s:%d: [%s] %s = %s: not one of %s, and no such file (looked for "
                            "%s)", file, line, spec->section, key, value, choices, joined ? joined : value);
            else
                add_problem(&state->problems, "%s:%d: [%s] %s = %s: %s (looked for %s; relative paths start from "
                            "the project file's folder)", file, line, spec->section, key, value, strerror(errno),
                            joined ? joined : value);
            free(joined);
            return 0;
        }
        *resolved = path;
        return 1;
    }
    case V_OUTPUT_DIR: {
        char *path = join_path(project->dir, value);
        if (!path) {
            state->out_of_memory = 1;
            return 0;
        }
        struct stat info;
        if (stat(path, &info) == 0 && !S_ISDIR(info.st_mode)) {
            add_problem(&state->problems, "%s:%d: [%s] %s = %s: %s is a file, not a folder; name a folder", file,
                        line, spec->section, key, value, path);
            free(path);
            return 0;
        }
        *resolved = path;
        return 1;
    }
    case V_NUMBER:
        if (!parse_number(value, &number) || number < spec->min || number > spec->max) {
            add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a number from %g to %g", file, line,
                        spec->section, key, value, spec->min, spec->max);
            return 0;
        }
        return 1;
    case V_INTEGER:
        if (!parse_whole(value, &whole) || whole < spec->min || whole > spec->max) {
            add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a whole number from %.0f to %.0f", file, line,
                        spec->section, key, value, spec->min, spec->max);
            return 0;
        }
        return 1;
    case V_BOOL:
        if (choice_listed("yes|no|true|false|on|off|1|0", value)) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give yes or no", file, line, spec->section, key, value);
        return 0;
    case V_CHOICE:
        if (choice_listed(spec->choices, value)) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: not a valid value; use %s", file, line, spec->section,
                    key, value, choices);
        return 0;
    case V_CHOICE_OR_NUMBER:
        if (choice_listed(spec->choices, value)) return 1;
        if (parse_number(value, &number) && number >= spec->min && number <= spec->max) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a positive number of metres, or %s", file, line,
                    spec->section, key, value, choices);
        return 0;
    case V_CHOICE_OR_FIELD:
        return 1;
    case V_EPSG:
        if (strncasecmp(value, "EPSG:", 5) == 0 && parse_whole(value + 5, &whole) && whole > 0) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give an EPSG code such as EPSG:27700", file, line,
                    spec->section, key, value);
        return 0;
    case V_SIZE: {
        char text[64];
        snprintf(text, sizeof text, "%s", value);
        size_t n = strlen(text);
        if (n && strchr("kKmMgG", text[n - 1])) text[n - 1] = '\0';
        if (parse_number(text, &number) && number > 0) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a size such as 512M or 2G", file, line,
                    spec->section, key, value);
        return 0;
    }
    case V_DAYS: {
        char text[64];
        snprintf(text, sizeof text, "%s", value);
        size_t n = strlen(text);
        if (n && (text[n - 1] == 'd' || text[n - 1] == 'D')) text[n - 1] = '\0';
        if (parse_number(text, &number) && number > 0) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a positive number of days, e.g. 180d", file, line,
                    spec->section, key, value);
        return 0;
    }
    case V_DATE: {
        int parts = 0;
        if (parse_date_prefix(value, strlen(value), &parts) && parts == 3) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a date YYYY-MM-DD", file, line, spec->section, key,
                    value);
        return 0;
    }
    case V_DATE_PREFIX: {
        int parts = 0;
        if (parse_date_prefix(value, strlen(value), &parts)) return 1;
        add_problem(&state->problems, "%s:%d: [%s] %s = %s: give a date YYYY, YYYY-MM or YYYY-MM-DD", file, line,
                    spec->section, key, value);
        return 0;
    }
    case V_PERIOD: {
        long from, to;
        int ok = period_bounds(value, &from, &to);
        int name_ok = (key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z');
        for (const char *c = key; *c && name_ok; c++)
            name_ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!name_ok) {
            /* aggregate makes field names such as count_NAME from it */
            add_problem(&state->problems, "%s:%d: [periods] %s: a period's name has only letters, digits and '_' and "
                        "starts with a letter, e.g. q1_2026", file, line, key);
            return 0;
        }
        if (ok) return 1;
        add_problem(&state->problems, "%s:%d: [periods] %s = %s: give FROM..TO with dates YYYY-MM or YYYY-MM-DD, "
                    "e.g. 2026-01..2026-03", file, line, key, value);
        return 0;
    }
    case V_EXTENT: {
        if (strcmp(value, "wards") == 0 || strcmp(value, "beats") == 0) return 1;
        double box[4];
        char text[256];
        snprintf(text, sizeof text, "%s", value);
        int count = 0;
        char *save = NULL;
        for (char *part = strtok_r(text, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
            if (count == 4 || !parse_number(part, &box[count])) {
                count = -1;
                break;
            }
            count++;
        }
        if (count == 4 && box[0] < box[2] && box[1] < box[3]) return 1;
        add_problem(&state->problems, "%s:%d: [density] %s = %s: give wards, beats or xmin,ymin,xmax,ymax in metres "
                    "(xmin < xmax, ymin < ymax)", file, line, key, value);
        return 0;
    }
    case V_RANGE: {
        if (strcmp(value, "auto") == 0) return 1;
        const char *comma = strchr(value, ',');
        double low = 0, high = 0;
        char first[64];
        if (comma && (size_t)(comma - value) < sizeof first) {
            memcpy(first, value, (size_t)(comma - value));
            first[comma - value] = '\0';
            if (parse_number(first, &low) && parse_number(comma + 1, &high) && low < high) return 1;
        }
        add_problem(&state->problems, "%s:%d: [tiles] %s = %s: give auto or MIN,MAX with MIN < MAX, e.g. 0,250",
                    file, line, key, value);
        return 0;
    }
    case V_ZOOM: {
        int low = -1, high = -1;
        char tail = 0;
        int got = sscanf(value, "%d-%d%c", &low, &high, &tail);
        if (got == 1) {
            got = sscanf(value, "%d%c", &low, &tail) == 1 ? 2 : 0;
            high = low;
        }
        if (got == 2 && low >= spec->min && high <= spec->max && low <= high) return 1;
        add_problem(&state->problems, "%s:%d: [tiles] %s = %s: give zoom levels Z1-Z2 from 0 to 22, e.g. 8-15", file,
                    line, key, value);
        return 0;
    }
    case V_GRADING_ORDER:
        if (strlen(value) == 3 && strchr(value, 'S') && strchr(value, 'I') && strchr(value, 'H')) return 1;
        add_problem(&state->problems, "%s:%d: [inputs] %s = %s: give the letters S, I and H once each, e.g. SIH",
                    file, line, key, value);
        return 0;
    }
    return 1;
}

static int push_entry(load_state *state, const key_spec *spec, const char *key, const char *value, char *resolved,
                      int line)
{
    hm_project *project = state->project;
    if (project->entry_count == project->entry_capacity) {
        size_t capacity = project->entry_capacity ? project->entry_capacity * 2 : 32;
        entry *entries = realloc(project->entries, capacity * sizeof *entries);
        if (!entries) return 0;
        project->entries = entries;
        project->entry_capacity = capacity;
    }
    entry *e = &project->entries[project->entry_count];
    e->spec = spec;
    e->key = copy_string(key);
    e->value = copy_string(value);
    e->resolved = resolved;
    e->line = line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return 0;
    }
    project->entry_count++;
    return 1;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
    load_state *state = user;
    int line = state->reader->line;
    const char *file = state->display_path;
    if (state->reader->last_line_too_long) return 1; /* reported by the loader */
    if (!*section) {
        char list[256];
        list_sections(list, sizeof list);
        add_problem(&state->problems, "%s:%d: %s = ...: a key before any [section]; put it in one of %s", file, line,
                    name, list);
        return 1;
    }
    if (!known_section(section)) {
        char marker[80];
        snprintf(marker, sizeof marker, "|%s|", section);
        if (!strstr(state->unknown_sections, marker)) {
            size_t used = strlen(state->unknown_sections);
            snprintf(state->unknown_sections + used, sizeof state->unknown_sections - used, "%s", marker);
            char list[256];
            list_sections(list, sizeof list);
            add_problem(&state->problems, "%s:%d: [%s] is not a section of a harmmap project; the sections are %s",
                        file, line, section, list);
        }
        return 1;
    }
    const key_spec *spec = find_spec(section, name);
    if (!spec) {
        char list[1024];
        list_section_keys(section, list, sizeof list);
        add_problem(&state->problems, "%s:%d: [%s] %s: unknown key; the keys of [%s] are %s", file, line, section,
                    name, section, list);
        return 1;
    }
    if (!(spec->flags & KEY_REPEATABLE) || !spec->key) {
        const entry *previous = first_entry(state->project, section, name);
        if (previous) {
            add_problem(&state->problems, "%s:%d: [%s] %s is given again (first on line %d): give it once", file,
                        line, section, name, previous->line);
            return 1;
        }
    }
    char *resolved = NULL;
    if (!check_value(state, spec, name, value, line, &resolved)) return 1;
    if (!push_entry(state, spec, name, value, resolved, line)) {
        free(resolved);
        state->out_of_memory = 1;
        return 0;
    }
    return 1;
}

static void free_project(hm_project *project)
{
    if (!project) return;
    for (size_t i = 0; i < project->entry_count; i++) {
        free(project->entries[i].key);
        free(project->entries[i].value);
        free(project->entries[i].resolved);
    }
    free(project->entries);
    free(project->inputs);
    free(project->path);
    free(project->dir);
    free(project->stem);
    free(project->output_dir);
    free(project);
}

hm_project *hm_project_destroy(hm_project *project)
{
    free_project(project);
    return NULL;
}

/* Periods that end before they start or overlap are refused here, naming their lines, rather than by aggregate
 * after geocode has run. (A name given twice is refused with every other repeated key.) */
static void check_periods(load_state *state)
{
    hm_project *project = state->project;
    const char *file = state->display_path;
    for (size_t i = 0; i < project->entry_count; i++) {
        const entry *e = &project->entries[i];
        long from, to;
        if (strcmp(e->spec->section, "periods") != 0 || !period_bounds(e->value, &from, &to)) continue;
        if (to < from) {
            add_problem(&state->problems, "%s:%d: [periods] %s = %s ends before it starts: give FROM..TO, the earlier "
                        "date first", file, e->line, e->key, e->value);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const entry *f = &project->entries[j];
            long other_from, other_to;
            if (strcmp(f->spec->section, "periods") != 0 || strcmp(f->key, e->key) == 0) continue;
            if (period_bounds(f->value, &other_from, &other_to) && other_from <= other_to && from <= other_to &&
                other_from <= to) {
                add_problem(&state->problems, "%s:%d: [periods] %s = %s overlaps %s = %s (line %d): a record belongs "
                            "to one period at most, so make them follow one another", file, e->line, e->key,
                            e->value, f->key, f->value, f->line);
                break;
            }
        }
    }
}

/* Checks across keys, once every line has been read. */
static void check_project(load_state *state)
{
    hm_project *project = state->project;
    const char *file = state->display_path;
    check_periods(state);
    if (!first_entry(project, "boundaries", "wards") && !strstr(state->problems.text, "[boundaries] wards"))
        add_problem(&state->problems, "%s: [boundaries] wards is missing: name the ward boundary file, e.g. "
                    "wards = wards.gpkg", file);
    size_t inputs = 0;
    for (size_t i = 0; i < project->entry_count; i++) {
        const entry *e = &project->entries[i];
        if (strcmp(e->spec->section, "inputs") != 0) continue;
        if (strcmp(e->key, "incidents") != 0 && strcmp(e->key, "intelligence") != 0) continue;
        inputs++;
        for (size_t j = 0; j < i; j++) {
            const entry *f = &project->entries[j];
            if (f->resolved && e->resolved && strcmp(f->spec->section, "inputs") == 0 &&
                (strcmp(f->key, "incidents") == 0 || strcmp(f->key, "intelligence") == 0) &&
                strcmp(f->resolved, e->resolved) == 0) {
                add_problem(&state->problems, "%s:%d: [inputs] %s = %s names the same file as line %d: give each "
                            "file once", file, e->line, e->key, e->value, f->line);
                break;
            }
        }
    }
    if (inputs == 0 && !strstr(state->problems.text, "[inputs] incidents") &&
        !strstr(state->problems.text, "[inputs] intelligence"))
        add_problem(&state->problems, "%s: [inputs] names no records: add a line 'incidents = FILE.csv' (or "
                    "'intelligence = FILE.csv') for each file to load", file);
    const entry *half_life = first_entry(project, "harm", "half_life");
    const entry *reference = first_entry(project, "harm", "reference_date");
    if (half_life && !reference)
        add_problem(&state->problems, "%s:%d: [harm] half_life needs reference_date = YYYY-MM-DD, the date ages are "
                    "measured from (usually the end of the period analysed)", file, half_life->line);
    if (reference && !half_life)
        add_problem(&state->problems, "%s:%d: [harm] reference_date is only used with half_life: give both or "
                    "neither", file, reference->line);
    const entry *extent = first_entry(project, "density", "extent");
    if (extent && strcmp(extent->value, "beats") == 0 && !first_entry(project, "boundaries", "beats"))
        add_problem(&state->problems, "%s:%d: [density] extent = beats, but [boundaries] names no beats file", file,
                    extent->line);
    const entry *overlay = first_entry(project, "tiles", "overlay");
    if (overlay && strcmp(overlay->value, "beats") == 0 && !first_entry(project, "boundaries", "beats"))
        add_problem(&state->problems, "%s:%d: [tiles] overlay = beats, but [boundaries] names no beats file", file,
                    overlay->line);
    const entry *hotspot = first_entry(project, "aggregate", "hotspot_variable");
    if (hotspot && strcmp(hotspot->value, "rate") == 0 && !first_entry(project, "aggregate", "population"))
        add_problem(&state->problems, "%s:%d: [aggregate] hotspot_variable = rate needs population = FILE in "
                    "[aggregate]", file, hotspot->line);
    const entry *radius = first_entry(project, "density", "radius");
    const entry *radius_field = first_entry(project, "density", "radius_field");
    if (radius && radius_field)
        add_problem(&state->problems, "%s:%d: [density] radius_field and radius (line %d) exclude each other: keep "
                    "one", file, radius_field->line, radius->line);
}

static int build_inputs(hm_ctx *ctx, hm_project *project)
{
    size_t count = 0;
    for (size_t i = 0; i < project->entry_count; i++) {
        const entry *e = &project->entries[i];
        if (strcmp(e->spec->section, "inputs") == 0 &&
            (strcmp(e->key, "incidents") == 0 || strcmp(e->key, "intelligence") == 0))
            count++;
    }
    free(project->inputs);
    project->inputs = calloc(count ? count : 1, sizeof *project->inputs);
    if (!project->inputs) return hm_error(ctx, HM_ENOMEM, "out of memory");
    project->input_count = 0;
    for (int kind = 0; kind < 2; kind++)
        for (size_t i = 0; i < project->entry_count; i++) {
            const entry *e = &project->entries[i];
            if (strcmp(e->spec->section, "inputs") != 0) continue;
            if (strcmp(e->key, kind == HM_PROJECT_INCIDENTS ? "incidents" : "intelligence") != 0) continue;
            hm_project_input *input = &project->inputs[project->input_count++];
            input->kind = (hm_project_input_kind)kind;
            input->path = e->resolved;
            input->as_written = e->value;
            input->line = e->line;
        }
    return HM_OK;
}

int hm_project_load(hm_ctx *ctx, const char *path, hm_project **out)
{
    *out = NULL;
    hm_project *project = calloc(1, sizeof *project);
    if (!project) return hm_error(ctx, HM_ENOMEM, "out of memory");
    project->path = realpath(path, NULL);
    if (!project->path) {
        int saved = errno;
        free_project(project);
        return hm_error(ctx, HM_EINVAL, "%s: %s: give the project file (see 'harmmap help run' for its format)",
                        path, strerror(saved));
    }
    struct stat info;
    if (stat(project->path, &info) != 0 || S_ISDIR(info.st_mode)) {
        free_project(project);
        return hm_error(ctx, HM_EINVAL, "%s is a folder: give the project file (PROJECT.ini) in it", path);
    }
    const char *slash = strrchr(project->path, '/');
    project->dir = malloc((size_t)(slash - project->path) + 2);
    const char *base = slash + 1;
    project->stem = copy_string(base);
    if (!project->dir || !project->stem) {
        free_project(project);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    size_t dir_length = slash == project->path ? 1 : (size_t)(slash - project->path);
    memcpy(project->dir, project->path, dir_length);
    project->dir[dir_length] = '\0';
    char *dot = strrchr(project->stem, '.');
    if (dot && dot != project->stem) *dot = '\0';

    FILE *file = fopen(project->path, "r");
    if (!file) {
        int saved = errno;
        free_project(project);
        return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(saved));
    }
    reader_state reader = {file, 0, NULL, 0, 0};
    load_state state = {0};
    state.project = project;
    state.reader = &reader;
    state.display_path = path;
    int result = ini_parse_stream(read_line, &reader, handle_key, &state);
    fclose(file);
    free(reader.buffer);
    if (state.out_of_memory || result == -2) {
        free_project(project);
        return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
    }
    /* Lines that were too long were given to inih as empty lines; report them now, in order. */
    if (result > 0)
        add_problem(&state.problems, "%s:%d: not a 'key = value' line, a [section] header or a comment", path,
                    result);
    {
        FILE *again = fopen(project->path, "r");
        char *line = NULL;
        size_t size = 0;
        int number = 0;
        ssize_t length;
        while (again && (length = getline(&line, &size, again)) >= 0) {
            number++;
            while (length && (line[length - 1] == '\n' || line[length - 1] == '\r')) length--;
            if (length > 197)
                add_problem(&state.problems, "%s:%d: the line is %zd characters long; lines can be at most 197 "
                            "(shorten the path, e.g. with a relative one)", path, number, length);
        }
        free(line);
        if (again) fclose(again);
    }
    check_project(&state);
    if (state.problems.count) {
        int status;
        if (state.problems.count == 1)
            status = hm_error(ctx, HM_EINVAL, "%s", state.problems.text);
        else if (state.problems.count > MAX_REPORTED_PROBLEMS)
            status = hm_error(ctx, HM_EINVAL, "%zu problems in the project file (the first %d):\n  %s",
                              state.problems.count, MAX_REPORTED_PROBLEMS, state.problems.text);
        else
            status = hm_error(ctx, HM_EINVAL, "%zu problems in the project file:\n  %s", state.problems.count,
                              state.problems.text);
        free_project(project);
        return status;
    }
    const entry *output = first_entry(project, "project", "output");
    if (output) {
        project->output_dir = copy_string(output->resolved);
    } else {
        char relative[4096];
        snprintf(relative, sizeof relative, "out/%s", project->stem);
        project->output_dir = join_path(project->dir, relative);
    }
    if (!project->output_dir || build_inputs(ctx, project) != HM_OK) {
        free_project(project);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    *out = project;
    return HM_OK;
}

/* ---- accessors ---- */

const char *hm_project_path(const hm_project *project) { return project->path; }
const char *hm_project_dir(const hm_project *project) { return project->dir; }
const char *hm_project_output_dir(const hm_project *project) { return project->output_dir; }

const char *hm_project_name(const hm_project *project)
{
    const entry *name = first_entry(project, "project", "name");
    return name ? name->value : project->stem;
}

int hm_project_set_output_dir(hm_ctx *ctx, hm_project *project, const char *dir)
{
    char cwd[4096];
    if (dir[0] != '/' && !getcwd(cwd, sizeof cwd))
        return hm_error(ctx, HM_EIO, "cannot find the current folder: %s", strerror(errno));
    char *path = join_path(dir[0] == '/' ? "/" : cwd, dir);
    if (!path) return hm_error(ctx, HM_ENOMEM, "out of memory");
    size_t length = strlen(path);
    while (length > 1 && path[length - 1] == '/') path[--length] = '\0';
    free(project->output_dir);
    project->output_dir = path;
    return HM_OK;
}

size_t hm_project_input_count(const hm_project *project) { return project->input_count; }

const hm_project_input *hm_project_input_at(const hm_project *project, size_t index)
{
    return index < project->input_count ? &project->inputs[index] : NULL;
}

long hm_project_find_input(const hm_project *project, const char *absolute_path)
{
    for (size_t i = 0; i < project->input_count; i++)
        if (strcmp(project->inputs[i].path, absolute_path) == 0) return (long)i;
    return -1;
}

int hm_project_dependency_at(const hm_project *project, size_t index, const char **role, const char **path)
{
    size_t seen = 0;
    for (size_t i = 0; i < project->entry_count; i++) {
        const entry *e = &project->entries[i];
        if (!e->resolved || e->spec->type == V_OUTPUT_DIR) continue;
        if (strcmp(e->spec->section, "inputs") == 0 &&
            (strcmp(e->key, "incidents") == 0 || strcmp(e->key, "intelligence") == 0))
            continue;
        if (seen++ == index) {
            *role = e->key;
            *path = e->resolved;
            return 1;
        }
    }
    return 0;
}

const char *hm_project_value(const hm_project *project, const char *section, const char *key)
{
    const entry *e = first_entry(project, section, key);
    return e ? e->value : NULL;
}

static int flag_value(const char *value)
{
    return choice_listed("yes|true|on|1", value);
}

int hm_project_flag(const hm_project *project, const char *section, const char *key, int default_value)
{
    const entry *e = first_entry(project, section, key);
    return e ? flag_value(e->value) : default_value;
}

/* ---- argument vectors ---- */

int hm_argv_push(hm_ctx *ctx, hm_argv *argv, const char *arg)
{
    if ((size_t)argv->argc + 2 > argv->capacity) {
        size_t capacity = argv->capacity ? argv->capacity * 2 : 16;
        char **items = realloc(argv->argv, capacity * sizeof *items);
        if (!items) return hm_error(ctx, HM_ENOMEM, "out of memory");
        argv->argv = items;
        argv->capacity = capacity;
    }
    char *copy = copy_string(arg);
    if (!copy) return hm_error(ctx, HM_ENOMEM, "out of memory");
    argv->argv[argv->argc++] = copy;
    argv->argv[argv->argc] = NULL;
    return HM_OK;
}

void hm_argv_free(hm_argv *argv)
{
    for (int i = 0; i < argv->argc; i++) free(argv->argv[i]);
    free(argv->argv);
    memset(argv, 0, sizeof *argv);
}

void hm_argv_format(const hm_argv *argv, char *out, size_t size)
{
    size_t used = 0;
    if (size) out[0] = '\0';
    for (int i = 0; i < argv->argc && used + 1 < size; i++) {
        const char *arg = argv->argv[i];
        int plain = *arg != '\0';
        for (const char *p = arg; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *p)) plain = 0;
        int written;
        if (plain) {
            written = snprintf(out + used, size - used, "%s%s", i ? " " : "", arg);
        } else {
            written = snprintf(out + used, size - used, "%s'", i ? " " : "");
            if (written > 0) used += (size_t)written;
            for (const char *p = arg; *p && used + 5 < size; p++) {
                if (*p == '\'') {
                    memcpy(out + used, "'\\''", 4);
                    used += 4;
                } else {
                    out[used++] = *p;
                }
            }
            out[used < size ? used : size - 1] = '\0';
            written = snprintf(out + used, size - used, "'");
        }
        if (written < 0) break;
        used += (size_t)written;
        if (used >= size) used = size - 1;
    }
}

/* Pushes "--option value" for every key of `section` that feeds `command` (value as written, or the absolute path
 * for files), skipping the keys in `skip` ("|a|b|"). */
static int push_options(hm_ctx *ctx, const hm_project *project, const char *section, const char *command,
                        const char *skip, hm_argv *out)
{
    int status = HM_OK;
    for (size_t i = 0; i < project->entry_count && status == HM_OK; i++) {
        const entry *e = &project->entries[i];
        if (strcmp(e->spec->section, section) != 0 || !e->spec->command || strcmp(e->spec->command, command) != 0)
            continue;
        char marker[128];
        snprintf(marker, sizeof marker, "|%s|", e->key);
        if (skip && strstr(skip, marker)) continue;
        if (e->spec->type == V_BOOL) {
            if (flag_value(e->value)) status = hm_argv_push(ctx, out, e->spec->option);
            continue;
        }
        status = hm_argv_push(ctx, out, e->spec->option);
        if (status == HM_OK) status = hm_argv_push(ctx, out, e->resolved ? e->resolved : e->value);
    }
    return status;
}

int hm_project_geocode_argv(hm_ctx *ctx, const hm_project *project, const char *output_gpkg,
                            const hm_project_input *inputs, const char *const *read_paths, size_t input_count,
                            hm_argv *out)
{
    memset(out, 0, sizeof *out);
    int status = hm_argv_push(ctx, out, "geocode");
    if (status == HM_OK) status = hm_argv_push(ctx, out, "-o");
    if (status == HM_OK) status = hm_argv_push(ctx, out, output_gpkg);
    if (status == HM_OK) status = push_options(ctx, project, "project", "geocode", NULL, out);
    if (status == HM_OK) status = push_options(ctx, project, "boundaries", "geocode", NULL, out);
    if (status == HM_OK) status = push_options(ctx, project, "inputs", "geocode", "|incidents|intelligence|", out);
    if (status == HM_OK) status = push_options(ctx, project, "harm", "geocode", NULL, out);
    /* Incident files are positional; intelligence files follow --intel. geocode reads all incident files, then
     * all intelligence files, each list in the order given here. */
    for (int kind = 0; kind < 2 && status == HM_OK; kind++)
        for (size_t i = 0; i < input_count && status == HM_OK; i++) {
            if ((int)inputs[i].kind != kind) continue;
            const char *path = read_paths && read_paths[i] ? read_paths[i] : inputs[i].path;
            if (kind == HM_PROJECT_INTELLIGENCE) status = hm_argv_push(ctx, out, "--intel");
            else if (path[0] == '-') status = hm_argv_push(ctx, out, "--"); /* never happens: paths are absolute */
            if (status == HM_OK) status = hm_argv_push(ctx, out, path);
        }
    if (status != HM_OK) hm_argv_free(out);
    return status;
}

int hm_project_aggregate_argv(hm_ctx *ctx, const hm_project *project, const char *gpkg, const char *output_dir,
                              int public_product, hm_argv *out)
{
    memset(out, 0, sizeof *out);
    int status = hm_argv_push(ctx, out, "aggregate");
    if (status == HM_OK) status = hm_argv_push(ctx, out, gpkg);
    if (status == HM_OK) status = hm_argv_push(ctx, out, "-o");
    if (status == HM_OK) status = hm_argv_push(ctx, out, output_dir);
    if (status == HM_OK)
        status = push_options(ctx, project, "aggregate", "aggregate",
                              public_product ? NULL : "|public|min_count|", out);
    for (size_t i = 0; i < project->entry_count && status == HM_OK; i++) {
        const entry *e = &project->entries[i];
        if (strcmp(e->spec->section, "periods") != 0) continue;
        size_t length = strlen(e->key) + strlen(e->value) + 2;
        char *period = malloc(length);
        if (!period) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory");
            break;
        }
        snprintf(period, length, "%s:%s", e->key, e->value);
        status = hm_argv_push(ctx, out, "--period");
        if (status == HM_OK) status = hm_argv_push(ctx, out, period);
        free(period);
    }
    if (status != HM_OK) hm_argv_free(out);
    return status;
}

int hm_project_density_argv(hm_ctx *ctx, const hm_project *project, const char *gpkg, const char *surface,
                            hm_argv *out)
{
    memset(out, 0, sizeof *out);
    int status = hm_argv_push(ctx, out, "density");
    if (status == HM_OK) status = hm_argv_push(ctx, out, gpkg);
    if (status == HM_OK) status = hm_argv_push(ctx, out, "-o");
    if (status == HM_OK) status = hm_argv_push(ctx, out, surface);
    /* The pipeline's defaults differ from the command's: harm, not counts, and the wards' extent, so that the
     * grid does not move when new points land near its edge (an update then changes only what it must). */
    if (status == HM_OK && !first_entry(project, "density", "weight")) {
        status = hm_argv_push(ctx, out, "--weight");
        if (status == HM_OK) status = hm_argv_push(ctx, out, "harm");
    }
    if (status == HM_OK && !first_entry(project, "density", "extent")) {
        status = hm_argv_push(ctx, out, "--extent");
        if (status == HM_OK) status = hm_argv_push(ctx, out, "wards");
    }
    if (status == HM_OK) status = push_options(ctx, project, "density", "density", NULL, out);
    if (status == HM_OK) status = push_options(ctx, project, "project", "density", NULL, out);
    const entry *threads = first_entry(project, "project", "threads");
    if (status == HM_OK && threads) {
        status = hm_argv_push(ctx, out, "--threads");
        if (status == HM_OK) status = hm_argv_push(ctx, out, threads->value);
    }
    if (status != HM_OK) hm_argv_free(out);
    return status;
}

int hm_project_tiles_argv(hm_ctx *ctx, const hm_project *project, const char *surface, const char *tiles_dir,
                          const char *mbtiles, const char *overlay_gpkg, int update, hm_argv *out)
{
    memset(out, 0, sizeof *out);
    int status = hm_argv_push(ctx, out, "tiles");
    if (status == HM_OK) status = hm_argv_push(ctx, out, surface);
    if (status == HM_OK) status = hm_argv_push(ctx, out, "-o");
    if (status == HM_OK) status = hm_argv_push(ctx, out, tiles_dir);
    /* A fresh run has no previous tile set to keep the colour range of, so the range is always given: auto or
     * the project's, the same for a run and an update. */
    if (status == HM_OK && !first_entry(project, "tiles", "range")) {
        status = hm_argv_push(ctx, out, "--range");
        if (status == HM_OK) status = hm_argv_push(ctx, out, "auto");
    }
    if (status == HM_OK) status = push_options(ctx, project, "tiles", "tiles", "|mbtiles|overlay|", out);
    if (status == HM_OK) status = hm_argv_push(ctx, out, "--title");
    if (status == HM_OK) status = hm_argv_push(ctx, out, hm_project_name(project));
    const entry *threads = first_entry(project, "project", "threads");
    if (status == HM_OK && threads) {
        status = hm_argv_push(ctx, out, "--threads");
        if (status == HM_OK) status = hm_argv_push(ctx, out, threads->value);
    }
    if (status == HM_OK && mbtiles) {
        status = hm_argv_push(ctx, out, "--mbtiles");
        if (status == HM_OK) status = hm_argv_push(ctx, out, mbtiles);
    }
    const char *overlay = hm_project_value(project, "tiles", "overlay");
    if (!overlay) overlay = "wards";
    if (status == HM_OK && overlay_gpkg && strcmp(overlay, "none") != 0) {
        status = hm_argv_push(ctx, out, "--overlay");
        if (status == HM_OK) status = hm_argv_push(ctx, out, overlay_gpkg);
        if (status == HM_OK) status = hm_argv_push(ctx, out, "--overlay-layer");
        if (status == HM_OK) status = hm_argv_push(ctx, out, overlay);
    }
    if (status == HM_OK && update) status = hm_argv_push(ctx, out, "--update");
    if (status != HM_OK) hm_argv_free(out);
    return status;
}

int hm_project_qgis_argv(hm_ctx *ctx, const hm_project *project, const char *output_dir, hm_argv *out)
{
    memset(out, 0, sizeof *out);
    int status = hm_argv_push(ctx, out, "qgis");
    if (status == HM_OK) status = hm_argv_push(ctx, out, output_dir);
    if (status == HM_OK) status = push_options(ctx, project, "qgis", "qgis", NULL, out);
    if (status != HM_OK) hm_argv_free(out);
    return status;
}

/* ---- adding an input ---- */

int hm_project_append_input(hm_ctx *ctx, hm_project *project, hm_project_input_kind kind, const char *absolute_path)
{
    const char *key = kind == HM_PROJECT_INCIDENTS ? "incidents" : "intelligence";
    /* Where: after the last line of this kind; else after the last [inputs] line; the section exists because
     * a project must name at least one input. */
    int after = 0;
    for (size_t i = 0; i < project->entry_count; i++) {
        const entry *e = &project->entries[i];
        if (strcmp(e->spec->section, "inputs") == 0 && strcmp(e->key, key) == 0 && e->line > after) after = e->line;
    }
    if (!after)
        for (size_t i = 0; i < project->entry_count; i++) {
            const entry *e = &project->entries[i];
            if (strcmp(e->spec->section, "inputs") == 0 && e->line > after) after = e->line;
        }
    const char *written = absolute_path;
    size_t dir_length = strlen(project->dir);
    if (strncmp(absolute_path, project->dir, dir_length) == 0 && absolute_path[dir_length] == '/')
        written = absolute_path + dir_length + 1;
    /* inih would read " ;" as the start of a comment and strip blanks at the ends. */
    size_t written_length = strlen(written);
    if (strstr(written, " ;") || strchr(written, '\n') || written[0] == ' ' ||
        (written_length && written[written_length - 1] == ' '))
        return hm_error(ctx, HM_EINVAL, "%s: a project file cannot name this path (' ;' starts a comment, and blanks "
                        "at its ends are dropped): rename or move the file", absolute_path);
    char line_text[4200];
    int length = snprintf(line_text, sizeof line_text, "%s = %s\n", key, written);
    if (length < 0 || (size_t)length >= sizeof line_text || length > 198)
        return hm_error(ctx, HM_EINVAL, "%s: the line '%s = %s' would be longer than the 197 characters a project "
                        "line can have: move the file nearer the project folder", project->path, key, written);

    char temp[4200];
    snprintf(temp, sizeof temp, "%s.tmp-%ld", project->path, (long)getpid());
    FILE *in = fopen(project->path, "r");
    if (!in) return hm_error(ctx, HM_EIO, "%s: %s", project->path, strerror(errno));
    struct stat info;
    if (fstat(fileno(in), &info) != 0) info.st_mode = 0644;
    FILE *out = fopen(temp, "w");
    if (!out) {
        int saved = errno;
        fclose(in);
        return hm_error(ctx, HM_EIO, "%s: cannot write beside the project file: %s", temp, strerror(saved));
    }
    char *line = NULL;
    size_t size = 0;
    ssize_t got;
    int number = 0, ok = 1, inserted = 0;
    while ((got = getline(&line, &size, in)) >= 0) {
        number++;
        if (fwrite(line, 1, (size_t)got, out) != (size_t)got) ok = 0;
        if (number == after) {
            if (got > 0 && line[got - 1] != '\n') ok = ok && fputc('\n', out) != EOF;
            ok = ok && fputs(line_text, out) != EOF;
            inserted = 1;
        }
    }
    free(line);
    fclose(in);
    if (!inserted) ok = ok && fputs(line_text, out) != EOF;
    if (fflush(out) != 0 || fsync(fileno(out)) != 0) ok = 0;
    if (fclose(out) != 0) ok = 0;
    if (ok) chmod(temp, info.st_mode & 07777);
    if (!ok || rename(temp, project->path) != 0) {
        int saved = errno;
        unlink(temp);
        return hm_error(ctx, HM_EIO, "%s: cannot add '%s = %s': %s", project->path, key, written, strerror(saved));
    }
    hm_remove_stale_temporaries(ctx, temp); /* left by killed runs */
    /* Keep the project in memory in step with the file: lines after the insertion move down by one. */
    for (size_t i = 0; i < project->entry_count; i++)
        if (project->entries[i].line > after) project->entries[i].line++;
    load_state state = {0};
    state.project = project;
    const key_spec *spec = find_spec("inputs", key);
    char *resolved = copy_string(absolute_path);
    if (!resolved || !push_entry(&state, spec, key, written, resolved, after + 1)) {
        free(resolved);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    /* Entries are kept in file order, which build_inputs relies on. */
    entry added = project->entries[project->entry_count - 1];
    size_t position = project->entry_count - 1;
    while (position > 0 && project->entries[position - 1].line > added.line) {
        project->entries[position] = project->entries[position - 1];
        position--;
    }
    project->entries[position] = added;
    return build_inputs(ctx, project);
}

/* ---- help ---- */

void hm_project_print_format(FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const key_spec *spec = &keys[i];
        if (strcmp(spec->section, section) != 0) {
            section = spec->section;
            fprintf(out, "  [%s]\n", section);
        }
        char name[64];
        snprintf(name, sizeof name, "%s", spec->key ? spec->key : "NAME");
        char values[160] = "";
        if (spec->choices) format_choices(spec->choices, values, sizeof values);
        if (!spec->help) continue; /* listed with the key before it */
        if (i + 1 < KEY_COUNT && !keys[i + 1].help) {
            /* a group of keys sharing one line of help (the column names) */
            fprintf(out, "    %s", name);
            int width = 4 + (int)strlen(name);
            for (size_t k = i + 1; k < KEY_COUNT && !keys[k].help; k++) {
                int length = (int)strlen(keys[k].key);
                if (width + 2 + length > 110) {
                    fprintf(out, ",\n    %s", keys[k].key);
                    width = 4 + length;
                } else {
                    fprintf(out, ", %s", keys[k].key);
                    width += 2 + length;
                }
            }
            fprintf(out, "\n    %-30s %s\n", "", spec->help);
            continue;
        }
        fprintf(out, "    %-30s %s%s%s%s\n", name, spec->help, spec->choices ? " [" : "", values,
                spec->choices ? "]" : "");
    }
}
