/*
 * main.c - the harmmap command line. It only parses the subcommand, calls the library and reports: each
 * subcommand's options are parsed by the engine (hm_<command>_options_new) from the same argv, as GDAL's
 * utilities do, so the CLI and the library cannot drift apart.
 *
 * Exit status: 0 success, 1 the command failed (message on stderr), 2 usage error.
 */
#include "context.h"
#include "geocode.h"
#include "aggregate.h"
#include "density.h"
#include "tiles_command.h"
#include "pipeline.h"
#include "qgis_project.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <stdio.h>
#include <string.h>

typedef int (*hm_command_fn)(hm_ctx *ctx, int argc, char **argv);

typedef struct hm_command {
    const char *name;
    const char *synopsis;
    const char *summary;
    hm_command_fn run;
} hm_command;

static int run_geocode(hm_ctx *ctx, int argc, char **argv)
{
    hm_geocode_options *options = NULL;
    int status = hm_geocode_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_geocode(ctx, options, NULL);
    hm_geocode_options_free(options);
    return status;
}

static int run_aggregate(hm_ctx *ctx, int argc, char **argv)
{
    hm_aggregate_options *options = NULL;
    int status = hm_aggregate_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_aggregate(ctx, options, NULL);
    hm_aggregate_options_free(options);
    return status;
}

static int run_density(hm_ctx *ctx, int argc, char **argv)
{
    hm_density_options *options = NULL;
    int status = hm_density_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_density(ctx, options, NULL, NULL);
    hm_density_options_free(options);
    return status;
}

static int run_tiles(hm_ctx *ctx, int argc, char **argv)
{
    hm_tiles_options *options = NULL;
    int status = hm_tiles_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_tiles(ctx, options, NULL);
    hm_tiles_options_free(options);
    return status;
}

static int run_qgis(hm_ctx *ctx, int argc, char **argv)
{
    hm_qgis_options *options = NULL;
    int status = hm_qgis_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_qgis(ctx, options);
    hm_qgis_options_free(options);
    return status;
}

static int run_run(hm_ctx *ctx, int argc, char **argv)
{
    hm_pipeline_options *options = NULL;
    int status = hm_run_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_run(ctx, options, NULL, NULL);
    hm_pipeline_options_free(options);
    return status;
}

static int run_update(hm_ctx *ctx, int argc, char **argv)
{
    hm_pipeline_options *options = NULL;
    int status = hm_update_options_new(ctx, argc, argv, &options);
    if (status == HM_OK) status = hm_update(ctx, options, NULL, NULL);
    hm_pipeline_options_free(options);
    return status;
}

static const hm_command commands[] = {
    {"geocode", "geocode -o OUT.gpkg --wards WARDS [--beats BEATS] [options] INPUT... [--intel FILE]",
     "place incidents and intelligence records in their ward and beat; write a GeoPackage", run_geocode},
    {"aggregate", "aggregate IN.gpkg [-o DIR] [--population FILE] [--period NAME:FROM..TO]... [--public]",
     "harm per ward and beat: rates, ranks, changes, hot spots; CSV and an HTML report", run_aggregate},
    {"density", "density IN -o OUT.tif [--radius M] [--cell M] [--kernel K] [--weight W] [--compat qgis] [options]",
     "harm density surface (exact kernel density, or QGIS's heatmap) as a Cloud Optimized GeoTIFF", run_density},
    {"tiles", "tiles IN.tif -o DIR [--zoom 8-15] [--ramp NAME|FILE] [--range auto|MIN,MAX] [--mbtiles FILE] [--update]",
     "web map tiles (XYZ folder, MBTiles, legend, offline viewer) from a surface; --update redraws what changed",
     run_tiles},
    {"qgis", "qgis DIR [-o NAME.qgs] [--classes N] [--method jenks|quantile] [--no-project]",
     "make a folder of outputs QGIS-ready: default styles, metadata, .qml beside surfaces, a QGIS project", run_qgis},
    {"run", "run PROJECT.ini [-o DIR]",
     "the whole job from a project file: geocode, aggregate, density, tiles; run.json manifest", run_run},
    {"update", "update PROJECT.ini --add NEW.csv... [--add-intel FILE]",
     "add new records to a run's outputs, remaking only what they change (same result as a full run)", run_update},
};

static void print_help(FILE *out)
{
    fprintf(out, "harmmap %s - where serious organised crime hurts communities, mapped by harm\n\n", hm_version());
    fprintf(out, "Usage: harmmap COMMAND [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "this text, or 'harmmap help COMMAND' for a command's options");
    fprintf(out, "\nGeneral options: --version, -q (quiet), --verbose, --config KEY VALUE (GDAL configuration)\n");
    fprintf(out, "Working CRS: British National Grid (EPSG:27700) unless --crs is given.\n");
}

static const hm_command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        char libraries[256];
        hm_library_versions(libraries, sizeof libraries);
        printf("harmmap %s (%s)\n", hm_version(), libraries);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        const hm_command *command = argc > 2 ? find_command(argv[2]) : NULL;
        if (command) {
            char *help_argv[] = {argv[0], "--help", NULL};
            hm_ctx *ctx = hm_ctx_create();
            if (!ctx) return 1;
            int status = command->run(ctx, 2, help_argv);
            hm_ctx_destroy(ctx);
            return status == HM_OK ? 0 : 1;
        }
        print_help(stdout);
        return 0;
    }
    const hm_command *command = find_command(argv[1]);
    if (!command) {
        fprintf(stderr, "harmmap: unknown command '%s'; run 'harmmap help' for the list\n", argv[1]);
        return 2;
    }

    /* GDAL's general options (--config, --debug, ...) are handled by GDAL itself, as in its utilities. */
    GDALAllRegister();
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    sub_argc = GDALGeneralCmdLineProcessor(sub_argc, &sub_argv, 0);
    if (sub_argc < 1) return sub_argc == 0 ? 0 : 2;

    hm_ctx *ctx = hm_ctx_create();
    if (!ctx) {
        fprintf(stderr, "harmmap: cannot create PROJ/GEOS contexts (out of memory?)\n");
        CSLDestroy(sub_argv);
        return 1;
    }
    int status = command->run(ctx, sub_argc, sub_argv);
    int exit_code = 0;
    if (status != HM_OK) {
        fprintf(stderr, "harmmap %s: error: %s\n", command->name, hm_error_message(ctx));
        exit_code = status == HM_EINVAL ? 2 : 1;
    }
    hm_ctx_destroy(ctx);
    CSLDestroy(sub_argv);
    GDALDestroyDriverManager();
    return exit_code;
}
