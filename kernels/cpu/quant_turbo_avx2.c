/* AVX2 TurboQuant kernels, bit-identical to quant_turbo.c.
 *
 * The forks sum ||x||^2 and ||C[idx]||^2 in element order: a chain of
 * dependent adds that SIMD cannot shorten without changing the rounding.
 * So the quantizer does not vectorize within a group: it takes 8 rotation
 * groups at once (from one row or several) and puts group k in lane k,
 * vector j holding element j of every group.  Each lane then runs exactly the
 * scalar sequence of operations (sums in element order, the same butterfly
 * pairs, the same roundings) while 8 groups advance together, and every
 * butterfly is a plain vertical add/sub.  One transpose brings the input in,
 * one takes the packed index words out. */
#include <immintrin.h>
#include <math.h>

#include "kernels/cpu/block_bytes.h"
#include "kernels/cpu/turbo_formats.h"

#define BATCH 8
#define AI static inline __attribute__((always_inline))

/* ---- shared pieces ---- */

AI void transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k += 4) {
        s[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        s[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
        s[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        s[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
    }
    #pragma GCC unroll 16
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    }
}

/* number of midpoints m with u >= m (a NaN lane counts none) */
AI __m256i midpoint_count(__m256 u, const float *m, int nm)
{
    __m256i k = _mm256_setzero_si256();
    #pragma GCC unroll 16
    for (int i = 0; i < nm; i++)
        k = _mm256_sub_epi32(k, _mm256_castps_si256(_mm256_cmp_ps(u, _mm256_set1_ps(m[i]), _CMP_GE_OQ)));
    return k;
}

/* table[idx] for up to 16 entries (lo = entries 0..7, hi = 8..15) */
AI __m256 lookup16(__m256 lo, __m256 hi, __m256i idx, int levels)
{
    if (levels <= 8)
        return _mm256_permutevar8x32_ps(lo, idx);
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx),
                            _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

typedef struct {
    __m256 c_lo, c_hi;   /* centroids */
    __m256 sq_lo, sq_hi; /* centroids squared, rounded to f32 as the scalar c*c is */
} turbo_luts;

/* The centroids straight into registers, zero past the type's levels (the
 * dequantizer calls this for every row, where going through a stack array
 * cost a fifth of a decode's dequantization); c * c is the scalar's f32
 * product lane by lane. */
static turbo_luts luts_for(const turbo_fmt *f)
{
    const __m256i first = _mm256_cmpgt_epi32(_mm256_set1_epi32(f->levels), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 lo = _mm256_maskload_ps(f->c, first);
    const __m256 hi = f->levels > 8 ? _mm256_loadu_ps(f->c + 8) : _mm256_setzero_ps();
    turbo_luts l = {lo, hi, _mm256_mul_ps(lo, lo), _mm256_mul_ps(hi, hi)};
    return l;
}

/* ---- the butterfly across vectors ---- */

/* (a, b) -> (a+b, a-b) */
#define BFLY(a, b)                                                                                                 \
    do {                                                                                                           \
        __m256 a_ = (a), b_ = (b);                                                                                 \
        (a) = _mm256_add_ps(a_, b_);                                                                               \
        (b) = _mm256_sub_ps(a_, b_);                                                                               \
    } while (0)

/* three stages in registers on the 8 vectors r[m] = element base + m*h0:
 * h0 pairs (m, m+1), 2*h0 pairs (m, m+2), 4*h0 pairs (m, m+4) */
AI void stages3_regs(__m256 r[8])
{
    BFLY(r[0], r[1]);
    BFLY(r[2], r[3]);
    BFLY(r[4], r[5]);
    BFLY(r[6], r[7]);
    BFLY(r[0], r[2]);
    BFLY(r[1], r[3]);
    BFLY(r[4], r[6]);
    BFLY(r[5], r[7]);
    BFLY(r[0], r[4]);
    BFLY(r[1], r[5]);
    BFLY(r[2], r[6]);
    BFLY(r[3], r[7]);
}

/* stages h0, 2*h0, 4*h0 over g vectors (8*h0 <= g) */
AI void stages3(__m256 *u, int h0, int g)
{
    for (int c = 0; c < g; c += 8 * h0)
        for (int b = 0; b < h0; b++) {
            __m256 r[8];
            #pragma GCC unroll 16
            for (int m = 0; m < 8; m++)
                r[m] = u[c + b + m * h0];
            stages3_regs(r);
            #pragma GCC unroll 16
            for (int m = 0; m < 8; m++)
                u[c + b + m * h0] = r[m];
        }
}

AI void stage1(__m256 *u, int h, int g)
{
    for (int i = 0; i < g; i += 2 * h)
        for (int j = i; j < i + h; j++)
            BFLY(u[j], u[j + h]);
}

/* ---- packing index words out of lane form ---- */

/* w[0..7] hold words per lane (lane k = group k); out[k][i] = word i of group k */
AI void words_by_group(__m256i w[8], uint32_t out[8][8])
{
    __m256 r[8];
    #pragma GCC unroll 16
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_castsi256_ps(w[i]);
    transpose8(r);
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k++)
        _mm256_storeu_ps((float *)out[k], r[k]);
}

/* bits `bits` wide per element, packed little-endian into 32-bit words:
 * word i of each lane covers elements i*32/bits ... (after masking with mask
 * and shifting right by shift) */
AI void pack_words(const __m256i *idx, int g, int bits, int mask, int shift, uint32_t out[][8][8])
{
    if (g > 128)
        __builtin_unreachable(); /* groups are at most 128 (lets the compiler bound idx) */
    const int per = 32 / bits, nw = g / per;
    const __m256i mk = _mm256_set1_epi32(mask);
    for (int w0 = 0; w0 < nw; w0 += 8) {
        __m256i w[8];
        #pragma GCC unroll 16
        for (int i = 0; i < 8; i++) {
            w[i] = _mm256_setzero_si256();
            if (w0 + i >= nw)
                continue;
            const __m256i *p = idx + (w0 + i) * per;
            #pragma GCC unroll 16
            for (int t = 0; t < per; t++) {
                __m256i v = shift ? _mm256_srli_epi32(p[t], shift) : p[t];
                w[i] = _mm256_or_si256(w[i], _mm256_slli_epi32(_mm256_and_si256(v, mk), bits * t));
            }
        }
        words_by_group(w, out[w0 / 8]);
    }
}

/* ---- quantize: 8 groups side by side ---- */

/* Quantize nb (1..8) consecutive groups of g values from x into dst.  The
 * arguments levels and pack are compile-time constants at each call site. */
AI void quantize_batch(const turbo_fmt *f, int levels, turbo_pack pack, const turbo_luts *l, const float *x,
                       uint8_t *dst, int nb, int g)
{
    if (g > 128 || g < 8)
        __builtin_unreachable(); /* turbo groups are 32..128 values */
    __m256 u[128];
    __m256i idx[128];
    const __m256 zero = _mm256_setzero_ps(), eps = _mm256_set1_ps(TURBO_NORM_EPS);

    /* in: transpose 8x8 tiles; ||x||^2 of each lane in element order */
    __m256 ss = zero;
    for (int j0 = 0; j0 < g; j0 += 8) {
        __m256 r[8];
        #pragma GCC unroll 16
        for (int k = 0; k < 8; k++) /* spare lanes repeat group 0 */
            r[k] = _mm256_loadu_ps(x + (k < nb ? k : 0) * g + j0);
        transpose8(r);
        #pragma GCC unroll 16
        for (int t = 0; t < 8; t++) {
            ss = _mm256_add_ps(ss, _mm256_mul_ps(r[t], r[t]));
            u[j0 + t] = r[t];
        }
    }
    const __m256 n = _mm256_sqrt_ps(ss);
    const __m256 inv = _mm256_blendv_ps(zero, _mm256_div_ps(_mm256_set1_ps(1.0f), n), _mm256_cmp_ps(n, eps, _CMP_GT_OQ));

    /* u = (x * inv) * S1, then the butterfly */
#ifdef KVV_FAULT_missing_rotation
    for (int j = 0; j < g; j++)
        u[j] = _mm256_mul_ps(u[j], inv);
    if (0)
#endif
    for (int j0 = 0; j0 < g; j0 += 8) {
        __m256 r[8];
        #pragma GCC unroll 16
        for (int t = 0; t < 8; t++)
            r[t] = _mm256_mul_ps(_mm256_mul_ps(u[j0 + t], inv), _mm256_set1_ps(cpu_wht_s1[j0 + t]));
        stages3_regs(r); /* h = 1, 2, 4 */
        #pragma GCC unroll 16
        for (int t = 0; t < 8; t++)
            u[j0 + t] = r[t];
    }
#ifndef KVV_FAULT_missing_rotation
    if (g >= 64)
        stages3(u, 8, g); /* h = 8, 16, 32 */
    else
        for (int h = 8; h < g; h *= 2)
            stage1(u, h, g);
    if (g == 128)
        stage1(u, 64, g);
#endif

    /* u *= S2/sqrt(g); indices; ||C[idx]||^2 in element order */
    const float s = cpu_inv_sqrt_pow2[__builtin_ctz((unsigned)g)];
    __m256 rs = zero;
    for (int j = 0; j < g; j++) {
#ifndef KVV_FAULT_missing_rotation
        __m256 v = _mm256_mul_ps(u[j], _mm256_set1_ps(s * cpu_wht_s2[j]));
#else
        __m256 v = u[j];
        (void)s;
#endif
        idx[j] = midpoint_count(v, f->m, levels - 1);
        rs = _mm256_add_ps(rs, lookup16(l->sq_lo, l->sq_hi, idx[j], levels));
    }
    const __m256 r = _mm256_sqrt_ps(rs);
    float normf[8];
    uint16_t norm[8];
    _mm256_storeu_ps(normf, _mm256_blendv_ps(n, _mm256_div_ps(n, r), _mm256_cmp_ps(r, eps, _CMP_GT_OQ)));
    cpu_f32_to_f16_row_avx2(normf, norm, 8);

    /* out: index words per group, then the blocks */
    uint32_t qw[2][8][8], sw[1][8][8];
    if (pack == TURBO_PACK_NIBBLE)
        pack_words(idx, g, 4, 15, 0, qw);
    else
        pack_words(idx, g, 2, 3, 0, qw);
    if (pack == TURBO_PACK_2BIT_SIGN)
        pack_words(idx, g, 1, 1, 2, sw);
    const int qs_bytes = f->block * (pack == TURBO_PACK_NIBBLE ? 4 : 2) / 8;
    for (int k = 0; k < nb; k++) {
        uint8_t *b = dst + (int64_t)k * (g / f->block) * f->bytes;
        for (int j = 0; j < g; j += f->block, b += f->bytes) {
            ggml_put_f16(b, norm[k]);
            if (f->qs == 4) /* turbo4: rnorm is unused and 0 */
                ggml_put_f16(b + 2, 0);
            int qoff = j * (pack == TURBO_PACK_NIBBLE ? 4 : 2) / 8; /* byte offset of element j's bits */
            /* little-endian words straight into the block (x86) */
            for (int i = 0; i < qs_bytes; i += 4)
                memcpy(b + f->qs + i, &qw[(qoff + i) / 32][k][((qoff + i) / 4) % 8], 4);
            if (pack == TURBO_PACK_2BIT_SIGN)
                for (int i = 0; i < f->block / 8; i += 4)
#ifndef KVV_FAULT_pack_overwrite
                    memcpy(b + f->qs + qs_bytes + i, &sw[0][k][(j / 8 + i) / 4], 4);
#else
                    memcpy(b + f->qs + qs_bytes - 1 + i, &sw[0][k][(j / 8 + i) / 4], 4);
#endif
        }
    }
}

AI void quantize_groups(const turbo_fmt *f, int levels, turbo_pack pack, const float *x, uint8_t *dst,
                        int64_t ngroups, int g)
{
    const turbo_luts l = luts_for(f);
    const int64_t group_bytes = (int64_t)(g / f->block) * f->bytes;
    for (int64_t g0 = 0; g0 < ngroups; g0 += BATCH) {
        int nb = ngroups - g0 < BATCH ? (int)(ngroups - g0) : BATCH;
        quantize_batch(f, levels, pack, &l, x + g0 * g, dst + g0 * group_bytes, nb, g);
    }
}

/* ---- dequantize ---- */

/* the 8 indices of elements j..j+7 of a block */
static inline __m256i indices8(const turbo_fmt *f, const uint8_t *blk, int j)
{
    const uint8_t *qs = blk + f->qs;
    if (f->pack == TURBO_PACK_NIBBLE) {
        __m256i w = _mm256_set1_epi32((int)ggml_get_u32(qs + j / 2));
        return _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                                _mm256_set1_epi32(15));
    }
    __m256i w = _mm256_set1_epi32(qs[j / 4] | qs[j / 4 + 1] << 8);
    __m256i k = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                                 _mm256_set1_epi32(3));
    if (f->pack == TURBO_PACK_2BIT_SIGN) {
        __m256i s = _mm256_set1_epi32(qs[f->block / 4 + j / 8]);
        s = _mm256_and_si256(_mm256_srlv_epi32(s, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), _mm256_set1_epi32(1));
        k = _mm256_or_si256(k, _mm256_slli_epi32(s, 2));
    }
    return k;
}

static void turbo_dequantize(const turbo_fmt *f, const uint8_t *src, float *y, int ncols)
{
    const turbo_luts l = luts_for(f);
    for (int b = 0; b < ncols; b += f->block, src += f->bytes, y += f->block) {
        const __m256 norm = _mm256_set1_ps(_cvtsh_ss(ggml_get_f16(src)));
        for (int j = 0; j < f->block; j += 8)
            _mm256_storeu_ps(y + j, _mm256_mul_ps(lookup16(l.c_lo, l.c_hi, indices8(f, src, j), f->levels), norm));
    }
}

/* turbo3 through the 4-magnitude LUT: mag[q ^ (s ? 0 : 3)] * norm, times +-1
 * (a multiplication, so a NaN norm keeps the 8-entry LUT's bits) */
static void turbo3_dequantize_lut4(const turbo_fmt *f, const uint8_t *src, float *y, int ncols)
{
    const __m256 mag = _mm256_setr_ps(cpu_turbo3_c[4], cpu_turbo3_c[5], cpu_turbo3_c[6], cpu_turbo3_c[7], 0, 0, 0, 0);
    const __m256 sign = _mm256_setr_ps(-1.0f, 1.0f, 0, 0, 0, 0, 0, 0);
    const __m256i one = _mm256_set1_epi32(1), three = _mm256_set1_epi32(3);
#ifndef KVV_FAULT_lut4_qk128_stride
    for (int b = 0; b < ncols; b += f->block, src += f->bytes, y += f->block) {
#else
    /* mutant: the block stride of the 32-value layout (14 bytes) hard-coded:
     * turbo3@qk128 (50-byte blocks) goes wrong from its second block */
    for (int b = 0; b < ncols; b += f->block, src += 14, y += f->block) {
#endif
        const __m256 norm = _mm256_set1_ps(_cvtsh_ss(ggml_get_f16(src)));
        for (int j = 0; j < f->block; j += 8) {
            __m256i k = indices8(f, src, j);
            __m256i q = _mm256_and_si256(k, three), s = _mm256_srli_epi32(k, 2);
            __m256i t = _mm256_xor_si256(s, one); /* 1 where the sign bit is clear */
#ifndef KVV_FAULT_lut4_mismatch
            __m256i flip = _mm256_or_si256(t, _mm256_slli_epi32(t, 1));
#else
            __m256i flip = _mm256_setzero_si256();
            (void)t;
#endif
            __m256 v = _mm256_mul_ps(_mm256_permutevar8x32_ps(mag, _mm256_xor_si256(q, flip)), norm);
            _mm256_storeu_ps(y + j, _mm256_mul_ps(v, _mm256_permutevar8x32_ps(sign, s)));
        }
    }
}

/* ---- turbo4@qjl (one block = one group of 128) ---- */

#define QJL_BYTES 68
#define QJL_QS 4
#define QJL_SIGNS 52

static void qjl_quantize_block(const float *x, uint8_t *b)
{
    float u[128], res[128];
    int32_t idx[128];
    float ss = 0.0f;
    for (int j = 0; j < 128; j++)
        ss += x[j] * x[j];
    float n = sqrtf(ss);
    const __m256 iv = _mm256_set1_ps(n > TURBO_NORM_EPS ? 1.0f / n : 0.0f);
    for (int j = 0; j < 128; j += 8)
        _mm256_storeu_ps(u + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), iv));
#ifndef KVV_FAULT_missing_rotation
    cpu_wht_group_avx2(u, 128, cpu_wht_s1, cpu_wht_s2);
#endif
    const __m256 c3 = _mm256_loadu_ps(cpu_turbo3_c);
    for (int j = 0; j < 128; j += 8) {
        __m256 uv = _mm256_loadu_ps(u + j);
        __m256i k = midpoint_count(uv, cpu_turbo3_m, 7);
        _mm256_storeu_si256((__m256i *)(idx + j), k);
        _mm256_storeu_ps(res + j, _mm256_sub_ps(uv, _mm256_permutevar8x32_ps(c3, k)));
    }
    float rs = 0.0f;
    for (int j = 0; j < 128; j++)
        rs += res[j] * res[j];
    ggml_put_f16(b, cpu_f32_to_f16(n));
    ggml_put_f16(b + 2, cpu_f32_to_f16(sqrtf(rs)));
    for (int j = 0; j < 128; j += 8) { /* 8 indices = 24 bits = 3 bytes of the stream */
        uint32_t w = 0;
        for (int t = 0; t < 8; t++)
            w |= (uint32_t)idx[j + t] << (3 * t);
        b[QJL_QS + 3 * j / 8] = (uint8_t)w;
        b[QJL_QS + 3 * j / 8 + 1] = (uint8_t)(w >> 8);
        b[QJL_QS + 3 * j / 8 + 2] = (uint8_t)(w >> 16);
    }
    cpu_wht_group_avx2(res, 128, cpu_qjl_s1, cpu_qjl_s2);
    const __m256 zero = _mm256_setzero_ps();
    for (int j = 0; j < 128; j += 8)
        b[QJL_SIGNS + j / 8] = (uint8_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(res + j), zero, _CMP_GE_OQ));
}

static void qjl_dequantize_block(const uint8_t *b, float *y)
{
    float q[128];
    const __m256i bitsel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256 plus = _mm256_set1_ps(1.0f), minus = _mm256_set1_ps(-1.0f);
    for (int j = 0; j < 128; j += 8) {
        __m256i s = _mm256_and_si256(_mm256_set1_epi32(b[QJL_SIGNS + j / 8]), bitsel);
        __m256 set = _mm256_castsi256_ps(_mm256_cmpeq_epi32(s, bitsel));
        _mm256_storeu_ps(q + j, _mm256_blendv_ps(minus, plus, set));
    }
    cpu_wht_group_avx2(q, 128, cpu_qjl_s2, cpu_qjl_s1);
    const __m256 fac = _mm256_set1_ps(TURBO_QJL_SCALE * _cvtsh_ss(ggml_get_f16(b + 2)));
    const __m256 norm = _mm256_set1_ps(_cvtsh_ss(ggml_get_f16(b)));
    const __m256 c3 = _mm256_loadu_ps(cpu_turbo3_c);
    const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    for (int j = 0; j < 128; j += 8) {
        const uint8_t *p = b + QJL_QS + 3 * j / 8;
        __m256i w = _mm256_set1_epi32(p[0] | p[1] << 8 | p[2] << 16);
        __m256i k = _mm256_and_si256(_mm256_srlv_epi32(w, shifts), _mm256_set1_epi32(7));
        __m256 v = _mm256_add_ps(_mm256_permutevar8x32_ps(c3, k), _mm256_mul_ps(_mm256_loadu_ps(q + j), fac));
        _mm256_storeu_ps(y + j, _mm256_mul_ps(v, norm));
    }
}

/* ---- the rows ---- */

/* levels and pack repeat the format table as constants, so that each type
 * gets its own specialized batch code */
#define TURBO_ROW_FNS(name, type, levels, pack)                                                                    \
    static void quantize_##name(const float *x, void *dst, int n)                                                  \
    {                                                                                                              \
        int g = cpu_rot_group(n);                                                                                  \
        quantize_groups(turbo_fmt_get(type), levels, pack, x, dst, n / g, g);                                      \
    }                                                                                                              \
    static void quantize_rows_##name(const float *x, void *dst, int64_t nrows, int n)                              \
    {                                                                                                              \
        int g = cpu_rot_group(n);                                                                                  \
        quantize_groups(turbo_fmt_get(type), levels, pack, x, dst, nrows * (n / g), g);                            \
    }                                                                                                              \
    static void dequantize_##name(const void *src, float *y, int n, int lut)                                        \
    {                                                                                                              \
        if (lut == 4 && levels == 8)                                                                               \
            turbo3_dequantize_lut4(turbo_fmt_get(type), src, y, n);                                                \
        else                                                                                                       \
            turbo_dequantize(turbo_fmt_get(type), src, y, n);                                                      \
    }
TURBO_ROW_FNS(turbo2, KVV_TURBO2, 4, TURBO_PACK_2BIT)
TURBO_ROW_FNS(turbo2_qk128, KVV_TURBO2_QK128, 4, TURBO_PACK_2BIT)
TURBO_ROW_FNS(turbo3, KVV_TURBO3, 8, TURBO_PACK_2BIT_SIGN)
TURBO_ROW_FNS(turbo3_qk128, KVV_TURBO3_QK128, 8, TURBO_PACK_2BIT_SIGN)
TURBO_ROW_FNS(turbo4, KVV_TURBO4, 16, TURBO_PACK_NIBBLE)
TURBO_ROW_FNS(turbo4_narrow, KVV_TURBO4_NARROW, 16, TURBO_PACK_NIBBLE)

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

const cpu_type_fns cpu_turbo_avx2[KVV_TYPE_COUNT] = {
    [KVV_TURBO2] = {quantize_turbo2, dequantize_turbo2},
    [KVV_TURBO2_QK128] = {quantize_turbo2_qk128, dequantize_turbo2_qk128},
    [KVV_TURBO3] = {quantize_turbo3, dequantize_turbo3},
    [KVV_TURBO3_QK128] = {quantize_turbo3_qk128, dequantize_turbo3_qk128},
    [KVV_TURBO4] = {quantize_turbo4, dequantize_turbo4},
    [KVV_TURBO4_QJL] = {quantize_turbo4_qjl, dequantize_turbo4_qjl},
    [KVV_TURBO4_NARROW] = {quantize_turbo4_narrow, dequantize_turbo4_narrow},
};

/* Whole rows at once: the rotation groups of consecutive rows are
 * consecutive in memory (input and blocks), so batches span rows. */
const cpu_quantize_rows_fn cpu_turbo_rows_avx2[KVV_TYPE_COUNT] = {
    [KVV_TURBO2] = quantize_rows_turbo2,
    [KVV_TURBO2_QK128] = quantize_rows_turbo2_qk128,
    [KVV_TURBO3] = quantize_rows_turbo3,
    [KVV_TURBO3_QK128] = quantize_rows_turbo3_qk128,
    [KVV_TURBO4] = quantize_rows_turbo4,
    [KVV_TURBO4_NARROW] = quantize_rows_turbo4_narrow,
};
