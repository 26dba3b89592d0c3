/* tempfiles.c - see tempfiles.h. */
#include "tempfiles.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The id of the process that wrote "<prefix><pid>...", or 0 when the rest of the name is not of that form. */
static pid_t writer_pid(const char *rest)
{
    if (*rest < '0' || *rest > '9') return 0;
    char *end = NULL;
    errno = 0;
    long pid = strtol(rest, &end, 10);
    if (errno || pid <= 0 || (pid_t)pid != pid) return 0;
    return (pid_t)pid;
}

int hm_remove_stale_temporaries(hm_ctx *ctx, const char *own_temp_path)
{
    const char *slash = strrchr(own_temp_path, '/');
    const char *name = slash ? slash + 1 : own_temp_path;
    char own_marker[32];
    snprintf(own_marker, sizeof own_marker, ".tmp-%ld", (long)getpid());
    const char *marker = strstr(name, own_marker);
    if (!marker || (marker[strlen(own_marker)] >= '0' && marker[strlen(own_marker)] <= '9'))
        return 0; /* not a name of this scheme: nothing can be judged */
    size_t prefix_length = (size_t)(marker - name) + 5; /* up to and including ".tmp-" */
    char *dir_path = !slash ? strdup(".")
                     : slash == own_temp_path ? strdup("/")
                                              : strndup(own_temp_path, (size_t)(slash - own_temp_path));
    char *prefix = strndup(name, prefix_length);
    if (!dir_path || !prefix) {
        free(dir_path);
        free(prefix);
        return 0;
    }

    int removed = 0;
    DIR *dir = opendir(dir_path);
    if (!dir) {
        free(dir_path);
        free(prefix);
        return 0;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strncmp(entry->d_name, prefix, prefix_length) != 0) continue;
        pid_t pid = writer_pid(entry->d_name + prefix_length);
        if (pid == 0 || pid == getpid()) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge (EPERM) */
        size_t size = strlen(dir_path) + strlen(entry->d_name) + 2;
        char *path = malloc(size);
        if (!path) break;
        snprintf(path, size, "%s/%s", dir_path, entry->d_name);
        if (unlink(path) == 0) {
            removed++;
            hm_info(ctx, "removed %s, left by a run that was stopped", path);
        }
        free(path);
    }
    closedir(dir);
    free(dir_path);
    free(prefix);
    return removed;
}
