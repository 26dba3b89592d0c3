/*
 * pip.c - see pip.h. How the index answers, and why it is exact:
 *
 * Membership is the crossing number of a ray from the point towards +x, with the half-open rule: an edge
 * (a, b), stored with a as its lower end, is crossed when a.y <= y < b.y and the point lies strictly to the left
 * of a->b (the sign of orient2d, computed exactly: a floating-point filter first, exact expansion arithmetic
 * when the filter cannot decide). Both neighbours of a shared edge store it with the same lower end, so they
 * evaluate the identical predicate on it. The rule is exactly the membership of the point moved by an
 * infinitesimal (e, d) with 0 < d << e, so on a tiling every point of the plane belongs to exactly one polygon:
 * a point on a boundary goes to the polygon just east of it (just north of an east-west edge), a vertex shared
 * by several polygons to the one north-east of it. Away from boundaries the answer is ordinary membership, as
 * GEOS computes it.
 *
 * Speed comes from a uniform grid of cells over the extent, with as many cells as about eight per edge:
 *  - a cell that no edge comes near (tested conservatively, with a small pad) is wholly inside one polygon or
 *    wholly outside them all: its answer is found once, at its centre, and a query there is one array read;
 *  - every row of cells (a band) keeps, per polygon, the edges that overlap the band's y range (a "group"); a
 *    boundary cell keeps the groups whose x range reaches it. A ray crossing only needs edges whose y range
 *    contains the point's y, all of which are in the point's band, so the crossing count over a group is the
 *    exact crossing count of that polygon. A polygon can only contain the point if its group has edges on both
 *    sides of it, so groups that do not reach the cell are skipped safely.
 * Groups are kept in polygon order and the first polygon with an odd count is the answer: overlaps go to the
 * lowest index.
 *
 * References: J. Shewchuk, "Adaptive Precision Floating-Point Arithmetic and Fast Robust Geometric Predicates"
 * (1997) for orient2d; B. Zalik and I. Kolingerova, "A cell-based point-in-polygon algorithm suitable for large
 * sets of points" (2001) for the cell classification.
 */
#include "pip.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Cells per edge, and the bounds on the grid: enough cells that boundary cells hold a few edges each, few
 * enough that the grid stays within a few tens of megabytes. */
#ifndef PIP_CELLS_PER_EDGE
#define PIP_CELLS_PER_EDGE 8
#endif
#define PIP_MIN_CELLS 4096
#define PIP_MAX_CELLS (1 << 22)
#define PIP_MAX_SIDE 8192

typedef struct pip_edge {
    double ax, ay; /* lower end: ay < by, or ay == by and ax <= bx */
    double bx, by;
} pip_edge;

typedef struct pip_group {
    uint32_t first; /* into edges */
    uint32_t count;
    int32_t polygon;
    double xmin, xmax;
} pip_group;

struct hm_pip_index {
    size_t polygon_count;
    double xmin, ymin, xmax, ymax; /* of all vertices; the grid covers [xmin, xmax) x [ymin, ymax) */
    size_t columns, rows;
    double cell_width, cell_height;
    double columns_per_unit, rows_per_unit;
    /* >= 0: the cell lies inside that polygon; -1: outside all; <= -2: boundary cell number -2 - value. */
    int32_t *cells;
    uint32_t *band_first_group; /* rows + 1 */
    pip_group *groups;
    pip_edge *edges;
    uint32_t *boundary_first; /* boundary cells + 1 */
    uint32_t *boundary_groups;
};

/* ---- exact orientation ------------------------------------------------------------------------------------ */

static void two_sum(double a, double b, double *sum, double *error)
{
    double s = a + b;
    double b_virtual = s - a;
    double a_virtual = s - b_virtual;
    *sum = s;
    *error = (a - a_virtual) + (b - b_virtual);
}

static void two_diff(double a, double b, double *difference, double *error)
{
    double d = a - b;
    double b_virtual = a - d;
    double a_virtual = d + b_virtual;
    *difference = d;
    *error = (a - a_virtual) + (b_virtual - b);
}

/* Adds b to the nonoverlapping expansion e (increasing magnitude) of length n; returns the new length. */
static int grow_expansion(double *e, int n, double b)
{
    double q = b;
    int length = 0;
    for (int i = 0; i < n; i++) {
        double sum, error;
        two_sum(q, e[i], &sum, &error);
        q = sum;
        if (error != 0) e[length++] = error;
    }
    if (q != 0 || length == 0) e[length++] = q;
    return length;
}

/* Sign of (bx - ax)(py - ay) - (by - ay)(px - ax), exactly. */
static int orient_exact(double ax, double ay, double bx, double by, double px, double py)
{
    double dx1[2], dy2[2], dy1[2], dx2[2];
    two_diff(bx, ax, &dx1[0], &dx1[1]);
    two_diff(py, ay, &dy2[0], &dy2[1]);
    two_diff(by, ay, &dy1[0], &dy1[1]);
    two_diff(px, ax, &dx2[0], &dx2[1]);
    double expansion[40];
    int length = 0;
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            double product = dx1[i] * dy2[j];
            length = grow_expansion(expansion, length, product);
            length = grow_expansion(expansion, length, fma(dx1[i], dy2[j], -product));
            product = dy1[i] * dx2[j];
            length = grow_expansion(expansion, length, -product);
            length = grow_expansion(expansion, length, -fma(dy1[i], dx2[j], -product));
        }
    }
    double top = expansion[length - 1];
    return (top > 0) - (top < 0);
}

/* Whether p lies strictly left of a->b, exactly (Shewchuk's orient2d filter, then exact arithmetic). */
static inline int left_of(const pip_edge *edge, double px, double py)
{
    double left = (edge->bx - edge->ax) * (py - edge->ay);
    double right = (edge->by - edge->ay) * (px - edge->ax);
    double determinant = left - right;
    double sum;
    if (left > 0) {
        if (right <= 0) return determinant > 0;
        sum = left + right;
    } else if (left < 0) {
        if (right >= 0) return determinant > 0;
        sum = -left - right;
    } else {
        return determinant > 0;
    }
    double bound = (3.0 + 16.0 * DBL_EPSILON / 2) * (DBL_EPSILON / 2) * sum;
    if (determinant >= bound || -determinant >= bound) return determinant > 0;
    return orient_exact(edge->ax, edge->ay, edge->bx, edge->by, px, py) > 0;
}

/* Parity of the crossings of the +x ray from (px, py) with a group's edges. */
static inline int group_contains(const hm_pip_index *index, const pip_group *group, double px, double py)
{
    const pip_edge *edge = index->edges + group->first;
    const pip_edge *end = edge + group->count;
    int parity = 0;
    for (; edge < end; edge++)
        if (py >= edge->ay && py < edge->by && left_of(edge, px, py)) parity ^= 1;
    return parity;
}

/* The first group (lowest polygon) in the list that contains the point, or -1. */
static inline long first_containing(const hm_pip_index *index, const uint32_t *group_numbers, size_t count,
                                    double px, double py)
{
    for (size_t i = 0; i < count; i++) {
        const pip_group *group = &index->groups[group_numbers[i]];
        /* Containment needs edges on both sides of the point. */
        if (px < group->xmin || px >= group->xmax) continue;
        if (group_contains(index, group, px, py)) return group->polygon;
    }
    return -1;
}

long hm_pip_index_locate(const hm_pip_index *index, double x, double y)
{
    if (!(x >= index->xmin && x < index->xmax && y >= index->ymin && y < index->ymax)) return -1;
    size_t column = (size_t)((x - index->xmin) * index->columns_per_unit);
    size_t row = (size_t)((y - index->ymin) * index->rows_per_unit);
    if (column >= index->columns) column = index->columns - 1;
    if (row >= index->rows) row = index->rows - 1;
    int32_t value = index->cells[row * index->columns + column];
    if (value >= -1) return value;
    size_t boundary = (size_t)(-2 - (long)value);
    uint32_t first = index->boundary_first[boundary];
    return first_containing(index, index->boundary_groups + first, index->boundary_first[boundary + 1] - first,
                            x, y);
}

/* ---- nearest -------------------------------------------------------------------------------------------- */

static double segment_distance_squared(const pip_edge *edge, double px, double py)
{
    double dx = edge->bx - edge->ax, dy = edge->by - edge->ay;
    double length_squared = dx * dx + dy * dy;
    double t = length_squared > 0 ? ((px - edge->ax) * dx + (py - edge->ay) * dy) / length_squared : 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double ex = edge->ax + t * dx - px, ey = edge->ay + t * dy - py;
    return ex * ex + ey * ey;
}

long hm_pip_index_nearest(const hm_pip_index *index, double x, double y, double max_distance, double *distance)
{
    if (distance) *distance = INFINITY;
    long inside = hm_pip_index_locate(index, x, y);
    if (inside >= 0) {
        if (distance) *distance = 0;
        return inside;
    }
    if (!(max_distance >= 0) || !isfinite(x) || !isfinite(y)) return -1;
    if (x < index->xmin - max_distance || x > index->xmax + max_distance || y < index->ymin - max_distance ||
        y > index->ymax + max_distance)
        return -1;
    double low = (y - max_distance - index->ymin) * index->rows_per_unit;
    double high = (y + max_distance - index->ymin) * index->rows_per_unit;
    size_t first_row = low <= 0 ? 0 : (size_t)low;
    size_t last_row = high >= (double)(index->rows - 1) ? index->rows - 1 : (size_t)high;
    if (first_row > 0) first_row--; /* edges on the band boundary are in both bands; one more costs little */
    long best = -1;
    double best_squared = INFINITY;
    for (size_t row = first_row; row <= last_row; row++) {
        for (uint32_t g = index->band_first_group[row]; g < index->band_first_group[row + 1]; g++) {
            const pip_group *group = &index->groups[g];
            if (group->xmax < x - max_distance || group->xmin > x + max_distance) continue;
            const pip_edge *edge = index->edges + group->first;
            for (uint32_t e = 0; e < group->count; e++) {
                double squared = segment_distance_squared(&edge[e], x, y);
                if (squared < best_squared || (squared == best_squared && group->polygon < best)) {
                    best_squared = squared;
                    best = group->polygon;
                }
            }
        }
    }
    if (best < 0 || sqrt(best_squared) > max_distance) return -1;
    if (distance) *distance = sqrt(best_squared);
    return best;
}

/* ---- build ---------------------------------------------------------------------------------------------- */

hm_pip_index *hm_pip_index_destroy(hm_pip_index *index)
{
    if (!index) return NULL;
    free(index->cells);
    free(index->band_first_group);
    free(index->groups);
    free(index->edges);
    free(index->boundary_first);
    free(index->boundary_groups);
    free(index);
    return NULL;
}

typedef struct raw_edge {
    pip_edge edge;
    int32_t polygon;
} raw_edge;

typedef struct edge_list {
    raw_edge *items;
    size_t count, capacity;
} edge_list;

static int push_ring(GEOSContextHandle_t geos, const GEOSGeometry *ring, int32_t polygon, edge_list *list,
                     double **buffer, size_t *buffer_capacity)
{
    const GEOSCoordSequence *sequence = GEOSGeom_getCoordSeq_r(geos, ring);
    unsigned int size = 0;
    if (!sequence || !GEOSCoordSeq_getSize_r(geos, sequence, &size)) return -1;
    if (size < 2) return 0;
    if (2 * (size_t)size > *buffer_capacity) {
        double *bigger = realloc(*buffer, 2 * (size_t)size * sizeof *bigger);
        if (!bigger) return -1;
        *buffer = bigger;
        *buffer_capacity = 2 * (size_t)size;
    }
    if (!GEOSCoordSeq_copyToBuffer_r(geos, sequence, *buffer, 0, 0)) return -1;
    const double *xy = *buffer;
    if (list->count + size > list->capacity) {
        size_t grown = list->capacity ? 2 * list->capacity : 1024;
        while (grown < list->count + size) grown *= 2;
        raw_edge *bigger = realloc(list->items, grown * sizeof *bigger);
        if (!bigger) return -1;
        list->items = bigger;
        list->capacity = grown;
    }
    for (unsigned int k = 0; k + 1 < size; k++) {
        double px = xy[2 * k], py = xy[2 * k + 1], qx = xy[2 * k + 2], qy = xy[2 * k + 3];
        if (px == qx && py == qy) continue;
        raw_edge *raw = &list->items[list->count++];
        raw->polygon = polygon;
        /* Canonical direction: lower end first, so both neighbours of a shared edge store the same edge. */
        if (py < qy || (py == qy && px <= qx)) raw->edge = (pip_edge){px, py, qx, qy};
        else raw->edge = (pip_edge){qx, qy, px, py};
    }
    return 0;
}

static int collect_edges(hm_ctx *ctx, const hm_boundary_set *set, edge_list *list)
{
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    double *buffer = NULL;
    size_t buffer_capacity = 0;
    int status = HM_OK;
    for (size_t i = 0; i < hm_boundaries_count(set) && status == HM_OK; i++) {
        const GEOSGeometry *geometry = hm_boundaries_geometry(set, i);
        int parts = GEOSGeomTypeId_r(geos, geometry) == GEOS_POLYGON ? 1 : GEOSGetNumGeometries_r(geos, geometry);
        for (int p = 0; p < parts && status == HM_OK; p++) {
            const GEOSGeometry *polygon = parts == 1 && GEOSGeomTypeId_r(geos, geometry) == GEOS_POLYGON
                                              ? geometry
                                              : GEOSGetGeometryN_r(geos, geometry, p);
            if (!polygon || GEOSGeomTypeId_r(geos, polygon) != GEOS_POLYGON) {
                status = hm_error(ctx, HM_EINTERNAL, "point-in-polygon index: %s %s is not a polygon",
                                  "boundary", hm_boundaries_code(set, i));
                break;
            }
            if (GEOSisEmpty_r(geos, polygon)) continue;
            int holes = GEOSGetNumInteriorRings_r(geos, polygon);
            for (int r = -1; r < holes && status == HM_OK; r++) {
                const GEOSGeometry *ring =
                    r < 0 ? GEOSGetExteriorRing_r(geos, polygon) : GEOSGetInteriorRingN_r(geos, polygon, r);
                if (!ring || push_ring(geos, ring, (int32_t)i, list, &buffer, &buffer_capacity) != 0)
                    status = hm_error(ctx, HM_ENOMEM, "point-in-polygon index: cannot read the rings of %s",
                                      hm_boundaries_code(set, i));
            }
        }
    }
    free(buffer);
    return status;
}

/* Rows (bands) an edge's y range reaches, padded. */
static void edge_rows(const hm_pip_index *index, const pip_edge *edge, double pad, size_t *first, size_t *last)
{
    double low = (edge->ay - pad - index->ymin) * index->rows_per_unit;
    double high = (edge->by + pad - index->ymin) * index->rows_per_unit;
    *first = low <= 0 ? 0 : (size_t)low;
    *last = high >= (double)(index->rows - 1) ? index->rows - 1 : (size_t)high;
    if (*first > *last) *first = *last;
}

static size_t column_of(const hm_pip_index *index, double x)
{
    double column = (x - index->xmin) * index->columns_per_unit;
    if (!(column > 0)) return 0;
    if (column >= (double)(index->columns - 1)) return index->columns - 1;
    return (size_t)column;
}

int hm_pip_index_build(hm_ctx *ctx, const hm_boundary_set *set, hm_pip_index **out)
{
    *out = NULL;
    edge_list list = {0};
    unsigned char *boundary = NULL;
    uint32_t *band_counts = NULL, *cell_first = NULL, *cell_groups = NULL, *fill = NULL;
    raw_edge *entries = NULL;
    int status = HM_OK;
    hm_pip_index *index = calloc(1, sizeof *index);
    if (!index) return hm_error(ctx, HM_ENOMEM, "point-in-polygon index: out of memory");
    index->polygon_count = hm_boundaries_count(set);
    if (index->polygon_count == 0 || index->polygon_count > INT32_MAX - 2) {
        status = hm_error(ctx, HM_EINVAL, "point-in-polygon index: %zu polygons; need 1 to %d",
                          index->polygon_count, INT32_MAX - 2);
        goto done;
    }
    status = collect_edges(ctx, set, &list);
    if (status != HM_OK) goto done;
    if (list.count == 0) {
        status = hm_error(ctx, HM_EINVAL, "point-in-polygon index: the polygons have no edges");
        goto done;
    }

    /* Extent of the vertices themselves, so that the outside test is exact. */
    index->xmin = index->xmax = list.items[0].edge.ax;
    index->ymin = index->ymax = list.items[0].edge.ay;
    for (size_t i = 0; i < list.count; i++) {
        const pip_edge *e = &list.items[i].edge;
        index->xmin = fmin(index->xmin, fmin(e->ax, e->bx));
        index->xmax = fmax(index->xmax, fmax(e->ax, e->bx));
        index->ymin = fmin(index->ymin, e->ay);
        index->ymax = fmax(index->ymax, e->by);
    }
    double width = index->xmax - index->xmin, height = index->ymax - index->ymin;
    if (!(width > 0) || !(height > 0) || !isfinite(width) || !isfinite(height)) {
        status = hm_error(ctx, HM_EINVAL, "point-in-polygon index: the polygons have no area (extent %g x %g)",
                          width, height);
        goto done;
    }
    double wanted = (double)list.count * PIP_CELLS_PER_EDGE;
    if (wanted < PIP_MIN_CELLS) wanted = PIP_MIN_CELLS;
    if (wanted > PIP_MAX_CELLS) wanted = PIP_MAX_CELLS;
    double side = sqrt(width * height / wanted);
    double columns = ceil(width / side), rows = ceil(height / side);
    index->columns = (size_t)fmax(1, fmin(PIP_MAX_SIDE, columns));
    index->rows = (size_t)fmax(1, fmin(PIP_MAX_SIDE, rows));
    index->cell_width = width / (double)index->columns;
    index->cell_height = height / (double)index->rows;
    index->columns_per_unit = (double)index->columns / width;
    index->rows_per_unit = (double)index->rows / height;
    /* Wider than any rounding in the cell arithmetic, far narrower than a cell. */
    double magnitude = fmax(fmax(fabs(index->xmin), fabs(index->xmax)), fmax(fabs(index->ymin), fabs(index->ymax)));
    double pad = 1e-6 * fmax(index->cell_width, index->cell_height) + 64 * DBL_EPSILON * magnitude;
    size_t columns_count = index->columns, rows_count = index->rows;
    size_t cell_count = columns_count * rows_count;

    /* Edges into bands (counting sort, stable: each band's edges stay in polygon order). */
    band_counts = calloc(rows_count + 1, sizeof *band_counts);
    boundary = calloc(cell_count, 1);
    index->cells = malloc(cell_count * sizeof *index->cells);
    index->band_first_group = calloc(rows_count + 1, sizeof *index->band_first_group);
    if (!band_counts || !boundary || !index->cells || !index->band_first_group) goto out_of_memory;
    size_t total = 0;
    for (size_t i = 0; i < list.count; i++) {
        size_t first, last;
        edge_rows(index, &list.items[i].edge, pad, &first, &last);
        for (size_t r = first; r <= last; r++) band_counts[r]++;
        total += last - first + 1;
    }
    if (total > UINT32_MAX - 1) {
        status = hm_error(ctx, HM_ENOMEM, "point-in-polygon index: %zu edge pieces are more than it can hold; "
                                          "simplify the polygons", total);
        goto done;
    }
    fill = malloc((rows_count + 1) * sizeof *fill);
    entries = malloc((total ? total : 1) * sizeof *entries);
    if (!fill || !entries) goto out_of_memory;
    uint32_t running = 0;
    for (size_t r = 0; r < rows_count; r++) {
        fill[r] = running;
        running += band_counts[r];
    }
    fill[rows_count] = running;
    memcpy(band_counts, fill, (rows_count + 1) * sizeof *fill); /* band_counts now holds band starts */
    for (size_t i = 0; i < list.count; i++) {
        const pip_edge *e = &list.items[i].edge;
        size_t first, last;
        edge_rows(index, e, pad, &first, &last);
        for (size_t r = first; r <= last; r++) {
            entries[fill[r]++] = list.items[i];
            /* Mark the cells this piece of the edge comes near as boundary cells. */
            double band_low = index->ymin + (double)r * index->cell_height - pad;
            double band_high = index->ymin + (double)(r + 1) * index->cell_height + pad;
            double x0, x1;
            if (e->by == e->ay) {
                x0 = e->ax;
                x1 = e->bx;
            } else {
                double t0 = (fmax(band_low, e->ay) - e->ay) / (e->by - e->ay);
                double t1 = (fmin(band_high, e->by) - e->ay) / (e->by - e->ay);
                x0 = e->ax + fmax(0, fmin(1, t0)) * (e->bx - e->ax);
                x1 = e->ax + fmax(0, fmin(1, t1)) * (e->bx - e->ax);
            }
            size_t c0 = column_of(index, fmin(x0, x1) - pad), c1 = column_of(index, fmax(x0, x1) + pad);
            memset(boundary + r * columns_count + c0, 1, c1 - c0 + 1);
        }
    }

    /* Groups: runs of one polygon's edges within a band. */
    index->groups = malloc((total ? total : 1) * sizeof *index->groups);
    index->edges = malloc((total ? total : 1) * sizeof *index->edges);
    if (!index->groups || !index->edges) goto out_of_memory;
    uint32_t group_count = 0;
    for (size_t r = 0; r < rows_count; r++) {
        index->band_first_group[r] = group_count;
        for (uint32_t i = band_counts[r]; i < band_counts[r + 1]; i++) {
            const raw_edge *raw = &entries[i];
            index->edges[i] = raw->edge;
            double xmin = fmin(raw->edge.ax, raw->edge.bx), xmax = fmax(raw->edge.ax, raw->edge.bx);
            pip_group *group = group_count > index->band_first_group[r] ? &index->groups[group_count - 1] : NULL;
            if (!group || group->polygon != raw->polygon) {
                group = &index->groups[group_count++];
                *group = (pip_group){i, 0, raw->polygon, xmin, xmax};
            }
            group->count++;
            group->xmin = fmin(group->xmin, xmin);
            group->xmax = fmax(group->xmax, xmax);
        }
    }
    index->band_first_group[rows_count] = group_count;
    free(entries);
    entries = NULL;

    /* Cells: the groups that reach each cell, then the answer of inner cells or the group list of boundary
     * cells. Done band by band with a per-band table, so the work is proportional to what groups cover. */
    cell_first = malloc((columns_count + 1) * sizeof *cell_first);
    free(fill);
    fill = malloc((columns_count + 1) * sizeof *fill);
    size_t boundary_capacity = 1024, list_capacity = 4096, boundary_count = 0, list_count = 0;
    index->boundary_first = malloc(boundary_capacity * sizeof *index->boundary_first);
    index->boundary_groups = malloc(list_capacity * sizeof *index->boundary_groups);
    size_t cell_groups_capacity = 0;
    if (!cell_first || !fill || !index->boundary_first || !index->boundary_groups) goto out_of_memory;
    index->boundary_first[0] = 0;
    for (size_t r = 0; r < rows_count; r++) {
        uint32_t g0 = index->band_first_group[r], g1 = index->band_first_group[r + 1];
        memset(cell_first, 0, (columns_count + 1) * sizeof *cell_first);
        size_t pieces = 0;
        for (uint32_t g = g0; g < g1; g++) {
            size_t c0 = column_of(index, index->groups[g].xmin - pad);
            size_t c1 = column_of(index, index->groups[g].xmax + pad);
            for (size_t c = c0; c <= c1; c++) cell_first[c + 1]++;
            pieces += c1 - c0 + 1;
        }
        for (size_t c = 0; c < columns_count; c++) cell_first[c + 1] += cell_first[c];
        if (pieces > cell_groups_capacity) {
            free(cell_groups);
            cell_groups_capacity = pieces * 2;
            cell_groups = malloc(cell_groups_capacity * sizeof *cell_groups);
            if (!cell_groups) goto out_of_memory;
        }
        memcpy(fill, cell_first, (columns_count + 1) * sizeof *fill);
        for (uint32_t g = g0; g < g1; g++) {
            size_t c0 = column_of(index, index->groups[g].xmin - pad);
            size_t c1 = column_of(index, index->groups[g].xmax + pad);
            for (size_t c = c0; c <= c1; c++) cell_groups[fill[c]++] = g;
        }
        for (size_t c = 0; c < columns_count; c++) {
            size_t cell = r * columns_count + c;
            const uint32_t *candidates = cell_groups + cell_first[c];
            size_t count = cell_first[c + 1] - cell_first[c];
            if (!boundary[cell]) {
                double cx = index->xmin + ((double)c + 0.5) * index->cell_width;
                double cy = index->ymin + ((double)r + 0.5) * index->cell_height;
                index->cells[cell] = (int32_t)first_containing(index, candidates, count, cx, cy);
                continue;
            }
            if (boundary_count + 2 > boundary_capacity) {
                boundary_capacity *= 2;
                uint32_t *bigger = realloc(index->boundary_first, boundary_capacity * sizeof *bigger);
                if (!bigger) goto out_of_memory;
                index->boundary_first = bigger;
            }
            if (list_count + count > list_capacity) {
                while (list_count + count > list_capacity) list_capacity *= 2;
                uint32_t *bigger = realloc(index->boundary_groups, list_capacity * sizeof *bigger);
                if (!bigger) goto out_of_memory;
                index->boundary_groups = bigger;
            }
            if (boundary_count > (size_t)INT32_MAX - 2) {
                status = hm_error(ctx, HM_ENOMEM, "point-in-polygon index: too many boundary cells");
                goto done;
            }
            memcpy(index->boundary_groups + list_count, candidates, count * sizeof *candidates);
            list_count += count;
            index->cells[cell] = (int32_t)(-2 - (long)boundary_count);
            index->boundary_first[++boundary_count] = (uint32_t)list_count;
        }
    }
    *out = index;
    index = NULL;
    goto done;

out_of_memory:
    status = hm_error(ctx, HM_ENOMEM, "point-in-polygon index: out of memory (%zu edges)", list.count);
done:
    free(list.items);
    free(boundary);
    free(band_counts);
    free(cell_first);
    free(cell_groups);
    free(fill);
    free(entries);
    hm_pip_index_destroy(index);
    return status;
}
