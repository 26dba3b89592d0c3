/*
 * bench_csv - how fast the CSV reader (and the number parser behind it) goes, on one core.
 *
 *   bench_csv --generate ROWS FILE   writes a police-style CSV of ROWS rows of about 150 bytes (1 in 10 has a
 *                                    quoted field with a comma, 1 in 1000 a quoted line break)
 *   bench_csv FILE                   reads FILE with hm_csv, then again parsing two coordinates per record
 * with hm_parse_number, and prints rows/s and MB/s for each pass
 *
 * Run by scripts/bench-csv, never by ctest.
 */
#include "context.h"
#include "csv.h"
#include "location.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int generate(long rows, const char *path)
{
    FILE *file = fopen(path, "wb");
    if (!file) {
        perror(path);
        return 1;
    }
    static const char *categories[] = {"Burglary", "Violence and sexual offences", "Anti-social behaviour",
                                       "Vehicle crime", "Shoplifting"};
    fprintf(file,
            "Crime ID,Month,Falls within,Longitude,Latitude,Location,LSOA code,Crime type,Last outcome\n");
    unsigned long long state = 88172645463325252ull;
    for (long i = 0; i < rows; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double lon = -2.7 + (double)(state % 400000) / 1e6,
               lat = 51.35 + (double)(state / 400000 % 200000) / 1e6;
        const char *location = i % 10 == 0     ? "\"On or near Park Street, Clifton\""
                               : i % 1000 == 1 ? "\"On or near\nPark Row\""
                                               : "On or near Park Street";
        fprintf(file,
                "%016llx%016llx,2023-%02ld,Avon and Somerset Constabulary,%.6f,%.6f,%s,E0101%04ld,%s,%s\r\n",
                state, state * 31, i % 12 + 1, lon, lat, location, i % 9973, categories[i % 5],
                i % 3 ? "Under investigation" : "");
    }
    return fclose(file) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--generate") == 0) return generate(atol(argv[2]), argv[3]);
    if (argc != 2) {
        fprintf(stderr, "usage: bench_csv --generate ROWS FILE | bench_csv FILE\n");
        return 2;
    }
    hm_ctx *ctx = hm_ctx_create();
    for (int pass = 0; pass < 2; pass++) {
        hm_csv_reader *reader = NULL;
        if (hm_csv_open(ctx, argv[1], NULL, &reader) != HM_OK) {
            fprintf(stderr, "bench_csv: %s\n", hm_error_message(ctx));
            return 1;
        }
        double start = clock_s(CLOCK_MONOTONIC), start_cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        hm_csv_record record;
        long records = 0, bytes = 0, bad = 0;
        size_t fields = 0;
        double sum = 0;
        int status;
        while ((status = hm_csv_next(reader, &record)) == 1) {
            records++;
            bytes += (long)record.raw_length + 2;
            fields += record.field_count;
            if (pass == 1 && record.field_count >= 5) {
                double lon, lat;
                if (hm_parse_number(record.fields[3], &lon) == HM_REJECT_NONE &&
                    hm_parse_number(record.fields[4], &lat) == HM_REJECT_NONE)
                    sum += lon + lat;
                else
                    bad++;
            }
        }
        double seconds = clock_s(CLOCK_MONOTONIC) - start;
        double cpu_seconds = clock_s(CLOCK_PROCESS_CPUTIME_ID) - start_cpu;
        hm_csv_close(reader);
        if (status < 0) {
            fprintf(stderr, "bench_csv: %s\n", hm_error_message(ctx));
            return 1;
        }
        printf("%s: %ld records, %zu fields, %.1f MB; %.3f s wall, %.3f s CPU: %.0f records/s, %.0f MB/s "
               "(per CPU second: %.0f records/s)%s\n",
               pass == 0 ? "read" : "read+parse 2 numbers", records, fields, (double)bytes / 1e6, seconds,
               cpu_seconds, (double)records / seconds, (double)bytes / 1e6 / seconds,
               (double)records / cpu_seconds, pass == 1 && sum == 0 ? " (sum 0?)" : "");
        if (pass == 1 && bad > 1) printf("  (%ld records without two numbers)\n", bad);
    }
    hm_ctx_destroy(ctx);
    return 0;
}
