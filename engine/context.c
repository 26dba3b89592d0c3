/*
 * context.c - see context.h. Errors are kept in a fixed buffer in the context so that reporting an error never
 * needs to allocate (it may be reporting an allocation failure).
 */
#include "context.h"

#include <ctype.h>
#include <gdal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HM_ERROR_BUFFER_SIZE 4096

struct hm_ctx {
    PJ_CONTEXT *proj;
    GEOSContextHandle_t geos;
    hm_verbosity verbosity;
    hm_status code;
    char message[HM_ERROR_BUFFER_SIZE];
    char geos_message[512];
};

static void geos_message_handler(const char *message, void *userdata)
{
    hm_ctx *ctx = userdata;
    snprintf(ctx->geos_message, sizeof ctx->geos_message, "%s", message);
}

hm_ctx *hm_ctx_create(void)
{
    hm_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->verbosity = HM_NORMAL;
    ctx->proj = proj_context_create();
    ctx->geos = GEOS_init_r();
    if (!ctx->proj || !ctx->geos) return hm_ctx_destroy(ctx);
    /* PROJ logs to stderr by default; our callers report errors themselves with file and line. */
    proj_log_level(ctx->proj, PJ_LOG_NONE);
    GEOSContext_setErrorMessageHandler_r(ctx->geos, geos_message_handler, ctx);
    GEOSContext_setNoticeMessageHandler_r(ctx->geos, NULL, NULL);
    return ctx;
}

hm_ctx *hm_ctx_destroy(hm_ctx *ctx)
{
    if (!ctx) return NULL;
    if (ctx->geos) GEOS_finish_r(ctx->geos);
    if (ctx->proj) proj_context_destroy(ctx->proj);
    free(ctx);
    return NULL;
}

PJ_CONTEXT *hm_ctx_proj(hm_ctx *ctx)
{
    return ctx->proj;
}

GEOSContextHandle_t hm_ctx_geos(hm_ctx *ctx)
{
    return ctx->geos;
}

void hm_ctx_set_verbosity(hm_ctx *ctx, hm_verbosity verbosity)
{
    ctx->verbosity = verbosity;
}

hm_verbosity hm_ctx_verbosity(const hm_ctx *ctx)
{
    return ctx->verbosity;
}

/* ctx->message = outer + ": " + inner, truncated to the buffer (inner may alias ctx->message). */
static void join_messages(hm_ctx *ctx, const char *outer, const char *inner)
{
    char joined[2 * HM_ERROR_BUFFER_SIZE + 2];
    size_t outer_length = strlen(outer), inner_length = strlen(inner);
    memcpy(joined, outer, outer_length);
    memcpy(joined + outer_length, ": ", 2);
    memcpy(joined + outer_length + 2, inner, inner_length + 1);
    size_t total = outer_length + 2 + inner_length;
    if (total >= HM_ERROR_BUFFER_SIZE) total = HM_ERROR_BUFFER_SIZE - 1;
    memcpy(ctx->message, joined, total);
    ctx->message[total] = '\0';
}

/* Messages quote users' data (paths, field values, a file's header): the control bytes of a binary file there
 * would reach the terminal as escape sequences, so they are shown as '?'. */
static void defuse_control_bytes(char *text)
{
    for (unsigned char *c = (unsigned char *)text; *c; c++)
        if ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f) *c = '?';
}

int hm_verror(hm_ctx *ctx, hm_status code, const char *fmt, va_list args)
{
    char message[HM_ERROR_BUFFER_SIZE];
    vsnprintf(message, sizeof message, fmt, args);
    defuse_control_bytes(message);
    if (ctx->code != HM_OK && ctx->message[0]) {
        /* Keep the first (root) cause at the end: "outer: inner". */
        join_messages(ctx, message, ctx->message);
    } else {
        memcpy(ctx->message, message, sizeof message);
    }
    ctx->code = code;
    return code;
}

int hm_error(hm_ctx *ctx, hm_status code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    hm_verror(ctx, code, fmt, args);
    va_end(args);
    return code;
}

int hm_error_prefix(hm_ctx *ctx, const char *fmt, ...)
{
    char prefix[HM_ERROR_BUFFER_SIZE];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    defuse_control_bytes(prefix);
    join_messages(ctx, prefix, ctx->message);
    if (ctx->code == HM_OK) ctx->code = HM_EINTERNAL;
    return ctx->code;
}

const char *hm_error_message(const hm_ctx *ctx)
{
    return ctx->code == HM_OK ? "" : ctx->message;
}

hm_status hm_error_code(const hm_ctx *ctx)
{
    return ctx->code;
}

void hm_error_clear(hm_ctx *ctx)
{
    ctx->code = HM_OK;
    ctx->message[0] = '\0';
    ctx->geos_message[0] = '\0';
}

void hm_warn(hm_ctx *ctx, const char *fmt, ...)
{
    if (ctx->verbosity == HM_QUIET) return;
    va_list args;
    va_start(args, fmt);
    fputs("harmmap: warning: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

void hm_info(hm_ctx *ctx, const char *fmt, ...)
{
    if (ctx->verbosity < HM_NORMAL) return;
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

const char *hm_strerror(hm_status code)
{
    switch (code) {
    case HM_OK: return "success";
    case HM_EINVAL: return "invalid option or argument";
    case HM_EIO: return "input/output error";
    case HM_ENOMEM: return "out of memory or over a memory limit";
    case HM_EFORMAT: return "input not in the expected format";
    case HM_EGDAL: return "GDAL/OGR error";
    case HM_EPROJ: return "PROJ transformation error";
    case HM_EGEOS: return "GEOS geometry error";
    case HM_ESQL: return "SQLite error";
    case HM_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

int hm_timestamp_normalise(const char *text, char out[32])
{
    if (!text || strlen(text) < 19 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') ||
        text[13] != ':' || text[16] != ':')
        return 0;
    char millis[4] = "000";
    if (text[19] == '.')
        for (int i = 0; i < 3 && isdigit((unsigned char)text[20 + i]); i++) millis[i] = text[20 + i];
    snprintf(out, 32, "%.10sT%.8s.%sZ", text, text + 11, millis);
    return 1;
}

void hm_timestamp_now(char out[32])
{
    if (hm_timestamp_normalise(getenv("OGR_CURRENT_DATE"), out)) return;
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
}

double hm_monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

const char *hm_version(void)
{
    return HM_VERSION;
}

void hm_library_versions(char *buffer, size_t size)
{
    PJ_INFO info = proj_info();
    snprintf(buffer, size, "GDAL %s, PROJ %s, GEOS %s", GDALVersionInfo("RELEASE_NAME"), info.release,
             GEOSversion());
}
