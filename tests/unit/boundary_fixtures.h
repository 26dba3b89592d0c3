/*
 * boundary_fixtures.h - boundary files made at test time for test_boundaries, test_pip and bench_pip: small
 * OGR layers, KML and GeoJSON text, and a synthetic tiling of wards with wiggly shared edges (the shape that
 * makes point-in-polygon hard: every interior edge is shared, vertex for vertex, by two polygons).
 * Header-only (static functions) so that tests and benchmarks need no extra library.
 */
#ifndef HM_BOUNDARY_FIXTURES_H
#define HM_BOUNDARY_FIXTURES_H

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_folder.h"

/* A fresh folder under $HM_TMP (or /tmp), malloc'd. */
static inline char *fixture_folder(const char *tag)
{
    size_t length = PATH_MAX;
    char *path = malloc(length);
    if (path && test_folder_create(path, length, tag) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

/* Removes a fixture folder and everything in it. */
static inline void fixture_remove_folder(const char *folder)
{
    (void)test_folder_remove(folder);
}

/* folder + "/" + name, malloc'd. */
static inline char *fixture_path(const char *folder, const char *name)
{
    size_t length = strlen(folder) + strlen(name) + 2;
    char *path = malloc(length);
    if (path) snprintf(path, length, "%s/%s", folder, name);
    return path;
}

static inline int fixture_write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");
    if (!file) return -1;
    int ok = fputs(text, file) >= 0;
    return fclose(file) == 0 && ok ? 0 : -1;
}

/* Writes a polygon layer with OGR. values: row_count rows of field_count strings followed by one WKT (NULL for
 * no geometry). epsg 0: no CRS. Returns 0 on success. */
static inline int fixture_write_layer(const char *path, const char *driver_name, const char *layer_name, int epsg,
                               int field_count, const char *const *fields, int row_count,
                               const char *const *values)
{
    if (GDALGetDriverCount() == 0) GDALAllRegister();
    GDALDriverH driver = GDALGetDriverByName(driver_name);
    if (!driver) return -1;
    unlink(path); /* a fresh file: some drivers refuse to create over an existing one */
    GDALDatasetH dataset = GDALCreate(driver, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!dataset) return -1;
    OGRSpatialReferenceH srs = NULL;
    if (epsg) {
        srs = OSRNewSpatialReference(NULL);
        OSRImportFromEPSG(srs, epsg);
        OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    OGRLayerH layer = GDALDatasetCreateLayer(dataset, layer_name, srs, wkbUnknown, NULL);
    int status = layer ? 0 : -1;
    for (int f = 0; status == 0 && f < field_count; f++) {
        OGRFieldDefnH field = OGR_Fld_Create(fields[f], OFTString);
        if (OGR_L_CreateField(layer, field, TRUE) != OGRERR_NONE) status = -1;
        OGR_Fld_Destroy(field);
    }
    for (int r = 0; status == 0 && r < row_count; r++) {
        const char *const *row = values + (size_t)r * (size_t)(field_count + 1);
        OGRFeatureH feature = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        for (int f = 0; f < field_count; f++)
            if (row[f]) OGR_F_SetFieldString(feature, f, row[f]);
        if (row[field_count]) {
            OGRGeometryH geometry = NULL;
            char *wkt = (char *)row[field_count];
            if (OGR_G_CreateFromWkt(&wkt, NULL, &geometry) != OGRERR_NONE) status = -1;
            else OGR_F_SetGeometryDirectly(feature, geometry);
        }
        if (status == 0 && OGR_L_CreateFeature(layer, feature) != OGRERR_NONE) status = -1;
        OGR_F_Destroy(feature);
    }
    if (srs) OSRDestroySpatialReference(srs);
    GDALClose(dataset);
    return status;
}

/* A KML document with one placemark (name may be NULL) holding a polygon given as "lon,lat lon,lat ...". */
static inline int fixture_write_kml(const char *path, const char *name, const char *coordinates)
{
    FILE *file = fopen(path, "wb");
    if (!file) return -1;
    fprintf(file, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document>\n<Placemark>\n");
    if (name) fprintf(file, "<name>%s</name>\n", name);
    fprintf(file, "<Polygon><outerBoundaryIs><LinearRing><coordinates>%s</coordinates></LinearRing>"
                  "</outerBoundaryIs></Polygon>\n</Placemark>\n</Document>\n</kml>\n",
            coordinates);
    return fclose(file);
}

/* splitmix64: a small, well-mixed generator so that fixtures and random points are reproducible. */
static inline uint64_t fixture_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double fixture_uniform(uint64_t *state)
{
    return (double)(fixture_next(state) >> 11) * 0x1.0p-53;
}

/* A tiling of columns x rows quadrilateral wards over [x0, x0 + width] x [y0, y0 + height] in EPSG:27700:
 * lattice corners jittered by up to a fifth of a cell, each shared side a polyline of `inner_points` extra
 * vertices that wander off the straight line (tapering to the corners so neighbouring sides never cross).
 * Neighbours share every side vertex for vertex, written with 17 significant digits so the copies read back
 * identical. reversed: features written last to first. Ward (i, j) has code "T<i>_<j>" and vertices
 * 4 * (inner_points + 1). Returns 0 on success. */
typedef struct fixture_tiling {
    int columns, rows, inner_points;
    double x0, y0, width, height;
    uint64_t seed;
    int reversed;
} fixture_tiling;

static inline void fixture_tiling_corner(const fixture_tiling *t, int i, int j, double *x, double *y)
{
    double cell_width = t->width / t->columns, cell_height = t->height / t->rows;
    uint64_t state = t->seed ^ ((uint64_t)(i * 7919 + j) * 0x100000001B3ull);
    double jx = (fixture_uniform(&state) - 0.5) * 0.4, jy = (fixture_uniform(&state) - 0.5) * 0.4;
    if (i == 0 || i == t->columns) jx = 0; /* straight outer frame */
    if (j == 0 || j == t->rows) jy = 0;
    *x = t->x0 + (i + jx) * cell_width;
    *y = t->y0 + (j + jy) * cell_height;
}

/* The points of the side from corner (i0, j0) to (i1, j1), corners included, in that direction: written into
 * xy (2 * (inner_points + 2) doubles). A side is generated from its lower-left corner so both users agree. */
static inline void fixture_tiling_side(const fixture_tiling *t, int i0, int j0, int i1, int j1, double *xy)
{
    int forward = (i0 < i1) || (i0 == i1 && j0 < j1);
    int ia = forward ? i0 : i1, ja = forward ? j0 : j1, ib = forward ? i1 : i0, jb = forward ? j1 : j0;
    double ax, ay, bx, by;
    fixture_tiling_corner(t, ia, ja, &ax, &ay);
    fixture_tiling_corner(t, ib, jb, &bx, &by);
    int n = t->inner_points + 2;
    double dx = bx - ax, dy = by - ay, length = sqrt(dx * dx + dy * dy);
    double nx = -dy / length, ny = dx / length;
    int outer = (ia == ib && (ia == 0 || ia == t->columns)) || (ja == jb && (ja == 0 || ja == t->rows));
    uint64_t state = t->seed * 31 + (uint64_t)(ia * 100003 + ja * 101 + (ib - ia) * 7 + (jb - ja));
    double phase = fixture_uniform(&state) * 6.283185307179586, amplitude = 0.06 * length;
    for (int k = 0; k < n; k++) {
        double s = (double)k / (n - 1);
        double offset = 0;
        if (!outer && k > 0 && k < n - 1)
            offset = amplitude * sin(3.141592653589793 * s) *
                     (0.7 * sin(3 * 6.283185307179586 * s + phase) + 0.3 * (2 * fixture_uniform(&state) - 1));
        double x = ax + s * dx + offset * nx, y = ay + s * dy + offset * ny;
        if (k == 0) x = ax, y = ay;
        if (k == n - 1) x = bx, y = by;
        int slot = forward ? k : n - 1 - k;
        xy[2 * slot] = x;
        xy[2 * slot + 1] = y;
    }
}

static inline int fixture_write_tiling(const char *path, const fixture_tiling *t)
{
    FILE *file = fopen(path, "wb");
    if (!file) return -1;
    int n = t->inner_points + 2;
    double *xy = malloc(sizeof(double) * 2 * (size_t)n);
    if (!xy) {
        fclose(file);
        return -1;
    }
    fprintf(file, "{\"type\":\"FeatureCollection\",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"
                  "\"urn:ogc:def:crs:EPSG::27700\"}},\"features\":[\n");
    int total = t->columns * t->rows;
    for (int w = 0; w < total; w++) {
        int ward = t->reversed ? total - 1 - w : w;
        int i = ward % t->columns, j = ward / t->columns;
        fprintf(file, "%s{\"type\":\"Feature\",\"properties\":{\"code\":\"T%d_%d\",\"name\":\"Tile %d %d\"},"
                      "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[",
                w ? ",\n" : "", i, j, i, j);
        /* Counter-clockwise: bottom, right, top (reversed), left (reversed). */
        const int sides[4][4] = {{i, j, i + 1, j}, {i + 1, j, i + 1, j + 1}, {i + 1, j + 1, i, j + 1},
                                 {i, j + 1, i, j}};
        for (int s = 0; s < 4; s++) {
            fixture_tiling_side(t, sides[s][0], sides[s][1], sides[s][2], sides[s][3], xy);
            for (int k = 0; k < n - 1; k++)
                fprintf(file, "%s[%.17g,%.17g]", s || k ? "," : "", xy[2 * k], xy[2 * k + 1]);
        }
        double x, y;
        fixture_tiling_corner(t, i, j, &x, &y);
        fprintf(file, ",[%.17g,%.17g]]]}}", x, y);
    }
    fprintf(file, "\n]}\n");
    free(xy);
    return fclose(file);
}

/* $HM_REAL_DATA/wards-census-merged-2011/<file>, malloc'd, or NULL when the real data is not there. */
static inline char *fixture_real_wards(const char *file)
{
    const char *base = getenv("HM_REAL_DATA");
    if (!base || !base[0]) return NULL;
    size_t length = strlen(base) + strlen(file) + 64;
    char *path = malloc(length);
    if (!path) return NULL;
    snprintf(path, length, "%s/wards-census-merged-2011/%s", base, file);
    if (access(path, R_OK) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

#endif
