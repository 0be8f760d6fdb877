/* Shape checks and the block loops shared by the ggml-type quantizers. */
#include <stdint.h>

#include "ref/quant/quant.h"

int kvv_rq_shape_ok(kvv_type t, int64_t nrows, int64_t ncols)
{
    char why[200];
    if (nrows < 0 || ncols <= 0 || ncols > INT32_MAX)
        return 0;
    return kvv_type_fits(t, (int)ncols, why, sizeof why);
}

int kvv_rq_quantize_blocks(kvv_type type, kvv_rq_block_q fn, const float *x, void *dst, int64_t nrows,
                           int64_t ncols, kvv_ref_ties *t)
{
    const kvv_type_info *ti = kvv_type_get(type);
    if (!ti || !kvv_rq_shape_ok(type, nrows, ncols))
        return -1;
    int64_t nb = ncols / ti->block;
    uint8_t *out = dst;
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t b = 0; b < nb; b++)
            fn(x + r * ncols + b * ti->block, out + (r * nb + b) * ti->bytes, t, r * ncols + b * ti->block,
               r * nb + b);
    return 0;
}

void kvv_rq_dequantize_blocks(kvv_type type, kvv_rq_block_dq fn, const void *src, float *dst, int64_t nrows,
                              int64_t ncols)
{
    const kvv_type_info *ti = kvv_type_get(type);
    if (!ti || !kvv_rq_shape_ok(type, nrows, ncols))
        return;
    int64_t nb = ncols / ti->block;
    const uint8_t *in = src;
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t b = 0; b < nb; b++)
            fn(in + (r * nb + b) * ti->bytes, dst + r * ncols + b * ti->block);
}
