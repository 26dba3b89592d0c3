/* styles.c - see styles.h. */
#include "styles.h"

#include "csv.h"
#include "layer_summary.h"
#include "tempfiles.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gdal.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STYLES_DIR HM_DATA_DIR "/styles"
#define DEFAULT_RAMP_DIR HM_DATA_DIR "/ramps"
#define DEFAULT_CLASSES 5
#define MAX_CATEGORIES 48        /* more values than this are drawn by the "all other values" category */
#define JENKS_EXACT_LIMIT 20000  /* above this many values Jenks runs on evenly spaced order statistics */
#define JENKS_SAMPLE 3000        /* ... this many, QGIS's sample size */
#define STYLE_NAME "harmmap"
#define STYLE_OWNER "harmmap"

/* ---------------------------------------------------------------------------------------------------------- */
/* Small helpers                                                                                              */

static int read_whole_file(hm_ctx *ctx, const char *path, char **out)
{
    *out = NULL;
    FILE *file = fopen(path, "rb");
    if (!file)
        return hm_error(ctx, HM_EIO, "%s: cannot open: %s (harmmap's data folder is %s)", path, strerror(errno),
                        HM_DATA_DIR);
    size_t capacity = 1 << 14, length = 0;
    char *text = malloc(capacity);
    int status = HM_OK;
    while (text) {
        if (length + 4096 + 1 > capacity) {
            char *bigger = realloc(text, capacity * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            capacity *= 2;
        }
        size_t got = fread(text + length, 1, 4096, file);
        length += got;
        if (got < 4096) break;
    }
    if (!text)
        status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
    else if (ferror(file))
        status = hm_error(ctx, HM_EIO, "%s: read error", path);
    fclose(file);
    if (status != HM_OK) {
        free(text);
        return status;
    }
    text[length] = '\0';
    *out = text;
    return HM_OK;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Templates                                                                                                  */

#define TEMPLATE_MAX_DEPTH 8

typedef struct fill_state {
    hm_ctx *ctx;
    const char *name;
    const char *text;
    sqlite3_str *out;
    const hm_template_scope *stack[TEMPLATE_MAX_DEPTH];
    int depth;
} fill_state;

static unsigned long line_of(const char *text, const char *at)
{
    unsigned long line = 1;
    for (const char *p = text; p < at; p++)
        if (*p == '\n') line++;
    return line;
}

static int name_is(const char *name, const char *tag, size_t length)
{
    return strlen(name) == length && strncmp(name, tag, length) == 0;
}

static const char *lookup_value(const fill_state *s, const char *tag, size_t length)
{
    for (int d = s->depth - 1; d >= 0; d--)
        for (size_t i = 0; i < s->stack[d]->value_count; i++)
            if (name_is(s->stack[d]->values[i].name, tag, length)) return s->stack[d]->values[i].value;
    return NULL;
}

static const hm_template_section *lookup_section(const fill_state *s, const char *tag, size_t length)
{
    for (int d = s->depth - 1; d >= 0; d--)
        for (size_t i = 0; i < s->stack[d]->section_count; i++)
            if (name_is(s->stack[d]->sections[i].name, tag, length)) return &s->stack[d]->sections[i];
    return NULL;
}

/* Length of the UTF-8 sequence starting at p (at most `left` bytes), or 0 when it is not valid UTF-8. */
static size_t utf8_sequence(const unsigned char *p, size_t left)
{
    size_t n;
    uint32_t code;
    if (p[0] < 0x80) return 1;
    if ((p[0] & 0xE0) == 0xC0) n = 2, code = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0) n = 3, code = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0) n = 4, code = p[0] & 0x07;
    else return 0;
    if (n > left) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        code = (code << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && code < 0x80) || (n == 3 && code < 0x800) || (n == 4 && code < 0x10000) || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return n;
}

void hm_xml_append_escaped(sqlite3_str *out, const char *value)
{
    const unsigned char *p = (const unsigned char *)value;
    size_t left = strlen(value);
    while (left > 0) {
        unsigned char c = *p;
        size_t n = 1;
        switch (c) {
        case '&': sqlite3_str_appendall(out, "&amp;"); break;
        case '<': sqlite3_str_appendall(out, "&lt;"); break;
        case '>': sqlite3_str_appendall(out, "&gt;"); break;
        case '"': sqlite3_str_appendall(out, "&quot;"); break;
        case '\'': sqlite3_str_appendall(out, "&apos;"); break;
        case '\t': case '\n': case '\r': sqlite3_str_appendchar(out, 1, (char)c); break;
        default:
            if (c < 0x20) {
                sqlite3_str_appendchar(out, 1, ' ');
            } else if ((n = utf8_sequence(p, left)) == 0) {
                sqlite3_str_appendall(out, "\xEF\xBF\xBD");
                n = 1;
            } else {
                sqlite3_str_append(out, (const char *)p, (int)n);
            }
        }
        p += n;
        left -= n;
    }
}

static int at_line_start(const fill_state *s, const char *at)
{
    return at == s->text || at[-1] == '\n';
}

static int render(fill_state *s, const char *begin, const char *end)
{
    const char *p = begin;
    while (p < end) {
        const char *open = strstr(p, "{{");
        if (!open || open >= end) {
            sqlite3_str_append(s->out, p, (int)(end - p));
            break;
        }
        sqlite3_str_append(s->out, p, (int)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close || close + 2 > end)
            return hm_error(s->ctx, HM_EFORMAT, "%s:%lu: '{{' without its '}}'", s->name, line_of(s->text, open));
        const char *tag = open + 2;
        const char *after = close + 2;
        int standalone = at_line_start(s, open) && after < end && *after == '\n';
        if (*tag == '!') {
            p = standalone ? after + 1 : after;
            continue;
        }
        while (tag < close && *tag == ' ') tag++;
        const char *tag_end = close;
        while (tag_end > tag && tag_end[-1] == ' ') tag_end--;
        if (*tag == '/')
            return hm_error(s->ctx, HM_EFORMAT, "%s:%lu: {{%.*s}} closes a section that was not opened", s->name,
                            line_of(s->text, open), (int)(tag_end - tag), tag);
        if (*tag == '#') {
            const char *section_name = tag + 1;
            size_t name_length = (size_t)(tag_end - section_name);
            char closing[128];
            snprintf(closing, sizeof closing, "{{/%.*s}}", (int)name_length, section_name);
            const char *body = standalone ? after + 1 : after;
            const char *closing_at = strstr(body, closing);
            if (!closing_at || closing_at >= end)
                return hm_error(s->ctx, HM_EFORMAT, "%s:%lu: section {{#%.*s}} has no %s", s->name,
                                line_of(s->text, open), (int)name_length, section_name, closing);
            const char *closing_after = closing_at + strlen(closing);
            const char *next = closing_after;
            if (at_line_start(s, closing_at) && closing_after < end && *closing_after == '\n') next++;
            const hm_template_section *section = lookup_section(s, section_name, name_length);
            if (!section)
                return hm_error(s->ctx, HM_EFORMAT, "%s:%lu: no rows given for section {{#%.*s}} (harmmap bug)",
                                s->name, line_of(s->text, open), (int)name_length, section_name);
            if (s->depth == TEMPLATE_MAX_DEPTH)
                return hm_error(s->ctx, HM_EFORMAT, "%s:%lu: sections nested more than %d deep", s->name,
                                line_of(s->text, open), TEMPLATE_MAX_DEPTH);
            for (size_t r = 0; r < section->row_count; r++) {
                s->stack[s->depth++] = &section->rows[r];
                int status = render(s, body, closing_at);
                s->depth--;
                if (status != HM_OK) return status;
            }
            p = next;
            continue;
        }
        const char *value = lookup_value(s, tag, (size_t)(tag_end - tag));
        if (!value)
            return hm_error(s->ctx, HM_EFORMAT, "%s:%lu: no value for placeholder {{%.*s}} (harmmap bug, or a "
                                                "template edited with a name harmmap does not fill)",
                            s->name, line_of(s->text, open), (int)(tag_end - tag), tag);
        hm_xml_append_escaped(s->out, value);
        p = after;
    }
    return HM_OK;
}

int hm_template_fill(hm_ctx *ctx, const char *name, const char *text, const hm_template_scope *scope, char **out)
{
    *out = NULL;
    fill_state s = {ctx, name, text, sqlite3_str_new(NULL), {scope}, 1};
    int status = render(&s, text, text + strlen(text));
    if (status == HM_OK && sqlite3_str_errcode(s.out) != SQLITE_OK)
        status = hm_error(ctx, HM_ENOMEM, "%s: out of memory filling the template", name);
    char *result = sqlite3_str_finish(s.out);
    if (status == HM_OK) {
        *out = strdup(result ? result : "");
        if (!*out) status = hm_error(ctx, HM_ENOMEM, "%s: out of memory", name);
    }
    sqlite3_free(result);
    return status;
}

int hm_template_fill_file(hm_ctx *ctx, const char *path, const hm_template_scope *scope, char **out)
{
    char *text = NULL;
    int status = read_whole_file(ctx, path, &text);
    if (status == HM_OK) status = hm_template_fill(ctx, path, text, scope, out);
    free(text);
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Classification                                                                                             */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

const char *hm_class_method_name(hm_class_method method)
{
    return method == HM_CLASS_QUANTILE ? "quantiles" : "Jenks natural breaks";
}

const char *hm_class_method_qgis_id(hm_class_method method)
{
    return method == HM_CLASS_QUANTILE ? "Quantile" : "Jenks";
}

/* QGIS 3.22's QgsClassificationJenks::calculateBreaks (after classInt's jenks and Jenks' Fortran), step for step,
 * including the tie rule (a later split point wins on >=), so that the breaks equal QGIS's. Returns the upper
 * bounds of k classes in upper[0..k-1]. sample is sorted. */
static int jenks_breaks(hm_ctx *ctx, const double *sample, size_t n, int k, double *upper)
{
    size_t rows = n + 1, columns = (size_t)k + 1;
    size_t *lower_index = calloc(rows * columns, sizeof *lower_index);
    double *variance = calloc(rows * columns, sizeof *variance);
    if (!lower_index || !variance) {
        free(lower_index);
        free(variance);
        return hm_error(ctx, HM_ENOMEM, "out of memory classifying %zu values", n);
    }
#define ONE(i, j) lower_index[(i) * columns + (j)]
#define TWO(i, j) variance[(i) * columns + (j)]
    for (int i = 1; i <= k; i++) {
        ONE(0, i) = 1;
        ONE(1, i) = 1;
        TWO(0, i) = 0.0;
        for (size_t j = 2; j <= n; j++) TWO(j, i) = HUGE_VAL;
    }
    for (size_t l = 2; l <= n; l++) {
        double s1 = 0.0, s2 = 0.0, v = 0.0;
        double w = 0;
        for (size_t m = 1; m <= l; m++) {
            size_t i3 = l - m + 1;
            double value = sample[i3 - 1];
            s2 += value * value;
            s1 += value;
            w += 1;
            v = s2 - (s1 * s1) / w;
            size_t i4 = i3 - 1;
            if (i4 != 0)
                for (int j = 2; j <= k; j++)
                    if (TWO(l, j) >= v + TWO(i4, j - 1)) {
                        ONE(l, j) = i4;
                        TWO(l, j) = v + TWO(i4, j - 1);
                    }
        }
        ONE(l, 1) = 1;
        TWO(l, 1) = v;
    }
    upper[k - 1] = sample[n - 1];
    for (size_t j = (size_t)k, position = n; j >= 2; j--) {
        size_t id = ONE(position, j) - 1;
        upper[j - 2] = sample[id];
        position = ONE(position, j) - 1;
    }
#undef ONE
#undef TWO
    free(lower_index);
    free(variance);
    return HM_OK;
}

/* QGIS 3.22's QgsClassificationQuantile: the i/k quantile interpolated linearly between the values at ranks
 * floor(q (n - 1)) and the next (R's type 7). */
static void quantile_breaks(const double *sorted, size_t n, int k, double *upper)
{
    for (int i = 1; i < k; i++) {
        double q = i / (double)k;
        double a = q * (double)(n - 1);
        size_t aa = (size_t)a;
        double r = a - (double)aa;
        upper[i - 1] = aa + 1 < n ? (1 - r) * sorted[aa] + r * sorted[aa + 1] : sorted[n - 1];
    }
    upper[k - 1] = sorted[n - 1];
}

int hm_classify(hm_ctx *ctx, double *values, size_t count, hm_class_method method, int class_count,
                double *minimum, double upper[HM_MAX_CLASSES], int *classes_out)
{
    *classes_out = 0;
    *minimum = 0;
    if (class_count < 1 || class_count > HM_MAX_CLASSES)
        return hm_error(ctx, HM_EINVAL, "%d classes: give 1 to %d", class_count, HM_MAX_CLASSES);
    if (count == 0) return HM_OK;
    qsort(values, count, sizeof *values, compare_doubles);
    *minimum = values[0];
    size_t distinct = 1;
    for (size_t i = 1; i < count && distinct <= (size_t)class_count; i++)
        if (values[i] != values[i - 1]) distinct++;
    int k = class_count;
    if (distinct <= (size_t)class_count) {
        /* Each distinct value is a class of its own. */
        int n = 0;
        for (size_t i = 0; i < count; i++)
            if (i == 0 || values[i] != values[i - 1]) upper[n++] = values[i];
        *classes_out = n;
        return HM_OK;
    }
    if (method == HM_CLASS_QUANTILE) {
        quantile_breaks(values, count, k, upper);
    } else if (count <= JENKS_EXACT_LIMIT) {
        int status = jenks_breaks(ctx, values, count, k, upper);
        if (status != HM_OK) return status;
    } else {
        /* Deterministic sample of evenly spaced order statistics (QGIS draws 3,000 at random), ends included. */
        double *sample = malloc(JENKS_SAMPLE * sizeof *sample);
        if (!sample) return hm_error(ctx, HM_ENOMEM, "out of memory classifying %zu values", count);
        for (size_t i = 0; i < JENKS_SAMPLE; i++)
            sample[i] = values[(size_t)((double)i * (double)(count - 1) / (JENKS_SAMPLE - 1) + 0.5)];
        int status = jenks_breaks(ctx, sample, JENKS_SAMPLE, k, upper);
        free(sample);
        if (status != HM_OK) return status;
        upper[k - 1] = values[count - 1];
    }
    /* Drop repeated bounds (many equal values) so that every class is a real interval. */
    int n = 0;
    for (int i = 0; i < k; i++)
        if (n == 0 || upper[i] > upper[n - 1]) upper[n++] = upper[i];
    *classes_out = n;
    return HM_OK;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Colour ramps: the format of tiles/ramp.h, read here because engine/ does not include tiles/ internals.    */

static int parse_channel(const char *text, unsigned char *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0 || v > 255) return -1;
    *out = (unsigned char)v;
    return 0;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int parse_hex_colour(const char *text, unsigned char rgba[4])
{
    size_t n = strlen(text);
    if (text[0] != '#' || (n != 7 && n != 9)) return -1;
    rgba[3] = 255;
    for (size_t i = 0; i < (n - 1) / 2; i++) {
        int hi = hex_digit(text[1 + 2 * i]), lo = hex_digit(text[2 + 2 * i]);
        if (hi < 0 || lo < 0) return -1;
        rgba[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

static int load_ramp_file(hm_ctx *ctx, const char *path, hm_style_ramp *ramp)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return hm_error(ctx, HM_EIO, "%s: cannot open ramp file: %s; give a ramp name (viridis, magma, inferno, "
                                     "cividis, ylorrd) or the path of a ramp file", path, strerror(errno));
    memset(ramp, 0, sizeof *ramp);
    int status = HM_OK;
    char line[512];
    unsigned long line_number = 0;
    while (status == HM_OK && fgets(line, sizeof line, file)) {
        line_number++;
        char *fields[6];
        int field_count = 0;
        char *rest = NULL; /* strtok_r: the public product styles its GeoPackage while the tiles load a ramp */
        for (char *token = strtok_r(line, " \t\r\n,", &rest); token; token = strtok_r(NULL, " \t\r\n,", &rest)) {
            unsigned char unused[4];
            if (token[0] == '#' && !(field_count == 1 && parse_hex_colour(token, unused) == 0)) break;
            if (field_count == 6) {
                field_count = 7;
                break;
            }
            fields[field_count++] = token;
        }
        if (field_count == 0) continue;
        if (ramp->count == HM_STYLE_RAMP_MAX_STOPS) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: more than %d colour stops; use fewer", path, line_number,
                              HM_STYLE_RAMP_MAX_STOPS);
            break;
        }
        size_t i = ramp->count;
        char *end = NULL;
        double position = strtod(fields[0], &end);
        if (end == fields[0] || *end || !isfinite(position) || position < 0 || position > 1) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: position '%s' is not a number from 0 to 1; each line is "
                                               "'position red green blue [alpha]' or 'position #rrggbb[aa]'",
                              path, line_number, fields[0]);
            break;
        }
        int ok;
        if (field_count == 2 && fields[1][0] == '#') {
            ok = parse_hex_colour(fields[1], ramp->rgba[i]) == 0;
        } else if (field_count == 4 || field_count == 5) {
            ramp->rgba[i][3] = 255;
            ok = 1;
            for (int c = 0; c < field_count - 1; c++)
                if (parse_channel(fields[c + 1], &ramp->rgba[i][c]) != 0) ok = 0;
        } else {
            ok = 0;
        }
        if (!ok) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: bad colour after position %s: expected red green blue "
                                               "[alpha] as integers 0-255, or #rrggbb[aa]",
                              path, line_number, fields[0]);
            break;
        }
        if (i > 0 && !(position > ramp->position[i - 1])) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: position %s does not increase; list stops from 0 to 1",
                              path, line_number, fields[0]);
            break;
        }
        ramp->position[i] = position;
        ramp->count++;
    }
    if (status == HM_OK && ferror(file)) status = hm_error(ctx, HM_EIO, "%s: read error", path);
    fclose(file);
    if (status != HM_OK) return status;
    if (ramp->count < 2 || ramp->position[0] != 0.0 || ramp->position[ramp->count - 1] != 1.0)
        return hm_error(ctx, HM_EFORMAT, "%s: a ramp needs at least two stops, the first at position 0 and the "
                                         "last at 1 (found %zu)", path, ramp->count);
    const char *base = strrchr(path, '/');
    snprintf(ramp->name, sizeof ramp->name, "%s", base ? base + 1 : path);
    char *dot = strrchr(ramp->name, '.');
    if (dot && strcmp(dot, ".txt") == 0) *dot = '\0';
    return HM_OK;
}

int hm_style_ramp_load(hm_ctx *ctx, const char *name_or_path, const char *ramp_dir, hm_style_ramp *ramp)
{
    if (!ramp_dir) ramp_dir = DEFAULT_RAMP_DIR;
    size_t n = strlen(name_or_path);
    if (strchr(name_or_path, '/') || (n > 4 && strcmp(name_or_path + n - 4, ".txt") == 0))
        return load_ramp_file(ctx, name_or_path, ramp);
    char lower[64];
    if (n == 0 || n >= sizeof lower)
        return hm_error(ctx, HM_EINVAL, "ramp '%s': not a ramp name; give a name such as viridis or the path of a "
                                        "ramp file", name_or_path);
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)name_or_path[i];
        if (c && !isalnum(c) && c != '_' && c != '-')
            return hm_error(ctx, HM_EINVAL, "ramp '%s': not a ramp name; give a name such as viridis or the path "
                                            "of a ramp file", name_or_path);
        lower[i] = (char)tolower(c);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt", ramp_dir, name_or_path);
    if (access(path, R_OK) != 0) snprintf(path, sizeof path, "%s/%s.txt", ramp_dir, lower);
    if (access(path, R_OK) != 0)
        return hm_error(ctx, HM_EINVAL, "ramp '%s': no ramp of that name in %s; use viridis, magma, inferno, "
                                        "cividis or ylorrd, or give the path of a ramp file", name_or_path, ramp_dir);
    return load_ramp_file(ctx, path, ramp);
}

void hm_style_ramp_colour(const hm_style_ramp *ramp, double t, unsigned char rgba[4])
{
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    size_t segment = 0;
    while (segment < ramp->count - 2 && t > ramp->position[segment + 1]) segment++;
    double a = ramp->position[segment], b = ramp->position[segment + 1];
    double f = (t - a) / (b - a);
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    for (int c = 0; c < 4; c++)
        rgba[c] = (unsigned char)lround(ramp->rgba[segment][c] + f * (ramp->rgba[segment + 1][c] -
                                                                     ramp->rgba[segment][c]));
}

static void format_rgba(const unsigned char rgba[4], char out[24])
{
    snprintf(out, 24, "%u,%u,%u,%u", rgba[0], rgba[1], rgba[2], rgba[3]);
}

static void format_hex(const unsigned char rgba[4], char out[8])
{
    snprintf(out, 8, "#%02x%02x%02x", rgba[0], rgba[1], rgba[2]);
}

/* QGIS's gradient ramp properties: color1, color2 and "position;r,g,b,a:..." for the stops between. */
static void format_qgis_ramp(const hm_style_ramp *ramp, char colour1[24], char colour2[24], char *stops,
                             size_t stops_size)
{
    format_rgba(ramp->rgba[0], colour1);
    format_rgba(ramp->rgba[ramp->count - 1], colour2);
    stops[0] = '\0';
    size_t used = 0;
    for (size_t i = 1; i + 1 < ramp->count && used < stops_size; i++) {
        char colour[24];
        format_rgba(ramp->rgba[i], colour);
        used += (size_t)snprintf(stops + used, stops_size - used, "%s%.6g;%s", i > 1 ? ":" : "", ramp->position[i],
                                 colour);
    }
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Numbers for people                                                                                         */

/* "12,345.6": fixed decimals with thousands separators. */
static void format_number(double value, int decimals, char *out, size_t size)
{
    char digits[64];
    snprintf(digits, sizeof digits, "%.*f", decimals, fabs(value));
    if (strtod(digits, NULL) == 0) value = 0; /* no "-0" */
    char *dot = strchr(digits, '.');
    size_t integer_length = dot ? (size_t)(dot - digits) : strlen(digits);
    size_t used = 0;
    if (value < 0 && used + 1 < size) out[used++] = '-';
    for (size_t i = 0; i < integer_length && used + 2 < size; i++) {
        if (i > 0 && (integer_length - i) % 3 == 0) out[used++] = ',';
        out[used++] = digits[i];
    }
    if (dot) used += (size_t)snprintf(out + used, size > used ? size - used : 0, "%s", dot);
    if (used < size) out[used] = '\0';
    else out[size - 1] = '\0';
}

/* Fewest decimals (0 to 6) with which neighbouring bounds read differently; fewer for large numbers. */
static int label_decimals(const double *bounds, int count)
{
    double largest = 0;
    for (int i = 0; i < count; i++)
        if (fabs(bounds[i]) > largest) largest = fabs(bounds[i]);
    int decimals = largest >= 100 ? 0 : largest >= 10 ? 1 : 2;
    for (; decimals < 6; decimals++) {
        int distinct = 1;
        for (int i = 1; i < count && distinct; i++) {
            char a[64], b[64];
            snprintf(a, sizeof a, "%.*f", decimals, bounds[i - 1]);
            snprintf(b, sizeof b, "%.*f", decimals, bounds[i]);
            if (strcmp(a, b) == 0) distinct = 0;
        }
        if (distinct) break;
    }
    return decimals;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Reading the GeoPackage                                                                                     */

static int sql_fail(hm_ctx *ctx, sqlite3 *db, const char *what)
{
    return hm_error(ctx, HM_ESQL, "GeoPackage: %s: %s", what, sqlite3_errmsg(db));
}

static int table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &stmt, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
        found = sqlite3_step(stmt) == SQLITE_ROW;
    }
    sqlite3_finalize(stmt);
    return found;
}

/* The non-NULL, finite values of a numeric column; *values malloc'd. */
static int read_numbers(hm_ctx *ctx, sqlite3 *db, const char *table, const char *column, double **values,
                        size_t *count)
{
    *values = NULL;
    *count = 0;
    char *sql = sqlite3_mprintf("SELECT \"%w\" FROM \"%w\" WHERE \"%w\" IS NOT NULL", column, table, column);
    sqlite3_stmt *stmt = NULL;
    if (!sql) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return sql_fail(ctx, db, "reading values to classify");
    size_t capacity = 0;
    int status = HM_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int type = sqlite3_column_type(stmt, 0);
        if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) continue;
        double v = sqlite3_column_double(stmt, 0);
        if (!isfinite(v)) continue;
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 256;
            double *bigger = realloc(*values, capacity * sizeof *bigger);
            if (!bigger) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s.%s", table, column);
                break;
            }
            *values = bigger;
        }
        (*values)[(*count)++] = v;
    }
    if (status == HM_OK && rc != SQLITE_DONE) status = sql_fail(ctx, db, "reading values to classify");
    sqlite3_finalize(stmt);
    if (status != HM_OK) {
        free(*values);
        *values = NULL;
        *count = 0;
    }
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Field aliases (data/styles/fields.csv) and category colours (data/styles/categories.csv)                    */

typedef struct text_table {
    size_t rows, columns;
    char **cells; /* rows * columns, malloc'd strings; the header row is dropped */
} text_table;

static void text_table_free(text_table *table)
{
    if (!table->cells) return;
    for (size_t i = 0; i < table->rows * table->columns; i++) free(table->cells[i]);
    free(table->cells);
    table->cells = NULL;
}

static const char *cell(const text_table *table, size_t row, size_t column)
{
    return table->cells[row * table->columns + column];
}

/* Reads a small CSV with exactly `columns` columns (header first). */
static int read_text_table(hm_ctx *ctx, const char *path, size_t columns, text_table *table)
{
    memset(table, 0, sizeof *table);
    table->columns = columns;
    hm_csv_reader *reader = NULL;
    hm_csv_options options = {',', 1 << 16};
    int status = hm_csv_open(ctx, path, &options, &reader);
    if (status != HM_OK) return status;
    hm_csv_record record;
    size_t capacity = 0;
    int got, header = 1;
    while ((got = hm_csv_next(reader, &record)) > 0) {
        if (header) {
            header = 0;
            continue;
        }
        if (record.field_count == 1 && record.field_lengths[0] == 0) continue;
        if (record.field_count != columns) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: %zu fields; every line has %zu", path, record.line,
                              record.field_count, columns);
            break;
        }
        if (table->rows == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            char **bigger = realloc(table->cells, capacity * columns * sizeof *bigger);
            if (!bigger) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
                break;
            }
            table->cells = bigger;
        }
        for (size_t c = 0; c < columns; c++) table->cells[table->rows * columns + c] = strdup(record.fields[c]);
        table->rows++;
        for (size_t c = 0; c < columns; c++)
            if (!table->cells[(table->rows - 1) * columns + c]) status = hm_error(ctx, HM_ENOMEM, "out of memory");
        if (status != HM_OK) break;
    }
    if (status == HM_OK && got < 0) status = got;
    hm_csv_close(reader);
    if (status != HM_OK) text_table_free(table);
    return status;
}

struct hm_field_dictionary {
    text_table fields; /* field, alias, description */
};

int hm_field_dictionary_load(hm_ctx *ctx, const char *styles_dir, hm_field_dictionary **out)
{
    *out = NULL;
    hm_field_dictionary *dictionary = calloc(1, sizeof *dictionary);
    if (!dictionary) return hm_error(ctx, HM_ENOMEM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/fields.csv", styles_dir ? styles_dir : DEFAULT_STYLES_DIR);
    int status = read_text_table(ctx, path, 3, &dictionary->fields);
    if (status != HM_OK) {
        free(dictionary);
        return status;
    }
    *out = dictionary;
    return HM_OK;
}

hm_field_dictionary *hm_field_dictionary_destroy(hm_field_dictionary *dictionary)
{
    if (dictionary) text_table_free(&dictionary->fields);
    free(dictionary);
    return NULL;
}

static const char *dictionary_cell(const hm_field_dictionary *dictionary, const char *table, const char *field,
                                   size_t column)
{
    if (!dictionary) return NULL;
    size_t table_length = table ? strlen(table) : 0;
    for (int pass = table ? 0 : 1; pass < 2; pass++)
        for (size_t r = 0; r < dictionary->fields.rows; r++) {
            const char *name = cell(&dictionary->fields, r, 0);
            if (pass == 0) {
                if (strncmp(name, table, table_length) != 0 || name[table_length] != '.') continue;
                name += table_length + 1;
            } else if (strchr(name, '.')) {
                continue;
            }
            if (strcmp(name, field) == 0 && *cell(&dictionary->fields, r, column))
                return cell(&dictionary->fields, r, column);
        }
    return NULL;
}

const char *hm_field_dictionary_alias(const hm_field_dictionary *dictionary, const char *table, const char *field)
{
    return dictionary_cell(dictionary, table, field, 1);
}

const char *hm_field_dictionary_description(const hm_field_dictionary *dictionary, const char *table,
                                            const char *field)
{
    return dictionary_cell(dictionary, table, field, 2);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Filled rows for the templates                                                                              */

/* Aliases of the layer's columns that fields.csv names, in column order. */
typedef struct alias_row {
    char field[128], index[16], alias[128];
    hm_template_value values[3];
} alias_row;

typedef struct alias_list {
    alias_row *rows;
    hm_template_scope *scopes;
    size_t count;
} alias_list;

static void alias_list_free(alias_list *list)
{
    free(list->rows);
    free(list->scopes);
    memset(list, 0, sizeof *list);
}

static int build_aliases(hm_ctx *ctx, sqlite3 *db, const char *table, const hm_field_dictionary *fields,
                         alias_list *list)
{
    memset(list, 0, sizeof *list);
    char *sql = sqlite3_mprintf("SELECT cid, name FROM pragma_table_info(%Q) ORDER BY cid", table);
    sqlite3_stmt *stmt = NULL;
    if (!sql) return hm_error(ctx, HM_ENOMEM, "out of memory");
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return sql_fail(ctx, db, "listing the layer's fields");
    size_t capacity = 0;
    int status = HM_OK;
    int index = 0; /* QGIS numbers the fields without the geometry column */
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 1);
        if (!name || strcmp(name, "geom") == 0) continue;
        const char *alias = hm_field_dictionary_alias(fields, table, name);
        if (alias) {
            if (list->count == capacity) {
                capacity = capacity ? 2 * capacity : 32;
                alias_row *rows = realloc(list->rows, capacity * sizeof *rows);
                if (!rows) {
                    status = hm_error(ctx, HM_ENOMEM, "out of memory");
                    break;
                }
                list->rows = rows;
            }
            alias_row *row = &list->rows[list->count++];
            snprintf(row->field, sizeof row->field, "%s", name);
            snprintf(row->index, sizeof row->index, "%d", index);
            snprintf(row->alias, sizeof row->alias, "%s", alias);
        }
        index++;
    }
    sqlite3_finalize(stmt);
    if (status == HM_OK && list->count) {
        list->scopes = calloc(list->count, sizeof *list->scopes);
        if (!list->scopes) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; status == HM_OK && i < list->count; i++) {
        alias_row *row = &list->rows[i];
        row->values[0] = (hm_template_value){"field", row->field};
        row->values[1] = (hm_template_value){"index", row->index};
        row->values[2] = (hm_template_value){"alias", row->alias};
        list->scopes[i] = (hm_template_scope){row->values, 3, NULL, 0};
    }
    if (status != HM_OK) alias_list_free(list);
    return status;
}

typedef struct class_row {
    char index[16], lower[40], upper[40], label[160], colour[24], colour_hex[8];
    const char *lower_operator;
    hm_template_value values[7];
} class_row;

typedef struct category_row {
    char index[24], value[256], label[256], colour[24], colour_hex[8];
    hm_template_value values[5];
} category_row;

/* A style ready to store: QML, SLD and a description for layer_styles. */
typedef struct layer_style {
    char *qml, *sld;
    char description[512];
} layer_style;

typedef struct style_job {
    hm_ctx *ctx;
    sqlite3 *db;
    const hm_gpkg_style_options *options;
    const char *styles_dir;
    hm_field_dictionary *fields; /* data/styles/fields.csv */
    text_table categories; /* data/styles/categories.csv: layer, field, value, label, colour */
    hm_layer_summaries *summaries; /* the options' cache, or one of this call's own */
} style_job;

static int fill_pair(style_job *job, const char *template_base, const hm_template_scope *scope, layer_style *style)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.qml", job->styles_dir, template_base);
    int status = hm_template_fill_file(job->ctx, path, scope, &style->qml);
    if (status != HM_OK) return status;
    snprintf(path, sizeof path, "%s/%s.sld", job->styles_dir, template_base);
    return hm_template_fill_file(job->ctx, path, scope, &style->sld);
}

const char *hm_styles_layer_title(const char *table)
{
    static const char *const titles[][2] = {
        {"incidents", "Incidents"},       {"intelligence", "Intelligence"},
        {"wards", "Wards"},               {"beats", "Beats"},
        {"ward_harm", "Harm per ward"},   {"beat_harm", "Harm per beat"},
        {"rejects", "Rejected records"},  {"runs", "Geocode runs"},
        {"aggregate_runs", "Aggregate runs"}, {"layer_styles", "QGIS layer styles"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(titles[i][0], table) == 0) return titles[i][1];
    return table;
}

static const char *field_alias(const style_job *job, const char *table, const char *field)
{
    const char *alias = hm_field_dictionary_alias(job->fields, table, field);
    return alias ? alias : field;
}

/* Graduated choropleth of the first of `candidates` that the layer has with at least one value. */
static int graduated_style(style_job *job, const char *table, const char *const *candidates, const char *label_field,
                           layer_style *style)
{
    hm_ctx *ctx = job->ctx;
    const hm_gpkg_style_options *o = job->options;
    double *values = NULL;
    size_t count = 0;
    const char *field = NULL;
    int status = HM_OK;
    for (size_t i = 0; candidates[i] && !field; i++) {
        if (!hm_layer_has_column(job->db, table, candidates[i])) continue;
        status = read_numbers(ctx, job->db, table, candidates[i], &values, &count);
        if (status != HM_OK) return status;
        if (count > 0 || !candidates[i + 1]) {
            field = candidates[i];
        } else {
            free(values);
            values = NULL;
        }
    }
    if (!field) return HM_OK; /* none of the fields: not a layer we know how to draw */

    hm_style_ramp ramp;
    status = hm_style_ramp_load(ctx, o->choropleth_ramp ? o->choropleth_ramp : "ylorrd", o->ramp_dir, &ramp);
    double minimum = 0, upper[HM_MAX_CLASSES];
    int classes = 0;
    if (status == HM_OK)
        status = hm_classify(ctx, values, count, o->method, o->class_count ? o->class_count : DEFAULT_CLASSES,
                             &minimum, upper, &classes);
    free(values);
    if (status != HM_OK) return status;

    class_row rows[HM_MAX_CLASSES + 1];
    hm_template_scope row_scopes[HM_MAX_CLASSES + 1];
    int row_count = classes > 0 ? classes : 1;
    double bounds[HM_MAX_CLASSES + 1];
    bounds[0] = minimum;
    for (int i = 0; i < classes; i++) bounds[i + 1] = upper[i];
    int decimals = label_decimals(bounds, classes + 1);
    for (int i = 0; i < row_count; i++) {
        class_row *row = &rows[i];
        double lower = i == 0 ? minimum : upper[i - 1];
        double high = classes > 0 ? upper[i] : 0;
        snprintf(row->index, sizeof row->index, "%d", i);
        snprintf(row->lower, sizeof row->lower, "%.17g", lower);
        snprintf(row->upper, sizeof row->upper, "%.17g", high);
        char a[64], b[64];
        format_number(lower, decimals, a, sizeof a);
        format_number(high, decimals, b, sizeof b);
        if (classes == 0)
            snprintf(row->label, sizeof row->label, "no values");
        else if (lower == high)
            snprintf(row->label, sizeof row->label, "%s", b);
        else
            snprintf(row->label, sizeof row->label, "%s \xE2\x80\x93 %s", a, b); /* en dash */
        unsigned char rgba[4];
        hm_style_ramp_colour(&ramp, row_count > 1 ? (double)i / (row_count - 1) : 1.0, rgba);
        format_rgba(rgba, row->colour);
        format_hex(rgba, row->colour_hex);
        row->lower_operator = i == 0 ? "PropertyIsGreaterThanOrEqualTo" : "PropertyIsGreaterThan";
        row->values[0] = (hm_template_value){"index", row->index};
        row->values[1] = (hm_template_value){"lower", row->lower};
        row->values[2] = (hm_template_value){"upper", row->upper};
        row->values[3] = (hm_template_value){"label", row->label};
        row->values[4] = (hm_template_value){"colour", row->colour};
        row->values[5] = (hm_template_value){"colour_hex", row->colour_hex};
        row->values[6] = (hm_template_value){"lower_operator", row->lower_operator};
        row_scopes[i] = (hm_template_scope){row->values, 7, NULL, 0};
    }
    alias_list aliases;
    status = build_aliases(ctx, job->db, table, job->fields, &aliases);
    if (status != HM_OK) return status;
    char colour1[24], colour2[24], stops[HM_STYLE_RAMP_MAX_STOPS * 32], precision[8];
    format_qgis_ramp(&ramp, colour1, colour2, stops, sizeof stops);
    snprintf(precision, sizeof precision, "%d", decimals);
    const hm_template_value names[] = {
        {"layer_name", table},
        {"layer_title", hm_styles_layer_title(table)},
        {"field", field},
        {"field_alias", field_alias(job, table, field)},
        {"label_field", label_field},
        {"method_id", hm_class_method_qgis_id(o->method)},
        {"label_precision", precision},
        {"ramp_colour1", colour1},
        {"ramp_colour2", colour2},
        {"ramp_stops", stops},
        {"outline_colour", "90,90,90,255"},
        {"outline_hex", "#5a5a5a"},
    };
    const hm_template_section sections[] = {
        {"classes", row_scopes, (size_t)row_count},
        {"aliases", aliases.scopes, aliases.count},
    };
    hm_template_scope scope = {names, sizeof names / sizeof names[0], sections, 2};
    status = fill_pair(job, "graduated_fill", &scope, style);
    alias_list_free(&aliases);
    snprintf(style->description, sizeof style->description,
             "%s by %s (%s): %s in %d class%s, %s ramp, over %zu values", hm_styles_layer_title(table), field_alias(job, table, field),
             field, hm_class_method_name(o->method), classes, classes == 1 ? "" : "es", ramp.name, count);
    return status;
}

/* A fixed, colour-blind-aware cycle for values categories.csv does not name (ColorBrewer Dark2 then Set2). */
static const char *const fallback_colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                                               "#a6761d", "#66c2a5", "#fc8d62", "#8da0cb", "#a6d854", "#ffd92f"};

/* Categorised points: one category per value the layer holds (known values in categories.csv order, then the
 * rest by frequency), and a last one for all other values. */
static int categorized_style(style_job *job, const char *table, const char *field, const char *label_field,
                             layer_style *style)
{
    hm_ctx *ctx = job->ctx;
    if (!hm_layer_has_column(job->db, table, field)) return HM_OK;
    const hm_layer_summary *summary = NULL;
    int status = hm_layer_summaries_get(ctx, job->summaries, table, field, &summary);
    if (status != HM_OK) return status;
    const hm_value_count *values = summary->values;
    size_t distinct = summary->value_count;
    long long features = summary->valued_rows;

    category_row *rows = calloc(MAX_CATEGORIES + 1, sizeof *rows);
    hm_template_scope *scopes = calloc(MAX_CATEGORIES + 1, sizeof *scopes);
    size_t *order = calloc(MAX_CATEGORIES + 1, sizeof *order);
    if (!rows || !scopes || !order) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    size_t count = 0;
    for (size_t i = 0; status == HM_OK && i < distinct && count < MAX_CATEGORIES; i++, count++)
        snprintf(rows[count].value, sizeof rows[count].value, "%s", values[i].value);
    if (status != HM_OK) goto done;

    /* Order: categories.csv rows for this layer and field first, in file order, then by frequency. */
    size_t placed = 0;
    int *used = calloc(count + 1, sizeof *used);
    if (!used) {
        status = hm_error(ctx, HM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < job->categories.rows; r++) {
        if (strcmp(cell(&job->categories, r, 0), table) != 0 || strcmp(cell(&job->categories, r, 1), field) != 0)
            continue;
        for (size_t i = 0; i < count; i++)
            if (!used[i] && strcmp(rows[i].value, cell(&job->categories, r, 2)) == 0) {
                used[i] = 1;
                order[placed++] = i;
                const char *label = cell(&job->categories, r, 3);
                snprintf(rows[i].label, sizeof rows[i].label, "%s", *label ? label : rows[i].value);
                unsigned char rgba[4];
                if (parse_hex_colour(cell(&job->categories, r, 4), rgba) != 0) {
                    status = hm_error(ctx, HM_EFORMAT, "%s/categories.csv: colour '%s' for %s: give #rrggbb",
                                      job->styles_dir, cell(&job->categories, r, 4), rows[i].value);
                    break;
                }
                format_rgba(rgba, rows[i].colour);
                format_hex(rgba, rows[i].colour_hex);
            }
    }
    size_t fallback = 0;
    for (size_t i = 0; status == HM_OK && i < count; i++) {
        if (used[i]) continue;
        order[placed++] = i;
        snprintf(rows[i].label, sizeof rows[i].label, "%s", rows[i].value);
        unsigned char rgba[4];
        parse_hex_colour(fallback_colours[fallback++ % (sizeof fallback_colours / sizeof fallback_colours[0])], rgba);
        format_rgba(rgba, rows[i].colour);
        format_hex(rgba, rows[i].colour_hex);
    }
    free(used);
    if (status != HM_OK) goto done;
    /* The catch-all: QGIS draws a category with an empty value for every value no other category matches. */
    category_row *other = &rows[count];
    other->value[0] = '\0';
    snprintf(other->label, sizeof other->label, "%s", distinct > count ? "all other values" : "other or no value");
    snprintf(other->colour, sizeof other->colour, "150,150,150,255");
    snprintf(other->colour_hex, sizeof other->colour_hex, "#969696");
    order[placed++] = count;

    category_row *sorted = calloc(placed, sizeof *sorted);
    if (!sorted) {
        status = hm_error(ctx, HM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < placed; i++) sorted[i] = rows[order[i]];
    for (size_t i = 0; i < placed; i++) {
        category_row *row = &sorted[i];
        snprintf(row->index, sizeof row->index, "%zu", i);
        row->values[0] = (hm_template_value){"index", row->index};
        row->values[1] = (hm_template_value){"value", row->value};
        row->values[2] = (hm_template_value){"label", row->label};
        row->values[3] = (hm_template_value){"colour", row->colour};
        row->values[4] = (hm_template_value){"colour_hex", row->colour_hex};
        scopes[i] = (hm_template_scope){row->values, 5, NULL, 0};
    }
    alias_list aliases;
    status = build_aliases(ctx, job->db, table, job->fields, &aliases);
    if (status == HM_OK) {
        const hm_template_value values[] = {
            {"layer_name", table},          {"layer_title", hm_styles_layer_title(table)}, {"field", field},
            {"label_field", label_field},   {"marker_size", "1.8"},             {"marker_size_px", "7"},
            {"outline_colour", "40,40,40,255"}, {"outline_hex", "#282828"},
        };
        const hm_template_section sections[] = {
            {"categories", scopes, placed},
            {"values", scopes, placed - 1},
            {"other", scopes + placed - 1, 1},
            {"aliases", aliases.scopes, aliases.count},
        };
        hm_template_scope scope = {values, sizeof values / sizeof values[0], sections, 4};
        status = fill_pair(job, "categorized_point", &scope, style);
        alias_list_free(&aliases);
        snprintf(style->description, sizeof style->description,
                 "%s by %s (%s): %zu categories over %lld features%s", hm_styles_layer_title(table), field_alias(job, table, field),
                 field, placed - 1, features, distinct > count ? " (the rarest values grouped as other)" : "");
    }
    free(sorted);
done:
    free(rows);
    free(scopes);
    free(order);
    return status;
}

static int outline_style(style_job *job, const char *table, const char *label_field, layer_style *style)
{
    alias_list aliases;
    int status = build_aliases(job->ctx, job->db, table, job->fields, &aliases);
    if (status != HM_OK) return status;
    const hm_template_value values[] = {
        {"layer_name", table},     {"layer_title", hm_styles_layer_title(table)},
        {"label_field", label_field}, {"outline_colour", "60,60,60,255"},
        {"outline_hex", "#3c3c3c"}, {"outline_width", strcmp(table, "beats") == 0 ? "0.6" : "0.3"},
        {"font_size", "7"},        {"font_size_px", "10"},
    };
    const hm_template_section sections[] = {{"aliases", aliases.scopes, aliases.count}};
    hm_template_scope scope = {values, sizeof values / sizeof values[0], sections, 1};
    status = fill_pair(job, "boundary_outline", &scope, style);
    alias_list_free(&aliases);
    snprintf(style->description, sizeof style->description, "%s: outlines labelled with %s", hm_styles_layer_title(table),
             label_field);
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* layer_styles                                                                                               */

/* As QGIS 3.22 creates it through GDAL 3.6 (QgsOgrProviderMetadata::saveStyle), byte for byte in sqlite_master. */
static const char layer_styles_sql[] =
    "CREATE TABLE \"layer_styles\" ( \"id\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, \"f_table_catalog\" "
    "TEXT(256), \"f_table_schema\" TEXT(256), \"f_table_name\" TEXT(256), \"f_geometry_column\" TEXT(256), "
    "\"styleName\" TEXT(30), \"styleQML\" TEXT, \"styleSLD\" TEXT, \"useAsDefault\" BOOLEAN, \"description\" TEXT, "
    "\"owner\" TEXT(30), \"ui\" TEXT(30), \"update_time\" DATETIME DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
    "CREATE TRIGGER \"trigger_insert_feature_count_layer_styles\" AFTER INSERT ON \"layer_styles\" BEGIN UPDATE "
    "gpkg_ogr_contents SET feature_count = feature_count + 1 WHERE lower(table_name) = lower('layer_styles'); END;"
    "CREATE TRIGGER \"trigger_delete_feature_count_layer_styles\" AFTER DELETE ON \"layer_styles\" BEGIN UPDATE "
    "gpkg_ogr_contents SET feature_count = feature_count - 1 WHERE lower(table_name) = lower('layer_styles'); END;";

static int ensure_layer_styles(style_job *job, const char *now)
{
    if (table_exists(job->db, "layer_styles")) return HM_OK;
    char *message = NULL;
    if (sqlite3_exec(job->db, layer_styles_sql, NULL, NULL, &message) != SQLITE_OK) {
        int status = hm_error(job->ctx, HM_ESQL, "GeoPackage: creating layer_styles: %s", message);
        sqlite3_free(message);
        return status;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(job->db,
                                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                                "last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', '', ?, 0)",
                                -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, now, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) return sql_fail(job->ctx, job->db, "registering layer_styles in gpkg_contents");
    if (table_exists(job->db, "gpkg_ogr_contents") &&
        sqlite3_exec(job->db, "INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES ('layer_styles', 0)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(job->ctx, job->db, "registering layer_styles in gpkg_ogr_contents");
    return HM_OK;
}

static int store_style(style_job *job, const char *table, const char *geometry_column, const layer_style *style,
                       const char *now)
{
    hm_ctx *ctx = job->ctx;
    sqlite3_stmt *stmt = NULL;
    int status = ensure_layer_styles(job, now);
    if (status != HM_OK) return status;
    if (sqlite3_prepare_v2(job->db, "DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ? AND owner = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sql_fail(ctx, job->db, "replacing harmmap's style");
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, STYLE_NAME, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, STYLE_OWNER, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return sql_fail(ctx, job->db, "replacing harmmap's style");

    int user_default = 0;
    if (sqlite3_prepare_v2(job->db, "SELECT 1 FROM layer_styles WHERE f_table_name = ? AND useAsDefault", -1, &stmt,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
        user_default = sqlite3_step(stmt) == SQLITE_ROW;
    }
    sqlite3_finalize(stmt);
    if (user_default)
        hm_warn(ctx, "layer %s has a default style saved by someone else: harmmap's style (with this run's classes) "
                     "is stored beside it as '%s' but not made the default",
                table, STYLE_NAME);
    if (sqlite3_prepare_v2(job->db,
                           "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                           "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                           "VALUES ('', '', ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sql_fail(ctx, job->db, "storing the style in layer_styles");
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, geometry_column, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, STYLE_NAME, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, style->qml, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, style->sld, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 6, !user_default);
    sqlite3_bind_text(stmt, 7, style->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, STYLE_OWNER, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 9, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return sql_fail(ctx, job->db, "storing the style in layer_styles");
    return HM_OK;
}

int hm_styles_write_gpkg(hm_ctx *ctx, sqlite3 *db, const hm_gpkg_style_options *options, int *styled)
{
    hm_gpkg_style_options defaults = {0};
    if (!options) options = &defaults;
    if (styled) *styled = 0;
    style_job job = {ctx, db, options, options->styles_dir ? options->styles_dir : DEFAULT_STYLES_DIR, NULL, {0},
                     options->summaries};
    hm_layer_summaries *own_summaries = NULL;
    if (!job.summaries && !(job.summaries = own_summaries = hm_layer_summaries_create(db)))
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    char now[32];
    if (!hm_timestamp_normalise(options->update_time, now)) hm_timestamp_now(now);
    char path[4096];
    int status = hm_field_dictionary_load(ctx, job.styles_dir, &job.fields);
    snprintf(path, sizeof path, "%s/categories.csv", job.styles_dir);
    if (status == HM_OK) status = read_text_table(ctx, path, 5, &job.categories);

    /* The spatial layers, in gpkg_contents order. */
    sqlite3_stmt *stmt = NULL;
    if (status == HM_OK &&
        sqlite3_prepare_v2(db, "SELECT g.table_name, g.column_name FROM gpkg_geometry_columns g JOIN gpkg_contents c "
                               "USING (table_name) ORDER BY c.rowid", -1, &stmt, NULL) != SQLITE_OK)
        status = sql_fail(ctx, db, "listing the layers");
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(stmt, 0);
        const char *geometry_column = (const char *)sqlite3_column_text(stmt, 1);
        if (!table || !geometry_column) continue;
        layer_style style = {NULL, NULL, ""};
        if (strcmp(table, "ward_harm") == 0 || strcmp(table, "beat_harm") == 0) {
            static const char *const fields[] = {"harm_per_1000", "harm_per_km2", "harm", NULL};
            status = graduated_style(&job, table, fields, strcmp(table, "ward_harm") == 0 ? "ward_name" : "beat_name",
                                     &style);
        } else if (strcmp(table, "incidents") == 0) {
            status = categorized_style(&job, table, "category", "category", &style);
        } else if (strcmp(table, "intelligence") == 0) {
            status = categorized_style(&job, table, "intelligence_assessment", "record_id", &style);
        } else if (strcmp(table, "wards") == 0 && hm_layer_has_column(db, table, "ward_name")) {
            status = outline_style(&job, table, "ward_name", &style);
        } else if (strcmp(table, "beats") == 0 && hm_layer_has_column(db, table, "beat_name")) {
            status = outline_style(&job, table, "beat_name", &style);
        }
        if (status == HM_OK && style.qml) {
            status = store_style(&job, table, geometry_column, &style, now);
            if (status == HM_OK && styled) (*styled)++;
        }
        if (status != HM_OK) hm_error_prefix(ctx, "style of layer %s", table);
        free(style.qml);
        free(style.sld);
    }
    sqlite3_finalize(stmt);
    hm_field_dictionary_destroy(job.fields);
    text_table_free(&job.categories);
    hm_layer_summaries_destroy(own_summaries);
    return status;
}

int hm_styles_read_default_qml(hm_ctx *ctx, sqlite3 *db, const char *table, char **qml)
{
    *qml = NULL;
    if (!table_exists(db, "layer_styles")) return HM_OK;
    sqlite3_stmt *stmt = NULL;
    /* The order QGIS uses (QgsOgrProviderMetadata::loadStyle): the default first, then the newest. */
    if (sqlite3_prepare_v2(db, "SELECT styleQML FROM layer_styles WHERE f_table_schema = '' AND f_table_name = ? "
                               "ORDER BY CASE WHEN useAsDefault THEN 1 ELSE 2 END, update_time DESC LIMIT 1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sql_fail(ctx, db, "reading layer_styles");
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    int status = HM_OK;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0)) {
        *qml = strdup((const char *)sqlite3_column_text(stmt, 0));
        if (!*qml) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    sqlite3_finalize(stmt);
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Surfaces                                                                                                   */

void hm_surface_style_init(hm_surface_style *style)
{
    memset(style, 0, sizeof *style);
    style->range_min = style->range_max = NAN;
    style->threshold = 0;
}

typedef struct surface_item {
    char value[40], colour[8], alpha[8], label[64];
    hm_template_value values[4];
} surface_item;

/* The largest finite value of band 1 that is not nodata, read whole (as `harmmap tiles --range auto` does). */
static int raster_maximum(hm_ctx *ctx, const char *path, double *maximum)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH dataset = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!dataset) return hm_error(ctx, HM_EGDAL, "%s: GDAL cannot open it as a raster: %s", path, CPLGetLastErrorMsg());
    int status = HM_OK;
    GDALRasterBandH band = GDALGetRasterBand(dataset, 1);
    double range[2] = {0, 0};
    if (!band || GDALComputeRasterMinMax(band, FALSE, range) != CE_None)
        status = hm_error(ctx, HM_EGDAL, "%s: cannot read band 1: %s", path, CPLGetLastErrorMsg());
    else
        *maximum = range[1];
    GDALClose(dataset);
    return status;
}

int hm_styles_write_surface_qml(hm_ctx *ctx, const char *raster_path, const hm_surface_style *style,
                                char *qml_path, size_t qml_path_size)
{
    hm_surface_style defaults;
    hm_surface_style_init(&defaults);
    if (!style) style = &defaults;
    hm_style_ramp ramp;
    int status = hm_style_ramp_load(ctx, style->ramp ? style->ramp : "viridis", style->ramp_dir, &ramp);
    if (status != HM_OK) return status;
    double low = style->range_min, high = style->range_max;
    if (isnan(low) || isnan(high)) {
        low = style->threshold;
        status = raster_maximum(ctx, raster_path, &high);
        if (status != HM_OK) return status;
    }
    if (!(high > low)) high = low + 1; /* a flat surface: any range draws it in one colour */

    surface_item *items = calloc(ramp.count, sizeof *items);
    hm_template_scope *scopes = calloc(ramp.count, sizeof *scopes);
    if (!items || !scopes) {
        free(items);
        free(scopes);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    double bounds[2] = {low, high};
    int decimals = label_decimals(bounds, 2);
    for (size_t i = 0; i < ramp.count; i++) {
        double value = low + ramp.position[i] * (high - low);
        snprintf(items[i].value, sizeof items[i].value, "%.17g", value);
        format_hex(ramp.rgba[i], items[i].colour);
        snprintf(items[i].alpha, sizeof items[i].alpha, "%u", ramp.rgba[i][3]);
        if (i == 0 || i + 1 == ramp.count) format_number(value, decimals, items[i].label, sizeof items[i].label);
        items[i].values[0] = (hm_template_value){"value", items[i].value};
        items[i].values[1] = (hm_template_value){"colour", items[i].colour};
        items[i].values[2] = (hm_template_value){"alpha", items[i].alpha};
        items[i].values[3] = (hm_template_value){"label", items[i].label};
        scopes[i] = (hm_template_scope){items[i].values, 4, NULL, 0};
    }
    char range_min[40], range_max[40], threshold[40], precision[8];
    snprintf(range_min, sizeof range_min, "%.17g", low);
    snprintf(range_max, sizeof range_max, "%.17g", high);
    snprintf(threshold, sizeof threshold, "%.17g", style->threshold);
    snprintf(precision, sizeof precision, "%d", decimals);
    const char *base = strrchr(raster_path, '/');
    base = base ? base + 1 : raster_path;
    const hm_template_value values[] = {
        {"title", base}, {"range_min", range_min}, {"range_max", range_max},
        {"threshold", threshold}, {"label_precision", precision},
    };
    const hm_template_section sections[] = {{"items", scopes, ramp.count}};
    hm_template_scope scope = {values, sizeof values / sizeof values[0], sections, 1};
    char template_path[4096];
    snprintf(template_path, sizeof template_path, "%s/surface_pseudocolor.qml",
             style->styles_dir ? style->styles_dir : DEFAULT_STYLES_DIR);
    char *qml = NULL;
    status = hm_template_fill_file(ctx, template_path, &scope, &qml);
    free(items);
    free(scopes);
    if (status != HM_OK) return status;

    /* QGIS's default style for a file layer: the same path with the last extension replaced by .qml
     * (QgsMapLayer::styleURI uses QFileInfo::completeBaseName). */
    char path[4096];
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - raster_path) : strlen(raster_path);
    snprintf(path, sizeof path, "%.*s.qml", (int)stem, raster_path);
    status = hm_write_file_atomically(ctx, path, qml, strlen(qml));
    free(qml);
    if (status == HM_OK && qml_path) snprintf(qml_path, qml_path_size, "%s", path);
    return status;
}

int hm_styles_read_tiles_manifest(hm_ctx *ctx, const char *tiles_dir, hm_surface_style *style, char *ramp_name,
                                  char *source, size_t source_size, int *min_zoom, int *max_zoom)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tiles-manifest.txt", tiles_dir);
    FILE *file = fopen(path, "r");
    if (!file) return hm_error(ctx, HM_EIO, "%s: cannot open: %s (is it a folder written by harmmap tiles?)", path,
                               strerror(errno));
    char line[4400];
    int have_range = 0, have_ramp = 0;
    if (source && source_size) source[0] = '\0';
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#') continue;
        if (isdigit((unsigned char)line[0])) break; /* the tile lines follow the settings */
        double a, b;
        int za, zb;
        char word[64];
        if (sscanf(line, "range %lf %lf", &a, &b) == 2) {
            style->range_min = a;
            style->range_max = b;
            have_range = 1;
        } else if (sscanf(line, "threshold %lf", &a) == 1) {
            style->threshold = a;
        } else if (sscanf(line, "zoom %d %d", &za, &zb) == 2) {
            if (min_zoom) *min_zoom = za;
            if (max_zoom) *max_zoom = zb;
        } else if (sscanf(line, "ramp %63s", word) == 1) {
            snprintf(ramp_name, 64, "%s", word);
            style->ramp = ramp_name;
            have_ramp = 1;
        } else if (strncmp(line, "source ", 7) == 0 && source && source_size) {
            snprintf(source, source_size, "%s", line + 7);
        }
    }
    fclose(file);
    if (!have_range || !have_ramp)
        return hm_error(ctx, HM_EFORMAT, "%s: no 'range' or 'ramp' line: not a harmmap tiles manifest", path);
    return HM_OK;
}
