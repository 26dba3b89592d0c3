/* Unit tests for tempfiles.c: a killed writer's temporaries are removed, a live writer's, our own, other outputs'
 * and names not of the scheme are kept; the prefix is the part up to ".tmp-", whatever the extension. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context.h"
#include "tempfiles.h"
#include "test_folder.h"

static char folder[256];

/* A process id that no longer exists: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t child = fork();
    if (child == 0) _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0);
    return (long)child;
}

static void touch(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fclose(file);
}

static int exists(const char *name)
{
    char path[512];
    struct stat info;
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return stat(path, &info) == 0;
}

static int setup(void **state)
{
    (void)state;
    return test_folder_create(folder, sizeof folder, "test_tempfiles");
}

static int teardown(void **state)
{
    (void)state;
    return test_folder_remove(folder);
}

static void test_stale_removed_others_kept(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    long dead = dead_pid(), alive = (long)getppid(), self = (long)getpid();
    char name[128], own[512];
    const char *removed[4], *kept[8];
    static char names[12][128];
    int r = 0, k = 0, n = 0;
#define MAKE(list, count, ...)                                                                                 \
    do {                                                                                                       \
        snprintf(names[n], sizeof names[n], __VA_ARGS__);                                                      \
        touch(names[n]);                                                                                       \
        list[count++] = names[n++];                                                                            \
    } while (0)
    MAKE(removed, r, "out.tif.tmp-%ld.tif", dead);                 /* density's form */
    MAKE(removed, r, "out.tif.tmp-%ld-1a2b3c", dead);              /* gpkg's and mbtiles' form */
    MAKE(removed, r, "out.tif.tmp-%ld", dead);                     /* the bare form */
    MAKE(removed, r, "out.tif.tmp-%ld.tif-journal", dead);         /* SQLite's journal beside one */
    MAKE(kept, k, "out.tif.tmp-%ld.tif", alive);                   /* another writer at work */
    MAKE(kept, k, "out.tif.tmp-%ld.tif", self);                    /* ours */
    MAKE(kept, k, "other.tif.tmp-%ld.tif", dead);                  /* another output's */
    MAKE(kept, k, "out.tif.tmp-x%ld.tif", dead);                   /* not a process id */
    MAKE(kept, k, "out.tif.tmp-.tif");
    MAKE(kept, k, "out.tif");                                      /* the output itself */
    MAKE(kept, k, "xout.tif.tmp-%ld.tif", dead);                   /* a longer name */
#undef MAKE
    snprintf(own, sizeof own, "%s/out.tif.tmp-%ld.tif", folder, self);
    assert_int_equal(hm_remove_stale_temporaries(ctx, own), r);
    for (int i = 0; i < r; i++) {
        snprintf(name, sizeof name, "%s", removed[i]);
        if (exists(name)) fail_msg("%s should have been removed", name);
    }
    for (int i = 0; i < k; i++)
        if (!exists(kept[i])) fail_msg("%s should have been kept", kept[i]);
    /* A second call finds nothing more; a path not of the scheme removes nothing. */
    assert_int_equal(hm_remove_stale_temporaries(ctx, own), 0);
    snprintf(own, sizeof own, "%s/out.tif", folder);
    assert_int_equal(hm_remove_stale_temporaries(ctx, own), 0);
    hm_ctx_destroy(ctx);
}

/* aggregate's form puts the process id before the extension: "ward_harm.tmp-PID.csv" for "ward_harm.csv". */
static void test_extension_after_pid(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    char stale[64], own[512];
    snprintf(stale, sizeof stale, "ward_harm.tmp-%ld.csv", dead_pid());
    touch(stale);
    touch("beat_harm.tmp-1.csv"); /* another output: kept even if pid 1 were dead */
    snprintf(own, sizeof own, "%s/ward_harm.tmp-%ld.csv", folder, (long)getpid());
    assert_int_equal(hm_remove_stale_temporaries(ctx, own), 1);
    assert_false(exists(stale));
    assert_true(exists("beat_harm.tmp-1.csv"));
    hm_ctx_destroy(ctx);
}

/* The parts land one after another, owner-only when asked (whatever the umask lets through), no temporary is
 * left, and a killed writer's temporary of the same file is removed; a folder that cannot be written is an error
 * and leaves the file as it was. */
static void test_write_parts_atomically(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    char stale[64], path[512];
    snprintf(stale, sizeof stale, "kept.sums.tmp-%ld", dead_pid());
    touch(stale);
    snprintf(path, sizeof path, "%s/kept.sums", folder);
    const hm_file_part parts[] = {{"head\n", 5}, {"", 0}, {"body", 4}};
    mode_t saved_umask = umask(022);
    assert_int_equal(hm_write_parts_atomically(ctx, path, parts, 3, HM_WRITE_OWNER_ONLY | HM_WRITE_NO_SYNC), HM_OK);
    umask(saved_umask);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    char text[32] = "";
    size_t got = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    assert_int_equal(got, 9);
    assert_string_equal(text, "head\nbody");
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0600);
    assert_false(exists(stale));
    char own[64];
    snprintf(own, sizeof own, "kept.sums.tmp-%ld", (long)getpid());
    assert_false(exists(own));
    /* The one-part form, fsynced, with the umask's permissions. */
    saved_umask = umask(022);
    assert_int_equal(hm_write_file_atomically(ctx, path, "x", 1), HM_OK);
    umask(saved_umask);
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0644);
    assert_int_equal(info.st_size, 1);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no such folder/kept.sums", folder);
    assert_int_equal(hm_write_parts_atomically(ctx, missing, parts, 3, 0), HM_EIO);
    assert_non_null(strstr(hm_error_message(ctx), "is the folder writable?"));
    hm_ctx_destroy(ctx);
}

/* hm_copy_file: an empty file, one byte and 3 MiB (many rounds of the fallback's buffer) arrive byte for byte over
 * an older, longer file; a missing source is an error. */
static void test_copy_file(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/from.gpkg", folder);
    snprintf(to, sizeof to, "%s/to.gpkg", folder);
    const size_t sizes[] = {0, 1, 3u << 20};
    unsigned char *data = malloc(3u << 20), *back = malloc((3u << 20) + 1);
    assert_non_null(data);
    assert_non_null(back);
    for (size_t i = 0; i < 3u << 20; i++) data[i] = (unsigned char)((i * 2654435761u) >> 13);
    FILE *longer = fopen(to, "wb"); /* truncated by the copy */
    assert_non_null(longer);
    assert_int_equal(fwrite(data, 1, 3u << 20, longer), 3u << 20);
    fwrite("tail", 1, 4, longer);
    fclose(longer);
    for (size_t k = 0; k < 3; k++) {
        FILE *file = fopen(from, "wb");
        assert_non_null(file);
        assert_int_equal(fwrite(data, 1, sizes[k], file), sizes[k]);
        fclose(file);
        assert_int_equal(hm_copy_file(ctx, from, to), HM_OK);
        file = fopen(to, "rb");
        assert_non_null(file);
        size_t got = fread(back, 1, (3u << 20) + 1, file);
        fclose(file);
        assert_int_equal(got, sizes[k]);
        if (sizes[k]) assert_memory_equal(back, data, sizes[k]);
    }
    free(data);
    free(back);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.gpkg", folder);
    assert_int_equal(hm_copy_file(ctx, missing, to), HM_EIO);
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stale_removed_others_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_after_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_parts_atomically, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
