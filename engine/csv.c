/*
 * csv.c - see csv.h.
 *
 * How a record is read. The input is read in large blocks into one window buffer and cut into physical lines
 * with memchr('\n'). Each line's content (without its CR/LF) is given to libcsv; then:
 *   - if the line ends outside a quoted field (decided by quote_step below, for lines that contain a quote),
 *     csv_fini ends the record, exactly as a line ending would. For a record on one line (nearly all of them)
 *     the raw text is the line itself, still in the window, NUL-terminated in place;
 *   - otherwise a quoted field holds the line break: the line is appended to a raw buffer, its ending is kept
 *     to be given to libcsv (as field content) before the next line, and the next line continues the record.
 * The record's first line number is therefore exact even across quoted line breaks, which is what a reject
 * row needs. Only the reader ends records: libcsv is never shown a line ending as a row terminator (a CR
 * inside a line is data, and a line ending inside a quoted field is given as field content with a "never a
 * terminator" test), so libcsv's idea of the row can never drift from the reader's, even on malformed input.
 *
 * Field values are copied into one arena that is reused from record to record, so the hot path makes no
 * allocation once the buffers have grown to the longest record.
 *
 * Records longer than max_record_bytes. The line is not given to libcsv (whose field buffer would otherwise
 * grow without bound): the record is returned with too_long set and the first max_record_bytes of its raw
 * text, and the next call skips the rest of it with a small state machine that knows where a record ends
 * (quote_step, below), so that a line break inside quotes does not end the skipped record. Reading resumes at
 * the following record.
 *
 * libcsv behaviours we rely on (libcsv 3.0): spaces and tabs around unquoted fields and after a closing quote
 * are trimmed; a quoted field may contain the delimiter and ""; csv_fini ends the last field and the row from
 * any state, exactly as a line ending would, and resets the parser. Lines of blanks are skipped before libcsv
 * sees them (csv_fini would end nothing and the record would have no fields).
 */
#include "csv.h"

/* libcsv's csv.h, by full path (see engine/CMakeLists.txt): our own csv.h has the same name. */
#include HM_LIBCSV_HEADER
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HM_CSV_DEFAULT_MAX_RECORD_BYTES ((size_t)1 << 20)
#define HM_CSV_READ_BLOCK_BYTES ((size_t)256 << 10)
/* libcsv grows its field buffer linearly by this many bytes (128 by default). */
#define HM_CSV_LIBCSV_BLOCK_BYTES ((size_t)16 << 10)

enum { LINE_EOF = 0, LINE_OK = 1, LINE_TOO_LONG = 2 };

struct hm_csv_reader {
    hm_ctx *ctx;
    char *path;
    int fd;
    int owns_fd;
    struct csv_parser parser;
    int parser_ready;
    unsigned char delimiter;
    size_t max_record_bytes;

    /* The window: buffer[start, end) has been read and not yet consumed; buffer has capacity + 1 bytes so
     * that a final line without a line ending can be NUL-terminated in place. */
    char *buffer;
    size_t capacity;
    size_t start, end;
    size_t scanned; /* bytes from start already known to contain no '\n' */
    int at_eof;
    int bom_checked;
    unsigned long lines_read; /* physical lines consumed so far, i.e. the number of the last one */

    /* The record being assembled. */
    char *field_bytes; /* field values, each followed by a NUL */
    size_t field_bytes_capacity, field_bytes_used;
    size_t *field_offsets;
    size_t *field_lengths;
    const char **field_pointers;
    size_t field_capacity, field_count;
    char *raw; /* raw text of records that span lines, or of a too long record */
    size_t raw_capacity, raw_used, raw_last_ending;
    int out_of_memory;
    int quote_state;        /* quote_state after the record's lines so far, when it spans lines */
    char pending_ending[2]; /* the line ending inside a quoted field, not yet given to libcsv */
    size_t pending_ending_length;

    /* Set when a too long record was returned: the next call skips the rest of it first. */
    int skip_pending;
    int skip_in_quotes;
};

/* libcsv's "is this a row terminator" test when CR or LF bytes are data: nothing ends a row but csv_fini. */
static int never_term(unsigned char c)
{
    (void)c;
    return 0;
}

/* For tab- or space-delimited files: the delimiter must not be trimmed as white space. */
static int is_space_not_tab(unsigned char c)
{
    return c == ' ';
}

static int is_tab_not_space(unsigned char c)
{
    return c == '\t';
}

static int grow(void **pointer, size_t *capacity, size_t needed, size_t element_size)
{
    if (needed <= *capacity) return 0;
    size_t new_capacity = *capacity ? *capacity : 16;
    while (new_capacity < needed)
        new_capacity *= 2;
    void *grown = realloc(*pointer, new_capacity * element_size);
    if (!grown) return -1;
    *pointer = grown;
    *capacity = new_capacity;
    return 0;
}

static void on_field(void *data, size_t length, void *user)
{
    hm_csv_reader *reader = user;
    if (reader->out_of_memory) return;
    size_t count = reader->field_count;
    if (count == reader->field_capacity) {
        size_t capacity = reader->field_capacity;
        size_t new_capacity = capacity ? capacity * 2 : 32;
        size_t *offsets = realloc(reader->field_offsets, new_capacity * sizeof *offsets);
        if (offsets) reader->field_offsets = offsets;
        size_t *lengths = realloc(reader->field_lengths, new_capacity * sizeof *lengths);
        if (lengths) reader->field_lengths = lengths;
        const char **pointers = realloc(reader->field_pointers, new_capacity * sizeof *pointers);
        if (pointers) reader->field_pointers = pointers;
        if (!offsets || !lengths || !pointers) {
            reader->out_of_memory = 1;
            return;
        }
        reader->field_capacity = new_capacity;
    }
    size_t needed = reader->field_bytes_used + length + 1;
    if (grow((void **)&reader->field_bytes, &reader->field_bytes_capacity, needed, 1) != 0) {
        reader->out_of_memory = 1;
        return;
    }
    char *destination = reader->field_bytes + reader->field_bytes_used;
    if (length) memcpy(destination, data, length);
    destination[length] = '\0';
    reader->field_offsets[count] = reader->field_bytes_used;
    reader->field_lengths[count] = length;
    reader->field_bytes_used = needed;
    reader->field_count = count + 1;
}

static int read_error(hm_csv_reader *reader, int error_number)
{
    return hm_error(reader->ctx, HM_EIO, "%s:%lu: cannot read: %s; check that the file is readable",
                    reader->path, reader->lines_read + 1, strerror(error_number));
}

/* Moves unconsumed bytes to the front, grows the buffer if it is full and reads one more block. */
static int fill(hm_csv_reader *reader)
{
    if (reader->start > 0) {
        size_t kept = reader->end - reader->start;
        memmove(reader->buffer, reader->buffer + reader->start, kept);
        reader->start = 0;
        reader->end = kept;
    }
    if (reader->end == reader->capacity) {
        size_t new_capacity = reader->capacity * 2;
        char *grown = realloc(reader->buffer, new_capacity + 1);
        if (!grown)
            return hm_error(reader->ctx, HM_ENOMEM, "%s:%lu: out of memory reading a line of %zu bytes",
                            reader->path, reader->lines_read + 1, reader->end);
        reader->buffer = grown;
        reader->capacity = new_capacity;
    }
    for (;;) {
        ssize_t count = read(reader->fd, reader->buffer + reader->end, reader->capacity - reader->end);
        if (count > 0) {
            reader->end += (size_t)count;
            return HM_OK;
        }
        if (count == 0) {
            reader->at_eof = 1;
            return HM_OK;
        }
        if (errno != EINTR) return read_error(reader, errno);
    }
}

/* Finds the next physical line and consumes it: *line is its first byte in the window and *length counts its
 * bytes including the '\n' (absent on a final line). A line whose content (without CR/LF) is longer than
 * `limit` bytes is left unconsumed and LINE_TOO_LONG returned. */
static int next_line(hm_csv_reader *reader, size_t limit, char **line, size_t *length)
{
    for (;;) {
        char *base = reader->buffer + reader->start;
        size_t available = reader->end - reader->start;
        char *newline = NULL;
        if (reader->scanned < available)
            newline = memchr(base + reader->scanned, '\n', available - reader->scanned);
        if (newline) {
            size_t line_length = (size_t)(newline - base) + 1;
            size_t content = line_length - 1;
            if (content > 0 && base[content - 1] == '\r') content--;
            if (content > limit) return LINE_TOO_LONG;
            *line = base;
            *length = line_length;
            reader->start += line_length;
            reader->scanned = 0;
            reader->lines_read++;
            return LINE_OK;
        }
        reader->scanned = available;
        /* +1: the last byte may be the CR of a CRLF whose LF has not been read yet. */
        if (available > limit + 1) return LINE_TOO_LONG;
        if (reader->at_eof) {
            if (available == 0) return LINE_EOF;
            if (available - (base[available - 1] == '\r') > limit) return LINE_TOO_LONG;
            *line = base;
            *length = available;
            reader->start = reader->end;
            reader->scanned = 0;
            reader->lines_read++;
            return LINE_OK;
        }
        int status = fill(reader);
        if (status != HM_OK) return status;
    }
}

/* Where a record ends. A record ends at the first '\n' that is not inside a quoted field, with the RFC 4180
 * reading that Python's csv module and spreadsheets also use: a quote opens a quoted field only at the start
 * of a field (after blanks), "" inside it is a literal quote, and the quote that closes it returns to
 * unquoted text up to the next delimiter. libcsv agrees except after a malformed closing quote ("ab"x): it
 * reopens the quoted field there and would then swallow the following lines (a whole unquoted file) into one
 * record. So the reader decides where records end with this state machine, run over the lines that contain a
 * quote or continue a record: when a line ends outside quotes, libcsv is told that the record ends (csv_fini,
 * which ends the last field exactly as a line ending would). A malformed record thus keeps to its own line,
 * with the fields libcsv made of it, and the caller rejects it. */
typedef enum quote_state { FIELD_START, UNQUOTED, QUOTED, QUOTE_SEEN } quote_state;

static quote_state quote_step(quote_state state, unsigned char c, unsigned char delimiter)
{
    switch (state) {
    case FIELD_START:
        if (c == delimiter || c == ' ' || c == '\t') return FIELD_START;
        return c == '"' ? QUOTED : UNQUOTED;
    case UNQUOTED:
        return c == delimiter ? FIELD_START : UNQUOTED;
    case QUOTED:
        return c == '"' ? QUOTE_SEEN : QUOTED;
    case QUOTE_SEEN:
    default:
        if (c == '"') return QUOTED;
        return c == delimiter ? FIELD_START : UNQUOTED;
    }
}

static quote_state quote_scan(quote_state state, const char *bytes, size_t length, unsigned char delimiter)
{
    for (size_t i = 0; i < length; i++)
        state = quote_step(state, (unsigned char)bytes[i], delimiter);
    return state;
}

/* Skips the rest of a too long record (see quote_step), then resets libcsv. */
static int skip_rest_of_record(hm_csv_reader *reader)
{
    quote_state state = reader->skip_in_quotes ? QUOTED : FIELD_START;
    unsigned char delimiter = reader->delimiter;
    for (;;) {
        while (reader->start < reader->end) {
            unsigned char c = (unsigned char)reader->buffer[reader->start++];
            if (c == '\n') {
                reader->lines_read++;
                if (state != QUOTED) goto done;
                continue;
            }
            state = quote_step(state, c, delimiter);
        }
        if (reader->at_eof) goto done;
        reader->start = reader->end = 0;
        int status = fill(reader);
        if (status != HM_OK) return status;
    }
done:
    reader->scanned = 0;
    /* Drop whatever libcsv held of the record's first lines. */
    csv_fini(&reader->parser, NULL, NULL, NULL);
    return HM_OK;
}

static int append_raw(hm_csv_reader *reader, const char *bytes, size_t length)
{
    if (grow((void **)&reader->raw, &reader->raw_capacity, reader->raw_used + length + 1, 1) != 0)
        return hm_error(reader->ctx, HM_ENOMEM, "%s:%lu: out of memory holding a record of %zu bytes",
                        reader->path, reader->lines_read, reader->raw_used + length);
    if (length) memcpy(reader->raw + reader->raw_used, bytes, length);
    reader->raw_used += length;
    reader->raw[reader->raw_used] = '\0';
    return HM_OK;
}

static int is_blank(const char *line, size_t length, unsigned char delimiter)
{
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == delimiter || (c != ' ' && c != '\t')) return 0;
    }
    return 1;
}

int hm_csv_open(hm_ctx *ctx, const char *path, const hm_csv_options *options, hm_csv_reader **out)
{
    *out = NULL;
    hm_csv_reader *reader = calloc(1, sizeof *reader);
    if (!reader) return hm_error(ctx, HM_ENOMEM, "%s: out of memory opening the file", path);
    reader->ctx = ctx;
    reader->fd = -1;
    reader->delimiter = options && options->delimiter ? (unsigned char)options->delimiter : ',';
    reader->max_record_bytes =
        options && options->max_record_bytes ? options->max_record_bytes : HM_CSV_DEFAULT_MAX_RECORD_BYTES;
    reader->path = strdup(path);
    reader->capacity = HM_CSV_READ_BLOCK_BYTES;
    reader->buffer = malloc(reader->capacity + 1);
    if (!reader->path || !reader->buffer) {
        hm_csv_close(reader);
        return hm_error(ctx, HM_ENOMEM, "%s: out of memory opening the file", path);
    }
    if (reader->delimiter == '"' || reader->delimiter == '\n' || reader->delimiter == '\r') {
        hm_csv_close(reader);
        return hm_error(ctx, HM_EINVAL, "%s: the CSV delimiter cannot be a quote or a line break", path);
    }
    if (strcmp(path, "-") == 0) {
        reader->fd = STDIN_FILENO;
    } else {
        reader->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (reader->fd < 0) {
            int error_number = errno;
            hm_csv_close(reader);
            return hm_error(ctx, HM_EIO, "%s: cannot open: %s; check the path and its permissions", path,
                            strerror(error_number));
        }
        reader->owns_fd = 1;
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(reader->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    if (csv_init(&reader->parser, 0) != 0) {
        hm_csv_close(reader);
        return hm_error(ctx, HM_ENOMEM, "%s: cannot initialise the CSV parser", path);
    }
    reader->parser_ready = 1;
    csv_set_delim(&reader->parser, reader->delimiter);
    csv_set_blk_size(&reader->parser, HM_CSV_LIBCSV_BLOCK_BYTES);
    /* libcsv trims spaces and tabs before it looks for the delimiter: keep a tab or space delimiter as one.
     */
    if (reader->delimiter == '\t') csv_set_space_func(&reader->parser, is_space_not_tab);
    if (reader->delimiter == ' ') csv_set_space_func(&reader->parser, is_tab_not_space);
    *out = reader;
    return HM_OK;
}

static void fill_record(hm_csv_reader *reader, hm_csv_record *record, unsigned long line, const char *raw,
                        size_t raw_length, int too_long)
{
    if (too_long) reader->field_count = 0;
    for (size_t i = 0; i < reader->field_count; i++)
        reader->field_pointers[i] = reader->field_bytes + reader->field_offsets[i];
    record->field_count = reader->field_count;
    record->fields = reader->field_pointers;
    record->field_lengths = reader->field_lengths;
    record->line = line;
    record->raw = raw;
    record->raw_length = raw_length;
    record->too_long = too_long;
}

/* Returns the too long record that starts (or continues, when `continuing`) with the unconsumed line. */
static int too_long_record(hm_csv_reader *reader, hm_csv_record *record, unsigned long first_line,
                           int continuing)
{
    size_t room =
        reader->raw_used < reader->max_record_bytes ? reader->max_record_bytes - reader->raw_used : 0;
    size_t available = reader->end - reader->start;
    size_t taken = available < room ? available : room;
    if (reader->raw_used > reader->max_record_bytes) reader->raw_used = reader->max_record_bytes;
    int status = append_raw(reader, reader->buffer + reader->start, taken);
    if (status != HM_OK) return status;
    reader->skip_pending = 1;
    reader->skip_in_quotes = continuing;
    fill_record(reader, record, first_line, reader->raw, reader->raw_used, 1);
    return 1;
}

int hm_csv_next(hm_csv_reader *reader, hm_csv_record *record)
{
    int status;
    memset(record, 0, sizeof *record);
    if (reader->skip_pending) {
        reader->skip_pending = 0;
        status = skip_rest_of_record(reader);
        if (status != HM_OK) return status;
    }
    if (!reader->bom_checked) {
        while (reader->end - reader->start < 3 && !reader->at_eof) {
            status = fill(reader);
            if (status != HM_OK) return status;
        }
        if (reader->end - reader->start >= 3 &&
            memcmp(reader->buffer + reader->start, "\xEF\xBB\xBF", 3) == 0)
            reader->start += 3;
        reader->bom_checked = 1;
    }
    reader->field_count = 0;
    reader->field_bytes_used = 0;
    reader->raw_used = 0;
    reader->raw_last_ending = 0;
    int continuing = 0;
    unsigned long first_line = 0;
    for (;;) {
        char *line = NULL;
        size_t length = 0;
        /* raw_used counts the line endings of the record's lines so far, and may pass the limit by one: the
         * record is then too long whatever the next line holds (even an empty line inside quotes). */
        size_t limit =
            reader->raw_used < reader->max_record_bytes ? reader->max_record_bytes - reader->raw_used : 0;
        status = reader->raw_used > reader->max_record_bytes ? LINE_TOO_LONG
                                                             : next_line(reader, limit, &line, &length);
        if (status < 0) return status;
        if (status == LINE_TOO_LONG) {
            if (!continuing) first_line = reader->lines_read + 1;
            return too_long_record(reader, record, first_line, continuing);
        }
        if (status == LINE_EOF) {
            if (!continuing) return 0;
            /* End of file inside a quoted field: libcsv ends the field and the record. */
            csv_fini(&reader->parser, on_field, NULL, reader);
            if (reader->out_of_memory) break;
            reader->raw_used -= reader->raw_last_ending;
            reader->raw[reader->raw_used] = '\0';
            fill_record(reader, record, first_line, reader->raw, reader->raw_used, 0);
            return 1;
        }
        size_t content = length;
        if (content > 0 && line[content - 1] == '\n') content--;
        if (content > 0 && line[content - 1] == '\r') content--;
        if (!continuing) {
            first_line = reader->lines_read;
            if (is_blank(line, content, reader->delimiter)) continue;
        }
        /* Only this function ends records (csv_fini): libcsv must never see a line ending as one. The content
         * holds no '\n'; a CR in it is data (never_term); a line ending given to libcsv is field content. */
        if (continuing) {
            csv_set_term_func(&reader->parser, never_term);
            csv_parse(&reader->parser, reader->pending_ending, reader->pending_ending_length, on_field, NULL,
                      reader);
        }
        int stray_cr = content > 0 && memchr(line, '\r', content) != NULL;
        csv_set_term_func(&reader->parser, stray_cr ? never_term : NULL);
        csv_parse(&reader->parser, line, content, on_field, NULL, reader);
        /* Does a quoted field hold this line break? Only a line with a quote, or a record already spanning
         * lines, needs the scan. */
        quote_state state = UNQUOTED;
        if (continuing)
            state = quote_scan((quote_state)reader->quote_state, line, content, reader->delimiter);
        else if (content > 0 && memchr(line, '"', content) != NULL)
            state = quote_scan(FIELD_START, line, content, reader->delimiter);
        if (reader->out_of_memory || csv_error(&reader->parser) != CSV_SUCCESS) break;
        if (state == QUOTED && content < length) {
            /* A quoted field holds this line break: keep the whole line and read on. The line ending is
             * given to libcsv only with the next line, so that at the end of the file an unterminated field
             * ends without it, as the raw text does. */
            reader->pending_ending_length = length - content;
            memcpy(reader->pending_ending, line + content, reader->pending_ending_length);
            status = append_raw(reader, line, length);
            if (status != HM_OK) return status;
            reader->raw_last_ending = length - content;
            reader->quote_state = QUOTED;
            continuing = 1;
            continue;
        }
        /* The record ends here, also where libcsv would have reopened a quoted field (see quote_step). */
        csv_fini(&reader->parser, on_field, NULL, reader);
        if (reader->out_of_memory) break;
        if (!continuing) {
            line[content] = '\0'; /* the CR or LF, already consumed; or the spare byte after the window */
            fill_record(reader, record, first_line, line, content, 0);
            return 1;
        }
        status = append_raw(reader, line, content);
        if (status != HM_OK) return status;
        fill_record(reader, record, first_line, reader->raw, reader->raw_used, 0);
        return 1;
    }
    return hm_error(reader->ctx, HM_ENOMEM, "%s:%lu: out of memory splitting a record into fields",
                    reader->path, first_line);
}

hm_csv_reader *hm_csv_close(hm_csv_reader *reader)
{
    if (!reader) return NULL;
    if (reader->parser_ready) csv_free(&reader->parser);
    if (reader->owns_fd && reader->fd >= 0) close(reader->fd);
    free(reader->path);
    free(reader->buffer);
    free(reader->field_bytes);
    free(reader->field_offsets);
    free(reader->field_lengths);
    free(reader->field_pointers);
    free(reader->raw);
    free(reader);
    return NULL;
}
