/* Unit tests for csv.c: quoting, line numbers across quoted line breaks, raw text, CRLF, BOM, blank lines,
 * records over the size limit, stray CRs, NUL bytes and random garbage. Each case writes a small file to
 * $HM_TMP and compares a dump of what the reader returned ("L<line> [field][field] raw=<raw>", with \n, \r
 * and \0 escaped) with what it should be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "csv.h"

static void temp_path(char *out, size_t size, const char *name)
{
    const char *dir = getenv("HM_TMP");
    snprintf(out, size, "%s/test_csv_%s", dir && *dir ? dir : "/tmp", name);
}

static void write_bytes(const char *path, const void *bytes, size_t length)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, length, file), length);
    assert_int_equal(fclose(file), 0);
}

typedef struct dump {
    char *text;
    size_t length, capacity;
} dump;

static void dump_append(dump *d, const char *bytes, size_t length)
{
    if (d->length + length + 1 > d->capacity) {
        while (d->length + length + 1 > d->capacity)
            d->capacity = d->capacity ? d->capacity * 2 : 256;
        d->text = realloc(d->text, d->capacity);
        assert_non_null(d->text);
    }
    memcpy(d->text + d->length, bytes, length);
    d->length += length;
    d->text[d->length] = '\0';
}

static void dump_escaped(dump *d, const char *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (bytes[i] == '\n')
            dump_append(d, "\\n", 2);
        else if (bytes[i] == '\r')
            dump_append(d, "\\r", 2);
        else if (bytes[i] == '\0')
            dump_append(d, "\\0", 2);
        else
            dump_append(d, bytes + i, 1);
    }
}

/* Reads the whole file and returns the dump (caller frees). */
static char *read_dump(const char *name, const char *content, size_t length, const hm_csv_options *options)
{
    char path[4096];
    temp_path(path, sizeof path, name);
    write_bytes(path, content, length);
    hm_ctx *ctx = hm_ctx_create();
    hm_csv_reader *reader = NULL;
    assert_int_equal(hm_csv_open(ctx, path, options, &reader), HM_OK);
    dump d = {0};
    dump_append(&d, "", 0);
    hm_csv_record record;
    int status;
    while ((status = hm_csv_next(reader, &record)) == 1) {
        char head[64];
        snprintf(head, sizeof head, "L%lu%s", record.line, record.too_long ? " too_long" : "");
        dump_append(&d, head, strlen(head));
        for (size_t i = 0; i < record.field_count; i++) {
            assert_int_equal(record.fields[i][record.field_lengths[i]], '\0');
            dump_append(&d, i ? "[" : " [", i ? 1 : 2);
            dump_escaped(&d, record.fields[i], record.field_lengths[i]);
            dump_append(&d, "]", 1);
        }
        assert_int_equal(record.raw[record.raw_length], '\0');
        dump_append(&d, " raw=", 5);
        dump_escaped(&d, record.raw, record.raw_length);
        dump_append(&d, "\n", 1);
    }
    assert_int_equal(status, 0);
    /* End of file is sticky. */
    assert_int_equal(hm_csv_next(reader, &record), 0);
    assert_null(hm_csv_close(reader));
    hm_ctx_destroy(ctx);
    return d.text;
}

static void expect_dump(const char *name, const char *content, size_t length, const hm_csv_options *options,
                        const char *expected)
{
    char *got = read_dump(name, content, length, options);
    if (strcmp(got, expected) != 0) print_error("case %s:\n--- got\n%s--- expected\n%s", name, got, expected);
    assert_string_equal(got, expected);
    free(got);
}

#define EXPECT(name, literal, expected) expect_dump(name, literal, sizeof(literal) - 1, NULL, expected)

static void test_simple_and_quoting(void **state)
{
    (void)state;
    EXPECT("simple", "a,b,c\n1,2,3\n", "L1 [a][b][c] raw=a,b,c\nL2 [1][2][3] raw=1,2,3\n");
    EXPECT("quoted", "\"a,b\",\"say \"\"hi\"\"\",c\n",
           "L1 [a,b][say \"hi\"][c] raw=\"a,b\",\"say \"\"hi\"\"\",c\n");
    EXPECT("empty_fields", ",,\n\"\",x,\n", "L1 [][][] raw=,,\nL2 [][x][] raw=\"\",x,\n");
    /* libcsv trims blanks around unquoted fields and after a closing quote; quoted blanks are kept. */
    EXPECT("trim", " a , b\t,\" c \" \n", "L1 [a][b][ c ] raw= a , b\t,\" c \" \n");
    /* A quote inside an unquoted field is literal. */
    EXPECT("inner_quote", "ab\"c,d\n", "L1 [ab\"c][d] raw=ab\"c,d\n");
}

static void test_line_endings_and_bom(void **state)
{
    (void)state;
    EXPECT("crlf", "a,b\r\n1,2\r\n", "L1 [a][b] raw=a,b\nL2 [1][2] raw=1,2\n");
    EXPECT("bom", "\xEF\xBB\xBFid,x\r\n7,8\r\n", "L1 [id][x] raw=id,x\nL2 [7][8] raw=7,8\n");
    EXPECT("no_final_newline", "a,b\nc,d", "L1 [a][b] raw=a,b\nL2 [c][d] raw=c,d\n");
    EXPECT("final_cr_only", "a\r\nb\r", "L1 [a] raw=a\nL2 [b] raw=b\n");
    EXPECT("quoted_last_field_no_newline", "a,\"b\"", "L1 [a][b] raw=a,\"b\"\n");
    EXPECT("empty", "", "");
    EXPECT("bom_only", "\xEF\xBB\xBF", "");
    EXPECT("bom_prefix_only", "\xEF\xBB", "L1 [\xEF\xBB] raw=\xEF\xBB\n");
    EXPECT("newlines_only", "\n\r\n\n", "");
    /* Blank lines are not records and do not shift the next record's line number. */
    EXPECT("blank_lines", "a\n\n   \n\t\nb\n", "L1 [a] raw=a\nL5 [b] raw=b\n");
}

static void test_quoted_line_breaks(void **state)
{
    (void)state;
    EXPECT("quoted_newline", "x,\"line1\nline2\",y\nnext,1\n",
           "L1 [x][line1\\nline2][y] raw=x,\"line1\\nline2\",y\nL3 [next][1] raw=next,1\n");
    EXPECT("quoted_crlf", "x,\"l1\r\nl2\r\nl3\"\r\nz\r\n",
           "L1 [x][l1\\r\\nl2\\r\\nl3] raw=x,\"l1\\r\\nl2\\r\\nl3\"\nL4 [z] raw=z\n");
    /* A quoted blank line inside a field is content, not a blank line. */
    EXPECT("quoted_blank_line", "\"a\n\n\",b\nc\n", "L1 [a\\n\\n][b] raw=\"a\\n\\n\",b\nL4 [c] raw=c\n");
    /* The file ends inside a quoted field: the record ends there, without the final line ending. */
    EXPECT("unterminated_quote", "a,\"open\nmore\n", "L1 [a][open\\nmore] raw=a,\"open\\nmore\n");
    /* Found by fuzz_csv: the same with CRLF; the field must not keep the final line ending either. */
    EXPECT("unterminated_quote_crlf", "a,\"x\r\ny\r\n", "L1 [a][x\\r\\ny] raw=a,\"x\\r\\ny\n");
    EXPECT("unterminated_quote_no_newline", "h\na,\"open\nmore",
           "L1 [h] raw=h\nL2 [a][open\\nmore] raw=a,\"open\\nmore\n");
    /* The fixture style of tests/data/geocode/bad.csv: BOM, CRLF and a quoted comma, quote and newline. */
    EXPECT("police_style",
           "\xEF\xBB\xBFid,cat\r\n\"ok2\",\"Drugs, \"\"supply\"\"\r\nsecond line\"\r\nok3,R\r\n",
           "L1 [id][cat] raw=id,cat\nL2 [ok2][Drugs, \"supply\"\\r\\nsecond line] raw=\"ok2\",\"Drugs, "
           "\"\"supply\"\"\\r\\nsecond line\"\nL4 [ok3][R] raw=ok3,R\n");
}

static void test_malformed_quotes(void **state)
{
    (void)state;
    /* Text after a closing quote: libcsv would reopen the quoted field and swallow the next lines; the record
     * keeps to its line instead (its fields are whatever libcsv made of it, so the caller sees a short
     * record). */
    EXPECT("text_after_closing_quote", "\"abc\"x,def\nnext,row\nlast\n",
           "L1 [abc\"x,def] raw=\"abc\"x,def\nL2 [next][row] raw=next,row\nL3 [last] raw=last\n");
    /* The same inside a record that legitimately spans lines. */
    EXPECT("text_after_closing_quote_multiline", "\"a\nb\"x,c\nnext\n",
           "L1 [a\\nb\"x,c] raw=\"a\\nb\"x,c\nL3 [next] raw=next\n");
    /* Found by fuzz_csv: libcsv reads the last quote of the first line as closing a field it reopened, the
     * reader as opening one. libcsv must not end the row at the line ending it is given as field content, or
     * the rest of its row leaks into the next record. */
    EXPECT("reopened_quote_at_line_end", "\"a\"x,\"\nnext\"\nlast\n",
           "L1 [a\"x,\"\\nnext] raw=\"a\"x,\"\\nnext\"\nL3 [last] raw=last\n");
    EXPECT("reopened_quote_to_eof", "\"a\"x,\"\nnext\n", "L1 [a\"x,\"\\nnext] raw=\"a\"x,\"\\nnext\n");
    /* An unterminated quote does take the following lines, as in every CSV reader, up to the size limit. */
    hm_csv_options small = {.max_record_bytes = 12};
    const char open_quote[] = "\"abc,d\nnext,row\nmore,rows\n";
    expect_dump("open_quote_limit", open_quote, sizeof open_quote - 1, &small,
                "L1 too_long raw=\"abc,d\\nnext,\n");
}

static void test_stray_cr_and_nul(void **state)
{
    (void)state;
    /* A CR that is not part of a line ending is data: it does not split the record. */
    EXPECT("stray_cr", "a\rb,c\r\nd\n", "L1 [a\\rb][c] raw=a\\rb,c\nL2 [d] raw=d\n");
    EXPECT("stray_cr_quoted", "\"a\rb\nc\",d\ne\n", "L1 [a\\rb\\nc][d] raw=\"a\\rb\\nc\",d\nL3 [e] raw=e\n");
    EXPECT("nul", "a\0b,c\nd\n", "L1 [a\\0b][c] raw=a\\0b,c\nL2 [d] raw=d\n");
}

static void test_other_delimiters(void **state)
{
    (void)state;
    hm_csv_options tab = {.delimiter = '\t'};
    const char tsv[] = "a\t\tb\n\tx\n c \t d\n";
    expect_dump("tab", tsv, sizeof tsv - 1, &tab,
                "L1 [a][][b] raw=a\t\tb\nL2 [][x] raw=\tx\nL3 [c][d] raw= c \t d\n");
    hm_csv_options semicolon = {.delimiter = ';'};
    const char ssv[] = "a;\"b;c\";d,e\n";
    expect_dump("semicolon", ssv, sizeof ssv - 1, &semicolon, "L1 [a][b;c][d,e] raw=a;\"b;c\";d,e\n");
}

static void test_too_long(void **state)
{
    (void)state;
    hm_csv_options small = {.max_record_bytes = 16};
    /* One long line between short ones. */
    const char long_line[] = "short,1\n0123456789abcdefXYZ,2\nafter,3\n";
    expect_dump("too_long_line", long_line, sizeof long_line - 1, &small,
                "L1 [short][1] raw=short,1\nL2 too_long raw=0123456789abcdef\nL3 [after][3] raw=after,3\n");
    /* Exactly at the limit is fine (the CRLF does not count). */
    const char at_limit[] = "0123456789abcdef\r\nx\r\n";
    expect_dump("at_limit", at_limit, sizeof at_limit - 1, &small,
                "L1 [0123456789abcdef] raw=0123456789abcdef\nL2 [x] raw=x\n");
    /* The long line opens a quoted field that holds a line break: skipping resumes after the record. */
    const char quoted_break[] = "aaaaaaaaaaaaaaaaaaaa,\"x\ny,z\"\nafter\n";
    expect_dump("too_long_quoted_break", quoted_break, sizeof quoted_break - 1, &small,
                "L1 too_long raw=aaaaaaaaaaaaaaaa\nL3 [after] raw=after\n");
    /* "" inside the skipped quoted field does not end it; a quote inside an unquoted field does not start
     * one. */
    const char escaped[] = "aaaaaaaaaaaaaaaaaaaa,\"x\"\"\n\"\" \" ,b\"c\nafter\n";
    expect_dump("too_long_escaped_quotes", escaped, sizeof escaped - 1, &small,
                "L1 too_long raw=aaaaaaaaaaaaaaaa\nL3 [after] raw=after\n");
    /* The record grows past the limit over several lines of a quoted field. */
    const char multi[] = "\"0123456789\n0123456789\n0123\",x\nafter\n";
    expect_dump("too_long_multiline", multi, sizeof multi - 1, &small,
                "L1 too_long raw=\"0123456789\\n0123\nL4 [after] raw=after\n");
    /* Found by fuzz_csv: empty lines inside a quoted field count towards the limit too. */
    const char empty_lines[] = "\"\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\nx\"\nafter\n";
    expect_dump("too_long_empty_lines_in_quotes", empty_lines, sizeof empty_lines - 1, &small,
                "L1 too_long raw=\"\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\nL23 [after] raw=after\n");
    /* The last record is too long and has no line ending. */
    const char last[] = "a\n0123456789abcdefXYZ";
    expect_dump("too_long_last", last, sizeof last - 1, &small,
                "L1 [a] raw=a\nL2 too_long raw=0123456789abcdef\n");
}

static void test_long_lines_grow_buffers(void **state)
{
    (void)state;
    /* Lines longer than the 256 KiB read block, and many records crossing block boundaries. */
    size_t long_length = 700000;
    char *content = malloc(long_length * 2 + 64);
    assert_non_null(content);
    size_t n = 0;
    n += (size_t)sprintf(content + n, "head\n\"");
    for (size_t i = 0; i < long_length; i++)
        content[n++] = (char)('a' + i % 26);
    n += (size_t)sprintf(content + n, "\",tail\n");
    char path[4096];
    temp_path(path, sizeof path, "long_line");
    write_bytes(path, content, n);
    hm_ctx *ctx = hm_ctx_create();
    hm_csv_reader *reader = NULL;
    assert_int_equal(hm_csv_open(ctx, path, NULL, &reader), HM_OK);
    hm_csv_record record;
    assert_int_equal(hm_csv_next(reader, &record), 1);
    assert_int_equal(record.line, 1);
    assert_int_equal(hm_csv_next(reader, &record), 1);
    assert_int_equal(record.line, 2);
    assert_false(record.too_long);
    assert_int_equal(record.field_count, 2);
    assert_int_equal(record.field_lengths[0], long_length);
    assert_int_equal(record.fields[0][long_length - 1], 'a' + (long_length - 1) % 26);
    assert_string_equal(record.fields[1], "tail");
    assert_int_equal(record.raw_length, long_length + 7);
    assert_int_equal(hm_csv_next(reader, &record), 0);
    hm_csv_close(reader);

    /* 60,000 records of varying length, some spanning two lines. */
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    for (int i = 0; i < 60000; i++) {
        if (i % 97 == 0)
            fprintf(file, "%d,\"multi\nline %d\",%*d\r\n", i, i, i % 50, i);
        else
            fprintf(file, "%d,value %d,%*d\r\n", i, i, i % 50, i);
    }
    fclose(file);
    assert_int_equal(hm_csv_open(ctx, path, NULL, &reader), HM_OK);
    unsigned long expected_line = 1;
    for (int i = 0; i < 60000; i++) {
        assert_int_equal(hm_csv_next(reader, &record), 1);
        assert_int_equal(record.line, expected_line);
        assert_int_equal(record.field_count, 3);
        assert_int_equal(atoi(record.fields[0]), i);
        assert_int_equal(atoi(record.fields[2]), i);
        char expected[64];
        if (i % 97 == 0) {
            snprintf(expected, sizeof expected, "multi\nline %d", i);
            expected_line += 2;
        } else {
            snprintf(expected, sizeof expected, "value %d", i);
            expected_line += 1;
        }
        assert_string_equal(record.fields[1], expected);
        assert_int_equal(record.raw[record.raw_length], '\0');
        assert_true(record.raw_length > 0 && record.raw[record.raw_length - 1] != '\r');
    }
    assert_int_equal(hm_csv_next(reader, &record), 0);
    hm_csv_close(reader);
    hm_ctx_destroy(ctx);
    free(content);
}

/* Deterministic pseudo-random bytes (xorshift), weighted towards the characters that matter to CSV. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static void test_garbage(void **state)
{
    (void)state;
    const char interesting[] = "\",\n\r\0 \t\xEF\xBB\xBF";
    size_t length = 400000;
    char *bytes = malloc(length);
    assert_non_null(bytes);
    char path[4096];
    temp_path(path, sizeof path, "garbage");
    hm_ctx *ctx = hm_ctx_create();
    for (uint64_t seed = 1; seed <= 6; seed++) {
        uint64_t random_state = seed * 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < length; i++) {
            uint64_t r = next_random(&random_state);
            bytes[i] = (r & 3) ? (char)(r >> 8) : interesting[(r >> 8) % (sizeof interesting - 1)];
        }
        write_bytes(path, bytes, length);
        hm_csv_options options = {.max_record_bytes = seed % 2 ? 64 : 0};
        size_t limit = options.max_record_bytes ? options.max_record_bytes : (size_t)1 << 20;
        hm_csv_reader *reader = NULL;
        assert_int_equal(hm_csv_open(ctx, path, &options, &reader), HM_OK);
        hm_csv_record record;
        int status;
        unsigned long last_line = 0;
        size_t records = 0;
        while ((status = hm_csv_next(reader, &record)) == 1) {
            assert_true(record.line > last_line);
            last_line = record.line;
            assert_true(record.raw_length <= limit);
            assert_int_equal(record.raw[record.raw_length], '\0');
            size_t field_bytes = 0;
            for (size_t i = 0; i < record.field_count; i++)
                field_bytes += record.field_lengths[i];
            assert_true(field_bytes <= record.raw_length);
            records++;
        }
        assert_int_equal(status, 0);
        assert_true(records > 0);
        hm_csv_close(reader);
    }
    hm_ctx_destroy(ctx);
    free(bytes);
}

static void test_open_errors(void **state)
{
    (void)state;
    hm_ctx *ctx = hm_ctx_create();
    hm_csv_reader *reader = (hm_csv_reader *)1;
    assert_int_equal(hm_csv_open(ctx, "/nonexistent/dir/incidents.csv", NULL, &reader), HM_EIO);
    assert_null(reader);
    assert_non_null(strstr(hm_error_message(ctx), "/nonexistent/dir/incidents.csv"));
    hm_error_clear(ctx);
    hm_csv_options quote = {.delimiter = '"'};
    assert_int_equal(hm_csv_open(ctx, "/dev/null", &quote, &reader), HM_EINVAL);
    /* A directory opens but cannot be read. */
    assert_int_equal(hm_csv_open(ctx, "/", NULL, &reader), HM_OK);
    hm_csv_record record;
    assert_int_equal(hm_csv_next(reader, &record), HM_EIO);
    assert_non_null(strstr(hm_error_message(ctx), "cannot read"));
    hm_csv_close(reader);
    assert_null(hm_csv_close(NULL));
    hm_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_and_quoting),
        cmocka_unit_test(test_line_endings_and_bom),
        cmocka_unit_test(test_quoted_line_breaks),
        cmocka_unit_test(test_malformed_quotes),
        cmocka_unit_test(test_stray_cr_and_nul),
        cmocka_unit_test(test_other_delimiters),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_long_lines_grow_buffers),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
