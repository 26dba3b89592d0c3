/*
 * pipeline.c - see pipeline.h. The stages are the library calls of the commands (geocode.h, aggregate.h,
 * density.h, tiles_command.h) with argvs built by project.c; the record work of an update (keys, filtered copies,
 * the GeoPackage merge) is in pipeline_records.c.
 */
#define _GNU_SOURCE /* sync_file_range: the working copy starts for the disk as soon as it is copied */
#include "pipeline.h"

#include "aggregate.h"
#include "argv.h"
#include "density.h"
#include "geocode.h"
#include "harm.h"
#include "pipeline_internal.h"
#include "project.h"
#include "qgis_project.h"
#include "tempfiles.h"
#include "tiles_command.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAGIC "harmmap-pipeline-state\t1"

struct hm_pipeline_options {
    int is_update;
    const char *project_path;
    const char *output_dir;
    hm_string_list add[2]; /* [HM_PROJECT_INCIDENTS], [HM_PROJECT_INTELLIGENCE] */
    hm_verbosity verbosity;
};

static const char run_usage[] =
    "Usage: harmmap run PROJECT.ini [-o DIR] [-q|--verbose]\n"
    "\n"
    "Runs the job a project file describes: geocode -> aggregate -> density -> tiles, into the project's output\n"
    "folder: harmmap.gpkg (records, boundaries, ward_harm, beat_harm), ward_harm.csv, beat_harm.csv, report.html,\n"
    "density.tif, tiles/ (open tiles/index.html), and run.json (inputs with their SHA-256, each stage's\n"
    "parameters, counts and time, library versions). A record already loaded from an earlier file (same kind,\n"
    "id and content) is not loaded again.\n"
    "\n"
    "  -o, --output DIR   write here instead of the project's output folder\n"
    "  -q                 quiet; --verbose for more\n"
    "\n"
    "Weekly: 'harmmap update PROJECT.ini --add NEW.csv' adds records and remakes only what they change.\n"
    "\n"
    "The project file (INI; relative paths start from its folder; see data/sample/project.ini):\n";

static const char update_usage[] =
    "Usage: harmmap update PROJECT.ini [--add FILE.csv]... [--add-intel FILE.csv]... [-o DIR] [-q|--verbose]\n"
    "\n"
    "Adds new records to the outputs of 'harmmap run PROJECT.ini' and remakes only what they change, leaving the\n"
    "outputs as a full run of the project would write them. The files given are appended to [inputs] in the\n"
    "project file; inputs listed there but not loaded yet (added by hand at the end) are loaded too. Records\n"
    "already loaded (same kind, id and content) are skipped.\n"
    "\n"
    "  --add FILE         an incident CSV to add (repeatable)\n"
    "  --add-intel FILE   an intelligence CSV to add (repeatable)\n"
    "  -o, --output DIR   the outputs to update, instead of the project's output folder\n"
    "  -q                 quiet; --verbose for more\n"
    "\n"
    "An update refuses (run 'harmmap run' instead) when the settings, a loaded input, a boundary or table file,\n"
    "or the harmmap/GDAL/PROJ/GEOS versions changed since the last run.\n";

void hm_pipeline_options_free(hm_pipeline_options *options)
{
    if (!options) return;
    hm_string_list_free(&options->add[0]);
    hm_string_list_free(&options->add[1]);
    free(options);
}

static int options_new(hm_ctx *ctx, int argc, char **argv, int is_update, hm_pipeline_options **out)
{
    *out = NULL;
    hm_pipeline_options *options = calloc(1, sizeof *options);
    if (!options) return hm_error(ctx, HM_ENOMEM, "out of memory");
    options->is_update = is_update;
    options->verbosity = hm_ctx_verbosity(ctx);
    const char *command = is_update ? "update" : "run";
    int status = HM_OK;
    for (int i = 1; i < argc && status == HM_OK; i++) {
        const char *arg = argv[i], *value = NULL;
        int matched;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(is_update ? update_usage : run_usage, stdout);
            if (!is_update) hm_project_print_format(stdout);
            hm_pipeline_options_free(options);
            return HM_OK;
        } else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            options->verbosity = HM_QUIET;
        } else if (strcmp(arg, "--verbose") == 0) {
            options->verbosity = HM_VERBOSE;
        } else if ((matched = hm_arg_value(ctx, argc, argv, &i, "-o", &value)) != 0 ||
                   (matched = hm_arg_value(ctx, argc, argv, &i, "--output", &value)) != 0) {
            if (matched < 0) status = matched;
            else options->output_dir = value;
        } else if (is_update && (matched = hm_arg_value(ctx, argc, argv, &i, "--add", &value)) != 0) {
            status = matched < 0 ? matched : hm_string_list_push(ctx, &options->add[0], value);
        } else if (is_update && (matched = hm_arg_value(ctx, argc, argv, &i, "--add-intel", &value)) != 0) {
            status = matched < 0 ? matched : hm_string_list_push(ctx, &options->add[1], value);
        } else if (arg[0] == '-' && arg[1] != '\0') {
            status = hm_error(ctx, HM_EINVAL, "unknown option '%s' (see 'harmmap help %s')", arg, command);
        } else if (options->project_path) {
            status = hm_error(ctx, HM_EINVAL, "one project file only (got %s and %s)%s", options->project_path, arg,
                              is_update ? "; give new files with --add FILE" : "");
        } else {
            options->project_path = arg;
        }
    }
    if (status == HM_OK && !options->project_path)
        status = hm_error(ctx, HM_EINVAL, "give the project file: harmmap %s PROJECT.ini (see 'harmmap help %s')",
                          command, command);
    if (status != HM_OK) {
        hm_pipeline_options_free(options);
        return status;
    }
    *out = options;
    return HM_OK;
}

int hm_run_options_new(hm_ctx *ctx, int argc, char **argv, hm_pipeline_options **out)
{
    return options_new(ctx, argc, argv, 0, out);
}

int hm_update_options_new(hm_ctx *ctx, int argc, char **argv, hm_pipeline_options **out)
{
    return options_new(ctx, argc, argv, 1, out);
}

/* ---- small helpers ---- */

/* snprintf into a path buffer; 0 when the result did not fit (checked by the callers that build paths). */
static int path_printf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_printf(char *out, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int written = vsnprintf(out, size, fmt, args);
    va_end(args);
    return written >= 0 && (size_t)written < size;
}

/* When, in the GeoPackage form (context.h): OGR_CURRENT_DATE when tests pin it. */
static void format_utc_now(char *out, size_t size)
{
    char now[32];
    hm_timestamp_now(now);
    snprintf(out, size, "%s", now);
}

static int make_dirs(hm_ctx *ctx, const char *path)
{
    char buffer[PATH_MAX];
    if (snprintf(buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer)
        return hm_error(ctx, HM_EINVAL, "%s: the path is too long", path);
    for (char *p = buffer + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buffer, 0777) != 0 && errno != EEXIST)
            return hm_error(ctx, HM_EIO, "%s: cannot create the folder: %s", buffer, strerror(errno));
        *p = '/';
    }
    if (mkdir(buffer, 0777) != 0 && errno != EEXIST)
        return hm_error(ctx, HM_EIO, "%s: cannot create the folder: %s", buffer, strerror(errno));
    struct stat info;
    if (stat(buffer, &info) != 0 || !S_ISDIR(info.st_mode))
        return hm_error(ctx, HM_EIO, "%s is not a folder: give another output folder", buffer);
    return HM_OK;
}

/* Removes the regular files of a folder (not recursive). */
static void empty_folder(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *item;
    while ((item = readdir(dir)) != NULL) {
        if (strcmp(item->d_name, ".") == 0 || strcmp(item->d_name, "..") == 0) continue;
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", path, item->d_name);
        struct stat info;
        if (lstat(child, &info) == 0 && !S_ISDIR(info.st_mode)) unlink(child);
    }
    closedir(dir);
}

static int path_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

static int has_column(const char *gpkg, const char *table, const char *column)
{
    sqlite3 *db = NULL;
    int found = 0;
    if (sqlite3_open_v2(gpkg, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, column);
        sqlite3_stmt *stmt = NULL;
        if (sql && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) found = sqlite3_step(stmt) == SQLITE_ROW;
        sqlite3_finalize(stmt);
        sqlite3_free(sql);
    }
    sqlite3_close(db);
    return found;
}

/* ---- a job: everything one run or update knows ---- */

typedef struct job_input {
    hm_project_input input; /* path points into the project, or into `owned_path` */
    char *owned_path;
    pl_file_id id;
    long long records, skipped;
    char keys_file[64];
    char loaded_at[40]; /* when it was loaded, and by which command */
    int is_new;         /* loaded by this command */
    int append_to_project;
    char *read_path; /* a filtered copy, or NULL */
    /* from the GeoPackage's runs table */
    char format[32];
    long long read, placed, outside, rejected;
} job_input;

typedef struct job_dependency {
    const char *role, *path;
    char *owned_path; /* for the data files found in harmmap's data folder */
    pl_file_id id;
} job_dependency;

typedef struct stage_report {
    const char *name;
    double seconds;
    int ran;
    char note[512];
    hm_argv argv;
} stage_report;

enum { STAGE_INPUTS, STAGE_GEOCODE, STAGE_AGGREGATE, STAGE_PUBLIC, STAGE_DENSITY, STAGE_TILES, STAGE_QGIS,
       STAGE_COUNT };
static const char *const stage_names[STAGE_COUNT] = {"inputs", "geocode", "aggregate", "public", "density", "tiles",
                                                     "qgis"};

typedef struct history_event {
    char text[512];
} history_event;

typedef struct job {
    hm_ctx *ctx;
    const hm_pipeline_options *options;
    GDALProgressFunc progress;
    hm_project *project;
    int is_update;
    char started[40];
    double start_time;
    /* paths */
    char out[PATH_MAX], gpkg[PATH_MAX], surface[PATH_MAX], tiles[PATH_MAX], mbtiles[PATH_MAX], public_dir[PATH_MAX];
    char state_dir[PATH_MAX], keys_dir[PATH_MAX], temp_dir[PATH_MAX], state_path[PATH_MAX], manifest[PATH_MAX];
    /* The working copy of harmmap.gpkg while this run or update writes it ("" when there is none): see
     * publish_work_gpkg. gpkg_published: it has been renamed over harmmap.gpkg, styled and described. */
    char work_gpkg[PATH_MAX + 64];
    int gpkg_published;
    int lock_fd; /* .harmmap/lock, held (flock) from preparing the job to freeing it; -1 when not held */
    char versions[320];
    char settings_hash[65];
    job_input *inputs;
    size_t input_count;
    job_dependency *dependencies;
    size_t dependency_count;
    stage_report stages[STAGE_COUNT];
    history_event *history;
    size_t history_count;
    hm_density_summary density;
    long long ward_rows, beat_rows;
    long long tiles_total, tiles_changed;
    pl_merge_counts merge;
    double geocode_seconds; /* of the geocode stage: geocode itself (the rest: index or merge) */
    hm_pipeline_summary summary;
    int next_keys_number;
    /* Update: harmmap.gpkg and the kept sums are the files the last run or update left (kept_outputs_as_left). */
    int kept_outputs_intact;
    char kept_outputs_note[160];
} job;

static void job_free(job *j)
{
    if (j->work_gpkg[0]) { /* the run or update stopped before it was complete: harmmap.gpkg is as it was */
        char journal[sizeof j->work_gpkg + 16];
        unlink(j->work_gpkg);
        snprintf(journal, sizeof journal, "%s-journal", j->work_gpkg);
        unlink(journal);
    }
    for (size_t i = 0; i < j->input_count; i++) {
        free(j->inputs[i].owned_path);
        if (j->inputs[i].read_path) unlink(j->inputs[i].read_path);
        free(j->inputs[i].read_path);
    }
    free(j->inputs);
    for (size_t i = 0; i < j->dependency_count; i++) free(j->dependencies[i].owned_path);
    free(j->dependencies);
    free(j->history);
    for (int s = 0; s < STAGE_COUNT; s++) hm_argv_free(&j->stages[s].argv);
    hm_project_destroy(j->project);
    if (j->lock_fd >= 0) close(j->lock_fd); /* releases the lock (lock_output) */
    j->lock_fd = -1;
}

static void say(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(job *j, const char *fmt, ...)
{
    if (j->options->verbosity == HM_QUIET) return;
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "harmmap %s: ", j->is_update ? "update" : "run");
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

static int setup_paths(job *j)
{
    const char *out = hm_project_output_dir(j->project);
#define PATH_OF(target, ...)                                                                                      \
    if (snprintf(target, sizeof target, __VA_ARGS__) >= (int)sizeof target)                                    \
        return hm_error(j->ctx, HM_EINVAL, "%s: the output folder's path is too long", out);
    PATH_OF(j->out, "%s", out)
    PATH_OF(j->gpkg, "%s/harmmap.gpkg", out)
    PATH_OF(j->surface, "%s/density.tif", out)
    PATH_OF(j->tiles, "%s/tiles", out)
    PATH_OF(j->mbtiles, "%s/harm.mbtiles", out)
    PATH_OF(j->public_dir, "%s/public", out)
    PATH_OF(j->state_dir, "%s/.harmmap", out)
    PATH_OF(j->keys_dir, "%s/.harmmap/keys", out)
    PATH_OF(j->temp_dir, "%s/.harmmap/tmp", out)
    PATH_OF(j->state_path, "%s/.harmmap/state.txt", out)
    PATH_OF(j->manifest, "%s/run.json", out)
#undef PATH_OF
    hm_library_versions(j->versions, sizeof j->versions);
    char with_harmmap[320];
    path_printf(with_harmmap, sizeof with_harmmap, "harmmap %s (%s)", hm_version(), j->versions);
    snprintf(j->versions, sizeof j->versions, "%s", with_harmmap);
    return HM_OK;
}

static int build_stage_argvs(job *j)
{
    hm_ctx *ctx = j->ctx;
    hm_project *p = j->project;
    int status = hm_project_aggregate_argv(ctx, p, j->gpkg, j->out, 0, &j->stages[STAGE_AGGREGATE].argv);
    if (status == HM_OK && hm_project_flag(p, "aggregate", "public", 0))
        status = hm_project_aggregate_argv(ctx, p, j->gpkg, j->public_dir, 1, &j->stages[STAGE_PUBLIC].argv);
    if (status == HM_OK) status = hm_project_density_argv(ctx, p, j->gpkg, j->surface, &j->stages[STAGE_DENSITY].argv);
    /* The surface summed load batch by load batch, the sums kept: an update computes only its own records' kernels
     * and still writes a full run's bits (density.c, "sums kept between runs"). */
    char sums[sizeof j->state_dir + 16];
    snprintf(sums, sizeof sums, "%s/density.sums", j->state_dir);
    if (status == HM_OK) status = hm_argv_push(ctx, &j->stages[STAGE_DENSITY].argv, "--accumulator");
    if (status == HM_OK) status = hm_argv_push(ctx, &j->stages[STAGE_DENSITY].argv, sums);
    const char *mbtiles = hm_project_flag(p, "tiles", "mbtiles", 0) ? j->mbtiles : NULL;
    if (status == HM_OK)
        status = hm_project_tiles_argv(ctx, p, j->surface, j->tiles, mbtiles, j->gpkg, j->is_update,
                                       &j->stages[STAGE_TILES].argv);
    if (status == HM_OK) status = hm_project_qgis_argv(ctx, p, j->out, &j->stages[STAGE_QGIS].argv);
    return status;
}

/* The hash of everything besides the list of inputs that shapes the outputs: each stage's argv (with the
 * record files left out of geocode's, and --update out of tiles'). */
static int compute_settings_hash(job *j)
{
    hm_argv geocode = {0};
    int status = hm_project_geocode_argv(j->ctx, j->project, j->gpkg, NULL, NULL, 0, &geocode);
    if (status != HM_OK) return status;
    char path[PATH_MAX];
    if (!path_printf(path, sizeof path, "%s/settings.tmp", j->temp_dir))
        return hm_error(j->ctx, HM_EINVAL, "%s: the path is too long", j->temp_dir);
    FILE *file = fopen(path, "w");
    if (!file) {
        hm_argv_free(&geocode);
        return hm_error(j->ctx, HM_EIO, "%s: %s", path, strerror(errno));
    }
    const hm_argv *argvs[] = {&geocode, &j->stages[STAGE_AGGREGATE].argv, &j->stages[STAGE_PUBLIC].argv,
                              &j->stages[STAGE_DENSITY].argv, &j->stages[STAGE_TILES].argv,
                              &j->stages[STAGE_QGIS].argv};
    for (size_t a = 0; a < sizeof argvs / sizeof argvs[0]; a++) {
        for (int i = 0; i < argvs[a]->argc; i++)
            if (strcmp(argvs[a]->argv[i], "--update") != 0) fprintf(file, "%s\n", argvs[a]->argv[i]);
        fputs("--\n", file);
    }
    fclose(file);
    hm_argv_free(&geocode);
    pl_file_id id;
    status = pl_file_identify(j->ctx, path, &id);
    unlink(path);
    if (status == HM_OK) memcpy(j->settings_hash, id.sha256, sizeof j->settings_hash);
    return status;
}

/* The files the project names (boundaries, tables), and the data files harmmap takes by name from its data
 * folder (harm index, grading table, colour ramp): a change to any of them changes the outputs. */
static int collect_dependencies(job *j)
{
    size_t count = 0;
    const char *role, *path;
    while (hm_project_dependency_at(j->project, count, &role, &path)) count++;
    j->dependencies = calloc(count + 3, sizeof *j->dependencies);
    if (!j->dependencies) return hm_error(j->ctx, HM_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++)
        hm_project_dependency_at(j->project, i, &j->dependencies[i].role, &j->dependencies[i].path);
    const char *index = hm_project_value(j->project, "harm", "index");
    const char *ramp = hm_project_value(j->project, "tiles", "ramp");
    char name[PATH_MAX];
    const char *implicit[3][2] = {{"index", NULL}, {"grading_table", NULL}, {"ramp", NULL}};
    char data[3][PATH_MAX];
    if (!index || strcmp(index, "cchi") == 0 || strcmp(index, "css") == 0) {
        path_printf(name, sizeof name, "harm/%s.csv", index ? index : "cchi");
        if (hm_data_path(j->ctx, name, data[0], sizeof data[0]) == HM_OK) implicit[0][1] = data[0];
    }
    if (!hm_project_value(j->project, "harm", "grading_table") &&
        hm_data_path(j->ctx, "harm/grading.csv", data[1], sizeof data[1]) == HM_OK)
        implicit[1][1] = data[1];
    if (!ramp || !strchr(ramp, '/')) {
        if (path_printf(data[2], sizeof data[2], "%s/ramps/%s.txt", HM_DATA_DIR, ramp ? ramp : "viridis"))
            implicit[2][1] = data[2];
    }
    hm_error_clear(j->ctx);
    for (int k = 0; k < 3; k++) {
        if (!implicit[k][1] || !path_exists(implicit[k][1])) continue;
        job_dependency *d = &j->dependencies[count];
        d->role = implicit[k][0];
        d->owned_path = strdup(implicit[k][1]);
        if (!d->owned_path) return hm_error(j->ctx, HM_ENOMEM, "out of memory");
        d->path = d->owned_path;
        count++;
    }
    j->dependency_count = count;
    return HM_OK;
}

static int push_input(job *j, const hm_project_input *input)
{
    job_input *grown = realloc(j->inputs, (j->input_count + 1) * sizeof *grown);
    if (!grown) return hm_error(j->ctx, HM_ENOMEM, "out of memory");
    j->inputs = grown;
    job_input *item = &j->inputs[j->input_count++];
    memset(item, 0, sizeof *item);
    item->input = *input;
    return HM_OK;
}

/* ---- state (.harmmap/state.txt) ---- */

static int check_path_text(hm_ctx *ctx, const char *path)
{
    if (strchr(path, '\t') || strchr(path, '\n'))
        return hm_error(ctx, HM_EINVAL, "%s: file names with tabs or line breaks cannot be recorded: rename it", path);
    return HM_OK;
}

/* ---- the outputs an update continues from -------------------------------------------------------------------
 * An update continues harmmap.gpkg (its records) and the sums kept beside it. Each stage checks that what it kept
 * still describes the records - by reading them all again, which is most of what an update's aggregate and
 * density cost. The pipeline can know more cheaply: it records each of these files' identity (device, inode,
 * size, modification time in nanoseconds and, for the GeoPackage, SQLite's file change counter, which every write
 * transaction bumps) when a run or update completes, and an update that finds every one of them as it was tells
 * the stages so (--kept-unchanged): nothing has written them since. A GeoPackage edited in QGIS, restored from a
 * backup or restyled by `harmmap qgis` (a copy renamed over it) differs in one of these, and the stages then check
 * their kept state against the records as before. */
static const char *const kept_output_files[] = {"harmmap.gpkg", ".harmmap/density.sums", ".harmmap/aggregate.state",
                                                ".harmmap/layer_summaries"};
#define KEPT_OUTPUT_COUNT (sizeof kept_output_files / sizeof kept_output_files[0])

typedef struct output_identity {
    long long device, inode, size, mtime_ns;
    unsigned long change_counter; /* bytes 24-27 of an SQLite file, big-endian; 0 for other files */
} output_identity;

/* 1 and the identity of j->out/name, 0 when it does not exist or cannot be read. */
static int identify_output(const job *j, const char *name, output_identity *id)
{
    char path[PATH_MAX + 64];
    if (!path_printf(path, sizeof path, "%s/%s", j->out, name)) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    struct stat info;
    unsigned char counter[4] = {0, 0, 0, 0};
    int ok = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
    if (ok && strcmp(name, "harmmap.gpkg") == 0) ok = pread(fd, counter, 4, 24) == 4;
    close(fd);
    if (!ok) return 0;
    id->device = (long long)info.st_dev;
    id->inode = (long long)info.st_ino;
    id->size = (long long)info.st_size;
    id->mtime_ns = pl_mtime_ns(&info);
    id->change_counter = (unsigned long)counter[0] << 24 | (unsigned long)counter[1] << 16 |
                         (unsigned long)counter[2] << 8 | counter[3];
    return 1;
}

static int write_state(job *j, const char *status_word)
{
    char temp[PATH_MAX + 8];
    snprintf(temp, sizeof temp, "%s.tmp", j->state_path);
    FILE *file = fopen(temp, "w");
    if (!file) return hm_error(j->ctx, HM_EIO, "%s: %s", temp, strerror(errno));
    fprintf(file, "%s\nstatus\t%s\nversions\t%s\nsettings\t%s\nnext_keys\t%d\n", STATE_MAGIC, status_word,
            j->versions, j->settings_hash, j->next_keys_number);
    for (size_t i = 0; i < j->input_count; i++) {
        const job_input *in = &j->inputs[i];
        if (!in->keys_file[0]) continue; /* not loaded */
        fprintf(file, "input\t%s\t%s\t%lld\t%lld\t%lld\t%lld\t%s\t%s\t%s\n",
                in->input.kind == HM_PROJECT_INCIDENTS ? "incidents" : "intelligence", in->id.sha256,
                in->id.size_bytes, in->id.mtime_ns, in->records, in->skipped, in->keys_file, in->loaded_at,
                in->input.path);
    }
    for (size_t i = 0; i < j->dependency_count; i++) {
        const job_dependency *d = &j->dependencies[i];
        fprintf(file, "dependency\t%s\t%s\t%lld\t%lld\t%s\n", d->role, d->id.sha256, d->id.size_bytes, d->id.mtime_ns,
                d->path);
    }
    for (size_t i = 0; i < j->history_count; i++) fprintf(file, "event\t%s\n", j->history[i].text);
    output_identity id;
    for (size_t i = 0; strcmp(status_word, "complete") == 0 && i < KEPT_OUTPUT_COUNT; i++)
        if (identify_output(j, kept_output_files[i], &id))
            fprintf(file, "kept\t%s\t%lld\t%lld\t%lld\t%lld\t%lu\n", kept_output_files[i], id.device, id.inode,
                    id.size, id.mtime_ns, id.change_counter);
    int ok = fflush(file) == 0 && fsync(fileno(file)) == 0;
    if (fclose(file) != 0) ok = 0;
    if (!ok || rename(temp, j->state_path) != 0) {
        int saved = errno;
        unlink(temp);
        return hm_error(j->ctx, HM_EIO, "%s: cannot write the state: %s", j->state_path, strerror(saved));
    }
    return HM_OK;
}

/* What the previous run left (update only). */
typedef struct state_input {
    int kind;
    pl_file_id id;
    long long records, skipped;
    char keys_file[64];
    char loaded_at[40];
    char *path;
} state_input;

typedef struct state_dependency {
    char role[64];
    pl_file_id id;
    char *path;
} state_dependency;

typedef struct saved_state {
    char status[32];
    char versions[320];
    char settings[65];
    int next_keys;
    state_input *inputs;
    size_t input_count;
    state_dependency *dependencies;
    size_t dependency_count;
    output_identity kept[KEPT_OUTPUT_COUNT]; /* as the last run or update left them */
    int kept_known[KEPT_OUTPUT_COUNT];
} saved_state;

static void free_state(saved_state *s)
{
    for (size_t i = 0; i < s->input_count; i++) free(s->inputs[i].path);
    for (size_t i = 0; i < s->dependency_count; i++) free(s->dependencies[i].path);
    free(s->inputs);
    free(s->dependencies);
    memset(s, 0, sizeof *s);
}

/* Splits a tab-separated line into at most `max` fields (the last takes the rest). */
static size_t split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

static int read_state(job *j, saved_state *s)
{
    memset(s, 0, sizeof *s);
    FILE *file = fopen(j->state_path, "r");
    if (!file)
        return hm_error(j->ctx, HM_EINVAL, "%s has no previous run (%s missing): run 'harmmap run %s' first", j->out,
                        j->state_path, j->options->project_path);
    char *line = NULL;
    size_t size = 0;
    ssize_t length;
    int number = 0, status = HM_OK;
    while (status == HM_OK && (length = getline(&line, &size, file)) >= 0) {
        number++;
        while (length && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = '\0';
        if (number == 1) {
            if (strcmp(line, STATE_MAGIC) != 0) status = HM_EFORMAT;
            continue;
        }
        char *f[10];
        size_t n = split_tabs(line, f, 10);
        if (n == 2 && strcmp(f[0], "status") == 0) snprintf(s->status, sizeof s->status, "%s", f[1]);
        else if (n == 2 && strcmp(f[0], "versions") == 0) snprintf(s->versions, sizeof s->versions, "%s", f[1]);
        else if (n == 2 && strcmp(f[0], "settings") == 0) snprintf(s->settings, sizeof s->settings, "%s", f[1]);
        else if (n == 2 && strcmp(f[0], "next_keys") == 0) s->next_keys = atoi(f[1]);
        else if (strcmp(f[0], "input") == 0 && n == 10) {
            state_input *grown = realloc(s->inputs, (s->input_count + 1) * sizeof *grown);
            if (!grown) {
                status = HM_ENOMEM;
                break;
            }
            s->inputs = grown;
            state_input *in = &s->inputs[s->input_count];
            memset(in, 0, sizeof *in);
            in->kind = strcmp(f[1], "intelligence") == 0;
            snprintf(in->id.sha256, sizeof in->id.sha256, "%s", f[2]);
            in->id.size_bytes = atoll(f[3]);
            in->id.mtime_ns = atoll(f[4]);
            in->records = atoll(f[5]);
            in->skipped = atoll(f[6]);
            snprintf(in->keys_file, sizeof in->keys_file, "%s", f[7]);
            snprintf(in->loaded_at, sizeof in->loaded_at, "%s", f[8]);
            in->path = strdup(f[9]);
            if (!in->path) status = HM_ENOMEM;
            else s->input_count++;
        } else if (strcmp(f[0], "dependency") == 0 && n == 6) {
            char **g = f + 1; /* role, sha256, size, mtime, path */
            state_dependency *grown = realloc(s->dependencies, (s->dependency_count + 1) * sizeof *grown);
            if (!grown) {
                status = HM_ENOMEM;
                break;
            }
            s->dependencies = grown;
            state_dependency *d = &s->dependencies[s->dependency_count];
            snprintf(d->role, sizeof d->role, "%s", g[0]);
            snprintf(d->id.sha256, sizeof d->id.sha256, "%s", g[1]);
            d->id.size_bytes = atoll(g[2]);
            d->id.mtime_ns = atoll(g[3]);
            d->path = strdup(g[4]);
            if (!d->path) status = HM_ENOMEM;
            else s->dependency_count++;
        } else if (strcmp(f[0], "kept") == 0 && n == 7) {
            for (size_t k = 0; k < KEPT_OUTPUT_COUNT; k++)
                if (strcmp(f[1], kept_output_files[k]) == 0) {
                    s->kept[k] = (output_identity){atoll(f[2]), atoll(f[3]), atoll(f[4]), atoll(f[5]),
                                                   strtoul(f[6], NULL, 10)};
                    s->kept_known[k] = 1;
                }
        } else if (strcmp(f[0], "event") == 0 && n >= 2) {
            /* re-join the event text */
            for (size_t k = 2; k < n; k++) f[k][-1] = '\t';
            history_event *grown = realloc(j->history, (j->history_count + 1) * sizeof *grown);
            if (!grown) {
                status = HM_ENOMEM;
                break;
            }
            j->history = grown;
            snprintf(j->history[j->history_count++].text, sizeof j->history[0].text, "%s", f[1]);
        }
    }
    free(line);
    fclose(file);
    if (status == HM_ENOMEM) {
        free_state(s);
        return hm_error(j->ctx, HM_ENOMEM, "out of memory reading %s", j->state_path);
    }
    if (status != HM_OK) {
        free_state(s);
        return hm_error(j->ctx, HM_EFORMAT, "%s is not a harmmap state file: run 'harmmap run %s' to rebuild the "
                        "outputs", j->state_path, j->options->project_path);
    }
    return HM_OK;
}

static int add_history(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_history(job *j, const char *fmt, ...)
{
    history_event *grown = realloc(j->history, (j->history_count + 1) * sizeof *grown);
    if (!grown) return hm_error(j->ctx, HM_ENOMEM, "out of memory");
    j->history = grown;
    va_list args;
    va_start(args, fmt);
    vsnprintf(j->history[j->history_count].text, sizeof j->history[0].text, fmt, args);
    va_end(args);
    for (char *p = j->history[j->history_count].text; *p; p++)
        if (*p == '\n') *p = ' ';
    j->history_count++;
    return HM_OK;
}

/* ---- the stages ---- */

static void begin_stage(job *j, int stage, double *clock)
{
    *clock = hm_monotonic_seconds();
    j->stages[stage].name = stage_names[stage];
}

static void end_stage(job *j, int stage, double clock)
{
    j->stages[stage].seconds += hm_monotonic_seconds() - clock;
    j->stages[stage].ran = 1;
}

/* Runs a stage with its argv; on failure names the stage in the message. */
static int call_stage(job *j, hm_ctx *ctx, int stage)
{
    hm_argv *argv = &j->stages[stage].argv;
    int status = HM_OK;
    hm_ctx_set_verbosity(ctx, j->options->verbosity);
    switch (stage) {
    case STAGE_GEOCODE: {
        hm_geocode_options *o = NULL;
        status = hm_geocode_options_new(ctx, argv->argc, argv->argv, &o);
        if (status == HM_OK) status = hm_geocode(ctx, o, j->progress);
        hm_geocode_options_free(o);
        break;
    }
    case STAGE_AGGREGATE:
    case STAGE_PUBLIC: {
        hm_aggregate_options *o = NULL;
        status = hm_aggregate_options_new(ctx, argv->argc, argv->argv, &o);
        if (status == HM_OK && stage == STAGE_AGGREGATE && j->work_gpkg[0])
            hm_aggregate_options_set_working_copy(o, j->work_gpkg);
        /* The sums kept between runs: an update reads only its new incidents and the intelligence, and writes a
         * full run's bits (aggregate.c, "kept sums"); the note says which pass ran. */
        char kept_sums[sizeof j->state_dir + 24];
        snprintf(kept_sums, sizeof kept_sums, "%s/aggregate.state", j->state_dir);
        if (status == HM_OK && stage == STAGE_AGGREGATE)
            hm_aggregate_options_set_state(o, kept_sums, j->stages[STAGE_AGGREGATE].note,
                                           sizeof j->stages[STAGE_AGGREGATE].note);
        /* and the layer summaries the qgis stage keeps, for the styles aggregate writes (with --kept-unchanged) */
        char summaries[sizeof j->state_dir + 32];
        snprintf(summaries, sizeof summaries, "%s/layer_summaries", j->state_dir);
        if (status == HM_OK && stage == STAGE_AGGREGATE) hm_aggregate_options_set_layer_summaries(o, summaries);
        if (status == HM_OK) status = hm_aggregate(ctx, o, j->progress);
        hm_aggregate_options_free(o);
        break;
    }
    case STAGE_DENSITY: {
        hm_density_options *o = NULL;
        status = hm_density_options_new(ctx, argv->argc, argv->argv, &o);
        if (status == HM_OK) status = hm_density(ctx, o, j->progress, &j->density);
        hm_density_options_free(o);
        break;
    }
    case STAGE_TILES: {
        hm_tiles_options *o = NULL;
        status = hm_tiles_options_new(ctx, argv->argc, argv->argv, &o);
        if (status == HM_OK) status = hm_tiles(ctx, o, j->progress);
        hm_tiles_options_free(o);
        break;
    }
    case STAGE_QGIS: {
        hm_qgis_options *o = NULL;
        status = hm_qgis_options_new(ctx, argv->argc, argv->argv, &o);
        if (status == HM_OK && j->gpkg_published) hm_qgis_options_set_prepared_gpkg(o, j->gpkg);
        if (status == HM_OK) status = hm_qgis(ctx, o);
        hm_qgis_options_free(o);
        break;
    }
    default:
        break;
    }
    hm_ctx_set_verbosity(ctx, j->options->verbosity);
    fflush(stdout); /* the stages' tables, in order with the messages on stderr */
    if (status != HM_OK) {
        if (j->options->verbosity >= HM_VERBOSE) {
            char line[2048];
            hm_argv_format(argv, line, sizeof line);
            hm_error_prefix(ctx, "stage %s (harmmap %.1500s)", stage_names[stage], line);
        } else {
            hm_error_prefix(ctx, "stage %s", stage_names[stage]);
        }
    }
    return status;
}

/* Reads the per-input accounting geocode wrote into the runs table. */
static int read_geocode_counts(job *j)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(j->gpkg, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return hm_error(j->ctx, HM_ESQL, "%s: cannot open it to read the runs table", j->gpkg);
    }
    sqlite3_stmt *stmt = NULL;
    int status = HM_OK;
    if (sqlite3_prepare_v2(db, "SELECT input, format, records_read, placed, outside_area, rejected FROM runs", -1,
                           &stmt, NULL) != SQLITE_OK) {
        status = hm_error(j->ctx, HM_ESQL, "%s: reading the runs table: %s", j->gpkg, sqlite3_errmsg(db));
    } else {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            const char *input = (const char *)sqlite3_column_text(stmt, 0);
            for (size_t i = 0; input && i < j->input_count; i++) {
                job_input *in = &j->inputs[i];
                if (strcmp(in->input.path, input) != 0) continue;
                const char *format = (const char *)sqlite3_column_text(stmt, 1);
                snprintf(in->format, sizeof in->format, "%s", format ? format : "");
                in->read = sqlite3_column_int64(stmt, 2);
                in->placed = sqlite3_column_int64(stmt, 3);
                in->outside = sqlite3_column_int64(stmt, 4);
                in->rejected = sqlite3_column_int64(stmt, 5);
            }
        }
    }
    sqlite3_finalize(stmt);
    const char *layers[] = {"ward_harm", "beat_harm"};
    long long *targets[] = {&j->ward_rows, &j->beat_rows};
    for (int l = 0; l < 2; l++) {
        char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", layers[l]);
        *targets[l] = -1;
        if (sql && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
            *targets[l] = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        stmt = NULL;
        sqlite3_free(sql);
    }
    sqlite3_close(db);
    return status;
}

/* Tiles from the tiles manifest: "z x y source_hash png_hash|-" lines. */
typedef struct tile_hashes {
    char (*keys)[64];
    char (*png)[40];
    size_t count;
} tile_hashes;

static void read_tile_hashes(const char *tiles_dir, tile_hashes *out)
{
    memset(out, 0, sizeof *out);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tiles-manifest.txt", tiles_dir);
    FILE *file = fopen(path, "r");
    if (!file) return;
    char line[512];
    size_t capacity = 0;
    while (fgets(line, sizeof line, file)) {
        if (line[0] < '0' || line[0] > '9') continue;
        int z, x, y;
        char source[64], png[64];
        if (sscanf(line, "%d %d %d %63s %63s", &z, &x, &y, source, png) != 5) continue;
        if (out->count == capacity) {
            capacity = capacity ? capacity * 2 : 1024;
            void *a = realloc(out->keys, capacity * sizeof *out->keys);
            if (!a) break;
            out->keys = a;
            void *b = realloc(out->png, capacity * sizeof *out->png);
            if (!b) break;
            out->png = b;
        }
        snprintf(out->keys[out->count], sizeof out->keys[0], "%d/%d/%d", z, x, y);
        path_printf(out->png[out->count], sizeof out->png[0], "%s", png);
        out->count++;
    }
    fclose(file);
}

static void free_tile_hashes(tile_hashes *t)
{
    free(t->keys);
    free(t->png);
    memset(t, 0, sizeof *t);
}

/* Beats are optional: without them there is no beat table or layer to name. */
static int has_beats(const job *j)
{
    return hm_project_value(j->project, "boundaries", "beats") != NULL;
}

/* ---- run.json ---- */

static void json_string(FILE *file, const char *text)
{
    fputc('"', file);
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", file); break;
        case '\\': fputs("\\\\", file); break;
        case '\n': fputs("\\n", file); break;
        case '\r': fputs("\\r", file); break;
        case '\t': fputs("\\t", file); break;
        default:
            if (*p < 0x20) fprintf(file, "\\u%04x", *p);
            else fputc(*p, file);
        }
    }
    fputc('"', file);
}

static void json_argv(FILE *file, const hm_argv *argv)
{
    fputc('[', file);
    for (int i = 0; i < argv->argc; i++) {
        if (i) fputs(", ", file);
        json_string(file, argv->argv[i]);
    }
    fputc(']', file);
}

/* "GDAL 3.6.2, PROJ 9.1.1, GEOS 3.11.1-CAPI-1.17.1" -> the version after `name `. */
static void library_version(const char *versions, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    char pattern[32];
    snprintf(pattern, sizeof pattern, "%s ", name);
    const char *p = strstr(versions, pattern);
    if (!p) return;
    p += strlen(pattern);
    if (strncmp(p, "Rel. ", 5) == 0) p += 5; /* PROJ's release string */
    size_t n = strcspn(p, ",)");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

static int write_manifest(job *j, double seconds)
{
    char temp[PATH_MAX + 8];
    snprintf(temp, sizeof temp, "%s.tmp", j->manifest);
    FILE *f = fopen(temp, "w");
    if (!f) return hm_error(j->ctx, HM_EIO, "%s: %s", temp, strerror(errno));
    char finished[40];
    format_utc_now(finished, sizeof finished);
    pl_file_id project_id = {0};
    pl_file_identify(j->ctx, hm_project_path(j->project), &project_id);
    hm_error_clear(j->ctx);
    char gdal[64], proj[64], geos[64];
    library_version(j->versions, "GDAL", gdal, sizeof gdal);
    library_version(j->versions, "PROJ", proj, sizeof proj);
    library_version(j->versions, "GEOS", geos, sizeof geos);

    fputs("{\n  \"harmmap_manifest\": 1,\n  \"command\": ", f);
    json_string(f, j->is_update ? "update" : "run");
    fputs(",\n  \"project\": {\"path\": ", f);
    json_string(f, hm_project_path(j->project));
    fputs(", \"name\": ", f);
    json_string(f, hm_project_name(j->project));
    fputs(", \"sha256\": ", f);
    json_string(f, project_id.sha256);
    fputs("},\n  \"output_folder\": ", f);
    json_string(f, j->out);
    fputs(",\n  \"started\": ", f);
    json_string(f, j->started);
    fputs(",\n  \"finished\": ", f);
    json_string(f, finished);
    fprintf(f, ",\n  \"seconds\": %.3f,\n  \"versions\": {\"harmmap\": ", seconds);
    json_string(f, hm_version());
    fputs(", \"gdal\": ", f);
    json_string(f, gdal);
    fputs(", \"proj\": ", f);
    json_string(f, proj);
    fputs(", \"geos\": ", f);
    json_string(f, geos);
    fputs("},\n  \"inputs\": [", f);
    for (size_t i = 0; i < j->input_count; i++) {
        const job_input *in = &j->inputs[i];
        fputs(i ? ",\n    {" : "\n    {", f);
        fputs("\"kind\": ", f);
        json_string(f, in->input.kind == HM_PROJECT_INCIDENTS ? "incidents" : "intelligence");
        fputs(", \"path\": ", f);
        json_string(f, in->input.path);
        fputs(", \"sha256\": ", f);
        json_string(f, in->id.sha256);
        fprintf(f, ", \"bytes\": %lld, \"format\": ", in->id.size_bytes);
        json_string(f, in->format);
        fprintf(f, ", \"records\": %lld, \"skipped_already_loaded\": %lld, \"read\": %lld, \"placed\": %lld, "
                   "\"outside_area\": %lld, \"rejected\": %lld, \"loaded\": ",
                in->records, in->skipped, in->read, in->placed, in->outside, in->rejected);
        json_string(f, in->loaded_at);
        fputc('}', f);
    }
    fputs("\n  ],\n  \"other_inputs\": [", f);
    for (size_t i = 0; i < j->dependency_count; i++) {
        const job_dependency *d = &j->dependencies[i];
        fputs(i ? ",\n    {\"role\": " : "\n    {\"role\": ", f);
        json_string(f, d->role);
        fputs(", \"path\": ", f);
        json_string(f, d->path);
        fputs(", \"sha256\": ", f);
        json_string(f, d->id.sha256);
        fprintf(f, ", \"bytes\": %lld}", d->id.size_bytes);
    }
    fputs("\n  ],\n  \"parameters\": {", f);
    int first = 1;
    for (int s = STAGE_GEOCODE; s < STAGE_COUNT; s++) {
        if (!j->stages[s].argv.argc) continue;
        fputs(first ? "\n    " : ",\n    ", f);
        first = 0;
        json_string(f, stage_names[s]);
        fputs(": ", f);
        json_argv(f, &j->stages[s].argv);
    }
    fputs("\n  },\n  \"stages\": [", f);
    first = 1;
    for (int s = 0; s < STAGE_COUNT; s++) {
        const stage_report *r = &j->stages[s];
        if (!r->name) continue;
        fputs(first ? "\n    {\"name\": " : ",\n    {\"name\": ", f);
        first = 0;
        json_string(f, r->name);
        fprintf(f, ", \"ran\": %s, \"seconds\": %.3f, \"note\": ", r->ran ? "true" : "false", r->seconds);
        json_string(f, r->note);
        fputc('}', f);
    }
    long long read = 0, placed = 0, outside = 0, rejected = 0, records = 0, skipped = 0;
    for (size_t i = 0; i < j->input_count; i++) {
        read += j->inputs[i].read;
        placed += j->inputs[i].placed;
        outside += j->inputs[i].outside;
        rejected += j->inputs[i].rejected;
        records += j->inputs[i].records;
        skipped += j->inputs[i].skipped;
    }
    fprintf(f, "\n  ],\n  \"counts\": {\"records_in_inputs\": %lld, \"skipped_already_loaded\": %lld, \"read\": %lld, "
               "\"placed\": %lld, \"outside_area\": %lld, \"rejected\": %lld, \"wards\": %lld, \"beats\": %lld",
            records, skipped, read, placed, outside, rejected, j->ward_rows, j->beat_rows);
    if (j->stages[STAGE_DENSITY].ran)
        fprintf(f, ", \"density_points\": %zu, \"density_total_weight\": %.17g, \"density_maximum\": %.9g, "
                   "\"density_grid\": \"%ld x %ld cells of %g m\"",
                j->density.points, j->density.total_weight, j->density.maximum, j->density.columns, j->density.rows,
                j->density.cell_m);
    fprintf(f, ", \"tiles\": %lld", j->tiles_total);
    if (j->is_update)
        fprintf(f, ", \"update_incidents_added\": %lld, \"update_intelligence_added\": %lld, "
                   "\"update_rejects_added\": %lld, \"update_repeated_ids_flagged\": %lld, "
                   "\"update_duplicate_ids_rejected\": %lld, \"update_tiles_changed\": %lld",
                j->merge.incidents_added, j->merge.intelligence_added, j->merge.rejects_added,
                j->merge.flagged_repeated, j->merge.rejected_duplicates, j->tiles_changed);
    fputs("},\n  \"outputs\": {\"geopackage\": \"harmmap.gpkg\", \"ward_table\": \"ward_harm.csv\", ", f);
    if (has_beats(j)) fputs("\"beat_table\": \"beat_harm.csv\", ", f);
    fputs("\"report\": \"report.html\", \"surface\": \"density.tif\", \"tiles\": \"tiles/\", "
          "\"viewer\": \"tiles/index.html\", \"qgis_project\": \"harmmap.qgs\"",
          f);
    if (hm_project_flag(j->project, "tiles", "mbtiles", 0)) fputs(", \"mbtiles\": \"harm.mbtiles\"", f);
    if (hm_project_flag(j->project, "aggregate", "public", 0)) fputs(", \"public\": \"public/\"", f);
    fputs("},\n  \"history\": [", f);
    for (size_t i = 0; i < j->history_count; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        json_string(f, j->history[i].text);
    }
    fputs("\n  ]\n}\n", f);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(temp, j->manifest) != 0) {
        int saved = errno;
        unlink(temp);
        return hm_error(j->ctx, HM_EIO, "%s: cannot write the manifest: %s", j->manifest, strerror(saved));
    }
    return HM_OK;
}

/* ---- shared steps ---- */

static size_t max_record_bytes(const hm_project *project)
{
    const char *value = hm_project_value(project, "inputs", "max_record_bytes");
    return value ? (size_t)atol(value) : (size_t)1 << 20;
}

/* Identifies and scans the inputs from `first` on against `loaded`, writing their key files and, where records
 * are skipped, their filtered copies. */
static int scan_inputs(job *j, size_t first, pl_keyset *loaded)
{
    hm_ctx *ctx = j->ctx;
    int status = HM_OK;
    for (size_t i = first; i < j->input_count && status == HM_OK; i++) {
        job_input *in = &j->inputs[i];
        status = check_path_text(ctx, in->input.path);
        if (status == HM_OK) status = pl_file_identify(ctx, in->input.path, &in->id);
        pl_scan scan;
        if (status == HM_OK)
            status = pl_scan_input(ctx, in->input.path, (int)in->input.kind, max_record_bytes(j->project), loaded,
                                   &scan);
        if (status != HM_OK) break;
        in->records = scan.records;
        in->skipped = scan.skipped;
        snprintf(in->keys_file, sizeof in->keys_file, "%06d.keys", j->next_keys_number++);
        char keys_path[PATH_MAX];
        status = path_printf(keys_path, sizeof keys_path, "%s/%s", j->keys_dir, in->keys_file)
                     ? pl_keys_write(ctx, keys_path, &scan)
                     : hm_error(ctx, HM_EINVAL, "%s: the path is too long", j->keys_dir);
        if (status == HM_OK) status = pl_keyset_add_scan(ctx, loaded, &scan);
        if (status == HM_OK && scan.skipped) {
            const char *base = strrchr(in->input.path, '/');
            char copy[PATH_MAX];
            if (!path_printf(copy, sizeof copy, "%s/%zu-%s", j->temp_dir, i, base ? base + 1 : in->input.path))
                status = hm_error(ctx, HM_EINVAL, "%s: the path is too long", j->temp_dir);
            else
                status = pl_write_filtered_copy(ctx, in->input.path, &scan, copy);
            if (status == HM_OK) {
                in->read_path = strdup(copy);
                if (!in->read_path) status = hm_error(ctx, HM_ENOMEM, "out of memory");
            }
            if (status == HM_OK)
                say(j, "%s: %lld of %lld records are already loaded from an earlier file: skipped",
                    in->input.path, scan.skipped, scan.records);
        }
        pl_scan_free(&scan);
        j->summary.records_read += in->records;
        j->summary.records_skipped += in->skipped;
    }
    return status;
}

static int identify_dependencies(job *j)
{
    for (size_t i = 0; i < j->dependency_count; i++) {
        int status = check_path_text(j->ctx, j->dependencies[i].path);
        if (status == HM_OK) status = pl_file_identify(j->ctx, j->dependencies[i].path, &j->dependencies[i].id);
        if (status != HM_OK) return status;
    }
    return HM_OK;
}

/* geocode over inputs [first, count) into `target`, then the original paths put back. */
static int geocode_inputs(job *j, size_t first, const char *target)
{
    size_t count = j->input_count - first;
    hm_project_input *inputs = calloc(count ? count : 1, sizeof *inputs);
    const char **read_paths = calloc(count ? count : 1, sizeof *read_paths);
    const char **from = calloc(count + 1, sizeof *from), **to = calloc(count + 1, sizeof *to);
    int status = inputs && read_paths && from && to ? HM_OK : hm_error(j->ctx, HM_ENOMEM, "out of memory");
    size_t renamed = 0;
    for (size_t i = 0; status == HM_OK && i < count; i++) {
        inputs[i] = j->inputs[first + i].input;
        read_paths[i] = j->inputs[first + i].read_path;
        if (read_paths[i]) {
            from[renamed] = read_paths[i];
            to[renamed++] = inputs[i].path;
        }
    }
    hm_argv_free(&j->stages[STAGE_GEOCODE].argv);
    if (status == HM_OK)
        status = hm_project_geocode_argv(j->ctx, j->project, target, inputs, read_paths, count,
                                         &j->stages[STAGE_GEOCODE].argv);
    /* An update runs over the boundary files the run checked for overlaps (check_unchanged: the same SHA-256). */
    if (status == HM_OK && j->is_update)
        status = hm_argv_push(j->ctx, &j->stages[STAGE_GEOCODE].argv, "--overlaps-checked");
    if (status == HM_OK) status = call_stage(j, j->ctx, STAGE_GEOCODE);
    if (status == HM_OK) status = pl_gpkg_rename_sources(j->ctx, target, from, to, renamed);
    /* run.json shows the argv with the original paths, and the GeoPackage the working copy becomes. */
    if (status == HM_OK && target == j->work_gpkg) {
        from[renamed] = j->work_gpkg;
        to[renamed++] = j->gpkg;
    }
    for (int a = 0; status == HM_OK && a < j->stages[STAGE_GEOCODE].argv.argc; a++)
        for (size_t r = 0; r < renamed; r++)
            if (strcmp(j->stages[STAGE_GEOCODE].argv.argv[a], from[r]) == 0) {
                char *original = strdup(to[r]);
                if (!original) break;
                free(j->stages[STAGE_GEOCODE].argv.argv[a]);
                j->stages[STAGE_GEOCODE].argv.argv[a] = original;
                break;
            }
    free(inputs);
    free(read_paths);
    free(from);
    free(to);
    return status;
}

/* ---- harmmap.gpkg: written once per run or update ----
 *
 * harmmap.gpkg changes once per run and once per update, as a whole: a working copy beside it,
 * "harmmap.tmp-PID.gpkg" (the same folder, so the rename is atomic; the same extension, which GDAL checks), is
 * written by geocode in a run, or copied from harmmap.gpkg and merged into in an update; aggregate adds its layers
 * to it in place (hm_aggregate_options_set_working_copy), the styles and metadata `harmmap qgis` would write go in
 * (hm_qgis_prepare_output_gpkg), and it is flushed and renamed over harmmap.gpkg once (publish_work_gpkg). So a
 * reader, or a kill at any moment, finds the GeoPackage as the last run left it or as this one makes it, whole:
 * never the new records beside the previous ward tables, never a hot journal beside harmmap.gpkg. Until this, the
 * merge and aggregate each copied the ~500 MB file and renamed their copy over it, and `harmmap qgis` rewrote it
 * in place; now the only copy is the update's one (a run writes none).
 *
 * The price is order: density reads harmmap.gpkg by its name (the surface's metadata records it, and an update
 * must write the same bytes as a full run), and the tiles' overlay reads it too, so both start once it is
 * published, and aggregate, which used to run beside them on its own copy, runs before them. The public product
 * (which reads harmmap.gpkg and writes public/) still runs beside them. */

static int make_work_gpkg_path(job *j)
{
    const char *dot = strrchr(j->gpkg, '.'); /* setup_paths: ".../harmmap.gpkg" */
    int length = snprintf(j->work_gpkg, sizeof j->work_gpkg, "%.*s.tmp-%ld%s", (int)(dot - j->gpkg), j->gpkg,
                          (long)getpid(), dot);
    if (length < 0 || (size_t)length >= sizeof j->work_gpkg) {
        j->work_gpkg[0] = '\0';
        return hm_error(j->ctx, HM_EINVAL, "%s: the path is too long", j->gpkg);
    }
    return HM_OK;
}

/* The styles and metadata into the working copy, then the copy flushed and renamed over harmmap.gpkg; what killed
 * runs left beside it is removed. Counted in the qgis stage's seconds. */
static int publish_work_gpkg(job *j)
{
    double clock;
    begin_stage(j, STAGE_QGIS, &clock);
    say(j, "qgis: styles and metadata of harmmap.gpkg, then harmmap.gpkg replaced as a whole");
    hm_argv *argv = &j->stages[STAGE_QGIS].argv;
    hm_qgis_options *o = NULL;
    int status = hm_qgis_options_new(j->ctx, argv->argc, argv->argv, &o);
    hm_ctx_set_verbosity(j->ctx, j->options->verbosity);
    /* The layers' summaries (categories and their counts, dates, row counts) kept beside the outputs: an update
     * that vouches for the records (see "the outputs an update continues from") reads only its own. */
    char summaries_path[sizeof j->state_dir + 32];
    size_t continued = 0;
    snprintf(summaries_path, sizeof summaries_path, "%s/layer_summaries", j->state_dir);
    static const char *const appended[] = {"incidents", "intelligence", "rejects", "runs", NULL}; /* the merge's */
    hm_kept_summaries kept = {summaries_path, j->is_update && j->kept_outputs_intact, &continued, appended};
    if (status == HM_OK && o) status = hm_qgis_prepare_output_gpkg(j->ctx, o, j->work_gpkg, &kept);
    hm_qgis_options_free(o);
    double styled = hm_monotonic_seconds();
    if (status == HM_OK && hm_fsync_path(j->work_gpkg) != 0)
        status = hm_error(j->ctx, HM_EIO, "%s: cannot flush to disk: %s", j->work_gpkg, strerror(errno));
    if (status == HM_OK && rename(j->work_gpkg, j->gpkg) != 0)
        status = hm_error(j->ctx, HM_EIO, "%s: cannot rename %s over it: %s", j->gpkg, j->work_gpkg, strerror(errno));
    if (status == HM_OK) {
        hm_fsync_path(j->out); /* the rename itself */
        j->gpkg_published = 1;
        hm_remove_stale_temporaries(j->ctx, j->work_gpkg); /* harmmap.tmp-PID.gpkg* of killed runs */
        j->work_gpkg[0] = '\0';
        /* and the merge's copies of earlier versions, "harmmap.gpkg.tmp-PID-merge" */
        char earlier[PATH_MAX + 32];
        if (path_printf(earlier, sizeof earlier, "%s.tmp-%ld-merge", j->gpkg, (long)getpid()))
            hm_remove_stale_temporaries(j->ctx, earlier);
        snprintf(j->stages[STAGE_QGIS].note, sizeof j->stages[STAGE_QGIS].note,
                 "styles and metadata of harmmap.gpkg %.2f s (%zu layer summaries continued with the new rows), "
                 "its flush and rename %.2f s", styled - clock, continued, hm_monotonic_seconds() - styled);
    }
    end_stage(j, STAGE_QGIS, clock);
    if (status != HM_OK) hm_error_prefix(j->ctx, "stage qgis");
    return status;
}

/* aggregate into the working copy. */
static int run_aggregate(job *j)
{
    double clock;
    begin_stage(j, STAGE_AGGREGATE, &clock);
    say(j, "aggregate: harm per ward%s", has_beats(j) ? " and beat" : "");
    int status = call_stage(j, j->ctx, STAGE_AGGREGATE);
    end_stage(j, STAGE_AGGREGATE, clock);
    return status;
}

/* The public product, from the published harmmap.gpkg, with its own context: it runs on a thread of its own. */
static int run_public(job *j, hm_ctx *ctx)
{
    double clock;
    begin_stage(j, STAGE_PUBLIC, &clock);
    say(j, "aggregate --public: the public product");
    int status = make_dirs(ctx, j->public_dir);
    if (status == HM_OK) status = call_stage(j, ctx, STAGE_PUBLIC);
    end_stage(j, STAGE_PUBLIC, clock);
    return status;
}

typedef struct public_worker {
    job *j;
    hm_ctx *ctx;
    int status;
} public_worker;

static void *public_thread(void *argument)
{
    public_worker *worker = argument;
    worker->status = run_public(worker->j, worker->ctx);
    return NULL;
}

static int check_weight_column(job *j)
{
    const char *weight = hm_project_value(j->project, "density", "weight");
    if (weight && strcmp(weight, "harm") != 0) return HM_OK;
    if (has_column(j->gpkg, "incidents", "harm")) return HM_OK;
    return hm_error(j->ctx, HM_EFORMAT, "stage density: the records in %s have no harm column (this build's geocode "
                    "does not weigh records): set [density] weight = count in %s to map counts", j->gpkg,
                    hm_project_path(j->project));
}

static int run_density_and_tiles(job *j)
{
    double clock;
    begin_stage(j, STAGE_DENSITY, &clock);
    say(j, "density: the harm surface");
    int status = check_weight_column(j);
    if (status == HM_OK) status = call_stage(j, j->ctx, STAGE_DENSITY);
    end_stage(j, STAGE_DENSITY, clock);
    if (status != HM_OK) return status;
    j->summary.density_computed = 1;
    snprintf(j->stages[STAGE_DENSITY].note, sizeof j->stages[STAGE_DENSITY].note,
             "%zu points, %ld x %ld cells, maximum %.6g; %s", j->density.points, j->density.columns, j->density.rows,
             j->density.maximum, j->density.batches_note);

    tile_hashes before = {0}, after = {0};
    if (j->is_update) read_tile_hashes(j->tiles, &before);
    begin_stage(j, STAGE_TILES, &clock);
    say(j, "tiles: %s", j->is_update ? "redrawing the tiles whose cells changed" : "web map tiles");
    status = call_stage(j, j->ctx, STAGE_TILES);
    end_stage(j, STAGE_TILES, clock);
    if (status == HM_OK) {
        read_tile_hashes(j->tiles, &after);
        j->tiles_total = (long long)after.count;
        j->tiles_changed = 0;
        for (size_t i = 0; i < after.count; i++) {
            int same = 0;
            for (size_t k = 0; k < before.count && !same; k++)
                same = strcmp(before.keys[k], after.keys[i]) == 0 && strcmp(before.png[k], after.png[i]) == 0;
            if (!same) j->tiles_changed++;
        }
        j->summary.tiles_drawn_again = 1;
        if (j->is_update)
            snprintf(j->stages[STAGE_TILES].note, sizeof j->stages[STAGE_TILES].note,
                     "%lld tiles, %lld of them changed", j->tiles_total, j->tiles_changed);
        else
            snprintf(j->stages[STAGE_TILES].note, sizeof j->stages[STAGE_TILES].note, "%lld tiles", j->tiles_total);
    }
    free_tile_hashes(&before);
    free_tile_hashes(&after);
    return status;
}

/* aggregate into the working copy, which is then published (publish_work_gpkg), then density and tiles with the
 * public product beside them: they share no output, and all of them only read harmmap.gpkg. The public product
 * waits mostly on SQLite and density and tiles on the processors. Each stage is deterministic, so the outputs do not
 * depend on the overlap. The thread has its own context (PROJ, GEOS, messages), as context.h asks. */
static int run_middle_stages(job *j, int with_density)
{
    int status = run_aggregate(j);
    if (status == HM_OK) status = publish_work_gpkg(j);
    if (status != HM_OK) return status;
    int with_public = j->stages[STAGE_PUBLIC].argv.argc > 0;
    if (!with_density) return with_public ? run_public(j, j->ctx) : HM_OK;
    if (!with_public) return run_density_and_tiles(j);
    public_worker worker = {j, hm_ctx_create(), HM_OK};
    pthread_t thread;
    if (!worker.ctx || pthread_create(&thread, NULL, public_thread, &worker) != 0) {
        hm_ctx_destroy(worker.ctx);
        status = run_public(j, j->ctx);
        return status == HM_OK ? run_density_and_tiles(j) : status;
    }
    hm_ctx_set_verbosity(worker.ctx, j->options->verbosity);
    status = run_density_and_tiles(j);
    pthread_join(thread, NULL);
    if (worker.status != HM_OK) {
        hm_error_clear(j->ctx); /* the public product's failure first: it names the stage too */
        status = hm_error(j->ctx, hm_error_code(worker.ctx), "%s", hm_error_message(worker.ctx));
    }
    hm_ctx_destroy(worker.ctx);
    return status;
}

/* Styles, metadata and the QGIS project, from the outputs as they now are (a run and an update alike). */
static int run_qgis(job *j)
{
    double clock;
    begin_stage(j, STAGE_QGIS, &clock);
    say(j, "qgis: styles, metadata and the QGIS project");
    int status = call_stage(j, j->ctx, STAGE_QGIS);
    end_stage(j, STAGE_QGIS, clock);
    return status;
}

/* Outputs of settings that are now off would be stale: they are removed. */
static void remove_stale_outputs(job *j)
{
    if (!hm_project_flag(j->project, "tiles", "mbtiles", 0) && path_exists(j->mbtiles)) unlink(j->mbtiles);
    if (!hm_project_flag(j->project, "aggregate", "public", 0) && path_exists(j->public_dir)) {
        const char *names[] = {"public.gpkg", "ward_harm.csv", "beat_harm.csv", "report.html", "harmmap.qgs"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/%s", j->public_dir, names[i]);
            unlink(path);
        }
        rmdir(j->public_dir);
    }
}

static void print_outputs(job *j, double seconds)
{
    if (j->options->verbosity == HM_QUIET) return;
    say(j, "done in %.1f s; outputs in %s:", seconds, j->out);
    if (has_beats(j))
        fprintf(stderr, "  harmmap.gpkg    records, boundaries, rejects, runs and ward_harm/beat_harm (open in QGIS)\n"
                        "  ward_harm.csv, beat_harm.csv, report.html   tables and the report for planners\n");
    else
        fprintf(stderr, "  harmmap.gpkg    records, wards, rejects, runs and ward_harm (open in QGIS)\n"
                        "  ward_harm.csv, report.html   the table and the report for planners\n");
    fprintf(stderr, "  density.tif     harm density surface (EPSG:27700)\n"
                    "  tiles/          web map tiles; open tiles/index.html in a browser\n");
    if (hm_project_flag(j->project, "tiles", "mbtiles", 0)) fprintf(stderr, "  harm.mbtiles    the tiles in one file\n");
    if (hm_project_flag(j->project, "aggregate", "public", 0))
        fprintf(stderr, "  public/         the public product (small counts suppressed, no points)\n");
    fprintf(stderr, "  harmmap.qgs     QGIS project opening all of them, styled (QGIS: Project > Open...)\n"
                    "  run.json        inputs, SHA-256, parameters, counts, timings, versions\n");
}

/* One run or update at a time per output folder. Two at once would each empty and fill the other's keys and
 * temporaries in .harmmap/, and an update could take the other's half-written state for the last run's. The lock
 * is flock(2) on .harmmap/lock, so a killed run leaves nothing to clear; the file holds the holder's process id,
 * for the message of the one refused. */
static int lock_output(job *j)
{
    char path[sizeof j->state_dir + 16];
    if (!path_printf(path, sizeof path, "%s/lock", j->state_dir))
        return hm_error(j->ctx, HM_EINVAL, "%s: the path is too long", j->state_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return hm_error(j->ctx, HM_EIO, "%s: cannot create: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[32];
        ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
        holder[got > 0 ? got : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        if (e != EWOULDBLOCK) { /* a file system without locks (some network shares): go on, as before locks */
            hm_warn(j->ctx, "%s: cannot lock: %s; going on without the lock: start no other run or update on %s "
                    "until this one has finished", path, strerror(e), j->out);
            return HM_OK;
        }
        return hm_error(j->ctx, HM_EINVAL,
                        "%s is being written by another harmmap run or update%s%s%s: wait until it has finished, "
                        "then run this again",
                        j->out, *holder ? " (process " : "", holder, *holder ? ")" : "");
    }
    char pid[32];
    int length = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)length, 0) != length) {
        /* the id is only for the message of a run refused meanwhile */
    }
    j->lock_fd = fd;
    return HM_OK;
}

static int prepare_job(hm_ctx *ctx, const hm_pipeline_options *options, GDALProgressFunc progress, int is_update,
                       job *j)
{
    memset(j, 0, sizeof *j);
    j->lock_fd = -1;
    j->ctx = ctx;
    j->options = options;
    j->progress = progress;
    j->is_update = is_update;
    j->start_time = hm_monotonic_seconds();
    format_utc_now(j->started, sizeof j->started);
    hm_ctx_set_verbosity(ctx, options->verbosity);
    int status = hm_project_load(ctx, options->project_path, &j->project);
    if (status == HM_OK && options->output_dir) status = hm_project_set_output_dir(ctx, j->project, options->output_dir);
    if (status == HM_OK) status = setup_paths(j);
    /* The tiles folder is replaced as a whole, so one that is not a tile set stops the tiles stage: checked here,
     * before anything is written, rather than after geocode, aggregate and density have replaced their outputs. */
    if (status == HM_OK && (status = hm_tiles_check_output(ctx, j->tiles)) != HM_OK)
        hm_error_prefix(ctx, "%s, [project] output", options->project_path);
    if (status == HM_OK) status = make_dirs(ctx, j->out);
    if (status == HM_OK) status = make_dirs(ctx, j->keys_dir);
    if (status == HM_OK) status = make_dirs(ctx, j->temp_dir);
    if (status == HM_OK) status = lock_output(j);
    if (status == HM_OK) status = build_stage_argvs(j);
    if (status == HM_OK) status = compute_settings_hash(j);
    if (status == HM_OK) status = collect_dependencies(j);
    return status;
}

/* ---- run ---- */

int hm_run(hm_ctx *ctx, const hm_pipeline_options *options, GDALProgressFunc progress, hm_pipeline_summary *summary)
{
    if (!options) return HM_OK; /* --help */
    job j;
    int status = prepare_job(ctx, options, progress, 0, &j);
    if (status == HM_OK) status = check_path_text(ctx, j.out);
    /* Until the run finishes, the outputs are not a base an update can build on. */
    if (status == HM_OK) status = write_state(&j, "running");
    if (status == HM_OK) {
        /* what a killed update or run may have left */
        empty_folder(j.keys_dir);
        empty_folder(j.temp_dir);
        char leftover[PATH_MAX + 16];
        if (path_printf(leftover, sizeof leftover, "%s.before", j.state_path)) unlink(leftover);
        j.next_keys_number = 1;
    }
    for (size_t i = 0; status == HM_OK && i < hm_project_input_count(j.project); i++) {
        status = push_input(&j, hm_project_input_at(j.project, i));
        if (status == HM_OK) format_utc_now(j.inputs[i].loaded_at, sizeof j.inputs[i].loaded_at);
    }

    double clock;
    pl_keyset *loaded = status == HM_OK ? pl_keyset_create() : NULL;
    if (status == HM_OK && !loaded) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    if (status == HM_OK) {
        begin_stage(&j, STAGE_INPUTS, &clock);
        say(&j, "reading %zu input files (SHA-256, records already loaded)", j.input_count);
        status = identify_dependencies(&j);
        if (status == HM_OK) status = scan_inputs(&j, 0, loaded);
        end_stage(&j, STAGE_INPUTS, clock);
        snprintf(j.stages[STAGE_INPUTS].note, sizeof j.stages[STAGE_INPUTS].note,
                 "%lld records in %zu files, %lld already loaded from an earlier file", j.summary.records_read,
                 j.input_count, j.summary.records_skipped);
    }
    pl_keyset_destroy(loaded);
    if (status == HM_OK) {
        begin_stage(&j, STAGE_GEOCODE, &clock);
        say(&j, "geocode: placing records in wards%s", has_beats(&j) ? " and beats" : "");
        status = make_work_gpkg_path(&j);
        if (status == HM_OK) status = geocode_inputs(&j, 0, j.work_gpkg);
        j.geocode_seconds = hm_monotonic_seconds() - clock;
        if (status == HM_OK) status = pl_gpkg_index_record_ids(ctx, j.work_gpkg);
        end_stage(&j, STAGE_GEOCODE, clock);
    }
    if (status == HM_OK) status = run_middle_stages(&j, 1);
    if (status == HM_OK) {
        remove_stale_outputs(&j);
        status = run_qgis(&j);
    }
    if (status == HM_OK) status = read_geocode_counts(&j);
    double seconds = hm_monotonic_seconds() - j.start_time;
    if (status == HM_OK) {
        long long placed = 0, rejected = 0;
        for (size_t i = 0; i < j.input_count; i++) placed += j.inputs[i].placed, rejected += j.inputs[i].rejected;
        snprintf(j.stages[STAGE_GEOCODE].note, sizeof j.stages[STAGE_GEOCODE].note,
                 "%lld placed, %lld rejected; geocode %.2f s, record_id index %.2f s", placed, rejected,
                 j.geocode_seconds, j.stages[STAGE_GEOCODE].seconds - j.geocode_seconds);
        status = add_history(&j, "run %s: %zu inputs, %.1f s", j.started, j.input_count, seconds);
    }
    if (status == HM_OK) status = write_manifest(&j, seconds);
    if (status == HM_OK) status = write_state(&j, "complete");
    if (status == HM_OK) print_outputs(&j, seconds);
    j.summary.seconds = seconds;
    if (summary) *summary = j.summary;
    job_free(&j);
    return status;
}

/* ---- update ---- */

static int same_file(hm_ctx *ctx, const char *path, const pl_file_id *saved, pl_file_id *now, int *same)
{
    int status = pl_file_stat(ctx, path, now);
    if (status != HM_OK) return status;
    if (now->size_bytes == saved->size_bytes && now->mtime_ns == saved->mtime_ns) {
        memcpy(now->sha256, saved->sha256, sizeof now->sha256);
        *same = 1;
        return HM_OK;
    }
    status = pl_file_identify(ctx, path, now);
    if (status != HM_OK) return status;
    *same = strcmp(now->sha256, saved->sha256) == 0;
    return HM_OK;
}

/* Everything a full run of the project would do differently from this update makes it refuse. */
static int check_unchanged(job *j, const saved_state *s)
{
    hm_ctx *ctx = j->ctx;
    const char *project = j->options->project_path;
    if (strcmp(s->status, "complete") != 0)
        return hm_error(ctx, HM_EINVAL, "the last %s of %s did not finish (state: %s): run 'harmmap run %s' to "
                        "rebuild the outputs", strcmp(s->status, "running") == 0 ? "run" : "update", j->out,
                        s->status, project);
    if (strcmp(s->versions, j->versions) != 0)
        return hm_error(ctx, HM_EINVAL, "the outputs in %s were made by %s, this is %s: run 'harmmap run %s' so that "
                        "every output comes from one version", j->out, s->versions, j->versions, project);
    if (strcmp(s->settings, j->settings_hash) != 0)
        return hm_error(ctx, HM_EINVAL, "the settings in %s changed since the outputs in %s were made: run 'harmmap "
                        "run %s' to apply them (an update only adds records)", project, j->out, project);
    for (size_t i = 0; i < j->dependency_count; i++) {
        job_dependency *d = &j->dependencies[i];
        const state_dependency *saved = NULL;
        for (size_t k = 0; k < s->dependency_count && !saved; k++)
            if (strcmp(s->dependencies[k].role, d->role) == 0 && strcmp(s->dependencies[k].path, d->path) == 0)
                saved = &s->dependencies[k];
        if (!saved)
            return hm_error(ctx, HM_EINVAL, "%s (%s) is not the file the outputs were made with: run 'harmmap run "
                            "%s'", d->path, d->role, project);
        int same = 0;
        int status = same_file(ctx, d->path, &saved->id, &d->id, &same);
        if (status != HM_OK) return status;
        if (!same)
            return hm_error(ctx, HM_EINVAL, "%s (%s) changed since the outputs were made: run 'harmmap run %s' to "
                            "use the new version", d->path, d->role, project);
    }
    if (s->dependency_count != j->dependency_count)
        return hm_error(ctx, HM_EINVAL, "the project names other files than when the outputs were made: run "
                        "'harmmap run %s'", project);
    return HM_OK;
}

/* Whether harmmap.gpkg and the kept sums are as the last run or update left them (see kept_output_files); says
 * why not in j->kept_outputs_note. */
static void check_kept_outputs(job *j, const saved_state *s)
{
    j->kept_outputs_intact = 0;
    for (size_t k = 0; k < KEPT_OUTPUT_COUNT; k++) {
        output_identity now;
        int exists = identify_output(j, kept_output_files[k], &now);
        if (!s->kept_known[k] && !exists) continue; /* none then, none now (no intelligence sums, say) */
        if (!s->kept_known[k] || !exists || now.device != s->kept[k].device || now.inode != s->kept[k].inode ||
            now.size != s->kept[k].size || now.mtime_ns != s->kept[k].mtime_ns ||
            now.change_counter != s->kept[k].change_counter) {
            snprintf(j->kept_outputs_note, sizeof j->kept_outputs_note, "%s changed since the last %s: the "
                     "stages check what they kept against the records", kept_output_files[k],
                     s->kept_known[k] ? "run or update" : "run recorded it");
            return;
        }
    }
    j->kept_outputs_intact = s->kept_known[0]; /* harmmap.gpkg at least */
    snprintf(j->kept_outputs_note, sizeof j->kept_outputs_note, "%s",
             j->kept_outputs_intact ? "harmmap.gpkg and the kept sums are as the last run or update left them"
                                    : "no record of harmmap.gpkg: the stages check what they kept against the records");
}

/* The inputs: those loaded (in the state's order, which must begin each kind's list in the project), then the
 * project's inputs not loaded yet, then the --add files that the project does not name. */
static int plan_update_inputs(job *j, const saved_state *s, int *appended)
{
    hm_ctx *ctx = j->ctx;
    const char *project = j->options->project_path;
    size_t project_count = hm_project_input_count(j->project);
    size_t position[2] = {0, 0}; /* next loaded input of each kind, in state order */
    int status = HM_OK;
    for (size_t i = 0; i < project_count && status == HM_OK; i++) {
        const hm_project_input *input = hm_project_input_at(j->project, i);
        int kind = (int)input->kind;
        const state_input *loaded = NULL;
        size_t seen = 0;
        for (size_t k = 0; k < s->input_count; k++) {
            if (s->inputs[k].kind != kind) continue;
            if (seen++ == position[kind]) {
                loaded = &s->inputs[k];
                break;
            }
        }
        status = push_input(j, input);
        if (status != HM_OK) break;
        job_input *in = &j->inputs[j->input_count - 1];
        if (loaded && strcmp(loaded->path, input->path) == 0) {
            position[kind]++;
            int same = 0;
            status = same_file(ctx, input->path, &loaded->id, &in->id, &same);
            if (status == HM_OK && !same)
                status = hm_error(ctx, HM_EINVAL, "%s (line %d of %s) changed since it was loaded: run 'harmmap run "
                                  "%s' to load it again (an update only adds files)", input->path, input->line,
                                  project, project);
            in->records = loaded->records;
            in->skipped = loaded->skipped;
            snprintf(in->keys_file, sizeof in->keys_file, "%s", loaded->keys_file);
            snprintf(in->loaded_at, sizeof in->loaded_at, "%s", loaded->loaded_at);
            continue;
        }
        if (loaded)
            return hm_error(ctx, HM_EINVAL, "%s (line %d of %s) is not where the loaded %s were: %s was loaded in "
                            "its place. An update adds files at the end of each list; run 'harmmap run %s' after "
                            "reordering or removing inputs", input->path, input->line, project,
                            kind ? "intelligence files" : "incident files", loaded->path, project);
        in->is_new = 1; /* listed in the project, not loaded yet */
    }
    for (int kind = 0; kind < 2 && status == HM_OK; kind++) {
        size_t loaded_of_kind = 0;
        for (size_t k = 0; k < s->input_count; k++) loaded_of_kind += s->inputs[k].kind == kind;
        if (position[kind] < loaded_of_kind) {
            const state_input *missing = NULL;
            size_t seen = 0;
            for (size_t k = 0; k < s->input_count && !missing; k++)
                if (s->inputs[k].kind == kind && seen++ == position[kind]) missing = &s->inputs[k];
            return hm_error(ctx, HM_EINVAL, "%s was loaded but %s no longer names it: run 'harmmap run %s' to make the "
                            "outputs without it", missing->path, project, project);
        }
    }
    /* --add files */
    for (int kind = 0; kind < 2 && status == HM_OK; kind++)
        for (size_t a = 0; a < j->options->add[kind].count && status == HM_OK; a++) {
            const char *given = j->options->add[kind].items[a];
            char *path = realpath(given, NULL);
            if (!path)
                return hm_error(ctx, HM_EINVAL, "--add%s %s: %s", kind ? "-intel" : "", given, strerror(errno));
            int known = 0;
            for (size_t i = 0; i < j->input_count && !known; i++) {
                if (strcmp(j->inputs[i].input.path, path) != 0) continue;
                known = 1;
                if ((int)j->inputs[i].input.kind != kind)
                    status = hm_error(ctx, HM_EINVAL, "%s is already an %s input of the project (line %d): it "
                                      "cannot be added as %s", given, kind ? "incident" : "intelligence",
                                      j->inputs[i].input.line, kind ? "intelligence" : "incidents");
                else if (!j->inputs[i].is_new)
                    say(j, "%s is already loaded (line %d of %s): nothing to add from it", given,
                        j->inputs[i].input.line, project);
            }
            if (known || status != HM_OK) {
                free(path);
                continue;
            }
            hm_project_input input = {(hm_project_input_kind)kind, path, given, 0};
            status = push_input(j, &input);
            if (status != HM_OK) {
                free(path);
                break;
            }
            job_input *in = &j->inputs[j->input_count - 1];
            in->owned_path = path;
            in->is_new = 1;
            in->append_to_project = 1;
            (*appended)++;
        }
    if (status != HM_OK) return status;
    /* Load order: each kind's files in order, incidents first; new files of a kind after its loaded ones. */
    job_input *ordered = malloc((j->input_count ? j->input_count : 1) * sizeof *ordered);
    if (!ordered) return hm_error(ctx, HM_ENOMEM, "out of memory");
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int kind = 0; kind < 2; kind++)
            for (size_t i = 0; i < j->input_count; i++)
                if ((int)j->inputs[i].input.kind == kind && j->inputs[i].is_new == pass) ordered[n++] = j->inputs[i];
    memcpy(j->inputs, ordered, n * sizeof *ordered);
    free(ordered);
    return HM_OK;
}

/* The update's copy of harmmap.gpkg (the working copy: see publish_work_gpkg), made on a thread of its own while
 * the new files are read and geocoded: the copy is the kernel's work and the disk's, the rest the processors', and
 * neither needs the other. The thread has its own context, as context.h asks. */
typedef struct background_copy {
    const char *from, *to;
    hm_ctx *ctx;
    int status, started;
    double seconds;
    pthread_t thread;
} background_copy;

static void *copy_thread(void *argument)
{
    background_copy *c = argument;
    double start = hm_monotonic_seconds();
    c->status = hm_copy_file(c->ctx, c->from, c->to);
    /* The copy is flushed before it is renamed over harmmap.gpkg (publish_work_gpkg): its 480 MB (at a million
     * records) start for the disk now, while the update works, and the flush is left with what changed since. */
    int fd = c->status == HM_OK ? open(c->to, O_WRONLY) : -1;
    if (fd >= 0) {
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        close(fd);
    }
    c->seconds = hm_monotonic_seconds() - start;
    return NULL;
}

static void copy_start(job *j, background_copy *c)
{
    memset(c, 0, sizeof *c);
    c->from = j->gpkg;
    c->to = j->work_gpkg;
    c->ctx = hm_ctx_create();
    if (c->ctx && pthread_create(&c->thread, NULL, copy_thread, c) == 0) c->started = 1;
}

/* Waits for the copy (made here if no thread could be started); its error, if any, into j's context when
 * `report` (an update that failed already says why). Safe to call again: the second call returns at once. */
static int copy_finish(job *j, background_copy *c, int report)
{
    if (!c->from) return HM_OK;
    if (c->started) pthread_join(c->thread, NULL);
    else if (c->ctx && report) copy_thread(c);
    int status = c->ctx ? c->status : HM_ENOMEM;
    if (status != HM_OK && report)
        status = c->ctx ? hm_error(j->ctx, hm_error_code(c->ctx), "%s", hm_error_message(c->ctx))
                        : hm_error(j->ctx, HM_ENOMEM, "out of memory");
    hm_ctx_destroy(c->ctx);
    c->from = NULL;
    c->ctx = NULL;
    return status;
}

int hm_update(hm_ctx *ctx, const hm_pipeline_options *options, GDALProgressFunc progress,
              hm_pipeline_summary *summary)
{
    if (!options) return HM_OK; /* --help */
    job j;
    saved_state s = {0};
    int appended = 0;
    int status = prepare_job(ctx, options, progress, 1, &j);
    if (status == HM_OK) status = read_state(&j, &s);
    if (status == HM_OK) status = check_unchanged(&j, &s);
    if (status == HM_OK) {
        /* Pushed after the settings hash: the flag says how to check, not what to compute. */
        check_kept_outputs(&j, &s);
        if (j.kept_outputs_intact) status = hm_argv_push(ctx, &j.stages[STAGE_DENSITY].argv, "--kept-unchanged");
        if (status == HM_OK && j.kept_outputs_intact) /* aggregate's too (aggregate.c, "kept sums") */
            status = hm_argv_push(ctx, &j.stages[STAGE_AGGREGATE].argv, "--kept-unchanged");
    }
    if (status == HM_OK) {
        j.next_keys_number = s.next_keys > 0 ? s.next_keys : 1;
        status = plan_update_inputs(&j, &s, &appended);
    }
    size_t first_new = 0;
    while (first_new < j.input_count && !j.inputs[first_new].is_new) first_new++;
    if (status == HM_OK && first_new == j.input_count) {
        say(&j, "nothing to add: every input of %s is loaded", options->project_path);
        free_state(&s);
        if (summary) *summary = j.summary;
        job_free(&j);
        return HM_OK;
    }
    /* Until the update finishes the outputs are mixed: a later update refuses and says to run again. The state
     * as it was is kept, to be put back if the update stops before it changes any output. */
    char state_before[PATH_MAX + 16];
    snprintf(state_before, sizeof state_before, "%s.before", j.state_path);
    int outputs_touched = 0;
    if (status == HM_OK && link(j.state_path, state_before) != 0 && errno == EEXIST) {
        unlink(state_before);
        if (link(j.state_path, state_before) != 0) state_before[0] = '\0';
    }
    if (status == HM_OK) status = write_state(&j, "updating");

    /* The update's one copy of harmmap.gpkg: the merge, aggregate and the styles write into it, and it replaces
     * harmmap.gpkg once, when all of them are done (publish_work_gpkg). Made while the new files are read. */
    background_copy copy = {0};
    if (status == HM_OK) status = make_work_gpkg_path(&j);
    if (status == HM_OK) copy_start(&j, &copy);
    double clock;
    pl_keyset *loaded = status == HM_OK ? pl_keyset_create() : NULL;
    if (status == HM_OK && !loaded) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    if (status == HM_OK) {
        begin_stage(&j, STAGE_INPUTS, &clock);
        say(&j, "reading %zu new input file%s", j.input_count - first_new, j.input_count - first_new == 1 ? "" : "s");
        empty_folder(j.temp_dir);
        /* Only the loaded keys that a new record has matter (a week against a million): the new files' keys first,
         * then those of the loaded files that are among them. A new file that cannot be read here is read below
         * with every loaded key, and reports its error there. */
        pl_keyset *wanted = pl_keyset_create();
        for (size_t i = first_new; i < j.input_count && wanted; i++) {
            pl_scan scan;
            if (pl_scan_input(ctx, j.inputs[i].input.path, (int)j.inputs[i].input.kind, max_record_bytes(j.project),
                              NULL, &scan) != HM_OK) {
                hm_error_clear(ctx);
                wanted = pl_keyset_destroy(wanted);
                break;
            }
            if (pl_keyset_add_scan(ctx, wanted, &scan) != HM_OK) {
                hm_error_clear(ctx);
                wanted = pl_keyset_destroy(wanted);
            }
            pl_scan_free(&scan);
        }
        for (size_t i = 0; i < first_new && status == HM_OK; i++) {
            char keys_path[PATH_MAX];
            status = path_printf(keys_path, sizeof keys_path, "%s/%s", j.keys_dir, j.inputs[i].keys_file)
                         ? pl_keys_read(ctx, keys_path, loaded, wanted)
                         : hm_error(ctx, HM_EINVAL, "%s: the path is too long", j.keys_dir);
        }
        pl_keyset_destroy(wanted);
        for (size_t i = first_new; i < j.input_count && status == HM_OK; i++)
            format_utc_now(j.inputs[i].loaded_at, sizeof j.inputs[i].loaded_at);
        if (status == HM_OK) status = scan_inputs(&j, first_new, loaded);
        end_stage(&j, STAGE_INPUTS, clock);
        snprintf(j.stages[STAGE_INPUTS].note, sizeof j.stages[STAGE_INPUTS].note,
                 "%lld records in %zu new files, %lld already loaded; %s", j.summary.records_read,
                 j.input_count - first_new, j.summary.records_skipped, j.kept_outputs_note);
    }
    pl_keyset_destroy(loaded);
    if (status == HM_OK) {
        char fresh[PATH_MAX + 16];
        snprintf(fresh, sizeof fresh, "%s/new.gpkg", j.temp_dir);
        begin_stage(&j, STAGE_GEOCODE, &clock);
        say(&j, "geocode: placing the new records, then adding them to %s", j.gpkg);
        status = geocode_inputs(&j, first_new, fresh);
        j.geocode_seconds = hm_monotonic_seconds() - clock;
        int copied = copy_finish(&j, &copy, status == HM_OK);
        if (status == HM_OK) status = copied;
        double waited = hm_monotonic_seconds() - clock - j.geocode_seconds;
        if (status == HM_OK) status = pl_gpkg_merge(ctx, j.work_gpkg, fresh, &j.merge);
        unlink(fresh);
        end_stage(&j, STAGE_GEOCODE, clock);
        snprintf(j.stages[STAGE_GEOCODE].note, sizeof j.stages[STAGE_GEOCODE].note,
                 "added %lld incidents, %lld intelligence records and %lld rejects (%lld repeated ids flagged, %lld "
                 "duplicate ids rejected); geocode of the new files %.2f s, copy of harmmap.gpkg %.2f s (made while "
                 "the new files were read and geocoded; waited for %.2f s), merge %.2f s",
                 j.merge.incidents_added, j.merge.intelligence_added, j.merge.rejects_added, j.merge.flagged_repeated,
                 j.merge.rejected_duplicates, j.geocode_seconds, copy.seconds, waited,
                 j.stages[STAGE_GEOCODE].seconds - j.geocode_seconds - waited);
        j.summary.incidents_added = j.merge.incidents_added;
        j.summary.intelligence_added = j.merge.intelligence_added;
        j.summary.rejects_added = j.merge.rejects_added;
        j.summary.inputs_added = (int)(j.input_count - first_new);
        /* Intelligence makes the GeoPackage its owner's only, as geocode creates it. */
        for (size_t i = 0; status == HM_OK && i < j.input_count; i++)
            if (j.inputs[i].input.kind == HM_PROJECT_INTELLIGENCE) {
                chmod(j.work_gpkg, 0600);
                break;
            }
    }
    copy_finish(&j, &copy, 0); /* an update stopped before the merge: the copy is waited for, removed by job_free */
    if (status == HM_OK) {
        outputs_touched = 1; /* from here on outputs are replaced: aggregate's tables and report, harmmap.gpkg */
        if (j.merge.incidents_added + j.merge.intelligence_added > 0) {
            status = run_middle_stages(&j, 1);
        } else {
            status = run_middle_stages(&j, 0);
            j.stages[STAGE_DENSITY].name = stage_names[STAGE_DENSITY];
            j.stages[STAGE_TILES].name = stage_names[STAGE_TILES];
            snprintf(j.stages[STAGE_DENSITY].note, sizeof j.stages[STAGE_DENSITY].note,
                     "not needed: no record was added to the point layers");
            snprintf(j.stages[STAGE_TILES].note, sizeof j.stages[STAGE_TILES].note,
                     "not needed: the surface did not change");
            tile_hashes tiles;
            read_tile_hashes(j.tiles, &tiles);
            j.tiles_total = (long long)tiles.count;
            free_tile_hashes(&tiles);
        }
    }
    if (status == HM_OK) status = run_qgis(&j);
    if (status == HM_OK) status = read_geocode_counts(&j);
    for (size_t i = first_new; status == HM_OK && i < j.input_count; i++)
        if (j.inputs[i].append_to_project) {
            status = hm_project_append_input(ctx, j.project, j.inputs[i].input.kind, j.inputs[i].input.path);
            if (status == HM_OK)
                say(&j, "added '%s = %s' to %s", j.inputs[i].input.kind ? "intelligence" : "incidents",
                    j.inputs[i].input.path, options->project_path);
        }
    double seconds = hm_monotonic_seconds() - j.start_time;
    if (status == HM_OK) {
        char names[400] = "";
        size_t used = 0;
        for (size_t i = first_new; i < j.input_count && used + 1 < sizeof names; i++) {
            const char *base = strrchr(j.inputs[i].input.path, '/');
            int written = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                   base ? base + 1 : j.inputs[i].input.path);
            if (written > 0) used += (size_t)written;
        }
        status = add_history(&j, "update %s: added %s (%lld incidents, %lld intelligence), %.1f s", j.started, names,
                             j.merge.incidents_added, j.merge.intelligence_added, seconds);
    }
    /* The project file and the outputs now agree again: the settings hash is recomputed from the project as it is
     * (its settings did not change; only inputs were added). */
    if (status == HM_OK) status = write_manifest(&j, seconds);
    if (status == HM_OK) status = write_state(&j, "complete");
    if (status == HM_OK) print_outputs(&j, seconds);
    if (status != HM_OK && !outputs_touched && state_before[0] && path_exists(state_before)) {
        rename(state_before, j.state_path); /* nothing was changed: the outputs are still those of the last run */
    } else if (status != HM_OK && path_exists(j.state_path)) {
        /* Make sure the message says what to do: the outputs may hold part of the update. */
        FILE *probe = fopen(j.state_path, "r");
        char line[128] = "";
        if (probe) {
            if (fgets(line, sizeof line, probe) && fgets(line, sizeof line, probe) && strstr(line, "updating"))
                hm_error_prefix(ctx, "the update stopped part way (the outputs in %s are incomplete: run 'harmmap run "
                                "%s' to rebuild them%s)", j.out, options->project_path,
                                appended ? "; the new files were not added to the project file" : "");
            fclose(probe);
        }
    }
    if (state_before[0]) unlink(state_before);
    j.summary.seconds = seconds;
    if (summary) *summary = j.summary;
    free_state(&s);
    job_free(&j);
    return status;
}
