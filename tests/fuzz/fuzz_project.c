/*
 * fuzz_project - libFuzzer target for the INI project reader (engine/project.c, on libinih).
 *
 * The input is written as PROJECT.ini into a folder that also holds the files a typical project names (wards.gpkg,
 * beats.gpkg, street/a.csv, intelligence.csv, postcodes.csv, population.csv: empty, since only their existence is
 * checked at load), so that mutations of the seed projects get past the file checks and into the stage argvs.
 * Promises checked: a load either succeeds or leaves a message; every input of a loaded project has an absolute
 * path; the argvs of every stage are built or refused with a message, NULL-terminated, with no NULL inside, and
 * format into a bounded line. Built only with -DHM_FUZZ=ON; fuzz/replay.c replays tests/fuzz/corpus/project.
 */
#include "context.h"
#include "project.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char folder[128];

static void touch(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "w");
    if (!file) abort();
    fclose(file);
}

static const char *const files[] = {"wards.gpkg",       "beats.gpkg",    "street/a.csv",   "street/b.csv",
                                    "intelligence.csv", "postcodes.csv", "population.csv", "ocg.csv",
                                    "PROJECT.ini"};

static void remove_folder(void)
{
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", folder, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/street", folder);
    rmdir(path);
    rmdir(folder);
}

/* One folder per process, made once: the project and the files it may name; removed at exit. */
static void make_folder(void)
{
    snprintf(folder, sizeof folder, "/tmp/fuzz_project_%ld", (long)getpid());
    mkdir(folder, 0700);
    char street[160];
    snprintf(street, sizeof street, "%s/street", folder);
    mkdir(street, 0700);
    for (size_t i = 0; i + 1 < sizeof files / sizeof files[0]; i++) touch(files[i]);
    atexit(remove_folder);
}

static void check_argv(hm_ctx *ctx, int status, hm_argv *argv)
{
    if (status != HM_OK) {
        if (hm_error_message(ctx)[0] == '\0') abort(); /* refused without saying why */
        hm_error_clear(ctx);
    } else {
        if (argv->argc < 1 || argv->argv[argv->argc] != NULL) abort();
        for (int i = 0; i < argv->argc; i++)
            if (!argv->argv[i]) abort();
        char line[4096];
        hm_argv_format(argv, line, sizeof line);
        if (strlen(line) >= sizeof line) abort();
    }
    hm_argv_free(argv);
    memset(argv, 0, sizeof *argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!folder[0]) make_folder();
    char path[256];
    snprintf(path, sizeof path, "%s/PROJECT.ini", folder);
    FILE *file = fopen(path, "wb");
    if (!file) abort();
    if (size && fwrite(data, 1, size, file) != size) abort();
    fclose(file);

    static hm_ctx *ctx; /* one for the whole run: creating PROJ and GEOS contexts dominates otherwise */
    if (!ctx) ctx = hm_ctx_create();
    hm_ctx_set_verbosity(ctx, HM_QUIET);
    hm_error_clear(ctx);
    hm_project *project = NULL;
    if (hm_project_load(ctx, path, &project) != HM_OK) {
        if (project) abort();
        if (hm_error_message(ctx)[0] == '\0') abort();
        hm_error_clear(ctx);
        return 0;
    }
    if (!project) abort();
    size_t count = hm_project_input_count(project);
    for (size_t i = 0; i < count; i++) {
        const hm_project_input *input = hm_project_input_at(project, i);
        if (!input || !input->path || input->path[0] != '/') abort();
        if (hm_project_find_input(project, input->path) < 0) abort();
    }
    const char *role, *dependency;
    for (size_t i = 0; hm_project_dependency_at(project, i, &role, &dependency); i++)
        if (!role || !dependency) abort();
    if (!hm_project_name(project) || !hm_project_output_dir(project)) abort();

    hm_argv argv = {0};
    check_argv(ctx, hm_project_geocode_argv(ctx, project, "/tmp/out.gpkg", NULL, NULL, 0, &argv), &argv);
    check_argv(ctx, hm_project_aggregate_argv(ctx, project, "/tmp/out.gpkg", "/tmp/out", 0, &argv), &argv);
    check_argv(ctx, hm_project_aggregate_argv(ctx, project, "/tmp/out.gpkg", "/tmp/out", 1, &argv), &argv);
    check_argv(ctx, hm_project_density_argv(ctx, project, "/tmp/out.gpkg", "/tmp/out.tif", &argv), &argv);
    check_argv(ctx, hm_project_tiles_argv(ctx, project, "/tmp/out.tif", "/tmp/tiles", "/tmp/t.mbtiles",
                                          "/tmp/out.gpkg", 0, &argv),
               &argv);
    check_argv(ctx, hm_project_tiles_argv(ctx, project, "/tmp/out.tif", "/tmp/tiles", NULL, "/tmp/out.gpkg", 1,
                                          &argv),
               &argv);
    hm_project_destroy(project);
    return 0;
}
