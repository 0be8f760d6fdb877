/* TurboQuant turbo2 / turbo3 / turbo4 (4-bit) in every block format (SPEC 3
 * as corrected).  Per rotation group of g = kvv_rot_group(ncols) values:
 *   n = sqrtf(sum x^2) (sequential f32), inv = n > 1e-10 ? 1/n : 0,
 *   u = WHT(x*inv) with S1/S2, idx = number of midpoints <= u,
 *   r = sqrtf(sum C[idx]^2), stored norm = f16(r > 1e-10 ? n/r : n),
 * written into every block of the group.  A zero group gives u = 0, so every
 * index is the upper-middle one, and norm 0.  Dequantization stays in the
 * rotated basis: C[idx] * f32(norm). */
#include "ref/quant/quant.h"

/* The forks' tables (f32 constants, ascending). */
const float kvv_rq_c2[4] = {-0.133462f, -0.039994f, 0.039994f, 0.133462f};
const float kvv_rq_m2[3] = {-0.086728f, 0.0f, 0.086728f};
const float kvv_rq_c3[8] = {-0.190685f, -0.117832f, -0.065717f, -0.021460f,
                            0.021460f,  0.065717f,  0.117832f,  0.190685f};
const float kvv_rq_m3[7] = {-0.154259f, -0.091775f, -0.043589f, 0.0f, 0.043589f, 0.091775f, 0.154259f};
const float kvv_rq_c4[16] = {-0.241556f, -0.182907f, -0.143047f, -0.111065f, -0.083317f, -0.058069f,
                             -0.034311f, -0.011353f, 0.011353f,  0.034311f,  0.058069f,  0.083317f,
                             0.111065f,  0.143047f,  0.182907f,  0.241556f};
const float kvv_rq_m4[15] = {-0.212232f, -0.162977f, -0.127056f, -0.097191f, -0.070693f,
                             -0.046190f, -0.022832f, 0.0f,       0.022832f,  0.046190f,
                             0.070693f,  0.097191f,  0.127056f,  0.162977f,  0.212232f};

/* The narrow 4-bit table (turbo4@narrow): what TheTom/llama-cpp-turboquant
 * stores for turbo4 from its 4-bit revision on, in its CPU, CUDA, Metal and
 * Vulkan code alike; the midpoints are the ones its quantizer compares
 * against (the averages of neighbouring levels, rounded to 6 digits). */
const float kvv_rq_c4n[16] = {-0.173926f, -0.117195f, -0.089527f, -0.068756f, -0.051262f, -0.035597f,
                              -0.020989f, -0.006938f, 0.006938f,  0.020989f,  0.035597f,  0.051262f,
                              0.068756f,  0.089527f,  0.117195f,  0.173926f};
const float kvv_rq_m4n[15] = {-0.145560f, -0.103361f, -0.079142f, -0.060009f, -0.043430f,
                              -0.028293f, -0.013963f, 0.0f,       0.013963f,  0.028293f,
                              0.043430f,  0.060009f,  0.079142f,  0.103361f,  0.145560f};

void kvv_rq_group_rotate(const float *x, int g, int exact, kvv_rq_group *gr)
{
    float s = 0.0f;
    for (int j = 0; j < g; j++) {
        float sq = x[j] * x[j];
        s = s + sq;
    }
    float n = sqrtf(s);
    float inv = n > 1e-10f ? 1.0f / n : 0.0f;
    gr->g = g;
    gr->n = n;
    gr->zero = !(n > 1e-10f);
    for (int j = 0; j < g; j++)
        gr->u[j] = x[j] * inv;
    kvv_rq_wht_f32(gr->u, g, kvv_ref_s1, kvv_ref_s2);
    if (!exact)
        return;
    double se = 0;
    for (int j = 0; j < g; j++)
        se += (double)x[j] * x[j];
    gr->ne = sqrt(se);
    /* a zero group is u = 0 exactly in every implementation */
    for (int j = 0; j < g; j++)
        gr->ue[j] = gr->zero ? 0.0 : x[j] / gr->ne;
    if (!gr->zero)
        kvv_rq_wht_f64(gr->ue, g, kvv_ref_s1, kvv_ref_s2);
}

int kvv_rq_centroid_index(float u, const float *mid, int nmid)
{
    int k = 0;
    for (int i = 0; i < nmid; i++)
        k += u >= mid[i];
    return k;
}

void kvv_rq_group_index_ties(const kvv_rq_group *gr, const int16_t *idx, const float *mid, int nmid,
                             kvv_ref_ties *t, int64_t e0)
{
    if (!t || gr->zero)
        return;
    /* Most elements lie far from every midpoint.  When v is inside the
     * cell of its canonical index, the nearest midpoint is one of the
     * cell's two ends, and the window below is at most
     * max(|b| 2^-23 + 2^-149, rot_err(v, g)) (kvv_ref_ulp32 and
     * kvv_rq_rot_err); an element more than twice that from both ends can
     * record nothing (the comparisons in kvv_rq_tie_index are off by far
     * less than the factor) and skips the search. */
    const double rot0 = KVV_RQ_U32 * (log2(gr->g) + 3), rot1 = KVV_RQ_U32 * (gr->g / 2 + 2);
    for (int j = 0; j < gr->g; j++) {
        double v = gr->ue[j];
        int c = idx[j];
        if (c >= 0 && c <= nmid) {
            double lo = c > 0 ? mid[c - 1] : -INFINITY, hi = c < nmid ? mid[c] : INFINITY;
            if (v >= lo && v <= hi) {
                double d = fmin(v - lo, hi - v), bmax = fmax(c > 0 ? fabs(lo) : 0, c < nmid ? fabs(hi) : 0);
                double w = fmax(bmax * 0x1p-23 + 0x1p-149, rot0 + rot1 * fabs(v));
                if (d > 2 * w)
                    continue;
            }
        }
        int k = 0;
        for (int i = 1; i < nmid; i++)
            if (fabs(v - mid[i]) < fabs(v - mid[k]))
                k = i;
        double b = mid[k], win = kvv_ref_ulp32(b), re = kvv_rq_rot_err(v, gr->g);
        kvv_rq_tie_index(t, e0 + j, v, v, b, win > re ? win : re, idx[j], k, k + 1);
    }
}

/* One block format of the turbo2/3/4 family. */
typedef struct turbo_fmt {
    kvv_type type;
    int bits;           /* index bits: 2, 3 (2 in qs + 1 in signs) or 4 (nibbles) */
    int levels;
    const float *c, *m; /* centroids, midpoints */
} turbo_fmt;

static const turbo_fmt fmt_turbo2 = {KVV_TURBO2, 2, 4, kvv_rq_c2, kvv_rq_m2};
static const turbo_fmt fmt_turbo2_qk128 = {KVV_TURBO2_QK128, 2, 4, kvv_rq_c2, kvv_rq_m2};
static const turbo_fmt fmt_turbo3 = {KVV_TURBO3, 3, 8, kvv_rq_c3, kvv_rq_m3};
static const turbo_fmt fmt_turbo3_qk128 = {KVV_TURBO3_QK128, 3, 8, kvv_rq_c3, kvv_rq_m3};
static const turbo_fmt fmt_turbo4 = {KVV_TURBO4, 4, 16, kvv_rq_c4, kvv_rq_m4};
static const turbo_fmt fmt_turbo4_narrow = {KVV_TURBO4_NARROW, 4, 16, kvv_rq_c4n, kvv_rq_m4n};

/* Block bytes: norm, then (turbo4) rnorm = 0 and nibbles, or 2-bit fields
 * 4 per byte followed (turbo3) by the third bits 8 per byte. */
static void pack_block(const turbo_fmt *f, const int16_t *idx, int n, uint16_t norm, uint8_t *b)
{
    memset(b, 0, (size_t)kvv_type_get(f->type)->bytes);
    kvv_rq_wr16(b, norm);
    if (f->bits == 4) {
        for (int j = 0; j < n; j++)
            b[4 + j / 2] |= (uint8_t)((idx[j] & 15) << (4 * (j & 1)));
        return;
    }
    uint8_t *qs = b + 2, *signs = qs + n / 4;
    for (int j = 0; j < n; j++) {
        qs[j / 4] |= (uint8_t)((idx[j] & 3) << (2 * (j % 4)));
        if (f->bits == 3)
            signs[j / 8] |= (uint8_t)(((idx[j] >> 2) & 1) << (j % 8));
    }
}

static void unpack_block(const turbo_fmt *f, const uint8_t *b, int n, int *idx)
{
    for (int j = 0; j < n; j++) {
        if (f->bits == 4) {
            idx[j] = (b[4 + j / 2] >> (4 * (j & 1))) & 15;
            continue;
        }
        const uint8_t *qs = b + 2, *signs = qs + n / 4;
        idx[j] = (qs[j / 4] >> (2 * (j % 4))) & 3;
        if (f->bits == 3)
            idx[j] |= ((signs[j / 8] >> (j % 8)) & 1) << 2;
    }
}

/* Corrected norm of a group with indices idx, written into each of its
 * blocks (blk0: tie index of the first).  The exact value n/r is compared
 * with the f16 boundaries within the f32 error of n (g/2+1 u32: the sum of
 * squares in any order, the square root), of r (the same) and of the
 * division: (g + 3) u32 relative. */
static void store_group(const turbo_fmt *f, const kvv_rq_group *gr, const int16_t *idx, uint8_t *dst,
                        kvv_ref_ties *t, int64_t blk0)
{
    const kvv_type_info *ti = kvv_type_get(f->type);
    int g = gr->g, B = ti->block;
    float r2 = 0.0f;
    for (int j = 0; j < g; j++) {
        float c = f->c[idx[j]];
        float cc = c * c;
        r2 = r2 + cc;
    }
    float r = sqrtf(r2);
    float nr = r > 1e-10f ? gr->n / r : gr->n;
    uint16_t h = kvv_ref_f32_to_f16(nr);
    for (int b = 0; b < g / B; b++)
        pack_block(f, idx + b * B, B, h, dst + (size_t)b * (size_t)ti->bytes);
    if (!t || gr->zero)
        return;
    double re2 = 0;
    for (int j = 0; j < g; j++)
        re2 += (double)f->c[idx[j]] * f->c[idx[j]];
    double v = gr->ne / sqrt(re2);
    for (int b = 0; b < g / B; b++)
        kvv_rq_tie_scale_f16(t, blk0 + b, 0, v, (g + 3) * KVV_RQ_U32 * v, h);
}

static int quantize_fmt(const turbo_fmt *f, const float *x, void *dst, int64_t nrows, int64_t ncols,
                        kvv_ref_ties *t)
{
    if (!kvv_rq_shape_ok(f->type, nrows, ncols))
        return -1;
    const kvv_type_info *ti = kvv_type_get(f->type);
    int g = kvv_rot_group((int)ncols);
    kvv_rq_group gr;
    int16_t idx[128];
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t c = 0; c < ncols; c += g) {
            int64_t e0 = r * ncols + c;
            kvv_rq_group_rotate(x + e0, g, t != NULL, &gr);
            for (int j = 0; j < g; j++)
                idx[j] = (int16_t)kvv_rq_centroid_index(gr.u[j], f->m, f->levels - 1);
            store_group(f, &gr, idx, (uint8_t *)dst + (e0 / ti->block) * ti->bytes, t, e0 / ti->block);
            kvv_rq_group_index_ties(&gr, idx, f->m, f->levels - 1, t, e0);
        }
    return 0;
}

static int requantize_fmt(const turbo_fmt *f, const float *x, const int16_t *idx, void *dst, int64_t ncols,
                          kvv_ref_ties *t)
{
    if (!kvv_rq_shape_ok(f->type, 1, ncols))
        return -1;
    for (int64_t i = 0; i < ncols; i++)
        if (idx[i] < 0 || idx[i] >= f->levels)
            return -1;
    const kvv_type_info *ti = kvv_type_get(f->type);
    int g = kvv_rot_group((int)ncols);
    kvv_rq_group gr;
    for (int64_t c = 0; c < ncols; c += g) {
        kvv_rq_group_rotate(x + c, g, t != NULL, &gr);
        store_group(f, &gr, idx + c, (uint8_t *)dst + (c / ti->block) * ti->bytes, t, c / ti->block);
    }
    return 0;
}

static void dequantize_fmt(const turbo_fmt *f, const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    if (!kvv_rq_shape_ok(f->type, nrows, ncols))
        return;
    const kvv_type_info *ti = kvv_type_get(f->type);
    int B = ti->block, idx[128];
    const uint8_t *p = src;
    for (int64_t b = 0; b < nrows * ncols / B; b++) {
        const uint8_t *blk = p + b * ti->bytes;
        float norm = kvv_ref_f16_to_f32(kvv_rq_rd16(blk));
        unpack_block(f, blk, B, idx);
        for (int j = 0; j < B; j++)
            dst[b * B + j] = f->c[idx[j]] * norm;
    }
}

#define TURBO_ROW(name, t)                                                                                        \
    static int name##_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)       \
    {                                                                                                            \
        return quantize_fmt(&fmt_##name, x, dst, nrows, ncols, t);                                              \
    }                                                                                                            \
    static int name##_requantize(const float *x, const int16_t *idx, void *dst, int64_t ncols, kvv_ref_ties *t) \
    {                                                                                                            \
        return requantize_fmt(&fmt_##name, x, idx, dst, ncols, t);                                              \
    }                                                                                                            \
    static void name##_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)                    \
    {                                                                                                            \
        dequantize_fmt(&fmt_##name, src, dst, nrows, ncols);                                                    \
    }                                                                                                            \
    const kvv_ref_type kvv_rq_##name = {t,                 name##_quantize, name##_dequantize, name##_requantize, \
                                        NULL};

TURBO_ROW(turbo2, KVV_TURBO2)
TURBO_ROW(turbo2_qk128, KVV_TURBO2_QK128)
TURBO_ROW(turbo3, KVV_TURBO3)
TURBO_ROW(turbo3_qk128, KVV_TURBO3_QK128)
TURBO_ROW(turbo4, KVV_TURBO4)
TURBO_ROW(turbo4_narrow, KVV_TURBO4_NARROW)
