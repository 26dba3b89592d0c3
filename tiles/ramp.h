/*
 * ramp.h - colour ramps: a text file of colour stops, sampled into a 256-entry palette.
 *
 * File format (data/ramps/<name>.txt), one stop a line, '#' starts a comment:
 *
 *     # position  red green blue [alpha]     position runs from 0 (lowest value) to 1 (highest)
 *     0.00   68   1  84
 *     0.50   33 145 140
 *     1.00  253 231  37  255
 *
 * A colour may also be written as #rrggbb or #rrggbbaa. Positions must start at 0, end at 1 and increase;
 * channels are integers 0-255 and alpha defaults to 255. Colours between stops are interpolated linearly in
 * sRGB.
 *
 * The palette is what the tiles are written with (8-bit indexed PNG): entry 0 is fully transparent (no data,
 * zero, below the threshold) and entries 1..255 sample the ramp at (i - 1) / 254. A value maps to an entry by
 * hm_ramp_index, one multiply and a clamp, so the whole colour scale is fixed by (min, max) and the same on
 * every zoom and every run that uses the same range.
 */
#ifndef HM_RAMP_H
#define HM_RAMP_H

#include "context.h"

#include <stddef.h>
#include <stdint.h>

#define HM_RAMP_COLOURS 255 /* palette entries 1..255; 0 is transparent */

typedef struct hm_ramp {
    char name[64];
    uint8_t palette_rgba[256][4]; /* [0] = transparent */
} hm_ramp;

/* Loads a ramp file. Errors name the file and line. */
int hm_ramp_load_file(hm_ctx *ctx, const char *path, hm_ramp *ramp);

/* `name_or_path`: a path (contains '/' or ends in .txt) or a name looked up as <ramp_dir>/<name>.txt. */
int hm_ramp_load(hm_ctx *ctx, const char *name_or_path, const char *ramp_dir, hm_ramp *ramp);

/* Maps a value to a palette index: 0 when not finite or <= threshold, else 1 + round(254 * t) with
 * t = (value - min) / (max - min) clamped to [0, 1]. scale = 254 / (max - min), precomputed by the caller. */
static inline uint8_t hm_ramp_index(float value, float threshold, float min, float scale)
{
    if (!(value > threshold)) return 0; /* also NaN */
    float t = (value - min) * scale;
    if (!(t > 0.0f)) return 1;
    if (t >= 254.0f) return 255;
    return (uint8_t)(1 + (int)(t + 0.5f));
}

/* hm_ramp_index of each of `count` values: with AVX2 where the processor has it (the same float operations,
 * so the same indices; test_ramp compares both forms), else one at a time. Returns 1 when every index is the
 * same (a uniform tile) and sets *any_visible when one is not 0. */
int hm_ramp_indices(const float *values, size_t count, float threshold, float min, float scale, uint8_t *out,
                    int *any_visible);
/* The same, one value at a time (for tests). */
int hm_ramp_indices_portable(const float *values, size_t count, float threshold, float min, float scale,
                             uint8_t *out, int *any_visible);

#endif
