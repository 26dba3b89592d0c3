/*
 * bench_gpkg - times the GeoPackage writer (engine/gpkg.c) against OGR's own GeoPackage driver on the same
 * data: N points (default 1,000,000) in a 60 km x 40 km box of British National Grid with 12 attribute
 * fields, as geocoded incidents are written. Built with the tests, never run by ctest: scripts/bench-gpkg
 * runs it.
 *
 *   bench_gpkg [--points N] [--dir DIR] [--only harmmap|insert|ogr]...
 *
 * Prints, for each writer, the seconds spent inserting, the seconds spent finishing (R-tree, commit, close,
 * fsync) and the total, then the file size and, for harmmap's files, SQLite's rtreecheck() verdict.
 */
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "gpkg.h"

#define FIELD_COUNT 12

static const hm_gpkg_field fields[FIELD_COUNT] = {
    {"crime_id", HM_FIELD_TEXT, "data.police.uk Crime ID"},
    {"month", HM_FIELD_TEXT, "Month of the record, YYYY-MM"},
    {"reported_by", HM_FIELD_TEXT, "Force that provided the data"},
    {"category", HM_FIELD_TEXT, "Crime type"},
    {"location", HM_FIELD_TEXT, "Anonymised location description"},
    {"lsoa_code", HM_FIELD_TEXT, "LSOA code"},
    {"outcome", HM_FIELD_TEXT, "Last outcome category"},
    {"ward_code", HM_FIELD_TEXT, "Ward the point falls in"},
    {"count", HM_FIELD_INTEGER, "Records at this point"},
    {"harm_days", HM_FIELD_REAL, "Crime harm weight in days"},
    {"day", HM_FIELD_DATE, "Date recorded"},
    {"recorded_at", HM_FIELD_DATETIME, "Time recorded, UTC"},
};

/* Small pools of realistic strings, picked by index, so that generating the data costs almost nothing. */
#define POOL 1024
typedef struct pools {
    char crime_id[POOL][65];
    char location[POOL][48];
    char lsoa[POOL][10];
    char ward[POOL][10];
    char day[POOL][11];
    char at[POOL][25];
} pools;

static const char *categories[] = {"anti-social-behaviour",
                                   "burglary",
                                   "criminal-damage-arson",
                                   "drugs",
                                   "other-theft",
                                   "public-order",
                                   "robbery",
                                   "shoplifting",
                                   "vehicle-crime",
                                   "violent-crime",
                                   "possession-of-weapons",
                                   "theft-from-the-person"};
static const char *outcomes[] = {"Investigation complete; no suspect identified",
                                 "Unable to prosecute suspect", "Under investigation",
                                 "Offender given a caution", NULL};

static uint64_t lcg(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 33;
}

static void make_pools(pools *p)
{
    uint64_t seed = 42;
    for (int i = 0; i < POOL; i++) {
        for (int k = 0; k < 64; k++)
            p->crime_id[i][k] = "0123456789abcdef"[lcg(&seed) % 16];
        p->crime_id[i][64] = '\0';
        snprintf(p->location[i], sizeof p->location[i], "On or near Street %d", (int)(lcg(&seed) % 5000));
        snprintf(p->lsoa[i], sizeof p->lsoa[i], "E0%07d", (int)(lcg(&seed) % 10000000));
        snprintf(p->ward[i], sizeof p->ward[i], "E0%07d", (int)(lcg(&seed) % 10000000));
        int month = 1 + (int)(lcg(&seed) % 12), day = 1 + (int)(lcg(&seed) % 28);
        snprintf(p->day[i], sizeof p->day[i], "2024-%02d-%02d", month, day);
        snprintf(p->at[i], sizeof p->at[i], "2024-%02d-%02dT%02d:%02d:%02d.000Z", month, day,
                 (int)(lcg(&seed) % 24), (int)(lcg(&seed) % 60), (int)(lcg(&seed) % 60));
    }
}

typedef struct row {
    double x, y;
    const char *text[8];
    long long count;
    double harm;
    const char *day, *at;
} row;

static void make_row(const pools *p, long long i, row *r)
{
    uint64_t seed = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    /* West Midlands-sized box: 60 km x 40 km around Birmingham, to the centimetre. */
    r->x = 380000.0 + (double)(lcg(&seed) % 6000000) / 100.0;
    r->y = 270000.0 + (double)(lcg(&seed) % 4000000) / 100.0;
    int k = (int)(lcg(&seed) % POOL);
    r->text[0] = p->crime_id[k];
    r->text[1] = "2024-06";
    r->text[2] = "West Midlands Police";
    r->text[3] = categories[lcg(&seed) % 12];
    r->text[4] = p->location[(k * 7) % POOL];
    r->text[5] = p->lsoa[(k * 13) % POOL];
    r->text[6] = outcomes[lcg(&seed) % 5];
    r->text[7] = p->ward[(k * 17) % POOL];
    r->count = 1 + (long long)(lcg(&seed) % 3);
    r->harm = (double)(lcg(&seed) % 36500) / 10.0;
    r->day = p->day[k];
    r->at = p->at[k];
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of this process (user + system): steadier than wall time on a shared machine. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long long file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (long long)info.st_size : -1;
}

/* Seconds of wall time (and of CPU time) for the insert and finish phases. */
typedef struct phase_times {
    double insert_s, finish_s, insert_cpu_s, finish_cpu_s;
} phase_times;

static void report(const char *name, long long points, phase_times t, const char *path)
{
    printf("%-36s insert %6.2f s (cpu %6.2f)  finish %6.2f s (cpu %6.2f)  total %6.2f s (cpu %6.2f)  "
           "%7.0f points/s  %5.0f MiB\n",
           name, t.insert_s, t.insert_cpu_s, t.finish_s, t.finish_cpu_s, t.insert_s + t.finish_s,
           t.insert_cpu_s + t.finish_cpu_s, (double)points / (t.insert_s + t.finish_s),
           (double)file_size(path) / 1048576.0);
}

static int rtree_verdict(const char *path, const char *layer)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT rtreecheck('rtree_%s_geom')", layer);
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        printf("    rtreecheck: %s\n", text ? text : "(null)");
        ok = text && strcmp(text, "ok") == 0;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return ok;
}

static int bench_harmmap(hm_ctx *ctx, const pools *p, long long points, const char *path,
                         hm_gpkg_rtree_method method, const char *name)
{
    unlink(path);
    double start = now_s(), start_cpu = cpu_s();
    hm_gpkg *gpkg = NULL;
    hm_gpkg_layer *layer = NULL;
    hm_gpkg_options options = {.srs_epsg = 27700, .rtree_method = method};
    if (hm_gpkg_create_with_options(ctx, path, &options, &gpkg) != HM_OK ||
        hm_gpkg_add_layer(gpkg, "incidents", "Benchmark points", HM_GEOMETRY_POINT, fields, FIELD_COUNT,
                          &layer) != HM_OK)
        goto fail;
    hm_value values[FIELD_COUNT];
    row r;
    for (long long i = 0; i < points; i++) {
        make_row(p, i, &r);
        for (int k = 0; k < 8; k++) {
            values[k].is_null = r.text[k] == NULL;
            values[k].as.text = r.text[k];
        }
        values[8] = (hm_value){.as.integer = r.count};
        values[9] = (hm_value){.as.real = r.harm};
        values[10] = (hm_value){.as.text = r.day};
        values[11] = (hm_value){.as.text = r.at};
        if (hm_gpkg_insert_point(layer, r.x, r.y, values) != HM_OK) goto fail;
    }
    double inserted = now_s(), inserted_cpu = cpu_s();
    if (hm_gpkg_commit(gpkg) != HM_OK) {
        gpkg = NULL;
        goto fail;
    }
    double finished = now_s(), finished_cpu = cpu_s();
    report(name, points,
           (phase_times){inserted - start, finished - inserted, inserted_cpu - start_cpu,
                         finished_cpu - inserted_cpu},
           path);
    return rtree_verdict(path, "incidents") ? 0 : 1;
fail:
    fprintf(stderr, "bench_gpkg: %s\n", hm_error_message(ctx));
    hm_gpkg_abort(gpkg);
    return 1;
}

/* OGR's GeoPackage driver as a careful user would drive it: one transaction, one reused feature. GDAL 3.6
 * builds the R-tree when the dataset is closed, so that is timed as "finish". */
static int bench_ogr(const pools *p, long long points, const char *path)
{
    static const OGRFieldType types[] = {OFTString,    OFTString, OFTString, OFTString,
                                         OFTString,    OFTString, OFTString, OFTString,
                                         OFTInteger64, OFTReal,   OFTDate,   OFTDateTime};
    unlink(path);
    GDALAllRegister();
    double start = now_s(), start_cpu = cpu_s();
    GDALDriverH driver = GDALGetDriverByName("GPKG");
    GDALDatasetH ds = GDALCreate(driver, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds) return 1;
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 27700);
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "incidents", srs, wkbPoint, NULL);
    OSRRelease(srs);
    for (int k = 0; k < FIELD_COUNT; k++) {
        OGRFieldDefnH field = OGR_Fld_Create(fields[k].name, types[k]);
        OGR_L_CreateField(layer, field, 1);
        OGR_Fld_Destroy(field);
    }
    GDALDatasetStartTransaction(ds, 0);
    OGRFeatureH feature = OGR_F_Create(OGR_L_GetLayerDefn(layer));
    OGRGeometryH point = OGR_G_CreateGeometry(wkbPoint);
    row r;
    for (long long i = 0; i < points; i++) {
        make_row(p, i, &r);
        OGR_F_SetFID(feature, OGRNullFID);
        for (int k = 0; k < 8; k++) {
            if (r.text[k])
                OGR_F_SetFieldString(feature, k, r.text[k]);
            else
                OGR_F_SetFieldNull(feature, k);
        }
        OGR_F_SetFieldInteger64(feature, 8, r.count);
        OGR_F_SetFieldDouble(feature, 9, r.harm);
        OGR_F_SetFieldString(feature, 10, r.day);
        OGR_F_SetFieldString(feature, 11, r.at);
        OGR_G_SetPoint_2D(point, 0, r.x, r.y);
        OGR_F_SetGeometry(feature, point);
        if (OGR_L_CreateFeature(layer, feature) != OGRERR_NONE) return 1;
    }
    OGR_G_DestroyGeometry(point);
    OGR_F_Destroy(feature);
    GDALDatasetCommitTransaction(ds);
    double inserted = now_s(), inserted_cpu = cpu_s();
    GDALClose(ds);
    double finished = now_s(), finished_cpu = cpu_s();
    report("OGR GPKG driver, GDAL " GDAL_RELEASE_NAME, points,
           (phase_times){inserted - start, finished - inserted, inserted_cpu - start_cpu,
                         finished_cpu - inserted_cpu},
           path);
    return 0;
}

int main(int argc, char **argv)
{
    long long points = 1000000;
    const char *dir = "/tmp";
    int run_harmmap = 0, run_insert = 0, run_ogr = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--points") == 0 && i + 1 < argc)
            points = atoll(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            const char *which = argv[++i];
            run_harmmap |= strcmp(which, "harmmap") == 0;
            run_insert |= strcmp(which, "insert") == 0;
            run_ogr |= strcmp(which, "ogr") == 0;
        } else {
            fprintf(stderr, "usage: bench_gpkg [--points N] [--dir DIR] [--only harmmap|insert|ogr]...\n");
            return 2;
        }
    }
    if (!run_harmmap && !run_insert && !run_ogr) run_harmmap = run_insert = run_ogr = 1;
    pools *p = malloc(sizeof *p);
    hm_ctx *ctx = hm_ctx_create();
    if (!p || !ctx) return 1;
    make_pools(p);
    char path[1024];
    int failures = 0;
    printf("%lld points, %d fields, EPSG:27700; seconds of wall time (and of this process's CPU time)\n",
           points, FIELD_COUNT);
    if (run_harmmap) {
        snprintf(path, sizeof path, "%s/bench-harmmap.gpkg", dir);
        failures += bench_harmmap(ctx, p, points, path, HM_GPKG_RTREE_BULK, "harmmap, R-tree bulk-loaded");
    }
    if (run_insert) {
        snprintf(path, sizeof path, "%s/bench-harmmap-insert.gpkg", dir);
        failures +=
            bench_harmmap(ctx, p, points, path, HM_GPKG_RTREE_INSERT, "harmmap, R-tree INSERT, STR order");
    }
    if (run_ogr) {
        snprintf(path, sizeof path, "%s/bench-ogr.gpkg", dir);
        failures += bench_ogr(p, points, path);
    }
    hm_ctx_destroy(ctx);
    free(p);
    return failures ? 1 : 0;
}
