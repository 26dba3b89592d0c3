/*
 * geocode.h - `harmmap geocode`: place every incident and intelligence record in its ward and beat, and write
 * them with the boundaries, the rejects and the run's accounting to a GeoPackage.
 *
 * Pipeline, streamed one record at a time so memory grows with the boundaries and not with the records:
 *   CSV record (csv.c) -> fields by input schema (records.c) -> location and date parsing (location.c,
 *   postcodes.c) -> PROJ to the working CRS -> ward and beat (pip.c) -> GeoPackage rows (gpkg.c).
 * Every record read ends in exactly one of: placed, outside_area (kept, empty codes) or rejects (with a reason),
 * and read = placed + outside + rejected is checked before the output is committed.
 */
#ifndef HM_GEOCODE_H
#define HM_GEOCODE_H

#include "context.h"

#include <gdal.h>

typedef struct hm_geocode_options hm_geocode_options;

/* Parses the geocode arguments (argv[0] is the command name). "--help" prints the options and sets *out NULL. */
int hm_geocode_options_new(hm_ctx *ctx, int argc, char **argv, hm_geocode_options **out);
void hm_geocode_options_free(hm_geocode_options *options);

/* Per-input accounting, as printed and stored in the `runs` table. */
typedef struct hm_geocode_counts {
    long long read;
    long long placed;
    long long outside;
    long long rejected;
} hm_geocode_counts;

/* Runs the geocode job. progress may be NULL (GDALTermProgress is used on a terminal unless quiet). */
int hm_geocode(hm_ctx *ctx, const hm_geocode_options *options, GDALProgressFunc progress);

#endif
