/*
 * gpkg.c - see gpkg.h. A GeoPackage writer that talks to SQLite directly.
 *
 * How a file is made:
 * 1. hm_gpkg_create creates "<target>.tmp-<pid>-<random>" beside the target with open(O_CREAT | O_EXCL), so
 *    the mode is 0666 (or 0600 for owner_only) minus the umask, then opens it with SQLite in a build mode: an
 *    in-memory rollback journal and no fsync, since nobody else sees the file until it is renamed into
 *    place. The GeoPackage core tables are created with the same DDL and fixed rows as GDAL 3.6 writes,
 *    inside one transaction that lasts until commit.
 * 2. hm_gpkg_add_layer creates the user table (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom, fields),
 *    registers it in gpkg_contents, gpkg_geometry_columns, gpkg_ogr_contents (GDAL's feature count cache)
 *    and gpkg_data_columns (field descriptions, the gpkg_schema extension), and prepares its INSERTs.
 * 3. Each insert checks the values and copies them, with the geometry blob, into the layer's arena: the
 *    GeoPackage binary header (magic "GP", version 0, flags, srs_id; no envelope for points, an XY envelope
 *    for polygons, as GDAL writes them) then ISO WKB. Every 64 rows go in with one multi-row INSERT, values
 *    bound SQLITE_STATIC from the arena, which is reused: no per-row allocation. Each geometry's bounding
 *    box, rounded outward to float32 exactly as SQLite's rtree module rounds (rtreeValueDown/rtreeValueUp in
 *    ext/rtree/rtree.c), is appended to an array.
 * 4. hm_gpkg_commit builds each layer's R-tree (gpkg_rtree_index extension) from that array. SQLite's own
 *    R*Tree insertion costs about 7 microseconds a row (GDAL 3.6 spends 73% of a point layer's write time
 *    there), so by default the tree is packed with Sort-Tile-Recursive (Leutenegger, Lopez and Edgington,
 *    "STR: a simple and efficient algorithm for R-tree packing", 1997) and written straight into the rtree
 *    module's shadow tables in its documented format: node n is a blob of the root node's size in
 *    <rtree>_node, starting with a 2-byte big-endian tree depth (root only; 0 elsewhere), a 2-byte cell
 *    count, then cells of an 8-byte rowid or child node number and 4 float32 coordinates (minx, maxx, miny,
 *    maxy), all big-endian; <rtree>_rowid maps each rowid to its leaf and <rtree>_parent each non-root node
 *    to its parent. The root is node 1. SQLite's rtreecheck() verifies exactly these invariants and the
 *    tests run it. Then the GeoPackage R-tree triggers are created (they call ST_IsEmpty, ST_MinX..., which
 *    GDAL and SpatiaLite register when they open a GeoPackage, so they cannot exist while we insert), the
 *    transaction commits, and the file is closed, fsynced, renamed over the target, and the directory
 *    fsynced.
 *
 * Names are always quoted ("%w" in sqlite3_mprintf), so layer and field names may hold quotes and spaces;
 * every value is bound. One hm_gpkg must be used by one thread at a time (the connection is opened
 * SQLITE_OPEN_NOMUTEX). */
#define _GNU_SOURCE /* sync_file_range, to start writing the file out early */
#include "gpkg.h"

#include <ogr_srs_api.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GPKG_APPLICATION_ID 0x47504B47 /* "GPKG" */
#define GPKG_USER_VERSION 10300        /* GeoPackage 1.3.0 */
/* Measured with tests/bench/bench_gpkg (a million points, 12 fields): 8192 and 65536 byte pages save under
 * 10% of the insert CPU time, within the noise of a shared machine; 4096 is GDAL's and SQLite's default. */
#define GPKG_PAGE_SIZE 4096
#define DATETIME_SIZE 32 /* "YYYY-MM-DDTHH:MM:SS.SSSZ" and a NUL */

/* One layer's R-tree input: a float32 box rounded outward, and the insert position (its fid is fids[index],
 * or index + 1 while fids is NULL because every row so far had a box). During packing `index` is a child node
 * number. */
typedef struct rtree_item {
    float box[4]; /* minx, maxx, miny, maxy: the order of the rtree columns and of SQLite's cells */
    uint32_t index;
} rtree_item;

/* One buffered column value: text and blobs live in the layer's arena, at an offset (the arena may move). */
enum { PENDING_NULL, PENDING_TEXT, PENDING_INTEGER, PENDING_REAL, PENDING_BLOB };
typedef struct pending_value {
    int kind;
    int length;
    size_t offset;
    union {
        long long integer;
        double real;
    } as;
} pending_value;

/* A buffered row's bounding box, given to the R-tree once the row has its fid. */
typedef struct pending_box {
    int has_box;
    double min_x, min_y, max_x, max_y;
} pending_box;

#define BATCH_ROWS                                                                                           \
    64 /* rows per multi-row INSERT; measured: 16 to 64 all save about 40% of the insert CPU time */

struct hm_gpkg_layer {
    hm_gpkg *gpkg;
    char *name;
    hm_geometry_type geometry_type;
    hm_gpkg_field *fields; /* names and descriptions copied */
    size_t field_count;
    int columns;    /* bound columns per row: the geometry (for spatial layers) and the fields */
    int batch_rows; /* rows per insert_batch statement */
    sqlite3_stmt *insert_batch, *insert_one;
    /* Rows accepted but not yet inserted: batch_rows * columns values, their boxes, and the arena of their
     * text and geometry bytes. All are reused from batch to batch. */
    pending_value *pending;
    pending_box *pending_boxes;
    int pending_count;
    char *arena;
    size_t arena_used, arena_capacity;
    long long count;
    /* Extent of the non-empty geometries, for gpkg_contents. */
    int has_extent;
    double min_x, min_y, max_x, max_y;
    /* R-tree input, in insert order. */
    rtree_item *items;
    int64_t *fids;
    size_t item_count, item_capacity;
    /* Polygon blobs are written with a GEOS WKB writer reused for every row. */
    GEOSWKBWriter *wkb_writer;
    GEOSContextHandle_t wkb_writer_handle;
};

struct hm_gpkg {
    hm_ctx *ctx;
    sqlite3 *db;
    char *target_path;
    char *temp_path;
    int srs_id;
    hm_gpkg_rtree_method rtree_method;
    int has_schema_extension;
    int broken; /* an SQLite error left the transaction in an unknown state: commit must refuse */
    /* Our own descriptor on the temporary file, for early writeback (see start_writeback). Closed only after
     * SQLite has closed the database: closing any descriptor of a file drops the process's POSIX locks on it. */
    int writeback_fd;
    int has_writeback_fd;
    long long rows_since_writeback;
    char last_change[DATETIME_SIZE];
    hm_gpkg_layer **layers;
    size_t layer_count, layer_capacity;
};

/* ---- SQL helpers --------------------------------------------------------------------------------------- */

static int sql_error(hm_gpkg *gpkg, const char *what)
{
    gpkg->broken = 1;
    return hm_error(gpkg->ctx, HM_ESQL,
                    "%s: %s: %s; check free disk space and that the directory is writable", gpkg->target_path,
                    what, sqlite3_errmsg(gpkg->db));
}

/* Executes SQL built with sqlite3_mprintf (NULL means out of memory) and frees it. */
static int exec_owned(hm_gpkg *gpkg, char *sql, const char *what)
{
    if (!sql) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: %s: out of memory", gpkg->target_path, what);
    int rc = sqlite3_exec(gpkg->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc == SQLITE_OK ? HM_OK : sql_error(gpkg, what);
}

static int exec_sql(hm_gpkg *gpkg, const char *sql, const char *what)
{
    return sqlite3_exec(gpkg->db, sql, NULL, NULL, NULL) == SQLITE_OK ? HM_OK : sql_error(gpkg, what);
}

static int prepare_owned(hm_gpkg *gpkg, char *sql, sqlite3_stmt **out, const char *what)
{
    *out = NULL;
    if (!sql) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: %s: out of memory", gpkg->target_path, what);
    int rc = sqlite3_prepare_v3(gpkg->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    sqlite3_free(sql);
    return rc == SQLITE_OK ? HM_OK : sql_error(gpkg, what);
}

/* Steps a statement that returns no rows and resets it. */
static int step_done(hm_gpkg *gpkg, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? HM_OK : sql_error(gpkg, what);
}

/* ---- The GeoPackage core tables ------------------------------------------------------------------------ */
/* As GDAL 3.6 creates them (ogr/ogrsf_frmts/gpkg/ogrgeopackagedatasource.cpp). */

static const char *const core_schema_sql[] = {
    "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL,srs_id INTEGER NOT NULL PRIMARY KEY,"
    "organization TEXT NOT NULL,organization_coordsys_id INTEGER NOT NULL,definition  TEXT NOT NULL,"
    "description TEXT);",
    "INSERT INTO gpkg_spatial_ref_sys VALUES('Undefined Cartesian SRS',-1,'NONE',-1,'undefined',"
    "'undefined Cartesian coordinate reference system');",
    "INSERT INTO gpkg_spatial_ref_sys VALUES('Undefined geographic SRS',0,'NONE',0,'undefined',"
    "'undefined geographic coordinate reference system');",
    "INSERT INTO gpkg_spatial_ref_sys VALUES('WGS 84 geodetic',4326,'EPSG',4326,'GEOGCS[\"WGS "
    "84\",DATUM[\"WGS_1984\","
    "SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],"
    "PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,"
    "AUTHORITY[\"EPSG\",\"9122\"]],AXIS[\"Latitude\",NORTH],AXIS[\"Longitude\",EAST],AUTHORITY[\"EPSG\","
    "\"4326\"]]',"
    "'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');",
    "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY,data_type TEXT NOT NULL,identifier "
    "TEXT "
    "UNIQUE,description TEXT DEFAULT '',last_change DATETIME NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')),min_x DOUBLE, min_y DOUBLE,max_x DOUBLE, max_y DOUBLE,srs_id "
    "INTEGER,"
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));",
    "CREATE TABLE gpkg_ogr_contents(table_name TEXT NOT NULL PRIMARY KEY,feature_count INTEGER DEFAULT "
    "NULL);",
    "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL,column_name TEXT NOT "
    "NULL,geometry_type_name "
    "TEXT NOT NULL,srs_id INTEGER NOT NULL,z TINYINT NOT NULL,m TINYINT NOT NULL,CONSTRAINT pk_geom_cols "
    "PRIMARY "
    "KEY (table_name, column_name),CONSTRAINT uk_gc_table_name UNIQUE (table_name),CONSTRAINT fk_gc_tn "
    "FOREIGN "
    "KEY (table_name) REFERENCES gpkg_contents(table_name),CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) "
    "REFERENCES "
    "gpkg_spatial_ref_sys (srs_id));",
    "CREATE TABLE gpkg_tile_matrix_set (table_name TEXT NOT NULL PRIMARY KEY,srs_id INTEGER NOT NULL,min_x "
    "DOUBLE "
    "NOT NULL,min_y DOUBLE NOT NULL,max_x DOUBLE NOT NULL,max_y DOUBLE NOT NULL,CONSTRAINT "
    "fk_gtms_table_name "
    "FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),CONSTRAINT fk_gtms_srs FOREIGN KEY "
    "(srs_id) "
    "REFERENCES gpkg_spatial_ref_sys (srs_id));",
    "CREATE TABLE gpkg_tile_matrix (table_name TEXT NOT NULL,zoom_level INTEGER NOT NULL,matrix_width "
    "INTEGER NOT "
    "NULL,matrix_height INTEGER NOT NULL,tile_width INTEGER NOT NULL,tile_height INTEGER NOT "
    "NULL,pixel_x_size "
    "DOUBLE NOT NULL,pixel_y_size DOUBLE NOT NULL,CONSTRAINT pk_ttm PRIMARY KEY (table_name, zoom_level),"
    "CONSTRAINT fk_tmm_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name));",
    "CREATE TRIGGER 'gpkg_tile_matrix_zoom_level_insert' BEFORE INSERT ON 'gpkg_tile_matrix' FOR EACH ROW "
    "BEGIN "
    "SELECT RAISE(ABORT, 'insert on table ''gpkg_tile_matrix'' violates constraint: zoom_level cannot be "
    "less "
    "than 0') WHERE (NEW.zoom_level < 0); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_zoom_level_update' BEFORE UPDATE of zoom_level ON 'gpkg_tile_matrix' "
    "FOR "
    "EACH ROW BEGIN SELECT RAISE(ABORT, 'update on table ''gpkg_tile_matrix'' violates constraint: "
    "zoom_level "
    "cannot be less than 0') WHERE (NEW.zoom_level < 0); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_matrix_width_insert' BEFORE INSERT ON 'gpkg_tile_matrix' FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'insert on table ''gpkg_tile_matrix'' violates constraint: matrix_width "
    "cannot be "
    "less than 1') WHERE (NEW.matrix_width < 1); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_matrix_width_update' BEFORE UPDATE OF matrix_width ON "
    "'gpkg_tile_matrix' "
    "FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'update on table ''gpkg_tile_matrix'' violates constraint: "
    "matrix_width cannot be less than 1') WHERE (NEW.matrix_width < 1); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_matrix_height_insert' BEFORE INSERT ON 'gpkg_tile_matrix' FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'insert on table ''gpkg_tile_matrix'' violates constraint: matrix_height "
    "cannot "
    "be less than 1') WHERE (NEW.matrix_height < 1); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_matrix_height_update' BEFORE UPDATE OF matrix_height ON "
    "'gpkg_tile_matrix' "
    "FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'update on table ''gpkg_tile_matrix'' violates constraint: "
    "matrix_height cannot be less than 1') WHERE (NEW.matrix_height < 1); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_pixel_x_size_insert' BEFORE INSERT ON 'gpkg_tile_matrix' FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'insert on table ''gpkg_tile_matrix'' violates constraint: pixel_x_size must "
    "be "
    "greater than 0') WHERE NOT (NEW.pixel_x_size > 0); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_pixel_x_size_update' BEFORE UPDATE OF pixel_x_size ON "
    "'gpkg_tile_matrix' "
    "FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'update on table ''gpkg_tile_matrix'' violates constraint: "
    "pixel_x_size must be greater than 0') WHERE NOT (NEW.pixel_x_size > 0); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_pixel_y_size_insert' BEFORE INSERT ON 'gpkg_tile_matrix' FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'insert on table ''gpkg_tile_matrix'' violates constraint: pixel_y_size must "
    "be "
    "greater than 0') WHERE NOT (NEW.pixel_y_size > 0); END;",
    "CREATE TRIGGER 'gpkg_tile_matrix_pixel_y_size_update' BEFORE UPDATE OF pixel_y_size ON "
    "'gpkg_tile_matrix' "
    "FOR EACH ROW BEGIN SELECT RAISE(ABORT, 'update on table ''gpkg_tile_matrix'' violates constraint: "
    "pixel_y_size must be greater than 0') WHERE NOT (NEW.pixel_y_size > 0); END;",
    "CREATE TABLE gpkg_extensions (table_name TEXT,column_name TEXT,extension_name TEXT NOT NULL,definition "
    "TEXT "
    "NOT NULL,scope TEXT NOT NULL,CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));",
};

/* The schema extension (gpkg_data_columns), created with the first field description. */
static const char schema_extension_sql[] =
    "CREATE TABLE gpkg_data_columns (table_name TEXT NOT NULL,column_name TEXT NOT NULL,name TEXT "
    "UNIQUE,title "
    "TEXT,description TEXT,mime_type TEXT,constraint_name TEXT,CONSTRAINT pk_gdc PRIMARY KEY (table_name, "
    "column_name),CONSTRAINT gdc_tn UNIQUE (table_name, name));"
    "CREATE TABLE gpkg_data_column_constraints (constraint_name TEXT NOT NULL,constraint_type TEXT NOT NULL,"
    "value TEXT,min NUMERIC,min_is_inclusive BOOLEAN,max NUMERIC,max_is_inclusive BOOLEAN,description TEXT,"
    "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));"
    "INSERT INTO gpkg_extensions VALUES('gpkg_data_columns',NULL,'gpkg_schema',"
    "'http://www.geopackage.org/spec121/#extension_schema','read-write');"
    "INSERT INTO gpkg_extensions VALUES('gpkg_data_column_constraints',NULL,'gpkg_schema',"
    "'http://www.geopackage.org/spec121/#extension_schema','read-write');";

/* Adds the layer CRS to gpkg_spatial_ref_sys with the WKT1 that GDAL 3.6 writes (FORMAT=WKT1_GDAL). */
static int insert_srs(hm_gpkg *gpkg, int epsg)
{
    if (epsg == 4326) return HM_OK; /* one of the rows every GeoPackage has */
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    char *wkt = NULL;
    int status = HM_OK;
    if (!srs) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory creating a CRS", gpkg->target_path);
    const char *const wkt_options[] = {"FORMAT=WKT1_GDAL", "ALLOW_ELLIPSOIDAL_HEIGHT_AS_VERTICAL_CRS=YES",
                                       NULL};
    CPLPushErrorHandler(CPLQuietErrorHandler); /* our message below says what to do */
    int known = OSRImportFromEPSG(srs, epsg) == OGRERR_NONE &&
                OSRExportToWktEx(srs, &wkt, wkt_options) == OGRERR_NONE;
    CPLPopErrorHandler();
    if (!known || !wkt) {
        status =
            hm_error(gpkg->ctx, HM_EINVAL,
                     "%s: srs_epsg %d: GDAL/PROJ does not know this CRS or cannot write it as WKT1; use an "
                     "EPSG code such as 27700 (British National Grid)",
                     gpkg->target_path, epsg);
        goto done;
    }
    const char *name = OSRGetName(srs);
    sqlite3_stmt *stmt = NULL;
    status = prepare_owned(gpkg,
                           sqlite3_mprintf("INSERT INTO gpkg_spatial_ref_sys (srs_name,srs_id,organization,"
                                           "organization_coordsys_id,definition,description) "
                                           "VALUES (?,?,'EPSG',?,?,NULL)"),
                           &stmt, "adding the CRS to gpkg_spatial_ref_sys");
    if (status != HM_OK) goto done;
    sqlite3_bind_text(stmt, 1, name ? name : "Unknown", -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, epsg);
    sqlite3_bind_int(stmt, 3, epsg);
    sqlite3_bind_text(stmt, 4, wkt, -1, SQLITE_STATIC);
    status = step_done(gpkg, stmt, "adding the CRS to gpkg_spatial_ref_sys");
    sqlite3_finalize(stmt);
done:
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    return status;
}

/* gpkg_contents.last_change: OGR_CURRENT_DATE when set (as GDAL does, so that tests get byte-stable files),
 * else now; always in the GeoPackage form YYYY-MM-DDTHH:MM:SS.SSSZ that validate_gpkg.py requires. GDAL
 * copies OGR_CURRENT_DATE verbatim; we normalise it, so "2026-01-01T00:00:00Z" is written
 * "2026-01-01T00:00:00.000Z". */
static int compute_last_change(hm_gpkg *gpkg)
{
    const char *pinned = getenv("OGR_CURRENT_DATE");
    sqlite3_stmt *stmt = NULL;
    int status = prepare_owned(gpkg, sqlite3_mprintf("SELECT strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', ?)"), &stmt,
                               "formatting the date");
    if (status != HM_OK) return status;
    sqlite3_bind_text(stmt, 1, pinned && *pinned ? pinned : "now", -1, SQLITE_STATIC);
    const unsigned char *text = NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW) text = sqlite3_column_text(stmt, 0);
    if (text && strlen((const char *)text) == 24) {
        memcpy(gpkg->last_change, text, 25);
    } else {
        status = hm_error(gpkg->ctx, HM_EINVAL,
                          "%s: environment variable OGR_CURRENT_DATE='%s' is not an ISO 8601 date and time; "
                          "unset it or give one such as 2026-01-01T00:00:00Z",
                          gpkg->target_path, pinned ? pinned : "");
    }
    sqlite3_finalize(stmt);
    return status;
}

/* ---- Temporary file, commit and abort ------------------------------------------------------------------ */

/* Directory part of path ("." when there is none); malloc'd. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t length = (size_t)(slash - path);
    char *dir = malloc(length + 1);
    if (dir) {
        memcpy(dir, path, length);
        dir[length] = '\0';
    }
    return dir;
}

static uint32_t random_u32(unsigned attempt)
{
    uint32_t value = 0;
    if (getentropy(&value, sizeof value) != 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        value = (uint32_t)now.tv_nsec ^ ((uint32_t)now.tv_sec << 7) ^ (attempt * 2654435761u);
    }
    return value;
}

/* Creates the temporary file with O_EXCL: the mode is mode & ~umask, and nobody else's file is reused. */
static int create_temp_file(hm_gpkg *gpkg, mode_t mode)
{
    size_t size = strlen(gpkg->target_path) + 64;
    gpkg->temp_path = malloc(size);
    if (!gpkg->temp_path) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        snprintf(gpkg->temp_path, size, "%s.tmp-%ld-%08x", gpkg->target_path, (long)getpid(),
                 (unsigned)random_u32(attempt));
        int fd = open(gpkg->temp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0) {
            /* SQLite opens the file itself; we keep this descriptor for writeback and fsync, and close it
             * only after SQLite has closed the file (closing it earlier would drop SQLite's POSIX locks). */
            gpkg->writeback_fd = fd;
            gpkg->has_writeback_fd = 1;
            return HM_OK;
        }
        if (errno != EEXIST) {
            int error = errno;
            free(gpkg->temp_path);
            gpkg->temp_path = NULL;
            return hm_error(
                gpkg->ctx, HM_EIO,
                "%s: cannot create a temporary file beside it: %s; check that the directory exists "
                "and is writable",
                gpkg->target_path, strerror(error));
        }
    }
    free(gpkg->temp_path);
    gpkg->temp_path = NULL;
    return hm_error(gpkg->ctx, HM_EIO, "%s: cannot find a free temporary file name beside it",
                    gpkg->target_path);
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int error = errno;
    close(fd);
    errno = error;
    return rc;
}

/* Removes "<target>.tmp-<pid>-*" files left by processes that no longer exist (killed writers). A file of a
 * live process, ours included, is another writer still at work and is left alone. PIDs are per host and per
 * PID namespace: a directory shared by writers in different namespaces or hosts should not rely on this. */
static void remove_stale_temporaries(hm_gpkg *gpkg)
{
    char *dir_path = directory_of(gpkg->target_path);
    if (!dir_path) return;
    const char *slash = strrchr(gpkg->target_path, '/');
    const char *base = slash ? slash + 1 : gpkg->target_path;
    size_t base_length = strlen(base);
    DIR *dir = opendir(dir_path);
    if (!dir) {
        free(dir_path);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strncmp(name, base, base_length) != 0 || strncmp(name + base_length, ".tmp-", 5) != 0) continue;
        const char *digits = name + base_length + 5;
        char *end = NULL;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (errno || end == digits || *end != '-' || pid <= 0 || (pid_t)pid != pid) continue;
        if ((pid_t)pid == getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge (EPERM) */
        char *path = sqlite3_mprintf("%s/%s", dir_path, name);
        if (!path) break;
        if (unlink(path) == 0) hm_info(gpkg->ctx, "removed stale temporary file %s", path);
        sqlite3_free(path);
    }
    closedir(dir);
    free(dir_path);
}

static hm_gpkg_layer *layer_free(hm_gpkg_layer *layer)
{
    if (!layer) return NULL;
    sqlite3_finalize(layer->insert_batch);
    sqlite3_finalize(layer->insert_one);
    if (layer->wkb_writer) GEOSWKBWriter_destroy_r(layer->wkb_writer_handle, layer->wkb_writer);
    for (size_t i = 0; i < layer->field_count; i++) {
        free((char *)layer->fields[i].name);
        free((char *)layer->fields[i].description);
    }
    free(layer->fields);
    free(layer->name);
    free(layer->items);
    free(layer->fids);
    free(layer->pending);
    free(layer->pending_boxes);
    free(layer->arena);
    free(layer);
    return NULL;
}

static void close_writeback_fd(hm_gpkg *gpkg)
{
    if (gpkg->has_writeback_fd) close(gpkg->writeback_fd);
    gpkg->has_writeback_fd = 0;
}

/* A million-row GeoPackage is a few hundred MB, and the fsync before the rename would otherwise write all of it
 * at the end (about 3 s for 384 MB on these machines, most of a geocode run). Asking the kernel to start
 * writing the file out while rows are still being inserted overlaps that I/O with the work; the final fsync
 * then has little left to do. Linux only; elsewhere the fsync does it all. */
static void start_writeback(hm_gpkg *gpkg)
{
#ifdef __linux__
    if (gpkg->has_writeback_fd) sync_file_range(gpkg->writeback_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    gpkg->rows_since_writeback = 0;
}

static void gpkg_free(hm_gpkg *gpkg)
{
    for (size_t i = 0; i < gpkg->layer_count; i++)
        layer_free(gpkg->layers[i]);
    free(gpkg->layers);
    if (gpkg->db) sqlite3_close_v2(gpkg->db);
    close_writeback_fd(gpkg);
    free(gpkg->target_path);
    free(gpkg->temp_path);
    free(gpkg);
}

hm_gpkg *hm_gpkg_abort(hm_gpkg *gpkg)
{
    if (!gpkg) return NULL;
    for (size_t i = 0; i < gpkg->layer_count; i++)
        gpkg->layers[i] = layer_free(gpkg->layers[i]);
    gpkg->layer_count = 0;
    if (gpkg->db) {
        sqlite3_close_v2(gpkg->db);
        gpkg->db = NULL;
    }
    close_writeback_fd(gpkg);
    if (gpkg->temp_path) unlink(gpkg->temp_path);
    gpkg_free(gpkg);
    return NULL;
}

int hm_gpkg_create(hm_ctx *ctx, const char *path, int srs_epsg, hm_gpkg **out)
{
    hm_gpkg_options options = {0};
    options.srs_epsg = srs_epsg;
    return hm_gpkg_create_with_options(ctx, path, &options, out);
}

int hm_gpkg_create_with_options(hm_ctx *ctx, const char *path, const hm_gpkg_options *options, hm_gpkg **out)
{
    *out = NULL;
    if (!path || !*path) return hm_error(ctx, HM_EINVAL, "GeoPackage output: no file name given");
    if (!options || options->srs_epsg <= 0)
        return hm_error(ctx, HM_EINVAL,
                        "%s: srs_epsg %d: give the EPSG code of the layers' CRS (27700 for British "
                        "National Grid)",
                        path, options ? options->srs_epsg : 0);
    if (options->rtree_method != HM_GPKG_RTREE_BULK && options->rtree_method != HM_GPKG_RTREE_INSERT)
        return hm_error(ctx, HM_EINVAL, "%s: rtree_method %d is not a hm_gpkg_rtree_method", path,
                        (int)options->rtree_method);
    hm_gpkg *gpkg = calloc(1, sizeof *gpkg);
    if (!gpkg) return hm_error(ctx, HM_ENOMEM, "%s: out of memory", path);
    gpkg->ctx = ctx;
    gpkg->srs_id = options->srs_epsg;
    gpkg->rtree_method = options->rtree_method;
    gpkg->target_path = strdup(path);
    if (!gpkg->target_path) {
        gpkg_free(gpkg);
        return hm_error(ctx, HM_ENOMEM, "%s: out of memory", path);
    }
    int status = create_temp_file(gpkg, options->owner_only ? 0600 : 0666);
    if (status != HM_OK) goto fail;
    if (sqlite3_open_v2(gpkg->temp_path, &gpkg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        status = hm_error(ctx, HM_ESQL, "%s: SQLite cannot open the temporary file %s: %s", path,
                          gpkg->temp_path, gpkg->db ? sqlite3_errmsg(gpkg->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(gpkg->db, 1);
    /* Build mode: the file is private until the rename, so a crash costs only the temporary. The journal is
     * kept in memory (not OFF) so that a failed statement still rolls back cleanly; nearly every page is new
     * in this transaction and so is never journalled. */
    char *pragmas =
        sqlite3_mprintf("PRAGMA page_size=%d; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; "
                        "PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;",
                        GPKG_PAGE_SIZE);
    if ((status = exec_owned(gpkg, pragmas, "setting up the database")) != HM_OK) goto fail;
    if ((status = exec_sql(gpkg, "BEGIN", "starting the transaction")) != HM_OK) goto fail;
    char *header = sqlite3_mprintf("PRAGMA application_id=%d; PRAGMA user_version=%d;", GPKG_APPLICATION_ID,
                                   GPKG_USER_VERSION);
    if ((status = exec_owned(gpkg, header, "writing the GeoPackage header")) != HM_OK) goto fail;
    for (size_t i = 0; i < sizeof core_schema_sql / sizeof core_schema_sql[0]; i++)
        if ((status = exec_sql(gpkg, core_schema_sql[i], "creating the GeoPackage tables")) != HM_OK)
            goto fail;
    if ((status = insert_srs(gpkg, options->srs_epsg)) != HM_OK) goto fail;
    if ((status = compute_last_change(gpkg)) != HM_OK) goto fail;
    *out = gpkg;
    return HM_OK;
fail:
    hm_gpkg_abort(gpkg);
    return status;
}

static int flush_layer(hm_gpkg_layer *layer);

/* Buffered rows are inserted first, so that the caller's SQL sees every row accepted so far. A failure marks
 * the GeoPackage broken; hm_gpkg_commit then reports it. */
sqlite3 *hm_gpkg_database(hm_gpkg *gpkg)
{
    for (size_t i = 0; i < gpkg->layer_count && !gpkg->broken; i++)
        flush_layer(gpkg->layers[i]);
    return gpkg->db;
}

/* ---- Layers -------------------------------------------------------------------------------------------- */

static const char *field_type_sql(hm_field_type type)
{
    switch (type) {
    case HM_FIELD_TEXT:
        return "TEXT";
    case HM_FIELD_INTEGER:
        return "INTEGER";
    case HM_FIELD_REAL:
        return "REAL";
    case HM_FIELD_DATE:
        return "DATE";
    case HM_FIELD_DATETIME:
        return "DATETIME";
    }
    return NULL;
}

static int starts_with_ci(const char *text, const char *prefix)
{
    return sqlite3_strnicmp(text, prefix, (int)strlen(prefix)) == 0;
}

static int check_layer_definition(hm_gpkg *gpkg, const char *name, hm_geometry_type geometry_type,
                                  const hm_gpkg_field *fields, size_t field_count)
{
    hm_ctx *ctx = gpkg->ctx;
    if (!name || !*name) return hm_error(ctx, HM_EINVAL, "%s: a layer needs a name", gpkg->target_path);
    if (starts_with_ci(name, "gpkg_") || starts_with_ci(name, "sqlite_") || starts_with_ci(name, "rtree_"))
        return hm_error(
            ctx, HM_EINVAL,
            "%s: layer '%s': names starting gpkg_, sqlite_ or rtree_ are reserved; choose another name",
            gpkg->target_path, name);
    for (size_t i = 0; i < gpkg->layer_count; i++)
        if (sqlite3_stricmp(gpkg->layers[i]->name, name) == 0)
            return hm_error(ctx, HM_EINVAL,
                            "%s: layer '%s' is already in this GeoPackage (names ignore case)",
                            gpkg->target_path, name);
    if (geometry_type != HM_GEOMETRY_NONE && geometry_type != HM_GEOMETRY_POINT &&
        geometry_type != HM_GEOMETRY_MULTIPOLYGON)
        return hm_error(ctx, HM_EINVAL, "%s: layer '%s': geometry type %d is not a hm_geometry_type",
                        gpkg->target_path, name, (int)geometry_type);
    if (field_count > 1000)
        return hm_error(ctx, HM_EINVAL, "%s: layer '%s': %zu fields; at most 1000 are supported",
                        gpkg->target_path, name, field_count);
    if (field_count && !fields)
        return hm_error(ctx, HM_EINVAL, "%s: layer '%s': field_count is %zu but fields is NULL",
                        gpkg->target_path, name, field_count);
    for (size_t i = 0; i < field_count; i++) {
        const char *field = fields[i].name;
        if (!field || !*field)
            return hm_error(ctx, HM_EINVAL, "%s: layer '%s': field %zu has no name", gpkg->target_path, name,
                            i + 1);
        if (!field_type_sql(fields[i].type))
            return hm_error(ctx, HM_EINVAL, "%s: layer '%s' field '%s': type %d is not a hm_field_type",
                            gpkg->target_path, name, field, (int)fields[i].type);
        if (sqlite3_stricmp(field, "fid") == 0 ||
            (geometry_type != HM_GEOMETRY_NONE && sqlite3_stricmp(field, "geom") == 0))
            return hm_error(ctx, HM_EINVAL,
                            "%s: layer '%s' field '%s': the name is used by the %s column; rename "
                            "the field",
                            gpkg->target_path, name, field,
                            sqlite3_stricmp(field, "fid") == 0 ? "feature id" : "geometry");
        for (size_t j = 0; j < i; j++)
            if (sqlite3_stricmp(fields[j].name, field) == 0)
                return hm_error(ctx, HM_EINVAL, "%s: layer '%s' field '%s' appears twice (names ignore case)",
                                gpkg->target_path, name, field);
    }
    return HM_OK;
}

/* CREATE TABLE and the INSERT statements, all naming every column quoted. The fid is AUTOINCREMENT as GDAL
 * makes it (fids of deleted features are never reused when QGIS edits the layer later). SQLite then reads and
 * writes sqlite_sequence once per INSERT statement, which is why rows go in BATCH_ROWS at a time through a
 * multi-row INSERT: a million points take about 1.0 s of CPU instead of 1.8 s one row per statement. */
static int create_layer_table(hm_gpkg *gpkg, hm_gpkg_layer *layer)
{
    sqlite3_str *create = sqlite3_str_new(gpkg->db);
    sqlite3_str *columns = sqlite3_str_new(gpkg->db);
    sqlite3_str_appendf(create, "CREATE TABLE \"%w\" ( \"fid\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL",
                        layer->name);
    int count = 0;
    if (layer->geometry_type != HM_GEOMETRY_NONE) {
        sqlite3_str_appendf(create, ", \"geom\" %s",
                            layer->geometry_type == HM_GEOMETRY_POINT ? "POINT" : "MULTIPOLYGON");
        sqlite3_str_appendf(columns, "\"geom\"");
        count++;
    }
    for (size_t i = 0; i < layer->field_count; i++) {
        sqlite3_str_appendf(create, ", \"%w\" %s", layer->fields[i].name,
                            field_type_sql(layer->fields[i].type));
        sqlite3_str_appendf(columns, "%s\"%w\"", count ? "," : "", layer->fields[i].name);
        count++;
    }
    sqlite3_str_appendf(create, ")");
    char *column_list = sqlite3_str_finish(columns);
    int status = exec_owned(gpkg, sqlite3_str_finish(create), "creating a layer table");
    if (status != HM_OK) {
        hm_error_prefix(gpkg->ctx, "layer '%s'", layer->name);
        sqlite3_free(column_list);
        return status;
    }
    layer->columns = count;
    int limit = sqlite3_limit(gpkg->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
    layer->batch_rows = count == 0 ? 1 : (limit / count < BATCH_ROWS ? limit / count : BATCH_ROWS);
    if (layer->batch_rows < 1) layer->batch_rows = 1;
    for (int statement = 0; statement < 2 && status == HM_OK; statement++) {
        int rows = statement == 0 ? layer->batch_rows : 1;
        sqlite3_str *insert = sqlite3_str_new(gpkg->db);
        if (count == 0) {
            sqlite3_str_appendf(insert, "INSERT INTO \"%w\" DEFAULT VALUES", layer->name);
        } else {
            sqlite3_str_appendf(insert, "INSERT INTO \"%w\" (%s) VALUES ", layer->name, column_list);
            for (int r = 0; r < rows; r++) {
                sqlite3_str_appendf(insert, r ? ",(" : "(");
                for (int c = 0; c < count; c++)
                    sqlite3_str_appendf(insert, c ? ",?" : "?");
                sqlite3_str_appendf(insert, ")");
            }
        }
        status = prepare_owned(gpkg, sqlite3_str_finish(insert),
                               statement == 0 ? &layer->insert_batch : &layer->insert_one,
                               "preparing the layer insert");
    }
    sqlite3_free(column_list);
    if (status != HM_OK) return status;
    layer->pending = calloc((size_t)layer->batch_rows * (size_t)(count ? count : 1), sizeof *layer->pending);
    layer->pending_boxes = calloc((size_t)layer->batch_rows, sizeof *layer->pending_boxes);
    if (!layer->pending || !layer->pending_boxes)
        return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
    return HM_OK;
}

/* gpkg_contents, gpkg_geometry_columns, gpkg_ogr_contents and gpkg_data_columns rows for a new layer. */
static int register_layer(hm_gpkg *gpkg, hm_gpkg_layer *layer, const char *description)
{
    sqlite3_stmt *stmt = NULL;
    const char *what = "registering the layer in gpkg_contents";
    int spatial = layer->geometry_type != HM_GEOMETRY_NONE;
    int status = prepare_owned(gpkg,
                               sqlite3_mprintf("INSERT INTO gpkg_contents (table_name,data_type,identifier,"
                                               "description,last_change,srs_id) VALUES (?1,?2,?1,?3,?4,?5)"),
                               &stmt, what);
    if (status != HM_OK) return status;
    sqlite3_bind_text(stmt, 1, layer->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, spatial ? "features" : "attributes", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, description ? description : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, gpkg->last_change, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 5, spatial ? gpkg->srs_id : 0); /* GDAL writes 0 for attribute tables */
    status = step_done(gpkg, stmt, what);
    sqlite3_finalize(stmt);
    if (status != HM_OK) return status;

    what = "registering the layer in gpkg_ogr_contents";
    status = prepare_owned(gpkg, sqlite3_mprintf("INSERT INTO gpkg_ogr_contents VALUES (?,0)"), &stmt, what);
    if (status != HM_OK) return status;
    sqlite3_bind_text(stmt, 1, layer->name, -1, SQLITE_STATIC);
    status = step_done(gpkg, stmt, what);
    sqlite3_finalize(stmt);
    if (status != HM_OK) return status;

    if (spatial) {
        what = "registering the layer in gpkg_geometry_columns";
        status = prepare_owned(gpkg,
                               sqlite3_mprintf("INSERT INTO gpkg_geometry_columns VALUES (?,'geom',?,?,0,0)"),
                               &stmt, what);
        if (status != HM_OK) return status;
        sqlite3_bind_text(stmt, 1, layer->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, layer->geometry_type == HM_GEOMETRY_POINT ? "POINT" : "MULTIPOLYGON", -1,
                          SQLITE_STATIC);
        sqlite3_bind_int(stmt, 3, gpkg->srs_id);
        status = step_done(gpkg, stmt, what);
        sqlite3_finalize(stmt);
        if (status != HM_OK) return status;
    }

    int any_description = 0;
    for (size_t i = 0; i < layer->field_count; i++)
        if (layer->fields[i].description && *layer->fields[i].description) any_description = 1;
    if (!any_description) return HM_OK;
    if (!gpkg->has_schema_extension) {
        status = exec_sql(gpkg, schema_extension_sql, "creating gpkg_data_columns");
        if (status != HM_OK) return status;
        gpkg->has_schema_extension = 1;
    }
    what = "describing the fields in gpkg_data_columns";
    status =
        prepare_owned(gpkg,
                      sqlite3_mprintf("INSERT INTO gpkg_data_columns (table_name,column_name,description) "
                                      "VALUES (?,?,?)"),
                      &stmt, what);
    if (status != HM_OK) return status;
    for (size_t i = 0; i < layer->field_count && status == HM_OK; i++) {
        if (!layer->fields[i].description || !*layer->fields[i].description) continue;
        sqlite3_bind_text(stmt, 1, layer->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, layer->fields[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, layer->fields[i].description, -1, SQLITE_STATIC);
        status = step_done(gpkg, stmt, what);
    }
    sqlite3_finalize(stmt);
    return status;
}

int hm_gpkg_add_layer(hm_gpkg *gpkg, const char *name, const char *description,
                      hm_geometry_type geometry_type, const hm_gpkg_field *fields, size_t field_count,
                      hm_gpkg_layer **out)
{
    *out = NULL;
    if (gpkg->broken)
        return hm_error(gpkg->ctx, HM_ESQL, "%s: an earlier SQLite error stopped this GeoPackage; abort it",
                        gpkg->target_path);
    int status = check_layer_definition(gpkg, name, geometry_type, fields, field_count);
    if (status != HM_OK) return status;
    if (gpkg->layer_count == gpkg->layer_capacity) {
        size_t capacity = gpkg->layer_capacity ? 2 * gpkg->layer_capacity : 8;
        hm_gpkg_layer **layers = realloc(gpkg->layers, capacity * sizeof *layers);
        if (!layers) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
        gpkg->layers = layers;
        gpkg->layer_capacity = capacity;
    }
    hm_gpkg_layer *layer = calloc(1, sizeof *layer);
    if (!layer) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
    layer->gpkg = gpkg;
    layer->geometry_type = geometry_type;
    layer->name = strdup(name);
    layer->fields = calloc(field_count ? field_count : 1, sizeof *layer->fields);
    int out_of_memory = !layer->name || !layer->fields;
    for (size_t i = 0; i < field_count && !out_of_memory; i++) {
        layer->field_count = i + 1;
        layer->fields[i].type = fields[i].type;
        layer->fields[i].name = strdup(fields[i].name);
        layer->fields[i].description = fields[i].description ? strdup(fields[i].description) : NULL;
        out_of_memory = !layer->fields[i].name || (fields[i].description && !layer->fields[i].description);
    }
    if (out_of_memory) {
        layer_free(layer);
        return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
    }
    status = create_layer_table(gpkg, layer);
    if (status == HM_OK) status = register_layer(gpkg, layer, description);
    if (status != HM_OK) {
        layer_free(layer);
        return status;
    }
    gpkg->layers[gpkg->layer_count++] = layer;
    *out = layer;
    return HM_OK;
}

long long hm_gpkg_layer_count(const hm_gpkg_layer *layer)
{
    return layer->count;
}

/* ---- Values -------------------------------------------------------------------------------------------- */

static int digits(const char *text, int count)
{
    for (int i = 0; i < count; i++)
        if (text[i] < '0' || text[i] > '9') return 0;
    return 1;
}

static int two_digits(const char *text)
{
    return (text[0] - '0') * 10 + (text[1] - '0');
}

/* "YYYY-MM-DD" with a plausible month and day. */
static int is_date(const char *text)
{
    if (!digits(text, 4) || text[4] != '-' || !digits(text + 5, 2) || text[7] != '-' || !digits(text + 8, 2))
        return 0;
    int month = two_digits(text + 5), day = two_digits(text + 8);
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* Rewrites "YYYY-MM-DD[T ]HH:MM:SS[.f...][Z]" (UTC) as "YYYY-MM-DDTHH:MM:SS.SSSZ", the GeoPackage DATETIME
 * form; fractions beyond milliseconds are truncated. Returns 0 when the text is not in that form. */
static int normalise_datetime(const char *text, char out[DATETIME_SIZE])
{
    if (!is_date(text) || (text[10] != 'T' && text[10] != ' ') || !digits(text + 11, 2) || text[13] != ':' ||
        !digits(text + 14, 2) || text[16] != ':' || !digits(text + 17, 2))
        return 0;
    if (two_digits(text + 11) > 23 || two_digits(text + 14) > 59 || two_digits(text + 17) > 59) return 0;
    memcpy(out, text, 19);
    out[10] = 'T';
    const char *rest = text + 19;
    char millis[3] = {'0', '0', '0'};
    if (*rest == '.') {
        rest++;
        if (*rest < '0' || *rest > '9') return 0;
        for (int i = 0; *rest >= '0' && *rest <= '9'; i++, rest++)
            if (i < 3) millis[i] = *rest;
    }
    if (*rest == 'Z') rest++;
    if (*rest) return 0;
    out[19] = '.';
    memcpy(out + 20, millis, 3);
    out[23] = 'Z';
    out[24] = '\0';
    return 1;
}

/* Room for `size` more bytes in the layer's arena, at *offset. The arena keeps its size between batches. */
static int arena_reserve(hm_gpkg_layer *layer, size_t size, size_t *offset)
{
    if (size > INT32_MAX)
        return hm_error(layer->gpkg->ctx, HM_EINVAL, "%s: layer '%s': a value of %zu bytes is too large",
                        layer->gpkg->target_path, layer->name, size);
    if (layer->arena_used + size > layer->arena_capacity) {
        size_t capacity = layer->arena_capacity ? layer->arena_capacity : 16384;
        while (capacity < layer->arena_used + size)
            capacity *= 2;
        char *arena = realloc(layer->arena, capacity);
        if (!arena)
            return hm_error(layer->gpkg->ctx, HM_ENOMEM, "%s: out of memory", layer->gpkg->target_path);
        layer->arena = arena;
        layer->arena_capacity = capacity;
    }
    *offset = layer->arena_used;
    layer->arena_used += size;
    return HM_OK;
}

static int pending_bytes(hm_gpkg_layer *layer, pending_value *slot, int kind, const void *bytes,
                         size_t length)
{
    size_t offset;
    int status = arena_reserve(layer, length, &offset);
    if (status != HM_OK) return status;
    memcpy(layer->arena + offset, bytes, length);
    slot->kind = kind;
    slot->offset = offset;
    slot->length = (int)length;
    return HM_OK;
}

/* Checks one row's field values and copies them into `slots` (one per field). */
static int buffer_values(hm_gpkg_layer *layer, const hm_value *values, pending_value *slots)
{
    if (layer->field_count && !values)
        return hm_error(layer->gpkg->ctx, HM_EINVAL,
                        "%s: layer '%s': values is NULL but the layer has %zu fields",
                        layer->gpkg->target_path, layer->name, layer->field_count);
    int status = HM_OK;
    for (size_t i = 0; i < layer->field_count && status == HM_OK; i++) {
        const hm_value *value = &values[i];
        pending_value *slot = &slots[i];
        hm_field_type type = layer->fields[i].type;
        if (value->is_null ||
            ((type == HM_FIELD_TEXT || type == HM_FIELD_DATE || type == HM_FIELD_DATETIME) &&
             !value->as.text)) {
            slot->kind = PENDING_NULL;
            continue;
        }
        switch (type) {
        case HM_FIELD_TEXT:
            status = pending_bytes(layer, slot, PENDING_TEXT, value->as.text, strlen(value->as.text));
            break;
        case HM_FIELD_INTEGER:
            slot->kind = PENDING_INTEGER;
            slot->as.integer = value->as.integer;
            break;
        case HM_FIELD_REAL:
            slot->kind = PENDING_REAL;
            slot->as.real = value->as.real;
            break;
        case HM_FIELD_DATE:
            if (!is_date(value->as.text) || value->as.text[10] != '\0')
                return hm_error(layer->gpkg->ctx, HM_EINVAL,
                                "%s: layer '%s' field '%s': '%s' is not a date; give YYYY-MM-DD",
                                layer->gpkg->target_path, layer->name, layer->fields[i].name, value->as.text);
            status = pending_bytes(layer, slot, PENDING_TEXT, value->as.text, 10);
            break;
        case HM_FIELD_DATETIME: {
            char normalised[DATETIME_SIZE];
            if (!normalise_datetime(value->as.text, normalised))
                return hm_error(layer->gpkg->ctx, HM_EINVAL,
                                "%s: layer '%s' field '%s': '%s' is not a UTC date and time; give "
                                "YYYY-MM-DDTHH:MM:SS[.SSS][Z]",
                                layer->gpkg->target_path, layer->name, layer->fields[i].name, value->as.text);
            status = pending_bytes(layer, slot, PENDING_TEXT, normalised, 24);
            break;
        }
        }
    }
    return status;
}

/* ---- Geometry blobs and R-tree input ------------------------------------------------------------------- */

/* SQLite's rounding of an rtree coordinate to float32 (ext/rtree/rtree.c rtreeValueDown/rtreeValueUp): the
 * stored box always contains the double-precision one. */
#define RNDTOWARDS (1.0 - 1.0 / 8388608.0)
#define RNDAWAY (1.0 + 1.0 / 8388608.0)

static float rtree_value_down(double d)
{
    float f = (float)d;
    if (f > d) f = (float)(d * (d < 0 ? RNDAWAY : RNDTOWARDS));
    return f;
}

static float rtree_value_up(double d)
{
    float f = (float)d;
    if (f < d) f = (float)(d * (d < 0 ? RNDTOWARDS : RNDAWAY));
    return f;
}

static void put_u32_le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void put_f64_le(unsigned char *p, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(bits >> (8 * i));
}

/* GeoPackage binary header: "GP", version 0, flags (bit 0 little-endian, bits 1-3 envelope kind: 0 none, 1
 * XY; bit 4 empty geometry), srs_id. */
static void put_gpkg_header(unsigned char *p, int envelope_xy, int empty, int srs_id)
{
    p[0] = 'G';
    p[1] = 'P';
    p[2] = 0;
    p[3] = (unsigned char)(0x01 | (envelope_xy ? 0x02 : 0) | (empty ? 0x10 : 0));
    put_u32_le(p + 4, (uint32_t)srs_id);
}

/* Appends a box to the layer's R-tree input and widens the extent. */
static int add_rtree_item(hm_gpkg_layer *layer, int64_t fid, double min_x, double min_y, double max_x,
                          double max_y)
{
    if (layer->item_count == layer->item_capacity) {
        if (layer->item_capacity >= UINT32_MAX / 2)
            return hm_error(layer->gpkg->ctx, HM_ENOMEM, "%s: layer '%s': more than 2^31 geometries",
                            layer->gpkg->target_path, layer->name);
        size_t capacity = layer->item_capacity ? 2 * layer->item_capacity : 4096;
        rtree_item *items = realloc(layer->items, capacity * sizeof *items);
        if (!items)
            return hm_error(layer->gpkg->ctx, HM_ENOMEM, "%s: out of memory", layer->gpkg->target_path);
        layer->items = items;
        if (layer->fids) {
            int64_t *fids = realloc(layer->fids, capacity * sizeof *fids);
            if (!fids)
                return hm_error(layer->gpkg->ctx, HM_ENOMEM, "%s: out of memory", layer->gpkg->target_path);
            layer->fids = fids;
        }
        layer->item_capacity = capacity;
    }
    size_t index = layer->item_count;
    if (!layer->fids && fid != (int64_t)index + 1) {
        /* A row without a geometry came before: keep fids explicitly from now on. */
        layer->fids = malloc(layer->item_capacity * sizeof *layer->fids);
        if (!layer->fids)
            return hm_error(layer->gpkg->ctx, HM_ENOMEM, "%s: out of memory", layer->gpkg->target_path);
        for (size_t i = 0; i < index; i++)
            layer->fids[i] = (int64_t)i + 1;
    }
    if (layer->fids) layer->fids[index] = fid;
    rtree_item *item = &layer->items[index];
    item->box[0] = rtree_value_down(min_x);
    item->box[1] = rtree_value_up(max_x);
    item->box[2] = rtree_value_down(min_y);
    item->box[3] = rtree_value_up(max_y);
    item->index = (uint32_t)index;
    layer->item_count++;
    if (!layer->has_extent) {
        layer->min_x = min_x, layer->min_y = min_y, layer->max_x = max_x, layer->max_y = max_y;
        layer->has_extent = 1;
    } else {
        if (min_x < layer->min_x) layer->min_x = min_x;
        if (min_y < layer->min_y) layer->min_y = min_y;
        if (max_x > layer->max_x) layer->max_x = max_x;
        if (max_y > layer->max_y) layer->max_y = max_y;
    }
    return HM_OK;
}

static void bind_pending(hm_gpkg_layer *layer, sqlite3_stmt *stmt, const pending_value *value, int index)
{
    switch (value->kind) {
    case PENDING_NULL:
        sqlite3_bind_null(stmt, index);
        break;
    case PENDING_TEXT:
        sqlite3_bind_text(stmt, index, layer->arena + value->offset, value->length, SQLITE_STATIC);
        break;
    case PENDING_BLOB:
        sqlite3_bind_blob(stmt, index, layer->arena + value->offset, value->length, SQLITE_STATIC);
        break;
    case PENDING_INTEGER:
        sqlite3_bind_int64(stmt, index, value->as.integer);
        break;
    case PENDING_REAL:
        sqlite3_bind_double(stmt, index, value->as.real);
        break;
    }
}

/* Inserts the buffered rows: a full batch with one multi-row INSERT, a partial one (at commit) row by row.
 * Fids come from sqlite3_last_insert_rowid: within one INSERT, AUTOINCREMENT gives consecutive rowids. Then
 * the rows' boxes go to the R-tree input. */
static int flush_layer(hm_gpkg_layer *layer)
{
    hm_gpkg *gpkg = layer->gpkg;
    int rows = layer->pending_count, status = HM_OK;
    int per_statement = rows == layer->batch_rows ? rows : 1;
    sqlite3_stmt *stmt = per_statement > 1 ? layer->insert_batch : layer->insert_one;
    for (int first = 0; first < rows && status == HM_OK; first += per_statement) {
        for (int k = 0; k < per_statement; k++) {
            const pending_value *row = layer->pending + (size_t)(first + k) * (size_t)layer->columns;
            for (int c = 0; c < layer->columns; c++)
                bind_pending(layer, stmt, &row[c], k * layer->columns + c + 1);
        }
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            sqlite3_reset(stmt);
            status = sql_error(gpkg, "inserting features");
            hm_error_prefix(gpkg->ctx, "layer '%s'", layer->name);
            break;
        }
        sqlite3_reset(stmt);
        int64_t last_fid = sqlite3_last_insert_rowid(gpkg->db);
        for (int k = 0; k < per_statement && status == HM_OK; k++) {
            const pending_box *box = &layer->pending_boxes[first + k];
            if (!box->has_box) continue;
            status = add_rtree_item(layer, last_fid - (per_statement - 1 - k), box->min_x, box->min_y,
                                    box->max_x, box->max_y);
            if (status != HM_OK) gpkg->broken = 1; /* the row is in the table but not in the index */
        }
    }
    layer->pending_count = 0;
    layer->arena_used = 0;
    gpkg->rows_since_writeback += rows;
    if (gpkg->rows_since_writeback >= 32768) start_writeback(gpkg);
    return status;
}

/* The slots of the next buffered row: the geometry first for spatial layers, then the fields. */
static pending_value *next_row(hm_gpkg_layer *layer)
{
    return layer->pending + (size_t)layer->pending_count * (size_t)layer->columns;
}

/* Accepts the row whose values are in next_row(); a full batch is inserted at once. */
static int accept_row(hm_gpkg_layer *layer, int has_box, double min_x, double min_y, double max_x,
                      double max_y)
{
    layer->pending_boxes[layer->pending_count] = (pending_box){has_box, min_x, min_y, max_x, max_y};
    layer->pending_count++;
    layer->count++;
    return layer->pending_count == layer->batch_rows ? flush_layer(layer) : HM_OK;
}

static int check_insert(hm_gpkg_layer *layer, hm_geometry_type wanted, const char *function)
{
    hm_gpkg *gpkg = layer->gpkg;
    if (gpkg->broken)
        return hm_error(gpkg->ctx, HM_ESQL, "%s: an earlier error stopped this GeoPackage; abort it",
                        gpkg->target_path);
    if (wanted != HM_GEOMETRY_NONE && layer->geometry_type != wanted)
        return hm_error(gpkg->ctx, HM_EINVAL, "%s: layer '%s': %s does not fit a %s layer (harmmap bug)",
                        gpkg->target_path, layer->name, function,
                        layer->geometry_type == HM_GEOMETRY_POINT          ? "point"
                        : layer->geometry_type == HM_GEOMETRY_MULTIPOLYGON ? "multipolygon"
                                                                           : "attribute");
    return HM_OK;
}

/* A point blob (29 bytes; GDAL writes points without an envelope) into the next row's geometry slot. An empty
 * point has NaN coordinates and the empty flag, as GDAL writes POINT EMPTY. */
static int buffer_point(hm_gpkg_layer *layer, double x, double y, int empty)
{
    size_t offset;
    int status = arena_reserve(layer, 29, &offset);
    if (status != HM_OK) return status;
    unsigned char *blob = (unsigned char *)layer->arena + offset;
    put_gpkg_header(blob, 0, empty, layer->gpkg->srs_id);
    blob[8] = 1; /* little-endian WKB */
    put_u32_le(blob + 9, 1);
    put_f64_le(blob + 13, x);
    put_f64_le(blob + 21, y);
    *next_row(layer) = (pending_value){.kind = PENDING_BLOB, .length = 29, .offset = offset};
    return HM_OK;
}

/* The hot path: the blob and the values are copied into the arena; no allocation once it has grown. */
int hm_gpkg_insert_point(hm_gpkg_layer *layer, double x, double y, const hm_value *values)
{
    int status = check_insert(layer, HM_GEOMETRY_POINT, "hm_gpkg_insert_point");
    if (status != HM_OK) return status;
    if (!isfinite(x) || !isfinite(y))
        return hm_error(layer->gpkg->ctx, HM_EINVAL, "%s: layer '%s': point (%g, %g) is not finite",
                        layer->gpkg->target_path, layer->name, x, y);
    size_t mark = layer->arena_used;
    status = buffer_point(layer, x, y, 0);
    if (status == HM_OK) status = buffer_values(layer, values, next_row(layer) + 1);
    if (status != HM_OK) {
        layer->arena_used = mark;
        return status;
    }
    return accept_row(layer, 1, x, y, x, y);
}

static int buffer_multipolygon(hm_gpkg_layer *layer, const GEOSGeometry *geometry, GEOSContextHandle_t geos,
                               int *has_box, double box[4])
{
    hm_gpkg *gpkg = layer->gpkg;
    int type = GEOSGeomTypeId_r(geos, geometry);
    if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON)
        return hm_error(gpkg->ctx, HM_EINVAL,
                        "%s: layer '%s': a %s geometry cannot go in a multipolygon layer", gpkg->target_path,
                        layer->name, type == GEOS_POINT ? "point" : "non-polygon");
    size_t offset;
    int status;
    *has_box = 0;
    if (GEOSisEmpty_r(geos, geometry) == 1) {
        /* Empty: flagged in the header, no envelope, MULTIPOLYGON with no parts, as GDAL writes it. */
        if ((status = arena_reserve(layer, 17, &offset)) != HM_OK) return status;
        unsigned char *p = (unsigned char *)layer->arena + offset;
        put_gpkg_header(p, 0, 1, gpkg->srs_id);
        p[8] = 1;
        put_u32_le(p + 9, 6);
        put_u32_le(p + 13, 0);
        *next_row(layer) = (pending_value){.kind = PENDING_BLOB, .length = 17, .offset = offset};
        return HM_OK;
    }
    double min_x, min_y, max_x, max_y;
    if (!GEOSGeom_getXMin_r(geos, geometry, &min_x) || !GEOSGeom_getYMin_r(geos, geometry, &min_y) ||
        !GEOSGeom_getXMax_r(geos, geometry, &max_x) || !GEOSGeom_getYMax_r(geos, geometry, &max_y))
        return hm_error(gpkg->ctx, HM_EGEOS, "%s: layer '%s': GEOS cannot compute a polygon's envelope",
                        gpkg->target_path, layer->name);
    if (!isfinite(min_x) || !isfinite(min_y) || !isfinite(max_x) || !isfinite(max_y))
        return hm_error(gpkg->ctx, HM_EINVAL, "%s: layer '%s': a polygon has non-finite coordinates",
                        gpkg->target_path, layer->name);
    if (!layer->wkb_writer || layer->wkb_writer_handle != geos) {
        if (layer->wkb_writer) GEOSWKBWriter_destroy_r(layer->wkb_writer_handle, layer->wkb_writer);
        layer->wkb_writer = GEOSWKBWriter_create_r(geos);
        layer->wkb_writer_handle = geos;
        if (!layer->wkb_writer)
            return hm_error(gpkg->ctx, HM_EGEOS, "%s: GEOS cannot create a WKB writer", gpkg->target_path);
        GEOSWKBWriter_setOutputDimension_r(geos, layer->wkb_writer, 2);
        GEOSWKBWriter_setByteOrder_r(geos, layer->wkb_writer, GEOS_WKB_NDR);
        GEOSWKBWriter_setFlavor_r(geos, layer->wkb_writer, GEOS_WKB_ISO);
        GEOSWKBWriter_setIncludeSRID_r(geos, layer->wkb_writer, 0);
    }
    size_t wkb_size = 0;
    unsigned char *wkb = GEOSWKBWriter_write_r(geos, layer->wkb_writer, geometry, &wkb_size);
    if (!wkb)
        return hm_error(gpkg->ctx, HM_EGEOS, "%s: layer '%s': GEOS cannot write a polygon as WKB",
                        gpkg->target_path, layer->name);
    /* A Polygon becomes a MultiPolygon of one part by prefixing the multi header (byte order, type 6, count
     * 1), so every row of the column has the declared type. */
    size_t prefix = type == GEOS_POLYGON ? 9 : 0;
    size_t size = 8 + 32 + prefix + wkb_size;
    status = arena_reserve(layer, size, &offset);
    if (status == HM_OK) {
        unsigned char *p = (unsigned char *)layer->arena + offset;
        put_gpkg_header(p, 1, 0, gpkg->srs_id);
        put_f64_le(p + 8, min_x);
        put_f64_le(p + 16, max_x);
        put_f64_le(p + 24, min_y);
        put_f64_le(p + 32, max_y);
        if (prefix) {
            p[40] = 1;
            put_u32_le(p + 41, 6);
            put_u32_le(p + 45, 1);
        }
        memcpy(p + 40 + prefix, wkb, wkb_size);
        *next_row(layer) = (pending_value){.kind = PENDING_BLOB, .length = (int)size, .offset = offset};
        *has_box = 1;
        box[0] = min_x, box[1] = min_y, box[2] = max_x, box[3] = max_y;
    }
    GEOSFree_r(geos, wkb);
    return status;
}

int hm_gpkg_insert_geometry(hm_gpkg_layer *layer, const GEOSGeometry *geometry, GEOSContextHandle_t geos,
                            const hm_value *values)
{
    int status = check_insert(layer, HM_GEOMETRY_NONE, "hm_gpkg_insert_geometry");
    if (status != HM_OK) return status;
    hm_gpkg *gpkg = layer->gpkg;
    if (layer->geometry_type == HM_GEOMETRY_NONE)
        return hm_error(gpkg->ctx, HM_EINVAL, "%s: layer '%s' has no geometry column; use hm_gpkg_insert_row",
                        gpkg->target_path, layer->name);
    if (!geometry) return hm_gpkg_insert_row(layer, values);
    size_t mark = layer->arena_used;
    int has_box = 0;
    double box[4] = {0, 0, 0, 0};
    if (layer->geometry_type == HM_GEOMETRY_MULTIPOLYGON) {
        status = buffer_multipolygon(layer, geometry, geos, &has_box, box);
    } else if (GEOSGeomTypeId_r(geos, geometry) != GEOS_POINT) {
        return hm_error(gpkg->ctx, HM_EINVAL, "%s: layer '%s': only points go in a point layer",
                        gpkg->target_path, layer->name);
    } else if (GEOSisEmpty_r(geos, geometry) == 1) {
        status = buffer_point(layer, NAN, NAN, 1);
    } else {
        double x, y;
        if (!GEOSGeomGetX_r(geos, geometry, &x) || !GEOSGeomGetY_r(geos, geometry, &y))
            return hm_error(gpkg->ctx, HM_EGEOS, "%s: layer '%s': GEOS cannot read a point",
                            gpkg->target_path, layer->name);
        return hm_gpkg_insert_point(layer, x, y, values);
    }
    if (status == HM_OK) status = buffer_values(layer, values, next_row(layer) + 1);
    if (status != HM_OK) {
        layer->arena_used = mark;
        return status;
    }
    return accept_row(layer, has_box, box[0], box[1], box[2], box[3]);
}

int hm_gpkg_insert_row(hm_gpkg_layer *layer, const hm_value *values)
{
    int status = check_insert(layer, HM_GEOMETRY_NONE, "hm_gpkg_insert_row");
    if (status != HM_OK) return status;
    pending_value *slots = next_row(layer);
    if (layer->geometry_type != HM_GEOMETRY_NONE) slots++->kind = PENDING_NULL;
    size_t mark = layer->arena_used;
    if ((status = buffer_values(layer, values, slots)) != HM_OK) {
        layer->arena_used = mark;
        return status;
    }
    return accept_row(layer, 0, 0, 0, 0, 0);
}

/* ---- R-tree: Sort-Tile-Recursive packing into SQLite's R*Tree shadow tables ---------------------------- */

/* Maps a float to an unsigned key with the same order (negative floats reversed, sign bit flipped). */
static uint32_t float_key(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

/* Sort key along an axis (0 = x, 1 = y): the box centre. */
static uint32_t item_key(const rtree_item *item, int axis)
{
    const float *box = item->box + 2 * axis;
    return float_key((float)(0.5 * ((double)box[0] + (double)box[1])));
}

/* Stable LSD radix sort of items by item_key, 8 bits a pass; scratch holds count items. Passes where every
 * key has the same byte are skipped. The result is in items. Used for the slices, a few thousand items. */
static void radix_sort(rtree_item *items, rtree_item *scratch, size_t count, int axis)
{
    if (count < 2) return;
    rtree_item *from = items, *to = scratch;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t histogram[256] = {0};
        for (size_t i = 0; i < count; i++)
            histogram[(item_key(&from[i], axis) >> shift) & 0xFF]++;
        if (histogram[(item_key(&from[0], axis) >> shift) & 0xFF] == count) continue;
        size_t offset = 0;
        for (int b = 0; b < 256; b++) {
            size_t n = histogram[b];
            histogram[b] = offset;
            offset += n;
        }
        for (size_t i = 0; i < count; i++)
            to[histogram[(item_key(&from[i], axis) >> shift) & 0xFF]++] = from[i];
        rtree_item *swap = from;
        from = to;
        to = swap;
    }
    if (from != items) memcpy(items, from, count * sizeof *items);
}

/* The x order of a whole level: the x key, then the item's index. Within a level the items come in index
 * order (insert positions, then node numbers as nodes are made), so this is exactly the order a stable sort
 * by x alone gives; the index makes every key distinct, so an unstable sort gives it too. */
static uint64_t x_order_key(const rtree_item *item)
{
    return (uint64_t)item_key(item, 0) << 32 | item->index;
}

static void insertion_sort_by_x(rtree_item *items, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        rtree_item item = items[i];
        uint64_t key = x_order_key(&item);
        size_t j = i;
        for (; j > 0 && x_order_key(&items[j - 1]) > key; j--)
            items[j] = items[j - 1];
        items[j] = item;
    }
}

/* In-place MSD radix sort by x_order_key, the byte at `shift` first (American flag sort: McIlroy, Bostic
 * and McIlroy, "Engineering radix sort", 1993): items are swapped straight into their byte's bucket, then
 * each bucket is sorted by the next byte. The stable LSD sort needs a copy of the level as scratch, 20 bytes
 * a point beside the 20 of the items, which made the bulk load the peak of a ten-million-record geocode
 * (scripts/bench-memory); this needs none, at about the same speed (tests/bench/bench_gpkg). Buckets of a
 * few items finish by insertion; recursion is at most 8 deep, one byte a level. */
static void sort_by_x(rtree_item *items, size_t count, int shift)
{
    if (count < 32) {
        insertion_sort_by_x(items, count);
        return;
    }
    size_t head[256] = {0}, tail[256];
    for (size_t i = 0; i < count; i++)
        head[(x_order_key(&items[i]) >> shift) & 0xFF]++;
    size_t offset = 0;
    for (int b = 0; b < 256; b++) {
        size_t n = head[b];
        head[b] = offset;
        offset += n;
        tail[b] = offset;
    }
    for (int b = 0; b < 256; b++) {
        while (head[b] < tail[b]) {
            /* Carry the item at the bucket's head to its own bucket, and the one it displaces onwards, until
             * one belongs here. */
            rtree_item item = items[head[b]];
            unsigned digit = (unsigned)(x_order_key(&item) >> shift) & 0xFF;
            while (digit != (unsigned)b) {
                rtree_item displaced = items[head[digit]];
                items[head[digit]++] = item;
                item = displaced;
                digit = (unsigned)(x_order_key(&item) >> shift) & 0xFF;
            }
            items[head[b]++] = item;
        }
    }
    if (shift == 0) return;
    size_t start = 0;
    for (int b = 0; b < 256; b++) {
        if (tail[b] - start > 1) sort_by_x(items + start, tail[b] - start, shift - 8);
        start = tail[b];
    }
}

/* STR's vertical slice for `count` items: ceil(sqrt(leaves)) slices of whole nodes. */
static size_t str_slice_size(size_t count, size_t capacity)
{
    size_t leaves = (count + capacity - 1) / capacity;
    if (leaves == 0) return capacity;
    size_t slices = (size_t)ceil(sqrt((double)leaves));
    return ((leaves + slices - 1) / slices) * capacity;
}

/* Orders one level's items as STR places them: sorted by x into vertical slices of slice_size items (a
 * multiple of the node capacity), each slice sorted by y, ties keeping their x order. Consecutive runs then
 * form the nodes. scratch holds slice_size items: the slices, not the level, are sorted through a copy. */
static void str_order(rtree_item *items, rtree_item *scratch, size_t count, size_t slice_size)
{
    sort_by_x(items, count, 56);
    for (size_t start = 0; start < count; start += slice_size) {
        size_t n = count - start < slice_size ? count - start : slice_size;
        radix_sort(items + start, scratch, n, 1);
    }
}

static void put_u16_be(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_u64_be(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static void put_f32_be(unsigned char *p, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    p[0] = (unsigned char)(bits >> 24);
    p[1] = (unsigned char)(bits >> 16);
    p[2] = (unsigned char)(bits >> 8);
    p[3] = (unsigned char)bits;
}

typedef struct rtree_writer {
    hm_gpkg *gpkg;
    hm_gpkg_layer *layer;
    sqlite3_stmt *write_node;
    unsigned char *node; /* node_size bytes */
    int node_size;
    size_t capacity;     /* cells per node */
    size_t fill;         /* cells per packed node: capacity less the slack (RTREE_SLACK_PERCENT) */
    uint32_t *leaf_of;   /* insert position -> leaf node number */
    uint32_t *parent_of; /* node number -> parent node number (0 for none) */
    size_t parent_capacity;
    uint32_t next_node;
} rtree_writer;

static int64_t item_fid(const hm_gpkg_layer *layer, uint32_t index)
{
    return layer->fids ? layer->fids[index] : (int64_t)index + 1;
}

/* Writes node `node_number` holding cells[0..count) at `depth` (0 = leaf) and records the children's parent.
 * The union of the cells' boxes is returned in box. */
static int write_node(rtree_writer *w, uint32_t node_number, int depth, int is_root, const rtree_item *cells,
                      size_t count, float box[4])
{
    unsigned char *node = w->node;
    memset(node, 0, (size_t)w->node_size);
    put_u16_be(node, is_root ? (unsigned)depth : 0);
    put_u16_be(node + 2, (unsigned)count);
    box[0] = cells[0].box[0], box[1] = cells[0].box[1], box[2] = cells[0].box[2], box[3] = cells[0].box[3];
    for (size_t i = 0; i < count; i++) {
        const rtree_item *cell = &cells[i];
        unsigned char *p = node + 4 + 24 * i;
        put_u64_be(p, depth == 0 ? (uint64_t)item_fid(w->layer, cell->index) : (uint64_t)cell->index);
        for (int k = 0; k < 4; k++)
            put_f32_be(p + 8 + 4 * k, cell->box[k]);
        if (cell->box[0] < box[0]) box[0] = cell->box[0];
        if (cell->box[1] > box[1]) box[1] = cell->box[1];
        if (cell->box[2] < box[2]) box[2] = cell->box[2];
        if (cell->box[3] > box[3]) box[3] = cell->box[3];
        if (depth == 0)
            w->leaf_of[cell->index] = node_number;
        else
            w->parent_of[cell->index] = node_number;
    }
    sqlite3_bind_int64(w->write_node, 1, node_number);
    sqlite3_bind_blob(w->write_node, 2, node, w->node_size, SQLITE_STATIC);
    return step_done(w->gpkg, w->write_node, "writing an R-tree node");
}

/* Packs one level: consecutive runs of each STR slice become nodes, the slice spread evenly over
 * ceil(n / capacity) nodes so that no node is nearly empty. Node boxes go to `up` (count returned in
 * up_count). */
static int pack_level(rtree_writer *w, rtree_item *items, size_t count, int depth, rtree_item *up,
                      size_t *up_count)
{
    size_t slice_size = str_slice_size(count, w->fill);
    rtree_item *scratch = malloc(slice_size * sizeof *scratch);
    if (!scratch) return hm_error(w->gpkg->ctx, HM_ENOMEM, "%s: out of memory", w->gpkg->target_path);
    str_order(items, scratch, count, slice_size);
    free(scratch);
    size_t made = 0;
    for (size_t start = 0; start < count; start += slice_size) {
        size_t n = count - start < slice_size ? count - start : slice_size;
        size_t nodes = (n + w->fill - 1) / w->fill;
        size_t base = n / nodes, extra = n % nodes, offset = start;
        for (size_t k = 0; k < nodes; k++) {
            size_t cells = base + (k < extra ? 1 : 0);
            uint32_t number = w->next_node++;
            if (number >= w->parent_capacity) {
                size_t capacity = 2 * w->parent_capacity;
                uint32_t *parents = realloc(w->parent_of, capacity * sizeof *parents);
                if (!parents)
                    return hm_error(w->gpkg->ctx, HM_ENOMEM, "%s: out of memory", w->gpkg->target_path);
                memset(parents + w->parent_capacity, 0, (capacity - w->parent_capacity) * sizeof *parents);
                w->parent_of = parents;
                w->parent_capacity = capacity;
            }
            int status = write_node(w, number, depth, 0, items + offset, cells, up[made].box);
            if (status != HM_OK) return status;
            up[made].index = number;
            made++;
            offset += cells;
        }
    }
    *up_count = made;
    return HM_OK;
}

/* Runs an SQL statement with one integer result. */
static int query_int(hm_gpkg *gpkg, char *sql, long long *value, const char *what)
{
    sqlite3_stmt *stmt = NULL;
    int status = prepare_owned(gpkg, sql, &stmt, what);
    if (status != HM_OK) return status;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *value = sqlite3_column_int64(stmt, 0);
    else
        status = sql_error(gpkg, what);
    sqlite3_finalize(stmt);
    return status;
}

#define RTREE_ROWID_BATCH 128
/* Packed nodes keep this share of their cells free. SQLite's R-tree splits a full node on the next insert into
 * it, moving half its cells (each a write to <rtree>_rowid or _parent) and often splitting its parent too: an
 * update adding 0.6% more points at random to a tree packed full split a quarter of its leaves, most of the
 * merge's time (pl_gpkg_merge, measured in README "Weekly updates equal a full run"). With 10% free (5 of 51
 * cells), the points of many such weeks go into free cells, at the price of 11% more nodes. */
#define RTREE_SLACK_PERCENT 10

static int bulk_load_rtree(hm_gpkg *gpkg, hm_gpkg_layer *layer, const char *rtree)
{
    size_t n = layer->item_count;
    int status = HM_OK;
    rtree_writer w = {.gpkg = gpkg, .layer = layer};
    rtree_item *level = NULL;
    sqlite3_stmt *stmt = NULL, *stmt_one = NULL;
    long long node_size = 0;
    status = query_int(gpkg, sqlite3_mprintf("SELECT length(data) FROM \"%w_node\" WHERE nodeno = 1", rtree),
                       &node_size, "reading the R-tree node size");
    if (status != HM_OK) return status;
    /* SQLite sizes nodes min(page size - 64, 4 + 51 cells); for 2-D cells of 24 bytes that is 1228 bytes. */
    if (node_size < 4 + 24 * 3 || node_size > 65536)
        return hm_error(gpkg->ctx, HM_EINTERNAL, "%s: R-tree node size %lld is unexpected", gpkg->target_path,
                        node_size);
    w.node_size = (int)node_size;
    w.capacity = (size_t)(node_size - 4) / 24;
    w.fill = w.capacity - w.capacity * RTREE_SLACK_PERCENT / 100;
    w.node = malloc((size_t)node_size);
    w.leaf_of = malloc(n * sizeof *w.leaf_of);
    w.parent_capacity = n / (w.capacity / 2) + 64;
    w.parent_of = calloc(w.parent_capacity, sizeof *w.parent_of);
    /* Node boxes of the level above the leaves: each slice makes at most one node more than its share of
     * n / fill, and there are at most sqrt(n) + 1 slices. Higher levels are smaller still. */
    level = malloc((n / w.fill + (size_t)sqrt((double)n) + 2) * sizeof *level);
    if (!w.node || !w.leaf_of || !w.parent_of || !level) {
        status = hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory building the R-tree of layer '%s'",
                          gpkg->target_path, layer->name);
        goto done;
    }
    if ((status = exec_owned(gpkg, sqlite3_mprintf("DELETE FROM \"%w_node\"", rtree),
                             "clearing the R-tree")) != HM_OK)
        goto done;
    if ((status = prepare_owned(
             gpkg, sqlite3_mprintf("INSERT INTO \"%w_node\" (nodeno, data) VALUES (?, ?)", rtree),
             &w.write_node, "writing R-tree nodes")) != HM_OK)
        goto done;
    w.next_node = 2; /* node 1 is the root, written last */
    rtree_item *items = layer->items, *up = level;
    size_t count = n;
    int depth = 0;
    while (count > w.capacity) {
        size_t up_count = 0;
        if ((status = pack_level(&w, items, count, depth, up, &up_count)) != HM_OK) goto done;
        /* The level just made becomes the input of the next; the old input array takes the next output. */
        rtree_item *swap = items;
        items = up;
        up = swap;
        count = up_count;
        depth++;
    }
    float root_box[4];
    if ((status = write_node(&w, 1, depth, 1, items, count, root_box)) != HM_OK) goto done;

    /* <rtree>_rowid in fid order and <rtree>_parent in node order: both appends to their B-trees. The rowids
     * go RTREE_ROWID_BATCH to a statement, which halves their cost. */
    for (size_t i = 0; i < n && status == HM_OK;) {
        size_t rows = n - i >= RTREE_ROWID_BATCH ? RTREE_ROWID_BATCH : 1;
        sqlite3_stmt **target = rows > 1 ? &stmt : &stmt_one;
        if (!*target) {
            sqlite3_str *sql = sqlite3_str_new(gpkg->db);
            sqlite3_str_appendf(sql, "INSERT INTO \"%w_rowid\" (rowid, nodeno) VALUES ", rtree);
            for (size_t r = 0; r < rows; r++)
                sqlite3_str_appendf(sql, r ? ",(?,?)" : "(?,?)");
            if ((status = prepare_owned(gpkg, sqlite3_str_finish(sql), target, "writing R-tree rowids")) !=
                HM_OK)
                break;
        }
        for (size_t r = 0; r < rows; r++, i++) {
            sqlite3_bind_int64(*target, (int)(2 * r + 1), item_fid(layer, (uint32_t)i));
            sqlite3_bind_int64(*target, (int)(2 * r + 2), w.leaf_of[i]);
        }
        status = step_done(gpkg, *target, "writing R-tree rowids");
    }
    sqlite3_finalize(stmt);
    sqlite3_finalize(stmt_one);
    stmt = stmt_one = NULL;
    if (status != HM_OK) goto done;
    if ((status = prepare_owned(
             gpkg, sqlite3_mprintf("INSERT INTO \"%w_parent\" (nodeno, parentnode) VALUES (?, ?)", rtree),
             &stmt, "writing R-tree parents")) != HM_OK)
        goto done;
    for (uint32_t node = 2; node < w.next_node && status == HM_OK; node++) {
        sqlite3_bind_int64(stmt, 1, node);
        sqlite3_bind_int64(stmt, 2, w.parent_of[node]);
        status = step_done(gpkg, stmt, "writing R-tree parents");
    }
done:
    sqlite3_finalize(stmt);
    sqlite3_finalize(stmt_one);
    sqlite3_finalize(w.write_node);
    free(w.node);
    free(w.leaf_of);
    free(w.parent_of);
    free(level); /* `level` and layer->items took turns as input and output; both are freed here */
    free(layer->items);
    layer->items = NULL;
    return status;
}

/* The plain way, for comparison: INSERT every box through the rtree module, in STR leaf order. */
static int insert_rtree(hm_gpkg *gpkg, hm_gpkg_layer *layer, const char *rtree)
{
    size_t n = layer->item_count;
    size_t slice_size = str_slice_size(n, 51);
    rtree_item *scratch = malloc(slice_size * sizeof *scratch);
    if (!scratch) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
    str_order(layer->items, scratch, n, slice_size);
    free(scratch);
    sqlite3_stmt *stmt = NULL;
    int status = prepare_owned(gpkg, sqlite3_mprintf("INSERT INTO \"%w\" VALUES (?, ?, ?, ?, ?)", rtree),
                               &stmt, "inserting into the R-tree");
    for (size_t i = 0; i < n && status == HM_OK; i++) {
        const rtree_item *item = &layer->items[i];
        sqlite3_bind_int64(stmt, 1, item_fid(layer, item->index));
        for (int k = 0; k < 4; k++)
            sqlite3_bind_double(stmt, 2 + k, item->box[k]);
        status = step_done(gpkg, stmt, "inserting into the R-tree");
    }
    sqlite3_finalize(stmt);
    return status;
}

/* The gpkg_rtree_index triggers, as the GeoPackage 1.3 specification (annex F.3) lists them and GDAL 3.6
 * writes them; plus GDAL's feature count triggers for gpkg_ogr_contents. */
static int create_triggers(hm_gpkg *gpkg, hm_gpkg_layer *layer, const char *rtree)
{
    const char *t = layer->name, *c = "geom", *i = "fid";
    if (layer->geometry_type != HM_GEOMETRY_NONE) {
        char *sql = sqlite3_mprintf(
            "CREATE TRIGGER \"%w_insert\" AFTER INSERT ON \"%w\" WHEN (new.\"%w\" NOT NULL AND NOT "
            "ST_IsEmpty(NEW.\"%w\")) BEGIN INSERT OR REPLACE INTO \"%w\" VALUES "
            "(NEW.\"%w\",ST_MinX(NEW.\"%w\"), "
            "ST_MaxX(NEW.\"%w\"),ST_MinY(NEW.\"%w\"), ST_MaxY(NEW.\"%w\")); END;"
            "CREATE TRIGGER \"%w_update1\" AFTER UPDATE OF \"%w\" ON \"%w\" WHEN OLD.\"%w\" = NEW.\"%w\" AND "
            "(NEW.\"%w\" NOTNULL AND NOT ST_IsEmpty(NEW.\"%w\")) BEGIN INSERT OR REPLACE INTO \"%w\" VALUES "
            "(NEW.\"%w\",ST_MinX(NEW.\"%w\"), ST_MaxX(NEW.\"%w\"),ST_MinY(NEW.\"%w\"), ST_MaxY(NEW.\"%w\")); "
            "END;"
            "CREATE TRIGGER \"%w_update2\" AFTER UPDATE OF \"%w\" ON \"%w\" WHEN OLD.\"%w\" = NEW.\"%w\" AND "
            "(NEW.\"%w\" ISNULL OR ST_IsEmpty(NEW.\"%w\")) BEGIN DELETE FROM \"%w\" WHERE id = OLD.\"%w\"; "
            "END;"
            "CREATE TRIGGER \"%w_update3\" AFTER UPDATE ON \"%w\" WHEN OLD.\"%w\" != NEW.\"%w\" AND "
            "(NEW.\"%w\" "
            "NOTNULL AND NOT ST_IsEmpty(NEW.\"%w\")) BEGIN DELETE FROM \"%w\" WHERE id = OLD.\"%w\"; INSERT "
            "OR "
            "REPLACE INTO \"%w\" VALUES (NEW.\"%w\",ST_MinX(NEW.\"%w\"), "
            "ST_MaxX(NEW.\"%w\"),ST_MinY(NEW.\"%w\"), "
            "ST_MaxY(NEW.\"%w\")); END;"
            "CREATE TRIGGER \"%w_update4\" AFTER UPDATE ON \"%w\" WHEN OLD.\"%w\" != NEW.\"%w\" AND "
            "(NEW.\"%w\" "
            "ISNULL OR ST_IsEmpty(NEW.\"%w\")) BEGIN DELETE FROM \"%w\" WHERE id IN (OLD.\"%w\", "
            "NEW.\"%w\"); END;"
            "CREATE TRIGGER \"%w_delete\" AFTER DELETE ON \"%w\" WHEN old.\"%w\" NOT NULL BEGIN DELETE FROM "
            "\"%w\" "
            "WHERE id = OLD.\"%w\"; END;",
            /* insert */ rtree, t, c, c, rtree, i, c, c, c, c,
            /* update1 */ rtree, c, t, i, i, c, c, rtree, i, c, c, c, c,
            /* update2 */ rtree, c, t, i, i, c, c, rtree, i,
            /* update3 */ rtree, t, i, i, c, c, rtree, i, rtree, i, c, c, c, c,
            /* update4 */ rtree, t, i, i, c, c, rtree, i, i,
            /* delete */ rtree, t, c, rtree, i);
        int status = exec_owned(gpkg, sql, "creating the R-tree triggers");
        if (status != HM_OK) return status;
    }
    char *sql =
        sqlite3_mprintf("CREATE TRIGGER \"trigger_insert_feature_count_%w\" AFTER INSERT ON \"%w\" BEGIN "
                        "UPDATE gpkg_ogr_contents "
                        "SET feature_count = feature_count + 1 WHERE lower(table_name) = lower('%q'); END;"
                        "CREATE TRIGGER \"trigger_delete_feature_count_%w\" AFTER DELETE ON \"%w\" BEGIN "
                        "UPDATE gpkg_ogr_contents "
                        "SET feature_count = feature_count - 1 WHERE lower(table_name) = lower('%q'); END;",
                        t, t, t, t, t, t);
    return exec_owned(gpkg, sql, "creating the feature count triggers");
}

/* Everything a layer needs at the end: its R-tree, extent, feature count and triggers. */
static int finish_layer(hm_gpkg *gpkg, hm_gpkg_layer *layer)
{
    sqlite3_stmt *stmt = NULL;
    int status = flush_layer(layer);
    if (status != HM_OK) return status;
    sqlite3_finalize(layer->insert_batch);
    sqlite3_finalize(layer->insert_one);
    layer->insert_batch = layer->insert_one = NULL;
    char *rtree = sqlite3_mprintf("rtree_%s_geom", layer->name);
    if (!rtree) return hm_error(gpkg->ctx, HM_ENOMEM, "%s: out of memory", gpkg->target_path);
    if (layer->geometry_type != HM_GEOMETRY_NONE) {
        status = exec_owned(
            gpkg,
            sqlite3_mprintf("CREATE VIRTUAL TABLE \"%w\" USING rtree(id, minx, maxx, miny, maxy)", rtree),
            "creating the R-tree");
        if (status == HM_OK)
            status = prepare_owned(
                gpkg,
                sqlite3_mprintf("INSERT INTO gpkg_extensions VALUES (?,'geom','gpkg_rtree_index',"
                                "'http://www.geopackage.org/spec120/#extension_rtree',"
                                "'write-only')"),
                &stmt, "registering the R-tree in gpkg_extensions");
        if (status == HM_OK) {
            sqlite3_bind_text(stmt, 1, layer->name, -1, SQLITE_STATIC);
            status = step_done(gpkg, stmt, "registering the R-tree in gpkg_extensions");
            sqlite3_finalize(stmt);
            stmt = NULL;
        }
        if (status == HM_OK && layer->item_count > 0)
            status = gpkg->rtree_method == HM_GPKG_RTREE_BULK ? bulk_load_rtree(gpkg, layer, rtree)
                                                              : insert_rtree(gpkg, layer, rtree);
        if (status == HM_OK && layer->has_extent) {
            status =
                prepare_owned(gpkg,
                              sqlite3_mprintf("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, "
                                              "max_y = ? WHERE table_name = ?"),
                              &stmt, "writing the layer extent");
            if (status == HM_OK) {
                sqlite3_bind_double(stmt, 1, layer->min_x);
                sqlite3_bind_double(stmt, 2, layer->min_y);
                sqlite3_bind_double(stmt, 3, layer->max_x);
                sqlite3_bind_double(stmt, 4, layer->max_y);
                sqlite3_bind_text(stmt, 5, layer->name, -1, SQLITE_STATIC);
                status = step_done(gpkg, stmt, "writing the layer extent");
                sqlite3_finalize(stmt);
                stmt = NULL;
            }
        }
    } else {
        status = HM_OK;
    }
    if (status == HM_OK) {
        status = prepare_owned(
            gpkg, sqlite3_mprintf("UPDATE gpkg_ogr_contents SET feature_count = ? WHERE table_name = ?"),
            &stmt, "writing the feature count");
        if (status == HM_OK) {
            sqlite3_bind_int64(stmt, 1, layer->count);
            sqlite3_bind_text(stmt, 2, layer->name, -1, SQLITE_STATIC);
            status = step_done(gpkg, stmt, "writing the feature count");
            sqlite3_finalize(stmt);
        }
    }
    if (status == HM_OK) status = create_triggers(gpkg, layer, rtree);
    if (status != HM_OK) hm_error_prefix(gpkg->ctx, "layer '%s'", layer->name);
    sqlite3_free(rtree);
    return status;
}

int hm_gpkg_commit(hm_gpkg *gpkg)
{
    if (!gpkg) return HM_EINVAL;
    hm_ctx *ctx = gpkg->ctx;
    int status = HM_OK;
    if (gpkg->broken) {
        status = hm_error(ctx, HM_ESQL, "%s: not written, because of the earlier error", gpkg->target_path);
        goto fail;
    }
    for (size_t i = 0; i < gpkg->layer_count; i++)
        if ((status = finish_layer(gpkg, gpkg->layers[i])) != HM_OK) goto fail;
    if ((status = exec_sql(gpkg, "COMMIT", "committing")) != HM_OK) goto fail;
    if (sqlite3_close(gpkg->db) != SQLITE_OK) {
        status =
            hm_error(ctx, HM_ESQL, "%s: closing the database failed: %s (harmmap bug: a statement is open?)",
                     gpkg->target_path, sqlite3_errmsg(gpkg->db));
        goto fail;
    }
    gpkg->db = NULL;
    int synced = gpkg->has_writeback_fd ? fsync(gpkg->writeback_fd) : fsync_path(gpkg->temp_path, O_RDONLY);
    close_writeback_fd(gpkg);
    if (synced != 0) {
        status = hm_error(ctx, HM_EIO, "%s: cannot flush %s to disk: %s", gpkg->target_path, gpkg->temp_path,
                          strerror(errno));
        goto fail;
    }
    if (rename(gpkg->temp_path, gpkg->target_path) != 0) {
        status = hm_error(ctx, HM_EIO, "%s: cannot move the finished file %s into place: %s",
                          gpkg->target_path, gpkg->temp_path, strerror(errno));
        goto fail;
    }
    free(gpkg->temp_path);
    gpkg->temp_path = NULL;
    char *dir = directory_of(gpkg->target_path);
    if (dir && fsync_path(dir, O_RDONLY | O_DIRECTORY) != 0)
        hm_warn(ctx, "%s: written, but flushing its directory failed: %s", gpkg->target_path,
                strerror(errno));
    free(dir);
    remove_stale_temporaries(gpkg);
    gpkg_free(gpkg);
    return HM_OK;
fail:
    hm_gpkg_abort(gpkg);
    return status;
}
