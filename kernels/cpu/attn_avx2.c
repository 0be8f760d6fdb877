/* AVX2/FMA tile kernels of the CPU attention (built with -mavx2 -mfma and
 * only called after the runtime check in cpu_isa_resolve).
 *
 * Every q.k dot product, whichever kernel computes it, uses one 8-lane FMA
 * accumulator per (row, key) running over head_dim in order, then the same
 * lane reduction ((x0+x1)+(x2+x3))+((x4+x5)+(x6+x7)).  Every element of
 * o = sum p*v is one FMA chain over the keys in list order.  So the kernels
 * differ only in how loads are shared, never in rounding, and a row's result
 * does not depend on which other rows were processed with it. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/attn_kern.h"

/* exp(x) for the x <= 0 of a softmax: range reduction by ln 2 (two-part
 * constant, Cody-Waite), degree-7 Taylor polynomial on |r| <= ln2/2 (error
 * about 5e-9 relative), 2^n built in the exponent field.  Below -87 the
 * result is 0 (the true value is under 1.7e-38).  NaN stays NaN: max/min
 * return their second operand when it is NaN. */
static inline __m256 exp256(__m256 x)
{
    /* ln(FLT_MIN): results below the smallest normal flush to zero (the
     * oracle allows that much), results above it are computed */
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    __m256 xc = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(lo, x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}

/* ---- lane reductions, all in the order ((0+1)+(2+3))+((4+5)+(6+7)) ---- */
static inline float hsum1(__m256 a)
{
    __m256 h = _mm256_hadd_ps(a, a);
    h = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

static inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 g = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(g), _mm256_extractf128_ps(g, 1));
}

static inline __m256 hsum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6,
                           __m256 a7)
{
    __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 g2 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(g1, g2, 0x20), _mm256_permute2f128_ps(g1, g2, 0x31));
}

/* ---- dot products: rows x keys, one accumulator each ---- */
#define LD(p) _mm256_loadu_ps(p)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)

static void dot1x8(const float *q, const float *k, const int *idx, int dk8, float *s)
{
    const float *k0 = k + (size_t)idx[0] * dk8, *k1 = k + (size_t)idx[1] * dk8;
    const float *k2 = k + (size_t)idx[2] * dk8, *k3 = k + (size_t)idx[3] * dk8;
    const float *k4 = k + (size_t)idx[4] * dk8, *k5 = k + (size_t)idx[5] * dk8;
    const float *k6 = k + (size_t)idx[6] * dk8, *k7 = k + (size_t)idx[7] * dk8;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int c = 0; c < dk8; c += 8) {
        __m256 qv = LD(q + c);
        a0 = FMA(qv, LD(k0 + c), a0);
        a1 = FMA(qv, LD(k1 + c), a1);
        a2 = FMA(qv, LD(k2 + c), a2);
        a3 = FMA(qv, LD(k3 + c), a3);
        a4 = FMA(qv, LD(k4 + c), a4);
        a5 = FMA(qv, LD(k5 + c), a5);
        a6 = FMA(qv, LD(k6 + c), a6);
        a7 = FMA(qv, LD(k7 + c), a7);
    }
    _mm256_storeu_ps(s, hsum8(a0, a1, a2, a3, a4, a5, a6, a7));
}

static void dot1x4(const float *q, const float *k, const int *idx, int dk8, float *s)
{
    const float *k0 = k + (size_t)idx[0] * dk8, *k1 = k + (size_t)idx[1] * dk8;
    const float *k2 = k + (size_t)idx[2] * dk8, *k3 = k + (size_t)idx[3] * dk8;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < dk8; c += 8) {
        __m256 qv = LD(q + c);
        a0 = FMA(qv, LD(k0 + c), a0);
        a1 = FMA(qv, LD(k1 + c), a1);
        a2 = FMA(qv, LD(k2 + c), a2);
        a3 = FMA(qv, LD(k3 + c), a3);
    }
    _mm_storeu_ps(s, hsum4(a0, a1, a2, a3));
}

static float dot1x1(const float *q, const float *k, int dk8)
{
    __m256 a = _mm256_setzero_ps();
    for (int c = 0; c < dk8; c += 8)
        a = FMA(LD(q + c), LD(k + c), a);
    return hsum1(a);
}

/* four rows against two keys: lanes r0k0 r1k0 r2k0 r3k0 r0k1 r1k1 r2k1 r3k1 */
static __m256 dot4x2(const float *const *q, const float *k0, const float *k1, int dk8)
{
    __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00;
    __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;
    const float *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];
    for (int c = 0; c < dk8; c += 8) {
        __m256 x0 = LD(k0 + c), x1 = LD(k1 + c);
        __m256 y = LD(q0 + c);
        a00 = FMA(y, x0, a00);
        a01 = FMA(y, x1, a01);
        y = LD(q1 + c);
        a10 = FMA(y, x0, a10);
        a11 = FMA(y, x1, a11);
        y = LD(q2 + c);
        a20 = FMA(y, x0, a20);
        a21 = FMA(y, x1, a21);
        y = LD(q3 + c);
        a30 = FMA(y, x0, a30);
        a31 = FMA(y, x1, a31);
    }
    return hsum8(a00, a10, a20, a30, a01, a11, a21, a31);
}

static __m128 dot4x1(const float *const *q, const float *k0, int dk8)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < dk8; c += 8) {
        __m256 x = LD(k0 + c);
        a0 = FMA(LD(q[0] + c), x, a0);
        a1 = FMA(LD(q[1] + c), x, a1);
        a2 = FMA(LD(q[2] + c), x, a2);
        a3 = FMA(LD(q[3] + c), x, a3);
    }
    return hsum4(a0, a1, a2, a3);
}

/* ---- which keys a row sees ---- */

/* Bit j set when key j of the tile is visible: its mask entry is not -inf
 * (mask NULL: every key). */
static uint64_t vis_bits(const float *mask, int nt)
{
    uint64_t all = nt == 64 ? ~(uint64_t)0 : ((uint64_t)1 << nt) - 1;
    if (!mask)
        return all;
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    uint64_t b = 0;
    int j = 0;
    for (; j + 8 <= nt; j += 8)
        b |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(LD(mask + j), ninf, _CMP_NEQ_UQ)) << j;
    for (; j < nt; j++)
        b |= (uint64_t)(mask[j] != -INFINITY) << j;
    return b;
}

/* Key positions 0..63, the list of a tile every row sees in full. */
static const int ALL_KEYS[ATTN_TILE_MAX] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

/* The keys of bits in ascending order; returns how many. */
static int bits_to_list(uint64_t b, int *idx)
{
    int n = 0;
    while (b) {
        idx[n++] = __builtin_ctzll(b);
        b &= b - 1;
    }
    return n;
}

/* ---- softmax of one row's tile ---- */

/* s[0..n): raw dots in, p = exp(logit - m) out, zero from n up to the next
 * multiple of 8 (arrays hold ATTN_TILE_MAX).  mc: the row's mask values of
 * the same keys (n of them), or NULL; a -inf entry hides its key whatever
 * the dot product was.  Fills the partial's header. */
static void softmax_row(float *s, const float *mc, int n, const attn_tile_args *t, float slope, float *part)
{
    int n8 = (n + 7) & ~7;
    for (int u = n; u < n8; u++)
        s[u] = 0;
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    const __m256 sl = _mm256_set1_ps(slope);
    /* with softcap, scale and tanh first; without, scale in the loop below */
    __m256 sc = _mm256_set1_ps(t->scale);
    if (t->softcap != 0.0f) {
        for (int u = 0; u < n; u++)
            s[u] = t->softcap * tanhf(s[u] * t->scale);
        sc = _mm256_set1_ps(1.0f);
    }
    __m256 mx = ninf;
    for (int u = 0; u < n8; u += 8) {
        __m256 x = _mm256_mul_ps(LD(s + u), sc);
        int tail = u + 8 > n;
        if (mc) {
            float tmp[8] = {0};
            if (tail)
                memcpy(tmp, mc + u, sizeof(float) * (size_t)(n - u));
            __m256 m = tail ? LD(tmp) : LD(mc + u);
            x = _mm256_blendv_ps(_mm256_add_ps(x, _mm256_mul_ps(sl, m)), ninf, _mm256_cmp_ps(m, ninf, _CMP_EQ_OQ));
        }
        if (tail) /* lanes past n take no part */
            x = _mm256_blendv_ps(x, ninf, _mm256_castsi256_ps(_mm256_cmpgt_epi32(
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(n - u - 1))));
        _mm256_storeu_ps(s + u, x);
        mx = _mm256_max_ps(x, mx); /* a NaN x leaves mx alone */
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float m = _mm_cvtss_f32(m4);
    __m256 mv = _mm256_set1_ps(m), lacc = _mm256_setzero_ps();
    for (int u = 0; u < n8; u += 8) {
        __m256 x = LD(s + u);
        /* a -inf logit weighs exactly 0, even when m is -inf too */
        __m256 p = _mm256_andnot_ps(_mm256_cmp_ps(x, ninf, _CMP_EQ_OQ), exp256(_mm256_sub_ps(x, mv)));
        _mm256_storeu_ps(s + u, p);
        lacc = _mm256_add_ps(lacc, p);
    }
    part[ATTN_HDR_M] = m;
    part[ATTN_HDR_L] = hsum1(lacc);
    part[ATTN_HDR_VIS] = 1;
}

static void mark_empty(float *part)
{
    part[ATTN_HDR_M] = -INFINITY;
    part[ATTN_HDR_L] = 0;
    part[ATTN_HDR_VIS] = 0;
}

/* ---- o = sum p * v ---- */

/* One row over its listed keys; 8 independent FMA chains per pass. */
static void pv1(const float *p, const int *idx, int n, const float *v, int dv8, float *o)
{
    int d = 0;
    for (; d + 64 <= dv8; d += 64) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int u = 0; u < n; u++) {
            const float *vr = v + (size_t)idx[u] * dv8 + d;
            __m256 pb = _mm256_broadcast_ss(p + u);
            a0 = FMA(pb, LD(vr), a0);
            a1 = FMA(pb, LD(vr + 8), a1);
            a2 = FMA(pb, LD(vr + 16), a2);
            a3 = FMA(pb, LD(vr + 24), a3);
            a4 = FMA(pb, LD(vr + 32), a4);
            a5 = FMA(pb, LD(vr + 40), a5);
            a6 = FMA(pb, LD(vr + 48), a6);
            a7 = FMA(pb, LD(vr + 56), a7);
        }
        _mm256_storeu_ps(o + d, a0);
        _mm256_storeu_ps(o + d + 8, a1);
        _mm256_storeu_ps(o + d + 16, a2);
        _mm256_storeu_ps(o + d + 24, a3);
        _mm256_storeu_ps(o + d + 32, a4);
        _mm256_storeu_ps(o + d + 40, a5);
        _mm256_storeu_ps(o + d + 48, a6);
        _mm256_storeu_ps(o + d + 56, a7);
    }
    for (; d + 16 <= dv8; d += 16) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        for (int u = 0; u < n; u++) {
            const float *vr = v + (size_t)idx[u] * dv8 + d;
            __m256 pb = _mm256_broadcast_ss(p + u);
            a0 = FMA(pb, LD(vr), a0);
            a1 = FMA(pb, LD(vr + 8), a1);
        }
        _mm256_storeu_ps(o + d, a0);
        _mm256_storeu_ps(o + d + 8, a1);
    }
    for (; d < dv8; d += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int u = 0; u < n; u++)
            a0 = FMA(_mm256_broadcast_ss(p + u), LD(v + (size_t)idx[u] * dv8 + d), a0);
        _mm256_storeu_ps(o + d, a0);
    }
}

/* ATTN_MR rows over the same keys: each V load feeds four rows. */
static void pv4(const float (*p)[ATTN_TILE_MAX], const int *idx, int n, const float *v, int dv8, float *const *o)
{
    int d = 0;
    for (; d + 16 <= dv8; d += 16) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
        __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int u = 0; u < n; u++) {
            const float *vr = v + (size_t)idx[u] * dv8 + d;
            __m256 x0 = LD(vr), x1 = LD(vr + 8);
            __m256 pb = _mm256_broadcast_ss(&p[0][u]);
            a00 = FMA(pb, x0, a00);
            a01 = FMA(pb, x1, a01);
            pb = _mm256_broadcast_ss(&p[1][u]);
            a10 = FMA(pb, x0, a10);
            a11 = FMA(pb, x1, a11);
            pb = _mm256_broadcast_ss(&p[2][u]);
            a20 = FMA(pb, x0, a20);
            a21 = FMA(pb, x1, a21);
            pb = _mm256_broadcast_ss(&p[3][u]);
            a30 = FMA(pb, x0, a30);
            a31 = FMA(pb, x1, a31);
        }
        _mm256_storeu_ps(o[0] + d, a00);
        _mm256_storeu_ps(o[0] + d + 8, a01);
        _mm256_storeu_ps(o[1] + d, a10);
        _mm256_storeu_ps(o[1] + d + 8, a11);
        _mm256_storeu_ps(o[2] + d, a20);
        _mm256_storeu_ps(o[2] + d + 8, a21);
        _mm256_storeu_ps(o[3] + d, a30);
        _mm256_storeu_ps(o[3] + d + 8, a31);
    }
    for (; d < dv8; d += 8) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int u = 0; u < n; u++) {
            __m256 x = LD(v + (size_t)idx[u] * dv8 + d);
            a0 = FMA(_mm256_broadcast_ss(&p[0][u]), x, a0);
            a1 = FMA(_mm256_broadcast_ss(&p[1][u]), x, a1);
            a2 = FMA(_mm256_broadcast_ss(&p[2][u]), x, a2);
            a3 = FMA(_mm256_broadcast_ss(&p[3][u]), x, a3);
        }
        _mm256_storeu_ps(o[0] + d, a0);
        _mm256_storeu_ps(o[1] + d, a1);
        _mm256_storeu_ps(o[2] + d, a2);
        _mm256_storeu_ps(o[3] + d, a3);
    }
}

/* Whether the listed V rows are all finite: x - x is 0 for a finite x and
 * NaN otherwise, and the NaN survives the sum. */
static int keys_finite(const float *v, const int *idx, int n, int dv8)
{
    __m256 acc = _mm256_setzero_ps();
    for (int u = 0; u < n; u++) {
        const float *vr = v + (size_t)idx[u] * dv8;
        for (int d = 0; d < dv8; d += 8) {
            __m256 x = LD(vr + d);
            acc = _mm256_add_ps(acc, _mm256_sub_ps(x, x));
        }
    }
    return hsum1(acc) == 0;
}

/* ---- the kernels ---- */

static void vec_row(const attn_tile_args *t, int r)
{
    float *part = t->part + (size_t)r * t->part_stride;
    const float *mask = t->mask[r];
    const float *q = t->q + (size_t)r * t->dk8;
    int list[ATTN_TILE_MAX];
    float s[ATTN_TILE_MAX], mc[ATTN_TILE_MAX];
    uint64_t b = vis_bits(mask, t->nt);
    int n = __builtin_popcountll(b);
    if (n == 0) {
        mark_empty(part);
        return;
    }
    /* a fully visible tile uses the key order and the mask row as they are */
    const int *idx = ALL_KEYS;
    const float *mrow = mask;
    if (n < t->nt) {
        bits_to_list(b, list);
        for (int u = 0; u < n; u++)
            mc[u] = mask[list[u]];
        idx = list;
        mrow = mc;
    }
    int u = 0;
    for (; u + 8 <= n; u += 8)
        dot1x8(q, t->k, idx + u, t->dk8, s + u);
    for (; u + 4 <= n; u += 4)
        dot1x4(q, t->k, idx + u, t->dk8, s + u);
    for (; u < n; u++)
        s[u] = dot1x1(q, t->k + (size_t)idx[u] * t->dk8, t->dk8);
    softmax_row(s, mrow, n, t, t->slope[r], part);
    pv1(s, idx, n, t->v, t->dv8, part + ATTN_HDR);
}

/* ATTN_MR rows against the union of the keys any of them sees. */
static void tiled_group(const attn_tile_args *t, int r0)
{
    enum { MR = ATTN_MR };
    const float *const *mask = t->mask + r0;
    uint64_t b[MR], un = 0;
    for (int i = 0; i < MR; i++) {
        b[i] = vis_bits(mask[i], t->nt);
        un |= b[i];
    }
    int n = __builtin_popcountll(un);
    float *o[MR];
    for (int i = 0; i < MR; i++)
        o[i] = t->part + (size_t)(r0 + i) * t->part_stride + ATTN_HDR;
    if (n == 0) {
        for (int i = 0; i < MR; i++)
            mark_empty(o[i] - ATTN_HDR);
        return;
    }
    int list[ATTN_TILE_MAX];
    float s[MR][ATTN_TILE_MAX], mc[MR][ATTN_TILE_MAX];
    const int *idx = ALL_KEYS;
    const float *mrow[MR] = {mask[0], mask[1], mask[2], mask[3]};
    if (n < t->nt) {
        bits_to_list(un, list);
        idx = list;
        if (mask[0])
            for (int i = 0; i < MR; i++) {
                for (int u = 0; u < n; u++)
                    mc[i][u] = mask[i][list[u]];
                mrow[i] = mc[i];
            }
    }
    const float *q[MR];
    for (int i = 0; i < MR; i++)
        q[i] = t->q + (size_t)(r0 + i) * t->dk8;
    int u = 0;
    for (; u + 2 <= n; u += 2) {
        float tmp[8];
        _mm256_storeu_ps(tmp, dot4x2(q, t->k + (size_t)idx[u] * t->dk8, t->k + (size_t)idx[u + 1] * t->dk8, t->dk8));
        for (int i = 0; i < MR; i++) {
            s[i][u] = tmp[i];
            s[i][u + 1] = tmp[4 + i];
        }
    }
    if (u < n) {
        float tmp[4];
        _mm_storeu_ps(tmp, dot4x1(q, t->k + (size_t)idx[u] * t->dk8, t->dk8));
        for (int i = 0; i < MR; i++)
            s[i][u] = tmp[i];
    }
    int uniform = 1;
    for (int i = 0; i < MR; i++) {
        if (b[i] == 0) {
            mark_empty(o[i] - ATTN_HDR);
            memset(s[i], 0, sizeof(float) * (size_t)n);
            continue;
        }
        uniform &= b[i] == un;
        softmax_row(s[i], mrow[i], n, t, t->slope[r0 + i], o[i] - ATTN_HDR);
    }
    /* A key one row cannot see has p = 0 there; 0 * v is only harmless when
     * v is finite, so otherwise each row sums over its own keys. */
    if (uniform || keys_finite(t->v, idx, n, t->dv8)) {
        pv4((const float(*)[ATTN_TILE_MAX])s, idx, n, t->v, t->dv8, o);
        return;
    }
    for (int i = 0; i < MR; i++) {
        if (b[i] == 0)
            continue;
        int own[ATTN_TILE_MAX];
        float p[ATTN_TILE_MAX];
        int k = 0;
        for (int w = 0; w < n; w++) {
            own[k] = idx[w];
            p[k] = s[i][w];
            k += (int)((b[i] >> idx[w]) & 1);
        }
        pv1(p, own, k, t->v, t->dv8, o[i]);
    }
}

/* Rows in groups of ATTN_MR (a GQA group of decode rows shares each K/V
 * load the same way a block of prefill rows does), the rest one by one. */
static void rows_tile(const attn_tile_args *t)
{
    int r = 0;
    for (; r + ATTN_MR <= t->nr; r += ATTN_MR)
        tiled_group(t, r);
    for (; r < t->nr; r++)
        vec_row(t, r);
}

static void merge(float *st, const float *pt, int dv8)
{
    float a, b;
    if (attn_merge_header(st, pt, dv8, &a, &b) != 2)
        return;
    float *O = st + ATTN_HDR;
    const float *o = pt + ATTN_HDR;
    __m256 av = _mm256_set1_ps(a), bv = _mm256_set1_ps(b);
    for (int d = 0; d < dv8; d += 8)
        _mm256_storeu_ps(O + d, FMA(LD(O + d), av, _mm256_mul_ps(LD(o + d), bv)));
}

static const attn_kernels kernels = {rows_tile, merge};

const attn_kernels *attn_kernels_avx2(void) { return &kernels; }
