/*
 * gpkg.h - a fast, atomic GeoPackage writer.
 *
 * Why not OGR alone: GDAL 3.6 (Debian bookworm) inserts about 380,000 point features a second and then builds
 * each layer's R-tree row by row when the layer is closed, 73% of the write time at a million points
 * (../shared/reference/performance.md). This writer keeps GDAL/OGR for what it does well where it is not hot,
 * and inserts features through prepared SQLite statements in one transaction, then bulk-loads each layer's
 * R-tree (gpkg_rtree_index extension) in a single sorted pass. The result is an ordinary GeoPackage 1.3:
 * GDAL's validate_gpkg.py, ogrinfo, SpatiaLite and QGIS read it, and SQLite's rtreecheck() finds the index
 * sound.
 *
 * Atomic: everything is written to a temporary file beside the target (same directory, so rename is atomic),
 * which replaces the target only in hm_gpkg_commit after a successful close and fsync. hm_gpkg_abort, or a
 * killed process, leaves the previous file untouched; stale temporaries are named "<target>.tmp-<pid>-*" and
 * removed by the next successful commit.
 *
 * Timestamps in gpkg_contents.last_change come from the OGR_CURRENT_DATE environment variable when it is set
 * (as GDAL does), so tests can produce byte-stable files. Unlike GDAL, which copies the variable verbatim,
 * the value is rewritten in the GeoPackage form YYYY-MM-DDTHH:MM:SS.SSSZ that validate_gpkg.py requires.
 *
 * The schema (tables, triggers, gpkg_* rows) is the one GDAL 3.6 writes, byte for byte in sqlite_master, plus
 * field descriptions in gpkg_data_columns (gpkg_schema extension). Memory: about 20 bytes per geometry while
 * inserting and 24 bytes per geometry of the largest layer during hm_gpkg_commit, for the R-tree (the boxes
 * are sorted in place; the 4 more are each geometry's leaf, for <rtree>_rowid).
 *
 * One hm_gpkg is used by one thread at a time.
 */
#ifndef HM_GPKG_H
#define HM_GPKG_H

#include "context.h"

#include <geos_c.h>
#include <sqlite3.h>
#include <stddef.h>

typedef struct hm_gpkg hm_gpkg;
typedef struct hm_gpkg_layer hm_gpkg_layer;

typedef enum hm_field_type {
    HM_FIELD_TEXT,
    HM_FIELD_INTEGER,
    HM_FIELD_REAL,
    HM_FIELD_DATE,
    HM_FIELD_DATETIME
} hm_field_type;
typedef enum hm_geometry_type {
    HM_GEOMETRY_NONE, /* attribute table (gpkg_contents data_type 'attributes') */
    HM_GEOMETRY_POINT,
    HM_GEOMETRY_MULTIPOLYGON
} hm_geometry_type;

typedef struct hm_gpkg_field {
    const char *name;
    hm_field_type type;
    const char *description; /* written to gpkg_data_columns */
} hm_gpkg_field;

/* One attribute value; is_null set for NULL. Text is copied by the insert call, so it must stay valid only
 * for the duration of that call. A NULL text pointer is a NULL value.
 * HM_FIELD_DATE takes text "YYYY-MM-DD"; HM_FIELD_DATETIME takes UTC text "YYYY-MM-DD[T ]HH:MM:SS[.fff][Z]"
 * and stores it as "YYYY-MM-DDTHH:MM:SS.SSSZ" (digits past milliseconds are dropped); other text is rejected
 * with HM_EINVAL and the row is not inserted. */
typedef struct hm_value {
    int is_null;
    union {
        const char *text;
        long long integer;
        double real;
    } as;
} hm_value;

/* How hm_gpkg_commit builds each layer's R-tree. Both give the same, valid index; BULK is much faster. */
typedef enum hm_gpkg_rtree_method {
    /* The default: Sort-Tile-Recursive packing written straight into SQLite's R*Tree shadow tables
     * (<rtree>_node, _rowid, _parent) in the rtree module's on-disk format. */
    HM_GPKG_RTREE_BULK = 0,
    /* INSERT through SQLite's rtree module, in the same spatially sorted order: for comparison (benchmarks,
     * tests) and as a fallback. */
    HM_GPKG_RTREE_INSERT = 1
} hm_gpkg_rtree_method;

/* Options for hm_gpkg_create_with_options. Zero-initialise, then set srs_epsg and anything else you need. */
typedef struct hm_gpkg_options {
    int srs_epsg;   /* CRS of every spatial layer, an EPSG code (27700 for British National Grid); required */
    int owner_only; /* nonzero: create the file with mode 0600 (minus the umask) for outputs holding records
                       about people; 0: 0666 minus the umask, like any other new file */
    hm_gpkg_rtree_method rtree_method;
} hm_gpkg_options;

/* Starts writing `path` (created or replaced at commit) with layers in CRS EPSG:srs_epsg. Same as
 * hm_gpkg_create_with_options with only srs_epsg set. */
int hm_gpkg_create(hm_ctx *ctx, const char *path, int srs_epsg, hm_gpkg **out);
int hm_gpkg_create_with_options(hm_ctx *ctx, const char *path, const hm_gpkg_options *options, hm_gpkg **out);

int hm_gpkg_add_layer(hm_gpkg *gpkg, const char *name, const char *description,
                      hm_geometry_type geometry_type, const hm_gpkg_field *fields, size_t field_count,
                      hm_gpkg_layer **out);

/* values has one entry per field of the layer, in order (may be NULL for a layer without fields). A rejected
 * row (HM_EINVAL: bad value, non-finite coordinate, wrong geometry type) is not inserted, takes no fid, and
 * the GeoPackage stays usable. Accepted rows are copied and inserted 64 at a time (one multi-row INSERT), so
 * an SQLite error such as a full disk may be reported by a later insert call or by hm_gpkg_commit; after it
 * every call fails and only hm_gpkg_abort is left to do. */
int hm_gpkg_insert_point(hm_gpkg_layer *layer, double x, double y, const hm_value *values);
/* Point layers take GEOS points, multipolygon layers Polygons (stored as one-part MultiPolygons) and
 * MultiPolygons; Z and M are dropped. A NULL geometry stores NULL; an empty one is stored as GDAL stores it
 * (and not indexed). The layer keeps a WKB writer made on `geos` until commit or abort, so the handle must
 * live that long. */
int hm_gpkg_insert_geometry(hm_gpkg_layer *layer, const GEOSGeometry *geometry, GEOSContextHandle_t geos,
                            const hm_value *values);
/* For attribute layers; on a spatial layer the geometry is NULL. */
int hm_gpkg_insert_row(hm_gpkg_layer *layer, const hm_value *values);
long long hm_gpkg_layer_count(const hm_gpkg_layer *layer);

/* The open database, for SQL the caller needs (extra tables such as `runs`). Do not close it. Rows accepted
 * so far are inserted before it returns. It is inside the writer's one transaction: do not BEGIN, COMMIT or
 * ROLLBACK, and do not insert into the layers' tables directly (the R-tree is built from what the
 * hm_gpkg_insert_* calls saw). */
sqlite3 *hm_gpkg_database(hm_gpkg *gpkg);

/* Finishes every layer (extents, R-trees), closes, fsyncs and renames over the target. Frees gpkg. On failure
 * the temporary file is removed and the target is left as it was. */
int hm_gpkg_commit(hm_gpkg *gpkg);
/* Discards the temporary file and frees gpkg. Returns NULL. */
hm_gpkg *hm_gpkg_abort(hm_gpkg *gpkg);

#endif
