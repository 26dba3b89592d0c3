/* tempfiles.c - see tempfiles.h. */
#define _GNU_SOURCE /* copy_file_range */
#include "tempfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int hm_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int result = fsync(fd);
    close(fd);
    return result;
}

/* The kernel copies: no trip of every byte through this process, and on file systems that share extents
 * (XFS, Btrfs) the copy is made by reference, at no cost whatever the size. 1 when the whole file was copied, 0
 * when this file system or kernel cannot (nothing was written then: the caller copies by hand), -1 on error. */
static int copy_in_kernel(int in, int out, off_t size)
{
    off_t done = 0;
    while (done < size) {
        ssize_t copied = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
        if (copied < 0 && errno == EINTR) continue;
        if (copied < 0 && done == 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
                                        errno == EOPNOTSUPP || errno == EBADF || errno == EPERM))
            return 0;
        if (copied < 0) return -1;
        if (copied == 0) break; /* the source shrank: what is there is copied */
        done += copied;
    }
    return 1;
}

int hm_copy_file(hm_ctx *ctx, const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    if (in < 0) return hm_error(ctx, HM_EIO, "%s: %s", from, strerror(errno));
    struct stat info;
    fstat(in, &info);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, info.st_mode & 0777);
    if (out < 0) {
        close(in);
        return hm_error(ctx, HM_EIO, "%s: %s (is the folder writable?)", to, strerror(errno));
    }
    int status = HM_OK;
    int in_kernel = copy_in_kernel(in, out, info.st_size);
    if (in_kernel < 0) status = hm_error(ctx, HM_EIO, "%s: copying %s: %s", to, from, strerror(errno));
    char buffer[1 << 16];
    ssize_t got = 0;
    while (in_kernel == 0 && (got = read(in, buffer, sizeof buffer)) > 0) {
        for (ssize_t done = 0; done < got;) {
            ssize_t written = write(out, buffer + done, (size_t)(got - done));
            if (written < 0) {
                status = hm_error(ctx, HM_EIO, "%s: %s", to, strerror(errno));
                break;
            }
            done += written;
        }
        if (status != HM_OK) break;
    }
    if (got < 0 && status == HM_OK) status = hm_error(ctx, HM_EIO, "%s: %s", from, strerror(errno));
    close(in);
    if (close(out) != 0 && status == HM_OK) status = hm_error(ctx, HM_EIO, "%s: %s", to, strerror(errno));
    return status;
}

int hm_write_parts_atomically(hm_ctx *ctx, const char *path, const hm_file_part *parts, size_t count, int flags)
{
    size_t size = strlen(path) + 32;
    char *temp = malloc(size);
    if (!temp) return hm_error(ctx, HM_ENOMEM, "out of memory writing %s", path);
    snprintf(temp, size, "%s.tmp-%ld", path, (long)getpid());
    int status = HM_OK;
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, flags & HM_WRITE_OWNER_ONLY ? 0600 : 0666);
    if (fd < 0) {
        status = hm_error(ctx, HM_EIO, "%s: cannot write: %s (is the folder writable?)", temp, strerror(errno));
    } else {
        int failed = 0;
        for (size_t p = 0; p < count && !failed; p++) {
            const char *data = parts[p].data;
            for (size_t done = 0; done < parts[p].length && !failed;) {
                ssize_t written = write(fd, data + done, parts[p].length - done);
                if (written < 0 && errno == EINTR) continue;
                if (written <= 0) failed = 1;
                else done += (size_t)written;
            }
        }
        if (!failed && !(flags & HM_WRITE_NO_SYNC) && fsync(fd) != 0) failed = 1;
        int saved = errno;
        if (close(fd) != 0 && !failed) {
            failed = 1;
            saved = errno;
        }
        if (failed) {
            status = hm_error(ctx, HM_EIO, "%s: write failed: %s (is the disk full?)", temp, strerror(saved));
            unlink(temp);
        } else if (rename(temp, path) != 0) {
            saved = errno;
            unlink(temp);
            status = hm_error(ctx, HM_EIO, "cannot rename %s to %s: %s", temp, path, strerror(saved));
        }
    }
    if (status == HM_OK) hm_remove_stale_temporaries(ctx, temp); /* left by killed runs */
    free(temp);
    return status;
}

int hm_write_file_atomically(hm_ctx *ctx, const char *path, const void *data, size_t length)
{
    const hm_file_part part = {data, length};
    return hm_write_parts_atomically(ctx, path, &part, 1, 0);
}
