/* q4_1 (SPEC 2, ggml quantize_row_q4_1_ref): d = (max-min)/15, stored m =
 * f16(min) while the f32 min quantizes, q = MIN(15, (int8)((x-min)*id + 0.5)). */
#include <float.h>

#include "ref/quant/quant.h"

static void q4_1_block(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk)
{
    (void)blk;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min)
            min = x[j];
        if (x[j] > max)
            max = x[j];
    }
    float d = (max - min) / 15.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t L[32];
    for (int j = 0; j < 32; j++) {
        float v = (x[j] - min) * id;
        int q = kvv_rq_trunc_i8(v + 0.5f);
        L[j] = (uint8_t)(q < 15 ? q : 15);
        /* x - min rounds too: its half ulp, scaled by id, joins the product's */
        double dx = (double)x[j] - (double)min, va = dx * (double)id + 0.5;
        if (t && !kvv_rq_far_from_grid(va, 0))
            kvv_rq_tie_trunc(t, e0 + j, va, dx / (double)d + 0.5,
                             kvv_ref_ulp32((double)v) + kvv_ref_ulp32(dx) * fabs((double)id), 15, L[j]);
    }
    kvv_rq_wr16(dst, kvv_ref_f32_to_f16(d));
    kvv_rq_wr16(dst + 2, kvv_ref_f32_to_f16(min));
    kvv_rq_pack_nibbles(L, dst + 4, NULL);
}

static void q4_1_deblock(const uint8_t *src, float *y)
{
    float d = kvv_ref_f16_to_f32(kvv_rq_rd16(src)), m = kvv_ref_f16_to_f32(kvv_rq_rd16(src + 2));
    uint8_t L[32];
    kvv_rq_unpack_nibbles(src + 4, NULL, L);
    for (int j = 0; j < 32; j++) {
        float v = (float)L[j] * d;
        y[j] = v + m;
    }
}

static int q4_1_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    return kvv_rq_quantize_blocks(KVV_Q4_1, q4_1_block, x, dst, nrows, ncols, t);
}

static void q4_1_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    kvv_rq_dequantize_blocks(KVV_Q4_1, q4_1_deblock, src, dst, nrows, ncols);
}

const kvv_ref_type kvv_rq_q4_1 = {KVV_Q4_1, q4_1_quantize, q4_1_dequantize, NULL, NULL};
