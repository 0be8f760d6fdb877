/* The AVX2 row kernels of the CPU attention, once per pair of K and V row
 * formats: included by attn_avx2.c with
 *   KT, VT    the element type of a stored K / V row (float; uint16_t for f16
 *             rows and uint8_t for q8_0 rows read in place),
 *   KROW(k, j, dk8), VROW(v, j, dv8)  row j of a tile whose rows hold dk8 / dv8 values,
 *   LDK(row, c), LDV(row, c)  its values c..c+7 as f32 (c a multiple of 8),
 *   NAME(x)   the instance's name for x,
 *   ROWS_512  defined for the instance built for AVX-512 (ROWS_FN its target
 *             attribute; KQ8 / VQ8 1 when K / V rows are q8_0 read in place,
 *             LDK2(k0, k1, c) values c..c+7 of two K rows as one zmm, LDV16(row, d)
 *             values d..d+15 of a V row).  Its products put two keys (or
 *             16 consecutive output elements) in one zmm, each 256-bit half
 *             running exactly the FMA chain the AVX2 instance runs, and the
 *             lane sums go through the same hsum8; so it gives the AVX2 bits.
 * Every instance does the same f32 arithmetic on the same values (f16 to
 * f32 is exact, and so is a q8_0 value q * d), so which one runs changes no
 * output bit; reading rows in place only saves the dequantization into a
 * buffer, whose stores and reloads cost more than the products at decode. */

#ifndef ROWS_512 /* the AVX-512 instance has its own */
static ROWS_FN void NAME(dot1x8_256)(const float *q, const KT *k, const int *idx, int dk8, float *s)
{
    const KT *k0 = KROW(k, idx[0], dk8), *k1 = KROW(k, idx[1], dk8);
    const KT *k2 = KROW(k, idx[2], dk8), *k3 = KROW(k, idx[3], dk8);
    const KT *k4 = KROW(k, idx[4], dk8), *k5 = KROW(k, idx[5], dk8);
    const KT *k6 = KROW(k, idx[6], dk8), *k7 = KROW(k, idx[7], dk8);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int c = 0; c < dk8; c += 8) {
        __m256 qv = LD(q + c);
        a0 = FMA(qv, LDK(k0, c), a0);
        a1 = FMA(qv, LDK(k1, c), a1);
        a2 = FMA(qv, LDK(k2, c), a2);
        a3 = FMA(qv, LDK(k3, c), a3);
        a4 = FMA(qv, LDK(k4, c), a4);
        a5 = FMA(qv, LDK(k5, c), a5);
        a6 = FMA(qv, LDK(k6, c), a6);
        a7 = FMA(qv, LDK(k7, c), a7);
    }
    _mm256_storeu_ps(s, hsum8(a0, a1, a2, a3, a4, a5, a6, a7));
}

#endif

static ROWS_FN void NAME(dot1x4)(const float *q, const KT *k, const int *idx, int dk8, float *s)
{
    const KT *k0 = KROW(k, idx[0], dk8), *k1 = KROW(k, idx[1], dk8);
    const KT *k2 = KROW(k, idx[2], dk8), *k3 = KROW(k, idx[3], dk8);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < dk8; c += 8) {
        __m256 qv = LD(q + c);
        a0 = FMA(qv, LDK(k0, c), a0);
        a1 = FMA(qv, LDK(k1, c), a1);
        a2 = FMA(qv, LDK(k2, c), a2);
        a3 = FMA(qv, LDK(k3, c), a3);
    }
    _mm_storeu_ps(s, hsum4(a0, a1, a2, a3));
}

static ROWS_FN float NAME(dot1x1)(const float *q, const KT *k, int dk8)
{
    __m256 a = _mm256_setzero_ps();
    for (int c = 0; c < dk8; c += 8)
        a = FMA(LD(q + c), LDK(k, c), a);
    return hsum1(a);
}

#ifndef ROWS_512
/* four rows against two keys: lanes r0k0 r1k0 r2k0 r3k0 r0k1 r1k1 r2k1 r3k1 */
static ROWS_FN __m256 NAME(dot4x2_256)(const float *const *q, const KT *k0, const KT *k1, int dk8)
{
    __m256 a00 = _mm256_setzero_ps(), a10 = a00, a20 = a00, a30 = a00;
    __m256 a01 = a00, a11 = a00, a21 = a00, a31 = a00;
    const float *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];
    for (int c = 0; c < dk8; c += 8) {
        __m256 x0 = LDK(k0, c), x1 = LDK(k1, c);
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

#endif

static ROWS_FN __m128 NAME(dot4x1)(const float *const *q, const KT *k0, int dk8)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < dk8; c += 8) {
        __m256 x = LDK(k0, c);
        a0 = FMA(LD(q[0] + c), x, a0);
        a1 = FMA(LD(q[1] + c), x, a1);
        a2 = FMA(LD(q[2] + c), x, a2);
        a3 = FMA(LD(q[3] + c), x, a3);
    }
    return hsum4(a0, a1, a2, a3);
}


/* One row over its listed keys; 8 independent FMA chains per pass. */
static ROWS_FN void NAME(pv1_from)(const float *p, const int *idx, int n, const VT *v, int dv8, float *o, int d,
                                   const char *pf, size_t pf_bytes)
{
    pf_stream ps;
    pf_start(&ps, pf, pf_bytes, n * ((dv8 - d) / 64));
    for (; d + 64 <= dv8; d += 64) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int u = 0; u < n; u++) {
            pf_step(&ps);
            const VT *vr = VROW(v, idx[u], dv8);
            __m256 pb = _mm256_broadcast_ss(p + u);
            a0 = FMA(pb, LDV(vr, d), a0);
            a1 = FMA(pb, LDV(vr, d + 8), a1);
            a2 = FMA(pb, LDV(vr, d + 16), a2);
            a3 = FMA(pb, LDV(vr, d + 24), a3);
            a4 = FMA(pb, LDV(vr, d + 32), a4);
            a5 = FMA(pb, LDV(vr, d + 40), a5);
            a6 = FMA(pb, LDV(vr, d + 48), a6);
            a7 = FMA(pb, LDV(vr, d + 56), a7);
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
            const VT *vr = VROW(v, idx[u], dv8);
            __m256 pb = _mm256_broadcast_ss(p + u);
            a0 = FMA(pb, LDV(vr, d), a0);
            a1 = FMA(pb, LDV(vr, d + 8), a1);
        }
        _mm256_storeu_ps(o + d, a0);
        _mm256_storeu_ps(o + d + 8, a1);
    }
    for (; d < dv8; d += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int u = 0; u < n; u++)
            a0 = FMA(_mm256_broadcast_ss(p + u), LDV(VROW(v, idx[u], dv8), d), a0);
        _mm256_storeu_ps(o + d, a0);
    }
}

/* ATTN_MR rows over the same keys: each V load feeds four rows. */
static ROWS_FN void NAME(pv4_from)(const float (*p)[ATTN_TILE_MAX], const int *idx, int n, const VT *v, int dv8,
                                   float *const *o, int d, const char *pf, size_t pf_bytes)
{
    pf_stream ps;
    pf_start(&ps, pf, pf_bytes, n * ((dv8 - d) / 16));
    for (; d + 16 <= dv8; d += 16) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
        __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int u = 0; u < n; u++) {
            pf_step(&ps);
            const VT *vr = VROW(v, idx[u], dv8);
            __m256 x0 = LDV(vr, d), x1 = LDV(vr, d + 8);
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
            __m256 x = LDV(VROW(v, idx[u], dv8), d);
            a0 = FMA(_mm256_broadcast_ss(&p[0][u]), x, a0);
            a1 = FMA(_mm256_broadcast_ss(&p[1][u]), x, a1);
            a2 = FMA(_mm256_broadcast_ss(&p[2][u]), x, a2);
#ifndef KVV_FAULT_pv4_tail_row
            a3 = FMA(_mm256_broadcast_ss(&p[3][u]), x, a3);
#else
            /* mutant: in the 8-wide tail (dv8 % 16 == 8) the fourth row
             * takes the third row's weights */
            a3 = FMA(_mm256_broadcast_ss(&p[2][u]), x, a3);
#endif
        }
        _mm256_storeu_ps(o[0] + d, a0);
        _mm256_storeu_ps(o[1] + d, a1);
        _mm256_storeu_ps(o[2] + d, a2);
        _mm256_storeu_ps(o[3] + d, a3);
    }
}

#ifndef ROWS_512
static ROWS_FN __m256 NAME(dot4x2)(const float *const *q, const KT *k0, const KT *k1, int dk8)
{
    return NAME(dot4x2_256)(q, k0, k1, dk8);
}

static ROWS_FN void NAME(pv4)(const float (*p)[ATTN_TILE_MAX], const int *idx, int n, const VT *v, int dv8,
                              float *const *o, const char *pf, size_t pf_bytes)
{
    NAME(pv4_from)(p, idx, n, v, dv8, o, 0, pf, pf_bytes);
}

static ROWS_FN void NAME(dot1x8)(const float *q, const KT *k, const int *idx, int dk8, float *s)
{
    NAME(dot1x8_256)(q, k, idx, dk8, s);
}

static ROWS_FN void NAME(pv1)(const float *p, const int *idx, int n, const VT *v, int dv8, float *o,
                              const char *pf, size_t pf_bytes)
{
    NAME(pv1_from)(p, idx, n, v, dv8, o, 0, pf, pf_bytes);
}
#else
/* Four rows against two keys, the keys in the two halves of each zmm. */
static ROWS_FN __m256 NAME(dot4x2)(const float *const *q, const KT *k0, const KT *k1, int dk8)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *q0 = q[0], *q1 = q[1], *q2 = q[2], *q3 = q[3];
#if KQ8
    for (int c0 = 0; c0 < dk8; c0 += 32) {
        const uint8_t *b0 = k0 + (size_t)(c0 >> 5) * 34, *b1 = k1 + (size_t)(c0 >> 5) * 34;
        __m512 dd = q8_scales2(b0, b1);
        for (int j = 0; j < 32; j += 8) {
            __m512 x = q8_values2(b0 + 2 + j, b1 + 2 + j, dd);
            int c = c0 + j;
#else
    {
        for (int c = 0; c < dk8; c += 8) {
            __m512 x = LDK2(k0, k1, c);
#endif
            a0 = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(q0 + c)), x, a0);
            a1 = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(q1 + c)), x, a1);
            a2 = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(q2 + c)), x, a2);
            a3 = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(q3 + c)), x, a3);
        }
    }
    return hsum8(LO256(a0), LO256(a1), LO256(a2), LO256(a3), HI256(a0), HI256(a1), HI256(a2), HI256(a3));
}

/* Four rows against eight keys, two keys a zmm: each row's eight sums come
 * out of one hsum8 in key order, ready for the softmax (no scatter of
 * single floats that the softmax's vector loads would wait for). */
#define D48_ACC(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0
#define D48_ROW(r, c)                                                                                              \
    do {                                                                                                           \
        __m512 qb = _mm512_broadcast_f32x8(LD(q[r] + (c)));                                                        \
        a##r##0 = _mm512_fmadd_ps(qb, x0, a##r##0);                                                                \
        a##r##1 = _mm512_fmadd_ps(qb, x1, a##r##1);                                                                \
        a##r##2 = _mm512_fmadd_ps(qb, x2, a##r##2);                                                                \
        a##r##3 = _mm512_fmadd_ps(qb, x3, a##r##3);                                                                \
    } while (0)
#define D48_OUT(r)                                                                                                 \
    _mm256_storeu_ps(&s[r][u], hsum8(LO256(a##r##0), HI256(a##r##0), LO256(a##r##1), HI256(a##r##1),           \
                                     LO256(a##r##2), HI256(a##r##2), LO256(a##r##3), HI256(a##r##3)))
/* Always inlined into its two callers (decode from DRAM 2-5% faster, every type, measured alternately). */
static inline __attribute__((always_inline)) ROWS_FN void NAME(dot4x8)(const float *const *q, const KT *K,
                                                                      const int *idx, int dk8,
                                                                      float (*s)[ATTN_TILE_MAX], int u,
                                                                      pf_stream *pfs)
{
    pf_stream ps_local = *pfs, *ps = &ps_local; /* a local copy stays in registers */
    const KT *k0 = KROW(K, idx[0], dk8), *k1 = KROW(K, idx[1], dk8);
    const KT *k2 = KROW(K, idx[2], dk8), *k3 = KROW(K, idx[3], dk8);
    const KT *k4 = KROW(K, idx[4], dk8), *k5 = KROW(K, idx[5], dk8);
    const KT *k6 = KROW(K, idx[6], dk8), *k7 = KROW(K, idx[7], dk8);
    D48_ACC(0);
    D48_ACC(1);
    D48_ACC(2);
    D48_ACC(3);
#if KQ8
    /* a block at a time, one key pair after the other: two row pointers
     * live at once instead of eight (no spills to vector registers) */
    const float *qq = q[0];
    const size_t qs = (size_t)(q[1] - q[0]);
    const int rows_even = q[2] == qq + 2 * qs && q[3] == qq + 3 * qs;
#define D48_PAIR(P, KA, KB)                                                                                        \
    do {                                                                                                           \
        const uint8_t *ba = (KA) + o, *bb = (KB) + o;                                                              \
        __m512 dd = q8_scales2(ba, bb);                                                                            \
        for (int j = 0; j < 32; j += 8) {                                                                          \
            __m512 x = q8_values2(ba + 2 + j, bb + 2 + j, dd);                                                     \
            const float *qc = qq + c0 + j;                                                                         \
            a0##P = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(qc)), x, a0##P);                                     \
            a1##P = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(qc + qs)), x, a1##P);                                \
            a2##P = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(qc + 2 * qs)), x, a2##P);                            \
            a3##P = _mm512_fmadd_ps(_mm512_broadcast_f32x8(LD(qc + 3 * qs)), x, a3##P);                            \
        }                                                                                                          \
    } while (0)
    if (rows_even)
        for (int c0 = 0; c0 < dk8; c0 += 32) {
            size_t o = (size_t)(c0 >> 5) * 34;
            pf_step(ps);
            pf_step(ps);
            D48_PAIR(0, k0, k1);
            pf_step(ps);
            D48_PAIR(1, k2, k3);
            pf_step(ps);
            D48_PAIR(2, k4, k5);
            D48_PAIR(3, k6, k7);
        }
    else
        for (int c0 = 0; c0 < dk8; c0 += 32) {
            size_t o = (size_t)(c0 >> 5) * 34;
            __m512 d01 = q8_scales2(k0 + o, k1 + o), d23 = q8_scales2(k2 + o, k3 + o);
            __m512 d45 = q8_scales2(k4 + o, k5 + o), d67 = q8_scales2(k6 + o, k7 + o);
            for (int j = 0; j < 32; j += 8) {
                size_t e = o + 2 + (size_t)j;
                pf_step(ps);
                __m512 x0 = q8_values2(k0 + e, k1 + e, d01), x1 = q8_values2(k2 + e, k3 + e, d23);
                __m512 x2 = q8_values2(k4 + e, k5 + e, d45), x3 = q8_values2(k6 + e, k7 + e, d67);
                D48_ROW(0, c0 + j);
                D48_ROW(1, c0 + j);
                D48_ROW(2, c0 + j);
                D48_ROW(3, c0 + j);
            }
        }
#undef D48_PAIR
#else
    for (int c = 0; c < dk8; c += 8) {
        pf_step(ps);
        __m512 x0 = LDK2(k0, k1, c), x1 = LDK2(k2, k3, c), x2 = LDK2(k4, k5, c), x3 = LDK2(k6, k7, c);
        D48_ROW(0, c);
        D48_ROW(1, c);
        D48_ROW(2, c);
        D48_ROW(3, c);
    }
#endif
    D48_OUT(0);
    D48_OUT(1);
    D48_OUT(2);
    D48_OUT(3);
    *pfs = ps_local;
}
#undef D48_ACC
#undef D48_ROW
#undef D48_OUT

/* One row against eight keys, two keys a zmm. */
static ROWS_FN void NAME(dot1x8)(const float *q, const KT *k, const int *idx, int dk8, float *s)
{
    const KT *k0 = KROW(k, idx[0], dk8), *k1 = KROW(k, idx[1], dk8);
    const KT *k2 = KROW(k, idx[2], dk8), *k3 = KROW(k, idx[3], dk8);
    const KT *k4 = KROW(k, idx[4], dk8), *k5 = KROW(k, idx[5], dk8);
    const KT *k6 = KROW(k, idx[6], dk8), *k7 = KROW(k, idx[7], dk8);
    __m512 a01 = _mm512_setzero_ps(), a23 = a01, a45 = a01, a67 = a01;
#if KQ8
    for (int c0 = 0; c0 < dk8; c0 += 32) {
        size_t o = (size_t)(c0 >> 5) * 34;
        __m512 d01 = q8_scales2(k0 + o, k1 + o), d23 = q8_scales2(k2 + o, k3 + o);
        __m512 d45 = q8_scales2(k4 + o, k5 + o), d67 = q8_scales2(k6 + o, k7 + o);
        for (int j = 0; j < 32; j += 8) {
            __m512 qv = _mm512_broadcast_f32x8(LD(q + c0 + j));
            size_t e = o + 2 + (size_t)j;
            a01 = _mm512_fmadd_ps(qv, q8_values2(k0 + e, k1 + e, d01), a01);
            a23 = _mm512_fmadd_ps(qv, q8_values2(k2 + e, k3 + e, d23), a23);
            a45 = _mm512_fmadd_ps(qv, q8_values2(k4 + e, k5 + e, d45), a45);
            a67 = _mm512_fmadd_ps(qv, q8_values2(k6 + e, k7 + e, d67), a67);
        }
    }
#else
    for (int c = 0; c < dk8; c += 8) {
        __m512 qv = _mm512_broadcast_f32x8(LD(q + c));
        a01 = _mm512_fmadd_ps(qv, LDK2(k0, k1, c), a01);
        a23 = _mm512_fmadd_ps(qv, LDK2(k2, k3, c), a23);
        a45 = _mm512_fmadd_ps(qv, LDK2(k4, k5, c), a45);
        a67 = _mm512_fmadd_ps(qv, LDK2(k6, k7, c), a67);
    }
#endif
    _mm256_storeu_ps(s, hsum8(LO256(a01), HI256(a01), LO256(a23), HI256(a23), LO256(a45), HI256(a45), LO256(a67),
                              HI256(a67)));
}

/* Values d..d+31 of a V row as two zmm (q8_0: one block, one scale). */
#if VQ8
#define LDV32(vr, d, x0, x1) q8_block_values(vr, d, &(x0), &(x1))
#else
#define LDV32(vr, d, x0, x1) ((x0) = LDV16(vr, d), (x1) = LDV16(vr, (d) + 16))
#endif

/* One 32-column pass of pv4 over the listed keys (the rows read in place
 * or from the buffer): output elements d..d+31 of ATTN_MR rows, 16 to a
 * zmm, each the AVX2 code's FMA chain.  Always inlined: the prefetch
 * stream then stays in registers (through a pointer to memory it cost q4_0
 * decode 7%). */
static inline __attribute__((always_inline)) ROWS_FN void NAME(pv4_pass)(const float (*p)[ATTN_TILE_MAX], const int *idx,
                                                                        int n, const VT *v, int dv8, float *const *o,
                                                                        int d, pf_stream *ps)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    __m512 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (int u = 0; u < n; u++) {
        pf_step(ps);
        const VT *vr = VROW(v, idx[u], dv8);
        __m512 x0, x1;
        LDV32(vr, d, x0, x1);
        __m512 pb = _mm512_set1_ps(p[0][u]);
        a00 = _mm512_fmadd_ps(pb, x0, a00);
        a01 = _mm512_fmadd_ps(pb, x1, a01);
        pb = _mm512_set1_ps(p[1][u]);
        a10 = _mm512_fmadd_ps(pb, x0, a10);
        a11 = _mm512_fmadd_ps(pb, x1, a11);
        pb = _mm512_set1_ps(p[2][u]);
        a20 = _mm512_fmadd_ps(pb, x0, a20);
        a21 = _mm512_fmadd_ps(pb, x1, a21);
        pb = _mm512_set1_ps(p[3][u]);
        a30 = _mm512_fmadd_ps(pb, x0, a30);
        a31 = _mm512_fmadd_ps(pb, x1, a31);
    }
    _mm512_storeu_ps(o[0] + d, a00);
    _mm512_storeu_ps(o[0] + d + 16, a01);
    _mm512_storeu_ps(o[1] + d, a10);
    _mm512_storeu_ps(o[1] + d + 16, a11);
    _mm512_storeu_ps(o[2] + d, a20);
    _mm512_storeu_ps(o[2] + d + 16, a21);
    _mm512_storeu_ps(o[3] + d, a30);
    _mm512_storeu_ps(o[3] + d + 16, a31);
}

/* ATTN_MR rows over the same keys, 32 output elements a pass; the columns
 * past the last multiple of 32 go to the AVX2 code. */
static ROWS_FN void NAME(pv4)(const float (*p)[ATTN_TILE_MAX], const int *idx, int n, const VT *v, int dv8,
                              float *const *o, const char *pf, size_t pf_bytes)
{
    int d = 0;
    pf_stream ps;
    pf_start(&ps, pf, pf_bytes, n * (dv8 / 32));
    for (; d + 32 <= dv8; d += 32)
        NAME(pv4_pass)(p, idx, n, v, dv8, o, d, &ps);
    if (d < dv8)
        NAME(pv4_from)(p, idx, n, v, dv8, o, d, NULL, 0);
}

/* One row over its listed keys, 64 output elements a pass in four zmm. */
static ROWS_FN void NAME(pv1)(const float *p, const int *idx, int n, const VT *v, int dv8, float *o,
                              const char *pf, size_t pf_bytes)
{
    int d = 0;
    pf_stream ps;
    pf_start(&ps, pf, pf_bytes, n * (dv8 / 64));
    for (; d + 64 <= dv8; d += 64) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int u = 0; u < n; u++) {
            pf_step(&ps);
            const VT *vr = VROW(v, idx[u], dv8);
            __m512 pb = _mm512_set1_ps(p[u]), x0, x1, x2, x3;
            LDV32(vr, d, x0, x1);
            LDV32(vr, d + 32, x2, x3);
            a0 = _mm512_fmadd_ps(pb, x0, a0);
            a1 = _mm512_fmadd_ps(pb, x1, a1);
            a2 = _mm512_fmadd_ps(pb, x2, a2);
            a3 = _mm512_fmadd_ps(pb, x3, a3);
        }
        _mm512_storeu_ps(o + d, a0);
        _mm512_storeu_ps(o + d + 16, a1);
        _mm512_storeu_ps(o + d + 32, a2);
        _mm512_storeu_ps(o + d + 48, a3);
    }
    if (d < dv8)
        NAME(pv1_from)(p, idx, n, v, dv8, o, d, NULL, 0);
}
#undef LDV32
#endif

/* Whether the listed V rows are all finite: x - x is 0 for a finite x and
 * NaN otherwise, and the NaN survives the sum. */
static ROWS_FN int NAME(keys_finite)(const VT *v, const int *idx, int n, int dv8)
{
    __m256 acc = _mm256_setzero_ps();
    for (int u = 0; u < n; u++) {
        const VT *vr = VROW(v, idx[u], dv8);
        for (int d = 0; d < dv8; d += 8) {
            __m256 x = LDV(vr, d);
            acc = _mm256_add_ps(acc, _mm256_sub_ps(x, x));
        }
    }
    return hsum1(acc) == 0;
}

static ROWS_FN void NAME(vec_row)(const attn_tile_args *t, int r)
{
    const KT *K = t->k;
    const VT *V = t->v;
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
    /* the first row of the tile prefetches (attn_tile_args) */
    pf_stream ps;
    pf_start(&ps, r == 0 ? t->pf_dot : NULL, t->pf_dot_bytes, n / 8);
    int u = 0;
    for (; u + 8 <= n; u += 8) {
        pf_step(&ps);
        NAME(dot1x8)(q, K, idx + u, t->dk8, s + u);
    }
    for (; u + 4 <= n; u += 4)
        NAME(dot1x4)(q, K, idx + u, t->dk8, s + u);
    for (; u < n; u++)
        s[u] = NAME(dot1x1)(q, KROW(K, idx[u], t->dk8), t->dk8);
    softmax_row(s, mrow, n, t, t->slope[r], part);
    NAME(pv1)(s, idx, n, V, t->dv8, part + ATTN_HDR, r == 0 ? t->pf_pv : NULL, t->pf_pv_bytes);
}

/* ATTN_MR rows against the union of the keys any of them sees. */
static ROWS_FN void NAME(tiled_group)(const attn_tile_args *t, int r0)
{
    const KT *K = t->k;
    const VT *V = t->v;
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
    /* the first group of the tile prefetches (attn_tile_args) */
    pf_stream ps;
    int u = 0;
#ifdef ROWS_512
    /* groups of eight keys take a prefetch step per 8 columns, pairs one each */
    pf_start(&ps, r0 == 0 ? t->pf_dot : NULL, t->pf_dot_bytes, n / 8 * (t->dk8 / 8) + n % 8 / 2);
    for (; u + 8 <= n; u += 8)
        NAME(dot4x8)(q, K, idx + u, t->dk8, s, u, &ps);
#else
    pf_start(&ps, r0 == 0 ? t->pf_dot : NULL, t->pf_dot_bytes, n / 2);
#endif
    for (; u + 2 <= n; u += 2) {
        float tmp[8];
        pf_step(&ps);
        _mm256_storeu_ps(tmp, NAME(dot4x2)(q, KROW(K, idx[u], t->dk8), KROW(K, idx[u + 1], t->dk8), t->dk8));
        for (int i = 0; i < MR; i++) {
            s[i][u] = tmp[i];
            s[i][u + 1] = tmp[4 + i];
        }
    }
    if (u < n) {
        float tmp[4];
        _mm_storeu_ps(tmp, NAME(dot4x1)(q, KROW(K, idx[u], t->dk8), t->dk8));
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
    if (uniform || NAME(keys_finite)(V, idx, n, t->dv8)) {
        NAME(pv4)((const float(*)[ATTN_TILE_MAX])s, idx, n, V, t->dv8, o, r0 == 0 ? t->pf_pv : NULL, t->pf_pv_bytes);
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
        NAME(pv1)(p, own, k, V, t->dv8, o[i], NULL, 0);
    }
}

/* Rows in groups of ATTN_MR (a GQA group of decode rows shares each K/V
 * load the same way a block of prefill rows does), the rest one by one. */
static ROWS_FN void NAME(rows_tile)(const attn_tile_args *t)
{
    int r = 0;
    for (; r + ATTN_MR <= t->nr; r += ATTN_MR)
        NAME(tiled_group)(t, r);
    for (; r < t->nr; r++)
        NAME(vec_row)(t, r);
}

#ifdef ROWS_512
/* Two tiles of two KV heads, their products interleaved (attn_kern.h
 * tile2): the decode shape (one group of ATTN_MR rows, no mask, whole
 * groups of eight keys, V in 32-column passes) runs tiled_group's
 * operations on each tile; anything else runs rows_tile on each. */
static ROWS_FN void NAME(rows_tile2)(const attn_tile_args *ta, const attn_tile_args *tb)
{
    enum { MR = ATTN_MR };
    const attn_tile_args *t2[2] = {ta, tb};
    int simple = ta->nt == tb->nt && ta->nt % 8 == 0;
    for (int k = 0; k < 2 && simple; k++) {
        const attn_tile_args *t = t2[k];
        simple &= t->nr == MR && t->dv8 % 32 == 0 && t->dv8 == ta->dv8 && t->dk8 == ta->dk8;
        for (int i = 0; i < t->nr && simple; i++)
            simple &= t->mask[i] == NULL;
    }
    if (!simple) {
        NAME(rows_tile)(ta);
        NAME(rows_tile)(tb);
        return;
    }
    const int n = ta->nt, dk8 = ta->dk8, dv8 = ta->dv8;
    float s[2][MR][ATTN_TILE_MAX];
    const float *q[2][MR];
    float *o[2][MR];
    pf_stream ps[2];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < MR; i++) {
            q[k][i] = t2[k]->q + (size_t)i * dk8;
            o[k][i] = t2[k]->part + (size_t)i * t2[k]->part_stride + ATTN_HDR;
        }
        pf_start(&ps[k], t2[k]->pf_dot, t2[k]->pf_dot_bytes, n / 8 * (dk8 / 8));
    }
    for (int u = 0; u < n; u += 8) {
        NAME(dot4x8)(q[0], (const KT *)ta->k, ALL_KEYS + u, dk8, s[0], u, &ps[0]);
        NAME(dot4x8)(q[1], (const KT *)tb->k, ALL_KEYS + u, dk8, s[1], u, &ps[1]);
    }
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < MR; i++)
            softmax_row(s[k][i], NULL, n, t2[k], t2[k]->slope[i], o[k][i] - ATTN_HDR);
        pf_start(&ps[k], t2[k]->pf_pv, t2[k]->pf_pv_bytes, n * (dv8 / 32));
    }
    for (int d = 0; d < dv8; d += 32) {
        NAME(pv4_pass)((const float(*)[ATTN_TILE_MAX])s[0], ALL_KEYS, n, (const VT *)ta->v, dv8, o[0], d, &ps[0]);
        NAME(pv4_pass)((const float(*)[ATTN_TILE_MAX])s[1], ALL_KEYS, n, (const VT *)tb->v, dv8, o[1], d, &ps[1]);
    }
}
#endif
