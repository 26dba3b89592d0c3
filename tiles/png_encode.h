/*
 * png_encode.h - tiles as 8-bit indexed PNGs, encoded into memory with libpng.
 *
 * A tile is one byte per pixel (a palette index from ramp.h) rather than four: the compressor sees a quarter
 * of the data, the files are smaller, and every browser, GDAL and QGIS decode palette + tRNS PNGs to RGBA.
 * The palette is trimmed to the highest index the tile uses, and tRNS to the last entry that is not opaque,
 * so a tile's bytes depend only on its pixels and the ramp.
 *
 * Compression settings are a measured trade (scripts/bench-tiles runs `png_bench` over real tiles): see
 * hm_png_default_settings and the table in png_encode.c.
 */
#ifndef HM_PNG_ENCODE_H
#define HM_PNG_ENCODE_H

#include "context.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hm_buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
} hm_buffer;

void hm_buffer_free(hm_buffer *buffer);
int hm_buffer_append(hm_buffer *buffer, const void *data, size_t size); /* 0 or -1 (out of memory) */

typedef enum hm_png_filter {
    HM_PNG_FILTER_NONE = 0,
    HM_PNG_FILTER_SUB,
    HM_PNG_FILTER_UP,
    HM_PNG_FILTER_AVG,
    HM_PNG_FILTER_PAETH,
    HM_PNG_FILTER_ADAPTIVE /* libpng's per-row choice among all five */
} hm_png_filter;

typedef enum hm_png_strategy {
    HM_PNG_STRATEGY_DEFAULT = 0, /* zlib Z_DEFAULT_STRATEGY */
    HM_PNG_STRATEGY_FILTERED,    /* Z_FILTERED */
    HM_PNG_STRATEGY_RLE          /* Z_RLE: run lengths only, fast, good on smooth palette images */
} hm_png_strategy;

typedef struct hm_png_settings {
    int zlib_level; /* 0-9 */
    hm_png_filter filter;
    hm_png_strategy strategy;
} hm_png_settings;

/* zlib level 1, "up" filter, Z_RLE: chosen by measurement (scripts/bench-tiles, png_bench), see png_encode.c.
 * */
hm_png_settings hm_png_default_settings(void);

/* Parses "none|sub|up|avg|paeth|adaptive" and "default|filtered|rle"; -1 when unknown. */
int hm_png_filter_from_name(const char *name);
int hm_png_strategy_from_name(const char *name);

/* Encodes a width x height image of palette indices (row stride = width) with the palette's first
 * (max index used + 1) entries, with libpng. Writes `out` (cleared first). */
int hm_png_encode_indexed(hm_ctx *ctx, const uint8_t *pixels, int width, int height,
                          const uint8_t palette_rgba[256][4], const hm_png_settings *settings,
                          hm_buffer *out);

/* The same bytes as hm_png_encode_indexed, for a renderer's thread that encodes tile after tile: the chunks
 * are written here and the image data goes through zlib exactly as libpng sends it (png_encode.c says why and
 * how), with one zlib stream kept from image to image. Settings libpng would treat otherwise (filters other
 * than none, sub and up; images under 16 KiB) are handed to libpng. One encoder per thread. */
typedef struct hm_png_encoder hm_png_encoder;

hm_png_encoder *hm_png_encoder_create(const hm_png_settings *settings); /* NULL: out of memory */
hm_png_encoder *hm_png_encoder_destroy(hm_png_encoder *encoder);        /* returns NULL */
int hm_png_encoder_encode(hm_ctx *ctx, hm_png_encoder *encoder, const uint8_t *pixels, int width, int height,
                          const uint8_t palette_rgba[256][4], hm_buffer *out);

#endif
