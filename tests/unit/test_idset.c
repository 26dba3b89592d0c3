/* Unit tests for idset.c: new and repeated ids, ids that differ only in length or a NUL byte, growth to
 * 1,000,000 distinct ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "idset.h"

static void test_new_and_repeated(void **state)
{
    (void)state;
    hm_idset *set = hm_idset_create();
    assert_non_null(set);
    assert_int_equal(hm_idset_count(set), 0);
    assert_int_equal(hm_idset_insert(set, "abc", 3), 1);
    assert_int_equal(hm_idset_insert(set, "abc", 3), 0);
    assert_int_equal(hm_idset_insert(set, "abc", 2), 1); /* "ab" */
    assert_int_equal(hm_idset_insert(set, "ab", 2), 0);
    assert_int_equal(hm_idset_insert(set, "", 0), 1);
    assert_int_equal(hm_idset_insert(set, "", 0), 0);
    assert_int_equal(hm_idset_insert(set, "a\0b", 3), 1);
    assert_int_equal(hm_idset_insert(set, "a\0c", 3), 1);
    assert_int_equal(hm_idset_insert(set, "a\0b", 3), 0);
    /* Case and spacing are significant: ids are compared byte for byte. */
    assert_int_equal(hm_idset_insert(set, "ABC", 3), 1);
    assert_int_equal(hm_idset_insert(set, "abc ", 4), 1);
    assert_int_equal(hm_idset_count(set), 7);
    set = hm_idset_destroy(set);
    assert_null(set);
    assert_null(hm_idset_destroy(NULL));
    assert_int_equal(hm_idset_count(NULL), 0);
}

static void test_million_ids(void **state)
{
    (void)state;
    hm_idset *set = hm_idset_create();
    assert_non_null(set);
    char id[96];
    const size_t count = 1000000;
    /* Ids shaped like data.police.uk Crime IDs and like force reference numbers. */
    for (size_t i = 0; i < count; i++) {
        int length = i % 2 ? snprintf(id, sizeof id, "%016zx%048zx", i * 2654435761u, i)
                           : snprintf(id, sizeof id, "AS/%zu/23", i);
        assert_int_equal(hm_idset_insert(set, id, (size_t)length), 1);
    }
    assert_int_equal(hm_idset_count(set), count);
    /* 8-byte slots, at most 3/4 full: 2^21 slots, 16 MiB (scripts/bench-memory's bound relies on it). */
    assert_int_equal(hm_idset_bytes(set), ((size_t)1 << 21) * 8);
    /* Every tenth id again: all duplicates. */
    for (size_t i = 0; i < count; i += 10) {
        int length = i % 2 ? snprintf(id, sizeof id, "%016zx%048zx", i * 2654435761u, i)
                           : snprintf(id, sizeof id, "AS/%zu/23", i);
        assert_int_equal(hm_idset_insert(set, id, (size_t)length), 0);
    }
    /* Near misses are new. */
    assert_int_equal(hm_idset_insert(set, "AS/1000000/23", 13), 1);
    assert_int_equal(hm_idset_insert(set, "AS/0/24", 7), 1);
    assert_int_equal(hm_idset_count(set), count + 2);
    hm_idset_destroy(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_new_and_repeated),
                                       cmocka_unit_test(test_million_ids)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
