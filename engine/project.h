/*
 * project.h - the analyst's project file: one INI file that names every input and setting of a harmmap job.
 *
 *   [project]     name, output folder, working CRS, threads
 *   [boundaries]  ward and beat boundary files (and their layer and field names)
 *   [inputs]      incident and intelligence CSV files (one `incidents =` or `intelligence =` line per file, in
 *                 the order they are loaded), postcode table, column names
 *   [harm]        harm index, grading and OCG tables, recency decay
 *   [aggregate]   population table, hot spot settings, public product
 *   [periods]     NAME = FROM..TO, one line per period compared
 *   [density]     kernel, radius, cell size, weight, extent
 *   [tiles]       zoom levels, colour ramp and range, MBTiles
 *   [qgis]        classes of the choropleths in the QGIS styles
 *
 * `harmmap help run` prints every key with what it does (the table in project.c). Relative paths are resolved
 * against the folder of the project file, so a project folder can be moved or shared as a whole.
 *
 * Why the settings are turned into argument vectors. Each stage is a library call whose options are parsed from
 * an argv by the stage itself (hm_geocode_options_new ...), as GDAL's utilities do. The project maps each key to
 * the option of the stage it belongs to and builds those argvs, so option parsing and its checks stay in one
 * place and `harmmap run` does exactly what the same commands typed by hand would do (run.json records the
 * argvs). The project file is checked first, though, so that a mistake is reported against the line and key
 * where the analyst wrote it, with the valid keys or values listed, before any work starts.
 *
 * The file is read with Debian's libinih (ini.h): `key = value` lines, `[section]` headers, comments starting
 * with ';' or '#' at the start of a line, or ' ;' after a value. Lines are at most 197 characters (Debian's
 * build of the library reads lines into a 200-byte buffer); a longer line is reported, never cut silently.
 */
#ifndef HM_PROJECT_H
#define HM_PROJECT_H

#include "context.h"

#include <stddef.h>
#include <stdio.h>

typedef struct hm_project hm_project;

typedef enum hm_project_input_kind { HM_PROJECT_INCIDENTS = 0, HM_PROJECT_INTELLIGENCE = 1 } hm_project_input_kind;

/* A record file named in [inputs], in the order it is loaded (all incident files in file order, then all
 * intelligence files: the order `harmmap geocode` reads them in). */
typedef struct hm_project_input {
    hm_project_input_kind kind;
    const char *path;       /* absolute */
    const char *as_written; /* the value in the project file */
    int line;               /* line of the project file, 0 for files not named there */
} hm_project_input;

/* Reads and checks PROJECT.ini. Every problem found is reported at once, each as "FILE:LINE: [section] key:
 * what is wrong; valid keys or values". Files the project names must exist (except the output folder). */
int hm_project_load(hm_ctx *ctx, const char *path, hm_project **out);
hm_project *hm_project_destroy(hm_project *project); /* returns NULL */

const char *hm_project_path(const hm_project *project);       /* absolute */
const char *hm_project_dir(const hm_project *project);        /* absolute folder of the project file */
const char *hm_project_name(const hm_project *project);       /* [project] name, or the file name's stem */
const char *hm_project_output_dir(const hm_project *project); /* absolute; [project] output, default out/STEM */
/* Replaces the output folder (e.g. `harmmap run -o DIR`); a relative DIR is taken from the current folder. */
int hm_project_set_output_dir(hm_ctx *ctx, hm_project *project, const char *dir);

size_t hm_project_input_count(const hm_project *project);
const hm_project_input *hm_project_input_at(const hm_project *project, size_t index);
/* Index of the input with this absolute path, or -1. */
long hm_project_find_input(const hm_project *project, const char *absolute_path);

/* Other files the outputs depend on (boundaries, postcodes, population, harm tables, a ramp file), for the run
 * manifest: *role is the key ("wards", "population", ...), the path absolute. Returns 0 past the end. */
int hm_project_dependency_at(const hm_project *project, size_t index, const char **role, const char **path);

/* The value of a key as written (NULL when absent), and of a yes/no key (default when absent). */
const char *hm_project_value(const hm_project *project, const char *section, const char *key);
int hm_project_flag(const hm_project *project, const char *section, const char *key, int default_value);

/* An argument vector built from the project: argv[0] is the command name, argv[argc] is NULL, every string is
 * owned by the vector. */
typedef struct hm_argv {
    int argc;
    char **argv;
    size_t capacity;
} hm_argv;

int hm_argv_push(hm_ctx *ctx, hm_argv *argv, const char *arg);
void hm_argv_free(hm_argv *argv);
/* One line, each argument quoted for a POSIX shell when it needs it (for run.json and messages). */
void hm_argv_format(const hm_argv *argv, char *out, size_t size);

/* The stages' argvs. Paths of the files the pipeline writes are given by the caller.
 * geocode: the project's inputs plus `extra` (files being added by an update, may be NULL/0), in load order,
 *   each read from `read_paths[i]` when read_paths is not NULL (a filtered copy; see pipeline.h), else from
 *   its own path. */
int hm_project_geocode_argv(hm_ctx *ctx, const hm_project *project, const char *output_gpkg,
                            const hm_project_input *inputs, const char *const *read_paths, size_t input_count,
                            hm_argv *out);
/* aggregate: public_product selects the second run with --public (when [aggregate] public = yes). */
int hm_project_aggregate_argv(hm_ctx *ctx, const hm_project *project, const char *gpkg, const char *output_dir,
                              int public_product, hm_argv *out);
int hm_project_density_argv(hm_ctx *ctx, const hm_project *project, const char *gpkg, const char *surface,
                            hm_argv *out);
/* tiles: mbtiles NULL when [tiles] mbtiles is no; overlay_gpkg the GeoPackage holding the wards and beats. */
int hm_project_tiles_argv(hm_ctx *ctx, const hm_project *project, const char *surface, const char *tiles_dir,
                          const char *mbtiles, const char *overlay_gpkg, int update, hm_argv *out);

/* qgis: styles, metadata and a QGIS project for the output folder (the pipeline's last stage). */
int hm_project_qgis_argv(hm_ctx *ctx, const hm_project *project, const char *output_dir, hm_argv *out);

/* Adds `kind = PATH` to [inputs] after the last line of that kind (or at the end of the section), so that a
 * later `harmmap run` loads the file in the same place an update did. The file is rewritten atomically, its
 * other lines untouched; PATH is written relative to the project folder when it lies inside it. */
int hm_project_append_input(hm_ctx *ctx, hm_project *project, hm_project_input_kind kind, const char *absolute_path);

/* Prints the project file format (sections, keys, values, what each does) for `harmmap help run`. */
void hm_project_print_format(FILE *out);

#endif
