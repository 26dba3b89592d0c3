/*
 * idset.c - see idset.h.
 *
 * Open addressing with linear probing over 16-byte slots holding XXH3_128bits(id). The low 64 bits choose the
 * slot (XXH3's output is uniformly mixed, so no further hashing is needed); both halves are compared. The
 * all-zero hash marks an empty slot: an id whose hash happens to be zero is stored as 1 instead, which merges
 * it with one other 2^-128-probable value. The table doubles when it is 3/4 full, so it uses 21 to 43 bytes
 * per id: ten million ids fit in 256 MiB.
 */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <xxhash.h>

typedef struct id_hash {
    uint64_t low, high;
} id_hash;

struct hm_idset {
    id_hash *slots;
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

static int is_empty(id_hash hash)
{
    return (hash.low | hash.high) == 0;
}

static int grow(hm_idset *set)
{
    size_t capacity = set->capacity * 2;
    id_hash *slots = calloc(capacity, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < set->capacity; i++) {
        id_hash hash = set->slots[i];
        if (is_empty(hash)) continue;
        size_t slot = (size_t)hash.low & (capacity - 1);
        while (!is_empty(slots[slot]))
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
    XXH128_hash_t digest = XXH3_128bits(id, length);
    id_hash hash = {digest.low64, digest.high64};
    if (is_empty(hash)) hash.low = 1;
    size_t mask = set->capacity - 1;
    size_t slot = (size_t)hash.low & mask;
    while (!is_empty(set->slots[slot])) {
        if (set->slots[slot].low == hash.low && set->slots[slot].high == hash.high) return 0;
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

hm_idset *hm_idset_destroy(hm_idset *set)
{
    if (!set) return NULL;
    free(set->slots);
    free(set);
    return NULL;
}
