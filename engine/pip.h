/*
 * pip.h - exact point-in-polygon index over a boundary set.
 *
 * Placing millions of points a second is beyond GEOS prepared geometries behind an STRtree (GEOS 3.11 has no
 * PreparedContainsXY, so each query builds a point geometry), so this module keeps the polygons' edges in a
 * uniform grid of cells: a cell that lies wholly inside one polygon answers at once; otherwise the crossing
 * number is computed over the few edges that pass through the point's row band of the cell (per polygon that
 * reaches the cell). pip.c explains the details.
 *
 * Ties are decided by the half-open crossing rule applied to each edge in a canonical direction, with an exact
 * orientation predicate, so a point on an edge shared by two polygons goes to exactly one of them, the same one
 * every time, and a tiling of the plane is partitioned without gaps or double counts: a point on a boundary
 * belongs to the polygon just east of it (just north of an east-west edge; north-east of a shared vertex), so
 * points on the east and north edges of the whole area are outside. Away from boundaries the answers are
 * identical to GEOS (tests/unit/test_pip.c checks this on random points). Where polygons overlap, the lowest
 * index wins.
 *
 * The index keeps copies of the edges; the boundary set may be destroyed after hm_pip_index_build.
 */
#ifndef HM_PIP_H
#define HM_PIP_H

#include "boundaries.h"
#include "context.h"

typedef struct hm_pip_index hm_pip_index;

int hm_pip_index_build(hm_ctx *ctx, const hm_boundary_set *set, hm_pip_index **out);
hm_pip_index *hm_pip_index_destroy(hm_pip_index *index);

/* Index of the polygon containing (x, y), or -1. Read-only: safe to call from many threads at once. */
long hm_pip_index_locate(const hm_pip_index *index, double x, double y);

/* Nearest polygon within max_distance of (x, y) (for --snap), or -1; *distance (may be NULL) receives the
 * distance: 0 when a polygon contains the point (its answer is hm_pip_index_locate's), INFINITY when there is
 * none within max_distance. Equal distances go to the lowest index. Read-only, like locate. */
long hm_pip_index_nearest(const hm_pip_index *index, double x, double y, double max_distance, double *distance);

#endif
