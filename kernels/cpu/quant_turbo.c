/* Portable TurboQuant kernels: turbo2, turbo3 (QK 32 and 128), turbo4 (4-bit)
 * and the legacy turbo4@qjl.  Quantizing is the cache write, so it rotates:
 * per rotation group (kvv_rot_group of the row width) the forks' pipeline in
 * their order: n = sqrt(sum x^2) summed in element order, u = x * (1/n), the
 * WHT, indices by midpoint counts, the corrected norm n / ||C[idx]||.
 * Dequantizing gives C[idx] * norm in the rotated basis. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/block_bytes.h"
#include "kernels/cpu/turbo_formats.h"

/* ---- index packing (the layouts of turbo_formats.h) ---- */

static void pack_indices(const turbo_fmt *f, const uint8_t *idx, uint8_t *blk)
{
    int n = f->block;
    uint8_t *qs = blk + f->qs;
    if (f->pack == TURBO_PACK_NIBBLE) {
        for (int j = 0; j < n; j += 2)
            qs[j / 2] = (uint8_t)((idx[j] & 0x0f) | (idx[j + 1] << 4));
        return;
    }
    for (int j = 0; j < n; j += 4)
        qs[j / 4] = (uint8_t)((idx[j] & 3) | (idx[j + 1] & 3) << 2 | (idx[j + 2] & 3) << 4 | (idx[j + 3] & 3) << 6);
    if (f->pack == TURBO_PACK_2BIT_SIGN) {
        uint8_t *signs = qs + n / 4;
        for (int j = 0; j < n; j += 8) {
            unsigned s = 0;
            for (int k = 0; k < 8; k++)
                s |= (unsigned)((idx[j + k] >> 2) & 1) << k;
#ifndef KVV_FAULT_pack_overwrite
            signs[j / 8] = (uint8_t)s;
#else
            signs[j / 8 - 1 + (j == 0)] = (uint8_t)s;
#endif
        }
    }
}

static void unpack_indices(const turbo_fmt *f, const uint8_t *blk, uint8_t *idx)
{
    int n = f->block;
    const uint8_t *qs = blk + f->qs;
    if (f->pack == TURBO_PACK_NIBBLE) {
        for (int j = 0; j < n; j++)
            idx[j] = (uint8_t)((qs[j / 2] >> (4 * (j & 1))) & 0x0f);
        return;
    }
    for (int j = 0; j < n; j++)
        idx[j] = (uint8_t)((qs[j / 4] >> (2 * (j % 4))) & 3);
    if (f->pack == TURBO_PACK_2BIT_SIGN) {
        const uint8_t *signs = qs + n / 4;
        for (int j = 0; j < n; j++)
            idx[j] |= (uint8_t)(((signs[j / 8] >> (j % 8)) & 1) << 2);
    }
}

/* ---- the group pipeline ---- */

/* n = ||x|| summed in element order; u = WHT(x * (1/n)) (u = 0 when n is ~0) */
static float rotate_normalized(const float *x, float *u, int g, const float *pre, const float *post)
{
    float ss = 0.0f;
    for (int j = 0; j < g; j++)
        ss += x[j] * x[j];
    float n = sqrtf(ss);
    float inv = n > TURBO_NORM_EPS ? 1.0f / n : 0.0f;
    for (int j = 0; j < g; j++)
        u[j] = x[j] * inv;
#ifndef KVV_FAULT_missing_rotation
    cpu_wht_group(u, g, pre, post);
#else
    (void)pre;
    (void)post;
#endif
    return n;
}

/* index = number of midpoints m_k with u >= m_k (a NaN compares false: 0) */
static uint8_t nearest(const float *m, int nm, float u)
{
    int k = 0;
    for (int i = 0; i < nm; i++)
        k += u >= m[i];
    return (uint8_t)k;
}

static void turbo_quantize(const turbo_fmt *f, const float *x, uint8_t *dst, int ncols)
{
    const int g = cpu_rot_group(ncols);
    float u[128];
    uint8_t idx[128];
    for (int c0 = 0; c0 + g <= ncols; c0 += g, x += g) {
#ifndef KVV_FAULT_scalar_turbo_group_signs
        float n = rotate_normalized(x, u, g, cpu_wht_s1, cpu_wht_s2);
#else
        /* mutant: the sign vectors indexed by the column in the row (mod
         * 128), not by the position in the group: wrong from the second
         * group of a row whose groups are smaller than 128 */
        float n = rotate_normalized(x, u, g, cpu_wht_s1 + c0 % 128, cpu_wht_s2 + c0 % 128);
#endif
        float rs = 0.0f;
        for (int j = 0; j < g; j++) {
            idx[j] = nearest(f->m, f->levels - 1, u[j]);
            rs += f->c[idx[j]] * f->c[idx[j]];
        }
        float r = sqrtf(rs);
        uint16_t norm = cpu_f32_to_f16(r > TURBO_NORM_EPS ? n / r : n);
        for (int b = 0; b < g; b += f->block, dst += f->bytes) { /* every block of the group carries the norm */
            memset(dst, 0, (size_t)f->bytes);
            ggml_put_f16(dst, norm);
            pack_indices(f, idx + b, dst);
        }
    }
}

static void turbo_dequantize(const turbo_fmt *f, const uint8_t *src, float *y, int ncols)
{
    uint8_t idx[128];
    for (int b = 0; b < ncols; b += f->block, src += f->bytes, y += f->block) {
        float norm = cpu_f16_to_f32(ggml_get_f16(src));
        unpack_indices(f, src, idx);
        for (int j = 0; j < f->block; j++)
            y[j] = f->c[idx[j]] * norm;
    }
}

/* turbo3 with the 4-magnitude LUT some GPU kernels use: magnitude
 * C3[4 + mi] with mi = q ^ (s ? 0 : 3), then the sign.  The sign goes on as a
 * multiplication by +-1 (not a negation) so that even a NaN norm comes out
 * with the same bits as C3[idx] * norm. */
static void turbo3_dequantize_lut4(const turbo_fmt *f, const uint8_t *src, float *y, int ncols)
{
    static const float sign[2] = {-1.0f, 1.0f};
    const float *mag = cpu_turbo3_c + 4;
    uint8_t idx[128];
    for (int b = 0; b < ncols; b += f->block, src += f->bytes, y += f->block) {
        float norm = cpu_f16_to_f32(ggml_get_f16(src));
        unpack_indices(f, src, idx);
        for (int j = 0; j < f->block; j++) {
            int q = idx[j] & 3, s = idx[j] >> 2;
#ifndef KVV_FAULT_lut4_mismatch
            float v = mag[q ^ (s ? 0 : 3)] * norm;
#else
            float v = mag[q] * norm;
#endif
            y[j] = v * sign[s];
        }
    }
}

#define TURBO_ROW_FNS(name, type)                                                                                  \
    static void quantize_##name(const float *x, void *dst, int n) { turbo_quantize(turbo_fmt_get(type), x, dst, n); } \
    static void dequantize_##name(const void *src, float *y, int n, int lut)                                        \
    {                                                                                                              \
        (void)lut;                                                                                                 \
        turbo_dequantize(turbo_fmt_get(type), src, y, n);                                                          \
    }
TURBO_ROW_FNS(turbo2, KVV_TURBO2)
TURBO_ROW_FNS(turbo2_qk128, KVV_TURBO2_QK128)
TURBO_ROW_FNS(turbo4, KVV_TURBO4)
TURBO_ROW_FNS(turbo4_narrow, KVV_TURBO4_NARROW)

#define TURBO3_ROW_FNS(name, type)                                                                                 \
    static void quantize_##name(const float *x, void *dst, int n) { turbo_quantize(turbo_fmt_get(type), x, dst, n); } \
    static void dequantize_##name(const void *src, float *y, int n, int lut)                                        \
    {                                                                                                              \
        if (lut == 4)                                                                                              \
            turbo3_dequantize_lut4(turbo_fmt_get(type), src, y, n);                                                \
        else                                                                                                       \
            turbo_dequantize(turbo_fmt_get(type), src, y, n);                                                      \
    }
TURBO3_ROW_FNS(turbo3, KVV_TURBO3)
TURBO3_ROW_FNS(turbo3_qk128, KVV_TURBO3_QK128)

/* ---- turbo4@qjl: 3-bit indices of the raw norm, plus one QJL sign per
 * value of the residual's random projection (block = group = 128) ---- */

#define QJL_BYTES KVV_BYTES_TURBO4_QJL
#define QJL_QS 4
#define QJL_SIGNS 52
_Static_assert(QJL_SIGNS == QJL_QS + 128 * 3 / 8 && QJL_BYTES == QJL_SIGNS + 128 / 8 && KVV_BLOCK_TURBO4_QJL == 128,
               "turbo4@qjl: norm, rnorm, 3-bit qs, one sign bit per value");

static void qjl_quantize_block(const float *x, uint8_t *b)
{
    float u[128], res[128];
    float n = rotate_normalized(x, u, 128, cpu_wht_s1, cpu_wht_s2);
    memset(b, 0, QJL_BYTES);
    float rs = 0.0f;
    for (int j = 0; j < 128; j++) {
        int k = nearest(cpu_turbo3_m, 7, u[j]);
        res[j] = u[j] - cpu_turbo3_c[k];
        rs += res[j] * res[j];
        int bit = 3 * j; /* little-endian bit stream, may spill into the next byte */
        unsigned v = (unsigned)k << (bit % 8);
        b[QJL_QS + bit / 8] |= (uint8_t)v;
        if (v >> 8)
            b[QJL_QS + bit / 8 + 1] |= (uint8_t)(v >> 8);
    }
    ggml_put_f16(b, cpu_f32_to_f16(n));
    ggml_put_f16(b + 2, cpu_f32_to_f16(sqrtf(rs)));
    cpu_wht_group(res, 128, cpu_qjl_s1, cpu_qjl_s2);
    for (int j = 0; j < 128; j++)
        b[QJL_SIGNS + j / 8] |= (uint8_t)((res[j] >= 0.0f) << (j % 8));
}

static void qjl_dequantize_block(const uint8_t *b, float *y)
{
    float q[128];
    for (int j = 0; j < 128; j++)
        q[j] = (b[QJL_SIGNS + j / 8] >> (j % 8)) & 1 ? 1.0f : -1.0f;
    cpu_wht_group(q, 128, cpu_qjl_s2, cpu_qjl_s1);
    float fac = TURBO_QJL_SCALE * cpu_f16_to_f32(ggml_get_f16(b + 2));
    float norm = cpu_f16_to_f32(ggml_get_f16(b));
    for (int j = 0; j < 128; j++) {
        int bit = 3 * j;
        unsigned w = b[QJL_QS + bit / 8] | (bit / 8 + 1 < 48 ? (unsigned)b[QJL_QS + bit / 8 + 1] << 8 : 0u);
        int k = (int)((w >> (bit % 8)) & 7);
        y[j] = (cpu_turbo3_c[k] + q[j] * fac) * norm;
    }
}

static void quantize_turbo4_qjl(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 128; i++)
        qjl_quantize_block(x + 128 * i, b + QJL_BYTES * i);
}
static void dequantize_turbo4_qjl(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 128; i++)
        qjl_dequantize_block(b + QJL_BYTES * i, y + 128 * i);
}

const cpu_type_fns cpu_turbo_scalar[KVV_TYPE_COUNT] = {
    [KVV_TURBO2] = {quantize_turbo2, dequantize_turbo2},
    [KVV_TURBO2_QK128] = {quantize_turbo2_qk128, dequantize_turbo2_qk128},
    [KVV_TURBO3] = {quantize_turbo3, dequantize_turbo3},
    [KVV_TURBO3_QK128] = {quantize_turbo3_qk128, dequantize_turbo3_qk128},
    [KVV_TURBO4] = {quantize_turbo4, dequantize_turbo4},
    [KVV_TURBO4_QJL] = {quantize_turbo4_qjl, dequantize_turbo4_qjl},
    [KVV_TURBO4_NARROW] = {quantize_turbo4_narrow, dequantize_turbo4_narrow},
};
