/* Unit tests for tiles/manifest.c: write, read back, look up; damaged manifests are refused. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "manifest.h"

static void test_round_trip(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    const char *path = "test_manifest.txt";
    hm_manifest m;
    memset(&m, 0, sizeof m);
    m.settings_hash = hm_hash128_of("settings", 8);
    m.range_min = 0;
    m.range_max = 0.1 + 0.2; /* not exact in decimal: must come back as the same double */
    m.threshold = 1e-3;
    m.min_zoom = 8, m.max_zoom = 15, m.tile_size_px = 512, m.tms = 1;
    snprintf(m.ramp, sizeof m.ramp, "magma");
    FILE *f = fopen(path, "w");
    assert_int_equal(hm_manifest_write_header(ctx, f, &m, "surface.tif"), HM_OK);
    hm_hash128 a = hm_hash128_of("a", 1), b = hm_hash128_of("b", 1), c = hm_hash128_of("c", 1);
    assert_int_equal(hm_manifest_write_tile(f, 15, 16113, 10887, a, &b, &c), 0);
    assert_int_equal(hm_manifest_write_tile(f, 8, 126, 85, b, NULL, NULL), 0);
    assert_int_equal(hm_manifest_write_tile(f, 9, 252, 170, a, &b, NULL), 0); /* an older line: no pixels */
    fclose(f);

    hm_manifest back;
    int found = 0;
    assert_int_equal(hm_manifest_read(ctx, path, &back, &found), HM_OK);
    assert_int_equal(found, 1);
    assert_true(back.range_max == m.range_max);
    assert_true(back.threshold == m.threshold);
    assert_true(back.settings_hash.high == m.settings_hash.high &&
                back.settings_hash.low == m.settings_hash.low);
    assert_int_equal(back.tile_size_px, 512);
    assert_int_equal(back.tms, 1);
    assert_string_equal(back.ramp, "magma");
    assert_int_equal(back.count, 3);
    const hm_manifest_entry *e = hm_manifest_find(&back, 15, 16113, 10887);
    assert_non_null(e);
    assert_false(e->empty);
    assert_true(e->source_hash.low == a.low && e->png_hash.high == b.high);
    assert_true(e->has_pixels_hash && e->pixels_hash.high == c.high && e->pixels_hash.low == c.low);
    e = hm_manifest_find(&back, 9, 252, 170);
    assert_non_null(e);
    assert_false(e->empty);
    assert_false(e->has_pixels_hash);
    e = hm_manifest_find(&back, 8, 126, 85);
    assert_non_null(e);
    assert_true(e->empty);
    assert_null(hm_manifest_find(&back, 8, 126, 86));
    hm_manifest_free(&back);

    /* Missing: not found, not an error. Damaged: an error that says to render without --update. */
    assert_int_equal(hm_manifest_read(ctx, "no-such-manifest.txt", &back, &found), HM_OK);
    assert_int_equal(found, 0);
    f = fopen(path, "w");
    fputs("# harmmap tiles manifest 1\nsettings 00\n", f);
    fclose(f);
    assert_int_equal(hm_manifest_read(ctx, path, &back, &found), HM_EFORMAT);
    assert_non_null(strstr(hm_error_message(ctx), "without --update"));
    remove(path);
    hm_ctx_destroy(ctx);
}

static void test_hash_text(void **state)
{
    (void)state;
    hm_hash128 h = hm_hash128_of("harmmap", 7), back;
    char text[33];
    hm_hash128_format(h, text);
    assert_int_equal(strlen(text), 32);
    assert_int_equal(hm_hash128_parse(text, &back), 0);
    assert_true(back.high == h.high && back.low == h.low);
    assert_int_equal(hm_hash128_parse("xyz", &back), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hash_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
