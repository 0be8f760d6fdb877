/* Portable kernels of the float and ggml block types: f32, f16, bf16, q8_0,
 * q4_0, q4_1, q5_0, q5_1, iq4_nl and iq4_nl@search.
 *
 * Each quantizer evaluates ggml's reference formulas in f32 in ggml's order,
 * so the bytes are ggml's bit for bit.  Float-to-integer casts follow what
 * ggml compiled for x86-64 does: truncate with cvttss2si (NaN and overflow
 * give INT32_MIN) and keep the low byte.  Spelling that out avoids undefined
 * behaviour in C and lets the AVX2 kernels (cvttps2dq) agree even on NaN. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/block_bytes.h"

/* ---- float types ---- */

static void quantize_f32(const float *x, void *dst, int n) { memcpy(dst, x, (size_t)n * sizeof(float)); }
static void dequantize_f32(const void *src, float *y, int n, int lut)
{
    (void)lut;
    memcpy(y, src, (size_t)n * sizeof(float));
}

static void quantize_f16(const float *x, void *dst, int n) { cpu_f32_to_f16_row(x, dst, n, KVV_ISA_SCALAR); }
static void dequantize_f16(const void *src, float *y, int n, int lut)
{
    (void)lut;
    cpu_f16_to_f32_row(src, y, n, KVV_ISA_SCALAR);
}

static void quantize_bf16(const float *x, void *dst, int n)
{
    uint16_t *y = dst;
    for (int i = 0; i < n; i++)
        y[i] = ggml_bf16_from_f32(x[i]);
}
static void dequantize_bf16(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint16_t *h = src;
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)h[i] << 16;
        memcpy(&y[i], &u, sizeof u);
    }
}

/* ---- q8_0: d = max|x| / 127, q = roundf(x / d) ---- */

static void quantize_q8_0(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++, x += 32, b += Q8_0_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            float ax = fabsf(x[j]);
            amax = amax > ax ? amax : ax; /* ggml's MAX(): a NaN wins only as the last element */
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        ggml_put_f16(b, cpu_f32_to_f16(d));
        for (int j = 0; j < 32; j++)
            b[2 + j] = (uint8_t)ggml_cvtt(roundf(x[j] * id));
    }
}

static void dequantize_q8_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q8_0_BYTES) {
        float d = cpu_f16_to_f32(ggml_get_f16(b));
        for (int j = 0; j < 32; j++)
            y[j] = (float)(int8_t)b[2 + j] * d;
    }
}

/* ---- q4_0 / q5_0: d = m / -2^(bits-1) with m the first value of largest
 * magnitude; index = min(2^bits - 1, (int8)(x/d + 2^(bits-1) + 0.5)) ---- */

static float signed_max(const float *x)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
#ifndef KVV_FAULT_q4_0_last_max
        if (amax < fabsf(x[j])) { /* strict: the first of equal magnitudes wins */
#else
        if (amax <= fabsf(x[j])) {
#endif
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* Indices of a block for the symmetric types: bias is 8.5 (q4_0) or 16.5 (q5_0). */
static void index_sym(const float *x, float id, float bias, int top, uint8_t *L)
{
    for (int j = 0; j < 32; j++) {
        int xi = (int8_t)(ggml_cvtt(x[j] * id + bias) & 0xff);
        L[j] = (uint8_t)(xi < top ? xi : top);
    }
}

static void quantize_q4_0(const float *x, void *dst, int n)
{
    uint8_t *b = dst, L[32];
    for (int i = 0; i < n / 32; i++, x += 32, b += Q4_0_BYTES) {
        float d = signed_max(x) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        ggml_put_f16(b, cpu_f32_to_f16(d));
        index_sym(x, id, 8.5f, 15, L);
        ggml_pack_nibbles(L, b + 2, NULL);
    }
}

static void quantize_q5_0(const float *x, void *dst, int n)
{
    uint8_t *b = dst, L[32];
    for (int i = 0; i < n / 32; i++, x += 32, b += Q5_0_BYTES) {
        float d = signed_max(x) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        ggml_put_f16(b, cpu_f32_to_f16(d));
        index_sym(x, id, 16.5f, 31, L);
        ggml_pack_nibbles(L, b + 6, b + 2);
    }
}

/* ---- q4_1 / q5_1: d = (max - min) / (2^bits - 1), m = min ---- */

static void min_max(const float *x, float *mn, float *mx)
{
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static void quantize_q4_1(const float *x, void *dst, int n)
{
    uint8_t *b = dst, L[32];
    for (int i = 0; i < n / 32; i++, x += 32, b += Q4_1_BYTES) {
        float mn, mx;
        min_max(x, &mn, &mx);
        float d = (mx - mn) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        ggml_put_f16(b, cpu_f32_to_f16(d));
        ggml_put_f16(b + 2, cpu_f32_to_f16(mn));
        for (int j = 0; j < 32; j++) {
            int xi = (int8_t)(ggml_cvtt((x[j] - mn) * id + 0.5f) & 0xff);
            L[j] = (uint8_t)(xi < 15 ? xi : 15);
        }
        ggml_pack_nibbles(L, b + 4, NULL);
    }
}

static void quantize_q5_1(const float *x, void *dst, int n)
{
    uint8_t *b = dst, L[32];
    for (int i = 0; i < n / 32; i++, x += 32, b += Q5_1_BYTES) {
        float mn, mx;
        min_max(x, &mn, &mx);
        float d = (mx - mn) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        ggml_put_f16(b, cpu_f32_to_f16(d));
        ggml_put_f16(b + 2, cpu_f32_to_f16(mn));
        for (int j = 0; j < 32; j++) /* no clamp: ggml casts straight to uint8_t */
            L[j] = (uint8_t)ggml_cvtt((x[j] - mn) * id + 0.5f);
        ggml_pack_nibbles(L, b + 8, b + 4);
    }
}

/* Dequantize the nibble types: (q - offset) * d, or q * d + m (a separate
 * multiply and add, never fused).  qh may be NULL (4-bit types). */
static void dequant_nibbles(const uint8_t *qs, const uint8_t *qh, float d, int offset, float *y)
{
    uint32_t h = qh ? ggml_get_u32(qh) : 0;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 0x0f) | (int)(((h >> j) & 1u) << 4);
        int hi = (qs[j] >> 4) | (int)(((h >> (j + 16)) & 1u) << 4);
        y[j] = (float)(lo - offset) * d;
        y[j + 16] = (float)(hi - offset) * d;
    }
}
static void dequant_nibbles_min(const uint8_t *qs, const uint8_t *qh, float d, float m, float *y)
{
    uint32_t h = qh ? ggml_get_u32(qh) : 0;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 0x0f) | (int)(((h >> j) & 1u) << 4);
        int hi = (qs[j] >> 4) | (int)(((h >> (j + 16)) & 1u) << 4);
        float p0 = (float)lo * d, p1 = (float)hi * d;
        y[j] = p0 + m;
        y[j + 16] = p1 + m;
    }
}

static void dequantize_q4_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q4_0_BYTES)
        dequant_nibbles(b + 2, NULL, cpu_f16_to_f32(ggml_get_f16(b)), 8, y);
}
static void dequantize_q5_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q5_0_BYTES)
        dequant_nibbles(b + 6, b + 2, cpu_f16_to_f32(ggml_get_f16(b)), 16, y);
}
static void dequantize_q4_1(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q4_1_BYTES)
        dequant_nibbles_min(b + 4, NULL, cpu_f16_to_f32(ggml_get_f16(b)), cpu_f16_to_f32(ggml_get_f16(b + 2)), y);
}
static void dequantize_q5_1(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q5_1_BYTES)
        dequant_nibbles_min(b + 8, b + 4, cpu_f16_to_f32(ggml_get_f16(b)), cpu_f16_to_f32(ggml_get_f16(b + 2)), y);
}

/* ---- iq4_nl: indices into a non-linear grid, a least-squares scale ---- */

/* ggml's best_index_int8: nearest grid value by bisection; an exact midpoint
 * goes to the upper index. */
static int grid_index(float x)
{
    const int8_t *v = cpu_iq4nl_grid;
    if (x <= v[0])
        return 0;
    if (x >= v[15])
        return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < v[mav])
            mu = mav;
        else
            ml = mav;
    }
    return x - v[mu - 1] < v[mu] - x ? mu - 1 : mu;
}

/* One pass of ggml's weighted fit (weights x^2): indices for scale 1/id and
 * the sums sumqx = sum w*q*x, sumq2 = sum w*q*q, added in element order. */
static void iq4nl_fit(const float *x, float id, uint8_t *L, float *sumqx, float *sumq2)
{
    float sqx = 0.0f, sq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        int l = grid_index(id * x[j]);
        if (L)
            L[j] = (uint8_t)l;
        float q = (float)cpu_iq4nl_grid[l], w = x[j] * x[j];
        sqx += w * q * x[j];
        sq2 += w * q * q;
    }
    *sumqx = sqx;
    *sumq2 = sq2;
}

#define IQ4NL_MAX_EPS 1e-15f

/* search = 0: quantize_row_iq4_nl_ref (the K/V cache path, no scale search);
 * search = 7: quantize_iq4_nl's 15 extra trial scales, then re-indexing with
 * the chosen f32 scale. */
static void iq4nl_block(const float *x, uint8_t *b, int search)
{
    uint8_t L[32];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        float ax = fabsf(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    float d = 0.0f;
    memset(L, 0, sizeof L);
    if (amax >= IQ4NL_MAX_EPS) {
        const float v0 = (float)cpu_iq4nl_grid[0];
        float sumqx, sumq2;
        d = search ? -max / v0 : max / v0;
        iq4nl_fit(x, 1.0f / d, L, &sumqx, &sumq2);
        d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
        if (search) {
            float best = d * sumqx;
            for (int itry = -search; itry <= search; itry++) {
                iq4nl_fit(x, ((float)itry + v0) / max, NULL, &sumqx, &sumq2);
                if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
        }
    }
    if (search) { /* ggml re-indexes with the chosen scale (also when it is 0) */
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++)
            L[j] = (uint8_t)grid_index(id * x[j]);
    }
    ggml_put_f16(b, cpu_f32_to_f16(d));
    ggml_pack_nibbles(L, b + 2, NULL);
}

static void quantize_iq4_nl(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        iq4nl_block(x + 32 * i, b + IQ4_NL_BYTES * i, 0);
}
static void quantize_iq4_nl_search(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        iq4nl_block(x + 32 * i, b + IQ4_NL_BYTES * i, 7);
}

static void dequantize_iq4_nl(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += IQ4_NL_BYTES) {
        float d = cpu_f16_to_f32(ggml_get_f16(b));
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)cpu_iq4nl_grid[b[2 + j] & 0x0f];
            y[j + 16] = d * (float)cpu_iq4nl_grid[b[2 + j] >> 4];
        }
    }
}

const cpu_type_fns cpu_ggml_scalar[KVV_TYPE_COUNT] = {
    [KVV_F32] = {quantize_f32, dequantize_f32},
    [KVV_F16] = {quantize_f16, dequantize_f16},
    [KVV_BF16] = {quantize_bf16, dequantize_bf16},
    [KVV_Q8_0] = {quantize_q8_0, dequantize_q8_0},
    [KVV_Q4_0] = {quantize_q4_0, dequantize_q4_0},
    [KVV_Q4_1] = {quantize_q4_1, dequantize_q4_1},
    [KVV_Q5_0] = {quantize_q5_0, dequantize_q5_0},
    [KVV_Q5_1] = {quantize_q5_1, dequantize_q5_1},
    [KVV_IQ4_NL] = {quantize_iq4_nl, dequantize_iq4_nl},
    [KVV_IQ4_NL_SEARCH] = {quantize_iq4_nl_search, dequantize_iq4_nl},
};
