/* AVX2 kernels of the float and ggml block types.  Same bytes as
 * quant_ggml.c, because
 * - the formulas are evaluated lane-wise with the same f32 operations (a
 *   separate multiply and add, never fused);
 * - the block reductions used here (max, min) are exact, so their order does
 *   not matter; the cases where it still would (ggml's MAX() with a NaN, the
 *   sign of a zero minimum) are sent to the scalar block code;
 * - roundf is a truncation of x + copysign(0.49999997f, x), exact for every
 *   float (round_away_i32; not the rounding mode, which ties to even), and
 *   float-to-integer casts are
 *   cvttps2dq, which returns INT32_MIN exactly where cvttss2si does. */
#include <float.h>
#include <immintrin.h>
#include <math.h>

#include "kernels/cpu/block_bytes.h"
#include "kernels/cpu/cpu_internal.h"

/* ---- helpers ---- */

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hmin8(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* f16 of a scale: vcvtps2ph, except for a NaN (ggml stores it without payload) */
static inline uint16_t scale_f16(float x)
{
    return x != x ? cpu_f32_to_f16(x) : (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
}

static inline float f16_scale(const uint8_t *p) { return _cvtsh_ss(ggml_get_f16(p)); }

static inline int any_nan(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256 n = _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q), _mm256_cmp_ps(c, d, _CMP_UNORD_Q));
    return _mm256_movemask_ps(n) != 0;
}

/* (int)roundf(p) as cvttss2si gives it (INT32_MIN for NaN and beyond
 * the int range): truncate p + copysign(0.49999997f, p).  The f32 add
 * rounds to nearest: below 2^22 the sum stays under the next integer
 * unless |p| reaches k + 1/2 (where the tie of the sum rounds up to even),
 * and from there on p has no fraction below 1/2 to lose.  Checked against
 * roundf for all 2^32 floats; three operations where truncation, a
 * fraction test and a step took eight. */
static inline __m256i round_away_i32(__m256 p)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), below_half = _mm256_set1_ps(0.49999997f);
    return _mm256_cvttps_epi32(_mm256_add_ps(p, _mm256_or_ps(_mm256_and_ps(p, sign), below_half)));
}

/* 16 int32 lanes holding 0..255 -> 16 bytes in element order */
static inline __m128i bytes16_from_i32(__m256i i0, __m256i i1)
{
    __m256i b = _mm256_packus_epi32(i0, i1);
    b = _mm256_packus_epi16(b, b);
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    return _mm256_castsi256_si128(b);
}

/* bit 4 of each of 32 indices (as int32 lanes) -> the 32-bit qh word */
static inline uint32_t bit4_mask(__m256i i0, __m256i i1, __m256i i2, __m256i i3)
{
#define B4(v) (uint32_t) _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 27)))
    return B4(i0) | B4(i1) << 8 | B4(i2) << 16 | B4(i3) << 24;
#undef B4
}

/* low nibbles of elements j and j+16 into byte j: qs of the nibble types */
static inline void store_nibbles(uint8_t *qs, __m256i i0, __m256i i1, __m256i i2, __m256i i3)
{
    const __m256i lo = _mm256_set1_epi32(0x0f);
    __m256i c0 = _mm256_or_si256(_mm256_and_si256(i0, lo), _mm256_slli_epi32(_mm256_and_si256(i2, lo), 4));
    __m256i c1 = _mm256_or_si256(_mm256_and_si256(i1, lo), _mm256_slli_epi32(_mm256_and_si256(i3, lo), 4));
    _mm_storeu_si128((__m128i *)qs, bytes16_from_i32(c0, c1));
}

/* ---- float types ---- */

static void quantize_f16(const float *x, void *dst, int n) { cpu_f32_to_f16_row_avx2(x, dst, n); }
static void dequantize_f16(const void *src, float *y, int n, int lut)
{
    (void)lut;
    cpu_f16_to_f32_row_avx2(src, y, n);
}

/* bf16 of 8 values: round to nearest even on the upper half; a NaN keeps
 * its upper half with the quiet bit set (ggml) */
static inline __m256i bf16_nan_fixed(__m256 v)
{
    __m256i u = _mm256_castps_si256(v), hi = _mm256_srli_epi32(u, 16);
    __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    __m256i rnd = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i nan = _mm256_or_si256(hi, _mm256_set1_epi32(64));
    return _mm256_blendv_epi8(rnd, nan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
}

/* the same for values known not to be NaN */
static inline __m256i bf16_plain(__m256 v)
{
    __m256i u = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    return _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
}

static void quantize_bf16(const float *x, void *dst, int n)
{
    uint16_t *y = dst;
    int i = 0;
    /* 32 at a time: one NaN test for all of them, as for f16 */
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8), v2 = _mm256_loadu_ps(x + i + 16),
               v3 = _mm256_loadu_ps(x + i + 24);
        __m256 nan = _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q));
        __m256i r0, r1, r2, r3;
        if (_mm256_testz_ps(nan, nan)) {
            r0 = bf16_plain(v0);
            r1 = bf16_plain(v1);
            r2 = bf16_plain(v2);
            r3 = bf16_plain(v3);
        } else {
            r0 = bf16_nan_fixed(v0);
            r1 = bf16_nan_fixed(v1);
            r2 = bf16_nan_fixed(v2);
            r3 = bf16_nan_fixed(v3);
        }
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_permute4x64_epi64(_mm256_packus_epi32(r0, r1), 0xD8));
        _mm256_storeu_si256((__m256i *)(y + i + 16), _mm256_permute4x64_epi64(_mm256_packus_epi32(r2, r3), 0xD8));
    }
    for (; i + 16 <= n; i += 16) {
        __m256i p =
            _mm256_packus_epi32(bf16_nan_fixed(_mm256_loadu_ps(x + i)), bf16_nan_fixed(_mm256_loadu_ps(x + i + 8)));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_permute4x64_epi64(p, 0xD8));
    }
    for (; i < n; i++)
        y[i] = ggml_bf16_from_f32(x[i]);
}

static void dequantize_bf16(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint16_t *h = src;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(u, 16));
    }
    for (; i < n; i++) {
        uint32_t u = (uint32_t)h[i] << 16;
        memcpy(&y[i], &u, sizeof u);
    }
}

/* ---- q8_0 ---- */

/* Lane k: the largest lane of a_k.  A transposing max network (21
 * operations for 8 blocks where a reduction per block took 48), and no
 * trip through memory: eight scalar stores read back as one vector stall
 * store forwarding.  Max is exact, so the order of the network does not
 * matter; a NaN lane only spoils its own block's lane, and blocks holding a
 * NaN take the scalar code anyway. */
static inline __m256 hmax8x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6,
                             __m256 a7)
{
#define PAIR(x, y) _mm256_max_ps(_mm256_unpacklo_ps(x, y), _mm256_unpackhi_ps(x, y))
#define QUAD(x, y)                                                                                                 \
    _mm256_max_ps(_mm256_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2)))
    __m256 u0 = QUAD(PAIR(a0, a1), PAIR(a2, a3)), u1 = QUAD(PAIR(a4, a5), PAIR(a6, a7));
#undef PAIR
#undef QUAD
    return _mm256_max_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* |v| max of one block of 32, and whether it holds a NaN */
static inline __m256 block_amax(const float *xb, int *nan)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8), v2 = _mm256_loadu_ps(xb + 16),
           v3 = _mm256_loadu_ps(xb + 24);
    *nan = any_nan(v0, v1, v2, v3);
    return _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                         _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
}

/* One block's 32 indices, roundf(x * id) as bytes.  With amax and id
 * finite, |x * id| stays within an ulp or two of 127, so every index fits
 * int8 and signed saturating packs keep it as it is (the other blocks go to
 * the scalar code, which keeps the low byte of the integer indefinite). */
static inline void q8_0_indices(const float *xb, __m256 idv, uint8_t *qs)
{
#define Q(j) round_away_i32(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * (j)), idv))
    __m256i q0 = Q(0), q1 = Q(1), q2 = Q(2), q3 = Q(3);
#undef Q
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    _mm256_storeu_si256((__m256i *)qs, _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

/* Blocks go 8 at a time: their scales d = amax/127 and 1/d are two vector
 * divisions instead of 16 scalar ones on each block's critical path. */
static void quantize_q8_0(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    const int nblk = n / 32;
    for (int i0 = 0; i0 < nblk; i0 += 8) {
        const int nb = nblk - i0 < 8 ? nblk - i0 : 8;
        const float *xb = x + 32 * i0;
        int nan[8] = {0};
        __m256 m[8];
        for (int k = 0; k < 8; k++)
            m[k] = k < nb ? block_amax(xb + 32 * k, &nan[k]) : _mm256_setzero_ps();
        __m256 amax = hmax8x8(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]);
        __m256 dv = _mm256_div_ps(amax, _mm256_set1_ps(127.0f));
        __m256 nz = _mm256_cmp_ps(dv, _mm256_setzero_ps(), _CMP_NEQ_UQ); /* d != 0.0f */
        __m256 idv = _mm256_and_ps(nz, _mm256_div_ps(_mm256_set1_ps(1.0f), dv));
        /* an infinite amax, or a d so small that 1/d overflows: scalar code */
        const __m256 inf = _mm256_set1_ps(INFINITY);
        int odd = _mm256_movemask_ps(
            _mm256_or_ps(_mm256_cmp_ps(amax, inf, _CMP_NLT_UQ), _mm256_cmp_ps(idv, inf, _CMP_NLT_UQ)));
        float id[8];
        uint16_t dh[8];
        _mm256_storeu_ps(id, idv);
        /* a NaN d only comes from a block that holds a NaN, which the
         * scalar code writes, so the plain conversion does */
        _mm_storeu_si128((__m128i *)dh, _mm256_cvtps_ph(dv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        for (int k = 0; k < nb; k++) {
            uint8_t *bb = b + Q8_0_BYTES * (i0 + k);
            if (nan[k] || (odd >> k & 1)) { /* ggml's sequential MAX() keeps a NaN only if it comes last */
                cpu_ggml_scalar[KVV_Q8_0].quantize_row(xb + 32 * k, bb, 32);
                continue;
            }
            ggml_put_f16(bb, dh[k]);
            q8_0_indices(xb + 32 * k, _mm256_set1_ps(id[k]), bb + 2);
        }
    }
}

static void dequantize_q8_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q8_0_BYTES) {
        const __m256 d = _mm256_set1_ps(f16_scale(b));
        for (int k = 0; k < 4; k++) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + 8 * k)));
            _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

/* ---- q4_0 / q5_0 ---- */

/* The value ggml's strict `amax < |x|` loop picks: the first element of
 * largest magnitude, NaNs never chosen, 0 when nothing beats 0. */
static inline float signed_max(const float *x, const __m256 *v)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        a[k] = _mm256_andnot_ps(sign, v[k]);
        m = _mm256_max_ps(a[k], m); /* a NaN lane keeps m (maxps returns its second operand) */
    }
    float amax = hmax8(m);
    if (amax == 0.0f)
        return 0.0f;
    const __m256 mv = _mm256_set1_ps(amax);
    uint32_t eq = 0;
    for (int k = 0; k < 4; k++)
        eq |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a[k], mv, _CMP_EQ_OQ)) << (8 * k);
#ifndef KVV_FAULT_q4_0_last_max
    return x[__builtin_ctz(eq)];
#else
    return x[31 - __builtin_clz(eq)];
#endif
}

static inline void quantize_sym(const float *x, uint8_t *b, float div, float bias, int top, int has_qh)
{
    __m256 v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_loadu_ps(x + 8 * k);
    float d = signed_max(x, v) / div;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    ggml_put_f16(b, scale_f16(d));
    const __m256 idv = _mm256_set1_ps(id), bv = _mm256_set1_ps(bias);
    const __m256i topv = _mm256_set1_epi32(top);
    __m256i q[4];
    /* x*id + bias lies in [0, 2*bias] unless id overflowed, where the cast
     * gives INT32_MIN like the scalar cast; min(top) then masking keeps
     * exactly the scalar's index bits in both cases */
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_and_si256(
            _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[k], idv), bv)), topv), topv);
    if (has_qh) {
        ggml_put_u32(b + 2, bit4_mask(q[0], q[1], q[2], q[3]));
        store_nibbles(b + 6, q[0], q[1], q[2], q[3]);
    } else {
        store_nibbles(b + 2, q[0], q[1], q[2], q[3]);
    }
}

static void quantize_q4_0(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        quantize_sym(x + 32 * i, b + Q4_0_BYTES * i, -8.0f, 8.5f, 15, 0);
}

static void quantize_q5_0(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        quantize_sym(x + 32 * i, b + Q5_0_BYTES * i, -16.0f, 16.5f, 31, 1);
}

/* ---- q4_1 / q5_1 ---- */

static inline void quantize_asym(const float *x, uint8_t *b, float div, int bits)
{
    __m256 v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_loadu_ps(x + 8 * k);
    __m256 lo = _mm256_set1_ps(FLT_MAX), hi = _mm256_set1_ps(-FLT_MAX);
    for (int k = 0; k < 4; k++) { /* NaN lanes keep the running value, as the scalar `<`/`>` tests do */
        lo = _mm256_min_ps(v[k], lo);
        hi = _mm256_max_ps(v[k], hi);
    }
    float mn = hmin8(lo), mx = hmax8(hi);
    if (mn == 0.0f || mx == 0.0f) { /* the sign of a zero depends on which came first */
        mn = FLT_MAX;
        mx = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < mn)
                mn = x[j];
            if (x[j] > mx)
                mx = x[j];
        }
    }
    float d = (mx - mn) / div;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    ggml_put_f16(b, scale_f16(d));
    ggml_put_f16(b + 2, scale_f16(mn));
    const __m256 idv = _mm256_set1_ps(id), mnv = _mm256_set1_ps(mn), half = _mm256_set1_ps(0.5f);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v[k], mnv), idv), half));
    if (bits == 4) {
        /* (x-min)*id + 0.5 <= 15.5 (or INT32_MIN): min(15) then the low nibble */
        const __m256i top = _mm256_set1_epi32(15);
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_and_si256(_mm256_min_epi32(q[k], top), top);
        store_nibbles(b + 4, q[0], q[1], q[2], q[3]);
    } else {
        /* q5_1 casts straight to uint8_t: keep the low byte */
        const __m256i byte = _mm256_set1_epi32(0xff);
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_and_si256(q[k], byte);
        ggml_put_u32(b + 4, bit4_mask(q[0], q[1], q[2], q[3]));
        store_nibbles(b + 8, q[0], q[1], q[2], q[3]);
    }
}

static void quantize_q4_1(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        quantize_asym(x + 32 * i, b + Q4_1_BYTES * i, 15.0f, 4);
}

static void quantize_q5_1(const float *x, void *dst, int n)
{
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        quantize_asym(x + 32 * i, b + Q5_1_BYTES * i, 31.0f, 5);
}

/* ---- dequantizers of the nibble types ---- */

/* 32 indices of a block as bytes in element order: nibbles of qs, plus bit 4
 * from qh when it is not NULL */
static inline __m256i block_indices(const uint8_t *qs, const uint8_t *qh)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    const __m128i lo = _mm_set1_epi8(0x0f);
    __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), lo), _mm_and_si128(raw, lo));
    if (qh) {
        /* byte j takes byte j/8 of qh, then tests its bit j%8 */
        __m256i h = _mm256_set1_epi32((int)ggml_get_u32(qh));
        h = _mm256_shuffle_epi8(h, _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
                                                     0x0303030303030303LL));
        const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
        h = _mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit);
        q = _mm256_or_si256(q, _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
    }
    return q;
}

/* y = (q - offset) * d for 32 byte indices */
static inline void store_offset_times_d(__m256i q, int offset, float d, float *y)
{
    q = _mm256_sub_epi8(q, _mm256_set1_epi8((char)offset));
    const __m256 dv = _mm256_set1_ps(d);
    __m128i h0 = _mm256_castsi256_si128(q), h1 = _mm256_extracti128_si256(q, 1);
    __m128i part[4] = {h0, _mm_srli_si128(h0, 8), h1, _mm_srli_si128(h1, 8)};
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k])), dv));
}

/* y = q * d + m, a separate multiply and add */
static inline void store_times_d_plus_m(__m256i q, float d, float m, float *y)
{
    const __m256 dv = _mm256_set1_ps(d), mv = _mm256_set1_ps(m);
    __m128i h0 = _mm256_castsi256_si128(q), h1 = _mm256_extracti128_si256(q, 1);
    __m128i part[4] = {h0, _mm_srli_si128(h0, 8), h1, _mm_srli_si128(h1, 8)};
    for (int k = 0; k < 4; k++) {
        __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part[k])), dv);
        _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(p, mv));
    }
}

static void dequantize_q4_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q4_0_BYTES)
        store_offset_times_d(block_indices(b + 2, NULL), 8, f16_scale(b), y);
}

static void dequantize_q5_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q5_0_BYTES)
        store_offset_times_d(block_indices(b + 6, b + 2), 16, f16_scale(b), y);
}

static void dequantize_q4_1(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q4_1_BYTES)
        store_times_d_plus_m(block_indices(b + 4, NULL), f16_scale(b), f16_scale(b + 2), y);
}

static void dequantize_q5_1(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    for (int i = 0; i < n / 32; i++, y += 32, b += Q5_1_BYTES)
        store_times_d_plus_m(block_indices(b + 8, b + 4), f16_scale(b), f16_scale(b + 2), y);
}

static void dequantize_iq4_nl(const void *src, float *y, int n, int lut)
{
    (void)lut;
    const uint8_t *b = src;
    const __m128i grid = _mm_loadu_si128((const __m128i *)cpu_iq4nl_grid);
    const __m256i grid2 = _mm256_set_m128i(grid, grid);
    for (int i = 0; i < n / 32; i++, y += 32, b += IQ4_NL_BYTES) {
        __m256i v = _mm256_shuffle_epi8(grid2, block_indices(b + 2, NULL));
        const __m256 dv = _mm256_set1_ps(f16_scale(b));
        __m128i h0 = _mm256_castsi256_si128(v), h1 = _mm256_extracti128_si256(v, 1);
        __m128i part[4] = {h0, _mm_srli_si128(h0, 8), h1, _mm_srli_si128(h1, 8)};
        for (int k = 0; k < 4; k++) /* d * grid[q], in ggml's operand order */
            _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k]))));
    }
}

/* ---- iq4_nl quantizers ----
 * The grid search and the products are lane-parallel; ggml's two weighted
 * sums stay sequential in element order (scalar adds of the SIMD products),
 * so every pass gives the scalar sums bit for bit. */

/* ggml's best_index_int8 on 8 lanes: ml = the interval [v[ml], v[ml+1])
 * holding x, found by counting grid values <= x (what the bisection finds),
 * then the nearer end with an exact midpoint going up; x <= v[0] gives 0,
 * x >= v[15] and NaN (which fails every test of the bisection) give 15. */
static inline __m256i grid_index8(__m256 x, const __m256 *gv, __m256 glo, __m256 ghi)
{
    __m256i ml = _mm256_setzero_si256();
    for (int k = 1; k < 15; k++)
        ml = _mm256_sub_epi32(ml, _mm256_castps_si256(_mm256_cmp_ps(x, gv[k], _CMP_GE_OQ)));
    __m256i mu = _mm256_add_epi32(ml, _mm256_set1_epi32(1));
    __m256 vlo = _mm256_blendv_ps(_mm256_permutevar8x32_ps(glo, ml), _mm256_permutevar8x32_ps(ghi, ml),
                                  _mm256_castsi256_ps(_mm256_slli_epi32(ml, 28)));
    __m256 vhi = _mm256_blendv_ps(_mm256_permutevar8x32_ps(glo, mu), _mm256_permutevar8x32_ps(ghi, mu),
                                  _mm256_castsi256_ps(_mm256_slli_epi32(mu, 28)));
    __m256 lower = _mm256_cmp_ps(_mm256_sub_ps(x, vlo), _mm256_sub_ps(vhi, x), _CMP_LT_OQ);
    __m256i r = _mm256_add_epi32(ml, _mm256_castps_si256(_mm256_andnot_ps(lower, _mm256_castsi256_ps(_mm256_set1_epi32(1)))));
    __m256 top = _mm256_or_ps(_mm256_cmp_ps(x, gv[15], _CMP_GE_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    r = _mm256_blendv_epi8(r, _mm256_set1_epi32(15), _mm256_castps_si256(top));
    return _mm256_andnot_si256(_mm256_castps_si256(_mm256_cmp_ps(x, gv[0], _CMP_LE_OQ)), r);
}

typedef struct {
    __m256 gv[16];    /* each grid value broadcast */
    __m256 glo, ghi;  /* the grid as floats, entries 0..7 and 8..15 */
} iq4nl_grid;

static iq4nl_grid iq4nl_grid_load(void)
{
    iq4nl_grid g;
    float v[16];
    for (int k = 0; k < 16; k++) {
        v[k] = (float)cpu_iq4nl_grid[k];
        g.gv[k] = _mm256_set1_ps(v[k]);
    }
    g.glo = _mm256_loadu_ps(v);
    g.ghi = _mm256_loadu_ps(v + 8);
    return g;
}

/* indices of id*x[j] for the block */
static inline void iq4nl_indices(const iq4nl_grid *g, const __m256 *v, float id, __m256i *L)
{
    const __m256 idv = _mm256_set1_ps(id);
    for (int k = 0; k < 4; k++)
        L[k] = grid_index8(_mm256_mul_ps(idv, v[k]), g->gv, g->glo, g->ghi);
}

/* one pass of the weighted fit: indices for id (into L when not NULL), and
 * sumqx = sum (x^2*q)*x, sumq2 = sum (x^2*q)*q added in element order */
static void iq4nl_fit(const iq4nl_grid *g, const __m256 *v, float id, __m256i *L, float *sumqx, float *sumq2)
{
    __m256i l[4];
    float pqx[32], pq2[32];
    iq4nl_indices(g, v, id, l);
    for (int k = 0; k < 4; k++) {
        __m256 q = _mm256_blendv_ps(_mm256_permutevar8x32_ps(g->glo, l[k]), _mm256_permutevar8x32_ps(g->ghi, l[k]),
                                    _mm256_castsi256_ps(_mm256_slli_epi32(l[k], 28)));
        __m256 wq = _mm256_mul_ps(_mm256_mul_ps(v[k], v[k]), q);
        _mm256_storeu_ps(pqx + 8 * k, _mm256_mul_ps(wq, v[k]));
        _mm256_storeu_ps(pq2 + 8 * k, _mm256_mul_ps(wq, q));
        if (L)
            L[k] = l[k];
    }
    float sqx = 0.0f, sq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        sqx += pqx[j];
        sq2 += pq2[j];
    }
    *sumqx = sqx;
    *sumq2 = sq2;
}

/* the control flow of quant_ggml.c's iq4nl_block, with the passes above */
static void iq4nl_block(const iq4nl_grid *g, const float *x, uint8_t *b, int search)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), m); /* NaN lanes keep m, as `ax > amax` skips them */
    }
    float amax = hmax8(m), max = 0.0f;
    if (amax > 0.0f) { /* the first element of largest magnitude */
        const __m256 mv = _mm256_set1_ps(amax);
        uint32_t eq = 0;
        for (int k = 0; k < 4; k++)
            eq |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v[k]), mv, _CMP_EQ_OQ)) << (8 * k);
        max = x[__builtin_ctz(eq)];
    }
    __m256i L[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    float d = 0.0f;
    if (amax >= 1e-15f) {
        const float v0 = (float)cpu_iq4nl_grid[0];
        float sumqx, sumq2;
        d = search ? -max / v0 : max / v0;
        iq4nl_fit(g, v, 1.0f / d, L, &sumqx, &sumq2);
        d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
        if (search) {
            float best = d * sumqx;
            for (int itry = -search; itry <= search; itry++) {
                iq4nl_fit(g, v, ((float)itry + v0) / max, NULL, &sumqx, &sumq2);
                if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
        }
    }
    if (search) /* re-index with the chosen scale (also when it is 0) */
        iq4nl_indices(g, v, d != 0.0f ? 1.0f / d : 0.0f, L);
    ggml_put_f16(b, scale_f16(d));
    store_nibbles(b + 2, L[0], L[1], L[2], L[3]);
}

static void quantize_iq4_nl(const float *x, void *dst, int n)
{
    const iq4nl_grid g = iq4nl_grid_load();
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        iq4nl_block(&g, x + 32 * i, b + IQ4_NL_BYTES * i, 0);
}

static void quantize_iq4_nl_search(const float *x, void *dst, int n)
{
    const iq4nl_grid g = iq4nl_grid_load();
    uint8_t *b = dst;
    for (int i = 0; i < n / 32; i++)
        iq4nl_block(&g, x + 32 * i, b + IQ4_NL_BYTES * i, 7);
}

const cpu_type_fns cpu_ggml_avx2[KVV_TYPE_COUNT] = {
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
