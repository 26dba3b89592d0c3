/* geocode.c - see geocode.h. (Work in progress: the pipeline lands with the csv, location, boundaries, pip and
 * gpkg modules.) */
#include "geocode.h"

#include <stdlib.h>

struct hm_geocode_options {
    int unused;
};

int hm_geocode_options_new(hm_ctx *ctx, int argc, char **argv, hm_geocode_options **out)
{
    (void)argc;
    (void)argv;
    *out = NULL;
    return hm_error(ctx, HM_EINTERNAL, "geocode is not implemented yet");
}

void hm_geocode_options_free(hm_geocode_options *options)
{
    free(options);
}

int hm_geocode(hm_ctx *ctx, const hm_geocode_options *options, GDALProgressFunc progress)
{
    (void)options;
    (void)progress;
    return hm_error(ctx, HM_EINTERNAL, "geocode is not implemented yet");
}
