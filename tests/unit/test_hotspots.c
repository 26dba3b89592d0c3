/* test_hotspots.c - neighbours, Gi*, Local Moran's I, Benjamini-Hochberg and the change test against values
 * computed by R's spdep 1.2-7 (tests/data/hotspots/make_expected.R, committed output), plus hand-computed cases. */
#include "csv.h"
#include "hotspots.h"

#include <math.h>
#include <ogr_api.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_AREAS 64

typedef struct grid_map {
    size_t count;
    char codes[MAX_AREAS][16];
    double x[MAX_AREAS];
    GEOSGeometry *geometries[MAX_AREAS];
} grid_map;

static const char *data_path(const char *name)
{
    static char path[1024];
    const char *root = getenv("HM_TEST_DATA");
    snprintf(path, sizeof path, "%s/hotspots/%s", root ? root : "tests/data", name);
    return path;
}

static void load_grid(hm_ctx *ctx, grid_map *map)
{
    OGRRegisterAll();
    OGRDataSourceH source = OGROpen(data_path("grid.geojson"), 0, NULL);
    assert_non_null(source);
    OGRLayerH layer = OGR_DS_GetLayer(source, 0);
    OGRFeatureH feature;
    map->count = 0;
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    while ((feature = OGR_L_GetNextFeature(layer)) != NULL) {
        assert_true(map->count < MAX_AREAS);
        size_t i = map->count++;
        snprintf(map->codes[i], sizeof map->codes[i], "%s", OGR_F_GetFieldAsString(feature, 0));
        map->x[i] = OGR_F_GetFieldAsDouble(feature, 1);
        OGRGeometryH geometry = OGR_F_GetGeometryRef(feature);
        int size = OGR_G_WkbSize(geometry);
        unsigned char *wkb = malloc((size_t)size);
        OGR_G_ExportToWkb(geometry, wkbNDR, wkb);
        map->geometries[i] = GEOSGeomFromWKB_buf_r(geos, wkb, (size_t)size);
        assert_non_null(map->geometries[i]);
        free(wkb);
        OGR_F_Destroy(feature);
    }
    OGR_DS_Destroy(source);
}

static void free_grid(hm_ctx *ctx, grid_map *map)
{
    for (size_t i = 0; i < map->count; i++) GEOSGeom_destroy_r(hm_ctx_geos(ctx), map->geometries[i]);
}

static double parse_value(const char *text)
{
    while (*text == ' ') text++;
    if (strcmp(text, "NaN") == 0 || strcmp(text, "NA") == 0) return NAN;
    char *end = NULL;
    double value = strtod(text, &end);
    assert_true(end != text);
    return value;
}

static void assert_close(double expected, double actual, const char *what, const char *code)
{
    if (isnan(expected) && isnan(actual)) return;
    double tolerance = 1e-9 * fmax(1.0, fabs(expected));
    if (isnan(expected) || isnan(actual) || fabs(expected - actual) > tolerance)
        fail_msg("%s of %s: spdep %.17g, harmmap %.17g", what, code, expected, actual);
}

/* Reads one CSV from R into rows of strings. */
typedef struct table {
    size_t rows, columns;
    char cells[64][16][64];
    char header[16][32];
} table;

static void read_table(hm_ctx *ctx, const char *name, table *t)
{
    hm_csv_reader *reader = NULL;
    assert_int_equal(hm_csv_open(ctx, data_path(name), NULL, &reader), HM_OK);
    hm_csv_record row;
    assert_int_equal(hm_csv_next(reader, &row), 1);
    t->columns = row.field_count;
    for (size_t c = 0; c < row.field_count; c++) snprintf(t->header[c], sizeof t->header[c], "%s", row.fields[c]);
    t->rows = 0;
    while (hm_csv_next(reader, &row) == 1) {
        assert_int_equal(row.field_count, t->columns);
        for (size_t c = 0; c < row.field_count; c++)
            snprintf(t->cells[t->rows][c], sizeof t->cells[t->rows][c], "%s", row.fields[c]);
        t->rows++;
    }
    hm_csv_close(reader);
}

static int column(const table *t, const char *name)
{
    for (size_t c = 0; c < t->columns; c++)
        if (strcmp(t->header[c], name) == 0) return (int)c;
    fail_msg("no column %s", name);
    return -1;
}

static void test_against_spdep(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    grid_map map;
    load_grid(ctx, &map);
    static table expected;
    read_table(ctx, "expected.csv", &expected);
    assert_int_equal(expected.rows, map.count);

    hm_neighbours *nb = NULL;
    assert_int_equal(hm_neighbours_queen(ctx, (const GEOSGeometry *const *)map.geometries, map.count, 1e-6, &nb),
                     HM_OK);
    assert_int_equal(hm_neighbours_islands(nb), 1);
    for (size_t i = 0; i < map.count; i++) {
        char list[512] = "";
        const size_t *of = hm_neighbours_of(nb, i);
        for (size_t k = 0; k < hm_neighbours_degree(nb, i); k++) {
            if (k) strcat(list, ";");
            strcat(list, map.codes[of[k]]);
        }
        assert_string_equal(expected.cells[i][column(&expected, "code")], map.codes[i]);
        if (strcmp(list, expected.cells[i][column(&expected, "neighbours")]) != 0)
            fail_msg("neighbours of %s: spdep %s, harmmap %s", map.codes[i],
                     expected.cells[i][column(&expected, "neighbours")], list);
    }

    hm_gi_star_result gi[MAX_AREAS];
    hm_local_moran_result moran[MAX_AREAS];
    double gi_p[MAX_AREAS], gi_q[MAX_AREAS];
    assert_int_equal(hm_gi_star(ctx, nb, map.x, gi), HM_OK);
    assert_int_equal(hm_local_moran(ctx, nb, map.x, moran), HM_OK);
    for (size_t i = 0; i < map.count; i++) gi_p[i] = gi[i].p;
    assert_int_equal(hm_benjamini_hochberg(ctx, gi_p, map.count, gi_q), HM_OK);
    for (size_t i = 0; i < map.count; i++) {
        const char *code = map.codes[i];
        char(*row)[64] = expected.cells[i];
        assert_close(parse_value(row[column(&expected, "gi_z")]), gi[i].z, "Gi* z", code);
        assert_close(parse_value(row[column(&expected, "gi_p")]), gi[i].p, "Gi* p", code);
        assert_close(parse_value(row[column(&expected, "gi_q")]), gi_q[i], "Gi* BH q", code);
        assert_close(parse_value(row[column(&expected, "moran_i")]), moran[i].i, "Moran I", code);
        assert_close(parse_value(row[column(&expected, "moran_e")]), moran[i].expectation, "Moran E", code);
        assert_close(parse_value(row[column(&expected, "moran_var")]), moran[i].variance, "Moran Var", code);
        assert_close(parse_value(row[column(&expected, "moran_z")]), moran[i].z, "Moran z", code);
        assert_close(parse_value(row[column(&expected, "moran_p")]), moran[i].p, "Moran p", code);
        assert_string_equal(hm_moran_quadrant_name(moran[i].quadrant), row[column(&expected, "quadrant")]);
    }

    /* An exact test (tolerance 0) misses the pair across the 1e-9 m gap: the reason for the tolerance. */
    hm_neighbours *exact = NULL;
    assert_int_equal(hm_neighbours_queen(ctx, (const GEOSGeometry *const *)map.geometries, map.count, 0, &exact),
                     HM_OK);
    assert_int_equal(hm_neighbours_degree(exact, 25), 0);
    assert_int_equal(hm_neighbours_degree(nb, 25), 3);
    hm_neighbours_destroy(exact);

    /* Gi* is unchanged by scaling the values; shifting them too (it is a z-score of a local sum). */
    double scaled[MAX_AREAS];
    hm_gi_star_result gi_scaled[MAX_AREAS];
    for (size_t i = 0; i < map.count; i++) scaled[i] = 1000 * map.x[i] + 7;
    hm_gi_star(ctx, nb, scaled, gi_scaled);
    for (size_t i = 0; i < map.count; i++) assert_close(gi[i].z, gi_scaled[i].z, "Gi* z (scaled)", map.codes[i]);
    hm_neighbours_destroy(nb);
    free_grid(ctx, &map);
    hm_ctx_destroy(ctx);
}

static void test_change_and_fdr(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    static table cases;
    read_table(ctx, "change_tests.csv", &cases);
    assert_true(cases.rows >= 5);
    for (size_t r = 0; r < cases.rows; r++) {
        double p = -1;
        long long before = (long long)parse_value(cases.cells[r][column(&cases, "before")]);
        long long after = (long long)parse_value(cases.cells[r][column(&cases, "after")]);
        assert_int_equal(hm_poisson_change_test(ctx, before, parse_value(cases.cells[r][column(&cases, "t_before")]),
                                                after, parse_value(cases.cells[r][column(&cases, "t_after")]), &p),
                         HM_OK);
        char what[64];
        snprintf(what, sizeof what, "case %zu (%lld -> %lld)", r + 1, before, after);
        assert_close(parse_value(cases.cells[r][column(&cases, "p")]), p, "change p", what);
    }
    /* Hand-computed: 5 before, 0 after in equal periods: p = 2 * 0.5^5 = 0.0625. */
    double p = 0;
    hm_poisson_change_test(ctx, 5, 1, 0, 1, &p);
    assert_close(0.0625, p, "change p", "5 -> 0");
    hm_poisson_change_test(ctx, 0, 1, 0, 1, &p);
    assert_close(1, p, "change p", "0 -> 0");
    assert_int_equal(hm_poisson_change_test(ctx, 1, 0, 1, 1, &p), HM_EINVAL);
    assert_int_equal(hm_poisson_change_test(ctx, -1, 1, 1, 1, &p), HM_EINVAL);

    static table bh;
    read_table(ctx, "bh.csv", &bh);
    double pv[16], q[16];
    for (size_t r = 0; r < bh.rows; r++) pv[r] = parse_value(bh.cells[r][0]);
    assert_int_equal(hm_benjamini_hochberg(ctx, pv, bh.rows, q), HM_OK);
    for (size_t r = 0; r < bh.rows; r++) assert_close(parse_value(bh.cells[r][1]), q[r], "BH q", bh.cells[r][0]);
    hm_ctx_destroy(ctx);
}

/* A hand-computed Gi* on a path of three areas 0-1-2 with x = (1, 2, 3): n = 3, mean 2, s = sqrt(2/3).
 * Area 0: local sum 1 + 2 = 3, W = 2: z = (3 - 4) / (sqrt(2/3) sqrt((6 - 4)/2)) = -1/sqrt(2/3) = -1.2247... */
static void test_hand_computed(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    const size_t pairs[][2] = {{0, 1}, {2, 1}, {1, 0}};
    hm_neighbours *nb = NULL;
    assert_int_equal(hm_neighbours_from_pairs(ctx, 3, pairs, 3, &nb), HM_OK);
    assert_int_equal(hm_neighbours_degree(nb, 1), 2); /* the duplicate pair counted once */
    double x[3] = {1, 2, 3};
    hm_gi_star_result gi[3];
    hm_gi_star(ctx, nb, x, gi);
    assert_close(-1 / sqrt(2.0 / 3.0), gi[0].z, "Gi* z", "path 0");
    /* Area 1's neighbourhood is the whole map: its local sum cannot vary, z is undefined (R gives NaN too). */
    assert_true(isnan(gi[1].z));
    assert_close(1 / sqrt(2.0 / 3.0), gi[2].z, "Gi* z", "path 2");
    /* Constant values: no variation, z undefined (NaN), never a division by zero reported as a number. */
    double flat[3] = {4, 4, 4};
    hm_gi_star(ctx, nb, flat, gi);
    assert_true(isnan(gi[0].z) && isnan(gi[0].p));
    hm_local_moran_result moran[3];
    hm_local_moran(ctx, nb, flat, moran);
    assert_true(isnan(moran[1].i) && moran[1].quadrant == HM_QUADRANT_NONE);
    hm_neighbours_destroy(nb);
    const size_t bad[][2] = {{0, 0}};
    assert_int_not_equal(hm_neighbours_from_pairs(ctx, 3, bad, 1, &nb), HM_OK);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_spdep),
        cmocka_unit_test(test_change_and_fdr),
        cmocka_unit_test(test_hand_computed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
