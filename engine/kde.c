/* kde.c - see kde.h for the two surfaces, the difference-array method and why it is precise. */
#include "kde.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define HM_KDE_MAX_THREADS 64
/* Per-thread row buffers are kept under this size by choosing fewer rows per chunk on very wide grids. */
#define HM_KDE_CHUNK_BYTES (8u << 20)
#define HM_KDE_CHUNK_ROWS 16

/* ---- kernels ---------------------------------------------------------------------------------------------- */

static const char *const kernel_names[] = {"quartic", "triangular", "uniform", "triweight", "epanechnikov"};

const char *hm_kernel_name(hm_kernel kernel)
{
    return (unsigned)kernel < 5 ? kernel_names[kernel] : "unknown";
}

int hm_kernel_from_name(const char *name)
{
    for (int k = 0; k < 5; k++)
        if (strcmp(name, kernel_names[k]) == 0) return k;
    return -1;
}

const char *hm_kernel_formula(hm_kernel kernel)
{
    switch (kernel) {
    case HM_KERNEL_QUARTIC: return "K(u) = (1 - u^2)^2; integral over the disc = pi r^2 / 3";
    case HM_KERNEL_TRIANGULAR: return "K(u) = 1 - (1 - decay) u; integral over the disc = pi r^2 (1 + 2 decay) / 3";
    case HM_KERNEL_UNIFORM: return "K(u) = 1; integral over the disc = pi r^2";
    case HM_KERNEL_TRIWEIGHT: return "K(u) = (1 - u^2)^3; integral over the disc = pi r^2 / 4";
    case HM_KERNEL_EPANECHNIKOV: return "K(u) = 1 - u^2; integral over the disc = pi r^2 / 2";
    }
    return "";
}

/* The profile as a polynomial in u: K(u) = sum coefficient[k] u^k, degree <= 6. */
static int kernel_polynomial(hm_kernel kernel, double decay, double coefficient[7])
{
    memset(coefficient, 0, 7 * sizeof *coefficient);
    coefficient[0] = 1;
    switch (kernel) {
    case HM_KERNEL_UNIFORM: return 0;
    case HM_KERNEL_TRIANGULAR: coefficient[1] = -(1 - decay); return 1;
    case HM_KERNEL_EPANECHNIKOV: coefficient[2] = -1; return 2;
    case HM_KERNEL_QUARTIC: coefficient[2] = -2; coefficient[4] = 1; return 4;
    case HM_KERNEL_TRIWEIGHT: coefficient[2] = -3; coefficient[4] = 3; coefficient[6] = -1; return 6;
    }
    return 0;
}

double hm_kernel_profile(hm_kernel kernel, double decay, double u)
{
    if (!(u >= 0 && u <= 1)) return 0;
    double t = 1 - u * u;
    switch (kernel) {
    case HM_KERNEL_QUARTIC: return t * t;
    case HM_KERNEL_TRIANGULAR: return 1 - (1 - decay) * u;
    case HM_KERNEL_UNIFORM: return 1;
    case HM_KERNEL_TRIWEIGHT: return t * t * t;
    case HM_KERNEL_EPANECHNIKOV: return t;
    }
    return 0;
}

/* integral over the unit disc of K = 2 pi * integral_0^1 K(u) u du; C_K is that divided by pi. */
double hm_kernel_disc_integral(hm_kernel kernel, double decay)
{
    double a[7];
    int degree = kernel_polynomial(kernel, decay, a);
    double sum = 0;
    for (int k = 0; k <= degree; k++) sum += a[k] / (k + 2);
    return 2 * sum;
}

double hm_kernel_silverman_factor(hm_kernel kernel, double decay)
{
    double a[7], square[13] = {0};
    int degree = kernel_polynomial(kernel, decay, a);
    for (int i = 0; i <= degree; i++)
        for (int j = 0; j <= degree; j++) square[i + j] += a[i] * a[j];
    double integral_k = 0, integral_k2 = 0, integral_u3k = 0; /* each of (.) u du over [0, 1] */
    for (int k = 0; k <= degree; k++) {
        integral_k += a[k] / (k + 2);
        integral_u3k += a[k] / (k + 4);
    }
    for (int k = 0; k <= 2 * degree; k++) integral_k2 += square[k] / (k + 2);
    double c = 2 * integral_k; /* C_K: the kernel normalised to integral 1 is K / (pi C_K) */
    double roughness = 2 * integral_k2 / (M_PI * c * c);
    double second_moment = integral_u3k / c;
    return pow(4 * M_PI * roughness / (second_moment * second_moment), 1.0 / 6.0);
}

/* Exponent m of the quartic family, K = (1 - u^2)^m, or -1 for the triangular kernel. */
static int kernel_power(hm_kernel kernel)
{
    switch (kernel) {
    case HM_KERNEL_UNIFORM: return 0;
    case HM_KERNEL_EPANECHNIKOV: return 1;
    case HM_KERNEL_QUARTIC: return 2;
    case HM_KERNEL_TRIWEIGHT: return 3;
    case HM_KERNEL_TRIANGULAR: return -1;
    }
    return -1;
}

static int resolve_threads(int threads)
{
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    return threads > HM_KDE_MAX_THREADS ? HM_KDE_MAX_THREADS : threads;
}

static int run_threads(hm_ctx *ctx, int threads, void *(*worker)(void *), void *shared)
{
    pthread_t ids[HM_KDE_MAX_THREADS];
    int started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&ids[started], NULL, worker, shared) != 0) break;
    worker(shared); /* the calling thread works too; if a thread could not start, the others take its share */
    for (int t = 0; t < started; t++) pthread_join(ids[t], NULL);
    (void)ctx;
    return HM_OK;
}

/* ---- grid ------------------------------------------------------------------------------------------------- */

int hm_kde_grid_aligned(hm_ctx *ctx, double x_min_m, double y_min_m, double x_max_m, double y_max_m, double cell_m,
                        hm_kde_grid *out)
{
    if (!(cell_m > 0) || !isfinite(cell_m))
        return hm_error(ctx, HM_EINVAL, "cell size %g m: must be a positive number of metres", cell_m);
    if (!(x_max_m >= x_min_m) || !(y_max_m >= y_min_m) || !isfinite(x_min_m + y_min_m + x_max_m + y_max_m))
        return hm_error(ctx, HM_EINVAL, "extent %g,%g,%g,%g: needs xmin <= xmax and ymin <= ymax, finite", x_min_m,
                        y_min_m, x_max_m, y_max_m);
    double left = floor(x_min_m / cell_m), right = ceil(x_max_m / cell_m);
    double bottom = floor(y_min_m / cell_m), top = ceil(y_max_m / cell_m);
    if (right <= left) right = left + 1;
    if (top <= bottom) top = bottom + 1;
    if (right - left > INT_MAX || top - bottom > INT_MAX)
        return hm_error(ctx, HM_EINVAL, "a grid of %.0f x %.0f cells of %g m is too large: use a larger --cell",
                        right - left, top - bottom, cell_m);
    out->x_min_m = left * cell_m;
    out->y_max_m = top * cell_m;
    out->cell_m = cell_m;
    out->columns = (long)(right - left);
    out->rows = (long)(top - bottom);
    return HM_OK;
}

/* ---- exact surface ---------------------------------------------------------------------------------------- */

typedef struct kde_point {
    double x, y, weight, radius; /* weight already multiplied by the scaling of the output */
} kde_point;

typedef struct exact_job {
    const hm_kde_grid *grid;
    hm_kde_raster *raster;
    hm_kernel kernel;
    double decay;
    int power;  /* m in (1 - u^2)^m, -1 triangular */
    int stride; /* coefficients per event: 2m + 1, 0 when every point is stamped */
    int nonnegative;
    long block;      /* B: columns per block, a power of two */
    int block_shift; /* log2 B */
    double block_radii; /* B is at most this many radii (in cells) */
    int any_direct;     /* some point is stamped cell by cell (triangular kernel, or radius under B / 8) */
    double half_block; /* (B - 1) / 2: a block's coefficients are relative to its middle column */
    long block_count;
    long chunk_rows; /* K */
    long chunk_count;
    long span_rows; /* the most rows any point touches */
    const kde_point *points; /* sorted by first chunk */
    const size_t *bucket;    /* points of first chunk k: bucket[k] .. bucket[k + 1] - 1 */
    atomic_long next_chunk;
    atomic_int failed;
} exact_job;

static long point_first_row(const hm_kde_grid *g, const kde_point *p)
{
    return (long)floor((g->y_max_m - p->y - p->radius) / g->cell_m - 0.5);
}

static long point_last_row(const hm_kde_grid *g, const kde_point *p)
{
    return (long)ceil((g->y_max_m - p->y + p->radius) / g->cell_m - 0.5);
}

/* Whether cell column i of a row at squared vertical distance dy2 is inside the disc: the one predicate every
 * path uses, written as a reference would write it. */
static inline int inside_disc(const hm_kde_grid *g, long i, double x, double dy2, double r2)
{
    double dx = (g->x_min_m + ((double)i + 0.5) * g->cell_m) - x;
    return dx * dx + dy2 <= r2;
}

/* The coefficients of a polynomial in t of degree <= 6, as scalars (GCC keeps a small struct in registers where
 * it would spill an array). */
typedef struct poly7 {
    double c0, c1, c2, c3, c4, c5, c6;
} poly7;

/* w * (g0 + g1 t + g2 t^2)^m */
static inline __attribute__((always_inline)) poly7 power_coefficients(const int m, double w, double g0, double g1,
                                                                     double g2)
{
    poly7 p = {0, 0, 0, 0, 0, 0, 0};
    if (m == 0) {
        p.c0 = w;
    } else if (m == 1) {
        p.c0 = w * g0, p.c1 = w * g1, p.c2 = w * g2;
    } else if (m == 2) {
        double wg0 = w * g0;
        p.c0 = wg0 * g0;
        p.c1 = 2 * wg0 * g1;
        p.c2 = w * (g1 * g1 + 2 * g0 * g2);
        p.c3 = 2 * w * g1 * g2;
        p.c4 = w * g2 * g2;
    } else {
        double q0 = g0 * g0, q1 = 2 * g0 * g1, q2 = g1 * g1 + 2 * g0 * g2, q3 = 2 * g1 * g2, q4 = g2 * g2;
        p.c0 = w * (q0 * g0);
        p.c1 = w * (q0 * g1 + q1 * g0);
        p.c2 = w * (q0 * g2 + q1 * g1 + q2 * g0);
        p.c3 = w * (q1 * g2 + q2 * g1 + q3 * g0);
        p.c4 = w * (q2 * g2 + q3 * g1 + q4 * g0);
        p.c5 = w * (q3 * g2 + q4 * g1);
        p.c6 = w * (q4 * g2);
    }
    return p;
}

/* target[0 .. stride - 1] += sign * p */
static inline __attribute__((always_inline)) void poly_add(double *target, const int stride, poly7 p)
{
    target[0] += p.c0;
    if (stride > 1) target[1] += p.c1, target[2] += p.c2;
    if (stride > 3) target[3] += p.c3, target[4] += p.c4;
    if (stride > 5) target[5] += p.c5, target[6] += p.c6;
}

static inline __attribute__((always_inline)) void poly_subtract(double *target, const int stride, poly7 p)
{
    target[0] -= p.c0;
    if (stride > 1) target[1] -= p.c1, target[2] -= p.c2;
    if (stride > 3) target[3] -= p.c3, target[4] -= p.c4;
    if (stride > 5) target[5] -= p.c5, target[6] -= p.c6;
}

/* Moves target into the running sum and clears it. */
static inline __attribute__((always_inline)) void poly_take(poly7 *running, double *target, const int stride)
{
    running->c0 += target[0], target[0] = 0;
    if (stride > 1) running->c1 += target[1], running->c2 += target[2], target[1] = 0, target[2] = 0;
    if (stride > 3) running->c3 += target[3], running->c4 += target[4], target[3] = 0, target[4] = 0;
    if (stride > 5) running->c5 += target[5], running->c6 += target[6], target[5] = 0, target[6] = 0;
}

static inline __attribute__((always_inline)) double poly_value(const poly7 *p, const int stride, double t)
{
    double v = stride > 5 ? (p->c6 * t + p->c5) * t + p->c4 : p->c4;
    if (stride > 3) v = (v * t + p->c3) * t + p->c2;
    else v = p->c2;
    if (stride > 1) v = (v * t + p->c1) * t + p->c0;
    else v = p->c0;
    return v;
}

typedef struct exact_rows {
    /* chunk_rows x (columns + 1) x (stride + 1): the coefficients a chord adds where it starts and removes after
     * it ends, and in the last slot +1 / -1, the number of chords covering a cell (exact zeros outside them) */
    double *events;
    double *base;   /* chunk_rows x block_count x stride: coefficients of chords covering a whole block */
    double *direct; /* chunk_rows x columns: stamped values, when some point is stamped (else NULL) */
} exact_rows;

/* Adds point p to rows [row_first, row_last] of the chunk starting at chunk_row0. */
/* ceil and floor for values well inside the range of long, without a library call (x86-64's baseline has no
 * rounding instruction). */
static inline long ceil_long(double v)
{
    long t = (long)v;
    return (double)t < v ? t + 1 : t;
}

static inline long floor_long(double v)
{
    long t = (long)v;
    return (double)t > v ? t - 1 : t;
}

/* The chord of row j: the first and last column whose centre is inside the disc (lo > hi when none). The square
 * root gives the ends to about 1e-12 of a cell; only when an end lies within 1e-6 of a cell centre is the exact
 * predicate asked, so every path agrees with inside_disc at a cost of one square root per row. */
static inline void chord(const hm_kde_grid *g, double x, double column, double dy2, double r2, double inverse_cell,
                         long *lo_out, long *hi_out)
{
    const double ambiguous = 1e-6;
    double half = sqrt(r2 - dy2) * inverse_cell;
    double first = column - 0.5 - half, last = column - 0.5 + half; /* cells i in [first, last] */
    long lo = ceil_long(first), hi = floor_long(last);
    double lo_gap = (double)lo - first, hi_gap = last - (double)hi;
    if (lo_gap < ambiguous || lo_gap > 1 - ambiguous) {
        while (inside_disc(g, lo - 1, x, dy2, r2)) lo--;
        while (lo <= hi && !inside_disc(g, lo, x, dy2, r2)) lo++;
    }
    if (hi_gap < ambiguous || hi_gap > 1 - ambiguous) {
        while (inside_disc(g, hi + 1, x, dy2, r2)) hi++;
        while (hi >= lo && !inside_disc(g, hi, x, dy2, r2)) hi--;
    }
    *lo_out = lo;
    *hi_out = hi;
}

/* Adds point p to rows [row_first, row_last] of the chunk starting at chunk_row0. m and stride are constants in
 * each specialised copy (see add_point). */
static inline __attribute__((always_inline)) void add_point_kernel(const exact_job *job, exact_rows *rows,
                                                                   long chunk_row0, const kde_point *p,
                                                                   long row_first, long row_last, const int m,
                                                                   const int stride)
{
    const hm_kde_grid *g = job->grid;
    const long columns = g->columns;
    const int shift = job->block_shift;
    const double c = g->cell_m, x = p->x, r = p->radius, r2 = r * r, w = p->weight;
    const double inverse_cell = 1 / c, inverse_r2 = 1 / r2;
    /* Polynomial path when B <= 8 r / c (4 r / c triweight; bounds the coefficients, see kde.h); stamping
     * otherwise. */
    const int polynomial = stride > 0 && job->block_radii * r >= (double)job->block * c;
    const double column = (x - g->x_min_m) / c; /* the point in cell units from the left edge */
    const double s2 = (c / r) * (c / r), origin = job->half_block + 0.5 - column;

    for (long j = row_first; j <= row_last; j++) {
        double dy = (g->y_max_m - ((double)j + 0.5) * c) - p->y;
        double dy2 = dy * dy;
        if (dy2 > r2) continue;
        long lo, hi;
        chord(g, x, column, dy2, r2, inverse_cell, &lo, &hi);
        if (lo < 0) lo = 0;
        if (hi > columns - 1) hi = columns - 1;
        if (lo > hi) continue;

        long row = j - chunk_row0;
        double *events = rows->events + row * (columns + 1) * (stride + 1);
        events[lo * (stride + 1) + stride] += 1;
        events[(hi + 1) * (stride + 1) + stride] -= 1;
        if (!polynomial) {
            double *direct = rows->direct + row * columns;
            for (long i = lo; i <= hi; i++) {
                double dx = (g->x_min_m + ((double)i + 0.5) * c) - x;
                double d2 = dx * dx + dy2;
                double value;
                if (m < 0) {
                    value = 1 - (1 - job->decay) * (sqrt(d2) / r);
                } else {
                    double t = 1 - d2 / r2;
                    value = m == 0 ? 1 : m == 1 ? t : m == 2 ? t * t : t * t * t;
                }
                direct[i] += w * value;
            }
            continue;
        }
        double *base = rows->base + row * job->block_count * stride;
        const double a = 1 - dy2 * inverse_r2;
        long first_block = lo >> shift, last_block = hi >> shift;
        /* dx / c at a block's origin, its middle column (t runs over [-(B - 1) / 2, (B - 1) / 2]) */
        double tau = (double)(first_block << shift) + origin;
        poly7 coefficient = power_coefficients(m, w, a - s2 * tau * tau, -2 * s2 * tau, -s2);
        poly_add(events + lo * (stride + 1), stride, coefficient);
        for (long b = first_block + 1; b <= last_block; b++) {
            tau = (double)(b << shift) + origin;
            coefficient = power_coefficients(m, w, a - s2 * tau * tau, -2 * s2 * tau, -s2);
            poly_add(base + b * stride, stride, coefficient);
        }
        if (hi + 1 < ((last_block + 1) << shift) && hi + 1 < columns)
            poly_subtract(events + (hi + 1) * (stride + 1), stride, coefficient);
    }
}

static void add_point(const exact_job *job, exact_rows *rows, long chunk_row0, const kde_point *p, long row_first,
                      long row_last)
{
    switch (job->power) {
    case 0: add_point_kernel(job, rows, chunk_row0, p, row_first, row_last, 0, 1); break;
    case 1: add_point_kernel(job, rows, chunk_row0, p, row_first, row_last, 1, 3); break;
    case 2: add_point_kernel(job, rows, chunk_row0, p, row_first, row_last, 2, 5); break;
    case 3: add_point_kernel(job, rows, chunk_row0, p, row_first, row_last, 3, 7); break;
    default: add_point_kernel(job, rows, chunk_row0, p, row_first, row_last, -1, 0); break;
    }
}

/* Sweeps one row: running coefficients per block, evaluated at every cell; clears the row's buffers. */
static inline __attribute__((always_inline)) void sweep_row_stride(const exact_job *job, exact_rows *rows, long row,
                                                                   long grid_row, const int stride)
{
    const hm_kde_grid *g = job->grid;
    const long columns = g->columns, block = job->block;
    const int width = stride + 1;
    double *events = rows->events + row * (columns + 1) * width;
    double *base = rows->base + row * job->block_count * stride;
    double *direct = rows->direct ? rows->direct + row * columns : NULL;
    hm_kde_raster *raster = job->raster;
    const unsigned char *mask = raster->mask ? raster->mask + grid_row * columns : NULL;
    float *out32 = raster->f32 ? raster->f32 + grid_row * columns : NULL;
    double *out64 = raster->f64 ? raster->f64 + grid_row * columns : NULL;
    long covered = 0;
    for (long b = 0; b * block < columns; b++) {
        poly7 running = {0, 0, 0, 0, 0, 0, 0};
        if (stride > 0) poly_take(&running, base + b * stride, stride);
        long end = (b + 1) * block < columns ? (b + 1) * block : columns;
        double t = -job->half_block;
        for (long i = b * block; i < end; i++, t += 1) {
            double value = 0, *event = events + i * width;
            if (direct) {
                value = direct[i];
                direct[i] = 0;
            }
            covered += (long)event[stride];
            event[stride] = 0;
            if (stride > 0) {
                poly_take(&running, event, stride);
                if (covered > 0) value += poly_value(&running, stride, t);
            }
            if (covered == 0) value = 0;
            else if (job->nonnegative && value < 0) value = 0; /* rounding below an exact zero */
            if (mask && !mask[i]) value = raster->nodata;
            if (out32) out32[i] = (float)value;
            else if (raster->accumulate) out64[i] += value;
            else out64[i] = value;
        }
    }
    events[columns * width + stride] = 0;
}

static void sweep_row(const exact_job *job, exact_rows *rows, long row, long grid_row)
{
    switch (job->stride) {
    case 0: sweep_row_stride(job, rows, row, grid_row, 0); break;
    case 1: sweep_row_stride(job, rows, row, grid_row, 1); break;
    case 3: sweep_row_stride(job, rows, row, grid_row, 3); break;
    case 5: sweep_row_stride(job, rows, row, grid_row, 5); break;
    default: sweep_row_stride(job, rows, row, grid_row, 7); break;
    }
}

static void *exact_worker(void *shared)
{
    exact_job *job = shared;
    const hm_kde_grid *g = job->grid;
    const long K = job->chunk_rows, columns = g->columns;
    exact_rows rows;
    rows.events = calloc((size_t)(K * (columns + 1) * (job->stride + 1)), sizeof(double));
    rows.base = calloc((size_t)(K * job->block_count * job->stride) + 1, sizeof(double));
    rows.direct = job->any_direct ? calloc((size_t)(K * columns), sizeof(double)) : NULL;
    if (!rows.events || !rows.base || (job->any_direct && !rows.direct)) {
        atomic_store(&job->failed, 1);
        goto done;
    }
    for (;;) {
        long chunk = atomic_fetch_add(&job->next_chunk, 1);
        if (chunk >= job->chunk_count || atomic_load(&job->failed)) break;
        long row0 = chunk * K, row_end = row0 + K < g->rows ? row0 + K : g->rows;
        long first_bucket = (row0 - job->span_rows + 1) / K;
        if (first_bucket < 0) first_bucket = 0;
        int touched = 0;
        for (size_t n = job->bucket[first_bucket]; n < job->bucket[chunk + 1]; n++) {
            const kde_point *p = &job->points[n];
            long first = point_first_row(g, p), last = point_last_row(g, p);
            if (last < row0) continue;
            add_point(job, &rows, row0, p, first > row0 ? first : row0, last < row_end - 1 ? last : row_end - 1);
            touched = 1;
        }
        /* Rows no kernel reaches are 0 everywhere: when accumulating, adding them would change nothing. */
        if (!touched && job->raster->accumulate) continue;
        for (long j = row0; j < row_end; j++) sweep_row(job, &rows, j - row0, j);
    }
done:
    free(rows.events);
    free(rows.base);
    free(rows.direct);
    return NULL;
}

static long exact_chunk_rows(const hm_kde_grid *grid, int stride)
{
    size_t per_row = (size_t)grid->columns * (size_t)(stride + 2) * sizeof(double);
    long rows = per_row ? (long)(HM_KDE_CHUNK_BYTES / per_row) : HM_KDE_CHUNK_ROWS;
    if (rows > HM_KDE_CHUNK_ROWS) rows = HM_KDE_CHUNK_ROWS;
    if (rows < 1) rows = 1;
    return rows;
}

static int exact_stride(hm_kernel kernel)
{
    int m = kernel_power(kernel);
    return m < 0 ? 0 : 2 * m + 1;
}

size_t hm_kde_exact_work_bytes(const hm_kde_params *params, size_t point_count, const hm_kde_grid *grid)
{
    int stride = exact_stride(params->kernel);
    long K = exact_chunk_rows(grid, stride);
    size_t per_thread = (size_t)K * (size_t)grid->columns * (size_t)(stride + 2) * sizeof(double);
    size_t chunks = (size_t)((grid->rows + K - 1) / K) + 2;
    return (size_t)resolve_threads(params->threads) * per_thread + point_count * sizeof(kde_point) +
           chunks * sizeof(size_t);
}

static int check_points(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points)
{
    if (!points->radius_m && (!(params->radius_m > 0) || !isfinite(params->radius_m)))
        return hm_error(ctx, HM_EINVAL, "radius %g m: must be a positive number of metres", params->radius_m);
    if ((unsigned)params->kernel > HM_KERNEL_EPANECHNIKOV)
        return hm_error(ctx, HM_EINVAL, "unknown kernel %d", (int)params->kernel);
    for (size_t n = 0; n < points->count; n++) {
        if (!isfinite(points->x_m[n]) || !isfinite(points->y_m[n]))
            return hm_error(ctx, HM_EINVAL, "point %zu: coordinates are not finite", n);
        if (!(points->weight[n] >= 0) || !isfinite(points->weight[n]))
            return hm_error(ctx, HM_EINVAL, "point %zu: weight %g must be a finite number >= 0", n, points->weight[n]);
        if (points->radius_m && (!(points->radius_m[n] > 0) || !isfinite(points->radius_m[n])))
            return hm_error(ctx, HM_EINVAL, "point %zu: radius %g m must be a positive number", n,
                            points->radius_m[n]);
    }
    return HM_OK;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int compare_point(const void *a, const void *b)
{
    const kde_point *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    if (p->weight != q->weight) return p->weight < q->weight ? -1 : 1;
    if (p->radius != q->radius) return p->radius < q->radius ? -1 : 1;
    return 0; /* the same point twice: either order adds the same numbers */
}

int hm_kde_exact(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points, const hm_kde_grid *grid,
                 hm_kde_raster *raster)
{
    if (check_points(ctx, params, points) != HM_OK) return hm_error_code(ctx);
    if (grid->columns < 1 || grid->rows < 1 || !(grid->cell_m > 0))
        return hm_error(ctx, HM_EINVAL, "empty grid (%ld x %ld cells)", grid->columns, grid->rows);
    if ((raster->f32 == NULL) == (raster->f64 == NULL))
        return hm_error(ctx, HM_EINTERNAL, "hm_kde_exact: exactly one of f32 and f64 must be given");
    if (raster->accumulate && (!raster->f64 || raster->mask))
        return hm_error(ctx, HM_EINTERNAL, "hm_kde_exact: accumulating needs f64 and no mask");
    if (params->kernel == HM_KERNEL_TRIANGULAR && params->output == HM_KDE_SCALED && !(params->decay > -0.5))
        return hm_error(ctx, HM_EINVAL,
                        "decay %g: a scaled triangular kernel needs decay > -0.5 (its integral is pi r^2 (1 + 2 "
                        "decay) / 3)",
                        params->decay);

    exact_job job;
    memset(&job, 0, sizeof job);
    job.grid = grid;
    job.raster = raster;
    job.kernel = params->kernel;
    job.decay = params->decay;
    job.power = kernel_power(params->kernel);
    job.stride = exact_stride(params->kernel);
    job.nonnegative = params->kernel != HM_KERNEL_TRIANGULAR || params->decay >= 0;
    job.chunk_rows = exact_chunk_rows(grid, job.stride);
    job.chunk_count = (grid->rows + job.chunk_rows - 1) / job.chunk_rows;

    /* Block width B from the typical radius (the median when points carry their own): about 4 r / c. */
    double typical_radius = params->radius_m;
    if (points->radius_m && points->count > 0) {
        double *sorted = malloc(points->count * sizeof *sorted);
        if (!sorted) return hm_error(ctx, HM_ENOMEM, "out of memory sorting %zu radii", points->count);
        memcpy(sorted, points->radius_m, points->count * sizeof *sorted);
        qsort(sorted, points->count, sizeof *sorted, compare_double);
        typical_radius = sorted[points->count / 2];
        free(sorted);
    }
    /* The largest power of two not above 8 r / c (4 r / c for the triweight, whose sixth powers magnify rounding
     * most), between 8 and 4096 columns. */
    job.block_radii = job.power == 3 ? 4 : 8;
    job.block_shift = 3;
    while (job.block_shift < 12 &&
           (double)(2L << job.block_shift) * grid->cell_m <= job.block_radii * typical_radius)
        job.block_shift++;
    job.block = 1L << job.block_shift;
    double block = (double)job.block;
    job.half_block = (block - 1) / 2;
    job.any_direct = job.stride == 0;
    for (size_t n = 0; n < points->count && !job.any_direct; n++) {
        double radius = points->radius_m ? points->radius_m[n] : params->radius_m;
        job.any_direct = !(job.block_radii * radius >= block * grid->cell_m);
    }
    job.block_count = (grid->columns + job.block - 1) / job.block;

    double scale_constant = params->output == HM_KDE_SCALED ? hm_kernel_disc_integral(params->kernel, params->decay)
                                                            : 0;
    kde_point *sorted = malloc((points->count + 1) * sizeof *sorted);
    size_t *bucket = calloc((size_t)job.chunk_count + 2, sizeof *bucket);
    long *first_chunk = malloc((points->count + 1) * sizeof *first_chunk);
    if (!sorted || !bucket || !first_chunk) {
        free(sorted);
        free(bucket);
        free(first_chunk);
        return hm_error(ctx, HM_ENOMEM, "out of memory for %zu points", points->count);
    }
    /* Counting sort of the points that reach the grid by the chunk of their first row, stable (input order). */
    double grid_x_max = grid->x_min_m + (double)grid->columns * grid->cell_m;
    for (size_t n = 0; n < points->count; n++) {
        kde_point p = {points->x_m[n], points->y_m[n], points->weight[n],
                       points->radius_m ? points->radius_m[n] : params->radius_m};
        first_chunk[n] = -1;
        long first = point_first_row(grid, &p), last = point_last_row(grid, &p);
        if (last < 0 || first >= grid->rows || p.x + p.radius < grid->x_min_m - grid->cell_m ||
            p.x - p.radius > grid_x_max + grid->cell_m)
            continue;
        if (first < 0) first = 0;
        if (last > grid->rows - 1) last = grid->rows - 1;
        if (last - first + 1 > job.span_rows) job.span_rows = last - first + 1;
        first_chunk[n] = first / job.chunk_rows;
        bucket[first_chunk[n] + 1]++;
    }
    for (long k = 0; k < job.chunk_count; k++) bucket[k + 1] += bucket[k];
    size_t *fill = calloc((size_t)job.chunk_count + 1, sizeof *fill);
    if (!fill) {
        free(sorted);
        free(bucket);
        free(first_chunk);
        return hm_error(ctx, HM_ENOMEM, "out of memory for %zu points", points->count);
    }
    memcpy(fill, bucket, ((size_t)job.chunk_count + 1) * sizeof *fill);
    for (size_t n = 0; n < points->count; n++) {
        if (first_chunk[n] < 0) continue;
        double radius = points->radius_m ? points->radius_m[n] : params->radius_m;
        double weight = points->weight[n];
        if (params->output == HM_KDE_SCALED) weight /= scale_constant * M_PI * radius * radius;
        sorted[fill[first_chunk[n]]++] = (kde_point){points->x_m[n], points->y_m[n], weight, radius};
    }
    free(fill);
    free(first_chunk);
    /* Within a bucket, points from west to east: consecutive points then touch neighbouring columns of the row
     * buffers, which stay in cache (in input order, every event is a cache miss: 20 s instead of 1 s for a
     * million points). The order is a function of the values alone, so it cannot depend on the thread count. */
    for (long k = 0; k < job.chunk_count; k++)
        qsort(sorted + bucket[k], bucket[k + 1] - bucket[k], sizeof *sorted, compare_point);
    job.points = sorted;
    job.bucket = bucket;
    atomic_init(&job.next_chunk, 0);
    atomic_init(&job.failed, 0);

    int threads = resolve_threads(params->threads);
    if (threads > job.chunk_count) threads = (int)job.chunk_count;
    run_threads(ctx, threads, exact_worker, &job);
    free(sorted);
    free(bucket);
    if (atomic_load(&job.failed))
        return hm_error(ctx, HM_ENOMEM, "out of memory for the row buffers of %d threads (%zu bytes)", threads,
                        hm_kde_exact_work_bytes(params, 0, grid));
    return HM_OK;
}

/* ---- QGIS 3.22 ---------------------------------------------------------------------------------------------- */

typedef struct qgis_bounds {
    double x_min, y_min, x_max, y_max;
} qgis_bounds;

static double points_max_radius(const hm_kde_params *params, const hm_kde_points *points)
{
    if (!points->radius_m) return params->radius_m;
    double radius = 0;
    for (size_t n = 0; n < points->count; n++)
        if (points->radius_m[n] > radius) radius = points->radius_m[n];
    return radius;
}

/* QgsKernelDensityEstimation::calculateBounds: the source extent grown by the (largest) radius. */
static qgis_bounds qgis_compute_bounds(const hm_kde_params *params, const hm_kde_points *points)
{
    qgis_bounds b = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    if (params->source_extent) {
        b.x_min = params->source_extent[0], b.y_min = params->source_extent[1];
        b.x_max = params->source_extent[2], b.y_max = params->source_extent[3];
    }
    for (size_t n = 0; n < points->count && !params->source_extent; n++) {
        if (points->x_m[n] < b.x_min) b.x_min = points->x_m[n];
        if (points->x_m[n] > b.x_max) b.x_max = points->x_m[n];
        if (points->y_m[n] < b.y_min) b.y_min = points->y_m[n];
        if (points->y_m[n] > b.y_max) b.y_max = points->y_m[n];
    }
    double radius = points_max_radius(params, points);
    b.x_min -= radius;
    b.y_min -= radius;
    b.x_max += radius;
    b.y_max += radius;
    return b;
}

int hm_kde_qgis_grid(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points, double pixel_m,
                     hm_kde_grid *out)
{
    if (!(pixel_m > 0) || !isfinite(pixel_m))
        return hm_error(ctx, HM_EINVAL, "pixel size %g: must be a positive number of metres", pixel_m);
    if (points->count == 0) return hm_error(ctx, HM_EINVAL, "no points: QGIS's grid is the points' extent");
    if (check_points(ctx, params, points) != HM_OK) return hm_error_code(ctx);
    qgis_bounds b = qgis_compute_bounds(params, points);
    double rows = fmax(ceil((b.y_max - b.y_min) / pixel_m) + 1, 1.0);
    double columns = fmax(ceil((b.x_max - b.x_min) / pixel_m) + 1, 1.0);
    if (rows > INT_MAX || columns > INT_MAX)
        return hm_error(ctx, HM_EINVAL, "a grid of %.0f x %.0f pixels of %g m is too large: use a larger --cell",
                        columns, rows, pixel_m);
    out->x_min_m = b.x_min;
    out->y_max_m = b.y_max;
    out->cell_m = pixel_m;
    out->columns = (long)columns;
    out->rows = (long)rows;
    return HM_OK;
}

/* QgsKernelDensityEstimation::radiusSizeInPixels, note "> 0.5" compares map units, not pixels. */
static int qgis_buffer(double radius, double pixel)
{
    int buffer = (int)(radius / pixel);
    if (radius - (pixel * buffer) > 0.5) ++buffer;
    return buffer;
}

/* The block QGIS writes for one point: position from its unsigned pixel arithmetic. */
typedef struct qgis_block {
    uint32_t x_position, y_position; /* y_position counts from the bottom: used for the sample centres */
    long x_offset, y_offset;         /* the window written (y from the top) */
    int size;
    int valid; /* 0 when GDALRasterIO would refuse the window: QGIS then changes nothing */
} qgis_block;

static uint32_t qgis_unsigned(double value)
{
    /* C++ converts double to unsigned int; x86-64 compilers truncate through a 64-bit integer, so -0.4 gives
     * 0 and -1.5 gives 4294967295. Written here with defined behaviour for the same result. */
    return (uint32_t)(uint64_t)(int64_t)value;
}

static qgis_block qgis_point_block(const qgis_bounds *b, const hm_kde_grid *g, double x, double y, double radius)
{
    qgis_block block;
    const double pixel = g->cell_m;
    int buffer = qgis_buffer(radius, pixel);
    block.size = 2 * buffer + 1;
    block.x_position = qgis_unsigned(((x - b->x_min) / pixel) - buffer);
    block.y_position = qgis_unsigned(((y - b->y_min) / pixel) - buffer);
    uint32_t y_position_io = qgis_unsigned(((b->y_max - y) / pixel) - buffer);
    /* GDALRasterIO takes int offsets: a value above INT_MAX arrives negative. */
    block.x_offset = block.x_position > INT_MAX ? (long)block.x_position - 4294967296L : (long)block.x_position;
    block.y_offset = y_position_io > INT_MAX ? (long)y_position_io - 4294967296L : (long)y_position_io;
    block.valid = block.x_offset >= 0 && block.y_offset >= 0 && block.x_offset + block.size <= g->columns &&
                  block.y_offset + block.size <= g->rows;
    return block;
}

static int qgis_contains(const qgis_bounds *b, double x, double y)
{
    return b->x_min <= x && x <= b->x_max && b->y_min <= y && y <= b->y_max;
}

typedef struct qgis_job {
    const hm_kde_params *params;
    const hm_kde_points *points;
    const hm_kde_grid *grid;
    qgis_bounds bounds;
    float *out;
    long band_rows;
    long band_count;
    const size_t *band_start; /* point indices of band k: list[band_start[k] .. band_start[k + 1] - 1] */
    const uint32_t *list;
    long max_block; /* the largest block side, for the per-thread dx^2 buffer */
    atomic_long next_band;
    atomic_int failed;
} qgis_job;

/* The exact predicate of qgskde.cpp: a sample is used unless sqrt(dx^2 + dy^2) > radius. */
static inline int qgis_inside(double dx2, double dy2, double radius)
{
    return !(sqrt(dx2 + dy2) > radius);
}

/* QGIS's raw kernel value from the squared distance s = dx^2 + dy^2, without the square root and division QGIS
 * spends on every sample: (d / r)^2 is taken as s / r^2. The two differ in the last bits of a double, far below
 * the float32 rounding of the cells (the parity tests find no cell that differs), and the samples used are still
 * chosen by QGIS's own predicate (qgis_inside). The triangular kernel needs d itself and is computed as QGIS does. */
static inline double qgis_kernel_squared(hm_kernel kernel, double decay, double s, double radius, double inverse_r2)
{
    double t = 1. - s * inverse_r2;
    switch (kernel) {
    case HM_KERNEL_QUARTIC: return t * t;
    case HM_KERNEL_TRIWEIGHT: return t * t * t;
    case HM_KERNEL_EPANECHNIKOV: return t;
    case HM_KERNEL_UNIFORM: return 1.0;
    case HM_KERNEL_TRIANGULAR: return 1. - (1. - decay) * (sqrt(s) / radius);
    }
    return 0;
}

/* Adds w * K to row[xp] for xp in [first, last], QGIS's way: float32 cells, nodata turned into 0 first, each
 * value computed in double and added to the float. Two cells at a time with SSE2 (IEEE operations: the same
 * bits as the scalar code). */
static inline __attribute__((always_inline)) void qgis_row_kernel(const hm_kernel kernel, double decay,
                                                                  const double *dx2, double dy2, double radius,
                                                                  double weight, float *row, long first, long last)
{
    const double inverse_r2 = 1. / (radius * radius);
    long xp = first;
#if defined(__SSE2__)
    const __m128d dy2v = _mm_set1_pd(dy2), radiusv = _mm_set1_pd(radius), one = _mm_set1_pd(1.0);
    const __m128d weightv = _mm_set1_pd(weight), slope = _mm_set1_pd(1. - decay), inverse = _mm_set1_pd(inverse_r2);
    const __m128 nodata = _mm_set1_ps((float)HM_KDE_NODATA);
    for (; xp + 1 <= last; xp += 2) {
        __m128d s = _mm_add_pd(_mm_loadu_pd(dx2 + xp), dy2v), k;
        __m128d t = _mm_sub_pd(one, _mm_mul_pd(s, inverse));
        switch (kernel) {
        case HM_KERNEL_QUARTIC: k = _mm_mul_pd(t, t); break;
        case HM_KERNEL_TRIWEIGHT: k = _mm_mul_pd(_mm_mul_pd(t, t), t); break;
        case HM_KERNEL_EPANECHNIKOV: k = t; break;
        case HM_KERNEL_UNIFORM: k = one; break;
        default: k = _mm_sub_pd(one, _mm_mul_pd(slope, _mm_div_pd(_mm_sqrt_pd(s), radiusv))); break;
        }
        __m128d value = _mm_mul_pd(weightv, k);
        /* The two floats at row + xp are only 4-byte aligned: moved through memcpy (one movsd), since reading them
         * as a double is undefined behaviour (UBSan: misaligned load in _mm_load_sd). */
        double pair;
        memcpy(&pair, row + xp, sizeof pair);
        __m128 cells = _mm_castpd_ps(_mm_set_sd(pair));
        cells = _mm_andnot_ps(_mm_cmpeq_ps(cells, nodata), cells);
        __m128 sum = _mm_cvtpd_ps(_mm_add_pd(_mm_cvtps_pd(cells), value));
        pair = _mm_cvtsd_f64(_mm_castps_pd(sum));
        memcpy(row + xp, &pair, sizeof pair);
    }
#endif
    for (; xp <= last; xp++) {
        double value = weight * qgis_kernel_squared(kernel, decay, dx2[xp] + dy2, radius, inverse_r2);
        if (row[xp] == (float)HM_KDE_NODATA) row[xp] = 0;
        row[xp] += value;
    }
}

/* One copy of the row loop per kernel, so that the kernel is a constant inside it. */
static void qgis_row(hm_kernel kernel, double decay, const double *dx2, double dy2, double radius, double weight,
                     float *row, long first, long last)
{
    switch (kernel) {
    case HM_KERNEL_QUARTIC: qgis_row_kernel(HM_KERNEL_QUARTIC, decay, dx2, dy2, radius, weight, row, first, last); break;
    case HM_KERNEL_TRIWEIGHT:
        qgis_row_kernel(HM_KERNEL_TRIWEIGHT, decay, dx2, dy2, radius, weight, row, first, last);
        break;
    case HM_KERNEL_EPANECHNIKOV:
        qgis_row_kernel(HM_KERNEL_EPANECHNIKOV, decay, dx2, dy2, radius, weight, row, first, last);
        break;
    case HM_KERNEL_UNIFORM: qgis_row_kernel(HM_KERNEL_UNIFORM, decay, dx2, dy2, radius, weight, row, first, last); break;
    default: qgis_row_kernel(HM_KERNEL_TRIANGULAR, decay, dx2, dy2, radius, weight, row, first, last); break;
    }
}

static void *qgis_worker(void *shared)
{
    qgis_job *job = shared;
    const hm_kde_grid *g = job->grid;
    const hm_kde_points *points = job->points;
    const hm_kernel kernel = job->params->kernel;
    const double decay = job->params->decay, pixel = g->cell_m;
    double *dx2 = malloc((size_t)job->max_block * sizeof *dx2);
    if (!dx2) {
        atomic_store(&job->failed, 1);
        return NULL;
    }
    for (;;) {
        long band = atomic_fetch_add(&job->next_band, 1);
        if (band >= job->band_count) break;
        long row0 = band * job->band_rows;
        long row_end = row0 + job->band_rows < g->rows ? row0 + job->band_rows : g->rows;
        for (long j = row0; j < row_end; j++)
            for (long i = 0; i < g->columns; i++) job->out[j * g->columns + i] = (float)HM_KDE_NODATA;
        for (size_t k = job->band_start[band]; k < job->band_start[band + 1]; k++) {
            size_t n = job->list[k];
            const double x = points->x_m[n], y = points->y_m[n], weight = points->weight[n];
            const double radius = points->radius_m ? points->radius_m[n] : job->params->radius_m;
            qgis_block block = qgis_point_block(&job->bounds, g, x, y, radius);
            long yp_first = row0 - block.y_offset, yp_end = row_end - block.y_offset;
            if (yp_first < 0) yp_first = 0;
            if (yp_end > block.size) yp_end = block.size;
            /* QGIS's sample columns are the same on every row of the block: their dx^2 once per point. */
            for (long xp = 0; xp < block.size; xp++) {
                double centre_x = ((double)(uint32_t)(block.x_position + (uint32_t)xp) + 0.5) * pixel +
                                  job->bounds.x_min;
                double dx = centre_x - x;
                dx2[xp] = dx * dx;
            }
            /* The column nearest the point, in block coordinates, to find each row's chord from. */
            const double centre = (x - job->bounds.x_min) / pixel - 0.5 - (double)block.x_position;
            for (long yp = yp_first; yp < yp_end; yp++) {
                double centre_y = ((double)(uint32_t)(block.y_position + (uint32_t)yp) + 0.5) * pixel +
                                  job->bounds.y_min;
                double dy = centre_y - y, dy2 = dy * dy;
                if (sqrt(dy2) > radius) continue; /* then every sample of the row is outside */
                /* The samples used form one run of columns (dx grows with xp): estimate its ends from the chord,
                 * then settle them with QGIS's own predicate. */
                double half = sqrt(fmax(radius * radius - dy2, 0)) / pixel;
                double lo_estimate = ceil(centre - half), hi_estimate = floor(centre + half);
                long last_column = block.size - 1;
                long lo = lo_estimate < 0 ? 0 : lo_estimate > (double)last_column ? last_column : (long)lo_estimate;
                long hi = hi_estimate < 0 ? 0 : hi_estimate > (double)last_column ? last_column : (long)hi_estimate;
                while (lo > 0 && qgis_inside(dx2[lo - 1], dy2, radius)) lo--;
                while (lo <= hi && !qgis_inside(dx2[lo], dy2, radius)) lo++;
                while (hi < last_column && qgis_inside(dx2[hi + 1], dy2, radius)) hi++;
                while (hi >= lo && !qgis_inside(dx2[hi], dy2, radius)) hi--;
                if (lo > hi) continue;
                float *row = job->out + (block.y_offset + yp) * g->columns + block.x_offset;
                qgis_row(kernel, decay, dx2, dy2, radius, weight, row, lo, hi);
            }
        }
    }
    free(dx2);
    return NULL;
}

static long qgis_band_rows(const hm_kde_params *params, const hm_kde_points *points, const hm_kde_grid *grid)
{
    long rows = 2L * qgis_buffer(points_max_radius(params, points), grid->cell_m) + 1;
    return rows < 32 ? 32 : rows;
}

size_t hm_kde_qgis_work_bytes(const hm_kde_params *params, size_t point_count, const hm_kde_grid *grid)
{
    (void)params;
    /* about three band entries per point at the band height chosen (one block plus a margin) */
    return 3 * point_count * sizeof(uint32_t) + (size_t)(grid->rows + 2) * sizeof(size_t);
}

int hm_kde_qgis(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points, const hm_kde_grid *grid,
                hm_kde_raster *raster, size_t *dropped)
{
    if (dropped) *dropped = 0;
    if (!raster->f32) return hm_error(ctx, HM_EINTERNAL, "hm_kde_qgis writes float32 only, as QGIS does");
    if (params->output != HM_KDE_RAW)
        return hm_error(ctx, HM_EINVAL,
                        "--compat qgis gives raw values only: QGIS 3.22's scaled quartic is 7.25 times too large "
                        "(fixed upstream in 2025); use the default exact mode for a scaled surface");
    if (points->count > UINT32_MAX) return hm_error(ctx, HM_EINVAL, "more than 2^32 points in --compat qgis");
    if (check_points(ctx, params, points) != HM_OK) return hm_error_code(ctx);
    hm_kde_grid expected;
    if (hm_kde_qgis_grid(ctx, params, points, grid->cell_m, &expected) != HM_OK) return hm_error_code(ctx);
    if (expected.columns != grid->columns || expected.rows != grid->rows)
        return hm_error(ctx, HM_EINTERNAL, "hm_kde_qgis: the grid is not QGIS's for these points");

    qgis_job job;
    memset(&job, 0, sizeof job);
    job.params = params;
    job.points = points;
    job.grid = grid;
    job.bounds = qgis_compute_bounds(params, points);
    job.out = raster->f32;
    job.band_rows = qgis_band_rows(params, points, grid);
    job.band_count = (grid->rows + job.band_rows - 1) / job.band_rows;
    size_t *band_start = calloc((size_t)job.band_count + 2, sizeof *band_start);
    if (!band_start) return hm_error(ctx, HM_ENOMEM, "out of memory for %ld bands", job.band_count);
    /* Two passes over the points: count the entries of each band, then list point indices in input order. */
    size_t skipped = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *list = NULL;
        size_t *fill = NULL;
        if (pass == 1) {
            for (long k = 0; k < job.band_count; k++) band_start[k + 1] += band_start[k];
            list = malloc((band_start[job.band_count] + 1) * sizeof *list);
            fill = malloc(((size_t)job.band_count + 1) * sizeof *fill);
            if (!list || !fill) {
                free(list);
                free(fill);
                free(band_start);
                return hm_error(ctx, HM_ENOMEM, "out of memory listing %zu points by band", points->count);
            }
            memcpy(fill, band_start, (size_t)job.band_count * sizeof *fill);
            job.list = list;
        }
        for (size_t n = 0; n < points->count; n++) {
            double x = points->x_m[n], y = points->y_m[n];
            double radius = points->radius_m ? points->radius_m[n] : params->radius_m;
            if (!qgis_contains(&job.bounds, x, y)) continue;
            qgis_block block = qgis_point_block(&job.bounds, grid, x, y, radius);
            if (!block.valid) {
                if (pass == 0) skipped++;
                continue;
            }
            long first = block.y_offset / job.band_rows, last = (block.y_offset + block.size - 1) / job.band_rows;
            for (long k = first; k <= last; k++) {
                if (pass == 0) band_start[k + 1]++;
                else list[fill[k]++] = (uint32_t)n;
            }
        }
        free(fill);
    }
    job.band_start = band_start;
    job.max_block = 2L * qgis_buffer(points_max_radius(params, points), grid->cell_m) + 1;
    atomic_init(&job.next_band, 0);
    atomic_init(&job.failed, 0);
    int threads = resolve_threads(params->threads);
    if (threads > job.band_count) threads = (int)job.band_count;
    run_threads(ctx, threads, qgis_worker, &job);
    free((void *)job.list);
    free(band_start);
    if (atomic_load(&job.failed)) return hm_error(ctx, HM_ENOMEM, "out of memory for the QGIS mode's row buffers");
    if (dropped) *dropped = skipped;
    return HM_OK;
}

/* ---- bandwidth rules -------------------------------------------------------------------------------------- */

typedef struct weighted_moments {
    double weight_sum, weight_square_sum, mean_x, mean_y, variance_x, variance_y;
} weighted_moments;

static int moments(hm_ctx *ctx, const hm_kde_points *points, weighted_moments *out)
{
    memset(out, 0, sizeof *out);
    for (size_t n = 0; n < points->count; n++) {
        out->weight_sum += points->weight[n];
        out->weight_square_sum += points->weight[n] * points->weight[n];
    }
    if (points->count < 2 || !(out->weight_sum > 0))
        return hm_error(ctx, HM_EINVAL,
                        "a bandwidth rule needs at least two points with positive weight (%zu points, total weight "
                        "%g): give --radius METRES",
                        points->count, out->weight_sum);
    /* Centre on the first point before summing, so that BNG coordinates (1e5 m) do not cancel. */
    double x0 = points->x_m[0], y0 = points->y_m[0], sx = 0, sy = 0;
    for (size_t n = 0; n < points->count; n++) {
        sx += points->weight[n] * (points->x_m[n] - x0);
        sy += points->weight[n] * (points->y_m[n] - y0);
    }
    double mx = sx / out->weight_sum, my = sy / out->weight_sum, vx = 0, vy = 0;
    for (size_t n = 0; n < points->count; n++) {
        double dx = points->x_m[n] - x0 - mx, dy = points->y_m[n] - y0 - my;
        vx += points->weight[n] * dx * dx;
        vy += points->weight[n] * dy * dy;
    }
    out->mean_x = x0 + mx;
    out->mean_y = y0 + my;
    out->variance_x = vx / out->weight_sum;
    out->variance_y = vy / out->weight_sum;
    if (!(out->variance_x + out->variance_y > 0))
        return hm_error(ctx, HM_EINVAL, "a bandwidth rule needs points at more than one place: give --radius METRES");
    return HM_OK;
}

int hm_kde_bandwidth_silverman(hm_ctx *ctx, const hm_kde_points *points, hm_kernel kernel, double decay,
                               double *radius_m)
{
    weighted_moments m;
    if (moments(ctx, points, &m) != HM_OK) return hm_error_code(ctx);
    double sigma = sqrt((m.variance_x + m.variance_y) / 2);
    double effective_n = m.weight_sum * m.weight_sum / m.weight_square_sum;
    *radius_m = hm_kernel_silverman_factor(kernel, decay) * sigma * pow(effective_n, -1.0 / 6.0);
    return HM_OK;
}

typedef struct distance_weight {
    double distance, weight;
} distance_weight;

static int compare_distance(const void *a, const void *b)
{
    double x = ((const distance_weight *)a)->distance, y = ((const distance_weight *)b)->distance;
    return (x > y) - (x < y);
}

int hm_kde_bandwidth_arcgis(hm_ctx *ctx, const hm_kde_points *points, double *radius_m)
{
    weighted_moments m;
    if (moments(ctx, points, &m) != HM_OK) return hm_error_code(ctx);
    double standard_distance = sqrt(m.variance_x + m.variance_y);
    distance_weight *d = malloc(points->count * sizeof *d);
    if (!d) return hm_error(ctx, HM_ENOMEM, "out of memory for %zu distances", points->count);
    for (size_t n = 0; n < points->count; n++) {
        d[n].distance = hypot(points->x_m[n] - m.mean_x, points->y_m[n] - m.mean_y);
        d[n].weight = points->weight[n];
    }
    qsort(d, points->count, sizeof *d, compare_distance);
    /* Weighted median; with equal weights and an even count, the mean of the two middle distances. */
    double half = m.weight_sum / 2, cumulative = 0, median = d[points->count - 1].distance;
    for (size_t n = 0; n < points->count; n++) {
        cumulative += d[n].weight;
        if (cumulative > half) {
            median = d[n].distance;
            break;
        }
        if (cumulative == half) {
            size_t next = n + 1;
            while (next < points->count && d[next].weight == 0) next++;
            median = next < points->count ? (d[n].distance + d[next].distance) / 2 : d[n].distance;
            break;
        }
    }
    free(d);
    *radius_m = 0.9 * fmin(standard_distance, sqrt(1 / log(2.0)) * median) * pow(m.weight_sum, -0.2);
    if (!(*radius_m > 0))
        return hm_error(ctx, HM_EINVAL, "the ArcGIS rule gave a radius of %g m (half the points at one place?): "
                                        "give --radius METRES", *radius_m);
    return HM_OK;
}
