/* Unit tests for pip.c: answers identical to GEOS prepared geometries on random points (real wards and a
 * synthetic tiling), one polygon per boundary point whatever the feature order, holes, multipolygons,
 * overlaps, outside points, nearest-polygon snapping and reads from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "boundary_fixtures.h"
#include "pip.h"

#include <pthread.h>
#include <string.h>

typedef struct loaded {
    hm_ctx *ctx;
    hm_boundary_set *set;
    hm_pip_index *index;
} loaded;

static loaded load(const char *path)
{
    loaded l = {hm_ctx_create(), NULL, NULL};
    assert_non_null(l.ctx);
    hm_ctx_set_verbosity(l.ctx, HM_QUIET);
    if (hm_boundaries_load(l.ctx, path, NULL, &l.set) != HM_OK) fail_msg("%s", hm_error_message(l.ctx));
    if (hm_pip_index_build(l.ctx, l.set, &l.index) != HM_OK) fail_msg("%s", hm_error_message(l.ctx));
    return l;
}

static void unload(loaded *l)
{
    l->index = hm_pip_index_destroy(l->index);
    l->set = hm_boundaries_destroy(l->set);
    l->ctx = hm_ctx_destroy(l->ctx);
}

/* The code at index i, or "-" for -1, to compare answers across sets with different feature orders. */
static const char *code_or_dash(const loaded *l, long i)
{
    return i < 0 ? "-" : hm_boundaries_code(l->set, (size_t)i);
}

/* Writes text to a fresh file in folder and returns its path (malloc'd). */
static char *write_file(const char *folder, const char *name, const char *text)
{
    char *path = fixture_path(folder, name);
    assert_int_equal(fixture_write_text(path, text), 0);
    return path;
}

#define GEOJSON_HEAD                                                                                         \
    "{\"type\":\"FeatureCollection\",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"                    \
    "\"urn:ogc:def:crs:EPSG::27700\"}},\"features\":["
#define FEATURE(code, geometry_type, coordinates)                                                            \
    "{\"type\":\"Feature\",\"properties\":{\"code\":\"" code "\"},\"geometry\":{\"type\":\"" geometry_type  \
    "\",\"coordinates\":" coordinates "}}"
#define SQUARE_RING(x0, y0, x1, y1)                                                                          \
    "[[" #x0 "," #y0 "],[" #x1 "," #y0 "],[" #x1 "," #y1 "],[" #x0 "," #y1 "],[" #x0 "," #y0 "]]"

/* ---- GEOS as the reference -------------------------------------------------------------------------------- */

typedef struct reference {
    GEOSContextHandle_t geos;
    size_t count;
    const GEOSPreparedGeometry **prepared;
    double (*boxes)[4];
} reference;

static reference reference_create(const loaded *l)
{
    reference r = {GEOS_init_r(), hm_boundaries_count(l->set), NULL, NULL};
    r.prepared = calloc(r.count, sizeof *r.prepared);
    r.boxes = calloc(r.count, sizeof *r.boxes);
    assert_non_null(r.prepared);
    assert_non_null(r.boxes);
    for (size_t i = 0; i < r.count; i++) {
        const GEOSGeometry *g = hm_boundaries_geometry(l->set, i);
        r.prepared[i] = GEOSPrepare_r(r.geos, g);
        GEOSGeom_getXMin_r(r.geos, g, &r.boxes[i][0]);
        GEOSGeom_getYMin_r(r.geos, g, &r.boxes[i][1]);
        GEOSGeom_getXMax_r(r.geos, g, &r.boxes[i][2]);
        GEOSGeom_getYMax_r(r.geos, g, &r.boxes[i][3]);
    }
    return r;
}

static void reference_destroy(reference *r)
{
    for (size_t i = 0; i < r->count; i++) GEOSPreparedGeom_destroy_r(r->geos, r->prepared[i]);
    free(r->prepared);
    free(r->boxes);
    GEOS_finish_r(r->geos);
}

/* Checks the index's answer at (x, y) against GEOS. Away from boundaries it must be the (lowest) polygon that
 * contains the point; on a boundary, one of the polygons the point touches (or none). Returns 1 when the point
 * is on a boundary. */
static int reference_check(const reference *r, const loaded *l, double x, double y)
{
    long answer = hm_pip_index_locate(l->index, x, y);
    GEOSGeometry *point = GEOSGeom_createPointFromXY_r(r->geos, x, y);
    long first_containing = -1;
    int containing = 0, touching = 0, answer_touches = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (x < r->boxes[i][0] || x > r->boxes[i][2] || y < r->boxes[i][1] || y > r->boxes[i][3]) continue;
        if (GEOSPreparedContains_r(r->geos, r->prepared[i], point)) {
            containing++;
            if (first_containing < 0) first_containing = (long)i;
        }
        if (GEOSPreparedIntersects_r(r->geos, r->prepared[i], point)) {
            touching++;
            if ((long)i == answer) answer_touches = 1;
        }
    }
    GEOSGeom_destroy_r(r->geos, point);
    if (containing == touching) {
        if (answer != first_containing)
            fail_msg("(%.17g, %.17g): index says %ld, GEOS %ld", x, y, answer, first_containing);
        return 0;
    }
    if (answer >= 0 && !answer_touches)
        fail_msg("(%.17g, %.17g) is on a boundary; index says %ld, which it does not touch", x, y, answer);
    return 1;
}

static void check_random_points(const loaded *l, size_t count, uint64_t seed, double *placed_fraction)
{
    reference r = reference_create(l);
    double x0, y0, x1, y1;
    hm_boundaries_extent(l->set, &x0, &y0, &x1, &y1);
    /* A margin around the extent so that outside points are tested too. */
    double mx = 0.05 * (x1 - x0), my = 0.05 * (y1 - y0);
    uint64_t state = seed;
    size_t placed = 0;
    for (size_t i = 0; i < count; i++) {
        double x = x0 - mx + fixture_uniform(&state) * (x1 - x0 + 2 * mx);
        double y = y0 - my + fixture_uniform(&state) * (y1 - y0 + 2 * my);
        reference_check(&r, l, x, y);
        placed += hm_pip_index_locate(l->index, x, y) >= 0;
    }
    *placed_fraction = (double)placed / (double)count;
    reference_destroy(&r);
}

/* ---- tests ------------------------------------------------------------------------------------------------ */

static void test_real_wards_match_geos(void **state)
{
    (void)state;
    char *bristol = fixture_real_wards("E06000023.geojson");
    char *birmingham = fixture_real_wards("E08000025.geojson");
    if (!bristol || !birmingham) {
        free(bristol);
        free(birmingham);
        skip();
    }
    const char *paths[] = {bristol, birmingham};
    for (int f = 0; f < 2; f++) {
        loaded l = load(paths[f]);
        double placed;
        check_random_points(&l, 100000, 42 + (uint64_t)f, &placed);
        /* Wards fill much of their bounding box, and the margin is outside. */
        assert_true(placed > 0.3 && placed < 0.95);
        /* Every ward vertex lands in exactly one ward that touches it, or outside on the outer boundary. */
        reference r = reference_create(&l);
        GEOSContextHandle_t geos = hm_ctx_geos(l.ctx);
        for (size_t i = 0; i < hm_boundaries_count(l.set); i++) {
            GEOSGeometry *points = GEOSGeom_extractUniquePoints_r(geos, hm_boundaries_geometry(l.set, i));
            for (int p = 0; p < GEOSGetNumGeometries_r(geos, points); p++) {
                double x, y;
                GEOSGeomGetX_r(geos, GEOSGetGeometryN_r(geos, points, p), &x);
                GEOSGeomGetY_r(geos, GEOSGetGeometryN_r(geos, points, p), &y);
                reference_check(&r, &l, x, y);
            }
            GEOSGeom_destroy_r(geos, points);
        }
        reference_destroy(&r);
        unload(&l);
    }
    free(bristol);
    free(birmingham);
}

static const fixture_tiling small_tiling = {.columns = 12, .rows = 9, .inner_points = 30, .x0 = 350000,
                                            .y0 = 170000, .width = 12000, .height = 9000, .seed = 7};

static void test_synthetic_tiling_matches_geos(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-tiling");
    char *path = fixture_path(folder, "tiling.geojson");
    assert_int_equal(fixture_write_tiling(path, &small_tiling), 0);
    loaded l = load(path);
    assert_int_equal(hm_boundaries_count(l.set), 108);
    assert_int_equal(hm_boundaries_repaired_count(l.set), 0);
    double placed;
    check_random_points(&l, 200000, 1234, &placed);
    double inside = 1 / (1.1 * 1.1); /* the tiling fills its extent; the margin is 5% each side */
    assert_true(fabs(placed - inside) < 0.01);
    unload(&l);
    free(path);
    fixture_remove_folder(folder);
    free(folder);
}

/* Points exactly on shared vertices and edges belong to exactly one polygon, the same one whatever the order
 * of the features (with "lowest index wins" the answer would follow the order). */
static void test_tiling_boundaries_order_independent(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-order");
    char *forward_path = fixture_path(folder, "forward.geojson");
    char *reversed_path = fixture_path(folder, "reversed.geojson");
    fixture_tiling reversed = small_tiling;
    reversed.reversed = 1;
    assert_int_equal(fixture_write_tiling(forward_path, &small_tiling), 0);
    assert_int_equal(fixture_write_tiling(reversed_path, &reversed), 0);
    loaded a = load(forward_path), b = load(reversed_path);
    reference r = reference_create(&a);
    int n = small_tiling.inner_points + 2;
    double *xy = malloc(sizeof(double) * 2 * (size_t)n);
    assert_non_null(xy);
    size_t boundary_points = 0, midpoints = 0;
    double frame_x, frame_y;
    fixture_tiling_corner(&small_tiling, small_tiling.columns, small_tiling.rows, &frame_x, &frame_y);
    for (int i = 0; i <= small_tiling.columns; i++) {
        for (int j = 0; j <= small_tiling.rows; j++) {
            for (int side = 0; side < 2; side++) {
                int i1 = side == 0 ? i + 1 : i, j1 = side == 0 ? j : j + 1;
                if (i1 > small_tiling.columns || j1 > small_tiling.rows) continue;
                fixture_tiling_side(&small_tiling, i, j, i1, j1, xy);
                for (int k = 0; k < n; k++) {
                    double x = xy[2 * k], y = xy[2 * k + 1];
                    long in_a = hm_pip_index_locate(a.index, x, y), in_b = hm_pip_index_locate(b.index, x, y);
                    assert_string_equal(code_or_dash(&a, in_a), code_or_dash(&b, in_b));
                    boundary_points += (size_t)reference_check(&r, &a, x, y);
                    /* Every boundary point belongs to some tile, except on the east and north edges of the
                     * frame, whose points go to the outside east or north of them. */
                    if (x < frame_x && y < frame_y && in_a < 0) fail_msg("(%.17g, %.17g): no tile", x, y);
                    /* Segment midpoints lie within rounding of the shared edge, mostly just off it: only an
                     * exact orientation test agrees with GEOS on every one of them. */
                    if (k + 1 < n) {
                        double mx = 0.5 * (x + xy[2 * k + 2]), my = 0.5 * (y + xy[2 * k + 3]);
                        in_a = hm_pip_index_locate(a.index, mx, my);
                        in_b = hm_pip_index_locate(b.index, mx, my);
                        assert_string_equal(code_or_dash(&a, in_a), code_or_dash(&b, in_b));
                        boundary_points += (size_t)reference_check(&r, &a, mx, my);
                        midpoints++;
                    }
                }
            }
        }
    }
    assert_true(boundary_points > 1000);
    assert_true(midpoints > 6000);
    free(xy);
    reference_destroy(&r);
    unload(&a);
    unload(&b);
    free(forward_path);
    free(reversed_path);
    fixture_remove_folder(folder);
    free(folder);
}

/* Four squares: a point on an edge goes east (north on an east-west edge), the shared corner north-east. */
static void test_four_squares(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-squares");
    char *forward = write_file(folder, "forward.geojson",
                               GEOJSON_HEAD FEATURE("SW", "Polygon", "[" SQUARE_RING(0, 0, 10, 10) "]") ","
                               FEATURE("SE", "Polygon", "[" SQUARE_RING(10, 0, 20, 10) "]") ","
                               FEATURE("NW", "Polygon", "[" SQUARE_RING(0, 10, 10, 20) "]") ","
                               FEATURE("NE", "Polygon", "[" SQUARE_RING(10, 10, 20, 20) "]") "]}");
    char *backward = write_file(folder, "backward.geojson",
                                GEOJSON_HEAD FEATURE("NE", "Polygon", "[" SQUARE_RING(10, 10, 20, 20) "]") ","
                                FEATURE("NW", "Polygon", "[" SQUARE_RING(0, 10, 10, 20) "]") ","
                                FEATURE("SE", "Polygon", "[" SQUARE_RING(10, 0, 20, 10) "]") ","
                                FEATURE("SW", "Polygon", "[" SQUARE_RING(0, 0, 10, 10) "]") "]}");
    loaded a = load(forward), b = load(backward);
    const struct {
        double x, y;
        const char *code;
    } cases[] = {
        {5, 5, "SW"},    {15, 15, "NE"},  {10, 5, "SE"},  {5, 10, "NW"},  {10, 10, "NE"}, {15, 10, "NE"},
        {10, 15, "NE"},  {0, 5, "SW"},    {20, 5, "-"},   {5, 0, "SW"},   {5, 20, "-"},   {0, 0, "SW"},
        {20, 20, "-"},   {0, 20, "-"},    {20, 0, "-"},   {10, 0, "SE"},  {0, 10, "NW"},  {10, 20, "-"},
        {-1e-9, 5, "-"}, {20 - 1e-12, 19.999, "NE"},     {25, 5, "-"},   {5, -3, "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int repeat = 0; repeat < 2; repeat++) {
            if (strcmp(code_or_dash(&a, hm_pip_index_locate(a.index, cases[i].x, cases[i].y)), cases[i].code) ||
                strcmp(code_or_dash(&b, hm_pip_index_locate(b.index, cases[i].x, cases[i].y)), cases[i].code))
                fail_msg("(%g, %g): expected %s, got %s and %s", cases[i].x, cases[i].y, cases[i].code,
                         code_or_dash(&a, hm_pip_index_locate(a.index, cases[i].x, cases[i].y)),
                         code_or_dash(&b, hm_pip_index_locate(b.index, cases[i].x, cases[i].y)));
        }
    }
    assert_int_equal(hm_pip_index_locate(a.index, NAN, 5), -1);
    assert_int_equal(hm_pip_index_locate(a.index, 5, INFINITY), -1);
    unload(&a);
    unload(&b);
    free(forward);
    free(backward);
    fixture_remove_folder(folder);
    free(folder);
}

/* Points a few units in the last place from a diagonal shared edge at BNG magnitudes, where the plain
 * floating-point orientation often has the wrong sign: every one must go to the side GEOS's robust
 * orientation puts it on (and points exactly on the edge to the east side). */
static void test_near_edge_exact(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-exact");
    char *path = write_file(
        folder, "triangles.geojson",
        GEOJSON_HEAD FEATURE("WEST", "Polygon",
                             "[[[400000.1,280000.3],[410123.7,287456.9],[390000.5,287456.9],[400000.1,280000.3]]]") ","
        FEATURE("EAST", "Polygon",
                "[[[400000.1,280000.3],[420300.2,280000.3],[410123.7,287456.9],[400000.1,280000.3]]]") "]}");
    loaded l = load(path);
    GEOSContextHandle_t geos = hm_ctx_geos(l.ctx);
    const double ax = 400000.1, ay = 280000.3, bx = 410123.7, by = 287456.9;
    size_t plain_wrong = 0, checked = 0;
    for (int m = 1; m < 400; m++) {
        /* A point on the edge as nearly as doubles allow, then its neighbours a few ulps away. */
        double cx = ax + (bx - ax) * m / 400.0;
        double cy = ay + (by - ay) * ((cx - ax) / (bx - ax));
        for (int i = -3; i <= 3; i++) {
            for (int j = -3; j <= 3; j++) {
                double px = cx + i * (nextafter(cx, INFINITY) - cx), py = cy + j * (nextafter(cy, INFINITY) - cy);
                int side = GEOSOrientationIndex_r(geos, ax, ay, bx, by, px, py);
                const char *expected = side > 0 ? "WEST" : "EAST";
                const char *got = code_or_dash(&l, hm_pip_index_locate(l.index, px, py));
                if (strcmp(got, expected) != 0)
                    fail_msg("(%.17g, %.17g): orientation %d, expected %s, got %s", px, py, side, expected, got);
                double plain = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
                plain_wrong += (plain > 0) != (side > 0);
                checked++;
            }
        }
    }
    /* The test means something only if the plain formula fails on some of these points. */
    assert_true(plain_wrong > 0);
    assert_true(checked == 399 * 49);
    unload(&l);
    free(path);
    fixture_remove_folder(folder);
    free(folder);
}

static void test_holes_multipolygons_overlaps(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-holes");
    char *without_island = write_file(
        folder, "holes.geojson",
        GEOJSON_HEAD FEATURE("H", "Polygon", "[" SQUARE_RING(0, 0, 10, 10) "," SQUARE_RING(3, 3, 7, 7) "]") ","
        FEATURE("M", "MultiPolygon", "[[" SQUARE_RING(20, 0, 22, 2) "],[" SQUARE_RING(25, 0, 27, 2) "]]") ","
        FEATURE("O1", "Polygon", "[" SQUARE_RING(40, 0, 50, 10) "]") ","
        FEATURE("O2", "Polygon", "[" SQUARE_RING(45, 0, 55, 10) "]") "]}");
    char *with_island = write_file(
        folder, "island.geojson",
        GEOJSON_HEAD FEATURE("H", "Polygon", "[" SQUARE_RING(0, 0, 10, 10) "," SQUARE_RING(3, 3, 7, 7) "]") ","
        FEATURE("I", "Polygon", "[" SQUARE_RING(3, 3, 7, 7) "]") "]}");
    loaded l = load(without_island);
    const struct {
        double x, y;
        const char *code;
    } cases[] = {{5, 5, "-"},   {1, 1, "H"},    {9, 9, "H"},    {7, 5, "H"},    {3, 5, "-"},
                 {21, 1, "M"},  {26, 1, "M"},   {23.5, 1, "-"}, {21, 3, "-"},   {42, 5, "O1"},
                 {47, 5, "O1"}, {45, 5, "O1"},  {50, 5, "O2"},  {52, 5, "O2"},  {56, 5, "-"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(code_or_dash(&l, hm_pip_index_locate(l.index, cases[i].x, cases[i].y)), cases[i].code))
            fail_msg("(%g, %g): expected %s, got %s", cases[i].x, cases[i].y, cases[i].code,
                     code_or_dash(&l, hm_pip_index_locate(l.index, cases[i].x, cases[i].y)));
    /* Snapping from the hole's middle reaches the ring around it. */
    double distance = -1;
    assert_int_equal(hm_pip_index_nearest(l.index, 5, 5, 3, &distance), 0);
    assert_true(distance == 2);
    assert_int_equal(hm_pip_index_nearest(l.index, 5, 5, 1.5, &distance), -1);
    unload(&l);

    l = load(with_island);
    assert_string_equal(code_or_dash(&l, hm_pip_index_locate(l.index, 5, 5)), "I");
    assert_string_equal(code_or_dash(&l, hm_pip_index_locate(l.index, 7, 5)), "H"); /* east of the shared edge */
    assert_string_equal(code_or_dash(&l, hm_pip_index_locate(l.index, 3, 5)), "I");
    assert_string_equal(code_or_dash(&l, hm_pip_index_locate(l.index, 5, 7)), "H"); /* north of it */
    assert_string_equal(code_or_dash(&l, hm_pip_index_locate(l.index, 5, 3)), "I");
    unload(&l);
    free(without_island);
    free(with_island);
    fixture_remove_folder(folder);
    free(folder);
}

static void test_nearest(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-nearest");
    char *forward = write_file(folder, "ab.geojson",
                               GEOJSON_HEAD FEATURE("A", "Polygon", "[" SQUARE_RING(0, 0, 10, 10) "]") ","
                               FEATURE("B", "Polygon", "[" SQUARE_RING(20, 0, 30, 10) "]") "]}");
    char *backward = write_file(folder, "ba.geojson",
                                GEOJSON_HEAD FEATURE("B", "Polygon", "[" SQUARE_RING(20, 0, 30, 10) "]") ","
                                FEATURE("A", "Polygon", "[" SQUARE_RING(0, 0, 10, 10) "]") "]}");
    loaded l = load(forward), r = load(backward);
    double distance = -1;
    assert_int_equal(hm_pip_index_nearest(l.index, 5, 5, 10, &distance), 0);
    assert_true(distance == 0);
    assert_int_equal(hm_pip_index_nearest(l.index, 12, 5, 10, &distance), 0);
    assert_true(distance == 2);
    assert_int_equal(hm_pip_index_nearest(l.index, 18, 5, 10, &distance), 1);
    assert_true(distance == 2);
    assert_int_equal(hm_pip_index_nearest(l.index, 12, 13, 10, &distance), 0);
    assert_true(fabs(distance - sqrt(13)) < 1e-12);
    /* Equidistant: the lowest index, so the first feature of each file. */
    assert_int_equal(hm_pip_index_nearest(l.index, 15, 5, 10, &distance), 0);
    assert_true(distance == 5);
    assert_string_equal(code_or_dash(&r, hm_pip_index_nearest(r.index, 15, 5, 10, &distance)), "B");
    assert_int_equal(hm_pip_index_nearest(l.index, 15, 5, 4.999, &distance), -1);
    assert_true(isinf(distance));
    assert_int_equal(hm_pip_index_nearest(l.index, 15, 5, 5, &distance), 0); /* within is inclusive */
    assert_int_equal(hm_pip_index_nearest(l.index, 1000, 1000, 10, &distance), -1);
    assert_int_equal(hm_pip_index_nearest(l.index, -3, -4, 5, &distance), 0);
    assert_true(distance == 5);
    assert_int_equal(hm_pip_index_nearest(l.index, -3, -4, INFINITY, &distance), 0);
    assert_int_equal(hm_pip_index_nearest(l.index, 15, 5, NAN, &distance), -1);
    assert_int_equal(hm_pip_index_nearest(l.index, 15, 5, 10, NULL), 0);
    unload(&l);
    unload(&r);
    free(forward);
    free(backward);
    fixture_remove_folder(folder);
    free(folder);
}

typedef struct thread_work {
    const hm_pip_index *index;
    const double *xy;
    const long *expected;
    size_t count;
    size_t mismatches;
} thread_work;

static void *locate_all(void *argument)
{
    thread_work *work = argument;
    for (size_t i = 0; i < work->count; i++)
        if (hm_pip_index_locate(work->index, work->xy[2 * i], work->xy[2 * i + 1]) != work->expected[i])
            work->mismatches++;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char *folder = fixture_folder("pip-threads");
    char *path = fixture_path(folder, "tiling.geojson");
    assert_int_equal(fixture_write_tiling(path, &small_tiling), 0);
    loaded l = load(path);
    enum { count = 100000 };
    double *xy = malloc(sizeof(double) * 2 * count);
    long *expected = malloc(sizeof(long) * count);
    assert_non_null(xy);
    assert_non_null(expected);
    uint64_t seed = 99;
    for (size_t i = 0; i < count; i++) {
        xy[2 * i] = small_tiling.x0 + fixture_uniform(&seed) * small_tiling.width;
        xy[2 * i + 1] = small_tiling.y0 + fixture_uniform(&seed) * small_tiling.height;
        expected[i] = hm_pip_index_locate(l.index, xy[2 * i], xy[2 * i + 1]);
    }
    thread_work work[3];
    pthread_t threads[3];
    for (int t = 0; t < 3; t++) {
        work[t] = (thread_work){l.index, xy, expected, count, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, locate_all, &work[t]), 0);
    }
    for (int t = 0; t < 3; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(work[t].mismatches, 0);
    }
    free(xy);
    free(expected);
    unload(&l);
    free(path);
    fixture_remove_folder(folder);
    free(folder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_wards_match_geos),
        cmocka_unit_test(test_synthetic_tiling_matches_geos),
        cmocka_unit_test(test_tiling_boundaries_order_independent),
        cmocka_unit_test(test_four_squares),
        cmocka_unit_test(test_near_edge_exact),
        cmocka_unit_test(test_holes_multipolygons_overlaps),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
