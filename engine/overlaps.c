/* overlaps.c - see overlaps.h. */
#include "overlaps.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Candidates found by one STRtree query: indices of polygons whose envelopes meet the queried one. */
typedef struct candidates {
    size_t *items;
    size_t count, capacity;
    int failed;
} candidates;

static void collect(void *item, void *user)
{
    candidates *found = user;
    if (found->count == found->capacity) {
        size_t capacity = found->capacity ? 2 * found->capacity : 16;
        size_t *bigger = realloc(found->items, capacity * sizeof *bigger);
        if (!bigger) {
            found->failed = 1;
            return;
        }
        found->items = bigger;
        found->capacity = capacity;
    }
    found->items[found->count++] = *(const size_t *)item;
}

static double overlap_area(GEOSContextHandle_t geos, const GEOSGeometry *a, const GEOSGeometry *b)
{
    GEOSGeometry *common = GEOSIntersection_r(geos, a, b);
    double area = -1;
    if (common && !GEOSArea_r(geos, common, &area)) area = -1;
    if (common) GEOSGeom_destroy_r(geos, common);
    return area;
}

int hm_boundaries_check_overlaps(hm_ctx *ctx, const hm_boundary_set *set, const char *option, const char *source,
                                 size_t *sliver_pairs)
{
    if (sliver_pairs) *sliver_pairs = 0;
    size_t count = hm_boundaries_count(set);
    if (count < 2) return HM_OK;
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    size_t *indices = malloc(count * sizeof *indices);
    double *areas = malloc(count * sizeof *areas);
    GEOSSTRtree *tree = GEOSSTRtree_create_r(geos, 10);
    candidates found = {0};
    int status = HM_OK;
    if (!indices || !areas || !tree) {
        status = hm_error(ctx, HM_ENOMEM, "out of memory checking %s %s for overlaps", option, source);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        indices[i] = i;
        const GEOSGeometry *polygon = hm_boundaries_geometry(set, i);
        if (!GEOSArea_r(geos, polygon, &areas[i])) areas[i] = 0;
        GEOSSTRtree_insert_r(geos, tree, polygon, &indices[i]);
    }

    char pairs[1024] = "";
    size_t large = 0, slivers = 0;
    double sliver_total = 0;
    for (size_t i = 0; i < count && status == HM_OK; i++) {
        const GEOSGeometry *a = hm_boundaries_geometry(set, i);
        found.count = 0;
        GEOSSTRtree_query_r(geos, tree, a, collect, &found);
        if (found.failed) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory checking %s %s for overlaps", option, source);
            break;
        }
        for (size_t k = 0; k < found.count; k++) {
            size_t j = found.items[k];
            if (j <= i) continue; /* each pair once */
            const GEOSGeometry *b = hm_boundaries_geometry(set, j);
            char interiors_meet = GEOSRelatePattern_r(geos, a, b, "T********");
            if (interiors_meet == 2) {
                status = hm_error(ctx, HM_EGEOS, "%s %s: GEOS could not compare polygons %s and %s", option, source,
                                  hm_boundaries_code(set, i), hm_boundaries_code(set, j));
                break;
            }
            if (!interiors_meet) continue;
            double area = overlap_area(geos, a, b);
            double smaller = areas[i] < areas[j] ? areas[i] : areas[j];
            if (area >= 0 && area <= 1e-6 * smaller) {
                slivers++;
                sliver_total += area;
                continue;
            }
            if (large++ < 5) {
                size_t used = strlen(pairs);
                snprintf(pairs + used, sizeof pairs - used, "%s%s (%s) and %s (%s): %.6g m2", used ? "; " : "",
                         hm_boundaries_code(set, i), hm_boundaries_name(set, i), hm_boundaries_code(set, j),
                         hm_boundaries_name(set, j), area);
            }
        }
    }
    if (status == HM_OK && large > 0)
        status = hm_error(ctx, HM_EFORMAT,
                          "%s %s: %zu pair%s of polygons overlap, so a record there would be in two areas at once: "
                          "%s%s. Fix the layer (a duplicated feature, or two editions of the boundaries in one "
                          "layer?); QGIS's Topology Checker (must not overlap) lists every overlap",
                          option, source, large, large == 1 ? "" : "s", pairs, large > 5 ? "; ..." : "");
    if (status == HM_OK && slivers > 0)
        hm_warn(ctx, "%s %s: %zu pair%s of polygons overlap by slivers (%.3g m2 in all, each at most a millionth of "
                "the smaller polygon); a record in a sliver goes to the polygon that comes first in the layer",
                option, source, slivers, slivers == 1 ? "" : "s", sliver_total);
    if (sliver_pairs) *sliver_pairs = slivers;
done:
    if (tree) GEOSSTRtree_destroy_r(geos, tree);
    free(found.items);
    free(indices);
    free(areas);
    return status;
}
