/* Unit tests for tiles/ramp.c: the shipped ramps load, the palette samples them, bad files are refused with
 * the file and line named. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ramp.h"

static char ramp_dir[1024];

static void write_ramp(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_shipped_ramps(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    const char *names[] = {"viridis", "magma", "inferno", "cividis", "ylorrd", "YlOrRd"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hm_ramp ramp;
        assert_int_equal(hm_ramp_load(ctx, names[i], ramp_dir, &ramp), HM_OK);
        assert_int_equal(ramp.palette_rgba[0][3], 0); /* transparent entry */
        for (int k = 1; k < 256; k++)
            assert_int_equal(ramp.palette_rgba[k][3], 255);
    }
    hm_ramp viridis;
    assert_int_equal(hm_ramp_load(ctx, "viridis", ramp_dir, &viridis), HM_OK);
    assert_string_equal(viridis.name, "viridis");
    /* Ends exactly at the file's first and last stops: viridis #440154 and #fde725. */
    assert_int_equal(viridis.palette_rgba[1][0], 68);
    assert_int_equal(viridis.palette_rgba[1][1], 1);
    assert_int_equal(viridis.palette_rgba[1][2], 84);
    assert_int_equal(viridis.palette_rgba[255][0], 253);
    assert_int_equal(viridis.palette_rgba[255][1], 231);
    assert_int_equal(viridis.palette_rgba[255][2], 37);
    assert_int_not_equal(hm_ramp_load(ctx, "no-such-ramp", ramp_dir, &viridis), HM_OK);
    assert_non_null(strstr(hm_error_message(ctx), "viridis"));
    hm_ctx_destroy(ctx);
}

static void test_index_mapping(void **state)
{
    (void)state;
    float scale = 254.0f / (10.0f - 0.0f);
    assert_int_equal(hm_ramp_index(0.0f, 0.0f, 0.0f, scale), 0); /* at the threshold: transparent */
    assert_int_equal(hm_ramp_index(-1.0f, 0.0f, 0.0f, scale), 0);
    assert_int_equal(hm_ramp_index(NAN, 0.0f, 0.0f, scale), 0); /* NaN */
    assert_int_equal(hm_ramp_index(1e-6f, 0.0f, 0.0f, scale), 1);
    assert_int_equal(hm_ramp_index(5.0f, 0.0f, 0.0f, scale), 128);
    assert_int_equal(hm_ramp_index(10.0f, 0.0f, 0.0f, scale), 255);
    assert_int_equal(hm_ramp_index(1e9f, 0.0f, 0.0f, scale), 255);
    /* Below the range minimum but above the threshold: the lowest colour. */
    assert_int_equal(hm_ramp_index(0.5f, 0.0f, 2.0f, scale), 1);
}

static void test_file_format(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    const char *path = "test_ramp_custom.txt";
    write_ramp(
        path,
        "# custom\n\n0 #00000000  # hex with alpha, and a comment\n0.5 255 0 0 128\n1.0, 255, 255, 255\n");
    hm_ramp ramp;
    assert_int_equal(hm_ramp_load(ctx, path, ramp_dir, &ramp), HM_OK);
    assert_int_equal(ramp.palette_rgba[1][3], 0);
    assert_int_equal(ramp.palette_rgba[128][0], 255); /* t = 0.5 */
    assert_int_equal(ramp.palette_rgba[128][3], 128);
    assert_int_equal(ramp.palette_rgba[255][3], 255);

    const struct {
        const char *text, *expect;
    } bad[] = {
        {"0 0 0 0\n0.5 300 0 0\n1 1 1 1\n", ":2: bad colour"},
        {"0 0 0 0\n0.5 #12345g\n1 1 1 1\n", ":2: bad colour"},
        {"0 0 0 0\n0.7 1 1 1\n0.6 1 1 1\n1 0 0 0\n", ":3: position 0.6 does not increase"},
        {"0 0 0 0\n", "at least two stops"},
        {"0.1 0 0 0\n1 1 1 1\n", "first at position 0"},
        {"0 0 0 0\nfoo 1 1 1\n", ":2: position 'foo'"},
        {"0 0 0\n1 1 1 1\n", ":1: bad colour"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_ramp(path, bad[i].text);
        assert_int_equal(hm_ramp_load(ctx, path, ramp_dir, &ramp), HM_EFORMAT);
        if (!strstr(hm_error_message(ctx), bad[i].expect)) fail_msg("case %zu: %s", i, hm_error_message(ctx));
        assert_non_null(strstr(hm_error_message(ctx), path));
        hm_error_clear(ctx);
    }
    remove(path);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const char *source = getenv("HM_SOURCE_DIR");
    snprintf(ramp_dir, sizeof ramp_dir, "%s/data/ramps", source ? source : "../..");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_ramps),
        cmocka_unit_test(test_index_mapping),
        cmocka_unit_test(test_file_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
