/* The roundtrip rule (oracle/judge_roundtrip.c) on planted values: a known
 * version's own values and a new format about as good pass, in whichever
 * basis they come; a stub that keeps only the norm, one lost row, a NaN the
 * input did not have, values from the wrong bytes fail; values never
 * written, and rows the reference cannot round-trip, are not judged. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "oracle/rules.h"
#include "oracle/verdict.h"
#include "tests/harness.h"

#define ROWS 32
#define COLS 128

static float x[ROWS * COLS], got[ROWS * COLS];

static void inputs(uint64_t seed)
{
    kvv_gen_fill(x, ROWS, COLS, ROWS, KVV_DIST_GAUSS, seed, KVV_STREAM_X);
}

/* got = the reference's own round trip of x in type t */
static void ref_values(kvv_type t)
{
    void *b = kvv_alloc(kvv_row_bytes(t, COLS) * ROWS);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_type_get(t)->quantize(x, b, ROWS, COLS, NULL), 0);
    kvv_ref_type_get(t)->dequantize(b, got, ROWS, COLS);
    kvv_free(b);
}

/* got = x in WHT groups of g (0: as it is), each value off by up to rel */
static void near_input(int g, double rel)
{
    double *y = malloc(sizeof(double) * ROWS * COLS);
    for (int i = 0; i < ROWS * COLS; i++)
        y[i] = x[i];
    if (g)
        kvv_ref_wht(y, ROWS, COLS, g, 0);
    for (int i = 0; i < ROWS * COLS; i++)
        got[i] = (float)(y[i] * (1 + rel * (((i * 7919) % 201) - 100) / 100.0));
    free(y);
}

static int judge(kvv_type t, kvv_verdict *v, char *note, size_t n)
{
    kvv_verdict_init(v);
    return kvv_judge_roundtrip(t, x, ROWS, COLS, got, v, note, n);
}

static void test_known_versions_pass(void)
{
    static const kvv_type ts[] = {KVV_TURBO3, KVV_TURBO3_QK128, KVV_TURBO2_QK128, KVV_TURBO4, KVV_TURBO4_NARROW,
                                  KVV_Q4_0};
    char note[200];
    kvv_verdict v;
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        inputs(11 + i);
        ref_values(ts[i]);
        CU_ASSERT_EQUAL(judge(ts[i], &v, note, sizeof note), 0);
        CU_ASSERT_EQUAL(v.status, KVV_PASS);
        CU_ASSERT_PTR_NOT_NULL(strstr(note, "gives back the input"));
    }
}

static void test_new_format_in_any_basis_passes(void)
{
    char note[200];
    kvv_verdict v;
    inputs(21);
    near_input(0, 0.1); /* a dequantizer that rotates back */
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "the input's own basis"));
    near_input(64, 0.1); /* stays rotated, in groups of 64 */
    CU_ASSERT_EQUAL(judge(KVV_TURBO3_QK128, &v, note, sizeof note), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "groups of 64"));
}

static void test_planted_losses_fail(void)
{
    char note[200];
    kvv_verdict v;
    inputs(31);
    /* a stub: every index 0, only the norm kept */
    for (int r = 0; r < ROWS; r++) {
        double s = 0;
        for (int c = 0; c < COLS; c++)
            s += (double)x[r * COLS + c] * x[r * COLS + c];
        for (int c = 0; c < COLS; c++)
            got[r * COLS + c] = (float)(-0.19 * sqrt(s));
    }
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), 1);
    CU_ASSERT_EQUAL(v.status, KVV_FAIL);
    CU_ASSERT_EQUAL(v.rule, KVV_RULE_ROUNDTRIP);
    CU_ASSERT_PTR_NOT_NULL(strstr(v.detail, "loses the values"));
    CU_ASSERT_EQUAL(v.ndiffs, 1);
    /* one row of 32 lost (its RMS alone would pass) */
    ref_values(KVV_TURBO3_QK128);
    for (int c = 0; c < COLS; c++)
        got[5 * COLS + c] = got[5 * COLS + (c + 1) % COLS];
    CU_ASSERT_EQUAL(judge(KVV_TURBO3_QK128, &v, note, sizeof note), 1);
    CU_ASSERT_EQUAL(v.rule, KVV_RULE_ROUNDTRIP);
    CU_ASSERT_EQUAL(v.diffs[0].row, 5);
    /* a NaN the input does not have */
    ref_values(KVV_TURBO3_QK128);
    got[7 * COLS + 3] = NAN;
    CU_ASSERT_EQUAL(judge(KVV_TURBO3_QK128, &v, note, sizeof note), 1);
    CU_ASSERT_EQUAL(v.diffs[0].row, 7);
    /* values read from the wrong bytes: another row's */
    ref_values(KVV_TURBO3_QK128);
    memmove(got, got + COLS, sizeof(float) * (ROWS - 1) * COLS);
    CU_ASSERT_EQUAL(judge(KVV_TURBO3_QK128, &v, note, sizeof note), 1);
    /* twice the noise of a 2-bit format is too much for turbo4 */
    near_input(0, 0.9);
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), 1);
}

static void test_not_judged(void)
{
    char note[200];
    kvv_verdict v;
    inputs(41);
    kvv_roundtrip_mark_unwritten(got, ROWS * COLS);
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), -1);
    CU_ASSERT_EQUAL(v.status, KVV_PASS);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "no values back"));
    /* one unwritten row among written ones is a loss */
    ref_values(KVV_TURBO4);
    kvv_roundtrip_mark_unwritten(got + 9 * COLS, COLS);
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), 1);
    CU_ASSERT_EQUAL(v.diffs[0].row, 9);
    /* a row with NaN input is left out, whatever came back for it */
    ref_values(KVV_TURBO4);
    x[2 * COLS] = NAN;
    for (int c = 0; c < COLS; c++)
        got[2 * COLS + c] = 1e30f;
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), 0);
    /* all rows zero: nothing to judge */
    memset(x, 0, sizeof x);
    memset(got, 0, sizeof got);
    CU_ASSERT_EQUAL(judge(KVV_TURBO4, &v, note, sizeof note), -1);
    CU_ASSERT_STRING_EQUAL(kvv_rule_name(KVV_RULE_ROUNDTRIP), "roundtrip");
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"known versions' own values pass", test_known_versions_pass},
                                     {"a new format as good passes in any basis", test_new_format_in_any_basis_passes},
                                     {"planted losses fail rule roundtrip", test_planted_losses_fail},
                                     {"unwritten values and bad rows are not judged", test_not_judged},
                                     {NULL, NULL}};
    kvv_add_suite("roundtrip rule", tests);
}
