/* Row kernels on the device: quantize (set_rows), dequantize, WHT.  Each
 * call uploads its input, runs one dispatch, and downloads the result. */
#include <stdio.h>
#include <string.h>

#include "kernels/vulkan/vk_internal.h"

#define QUANT_WG 32   /* quant.comp: one row per workgroup, an invocation per block */
#define TURBO_WG 64   /* quant_turbo.comp: one row per workgroup */
#define TURBO_MAXC 1024
#define ELEM_WG 64    /* elementwise shaders: one output word per invocation */
#define WHT_WG 128
#define WHT_CHUNK 1024

typedef struct {
    uint32_t nrows, ncols, row_bytes, gx, g, log2g;
} row_params;

/* The shader built for one type: "<prefix>_<type name>", '@' read as '_'
 * (quant_turbo3_qk128). */
static const char *type_shader(const char *prefix, kvv_type t, char *buf, size_t n)
{
    snprintf(buf, n, "%s_%s", prefix, kvv_type_name(t));
    for (char *p = buf; *p; p++)
        if (*p == '@')
            *p = '_';
    return buf;
}

static int log2i(int g)
{
    int l = 0;
    while ((1 << l) < g)
        l++;
    return l;
}

int vkv_quantize(vkv_ctx *c, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols)
{
    const kvv_type_info *ti = kvv_type_get(t);
    size_t rb = kvv_row_bytes(t, ncols), out = rb * (size_t)nrows, in = sizeof(float) * (size_t)(nrows * ncols);
    if (nrows == 0)
        return KVV_OK;
    if (ti->family == KVV_FAMILY_TURBO && ncols > TURBO_MAXC)
        return vkv_decline(c, "quantize %s: rows of %lld values; the turbo quantizer holds a row of at most %d in "
                              "shared memory",
                           ti->name, (long long)ncols, TURBO_MAXC);
    vkv_buf *bin, *bout;
    int rc;
    if ((rc = vkv_scratch(c, VKV_B_IN, in, &bin)) || (rc = vkv_scratch(c, VKV_B_OUT, out + 4, &bout)) ||
        (rc = vkv_reserve_staging(c, in + out)) || (rc = vkv_begin(c)))
        return rc;
    row_params p = {(uint32_t)nrows, (uint32_t)ncols, (uint32_t)rb, 0, 0, 0};
    uint32_t gx, gy, spec[1] = {0};
    char shader[64];
    if (ti->family == KVV_FAMILY_FLOAT) {
        uint64_t words = (out + 3) / 4;
        vkv_grid(c, (words + ELEM_WG - 1) / ELEM_WG, &gx, &gy);
        spec[0] = ELEM_WG;
        type_shader("quant", t, shader, sizeof shader);
    } else {
        vkv_grid(c, (uint64_t)nrows, &gx, &gy);
        spec[0] = ti->family == KVV_FAMILY_TURBO ? TURBO_WG : QUANT_WG;
        type_shader(ti->family == KVV_FAMILY_TURBO ? "quant_turbo" : "quant", t, shader, sizeof shader);
        p.g = (uint32_t)kvv_rot_group((int)ncols);
        p.log2g = (uint32_t)log2i((int)p.g);
    }
    p.gx = gx;
    vkv_buf *bufs[2] = {bin, bout};
    if ((rc = vkv_upload(c, bin, src, in)) || (rc = vkv_fill_zero(c, bout, out)) ||
        (rc = vkv_dispatch(c, shader, spec, 1, bufs, 2, &p, sizeof p, gx, gy, 1)) ||
        (rc = vkv_download(c, bout, dst, out)))
        return rc;
    return vkv_submit(c);
}

int vkv_dequantize_dispatch(vkv_ctx *c, kvv_type t, vkv_buf *src, vkv_buf *dst, int64_t nrows, int64_t ncols,
                            int lut, int out_f16)
{
    row_params p = {(uint32_t)nrows, (uint32_t)ncols, (uint32_t)kvv_row_bytes(t, ncols), 0, 0, 0};
    uint64_t n = (uint64_t)(nrows * ncols), words = out_f16 ? (n + 1) / 2 : n;
    uint32_t gx, gy, spec[4] = {ELEM_WG, (uint32_t)t, (uint32_t)lut, (uint32_t)out_f16};
    vkv_grid(c, (words + ELEM_WG - 1) / ELEM_WG, &gx, &gy);
    p.gx = gx;
    vkv_buf *bufs[2] = {src, dst};
    return vkv_dispatch(c, "dequant", spec, 4, bufs, 2, &p, sizeof p, gx, gy, 1);
}

int vkv_dequantize(vkv_ctx *c, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols, int lut)
{
    size_t in = kvv_row_bytes(t, ncols) * (size_t)nrows, out = sizeof(float) * (size_t)(nrows * ncols);
    if (nrows == 0)
        return KVV_OK;
    vkv_buf *bin, *bout;
    int rc;
    if ((rc = vkv_scratch(c, VKV_B_IN, in + 4, &bin)) || (rc = vkv_scratch(c, VKV_B_OUT, out, &bout)) ||
        (rc = vkv_reserve_staging(c, in + out)) || (rc = vkv_begin(c)) || (rc = vkv_upload(c, bin, src, in)) ||
        (rc = vkv_dequantize_dispatch(c, t, bin, bout, nrows, ncols, lut, 0)) ||
        (rc = vkv_download(c, bout, dst, out)))
        return rc;
    return vkv_submit(c);
}

int vkv_wht_dispatch(vkv_ctx *c, vkv_buf *data, uint64_t n, int group, int inverse)
{
    struct {
        uint32_t n, g, log2g, gx, inverse;
    } p = {(uint32_t)n, (uint32_t)group, (uint32_t)log2i(group), 0, (uint32_t)(inverse != 0)};
    uint32_t gx, gy, spec[1] = {WHT_WG};
    vkv_grid(c, (n + WHT_CHUNK - 1) / WHT_CHUNK, &gx, &gy);
    p.gx = gx;
    return vkv_dispatch(c, "wht", spec, 1, &data, 1, &p, sizeof p, gx, gy, 1);
}

int vkv_wht(vkv_ctx *c, float *x, int64_t nrows, int64_t ncols, int group, int inverse)
{
    size_t n = sizeof(float) * (size_t)(nrows * ncols);
    if (n == 0)
        return KVV_OK;
    vkv_buf *b;
    int rc;
    if ((rc = vkv_scratch(c, VKV_B_IN, n, &b)) || (rc = vkv_reserve_staging(c, 2 * n)) || (rc = vkv_begin(c)) ||
        (rc = vkv_upload(c, b, x, n)) || (rc = vkv_wht_dispatch(c, b, (uint64_t)(nrows * ncols), group, inverse)) ||
        (rc = vkv_download(c, b, x, n)))
        return rc;
    return vkv_submit(c);
}
