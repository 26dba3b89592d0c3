/*
 * aggregate_report.c - the planners' report of `harmmap aggregate`: one self-contained HTML file (inline CSS and
 * SVG, no script, no network), so it can be mailed, archived and opened offline.
 *
 * Contents: what was counted and how (harm source, periods, suppression), a choropleth of the wards by harm per
 * km² in five quantile classes (suppressed wards hatched), a map of Gi* hot and cold spots, bar charts of the
 * highest-harm wards and (with periods) of the largest changes, and the ranked table of wards (and beats).
 * Polygons are simplified (GEOS topology-preserving, to about a pixel) so the file stays small.
 */
#include "aggregate_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAP_WIDTH 640.0
#define MAP_MAX_HEIGHT 640.0
#define HM_AGG_TEXT(x) #x
#define HM_AGG_STRINGIFY(x) HM_AGG_TEXT(x)
#define BAR_COUNT 10

static const char *const ramp[5] = {"#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"};

void hm_agg_format_number(double value, int decimals, char *out, size_t size)
{
    if (isnan(value)) {
        snprintf(out, size, "–");
        return;
    }
    char digits[64];
    snprintf(digits, sizeof digits, "%.*f", decimals, fabs(value));
    char *dot = strchr(digits, '.');
    size_t integer_length = dot ? (size_t)(dot - digits) : strlen(digits);
    char formatted[96];
    size_t k = 0;
    if (value < 0 && strspn(digits, "0.") != strlen(digits)) formatted[k++] = '-';
    for (size_t i = 0; i < integer_length; i++) {
        if (i > 0 && (integer_length - i) % 3 == 0) formatted[k++] = ',';
        formatted[k++] = digits[i];
    }
    if (dot) {
        /* Drop trailing zeros of the decimals. */
        size_t end = strlen(digits);
        while (end > integer_length + 1 && digits[end - 1] == '0') end--;
        if (end > integer_length + 1)
            for (size_t i = integer_length; i < end; i++) formatted[k++] = digits[i];
    }
    formatted[k] = '\0';
    snprintf(out, size, "%s", formatted);
}

static void write_escaped(FILE *file, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", file); break;
        case '<': fputs("&lt;", file); break;
        case '>': fputs("&gt;", file); break;
        case '"': fputs("&quot;", file); break;
        default: fputc(*p, file);
        }
    }
}

typedef struct map_frame {
    double xmin, ymin, xmax, ymax;
    double scale, width, height;
} map_frame;

static int frame_of(hm_ctx *ctx, const hm_agg_set *set, map_frame *frame)
{
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    int first = 1;
    for (size_t i = 0; i < set->count; i++) {
        double xmin, ymin, xmax, ymax;
        if (!GEOSGeom_getXMin_r(geos, set->areas[i].geos, &xmin) || !GEOSGeom_getYMin_r(geos, set->areas[i].geos, &ymin) ||
            !GEOSGeom_getXMax_r(geos, set->areas[i].geos, &xmax) || !GEOSGeom_getYMax_r(geos, set->areas[i].geos, &ymax))
            continue;
        if (first || xmin < frame->xmin) frame->xmin = xmin;
        if (first || ymin < frame->ymin) frame->ymin = ymin;
        if (first || xmax > frame->xmax) frame->xmax = xmax;
        if (first || ymax > frame->ymax) frame->ymax = ymax;
        first = 0;
    }
    if (first) return 0;
    double width = frame->xmax - frame->xmin, height = frame->ymax - frame->ymin;
    if (!(width > 0) || !(height > 0)) return 0;
    frame->scale = fmin(MAP_WIDTH / width, MAP_MAX_HEIGHT / height);
    frame->width = width * frame->scale;
    frame->height = height * frame->scale;
    return 1;
}

static void write_ring(FILE *file, GEOSContextHandle_t geos, const GEOSGeometry *ring, const map_frame *frame)
{
    const GEOSCoordSequence *sequence = GEOSGeom_getCoordSeq_r(geos, ring);
    unsigned int size = 0;
    if (!sequence || !GEOSCoordSeq_getSize_r(geos, sequence, &size) || size < 3) return;
    for (unsigned int k = 0; k < size; k++) {
        double x = 0, y = 0;
        GEOSCoordSeq_getXY_r(geos, sequence, k, &x, &y);
        fprintf(file, "%c%.1f %.1f", k == 0 ? 'M' : 'L', (x - frame->xmin) * frame->scale,
                (frame->ymax - y) * frame->scale);
    }
    fputc('Z', file);
}

static void write_path_data(FILE *file, GEOSContextHandle_t geos, const GEOSGeometry *geometry, const map_frame *frame)
{
    int parts = GEOSGetNumGeometries_r(geos, geometry);
    for (int g = 0; g < parts; g++) {
        const GEOSGeometry *polygon = GEOSGetGeometryN_r(geos, geometry, g);
        if (GEOSGeomTypeId_r(geos, polygon) != GEOS_POLYGON) continue;
        write_ring(file, geos, GEOSGetExteriorRing_r(geos, polygon), frame);
        int holes = GEOSGetNumInteriorRings_r(geos, polygon);
        for (int h = 0; h < holes; h++) write_ring(file, geos, GEOSGetInteriorRingN_r(geos, polygon, h), frame);
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Upper bounds of 5 quantile classes of the published, defined values. Returns the number of values. */
static size_t quantile_breaks(const hm_agg_set *set, double breaks[5])
{
    double *values = malloc((set->count ? set->count : 1) * sizeof *values);
    size_t n = 0;
    for (size_t i = 0; values && i < set->count; i++)
        if (!set->areas[i].suppressed && !isnan(set->areas[i].harm_per_km2)) values[n++] = set->areas[i].harm_per_km2;
    if (n) qsort(values, n, sizeof *values, compare_doubles);
    for (int c = 0; c < 5; c++) breaks[c] = n ? values[(size_t)ceil((double)(c + 1) * (double)n / 5.0) - 1] : 0;
    free(values);
    return n;
}

static int class_of(double value, const double breaks[5])
{
    for (int c = 0; c < 5; c++)
        if (value <= breaks[c]) return c;
    return 4;
}

typedef enum map_kind { MAP_DENSITY, MAP_HOTSPOTS } map_kind;

/* Change this with anything that changes outline_path's text (aggregate keeps outlines with its sums). */
const char *hm_agg_outline_form(void)
{
    static const char form[] = "outline 1: " HM_AGG_STRINGIFY(MAP_WIDTH) "x" HM_AGG_STRINGIFY(MAP_MAX_HEIGHT)
                               ", TopologyPreserveSimplify 0.7 px, M/L/Z %.1f";
    return form;
}

/* An area's outline simplified to about a pixel, as SVG path data in the frame (malloc'd; NULL out of memory). */
static char *outline_path(GEOSContextHandle_t geos, const hm_agg_area *area, const map_frame *frame)
{
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream(&text, &size);
    if (!memory) return NULL;
    GEOSGeometry *simple = GEOSTopologyPreserveSimplify_r(geos, area->geos, 0.7 / frame->scale);
    write_path_data(memory, geos, simple ? simple : area->geos, frame);
    if (simple) GEOSGeom_destroy_r(geos, simple);
    if (fclose(memory) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* `outlines` (may be NULL) holds each area's outline_path, made by the first map that needs it: both ward maps
 * draw the same outlines in the same frame, and simplifying them is most of the report's time. The caller frees
 * them (or keeps them: hm_agg_result.ward_outlines). */
static void write_map(FILE *file, hm_ctx *ctx, const hm_agg_result *result, const hm_agg_set *set, map_kind kind,
                      char **outlines)
{
    map_frame frame = {0};
    if (!frame_of(ctx, set, &frame)) {
        fputs("<p>(no map: the areas have no extent)</p>\n", file);
        return;
    }
    GEOSContextHandle_t geos = hm_ctx_geos(ctx);
    double breaks[5];
    size_t defined = quantile_breaks(set, breaks);
    fprintf(file, "<svg class=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" role=\"img\">\n", frame.width, frame.height, frame.width, frame.height);
    fputs("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
          "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e5e5e5\"/>"
          "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#999\" stroke-width=\"2\"/></pattern></defs>\n", file);
    for (size_t i = 0; i < set->count; i++) {
        const hm_agg_area *area = &set->areas[i];
        const char *fill = "#f4f4f4";
        char label[96] = "";
        if (area->suppressed) {
            fill = "url(#hatch)";
            snprintf(label, sizeof label, "suppressed (fewer than %ld records)", result->min_count);
        } else if (kind == MAP_DENSITY) {
            if (!isnan(area->harm_per_km2) && defined) fill = ramp[class_of(area->harm_per_km2, breaks)];
            char number[64];
            hm_agg_format_number(area->harm_per_km2, 1, number, sizeof number);
            snprintf(label, sizeof label, "harm per km²: %s", number);
        } else {
            if (strcmp(area->gi_class, "hot") == 0) fill = "#d7301f";
            else if (strcmp(area->gi_class, "cold") == 0) fill = "#2b8cbe";
            char number[64];
            hm_agg_format_number(area->gi.z, 2, number, sizeof number);
            snprintf(label, sizeof label, "Gi* z %s%s%s", number, *area->gi_class ? ", " : "", area->gi_class);
        }
        char *outline = outlines ? outlines[i] : NULL;
        if (!outline) outline = outline_path(geos, area, &frame);
        if (outlines) outlines[i] = outline;
        fprintf(file, "<path fill=\"%s\" d=\"%s\"><title>", fill, outline ? outline : "");
        write_escaped(file, area->code);
        fputs(" ", file);
        write_escaped(file, area->name);
        fputs(": ", file);
        write_escaped(file, label);
        fputs("</title></path>\n", file);
        if (!outlines) free(outline);
    }
    fputs("</svg>\n", file);
    fputs("<div class=\"legend\">", file);
    if (kind == MAP_DENSITY) {
        double lower = 0;
        for (int c = 0; c < 5 && defined; c++) {
            char a[64], b[64];
            hm_agg_format_number(lower, 1, a, sizeof a);
            hm_agg_format_number(breaks[c], 1, b, sizeof b);
            fprintf(file, "<span><i style=\"background:%s\"></i>%s – %s</span>", ramp[c], a, b);
            lower = breaks[c];
        }
        fputs("<span>harm per km², quantile classes</span>", file);
    } else {
        fputs("<span><i style=\"background:#d7301f\"></i>hot spot (Gi* q &lt; 0.05, z &gt; 0)</span>"
              "<span><i style=\"background:#2b8cbe\"></i>cold spot</span>"
              "<span><i style=\"background:#f4f4f4\"></i>not significant</span>", file);
    }
    if (set->suppressed_count)
        fprintf(file, "<span><i class=\"hatched\"></i>suppressed (fewer than %ld records)</span>", result->min_count);
    fputs("</div>\n", file);
}

typedef struct bar {
    const hm_agg_area *area;
    double value;
} bar;

static int compare_bars(const void *a, const void *b)
{
    double x = fabs(((const bar *)a)->value), y = fabs(((const bar *)b)->value);
    return x > y ? -1 : x < y;
}

static void write_bars(FILE *file, const hm_agg_set *set, int change, const char *unit)
{
    bar bars[4096];
    size_t n = 0;
    for (size_t i = 0; i < set->count && n < sizeof bars / sizeof bars[0]; i++) {
        const hm_agg_area *area = &set->areas[i];
        if (area->suppressed) continue;
        double value = change ? area->harm_change : area->harm;
        if (isnan(value) || value == 0) continue;
        bars[n++] = (bar){area, value};
    }
    if (n == 0) {
        fputs("<p>(nothing to chart)</p>\n", file);
        return;
    }
    qsort(bars, n, sizeof *bars, compare_bars);
    if (n > BAR_COUNT) n = BAR_COUNT;
    double largest = 0;
    for (size_t k = 0; k < n; k++) largest = fmax(largest, fabs(bars[k].value));
    const double label_width = 220, chart_width = 360, row = 22;
    double zero = change ? label_width + chart_width / 2 : label_width;
    double span = change ? chart_width / 2 : chart_width;
    fprintf(file, "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" role=\"img\">\n", label_width + chart_width + 110, row * (double)n + 8,
            label_width + chart_width + 110, row * (double)n + 8);
    for (size_t k = 0; k < n; k++) {
        double y = 4 + row * (double)k;
        double length = largest > 0 ? span * fabs(bars[k].value) / largest : 0;
        double x = bars[k].value < 0 ? zero - length : zero;
        const char *colour = change ? (bars[k].value > 0 ? "#d7301f" : "#2b8cbe") : "#f03b20";
        char number[64];
        hm_agg_format_number(bars[k].value, 1, number, sizeof number);
        fprintf(file, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", label_width - 6, y + 14);
        write_escaped(file, bars[k].area->name && *bars[k].area->name ? bars[k].area->name : bars[k].area->code);
        fprintf(file, "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"><title>",
                x, y + 2, fmax(length, 1), row - 6, colour);
        write_escaped(file, bars[k].area->code);
        fprintf(file, ": %s %s</title></rect>", number, unit);
        fprintf(file, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", label_width + chart_width + 6, y + 14, number);
    }
    if (change)
        fprintf(file, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#333\"/>\n", zero, zero,
                row * (double)n + 8);
    fputs("</svg>\n", file);
}

static int compare_rank(const void *a, const void *b)
{
    const hm_agg_area *x = *(const hm_agg_area *const *)a, *y = *(const hm_agg_area *const *)b;
    long rx = x->rank ? x->rank : 1L << 30, ry = y->rank ? y->rank : 1L << 30;
    if (rx != ry) return rx < ry ? -1 : 1;
    return strcmp(x->code, y->code);
}

static void write_number_cell(FILE *file, double value, int decimals)
{
    char number[64];
    hm_agg_format_number(value, decimals, number, sizeof number);
    fprintf(file, "<td class=\"n\">%s</td>", number);
}

static void write_table(FILE *file, const hm_agg_result *result, const hm_agg_set *set)
{
    const hm_agg_area **order = malloc((set->count ? set->count : 1) * sizeof *order);
    if (!order) return;
    for (size_t i = 0; i < set->count; i++) order[i] = &set->areas[i];
    qsort(order, set->count, sizeof *order, compare_rank);
    int ward = strcmp(set->kind, "ward") == 0;
    int population = result->has_population && ward;
    int change = result->period_count >= 2;
    fputs("<table>\n<thead><tr><th>Rank</th><th>Code</th><th>Name</th><th>Records</th><th>Harm</th>"
          "<th>Harm per km²</th>", file);
    if (population) fputs("<th>Harm per 1,000 residents</th>", file);
    fputs("<th>Share</th><th>Top categories</th><th>Few records?</th><th>Gi* z</th><th>Hot/cold</th>", file);
    if (change) fputs("<th>Change in harm</th><th>Change in count</th><th>q (count change)</th>", file);
    fputs("</tr></thead>\n<tbody>\n", file);
    for (size_t k = 0; k < set->count; k++) {
        const hm_agg_area *area = order[k];
        fprintf(file, "<tr%s data-code=\"", area->suppressed ? " class=\"suppressed\"" : "");
        write_escaped(file, area->code);
        fputs("\">", file);
        if (area->rank)
            fprintf(file, "<td class=\"n\">%ld</td>", area->rank);
        else
            fputs("<td></td>", file);
        fputs("<td>", file);
        write_escaped(file, area->code);
        fputs("</td><td>", file);
        write_escaped(file, area->name);
        fputs("</td>", file);
        if (area->suppressed) {
            fprintf(file, "<td colspan=\"%d\">suppressed: fewer than %ld records</td></tr>\n",
                    7 + population + (change ? 3 : 0), result->min_count);
            continue;
        }
        fprintf(file, "<td class=\"n\">%lld</td>", area->count);
        write_number_cell(file, area->harm, 1);
        write_number_cell(file, area->harm_per_km2, 1);
        if (population) write_number_cell(file, area->harm_per_1000, 2);
        write_number_cell(file, area->share * 100, 1);
        fputs("<td>", file);
        write_escaped(file, area->top_categories);
        fprintf(file, "</td><td>%s</td>", area->dominated ? "yes" : "");
        write_number_cell(file, area->gi.z, 2);
        fprintf(file, "<td>%s</td>", area->gi_class);
        if (change) {
            write_number_cell(file, area->harm_change, 1);
            write_number_cell(file, area->count_change, 0);
            write_number_cell(file, area->change_q, 3);
        }
        fputs("</tr>\n", file);
    }
    fputs("</tbody>\n</table>\n", file);
    free(order);
}

static const char style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;"
    "color:#222;max-width:1100px}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}"
    ".note{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px}"
    ".public{background:#e8f4fd;border-left:4px solid #2b8cbe;padding:8px 12px}"
    "svg.map path{stroke:#555;stroke-width:0.6}svg text{font-size:12px;fill:#222}"
    ".legend span{display:inline-block;margin:4px 12px 4px 0;font-size:0.9em}"
    ".legend i{display:inline-block;width:14px;height:14px;margin-right:4px;vertical-align:middle;"
    "border:1px solid #888}.legend i.hatched{background:repeating-linear-gradient(45deg,#e5e5e5 0 3px,#999 3px 5px)}"
    "table{border-collapse:collapse;font-size:0.85em;margin-top:8px}th,td{border:1px solid #ddd;padding:3px 6px;"
    "text-align:left;vertical-align:top}td.n{text-align:right;white-space:nowrap}"
    "tr.suppressed td{color:#777;background:#f4f4f4}thead th{background:#f0f0f0}"
    "dl dt{font-weight:bold;margin-top:6px}";

int hm_agg_write_report(hm_ctx *ctx, const hm_agg_result *result, const char *path)
{
    FILE *file = fopen(path, "w");
    if (!file) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    const hm_agg_set *wards = &result->wards;
    char number[64], total[64];
    fputs("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n", file);
    fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n", file);
    fprintf(file, "<title>Harm by ward%s</title>\n<style>%s</style>\n</head>\n<body>\n",
            result->public_mode ? " (public)" : "", style);
    fprintf(file, "<h1>Harm by ward%s</h1>\n", result->public_mode ? " — public version" : "");
    hm_agg_format_number(wards->harm_total, 1, total, sizeof total);
    fprintf(file, "<p>%zu wards%s. Total harm%s: <strong>%s</strong> (%s) from ", wards->count,
            result->has_beats ? " and their beats" : "", result->public_mode ? " of the published wards" : "", total,
            result->unit);
    if (result->public_mode)
        fprintf(file, "%lld records in published wards.", wards->count_total);
    else
        fprintf(file, "%lld records placed in a ward (%lld outside every ward).", wards->count_total,
                result->records_outside);
    fputs(" Generated ", file);
    write_escaped(file, result->started);
    fputs(" by harmmap aggregate.</p>\n", file);
    if (result->public_mode) {
        fputs("<div class=\"public\"><strong>Public version.</strong> ", file);
        fprintf(file, "Every figure of a ward or beat with fewer than %ld records is suppressed (%zu wards", result->min_count,
                wards->suppressed_count);
        if (result->has_beats) fprintf(file, ", %zu beats", result->beats.suppressed_count);
        fputs("), and so is any period's count below that. Ranks, shares and totals cover only the published areas. ",
              file);
        if (result->withheld_intelligence >= result->min_count)
            fprintf(file, "%lld intelligence records whose handling code does not permit sharing (not P) are left "
                    "out. ", result->withheld_intelligence);
        else if (result->withheld_intelligence > 0)
            fprintf(file, "Fewer than %ld intelligence records whose handling code does not permit sharing (not P) "
                    "are left out. ", result->min_count);
        else
            fputs("No intelligence had to be left out for its handling code. ", file);
        fputs("No record-level data is included.</div>\n", file);
    }
    if (result->unweighted_note[0]) {
        fputs("<div class=\"note\"><strong>Not counted in harm:</strong> these categories have no weight in the "
              "harm table, so their records add nothing to any ward's harm (they are still counted as records): ",
              file);
        write_escaped(file, result->unweighted_note);
        fputs(". Give them weights in a copy of the table (--harm-index FILE) to include them.</div>\n", file);
    }
    fputs("<div class=\"note\">Harm weights one record against another (a homicide weighs as much as thousands of "
          "thefts), so a ward's total can rest on a few records: see <em>Top categories</em> and <em>Few "
          "records?</em> before acting on a rank.</div>\n", file);

    char **outlines = result->ward_outlines ? result->ward_outlines : calloc(wards->count ? wards->count : 1,
                                                                             sizeof *outlines);
    fputs("<h2>Harm per km² by ward</h2>\n", file);
    write_map(file, ctx, result, wards, MAP_DENSITY, outlines);
    fputs("<h2>Hot spots between wards</h2>\n<p>", file);
    write_escaped(file, wards->hotspot_note);
    fputs(". Significance after controlling the false discovery rate (Benjamini-Hochberg) at 5%.</p>\n", file);
    if (wards->hotspots_computed) write_map(file, ctx, result, wards, MAP_HOTSPOTS, outlines);
    for (size_t i = 0; outlines != result->ward_outlines && outlines && i < wards->count; i++) free(outlines[i]);
    if (outlines != result->ward_outlines) free(outlines);

    fprintf(file, "<h2>Highest-harm wards</h2>\n");
    write_bars(file, wards, 0, result->unit);
    if (result->period_count >= 2) {
        const hm_agg_period *first = &result->periods[0], *last = &result->periods[result->period_count - 1];
        fputs("<h2>Largest changes in harm, ", file);
        write_escaped(file, first->name);
        fputs(" to ", file);
        write_escaped(file, last->name);
        fputs("</h2>\n", file);
        write_bars(file, wards, 1, result->unit);
        fputs("<p>Red: more harm in the later period; blue: less. The change in counts is tested with an exact "
              "conditional test (counts per day of each period), q-values adjusted for the false discovery "
              "rate.</p>\n", file);
    }
    fputs("<h2>Wards ranked by harm</h2>\n", file);
    write_table(file, result, wards);
    if (result->has_beats) {
        fputs("<h2>Beats ranked by harm</h2>\n", file);
        write_table(file, result, &result->beats);
    }
    fputs("<h2>How these numbers were made</h2>\n<dl>\n<dt>Harm</dt><dd>", file);
    write_escaped(file, result->harm_source);
    fputs("</dd>\n", file);
    if (result->period_count) {
        fputs("<dt>Periods</dt><dd>", file);
        for (size_t p = 0; p < result->period_count; p++) {
            if (p) fputs("; ", file);
            write_escaped(file, result->periods[p].text);
        }
        fputs(" (inclusive; records dated by month are counted by the first day of their month)</dd>\n", file);
    }
    fputs("<dt>Population</dt><dd>", file);
    write_escaped(file, result->has_population ? result->population_path : "not given: no rates per resident");
    fputs("</dd>\n<dt>Hot spots</dt><dd>", file);
    write_escaped(file, wards->hotspot_note);
    fputs("</dd>\n<dt>Input</dt><dd>", file);
    write_escaped(file, result->input_path);
    /* The overall count is left out of a public report: minus the published wards' counts, it would give the
     * suppressed ones. */
    hm_agg_format_number((double)result->records_used, 0, number, sizeof number);
    if (!result->public_mode) fprintf(file, " (%s records used)", number);
    fputs("</dd>\n</dl>\n</body>\n</html>\n", file);

    int failed = ferror(file);
    if (fflush(file) != 0 || fsync(fileno(file)) != 0) failed = 1;
    if (fclose(file) != 0) failed = 1;
    if (failed) return hm_error(ctx, HM_EIO, "%s: write failed: %s", path, strerror(errno));
    return HM_OK;
}
