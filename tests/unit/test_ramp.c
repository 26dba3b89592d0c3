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

/* hm_ramp_indices (AVX2 where the processor has it) gives hm_ramp_index's answer for every value: special
 * values, values on the rounding boundaries and around the threshold, and a million random bit patterns. */
static void test_indices_equal_scalar(void **state)
{
    (void)state;
    enum { count = 1 << 20 };
    float *values = malloc(count * sizeof *values);
    uint8_t *fast = malloc(count), *slow = malloc(count);
    assert_non_null(values);
    assert_non_null(fast);
    assert_non_null(slow);
    const float specials[] = {0.0f,   -0.0f,   NAN,       -NAN,       INFINITY,      -INFINITY,
                              1e-45f, -1e-45f, 1e38f,     -1e38f,     0.5f,          1.0f,
                              2.0f,   10.0f,   120000.0f, 119999.99f, 3.9370079e-2f, 5.9055118e-2f};
    const size_t n_specials = sizeof specials / sizeof specials[0];
    uint32_t seed = 12345;
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        if (i < n_specials) {
            values[i] = specials[i];
        } else if (i % 3 == 0) {
            uint32_t bits = seed;
            memcpy(&values[i], &bits, sizeof bits); /* any float, NaNs and infinities included */
        } else if (i % 3 == 1) {
            values[i] = (float)(seed % 2600000) / 10000.0f - 3.0f; /* -3..257, near every rounding step */
        } else {
            values[i] = ((float)(seed % 508) + 1.0f) / 2.0f * (10.0f / 254.0f); /* on the .5 boundaries */
        }
    }
    const float thresholds[] = {0.0f, 1.0f, -INFINITY};
    const float mins[] = {0.0f, 2.0f};
    for (size_t t = 0; t < 3; t++)
        for (size_t m = 0; m < 2; m++) {
            float scale = 254.0f / (10.0f - mins[m]);
            int fast_visible = -1, slow_visible = -1;
            int fast_uniform =
                hm_ramp_indices(values, count, thresholds[t], mins[m], scale, fast, &fast_visible);
            int slow_uniform =
                hm_ramp_indices_portable(values, count, thresholds[t], mins[m], scale, slow, &slow_visible);
            for (size_t i = 0; i < count; i++)
                if (fast[i] != slow[i])
                    fail_msg("value %.9g (threshold %g, min %g): %d, one at a time %d", values[i],
                             thresholds[t], mins[m], fast[i], slow[i]);
            assert_int_equal(fast_uniform, slow_uniform);
            assert_int_equal(fast_visible, slow_visible);
        }
    /* Uniform tiles, visible or not, and lengths that leave a tail. */
    for (size_t n = 1; n < 40; n++) {
        for (size_t i = 0; i < n; i++)
            values[i] = n % 2 ? 0.0f : 5.0f;
        int visible = -1;
        assert_int_equal(hm_ramp_indices(values, n, 0.0f, 0.0f, 25.4f, fast, &visible), 1);
        assert_int_equal(visible, n % 2 ? 0 : 1);
        values[n - 1] = 7.0f;
        assert_int_equal(hm_ramp_indices(values, n, 0.0f, 0.0f, 25.4f, fast, &visible), n == 1);
        assert_int_equal(visible, 1);
        hm_ramp_indices_portable(values, n, 0.0f, 0.0f, 25.4f, slow, &visible);
        assert_memory_equal(fast, slow, n);
    }
    free(values);
    free(fast);
    free(slow);
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
        cmocka_unit_test(test_indices_equal_scalar),
        cmocka_unit_test(test_file_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
