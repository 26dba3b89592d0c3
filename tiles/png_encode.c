/*
 * png_encode.c - indexed PNG tiles in memory (see png_encode.h).
 *
 * Default settings, measured with png_bench (best of 5 passes, one thread) over 400 z8-15 tiles of the bench
 * surface (scripts/bench-tiles prints the whole table):
 *
 *     level filter strategy   us/tile  KiB/tile
 *     1     none   rle          291      9.46   fastest, but twice the bytes
 *     1     none   default      303      6.67
 *     1     up     rle          321      4.69   <- chosen: 10% slower than the fastest, half its size
 *     1     paeth  rle          394      4.61
 *     3     up     default      537      5.06
 *     6+    any    default     >600      ~4.9
 *
 * The smooth ramps of a density surface make rows alike, so the "up" filter leaves mostly zeros and
 * run-length coding (Z_RLE, where the zlib level barely matters) does the rest; searching for matches further
 * back (the default strategy, higher levels) costs time and gains little. Encoding is about a tenth of a
 * tile's cost; the warp is most of the rest.
 */
#include "png_encode.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void hm_buffer_free(hm_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = buffer->capacity = 0;
}

int hm_buffer_append(hm_buffer *buffer, const void *data, size_t size)
{
    if (buffer->size + size > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->size + size)
            capacity *= 2;
        uint8_t *grown = realloc(buffer->data, capacity);
        if (!grown) return -1;
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, data, size);
    buffer->size += size;
    return 0;
}

hm_png_settings hm_png_default_settings(void)
{
    hm_png_settings settings = {1, HM_PNG_FILTER_UP, HM_PNG_STRATEGY_RLE};
    return settings;
}

int hm_png_filter_from_name(const char *name)
{
    static const char *names[] = {"none", "sub", "up", "avg", "paeth", "adaptive"};
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

int hm_png_strategy_from_name(const char *name)
{
    static const char *names[] = {"default", "filtered", "rle"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

typedef struct write_state {
    hm_buffer *out;
    int failed;
} write_state;

static void write_to_buffer(png_structp png, png_bytep data, png_size_t length)
{
    write_state *state = png_get_io_ptr(png);
    if (hm_buffer_append(state->out, data, length) != 0) {
        state->failed = 1;
        png_error(png, "out of memory");
    }
}

static void flush_nothing(png_structp png)
{
    (void)png;
}

/* libpng reports errors by longjmp; keep the message for hm_error. */
static void on_png_error(png_structp png, png_const_charp message)
{
    char *buffer = png_get_error_ptr(png);
    snprintf(buffer, 200, "%s", message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

/* The libpng part, apart so that nothing it reads is modified between setjmp and a longjmp. */
static int encode(hm_ctx *ctx, const uint8_t *pixels, int width, int height, const png_color *palette,
                  int palette_size, const png_byte *alpha, int trns_size, const hm_png_settings *settings,
                  hm_buffer *out)
{
    static const int filters[] = {PNG_FILTER_NONE, PNG_FILTER_SUB,   PNG_FILTER_UP,
                                  PNG_FILTER_AVG,  PNG_FILTER_PAETH, PNG_ALL_FILTERS};
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_RLE};
    char message[200] = "";
    write_state state = {out, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc((size_t)height * sizeof *rows);
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return hm_error(ctx, HM_ENOMEM, "out of memory encoding a PNG tile");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return hm_error(ctx, state.failed ? HM_ENOMEM : HM_EINTERNAL, "PNG encoding failed: %s", message);
    }
    png_set_write_fn(png, &state, write_to_buffer, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_PALETTE,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_PLTE(png, info, palette, palette_size);
    if (trns_size > 0) png_set_tRNS(png, info, alpha, trns_size, NULL);
    png_set_compression_level(png, settings->zlib_level);
    png_set_compression_strategy(png, strategies[settings->strategy]);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filters[settings->filter]);
    for (int y = 0; y < height; y++)
        rows[y] = (png_bytep)(pixels + (size_t)y * (size_t)width);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return HM_OK;
}

int hm_png_encode_indexed(hm_ctx *ctx, const uint8_t *pixels, int width, int height,
                          const uint8_t palette_rgba[256][4], const hm_png_settings *settings, hm_buffer *out)
{
    out->size = 0;
    int max_index = 0;
    size_t count = (size_t)width * (size_t)height;
    for (size_t i = 0; i < count; i++)
        if (pixels[i] > max_index) max_index = pixels[i];
    int palette_size = max_index + 1;
    png_color palette[256];
    png_byte alpha[256];
    int trns_size = 0;
    for (int i = 0; i < palette_size; i++) {
        palette[i].red = palette_rgba[i][0];
        palette[i].green = palette_rgba[i][1];
        palette[i].blue = palette_rgba[i][2];
        alpha[i] = palette_rgba[i][3];
        if (alpha[i] != 255) trns_size = i + 1;
    }
    return encode(ctx, pixels, width, height, palette, palette_size, alpha, trns_size, settings, out);
}
