/* q5_1 (SPEC 2, ggml quantize_row_q5_1_ref): d = (max-min)/31, stored m =
 * f16(min), q = (uint8)((x-min)*id + 0.5) with no clamp (the largest value
 * lands on 31.5 at most); bit 4 of each index goes to qh. */
#include <float.h>

#include "ref/quant/quant.h"

static void q5_1_block(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk)
{
    (void)blk;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min)
            min = x[j];
        if (x[j] > max)
            max = x[j];
    }
    float d = (max - min) / 31.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t L[32];
    for (int j = 0; j < 32; j++) {
        float v = (x[j] - min) * id;
        L[j] = (uint8_t)(kvv_rq_trunc_byte(v + 0.5f) & 0x1f); /* ggml keeps bits 0-3 in qs, bit 4 in qh */
        /* x - min rounds too: its half ulp, scaled by id, joins the product's */
        double dx = (double)x[j] - (double)min, va = dx * (double)id + 0.5;
        if (t && !kvv_rq_far_from_grid(va, 0))
            kvv_rq_tie_trunc(t, e0 + j, va, dx / (double)d + 0.5,
                             kvv_ref_ulp32((double)v) + kvv_ref_ulp32(dx) * fabs((double)id), 31, L[j]);
    }
    kvv_rq_wr16(dst, kvv_ref_f32_to_f16(d));
    kvv_rq_wr16(dst + 2, kvv_ref_f32_to_f16(min));
    kvv_rq_pack_nibbles(L, dst + 8, dst + 4);
}

static void q5_1_deblock(const uint8_t *src, float *y)
{
    float d = kvv_ref_f16_to_f32(kvv_rq_rd16(src)), m = kvv_ref_f16_to_f32(kvv_rq_rd16(src + 2));
    uint8_t L[32];
    kvv_rq_unpack_nibbles(src + 8, src + 4, L);
    for (int j = 0; j < 32; j++) {
        float v = (float)L[j] * d;
        y[j] = v + m;
    }
}

static int q5_1_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    return kvv_rq_quantize_blocks(KVV_Q5_1, q5_1_block, x, dst, nrows, ncols, t);
}

static void q5_1_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    kvv_rq_dequantize_blocks(KVV_Q5_1, q5_1_deblock, src, dst, nrows, ncols);
}

const kvv_ref_type kvv_rq_q5_1 = {KVV_Q5_1, q5_1_quantize, q5_1_dequantize, NULL, NULL};
