/*
 * styles.h - default QGIS styles for harmmap's outputs, filled with each run's class breaks.
 *
 * A GIS officer who opens an output in QGIS should see a map, not QGIS's random single colour. QGIS loads a
 * layer's default style from two places without being asked: for a GeoPackage layer, the row of the
 * `layer_styles` table with useAsDefault set (the table QGIS itself creates when you "Save style in database"),
 * and for a raster file, a `.qml` file of the same base name beside it. This module writes both:
 *
 *   ward_harm, beat_harm    graduated choropleth of harm per 1,000 residents (harm per km² where the layer has no
 *                           population, harm where it has neither), classes by Jenks natural breaks (QGIS's own
 *                           algorithm, so QGIS's "Classify" gives the same breaks) or quantiles, colours from a
 *                           ramp file (default ylorrd)
 *   incidents               points by crime category, colours from data/styles/categories.csv
 *   intelligence            points by intelligence assessment (3x5x2 grading A-E), colours from categories.csv
 *   wards, beats            hollow outlines labelled with the area name
 *   a density surface       pseudocolour with the tiles' ramp, range and threshold (see tiles/ramp.h), so the
 *                           GeoTIFF in QGIS and the web tiles show the same colours for the same values
 *
 * The styles are text templates in data/styles/<name>.qml and <name>.sld (the SLD goes in the styleSLD column, for other
 * clients). A template is the XML QGIS writes, with {{name}} placeholders (values are XML-escaped),
 * {{#section}}...{{/section}} blocks repeated once per row (a class, a category, a colour stop; a row's names hide
 * the enclosing scope's), and {{! comments }} that are dropped. A placeholder with no value is an error naming the
 * template and line, so a filled style never keeps a placeholder. Section and comment tags alone on a line take
 * their line ending with them.
 *
 * The layer_styles table is created exactly as QGIS 3.22 creates it through GDAL (same DDL, gpkg_contents row as an
 * attributes table, gpkg_ogr_contents row and feature count triggers), with f_table_catalog and f_table_schema ''
 * (QGIS looks styles up with f_table_schema='' ), f_geometry_column the layer's geometry column, owner 'harmmap'
 * and styleName 'harmmap'. Running again replaces harmmap's own rows only: a style a user saved is kept, and when
 * the user's style is the layer's default, harmmap's is stored but not made the default (with a warning).
 */
#ifndef HM_STYLES_H
#define HM_STYLES_H

#include "context.h"
#include "layer_summary.h"

#include <sqlite3.h>
#include <stddef.h>

/* ---- templates ---- */

typedef struct hm_template_value {
    const char *name;
    const char *value; /* raw text; XML-escaped when substituted */
} hm_template_value;

typedef struct hm_template_scope hm_template_scope;

typedef struct hm_template_section {
    const char *name;
    const hm_template_scope *rows; /* the block is written once per row, with the row as the innermost scope */
    size_t row_count;
} hm_template_section;

struct hm_template_scope {
    const hm_template_value *values;
    size_t value_count;
    const hm_template_section *sections;
    size_t section_count;
};

/* Fills `text` (named `name` in messages) from `scope`; *out is malloc'd, NUL-terminated. */
int hm_template_fill(hm_ctx *ctx, const char *name, const char *text, const hm_template_scope *scope, char **out);
/* Reads the template file `path` and fills it. */
int hm_template_fill_file(hm_ctx *ctx, const char *path, const hm_template_scope *scope, char **out);

/* Appends text to an XML document, escaped for element text and attribute values. Bytes that are not valid
 * UTF-8 become U+FFFD and control characters a space: XML 1.0 allows neither and QGIS refuses the whole file. */
void hm_xml_append_escaped(sqlite3_str *out, const char *text);

/* ---- names for people ---- */

/* A title for a harmmap layer ("Harm per ward" for ward_harm); other names are returned unchanged. */
const char *hm_styles_layer_title(const char *table);

/* data/styles/fields.csv (field, alias, description): the alias QGIS shows for a field, and a description for
 * fields whose writer gave none. A row named "table.field" applies to that table only and comes first. */
typedef struct hm_field_dictionary hm_field_dictionary;
int hm_field_dictionary_load(hm_ctx *ctx, const char *styles_dir, hm_field_dictionary **out); /* NULL: data/styles */
hm_field_dictionary *hm_field_dictionary_destroy(hm_field_dictionary *dictionary);            /* returns NULL */
const char *hm_field_dictionary_alias(const hm_field_dictionary *dictionary, const char *table,
                                      const char *field); /* or NULL */
const char *hm_field_dictionary_description(const hm_field_dictionary *dictionary, const char *table,
                                            const char *field); /* or NULL */

/* ---- classification ---- */

typedef enum hm_class_method {
    HM_CLASS_JENKS = 0, /* Jenks natural breaks: Fisher's exact optimisation, the same code path as QGIS 3.22's
                           QgsClassificationJenks for up to 3,000 values (QGIS samples above that; we do not) */
    HM_CLASS_QUANTILE   /* equal counts: QGIS's QgsClassificationQuantile (linear interpolation between ranks) */
} hm_class_method;

#define HM_MAX_CLASSES 12

/* Classifies values (sorted in place; NaNs must be removed by the caller) into at most class_count classes.
 * upper[i] is the upper bound of class i; the first class starts at *minimum (the smallest value) and the last
 * upper bound is the largest value. Classes collapse when there are fewer distinct values than classes, so
 * *classes_out may be smaller than class_count (1 when all values are equal, 0 when there are none). */
int hm_classify(hm_ctx *ctx, double *values, size_t count, hm_class_method method, int class_count,
                double *minimum, double upper[HM_MAX_CLASSES], int *classes_out);
const char *hm_class_method_name(hm_class_method method);    /* "Jenks natural breaks", "quantiles" */
const char *hm_class_method_qgis_id(hm_class_method method); /* QGIS's id: "Jenks", "Quantile" */

/* ---- colour ramps (the format of data/ramps/<name>.txt, described in tiles/ramp.h) ---- */

#define HM_STYLE_RAMP_MAX_STOPS 256

typedef struct hm_style_ramp {
    char name[64];
    size_t count;
    double position[HM_STYLE_RAMP_MAX_STOPS];
    unsigned char rgba[HM_STYLE_RAMP_MAX_STOPS][4];
} hm_style_ramp;

/* `name_or_path`: a path (contains '/' or ends in .txt) or a name looked up, case-insensitively, as
 * <ramp_dir>/<name>.txt (ramp_dir NULL: harmmap's data/ramps). */
int hm_style_ramp_load(hm_ctx *ctx, const char *name_or_path, const char *ramp_dir, hm_style_ramp *ramp);
/* The colour at t in [0, 1], interpolated linearly in sRGB between stops and rounded, as tiles/ramp.c does. */
void hm_style_ramp_colour(const hm_style_ramp *ramp, double t, unsigned char rgba[4]);

/* ---- GeoPackage layer styles ---- */

typedef struct hm_gpkg_style_options {
    hm_class_method method; /* default Jenks */
    int class_count;        /* 0: 5 */
    const char *choropleth_ramp; /* NULL: "ylorrd" */
    const char *styles_dir;      /* NULL: harmmap's data/styles */
    const char *ramp_dir;        /* NULL: harmmap's data/ramps */
    const char *update_time;     /* layer_styles.update_time; NULL: OGR_CURRENT_DATE when set, else now */
    hm_layer_summaries *summaries; /* reads of the layers shared with the metadata (layer_summary.h); NULL: the
                                      call reads what it needs itself */
} hm_gpkg_style_options;

/* Writes a default style for each layer of the open GeoPackage that harmmap knows (see the top of this file),
 * with class breaks and categories computed from the layer's values; other layers are left alone. Runs inside
 * the caller's transaction when there is one (hm_gpkg_database), so it can be called before hm_gpkg_commit.
 * options may be NULL. *styled (may be NULL) receives the number of layers styled. */
int hm_styles_write_gpkg(hm_ctx *ctx, sqlite3 *db, const hm_gpkg_style_options *options, int *styled);

/* The default style QML of a layer (the useAsDefault row, newest first) or NULL when it has none; malloc'd. */
int hm_styles_read_default_qml(hm_ctx *ctx, sqlite3 *db, const char *table, char **qml);

/* ---- surfaces ---- */

typedef struct hm_surface_style {
    const char *ramp;     /* a name in ramp_dir or a path; NULL: viridis, the default of `harmmap tiles` */
    const char *ramp_dir; /* NULL: harmmap's data/ramps */
    double range_min, range_max; /* both NaN: threshold .. the raster's largest value (as `tiles --range auto`) */
    double threshold;     /* values at or below it are transparent (the tiles' default: 0) */
    const char *styles_dir; /* NULL: harmmap's data/styles */
} hm_surface_style;

/* Sets the defaults above (range NaN, threshold 0). */
void hm_surface_style_init(hm_surface_style *style);

/* Writes "<raster path without extension>.qml" beside a single-band raster: QGIS's default style for it.
 * qml_path (may be NULL) receives the file name. The file is written to a temporary name and renamed. */
int hm_styles_write_surface_qml(hm_ctx *ctx, const char *raster_path, const hm_surface_style *style,
                                char *qml_path, size_t qml_path_size);

/* Reads a tile folder's manifest (DIR/tiles-manifest.txt, written by `harmmap tiles`) into style: ramp, range and
 * threshold; *source receives the manifest's source raster path (may be NULL). ramp_name must hold 64 bytes. */
int hm_styles_read_tiles_manifest(hm_ctx *ctx, const char *tiles_dir, hm_surface_style *style, char *ramp_name,
                                  char *source, size_t source_size, int *min_zoom, int *max_zoom);

#endif
