/* f32, f16 and bf16 "quantizers": one value per block, stored as its bits
 * (SPEC 1).  A single correctly rounded conversion has no ties. */
#include "ref/quant/quant.h"

static int check(kvv_type t, int64_t nrows, int64_t ncols) { return kvv_rq_shape_ok(t, nrows, ncols); }

static int f32_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    (void)t;
    if (!check(KVV_F32, nrows, ncols))
        return -1;
    uint8_t *p = dst;
    for (int64_t i = 0; i < nrows * ncols; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        kvv_rq_wr16(p + 4 * i, (uint16_t)u);
        kvv_rq_wr16(p + 4 * i + 2, (uint16_t)(u >> 16));
    }
    return 0;
}

static void f32_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    const uint8_t *p = src;
    if (!check(KVV_F32, nrows, ncols))
        return;
    for (int64_t i = 0; i < nrows * ncols; i++) {
        uint32_t u = kvv_rq_rd16(p + 4 * i) | ((uint32_t)kvv_rq_rd16(p + 4 * i + 2) << 16);
        memcpy(&dst[i], &u, 4);
    }
}

static int f16_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    (void)t;
    if (!check(KVV_F16, nrows, ncols))
        return -1;
    for (int64_t i = 0; i < nrows * ncols; i++)
        kvv_rq_wr16((uint8_t *)dst + 2 * i, kvv_ref_f32_to_f16(x[i]));
    return 0;
}

static void f16_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    if (!check(KVV_F16, nrows, ncols))
        return;
    for (int64_t i = 0; i < nrows * ncols; i++)
        dst[i] = kvv_ref_f16_to_f32(kvv_rq_rd16((const uint8_t *)src + 2 * i));
}

static int bf16_quantize(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *t)
{
    (void)t;
    if (!check(KVV_BF16, nrows, ncols))
        return -1;
    for (int64_t i = 0; i < nrows * ncols; i++)
        kvv_rq_wr16((uint8_t *)dst + 2 * i, kvv_ref_f32_to_bf16(x[i]));
    return 0;
}

static void bf16_dequantize(const void *src, float *dst, int64_t nrows, int64_t ncols)
{
    if (!check(KVV_BF16, nrows, ncols))
        return;
    for (int64_t i = 0; i < nrows * ncols; i++)
        dst[i] = kvv_ref_bf16_to_f32(kvv_rq_rd16((const uint8_t *)src + 2 * i));
}

const kvv_ref_type kvv_rq_f32 = {KVV_F32, f32_quantize, f32_dequantize, NULL, NULL};
const kvv_ref_type kvv_rq_f16 = {KVV_F16, f16_quantize, f16_dequantize, NULL, NULL};
const kvv_ref_type kvv_rq_bf16 = {KVV_BF16, bf16_quantize, bf16_dequantize, NULL, NULL};
