/*
 * replay.c - runs a libFuzzer target (tests/fuzz/fuzz_<name>.c) over files, without libFuzzer.
 *
 * Why: the fuzzers need clang and run for minutes in scripts/fuzz, but the inputs they are seeded with and every
 * input that ever crashed them (committed to tests/fuzz/corpus/<name>/ as crash-*) must be checked by every build
 * and every `ctest`, including the gcc default build and the AddressSanitizer build of scripts/test-sanitize. This
 * main() links with a target's LLVMFuzzerTestOneInput and feeds it each file named on the command line, or each
 * regular file in a folder named there, in name order. Each input is copied into a buffer of exactly its size, so
 * that a sanitizer sees a read past its end, as it would under libFuzzer.
 *
 * Exit status: 0 when every input ran (the target aborts on a broken promise, so a failure is a crash), 1 when a
 * file or folder cannot be read or a folder holds no input (a corpus that silently vanished is a failure too).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t capacity = 4096, size = 0;
    uint8_t *data = malloc(capacity);
    size_t got;
    while (data && (got = fread(data + size, 1, capacity - size, file)) > 0) {
        size += got;
        if (size == capacity) {
            uint8_t *bigger = realloc(data, capacity *= 2);
            if (!bigger) free(data);
            data = bigger;
        }
    }
    int failed = ferror(file) || !data;
    fclose(file);
    if (failed) {
        free(data);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* An exact-size copy: reads past the end of the input land outside the allocation. */
    uint8_t *exact = malloc(size ? size : 1);
    if (!exact) {
        free(data);
        return -1;
    }
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays the regular files of a folder in name order; returns how many, or -1. */
static long replay_folder(const char *folder)
{
    DIR *dir = opendir(folder);
    if (!dir) {
        fprintf(stderr, "replay: cannot open folder %s\n", folder);
        return -1;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    struct dirent *entry;
    long result = 0;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        if (count == capacity) {
            char **bigger = realloc(names, (capacity = capacity ? 2 * capacity : 64) * sizeof *names);
            if (!bigger) {
                result = -1;
                break;
            }
            names = bigger;
        }
        if (!(names[count] = strdup(entry->d_name))) {
            result = -1;
            break;
        }
        count++;
    }
    closedir(dir);
    if (result == 0 && names) qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i < count && result >= 0; i++) {
        size_t length = strlen(folder) + strlen(names[i]) + 2;
        char *path = malloc(length);
        struct stat info;
        if (!path) {
            result = -1;
            break;
        }
        snprintf(path, length, "%s/%s", folder, names[i]);
        if (stat(path, &info) == 0 && S_ISREG(info.st_mode)) {
            if (replay_file(path) != 0)
                result = -1;
            else
                result++;
        }
        free(path);
    }
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    if (result == 0) fprintf(stderr, "replay: %s holds no input files\n", folder);
    return result > 0 ? result : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
        return 1;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        long count;
        if (stat(argv[i], &info) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(info.st_mode))
            count = replay_folder(argv[i]);
        else
            count = replay_file(argv[i]) == 0 ? 1 : -1;
        if (count < 0) return 1;
        total += count;
    }
    printf("replayed %ld inputs\n", total);
    return 0;
}
