/* gpkg_metadata.c - see gpkg_metadata.h. */
#include "gpkg_metadata.h"

#include "styles.h"

#include <cpl_conv.h>
#include <cpl_minixml.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GDAL_URI "http://gdal.org"
#define QGIS_URI "http://mrcc.com/qgis.dtd"
#define MAX_ITEMS 256

/* As GDAL 3.6 creates them (GDALGeoPackageDataset::CreateMetadataTables). */
static const char metadata_tables_sql[] =
    "CREATE TABLE gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,md_scope TEXT NOT NULL DEFAULT "
    "'dataset',md_standard_uri TEXT NOT NULL,mime_type TEXT NOT NULL DEFAULT 'text/xml',metadata TEXT NOT NULL "
    "DEFAULT '');"
    "CREATE TABLE gpkg_metadata_reference (reference_scope TEXT NOT NULL,table_name TEXT,column_name TEXT,"
    "row_id_value INTEGER,timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),md_file_id "
    "INTEGER NOT NULL,md_parent_id INTEGER,CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES "
    "gpkg_metadata(id),CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id));";

/* As gpkg.c creates it (GDAL 3.6's DDL). */
static const char data_columns_sql[] =
    "CREATE TABLE gpkg_data_columns (table_name TEXT NOT NULL,column_name TEXT NOT NULL,name TEXT UNIQUE,title "
    "TEXT,description TEXT,mime_type TEXT,constraint_name TEXT,CONSTRAINT pk_gdc PRIMARY KEY (table_name, "
    "column_name),CONSTRAINT gdc_tn UNIQUE (table_name, name));"
    "CREATE TABLE gpkg_data_column_constraints (constraint_name TEXT NOT NULL,constraint_type TEXT NOT NULL,"
    "value TEXT,min NUMERIC,min_is_inclusive BOOLEAN,max NUMERIC,max_is_inclusive BOOLEAN,description TEXT,"
    "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));";

typedef struct md_item {
    char *key, *value;
} md_item;


typedef struct md_job {
    hm_ctx *ctx;
    hm_layer_summaries *summaries; /* row counts and date ranges, each table read once (layer_summary.h) */
    sqlite3 *db;
    const hm_run_description *run;
    char started[32];
    char command_prefix[64]; /* HARMMAP_<COMMAND>_ */
    md_item items[MAX_ITEMS];
    size_t item_count;
    hm_field_dictionary *fields;
} md_job;

/* ---------------------------------------------------------------------------------------------------------- */

static int sql_fail(md_job *job, const char *what)
{
    return hm_error(job->ctx, HM_ESQL, "GeoPackage metadata: %s: %s", what, sqlite3_errmsg(job->db));
}

static int table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &stmt, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
        found = sqlite3_step(stmt) == SQLITE_ROW;
    }
    sqlite3_finalize(stmt);
    return found;
}

/* Runs a query with %Q/%w arguments and returns its first column of the first row as text (malloc'd), or NULL. */
static char *query_text(sqlite3 *db, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *sql = sqlite3_vmprintf(format, args);
    va_end(args);
    sqlite3_stmt *stmt = NULL;
    char *result = NULL;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_text(stmt, 0))
        result = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    return result;
}

static long long query_integer(sqlite3 *db, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *sql = sqlite3_vmprintf(format, args);
    va_end(args);
    sqlite3_stmt *stmt = NULL;
    long long result = -1;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        result = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    return result;
}

/* -1 when the table cannot be read (the error is the caller's to skip: the count is informative). */
static long long row_count(md_job *job, const char *table)
{
    const hm_layer_summary *summary = NULL;
    if (hm_layer_summaries_get(job->ctx, job->summaries, table, NULL, &summary) != HM_OK) {
        hm_error_clear(job->ctx);
        return -1;
    }
    return summary->rows;
}

/* "snap-m" -> "SNAP_M" */
static void item_key(char *out, size_t size, const char *prefix, const char *name)
{
    size_t used = (size_t)snprintf(out, size, "%s", prefix);
    for (const char *p = name; *p && used + 1 < size; p++)
        out[used++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    out[used < size ? used : size - 1] = '\0';
}

static int set_item(md_job *job, const char *key, const char *value)
{
    for (size_t i = 0; i < job->item_count; i++)
        if (strcmp(job->items[i].key, key) == 0) {
            char *copy = strdup(value);
            if (!copy) return hm_error(job->ctx, HM_ENOMEM, "out of memory");
            free(job->items[i].value);
            job->items[i].value = copy;
            return HM_OK;
        }
    if (job->item_count == MAX_ITEMS) return hm_error(job->ctx, HM_EINVAL, "more than %d metadata items", MAX_ITEMS);
    md_item *item = &job->items[job->item_count];
    item->key = strdup(key);
    item->value = strdup(value);
    if (!item->key || !item->value) {
        free(item->key);
        free(item->value);
        return hm_error(job->ctx, HM_ENOMEM, "out of memory");
    }
    job->item_count++;
    return HM_OK;
}

static const char *get_item(const md_job *job, const char *key)
{
    for (size_t i = 0; i < job->item_count; i++)
        if (strcmp(job->items[i].key, key) == 0) return job->items[i].value;
    return NULL;
}

static int compare_items(const void *a, const void *b)
{
    return strcmp(((const md_item *)a)->key, ((const md_item *)b)->key);
}

/* Runs in time order; runs stamped alike (tests pin the clock) in pipeline order. */
static int pipeline_rank(const char *key)
{
    static const char *const order[] = {"HARMMAP_GEOCODE_RUN", "HARMMAP_AGGREGATE_RUN", "HARMMAP_DENSITY_RUN",
                                        "HARMMAP_TILES_RUN", "HARMMAP_RUN_RUN", "HARMMAP_UPDATE_RUN",
                                        "HARMMAP_QGIS_RUN"};
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
        if (strcmp(order[i], key) == 0) return i;
    return 100;
}

static int compare_runs(const void *a, const void *b)
{
    const md_item *x = *(const md_item *const *)a, *y = *(const md_item *const *)b;
    int by_date = strcmp(x->value, y->value);
    if (by_date) return by_date;
    int by_rank = pipeline_rank(x->key) - pipeline_rank(y->key);
    return by_rank ? by_rank : strcmp(x->key, y->key);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Tables and extension rows                                                                                  */

static int ensure_extension_row(md_job *job, const char *table, const char *extension, const char *definition,
                                const char *scope)
{
    /* INSERT OR IGNORE would not do: the UNIQUE constraint on (table_name, column_name, extension_name) never
     * fires when column_name is NULL, and validate_gpkg.py rejects a second row. */
    long long present = query_integer(job->db,
                                      "SELECT count(*) FROM gpkg_extensions WHERE table_name = %Q AND column_name IS "
                                      "NULL AND extension_name = %Q", table, extension);
    if (present > 1) {
        /* Registered twice by an earlier INSERT OR IGNORE (see above): keep one row. */
        char *sql = sqlite3_mprintf("DELETE FROM gpkg_extensions WHERE table_name = %Q AND column_name IS NULL AND "
                                    "extension_name = %Q AND rowid NOT IN (SELECT min(rowid) FROM gpkg_extensions "
                                    "WHERE table_name = %Q AND column_name IS NULL AND extension_name = %Q)",
                                    table, extension, table, extension);
        int rc = sql ? sqlite3_exec(job->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK) return sql_fail(job, "removing a repeated extension row");
    }
    if (present > 0) return HM_OK;
    char *sql = sqlite3_mprintf("INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, "
                                "scope) VALUES (%Q, NULL, %Q, %Q, %Q)", table, extension, definition, scope);
    int rc = sql ? sqlite3_exec(job->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc == SQLITE_OK ? HM_OK : sql_fail(job, "registering an extension");
}

static int ensure_tables(md_job *job)
{
    if (!table_exists(job->db, "gpkg_metadata") &&
        sqlite3_exec(job->db, metadata_tables_sql, NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(job, "creating gpkg_metadata");
    int status = ensure_extension_row(job, "gpkg_metadata", "gpkg_metadata",
                                      "http://www.geopackage.org/spec120/#extension_metadata", "read-write");
    if (status == HM_OK)
        status = ensure_extension_row(job, "gpkg_metadata_reference", "gpkg_metadata",
                                      "http://www.geopackage.org/spec120/#extension_metadata", "read-write");
    if (status != HM_OK) return status;
    if (!table_exists(job->db, "gpkg_data_columns") &&
        sqlite3_exec(job->db, data_columns_sql, NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(job, "creating gpkg_data_columns");
    status = ensure_extension_row(job, "gpkg_data_columns", "gpkg_schema",
                                  "http://www.geopackage.org/spec121/#extension_schema", "read-write");
    if (status == HM_OK)
        status = ensure_extension_row(job, "gpkg_data_column_constraints", "gpkg_schema",
                                      "http://www.geopackage.org/spec121/#extension_schema", "read-write");
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */
/* The dataset record                                                                                         */

/* Loads the items of the existing harmmap dataset record (default domain) and returns its id (0 if none) and the
 * other domains serialised (kept as they are). */
static int load_dataset_record(md_job *job, long long *id, char **other_domains)
{
    *id = 0;
    *other_domains = NULL;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(job->db,
                           "SELECT m.id, m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON "
                           "r.md_file_id = m.id WHERE r.reference_scope = 'geopackage' AND m.md_standard_uri = ? AND "
                           "m.mime_type = 'text/xml' ORDER BY m.id LIMIT 1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sql_fail(job, "reading the dataset metadata");
    sqlite3_bind_text(stmt, 1, GDAL_URI, -1, SQLITE_STATIC);
    int status = HM_OK;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *id = sqlite3_column_int64(stmt, 0);
        const char *text = (const char *)sqlite3_column_text(stmt, 1);
        CPLXMLNode *root = text ? CPLParseXMLString(text) : NULL;
        const CPLXMLNode *top = root ? CPLSearchXMLNode(root, "=GDALMultiDomainMetadata") : NULL;
        sqlite3_str *others = sqlite3_str_new(NULL);
        for (const CPLXMLNode *domain = top ? top->psChild : NULL; domain && status == HM_OK;
             domain = domain->psNext) {
            if (domain->eType != CXT_Element || strcmp(domain->pszValue, "Metadata") != 0) continue;
            const char *name = CPLGetXMLValue(domain, "domain", "");
            if (*name) {
                /* Serialise this node alone. */
                CPLXMLNode *next = domain->psNext;
                ((CPLXMLNode *)domain)->psNext = NULL;
                char *xml = CPLSerializeXMLTree(domain);
                ((CPLXMLNode *)domain)->psNext = next;
                if (xml) sqlite3_str_appendall(others, xml);
                CPLFree(xml);
                continue;
            }
            for (const CPLXMLNode *mdi = domain->psChild; mdi && status == HM_OK; mdi = mdi->psNext) {
                if (mdi->eType != CXT_Element || strcmp(mdi->pszValue, "MDI") != 0) continue;
                const char *key = CPLGetXMLValue(mdi, "key", NULL);
                if (!key) continue;
                /* Items of this command are written afresh: a parameter left out this time must not linger. Items
                 * derived from the package's tables are derived again. */
                if (strncmp(key, job->command_prefix, strlen(job->command_prefix)) == 0) continue;
                static const char *const derived[] = {"HARMMAP_VERSION", "HARMMAP_CRS", "HARMMAP_INPUTS",
                                                      "HARMMAP_TRANSFORMATION", "HARMMAP_HARM_INDEX",
                                                      "HARMMAP_LAYERS"};
                int skip = 0;
                for (size_t d = 0; d < sizeof derived / sizeof derived[0]; d++)
                    if (strcmp(key, derived[d]) == 0) skip = 1;
                if (skip) continue;
                status = set_item(job, key, CPLGetXMLValue(mdi, NULL, ""));
            }
        }
        if (root) CPLDestroyXMLNode(root);
        char *kept = sqlite3_str_finish(others);
        if (kept && *kept) *other_domains = strdup(kept);
        sqlite3_free(kept);
    }
    sqlite3_finalize(stmt);
    return status;
}

/* Facts the package itself holds: inputs and their accounting, the transformation, the CRS, the harm index and
 * the layers. They are recomputed on every run, so they describe the file as it now is. */
static int derive_items(md_job *job)
{
    sqlite3 *db = job->db;
    int status = HM_OK;
    char version[400], libraries[256];
    hm_library_versions(libraries, sizeof libraries);
    snprintf(version, sizeof version, "harmmap %s (%s)", hm_version(), libraries);
    status = set_item(job, "HARMMAP_VERSION", version);

    char *crs = query_text(db, "SELECT 'EPSG:' || s.organization_coordsys_id || ' (' || s.srs_name || ')' FROM "
                               "gpkg_geometry_columns g JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id "
                               "WHERE s.organization = 'EPSG' LIMIT 1");
    if (status == HM_OK && crs) status = set_item(job, "HARMMAP_CRS", crs);
    free(crs);

    /* When each command ran, from its own table, for packages a command wrote without calling us. */
    char *geocoded = table_exists(db, "runs") ? query_text(db, "SELECT max(run_started) FROM runs") : NULL;
    char *aggregated = table_exists(db, "aggregate_runs") ? query_text(db, "SELECT max(run_started) FROM "
                                                                           "aggregate_runs") : NULL;
    char when[32];
    if (status == HM_OK && geocoded && hm_timestamp_normalise(geocoded, when))
        status = set_item(job, "HARMMAP_GEOCODE_RUN", when);
    if (status == HM_OK && aggregated && hm_timestamp_normalise(aggregated, when))
        status = set_item(job, "HARMMAP_AGGREGATE_RUN", when);
    free(geocoded);
    free(aggregated);

    if (status == HM_OK && table_exists(db, "runs")) {
        sqlite3_str *inputs = sqlite3_str_new(NULL);
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, "SELECT input, kind, format, records_read, placed, outside_area, rejected FROM "
                                   "runs ORDER BY fid", -1, &stmt, NULL) == SQLITE_OK) {
            int n = 0;
            while (sqlite3_step(stmt) == SQLITE_ROW)
                sqlite3_str_appendf(inputs, "%s%s (%s, %s): read %lld, placed %lld, outside %lld, rejected %lld",
                                    n++ ? "; " : "", sqlite3_column_text(stmt, 0), sqlite3_column_text(stmt, 2),
                                    sqlite3_column_text(stmt, 1), sqlite3_column_int64(stmt, 3),
                                    sqlite3_column_int64(stmt, 4), sqlite3_column_int64(stmt, 5),
                                    sqlite3_column_int64(stmt, 6));
        }
        sqlite3_finalize(stmt);
        char *text = sqlite3_str_finish(inputs);
        if (text && *text) status = set_item(job, "HARMMAP_INPUTS", text);
        sqlite3_free(text);
        char *transformation = query_text(db, "SELECT group_concat(DISTINCT transformation) FROM runs");
        if (status == HM_OK && transformation)
            status = set_item(job, "HARMMAP_TRANSFORMATION",
                              *transformation ? transformation : "none (all inputs in British National Grid)");
        free(transformation);
    }
    if (status == HM_OK && table_exists(db, "aggregate_runs")) {
        char *harm = query_text(db, "SELECT value FROM aggregate_runs WHERE item = 'harm_source' ORDER BY fid DESC");
        if (harm) status = set_item(job, "HARMMAP_HARM_INDEX", harm);
        free(harm);
        /* Every item aggregate recorded, under its own prefix (aggregate owns the table; we only copy it). */
        sqlite3_stmt *stmt = NULL;
        if (status == HM_OK &&
            sqlite3_prepare_v2(db, "SELECT item, value FROM aggregate_runs ORDER BY fid", -1, &stmt, NULL) == SQLITE_OK)
            while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
                const char *item = (const char *)sqlite3_column_text(stmt, 0);
                const char *value = (const char *)sqlite3_column_text(stmt, 1);
                if (!item || !value || strcmp(item, "harm_source") == 0 || strcmp(item, "harmmap_version") == 0)
                    continue;
                char key[128];
                item_key(key, sizeof key, "HARMMAP_AGGREGATE_", item);
                status = set_item(job, key, value);
            }
        sqlite3_finalize(stmt);
    }
    /* geocode weighs each record (harm columns) and names the model in runs.harm_model. */
    char *model = table_exists(db, "runs") && query_integer(db, "SELECT 1 FROM pragma_table_info('runs') WHERE name = "
                                                                "'harm_model'") == 1
                      ? query_text(db, "SELECT group_concat(DISTINCT harm_model) FROM runs")
                      : NULL;
    if (status == HM_OK && model && *model && !get_item(job, "HARMMAP_HARM_INDEX"))
        status = set_item(job, "HARMMAP_HARM_INDEX", model);
    free(model);
    if (status == HM_OK && !get_item(job, "HARMMAP_HARM_INDEX"))
        status = set_item(job, "HARMMAP_HARM_INDEX",
                          "none applied in this file: records keep the weight given in their input; harmmap aggregate "
                          "and harmmap density weight them by the harm index in data/harm");

    if (status == HM_OK) {
        sqlite3_str *layers = sqlite3_str_new(NULL);
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, "SELECT table_name, data_type FROM gpkg_contents WHERE table_name <> "
                                   "'layer_styles' ORDER BY rowid", -1, &stmt, NULL) == SQLITE_OK) {
            int n = 0;
            while (sqlite3_step(stmt) == SQLITE_ROW) {
                const char *table = (const char *)sqlite3_column_text(stmt, 0);
                long long rows = row_count(job, table);
                sqlite3_str_appendf(layers, "%s%s (%lld %s)", n++ ? "; " : "", table, rows,
                                    strcmp((const char *)sqlite3_column_text(stmt, 1), "features") == 0 ? "features"
                                                                                                        : "rows");
            }
        }
        sqlite3_finalize(stmt);
        char *text = sqlite3_str_finish(layers);
        if (text && *text) status = set_item(job, "HARMMAP_LAYERS", text);
        sqlite3_free(text);
    }
    return status;
}

static int write_dataset_record(md_job *job)
{
    long long id = 0;
    char *other_domains = NULL;
    int status = load_dataset_record(job, &id, &other_domains);
    if (status == HM_OK) status = derive_items(job);
    char key[128];
    item_key(key, sizeof key, job->command_prefix, "RUN");
    if (status == HM_OK) status = set_item(job, key, job->started);
    for (size_t i = 0; status == HM_OK && i < job->run->parameter_count; i++) {
        const hm_run_parameter *parameter = &job->run->parameters[i];
        if (!parameter->name || !parameter->value) continue;
        item_key(key, sizeof key, job->command_prefix, parameter->name);
        status = set_item(job, key, parameter->value);
    }
    if (status != HM_OK) {
        free(other_domains);
        return status;
    }
    qsort(job->items, job->item_count, sizeof job->items[0], compare_items);
    sqlite3_str *xml = sqlite3_str_new(NULL);
    sqlite3_str_appendall(xml, "<GDALMultiDomainMetadata>\n  <Metadata>\n");
    for (size_t i = 0; i < job->item_count; i++) {
        sqlite3_str_appendall(xml, "    <MDI key=\"");
        hm_xml_append_escaped(xml, job->items[i].key);
        sqlite3_str_appendall(xml, "\">");
        hm_xml_append_escaped(xml, job->items[i].value);
        sqlite3_str_appendall(xml, "</MDI>\n");
    }
    sqlite3_str_appendall(xml, "  </Metadata>\n");
    if (other_domains) sqlite3_str_appendall(xml, other_domains);
    sqlite3_str_appendall(xml, "</GDALMultiDomainMetadata>\n");
    free(other_domains);
    char *text = sqlite3_str_finish(xml);
    if (!text) return hm_error(job->ctx, HM_ENOMEM, "out of memory");
    char *sql;
    if (id)
        sql = sqlite3_mprintf("UPDATE gpkg_metadata SET metadata = %Q WHERE id = %lld;"
                              "UPDATE gpkg_metadata_reference SET timestamp = %Q WHERE md_file_id = %lld;",
                              text, id, job->started, id);
    else
        sql = sqlite3_mprintf("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) VALUES "
                              "('dataset', %Q, 'text/xml', %Q);"
                              "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, "
                              "row_id_value, timestamp, md_file_id, md_parent_id) VALUES ('geopackage', NULL, NULL, "
                              "NULL, %Q, last_insert_rowid(), NULL);",
                              GDAL_URI, text, job->started);
    sqlite3_free(text);
    int rc = sql ? sqlite3_exec(job->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc == SQLITE_OK ? HM_OK : sql_fail(job, "writing the dataset metadata");
}

/* ---------------------------------------------------------------------------------------------------------- */
/* Layer records (QGIS layer metadata)                                                                        */

int hm_qgis_append_spatialrefsys(hm_ctx *ctx, sqlite3_str *out, int epsg, int indent)
{
    PJ_CONTEXT *proj = hm_ctx_proj(ctx);
    char code[32];
    snprintf(code, sizeof code, "EPSG:%d", epsg);
    PJ *crs = proj_create(proj, code);
    if (!crs) return hm_error(ctx, HM_EPROJ, "PROJ does not know %s", code);
    const char *const wkt_options[] = {"MULTILINE=NO", NULL};
    const char *wkt = proj_as_wkt(proj, crs, PJ_WKT2_2019, wkt_options);
    const char *proj4 = proj_as_proj_string(proj, crs, PJ_PROJ_4, NULL);
    const char *name = proj_get_name(crs);
    PJ_TYPE type = proj_get_type(crs);
    int geographic = type == PJ_TYPE_GEOGRAPHIC_2D_CRS || type == PJ_TYPE_GEOGRAPHIC_3D_CRS;
    char proj4_clean[1024];
    snprintf(proj4_clean, sizeof proj4_clean, "%s", proj4 ? proj4 : "");
    char *type_crs = strstr(proj4_clean, " +type=crs"); /* QGIS stores the string without it */
    if (type_crs) *type_crs = '\0';
    sqlite3_str_appendf(out, "%*s<spatialrefsys>\n%*s  <wkt>", indent, "", indent, "");
    hm_xml_append_escaped(out, wkt ? wkt : "");
    sqlite3_str_appendf(out, "</wkt>\n%*s  <proj4>", indent, "");
    hm_xml_append_escaped(out, proj4_clean);
    sqlite3_str_appendf(out, "</proj4>\n%*s  <srid>%d</srid>\n%*s  <authid>EPSG:%d</authid>\n%*s  <description>",
                        indent, "", epsg, indent, "", epsg, indent, "");
    hm_xml_append_escaped(out, name ? name : "");
    sqlite3_str_appendf(out, "</description>\n%*s  <geographicflag>%s</geographicflag>\n%*s</spatialrefsys>\n",
                        indent, "", geographic ? "true" : "false", indent, "");
    proj_destroy(crs);
    return HM_OK;
}

static void append_element(sqlite3_str *out, const char *name, const char *text)
{
    sqlite3_str_appendf(out, "  <%s>", name);
    hm_xml_append_escaped(out, text ? text : "");
    sqlite3_str_appendf(out, "</%s>\n", name);
}

/* "2026-03" -> "2026-03-01T00:00:00Z" (start) or "2026-03-31T23:59:59Z" (end); "2026-03-05" likewise per day. */
static int period_bound(const char *date, int end, char out[32])
{
    int year, month, day = 1;
    int fields = sscanf(date, "%4d-%2d-%2d", &year, &month, &day);
    if (fields < 2 || month < 1 || month > 12) return 0;
    if (fields == 2 && end) {
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        day = days[month - 1];
        if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) day = 29;
    }
    snprintf(out, 32, "%04d-%02d-%02dT%s", year, month, day, end ? "23:59:59Z" : "00:00:00Z");
    return 1;
}

/* What a layer holds and how it was made, for the abstract: the writer's description, then the run's facts. */
static void append_abstract(md_job *job, sqlite3_str *out, const char *table, const char *description, long long rows,
                            int spatial)
{
    sqlite3 *db = job->db;
    hm_xml_append_escaped(out, description && *description ? description : table);
    sqlite3_str_appendf(out, ". %lld %s%s.", rows, spatial ? "feature" : "row", rows == 1 ? "" : "s");
    int records = strcmp(table, "incidents") == 0 || strcmp(table, "intelligence") == 0;
    if (records && table_exists(db, "runs")) {
        const char *kind = strcmp(table, "incidents") == 0 ? "incidents" : "intelligence";
        sqlite3_str_appendall(out, " Placed in their ward and beat by harmmap geocode from: ");
        sqlite3_stmt *stmt = NULL;
        if (sqlite3_prepare_v2(db, "SELECT input, format, records_read, placed, outside_area, rejected FROM runs "
                                   "WHERE kind = ? ORDER BY fid", -1, &stmt, NULL) == SQLITE_OK) {
            sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
            int n = 0;
            while (sqlite3_step(stmt) == SQLITE_ROW) {
                char *line = sqlite3_mprintf("%s%s (%s: read %lld, placed %lld, outside %lld, rejected %lld)",
                                             n++ ? "; " : "", sqlite3_column_text(stmt, 0),
                                             sqlite3_column_text(stmt, 1), sqlite3_column_int64(stmt, 2),
                                             sqlite3_column_int64(stmt, 3), sqlite3_column_int64(stmt, 4),
                                             sqlite3_column_int64(stmt, 5));
                if (line) hm_xml_append_escaped(out, line);
                sqlite3_free(line);
            }
        }
        sqlite3_finalize(stmt);
        sqlite3_str_appendall(out, ". Rejected records are in the table rejects, with the reason.");
    }
    const char *transformation = get_item(job, "HARMMAP_TRANSFORMATION");
    if (records && transformation) {
        sqlite3_str_appendall(out, " Longitude/latitude inputs transformed with: ");
        hm_xml_append_escaped(out, transformation);
        sqlite3_str_appendall(out, ".");
    }
    if (strcmp(table, "ward_harm") == 0 || strcmp(table, "beat_harm") == 0) {
        const char *harm = get_item(job, "HARMMAP_HARM_INDEX");
        const char *population = get_item(job, "HARMMAP_AGGREGATE_POPULATION");
        const char *public_mode = get_item(job, "HARMMAP_AGGREGATE_PUBLIC");
        sqlite3_str_appendall(out, " Harm per area computed by harmmap aggregate. Harm index: ");
        hm_xml_append_escaped(out, harm ? harm : "unknown");
        if (population) {
            sqlite3_str_appendall(out, ". Population: ");
            hm_xml_append_escaped(out, population);
        }
        if (public_mode) {
            sqlite3_str_appendall(out, ". Public release: ");
            hm_xml_append_escaped(out, public_mode);
        }
        sqlite3_str_appendall(out, ".");
    }
}

static int write_layer_record(md_job *job, const char *table, const char *data_type, const char *description,
                              int srs_epsg, const double *extent)
{
    sqlite3 *db = job->db;
    char identifier[300];
    snprintf(identifier, sizeof identifier, "harmmap:%s", table);
    /* Replace harmmap's record; leave alone (and do not write) when someone else described the layer. */
    long long foreign = query_integer(db,
                                      "SELECT count(*) FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON "
                                      "r.md_file_id = m.id WHERE r.reference_scope = 'table' AND r.table_name = %Q AND "
                                      "m.md_standard_uri = %Q AND instr(m.metadata, %Q) = 0",
                                      table, QGIS_URI, "<identifier>harmmap:");
    if (foreign > 0) {
        hm_warn(job->ctx, "layer %s already has QGIS metadata written by someone else: kept, harmmap's not written",
                table);
        return HM_OK;
    }
    char *sql = sqlite3_mprintf(
        "DELETE FROM gpkg_metadata_reference WHERE md_file_id IN (SELECT m.id FROM gpkg_metadata m JOIN "
        "gpkg_metadata_reference r ON r.md_file_id = m.id WHERE r.reference_scope = 'table' AND r.table_name = %Q "
        "AND m.md_standard_uri = %Q);"
        "DELETE FROM gpkg_metadata WHERE md_standard_uri = %Q AND id NOT IN (SELECT md_file_id FROM "
        "gpkg_metadata_reference);",
        table, QGIS_URI, QGIS_URI);
    int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return sql_fail(job, "replacing the layer metadata");

    long long rows = row_count(job, table);
    sqlite3_str *xml = sqlite3_str_new(NULL);
    sqlite3_str_appendf(xml, "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
                             "<qgis version=\"3.22.16-Bia\xC5\x82owie\xC5\xBC""a\">\n");
    append_element(xml, "identifier", identifier);
    append_element(xml, "parentidentifier", "harmmap");
    append_element(xml, "language", "en-GB");
    append_element(xml, "type", "dataset");
    append_element(xml, "title", hm_styles_layer_title(table));
    sqlite3_str_appendall(xml, "  <abstract>");
    append_abstract(job, xml, table, description, rows, strcmp(data_type, "features") == 0);
    sqlite3_str_appendall(xml, "</abstract>\n  <keywords vocabulary=\"harmmap\">\n");
    const char *keywords[] = {"harm", "crime", "harmmap", strcmp(table, "intelligence") == 0 ? "intelligence" : NULL};
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (keywords[i]) sqlite3_str_appendf(xml, "    <keyword>%s</keyword>\n", keywords[i]);
    sqlite3_str_appendall(xml, "  </keywords>\n  <links/>\n");
    /* History: every harmmap run recorded in the dataset metadata, oldest first (the dates sort as text). */
    const md_item *runs[MAX_ITEMS];
    size_t run_count = 0;
    for (size_t i = 0; i < job->item_count; i++) {
        const char *key = job->items[i].key;
        size_t length = strlen(key);
        if (strncmp(key, "HARMMAP_", 8) == 0 && length > 12 && strcmp(key + length - 4, "_RUN") == 0)
            runs[run_count++] = &job->items[i];
    }
    qsort(runs, run_count, sizeof runs[0], compare_runs);
    for (size_t i = 0; i < run_count; i++) {
        size_t length = strlen(runs[i]->key);
        char command[64];
        snprintf(command, sizeof command, "%.*s", (int)(length - 12), runs[i]->key + 8);
        for (char *p = command; *p; p++) *p = (char)tolower((unsigned char)*p);
        sqlite3_str_appendall(xml, "  <history>");
        char *line = sqlite3_mprintf("%s: harmmap %s", runs[i]->value, command);
        if (line) hm_xml_append_escaped(xml, line);
        sqlite3_free(line);
        sqlite3_str_appendall(xml, "</history>\n");
    }
    sqlite3_str_appendall(xml, "  <fees></fees>\n");
    if (strcmp(table, "intelligence") == 0)
        sqlite3_str_appendall(xml, "  <constraints type=\"access\">Intelligence graded 3x5x2: share each record only "
                                   "as its handling code allows (P: lawful sharing permitted; C: sharing with "
                                   "conditions). The file is readable by its owner only.</constraints>\n");
    append_element(xml, "encoding", "UTF-8");
    int status = HM_OK;
    if (srs_epsg > 0) {
        sqlite3_str_appendall(xml, "  <crs>\n");
        status = hm_qgis_append_spatialrefsys(job->ctx, xml, srs_epsg, 4);
        sqlite3_str_appendall(xml, "  </crs>\n");
    }
    sqlite3_str_appendall(xml, "  <extent>\n");
    if (extent && srs_epsg > 0)
        sqlite3_str_appendf(xml, "    <spatial dimensions=\"2\" crs=\"EPSG:%d\" minx=\"%.17g\" miny=\"%.17g\" "
                                 "maxx=\"%.17g\" maxy=\"%.17g\" minz=\"0\" maxz=\"0\"/>\n",
                            srs_epsg, extent[0], extent[1], extent[2], extent[3]);
    if (status == HM_OK && strcmp(data_type, "features") == 0) {
        const hm_layer_summary *summary = NULL;
        if (hm_layer_summaries_get(job->ctx, job->summaries, table, NULL, &summary) != HM_OK) {
            hm_error_clear(job->ctx); /* an unreadable table: its temporal extent is left out, not the layer */
        } else if (summary->date_min && summary->date_max) {
            char start[32], end[32];
            if (period_bound(summary->date_min, 0, start) && period_bound(summary->date_max, 1, end))
                sqlite3_str_appendf(xml, "    <temporal>\n      <period>\n        <start>%s</start>\n        "
                                         "<end>%s</end>\n      </period>\n    </temporal>\n", start, end);
        }
    }
    sqlite3_str_appendall(xml, "  </extent>\n</qgis>\n");
    char *text = sqlite3_str_finish(xml);
    if (status != HM_OK || !text) {
        sqlite3_free(text);
        return status != HM_OK ? status : hm_error(job->ctx, HM_ENOMEM, "out of memory");
    }
    sql = sqlite3_mprintf("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) VALUES "
                          "('dataset', %Q, 'text/xml', %Q);"
                          "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, "
                          "timestamp, md_file_id, md_parent_id) VALUES ('table', %Q, NULL, NULL, %Q, "
                          "last_insert_rowid(), NULL);",
                          QGIS_URI, text, table, job->started);
    sqlite3_free(text);
    rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc == SQLITE_OK ? HM_OK : sql_fail(job, "writing the layer metadata");
}

/* ---------------------------------------------------------------------------------------------------------- */
/* gpkg_contents and gpkg_data_columns                                                                        */

static int describe_layer(md_job *job, const char *table)
{
    sqlite3 *db = job->db;
    const char *title = hm_styles_layer_title(table);
    /* identifier is UNIQUE in gpkg_contents: keep the table name if another layer already has the title. */
    long long taken = query_integer(db, "SELECT count(*) FROM gpkg_contents WHERE identifier = %Q AND table_name <> %Q",
                                    title, table);
    char *sql = sqlite3_mprintf("UPDATE gpkg_contents SET identifier = %Q WHERE table_name = %Q;", taken ? table : title,
                                table);
    int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return sql_fail(job, "setting the layer identifier");
    if (strcmp(table, "layer_styles") == 0) {
        sql = sqlite3_mprintf("UPDATE gpkg_contents SET description = %Q WHERE table_name = 'layer_styles' AND "
                              "(description IS NULL OR description = '')",
                              "QGIS layer styles: each layer's default style (harmmap's has styleName harmmap)");
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK) return sql_fail(job, "describing layer_styles");
    }

    /* Every column: keep the writer's description, else fields.csv's; the alias goes in title. */
    char *geometry_column = query_text(db, "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = %Q", table);
    char *geometry_type = query_text(db, "SELECT lower(geometry_type_name) FROM gpkg_geometry_columns WHERE "
                                         "table_name = %Q", table);
    char *crs = query_text(db, "SELECT s.srs_name FROM gpkg_geometry_columns g JOIN gpkg_spatial_ref_sys s ON "
                               "s.srs_id = g.srs_id WHERE g.table_name = %Q", table);
    sqlite3_stmt *columns = NULL, *insert = NULL, *update = NULL;
    sql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) ORDER BY cid", table);
    int status = HM_OK;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &columns, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO gpkg_data_columns (table_name, column_name, title, description) "
                               "VALUES (?, ?, ?, ?)", -1, &insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE gpkg_data_columns SET title = coalesce(title, ?), description = CASE WHEN "
                               "description IS NULL OR description = '' THEN ? ELSE description END WHERE "
                               "table_name = ? AND column_name = ?", -1, &update, NULL) != SQLITE_OK)
        status = sql_fail(job, "describing the fields");
    sqlite3_free(sql);
    while (status == HM_OK && sqlite3_step(columns) == SQLITE_ROW) {
        const char *column = (const char *)sqlite3_column_text(columns, 0);
        if (!column) continue;
        char fallback[512];
        const char *description = hm_field_dictionary_description(job->fields, table, column);
        if (geometry_column && strcmp(column, geometry_column) == 0) {
            snprintf(fallback, sizeof fallback, "Geometry (%s) in %s", geometry_type ? geometry_type : "geometry",
                     crs ? crs : "the layer's CRS");
            description = fallback;
        }
        const char *alias = hm_field_dictionary_alias(job->fields, table, column);
        long long present = query_integer(db, "SELECT count(*) FROM gpkg_data_columns WHERE table_name = %Q AND "
                                              "column_name = %Q", table, column);
        sqlite3_stmt *stmt = present > 0 ? update : insert;
        sqlite3_reset(stmt);
        if (present > 0) {
            sqlite3_bind_text(stmt, 1, alias, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 2, description, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 3, table, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 4, column, -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_text(stmt, 1, table, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 2, column, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 3, alias, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 4, description, -1, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(stmt) != SQLITE_DONE) status = sql_fail(job, "describing the fields");
    }
    sqlite3_finalize(columns);
    sqlite3_finalize(insert);
    sqlite3_finalize(update);
    free(geometry_column);
    free(geometry_type);
    free(crs);
    return status;
}

/* ---------------------------------------------------------------------------------------------------------- */

int hm_gpkg_metadata_write(hm_ctx *ctx, sqlite3 *db, const hm_run_description *run, hm_layer_summaries *summaries)
{
    md_job job;
    memset(&job, 0, sizeof job);
    job.ctx = ctx;
    job.db = db;
    job.run = run;
    hm_layer_summaries *own_summaries = NULL;
    job.summaries = summaries;
    if (!job.summaries && !(job.summaries = own_summaries = hm_layer_summaries_create(db)))
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    if (!hm_timestamp_normalise(run->started, job.started)) hm_timestamp_now(job.started);
    item_key(job.command_prefix, sizeof job.command_prefix - 1, "HARMMAP_", run->command ? run->command : "run");
    strcat(job.command_prefix, "_");

    int status = hm_field_dictionary_load(ctx, run->styles_dir, &job.fields);
    if (status == HM_OK) status = ensure_tables(&job);
    if (status == HM_OK) status = write_dataset_record(&job);

    sqlite3_stmt *stmt = NULL;
    if (status == HM_OK &&
        sqlite3_prepare_v2(db, "SELECT c.table_name, c.data_type, c.description, s.organization_coordsys_id, c.min_x, "
                               "c.min_y, c.max_x, c.max_y FROM gpkg_contents c LEFT JOIN gpkg_spatial_ref_sys s ON "
                               "s.srs_id = c.srs_id AND s.organization = 'EPSG' WHERE c.data_type IN ('features', "
                               "'attributes') ORDER BY c.rowid", -1, &stmt, NULL) != SQLITE_OK)
        status = sql_fail(&job, "listing the layers");
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        char *table = strdup((const char *)sqlite3_column_text(stmt, 0));
        char *data_type = strdup((const char *)sqlite3_column_text(stmt, 1));
        const char *text = (const char *)sqlite3_column_text(stmt, 2);
        char *description = strdup(text ? text : "");
        int epsg = sqlite3_column_type(stmt, 3) == SQLITE_NULL ? 0 : sqlite3_column_int(stmt, 3);
        double extent[4];
        int has_extent = 1;
        for (int i = 0; i < 4; i++) {
            if (sqlite3_column_type(stmt, 4 + i) == SQLITE_NULL) has_extent = 0;
            extent[i] = sqlite3_column_double(stmt, 4 + i);
        }
        if (!table || !data_type || !description) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory");
        } else {
            status = describe_layer(&job, table);
            if (status == HM_OK && strcmp(table, "layer_styles") != 0)
                status = write_layer_record(&job, table, data_type, description, epsg, has_extent ? extent : NULL);
            if (status != HM_OK) hm_error_prefix(ctx, "layer %s", table);
        }
        free(table);
        free(data_type);
        free(description);
    }
    sqlite3_finalize(stmt);
    for (size_t i = 0; i < job.item_count; i++) {
        free(job.items[i].key);
        free(job.items[i].value);
    }
    hm_layer_summaries_destroy(own_summaries);
    hm_field_dictionary_destroy(job.fields);
    return status;
}
