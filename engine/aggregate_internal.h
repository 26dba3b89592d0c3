/*
 * aggregate_internal.h - the results of `harmmap aggregate` as the report writer sees them. Private to
 * aggregate.c and aggregate_report.c: the public interface is aggregate.h.
 */
#ifndef HM_AGGREGATE_INTERNAL_H
#define HM_AGGREGATE_INTERNAL_H

#include "context.h"
#include "hotspots.h"

#include <geos_c.h>
#include <ogr_api.h>
#include <stddef.h>

#define HM_AGG_TOP_RECORDS 3 /* `dominated`: the share of an area's harm carried by its largest records */

typedef struct hm_agg_period {
    char name[64];
    long from_days, to_days; /* inclusive, days since 1970-01-01 */
    char text[128];          /* as given: NAME:FROM..TO */
} hm_agg_period;

typedef struct hm_agg_area {
    char *code, *name;
    double area_km2;
    int has_population;
    double population;
    OGRGeometryH geometry;  /* owned: the boundary as a MultiPolygon in the working CRS */
    GEOSGeometry *geos;     /* owned: the same, for neighbours and drawing */

    long long count, incident_count, intelligence_count;
    double harm;
    double top_harm[HM_AGG_TOP_RECORDS]; /* largest record harms, descending */
    long long *period_count;
    double *period_harm;
    double *category_harm; /* per category (hm_agg_result.categories) */

    /* Derived; NaN where undefined (no population, zero area, no records ...). */
    double harm_per_1000, harm_per_km2, share, top_share;
    long rank, rank_per_km2, rank_per_1000; /* 1 = most harm; 0 = not ranked (suppressed or undefined) */
    char top_categories[320];
    int dominated;
    double count_change, harm_change, harm_ratio, change_p, change_q;
    double hotspot_value;
    size_t neighbour_count;
    hm_gi_star_result gi;
    double gi_q;
    const char *gi_class; /* "hot", "cold" or "" (q >= 0.05) */
    hm_local_moran_result moran;
    double moran_q;
    int suppressed;          /* --public: fewer than --min-count records: every figure withheld */
    int *period_suppressed;  /* --public: per period */
} hm_agg_area;

typedef struct hm_agg_set {
    const char *kind;       /* "ward" or "beat" */
    const char *layer_name; /* "ward_harm" or "beat_harm" */
    hm_agg_area *areas;
    size_t count;
    int hotspots_computed;
    char hotspot_note[512]; /* why hot spots were not computed, or how they were */
    size_t islands;
    size_t suppressed_count;
    long long count_total;          /* over published areas in --public */
    double harm_total;              /* over published areas in --public */
    long long unmatched_records;    /* records whose code names no area of the layer */
} hm_agg_set;

typedef struct hm_agg_result {
    char input_path[4096];
    char started[32];
    hm_agg_set wards, beats;
    int has_beats;
    hm_agg_period *periods;
    size_t period_count;
    char **categories;
    size_t category_count;
    int public_mode;
    long min_count;
    int has_population;
    char population_path[4096];
    const char *hotspot_variable; /* "density", "rate" or "harm" */
    const char *hotspot_label;    /* e.g. "harm per km²" */
    double neighbour_tolerance_m;
    char harm_source[20000];      /* where harm came from: the geocode column or the model's description */
    char unit[96];
    char unweighted_note[2048];      /* categories that got no weight (harm 0), for the report; "" when none */
    long long records_read, records_used, records_outside, records_undated, records_outside_periods;
    long long withheld_intelligence; /* --public: intelligence left out (handling code not P) */
    long long partial_month_records; /* month-dated records in a month a period only partly covers */
    double placed_harm_total;        /* sum over the records placed in a ward (conservation check) */
    /* The wards' outlines on the report's maps (SVG path data), one per ward, or NULL: the report makes those
     * missing and leaves them here, and aggregate keeps them with its sums (they depend on the boundaries only). */
    char **ward_outlines;
} hm_agg_result;

/* What the outlines depend on besides the boundaries (map size, simplification, number format), for the key they
 * are kept with. */
const char *hm_agg_outline_form(void);

/* Writes the self-contained HTML report. */
int hm_agg_write_report(hm_ctx *ctx, const hm_agg_result *result, const char *path);

/* Formats a number for people: thousands separators, at most `decimals` decimals ("12,345.6"). */
void hm_agg_format_number(double value, int decimals, char *out, size_t size);

#endif
