/*
 * test_folder.h - a fresh folder for a unit test's files, and its removal, shared by the tests that write files
 * (and by boundary_fixtures.h). Under $HM_TMP (set by ctest to the build's scratch folder) or /tmp.
 * Header-only (static functions) so that tests and benchmarks need no extra library.
 */
#ifndef HM_TEST_FOLDER_H
#define HM_TEST_FOLDER_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes "<$HM_TMP or /tmp>/<tag>-XXXXXX" and writes its path to out. 0, or -1 when it cannot. */
static inline int test_folder_create(char *out, size_t size, const char *tag)
{
    const char *base = getenv("HM_TMP");
    int length = snprintf(out, size, "%s/%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (length < 0 || (size_t)length >= size) return -1;
    return mkdtemp(out) ? 0 : -1;
}

/* Removes the folder and everything in it, subfolders too (symbolic links are removed, not followed), without a
 * shell, so any path is safe. 0, or -1 when something could not be removed. */
static inline int test_folder_remove(const char *folder)
{
    DIR *directory = opendir(folder);
    if (!directory) return -1;
    int status = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        size_t length = strlen(folder) + strlen(entry->d_name) + 2;
        char *path = malloc(length);
        if (!path) {
            status = -1;
            break;
        }
        snprintf(path, length, "%s/%s", folder, entry->d_name);
        struct stat info;
        if (lstat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
            if (test_folder_remove(path) != 0) status = -1;
        } else if (unlink(path) != 0) {
            status = -1;
        }
        free(path);
    }
    closedir(directory);
    return rmdir(folder) == 0 ? status : -1;
}

#endif
