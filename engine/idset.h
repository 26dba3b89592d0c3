/*
 * idset.h - a set of record ids seen in this run, to reject duplicates.
 *
 * Streams of ten million records must fit in bounded memory, so the set keeps a 128-bit XXH3 hash of each id
 * (xxHash, Debian libxxhash-dev) rather than the id itself: 16 bytes an entry in an open-addressing table. The
 * chance that two different ids share a 128-bit hash is negligible (about n^2 / 2^129).
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
hm_idset *hm_idset_destroy(hm_idset *set);

#endif
