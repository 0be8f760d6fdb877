/* q8_0 (SPEC 2, ggml quantize_row_q8_0_ref): d = amax/127, q = roundf(x/d
 * as x*id).  d is one correctly rounded division, so the scale never ties. */
#include "ref/quant/quant.h"

static void q8_0_block(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk)
{
    (void)blk;
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a; /* ggml's MAX(amax, fabsf(v)) */
    }
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    kvv_rq_wr16(dst, kvv_ref_f32_to_f16(d));
    for (int j = 0; j < 32; j++) {
        float v = x[j] * id;
        int q = kvv_rq_trunc_i8(roundf(v));
        dst[2 + j] = (uint8_t)q;
        double va = (double)x[j] * (double)id;
        if (t && !kvv_rq_far_from_grid(va, 0.5))
            kvv_rq_tie_round(t, e0 + j, va, (double)x[j] / (double)d, q);
    }
}

static void q8_0_deblock(const uint8_t *src, float *y)
{
    float d = kvv_ref_f16_to_f32(kvv_rq_rd16(src));
    for (int j = 0; j < 32; j++)
        y[j] = (float)(int8_t)src[2 + j] * d;
}

static int q8_0_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    return kvv_rq_quantize_blocks(KVV_Q8_0, q8_0_block, x, dst, nrows, ncols, t);
}

static void q8_0_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    kvv_rq_dequantize_blocks(KVV_Q8_0, q8_0_deblock, src, dst, nrows, ncols);
}

const kvv_ref_type kvv_rq_q8_0 = {KVV_Q8_0, q8_0_quantize, q8_0_dequantize, NULL, NULL};
