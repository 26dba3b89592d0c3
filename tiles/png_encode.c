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
 * back (the default strategy, higher levels) costs time and gains little. (These figures are libpng's; the
 * renderer's hm_png_encoder writes the same bytes with less overhead, see below.)
 */
#include "png_encode.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* The highest index in the image, sixteen bytes at a time where SSE2 is there (every x86-64). */
static int max_index_of(const uint8_t *pixels, size_t count)
{
    size_t i = 0;
    int max_index = 0;
#if defined(__SSE2__)
    __m128i top = _mm_setzero_si128();
    for (; i + 16 <= count; i += 16)
        top = _mm_max_epu8(top, _mm_loadu_si128((const __m128i *)(pixels + i)));
    uint8_t lanes[16];
    _mm_storeu_si128((__m128i *)lanes, top);
    for (int k = 0; k < 16; k++)
        if (lanes[k] > max_index) max_index = lanes[k];
#endif
    for (; i < count; i++)
        if (pixels[i] > max_index) max_index = pixels[i];
    return max_index;
}

int hm_png_encode_indexed(hm_ctx *ctx, const uint8_t *pixels, int width, int height,
                          const uint8_t palette_rgba[256][4], const hm_png_settings *settings, hm_buffer *out)
{
    out->size = 0;
    size_t count = (size_t)width * (size_t)height;
    int palette_size = max_index_of(pixels, count) + 1;
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

/*
 * hm_png_encoder: libpng's bytes without libpng. Through libpng a tile costs a png_struct, a fresh zlib
 * stream (deflateInit2 allocates and clears about 270 KiB) and libpng's per-row bookkeeping, about as much as
 * zlib's compression itself. What libpng 1.6 writes for our images is simple: the signature, IHDR, PLTE,
 * tRNS, the zlib stream in IDAT chunks and IEND, each chunk with its CRC. The zlib stream is the one thing
 * that must be produced the same way: libpng (png_compress_IDAT, pngwutil.c) gives zlib one filtered row at a
 * time with Z_NO_FLUSH, into an 8192-byte buffer (PNG_ZBUF_SIZE) written out as an IDAT chunk each time it
 * fills, and ends with an empty Z_FINISH; write_idat below makes the same calls with the same arguments, so
 * zlib returns the same bytes, and the stream's parameters are libpng's (windowBits 15, memLevel 8, the level
 * and strategy set). A stream reset with deflateReset starts exactly as a new one (zlib.h). What this code
 * does not reproduce goes to libpng: filters other than none, sub and up (libpng's average, Paeth and
 * adaptive choice), images under 16 KiB (libpng narrows the zlib window for them), images one pixel wide or
 * high (libpng drops filters there). test_png_encode compares the bytes with libpng's for every level,
 * strategy and filter on images of several kinds, one encoder reused throughout.
 */
#define LIBPNG_ZBUF_SIZE 8192 /* PNG_ZBUF_SIZE in pnglibconf.h */

struct hm_png_encoder {
    hm_png_settings settings;
    z_stream z;
    int z_ready;
    uint8_t *row; /* the filtered row given to zlib (which has taken all of it when write_idat returns) */
    size_t row_capacity;
    uint8_t idat[LIBPNG_ZBUF_SIZE];
};

hm_png_encoder *hm_png_encoder_create(const hm_png_settings *settings)
{
    hm_png_encoder *e = calloc(1, sizeof *e);
    if (e) e->settings = *settings;
    return e;
}

hm_png_encoder *hm_png_encoder_destroy(hm_png_encoder *e)
{
    if (!e) return NULL;
    if (e->z_ready) deflateEnd(&e->z);
    free(e->row);
    free(e);
    return NULL;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static int put_chunk(hm_buffer *out, const char type[4], const uint8_t *data, size_t length)
{
    uint8_t head[8], tail[4];
    put_u32(head, (uint32_t)length);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0L, head + 4, 4);
    if (length) crc = crc32(crc, data, (uInt)length);
    put_u32(tail, (uint32_t)crc);
    if (hm_buffer_append(out, head, 8) != 0) return -1;
    if (length && hm_buffer_append(out, data, length) != 0) return -1;
    return hm_buffer_append(out, tail, 4);
}

/* png_compress_IDAT's loop: one call per row, the output written as an IDAT chunk whenever the buffer fills.
 */
static int write_idat(hm_png_encoder *e, const uint8_t *input, size_t length, int flush, hm_buffer *out)
{
    z_stream *z = &e->z;
    z->next_in = (Bytef *)input;
    for (;;) {
        z->avail_in = (uInt)length; /* rows are far below libpng's ZLIB_IO_MAX: all of it, with `flush` */
        int ret = deflate(z, flush);
        length = z->avail_in;
        z->avail_in = 0;
        if (z->avail_out == 0) {
            if (put_chunk(out, "IDAT", e->idat, sizeof e->idat) != 0) return -1;
            z->next_out = e->idat;
            z->avail_out = sizeof e->idat;
            if (ret == Z_OK && flush != Z_NO_FLUSH) continue;
        }
        if (ret == Z_OK) {
            if (length == 0) return flush == Z_FINISH ? -2 : 0;
        } else if (ret == Z_STREAM_END && flush == Z_FINISH) {
            size_t size = sizeof e->idat - z->avail_out;
            if (size > 0 && put_chunk(out, "IDAT", e->idat, size) != 0) return -1;
            return 0;
        } else {
            return -2;
        }
    }
}

/* A row filtered as libpng filters it (filter type byte first); the previous row of the first is zeros. */
static void filter_row(hm_png_filter filter, const uint8_t *row, const uint8_t *above, size_t width,
                       uint8_t *out)
{
    size_t i = 0;
    switch (filter) {
    case HM_PNG_FILTER_SUB:
        out[0] = PNG_FILTER_VALUE_SUB;
        out[1] = row[0];
        for (i = 1; i < width; i++)
            out[1 + i] = (uint8_t)(row[i] - row[i - 1]);
        return;
    case HM_PNG_FILTER_UP:
        out[0] = PNG_FILTER_VALUE_UP;
        if (!above) {
            memcpy(out + 1, row, width);
            return;
        }
#if defined(__SSE2__)
        for (; i + 16 <= width; i += 16)
            _mm_storeu_si128((__m128i *)(out + 1 + i),
                             _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(row + i)),
                                          _mm_loadu_si128((const __m128i *)(above + i))));
#endif
        for (; i < width; i++)
            out[1 + i] = (uint8_t)(row[i] - above[i]);
        return;
    default:
        out[0] = PNG_FILTER_VALUE_NONE;
        memcpy(out + 1, row, width);
        return;
    }
}

int hm_png_encoder_encode(hm_ctx *ctx, hm_png_encoder *e, const uint8_t *pixels, int width, int height,
                          const uint8_t palette_rgba[256][4], hm_buffer *out)
{
    const hm_png_settings *settings = &e->settings;
    const size_t row_bytes = (size_t)width + 1;
    int own = (settings->filter == HM_PNG_FILTER_NONE || settings->filter == HM_PNG_FILTER_SUB ||
               settings->filter == HM_PNG_FILTER_UP) &&
              width > 1 && height > 1 && row_bytes * (size_t)height > 16384;
    if (!own) return hm_png_encode_indexed(ctx, pixels, width, height, palette_rgba, settings, out);
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_RLE};
    if (!e->z_ready) {
        memset(&e->z, 0, sizeof e->z);
        if (deflateInit2(&e->z, settings->zlib_level, Z_DEFLATED, 15, 8, strategies[settings->strategy]) !=
            Z_OK)
            return hm_error(ctx, HM_ENOMEM, "out of memory encoding a PNG tile");
        e->z_ready = 1;
    } else if (deflateReset(&e->z) != Z_OK) {
        return hm_error(ctx, HM_EINTERNAL, "PNG encoding failed: zlib could not reset its stream");
    }
    if (row_bytes > e->row_capacity) {
        uint8_t *row = realloc(e->row, row_bytes);
        if (!row) return hm_error(ctx, HM_ENOMEM, "out of memory encoding a PNG tile");
        e->row = row;
        e->row_capacity = row_bytes;
    }
    out->size = 0;
    const size_t count = (size_t)width * (size_t)height;
    const int palette_size = max_index_of(pixels, count) + 1;
    uint8_t header[13], palette[256 * 3], alpha[256];
    int trns_size = 0;
    for (int i = 0; i < palette_size; i++) {
        memcpy(palette + 3 * i, palette_rgba[i], 3);
        alpha[i] = palette_rgba[i][3];
        if (alpha[i] != 255) trns_size = i + 1;
    }
    put_u32(header, (uint32_t)width);
    put_u32(header + 4, (uint32_t)height);
    header[8] = 8, header[9] = PNG_COLOR_TYPE_PALETTE, header[10] = PNG_COMPRESSION_TYPE_BASE;
    header[11] = PNG_FILTER_TYPE_BASE, header[12] = PNG_INTERLACE_NONE;
    static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    int failed = hm_buffer_append(out, signature, 8) != 0 || put_chunk(out, "IHDR", header, 13) != 0 ||
                 put_chunk(out, "PLTE", palette, (size_t)palette_size * 3) != 0 ||
                 (trns_size > 0 && put_chunk(out, "tRNS", alpha, (size_t)trns_size) != 0);
    e->z.next_out = e->idat;
    e->z.avail_out = sizeof e->idat;
    int zlib_failed = 0;
    for (int y = 0; y < height && !failed && !zlib_failed; y++) {
        const uint8_t *row = pixels + (size_t)y * (size_t)width;
        filter_row(settings->filter, row, y ? row - width : NULL, (size_t)width, e->row);
        int r = write_idat(e, e->row, row_bytes, Z_NO_FLUSH, out);
        failed = r == -1, zlib_failed = r == -2;
    }
    if (!failed && !zlib_failed) {
        int r = write_idat(e, NULL, 0, Z_FINISH, out);
        failed = r == -1, zlib_failed = r == -2;
    }
    if (!failed && !zlib_failed) failed = put_chunk(out, "IEND", NULL, 0) != 0;
    if (failed) return hm_error(ctx, HM_ENOMEM, "out of memory encoding a PNG tile");
    if (zlib_failed)
        return hm_error(ctx, HM_EINTERNAL, "PNG encoding failed: zlib: %s", e->z.msg ? e->z.msg : "?");
    return HM_OK;
}
