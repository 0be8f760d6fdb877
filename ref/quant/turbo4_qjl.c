/* turbo4@qjl, the legacy turbo4 (TURBO4_USE_4BIT=0), modelled on the GPU
 * implementations (SPEC 3.3 as corrected), one block per 128-group:
 *   norm = f16(||x||) (raw, not corrected), u = WHT(x/||x||) with S1/S2,
 *   idx = 3-bit index against C3/M3, res = u - C3[idx] in the rotated basis,
 *   rnorm = f16(||res||), sign_i = (QJL(res)_i >= 0) where QJL is the same
 *   transform with its own sign vectors.
 * Dequantization (rotated basis): q = +-1 from the signs, inverse QJL
 * transform, times sqrt(pi/2)/128 * rnorm, out = (C3[idx] + q) * norm. */
#include "ref/quant/quant.h"

/* set bit = -1, element e = bit e%32 of word e/32 */
static const uint32_t qjl_s1_words[4] = {0x693A565E, 0x25622D30, 0x0243E607, 0xFEC58BDA};
static const uint32_t qjl_s2_words[4] = {0x3D172324, 0x203007CB, 0x9540A34B, 0x856B1126};

static void unpack_signs(const uint32_t w[4], int8_t s[128])
{
    for (int e = 0; e < 128; e++)
        s[e] = ((w[e >> 5] >> (e & 31)) & 1) ? -1 : 1;
}

#define G 128
#define BYTES 68

/* The fields of one group for the indices idx, with ties of norm, rnorm and
 * the QJL signs (blk, e0: tie indices). */
static void store_group(const kvv_rq_group *gr, const int16_t *idx, uint8_t *dst, kvv_ref_ties *t, int64_t blk,
                        int64_t e0)
{
    int8_t qs1[G], qs2[G];
    unpack_signs(qjl_s1_words, qs1);
    unpack_signs(qjl_s2_words, qs2);
    float res[G], p[G], rs = 0.0f;
    for (int j = 0; j < G; j++) {
        res[j] = gr->u[j] - kvv_rq_c3[idx[j]];
        float sq = res[j] * res[j];
        rs = rs + sq;
    }
    float rn = sqrtf(rs);
    memcpy(p, res, sizeof p);
    kvv_rq_wht_f32(p, G, qs1, qs2);

    uint16_t hn = kvv_ref_f32_to_f16(gr->n), hr = kvv_ref_f32_to_f16(rn);
    memset(dst, 0, BYTES);
    kvv_rq_wr16(dst, hn);
    kvv_rq_wr16(dst + 2, hr);
    for (int j = 0; j < G; j++) {
        int bit = 3 * j;
        uint32_t v = (uint32_t)(idx[j] & 7) << (bit % 8);
        dst[4 + bit / 8] |= (uint8_t)v;
        if (v >> 8)
            dst[4 + bit / 8 + 1] |= (uint8_t)(v >> 8);
        dst[52 + j / 8] |= (uint8_t)((p[j] >= 0.0f) << (j % 8));
    }
    if (!t)
        return;

    /* norm: g squares summed in any order, a square root: (g/2+1) u32 */
    kvv_rq_tie_scale_f16(t, blk, 0, gr->ne, (G / 2 + 1) * KVV_RQ_U32 * gr->ne, hn);
    /* The f32 u differs from the exact one by a common factor (1 + delta),
     * |delta| <= (g/2 + 2) u32 (the norm: sum of squares, square root,
     * reciprocal), plus an error vector of l2 norm <= (log2 g + 3) u32 (the
     * products and butterfly stages, see wht.c); the subtractions add
     * u32 |res_j| each.  To first order the common factor moves ||res|| by
     * delta <u, res>/||res|| and projection i by delta * QJL(u)_i, the
     * rest by at most its l2 norm (the QJL transform is orthogonal), to
     * which the transform's own rounding adds (log2 g + 3) u32 ||res||. */
    double rese[G], pu[G], re2 = 0, ures = 0;
    for (int j = 0; j < G; j++) {
        rese[j] = gr->ue[j] - (double)kvv_rq_c3[idx[j]];
        re2 += rese[j] * rese[j];
        ures += gr->ue[j] * rese[j];
        pu[j] = gr->ue[j];
    }
    double re = sqrt(re2), delta = (G / 2 + 2) * KVV_RQ_U32;
    double inc = (gr->zero ? 0.0 : (7 + 3) * KVV_RQ_U32) + KVV_RQ_U32 * re;
    double rwin = (re > 0 ? delta * fabs(ures) / re : 0.0) + inc + (G / 2 + 1) * KVV_RQ_U32 * re;
    kvv_rq_tie_scale_f16(t, blk, 1, re, rwin, hr);
    kvv_rq_wht_f64(rese, G, qs1, qs2);
    kvv_rq_wht_f64(pu, G, qs1, qs2);
    for (int j = 0; j < G; j++)
        if (fabs(rese[j]) <= delta * fabs(pu[j]) + inc + (7 + 3) * KVV_RQ_U32 * re)
            t->sign_tie[e0 + j] = 1;
}

static int qjl_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    if (!kvv_rq_shape_ok(KVV_TURBO4_QJL, nrows, ncols))
        return -1;
    kvv_rq_group gr;
    int16_t idx[G];
    for (int64_t e0 = 0; e0 < nrows * ncols; e0 += G) {
        kvv_rq_group_rotate(x + e0, G, t != NULL, &gr);
        for (int j = 0; j < G; j++)
            idx[j] = (int16_t)kvv_rq_centroid_index(gr.u[j], kvv_rq_m3, 7);
        store_group(&gr, idx, (uint8_t *)dst + (e0 / G) * BYTES, t, e0 / G, e0);
        kvv_rq_group_index_ties(&gr, idx, kvv_rq_m3, 7, t, e0);
    }
    return 0;
}

static int qjl_requantize(const float *x, const int16_t *idx, void *dst, int64_t ncols, kvv_ref_ties *t)
{
    if (!kvv_rq_shape_ok(KVV_TURBO4_QJL, 1, ncols))
        return -1;
    for (int64_t i = 0; i < ncols; i++)
        if (idx[i] < 0 || idx[i] > 7)
            return -1;
    kvv_rq_group gr;
    for (int64_t e0 = 0; e0 < ncols; e0 += G) {
        kvv_rq_group_rotate(x + e0, G, t != NULL, &gr);
        store_group(&gr, idx + e0, (uint8_t *)dst + (e0 / G) * BYTES, t, e0 / G, e0);
    }
    return 0;
}

static void qjl_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    if (!kvv_rq_shape_ok(KVV_TURBO4_QJL, nrows, ncols))
        return;
    int8_t qs1[G], qs2[G];
    unpack_signs(qjl_s1_words, qs1);
    unpack_signs(qjl_s2_words, qs2);
    for (int64_t b = 0; b < nrows * ncols / G; b++) {
        const uint8_t *p = (const uint8_t *)src + b * BYTES;
        float norm = kvv_ref_f16_to_f32(kvv_rq_rd16(p)), rnorm = kvv_ref_f16_to_f32(kvv_rq_rd16(p + 2));
        float q[G];
        for (int j = 0; j < G; j++)
            q[j] = ((p[52 + j / 8] >> (j % 8)) & 1) ? 1.0f : -1.0f;
        kvv_rq_wht_f32(q, G, qs2, qs1); /* the transpose: S2 first, S1 last */
        float sc = (1.2533141373155003f / 128.0f) * rnorm;
        for (int j = 0; j < G; j++) {
            int bit = 3 * j;
            uint32_t w = p[4 + bit / 8] | (bit / 8 + 1 < 48 ? (uint32_t)p[4 + bit / 8 + 1] << 8 : 0);
            int idx = (int)((w >> (bit % 8)) & 7);
            float qq = q[j] * sc;
            float c = kvv_rq_c3[idx] + qq;
            dst[b * G + j] = c * norm;
        }
    }
}

const kvv_ref_type kvv_rq_turbo4_qjl = {KVV_TURBO4_QJL, qjl_quantize, qjl_dequantize, qjl_requantize, NULL};
