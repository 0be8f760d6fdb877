/* iq4_nl (SPEC 2 as corrected): two format versions share the layout and the
 * non-linear grid.
 *  - iq4_nl: the K/V cache path (quantize_row_iq4_nl_ref, no scale search):
 *    indices from id = 1/(max/-127), then the weighted least-squares scale
 *    d = sumqx/sumq2 with weights x^2, indices kept.
 *  - iq4_nl@search: ggml_quantize_chunk's path (ntry = 7): the same first
 *    pass with the opposite sign, 15 trial scales, the best by
 *    sumqx^2/sumq2, then re-indexing with the f32 d.
 * The least-squares d is a ratio of two 32-term sums, so its f16 rounding
 * can tie; the search's comparisons can tie too (block_tie, judged with
 * block_cost). */
#include "ref/quant/quant.h"

static const int8_t grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
#define GROUP_MAX_EPS 1e-15f

/* ggml's best_index_int8 in f32: bisect, then compare the two distances
 * (an exact midpoint goes to the upper index). */
static int best_index(float x)
{
    if (x <= (float)grid[0])
        return 0;
    if (x >= (float)grid[15])
        return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < (float)grid[mav])
            mu = mav;
        else
            ml = mav;
    }
    float below = x - (float)grid[mu - 1], above = (float)grid[mu] - x;
    return below < above ? mu - 1 : mu;
}

/* Whether the exact value of id*x (va; vb: the same written x/d) lies
 * within an f32 ulp of a grid midpoint (one ulp at the midpoint, where id*x
 * rounds, and one at half the gap, where the two distances round); if so
 * (and t is given) record the other index for element e. */
static int index_tie(kvv_ref_ties *t, int64_t e, double va, double vb, int canon)
{
    double v = 0.5 * (va + vb);
    if (!(v > grid[0] && v < grid[15]))
        return 0;
    int k = 0;
    while (k < 14 && grid[k + 1] <= v)
        k++;
    double m = 0.5 * (grid[k] + grid[k + 1]), win = kvv_ref_ulp32(m) + kvv_ref_ulp32(0.5 * (grid[k + 1] - grid[k]));
    double lo = fmin(va, vb), hi = fmax(va, vb);
    if (!(m >= lo - win && m <= hi + win))
        return 0;
    kvv_rq_tie_index(t, e, lo, hi, m, win, canon, k, k + 1);
    return 1;
}

/* One pass over the block at inverse scale id: indices and the weighted
 * sums in ggml's order ((w*q)*x, (w*q)*q, sequential).  Returns whether an
 * index was a tie. */
static int pass(const float *x, const float *w, float id, uint8_t *L, float *sumqx, float *sumq2)
{
    float sqx = 0.0f, sq2 = 0.0f;
    int tie = 0;
    for (int j = 0; j < 32; j++) {
        float al = id * x[j];
        int l = best_index(al);
        L[j] = (uint8_t)l;
        float q = (float)grid[l];
        float wq = w[j] * q;
        float t1 = wq * x[j], t2 = wq * q;
        sqx = sqx + t1;
        sq2 = sq2 + t2;
        double v = (double)id * (double)x[j];
        tie |= index_tie(NULL, 0, v, v, l);
    }
    *sumqx = sqx;
    *sumq2 = sq2;
    return tie;
}

/* Scale tie of d = sumqx/sumq2 for the indices L: the exact ratio against
 * the f16 rounding boundaries, with the f32 error bound of two 32-term sums
 * of three-rounding products (gamma_35 times the sum of magnitudes), then
 * the division. */
static void ls_scale_tie(kvv_ref_ties *t, int64_t blk, const float *x, const uint8_t *L, uint16_t canon)
{
    if (!t)
        return;
    double sqx = 0, sq2 = 0, aqx = 0;
    for (int j = 0; j < 32; j++) {
        double w = (double)x[j] * x[j], q = grid[L[j]];
        sqx += w * q * x[j];
        aqx += fabs(w * q * x[j]);
        sq2 += w * q * q;
    }
    if (!(sq2 > 0) || !isfinite(sqx))
        return;
    double d = sqx / sq2, gam = 35 * KVV_RQ_U32;
    double err = gam * (aqx + fabs(d) * sq2) / sq2 + KVV_RQ_U32 * fabs(d);
    kvv_rq_tie_scale_f16(t, blk, 0, d, err, canon);
}

static void weights_and_max(const float *x, float *w, float *amax, float *max)
{
    *amax = 0.0f;
    *max = 0.0f;
    for (int j = 0; j < 32; j++) {
        w[j] = x[j] * x[j];
        float ax = fabsf(x[j]);
        if (ax > *amax) {
            *amax = ax;
            *max = x[j];
        }
    }
}

static void iq4_nl_block(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk)
{
    float w[32], amax, max, d = 0.0f;
    uint8_t L[32] = {0}; /* an all-tiny block stores d = 0 and index 0 */
    weights_and_max(x, w, &amax, &max);
    if (!(amax < GROUP_MAX_EPS)) {
        d = max / (float)grid[0];
        float id = 1.0f / d, sumqx, sumq2;
        pass(x, w, id, L, &sumqx, &sumq2);
        for (int j = 0; j < 32; j++)
            index_tie(t, e0 + j, (double)id * (double)x[j], (double)x[j] / (double)d, L[j]);
        d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
    }
    uint16_t h = kvv_ref_f32_to_f16(d);
    kvv_rq_wr16(dst, h);
    kvv_rq_pack_nibbles(L, dst + 2, NULL);
    if (!(amax < GROUP_MAX_EPS))
        ls_scale_tie(t, blk, x, L, h);
}

/* Relative window of the search comparison sumqx^2 > best*sumq2. */
#define SEARCH_TIE_REL (64 * KVV_RQ_U32)

/* The search's bytes for a chosen f32 d: f16(d), then the indices of x/d
 * (as id*x with the f32 d, not the stored one). */
static uint16_t search_encode(const float *x, float d, uint8_t *L)
{
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        L[j] = (uint8_t)best_index(id * x[j]);
    return kvv_ref_f32_to_f16(d);
}

/* A candidate of the search: its sums and whether an index of it tied. */
typedef struct cand {
    float sumqx, sumq2;
    int tie;
} cand;

/* block_tie: some candidate other than the winner reaches an objective
 * sumqx^2/sumq2 within SEARCH_TIE_REL of the best (so a correct f32
 * evaluation summing in another order may pick it) and would store other
 * bytes; or a candidate that close had an index tie (its sums, hence its
 * objective and d, may differ elsewhere). */
static int search_block_tie(const float *x, const cand *c, int nc, int win, uint16_t h, const uint8_t *L)
{
    double omax = 0;
    for (int i = 0; i < nc; i++)
        if (c[i].sumq2 > 0)
            omax = fmax(omax, (double)c[i].sumqx * c[i].sumqx / c[i].sumq2);
    for (int i = 0; i < nc; i++) {
        if (!(c[i].sumq2 > 0))
            continue;
        double o = (double)c[i].sumqx * c[i].sumqx / c[i].sumq2;
        if (o < omax * (1 - SEARCH_TIE_REL))
            continue;
        if (c[i].tie)
            return 1;
        if (i == win)
            continue;
        uint8_t La[32];
        uint16_t ha = search_encode(x, c[i].sumqx / c[i].sumq2, La);
        if (ha != h || memcmp(La, L, 32) != 0)
            return 1;
    }
    return 0;
}

static void iq4_nl_search_block(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk)
{
    float w[32], amax, max, d = 0.0f;
    uint8_t L[32], Lbest[32];
    cand c[16];
    int nc = 0, win = -1;
    weights_and_max(x, w, &amax, &max);
    if (!(amax < GROUP_MAX_EPS)) {
        d = -max / (float)grid[0];
        c[0].tie = pass(x, w, 1.0f / d, Lbest, &c[0].sumqx, &c[0].sumq2);
        nc = 1;
        win = 0;
        d = c[0].sumq2 > 0 ? c[0].sumqx / c[0].sumq2 : 0.0f;
        float best = d * c[0].sumqx;
        for (int itry = -7; itry <= 7; itry++, nc++) {
            float id = (float)(itry + grid[0]) / max;
            cand *ci = &c[nc];
            ci->tie = pass(x, w, id, L, &ci->sumqx, &ci->sumq2);
            if (ci->sumq2 > 0 && ci->sumqx * ci->sumqx > best * ci->sumq2) {
                d = ci->sumqx / ci->sumq2;
                best = d * ci->sumqx;
                win = nc;
                memcpy(Lbest, L, 32);
            }
        }
    }
    uint16_t h = search_encode(x, d, L);
    kvv_rq_wr16(dst, h);
    kvv_rq_pack_nibbles(L, dst + 2, NULL);
    if (!t || amax < GROUP_MAX_EPS)
        return;
    if (d != 0.0f) /* the re-indexing with id = 1/d */
        for (int j = 0; j < 32; j++)
            index_tie(t, e0 + j, (double)(1.0f / d) * (double)x[j], (double)x[j] / (double)d, L[j]);
    ls_scale_tie(t, blk, x, Lbest, h);
    t->block_tie[blk] = (uint8_t)search_block_tie(x, c, nc, win, h, L);
}

static void iq4_nl_deblock(const uint8_t *src, float *y)
{
    float d = kvv_ref_f16_to_f32(kvv_rq_rd16(src));
    uint8_t L[32];
    kvv_rq_unpack_nibbles(src + 2, NULL, L);
    for (int j = 0; j < 32; j++)
        y[j] = d * (float)grid[L[j]];
}

static int iq4_nl_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    return kvv_rq_quantize_blocks(KVV_IQ4_NL, iq4_nl_block, x, dst, nrows, ncols, t);
}

static int iq4_nl_search_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    return kvv_rq_quantize_blocks(KVV_IQ4_NL_SEARCH, iq4_nl_search_block, x, dst, nrows, ncols, t);
}

static void iq4_nl_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    kvv_rq_dequantize_blocks(KVV_IQ4_NL, iq4_nl_deblock, src, dst, nrows, ncols);
}

/* iq4_nl with given indices (e.g. a tie taken the other way): the scale is
 * the least-squares d of those indices, as the quantizer would compute it. */
static int iq4_nl_requantize(const float *x, const int16_t *idx, void *dst, int64_t ncols, kvv_ref_ties *t)
{
    if (!kvv_rq_shape_ok(KVV_IQ4_NL, 1, ncols))
        return -1;
    for (int64_t i = 0; i < ncols; i++)
        if (idx[i] < 0 || idx[i] > 15)
            return -1;
    uint8_t *out = dst;
    for (int64_t b = 0; b < ncols / 32; b++) {
        const float *xb = x + 32 * b;
        float w[32], amax, max, d = 0.0f, sqx = 0.0f, sq2 = 0.0f;
        uint8_t L[32];
        weights_and_max(xb, w, &amax, &max);
        for (int j = 0; j < 32; j++) {
            L[j] = (uint8_t)idx[32 * b + j];
            float q = (float)grid[L[j]];
            float wq = w[j] * q;
            float t1 = wq * xb[j], t2 = wq * q;
            sqx = sqx + t1;
            sq2 = sq2 + t2;
        }
        if (!(amax < GROUP_MAX_EPS))
            d = sq2 > 0 ? sqx / sq2 : 0.0f;
        uint16_t h = kvv_ref_f32_to_f16(d);
        kvv_rq_wr16(out + 18 * b, h);
        kvv_rq_pack_nibbles(L, out + 18 * b + 2, NULL);
        if (!(amax < GROUP_MAX_EPS))
            ls_scale_tie(t, b, xb, L, h);
    }
    return 0;
}

/* Weighted squared error (weights x^2, ggml's weights without an importance
 * matrix) that a block achieves with its stored f16 scale. */
static double iq4_nl_block_cost(const float *x, const void *block)
{
    const uint8_t *p = block;
    double d = kvv_ref_f16_to_f32(kvv_rq_rd16(p)), cost = 0;
    uint8_t L[32];
    kvv_rq_unpack_nibbles(p + 2, NULL, L);
    for (int j = 0; j < 32; j++) {
        double e = (double)x[j] - d * grid[L[j]];
        cost += (double)x[j] * x[j] * e * e;
    }
    return cost;
}

const kvv_ref_type kvv_rq_iq4_nl = {KVV_IQ4_NL, iq4_nl_quantize, iq4_nl_dequantize, iq4_nl_requantize,
                                    iq4_nl_block_cost};
const kvv_ref_type kvv_rq_iq4_nl_search = {KVV_IQ4_NL_SEARCH, iq4_nl_search_quantize, iq4_nl_dequantize, NULL,
                                           iq4_nl_block_cost};
