/* The reference quantizers of the float and ggml block types
 * (ref/quant/float.c, q8_0.c, q4_0.c, q4_1.c, q5_0.c, q5_1.c, iq4_nl.c):
 * hand-computed blocks, round trips, agreement with the core codec, and tie
 * detection (planted boundaries, and other correct f32 evaluation orders
 * that must only ever disagree where a tie is recorded). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "ref/quant/quant.h"
#include "tests/harness.h"

/* the ggml block types: every row of the table's BLOCK family */
static kvv_type ggml_types[KVV_TYPE_COUNT];
static int n_ggml(void) { return kvv_types_of(KVV_FAMILY_BLOCK, ggml_types); }
static const int grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static int quantize(kvv_type t, const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *ties)
{
    return kvv_ref_type_get(t)->quantize(x, dst, nrows, ncols, ties);
}

static void dequantize(kvv_type t, const void *src, float *y, int64_t nrows, int64_t ncols)
{
    kvv_ref_type_get(t)->dequantize(src, y, nrows, ncols);
}

/* Quantize one block of 32 and compare with the expected bytes. */
static void expect_block(kvv_type t, const float *x, const uint8_t *want, int nbytes)
{
    uint8_t got[64];
    CU_ASSERT_EQUAL_FATAL(quantize(t, x, got, 1, 32, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(got, want, (size_t)nbytes), 0);
    if (memcmp(got, want, (size_t)nbytes)) {
        printf("\n  %s: got ", kvv_type_name(t));
        for (int i = 0; i < nbytes; i++)
            printf("%02x", got[i]);
        printf("\n  %*s want ", (int)strlen(kvv_type_name(t)), "");
        for (int i = 0; i < nbytes; i++)
            printf("%02x", want[i]);
        printf("\n");
    }
}

/* ggml's nibble layout by hand: element j low nibble of qs[j], j+16 high */
static void nibbles(const int *L, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((L[j] & 15) | ((L[j + 16] & 15) << 4));
        h |= (uint32_t)(L[j] >> 4 & 1) << j | (uint32_t)(L[j + 16] >> 4 & 1) << (j + 16);
    }
    if (qh)
        for (int i = 0; i < 4; i++)
            qh[i] = (uint8_t)(h >> 8 * i);
}

static void test_table(void)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_ref_type *r = kvv_ref_type_get((kvv_type)t);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_EQUAL(r->type, (kvv_type)t);
        CU_ASSERT_PTR_NOT_NULL(r->quantize);
        CU_ASSERT_PTR_NOT_NULL(r->dequantize);
        /* every rotated type can requantize; iq4_nl@search is judged by cost */
        if (kvv_type_get((kvv_type)t)->rotated)
            CU_ASSERT_PTR_NOT_NULL(r->requantize);
    }
    CU_ASSERT_PTR_NOT_NULL(kvv_ref_type_get(KVV_IQ4_NL_SEARCH)->block_cost);
    CU_ASSERT_PTR_NULL(kvv_ref_type_get(KVV_TYPE_COUNT));
    CU_ASSERT_PTR_NULL(kvv_ref_type_get(KVV_TYPE_NONE));
}

static void test_shapes(void)
{
    float x[96] = {0};
    uint8_t buf[512];
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        int block = kvv_type_get((kvv_type)t)->block;
        char why[200];
        for (int ncols = 16; ncols <= 96; ncols += 16) {
            int fits = kvv_type_fits((kvv_type)t, ncols, why, sizeof why);
            CU_ASSERT_EQUAL(quantize((kvv_type)t, x, buf, 1, ncols, NULL), fits ? 0 : -1);
        }
        CU_ASSERT_EQUAL(quantize((kvv_type)t, x, buf, 1, 0, NULL), -1);
        CU_ASSERT_EQUAL(quantize((kvv_type)t, x, buf, -1, 128, NULL), -1);
        CU_ASSERT_EQUAL(quantize((kvv_type)t, x, buf, 0, block, NULL), 0);
    }
    CU_ASSERT_EQUAL(quantize(KVV_Q8_0, x, buf, 1, 48, NULL), -1);
    CU_ASSERT_EQUAL(quantize(KVV_Q8_0, x, buf, 1, 64, NULL), 0);
}

static void test_ties_alloc(void)
{
    kvv_ref_ties t;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_Q4_0, 3, 64), 0);
    for (int i = 0; i < 3 * 64; i++) {
        CU_ASSERT_EQUAL(t.alt[i], KVV_NO_TIE);
        CU_ASSERT_EQUAL(t.sign_tie[i], 0);
    }
    for (int b = 0; b < 6; b++) {
        CU_ASSERT_EQUAL(t.scale_tie[b], 0);
        CU_ASSERT_EQUAL(t.block_tie[b], 0);
        CU_ASSERT_EQUAL(t.scale_alt[2 * b] | t.scale_alt[2 * b + 1], 0);
    }
    kvv_ref_ties_free(&t);
    CU_ASSERT_PTR_NULL(t.alt);
    kvv_ref_ties_free(&t); /* twice is harmless */
    CU_ASSERT_EQUAL(kvv_ref_ties_alloc(&t, KVV_Q4_0, 1, 48), -1);
    CU_ASSERT_EQUAL(kvv_ref_ties_alloc(&t, KVV_TYPE_COUNT, 1, 32), -1);
    CU_ASSERT_EQUAL(kvv_ref_ties_alloc(&t, KVV_F16, 0, 8), 0);
    kvv_ref_ties_free(&t);
}

/* ---- hand-computed blocks ---- */

static void test_known_q8_0(void)
{
    /* amax = 127 makes d = 1 and id = 1: q = roundf(x), halves away from 0 */
    float x[32];
    int q[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 20), q[j] = j - 20;
    const float special[8] = {-127, 0.5f, -0.5f, 2.5f, 2.49f, 126.5f, 0, -3.7f};
    const int special_q[8] = {-127, 1, -1, 3, 2, 127, 0, -4};
    for (int j = 0; j < 8; j++)
        x[j] = special[j], q[j] = special_q[j];
    uint8_t want[34] = {0x00, 0x3c};
    for (int j = 0; j < 32; j++)
        want[2 + j] = (uint8_t)(int8_t)q[j];
    expect_block(KVV_Q8_0, x, want, 34);

    /* amax = 12.7: d = 0.1f, stored f16(0.1f) = 0x2e66 */
    for (int j = 0; j < 32; j++)
        x[j] = 0.0f;
    x[3] = -12.7f;
    x[4] = 0.1f;
    float d = 12.7f / 127.0f, id = 1.0f / d;
    memset(want, 0, sizeof want);
    want[0] = 0x66;
    want[1] = 0x2e;
    want[2 + 3] = (uint8_t)(int8_t)-127;
    want[2 + 4] = (uint8_t)(int8_t)lroundf(0.1f * id);
    CU_ASSERT_EQUAL(want[2 + 4], 1);
    expect_block(KVV_Q8_0, x, want, 34);
}

static void test_known_q4_0(void)
{
    /* the first value of largest magnitude is -8: d = 1, q = MIN(15, trunc(x + 8.5)) */
    float x[32];
    int L[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j % 16 - 8), L[j] = j % 16;
    const float special[] = {-8, 7.9f, 0, 0.5f, 0.49f, -0.5f, -0.51f, 3};
    const int special_L[] = {0, 15, 8, 9, 8, 8, 7, 11};
    for (int j = 0; j < 8; j++)
        x[j] = special[j], L[j] = special_L[j];
    x[20] = 8.0f; /* as large as -8 but later: -8 stays the max, 8 + 8.5 clamps to 15 */
    L[20] = 15;
    uint8_t want[18] = {0x00, 0x3c};
    nibbles(L, want + 2, NULL);
    expect_block(KVV_Q4_0, x, want, 18);
    /* the sign of the first max sets the sign of d */
    x[0] = 8.0f;
    x[20] = -8.0f;
    uint8_t got[18];
    CU_ASSERT_EQUAL(quantize(KVV_Q4_0, x, got, 1, 32, NULL), 0);
    CU_ASSERT_EQUAL(kvv_rq_rd16(got), 0xbc00);
}

static void test_known_q4_1(void)
{
    /* min = -1, max = 14: d = 1, m = f16(-1), q = MIN(15, trunc(x + 1 + 0.5)) */
    float x[32];
    int L[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j % 15 - 1), L[j] = j % 15;
    const float special[] = {-1, 14, 0.5f, 0.49f, 13.6f};
    const int special_L[] = {0, 15, 2, 1, 15};
    for (int j = 0; j < 5; j++)
        x[j] = special[j], L[j] = special_L[j];
    uint8_t want[20] = {0x00, 0x3c, 0x00, 0xbc};
    nibbles(L, want + 4, NULL);
    expect_block(KVV_Q4_1, x, want, 20);
}

static void test_known_q5_0(void)
{
    /* first max -16: d = 1, q = MIN(31, trunc(x + 16.5)), bit 4 in qh */
    float x[32];
    int L[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16), L[j] = j;
    x[5] = 15.9f; /* 32.4 clamps to 31 */
    L[5] = 31;
    x[6] = -0.51f; /* 15.99 -> 15 */
    L[6] = 15;
    uint8_t want[22] = {0x00, 0x3c};
    nibbles(L, want + 6, want + 2);
    expect_block(KVV_Q5_0, x, want, 22);
}

static void test_known_q5_1(void)
{
    /* min = 0, max = 31: d = 1, m = 0, q = trunc(x + 0.5) */
    float x[32];
    int L[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)j, L[j] = j;
    x[5] = 4.5f; /* 5.0 -> 5 */
    x[6] = 6.49f; /* 6.99 -> 6 */
    uint8_t want[24] = {0x00, 0x3c, 0x00, 0x00};
    nibbles(L, want + 8, want + 4);
    expect_block(KVV_Q5_1, x, want, 24);
}

static void test_known_iq4_nl(void)
{
    /* values on the grid with -127 first: d = max/-127 = 1, the indices are
     * the grid positions, and the least-squares d is exactly 1 (the two
     * sums are the same f32 numbers).  The scale search finds the same fit. */
    float x[32];
    int L[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)grid[j % 16], L[j] = j % 16;
    uint8_t want[18] = {0x00, 0x3c};
    nibbles(L, want + 2, NULL);
    expect_block(KVV_IQ4_NL, x, want, 18);
    expect_block(KVV_IQ4_NL_SEARCH, x, want, 18);
    kvv_ref_ties t;
    uint8_t got[18];
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL_SEARCH, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL_SEARCH, x, got, 1, 32, &t), 0);
    CU_ASSERT_EQUAL(t.block_tie[0], 0); /* the exact fit wins clearly */
    CU_ASSERT_EQUAL(t.scale_tie[0], 0);
    kvv_ref_ties_free(&t);
    /* half the grid: d = 0.5 exactly */
    for (int j = 0; j < 32; j++)
        x[j] = 0.5f * (float)grid[(j * 7) % 16], L[j] = (j * 7) % 16;
    want[0] = 0x00;
    want[1] = 0x38;
    nibbles(L, want + 2, NULL);
    expect_block(KVV_IQ4_NL, x, want, 18);
    expect_block(KVV_IQ4_NL_SEARCH, x, want, 18);
    CU_ASSERT_DOUBLE_EQUAL(kvv_ref_type_get(KVV_IQ4_NL)->block_cost(x, want), 0.0, 0.0);

    /* an all-tiny block: d = 0; the cache path stores index 0, the search
     * path re-indexes 0*x, which is nearest to grid value 1 (index 8) */
    for (int j = 0; j < 32; j++)
        x[j] = 1e-16f;
    uint8_t zero0[18] = {0}, zero8[18] = {0};
    memset(zero8 + 2, 0x88, 16);
    expect_block(KVV_IQ4_NL, x, zero0, 18);
    expect_block(KVV_IQ4_NL_SEARCH, x, zero8, 18);
}

static void test_known_float(void)
{
    float x[2] = {1.0f, -1.5f};
    uint8_t b[8];
    CU_ASSERT_EQUAL(quantize(KVV_F32, x, b, 1, 2, NULL), 0);
    const uint8_t w32[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0xbf};
    CU_ASSERT_EQUAL(memcmp(b, w32, 8), 0);
    CU_ASSERT_EQUAL(quantize(KVV_F16, x, b, 1, 2, NULL), 0);
    const uint8_t w16[4] = {0x00, 0x3c, 0x00, 0xbe};
    CU_ASSERT_EQUAL(memcmp(b, w16, 4), 0);
    CU_ASSERT_EQUAL(quantize(KVV_BF16, x, b, 1, 2, NULL), 0);
    const uint8_t wb[4] = {0x80, 0x3f, 0xc0, 0xbf};
    CU_ASSERT_EQUAL(memcmp(b, wb, 4), 0);
}

/* ---- round trips ---- */

static void block_minmax(const float *x, float *amax, float *mn, float *mx)
{
    *amax = 0;
    *mn = FLT_MAX;
    *mx = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        *amax = fmaxf(*amax, fabsf(x[j]));
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

/* Largest error each linear type allows in a block (the step, the f16
 * rounding of the stored scale and minimum, q4_0/q5_0's one-sided clamp);
 * -1 (nothing passes) for a type without one here. */
static double err_bound(kvv_type t, const float *x)
{
    float amax, mn, mx;
    block_minmax(x, &amax, &mn, &mx);
    const double h = 0x1p-11; /* f16 relative rounding */
    switch (t) {
    case KVV_Q8_0: return amax / 127.0 * (0.5 + 128 * h) * 1.001;
    case KVV_Q4_0: return amax / 8.0 * (1 + 9 * h) * 1.001;
    case KVV_Q5_0: return amax / 16.0 * (1 + 17 * h) * 1.001;
    case KVV_Q4_1: return (mx - mn) / 15.0 * (0.5 + 16 * h) * 1.001 + fabs(mn) * h * 1.001;
    case KVV_Q5_1: return (mx - mn) / 31.0 * (0.5 + 32 * h) * 1.001 + fabs(mn) * h * 1.001;
    default: return -1;
    }
}

/* ---- iq4_nl's bound per element, from the format: the grid's spacing
 * times the scale the indices were chosen at, plus what moves the stored
 * scale away from that one (the least-squares refit, the scale search, the
 * f16 rounding) times the index's grid value ---- */

#define F16_REL 0x1p-11 /* f16 rounding: relative for normals, */
#define F16_ABS 0x1p-25 /* absolute below */

/* the grid value nearest to v (exact distances) */
static int grid_nearest(double v)
{
    int best = 0;
    for (int g = 1; g < 16; g++)
        if (fabs(v - grid[g]) < fabs(v - grid[best]))
            best = g;
    return grid[best];
}

/* How far (relative) the least-squares d of a block moves from the scale s
 * its indices were chosen at.  With u = x/s and g the grid value nearest
 * to u, d/s - 1 = sum u^2 g (u - g) / sum u^2 g^2: a mean of (u - g)/g
 * weighted by u^2 g^2, over the block's largest element u0 and 31 others
 * with |u| <= |u0|.  The extreme of such a ratio of sums takes every free
 * term at one maximizer (Dinkelbach), so a scan over one u bounds it; 1%
 * covers the scan's step. */
static double ls_drift(double u0)
{
    double g0 = grid_nearest(u0), a0 = u0 * u0 * g0 * (u0 - g0), b0 = u0 * u0 * g0 * g0, worst = 0;
    for (double u = -fabs(u0); u <= fabs(u0); u += 1.0 / 256) {
        double g = grid_nearest(u), a = u * u * g * (u - g), b = u * u * g * g;
        worst = fmax(worst, fabs(a0 + 31 * a) / (b0 + 31 * b));
    }
    return worst * 1.01;
}

/* The band of |d| / (amax/127) the scale search can end in: its 16 trial
 * scales map the largest element to +127 (the first, clamped to 113 on the
 * grid) or to -134 .. -120, and each trial's refit moves by its ls_drift. */
static void search_band(double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = 0;
    for (int itry = -8; itry <= 7; itry++) {
        double u0 = itry == -8 ? 127.0 : itry - 127.0, r = 127.0 / fabs(u0), dr = ls_drift(u0);
        *lo = fmin(*lo, r * (1 - dr));
        *hi = fmax(*hi, r * (1 + dr));
    }
}

/* Elements of one iq4_nl or iq4_nl@search block (x; y its round trip; h
 * the stored scale) farther from x than the format allows, plus one if h
 * lies outside the band its derivation allows:
 *  - the indices are the grid values nearest to x/s for the scale s they
 *    were chosen at (iq4_nl: s = max/-127, max the first largest |x|; the
 *    search: its f32 d, which h rounds): |x - s g| is s times the distance
 *    to the grid (half the local spacing, or the distance past its ends);
 *  - y = h g: the move |h - s| adds |h - s| |g|, with |g| <= |x/s| + 12;
 *    iq4_nl's move is the least-squares refit (band: ls_drift(-127)), the
 *    search's the f16 rounding of d, on either side of the nearest value;
 *  - an all-tiny block (max |x| below 1e-15) stores d = 0. */
static int iq4_over_bound(kvv_type t, const float *x, const float *y, double h)
{
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax)
            amax = fabsf(x[j]), max = x[j];
    int over = 0;
    if (amax < 1e-15f) {
        over += h != 0;
        for (int j = 0; j < 32; j++)
            over += !(fabs((double)y[j] - x[j]) <= fabs(x[j]));
        return over;
    }
    static double drift = -1, lo, hi; /* the bands, derived once */
    if (drift < 0) {
        drift = ls_drift(-127);
        search_band(&lo, &hi);
    }
    const double s0 = max / -127.0;
    double s, move;
    if (t == KVV_IQ4_NL) {
        s = s0;
        move = fabs(h - s);
        over += !(move <= (drift + F16_REL) * fabs(s) + F16_ABS);
    } else {
        s = h;
        move = 2 * (F16_REL * 1.001 * fabs(h) + F16_ABS);
        over += !(fabs(h) >= lo * (1 - F16_REL) * fabs(s0) - F16_ABS && fabs(h) <= hi * (1 + F16_REL) * fabs(s0) + F16_ABS);
    }
    for (int j = 0; j < 32; j++) {
        double e = fabs((double)y[j] - x[j]), bound;
        if (s == 0) {
            bound = fabs(x[j]); /* h = 0: every value stores 0 */
        } else {
            double u = x[j] / s;
            /* 2^-18: the f32 index arithmetic and the f32 product h g */
            bound = fabs(s) * fabs(u - grid_nearest(u)) + move * (fabs(u) + 12) + fabs(s) * (fabs(u) + 13) * 0x1p-18;
        }
        over += !(e <= bound);
    }
    return over;
}

/* Elements of a row of blocks over their bound (err_bound or iq4_over_bound). */
static int count_over_bound(kvv_type t, const float *x, const float *y, const uint8_t *q, int nblocks)
{
    int bad = 0;
    for (int b = 0; b < nblocks; b++) {
        if (t == KVV_IQ4_NL || t == KVV_IQ4_NL_SEARCH) {
            bad += iq4_over_bound(t, x + 32 * b, y + 32 * b, kvv_ref_f16_to_f32(kvv_rq_rd16(q + 18 * b)));
            continue;
        }
        double bound = err_bound(t, x + 32 * b);
        for (int j = 0; j < 32; j++)
            bad += !(fabs((double)y[32 * b + j] - x[32 * b + j]) <= bound);
    }
    return bad;
}

static void test_round_trip(void)
{
    const kvv_dist dists[] = {KVV_DIST_GAUSS, KVV_DIST_HEAVY, KVV_DIST_OUTLIER};
    enum { R = 16, C = 128 };
    float *x = malloc(sizeof(float) * R * C), *y = malloc(sizeof(float) * R * C);
    uint8_t *q = malloc(4 * R * C); /* f32 is the widest */
    for (int di = 0; di < 3; di++) {
        kvv_gen_fill(x, R, C, 0, dists[di], 11 + (uint64_t)di, KVV_STREAM_K);
        const int nb = n_ggml();
        CU_ASSERT(nb >= 7);
        for (int ti = 0; ti < nb; ti++) {
            kvv_type t = ggml_types[ti];
            CU_ASSERT_EQUAL_FATAL(quantize(t, x, q, R, C, NULL), 0);
            dequantize(t, q, y, R, C);
            double se = 0, sx = 0;
            for (int k = 0; k < R * C; k++) {
                double e = fabs((double)y[k] - x[k]);
                se += e * e;
                sx += (double)x[k] * x[k];
            }
            int bad = count_over_bound(t, x, y, q, R * C / 32);
            if (bad)
                printf("\n  %s: %d elements over their bound\n", kvv_type_name(t), bad);
            CU_ASSERT_EQUAL(bad, 0);
            /* relative RMS error: what the bit width buys on these inputs */
            double rel = sqrt(se / sx), limit = t == KVV_Q8_0 ? 0.02 : (t == KVV_Q5_0 || t == KVV_Q5_1) ? 0.08 : 0.15;
            if (!(rel < limit))
                printf("\n  %s rel RMS %.4f\n", kvv_type_name(t), rel);
            CU_ASSERT(rel < limit);
            CU_ASSERT(rel > 0);
        }
    }
    /* float types: f32 exact, f16 and bf16 within half their ulp */
    kvv_gen_fill(x, R, C, 0, KVV_DIST_GAUSS, 3, KVV_STREAM_V);
    const kvv_type ft[3] = {KVV_F32, KVV_F16, KVV_BF16};
    const double rel_ulp[3] = {0, 0x1p-11, 0x1p-8};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(quantize(ft[i], x, q, R, C, NULL), 0);
        dequantize(ft[i], q, y, R, C);
        int bad = 0;
        for (int k = 0; k < R * C; k++)
            bad += !(fabs((double)y[k] - x[k]) <= rel_ulp[i] * fabs(x[k]) + 0x1p-25 * (i == 1));
        CU_ASSERT_EQUAL(bad, 0);
    }
    free(x);
    free(y);
    free(q);
}

/* The iq4_nl bound catches what a quantizer could get wrong: an index one
 * grid step farther from its value (each element in turn, every block), a
 * scale twice or half what it is, or 20% more. */
static void test_iq4_nl_bound_catches_defects(void)
{
    enum { NB = 48 };
    float *x = malloc(sizeof(float) * 32 * NB), y[32];
    uint8_t *q = malloc(18 * NB), blk[18];
    kvv_gen_fill(x, NB / 4, 64, 0, KVV_DIST_HEAVY, 41, KVV_STREAM_K);
    kvv_gen_fill(x + 16 * NB, NB / 4, 64, 0, KVV_DIST_GAUSS, 42, KVV_STREAM_V);
    const kvv_type ts[2] = {KVV_IQ4_NL, KVV_IQ4_NL_SEARCH};
    for (int ti = 0; ti < 2; ti++) {
        kvv_type t = ts[ti];
        CU_ASSERT_EQUAL_FATAL(quantize(t, x, q, NB, 32, NULL), 0);
        int clean = 0, planted = 0, missed = 0, scale_missed = 0;
        for (int b = 0; b < NB; b++) {
            const float *xb = x + 32 * b;
            const uint8_t *qb = q + 18 * b;
            double h = kvv_ref_f16_to_f32(kvv_rq_rd16(qb));
            dequantize(t, qb, y, 1, 32);
            clean += iq4_over_bound(t, xb, y, h);
            for (int j = 0; j < 32; j++) {
                /* element j's index one step away from x/h (none past
                 * the grid's ends) */
                memcpy(blk, qb, 18);
                uint8_t *nib = blk + 2 + (j & 15);
                int sh = j < 16 ? 0 : 4, L = (*nib >> sh) & 15;
                L += (double)xb[j] / h <= grid[L] ? 1 : -1;
                if (L < 0 || L > 15)
                    continue;
                *nib = (uint8_t)((*nib & ~(15 << sh)) | L << sh);
                dequantize(t, blk, y, 1, 32);
                planted++;
                missed += iq4_over_bound(t, xb, y, h) == 0;
            }
            const double factor[3] = {2.0, 0.5, 1.2};
            for (int k = 0; k < 3; k++) {
                memcpy(blk, qb, 18);
                uint16_t hs = kvv_ref_f32_to_f16((float)(h * factor[k]));
                blk[0] = (uint8_t)hs;
                blk[1] = (uint8_t)(hs >> 8);
                dequantize(t, blk, y, 1, 32);
                scale_missed += iq4_over_bound(t, xb, y, kvv_ref_f16_to_f32(hs)) == 0;
            }
        }
        CU_ASSERT_EQUAL(clean, 0);
        CU_ASSERT(planted > 32 * NB * 3 / 4);
        CU_ASSERT_EQUAL(missed, 0);
        CU_ASSERT_EQUAL(scale_missed, 0);
        if (clean || missed || scale_missed)
            printf("\n  %s: %d over on clean blocks; defects missed: %d indices, %d scales\n", kvv_type_name(t), clean,
                   missed, scale_missed);
    }
    free(x);
    free(q);
}

/* ---- the core codec and the reference's packing agree ---- */

/* A block's values computed from the core codec's fields. */
static void values_from_fields(kvv_type t, const kvv_fields *f, float *v)
{
    float d = kvv_ref_f16_to_f32((uint16_t)f->scale[0]), m = kvv_ref_f16_to_f32((uint16_t)f->scale[1]);
    for (int j = 0; j < f->n; j++) {
        int i = f->idx[j];
        switch (t) {
        case KVV_F32: memcpy(&v[j], &f->scale[0], 4); break;
        case KVV_F16: v[j] = d; break;
        case KVV_BF16: v[j] = kvv_ref_bf16_to_f32((uint16_t)f->scale[0]); break;
        case KVV_Q8_0: v[j] = (float)i * d; break;
        case KVV_Q4_0: v[j] = (float)(i - 8) * d; break;
        case KVV_Q5_0: v[j] = (float)(i - 16) * d; break;
        case KVV_Q4_1:
        case KVV_Q5_1: {
            float p = (float)i * d;
            v[j] = p + m;
            break;
        }
        default: v[j] = d * (float)grid[i]; break;
        }
    }
}

static void test_core_codec_agrees(void)
{
    enum { R = 4, C = 256 };
    float x[R * C], y[R * C], v[KVV_MAX_BLOCK];
    uint8_t q[R * C * 4], back[64];
    kvv_gen_fill(x, R, C, 0, KVV_DIST_OUTLIER, 21, KVV_STREAM_K);
    const kvv_type all[] = {KVV_F32, KVV_F16, KVV_BF16, KVV_Q8_0, KVV_Q4_0, KVV_Q4_1,
                            KVV_Q5_0, KVV_Q5_1, KVV_IQ4_NL, KVV_IQ4_NL_SEARCH};
    for (size_t ti = 0; ti < sizeof all / sizeof all[0]; ti++) {
        kvv_type t = all[ti];
        const kvv_type_info *info = kvv_type_get(t);
        CU_ASSERT_EQUAL_FATAL(quantize(t, x, q, R, C, NULL), 0);
        dequantize(t, q, y, R, C);
        int bad = 0, idx_seen = 0;
        for (int b = 0; b < R * C / info->block; b++) {
            kvv_fields f;
            info->unpack(q + b * info->bytes, &f);
            values_from_fields(t, &f, v);
            for (int j = 0; j < info->block; j++) {
                bad += memcmp(&v[j], &y[b * info->block + j], 4) != 0;
                idx_seen |= f.idx[j];
            }
            info->pack(&f, back);
            bad += memcmp(back, q + b * info->bytes, (size_t)info->bytes) != 0;
        }
        CU_ASSERT_EQUAL(bad, 0);
        if (info->family == KVV_FAMILY_BLOCK)
            CU_ASSERT(idx_seen != 0);
    }
}

/* ---- ties ---- */

static int count_ties(const kvv_ref_ties *t, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += t->alt[i] != KVV_NO_TIE;
    return k;
}

/* Elements placed exactly on a boundary, one f32 ulp off it, and well away
 * from it, in blocks whose scale is 1 (so x is the rounded quantity). */
static void test_planted_ties(void)
{
    kvv_ref_ties t;
    uint8_t q[64];
    float x[32];

    /* q8_0: 2.5 rounds to 3 (alt 2), -2.5 to -3 (alt -2); 2.5 plus an ulp
     * ties too; 2.5 + 4 ulp and 2.25 do not */
    for (int j = 0; j < 32; j++)
        x[j] = 0.25f;
    x[0] = -127;
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = nextafterf(2.5f, 3);
    x[4] = 2.5f + 4 * 0x1p-22f;
    x[5] = 2.25f;
    x[6] = 126.5f;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_Q8_0, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_Q8_0, x, q, 1, 32, &t), 0);
    CU_ASSERT_EQUAL((int8_t)q[2 + 1], 3);
    CU_ASSERT_EQUAL(t.alt[1], 2);
    CU_ASSERT_EQUAL((int8_t)q[2 + 2], -3);
    CU_ASSERT_EQUAL(t.alt[2], -2);
    CU_ASSERT_EQUAL(t.alt[3], 2);
    CU_ASSERT_EQUAL(t.alt[4], KVV_NO_TIE);
    CU_ASSERT_EQUAL(t.alt[5], KVV_NO_TIE);
    CU_ASSERT_EQUAL(t.alt[6], 126);
    CU_ASSERT_EQUAL(count_ties(&t, 32), 4);
    CU_ASSERT_EQUAL(t.scale_tie[0], 0);
    kvv_ref_ties_free(&t);

    /* q4_0: x + 8.5 truncates; 0.5 gives exactly 9 (alt 8); -7.5 gives 1
     * (alt 0); 7.5 gives 16, clamped to 15 on both sides: no tie */
    for (int j = 0; j < 32; j++)
        x[j] = 0.25f;
    x[0] = -8;
    x[1] = 0.5f;
    x[2] = -7.5f;
    x[3] = 7.5f;
    x[4] = nextafterf(0.5f, 0);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_Q4_0, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_Q4_0, x, q, 1, 32, &t), 0);
    CU_ASSERT_EQUAL(t.alt[1], 8);
    CU_ASSERT_EQUAL(t.alt[2], 0);
    CU_ASSERT_EQUAL(t.alt[3], KVV_NO_TIE);
    /* 0.49999997 + 8.5 = 8.99999997 exactly, but the f32 sum rounds to 9:
     * the canonical index is 9, on the far side of the exact value */
    CU_ASSERT_EQUAL(q[2 + 4] & 15, 9);
    CU_ASSERT_EQUAL(t.alt[4], 8);
    CU_ASSERT_EQUAL(count_ties(&t, 32), 3);
    kvv_ref_ties_free(&t);

    /* q4_1 and q5_1 (min 0, max 15 / 31: d = 1): x + 0.5 truncates, x = 2.5 ties */
    const kvv_type asym[2] = {KVV_Q4_1, KVV_Q5_1};
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 32; j++)
            x[j] = 3.25f;
        x[0] = 0;
        x[1] = i ? 31.0f : 15.0f;
        x[2] = 2.5f;
        CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, asym[i], 1, 32), 0);
        CU_ASSERT_EQUAL(quantize(asym[i], x, q, 1, 32, &t), 0);
        CU_ASSERT_EQUAL(t.alt[2], 2);
        CU_ASSERT_EQUAL(count_ties(&t, 32), 1);
        kvv_ref_ties_free(&t);
    }

    /* q5_0 (max -16: d = 1): x + 16.5; x = 1.5 gives 18 exactly (alt 17) */
    for (int j = 0; j < 32; j++)
        x[j] = 0.25f;
    x[0] = -16;
    x[1] = 1.5f;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_Q5_0, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_Q5_0, x, q, 1, 32, &t), 0);
    CU_ASSERT_EQUAL(t.alt[1], 17);
    CU_ASSERT_EQUAL(count_ties(&t, 32), 1);
    kvv_ref_ties_free(&t);

    /* iq4_nl (max -127: id = 1): 7 is the midpoint of grid values 1 and 13;
     * ggml gives the upper index (9) and the lower (8) is the alternative;
     * 7 + 1 ulp ties as well, 7.25 does not */
    for (int j = 0; j < 32; j++)
        x[j] = 1.0f;
    x[0] = -127;
    x[1] = 7.0f;
    x[2] = nextafterf(7.0f, 8);
    x[3] = 7.25f;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL, x, q, 1, 32, &t), 0);
    CU_ASSERT_EQUAL(q[2 + 1] & 15, 9);
    CU_ASSERT_EQUAL(t.alt[1], 8);
    CU_ASSERT_EQUAL(t.alt[2], 8);
    CU_ASSERT_EQUAL(t.alt[3], KVV_NO_TIE);
    CU_ASSERT_EQUAL(count_ties(&t, 32), 2);
    kvv_ref_ties_free(&t);
}

/* Random data far from boundaries: blocks whose every element sits a
 * quarter step from the rounding points have no ties at all, and Gaussian
 * data has almost none. */
static void test_no_ties_far_from_boundaries(void)
{
    float x[32 * 64];
    uint8_t q[34 * 64];
    kvv_ref_ties t;
    for (int j = 0; j < 32; j++)
        x[j] = (float)((j * 37) % 255 - 127) + 0.25f; /* amax 127.25: id close to 1 */
    x[0] = -127.0f;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_Q8_0, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_Q8_0, x, q, 1, 32, &t), 0);
    CU_ASSERT_EQUAL(count_ties(&t, 32), 0);
    kvv_ref_ties_free(&t);

    kvv_gen_fill(x, 16, 128, 0, KVV_DIST_GAUSS, 5, KVV_STREAM_K);
    const int nb = n_ggml();
    for (int ti = 0; ti < nb; ti++) {
        CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, ggml_types[ti], 16, 128), 0);
        CU_ASSERT_EQUAL(quantize(ggml_types[ti], x, q, 16, 128, &t), 0);
        CU_ASSERT(count_ties(&t, 16 * 128) <= 2);
        int scale_ties = 0;
        for (int b = 0; b < 64; b++)
            scale_ties += t.scale_tie[b] != 0;
        CU_ASSERT(scale_ties <= 2);
        kvv_ref_ties_free(&t);
    }
}

/* Another correct f32 evaluation of each formula (x/d for x*id, a fused
 * multiply-add, exact decisions) may only disagree with the canonical
 * index where the reference recorded a tie, and then it must take the
 * recorded alternative.  Inputs are planted a few ulps from boundaries so
 * that disagreements do happen. */
static int trunc_clamp(double v, int maxq)
{
    int q = (int)v;
    return q < maxq ? q : maxq;
}

static void test_other_orders_only_differ_at_ties(void)
{
    enum { NB = 4000 };
    float *x = malloc(sizeof(float) * 32 * NB);
    uint8_t *q = malloc(34 * NB);
    kvv_rng r;
    kvv_rng_seed(&r, 77, KVV_STREAM_X);
    const kvv_type types[] = {KVV_Q8_0, KVV_Q4_0, KVV_Q4_1, KVV_Q5_0, KVV_Q5_1, KVV_IQ4_NL};
    for (int ti = 0; ti < 6; ti++) {
        kvv_type t = types[ti];
        /* blocks with a random scale; elements a few ulps from boundaries
         * of the rounded quantity (in units of the step) */
        for (int b = 0; b < NB; b++) {
            float s = (float)(0.01 + kvv_rng_uniform(&r));
            float *xb = x + 32 * b;
            for (int j = 0; j < 32; j++) {
                double k;
                switch (t) {
                case KVV_Q8_0: k = floor(kvv_rng_uniform(&r) * 250) - 125 + 0.5; break;
                case KVV_Q4_0: k = floor(kvv_rng_uniform(&r) * 15) - 7.5; break;  /* x*id + 8.5 integer */
                case KVV_Q5_0: k = floor(kvv_rng_uniform(&r) * 31) - 15.5; break;
                case KVV_Q4_1: k = floor(kvv_rng_uniform(&r) * 14) + 0.5; break;
                case KVV_Q5_1: k = floor(kvv_rng_uniform(&r) * 30) + 0.5; break;
                default: {
                    int g = (int)floor(kvv_rng_uniform(&r) * 15);
                    k = -0.5 * (grid[g] + grid[g + 1]); /* id = -1/s: id*x is the midpoint */
                    break;
                }
                }
                int ulps = (int)floor(kvv_rng_uniform(&r) * 7) - 3;
                float v = (float)(k * s);
                for (; ulps > 0; ulps--)
                    v = nextafterf(v, INFINITY);
                for (; ulps < 0; ulps++)
                    v = nextafterf(v, -INFINITY);
                xb[j] = v;
            }
            /* pin the scale: the block's extreme(s) */
            switch (t) {
            case KVV_Q8_0: xb[0] = 127 * s; break;
            case KVV_Q4_0: xb[0] = -8 * s; break;
            case KVV_Q5_0: xb[0] = -16 * s; break;
            case KVV_Q4_1: xb[0] = 0, xb[1] = 15 * s; break;
            case KVV_Q5_1: xb[0] = 0, xb[1] = 31 * s; break;
            default: xb[0] = 127 * s; break; /* iq4_nl: d = max/-127 = -s, id*x = -x/s */
            }
        }
        kvv_ref_ties ties;
        CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&ties, t, NB, 32), 0);
        CU_ASSERT_EQUAL_FATAL(quantize(t, x, q, NB, 32, &ties), 0);
        const kvv_type_info *info = kvv_type_get(t);
        int differ = 0, uncovered = 0;
        for (int b = 0; b < NB; b++) {
            const float *xb = x + 32 * b;
            kvv_fields f;
            info->unpack(q + b * info->bytes, &f);
            float amax = 0, mx = 0, mn = FLT_MAX, hi = -FLT_MAX;
            for (int j = 0; j < 32; j++) {
                if (amax < fabsf(xb[j]))
                    amax = fabsf(xb[j]), mx = xb[j];
                mn = fminf(mn, xb[j]);
                hi = fmaxf(hi, xb[j]);
            }
            float d = 0;
            switch (t) {
            case KVV_Q8_0: d = amax / 127.0f; break;
            case KVV_Q4_0: d = mx / -8.0f; break;
            case KVV_Q5_0: d = mx / -16.0f; break;
            case KVV_Q4_1: d = (hi - mn) / 15.0f; break;
            case KVV_Q5_1: d = (hi - mn) / 31.0f; break;
            default: d = mx / -127.0f; break;
            }
            float id = 1.0f / d;
            for (int j = 0; j < 32; j++) {
                int other[3], n = 0;
                switch (t) {
                case KVV_Q8_0:
                    other[n++] = (int)roundf(xb[j] / d);
                    other[n++] = (int)round((double)xb[j] * id);
                    break;
                case KVV_Q4_0:
                case KVV_Q5_0: {
                    float off = t == KVV_Q4_0 ? 8.5f : 16.5f;
                    int maxq = t == KVV_Q4_0 ? 15 : 31;
                    other[n++] = trunc_clamp(xb[j] / d + off, maxq);
                    other[n++] = trunc_clamp(fmaf(xb[j], id, off), maxq);
                    other[n++] = trunc_clamp((double)xb[j] * id + off, maxq);
                    break;
                }
                case KVV_Q4_1:
                case KVV_Q5_1: {
                    int maxq = t == KVV_Q4_1 ? 15 : 31;
                    other[n++] = trunc_clamp((xb[j] - mn) / d + 0.5f, maxq);
                    other[n++] = trunc_clamp(fmaf(xb[j] - mn, id, 0.5f), maxq);
                    other[n++] = trunc_clamp(((double)xb[j] - mn) * id + 0.5, maxq);
                    break;
                }
                default: {
                    /* the nearest grid value by exact distances, upper on a tie */
                    double v = (double)id * xb[j];
                    int best = 0;
                    for (int g = 1; g < 16; g++)
                        if (fabs(v - grid[g]) <= fabs(v - grid[best]))
                            best = g;
                    other[n++] = best;
                    break;
                }
                }
                for (int k = 0; k < n; k++)
                    if (other[k] != f.idx[j]) {
                        differ++;
                        uncovered += ties.alt[32 * b + j] != other[k];
                    }
            }
        }
        if (uncovered)
            printf("\n  %s: %d of %d disagreements not recorded as ties\n", kvv_type_name(t), uncovered, differ);
        CU_ASSERT_EQUAL(uncovered, 0);
        CU_ASSERT(differ > 20); /* the planted inputs did reach the boundaries */
        /* ties are where the inputs were planted: a good share of elements */
        CU_ASSERT(count_ties(&ties, 32 * NB) > differ / 2);
        kvv_ref_ties_free(&ties);
    }
    free(x);
    free(q);
}

/* iq4_nl's least-squares scale: a block whose exact d is an f16 midpoint
 * (1 + 2^-11) must record the other neighbour, a block a quarter ulp away
 * must not; and summing in another order only ever changes the stored
 * scale where a scale tie was recorded. */
static void test_iq4_nl_scale_ties(void)
{
    float x[32] = {0};
    uint8_t q[18];
    kvv_ref_ties t;
    const float s[2] = {1.0f + 0x1p-11f, 1.0f + 0x1p-12f};
    for (int i = 0; i < 2; i++) {
        x[0] = -127.0f * s[i]; /* the only non-zero: d = x0/q0 = s exactly */
        CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL, 1, 32), 0);
        CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL, x, q, 1, 32, &t), 0);
        uint16_t h = kvv_rq_rd16(q);
        if (i == 0) {
            CU_ASSERT_EQUAL(t.scale_tie[0], 1);
            CU_ASSERT(h == 0x3c00 || h == 0x3c01);
            CU_ASSERT_EQUAL(t.scale_alt[0], h == 0x3c00 ? 0x3c01u : 0x3c00u);
        } else {
            CU_ASSERT_EQUAL(h, 0x3c00);
            CU_ASSERT_EQUAL(t.scale_tie[0], 0);
        }
        kvv_ref_ties_free(&t);
    }

    /* random blocks rescaled so that their least-squares d sits near an f16
     * midpoint; the sums evaluated backwards must agree except at ties */
    enum { NB = 3000 };
    float *xs = malloc(sizeof(float) * 32 * NB);
    uint8_t *qs = malloc(18 * NB);
    kvv_gen_fill(xs, NB, 32, 0, KVV_DIST_GAUSS, 9, KVV_STREAM_V);
    kvv_rng r;
    kvv_rng_seed(&r, 10, KVV_STREAM_X);
    for (int b = 0; b < NB; b++) {
        float *xb = xs + 32 * b;
        CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL, xb, q, 1, 32, NULL), 0);
        double sqx = 0, sq2 = 0;
        for (int j = 0; j < 32; j++) {
            int l = j < 16 ? q[2 + j] & 15 : q[2 + j - 16] >> 4;
            double w = (double)xb[j] * xb[j];
            sqx += w * grid[l] * xb[j];
            sq2 += w * grid[l] * grid[l];
        }
        double d = sqx / sq2;
        /* the f16 midpoint just above |d| */
        uint16_t h = kvv_rq_f64_to_f16(fabs(d));
        double mid = 0.5 * (kvv_ref_f16_to_f32(h) + kvv_ref_f16_to_f32((uint16_t)(h + 1)));
        double scale = mid / fabs(d) * (1 + (kvv_rng_uniform(&r) - 0.5) * 1e-6);
        for (int j = 0; j < 32; j++)
            xb[j] = (float)(xb[j] * scale);
    }
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL, NB, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL, xs, qs, NB, 32, &t), 0);
    int differ = 0, uncovered = 0, scale_ties = 0;
    for (int b = 0; b < NB; b++) {
        const float *xb = xs + 32 * b;
        float sqx = 0, sq2 = 0;
        for (int j = 31; j >= 0; j--) {
            int l = j < 16 ? qs[18 * b + 2 + j] & 15 : qs[18 * b + 2 + j - 16] >> 4;
            float w = xb[j] * xb[j], g = (float)grid[l];
            sqx += w * (g * xb[j]);
            sq2 += w * (g * g);
        }
        uint16_t other = kvv_ref_f32_to_f16(sqx / sq2), h = kvv_rq_rd16(qs + 18 * b);
        scale_ties += t.scale_tie[b] & 1;
        if (other != h) {
            differ++;
            uncovered += !((t.scale_tie[b] & 1) && t.scale_alt[2 * b] == other);
        }
    }
    CU_ASSERT_EQUAL(uncovered, 0);
    CU_ASSERT(differ > 5);
    CU_ASSERT(scale_ties >= differ);
    kvv_ref_ties_free(&t);
    free(xs);
    free(qs);
}

/* The scale search: a block with a single non-zero value makes every trial
 * scale reach the same objective in exact arithmetic (the error is the
 * same for any level), so the choice is decided by rounding: block_tie.
 * Gaussian blocks rarely are. block_cost is the weighted error. */
static void test_iq4_nl_search_ties(void)
{
    float x[32] = {0};
    uint8_t q[18];
    kvv_ref_ties t;
    x[5] = 0.37f;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL_SEARCH, 1, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL_SEARCH, x, q, 1, 32, &t), 0);
    CU_ASSERT_EQUAL(t.block_tie[0], 1);
    kvv_ref_ties_free(&t);

    enum { NB = 512 };
    float *xs = malloc(sizeof(float) * 32 * NB);
    uint8_t *a = malloc(18 * NB), *b = malloc(18 * NB);
    kvv_gen_fill(xs, NB, 32, 0, KVV_DIST_GAUSS, 13, KVV_STREAM_K);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL_SEARCH, NB, 32), 0);
    CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL_SEARCH, xs, a, NB, 32, &t), 0);
    CU_ASSERT_EQUAL(quantize(KVV_IQ4_NL, xs, b, NB, 32, NULL), 0);
    int block_ties = 0, same = 0;
    double cost_search = 0, cost_plain = 0;
    const kvv_ref_type *rs = kvv_ref_type_get(KVV_IQ4_NL_SEARCH);
    for (int k = 0; k < NB; k++) {
        block_ties += t.block_tie[k];
        same += memcmp(a + 18 * k, b + 18 * k, 18) == 0;
        cost_search += rs->block_cost(xs + 32 * k, a + 18 * k);
        cost_plain += rs->block_cost(xs + 32 * k, b + 18 * k);
    }
    /* the objective is flat at its optimum, so trial scales within 64 u32
     * of the best one are common enough and often store other bytes */
    CU_ASSERT(block_ties < NB / 5);
    CU_ASSERT(same < NB / 2);                  /* the search does change most blocks */
    CU_ASSERT(cost_search < 0.95 * cost_plain); /* and it lowers the weighted error */
    kvv_ref_ties_free(&t);

    /* block_cost by hand: one element off the grid by 0.5 with weight x^2 */
    float y[32];
    uint8_t blk[18] = {0x00, 0x3c};
    int L[32];
    for (int j = 0; j < 32; j++)
        y[j] = (float)grid[j % 16], L[j] = j % 16;
    nibbles(L, blk + 2, NULL);
    y[9] = 13.5f;
    CU_ASSERT_DOUBLE_EQUAL(rs->block_cost(y, blk), 13.5 * 13.5 * 0.25, 1e-12);
    free(xs);
    free(a);
    free(b);
}

/* ggml's best_index_int8, written again here from its description */
static int nearest_grid(float v)
{
    if (v <= grid[0])
        return 0;
    if (v >= grid[15])
        return 15;
    int k = 0;
    while (grid[k + 1] <= v)
        k++;
    float below = v - (float)grid[k], above = (float)grid[k + 1] - v;
    return below < above ? k : k + 1;
}

/* The scale search with every sum accumulated backwards (j = 31 .. 0): a
 * correct f32 evaluation in another order. */
static void search_backwards(const float *x, uint8_t *out)
{
    float amax = 0, max = 0, d = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax)
            amax = fabsf(x[j]), max = x[j];
    if (amax >= 1e-15f) {
        float best = 0;
        for (int itry = -8; itry <= 7; itry++) {
            float id = itry == -8 ? 1.0f / (-max / -127.0f) : (float)(itry - 127) / max;
            float sqx = 0, sq2 = 0;
            for (int j = 31; j >= 0; j--) {
                float q = (float)grid[nearest_grid(id * x[j])], w = x[j] * x[j];
                sqx += w * q * x[j];
                sq2 += w * q * q;
            }
            if (itry == -8) {
                d = sq2 > 0 ? sqx / sq2 : 0;
                best = d * sqx;
            } else if (sq2 > 0 && sqx * sqx > best * sq2) {
                d = sqx / sq2;
                best = d * sqx;
            }
        }
    }
    float id = d != 0 ? 1.0f / d : 0;
    int L[32];
    for (int j = 0; j < 32; j++)
        L[j] = nearest_grid(id * x[j]);
    uint16_t h = kvv_ref_f32_to_f16(d);
    out[0] = (uint8_t)h;
    out[1] = (uint8_t)(h >> 8);
    nibbles(L, out + 2, NULL);
}

/* Wherever the backwards search stores other bytes, the reference must have
 * flagged the block (block, scale or index tie). */
static void test_iq4_nl_search_other_order(void)
{
    enum { NB = 4000 };
    float *xs = malloc(sizeof(float) * 32 * NB);
    uint8_t *a = malloc(18 * NB), other[18];
    kvv_ref_ties t;
    kvv_gen_fill(xs, NB, 32, 0, KVV_DIST_GAUSS, 31, KVV_STREAM_V);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_IQ4_NL_SEARCH, NB, 32), 0);
    CU_ASSERT_EQUAL_FATAL(quantize(KVV_IQ4_NL_SEARCH, xs, a, NB, 32, &t), 0);
    int differ = 0, uncovered = 0;
    for (int b = 0; b < NB; b++) {
        search_backwards(xs + 32 * b, other);
        if (memcmp(other, a + 18 * b, 18) == 0)
            continue;
        differ++;
        int flagged = t.block_tie[b] || t.scale_tie[b];
        for (int j = 0; j < 32; j++)
            flagged |= t.alt[32 * b + j] != KVV_NO_TIE;
        uncovered += !flagged;
    }
    printf("  %d of %d blocks differ backwards ", differ, NB);
    CU_ASSERT_EQUAL(uncovered, 0);
    kvv_ref_ties_free(&t);
    free(xs);
    free(a);
}

/* iq4_nl requantize: the canonical indices give the canonical bytes; an
 * index taken the other way changes d to the least-squares value of the new
 * indices. */
static void test_iq4_nl_requantize(void)
{
    float x[64];
    uint8_t q[36], r[36];
    int16_t idx[64];
    kvv_gen_fill(x, 1, 64, 0, KVV_DIST_HEAVY, 17, KVV_STREAM_V);
    const kvv_ref_type *rt = kvv_ref_type_get(KVV_IQ4_NL);
    CU_ASSERT_EQUAL_FATAL(rt->quantize(x, q, 1, 64, NULL), 0);
    for (int b = 0; b < 2; b++) {
        kvv_fields f;
        kvv_type_get(KVV_IQ4_NL)->unpack(q + 18 * b, &f);
        for (int j = 0; j < 32; j++)
            idx[32 * b + j] = f.idx[j];
    }
    CU_ASSERT_EQUAL_FATAL(rt->requantize(x, idx, r, 64, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(q, r, 36), 0);
    idx[40] = (int16_t)(idx[40] == 15 ? 14 : idx[40] + 1);
    CU_ASSERT_EQUAL_FATAL(rt->requantize(x, idx, r, 64, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(q, r, 18), 0);         /* block 0 untouched */
    CU_ASSERT_NOT_EQUAL(kvv_rq_rd16(r + 18), kvv_rq_rd16(q + 18)); /* block 1's d moved */
    kvv_fields f;
    kvv_type_get(KVV_IQ4_NL)->unpack(r + 18, &f);
    CU_ASSERT_EQUAL(f.idx[8], idx[40]);
    idx[3] = 16;
    CU_ASSERT_EQUAL(rt->requantize(x, idx, r, 64, NULL), -1);
}

/* Every type, every input distribution (zeros, constants, denormals,
 * values beyond f16, NaN and Inf), with ties: no crash, no undefined
 * behaviour under the sanitizers, and finite inputs that fit f16 give
 * finite outputs. */
static void test_all_distributions(void)
{
    enum { R = 4, C = 256 };
    float *x = malloc(sizeof(float) * R * C), *y = malloc(sizeof(float) * R * C);
    uint8_t *q = malloc(4 * R * C);
    for (int d = 0; d < KVV_DIST_COUNT; d++) {
        kvv_gen_fill(x, R, C, 0, (kvv_dist)d, 83, KVV_STREAM_K);
        int finite = 1;
        for (int i = 0; i < R * C; i++)
            finite &= isfinite(x[i]) && fabsf(x[i]) < 1000.0f;
        for (int t = 0; t < KVV_TYPE_COUNT; t++) {
            kvv_ref_ties ties;
            CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&ties, (kvv_type)t, R, C), 0);
            CU_ASSERT_EQUAL(quantize((kvv_type)t, x, q, R, C, &ties), 0);
            dequantize((kvv_type)t, q, y, R, C);
            if (finite) {
                int bad = 0;
                for (int i = 0; i < R * C; i++)
                    bad += !isfinite(y[i]);
                CU_ASSERT_EQUAL(bad, 0);
            }
            kvv_ref_ties_free(&ties);
        }
    }
    free(x);
    free(y);
    free(q);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"type table rows", test_table},
        {"shapes: -1 exactly where kvv_type_fits refuses", test_shapes},
        {"ties alloc/free", test_ties_alloc},
        {"q8_0 known blocks", test_known_q8_0},
        {"q4_0 known block (first max wins, clamp)", test_known_q4_0},
        {"q4_1 known block", test_known_q4_1},
        {"q5_0 known block", test_known_q5_0},
        {"q5_1 known block", test_known_q5_1},
        {"iq4_nl / iq4_nl@search known blocks", test_known_iq4_nl},
        {"f32 / f16 / bf16 bytes", test_known_float},
        {"round trips within each type's error", test_round_trip},
        {"iq4_nl's bound catches planted defects", test_iq4_nl_bound_catches_defects},
        {"core codec unpack/pack agrees with the reference's packing", test_core_codec_agrees},
        {"ties planted at / near / away from boundaries", test_planted_ties},
        {"no ties far from boundaries", test_no_ties_far_from_boundaries},
        {"other evaluation orders differ only at recorded ties", test_other_orders_only_differ_at_ties},
        {"iq4_nl scale ties", test_iq4_nl_scale_ties},
        {"iq4_nl@search block ties and block_cost", test_iq4_nl_search_ties},
        {"iq4_nl@search summed backwards differs only in flagged blocks", test_iq4_nl_search_other_order},
        {"iq4_nl requantize", test_iq4_nl_requantize},
        {"every type on every input distribution", test_all_distributions},
        {NULL, NULL},
    };
    kvv_add_suite("ref_quant", tests);
}
