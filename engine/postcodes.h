/*
 * postcodes.h - a postcode to British National Grid lookup table, loaded from CSV.
 *
 * Two layouts are recognised: the ONS Postcode Directory (header row with pcd/pcds/pcd2, oseast1m, osnrth1m)
 * and OS Code-Point Open (no header; columns Postcode, Positional_quality_indicator, Eastings, Northings, ...).
 * Keys are normalised with hm_postcode_normalise, so spacing and case in either file or in the incidents do not
 * matter. Postcodes without coordinates (ONSPD terminated or unplaced rows, Code-Point quality 90) are skipped
 * and counted, as are rows that do not parse, repeated postcodes (the first wins) and BT postcodes (ONSPD gives
 * Northern Ireland in the Irish Grid). A file of neither layout is HM_EFORMAT.
 */
#ifndef HM_POSTCODES_H
#define HM_POSTCODES_H

#include "context.h"

#include <stddef.h>

typedef struct hm_postcode_table hm_postcode_table;

int hm_postcode_table_load(hm_ctx *ctx, const char *path, hm_postcode_table **out);
/* Looks up an already normalised postcode. Returns 1 and the centroid when found, 0 otherwise. */
int hm_postcode_table_find(const hm_postcode_table *table, const char *normalised, double *easting,
                           double *northing);
size_t hm_postcode_table_count(const hm_postcode_table *table);
size_t hm_postcode_table_skipped(const hm_postcode_table *table); /* rows without usable coordinates */
hm_postcode_table *hm_postcode_table_destroy(hm_postcode_table *table);

#endif
