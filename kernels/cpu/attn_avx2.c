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

/* ---- f32 loads and the FMA ---- */
#define LD(p) _mm256_loadu_ps(p)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)

/* ---- prefetch: lines spread evenly over a loop's iterations ---- */

/* Spread over the products (rather than one burst per tile) the requests
 * stay within the core's outstanding-miss slots, and they cross the 4 KiB
 * page boundaries where the hardware prefetcher stops: on 4 KiB pages that
 * is what keeps decode from waiting for DRAM at every page.  Always
 * inlined: GCC takes a function that only prefetches for one without side
 * effects and drops its calls. */
typedef struct pf_stream {
    const char *p;
    size_t step, second; /* bytes a unit (one line or more); 0 or 64: a unit's second line */
    size_t units, acc, iters;
} pf_stream;

/* The lines of [p, p + bytes) evenly over `iters` iterations, in units of
 * one line, or of `per` lines where there are more lines than iterations
 * (then a unit's first two lines are asked for, and the L2's adjacent-line
 * prefetcher takes most of the rest).  Even spacing matters: the same
 * requests front-loaded cost a fifth of the bandwidth from DRAM here. */
static inline __attribute__((always_inline)) void pf_start(pf_stream *s, const char *p, size_t bytes, int iters)
{
    size_t lines = (bytes + 63) / 64, per = iters > 0 ? (lines + (size_t)iters - 1) / (size_t)iters : 0;
    s->p = p;
    s->step = 64 * (per ? per : 1);
    s->second = per > 1 ? 64 : 0;
    s->units = p && per ? (bytes + s->step - 1) / s->step : 0;
    s->acc = 0;
    s->iters = iters > 0 ? (size_t)iters : 1;
}

/* one iteration's share (Bresenham: at most one unit) */
static inline __attribute__((always_inline)) void pf_step(pf_stream *s)
{
    s->acc += s->units;
    if (s->acc >= s->iters) {
        _mm_prefetch(s->p, _MM_HINT_T0);
        _mm_prefetch(s->p + s->second, _MM_HINT_T0);
        s->p += s->step;
        s->acc -= s->iters;
    }
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

/* ---- the row kernels, per K/V row format ---- */

/* f32 rows of n values */
#define ROW_F32(x, j, n) ((x) + (size_t)(j) * (size_t)(n))
#define LD_F32(row, c) _mm256_loadu_ps((row) + (c))
/* f16 rows of n values, converted as they are read */
#define LD_F16(row, c) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((row) + (c))))
/* q8_0 rows: n / 32 blocks of an f16 scale and 32 int8 */
#define ROW_Q8_0(x, j, n) ((x) + (size_t)(j) * ((size_t)(n) / 32 * 34))
static inline __m256 ld_q8_0(const uint8_t *row, int c)
{
    const uint8_t *b = row + (size_t)(c >> 5) * 34;
    /* q * d exactly as dequantize_q8_0 computes it */
    __m256 d = _mm256_set1_ps(_cvtsh_ss((unsigned short)(b[0] | b[1] << 8)));
    __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + (c & 31))));
    __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
#ifdef KVV_FAULT_toggle_path
    /* the mutant of the uncached q8_0 path (attn.c): values through f16 */
    x = _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
    return x;
}
#define LD_Q8_0(row, c) ld_q8_0(row, c)

/* ---- AVX-512 loads (the instances built with ROWS_512) ---- */
#define AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
#define LO256(z) _mm512_castps512_ps256(z)
#define HI256(z) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z), 1))

/* [d0 x8 | d1 x8]: the f16 scales of two q8_0 blocks */
static inline AVX512_TARGET __m512 q8_scales2(const uint8_t *b0, const uint8_t *b1)
{
    __m256 d0 = _mm256_set1_ps(_cvtsh_ss((unsigned short)(b0[0] | b0[1] << 8)));
    __m256 d1 = _mm256_set1_ps(_cvtsh_ss((unsigned short)(b1[0] | b1[1] << 8)));
    return _mm512_insertf32x8(_mm512_castps256_ps512(d0), d1, 1);
}

#ifdef KVV_FAULT_toggle_path
/* the mutant of the uncached q8_0 path (attn.c): values through f16 */
#define Q8_FAULT512(x) _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
#else
#define Q8_FAULT512(x) (x)
#endif

/* 8 int8 of each of two blocks times their scales dd: q * d as ld_q8_0 */
static inline AVX512_TARGET __m512 q8_values2(const uint8_t *q0, const uint8_t *q1, __m512 dd)
{
    __m128i b = _mm_castpd_si128(
        _mm_loadh_pd(_mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)q0)), (const double *)(const void *)q1));
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), dd);
    return Q8_FAULT512(x);
}

/* values d..d+31 of a q8_0 row (one block, d a multiple of 32) */
static inline AVX512_TARGET void q8_block_values(const uint8_t *row, int d, __m512 *x0, __m512 *x1)
{
    const uint8_t *b = row + (size_t)(d >> 5) * 34;
    __m512 dd = _mm512_set1_ps(_cvtsh_ss((unsigned short)(b[0] | b[1] << 8)));
    __m512 y0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2)))), dd);
    __m512 y1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 18)))), dd);
    *x0 = Q8_FAULT512(y0);
    *x1 = Q8_FAULT512(y1);
}

/* values c..c+7 of two rows as one zmm; values d..d+15 of one row */
#define LDK2_f32(k0, k1, c) _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps((k0) + (c))), \
                                               _mm256_loadu_ps((k1) + (c)), 1)
#define LDK2_f16(k0, k1, c)                                                                                        \
    _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)((k0) + (c)))), \
                                            _mm_loadu_si128((const __m128i *)((k1) + (c))), 1))
#define LDV16_f32(row, d) _mm512_loadu_ps((row) + (d))
#define LDV16_f16(row, d) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((row) + (d))))

/* The instances: every (K format, V format) pair, once for AVX2 and once
 * for AVX-512 (attn_avx2_inst.h). */
#define ROWS_FN
#define SFX(x) x
#include "kernels/cpu/attn_avx2_inst.h"
#undef ROWS_FN
#undef SFX

#define ROWS_512
#define ROWS_FN AVX512_TARGET
#define SFX(x) x##_512
#include "kernels/cpu/attn_avx2_inst.h"
#undef ROWS_FN
#undef SFX
#undef ROWS_512

static void rows_tile(const attn_tile_args *t)
{
    static void (*const fn[3][3])(const attn_tile_args *) = {
        {rows_tile_f32_f32, rows_tile_f32_f16, rows_tile_f32_q8},
        {rows_tile_f16_f32, rows_tile_f16_f16, rows_tile_f16_q8},
        {rows_tile_q8_f32, rows_tile_q8_f16, rows_tile_q8_q8}};
    fn[t->k_fmt][t->v_fmt](t);
}

static void rows_tile_512(const attn_tile_args *t)
{
    static void (*const fn[3][3])(const attn_tile_args *) = {
        {rows_tile_f32_f32_512, rows_tile_f32_f16_512, rows_tile_f32_q8_512},
        {rows_tile_f16_f32_512, rows_tile_f16_f16_512, rows_tile_f16_q8_512},
        {rows_tile_q8_f32_512, rows_tile_q8_f16_512, rows_tile_q8_q8_512}};
    fn[t->k_fmt][t->v_fmt](t);
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

static void rows_tile2_512(const attn_tile_args *a, const attn_tile_args *b)
{
    static void (*const fn[3][3])(const attn_tile_args *, const attn_tile_args *) = {
        {rows_tile2_f32_f32_512, rows_tile2_f32_f16_512, rows_tile2_f32_q8_512},
        {rows_tile2_f16_f32_512, rows_tile2_f16_f16_512, rows_tile2_f16_q8_512},
        {rows_tile2_q8_f32_512, rows_tile2_q8_f16_512, rows_tile2_q8_q8_512}};
    if (a->k_fmt == b->k_fmt && a->v_fmt == b->v_fmt)
        fn[a->k_fmt][a->v_fmt](a, b);
    else {
        rows_tile_512(a);
        rows_tile_512(b);
    }
}

static const attn_kernels kernels = {rows_tile, merge, NULL};
static const attn_kernels kernels_512 = {rows_tile_512, merge, rows_tile2_512};

const attn_kernels *attn_kernels_avx2(void) { return &kernels; }
const attn_kernels *attn_kernels_avx512(void) { return &kernels_512; }
