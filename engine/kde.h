/*
 * kde.h - kernel density on a grid: pure computation from arrays of points and weights to a raster.
 *
 * Two surfaces are computed here, both exactly (no binning, no FFT):
 *
 * 1. hm_kde_exact: the kernel sum at the true centre of every cell of a grid aligned to whole multiples of the
 *    cell size,
 *        value(cell) = sum over points p with d <= r_p of  w_p * s_p * K(d / r_p),
 *    where d is the distance from the point to the cell centre, K is the kernel profile (hm_kernel_profile) and
 *    s_p is 1 for raw output or 1 / (C_K * pi * r_p^2) for scaled output, C_K * pi * r^2 being the kernel's
 *    integral over the disc of radius r (hm_kernel_disc_integral), so that a scaled surface integrates to the
 *    total weight. A cell centre is (x_min + (i + 0.5) * cell, y_max - (j + 0.5) * cell), computed in that order
 *    in double precision, and "d <= r" is decided as dx * dx + dy * dy <= r * r on those numbers: references
 *    that do the same agree with this module even for points exactly at distance r.
 *
 *    The fast part. Inside the disc the quartic family (uniform, Epanechnikov, quartic, triweight) is a
 *    polynomial in dx and dy: along one grid row, K = (A - (dx / r)^2)^m with A = 1 - (dy / r)^2 is a polynomial
 *    of degree 2m in the column index. So a point adds, per row it touches, its polynomial's coefficients at the
 *    first column of its chord and subtracts them after the last ("polynomial difference array"); a sweep along
 *    the row keeps a running sum of coefficients and evaluates it at every cell. The cost per point is
 *    proportional to the number of rows of its disc, not to its area (about 100 rows instead of 7,850 cells for
 *    500 m at 10 m), and the grid is swept once.
 *
 *    Precision. Written naively, in one coordinate along a 6,000-column row, these coefficients cancel
 *    catastrophically (terms of (6000 cells)^4 cancelling to (50 cells)^4) and the running sum drags the rounding
 *    of every point that has ended along the rest of the row. So the row is cut into blocks of B columns (a power
 *    of two, at most 8 radii, 4 for the triweight); each block has its own origin, its middle column, the
 *    coefficients of a chord are expressed relative to it, and the running sum restarts at every block (chords
 *    that cover a block entirely add to the block's base coefficients). Every term of a polynomial at a cell is
 *    then a small multiple of the kernel's peak, nothing is carried further than one block, and the result agrees
 *    with a brute-force double-precision sum to about 1e-13 (quartic) and 1e-12 (triweight) of the maximum,
 *    whatever the coordinates (tests/unit/test_kde.c requires 1e-9, on British National Grid coordinates and
 *    6,000-column rows). Each chord's coverage is counted too, so cells no kernel reaches are exactly 0.
 *    The triangular kernel, 1 - (1 - decay) d / r, is not a polynomial in dx; it, and points too small for the
 *    blocks (radius under B / 8 cells, B / 4 for the triweight; B is at least 8), are added cell by cell
 *    ("stamped") into the same rows.
 *
 *    Threads. The grid is processed in chunks of rows; a chunk is computed by one thread from all points that
 *    reach it, in a fixed order (points sorted by their first chunk, then from west to east, which keeps the row
 *    buffers in cache), and every row is swept in the same order. Which thread computes which chunk cannot change a single bit of the result, so any thread count
 *    gives byte-identical output.
 *
 * 2. hm_kde_qgis: the raster QGIS 3.22's "Heatmap (Kernel Density Estimation)" (src/analysis/raster/qgskde.cpp)
 *    writes: the grid is the layer's extent grown by the radius, origin at its top left, ceil(size / pixel) + 1
 *    columns and rows; each point stamps a square block of 2 * buffer + 1 cells (buffer = radius / pixel
 *    truncated, plus one when the remainder exceeds 0.5 of a map unit) whose position comes from truncated
 *    (unsigned) pixel arithmetic, with sample centres counted upwards from the bottom of the grid while the block
 *    is written downwards from the top; a sample is used unless sqrt(dx^2 + dy^2) > radius (QGIS's own test,
 *    applied at the ends of each row's run of samples); values accumulate in float32, point after point in input
 *    order; cells no point reaches keep the nodata value -9999; a point whose block does not fit inside the raster
 *    is dropped (GDALRasterIO refuses the window). One liberty: the kernel is computed from the squared distance
 *    (1 - s / r^2 instead of 1 - (sqrt(s) / r)^2), which removes a square root and a division per sample and
 *    changes the double-precision value in its last bits only; on every test (synthetic points with every
 *    kernel, the bundled sample, a real month of data.police.uk) no float32 cell differs from qgis_process's.
 *    Raw values only: QGIS's "scaled" quartic, up to 3.40, is 7.25 times too large and is not reproduced.
 *    Threads each own bands of rows and visit the points in input order, so the float32 sums are the same for
 *    any thread count.
 */
#ifndef HM_KDE_H
#define HM_KDE_H

#include "context.h"

#include <stddef.h>

/* Kernel profiles as QGIS defines them, u = d / r in [0, 1]:
 * quartic (1 - u^2)^2, triangular 1 - (1 - decay) u, uniform 1, triweight (1 - u^2)^3, Epanechnikov 1 - u^2.
 * The order is QGIS's (its KERNEL enum in qgis:heatmapkerneldensityestimation). */
typedef enum hm_kernel {
    HM_KERNEL_QUARTIC = 0,
    HM_KERNEL_TRIANGULAR = 1,
    HM_KERNEL_UNIFORM = 2,
    HM_KERNEL_TRIWEIGHT = 3,
    HM_KERNEL_EPANECHNIKOV = 4
} hm_kernel;

typedef enum hm_kde_output {
    HM_KDE_RAW = 0,   /* sum of w * K(d / r) */
    HM_KDE_SCALED = 1 /* each kernel divided by its integral over the disc: the surface integrates to sum of w */
} hm_kde_output;

/* The revision of hm_kde_exact's arithmetic: raise it with any change that can alter a single bit of its output,
 * so that sums kept by an earlier build (density.c, --accumulator) are not continued by this one. */
#define HM_KDE_EXACT_REVISION 1

/* Nodata value of both modes (QGIS's). */
#define HM_KDE_NODATA (-9999.0)

/* Name ("quartic", ...) and lookup; hm_kernel_from_name returns -1 for an unknown name. */
const char *hm_kernel_name(hm_kernel kernel);
int hm_kernel_from_name(const char *name);

/* K(u) for u in [0, 1] (0 outside). decay is used by the triangular kernel only. */
double hm_kernel_profile(hm_kernel kernel, double decay, double u);

/* The integral of K(d / r) over the disc of radius r, divided by pi r^2 (C_K above):
 * uniform 1, quartic 1/3, triweight 1/4, Epanechnikov 1/2, triangular (1 + 2 decay) / 3. */
double hm_kernel_disc_integral(hm_kernel kernel, double decay);

/* A human-readable formula of the kernel and its scaling, for metadata and the README. */
const char *hm_kernel_formula(hm_kernel kernel);

/* A north-up grid: cell (i, j), i = column from the left, j = row from the top. */
typedef struct hm_kde_grid {
    double x_min_m;
    double y_max_m;
    double cell_m;
    long columns;
    long rows;
} hm_kde_grid;

/* The grid covering [x_min, x_max] x [y_min, y_max] widened outwards to whole multiples of cell_m. Fails
 * (HM_EINVAL) when the cell is not positive or the grid would have more than 2^31 - 1 columns or rows. */
int hm_kde_grid_aligned(hm_ctx *ctx, double x_min_m, double y_min_m, double x_max_m, double y_max_m, double cell_m,
                        hm_kde_grid *out);

/* Points: coordinates, weights (finite, >= 0) and optionally one radius per point (NULL: params->radius_m). */
typedef struct hm_kde_points {
    const double *x_m;
    const double *y_m;
    const double *weight;
    const double *radius_m;
    size_t count;
} hm_kde_points;

typedef struct hm_kde_params {
    hm_kernel kernel;
    double decay; /* triangular kernel only; QGIS's default is 0 */
    hm_kde_output output;
    double radius_m; /* used when points->radius_m is NULL */
    int threads;     /* <= 0: the number of online processors */
    /* QGIS mode only: the extent QGIS reads from the layer (xmin, ymin, xmax, ymax), which is not always the
     * points' bounding box (GDAL reports a GeoPackage's extent from gpkg_contents through SQLite's text form of a
     * REAL, 15 significant digits); NULL: the points' bounding box. */
    const double *source_extent;
} hm_kde_params;

/* The destination of a surface: rows * columns values, row 0 at the top, in float32 or float64 (exactly one of
 * f32, f64 non-NULL). mask, when not NULL, has one byte per cell: 0 marks a cell outside the area of interest,
 * which receives nodata. */
typedef struct hm_kde_raster {
    float *f32;
    double *f64;
    const unsigned char *mask;
    double nodata;
    /* hm_kde_exact, f64 without a mask only: add each cell's value to what f64 holds instead of storing it. The
     * value added is the very double the surface would have on its own, so a surface summed batch by batch is
     * the same, bit for bit, however the sum is split across runs, as long as the batches are added in the same
     * order (density.c keeps such sums between runs). */
    int accumulate;
} hm_kde_raster;

/* The exact surface on `grid` (see above). Points outside the grid count where their kernels reach in. */
int hm_kde_exact(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points, const hm_kde_grid *grid,
                 hm_kde_raster *raster);

/* Bytes hm_kde_exact needs besides the raster and the points (sorted copy of the points, per-thread row buffers). */
size_t hm_kde_exact_work_bytes(const hm_kde_params *params, size_t point_count, const hm_kde_grid *grid);

/* QGIS 3.22's grid for these points and radius (the largest radius when points carry their own). */
int hm_kde_qgis_grid(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points, double pixel_m,
                     hm_kde_grid *out);

/* QGIS 3.22's heatmap on the grid from hm_kde_qgis_grid, into raster->f32 (float32 only; raw output only).
 * *dropped, when not NULL, receives the number of points QGIS would have dropped (block outside the raster). */
int hm_kde_qgis(hm_ctx *ctx, const hm_kde_params *params, const hm_kde_points *points, const hm_kde_grid *grid,
                hm_kde_raster *raster, size_t *dropped);

size_t hm_kde_qgis_work_bytes(const hm_kde_params *params, size_t point_count, const hm_kde_grid *grid);

/* Bandwidth rules, from the points (weights as frequencies). Both report the radius of support of `kernel`.
 *
 * Silverman (1986, "Density Estimation", eq. 4.14 and table 4.1): r = A(K) * sigma * n^(-1/6), with
 * sigma^2 = (var x + var y) / 2 and A(K) = (4 pi R(K) / k2^2)^(1/6) for the kernel scaled to unit support and
 * integral (R(K) = integral of K^2, k2 = integral of x1^2 K): 2.40 Epanechnikov, 2.78 quartic, 3.12 triweight
 * (Silverman's table), 2.00 uniform, 2.54 triangular (decay 0). n is Kish's effective sample size
 * (sum w)^2 / sum w^2, which is the number of points when all weights are equal.
 *
 * ArcGIS Pro's default search radius (Kernel Density, "How Kernel Density works"):
 * r = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n^(-0.2), SD the (weighted) standard distance from the (weighted)
 * mean centre, Dm the (weighted) median distance from it, n the sum of the weights (the number of points when
 * weights are counts), as ArcGIS does with a population field. */
int hm_kde_bandwidth_silverman(hm_ctx *ctx, const hm_kde_points *points, hm_kernel kernel, double decay,
                               double *radius_m);
int hm_kde_bandwidth_arcgis(hm_ctx *ctx, const hm_kde_points *points, double *radius_m);
/* Silverman's A(K) for d = 2 (see above). */
double hm_kernel_silverman_factor(hm_kernel kernel, double decay);

#endif
