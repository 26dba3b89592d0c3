/* Unit tests for tiles/png_encode.c: indexed tiles decode (with libpng's RGBA reader) to the right size,
 * colours and alpha, for every filter and strategy; the palette is trimmed; the reusable encoder writes
 * libpng's bytes. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "png_encode.h"

static void decode_rgba(const hm_buffer *png, int *width, int *height, uint8_t **rgba)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&image, png->data, png->size));
    image.format = PNG_FORMAT_RGBA;
    *width = (int)image.width;
    *height = (int)image.height;
    *rgba = malloc(PNG_IMAGE_SIZE(image));
    assert_true(png_image_finish_read(&image, NULL, *rgba, 0, NULL));
}

static void test_round_trip(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    uint8_t palette[256][4];
    memset(palette, 0, sizeof palette);
    for (int i = 1; i < 256; i++) {
        palette[i][0] = (uint8_t)i, palette[i][1] = (uint8_t)(255 - i), palette[i][2] = 7;
        palette[i][3] = i < 10 ? (uint8_t)(i * 20) : 255;
    }
    const int size = 256;
    uint8_t *pixels = malloc((size_t)size * size);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            pixels[y * size + x] = x < 64 ? 0 : (uint8_t)((x + y) % 200 + 1);
    for (int f = HM_PNG_FILTER_NONE; f <= HM_PNG_FILTER_ADAPTIVE; f++)
        for (int s = HM_PNG_STRATEGY_DEFAULT; s <= HM_PNG_STRATEGY_RLE; s++) {
            hm_png_settings settings = {1, (hm_png_filter)f, (hm_png_strategy)s};
            hm_buffer png = {0};
            assert_int_equal(
                hm_png_encode_indexed(ctx, pixels, size, size, (const uint8_t(*)[4])palette, &settings, &png),
                HM_OK);
            /* PNG signature, then an 8-bit palette image: IHDR colour type 3. */
            assert_memory_equal(png.data, "\x89PNG\r\n\x1a\n", 8);
            assert_int_equal(png.data[24], 8);
            assert_int_equal(png.data[25], 3);
            int width, height;
            uint8_t *rgba;
            decode_rgba(&png, &width, &height, &rgba);
            assert_int_equal(width, size);
            assert_int_equal(height, size);
            for (int y = 0; y < size; y += 17)
                for (int x = 0; x < size; x += 13) {
                    const uint8_t *p = rgba + ((size_t)y * size + x) * 4;
                    const uint8_t *want = palette[pixels[y * size + x]];
                    assert_int_equal(p[3], want[3]);
                    if (want[3] == 255) assert_memory_equal(p, want, 4);
                }
            free(rgba);
            hm_buffer_free(&png);
        }
    free(pixels);
    hm_ctx_destroy(ctx);
}

/* A tile using only indices 0..3 carries a 4-entry palette: smaller files, same pixels. */
static void test_palette_trimmed(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    uint8_t palette[256][4];
    memset(palette, 255, sizeof palette);
    palette[0][3] = 0;
    uint8_t pixels[16 * 16];
    for (int i = 0; i < 256; i++)
        pixels[i] = (uint8_t)(i % 4);
    hm_png_settings settings = hm_png_default_settings();
    hm_buffer png = {0};
    assert_int_equal(
        hm_png_encode_indexed(ctx, pixels, 16, 16, (const uint8_t(*)[4])palette, &settings, &png), HM_OK);
    /* PLTE chunk right after IHDR (8 + 25 bytes): length 12 = 4 entries. */
    assert_memory_equal(png.data + 33, "\0\0\0\x0cPLTE", 8);
    hm_buffer_free(&png);
    hm_ctx_destroy(ctx);
}

/* hm_png_encoder writes libpng's bytes: each kind of zlib level, every filter and strategy, on noise (several
 * IDAT chunks), smooth ramps, a uniform image, an empty one, 512-pixel tiles, a wide strip and images small
 * enough for libpng's own path; one encoder per setting, reused from image to image. */
static void test_encoder_equals_libpng(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    uint8_t palette[256][4];
    for (int i = 0; i < 256; i++)
        palette[i][0] = (uint8_t)i, palette[i][1] = (uint8_t)(i * 7), palette[i][2] = (uint8_t)(255 - i),
        palette[i][3] = i == 0  ? 0
                        : i < 5 ? (uint8_t)(i * 50)
                                : 255;
    const int sizes[][2] = {{256, 256}, {512, 512}, {700, 40}, {256, 256}, {64, 64}, {1, 300}, {300, 1}};
    const int kinds = 5; /* noise, smooth, uniform, empty, sparse */
    uint8_t *pixels = malloc(512 * 512);
    assert_non_null(pixels);
    uint32_t seed = 99;
    const int levels[] = {0, 1, 3, 6, 9}; /* stored, deflate_fast, its longer chains, deflate_slow */
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++)
        for (int f = HM_PNG_FILTER_NONE; f <= HM_PNG_FILTER_ADAPTIVE; f++)
            for (int s = HM_PNG_STRATEGY_DEFAULT; s <= HM_PNG_STRATEGY_RLE; s++) {
                hm_png_settings settings = {levels[l], (hm_png_filter)f, (hm_png_strategy)s};
                hm_png_encoder *encoder = hm_png_encoder_create(&settings);
                assert_non_null(encoder);
                for (size_t n = 0; n < sizeof sizes / sizeof sizes[0]; n++)
                    for (int kind = 0; kind < kinds; kind++) {
                        const int width = sizes[n][0], height = sizes[n][1];
                        for (int y = 0; y < height; y++)
                            for (int x = 0; x < width; x++) {
                                seed = seed * 1664525u + 1013904223u;
                                uint8_t v =
                                    kind == 0   ? (uint8_t)(seed >> 24)
                                    : kind == 1 ? (uint8_t)(1 + (x / 3 + y / 5 + (int)n) % 255)
                                    : kind == 2 ? 77
                                    : kind == 3
                                        ? 0
                                        : (uint8_t)((seed >> 20) % 50 == 0 ? 1 + (seed >> 24) % 200 : 0);
                                pixels[(size_t)y * width + x] = v;
                            }
                        hm_buffer mine = {0}, theirs = {0};
                        assert_int_equal(hm_png_encoder_encode(ctx, encoder, pixels, width, height,
                                                               (const uint8_t(*)[4])palette, &mine),
                                         HM_OK);
                        assert_int_equal(hm_png_encode_indexed(ctx, pixels, width, height,
                                                               (const uint8_t(*)[4])palette, &settings,
                                                               &theirs),
                                         HM_OK);
                        if (mine.size != theirs.size || memcmp(mine.data, theirs.data, mine.size) != 0)
                            fail_msg(
                                "level %d, filter %d, strategy %d, %dx%d image of kind %d: %zu bytes, libpng "
                                "%zu",
                                levels[l], f, s, width, height, kind, mine.size, theirs.size);
                        hm_buffer_free(&mine);
                        hm_buffer_free(&theirs);
                    }
                hm_png_encoder_destroy(encoder);
            }
    free(pixels);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_palette_trimmed),
        cmocka_unit_test(test_encoder_equals_libpng),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
