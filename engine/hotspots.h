/*
 * hotspots.h - hot spots between areas (wards, beats): neighbours, Getis-Ord Gi*, Local Moran's I, the
 * Benjamini-Hochberg false discovery rate, and an exact test for a change in counts between two periods.
 *
 * Everything here is written to give the same numbers as R's spdep 1.2-7 (Debian bookworm's r-cran-spdep), the
 * independent implementation the tests compare against (tests/data/hotspots/):
 *
 * Neighbours (queen contiguity). spdep's poly2nb(queen = TRUE) makes two polygons neighbours when any boundary
 * points of the two lie within `snap` of each other. Here two polygons are neighbours when the distance between
 * them (GEOS, prepared geometry) is at most tolerance_m, so a shared corner is enough (queen, not rook) and a
 * rounding gap narrower than the tolerance between two wards' boundaries does not hide their adjacency, which
 * exact GEOS touches/intersects tests would. One difference remains: poly2nb compares boundary vertices, so a
 * vertex of one polygon lying on the middle of another's edge (a T-junction without a shared vertex) is a
 * neighbour here but not in spdep; boundary files built topologically (ONS, OS Boundary-Line) share vertices.
 * Candidate pairs come from an STR-tree of envelopes grown by the tolerance, so the cost is about linear in the
 * number of polygons.
 *
 * Getis-Ord Gi* (Getis and Ord 1992; Ord and Getis 1995): binary weights with the area itself included
 * (spdep: localG(x, nb2listw(include.self(nb), style = "B"))). With W_i the number of areas in i's
 * neighbourhood including i, S1_i = W_i for binary weights, x_bar and s^2 = sum(x^2)/n - x_bar^2 over all n areas:
 *     z_i = (sum_{j in N(i)+i} x_j - x_bar W_i) / (s sqrt((n S1_i - W_i^2) / (n - 1)))
 * Scaling all of an area's weights together (binary or row-standardised) leaves z unchanged. p is two-sided from
 * the normal distribution.
 *
 * Local Moran's I (Anselin 1995): row-standardised weights, the area itself not included, spdep's localmoran()
 * with its 1.2-7 defaults written out: conditional = TRUE, mlvar = TRUE, adjust.x = FALSE. With z = x - x_bar,
 * m2 = sum(z^2)/n, lag_i = mean of z over i's neighbours (W_i = 1, W2_i = 1/k_i for k_i neighbours):
 *     I_i = z_i lag_i / m2
 *     E(I_i) = -z_i^2 W_i / ((n - 1) m2)
 *     Var(I_i) = (z_i/m2)^2 (n/(n - 2)) (W2_i - W_i^2/(n - 1)) (m2 - z_i^2/(n - 1))
 *     Z = (I_i - E(I_i)) / sqrt(Var(I_i)), p two-sided normal.
 * Quadrant as spdep's attr(, "quadr")$mean: x against mean(x) and the spatial lag of x against the mean of the
 * lags, "High" when strictly above the mean (spdep's cut(..., c(-Inf, mean, Inf)) puts equality in "Low").
 * Areas with no neighbours get NaN for every Moran statistic (spdep needs zero.policy to run at all then).
 *
 * Benjamini-Hochberg: q_(i) = min over k >= i of p_(k) n / k, capped at 1 (R's p.adjust(p, "BH")).
 *
 * Change in counts between two periods: under "no change in the underlying rate", given n = a + b events in
 * periods of lengths t_a and t_b, the later count b is Binomial(n, t_b / (t_a + t_b)) (the conditional test for
 * two Poisson counts; Przyborowski and Wilenski 1940). The two-sided p-value is R's binom.test: the probability
 * of every outcome no more likely than the one observed (relative tolerance 1e-7); the same as
 * poisson.test(c(b, a), c(t_b, t_a)).
 */
#ifndef HM_HOTSPOTS_H
#define HM_HOTSPOTS_H

#include "context.h"

#include <geos_c.h>
#include <stddef.h>

/* Symmetric adjacency between n areas, in compressed form. */
typedef struct hm_neighbours hm_neighbours;

/* Queen contiguity of the polygons (any GEOS polygonal geometry, made with ctx's GEOS handle), neighbours when
 * within tolerance_m of each other. aggregate keeps the result (and the change tests' below) between runs: a
 * change to what either computes must change its state's version (aggregate.c, "derived figures"). */
int hm_neighbours_queen(hm_ctx *ctx, const GEOSGeometry *const *polygons, size_t count, double tolerance_m,
                        hm_neighbours **out);
/* From explicit pairs (i, j), i != j, both < count; duplicates and order do not matter. For tests and for
 * adjacency read from elsewhere. */
int hm_neighbours_from_pairs(hm_ctx *ctx, size_t count, const size_t (*pairs)[2], size_t pair_count,
                             hm_neighbours **out);
hm_neighbours *hm_neighbours_destroy(hm_neighbours *neighbours); /* returns NULL */
size_t hm_neighbours_count(const hm_neighbours *neighbours);      /* number of areas */
size_t hm_neighbours_degree(const hm_neighbours *neighbours, size_t area);
const size_t *hm_neighbours_of(const hm_neighbours *neighbours, size_t area); /* sorted ascending */
size_t hm_neighbours_islands(const hm_neighbours *neighbours);    /* areas with no neighbour */

typedef struct hm_gi_star_result {
    double z; /* NaN when the values do not vary (s = 0) or n < 2 */
    double p; /* two-sided */
} hm_gi_star_result;

/* Gi* of values x[0..n) over the neighbours (n must equal hm_neighbours_count). */
int hm_gi_star(hm_ctx *ctx, const hm_neighbours *neighbours, const double *x, hm_gi_star_result *out);

typedef enum hm_moran_quadrant {
    HM_QUADRANT_NONE = 0, /* no neighbours, or the statistic is undefined */
    HM_QUADRANT_HIGH_HIGH,
    HM_QUADRANT_LOW_LOW,
    HM_QUADRANT_HIGH_LOW,
    HM_QUADRANT_LOW_HIGH
} hm_moran_quadrant;
const char *hm_moran_quadrant_name(hm_moran_quadrant quadrant); /* "High-High", ..., "" for none */

typedef struct hm_local_moran_result {
    double i, expectation, variance, z, p; /* NaN for islands, or when the values do not vary, or n < 3 */
    hm_moran_quadrant quadrant;
} hm_local_moran_result;

int hm_local_moran(hm_ctx *ctx, const hm_neighbours *neighbours, const double *x, hm_local_moran_result *out);

/* Two-sided p-value of a standard normal z (NaN in, NaN out). */
double hm_normal_two_sided_p(double z);

/* Benjamini-Hochberg adjusted p-values. NaN entries are left NaN and not counted in n (as p.adjust with NAs
 * removed). q may alias p. Returns HM_ENOMEM on allocation failure. */
int hm_benjamini_hochberg(hm_ctx *ctx, const double *p, size_t n, double *q);

/* Exact conditional test of a change in Poisson counts: count_before in a period of length exposure_before,
 * count_after in exposure_after (any unit, both > 0). Two-sided p in *p (1 when both counts are 0). */
int hm_poisson_change_test(hm_ctx *ctx, long long count_before, double exposure_before, long long count_after,
                           double exposure_after, double *p);

#endif
