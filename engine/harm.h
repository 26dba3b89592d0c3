/*
 * harm.h - the harm model: how much harm one record stands for, and the parts that number was made from.
 *
 * harm = base x grading_multiplier x ocg_multiplier x recency_multiplier x weight
 *
 *   base                the weight of the record's crime category from a weight table: the Cambridge Crime Harm
 *                       Index ("cchi", days of custody at the sentencing-guideline starting point for a first
 *                       offender; Sherman, Neyroud and Neyroud 2016), the ONS Crime Severity Score ("css"), or a
 *                       CSV table of the user's. data/harm/README.md says where every number comes from.
 *   grading_multiplier  for intelligence only: the confidence the 3x5x2 grading gives (source evaluation 1-3 and
 *                       intelligence assessment 1-5), from a table the user can replace (data/harm/grading.csv);
 *                       1 for incidents. The handling code (P/C) decides who may see a record, not its harm.
 *   ocg_multiplier      the score of the record's organised crime group from an optional table (ocg_ref,score);
 *                       1 when there is no table, no reference, or the reference is not in the table (counted).
 *   recency_multiplier  0.5^(age_days / half_life_days) with age measured back from a reference date; 1 when no
 *                       half-life is set. Records dated after the reference date get 1 (no growth), counted.
 *   weight              the record's own weight from the input (1 when the input gave none).
 *
 * Each part is returned so that an output row can carry all of them and an analyst can audit any harm figure.
 *
 * Category lookup is forgiving about spelling but not about meaning: names match case-insensitively ignoring
 * everything but letters and digits ("Violence and sexual offences" = "violence-and-sexual-offences"), and each
 * table row may list aliases (the data.police.uk API slugs such as "violent-crime"). A category that matches no
 * row gets harm 0 and the flag HM_HARM_UNKNOWN_CATEGORY; a row whose weight is left empty in the table (a number
 * not yet verified) gets harm 0 and HM_HARM_NO_WEIGHT. Neither is silent: the model counts every flag per
 * category, and hm_harm_model_warn reports them (each distinct category once, with its record count).
 *
 * Data files are found in $HARMMAP_DATA/harm/ when that environment variable is set, else in the source tree's
 * data/harm/ (compile definition HM_DATA_DIR).
 *
 * A model is not thread-safe (it keeps counters): use one per thread.
 */
#ifndef HM_HARM_H
#define HM_HARM_H

#include "context.h"

#include <stddef.h>

typedef struct hm_harm_model hm_harm_model;

typedef struct hm_harm_options {
    const char *index;         /* "cchi" (also when NULL), "css", or the path of a CSV weight table */
    const char *grading_table; /* NULL: data/harm/grading.csv */
    const char *ocg_table;     /* NULL: no OCG multiplier; else a CSV with columns ocg_ref,score */
    double half_life_days;     /* 0: no recency decay */
    long reference_days;       /* reference date for the decay, days since 1970-01-01 (used when half_life > 0) */
    int exclude_proactive;     /* nonzero: categories marked proactive in the table (drugs, possession of
                                  weapons: mostly found by police activity, not reported by victims) get base 0,
                                  as in the original Cambridge method; 0: they count like any other */
} hm_harm_options;

typedef struct hm_harm_input {
    const char *category;        /* crime category or offence group as written in the record (NULL = none) */
    int is_intelligence;         /* nonzero for intelligence records: the grading multiplier applies */
    int source_evaluation;       /* 1..3 (1 reliable, 2 untested, 3 not reliable) */
    int intelligence_assessment; /* 1..5 (1 = A, known directly ... 5 = E, suspected false or malicious) */
    const char *ocg_ref;         /* organised crime group reference, NULL or "" when none */
    int has_date;                /* nonzero when date_days is set */
    long date_days;              /* date of the record, days since 1970-01-01 */
    double weight;               /* the record's weight from the input; 1 when the input had none */
} hm_harm_input;

/* Why a record's harm is 0 or a part fell back to its default. One flag per record: the first that applies. */
typedef enum hm_harm_flag {
    HM_HARM_OK = 0,
    HM_HARM_UNKNOWN_CATEGORY,   /* unknown_category: no table row matches the category (or it is empty): harm 0 */
    HM_HARM_NO_WEIGHT,          /* no_weight: the row exists but its weight is empty in the table: harm 0 */
    HM_HARM_PROACTIVE_EXCLUDED, /* proactive_excluded: proactive category and exclude_proactive set: harm 0 */
    HM_HARM_BAD_GRADING,        /* bad_grading: intelligence grading outside 1..3 / 1..5: harm 0 */
    HM_HARM_UNKNOWN_OCG,        /* unknown_ocg: an OCG reference not in the OCG table: multiplier 1 */
    HM_HARM_NO_DATE,            /* no_date: decay requested but the record has no date: recency multiplier 1 */
    HM_HARM_AFTER_REFERENCE,    /* after_reference: dated after the reference date: recency multiplier 1 */
    HM_HARM_FLAG_COUNT
} hm_harm_flag;

/* Stable snake_case code of a flag ("" for HM_HARM_OK), for output columns. */
const char *hm_harm_flag_code(hm_harm_flag flag);

typedef struct hm_harm_parts {
    double base;               /* category weight from the table (0 when flagged unknown/no weight/excluded) */
    double grading_multiplier; /* 1 for incidents */
    double ocg_multiplier;
    double recency_multiplier;
    double harm;               /* base x the three multipliers x the record's weight */
    hm_harm_flag flag;
    const char *matched_category; /* the table row's category name (owned by the model), NULL when unknown */
} hm_harm_parts;

/* Loads the weight table, grading table and OCG table. Errors name the file, line and field. */
int hm_harm_model_load(hm_ctx *ctx, const hm_harm_options *options, hm_harm_model **out);
hm_harm_model *hm_harm_model_destroy(hm_harm_model *model); /* returns NULL */

/* Weighs one record. Never fails on a record: problems are flags (see above). Returns HM_OK, or HM_EINVAL
 * when model, in or out is NULL or in->weight is negative or not finite (nothing counted). */
int hm_harm_model_weigh(hm_harm_model *model, const hm_harm_input *in, hm_harm_parts *out);

/* Records weighed so far with the given flag. */
long long hm_harm_model_flag_count(const hm_harm_model *model, hm_harm_flag flag);
/* Prints one warning per distinct unknown or unweighted category and per other flag seen, with counts (through
 * hm_warn), e.g. "harm: 12 records of category 'Fraud' match no row of cchi.csv: their harm is 0; add a row". */
void hm_harm_model_warn(hm_ctx *ctx, const hm_harm_model *model);

/* The categories (and OCG references) flagged so far, each once with its record count, for reports: index runs
 * from 0 to hm_harm_model_flagged_count() - 1; *name is owned by the model. Returns HM_EINVAL past the end. */
size_t hm_harm_model_flagged_count(const hm_harm_model *model);
int hm_harm_model_flagged(const hm_harm_model *model, size_t index, hm_harm_flag *flag, const char **name,
                          long long *count);

/* What the model is, for output metadata: e.g. "cchi (data/harm/cchi.csv: Cambridge Crime Harm Index, days of
 * custody); grading data/harm/grading.csv; no OCG table; half-life 180 days from 2024-06-30". */
const char *hm_harm_model_description(const hm_harm_model *model);
/* Short name of the index: "cchi", "css" or the file name of the user's table. */
const char *hm_harm_model_index_name(const hm_harm_model *model);
/* Unit of the base weights as written in the table (e.g. "days of custody"). */
const char *hm_harm_model_unit(const hm_harm_model *model);

/* Resolves a file under the data folder ("harm/cchi.csv"): $HARMMAP_DATA/<name> when set, else
 * HM_DATA_DIR/<name>. Returns HM_OK, or HM_EINVAL if the path does not fit in size. */
int hm_data_path(hm_ctx *ctx, const char *name, char *out, size_t size);

#endif
