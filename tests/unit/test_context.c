/* Unit tests for context.c and argv.c: error chaining and option value parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "argv.h"
#include "context.h"

static void test_error_chain(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    assert_non_null(ctx);
    assert_int_equal(hm_error(ctx, HM_EIO, "cannot open %s", "a.csv"), HM_EIO);
    assert_string_equal(hm_error_message(ctx), "cannot open a.csv");
    hm_error_prefix(ctx, "--wards");
    assert_string_equal(hm_error_message(ctx), "--wards: cannot open a.csv");
    assert_int_equal(hm_error_code(ctx), HM_EIO);
    hm_error_clear(ctx);
    assert_string_equal(hm_error_message(ctx), "");
    assert_non_null(hm_ctx_proj(ctx));
    assert_non_null(hm_ctx_geos(ctx));
    ctx = hm_ctx_destroy(ctx);
    assert_null(ctx);
}

static void test_arg_value(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    char *argv[] = {"harmmap", "--snap", "25", "--crs=EPSG:27700", "--radius"};
    int index = 1;
    const char *value = NULL;
    assert_int_equal(hm_arg_value(ctx, 5, argv, &index, "--snap", &value), 1);
    assert_string_equal(value, "25");
    assert_int_equal(index, 2);
    index = 3;
    assert_int_equal(hm_arg_value(ctx, 5, argv, &index, "--crs", &value), 1);
    assert_string_equal(value, "EPSG:27700");
    assert_int_equal(hm_arg_value(ctx, 5, argv, &index, "--cr", &value), 0);
    index = 4;
    assert_int_equal(hm_arg_value(ctx, 5, argv, &index, "--radius", &value), HM_EINVAL);
    assert_non_null(strstr(hm_error_message(ctx), "--radius needs a value"));
    double number = 0;
    assert_int_equal(hm_arg_double(ctx, "--snap", "12.5", &number), HM_OK);
    assert_true(number == 12.5);
    assert_int_equal(hm_arg_double(ctx, "--snap", "12m", &number), HM_EINVAL);
    assert_int_equal(hm_arg_double(ctx, "--snap", "nan", &number), HM_EINVAL);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_error_chain), cmocka_unit_test(test_arg_value)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
