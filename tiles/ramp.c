/* ramp.c - colour ramp files (format in ramp.h). */
#include "ramp.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define HM_HAVE_AVX2_RAMP 1
#include <immintrin.h>
#else
#define HM_HAVE_AVX2_RAMP 0
#endif

#define MAX_STOPS 256

typedef struct stop {
    double position;
    double rgba[4];
} stop;

static int parse_channel(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0 || v > 255) return -1;
    *out = (double)v;
    return 0;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int parse_hex_colour(const char *text, double rgba[4])
{
    size_t n = strlen(text);
    if (text[0] != '#' || (n != 7 && n != 9)) return -1;
    rgba[3] = 255;
    for (size_t i = 0; i < (n - 1) / 2; i++) {
        int hi = hex_digit(text[1 + 2 * i]), lo = hex_digit(text[2 + 2 * i]);
        if (hi < 0 || lo < 0) return -1;
        rgba[i] = hi * 16 + lo;
    }
    return 0;
}

int hm_ramp_load_file(hm_ctx *ctx, const char *path, hm_ramp *ramp)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return hm_error(ctx, HM_EIO,
                        "%s: cannot open ramp file: %s; give a ramp name (viridis, magma, inferno, "
                        "cividis, ylorrd) or the path of a ramp file",
                        path, strerror(errno));
    stop *stops = calloc(MAX_STOPS, sizeof *stops);
    if (!stops) {
        fclose(file);
        return hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
    }
    int status = HM_OK;
    int count = 0;
    char line[512];
    unsigned long line_number = 0;
    while (fgets(line, sizeof line, file)) {
        line_number++;
        /* Tokens up to a comment: a '#' token starts one, except a #rrggbb[aa] colour right after the
         * position. */
        char *fields[6];
        int field_count = 0;
        char *rest = NULL; /* strtok_r: the public product styles its GeoPackage while the tiles load a ramp */
        for (char *token = strtok_r(line, " \t\r\n,", &rest); token; token = strtok_r(NULL, " \t\r\n,", &rest)) {
            double unused[4];
            if (token[0] == '#' && !(field_count == 1 && parse_hex_colour(token, unused) == 0)) break;
            if (field_count == 6) {
                field_count = 7;
                break;
            }
            fields[field_count++] = token;
        }
        if (field_count == 0) continue;
        if (count == MAX_STOPS) {
            status = hm_error(ctx, HM_EFORMAT, "%s:%lu: more than %d colour stops; use fewer", path,
                              line_number, MAX_STOPS);
            goto done;
        }
        stop *s = &stops[count];
        char *end = NULL;
        s->position = strtod(fields[0], &end);
        if (end == fields[0] || *end || !isfinite(s->position) || s->position < 0 || s->position > 1) {
            status = hm_error(ctx, HM_EFORMAT,
                              "%s:%lu: position '%s' is not a number from 0 to 1; each line is "
                              "'position red green blue [alpha]' or 'position #rrggbb[aa]'",
                              path, line_number, fields[0]);
            goto done;
        }
        int ok;
        if (field_count == 2 && fields[1][0] == '#') {
            ok = parse_hex_colour(fields[1], s->rgba) == 0;
        } else if (field_count == 4 || field_count == 5) {
            s->rgba[3] = 255;
            ok = 1;
            for (int c = 0; c < field_count - 1; c++)
                if (parse_channel(fields[c + 1], &s->rgba[c]) != 0) ok = 0;
        } else {
            ok = 0;
        }
        if (!ok) {
            status = hm_error(ctx, HM_EFORMAT,
                              "%s:%lu: bad colour after position %s: expected red green blue "
                              "[alpha] as integers 0-255, or #rrggbb[aa]",
                              path, line_number, fields[0]);
            goto done;
        }
        if (count > 0 && !(s->position > stops[count - 1].position)) {
            status =
                hm_error(ctx, HM_EFORMAT, "%s:%lu: position %s does not increase; list stops from 0 to 1",
                         path, line_number, fields[0]);
            goto done;
        }
        count++;
    }
    if (ferror(file)) {
        status = hm_error(ctx, HM_EIO, "%s: read error", path);
        goto done;
    }
    if (count < 2 || stops[0].position != 0.0 || stops[count - 1].position != 1.0) {
        status = hm_error(ctx, HM_EFORMAT,
                          "%s: a ramp needs at least two stops, the first at position 0 and the "
                          "last at 1 (found %d stop%s)",
                          path, count, count == 1 ? "" : "s");
        goto done;
    }

    memset(ramp, 0, sizeof *ramp);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(ramp->name, sizeof ramp->name, "%s", base);
    char *dot = strrchr(ramp->name, '.');
    if (dot && strcmp(dot, ".txt") == 0) *dot = '\0';
    int segment = 0;
    for (int i = 1; i <= HM_RAMP_COLOURS; i++) {
        double t = (double)(i - 1) / (HM_RAMP_COLOURS - 1);
        while (segment < count - 2 && t > stops[segment + 1].position)
            segment++;
        const stop *a = &stops[segment], *b = &stops[segment + 1];
        double f = (t - a->position) / (b->position - a->position);
        if (f < 0) f = 0;
        if (f > 1) f = 1;
        for (int c = 0; c < 4; c++)
            ramp->palette_rgba[i][c] = (uint8_t)lround(a->rgba[c] + f * (b->rgba[c] - a->rgba[c]));
    }
done:
    free(stops);
    fclose(file);
    return status;
}

int hm_ramp_load(hm_ctx *ctx, const char *name_or_path, const char *ramp_dir, hm_ramp *ramp)
{
    size_t n = strlen(name_or_path);
    if (strchr(name_or_path, '/') || (n > 4 && strcmp(name_or_path + n - 4, ".txt") == 0))
        return hm_ramp_load_file(ctx, name_or_path, ramp);
    for (const char *p = name_or_path; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return hm_error(ctx, HM_EINVAL,
                            "'%s' is not a ramp name; give a name such as viridis or the "
                            "path of a ramp file",
                            name_or_path);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt", ramp_dir, name_or_path);
    FILE *probe = fopen(path, "r");
    if (!probe) {
        /* Names are case-insensitive (YlOrRd, ylorrd). */
        char lower[256];
        snprintf(lower, sizeof lower, "%s", name_or_path);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        snprintf(path, sizeof path, "%s/%s.txt", ramp_dir, lower);
        probe = fopen(path, "r");
        if (!probe)
            return hm_error(ctx, HM_EINVAL,
                            "no ramp of that name in %s; use viridis, magma, inferno, "
                            "cividis or ylorrd, or give the path of a ramp file",
                            ramp_dir);
    }
    fclose(probe);
    return hm_ramp_load_file(ctx, path, ramp);
}

/* Uniform when every index equals the next; not uniform means two different indices, so one is visible. */
static int summarise(const uint8_t *out, size_t count, int *any_visible)
{
    int uniform = count < 2 || memcmp(out, out + 1, count - 1) == 0;
    *any_visible = uniform ? count > 0 && out[0] != 0 : 1;
    return uniform;
}

int hm_ramp_indices_portable(const float *values, size_t count, float threshold, float min, float scale,
                             uint8_t *out, int *any_visible)
{
    for (size_t i = 0; i < count; i++)
        out[i] = hm_ramp_index(values[i], threshold, min, scale);
    return summarise(out, count, any_visible);
}

#if HM_HAVE_AVX2_RAMP
/* hm_ramp_index on eight values at a time: the same subtraction, multiplication, addition and truncation in
 * single precision, and the same comparisons (ordered, so NaN fails them as it fails the scalar ones), the
 * later cases taking precedence as the earlier returns do there. */
__attribute__((target("avx2"))) static void indices_avx2(const float *values, size_t count, float threshold,
                                                         float min, float scale, uint8_t *out)
{
    const __m256 threshold_v = _mm256_set1_ps(threshold), min_v = _mm256_set1_ps(min);
    const __m256 scale_v = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
    const __m256 top = _mm256_set1_ps(254.0f), half = _mm256_set1_ps(0.5f);
    const __m256i one = _mm256_set1_epi32(1), full = _mm256_set1_epi32(255);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 v = _mm256_loadu_ps(values + i);
        const __m256 above = _mm256_cmp_ps(v, threshold_v, _CMP_GT_OQ);
        const __m256 t = _mm256_mul_ps(_mm256_sub_ps(v, min_v), scale_v);
        const __m256 positive = _mm256_cmp_ps(t, zero, _CMP_GT_OQ);
        const __m256 beyond = _mm256_cmp_ps(t, top, _CMP_GE_OQ);
        __m256i index = _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_add_ps(t, half)), one);
        index = _mm256_blendv_epi8(index, full, _mm256_castps_si256(beyond));
        index = _mm256_blendv_epi8(one, index, _mm256_castps_si256(positive));
        index = _mm256_and_si256(index, _mm256_castps_si256(above));
        const __m128i words =
            _mm_packus_epi32(_mm256_castsi256_si128(index), _mm256_extracti128_si256(index, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(words, words));
    }
    for (; i < count; i++)
        out[i] = hm_ramp_index(values[i], threshold, min, scale);
}
#endif

int hm_ramp_indices(const float *values, size_t count, float threshold, float min, float scale, uint8_t *out,
                    int *any_visible)
{
#if HM_HAVE_AVX2_RAMP
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) {
        indices_avx2(values, count, threshold, min, scale, out);
        return summarise(out, count, any_visible);
    }
#endif
    return hm_ramp_indices_portable(values, count, threshold, min, scale, out, any_visible);
}
