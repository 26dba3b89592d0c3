/* manifest.c - read and write the tile manifest (format in manifest.h). */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int compare_entries(const void *a, const void *b)
{
    uint64_t ka = ((const hm_manifest_entry *)a)->key, kb = ((const hm_manifest_entry *)b)->key;
    return ka < kb ? -1 : ka > kb;
}

void hm_manifest_free(hm_manifest *manifest)
{
    free(manifest->entries);
    manifest->entries = NULL;
    manifest->count = manifest->capacity = 0;
}

int hm_manifest_read(hm_ctx *ctx, const char *path, hm_manifest *manifest, int *found)
{
    memset(manifest, 0, sizeof *manifest);
    *found = 0;
    FILE *file = fopen(path, "r");
    if (!file) {
        if (errno == ENOENT) return HM_OK;
        return hm_error(ctx, HM_EIO, "%s: cannot read the previous tile manifest: %s", path, strerror(errno));
    }
    char line[512];
    unsigned long line_number = 0;
    int status = HM_OK, header_seen = 0, settings_seen = 0;
    while (fgets(line, sizeof line, file)) {
        line_number++;
        if (line_number == 1) {
            if (strncmp(line, "# harmmap tiles manifest 1", 26) != 0) {
                status = hm_error(ctx, HM_EFORMAT,
                                  "%s:1: not a harmmap tile manifest (version 1); remove the "
                                  "folder or render without --update",
                                  path);
                goto done;
            }
            header_seen = 1;
            continue;
        }
        char word[32], text[256], png_text[64], pixels_text[64];
        int zoom, x, y;
        hm_manifest_entry e;
        memset(&e, 0, sizeof e);
        int fields = sscanf(line, "%d %d %d %63s %63s %63s", &zoom, &x, &y, text, png_text, pixels_text);
        if (fields >= 5) {
            e.has_pixels_hash = fields == 6;
            if (zoom < 0 || zoom > HM_MAX_ZOOM || x < 0 || y < 0 ||
                hm_hash128_parse(text, &e.source_hash) != 0 ||
                (strcmp(png_text, "-") != 0 && hm_hash128_parse(png_text, &e.png_hash) != 0) ||
                (e.has_pixels_hash && hm_hash128_parse(pixels_text, &e.pixels_hash) != 0)) {
                status = hm_error(ctx, HM_EFORMAT,
                                  "%s:%lu: bad tile line; the manifest is damaged: render without "
                                  "--update to rebuild it",
                                  path, line_number);
                goto done;
            }
            e.empty = strcmp(png_text, "-") == 0;
            e.key = hm_manifest_key(zoom, x, y);
            if (manifest->count == manifest->capacity) {
                size_t capacity = manifest->capacity ? manifest->capacity * 2 : 1024;
                hm_manifest_entry *grown = realloc(manifest->entries, capacity * sizeof *grown);
                if (!grown) {
                    status = hm_error(ctx, HM_ENOMEM, "out of memory reading %s", path);
                    goto done;
                }
                manifest->entries = grown;
                manifest->capacity = capacity;
            }
            manifest->entries[manifest->count++] = e;
        } else if (sscanf(line, "%31s %255[^\n]", word, text) == 2) {
            if (strcmp(word, "settings") == 0) {
                settings_seen = hm_hash128_parse(text, &manifest->settings_hash) == 0;
            } else if (strcmp(word, "range") == 0) {
                if (sscanf(text, "%lf %lf", &manifest->range_min, &manifest->range_max) != 2)
                    settings_seen = 0;
            } else if (strcmp(word, "threshold") == 0) {
                manifest->threshold = strtod(text, NULL);
            } else if (strcmp(word, "zoom") == 0) {
                sscanf(text, "%d %d", &manifest->min_zoom, &manifest->max_zoom);
            } else if (strcmp(word, "tile_size") == 0) {
                manifest->tile_size_px = atoi(text);
            } else if (strcmp(word, "tms") == 0) {
                manifest->tms = atoi(text);
            } else if (strcmp(word, "ramp") == 0) {
                snprintf(manifest->ramp, sizeof manifest->ramp, "%.63s", text);
            }
        }
    }
    if (!header_seen || !settings_seen) {
        status = hm_error(ctx, HM_EFORMAT,
                          "%s: the manifest has no settings line; it is damaged: render without "
                          "--update to rebuild it",
                          path);
        goto done;
    }
    qsort(manifest->entries, manifest->count, sizeof *manifest->entries, compare_entries);
    *found = 1;
done:
    fclose(file);
    if (status != HM_OK) hm_manifest_free(manifest);
    return status;
}

const hm_manifest_entry *hm_manifest_find(const hm_manifest *manifest, int zoom, int x, int y)
{
    hm_manifest_entry probe;
    probe.key = hm_manifest_key(zoom, x, y);
    return bsearch(&probe, manifest->entries, manifest->count, sizeof probe, compare_entries);
}

int hm_manifest_write_header(hm_ctx *ctx, FILE *file, const hm_manifest *m, const char *source_path)
{
    char settings[33];
    hm_hash128_format(m->settings_hash, settings);
    fprintf(file, "# harmmap tiles manifest 1\n");
    fprintf(file, "settings %s\n", settings);
    fprintf(file, "range %.17g %.17g\n", m->range_min, m->range_max);
    fprintf(file, "threshold %.17g\n", m->threshold);
    fprintf(file, "zoom %d %d\n", m->min_zoom, m->max_zoom);
    fprintf(file, "tile_size %d\n", m->tile_size_px);
    fprintf(file, "ramp %s\n", m->ramp);
    fprintf(file, "tms %d\n", m->tms);
    fprintf(file, "source %s\n", source_path);
    if (ferror(file)) return hm_error(ctx, HM_EIO, "cannot write the tile manifest: %s", strerror(errno));
    return HM_OK;
}

int hm_manifest_write_tile(FILE *file, int zoom, int x, int y, hm_hash128 source_hash,
                           const hm_hash128 *png_hash, const hm_hash128 *pixels_hash)
{
    char source_text[33], png_text[33] = "-", pixels_text[34] = "";
    hm_hash128_format(source_hash, source_text);
    if (png_hash) hm_hash128_format(*png_hash, png_text);
    if (png_hash && pixels_hash) {
        pixels_text[0] = ' ';
        hm_hash128_format(*pixels_hash, pixels_text + 1);
    }
    return fprintf(file, "%d %d %d %s %s%s\n", zoom, x, y, source_text, png_text, pixels_text) < 0 ? -1 : 0;
}
