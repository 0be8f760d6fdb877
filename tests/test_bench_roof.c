/* The bench's roofline bookkeeping (bench/bench_lines.c) on made-up
 * limits, where every fraction is known in advance, and the measurement of
 * the machine's limits (bench/bench_roof.c) for sanity only: a benchmark
 * is a program, so no speed is asserted here. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "tests/json_check.h"
#include "tests/harness.h"

static kvv_bench_log made_up_log(FILE *out)
{
    kvv_bench_log log;
    memset(&log, 0, sizeof log);
    log.out = out;
    /* 1 thread: DRAM 10 GB/s, LLC 50 GB/s, peak 100 GFLOP/s: the ridge is
     * at 10 FLOPs per byte from DRAM, 2 from the LLC */
    log.roofs[0] = (kvv_roofs){1, (size_t)1 << 20, 10, 50, 5, 100, 0, 100};
    log.roofs[1] = (kvv_roofs){2, (size_t)1 << 20, 15, 80, 10, 200, 0, 200};
    log.nroofs = 2;
    return log;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

/* the roof and fraction the JSON gives line i */
static void line_roof(const char *json, int i, char *roof, size_t n, double *frac)
{
    char key[32];
    const char *p = strstr(json, "\"lines\"");
    for (int k = 0; p && k <= i; k++)
        p = strstr(p + 1, "{\"section\"");
    CU_ASSERT_FATAL(p != NULL);
    snprintf(key, sizeof key, "\"roof\": ");
    const char *r = strstr(p, key);
    CU_ASSERT_FATAL(r != NULL);
    r += strlen(key);
    if (*r == '"')
        sscanf(r + 1, "%15[^\"]", roof);
    else
        snprintf(roof, n, "null");
    const char *f = strstr(p, "\"roof_fraction\": ");
    CU_ASSERT_FATAL(f != NULL);
    *frac = strncmp(f + 17, "null", 4) ? atof(f + 17) : -1;
}

static void test_roof_picks(void)
{
    const char *path = scratch_path("kvv-bench", "bench.json");
    FILE *sink = fopen("/dev/null", "w");
    CU_ASSERT_FATAL(sink != NULL);
    kvv_bench_log log = made_up_log(sink);
    /* 0: 0.5 MB in 0.1 ms = 5 GB/s, fits the LLC (1 MiB): 10% of 50 */
    kvv_bench_line l0 = {"quantize", "a", "cpu", 1, 1e-4, 5e-4, "GB/s", 5e5, 0, 0, 0, NULL};
    /* 1: 10 MB, beyond the LLC, in 2 ms = 5 GB/s: 50% of DRAM */
    kvv_bench_line l1 = {"decode", "b", "cpu", 1, 2e-3, 0.01, "GB/s", 1e7, 0, 0, 0, NULL};
    /* 2: 10 MB and 2 GFLOP (200 FLOPs per byte, past the ridge) in 40 ms:
     * the FMA peak binds (50 GFLOP/s of 100), not DRAM */
    kvv_bench_line l2 = {"decode", "c", "cpu", 1, 0.04, 2, "GFLOP/s", 1e7, 2e9, 0, 0, NULL};
    /* 3: the same at 2 threads: 50 of 200 */
    kvv_bench_line l3 = {"decode-dram", "d", "cpu", 2, 0.04, 2, "GFLOP/s", 1e7, 2e9, 0, 0, NULL};
    /* 4: FLOPs only: 1 GFLOP in 20 ms = 50% of 100 */
    kvv_bench_line l4 = {"prefill", "e", "cpu", 1, 0.02, 1, "GFLOP/s", 0, 1e9, 0, 0, NULL};
    /* 5: unsupported */
    kvv_bench_line l5 = {"prefill", "f", "ggml-cpu", 1, -1, 1, "GFLOP/s", 0, 1e9, 0, 0.02, "cpu"};
    const kvv_bench_line *ls[6] = {&l0, &l1, &l2, &l3, &l4, &l5};
    for (int i = 0; i < 6; i++)
        kvv_bench_line_add(&log, ls[i]);
    fclose(sink);
    CU_ASSERT_FATAL(kvv_bench_json(&log, path, 1, 5) == 0);
    char *json = slurp(path);
    CU_ASSERT_FATAL(json != NULL);
    CU_ASSERT(jc_is_object(json));
    static const struct {
        const char *roof;
        double frac;
    } want[6] = {{"LLC", 0.1}, {"DRAM", 0.5}, {"FMA", 0.5}, {"FMA", 0.25}, {"FMA", 0.5}, {"null", -1}};
    for (int i = 0; i < 6; i++) {
        char roof[16] = "";
        double frac;
        line_roof(json, i, roof, sizeof roof, &frac);
        CU_ASSERT_STRING_EQUAL(roof, want[i].roof);
        CU_ASSERT(fabs(frac - want[i].frac) < 1e-5);
    }
    char v[64];
    CU_ASSERT(jc_member(json, "threads", v, sizeof v) == 0 && !strcmp(v, "1"));
    CU_ASSERT(jc_member(json, "roofs", v, sizeof v) == 0);
    free(json);
    free(log.lines);
    scratch_remove();
}

static void test_limits_measured(void)
{
    kvv_roofs r;
    CU_ASSERT_FATAL(kvv_roofs_measure(1, 1, &r) == 0);
    CU_ASSERT(r.threads == 1);
    CU_ASSERT(r.llc_bytes > 0);
    CU_ASSERT(r.bw_dram > 0 && r.bw_llc > 0);
    CU_ASSERT(r.fma_scalar > 0);
    CU_ASSERT(r.fma_peak >= r.fma_scalar && r.fma_peak >= r.fma_avx2 && r.fma_peak >= r.fma_avx512);
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"each line's roof and fraction (made-up limits)", test_roof_picks},
                                 {"the machine's limits are measured", test_limits_measured},
                                 {NULL, NULL}};
    kvv_add_suite("bench_roof", t);
}
