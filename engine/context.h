/*
 * context.h - the harmmap context: error reporting and the library handles.
 *
 * Modelled on PROJ's PJ_CONTEXT and libvips' error buffer: nothing in harmmap keeps global mutable state.
 * Every call that can fail takes an hm_ctx, returns HM_OK (0) or a negative hm_status, and leaves a message in
 * the context that names the file, line and field and says what to do. The context owns a PROJ context and a
 * GEOS context handle; a thread that uses PROJ or GEOS gets a context of its own (hm_ctx_create per thread).
 */
#ifndef HM_CONTEXT_H
#define HM_CONTEXT_H

#include <geos_c.h>
#include <proj.h>
#include <stdarg.h>

typedef enum hm_status {
    HM_OK = 0,
    HM_EINVAL = -1,  /* bad option or argument given by the user */
    HM_EIO = -2,     /* a file could not be read, written or renamed */
    HM_ENOMEM = -3,  /* out of memory, or a limit such as --max-memory would be exceeded */
    HM_EFORMAT = -4, /* an input file is not in the expected format (missing column, not a boundary layer) */
    HM_EGDAL = -5,   /* GDAL/OGR reported an error */
    HM_EPROJ = -6,   /* PROJ could not build or run a transformation */
    HM_EGEOS = -7,   /* GEOS failed on a geometry */
    HM_ESQL = -8,    /* SQLite/SpatiaLite reported an error */
    HM_EINTERNAL = -9 /* a bug in harmmap: please report it with the command line */
} hm_status;

/* Verbosity of progress and summary output on stderr/stdout. */
typedef enum hm_verbosity { HM_QUIET = 0, HM_NORMAL = 1, HM_VERBOSE = 2 } hm_verbosity;

typedef struct hm_ctx hm_ctx;

hm_ctx *hm_ctx_create(void);
hm_ctx *hm_ctx_destroy(hm_ctx *ctx); /* returns NULL, PROJ style: ctx = hm_ctx_destroy(ctx) */

PJ_CONTEXT *hm_ctx_proj(hm_ctx *ctx);
GEOSContextHandle_t hm_ctx_geos(hm_ctx *ctx);

void hm_ctx_set_verbosity(hm_ctx *ctx, hm_verbosity verbosity);
hm_verbosity hm_ctx_verbosity(const hm_ctx *ctx);

/* Records an error and returns `code`, so that `return hm_error(ctx, HM_EIO, ...)` reads naturally.
 * A second error before hm_error_clear is appended as context ("...: caused by ..."). */
int hm_error(hm_ctx *ctx, hm_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int hm_verror(hm_ctx *ctx, hm_status code, const char *fmt, va_list args);
/* Prefixes the current message with more context, e.g. the option that led to it. Returns the current code. */
int hm_error_prefix(hm_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *hm_error_message(const hm_ctx *ctx);
hm_status hm_error_code(const hm_ctx *ctx);
void hm_error_clear(hm_ctx *ctx);

/* Prints a warning to stderr (unless quiet), prefixed "harmmap: warning: ". */
void hm_warn(hm_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints an informational line to stderr when verbosity >= HM_NORMAL. */
void hm_info(hm_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *hm_strerror(hm_status code);

/* Timestamps in the GeoPackage form YYYY-MM-DDTHH:MM:SS.SSSZ (UTC), which validate_gpkg.py requires.
 * hm_timestamp_normalise rewrites "YYYY-MM-DD[T ]HH:MM:SS[.fff][Z]" into it and returns 0 for anything else.
 * hm_timestamp_now gives OGR_CURRENT_DATE when it is set to such a date-time (tests pin it for byte-stable
 * outputs, as GDAL does), else the current time. */
int hm_timestamp_normalise(const char *text, char out[32]);
void hm_timestamp_now(char out[32]);

/* Seconds on the monotonic clock, for the timings the commands report (differences only: its zero is arbitrary). */
double hm_monotonic_seconds(void);

/* Version strings of harmmap and the libraries it was linked with, for --version and run metadata. */
const char *hm_version(void);
void hm_library_versions(char *buffer, size_t size);

#endif
