/* q5_0 (SPEC 2, ggml quantize_row_q5_0_ref): d = m/-16 for the signed value m
 * of largest magnitude, q = MIN(31, (int8)(x*id + 16.5)); bit 4 of each
 * index goes to qh. */
#include "ref/quant/quant.h"

static void q5_0_block(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk)
{
    (void)blk;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    float d = max / -16.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t L[32];
    for (int j = 0; j < 32; j++) {
        float v = x[j] * id;
        int q = kvv_rq_trunc_i8(v + 16.5f);
        L[j] = (uint8_t)(q < 31 ? q : 31);
        double va = (double)x[j] * (double)id + 16.5;
        if (t && !kvv_rq_far_from_grid(va, 0))
            kvv_rq_tie_trunc(t, e0 + j, va, (double)x[j] / (double)d + 16.5, kvv_ref_ulp32((double)v), 31, L[j]);
    }
    kvv_rq_wr16(dst, kvv_ref_f32_to_f16(d));
    kvv_rq_pack_nibbles(L, dst + 6, dst + 2);
}

static void q5_0_deblock(const uint8_t *src, float *y)
{
    float d = kvv_ref_f16_to_f32(kvv_rq_rd16(src));
    uint8_t L[32];
    kvv_rq_unpack_nibbles(src + 6, src + 2, L);
    for (int j = 0; j < 32; j++)
        y[j] = (float)(L[j] - 16) * d;
}

static int q5_0_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    return kvv_rq_quantize_blocks(KVV_Q5_0, q5_0_block, x, dst, nrows, ncols, t);
}

static void q5_0_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    kvv_rq_dequantize_blocks(KVV_Q5_0, q5_0_deblock, src, dst, nrows, ncols);
}

const kvv_ref_type kvv_rq_q5_0 = {KVV_Q5_0, q5_0_quantize, q5_0_dequantize, NULL, NULL};
