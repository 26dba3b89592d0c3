/* hotspots.c - see hotspots.h. */
#include "hotspots.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hm_neighbours {
    size_t count;
    size_t *offsets; /* count + 1 */
    size_t *indices;
};

typedef struct pair_list {
    size_t (*pairs)[2];
    size_t count, capacity;
} pair_list;

static int pair_push(pair_list *list, size_t a, size_t b)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 256;
        size_t(*pairs)[2] = realloc(list->pairs, capacity * sizeof *pairs);
        if (!pairs) return -1;
        list->pairs = pairs;
        list->capacity = capacity;
    }
    list->pairs[list->count][0] = a;
    list->pairs[list->count][1] = b;
    list->count++;
    return 0;
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int hm_neighbours_from_pairs(hm_ctx *ctx, size_t count, const size_t (*pairs)[2], size_t pair_count,
                             hm_neighbours **out)
{
    *out = NULL;
    hm_neighbours *nb = calloc(1, sizeof *nb);
    size_t *degree = calloc(count + 1, sizeof *degree);
    if (!nb || !degree) {
        free(nb);
        free(degree);
        return hm_error(ctx, HM_ENOMEM, "out of memory building neighbours of %zu areas", count);
    }
    for (size_t k = 0; k < pair_count; k++) {
        size_t a = pairs[k][0], b = pairs[k][1];
        if (a >= count || b >= count || a == b) {
            free(nb);
            free(degree);
            return hm_error(ctx, HM_EINTERNAL, "neighbour pair (%zu, %zu) is not two different areas of %zu", a, b,
                            count);
        }
        degree[a]++;
        degree[b]++;
    }
    nb->count = count;
    nb->offsets = calloc(count + 1, sizeof *nb->offsets);
    nb->indices = malloc((2 * pair_count + 1) * sizeof *nb->indices);
    if (!nb->offsets || !nb->indices) {
        free(degree);
        hm_neighbours_destroy(nb);
        return hm_error(ctx, HM_ENOMEM, "out of memory building neighbours of %zu areas", count);
    }
    for (size_t i = 0; i < count; i++) nb->offsets[i + 1] = nb->offsets[i] + degree[i];
    memset(degree, 0, (count + 1) * sizeof *degree);
    for (size_t k = 0; k < pair_count; k++) {
        size_t a = pairs[k][0], b = pairs[k][1];
        nb->indices[nb->offsets[a] + degree[a]++] = b;
        nb->indices[nb->offsets[b] + degree[b]++] = a;
    }
    /* Sort each list and drop duplicates, compacting in place. */
    size_t write = 0;
    for (size_t i = 0; i < count; i++) {
        size_t start = nb->offsets[i], end = nb->offsets[i + 1];
        qsort(nb->indices + start, end - start, sizeof *nb->indices, compare_size);
        nb->offsets[i] = write;
        for (size_t k = start; k < end; k++)
            if (k == start || nb->indices[k] != nb->indices[k - 1]) nb->indices[write++] = nb->indices[k];
    }
    nb->offsets[count] = write;
    free(degree);
    *out = nb;
    return HM_OK;
}

typedef struct query_state {
    size_t self;
    pair_list *candidates;
    int failed;
} query_state;

static void collect_candidate(void *item, void *userdata)
{
    query_state *state = userdata;
    size_t other = (size_t)(uintptr_t)item - 1; /* items are stored as index + 1 so that none is NULL */
    if (other <= state->self) return;           /* each pair once */
    if (pair_push(state->candidates, state->self, other) != 0) state->failed = 1;
}

int hm_neighbours_queen(hm_ctx *ctx, const GEOSGeometry *const *polygons, size_t count, double tolerance_m,
                        hm_neighbours **out)
{
    *out = NULL;
    if (!(tolerance_m >= 0) || !isfinite(tolerance_m))
        return hm_error(ctx, HM_EINVAL, "neighbour tolerance %g: give zero or more metres", tolerance_m);
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    GEOSSTRtree *tree = GEOSSTRtree_create_r(geos, 10);
    GEOSGeometry **envelopes = calloc(count ? count : 1, sizeof *envelopes);
    pair_list candidates = {0}, pairs = {0};
    int status = HM_OK;
    if (!tree || !envelopes) status = hm_error(ctx, HM_ENOMEM, "out of memory indexing %zu polygons", count);
    for (size_t i = 0; status == HM_OK && i < count; i++) {
        double xmin, ymin, xmax, ymax;
        if (!polygons[i] || GEOSisEmpty_r(geos, polygons[i]) ||
            !GEOSGeom_getXMin_r(geos, polygons[i], &xmin) || !GEOSGeom_getYMin_r(geos, polygons[i], &ymin) ||
            !GEOSGeom_getXMax_r(geos, polygons[i], &xmax) || !GEOSGeom_getYMax_r(geos, polygons[i], &ymax)) {
            status = hm_error(ctx, HM_EGEOS, "area %zu has an empty or unreadable geometry", i);
            break;
        }
        envelopes[i] = GEOSGeom_createRectangle_r(geos, xmin - tolerance_m, ymin - tolerance_m, xmax + tolerance_m,
                                                  ymax + tolerance_m);
        if (!envelopes[i]) {
            status = hm_error(ctx, HM_EGEOS, "GEOS could not make the envelope of area %zu", i);
            break;
        }
        GEOSSTRtree_insert_r(geos, tree, envelopes[i], (void *)(uintptr_t)(i + 1));
    }
    for (size_t i = 0; status == HM_OK && i < count; i++) {
        query_state state = {i, &candidates, 0};
        GEOSSTRtree_query_r(geos, tree, envelopes[i], collect_candidate, &state);
        if (state.failed) status = hm_error(ctx, HM_ENOMEM, "out of memory finding neighbours");
    }
    /* Candidates are grouped by their first area: prepare it once per group. */
    const GEOSPreparedGeometry *prepared = NULL;
    size_t prepared_index = (size_t)-1;
    for (size_t k = 0; status == HM_OK && k < candidates.count; k++) {
        size_t a = candidates.pairs[k][0], b = candidates.pairs[k][1];
        if (a != prepared_index) {
            if (prepared) GEOSPreparedGeom_destroy_r(geos, prepared);
            prepared = GEOSPrepare_r(geos, polygons[a]);
            prepared_index = a;
            if (!prepared) {
                status = hm_error(ctx, HM_EGEOS, "GEOS could not prepare the geometry of area %zu", a);
                break;
            }
        }
        char within = GEOSPreparedDistanceWithin_r(geos, prepared, polygons[b], tolerance_m);
        if (within == 2) {
            status = hm_error(ctx, HM_EGEOS, "GEOS failed measuring the distance between areas %zu and %zu", a, b);
            break;
        }
        if (within && pair_push(&pairs, a, b) != 0) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    if (prepared) GEOSPreparedGeom_destroy_r(geos, prepared);
    if (status == HM_OK)
        status = hm_neighbours_from_pairs(ctx, count, (const size_t(*)[2])pairs.pairs, pairs.count, out);
    if (tree) GEOSSTRtree_destroy_r(geos, tree);
    for (size_t i = 0; envelopes && i < count; i++)
        if (envelopes[i]) GEOSGeom_destroy_r(geos, envelopes[i]);
    free(envelopes);
    free(candidates.pairs);
    free(pairs.pairs);
    return status;
}

hm_neighbours *hm_neighbours_destroy(hm_neighbours *neighbours)
{
    if (!neighbours) return NULL;
    free(neighbours->offsets);
    free(neighbours->indices);
    free(neighbours);
    return NULL;
}

size_t hm_neighbours_count(const hm_neighbours *neighbours)
{
    return neighbours->count;
}

size_t hm_neighbours_degree(const hm_neighbours *neighbours, size_t area)
{
    return neighbours->offsets[area + 1] - neighbours->offsets[area];
}

const size_t *hm_neighbours_of(const hm_neighbours *neighbours, size_t area)
{
    return neighbours->indices + neighbours->offsets[area];
}

size_t hm_neighbours_islands(const hm_neighbours *neighbours)
{
    size_t islands = 0;
    for (size_t i = 0; i < neighbours->count; i++) islands += hm_neighbours_degree(neighbours, i) == 0;
    return islands;
}

double hm_normal_two_sided_p(double z)
{
    if (isnan(z)) return NAN;
    return erfc(fabs(z) / sqrt(2.0));
}

int hm_gi_star(hm_ctx *ctx, const hm_neighbours *neighbours, const double *x, hm_gi_star_result *out)
{
    (void)ctx;
    size_t n = neighbours->count;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    double mean = n ? sum / (double)n : 0;
    /* s^2 from the centred sum of squares, as spdep (sum(scale(x, scale = FALSE)^2) / n): the same quantity as
     * sum(x^2)/n - mean^2, without its cancellation. */
    double centred = 0;
    for (size_t i = 0; i < n; i++) centred += (x[i] - mean) * (x[i] - mean);
    double s = n ? sqrt(centred / (double)n) : 0;
    for (size_t i = 0; i < n; i++) {
        const size_t *list = hm_neighbours_of(neighbours, i);
        size_t degree = hm_neighbours_degree(neighbours, i);
        double local = x[i];
        for (size_t k = 0; k < degree; k++) local += x[list[k]];
        double w = (double)(degree + 1); /* binary weights, self included: W_i = S1_i */
        double variance_factor = n > 1 ? ((double)n * w - w * w) / (double)(n - 1) : 0;
        double z = NAN;
        if (n > 1 && s > 0 && variance_factor > 0) z = (local - mean * w) / (s * sqrt(variance_factor));
        out[i].z = z;
        out[i].p = hm_normal_two_sided_p(z);
    }
    return HM_OK;
}

const char *hm_moran_quadrant_name(hm_moran_quadrant quadrant)
{
    switch (quadrant) {
    case HM_QUADRANT_HIGH_HIGH: return "High-High";
    case HM_QUADRANT_LOW_LOW: return "Low-Low";
    case HM_QUADRANT_HIGH_LOW: return "High-Low";
    case HM_QUADRANT_LOW_HIGH: return "Low-High";
    default: return "";
    }
}

int hm_local_moran(hm_ctx *ctx, const hm_neighbours *neighbours, const double *x, hm_local_moran_result *out)
{
    size_t n = neighbours->count;
    double *lag_x = malloc((n ? n : 1) * sizeof *lag_x);
    if (!lag_x) return hm_error(ctx, HM_ENOMEM, "out of memory computing Local Moran's I");
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean = n ? mean / (double)n : 0;
    double m2 = 0;
    for (size_t i = 0; i < n; i++) m2 += (x[i] - mean) * (x[i] - mean);
    m2 = n ? m2 / (double)n : 0;
    double lag_mean = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t *list = hm_neighbours_of(neighbours, i);
        size_t degree = hm_neighbours_degree(neighbours, i);
        double lag = 0;
        for (size_t k = 0; k < degree; k++) lag += x[list[k]];
        lag_x[i] = degree ? lag / (double)degree : 0; /* spdep's lag is 0 for islands (zero.policy) */
        lag_mean += lag_x[i];
    }
    lag_mean = n ? lag_mean / (double)n : 0;
    for (size_t i = 0; i < n; i++) {
        size_t degree = hm_neighbours_degree(neighbours, i);
        hm_local_moran_result r = {NAN, NAN, NAN, NAN, NAN, HM_QUADRANT_NONE};
        if (degree > 0 && n >= 3 && m2 > 0) {
            double z = x[i] - mean;
            double lag_z = lag_x[i] - mean; /* row-standardised: the lag of z is the lag of x minus the mean */
            double w = 1.0, w2 = 1.0 / (double)degree;
            r.i = z * lag_z / m2;
            r.expectation = -(z * z * w) / ((double)(n - 1) * m2);
            r.variance = (z / m2) * (z / m2) * ((double)n / (double)(n - 2)) * (w2 - w * w / (double)(n - 1)) *
                         (m2 - z * z / (double)(n - 1));
            r.z = r.variance > 0 ? (r.i - r.expectation) / sqrt(r.variance) : NAN;
            r.p = hm_normal_two_sided_p(r.z);
            int high = x[i] > mean, lag_high = lag_x[i] > lag_mean;
            r.quadrant = high ? (lag_high ? HM_QUADRANT_HIGH_HIGH : HM_QUADRANT_HIGH_LOW)
                              : (lag_high ? HM_QUADRANT_LOW_HIGH : HM_QUADRANT_LOW_LOW);
        }
        out[i] = r;
    }
    free(lag_x);
    return HM_OK;
}

typedef struct indexed_p {
    double p;
    size_t index;
} indexed_p;

static int compare_p_descending(const void *a, const void *b)
{
    const indexed_p *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int hm_benjamini_hochberg(hm_ctx *ctx, const double *p, size_t n, double *q)
{
    indexed_p *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) return hm_error(ctx, HM_ENOMEM, "out of memory adjusting %zu p-values", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(p[i])) sorted[m++] = (indexed_p){p[i], i};
    qsort(sorted, m, sizeof *sorted, compare_p_descending);
    double running = 1.0;
    double *adjusted = malloc((m ? m : 1) * sizeof *adjusted);
    if (!adjusted) {
        free(sorted);
        return hm_error(ctx, HM_ENOMEM, "out of memory adjusting %zu p-values", n);
    }
    /* From the largest p down: q = min(running, p * m / rank). */
    for (size_t k = 0; k < m; k++) {
        size_t rank = m - k;
        double value = sorted[k].p * (double)m / (double)rank;
        if (value < running) running = value;
        adjusted[k] = running;
    }
    for (size_t i = 0; i < n; i++)
        if (isnan(p[i])) q[i] = NAN;
    for (size_t k = 0; k < m; k++) q[sorted[k].index] = adjusted[k];
    free(adjusted);
    free(sorted);
    return HM_OK;
}

/* log of the Binomial(n, prob) probability of k. */
static double log_binomial_pmf(long long k, long long n, double log_p, double log_q)
{
    return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) + (double)k * log_p +
           (double)(n - k) * log_q;
}

int hm_poisson_change_test(hm_ctx *ctx, long long count_before, double exposure_before, long long count_after,
                           double exposure_after, double *p)
{
    if (count_before < 0 || count_after < 0)
        return hm_error(ctx, HM_EINVAL, "change test: counts must not be negative (%lld, %lld)", count_before,
                        count_after);
    if (!(exposure_before > 0) || !(exposure_after > 0) || !isfinite(exposure_before) || !isfinite(exposure_after))
        return hm_error(ctx, HM_EINVAL, "change test: period lengths must be positive (%g, %g)", exposure_before,
                        exposure_after);
    long long n = count_before + count_after, x = count_after;
    if (n == 0) {
        *p = 1;
        return HM_OK;
    }
    double prob = exposure_after / (exposure_before + exposure_after);
    double log_p = log(prob), log_q = log1p(-prob);
    double expected = (double)n * prob;
    double log_d = log_binomial_pmf(x, n, log_p, log_q);
    const double relative_error = 1 + 1e-7;
    double threshold = log_d + log(relative_error);
    /* R's binom.test: sum the probabilities of all outcomes with probability <= d * (1 + 1e-7). Summing each side
     * directly keeps small tails exact (no 1 - big subtraction). */
    if ((double)x == expected) {
        *p = 1;
        return HM_OK;
    }
    /* Exactly as R's binom.test: on the other side of the mean, count the y outcomes no more likely than the
     * observed one, and add the y most extreme outcomes there to the observed tail. */
    double total = 0;
    long long y = 0;
    if ((double)x < expected) {
        for (long long k = (long long)ceil(expected); k <= n; k++)
            y += log_binomial_pmf(k, n, log_p, log_q) <= threshold;
        for (long long k = 0; k <= x; k++) total += exp(log_binomial_pmf(k, n, log_p, log_q));
        for (long long k = n - y + 1; k <= n; k++) total += exp(log_binomial_pmf(k, n, log_p, log_q));
    } else {
        for (long long k = 0; k <= (long long)floor(expected); k++)
            y += log_binomial_pmf(k, n, log_p, log_q) <= threshold;
        for (long long k = 0; k <= y - 1; k++) total += exp(log_binomial_pmf(k, n, log_p, log_q));
        for (long long k = x; k <= n; k++) total += exp(log_binomial_pmf(k, n, log_p, log_q));
    }
    *p = total < 1 ? total : 1;
    return HM_OK;
}
