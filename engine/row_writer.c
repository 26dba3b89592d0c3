/* row_writer.c - see row_writer.h. Two batches circulate between the caller and the writer thread. */
#include "row_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 64

typedef struct queued_row {
    hm_gpkg_layer *layer;
    const hm_gpkg_field *fields;
    size_t field_count;
    int has_point;
    double x, y;
    size_t first_value; /* index into batch->values */
} queued_row;

typedef struct queued_value {
    int is_null;
    size_t text_offset; /* for text fields: offset into batch->text */
    long long integer;
    double real;
} queued_value;

typedef struct batch {
    queued_row *rows;
    size_t row_count;
    queued_value *values;
    size_t value_count, value_capacity;
    char *text;
    size_t text_length, text_capacity;
} batch;

struct hm_row_writer {
    hm_ctx *ctx;
    size_t batch_rows;
    batch batches[2];
    batch *filling;      /* owned by the caller */
    batch *full;         /* handed to the writer, NULL when none waiting */
    int writer_busy;     /* the writer is writing a batch */
    int stopping;
    int status;          /* first writer error */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
};

static int is_text(hm_field_type type)
{
    return type == HM_FIELD_TEXT || type == HM_FIELD_DATE || type == HM_FIELD_DATETIME;
}

static int write_batch(batch *b)
{
    hm_value values[MAX_FIELDS];
    for (size_t r = 0; r < b->row_count; r++) {
        const queued_row *row = &b->rows[r];
        for (size_t f = 0; f < row->field_count; f++) {
            const queued_value *q = &b->values[row->first_value + f];
            memset(&values[f], 0, sizeof values[f]);
            values[f].is_null = q->is_null;
            if (q->is_null) continue;
            hm_field_type type = row->fields[f].type;
            if (is_text(type))
                values[f].as.text = b->text + q->text_offset;
            else if (type == HM_FIELD_INTEGER)
                values[f].as.integer = q->integer;
            else
                values[f].as.real = q->real;
        }
        int status = row->has_point ? hm_gpkg_insert_point(row->layer, row->x, row->y, values)
                                    : hm_gpkg_insert_row(row->layer, values);
        if (status != HM_OK) return status;
    }
    return HM_OK;
}

static void *writer_main(void *argument)
{
    hm_row_writer *writer = argument;
    pthread_mutex_lock(&writer->lock);
    for (;;) {
        while (!writer->full && !writer->stopping) pthread_cond_wait(&writer->changed, &writer->lock);
        if (!writer->full) break; /* stopping and nothing left */
        batch *b = writer->full;
        writer->writer_busy = 1;
        int failed = writer->status != HM_OK;
        pthread_mutex_unlock(&writer->lock);
        int status = failed ? HM_OK : write_batch(b);
        pthread_mutex_lock(&writer->lock);
        b->row_count = b->value_count = b->text_length = 0;
        if (status != HM_OK && writer->status == HM_OK) writer->status = status;
        writer->full = NULL;
        writer->writer_busy = 0;
        pthread_cond_broadcast(&writer->changed);
    }
    pthread_mutex_unlock(&writer->lock);
    return NULL;
}

int hm_row_writer_start(hm_ctx *ctx, size_t batch_rows, hm_row_writer **out)
{
    *out = NULL;
    hm_row_writer *writer = calloc(1, sizeof *writer);
    if (!writer) return hm_error(ctx, HM_ENOMEM, "out of memory starting the row writer");
    writer->ctx = ctx;
    writer->batch_rows = batch_rows ? batch_rows : 4096;
    for (int i = 0; i < 2; i++) {
        writer->batches[i].rows = malloc(writer->batch_rows * sizeof(queued_row));
        if (!writer->batches[i].rows) {
            free(writer->batches[0].rows);
            free(writer);
            return hm_error(ctx, HM_ENOMEM, "out of memory starting the row writer");
        }
    }
    writer->filling = &writer->batches[0];
    pthread_mutex_init(&writer->lock, NULL);
    pthread_cond_init(&writer->changed, NULL);
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        pthread_mutex_destroy(&writer->lock);
        pthread_cond_destroy(&writer->changed);
        free(writer->batches[0].rows);
        free(writer->batches[1].rows);
        free(writer);
        return hm_error(ctx, HM_ENOMEM, "cannot start the row writer thread");
    }
    *out = writer;
    return HM_OK;
}

/* Hands the filling batch to the writer (waiting while the writer still holds the other one). */
static int hand_over(hm_row_writer *writer)
{
    pthread_mutex_lock(&writer->lock);
    while (writer->full) pthread_cond_wait(&writer->changed, &writer->lock);
    int status = writer->status;
    writer->full = writer->filling;
    writer->filling = writer->filling == &writer->batches[0] ? &writer->batches[1] : &writer->batches[0];
    pthread_cond_broadcast(&writer->changed);
    pthread_mutex_unlock(&writer->lock);
    return status;
}

static int grow(void **buffer, size_t *capacity, size_t needed, size_t element_size)
{
    if (needed <= *capacity) return 1;
    size_t capacity_new = *capacity ? *capacity : 1024;
    while (capacity_new < needed) capacity_new *= 2;
    void *grown = realloc(*buffer, capacity_new * element_size);
    if (!grown) return 0;
    *buffer = grown;
    *capacity = capacity_new;
    return 1;
}

int hm_row_writer_queue(hm_row_writer *writer, hm_gpkg_layer *layer, const hm_gpkg_field *fields,
                        size_t field_count, int has_point, double x, double y, const hm_value *values)
{
    if (field_count > MAX_FIELDS)
        return hm_error(writer->ctx, HM_EINTERNAL, "row writer: %zu fields (at most %d)", field_count, MAX_FIELDS);
    batch *b = writer->filling;
    if (!grow((void **)&b->values, &b->value_capacity, b->value_count + field_count, sizeof(queued_value)))
        return hm_error(writer->ctx, HM_ENOMEM, "out of memory queueing rows");
    queued_row *row = &b->rows[b->row_count];
    row->layer = layer;
    row->fields = fields;
    row->field_count = field_count;
    row->has_point = has_point;
    row->x = x;
    row->y = y;
    row->first_value = b->value_count;
    for (size_t f = 0; f < field_count; f++) {
        queued_value *q = &b->values[b->value_count++];
        q->is_null = values[f].is_null;
        if (q->is_null) continue;
        if (is_text(fields[f].type)) {
            const char *text = values[f].as.text ? values[f].as.text : "";
            size_t length = strlen(text) + 1;
            if (!grow((void **)&b->text, &b->text_capacity, b->text_length + length, 1))
                return hm_error(writer->ctx, HM_ENOMEM, "out of memory queueing rows");
            memcpy(b->text + b->text_length, text, length);
            q->text_offset = b->text_length;
            b->text_length += length;
        } else if (fields[f].type == HM_FIELD_INTEGER) {
            q->integer = values[f].as.integer;
        } else {
            q->real = values[f].as.real;
        }
    }
    b->row_count++;
    if (b->row_count == writer->batch_rows) return hand_over(writer);
    return HM_OK;
}

int hm_row_writer_finish(hm_row_writer *writer)
{
    if (!writer) return HM_OK;
    if (writer->filling->row_count) hand_over(writer);
    pthread_mutex_lock(&writer->lock);
    writer->stopping = 1;
    pthread_cond_broadcast(&writer->changed);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);
    int status = writer->status;
    for (int i = 0; i < 2; i++) {
        free(writer->batches[i].rows);
        free(writer->batches[i].values);
        free(writer->batches[i].text);
    }
    pthread_mutex_destroy(&writer->lock);
    pthread_cond_destroy(&writer->changed);
    free(writer);
    return status;
}
