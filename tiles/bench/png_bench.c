/*
 * png_bench - measures PNG encoding settings on real tiles, to choose hm_png_default_settings by measurement.
 *
 *   png_bench DIR [max_tiles]
 *
 * Reads the indexed PNG tiles of a harmmap tile folder (DIR/{z}/{x}/{y}.png), then encodes all of them with
 * each combination of zlib level, PNG filter and zlib strategy, and prints time per tile and total size,
 * fastest first. scripts/bench-tiles runs it on the bench surface's tiles.
 */
#include "png_encode.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tile {
    uint8_t *pixels;
    int width, height;
} tile;

static uint8_t palette[256][4];

static int read_indexed(const char *path, tile *t)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    if (png_get_color_type(png, info) != PNG_COLOR_TYPE_PALETTE || png_get_bit_depth(png, info) != 8) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -1;
    }
    t->width = (int)png_get_image_width(png, info);
    t->height = (int)png_get_image_height(png, info);
    png_colorp plte;
    int count = 0;
    png_get_PLTE(png, info, &plte, &count);
    for (int i = 0; i < count; i++) {
        palette[i][0] = plte[i].red, palette[i][1] = plte[i].green, palette[i][2] = plte[i].blue;
        palette[i][3] = i == 0 ? 0 : 255;
    }
    png_bytepp rows = png_get_rows(png, info);
    t->pixels = malloc((size_t)t->width * t->height);
    for (int y = 0; y < t->height; y++)
        memcpy(t->pixels + (size_t)y * t->width, rows[y], (size_t)t->width);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return 0;
}

static void collect(const char *dir, tile **tiles, int *count, int *capacity, int limit, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && *count < limit) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = strlen(e->d_name);
        if (depth < 2 && e->d_name[0] >= '0' && e->d_name[0] <= '9' && !strstr(e->d_name, ".png")) {
            collect(path, tiles, count, capacity, limit, depth + 1);
        } else if (depth == 2 && n > 4 && strcmp(e->d_name + n - 4, ".png") == 0) {
            if (*count == *capacity) {
                *capacity = *capacity ? *capacity * 2 : 256;
                *tiles = realloc(*tiles, (size_t)*capacity * sizeof **tiles);
            }
            if (read_indexed(path, &(*tiles)[*count]) == 0) (*count)++;
        }
    }
    closedir(d);
}

typedef struct result {
    hm_png_settings settings;
    double us_per_tile;
    double kb_per_tile;
} result;

static int by_time(const void *a, const void *b)
{
    double x = ((const result *)a)->us_per_tile, y = ((const result *)b)->us_per_tile;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: png_bench TILE_DIR [max_tiles]\n");
        return 2;
    }
    int limit = argc > 2 ? atoi(argv[2]) : 1000;
    tile *tiles = NULL;
    int count = 0, capacity = 0;
    collect(argv[1], &tiles, &count, &capacity, limit, 0);
    if (count == 0) {
        fprintf(stderr, "png_bench: no indexed PNG tiles under %s\n", argv[1]);
        return 1;
    }
    hm_ctx *ctx = hm_ctx_create();
    static const char *filter_names[] = {"none", "sub", "up", "avg", "paeth", "adaptive"};
    static const char *strategy_names[] = {"default", "filtered", "rle"};
    static const int levels[] = {1, 2, 3, 6, 9};
    static const int filters[] = {HM_PNG_FILTER_NONE, HM_PNG_FILTER_SUB, HM_PNG_FILTER_UP,
                                  HM_PNG_FILTER_PAETH, HM_PNG_FILTER_ADAPTIVE};
    /* Every setting is timed in each of `rounds` passes, interleaved, and keeps its fastest pass: the
     * machines are shared, and the minimum is the least disturbed figure. */
    const int rounds = 5;
    result results[5 * 5 * 3];
    int n = 0;
    for (int l = 0; l < 5; l++)
        for (int f = 0; f < 5; f++)
            for (int s = 0; s < 3; s++) {
                if (levels[l] == 9 && s != 0) continue;
                results[n].settings =
                    (hm_png_settings){levels[l], (hm_png_filter)filters[f], (hm_png_strategy)s};
                results[n].us_per_tile = 1e30;
                n++;
            }
    hm_buffer out = {0};
    for (int round = 0; round < rounds; round++)
        for (int r = 0; r < n; r++) {
            double bytes = 0;
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            for (int i = 0; i < count; i++) {
                hm_png_encode_indexed(ctx, tiles[i].pixels, tiles[i].width, tiles[i].height,
                                      (const uint8_t(*)[4])palette, &results[r].settings, &out);
                bytes += (double)out.size;
            }
            clock_gettime(CLOCK_MONOTONIC, &b);
            double seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
            if (seconds / count * 1e6 < results[r].us_per_tile)
                results[r].us_per_tile = seconds / count * 1e6;
            results[r].kb_per_tile = bytes / count / 1024.0;
        }
    qsort(results, (size_t)n, sizeof *results, by_time);
    printf("png_bench: %d tiles from %s, one thread, best of %d passes; fastest first\n", count, argv[1],
           rounds);
    printf("%-6s %-9s %-9s %10s %10s\n", "level", "filter", "strategy", "us/tile", "KiB/tile");
    hm_png_settings chosen = hm_png_default_settings();
    for (int i = 0; i < n; i++) {
        const hm_png_settings *s = &results[i].settings;
        int is_default = s->zlib_level == chosen.zlib_level && s->filter == chosen.filter &&
                         s->strategy == chosen.strategy;
        printf("%-6d %-9s %-9s %10.1f %10.2f%s\n", s->zlib_level, filter_names[s->filter],
               strategy_names[s->strategy], results[i].us_per_tile, results[i].kb_per_tile,
               is_default ? "   <- default" : "");
    }
    hm_buffer_free(&out);
    for (int i = 0; i < count; i++)
        free(tiles[i].pixels);
    free(tiles);
    hm_ctx_destroy(ctx);
    return 0;
}
