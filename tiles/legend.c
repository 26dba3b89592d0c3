/* legend.c - the legend image (see legend.h). */
#include "legend.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 3x5 glyphs, one row per byte, bit 2 = left column. */
static const char glyph_chars[] = "0123456789.-+e";
static const unsigned char glyphs[][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 0, 0, 0, 2}, {0, 0, 7, 0, 0}, {0, 2, 7, 2, 0}, {2, 5, 7, 4, 3},
};
#define GLYPH_SCALE 2
#define GLYPH_ADVANCE (4 * GLYPH_SCALE)

typedef struct canvas {
    uint8_t *rgba;
    int width, height;
} canvas;

static void put(canvas *c, int x, int y, const uint8_t rgba[4])
{
    if (x < 0 || y < 0 || x >= c->width || y >= c->height) return;
    memcpy(c->rgba + ((size_t)y * c->width + x) * 4, rgba, 4);
}

static void draw_text(canvas *c, const char *text, int center_x, int top_y)
{
    static const uint8_t ink[4] = {30, 30, 30, 255};
    int width = (int)strlen(text) * GLYPH_ADVANCE - GLYPH_SCALE;
    int x = center_x - width / 2;
    if (x < 1) x = 1;
    if (x + width > c->width - 1) x = c->width - 1 - width;
    for (const char *p = text; *p; p++, x += GLYPH_ADVANCE) {
        const char *found = strchr(glyph_chars, *p);
        if (!found) continue;
        const unsigned char *g = glyphs[found - glyph_chars];
        for (int row = 0; row < 5; row++)
            for (int col = 0; col < 3; col++)
                if (g[row] & (4 >> col))
                    for (int dy = 0; dy < GLYPH_SCALE; dy++)
                        for (int dx = 0; dx < GLYPH_SCALE; dx++)
                            put(c, x + col * GLYPH_SCALE + dx, top_y + row * GLYPH_SCALE + dy, ink);
    }
}

int hm_legend_write_png(hm_ctx *ctx, const char *path, const hm_ramp *ramp, double value_min,
                        double value_max)
{
    canvas c = {NULL, HM_LEGEND_WIDTH_PX, HM_LEGEND_HEIGHT_PX};
    c.rgba = malloc((size_t)c.width * c.height * 4);
    if (!c.rgba) return hm_error(ctx, HM_ENOMEM, "out of memory");
    static const uint8_t paper[4] = {255, 255, 255, 235}, border[4] = {120, 120, 120, 255};
    static const uint8_t tick[4] = {30, 30, 30, 255};
    for (int y = 0; y < c.height; y++)
        for (int x = 0; x < c.width; x++)
            put(&c, x, y, (x == 0 || y == 0 || x == c.width - 1 || y == c.height - 1) ? border : paper);
    const int bar_x = 20, bar_y = 6, bar_w = 256, bar_h = 16;
    for (int x = 0; x < bar_w; x++) {
        const uint8_t *colour =
            ramp->palette_rgba[1 + (x * (HM_RAMP_COLOURS - 1) + (bar_w - 1) / 2) / (bar_w - 1)];
        for (int y = 0; y < bar_h; y++) {
            /* Blend over a light checkerboard so that transparent ramp ends show as such. */
            int light = ((x / 4) + (y / 4)) % 2;
            uint8_t base = light ? 255 : 220, px[4];
            for (int k = 0; k < 3; k++)
                px[k] = (uint8_t)((colour[k] * colour[3] + base * (255 - colour[3])) / 255);
            px[3] = 255;
            put(&c, bar_x + x, bar_y + y, px);
        }
    }
    for (int i = 0; i <= 4; i++) {
        int x = bar_x + i * (bar_w - 1) / 4;
        for (int y = bar_y + bar_h; y < bar_y + bar_h + 4; y++)
            put(&c, x, y, tick);
        char label[32];
        snprintf(label, sizeof label, "%.3g", value_min + (value_max - value_min) * i / 4.0);
        draw_text(&c, label, x, bar_y + bar_h + 6);
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)c.width;
    image.height = (png_uint_32)c.height;
    image.format = PNG_FORMAT_RGBA;
    int ok = png_image_write_to_file(&image, path, 0, c.rgba, 0, NULL);
    free(c.rgba);
    if (!ok) return hm_error(ctx, HM_EIO, "%s: cannot write the legend: %s", path, image.message);
    return HM_OK;
}
