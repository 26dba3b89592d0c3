/*
 * overlaps.h - finding polygons of one boundary layer that overlap each other.
 *
 * Wards (and beats) partition an area: a record must belong to one of them. Where two polygons of a layer overlap,
 * a point in the overlap belongs to both, and the point-in-polygon index (pip.h) would give it silently to the
 * lower-numbered one, so counts and rates would shift between areas unnoticed. Sources do this by mistake: a
 * feature duplicated, two editions of boundaries merged into one layer, a hand-drawn beat spilling over its
 * neighbour. So geocode checks every layer it loads.
 *
 * Candidate pairs come from a GEOS STRtree on the polygons' envelopes; each candidate pair is tested with one
 * DE-9IM relate (interiors intersect: "T********"), which is false for polygons that only share edges or
 * vertices, as a tiling's do; the overlap is then measured (GEOS intersection area). Overlaps no larger than
 * 1e-6 of the smaller polygon's area (a 1 m2 sliver for a 1 km2 ward) are digitising slivers: counted and
 * reported as a warning. Larger ones are an error naming the polygons. Cost: one relate per pair of neighbours,
 * about 0.1 s for a force area's few hundred wards at full resolution.
 */
#ifndef HM_OVERLAPS_H
#define HM_OVERLAPS_H

#include "boundaries.h"
#include "context.h"

/* Checks `set`, loaded from `source` for `option` (e.g. "--wards"), for overlapping polygons. Returns HM_OK (with a
 * warning when there are only slivers) or HM_EFORMAT with a message naming up to five overlapping pairs by code
 * and name, their overlap area, and what to do. *sliver_pairs (may be NULL) receives the number of sliver pairs. */
int hm_boundaries_check_overlaps(hm_ctx *ctx, const hm_boundary_set *set, const char *option, const char *source,
                                 size_t *sliver_pairs);

#endif
