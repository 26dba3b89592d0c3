/* mbtiles.c - MBTiles 1.3 writer (see mbtiles.h). */
#include "mbtiles.h"
#include "tempfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hm_mbtiles {
    sqlite3 *db;
    sqlite3_stmt *insert_tile;
    sqlite3_stmt *insert_metadata;
    char path[PATH_MAX];
    char temp_path[PATH_MAX + 16];
};

static int sql_error(hm_ctx *ctx, hm_mbtiles *m, const char *what)
{
    return hm_error(ctx, HM_ESQL, "%s: %s: %s", m->path, what, m->db ? sqlite3_errmsg(m->db) : "no database");
}

static void close_writer(hm_mbtiles *m)
{
    sqlite3_finalize(m->insert_tile);
    sqlite3_finalize(m->insert_metadata);
    sqlite3_close(m->db);
    m->insert_tile = m->insert_metadata = NULL;
    m->db = NULL;
}

int hm_mbtiles_create(hm_ctx *ctx, const char *path, hm_mbtiles **out)
{
    *out = NULL;
    hm_mbtiles *m = calloc(1, sizeof *m);
    if (!m) return hm_error(ctx, HM_ENOMEM, "out of memory");
    snprintf(m->path, sizeof m->path, "%s", path);
    /* Named with the process id, so that a later run can tell a killed run's leftover (tempfiles.h); created
     * with mode 0666 minus the umask, like any new file (mkstemp's 0600 widened by a chmod would ignore the
     * umask). */
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        snprintf(m->temp_path, sizeof m->temp_path, "%s.tmp-%ld-%d", path, (long)getpid(), attempt);
        fd = open(m->temp_path, O_RDWR | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        free(m);
        return hm_error(ctx, HM_EIO,
                        "--mbtiles %s: cannot create a file beside it: %s; choose a folder you can "
                        "write to",
                        path, strerror(e));
    }
    close(fd);
    int status = HM_OK;
    if (sqlite3_open_v2(m->temp_path, &m->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        status = sql_error(ctx, m, "cannot open");
        goto done;
    }
    const char *schema =
        "PRAGMA journal_mode = OFF;"
        "PRAGMA synchronous = OFF;"
        "PRAGMA page_size = 4096;"
        "PRAGMA application_id = 0x4d504258;" /* 'MPBX', the MBTiles application id */
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
        "BEGIN;";
    if (sqlite3_exec(m->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        status = sql_error(ctx, m, "cannot create the MBTiles tables");
        goto done;
    }
    if (sqlite3_prepare_v2(m->db, "INSERT INTO tiles VALUES (?, ?, ?, ?)", -1, &m->insert_tile, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(m->db, "INSERT INTO metadata VALUES (?, ?)", -1, &m->insert_metadata, NULL) !=
            SQLITE_OK)
        status = sql_error(ctx, m, "cannot prepare inserts");
done:
    if (status != HM_OK) {
        hm_mbtiles_abort(m);
        return status;
    }
    *out = m;
    return HM_OK;
}

int hm_mbtiles_put_tile(hm_ctx *ctx, hm_mbtiles *m, int zoom, int x, int y, const void *data, size_t size)
{
    sqlite3_stmt *s = m->insert_tile;
    sqlite3_bind_int(s, 1, zoom);
    sqlite3_bind_int(s, 2, x);
    sqlite3_bind_int(s, 3, (int)((1LL << zoom) - 1 - y));
    sqlite3_bind_blob(s, 4, data, (int)size, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? HM_OK : sql_error(ctx, m, "cannot insert a tile");
}

int hm_mbtiles_put_metadata(hm_ctx *ctx, hm_mbtiles *m, const char *name, const char *value)
{
    sqlite3_stmt *s = m->insert_metadata;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? HM_OK : sql_error(ctx, m, "cannot insert metadata");
}

int hm_mbtiles_finish(hm_ctx *ctx, hm_mbtiles *m)
{
    int status = HM_OK;
    const char *finish = "COMMIT;"
                         "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
                         "CREATE UNIQUE INDEX name ON metadata (name);";
    if (sqlite3_exec(m->db, finish, NULL, NULL, NULL) != SQLITE_OK) {
        status = sql_error(ctx, m, "cannot finish the MBTiles file (two metadata rows of one name?)");
        hm_mbtiles_abort(m);
        return status;
    }
    sqlite3_finalize(m->insert_tile);
    sqlite3_finalize(m->insert_metadata);
    m->insert_tile = m->insert_metadata = NULL;
    if (sqlite3_close(m->db) != SQLITE_OK) {
        m->db = NULL;
        status = hm_error(ctx, HM_ESQL, "%s: cannot close the MBTiles file", m->path);
    }
    m->db = NULL;
    if (status == HM_OK) {
        if (rename(m->temp_path, m->path) != 0)
            status =
                hm_error(ctx, HM_EIO, "cannot rename %s to %s: %s", m->temp_path, m->path, strerror(errno));
        else
            hm_remove_stale_temporaries(ctx, m->temp_path); /* left by killed runs */
    }
    if (status != HM_OK) unlink(m->temp_path);
    free(m);
    return status;
}

void hm_mbtiles_abort(hm_mbtiles *m)
{
    if (!m) return;
    close_writer(m);
    unlink(m->temp_path);
    free(m);
}
