/*
 * argv.h - small helpers for parsing a command's argument vector inside the library.
 *
 * As in GDAL's utility API (GDALTranslateOptionsNew), every subcommand parses its own argv into an options
 * struct in engine/, so the CLI and the library cannot drift apart. These helpers keep the messages uniform:
 * they name the option and say what value was expected.
 */
#ifndef HM_ARGV_H
#define HM_ARGV_H

#include "context.h"

#include <stddef.h>

/* A growable list of borrowed strings (pointers into argv or other storage owned elsewhere). */
typedef struct hm_string_list {
    const char **items;
    size_t count;
    size_t capacity;
} hm_string_list;

int hm_string_list_push(hm_ctx *ctx, hm_string_list *list, const char *item);
void hm_string_list_free(hm_string_list *list);

/* If argv[*index] is `name`, stores the next argument in *value, advances *index and returns 1; returns 0 when
 * argv[*index] is another option, and HM_EINVAL (with a message) when the value is missing. "--name=value" is
 * accepted too. */
int hm_arg_value(hm_ctx *ctx, int argc, char **argv, int *index, const char *name, const char **value);

/* Strict number parsing for option values: the whole text must be a finite number. */
int hm_arg_double(hm_ctx *ctx, const char *option, const char *text, double *out);
int hm_arg_long(hm_ctx *ctx, const char *option, const char *text, long *out);

#endif
