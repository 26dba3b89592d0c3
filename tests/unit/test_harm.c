/* test_harm.c - the harm model on hand-computed cases: table lookups, multipliers, flags and bad tables. */
#include "harm.h"
#include "test_folder.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char temp_dir[512];

static int make_temp_dir(void **state)
{
    (void)state;
    return test_folder_create(temp_dir, sizeof temp_dir, "test_harm");
}

static int remove_temp_dir(void **state)
{
    (void)state;
    return test_folder_remove(temp_dir);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    return path;
}

static hm_harm_input incident(const char *category)
{
    hm_harm_input in = {0};
    in.category = category;
    in.weight = 1;
    return in;
}

static hm_harm_model *load(hm_ctx *ctx, const hm_harm_options *options)
{
    hm_harm_model *model = NULL;
    int status = hm_harm_model_load(ctx, options, &model);
    if (status != HM_OK) fprintf(stderr, "load failed: %s\n", hm_error_message(ctx));
    assert_int_equal(status, HM_OK);
    assert_non_null(model);
    return model;
}

static void test_cchi_categories(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    hm_harm_model *model = load(ctx, NULL); /* NULL options: cchi, default grading */
    assert_string_equal(hm_harm_model_index_name(model), "cchi");
    assert_string_equal(hm_harm_model_unit(model), "days of custody");

    hm_harm_parts parts;
    hm_harm_input in = incident("Robbery");
    assert_int_equal(hm_harm_model_weigh(model, &in, &parts), HM_OK);
    assert_true(parts.base == 365 && parts.harm == 365);
    assert_int_equal(parts.flag, HM_HARM_OK);
    assert_string_equal(parts.matched_category, "Robbery");
    assert_true(parts.grading_multiplier == 1 && parts.ocg_multiplier == 1 && parts.recency_multiplier == 1);

    /* Spelling variants and API slugs find the same row. */
    const char *violence[] = {"Violence and sexual offences", "violence-and-sexual-offences", "VIOLENT-CRIME",
                              " violence  and sexual_offences "};
    for (size_t i = 0; i < sizeof violence / sizeof violence[0]; i++) {
        in = incident(violence[i]);
        hm_harm_model_weigh(model, &in, &parts);
        assert_true(parts.base == 10);
        assert_string_equal(parts.matched_category, "Violence and sexual offences");
    }
    /* The record's weight multiplies. */
    in = incident("Burglary");
    in.weight = 2.5;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(fabs(parts.harm - 273.5 * 2.5) < 1e-9);
    in = incident("Anti-social behaviour");
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.harm == 0 && parts.flag == HM_HARM_OK);

    /* Unknown categories: harm 0, flagged and counted (never silent). */
    in = incident("Fraud");
    hm_harm_model_weigh(model, &in, &parts);
    hm_harm_model_weigh(model, &in, &parts);
    assert_int_equal(parts.flag, HM_HARM_UNKNOWN_CATEGORY);
    assert_true(parts.harm == 0 && parts.base == 0);
    assert_null(parts.matched_category);
    in = incident(NULL);
    hm_harm_model_weigh(model, &in, &parts);
    assert_int_equal(parts.flag, HM_HARM_UNKNOWN_CATEGORY);
    assert_int_equal(hm_harm_model_flag_count(model, HM_HARM_UNKNOWN_CATEGORY), 3);
    /* Each flagged name once, with its count, for reports. */
    assert_int_equal(hm_harm_model_flagged_count(model), 2);
    hm_harm_flag flag;
    const char *name;
    long long count;
    assert_int_equal(hm_harm_model_flagged(model, 0, &flag, &name, &count), HM_OK);
    assert_string_equal(name, "Fraud");
    assert_true(count == 2 && flag == HM_HARM_UNKNOWN_CATEGORY);
    assert_int_equal(hm_harm_model_flagged(model, 1, &flag, &name, &count), HM_OK);
    assert_string_equal(name, "(empty)");
    assert_int_equal(hm_harm_model_flagged(model, 2, &flag, &name, &count), HM_EINVAL);
    assert_string_equal(hm_harm_flag_code(HM_HARM_UNKNOWN_CATEGORY), "unknown_category");

    /* A negative weight is a caller error, not a record flag. */
    in = incident("Robbery");
    in.weight = -1;
    assert_int_equal(hm_harm_model_weigh(model, &in, &parts), HM_EINVAL);
    in.weight = NAN;
    assert_int_equal(hm_harm_model_weigh(model, &in, &parts), HM_EINVAL);
    hm_harm_model_warn(ctx, model);
    hm_harm_model_destroy(model);
    hm_ctx_destroy(ctx);
}

static void test_css_and_proactive(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    hm_harm_options options = {0};
    options.index = "css";
    hm_harm_model *model = load(ctx, &options);
    hm_harm_parts parts;
    hm_harm_input in = incident("Robbery");
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.base == 993.55);
    /* A row left empty (no verified number) is flagged, not guessed. */
    in = incident("Burglary");
    hm_harm_model_weigh(model, &in, &parts);
    assert_int_equal(parts.flag, HM_HARM_NO_WEIGHT);
    assert_true(parts.harm == 0);
    assert_string_equal(parts.matched_category, "Burglary");
    hm_harm_model_destroy(model);

    options.index = "cchi";
    options.exclude_proactive = 1;
    model = load(ctx, &options);
    in = incident("Drugs");
    hm_harm_model_weigh(model, &in, &parts);
    assert_int_equal(parts.flag, HM_HARM_PROACTIVE_EXCLUDED);
    assert_true(parts.harm == 0);
    in = incident("Robbery");
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.harm == 365);
    hm_harm_model_destroy(model);
    hm_ctx_destroy(ctx);
}

static void test_grading_and_ocg(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    hm_harm_options options = {0};
    options.ocg_table = write_file("ocg.csv", "ocg_ref,score\nOCG-17,2.5\nocg 9,0.5\n");
    hm_harm_model *model = load(ctx, &options);

    hm_harm_parts parts;
    hm_harm_input in = incident("Robbery");
    in.is_intelligence = 1;
    in.source_evaluation = 2;       /* untested: 0.7 */
    in.intelligence_assessment = 3; /* C, known indirectly: 0.6 */
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(fabs(parts.grading_multiplier - 0.42) < 1e-12);
    assert_true(fabs(parts.harm - 365 * 0.42) < 1e-9);

    in.source_evaluation = 1;
    in.intelligence_assessment = 5; /* E, suspected false: adds no harm */
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.harm == 0 && parts.flag == HM_HARM_OK);

    in.intelligence_assessment = 1;
    in.ocg_ref = "OCG-17";
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.ocg_multiplier == 2.5 && parts.harm == 365 * 2.5);
    in.ocg_ref = "OCG 9"; /* normalised match */
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.ocg_multiplier == 0.5);
    in.ocg_ref = "OCG-99";
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.ocg_multiplier == 1 && parts.flag == HM_HARM_UNKNOWN_OCG && parts.harm == 365);

    in.ocg_ref = NULL;
    in.source_evaluation = 4;
    hm_harm_model_weigh(model, &in, &parts);
    assert_int_equal(parts.flag, HM_HARM_BAD_GRADING);
    assert_true(parts.harm == 0);

    /* Grading does not apply to incidents. */
    in = incident("Robbery");
    in.source_evaluation = 3;
    in.intelligence_assessment = 5;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.harm == 365);
    hm_harm_model_destroy(model);

    /* A replacement grading table, with letters for the assessment. */
    options.ocg_table = NULL;
    options.grading_table = write_file("grading.csv", "part,grade,multiplier\nsource_evaluation,1,1\n"
                                                      "source_evaluation,2,0.5\nsource_evaluation,3,0.25\n"
                                                      "intelligence_assessment,A,1\nintelligence_assessment,B,1\n"
                                                      "intelligence_assessment,C,0.5\nintelligence_assessment,D,0.5\n"
                                                      "intelligence_assessment,E,0.1\n");
    model = load(ctx, &options);
    in = incident("Shoplifting");
    in.is_intelligence = 1;
    in.source_evaluation = 3;
    in.intelligence_assessment = 5;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(fabs(parts.harm - 0.025) < 1e-12);
    hm_harm_model_destroy(model);
    hm_ctx_destroy(ctx);
}

static void test_recency(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    hm_harm_options options = {0};
    options.half_life_days = 180;
    options.reference_days = 19723; /* 2024-01-01 */
    hm_harm_model *model = load(ctx, &options);
    assert_non_null(strstr(hm_harm_model_description(model), "half-life 180 days back from 2024-01-01"));
    hm_harm_parts parts;
    hm_harm_input in = incident("Robbery");
    in.has_date = 1;
    in.date_days = 19723 - 180;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(fabs(parts.recency_multiplier - 0.5) < 1e-12);
    in.date_days = 19723 - 360;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(fabs(parts.harm - 365 * 0.25) < 1e-9);
    in.date_days = 19723;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.recency_multiplier == 1 && parts.flag == HM_HARM_OK);
    in.date_days = 19723 + 10;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.recency_multiplier == 1 && parts.flag == HM_HARM_AFTER_REFERENCE);
    in.has_date = 0;
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.recency_multiplier == 1 && parts.flag == HM_HARM_NO_DATE);
    assert_int_equal(hm_harm_model_flag_count(model, HM_HARM_NO_DATE), 1);
    hm_harm_model_destroy(model);

    options.half_life_days = -5;
    assert_int_equal(hm_harm_model_load(ctx, &options, &model), HM_EINVAL);
    assert_null(model);
    hm_ctx_destroy(ctx);
}

static void expect_load_error(hm_ctx *ctx, const char *table, const char *message_part)
{
    hm_harm_options options = {0};
    options.index = write_file("bad.csv", table);
    hm_harm_model *model = NULL;
    hm_error_clear(ctx);
    int status = hm_harm_model_load(ctx, &options, &model);
    assert_int_not_equal(status, HM_OK);
    assert_null(model);
    if (!strstr(hm_error_message(ctx), message_part))
        fail_msg("message '%s' does not contain '%s'", hm_error_message(ctx), message_part);
}

static void test_bad_tables(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    expect_load_error(ctx, "name,weight\nRobbery,1\n", "needs columns 'category' and 'weight'");
    expect_load_error(ctx, "category,weight\nRobbery,1\nrobbery,2\n", "bad.csv:3: category 'robbery' is already named at line 2");
    expect_load_error(ctx, "category,weight\nRobbery,lots\n", "bad.csv:2: field weight 'lots'");
    expect_load_error(ctx, "category,weight\nRobbery,-3\n", "bad.csv:2: field weight '-3'");
    expect_load_error(ctx, "category,weight,aliases\nRobbery,1,theft\nTheft,2,\n", "bad.csv:3: category 'Theft' is already named at line 2");
    expect_load_error(ctx, "category,weight\n", "no rows");
    expect_load_error(ctx, "", "empty");
    expect_load_error(ctx, "category,weight,proactive\nDrugs,1,yes\n", "field proactive 'yes'");

    hm_harm_options options = {0};
    hm_harm_model *model = NULL;
    options.grading_table = write_file("g.csv", "part,grade,multiplier\nsource_evaluation,1,1\n");
    hm_error_clear(ctx);
    assert_int_not_equal(hm_harm_model_load(ctx, &options, &model), HM_OK);
    assert_non_null(strstr(hm_error_message(ctx), "no row for source_evaluation grade 2"));
    options.grading_table = write_file("g.csv", "part,grade,multiplier\nsource_evaluation,4,1\n");
    hm_error_clear(ctx);
    assert_int_not_equal(hm_harm_model_load(ctx, &options, &model), HM_OK);
    assert_non_null(strstr(hm_error_message(ctx), "g.csv:2: field grade '4'"));
    options.grading_table = NULL;
    options.ocg_table = write_file("o.csv", "ocg_ref,score\nA,1\na,2\n");
    hm_error_clear(ctx);
    assert_int_not_equal(hm_harm_model_load(ctx, &options, &model), HM_OK);
    assert_non_null(strstr(hm_error_message(ctx), "o.csv:3: OCG 'a' is given twice"));
    options.ocg_table = NULL;
    options.index = "/nonexistent/weights.csv";
    hm_error_clear(ctx);
    assert_int_not_equal(hm_harm_model_load(ctx, &options, &model), HM_OK);
    assert_non_null(strstr(hm_error_message(ctx), "/nonexistent/weights.csv"));
    hm_ctx_destroy(ctx);
}

/* HARMMAP_DATA replaces the data folder. */
static void test_data_override(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    char path[1024];
    snprintf(path, sizeof path, "%s/harm", temp_dir);
    mkdir(path, 0700);
    write_file("harm/cchi.csv", "category,weight\nRobbery,7\n");
    write_file("harm/grading.csv", "part,grade,multiplier\nsource_evaluation,1,1\nsource_evaluation,2,1\n"
                                   "source_evaluation,3,1\nintelligence_assessment,1,1\nintelligence_assessment,2,1\n"
                                   "intelligence_assessment,3,1\nintelligence_assessment,4,1\n"
                                   "intelligence_assessment,5,1\n");
    setenv("HARMMAP_DATA", temp_dir, 1);
    hm_harm_model *model = load(ctx, NULL);
    hm_harm_parts parts;
    hm_harm_input in = incident("robbery");
    hm_harm_model_weigh(model, &in, &parts);
    assert_true(parts.harm == 7);
    hm_harm_model_destroy(model);
    unsetenv("HARMMAP_DATA");
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cchi_categories), cmocka_unit_test(test_css_and_proactive),
        cmocka_unit_test(test_grading_and_ocg), cmocka_unit_test(test_recency),
        cmocka_unit_test(test_bad_tables),      cmocka_unit_test(test_data_override),
    };
    return cmocka_run_group_tests(tests, make_temp_dir, remove_temp_dir);
}
