/*
 * idset.h - a set of record ids seen in this run, to reject duplicates.
 *
 * Streams of ten million records must fit in bounded memory, so the set keeps a 64-bit XXH3 hash of each id
 * (xxHash, Debian libxxhash-dev) rather than the id itself: 8 bytes an entry in an open-addressing table,
 * 128 MiB for ten million ids (scripts/bench-memory).
 *
 * What a collision does: two different ids with the same hash make the second look like a repeat, so
 * geocode rejects it as `duplicate_id` (generic and intelligence files; the reject keeps the raw record, so
 * nothing is lost silently) or flags it `repeated_id` (data.police.uk, where the row is kept). The chance of
 * any collision among n distinct ids is about n^2 / 2^65: 3 in a million for ten million ids, 3 in ten
 * thousand for a hundred million, the largest force's whole history. A 128-bit hash (n^2 / 2^129) doubled
 * the set's memory and put geocode over its 512 MiB bound; confirming a hit exactly would need the earlier
 * id, which is what the set exists not to keep.
 */
#ifndef HM_IDSET_H
#define HM_IDSET_H

#include "context.h"

#include <stddef.h>

typedef struct hm_idset hm_idset;

hm_idset *hm_idset_create(void);
/* Returns 1 if the id was new (and is now in the set), 0 if it was already there, HM_ENOMEM on failure. */
int hm_idset_insert(hm_idset *set, const char *id, size_t length);
size_t hm_idset_count(const hm_idset *set);
/* Bytes held by the table, for tests and benchmarks. */
size_t hm_idset_bytes(const hm_idset *set);
hm_idset *hm_idset_destroy(hm_idset *set);

#endif
