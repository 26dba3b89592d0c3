/* tile_store.c - build a tile folder beside the live one and swap it in (see tile_store.h). */
#define _GNU_SOURCE /* renameat2 */
#include "tile_store.h"

#include "manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hm_tile_store {
    char final_dir[PATH_MAX];
    char new_dir[PATH_MAX];
    int tms;
    int has_previous;
    int final_exists;
    /* The last zoom/column folder made, to skip most mkdir calls. */
    int made_zoom, made_x;
};

static int remove_tree_at(int parent_fd, const char *name)
{
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) return unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return -1;
    }
    int result = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        if (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN) {
            if (remove_tree_at(dirfd(dir), entry->d_name) != 0) result = -1;
        } else if (unlinkat(dirfd(dir), entry->d_name, 0) != 0 && errno != ENOENT) {
            result = -1;
        }
    }
    closedir(dir);
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) result = -1;
    return result;
}

int hm_path_format(char *out, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(out, size, format, args);
    va_end(args);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int hm_remove_tree(const char *path)
{
    return remove_tree_at(AT_FDCWD, path);
}

static void split_path(const char *path, char *parent, size_t parent_size, char *base, size_t base_size)
{
    char copy[PATH_MAX];
    (void)hm_path_format(copy, sizeof copy, "%s", path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    char *slash = strrchr(copy, '/');
    if (!slash) {
        snprintf(parent, parent_size, ".");
        (void)hm_path_format(base, base_size, "%s", copy);
    } else if (slash == copy) {
        snprintf(parent, parent_size, "/");
        (void)hm_path_format(base, base_size, "%s", slash + 1);
    } else {
        *slash = '\0';
        (void)hm_path_format(parent, parent_size, "%s", copy);
        (void)hm_path_format(base, base_size, "%s", slash + 1);
    }
}

/* Folders .NAME.tmp-<pid>-XXXXXX left by killed runs: those whose process is gone (the convention of
 * engine/tempfiles.h, whose hm_remove_stale_temporaries removes files, where these are whole trees). A folder of a
 * live process, another run writing the same output right now, is left alone. */
static void remove_stale_temporaries(const char *parent, const char *base)
{
    DIR *dir = opendir(parent);
    if (!dir) return;
    char prefix[NAME_MAX + 16];
    (void)hm_path_format(prefix, sizeof prefix, ".%s.tmp-", base);
    size_t prefix_length = strlen(prefix);
    int parent_fd = dirfd(dir);
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (strncmp(entry->d_name, prefix, prefix_length) != 0) continue;
        const char *digits = entry->d_name + prefix_length;
        char *end = NULL;
        long pid = strtol(digits, &end, 10);
        if (end == digits || pid <= 0 || *end != '-') continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        remove_tree_at(parent_fd, entry->d_name);
    }
    closedir(dir);
}

/* What an existing final_dir may be: a previous tile set (its manifest), an empty folder, or nothing. */
static int check_final_dir(hm_ctx *ctx, const char *final_dir, int *exists, int *has_previous)
{
    *exists = *has_previous = 0;
    struct stat st;
    if (stat(final_dir, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return HM_OK; /* ENOTDIR: creating it later says why */
        return hm_error(ctx, HM_EIO, "-o %s: %s", final_dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return hm_error(ctx, HM_EINVAL, "-o %s: exists and is not a folder; choose another path", final_dir);
    *exists = 1;
    char manifest[PATH_MAX + 32];
    (void)hm_path_format(manifest, sizeof manifest, "%s/%s", final_dir, HM_MANIFEST_NAME);
    *has_previous = access(manifest, F_OK) == 0;
    if (*has_previous) return HM_OK;
    DIR *dir = opendir(final_dir);
    int empty = 1;
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) empty = 0;
    if (dir) closedir(dir);
    if (!empty)
        return hm_error(ctx, HM_EINVAL,
                        "-o %s: the folder exists, is not empty and holds no harmmap tile set (no %s); it would "
                        "be replaced as a whole, so choose a new folder or empty this one",
                        final_dir, HM_MANIFEST_NAME);
    return HM_OK;
}

int hm_tile_store_check(hm_ctx *ctx, const char *final_dir)
{
    int exists, has_previous;
    if (!final_dir || !*final_dir) return hm_error(ctx, HM_EINVAL, "-o: give the output folder");
    return check_final_dir(ctx, final_dir, &exists, &has_previous);
}

int hm_tile_store_begin(hm_ctx *ctx, const char *final_dir, int tms, hm_tile_store **out)
{
    *out = NULL;
    if (!final_dir || !*final_dir) return hm_error(ctx, HM_EINVAL, "-o: give the output folder");
    hm_tile_store *store = calloc(1, sizeof *store);
    if (!store) return hm_error(ctx, HM_ENOMEM, "out of memory");
    store->tms = tms;
    store->made_zoom = store->made_x = -1;
    if (hm_path_format(store->final_dir, sizeof store->final_dir - 64, "%s", final_dir) != 0) {
        free(store);
        return hm_error(ctx, HM_EINVAL, "-o: the path is too long");
    }
    char parent[PATH_MAX], base[NAME_MAX + 1];
    split_path(final_dir, parent, sizeof parent, base, sizeof base);
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0 || !*base) {
        free(store);
        return hm_error(ctx, HM_EINVAL,
                        "-o %s: name a folder of its own for the tiles (it is replaced as a whole)",
                        final_dir);
    }
    int status = check_final_dir(ctx, final_dir, &store->final_exists, &store->has_previous);
    if (status != HM_OK) {
        free(store);
        return status;
    }

    remove_stale_temporaries(parent, base);
    (void)hm_path_format(store->new_dir, sizeof store->new_dir, "%s/.%s.tmp-%ld-XXXXXX", parent, base,
                         (long)getpid());
    if (!mkdtemp(store->new_dir)) {
        int e = errno;
        free(store);
        return hm_error(ctx, HM_EIO,
                        "-o %s: cannot create a folder in %s: %s; choose a folder you can write to",
                        final_dir, parent, strerror(e));
    }
    /* mkdtemp makes it 0700; a tile folder is for serving, so 0755, but never wider than the umask allows. */
    mode_t umask_bits = umask(0);
    umask(umask_bits);
    chmod(store->new_dir, 0755 & ~umask_bits);
    *out = store;
    return HM_OK;
}

const char *hm_tile_store_dir(const hm_tile_store *store)
{
    return store->new_dir;
}

const char *hm_tile_store_final_dir(const hm_tile_store *store)
{
    return store->final_dir;
}

int hm_tile_store_has_previous(const hm_tile_store *store)
{
    return store->has_previous;
}

void hm_tile_store_path(const hm_tile_store *store, int previous, int zoom, int x, int y, char *path,
                        size_t size)
{
    int row = store->tms ? (int)((1LL << zoom) - 1 - y) : y;
    (void)hm_path_format(path, size, "%s/%d/%d/%d.png", previous ? store->final_dir : store->new_dir, zoom, x,
                         row);
}

static int make_column(hm_ctx *ctx, hm_tile_store *store, int zoom, int x)
{
    if (store->made_zoom == zoom && store->made_x == x) return HM_OK;
    char path[PATH_MAX];
    (void)hm_path_format(path, sizeof path, "%s/%d", store->new_dir, zoom);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return hm_error(ctx, HM_EIO, "%s: cannot create folder: %s", path, strerror(errno));
    (void)hm_path_format(path, sizeof path, "%s/%d/%d", store->new_dir, zoom, x);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return hm_error(ctx, HM_EIO, "%s: cannot create folder: %s", path, strerror(errno));
    store->made_zoom = zoom;
    store->made_x = x;
    return HM_OK;
}

int hm_write_file(hm_ctx *ctx, const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return hm_error(ctx, HM_EIO, "%s: cannot create: %s", path, strerror(errno));
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return hm_error(ctx, HM_EIO, "%s: cannot write: %s (disk full?)", path, strerror(e));
        }
        p += n;
        size -= (size_t)n;
    }
    if (close(fd) != 0) return hm_error(ctx, HM_EIO, "%s: cannot write: %s", path, strerror(errno));
    return HM_OK;
}

int hm_tile_store_write(hm_ctx *ctx, hm_tile_store *store, int zoom, int x, int y, const void *data,
                        size_t size)
{
    int status = make_column(ctx, store, zoom, x);
    if (status != HM_OK) return status;
    char path[PATH_MAX];
    hm_tile_store_path(store, 0, zoom, x, y, path, sizeof path);
    return hm_write_file(ctx, path, data, size);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buffer[65536];
    ssize_t n;
    int result = 0;
    while ((n = read(in, buffer, sizeof buffer)) > 0)
        if (write(out, buffer, (size_t)n) != n) {
            result = -1;
            break;
        }
    if (n < 0) result = -1;
    close(in);
    if (close(out) != 0) result = -1;
    return result;
}

int hm_tile_store_keep(hm_ctx *ctx, hm_tile_store *store, int zoom, int x, int y)
{
    int status = make_column(ctx, store, zoom, x);
    if (status != HM_OK) return status;
    char from[PATH_MAX], to[PATH_MAX];
    hm_tile_store_path(store, 1, zoom, x, y, from, sizeof from);
    hm_tile_store_path(store, 0, zoom, x, y, to, sizeof to);
    if (link(from, to) == 0) return HM_OK;
    if (errno == ENOENT) return hm_error(ctx, HM_EIO, "%s: missing from the previous tile set", from);
    if (copy_file(from, to) != 0)
        return hm_error(ctx, HM_EIO, "cannot copy %s to %s: %s", from, to, strerror(errno));
    return HM_OK;
}

int hm_tile_store_commit(hm_ctx *ctx, hm_tile_store *store)
{
    int status = HM_OK;
    if (!store->final_exists) {
        if (rename(store->new_dir, store->final_dir) != 0) {
            status = hm_error(ctx, HM_EIO, "cannot rename %s to %s: %s", store->new_dir, store->final_dir,
                              strerror(errno));
            hm_remove_tree(store->new_dir);
        }
    } else if (renameat2(AT_FDCWD, store->new_dir, AT_FDCWD, store->final_dir, RENAME_EXCHANGE) == 0) {
        /* new_dir now holds the previous set. */
        hm_remove_tree(store->new_dir);
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        /* No atomic exchange here: move the old set aside, move the new one in. */
        char aside[PATH_MAX + 8];
        (void)hm_path_format(aside, sizeof aside, "%s.old", store->new_dir);
        if (rename(store->final_dir, aside) != 0) {
            status = hm_error(ctx, HM_EIO, "cannot move %s aside: %s", store->final_dir, strerror(errno));
            hm_remove_tree(store->new_dir);
        } else if (rename(store->new_dir, store->final_dir) != 0) {
            status = hm_error(ctx, HM_EIO, "cannot rename %s to %s: %s", store->new_dir, store->final_dir,
                              strerror(errno));
            rename(aside, store->final_dir);
            hm_remove_tree(store->new_dir);
        } else {
            hm_remove_tree(aside);
        }
    } else {
        status = hm_error(ctx, HM_EIO, "cannot swap %s into %s: %s", store->new_dir, store->final_dir,
                          strerror(errno));
        hm_remove_tree(store->new_dir);
    }
    free(store);
    return status;
}

void hm_tile_store_abort(hm_tile_store *store)
{
    if (!store) return;
    hm_remove_tree(store->new_dir);
    free(store);
}
