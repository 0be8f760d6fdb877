/* The WHT rotation of the reference (ref/wht.c): sign vectors, exactness
 * against a dense Hadamard product, orthogonality, and the forks' f32
 * transform within its error bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "ref/quant/quant.h"
#include "tests/harness.h"

/* SPEC 3.4 as printed, and the forks' packed words (set bit = -1). */
static const char *spec_s1 = "- + + - - + - + - - + + + + + + + - + - + - - + + + - + + - - -"
                             "- + + - + + - + - + + - - + - + + + + - - - - - + - + + + + - +"
                             "- - + - - - + - - - + - - - + + + - - + + + - - + + - + + - + -"
                             "- + + - + - + - + + + + - + - + + - + + - - - - - + + - + + - +";
static const char *spec_s2 = "+ + + + - + + - + - - - + - - - + + - - + - + - + - - + - + + +"
                             "+ + - - - + - - - - - - + + + - + - + + + - - + - - - - - - + +"
                             "+ - + - - - - + - + - + - - + + - + - + + - + - - - - + - - + -"
                             "+ - + + + - - + - + - + + - - + - + - + + - + - + - - - - - + -";
static const uint32_t words_s1[4] = {0xE46A0359, 0x42F85949, 0xA4C63BBB, 0x49F250A9};
static const uint32_t words_s2[4] = {0x16ACEE90, 0x3F628FDC, 0xB7A5357A, 0xBEA56562};

static void check_signs(const int8_t *s, const char *spec, const uint32_t *w)
{
    int e = 0;
    for (const char *p = spec; *p; p++) {
        if (*p != '+' && *p != '-')
            continue;
        CU_ASSERT_FATAL(e < 128);
        CU_ASSERT_EQUAL(s[e], *p == '+' ? 1 : -1);
        CU_ASSERT_EQUAL(s[e], ((w[e >> 5] >> (e & 31)) & 1) ? -1 : 1);
        e++;
    }
    CU_ASSERT_EQUAL(e, 128);
}

static void test_sign_vectors(void)
{
    check_signs(kvv_ref_s1, spec_s1, words_s1);
    check_signs(kvv_ref_s2, spec_s2, words_s2);
}

static void fill_normal(double *x, int n, uint64_t seed)
{
    kvv_rng r;
    kvv_rng_seed(&r, seed, KVV_STREAM_X);
    for (int i = 0; i < n; i++)
        x[i] = kvv_rng_normal(&r);
}

/* Sylvester Hadamard entry: (-1)^popcount(i & j) */
static int hadamard(int i, int j) { return __builtin_popcount((unsigned)(i & j)) & 1 ? -1 : 1; }

/* forward = diag(S2) H diag(S1) / sqrt(g) for every g, on two rows of two
 * groups each, against the dense matrix product */
static void test_dense_hadamard(void)
{
    for (int g = 1; g <= 128; g *= 2) {
        int ncols = 2 * g, nrows = 2;
        double *x = malloc(sizeof(double) * nrows * ncols), *y = malloc(sizeof(double) * nrows * ncols);
        fill_normal(x, nrows * ncols, (uint64_t)g);
        memcpy(y, x, sizeof(double) * nrows * ncols);
        kvv_ref_wht(y, nrows, ncols, g, 0);
        double worst = 0, worst_inv = 0;
        for (int r = 0; r < nrows; r++)
            for (int c0 = 0; c0 < ncols; c0 += g)
                for (int i = 0; i < g; i++) {
                    double s = 0;
                    for (int j = 0; j < g; j++)
                        s += hadamard(i, j) * kvv_ref_s1[j] * x[r * ncols + c0 + j];
                    s *= kvv_ref_s2[i] / sqrt((double)g);
                    worst = fmax(worst, fabs(s - y[r * ncols + c0 + i]));
                }
        CU_ASSERT(worst < 1e-13 * sqrt((double)g) * 4);
        /* the inverse is S1 H S2 / sqrt(g) */
        memcpy(y, x, sizeof(double) * nrows * ncols);
        kvv_ref_wht(y, nrows, ncols, g, 1);
        for (int r = 0; r < nrows; r++)
            for (int c0 = 0; c0 < ncols; c0 += g)
                for (int i = 0; i < g; i++) {
                    double s = 0;
                    for (int j = 0; j < g; j++)
                        s += hadamard(i, j) * kvv_ref_s2[j] * x[r * ncols + c0 + j];
                    s *= kvv_ref_s1[i] / sqrt((double)g);
                    worst_inv = fmax(worst_inv, fabs(s - y[r * ncols + c0 + i]));
                }
        CU_ASSERT(worst_inv < 1e-13 * sqrt((double)g) * 4);
        free(x);
        free(y);
    }
}

static void test_orthogonal(void)
{
    for (int g = 1; g <= 128; g *= 2) {
        int ncols = 256, nrows = 3;
        double x[768], y[768];
        fill_normal(x, nrows * ncols, 100 + (uint64_t)g);
        memcpy(y, x, sizeof y);
        kvv_ref_wht(y, nrows, ncols, g, 0);
        double n0 = 0, n1 = 0, moved = 0;
        for (int i = 0; i < nrows * ncols; i++) {
            n0 += x[i] * x[i];
            n1 += y[i] * y[i];
            moved = fmax(moved, fabs(x[i] - y[i]));
        }
        CU_ASSERT(fabs(n0 - n1) < 1e-12 * n0);
        if (g > 1)
            CU_ASSERT(moved > 0.1); /* it did rotate */
        kvv_ref_wht(y, nrows, ncols, g, 1);
        double err = 0;
        for (int i = 0; i < nrows * ncols; i++)
            err = fmax(err, fabs(x[i] - y[i]));
        CU_ASSERT(err < 1e-12);
    }
    /* a shape that is not a rotation leaves the data alone */
    double z[96];
    fill_normal(z, 96, 5);
    double keep[96];
    memcpy(keep, z, sizeof z);
    kvv_ref_wht(z, 1, 96, 64, 0); /* 96 is not a multiple of 64 */
    kvv_ref_wht(z, 1, 96, 3, 0);  /* 3 is not a power of two */
    CU_ASSERT_EQUAL(memcmp(z, keep, sizeof z), 0);
}

static void test_inv_sqrt_constants(void)
{
    CU_ASSERT_EQUAL(kvv_rq_inv_sqrt_f32(128), 0.08838834764831845f);
    CU_ASSERT_EQUAL(kvv_rq_inv_sqrt_f32(64), 0.125f);
    CU_ASSERT_EQUAL(kvv_rq_inv_sqrt_f32(1), 1.0f);
}

/* The canonical f32 rotation (norm, reciprocal, butterfly, scale) against
 * the exact one: within kvv_rq_rot_err for every coordinate, over inputs of
 * several shapes; and the bound is not vacuous (the worst error uses a
 * visible part of it). */
static void test_f32_within_bound(void)
{
    const kvv_dist dists[] = {KVV_DIST_GAUSS, KVV_DIST_HEAVY, KVV_DIST_OUTLIER};
    double worst_ratio = 0;
    for (int g = 16; g <= 128; g *= 2)
        for (int di = 0; di < 3; di++) {
            float x[64 * 128];
            kvv_gen_fill(x, 64, g, 0, dists[di], 7 + (uint64_t)g, KVV_STREAM_K);
            for (int r = 0; r < 64; r++) {
                kvv_rq_group gr;
                kvv_rq_group_rotate(x + r * g, g, 1, &gr);
                CU_ASSERT_FATAL(!gr.zero);
                for (int j = 0; j < g; j++) {
                    double e = fabs(gr.u[j] - gr.ue[j]), b = kvv_rq_rot_err(gr.ue[j], g);
                    CU_ASSERT(e <= b);
                    worst_ratio = fmax(worst_ratio, e / b);
                }
            }
        }
    CU_ASSERT(worst_ratio > 0.01);
    printf("  worst |u32 - u| / bound: %.3f\n", worst_ratio);
    /* the bare f32 butterfly of a unit vector against f64 */
    double v[128];
    float f[128];
    fill_normal(v, 128, 99);
    double n = 0;
    for (int i = 0; i < 128; i++)
        n += v[i] * v[i];
    for (int i = 0; i < 128; i++) {
        f[i] = (float)(v[i] / sqrt(n));
        v[i] = f[i];
    }
    kvv_rq_wht_f32(f, 128, kvv_ref_s1, kvv_ref_s2);
    kvv_rq_wht_f64(v, 128, kvv_ref_s1, kvv_ref_s2);
    for (int i = 0; i < 128; i++)
        CU_ASSERT(fabs(f[i] - v[i]) <= KVV_RQ_U32 * (7 + 3));
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"S1/S2 = SPEC text = packed words", test_sign_vectors},
        {"forward/inverse = dense S H S / sqrt(g), g = 1..128", test_dense_hadamard},
        {"orthogonal, inverse(forward(x)) = x", test_orthogonal},
        {"f32 1/sqrt(g) constants", test_inv_sqrt_constants},
        {"f32 canonical rotation within its error bound", test_f32_within_bound},
        {NULL, NULL},
    };
    kvv_add_suite("ref_wht", tests);
}
