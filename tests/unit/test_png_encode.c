/* Unit tests for tiles/png_encode.c: indexed tiles decode (with libpng's RGBA reader) to the right size,
 * colours and alpha, for every filter and strategy; the palette is trimmed. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_palette_trimmed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
