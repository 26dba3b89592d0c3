/*
 * harm.c - see harm.h.
 *
 * Lookups are on the hot path of geocoding (one per record), so category names are hashed and compared in their
 * normalised form (lower case letters and digits only) without copying: hash_key and keys_equal walk the raw
 * strings and skip other characters. Tables are small (tens of rows) and loaded once.
 */
#include "harm.h"

#include "csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_UNKNOWN_NAMES 1000 /* distinct unknown categories remembered by name; the rest are counted together */

typedef struct weight_row {
    char *category;
    double weight;
    int has_weight;
    int proactive;
    unsigned long line;
} weight_row;

/* Open-addressing hash map from a normalised key to an index (into rows, unknown names or OCG scores). */
typedef struct key_map {
    const char **keys; /* the raw key (owned elsewhere), compared normalised */
    size_t *values;
    size_t capacity; /* power of two; 0 when empty */
    size_t count;
} key_map;

typedef struct named_count {
    char *name;
    long long count;
    hm_harm_flag flag;
} named_count;

struct hm_harm_model {
    char index_name[256];
    char unit[64];
    char weights_path[4096];
    char grading_path[4096];
    char ocg_path[4096];
    char description[16384];
    weight_row *rows;
    size_t row_count;
    char **aliases; /* alias strings (owned), mapped to rows through by_name */
    size_t alias_count;
    key_map by_name;
    double source_multiplier[4];       /* index 1..3 */
    double assessment_multiplier[6];   /* index 1..5 */
    char **ocg_refs;
    double *ocg_scores;
    size_t ocg_count;
    key_map ocg_by_ref;
    hm_harm_options options;
    long long flag_counts[HM_HARM_FLAG_COUNT];
    named_count *named;  /* unknown / unweighted / proactive-excluded categories and unknown OCG refs */
    size_t named_count_used, named_capacity;
    key_map named_by_key[HM_HARM_FLAG_COUNT];
    long long named_overflow;
};

static const char *const flag_codes[HM_HARM_FLAG_COUNT] = {
    "", "unknown_category", "no_weight", "proactive_excluded", "bad_grading", "unknown_ocg", "no_date",
    "after_reference",
};

const char *hm_harm_flag_code(hm_harm_flag flag)
{
    return (unsigned)flag < HM_HARM_FLAG_COUNT ? flag_codes[flag] : "invalid";
}

/* ---- normalised keys ---- */

static uint64_t hash_key(const char *text)
{
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a over the normalised characters */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (!isalnum(*p)) continue;
        hash ^= (uint64_t)tolower(*p);
        hash *= 1099511628211ULL;
    }
    return hash;
}

static int keys_equal(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    for (;;) {
        while (*p && !isalnum(*p)) p++;
        while (*q && !isalnum(*q)) q++;
        if (!*p || !*q) return !*p && !*q;
        if (tolower(*p) != tolower(*q)) return 0;
        p++;
        q++;
    }
}

static int key_is_empty(const char *text)
{
    if (!text) return 1;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (isalnum(*p)) return 0;
    return 1;
}

static void key_map_free(key_map *map)
{
    free(map->keys);
    free(map->values);
    memset(map, 0, sizeof *map);
}

/* Returns the slot of key: holding it, or the empty slot where it would go. capacity must be > 0. */
static size_t key_map_slot(const key_map *map, const char *key)
{
    size_t mask = map->capacity - 1;
    size_t slot = (size_t)hash_key(key) & mask;
    while (map->keys[slot] && !keys_equal(map->keys[slot], key)) slot = (slot + 1) & mask;
    return slot;
}

static int key_map_find(const key_map *map, const char *key, size_t *value)
{
    if (map->capacity == 0) return 0;
    size_t slot = key_map_slot(map, key);
    if (!map->keys[slot]) return 0;
    *value = map->values[slot];
    return 1;
}

/* Inserts key -> value. Returns 1 if inserted, 0 if the key was already there (*existing set), -1 out of memory. */
static int key_map_insert(key_map *map, const char *key, size_t value, size_t *existing)
{
    if ((map->count + 1) * 2 > map->capacity) {
        size_t capacity = map->capacity ? map->capacity * 2 : 64;
        key_map bigger = {calloc(capacity, sizeof(char *)), calloc(capacity, sizeof(size_t)), capacity, 0};
        if (!bigger.keys || !bigger.values) {
            key_map_free(&bigger);
            return -1;
        }
        for (size_t i = 0; i < map->capacity; i++) {
            if (!map->keys[i]) continue;
            size_t slot = key_map_slot(&bigger, map->keys[i]);
            bigger.keys[slot] = map->keys[i];
            bigger.values[slot] = map->values[i];
            bigger.count++;
        }
        key_map_free(map);
        *map = bigger;
    }
    size_t slot = key_map_slot(map, key);
    if (map->keys[slot]) {
        if (existing) *existing = map->values[slot];
        return 0;
    }
    map->keys[slot] = key;
    map->values[slot] = value;
    map->count++;
    return 1;
}

/* ---- data files ---- */

int hm_data_path(hm_ctx *ctx, const char *name, char *out, size_t size)
{
    const char *root = getenv("HARMMAP_DATA");
    if (!root || !*root) root = HM_DATA_DIR;
    int length = snprintf(out, size, "%s/%s", root, name);
    if (length < 0 || (size_t)length >= size)
        return hm_error(ctx, HM_EINVAL, "data file path %s/%s is too long", root, name);
    return HM_OK;
}

static char *copy_string(const char *text)
{
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy) memcpy(copy, text, length + 1);
    return copy;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Finds a header column by normalised name; -1 when absent. */
static int header_column(const hm_csv_record *header, const char *name)
{
    for (size_t i = 0; i < header->field_count; i++)
        if (keys_equal(header->fields[i], name)) return (int)i;
    return -1;
}

static const char *field_at(const hm_csv_record *row, int column)
{
    return column >= 0 && (size_t)column < row->field_count ? row->fields[column] : "";
}

/* Parses a number that must fill the text (surrounding spaces allowed). Empty text: returns 0 with *present 0. */
static int parse_table_number(const char *text, double *out, int *present)
{
    while (isspace((unsigned char)*text)) text++;
    *present = *text != '\0';
    if (!*present) return 1;
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value)) return 0;
    *out = value;
    return 1;
}

static int open_table(hm_ctx *ctx, const char *path, const char *what, hm_csv_reader **reader,
                      hm_csv_record *header)
{
    int status = hm_csv_open(ctx, path, NULL, reader);
    if (status != HM_OK) return hm_error_prefix(ctx, "%s", what);
    int got = hm_csv_next(*reader, header);
    if (got < 0) return hm_error_prefix(ctx, "%s %s", what, path);
    if (got == 0) return hm_error(ctx, HM_EFORMAT, "%s %s: the file is empty: give a header line and rows", what, path);
    return HM_OK;
}

static int add_alias(hm_ctx *ctx, hm_harm_model *model, const char *alias, size_t row, const char *path,
                     unsigned long line)
{
    if (key_is_empty(alias)) return HM_OK;
    char *copy = copy_string(alias);
    char **aliases = realloc(model->aliases, (model->alias_count + 1) * sizeof *aliases);
    if (!copy || !aliases) {
        free(copy);
        if (aliases) model->aliases = aliases;
        return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
    }
    model->aliases = aliases;
    model->aliases[model->alias_count++] = copy;
    size_t existing = 0;
    int inserted = key_map_insert(&model->by_name, copy, row, &existing);
    if (inserted < 0) return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
    if (inserted == 0 && existing != row)
        return hm_error(ctx, HM_EFORMAT, "%s:%lu: name '%s' is already used by the row at line %lu ('%s'): "
                        "each category and alias must name one row", path, line, alias,
                        model->rows[existing].line, model->rows[existing].category);
    return HM_OK;
}

static int load_weights(hm_ctx *ctx, hm_harm_model *model, const char *path)
{
    hm_csv_reader *reader = NULL;
    hm_csv_record row;
    int status = open_table(ctx, path, "--harm-index", &reader, &row);
    if (status != HM_OK) {
        hm_csv_close(reader);
        return status;
    }
    int category_column = header_column(&row, "category");
    int weight_column = header_column(&row, "weight");
    int proactive_column = header_column(&row, "proactive");
    int aliases_column = header_column(&row, "aliases");
    if (category_column < 0 || weight_column < 0) {
        hm_csv_close(reader);
        return hm_error(ctx, HM_EFORMAT, "--harm-index %s: line 1: the header needs columns 'category' and 'weight' "
                        "(optional: proactive, aliases, method, source)", path);
    }
    int got;
    while ((got = hm_csv_next(reader, &row)) > 0) {
        const char *category = field_at(&row, category_column);
        if (key_is_empty(category)) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field category is empty: name the category", path, row.line);
            break;
        }
        weight_row entry = {0};
        entry.line = row.line;
        if (!parse_table_number(field_at(&row, weight_column), &entry.weight, &entry.has_weight) ||
            (entry.has_weight && entry.weight < 0)) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field weight '%s' of '%s' is not a number of zero or more "
                              "(leave it empty when no verified number exists)", path, row.line,
                              field_at(&row, weight_column), category);
            break;
        }
        const char *proactive = field_at(&row, proactive_column);
        if (*proactive && strcmp(proactive, "0") != 0 && strcmp(proactive, "1") != 0) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field proactive '%s' of '%s': give 0 or 1", path, row.line,
                              proactive, category);
            break;
        }
        entry.proactive = strcmp(proactive, "1") == 0;
        entry.category = copy_string(category);
        weight_row *rows = realloc(model->rows, (model->row_count + 1) * sizeof *rows);
        if (!entry.category || !rows) {
            free(entry.category);
            if (rows) model->rows = rows;
            status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
            break;
        }
        model->rows = rows;
        size_t index = model->row_count++;
        model->rows[index] = entry;
        size_t existing = 0;
        int inserted = key_map_insert(&model->by_name, model->rows[index].category, index, &existing);
        if (inserted < 0) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
            break;
        }
        if (inserted == 0) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: category '%s' is already named at line %lu ('%s'): give each "
                              "category one row", path, row.line, category, model->rows[existing].line,
                              model->rows[existing].category);
            break;
        }
        /* Aliases are separated by '|'. */
        const char *aliases = field_at(&row, aliases_column);
        char alias[512];
        while (*aliases && status == HM_OK) {
            const char *bar = strchr(aliases, '|');
            size_t length = bar ? (size_t)(bar - aliases) : strlen(aliases);
            if (length >= sizeof alias) length = sizeof alias - 1;
            memcpy(alias, aliases, length);
            alias[length] = '\0';
            status = add_alias(ctx, model, alias, index, path, row.line);
            aliases = bar ? bar + 1 : aliases + strlen(aliases);
        }
        if (status != HM_OK) break;
    }
    if (status == HM_OK && got < 0) status = hm_error_prefix(ctx, "--harm-index %s", path);
    hm_csv_close(reader);
    if (status == HM_OK && model->row_count == 0)
        status = hm_error(ctx, HM_EFORMAT, "--harm-index %s: no rows: give one row per category", path);
    return status;
}

static int load_grading(hm_ctx *ctx, hm_harm_model *model, const char *path)
{
    hm_csv_reader *reader = NULL;
    hm_csv_record row;
    int status = open_table(ctx, path, "--grading-table", &reader, &row);
    if (status != HM_OK) {
        hm_csv_close(reader);
        return status;
    }
    int part_column = header_column(&row, "part");
    int grade_column = header_column(&row, "grade");
    int multiplier_column = header_column(&row, "multiplier");
    if (part_column < 0 || grade_column < 0 || multiplier_column < 0) {
        hm_csv_close(reader);
        return hm_error(ctx, HM_EFORMAT, "--grading-table %s: line 1: the header needs columns 'part', 'grade' and "
                        "'multiplier'", path);
    }
    unsigned long seen_source[4] = {0}, seen_assessment[6] = {0};
    int got;
    while ((got = hm_csv_next(reader, &row)) > 0) {
        const char *part = field_at(&row, part_column);
        const char *grade_text = field_at(&row, grade_column);
        int is_source = keys_equal(part, "source_evaluation");
        int is_assessment = keys_equal(part, "intelligence_assessment");
        if (!is_source && !is_assessment) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field part '%s': give source_evaluation or "
                              "intelligence_assessment", path, row.line, part);
            break;
        }
        int grade = 0;
        /* Intelligence assessments may be written as letters A-E too. */
        if (is_assessment && strlen(grade_text) == 1 && toupper((unsigned char)grade_text[0]) >= 'A' &&
            toupper((unsigned char)grade_text[0]) <= 'E')
            grade = toupper((unsigned char)grade_text[0]) - 'A' + 1;
        else if (strlen(grade_text) == 1 && grade_text[0] >= '1' && grade_text[0] <= '5')
            grade = grade_text[0] - '0';
        int top = is_source ? 3 : 5;
        if (grade < 1 || grade > top) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field grade '%s': %s grades are 1 to %d", path, row.line,
                              grade_text, is_source ? "source evaluation" : "intelligence assessment (or A-E)", top);
            break;
        }
        double multiplier = 0;
        int present = 0;
        if (!parse_table_number(field_at(&row, multiplier_column), &multiplier, &present) || !present ||
            multiplier < 0) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field multiplier '%s': give a number of zero or more", path,
                              row.line, field_at(&row, multiplier_column));
            break;
        }
        unsigned long *seen = is_source ? &seen_source[grade] : &seen_assessment[grade];
        if (*seen) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: %s grade %d is already given at line %lu", path, row.line,
                              part, grade, *seen);
            break;
        }
        *seen = row.line;
        if (is_source)
            model->source_multiplier[grade] = multiplier;
        else
            model->assessment_multiplier[grade] = multiplier;
    }
    if (status == HM_OK && got < 0) status = hm_error_prefix(ctx, "--grading-table %s", path);
    hm_csv_close(reader);
    for (int grade = 1; status == HM_OK && grade <= 3; grade++)
        if (!seen_source[grade])
            status = hm_error(ctx, HM_EFORMAT, "--grading-table %s: no row for source_evaluation grade %d: give all "
                              "3 source grades and 5 intelligence grades", path, grade);
    for (int grade = 1; status == HM_OK && grade <= 5; grade++)
        if (!seen_assessment[grade])
            status = hm_error(ctx, HM_EFORMAT, "--grading-table %s: no row for intelligence_assessment grade %d: "
                              "give all 3 source grades and 5 intelligence grades", path, grade);
    return status;
}

static int load_ocg(hm_ctx *ctx, hm_harm_model *model, const char *path)
{
    hm_csv_reader *reader = NULL;
    hm_csv_record row;
    int status = open_table(ctx, path, "--ocg-table", &reader, &row);
    if (status != HM_OK) {
        hm_csv_close(reader);
        return status;
    }
    int ref_column = header_column(&row, "ocg_ref");
    int score_column = header_column(&row, "score");
    if (ref_column < 0 || score_column < 0) {
        hm_csv_close(reader);
        return hm_error(ctx, HM_EFORMAT, "--ocg-table %s: line 1: the header needs columns 'ocg_ref' and 'score'",
                        path);
    }
    int got;
    while ((got = hm_csv_next(reader, &row)) > 0) {
        const char *ref = field_at(&row, ref_column);
        double score = 0;
        int present = 0;
        if (key_is_empty(ref)) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field ocg_ref is empty", path, row.line);
            break;
        }
        if (!parse_table_number(field_at(&row, score_column), &score, &present) || !present || score < 0) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: field score '%s' of OCG '%s': give a multiplier of zero or "
                              "more", path, row.line, field_at(&row, score_column), ref);
            break;
        }
        char *copy = copy_string(ref);
        char **refs = realloc(model->ocg_refs, (model->ocg_count + 1) * sizeof *refs);
        if (refs) model->ocg_refs = refs;
        double *scores = realloc(model->ocg_scores, (model->ocg_count + 1) * sizeof *scores);
        if (scores) model->ocg_scores = scores;
        if (!copy || !refs || !scores) {
            free(copy);
            status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
            break;
        }
        size_t index = model->ocg_count++;
        model->ocg_refs[index] = copy;
        model->ocg_scores[index] = score;
        size_t existing = 0;
        int inserted = key_map_insert(&model->ocg_by_ref, copy, index, &existing);
        if (inserted < 0) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
            break;
        }
        if (inserted == 0) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: OCG '%s' is given twice (also as '%s'): give each group once",
                              path, row.line, ref, model->ocg_refs[existing]);
            break;
        }
    }
    if (status == HM_OK && got < 0) status = hm_error_prefix(ctx, "--ocg-table %s", path);
    hm_csv_close(reader);
    return status;
}

static void format_day(long days, char *out, size_t size)
{
    time_t seconds = (time_t)days * 86400;
    struct tm utc;
    gmtime_r(&seconds, &utc);
    strftime(out, size, "%Y-%m-%d", &utc);
}

int hm_harm_model_load(hm_ctx *ctx, const hm_harm_options *options, hm_harm_model **out)
{
    *out = NULL;
    hm_harm_options defaults = {0};
    if (!options) options = &defaults;
    if (!(options->half_life_days >= 0) || !isfinite(options->half_life_days))
        return hm_error(ctx, HM_EINVAL, "--half-life: give a number of days of zero (no decay) or more");
    hm_harm_model *model = calloc(1, sizeof *model);
    if (!model) return hm_error(ctx, HM_ENOMEM, "out of memory");
    model->options = *options;
    model->options.index = model->options.grading_table = model->options.ocg_table = NULL; /* not kept */

    const char *index = options->index && *options->index ? options->index : "cchi";
    int status = HM_OK;
    if (strcmp(index, "cchi") == 0 || strcmp(index, "css") == 0) {
        status = hm_data_path(ctx, strcmp(index, "cchi") == 0 ? "harm/cchi.csv" : "harm/css.csv",
                              model->weights_path, sizeof model->weights_path);
        snprintf(model->index_name, sizeof model->index_name, "%s", index);
        snprintf(model->unit, sizeof model->unit, "%s",
                 strcmp(index, "cchi") == 0 ? "days of custody" : "CSS weight (sentence-based)");
    } else {
        snprintf(model->weights_path, sizeof model->weights_path, "%s", index);
        snprintf(model->index_name, sizeof model->index_name, "%s", base_name(index));
        snprintf(model->unit, sizeof model->unit, "units of %s", base_name(index));
    }
    if (status == HM_OK) status = load_weights(ctx, model, model->weights_path);

    if (status == HM_OK) {
        if (options->grading_table && *options->grading_table)
            snprintf(model->grading_path, sizeof model->grading_path, "%s", options->grading_table);
        else
            status = hm_data_path(ctx, "harm/grading.csv", model->grading_path, sizeof model->grading_path);
    }
    if (status == HM_OK) status = load_grading(ctx, model, model->grading_path);
    if (status == HM_OK && options->ocg_table && *options->ocg_table) {
        snprintf(model->ocg_path, sizeof model->ocg_path, "%s", options->ocg_table);
        status = load_ocg(ctx, model, model->ocg_path);
    }
    if (status != HM_OK) {
        hm_harm_model_destroy(model);
        return status;
    }

    char recency[96] = "no recency decay";
    if (options->half_life_days > 0) {
        char day[32];
        format_day(options->reference_days, day, sizeof day);
        snprintf(recency, sizeof recency, "half-life %g days back from %s", options->half_life_days, day);
    }
    char ocg[4200];
    if (model->ocg_path[0])
        snprintf(ocg, sizeof ocg, "OCG scores %s (%zu groups)", model->ocg_path, model->ocg_count);
    else
        snprintf(ocg, sizeof ocg, "no OCG table");
    snprintf(model->description, sizeof model->description, "%s (%s, %zu rows, %s)%s; grading %s; %s; %s",
             model->index_name, model->weights_path, model->row_count, model->unit,
             options->exclude_proactive ? " excluding proactive categories" : "", model->grading_path, ocg, recency);
    *out = model;
    return HM_OK;
}

hm_harm_model *hm_harm_model_destroy(hm_harm_model *model)
{
    if (!model) return NULL;
    for (size_t i = 0; i < model->row_count; i++) free(model->rows[i].category);
    free(model->rows);
    for (size_t i = 0; i < model->alias_count; i++) free(model->aliases[i]);
    free(model->aliases);
    key_map_free(&model->by_name);
    for (size_t i = 0; i < model->ocg_count; i++) free(model->ocg_refs[i]);
    free(model->ocg_refs);
    free(model->ocg_scores);
    key_map_free(&model->ocg_by_ref);
    for (size_t i = 0; i < model->named_count_used; i++) free(model->named[i].name);
    free(model->named);
    for (int flag = 0; flag < HM_HARM_FLAG_COUNT; flag++) key_map_free(&model->named_by_key[flag]);
    free(model);
    return NULL;
}

/* Counts a flagged name (category or OCG reference) so that hm_harm_model_warn can name it. */
static void count_named(hm_harm_model *model, hm_harm_flag flag, const char *name)
{
    if (!name) name = "";
    key_map *map = &model->named_by_key[flag];
    size_t index = 0;
    if (key_is_empty(name) && flag == HM_HARM_UNKNOWN_CATEGORY) name = "(empty)";
    if (key_map_find(map, name, &index)) {
        model->named[index].count++;
        return;
    }
    if (model->named_count_used >= MAX_UNKNOWN_NAMES) {
        model->named_overflow++;
        return;
    }
    if (model->named_count_used == model->named_capacity) {
        size_t capacity = model->named_capacity ? model->named_capacity * 2 : 16;
        named_count *named = realloc(model->named, capacity * sizeof *named);
        if (!named) {
            model->named_overflow++;
            return;
        }
        model->named = named;
        model->named_capacity = capacity;
    }
    char *copy = copy_string(name);
    if (!copy) {
        model->named_overflow++;
        return;
    }
    index = model->named_count_used;
    if (key_map_insert(map, copy, index, NULL) < 0) {
        free(copy);
        model->named_overflow++;
        return;
    }
    model->named[index] = (named_count){copy, 1, flag};
    model->named_count_used++;
}

int hm_harm_model_weigh(hm_harm_model *model, const hm_harm_input *in, hm_harm_parts *out)
{
    if (!model || !in || !out || !(in->weight >= 0) || !isfinite(in->weight)) return HM_EINVAL;
    hm_harm_parts parts = {0, 1, 1, 1, 0, HM_HARM_OK, NULL};

    size_t row_index = 0;
    int found = !key_is_empty(in->category) && key_map_find(&model->by_name, in->category, &row_index);
    if (!found) {
        parts.flag = HM_HARM_UNKNOWN_CATEGORY;
    } else {
        const weight_row *row = &model->rows[row_index];
        parts.matched_category = row->category;
        if (!row->has_weight)
            parts.flag = HM_HARM_NO_WEIGHT;
        else if (row->proactive && model->options.exclude_proactive)
            parts.flag = HM_HARM_PROACTIVE_EXCLUDED;
        else
            parts.base = row->weight;
    }

    if (in->is_intelligence) {
        int se = in->source_evaluation, ia = in->intelligence_assessment;
        if (se < 1 || se > 3 || ia < 1 || ia > 5) {
            if (parts.flag == HM_HARM_OK) parts.flag = HM_HARM_BAD_GRADING;
            parts.grading_multiplier = 0;
        } else {
            parts.grading_multiplier = model->source_multiplier[se] * model->assessment_multiplier[ia];
        }
        if (model->ocg_count > 0 && !key_is_empty(in->ocg_ref)) {
            size_t ocg_index = 0;
            if (key_map_find(&model->ocg_by_ref, in->ocg_ref, &ocg_index)) {
                parts.ocg_multiplier = model->ocg_scores[ocg_index];
            } else {
                if (parts.flag == HM_HARM_OK) parts.flag = HM_HARM_UNKNOWN_OCG;
                count_named(model, HM_HARM_UNKNOWN_OCG, in->ocg_ref);
            }
        }
    }

    if (model->options.half_life_days > 0) {
        if (!in->has_date) {
            if (parts.flag == HM_HARM_OK) parts.flag = HM_HARM_NO_DATE;
        } else {
            double age_days = (double)(model->options.reference_days - in->date_days);
            if (age_days < 0) {
                if (parts.flag == HM_HARM_OK) parts.flag = HM_HARM_AFTER_REFERENCE;
            } else {
                parts.recency_multiplier = exp2(-age_days / model->options.half_life_days);
            }
        }
    }

    if (parts.flag == HM_HARM_UNKNOWN_CATEGORY || parts.flag == HM_HARM_NO_WEIGHT ||
        parts.flag == HM_HARM_PROACTIVE_EXCLUDED)
        count_named(model, parts.flag, in->category);
    parts.harm = parts.base * parts.grading_multiplier * parts.ocg_multiplier * parts.recency_multiplier * in->weight;
    model->flag_counts[parts.flag]++;
    *out = parts;
    return HM_OK;
}

long long hm_harm_model_flag_count(const hm_harm_model *model, hm_harm_flag flag)
{
    return model && (unsigned)flag < HM_HARM_FLAG_COUNT ? model->flag_counts[flag] : 0;
}

void hm_harm_model_warn(hm_ctx *ctx, const hm_harm_model *model)
{
    if (!model) return;
    const char *table = base_name(model->weights_path);
    for (size_t i = 0; i < model->named_count_used; i++) {
        const named_count *named = &model->named[i];
        switch (named->flag) {
        case HM_HARM_UNKNOWN_CATEGORY:
            hm_warn(ctx, "harm: %lld record%s of category '%s' match%s no row of %s: their harm is 0; add a row "
                    "(or an alias) to a copy of the table and give it with --harm-index FILE", named->count,
                    named->count == 1 ? "" : "s", named->name, named->count == 1 ? "es" : "", table);
            break;
        case HM_HARM_NO_WEIGHT:
            hm_warn(ctx, "harm: %lld record%s of category '%s': %s has no verified weight for it (left empty): "
                    "their harm is 0", named->count, named->count == 1 ? "" : "s", named->name, table);
            break;
        case HM_HARM_PROACTIVE_EXCLUDED:
            hm_info(ctx, "harm: %lld record%s of proactive category '%s' excluded from harm (--exclude-proactive)",
                    named->count, named->count == 1 ? "" : "s", named->name);
            break;
        case HM_HARM_UNKNOWN_OCG:
            hm_warn(ctx, "harm: %lld intelligence record%s name OCG '%s', which is not in %s: multiplier 1 used",
                    named->count, named->count == 1 ? "" : "s", named->name, base_name(model->ocg_path));
            break;
        default:
            break;
        }
    }
    if (model->named_overflow)
        hm_warn(ctx, "harm: %lld more flagged records with other category or OCG names (not listed)",
                model->named_overflow);
    if (model->flag_counts[HM_HARM_BAD_GRADING])
        hm_warn(ctx, "harm: %lld intelligence records have a grading outside 1-3 / 1-5: their harm is 0",
                model->flag_counts[HM_HARM_BAD_GRADING]);
    if (model->flag_counts[HM_HARM_NO_DATE])
        hm_warn(ctx, "harm: %lld records have no date: no recency decay applied to them (multiplier 1)",
                model->flag_counts[HM_HARM_NO_DATE]);
    if (model->flag_counts[HM_HARM_AFTER_REFERENCE])
        hm_warn(ctx, "harm: %lld records are dated after the reference date: recency multiplier 1 (not above)",
                model->flag_counts[HM_HARM_AFTER_REFERENCE]);
}

size_t hm_harm_model_flagged_count(const hm_harm_model *model)
{
    return model ? model->named_count_used : 0;
}

int hm_harm_model_flagged(const hm_harm_model *model, size_t index, hm_harm_flag *flag, const char **name,
                          long long *count)
{
    if (!model || index >= model->named_count_used) return HM_EINVAL;
    *flag = model->named[index].flag;
    *name = model->named[index].name;
    *count = model->named[index].count;
    return HM_OK;
}

const char *hm_harm_model_description(const hm_harm_model *model)
{
    return model ? model->description : "";
}

const char *hm_harm_model_index_name(const hm_harm_model *model)
{
    return model ? model->index_name : "";
}

const char *hm_harm_model_unit(const hm_harm_model *model)
{
    return model ? model->unit : "";
}
