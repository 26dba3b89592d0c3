/*
 * bench_pip.c - how fast hm_pip_index_locate places points, against GEOS prepared geometries behind an STRtree
 * (what a GEOS-based geocoder would do), on one core. Built with the tests, never run by ctest:
 *
 *     build/tests/bench_pip [POINTS]        (default 2,000,000; $HM_REAL_DATA overrides the real data folder)
 *
 * Two boundary sets: the real Birmingham census wards (40 polygons) and a synthetic tiling of 400 wards with
 * about 95,000 vertices over 60 km x 40 km (the size of a police force area). Points are uniform over each
 * set's extent, generated before the clock starts.
 */
#include "boundary_fixtures.h"
#include "pip.h"

#include <time.h>

#ifndef HM_REAL_DATA_DEFAULT
#define HM_REAL_DATA_DEFAULT "../shared/data/real"
#endif

static double clock_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now_seconds(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

typedef struct strtree_query {
    GEOSContextHandle_t geos;
    const GEOSPreparedGeometry **prepared;
    const GEOSGeometry *point;
    long found;
} strtree_query;

static void strtree_visit(void *item, void *userdata)
{
    strtree_query *query = userdata;
    long i = (long)(intptr_t)item - 1;
    if ((query->found < 0 || i < query->found) &&
        GEOSPreparedContains_r(query->geos, query->prepared[i], query->point))
        query->found = i;
}

/* Points per second of GEOS prepared Contains with an STRtree of the polygons' envelopes. */
static double geos_rate(const hm_boundary_set *set, const double *xy, size_t count)
{
    GEOSContextHandle_t geos = GEOS_init_r();
    size_t n = hm_boundaries_count(set);
    const GEOSPreparedGeometry **prepared = calloc(n, sizeof *prepared);
    GEOSSTRtree *tree = GEOSSTRtree_create_r(geos, 10);
    for (size_t i = 0; i < n; i++) {
        prepared[i] = GEOSPrepare_r(geos, hm_boundaries_geometry(set, i));
        GEOSSTRtree_insert_r(geos, tree, hm_boundaries_geometry(set, i), (void *)(intptr_t)(i + 1));
    }
    /* Prepare lazily builds its index on first use: warm up every polygon before timing. */
    for (size_t i = 0; i < count && i < 20000; i++) {
        GEOSGeometry *point = GEOSGeom_createPointFromXY_r(geos, xy[2 * i], xy[2 * i + 1]);
        strtree_query query = {geos, prepared, point, -1};
        GEOSSTRtree_query_r(geos, tree, point, strtree_visit, &query);
        GEOSGeom_destroy_r(geos, point);
    }
    double start = now_seconds();
    long checksum = 0;
    for (size_t i = 0; i < count; i++) {
        GEOSGeometry *point = GEOSGeom_createPointFromXY_r(geos, xy[2 * i], xy[2 * i + 1]);
        strtree_query query = {geos, prepared, point, -1};
        GEOSSTRtree_query_r(geos, tree, point, strtree_visit, &query);
        checksum += query.found;
        GEOSGeom_destroy_r(geos, point);
    }
    double seconds = now_seconds() - start;
    GEOSSTRtree_destroy_r(geos, tree);
    for (size_t i = 0; i < n; i++) GEOSPreparedGeom_destroy_r(geos, prepared[i]);
    free(prepared);
    GEOS_finish_r(geos);
    return checksum == -1 ? 0 : (double)count / seconds;
}

static int bench(const char *label, const char *path, size_t count)
{
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    hm_boundary_set *set = NULL;
    hm_pip_index *index = NULL;
    if (hm_boundaries_load(ctx, path, NULL, &set) != HM_OK) {
        fprintf(stderr, "bench_pip: %s\n", hm_error_message(ctx));
        hm_ctx_destroy(ctx);
        return 1;
    }
    double start = now_seconds();
    if (hm_pip_index_build(ctx, set, &index) != HM_OK) {
        fprintf(stderr, "bench_pip: %s\n", hm_error_message(ctx));
        return 1;
    }
    double build_seconds = now_seconds() - start;
    size_t vertices = 0;
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    for (size_t i = 0; i < hm_boundaries_count(set); i++)
        vertices += (size_t)GEOSGetNumCoordinates_r(geos, hm_boundaries_geometry(set, i));
    double x0, y0, x1, y1;
    hm_boundaries_extent(set, &x0, &y0, &x1, &y1);
    double *xy = malloc(sizeof(double) * 2 * count);
    if (!xy) return 1;
    uint64_t seed = 2024;
    for (size_t i = 0; i < count; i++) {
        xy[2 * i] = x0 + fixture_uniform(&seed) * (x1 - x0);
        xy[2 * i + 1] = y0 + fixture_uniform(&seed) * (y1 - y0);
    }
    size_t placed = 0;
    double best = 1e30, best_cpu = 1e30;
    for (int run = 0; run < 5; run++) { /* best of five: the machines are shared */
        placed = 0;
        start = now_seconds();
        double start_cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        for (size_t i = 0; i < count; i++) placed += hm_pip_index_locate(index, xy[2 * i], xy[2 * i + 1]) >= 0;
        double seconds = now_seconds() - start, cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start_cpu;
        if (seconds < best) best = seconds;
        if (cpu < best_cpu) best_cpu = cpu;
    }
    size_t geos_count = count < 200000 ? count : 200000;
    double geos_points_per_second = geos_rate(set, xy, geos_count);
    printf("%s: %zu polygons, %zu vertices; index built in %.1f ms\n", label, hm_boundaries_count(set), vertices,
           1e3 * build_seconds);
    printf("  hm_pip_index_locate: %zu points in %.3f s = %.2f million points/s (%.1f%% placed); on CPU time "
           "%.2f million points/s\n",
           count, best, (double)count / best / 1e6, 100.0 * (double)placed / (double)count,
           (double)count / best_cpu / 1e6);
    printf("  GEOS STRtree + prepared Contains: %.2f million points/s (%zu points); ratio %.0fx\n", geos_points_per_second / 1e6,
           geos_count, (double)count / best / geos_points_per_second);
    free(xy);
    hm_pip_index_destroy(index);
    hm_boundaries_destroy(set);
    hm_ctx_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 2000000;
    if (count == 0) count = 2000000;
    printf("bench_pip: %zu random points per boundary set, one thread\n", count);
    int status = 0;
    const char *real = getenv("HM_REAL_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/wards-census-merged-2011/E08000025.geojson",
             real && real[0] ? real : HM_REAL_DATA_DEFAULT);
    if (access(path, R_OK) == 0) status |= bench("Birmingham census wards (real)", path, count);
    else printf("Birmingham census wards: %s not found, skipped\n", path);

    char *folder = fixture_folder("bench-pip");
    char *tiling = folder ? fixture_path(folder, "tiling-400.geojson") : NULL;
    const fixture_tiling t = {.columns = 20, .rows = 20, .inner_points = 58, .x0 = 380000, .y0 = 260000,
                              .width = 60000, .height = 40000, .seed = 11};
    if (!tiling || fixture_write_tiling(tiling, &t) != 0) {
        fprintf(stderr, "bench_pip: cannot write the synthetic tiling\n");
        return 1;
    }
    status |= bench("synthetic tiling, 400 wards over 60 km x 40 km", tiling, count);
    fixture_remove_folder(folder);
    free(tiling);
    free(folder);
    return status;
}
