/* Every oracle rule fed a planted defect: a flipped bit, a double rotation,
 * a swapped K/V type, a wrong centroid table, a perturbed value, a NaN.
 * Each test first shows the rule passes the honest input, then that it
 * catches the defect (a check that passes on garbage is a bug). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "kvv/tensor.h"
#include "oracle/rules.h"
#include "oracle/verdict.h"
#include "tests/harness.h"

#define ROWS 8

static float *gen(int rows, int cols, kvv_dist d, uint64_t seed)
{
    float *x = kvv_alloc(sizeof(float) * (size_t)rows * cols);
    kvv_gen_fill(x, rows, cols, rows, d, seed, KVV_STREAM_X);
    return x;
}

/* canonical bytes and ties of x */
static void *canon(kvv_type t, const float *x, int rows, int cols, kvv_ref_ties *ties)
{
    void *b = kvv_alloc(kvv_row_bytes(t, cols) * rows);
    CU_ASSERT_FATAL(kvv_ref_ties_alloc(ties, t, rows, cols) == 0);
    CU_ASSERT_FATAL(kvv_ref_type_get(t)->quantize(x, b, rows, cols, ties) == 0);
    return b;
}

static void test_bytes_flipped_bit(void)
{
    /* every type of the table */
    kvv_type types[KVV_TYPE_COUNT];
    const int ntypes = kvv_types_of(KVV_ANY_FAMILY, types);
    for (int i = 0; i < ntypes; i++) {
        kvv_type t = types[i];
        const int cols = 128;
        size_t rb = kvv_row_bytes(t, cols);
        float *x = gen(ROWS, cols, KVV_DIST_OUTLIER, 11 + i);
        kvv_ref_ties ties;
        uint8_t *c = canon(t, x, ROWS, cols, &ties);
        uint8_t *g = kvv_alloc(rb * ROWS);
        memcpy(g, c, rb * ROWS);
        kvv_verdict v;
        kvv_verdict_init(&v);
        CU_ASSERT(kvv_judge_bytes(t, x, ROWS, cols, c, &ties, g, "K", &v) == 0);
        CU_ASSERT(v.status == KVV_PASS);
        /* a payload bit in row 5, then a scale bit in row 2 */
        for (int which = 0; which < 2; which++) {
            memcpy(g, c, rb * ROWS);
            size_t off = which == 0 ? 5 * rb + rb - 1 : 2 * rb + 1;
            g[off] ^= which == 0 ? 0x10 : 0x04;
            kvv_verdict_init(&v);
            CU_ASSERT(kvv_judge_bytes(t, x, ROWS, cols, c, &ties, g, "K", &v) != 0);
            CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES);
            CU_ASSERT(strstr(v.detail, which == 0 ? "row 5" : "row 2") != NULL);
        }
        kvv_ref_ties_free(&ties);
        kvv_free(x);
        kvv_free(c);
        kvv_free(g);
    }
}

/* q8_0: a value placed exactly half way between two levels is a tie; the
 * other neighbour passes (counted), any other value fails. */
static void test_bytes_tie(void)
{
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16) / 16.0f;
    x[0] = 127.0f; /* d = 1, id = 1: x*id is x itself */
    x[5] = 2.5f;   /* exactly on the rounding boundary between 2 and 3 */
    kvv_ref_ties ties;
    uint8_t *c = canon(KVV_Q8_0, x, 1, 32, &ties);
    CU_ASSERT(ties.alt[5] == 2 || ties.alt[5] == 3);
    CU_ASSERT(ties.alt[1] == KVV_NO_TIE);
    uint8_t g[34];
    memcpy(g, c, 34);
    g[2 + 5] = (uint8_t)ties.alt[5];
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_bytes(KVV_Q8_0, x, 1, 32, c, &ties, g, "", &v) == 0);
    CU_ASSERT(v.status == KVV_PASS && v.ties == 1 && v.tie_candidates >= 1);
    g[2 + 5] = (uint8_t)(ties.alt[5] + (ties.alt[5] > c[2 + 5] ? 1 : -1)); /* two levels away */
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_bytes(KVV_Q8_0, x, 1, 32, c, &ties, g, "", &v) != 0);
    CU_ASSERT(v.rule == KVV_RULE_BYTES && strstr(v.detail, "element 5") != NULL);
    /* a non-tie element moved by one level is caught */
    memcpy(g, c, 34);
    g[2 + 9] = (uint8_t)(g[2 + 9] + 1);
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_bytes(KVV_Q8_0, x, 1, 32, c, &ties, g, "", &v) != 0);
    kvv_ref_ties_free(&ties);
    kvv_free(c);
}

/* Double rotation: the rows were rotated (say by a graph-level op) and then
 * quantized by a quantizer that rotates again. */
static void test_bytes_double_rotation(void)
{
    const int cols = 256;
    float *x = gen(ROWS, cols, KVV_DIST_GAUSS, 21);
    double *xd = malloc(sizeof(double) * ROWS * cols);
    float *xr = kvv_alloc(sizeof(float) * ROWS * cols);
    for (int i = 0; i < ROWS * cols; i++)
        xd[i] = x[i];
    kvv_ref_wht(xd, ROWS, cols, 128, 0);
    for (int i = 0; i < ROWS * cols; i++)
        xr[i] = (float)xd[i];
    kvv_ref_ties ties, t2;
    void *c = canon(KVV_TURBO3, x, ROWS, cols, &ties);
    void *twice = canon(KVV_TURBO3, xr, ROWS, cols, &t2);
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_bytes(KVV_TURBO3, x, ROWS, cols, c, &ties, twice, "K", &v) != 0);
    CU_ASSERT(v.rule == KVV_RULE_BYTES);
    kvv_ref_ties_free(&ties);
    kvv_ref_ties_free(&t2);
    free(xd);
    kvv_free(x);
    kvv_free(xr);
    kvv_free(c);
    kvv_free(twice);
}

/* A wrong centroid table: turbo4 indices chosen against the alternative
 * 4-bit table some forks ship (scaled so its outermost level matches). */
static void test_bytes_wrong_table(void)
{
    int n = 0;
    const kvv_ref_table *tabs = kvv_ref_tables(&n);
    const kvv_ref_table *alt = NULL, *c4 = NULL;
    for (int i = 0; i < n; i++) {
        if (tabs[i].levels == 16 && !c4)
            c4 = &tabs[i];
        if (tabs[i].levels == 16 && fabs(tabs[i].values[15] - 0.173926) < 1e-6)
            alt = &tabs[i];
    }
    CU_ASSERT_FATAL(alt != NULL && c4 != NULL);
    const int cols = 128;
    float *x = gen(ROWS, cols, KVV_DIST_GAUSS, 31);
    kvv_ref_ties ties;
    uint8_t *c = canon(KVV_TURBO4, x, ROWS, cols, &ties);
    uint8_t *g = kvv_alloc(kvv_row_bytes(KVV_TURBO4, cols) * ROWS);
    memcpy(g, c, kvv_row_bytes(KVV_TURBO4, cols) * ROWS);
    const kvv_type_info *ti = kvv_type_get(KVV_TURBO4);
    double *u = malloc(sizeof(double) * cols);
    for (int r = 0; r < ROWS; r++) {
        double nn = 0;
        for (int j = 0; j < cols; j++)
            nn += (double)x[r * cols + j] * x[r * cols + j];
        for (int j = 0; j < cols; j++)
            u[j] = x[r * cols + j] / sqrt(nn);
        kvv_ref_wht(u, 1, cols, 128, 0);
        kvv_fields f;
        ti->unpack(g + r * ti->bytes, &f);
        for (int j = 0; j < cols; j++) {
            int k = 0;
            while (k < 15 && u[j] >= 0.5 * (alt->values[k] + alt->values[k + 1]))
                k++;
            f.idx[j] = (int16_t)k;
        }
        ti->pack(&f, g + r * ti->bytes);
    }
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_bytes(KVV_TURBO4, x, ROWS, cols, c, &ties, g, "V", &v) != 0);
    CU_ASSERT(v.rule == KVV_RULE_BYTES && strstr(v.detail, "index") != NULL);
    free(u);
    kvv_ref_ties_free(&ties);
    kvv_free(x);
    kvv_free(c);
    kvv_free(g);
}

/* A swapped K/V type: V bytes written as q4_0 where the cache is q8_0. */
static void test_bytes_swapped_type(void)
{
    const int cols = 128;
    float *x = gen(2, cols, KVV_DIST_GAUSS, 41);
    kvv_ref_ties ties, t2;
    uint8_t *c = canon(KVV_Q8_0, x, 2, cols, &ties);
    uint8_t *w = canon(KVV_Q4_0, x, 2, cols, &t2);
    uint8_t *g = kvv_alloc(kvv_row_bytes(KVV_Q8_0, cols) * 2);
    memcpy(g, w, kvv_row_bytes(KVV_Q4_0, cols) * 2);
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_bytes(KVV_Q8_0, x, 2, cols, c, &ties, g, "V", &v) != 0);
    kvv_ref_ties_free(&ties);
    kvv_ref_ties_free(&t2);
    kvv_free(x);
    kvv_free(c);
    kvv_free(w);
    kvv_free(g);
}

static void test_same_f32_and_bytes(void)
{
    float a[64], b[64];
    for (int i = 0; i < 64; i++)
        a[i] = b[i] = (float)i * 0.37f;
    a[7] = b[7] = NAN;
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_same_f32(a, b, 64, 16, KVV_RULE_DEQUANT, "x", &v) == 0 && v.status == KVV_PASS);
    b[33] = nextafterf(b[33], 100.0f); /* one ulp */
    CU_ASSERT(kvv_judge_same_f32(a, b, 64, 16, KVV_RULE_DEQUANT, "x", &v) != 0);
    CU_ASSERT(v.rule == KVV_RULE_DEQUANT && strstr(v.detail, "x[2,1]") != NULL);
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_same_bytes(a, b, sizeof a, 16, KVV_RULE_TOGGLE, "out", &v) != 0);
    CU_ASSERT(v.rule == KVV_RULE_TOGGLE);
    /* +0 and -0 differ in bits: a speed toggle must not flip signs */
    b[33] = a[33];
    a[3] = 0.0f;
    b[3] = -0.0f;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_same_f32(a, b, 64, 16, KVV_RULE_TOGGLE, "x", &v) != 0);
}

static void test_finite(void)
{
    float g[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double r[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_finite(g, r, 8, 4, "out", &v) == 0);
    g[6] = NAN;
    CU_ASSERT(kvv_judge_finite(g, r, 8, 4, "out", &v) != 0 && v.rule == KVV_RULE_FINITE);
    g[6] = 7;
    r[2] = INFINITY; /* the reference overflowing while the backend reports a number is caught too */
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_finite(g, r, 8, 4, "out", &v) != 0);
}

static void test_ratio(void)
{
    float g[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    double r[4] = {1.0, 2.0, 3.0, 4.0}, b[4] = {1e-6, 1e-6, 1e-6, 0};
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_ratio(g, r, b, 4, 4, "out", &v) == 0);
    r[1] = 2.0 + 0.5e-6;
    CU_ASSERT(kvv_judge_ratio(g, r, b, 4, 4, "out", &v) == 0 && fabs(v.arith_ratio - 0.5) < 1e-9);
    r[1] = 2.0 + 3e-6;
    CU_ASSERT(kvv_judge_ratio(g, r, b, 4, 4, "out", &v) != 0 && v.rule == KVV_RULE_ARITH);
    CU_ASSERT(strstr(v.detail, "out[0,1]") != NULL);
    /* a zero bound admits no error at all */
    r[1] = 2.0;
    r[3] = 4.0 + 1e-12;
    kvv_verdict_init(&v);
    CU_ASSERT(kvv_judge_ratio(g, r, b, 4, 4, "out", &v) != 0);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"bytes: flipped bit", test_bytes_flipped_bit},
                                     {"bytes: tie", test_bytes_tie},
                                     {"bytes: double rotation", test_bytes_double_rotation},
                                     {"bytes: wrong centroid table", test_bytes_wrong_table},
                                     {"bytes: swapped K/V type", test_bytes_swapped_type},
                                     {"dequant/toggle: bit identity", test_same_f32_and_bytes},
                                     {"finite", test_finite},
                                     {"arith: ratio", test_ratio},
                                     {NULL, NULL}};
    kvv_add_suite("oracle rules", tests);
}
