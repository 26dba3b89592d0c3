/* pipeline_records.c - see pipeline_internal.h. */
#include "pipeline_internal.h"

#include "csv.h"
#include "tempfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- file identity ---- */

static void hex_digest(const unsigned char *digest, unsigned length, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < length; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[2 * length] = '\0';
}

long long pl_mtime_ns(const struct stat *info)
{
    return (long long)info->st_mtim.tv_sec * 1000000000LL + info->st_mtim.tv_nsec;
}

static int sha256_file(hm_ctx *ctx, const char *path, char *hex)
{
    FILE *file = fopen(path, "rb");
    if (!file) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buffer = malloc(1 << 20);
    int status = HM_OK;
    if (!md || !buffer || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        status = hm_error(ctx, HM_ENOMEM, "cannot start a SHA-256 digest (out of memory?)");
    } else {
        size_t got;
        while ((got = fread(buffer, 1, 1 << 20, file)) > 0)
            if (EVP_DigestUpdate(md, buffer, got) != 1) {
                status = hm_error(ctx, HM_EINTERNAL, "SHA-256 of %s failed", path);
                break;
            }
        if (status == HM_OK && ferror(file)) status = hm_error(ctx, HM_EIO, "%s: read error", path);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned length = 0;
        if (status == HM_OK && EVP_DigestFinal_ex(md, digest, &length) != 1)
            status = hm_error(ctx, HM_EINTERNAL, "SHA-256 of %s failed", path);
        if (status == HM_OK) hex_digest(digest, length, hex);
    }
    free(buffer);
    EVP_MD_CTX_free(md);
    fclose(file);
    return status;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder (e.g. data.police.uk neighbourhood KML files): its regular files in name order. */
static int folder_identify(hm_ctx *ctx, const char *path, pl_file_id *id, int with_hash)
{
    DIR *dir = opendir(path);
    if (!dir) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t count = 0, capacity = 0;
    int status = HM_OK;
    struct dirent *item;
    while (status == HM_OK && (item = readdir(dir)) != NULL) {
        if (item->d_name[0] == '.') continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            char **grown = realloc(names, capacity * sizeof *grown);
            if (!grown) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        names[count] = strdup(item->d_name);
        if (!names[count]) status = hm_error(ctx, HM_ENOMEM, "out of memory");
        else count++;
    }
    closedir(dir);
    qsort(names, count, sizeof *names, compare_names);
    EVP_MD_CTX *md = with_hash ? EVP_MD_CTX_new() : NULL;
    if (status == HM_OK && with_hash && (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1))
        status = hm_error(ctx, HM_ENOMEM, "cannot start a SHA-256 digest");
    id->size_bytes = 0;
    id->mtime_ns = 0;
    for (size_t i = 0; i < count && status == HM_OK; i++) {
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", path, names[i]);
        struct stat info;
        if (stat(child, &info) != 0 || !S_ISREG(info.st_mode)) continue;
        id->size_bytes += (long long)info.st_size;
        if (pl_mtime_ns(&info) > id->mtime_ns) id->mtime_ns = pl_mtime_ns(&info);
        if (!with_hash) continue;
        char hex[65];
        status = sha256_file(ctx, child, hex);
        if (status == HM_OK) {
            EVP_DigestUpdate(md, names[i], strlen(names[i]) + 1);
            EVP_DigestUpdate(md, hex, 64);
            EVP_DigestUpdate(md, "\n", 1);
        }
    }
    if (status == HM_OK && with_hash) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned length = 0;
        EVP_DigestFinal_ex(md, digest, &length);
        hex_digest(digest, length, id->sha256);
    }
    EVP_MD_CTX_free(md);
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    return status;
}

int pl_file_stat(hm_ctx *ctx, const char *path, pl_file_id *id)
{
    struct stat info;
    if (stat(path, &info) != 0) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    id->sha256[0] = '\0';
    if (S_ISDIR(info.st_mode)) return folder_identify(ctx, path, id, 0);
    id->size_bytes = (long long)info.st_size;
    id->mtime_ns = pl_mtime_ns(&info);
    return HM_OK;
}

int pl_file_identify(hm_ctx *ctx, const char *path, pl_file_id *id)
{
    struct stat info;
    if (stat(path, &info) != 0) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(info.st_mode)) return folder_identify(ctx, path, id, 1);
    id->size_bytes = (long long)info.st_size;
    id->mtime_ns = pl_mtime_ns(&info);
    return sha256_file(ctx, path, id->sha256);
}

/* ---- key multisets ---- */

struct pl_keyset {
    pl_key *keys;
    uint32_t *counts; /* 0 marks an empty slot */
    size_t capacity;  /* a power of two */
    size_t used;
};

pl_keyset *pl_keyset_create(void)
{
    pl_keyset *set = calloc(1, sizeof *set);
    if (!set) return NULL;
    set->capacity = 1024;
    set->keys = calloc(set->capacity, sizeof *set->keys);
    set->counts = calloc(set->capacity, sizeof *set->counts);
    if (!set->keys || !set->counts) return pl_keyset_destroy(set);
    return set;
}

pl_keyset *pl_keyset_destroy(pl_keyset *set)
{
    if (set) {
        free(set->keys);
        free(set->counts);
        free(set);
    }
    return NULL;
}

static size_t key_slot(const pl_keyset *set, pl_key key)
{
    size_t mask = set->capacity - 1;
    size_t slot = (size_t)(key.low ^ (key.high >> 7)) & mask;
    while (set->counts[slot] && (set->keys[slot].low != key.low || set->keys[slot].high != key.high))
        slot = (slot + 1) & mask;
    return slot;
}

uint32_t pl_keyset_count(const pl_keyset *set, pl_key key)
{
    return set ? set->counts[key_slot(set, key)] : 0;
}

static int keyset_grow(pl_keyset *set)
{
    pl_keyset bigger = {0};
    bigger.capacity = set->capacity * 2;
    bigger.keys = calloc(bigger.capacity, sizeof *bigger.keys);
    bigger.counts = calloc(bigger.capacity, sizeof *bigger.counts);
    if (!bigger.keys || !bigger.counts) {
        free(bigger.keys);
        free(bigger.counts);
        return HM_ENOMEM;
    }
    for (size_t i = 0; i < set->capacity; i++) {
        if (!set->counts[i]) continue;
        size_t slot = key_slot(&bigger, set->keys[i]);
        bigger.keys[slot] = set->keys[i];
        bigger.counts[slot] = set->counts[i];
    }
    free(set->keys);
    free(set->counts);
    set->keys = bigger.keys;
    set->counts = bigger.counts;
    set->capacity = bigger.capacity;
    return HM_OK;
}

/* Finds or adds the key's slot (count 0 when added). */
static int keyset_slot(pl_keyset *set, pl_key key, size_t *slot)
{
    if ((set->used + 1) * 10 > set->capacity * 7 && keyset_grow(set) != HM_OK) return HM_ENOMEM;
    *slot = key_slot(set, key);
    if (!set->counts[*slot]) {
        set->keys[*slot] = key;
        set->used++;
    }
    return HM_OK;
}

int pl_keyset_raise(pl_keyset *set, pl_key key, uint32_t count)
{
    if (!count) return HM_OK;
    size_t slot;
    if (keyset_slot(set, key, &slot) != HM_OK) return HM_ENOMEM;
    if (count > set->counts[slot]) set->counts[slot] = count;
    return HM_OK;
}

/* ---- scanning an input ---- */

static pl_key record_key(int kind, const XXH128_hash_t *header, const hm_csv_record *row, XXH3_state_t *state)
{
    XXH3_128bits_reset(state);
    unsigned char kind_byte = (unsigned char)kind;
    XXH3_128bits_update(state, &kind_byte, 1);
    XXH3_128bits_update(state, header, sizeof *header);
    uint64_t count = row->field_count;
    XXH3_128bits_update(state, &count, sizeof count);
    for (size_t i = 0; i < row->field_count; i++) {
        uint64_t length = row->field_lengths[i];
        XXH3_128bits_update(state, &length, sizeof length);
        XXH3_128bits_update(state, row->fields[i], row->field_lengths[i]);
    }
    XXH128_hash_t hash = XXH3_128bits_digest(state);
    return (pl_key){hash.low64, hash.high64};
}

static int push_skip(hm_ctx *ctx, pl_scan *scan, unsigned long first)
{
    if (scan->skip_count == scan->skip_capacity) {
        size_t capacity = scan->skip_capacity ? scan->skip_capacity * 2 : 64;
        unsigned long *a = realloc(scan->skip_first, capacity * sizeof *a);
        if (a) scan->skip_first = a;
        unsigned long *b = a ? realloc(scan->skip_last, capacity * sizeof *b) : NULL;
        if (b) scan->skip_last = b;
        if (!a || !b) return hm_error(ctx, HM_ENOMEM, "out of memory");
        scan->skip_capacity = capacity;
    }
    scan->skip_first[scan->skip_count] = first;
    scan->skip_last[scan->skip_count] = ULONG_MAX;
    scan->skip_count++;
    return HM_OK;
}

typedef struct key_count {
    pl_key key;
    uint32_t count;
} key_count;

static int compare_key_counts(const void *a, const void *b)
{
    const key_count *x = a, *y = b;
    if (x->key.high != y->key.high) return x->key.high < y->key.high ? -1 : 1;
    if (x->key.low != y->key.low) return x->key.low < y->key.low ? -1 : 1;
    return 0;
}

/* The distinct keys of `set` sorted, into the scan. */
static int scan_take_keys(hm_ctx *ctx, pl_scan *scan, const pl_keyset *set)
{
    key_count *list = malloc((set->used ? set->used : 1) * sizeof *list);
    if (!list) return hm_error(ctx, HM_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < set->capacity; i++)
        if (set->counts[i]) list[n++] = (key_count){set->keys[i], set->counts[i]};
    qsort(list, n, sizeof *list, compare_key_counts);
    scan->keys = malloc((n ? n : 1) * sizeof *scan->keys);
    scan->key_counts = malloc((n ? n : 1) * sizeof *scan->key_counts);
    if (!scan->keys || !scan->key_counts) {
        free(list);
        return hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        scan->keys[i] = list[i].key;
        scan->key_counts[i] = list[i].count;
    }
    scan->key_count = n;
    free(list);
    return HM_OK;
}

int pl_scan_input(hm_ctx *ctx, const char *path, int kind, size_t max_record_bytes, const pl_keyset *loaded,
                  pl_scan *scan)
{
    memset(scan, 0, sizeof *scan);
    hm_csv_options options = {',', max_record_bytes};
    hm_csv_reader *reader = NULL;
    int status = hm_csv_open(ctx, path, &options, &reader);
    if (status != HM_OK) return status;
    pl_keyset *seen = pl_keyset_create();
    XXH3_state_t *state = XXH3_createState();
    if (!seen || !state) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    hm_csv_record row;
    int got = status == HM_OK ? hm_csv_next(reader, &row) : 0;
    XXH128_hash_t header = {0, 0};
    if (got > 0) {
        XXH3_128bits_reset(state);
        for (size_t i = 0; i < row.field_count; i++) {
            uint64_t length = row.field_lengths[i];
            XXH3_128bits_update(state, &length, sizeof length);
            XXH3_128bits_update(state, row.fields[i], row.field_lengths[i]);
        }
        header = XXH3_128bits_digest(state);
    }
    int pending = 0; /* the last record was skipped: its range ends before this record */
    while (status == HM_OK && got > 0 && (got = hm_csv_next(reader, &row)) > 0) {
        scan->records++;
        if (pending) {
            scan->skip_last[scan->skip_count - 1] = row.line - 1;
            pending = 0;
        }
        if (row.too_long) continue;
        pl_key key = record_key(kind, &header, &row, state);
        size_t slot;
        if (keyset_slot(seen, key, &slot) != HM_OK) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory remembering the records of %s", path);
            break;
        }
        uint32_t occurrence = ++seen->counts[slot];
        if (occurrence <= pl_keyset_count(loaded, key)) {
            status = push_skip(ctx, scan, row.line);
            scan->skipped++;
            pending = 1;
        }
    }
    if (status == HM_OK && got < 0) status = got;
    if (status == HM_OK) status = scan_take_keys(ctx, scan, seen);
    XXH3_freeState(state);
    pl_keyset_destroy(seen);
    hm_csv_close(reader);
    if (status != HM_OK) pl_scan_free(scan);
    return status;
}

void pl_scan_free(pl_scan *scan)
{
    free(scan->skip_first);
    free(scan->skip_last);
    free(scan->keys);
    free(scan->key_counts);
    memset(scan, 0, sizeof *scan);
}

int pl_keyset_add_scan(hm_ctx *ctx, pl_keyset *loaded, const pl_scan *scan)
{
    for (size_t i = 0; i < scan->key_count; i++)
        if (pl_keyset_raise(loaded, scan->keys[i], scan->key_counts[i]) != HM_OK)
            return hm_error(ctx, HM_ENOMEM, "out of memory remembering loaded records");
    return HM_OK;
}

/* Key files: "HMKEYS1\n", the number of keys (8 bytes), then per key its low and high halves and its count. */
static const char keys_magic[8] = {'H', 'M', 'K', 'E', 'Y', 'S', '1', '\n'};

int pl_keys_write(hm_ctx *ctx, const char *path, const pl_scan *scan)
{
    char temp[PATH_MAX];
    snprintf(temp, sizeof temp, "%s.tmp", path);
    FILE *file = fopen(temp, "wb");
    if (!file) return hm_error(ctx, HM_EIO, "%s: %s", temp, strerror(errno));
    uint64_t count = scan->key_count;
    int ok = fwrite(keys_magic, 1, sizeof keys_magic, file) == sizeof keys_magic &&
             fwrite(&count, sizeof count, 1, file) == 1;
    for (size_t i = 0; ok && i < scan->key_count; i++)
        ok = fwrite(&scan->keys[i].low, 8, 1, file) == 1 && fwrite(&scan->keys[i].high, 8, 1, file) == 1 &&
             fwrite(&scan->key_counts[i], 4, 1, file) == 1;
    if (fclose(file) != 0) ok = 0;
    if (!ok || rename(temp, path) != 0) {
        int saved = errno;
        remove(temp);
        return hm_error(ctx, HM_EIO, "%s: cannot write the record keys: %s", path, strerror(saved));
    }
    return HM_OK;
}

int pl_keys_read(hm_ctx *ctx, const char *path, pl_keyset *loaded, const pl_keyset *wanted)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return hm_error(ctx, HM_EIO, "%s: %s: the record keys of a loaded input are missing; run 'harmmap run' "
                        "again", path, strerror(errno));
    char magic[8];
    uint64_t count = 0;
    int status = HM_OK;
    if (fread(magic, 1, 8, file) != 8 || memcmp(magic, keys_magic, 8) != 0 || fread(&count, 8, 1, file) != 1)
        status = hm_error(ctx, HM_EFORMAT, "%s is not a harmmap record key file: run 'harmmap run' again", path);
    unsigned char entry[20];
    for (uint64_t i = 0; status == HM_OK && i < count; i++) {
        if (fread(entry, sizeof entry, 1, file) != 1) {
            status = hm_error(ctx, HM_EFORMAT, "%s is cut short: run 'harmmap run' again", path);
            break;
        }
        pl_key key;
        uint32_t n;
        memcpy(&key.low, entry, 8);
        memcpy(&key.high, entry + 8, 8);
        memcpy(&n, entry + 16, 4);
        if (wanted && pl_keyset_count(wanted, key) == 0) continue; /* no new record has it */
        if (pl_keyset_raise(loaded, key, n) != HM_OK) status = hm_error(ctx, HM_ENOMEM, "out of memory");
    }
    fclose(file);
    return status;
}

int pl_write_filtered_copy(hm_ctx *ctx, const char *path, const pl_scan *scan, const char *copy)
{
    FILE *in = fopen(path, "rb");
    if (!in) return hm_error(ctx, HM_EIO, "%s: %s", path, strerror(errno));
    FILE *out = fopen(copy, "wb");
    if (!out) {
        int saved = errno;
        fclose(in);
        return hm_error(ctx, HM_EIO, "%s: %s", copy, strerror(saved));
    }
    char *line = NULL;
    size_t size = 0, range = 0;
    unsigned long number = 0;
    ssize_t length;
    int ok = 1;
    while (ok && (length = getline(&line, &size, in)) >= 0) {
        number++;
        while (range < scan->skip_count && scan->skip_last[range] < number) range++;
        int skipped = range < scan->skip_count && scan->skip_first[range] <= number;
        if (skipped)
            ok = fputc('\n', out) != EOF;
        else
            ok = fwrite(line, 1, (size_t)length, out) == (size_t)length;
    }
    free(line);
    if (ferror(in)) ok = 0;
    fclose(in);
    if (fclose(out) != 0) ok = 0;
    if (!ok) return hm_error(ctx, HM_EIO, "%s: cannot write a filtered copy of %s", copy, path);
    return HM_OK;
}

/* ---- the project GeoPackage ---- */

/* The GeoPackage R-tree triggers call ST_IsEmpty and ST_MinX ... (GeoPackage 1.3, annex F.3); GDAL registers
 * them on its own connections, so a plain SQLite connection that writes to a layer must register them too.
 * Only what harmmap's point layers hold is needed: the GeoPackage header's envelope when there is one, else a
 * WKB point. */
static int blob_box(const unsigned char *blob, int size, double box[4], int *empty)
{
    if (!blob || size < 8 || blob[0] != 'G' || blob[1] != 'P') return 0;
    unsigned flags = blob[3];
    *empty = (flags >> 4) & 1;
    unsigned envelope = (flags >> 1) & 7;
    static const int envelope_bytes[] = {0, 32, 48, 48, 64};
    if (envelope > 4 || size < 8 + envelope_bytes[envelope]) return 0;
    int little = flags & 1;
    if (envelope) {
        for (int i = 0; i < 4; i++) {
            unsigned char raw[8];
            for (int b = 0; b < 8; b++) raw[b] = blob[8 + 8 * i + (little ? b : 7 - b)];
            double value;
            memcpy(&value, raw, 8); /* little-endian host (x86-64, arm64) */
            box[i] = value;          /* minx, maxx, miny, maxy */
        }
        return 1;
    }
    const unsigned char *wkb = blob + 8;
    int wkb_size = size - 8;
    if (wkb_size < 21) return 0;
    int wkb_little = wkb[0] == 1;
    uint32_t type = 0;
    for (int b = 0; b < 4; b++) type |= (uint32_t)wkb[1 + (wkb_little ? b : 3 - b)] << (8 * b);
    if (type % 1000 != 1) return 0; /* not a point and no envelope */
    double xy[2];
    for (int i = 0; i < 2; i++) {
        unsigned char raw[8];
        for (int b = 0; b < 8; b++) raw[b] = wkb[5 + 8 * i + (wkb_little ? b : 7 - b)];
        memcpy(&xy[i], raw, 8);
    }
    if (isnan(xy[0]) || isnan(xy[1])) *empty = 1;
    box[0] = box[1] = xy[0];
    box[2] = box[3] = xy[1];
    return 1;
}

static void st_is_empty(sqlite3_context *context, int argc, sqlite3_value **argv)
{
    (void)argc;
    double box[4];
    int empty = 0;
    if (!blob_box(sqlite3_value_blob(argv[0]), sqlite3_value_bytes(argv[0]), box, &empty)) {
        sqlite3_result_null(context);
        return;
    }
    sqlite3_result_int(context, empty);
}

static void st_bound(sqlite3_context *context, int argc, sqlite3_value **argv)
{
    (void)argc;
    int which = (int)(intptr_t)sqlite3_user_data(context); /* 0 minx, 1 maxx, 2 miny, 3 maxy */
    double box[4];
    int empty = 0;
    if (!blob_box(sqlite3_value_blob(argv[0]), sqlite3_value_bytes(argv[0]), box, &empty) || empty) {
        sqlite3_result_null(context);
        return;
    }
    sqlite3_result_double(context, box[which]);
}

static int open_project_gpkg(hm_ctx *ctx, const char *path, sqlite3 **db)
{
    *db = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        int status = hm_error(ctx, HM_ESQL, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return status;
    }
    sqlite3_busy_timeout(*db, 10000);
    static const char *const names[] = {"ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"};
    int rc = sqlite3_create_function(*db, "ST_IsEmpty", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, st_is_empty,
                                     NULL, NULL);
    for (int i = 0; i < 4 && rc == SQLITE_OK; i++)
        rc = sqlite3_create_function(*db, names[i], 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)(intptr_t)i,
                                     st_bound, NULL, NULL);
    if (rc != SQLITE_OK) {
        int status = hm_error(ctx, HM_ESQL, "%s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
        return status;
    }
    return HM_OK;
}

static int exec_sql(hm_ctx *ctx, sqlite3 *db, const char *path, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        int status = hm_error(ctx, HM_ESQL, "%s: %s (%.120s)", path, message ? message : sqlite3_errmsg(db), sql);
        sqlite3_free(message);
        return status;
    }
    return HM_OK;
}

static int table_exists(sqlite3 *db, const char *schema, const char *table)
{
    char *sql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_master WHERE type = 'table' AND name = %Q", schema,
                                table);
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    return found;
}

int pl_gpkg_rename_sources(hm_ctx *ctx, const char *gpkg, const char *const *from, const char *const *to,
                           size_t count)
{
    if (!count) return HM_OK;
    sqlite3 *db = NULL;
    int status = open_project_gpkg(ctx, gpkg, &db);
    if (status == HM_OK) status = exec_sql(ctx, db, gpkg, "BEGIN IMMEDIATE");
    static const char *const tables[][2] = {
        {"incidents", "source_file"}, {"intelligence", "source_file"}, {"rejects", "source_file"}, {"runs", "input"}};
    for (size_t t = 0; t < 4 && status == HM_OK; t++) {
        if (!table_exists(db, "main", tables[t][0])) continue;
        for (size_t i = 0; i < count && status == HM_OK; i++) {
            char *sql = sqlite3_mprintf("UPDATE \"%w\" SET \"%w\" = %Q WHERE \"%w\" = %Q", tables[t][0],
                                        tables[t][1], to[i], tables[t][1], from[i]);
            status = sql ? exec_sql(ctx, db, gpkg, sql) : hm_error(ctx, HM_ENOMEM, "out of memory");
            sqlite3_free(sql);
        }
    }
    if (status == HM_OK) status = exec_sql(ctx, db, gpkg, "COMMIT");
    sqlite3_close(db);
    return status;
}

int pl_gpkg_index_record_ids(hm_ctx *ctx, const char *gpkg)
{
    sqlite3 *db = NULL;
    int status = open_project_gpkg(ctx, gpkg, &db);
    static const char *const layers[] = {"incidents", "intelligence"};
    for (size_t l = 0; l < 2 && status == HM_OK; l++) {
        if (!table_exists(db, "main", layers[l])) continue;
        char *sql = sqlite3_mprintf("CREATE INDEX IF NOT EXISTS \"%w_record_id\" ON \"%w\"(record_id) WHERE "
                                    "record_id IS NOT NULL",
                                    layers[l], layers[l]);
        status = sql ? exec_sql(ctx, db, gpkg, sql) : hm_error(ctx, HM_ENOMEM, "out of memory");
        sqlite3_free(sql);
    }
    sqlite3_close(db);
    return status;
}

/* ---- the merge ---- */

typedef struct column_list {
    char **names;
    size_t count;
} column_list;

static void free_columns(column_list *list)
{
    for (size_t i = 0; i < list->count; i++) free(list->names[i]);
    free(list->names);
    memset(list, 0, sizeof *list);
}

static int read_columns(hm_ctx *ctx, sqlite3 *db, const char *schema, const char *table, column_list *list)
{
    memset(list, 0, sizeof *list);
    char *sql = sqlite3_mprintf("PRAGMA \"%w\".table_info(\"%w\")", schema, table);
    sqlite3_stmt *stmt = NULL;
    int status = HM_OK;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_free(sql);
        return hm_error(ctx, HM_ESQL, "reading the columns of %s.%s: %s", schema, table, sqlite3_errmsg(db));
    }
    sqlite3_free(sql);
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        char **names = realloc(list->names, (list->count + 1) * sizeof *names);
        if (!names) {
            status = hm_error(ctx, HM_ENOMEM, "out of memory");
            break;
        }
        list->names = names;
        list->names[list->count] = strdup((const char *)sqlite3_column_text(stmt, 1));
        if (!list->names[list->count]) status = hm_error(ctx, HM_ENOMEM, "out of memory");
        else list->count++;
    }
    sqlite3_finalize(stmt);
    if (status != HM_OK) free_columns(list);
    return status;
}

static long column_index(const column_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->names[i], name) == 0) return (long)i;
    return -1;
}

/* The columns of `table` must be the same in both files: the project was made by this version of geocode. */
static int same_columns(hm_ctx *ctx, sqlite3 *db, const char *project, const char *table, column_list *out)
{
    column_list fresh;
    int status = read_columns(ctx, db, "main", table, out);
    if (status != HM_OK) return status;
    status = read_columns(ctx, db, "fresh", table, &fresh);
    if (status != HM_OK) {
        free_columns(out);
        return status;
    }
    int same = out->count == fresh.count && out->count > 0;
    for (size_t i = 0; same && i < out->count; i++) same = strcmp(out->names[i], fresh.names[i]) == 0;
    free_columns(&fresh);
    if (!same) {
        free_columns(out);
        return hm_error(ctx, HM_EFORMAT, "%s: layer %s was written by another version of harmmap geocode (its "
                        "columns differ): run 'harmmap run' to rebuild the outputs", project, table);
    }
    return HM_OK;
}

/* A record that becomes a reject during the merge (its id was loaded before, in a format where ids are keys). */
typedef struct converted {
    char *source_file;
    long long source_line;
    int kind; /* 0 incidents, 1 intelligence */
    char *record_id;
    char *placement;
    int no_beat; /* it was placed in a ward but in no beat */
    char *raw;
} converted;

/* One row to add to rejects, from the fresh file or converted. */
typedef struct new_reject {
    size_t input; /* index of its input in the fresh runs table */
    long long line;
    int kind;
    sqlite3_int64 fresh_fid; /* > 0: copy this fresh row; 0: build from `from` */
    const converted *from;
} new_reject;

typedef struct input_info {
    char *path;
    char *format;
    long long flagged;   /* rows flagged repeated_id here */
    long long placed_out, outside_out, snapped_out, no_beat_out, rejected_in; /* converted rows */
} input_info;

typedef struct merge_run {
    hm_ctx *ctx;
    sqlite3 *db;
    const char *path;
    input_info *inputs;
    size_t input_count;
    converted *converted;
    size_t converted_count, converted_capacity;
    int has_beats;
    pl_merge_counts *counts;
} merge_run;

static long input_of(const merge_run *run, const char *path)
{
    for (size_t i = 0; path && i < run->input_count; i++)
        if (strcmp(run->inputs[i].path, path) == 0) return (long)i;
    return -1;
}

static int read_fresh_inputs(merge_run *run)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(run->db, "SELECT input, format FROM fresh.runs ORDER BY fid", -1, &stmt, NULL) != SQLITE_OK)
        return hm_error(run->ctx, HM_ESQL, "reading the new runs: %s", sqlite3_errmsg(run->db));
    int status = HM_OK;
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        input_info *grown = realloc(run->inputs, (run->input_count + 1) * sizeof *grown);
        if (!grown) {
            status = hm_error(run->ctx, HM_ENOMEM, "out of memory");
            break;
        }
        run->inputs = grown;
        input_info *info = &run->inputs[run->input_count];
        memset(info, 0, sizeof *info);
        const char *path = (const char *)sqlite3_column_text(stmt, 0);
        const char *format = (const char *)sqlite3_column_text(stmt, 1);
        info->path = strdup(path ? path : "");
        info->format = strdup(format ? format : "");
        if (!info->path || !info->format) status = hm_error(run->ctx, HM_ENOMEM, "out of memory");
        run->input_count++;
    }
    sqlite3_finalize(stmt);
    return status;
}

static int push_converted(merge_run *run, const converted *item)
{
    if (run->converted_count == run->converted_capacity) {
        size_t capacity = run->converted_capacity ? run->converted_capacity * 2 : 16;
        converted *grown = realloc(run->converted, capacity * sizeof *grown);
        if (!grown) return hm_error(run->ctx, HM_ENOMEM, "out of memory");
        run->converted = grown;
        run->converted_capacity = capacity;
    }
    run->converted[run->converted_count++] = *item;
    return HM_OK;
}

static char *column_strdup(sqlite3_stmt *stmt, long column)
{
    const char *text = column >= 0 ? (const char *)sqlite3_column_text(stmt, (int)column) : NULL;
    return text ? strdup(text) : NULL;
}

/* Appends the fresh layer's rows to the project's, renumbered after the project's last fid. */
static int merge_layer(merge_run *run, const char *layer, int kind, double extent[4], int *has_extent,
                       long long *added)
{
    hm_ctx *ctx = run->ctx;
    sqlite3 *db = run->db;
    column_list columns;
    int status = same_columns(ctx, db, run->path, layer, &columns);
    if (status != HM_OK) return status;
    long fid_column = column_index(&columns, "fid"), geom_column = column_index(&columns, "geom");
    long id_column = column_index(&columns, "record_id"), source_column = column_index(&columns, "source_file");
    long line_column = column_index(&columns, "source_line"), placement_column = column_index(&columns, "placement");
    long repeated_column = column_index(&columns, "repeated_id"), beat_column = column_index(&columns, "beat_code");
    if (fid_column != 0 || geom_column < 0 || id_column < 0 || source_column < 0 || line_column < 0 ||
        placement_column < 0) {
        free_columns(&columns);
        return hm_error(ctx, HM_EFORMAT, "%s: layer %s lacks the columns geocode writes: run 'harmmap run' again",
                        run->path, layer);
    }
    sqlite3_int64 next_fid = 1;
    sqlite3_stmt *select = NULL, *exists = NULL, *insert = NULL, *max_fid = NULL;
    char *sql = sqlite3_mprintf("SELECT coalesce(max(fid), 0) FROM main.\"%w\"", layer);
    if (sql && sqlite3_prepare_v2(db, sql, -1, &max_fid, NULL) == SQLITE_OK && sqlite3_step(max_fid) == SQLITE_ROW)
        next_fid = sqlite3_column_int64(max_fid, 0) + 1;
    else
        status = hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
    sqlite3_finalize(max_fid);
    sqlite3_free(sql);

    sqlite3_str *text = sqlite3_str_new(db);
    sqlite3_str_appendf(text, "INSERT INTO main.\"%w\" (", layer);
    for (size_t i = 0; i < columns.count; i++) sqlite3_str_appendf(text, "%s\"%w\"", i ? "," : "", columns.names[i]);
    sqlite3_str_appendall(text, ") VALUES (");
    for (size_t i = 0; i < columns.count; i++) sqlite3_str_appendf(text, "%s?%d", i ? "," : "", (int)i + 1);
    sqlite3_str_appendall(text, ")");
    sql = sqlite3_str_finish(text);
    if (status == HM_OK && (!sql || sqlite3_prepare_v2(db, sql, -1, &insert, NULL) != SQLITE_OK))
        status = hm_error(ctx, HM_ESQL, "%s: preparing the insert into %s: %s", run->path, layer, sqlite3_errmsg(db));
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT 1 FROM main.\"%w\" WHERE record_id = ?1 LIMIT 1", layer);
    if (status == HM_OK && (!sql || sqlite3_prepare_v2(db, sql, -1, &exists, NULL) != SQLITE_OK))
        status = hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT * FROM fresh.\"%w\" ORDER BY fid", layer);
    if (status == HM_OK && (!sql || sqlite3_prepare_v2(db, sql, -1, &select, NULL) != SQLITE_OK))
        status = hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
    sqlite3_free(sql);

    int step = SQLITE_DONE;
    while (status == HM_OK && (step = sqlite3_step(select)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(select, (int)id_column);
        const char *source = (const char *)sqlite3_column_text(select, (int)source_column);
        long input = input_of(run, source);
        if (input < 0) {
            status = hm_error(ctx, HM_EINTERNAL, "%s: a new record names an input (%s) the new runs table lacks",
                              run->path, source ? source : "NULL");
            break;
        }
        int loaded_before = 0;
        if (id && *id) {
            sqlite3_reset(exists);
            sqlite3_bind_text(exists, 1, id, -1, SQLITE_TRANSIENT);
            int found = sqlite3_step(exists);
            if (found != SQLITE_ROW && found != SQLITE_DONE) {
                status = hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
                break;
            }
            loaded_before = found == SQLITE_ROW;
        }
        const char *format = run->inputs[input].format;
        int police_uk = strncmp(format, "police.uk", 9) == 0;
        if (loaded_before && !police_uk) {
            /* geocode rejects a repeated id where ids are the user's key (generic and intelligence files). */
            converted item = {0};
            item.source_file = column_strdup(select, source_column);
            item.source_line = sqlite3_column_int64(select, (int)line_column);
            item.kind = kind;
            item.record_id = strdup(id);
            item.placement = column_strdup(select, placement_column);
            item.no_beat = run->has_beats && beat_column >= 0 &&
                           sqlite3_column_type(select, (int)beat_column) == SQLITE_NULL;
            if (!item.source_file || !item.record_id || !item.placement) {
                free(item.source_file);
                free(item.record_id);
                free(item.placement);
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            input_info *info = &run->inputs[input];
            if (strcmp(item.placement, "outside_area") == 0) {
                info->outside_out++;
            } else {
                info->placed_out++;
                if (strcmp(item.placement, "snapped") == 0) info->snapped_out++;
                if (item.no_beat) info->no_beat_out++;
            }
            info->rejected_in++;
            run->counts->rejected_duplicates++;
            status = push_converted(run, &item);
            continue;
        }
        sqlite3_reset(insert);
        for (size_t i = 0; i < columns.count; i++)
            sqlite3_bind_value(insert, (int)i + 1, sqlite3_column_value(select, (int)i));
        sqlite3_bind_int64(insert, 1, next_fid++);
        if (loaded_before && repeated_column >= 0 && sqlite3_column_int(select, (int)repeated_column) == 0) {
            /* data.police.uk: the Crime ID appeared on an earlier row of the run (kept, flagged). */
            sqlite3_bind_int(insert, (int)repeated_column + 1, 1);
            run->inputs[input].flagged++;
            run->counts->flagged_repeated++;
        }
        if (sqlite3_step(insert) != SQLITE_DONE) {
            status = hm_error(ctx, HM_ESQL, "%s: adding a record to %s: %s", run->path, layer, sqlite3_errmsg(db));
            break;
        }
        (*added)++;
        double box[4];
        int empty = 0;
        if (sqlite3_column_type(select, (int)geom_column) == SQLITE_BLOB &&
            blob_box(sqlite3_column_blob(select, (int)geom_column), sqlite3_column_bytes(select, (int)geom_column),
                     box, &empty) &&
            !empty) {
            if (!*has_extent) {
                extent[0] = box[0], extent[1] = box[2], extent[2] = box[1], extent[3] = box[3];
                *has_extent = 1;
            } else {
                if (box[0] < extent[0]) extent[0] = box[0];
                if (box[2] < extent[1]) extent[1] = box[2];
                if (box[1] > extent[2]) extent[2] = box[1];
                if (box[3] > extent[3]) extent[3] = box[3];
            }
        }
    }
    if (status == HM_OK && step != SQLITE_DONE)
        status = hm_error(ctx, HM_ESQL, "%s: reading the new %s: %s", run->path, layer, sqlite3_errmsg(db));
    sqlite3_finalize(select);
    sqlite3_finalize(exists);
    sqlite3_finalize(insert);
    free_columns(&columns);
    return status;
}

/* The raw text of the converted records, read again from their files (only these few lines are kept). */
static int read_converted_raw(merge_run *run)
{
    for (size_t i = 0; i < run->converted_count; i++) {
        converted *item = &run->converted[i];
        if (item->raw) continue;
        hm_csv_reader *reader = NULL;
        hm_csv_options options = {',', 0};
        int status = hm_csv_open(run->ctx, item->source_file, &options, &reader);
        if (status != HM_OK) return status;
        hm_csv_record row;
        int got, out_of_memory = 0;
        while (!out_of_memory && (got = hm_csv_next(reader, &row)) > 0)
            for (size_t j = i; j < run->converted_count; j++) {
                converted *other = &run->converted[j];
                if (!other->raw && strcmp(other->source_file, item->source_file) == 0 &&
                    (unsigned long)other->source_line == row.line) {
                    other->raw = strdup(row.raw);
                    if (!other->raw) out_of_memory = 1;
                }
            }
        hm_csv_close(reader);
        if (out_of_memory) return hm_error(run->ctx, HM_ENOMEM, "out of memory");
        if (got < 0) return got;
        if (!item->raw)
            return hm_error(run->ctx, HM_EINTERNAL, "%s:%lld: the record is no longer there: the file changed "
                            "during the update; run 'harmmap run'", item->source_file, item->source_line);
    }
    return HM_OK;
}

static int compare_new_rejects(const void *a, const void *b)
{
    const new_reject *x = a, *y = b;
    if (x->kind != y->kind) return x->kind - y->kind;
    if (x->input != y->input) return x->input < y->input ? -1 : 1;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->fresh_fid < y->fresh_fid ? -1 : x->fresh_fid > y->fresh_fid;
}

/* Makes room for `count` rows of kind `incidents` before the project's intelligence rows of `table` (rejects or
 * runs: geocode writes every incident file's rows before any intelligence file's). Returns the first free fid. */
static int open_gap(merge_run *run, const char *table, long long count, sqlite3_int64 *first_fid)
{
    sqlite3_stmt *stmt = NULL;
    char *sql = sqlite3_mprintf("SELECT coalesce(max(fid), 0) FROM main.\"%w\" WHERE kind = 'incidents'", table);
    int status = HM_OK;
    if (sql && sqlite3_prepare_v2(run->db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        *first_fid = sqlite3_column_int64(stmt, 0) + 1;
    else
        status = hm_error(run->ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(run->db));
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    if (status != HM_OK || count == 0) return status;
    /* Two steps, through negative fids, so that no fid is ever taken twice during the UPDATE. */
    sql = sqlite3_mprintf("UPDATE main.\"%w\" SET fid = -(fid + %lld) WHERE kind <> 'incidents';"
                          "UPDATE main.\"%w\" SET fid = -fid WHERE fid < 0",
                          table, count, table);
    status = sql ? exec_sql(run->ctx, run->db, run->path, sql) : hm_error(run->ctx, HM_ENOMEM, "out of memory");
    sqlite3_free(sql);
    return status;
}

static int next_fid(merge_run *run, const char *table, sqlite3_int64 *fid)
{
    sqlite3_stmt *stmt = NULL;
    char *sql = sqlite3_mprintf("SELECT coalesce(max(fid), 0) + 1 FROM main.\"%w\"", table);
    int status = HM_OK;
    if (sql && sqlite3_prepare_v2(run->db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        *fid = sqlite3_column_int64(stmt, 0);
    else
        status = hm_error(run->ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(run->db));
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    return status;
}

static int merge_rejects(merge_run *run)
{
    hm_ctx *ctx = run->ctx;
    sqlite3 *db = run->db;
    column_list columns;
    int status = same_columns(ctx, db, run->path, "rejects", &columns);
    if (status != HM_OK) return status;
    static const char *const expected[] = {"fid", "source_file", "source_line", "kind", "reason", "field", "detail",
                                           "raw"};
    int layout_ok = columns.count == 8;
    for (size_t i = 0; layout_ok && i < 8; i++) layout_ok = strcmp(columns.names[i], expected[i]) == 0;
    free_columns(&columns);
    if (!layout_ok)
        return hm_error(ctx, HM_EFORMAT, "%s: table rejects has other columns than this harmmap writes: run "
                        "'harmmap run' again", run->path);
    status = read_converted_raw(run);
    if (status != HM_OK) return status;

    size_t fresh_count = 0;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fid, source_file, source_line, kind FROM fresh.rejects ORDER BY fid", -1,
                           &stmt, NULL) != SQLITE_OK)
        return hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
    new_reject *list = NULL;
    size_t count = 0, capacity = 0;
    while (status == HM_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            new_reject *grown = realloc(list, capacity * sizeof *grown);
            if (!grown) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        const char *kind = (const char *)sqlite3_column_text(stmt, 3);
        long input = input_of(run, (const char *)sqlite3_column_text(stmt, 1));
        list[count++] = (new_reject){input < 0 ? run->input_count : (size_t)input, sqlite3_column_int64(stmt, 2),
                                     kind && strcmp(kind, "intelligence") == 0, sqlite3_column_int64(stmt, 0), NULL};
        fresh_count++;
    }
    sqlite3_finalize(stmt);
    for (size_t i = 0; status == HM_OK && i < run->converted_count; i++) {
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            new_reject *grown = realloc(list, capacity * sizeof *grown);
            if (!grown) {
                status = hm_error(ctx, HM_ENOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        const converted *item = &run->converted[i];
        long input = input_of(run, item->source_file);
        list[count++] = (new_reject){(size_t)input, item->source_line, item->kind, 0, item};
    }
    if (status == HM_OK && count) qsort(list, count, sizeof *list, compare_new_rejects);
    long long incident_count = 0;
    for (size_t i = 0; i < count; i++) incident_count += list[i].kind == 0;

    sqlite3_int64 fid = 0;
    sqlite3_stmt *copy = NULL, *build = NULL;
    if (status == HM_OK) status = open_gap(run, "rejects", incident_count, &fid);
    if (status == HM_OK &&
        (sqlite3_prepare_v2(db, "INSERT INTO main.rejects (fid, source_file, source_line, kind, reason, field, "
                                "detail, raw) SELECT ?1, source_file, source_line, kind, reason, field, detail, raw "
                                "FROM fresh.rejects WHERE fid = ?2",
                            -1, &copy, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(db, "INSERT INTO main.rejects (fid, source_file, source_line, kind, reason, field, "
                                "detail, raw) VALUES (?1, ?2, ?3, ?4, 'duplicate_id', 'id', ?5, ?6)",
                            -1, &build, NULL) != SQLITE_OK))
        status = hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
    int intelligence_started = 0; /* intelligence rejects go after every other row */
    for (size_t i = 0; status == HM_OK && i < count; i++) {
        if (list[i].kind == 1 && !intelligence_started) {
            intelligence_started = 1;
            status = next_fid(run, "rejects", &fid);
        }
        if (status != HM_OK) break;
        sqlite3_stmt *insert = list[i].from ? build : copy;
        sqlite3_reset(insert);
        sqlite3_bind_int64(insert, 1, fid++);
        if (list[i].from) {
            const converted *item = list[i].from;
            /* The same words as geocode's duplicate_id reject, so that an update equals a full run. */
            char detail[256];
            snprintf(detail, sizeof detail, "record id '%.80s' was read earlier in this run: ids must be unique",
                     item->record_id);
            sqlite3_bind_text(insert, 2, item->source_file, -1, SQLITE_STATIC);
            sqlite3_bind_int64(insert, 3, item->source_line);
            sqlite3_bind_text(insert, 4, item->kind ? "intelligence" : "incidents", -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 5, detail, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(insert, 6, item->raw, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(insert, 2, list[i].fresh_fid);
        }
        if (sqlite3_step(insert) != SQLITE_DONE)
            status = hm_error(ctx, HM_ESQL, "%s: adding a reject: %s", run->path, sqlite3_errmsg(db));
        else
            run->counts->rejects_added++;
    }
    sqlite3_finalize(copy);
    sqlite3_finalize(build);
    free(list);
    return status;
}

static int merge_runs(merge_run *run)
{
    hm_ctx *ctx = run->ctx;
    sqlite3 *db = run->db;
    column_list columns;
    int status = same_columns(ctx, db, run->path, "runs", &columns);
    if (status != HM_OK) return status;
    long input_column = column_index(&columns, "input"), kind_column = column_index(&columns, "kind");
    static const char *const adjusted[] = {"placed", "outside_area", "rejected", "snapped", "no_beat",
                                           "repeated_ids"};
    long adjusted_column[6];
    for (int i = 0; i < 6; i++) adjusted_column[i] = column_index(&columns, adjusted[i]);
    if (input_column < 0 || kind_column < 0 || adjusted_column[0] < 0 || adjusted_column[1] < 0 ||
        adjusted_column[2] < 0) {
        free_columns(&columns);
        return hm_error(ctx, HM_EFORMAT, "%s: table runs lacks the columns geocode writes: run 'harmmap run' again",
                        run->path);
    }
    long long incident_rows = 0;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM fresh.runs WHERE kind = 'incidents'", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        incident_rows = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_int64 fid = 0;
    status = open_gap(run, "runs", incident_rows, &fid);

    sqlite3_str *text = sqlite3_str_new(db);
    sqlite3_str_appendall(text, "INSERT INTO main.runs (");
    for (size_t i = 0; i < columns.count; i++) sqlite3_str_appendf(text, "%s\"%w\"", i ? "," : "", columns.names[i]);
    sqlite3_str_appendall(text, ") VALUES (");
    for (size_t i = 0; i < columns.count; i++) sqlite3_str_appendf(text, "%s?%d", i ? "," : "", (int)i + 1);
    sqlite3_str_appendall(text, ")");
    char *sql = sqlite3_str_finish(text);
    sqlite3_stmt *insert = NULL, *select = NULL;
    if (status == HM_OK && (!sql || sqlite3_prepare_v2(db, sql, -1, &insert, NULL) != SQLITE_OK ||
                            sqlite3_prepare_v2(db, "SELECT * FROM fresh.runs ORDER BY fid", -1, &select, NULL) !=
                                SQLITE_OK))
        status = hm_error(ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(db));
    sqlite3_free(sql);
    int previous_kind = 0;
    while (status == HM_OK && sqlite3_step(select) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(select, (int)kind_column);
        int is_intelligence = kind && strcmp(kind, "intelligence") == 0;
        if (is_intelligence && !previous_kind) fid = 0;
        previous_kind = is_intelligence;
        if (fid == 0) status = next_fid(run, "runs", &fid);
        if (status != HM_OK) break;
        long input = input_of(run, (const char *)sqlite3_column_text(select, (int)input_column));
        sqlite3_reset(insert);
        for (size_t i = 0; i < columns.count; i++)
            sqlite3_bind_value(insert, (int)i + 1, sqlite3_column_value(select, (int)i));
        sqlite3_bind_int64(insert, 1, fid++);
        if (input >= 0) {
            const input_info *info = &run->inputs[input];
            long long change[6] = {-info->placed_out, -info->outside_out, info->rejected_in, -info->snapped_out,
                                   -info->no_beat_out, info->flagged};
            for (int c = 0; c < 6; c++)
                if (adjusted_column[c] >= 0 && change[c])
                    sqlite3_bind_int64(insert, (int)adjusted_column[c] + 1,
                                       sqlite3_column_int64(select, (int)adjusted_column[c]) + change[c]);
        }
        if (sqlite3_step(insert) != SQLITE_DONE)
            status = hm_error(ctx, HM_ESQL, "%s: adding a runs row: %s", run->path, sqlite3_errmsg(db));
    }
    sqlite3_finalize(select);
    sqlite3_finalize(insert);
    free_columns(&columns);
    return status;
}

/* Extents, change times, feature counts (kept by GDAL's triggers) and AUTOINCREMENT sequences. */
static int finish_contents(merge_run *run, const char *layer, const double extent[4], int has_extent, int changed)
{
    if (!changed) return HM_OK;
    const char *pinned = getenv("OGR_CURRENT_DATE");
    char *sql = sqlite3_mprintf(
        "UPDATE main.gpkg_contents SET last_change = strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', %Q) WHERE table_name = %Q;"
        "UPDATE main.sqlite_sequence SET seq = (SELECT max(fid) FROM main.\"%w\") WHERE name = %Q AND "
        "(SELECT max(fid) FROM main.\"%w\") IS NOT NULL",
        pinned && *pinned ? pinned : "now", layer, layer, layer, layer);
    int status = sql ? exec_sql(run->ctx, run->db, run->path, sql) : hm_error(run->ctx, HM_ENOMEM, "out of memory");
    sqlite3_free(sql);
    if (status != HM_OK || !has_extent) return status;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(run->db,
                           "UPDATE main.gpkg_contents SET min_x = CASE WHEN min_x IS NULL OR ?1 < min_x THEN ?1 ELSE "
                           "min_x END, min_y = CASE WHEN min_y IS NULL OR ?2 < min_y THEN ?2 ELSE min_y END, max_x = "
                           "CASE WHEN max_x IS NULL OR ?3 > max_x THEN ?3 ELSE max_x END, max_y = CASE WHEN max_y IS "
                           "NULL OR ?4 > max_y THEN ?4 ELSE max_y END WHERE table_name = ?5",
                           -1, &stmt, NULL) != SQLITE_OK)
        return hm_error(run->ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(run->db));
    for (int i = 0; i < 4; i++) sqlite3_bind_double(stmt, i + 1, extent[i]);
    sqlite3_bind_text(stmt, 5, layer, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) status = hm_error(run->ctx, HM_ESQL, "%s: %s", run->path, sqlite3_errmsg(run->db));
    sqlite3_finalize(stmt);
    return status;
}

/* The merge writes into the caller's working copy of the project's GeoPackage (pipeline.c: one copy per update,
 * which aggregate and the styles fill too, renamed over harmmap.gpkg once at the end), so it needs no copy or
 * rename of its own. */
int pl_gpkg_merge(hm_ctx *ctx, const char *project_gpkg, const char *fresh, pl_merge_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    merge_run run = {0};
    run.ctx = ctx;
    run.path = project_gpkg;
    run.counts = counts;
    int status = open_project_gpkg(ctx, project_gpkg, &run.db);
    if (status != HM_OK) return status;
    /* Each new record costs an index lookup and an insert into the R-tree: with SQLite's default 2 MB page cache
     * those pages are read again and again (measured on a million records: 1.8 s for 6,000 new ones; 1.2 s with
     * 64 MB). The bulk-loaded R-tree keeps free cells in its nodes (gpkg.c, RTREE_SLACK_PERCENT), so that the
     * new points rarely split one: 1.2 s -> 0.7 s.
     * No rollback journal and no fsync: the file is the update's private working copy, which the pipeline
     * removes when anything fails (a kill leaves it as a harmmap.tmp-PID.gpkg that the next run removes) and
     * flushes before renaming it over harmmap.gpkg. The journal bought nothing but a copy of every page the
     * merge changes, written and flushed at the commit: 0.7 s -> 0.25 s. So after a failure the file is
     * undefined (ROLLBACK cannot undo without a journal) and must be thrown away, as pipeline_internal.h says. */
    sqlite3_exec(run.db, "PRAGMA main.cache_size = -65536; PRAGMA main.journal_mode = OFF; PRAGMA main.synchronous "
                         "= OFF",
                 NULL, NULL, NULL);
    char *sql = sqlite3_mprintf("ATTACH %Q AS fresh", fresh);
    status = sql ? exec_sql(ctx, run.db, project_gpkg, sql) : hm_error(ctx, HM_ENOMEM, "out of memory");
    sqlite3_free(sql);
    if (status == HM_OK) status = exec_sql(ctx, run.db, project_gpkg, "BEGIN IMMEDIATE");
    static const char *const tables[] = {"incidents", "intelligence", "rejects", "runs"};
    for (size_t t = 0; t < 4 && status == HM_OK; t++)
        if (!table_exists(run.db, "main", tables[t]) || !table_exists(run.db, "fresh", tables[t]))
            status = hm_error(ctx, HM_EFORMAT, "%s: table %s is missing: run 'harmmap run' to rebuild the outputs",
                              table_exists(run.db, "main", tables[t]) ? fresh : project_gpkg, tables[t]);
    run.has_beats = table_exists(run.db, "main", "beats");
    if (status == HM_OK) status = read_fresh_inputs(&run);
    double extent[2][4];
    int has_extent[2] = {0, 0};
    long long added[2] = {0, 0};
    for (int kind = 0; kind < 2 && status == HM_OK; kind++)
        status = merge_layer(&run, tables[kind], kind, extent[kind], &has_extent[kind], &added[kind]);
    if (status == HM_OK) status = merge_rejects(&run);
    if (status == HM_OK) status = merge_runs(&run);
    for (int kind = 0; kind < 2 && status == HM_OK; kind++)
        status = finish_contents(&run, tables[kind], extent[kind], has_extent[kind], added[kind] > 0);
    if (status == HM_OK) status = finish_contents(&run, "rejects", NULL, 0, counts->rejects_added > 0);
    if (status == HM_OK) status = finish_contents(&run, "runs", NULL, 0, run.input_count > 0);
    if (status == HM_OK) status = exec_sql(ctx, run.db, project_gpkg, "COMMIT");
    if (status != HM_OK) sqlite3_exec(run.db, "ROLLBACK", NULL, NULL, NULL);
    counts->incidents_added = added[0];
    counts->intelligence_added = added[1];
    sqlite3_close(run.db);
    for (size_t i = 0; i < run.input_count; i++) {
        free(run.inputs[i].path);
        free(run.inputs[i].format);
    }
    free(run.inputs);
    for (size_t i = 0; i < run.converted_count; i++) {
        free(run.converted[i].source_file);
        free(run.converted[i].record_id);
        free(run.converted[i].placement);
        free(run.converted[i].raw);
    }
    free(run.converted);
    return status;
}
