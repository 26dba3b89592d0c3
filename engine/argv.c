/* argv.c - see argv.h. */
#include "argv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int hm_string_list_push(hm_ctx *ctx, hm_string_list *list, const char *item)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 8;
        const char **items = realloc(list->items, capacity * sizeof *items);
        if (!items) return hm_error(ctx, HM_ENOMEM, "out of memory growing a list of %zu names", list->count);
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = item;
    return HM_OK;
}

void hm_string_list_free(hm_string_list *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

int hm_arg_value(hm_ctx *ctx, int argc, char **argv, int *index, const char *name, const char **value)
{
    const char *arg = argv[*index];
    size_t name_length = strlen(name);
    if (strncmp(arg, name, name_length) != 0) return 0;
    if (arg[name_length] == '=') {
        *value = arg + name_length + 1;
        return 1;
    }
    if (arg[name_length] != '\0') return 0;
    if (*index + 1 >= argc)
        return hm_error(ctx, HM_EINVAL, "option %s needs a value (see 'harmmap help')", name);
    *index += 1;
    *value = argv[*index];
    return 1;
}

int hm_arg_double(hm_ctx *ctx, const char *option, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value))
        return hm_error(ctx, HM_EINVAL, "option %s: '%s' is not a number", option, text);
    *out = value;
    return HM_OK;
}

int hm_arg_long(hm_ctx *ctx, const char *option, const char *text, long *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE)
        return hm_error(ctx, HM_EINVAL, "option %s: '%s' is not a whole number", option, text);
    *out = value;
    return HM_OK;
}
