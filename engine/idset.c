/*
 * idset.c - see idset.h.
 *
 * Open addressing with linear probing over 8-byte slots holding XXH3_64bits(id). The low bits choose the
 * slot (XXH3's output is uniformly mixed, so no further hashing is needed); the whole hash is compared. Zero
 * marks an empty slot: an id whose hash happens to be zero is stored as 1 instead, which merges it with one
 * other 2^-64-probable value. The table doubles when it is 3/4 full (linear probing stays short below that),
 * so it uses 10.7 to 21.3 bytes per id, and for a moment 32 while it grows: ten million ids take 128 MiB
 * (16,777,216 slots), 192 MiB while the table doubles past 6.3 million.
 */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <xxhash.h>

struct hm_idset {
    uint64_t *slots; /* 0: empty */
    size_t capacity; /* a power of two */
    size_t count;
};

#define HM_IDSET_INITIAL_CAPACITY ((size_t)1 << 12)

hm_idset *hm_idset_create(void)
{
    hm_idset *set = calloc(1, sizeof *set);
    if (!set) return NULL;
    set->slots = calloc(HM_IDSET_INITIAL_CAPACITY, sizeof *set->slots);
    if (!set->slots) {
        free(set);
        return NULL;
    }
    set->capacity = HM_IDSET_INITIAL_CAPACITY;
    return set;
}

static int grow(hm_idset *set)
{
    size_t capacity = set->capacity * 2;
    uint64_t *slots = calloc(capacity, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < set->capacity; i++) {
        uint64_t hash = set->slots[i];
        if (hash == 0) continue;
        size_t slot = (size_t)hash & (capacity - 1);
        while (slots[slot] != 0)
            slot = (slot + 1) & (capacity - 1);
        slots[slot] = hash;
    }
    free(set->slots);
    set->slots = slots;
    set->capacity = capacity;
    return 0;
}

int hm_idset_insert(hm_idset *set, const char *id, size_t length)
{
    if ((set->count + 1) * 4 > set->capacity * 3 && grow(set) != 0) return HM_ENOMEM;
    uint64_t hash = XXH3_64bits(id, length);
    if (hash == 0) hash = 1;
    size_t mask = set->capacity - 1;
    size_t slot = (size_t)hash & mask;
    while (set->slots[slot] != 0) {
        if (set->slots[slot] == hash) return 0;
        slot = (slot + 1) & mask;
    }
    set->slots[slot] = hash;
    set->count++;
    return 1;
}

size_t hm_idset_count(const hm_idset *set)
{
    return set ? set->count : 0;
}

size_t hm_idset_bytes(const hm_idset *set)
{
    return set ? set->capacity * sizeof *set->slots : 0;
}

hm_idset *hm_idset_destroy(hm_idset *set)
{
    if (!set) return NULL;
    free(set->slots);
    free(set);
    return NULL;
}
