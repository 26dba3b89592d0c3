/* Unit tests for project.c: reading a project file, the messages for mistakes (line, key, valid keys or values),
 * the stages' argvs, and adding an input. */
#include "project.h"
#include "records.h"
#include "test_folder.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char folder[PATH_MAX];

static int make_folder(void **state)
{
    (void)state;
    if (test_folder_create(folder, sizeof folder, "test_project") != 0) return -1;
    /* files a project names must exist */
    const char *names[] = {"wards.gpkg", "beats.gpkg", "a.csv", "b.csv", "intel.csv", "pop.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        FILE *file = fopen(path, "w");
        if (!file) return -1;
        fputs("x\n", file);
        fclose(file);
    }
    return 0;
}

static int remove_folder(void **state)
{
    (void)state;
    return test_folder_remove(folder);
}

/* Writes `text` to FOLDER/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    return path;
}

static const char valid[] = "; a comment\n"
                            "[project]\n"
                            "name = Test\n"
                            "\n"
                            "[boundaries]\n"
                            "wards = wards.gpkg\n"
                            "beats = beats.gpkg\n"
                            "[inputs]\n"
                            "intelligence = intel.csv\n"
                            "incidents = a.csv\n"
                            "incidents = b.csv   ; the second month\n"
                            "[aggregate]\n"
                            "population = pop.csv\n"
                            "[periods]\n"
                            "first = 2026-01..2026-03\n"
                            "[density]\n"
                            "radius = 400\n"
                            "kernel = triweight\n"
                            "[tiles]\n"
                            "zoom = 10-14\n"
                            "mbtiles = yes\n";

static int has_arg(const hm_argv *argv, const char *option, const char *value)
{
    for (int i = 0; i + (value ? 1 : 0) < argv->argc; i++)
        if (strcmp(argv->argv[i], option) == 0 && (!value || strcmp(argv->argv[i + 1], value) == 0)) return 1;
    return 0;
}

static void test_valid_project(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_project *project = NULL;
    int status = hm_project_load(ctx, write_file("valid.ini", valid), &project);
    if (status != HM_OK) fail_msg("%s", hm_error_message(ctx));
    assert_string_equal(hm_project_name(project), "Test");
    /* incident files first, in file order, then intelligence: the order geocode reads them in */
    assert_int_equal(hm_project_input_count(project), 3);
    assert_string_equal(hm_project_input_at(project, 0)->as_written, "a.csv");
    assert_string_equal(hm_project_input_at(project, 1)->as_written, "b.csv");
    assert_int_equal(hm_project_input_at(project, 1)->line, 11);
    assert_int_equal(hm_project_input_at(project, 2)->kind, HM_PROJECT_INTELLIGENCE);
    char expected[PATH_MAX + 64];
    char *real = realpath(folder, NULL);
    snprintf(expected, sizeof expected, "%s/a.csv", real);
    assert_string_equal(hm_project_input_at(project, 0)->path, expected);
    snprintf(expected, sizeof expected, "%s/out/valid", real);
    assert_string_equal(hm_project_output_dir(project), expected); /* default: out/STEM beside the file */
    assert_int_equal(hm_project_find_input(project, hm_project_input_at(project, 2)->path), 2);

    hm_argv argv;
    assert_int_equal(hm_project_geocode_argv(ctx, project, "/o/h.gpkg", hm_project_input_at(project, 0), NULL, 3,
                                             &argv),
                     HM_OK);
    assert_string_equal(argv.argv[0], "geocode");
    assert_true(has_arg(&argv, "-o", "/o/h.gpkg"));
    snprintf(expected, sizeof expected, "%s/beats.gpkg", real);
    assert_true(has_arg(&argv, "--beats", expected));
    snprintf(expected, sizeof expected, "%s/intel.csv", real);
    assert_true(has_arg(&argv, "--intel", expected));
    assert_null(argv.argv[argv.argc]);
    hm_argv_free(&argv);

    assert_int_equal(hm_project_density_argv(ctx, project, "/o/h.gpkg", "/o/d.tif", &argv), HM_OK);
    assert_true(has_arg(&argv, "--radius", "400"));
    assert_true(has_arg(&argv, "--kernel", "triweight"));
    assert_true(has_arg(&argv, "--weight", "harm"));  /* the pipeline's default */
    assert_true(has_arg(&argv, "--extent", "wards")); /* idem */
    hm_argv_free(&argv);

    assert_int_equal(hm_project_aggregate_argv(ctx, project, "/o/h.gpkg", "/o", 0, &argv), HM_OK);
    assert_true(has_arg(&argv, "--period", "first:2026-01..2026-03"));
    hm_argv_free(&argv);

    assert_int_equal(hm_project_tiles_argv(ctx, project, "/o/d.tif", "/o/t", "/o/h.mbtiles", "/o/h.gpkg", 1, &argv),
                     HM_OK);
    assert_true(has_arg(&argv, "--zoom", "10-14"));
    assert_true(has_arg(&argv, "--range", "auto"));
    assert_true(has_arg(&argv, "--mbtiles", "/o/h.mbtiles"));
    assert_true(has_arg(&argv, "--overlay-layer", "wards"));
    assert_true(has_arg(&argv, "--update", NULL));
    assert_true(has_arg(&argv, "--title", "Test"));
    hm_argv_free(&argv);

    const char *role, *path;
    int found_population = 0;
    for (size_t i = 0; hm_project_dependency_at(project, i, &role, &path); i++)
        found_population |= strcmp(role, "population") == 0;
    assert_true(found_population);
    assert_int_equal(hm_project_flag(project, "tiles", "mbtiles", 0), 1);
    assert_int_equal(hm_project_flag(project, "aggregate", "public", 0), 0);
    free(real);
    hm_project_destroy(project);
    hm_ctx_destroy(ctx);
}

/* Loads `text` and checks that it fails with a message holding every one of the given fragments. */
static void expect_problem(const char *text, ...)
{
    hm_ctx *ctx = hm_ctx_create();
    hm_project *project = NULL;
    const char *path = write_file("bad.ini", text);
    assert_int_equal(hm_project_load(ctx, path, &project), HM_EINVAL);
    assert_null(project);
    const char *message = hm_error_message(ctx);
    va_list args;
    va_start(args, text);
    for (const char *fragment = va_arg(args, const char *); fragment; fragment = va_arg(args, const char *))
        if (!strstr(message, fragment)) fail_msg("message lacks \"%s\": %s", fragment, message);
    va_end(args);
    hm_ctx_destroy(ctx);
}

/* Loads `text` and checks that it loads. */
static void expect_no_problem(const char *text)
{
    hm_ctx *ctx = hm_ctx_create();
    hm_project *project = NULL;
    const char *path = write_file("good.ini", text);
    if (hm_project_load(ctx, path, &project) != HM_OK) fail_msg("refused: %s", hm_error_message(ctx));
    hm_project_destroy(project);
    hm_ctx_destroy(ctx);
}

#define BASE "[boundaries]\nwards = wards.gpkg\n[inputs]\nincidents = a.csv\n"

static void test_problems_name_line_key_and_valid_values(void **state)
{
    (void)state;
    expect_problem(BASE "[density]\nradious = 400\n", "bad.ini:6: [density] radious: unknown key",
                   "the keys of [density] are radius, radius_field, cell, kernel", NULL);
    expect_problem(BASE "[density]\nkernel = quadratic\n", "bad.ini:6: [density] kernel = quadratic: not a valid value",
                   "use quartic, triangular, uniform, triweight or epanechnikov", NULL);
    expect_problem(BASE "[densty]\nradius = 400\n", "bad.ini:6: [densty] is not a section",
                   "[project], [boundaries], [inputs], [harm], [aggregate], [periods], [density], [tiles], [qgis]",
                   NULL);
    expect_problem("wards = wards.gpkg\n" BASE, "bad.ini:1: wards = ...: a key before any [section]", NULL);
    expect_problem(BASE "incidents = nope.csv\n", "bad.ini:5: [inputs] incidents = nope.csv: No such file",
                   "nope.csv; relative paths start from the project file's folder", NULL);
    expect_problem(BASE "incidents = a.csv\n", "bad.ini:5: [inputs] incidents = a.csv names the same file as line 4",
                   NULL);
    expect_problem(BASE "[density]\ncell = 10\ncell = 20\n", "bad.ini:7: [density] cell is given again (first on line 6)",
                   NULL);
    expect_problem(BASE "[density]\ncell = -5\n", "bad.ini:6: [density] cell = -5: give a number from", NULL);
    expect_problem(BASE "[tiles]\nzoom = 15-8\n", "bad.ini:6: [tiles] zoom = 15-8: give zoom levels", NULL);
    expect_problem(BASE "[tiles]\nrange = 5,1\n", "bad.ini:6: [tiles] range = 5,1: give auto or MIN,MAX", NULL);
    expect_problem(BASE "[tiles]\nmbtiles = maybe\n", "bad.ini:6: [tiles] mbtiles = maybe: give yes or no", NULL);
    expect_problem(BASE "[periods]\n2026-Q1 = 2026-01..2026-03\n", "bad.ini:6: [periods] 2026-Q1: a period's name",
                   NULL);
    expect_problem(BASE "[periods]\nq1 = 2026-01..2026-13\n", "bad.ini:6: [periods] q1 = 2026-01..2026-13: give "
                   "FROM..TO", NULL);
    expect_problem(BASE "[periods]\nq1 = 2026-06..2026-04\n", "bad.ini:6: [periods] q1 = 2026-06..2026-04 ends "
                   "before it starts", NULL);
    expect_problem(BASE "[periods]\nq1 = 2026-01..2026-03\nq2 = 2026-03-15..2026-06\n", "bad.ini:7: [periods] q2 = "
                   "2026-03-15..2026-06 overlaps q1 = 2026-01..2026-03 (line 6)", NULL);
    /* Periods that follow one another, by month and by day, are fine. */
    expect_no_problem(BASE "[periods]\nq1 = 2026-01..2026-03\nq2 = 2026-04..2026-06\nq3 = 2026-07-01..2026-07-15\n"
                      "q4 = 2026-07-16..2026-09\n");
    expect_problem(BASE "[harm]\nhalf_life = 180d\n", "bad.ini:6: [harm] half_life needs reference_date", NULL);
    expect_problem(BASE "[harm]\nindex = chi\n", "bad.ini:6: [harm] index = chi: not one of cchi or css", NULL);
    expect_problem(BASE "[density]\nextent = beats\n", "[density] extent = beats, but [boundaries] names no beats",
                   NULL);
    expect_problem("[inputs]\nincidents = a.csv\n", "bad.ini: [boundaries] wards is missing", NULL);
    expect_problem("[boundaries]\nwards = wards.gpkg\n", "[inputs] names no records", NULL);
    expect_problem(BASE "this line has no equals sign\n", "bad.ini:5: not a 'key = value' line", NULL);
    char long_line[400];
    snprintf(long_line, sizeof long_line, BASE "[project]\nname = %0250d\n", 7);
    expect_problem(long_line, "bad.ini:6: the line is 257 characters long; lines can be at most 197", NULL);
    /* several problems at once, each on its own line */
    expect_problem(BASE "[density]\nkernel = x\ncell = y\n[tiles]\nzomm = 3\n", "3 problems in the project file",
                   "bad.ini:6:", "bad.ini:7:", "bad.ini:9:", NULL);
}

static void test_every_geocode_column_has_a_key(void **state)
{
    (void)state;
    char text[4096];
    size_t used = (size_t)snprintf(text, sizeof text, BASE);
    for (int role = 0; role < HM_ROLE_COUNT; role++) {
        char key[64];
        snprintf(key, sizeof key, "%s_field", hm_role_name((hm_role)role));
        for (char *p = key; *p; p++)
            if (*p == '-') *p = '_';
        used += (size_t)snprintf(text + used, sizeof text - used, "%s = column%d\n", key, role);
    }
    hm_ctx *ctx = hm_ctx_create();
    hm_project *project = NULL;
    if (hm_project_load(ctx, write_file("fields.ini", text), &project) != HM_OK)
        fail_msg("%s", hm_error_message(ctx));
    hm_argv argv;
    assert_int_equal(hm_project_geocode_argv(ctx, project, "o.gpkg", hm_project_input_at(project, 0), NULL, 1, &argv),
                     HM_OK);
    for (int role = 0; role < HM_ROLE_COUNT; role++) {
        char option[64], value[32];
        snprintf(option, sizeof option, "--%s-field", hm_role_name((hm_role)role));
        snprintf(value, sizeof value, "column%d", role);
        if (!has_arg(&argv, option, value)) fail_msg("no %s %s in geocode's argv", option, value);
    }
    hm_argv_free(&argv);
    hm_project_destroy(project);
    hm_ctx_destroy(ctx);
}

static void test_append_input(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_project *project = NULL;
    const char *path = write_file("append.ini", valid);
    char saved_path[PATH_MAX + 64];
    snprintf(saved_path, sizeof saved_path, "%s", path);
    assert_int_equal(hm_project_load(ctx, saved_path, &project), HM_OK);
    char *real = realpath(folder, NULL);
    char added[PATH_MAX + 32];
    snprintf(added, sizeof added, "%s/c.csv", real);
    write_file("c.csv", "x\n");
    assert_int_equal(hm_project_append_input(ctx, project, HM_PROJECT_INCIDENTS, added), HM_OK);
    assert_int_equal(hm_project_input_count(project), 4);
    assert_string_equal(hm_project_input_at(project, 2)->path, added);
    hm_project_destroy(project);
    /* the file: the new line right after the last incidents line, written relative to the project's folder */
    FILE *file = fopen(saved_path, "r");
    char line[256];
    int number = 0, found = 0;
    while (fgets(line, sizeof line, file)) {
        number++;
        if (strcmp(line, "incidents = c.csv\n") == 0) found = number;
    }
    fclose(file);
    assert_int_equal(found, 12);
    assert_int_equal(hm_project_load(ctx, saved_path, &project), HM_OK);
    assert_int_equal(hm_project_input_count(project), 4);
    assert_string_equal(hm_project_input_at(project, 2)->as_written, "c.csv");
    assert_int_equal(hm_project_input_at(project, 2)->line, 12);
    free(real);
    hm_project_destroy(project);
    hm_ctx_destroy(ctx);
}

static void test_argv_format(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_argv argv = {0};
    hm_argv_push(ctx, &argv, "tiles");
    hm_argv_push(ctx, &argv, "/a b/c.tif");
    hm_argv_push(ctx, &argv, "--title");
    hm_argv_push(ctx, &argv, "Bob's map");
    char line[256];
    hm_argv_format(&argv, line, sizeof line);
    assert_string_equal(line, "tiles '/a b/c.tif' --title 'Bob'\\''s map'");
    hm_argv_free(&argv);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_project),
        cmocka_unit_test(test_problems_name_line_key_and_valid_values),
        cmocka_unit_test(test_every_geocode_column_has_a_key),
        cmocka_unit_test(test_append_input),
        cmocka_unit_test(test_argv_format),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
