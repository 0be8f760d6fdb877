/* The f32 normals of the generators, bit for bit what
 *     (float)(sqrt(-2 log u1) * cos(6.283185307179586 * u2))
 * gives with glibc's log and cos, in a fraction of their time.
 *
 * The inputs of every case are defined by those bits (stored cases, digests
 * and baselines depend on them), and generating them took a third of a
 * nightly run's CPU time, most of it in log and cos.  Here both are
 * polynomials with a known error bound: the double result y differs from
 * glibc's by a few ulp (glibc's log and cos are within 1 ulp, ours within 4,
 * sqrt and the products round once each), so whenever y - y*2^-44 and
 * y + y*2^-44 round to the same float, glibc's double rounds to it too.
 * The rare y that lies that close to a float rounding boundary (about 1 in
 * 2^20), and the arguments the bound does not cover (a reduced cosine
 * argument near zero, u1 near zero), are computed with glibc's functions,
 * and so is everything on a machine without AVX2 and FMA. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "gen/gen.h"

static double glibc_normal(double u1, double u2)
{
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* log u1 and cos(6.283185307179586 u2), four at a time (AVX2 and FMA; FMA
 * only makes them more accurate, within the same bound).  log: u = m 2^e
 * with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1)/(m + 1),
 * |s| < 0.1716, the series cut where its next term is below 2^-60 of the
 * first; e ln 2 in two parts (the first with 21 trailing zero bits).  cos:
 * x - q pi/2 with pi/2 in two parts (the first of 33 bits, so that q times
 * it and the subtraction are exact), then the Taylor series of sin or cos
 * on |r| <= pi/4; an r below 1e-8, where the reduction's own error (about
 * 1e-26) would no longer be far below the result's ulp, goes to glibc.: out[i] for each, and a bit set in the
 * result for each that needs glibc's functions. */
static inline __attribute__((always_inline, target("avx2,fma"))) __m256d normal4_y(const double *u1p, const double *u2p,
                                                                                  int *glibc)
{
    const __m256d one = _mm256_set1_pd(1.0), absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffll));
    __m256d u1 = _mm256_loadu_pd(u1p), u2 = _mm256_loadu_pd(u2p);
    /* log u1 */
    __m256i b = _mm256_castpd_si256(u1);
    __m256d ed = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(b, 52),
                                                                    _mm256_set1_epi64x(0x4330000000000000ll))),
                               _mm256_set1_pd(0x1p52 + 1023.0));
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi64x(0x000fffffffffffffll)),
                                                    _mm256_set1_epi64x(0x3ff0000000000000ll)));
    __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
    ed = _mm256_add_pd(ed, _mm256_and_pd(big, one));
    __m256d f = _mm256_sub_pd(m, one);
    __m256d sv = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2.0), f)), s2 = _mm256_mul_pd(sv, sv);
    static const double lc[11] = {2.0 / 23, 2.0 / 21, 2.0 / 19, 2.0 / 17, 2.0 / 15, 2.0 / 13,
                                  2.0 / 11, 2.0 / 9,  2.0 / 7,  2.0 / 5,  2.0 / 3};
    __m256d p = _mm256_set1_pd(lc[0]);
    for (int k = 1; k < 11; k++)
        p = _mm256_fmadd_pd(p, s2, _mm256_set1_pd(lc[k]));
    __m256d logm = _mm256_fmadd_pd(_mm256_mul_pd(sv, s2), p, _mm256_add_pd(sv, sv));
    __m256d L = _mm256_fmadd_pd(ed, _mm256_set1_pd(6.93147180369123816490e-01),
                                _mm256_fmadd_pd(ed, _mm256_set1_pd(1.90821492927058770002e-10), logm));
    /* cos(6.283185307179586 u2) */
    __m256d x = _mm256_mul_pd(_mm256_set1_pd(6.283185307179586), u2);
    __m256d qd = _mm256_floor_pd(_mm256_fmadd_pd(x, _mm256_set1_pd(0.63661977236758134308), _mm256_set1_pd(0.5)));
    __m256d r = _mm256_fnmadd_pd(qd, _mm256_set1_pd(6.07710050650619224932e-11),
                                 _mm256_fnmadd_pd(qd, _mm256_set1_pd(1.57079632673412561417e+00), x));
    __m256d r2 = _mm256_mul_pd(r, r);
    static const double sc[8] = {-1.0 / 355687428096000.0, 1.0 / 1307674368000.0, -1.0 / 6227020800.0,
                                 1.0 / 39916800.0,        -1.0 / 362880.0,       1.0 / 5040.0,
                                 -1.0 / 120.0,            1.0 / 6.0};
    static const double cc[9] = {1.0 / 6402373705728000.0, -1.0 / 20922789888000.0, 1.0 / 87178291200.0,
                                 -1.0 / 479001600.0,       1.0 / 3628800.0,         -1.0 / 40320.0,
                                 1.0 / 720.0,              -1.0 / 24.0,             0.5};
    __m256d t = _mm256_set1_pd(sc[0]), w = _mm256_set1_pd(cc[0]);
    for (int k = 1; k < 8; k++)
        t = _mm256_fmadd_pd(t, r2, _mm256_set1_pd(sc[k]));
    for (int k = 1; k < 9; k++)
        w = _mm256_fmadd_pd(w, r2, _mm256_set1_pd(cc[k]));
    __m256d sn = _mm256_fnmadd_pd(_mm256_mul_pd(r, r2), t, r), cs = _mm256_fnmadd_pd(r2, w, one);
    __m256i q = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(qd));
    __m256d odd = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(1)), _mm256_set1_epi64x(1)));
    __m256d neg = _mm256_castsi256_pd(
        _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_add_epi64(q, _mm256_set1_epi64x(1)), _mm256_set1_epi64x(2)),
                           _mm256_set1_epi64x(2)));
    __m256d v = _mm256_blendv_pd(cs, sn, odd);
    v = _mm256_xor_pd(v, _mm256_and_pd(neg, _mm256_set1_pd(-0.0)));
    /* y, and the arguments the error bound does not cover (for glibc) */
    *glibc = _mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(_mm256_and_pd(r, absmask), _mm256_set1_pd(1e-8), _CMP_LT_OQ),
                                             _mm256_cmp_pd(u1, _mm256_set1_pd(0x1p-1000), _CMP_LT_OQ)));
    return _mm256_mul_pd(_mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), L)), v);
}

/* y's float where y's two neighbours within 2^-44 relative round alike;
 * a bit set in the result for each that needs glibc's functions */
static inline __attribute__((always_inline, target("avx2,fma"))) int normal4(const double *u1p, const double *u2p, float *out)
{
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffll));
    int redo;
    __m256d y = normal4_y(u1p, u2p, &redo);
    __m256d dy = _mm256_mul_pd(_mm256_and_pd(y, absmask), _mm256_set1_pd(0x1p-44));
    __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(y, dy)), hi = _mm256_cvtpd_ps(_mm256_add_pd(y, dy));
    _mm_storeu_ps(out, lo);
    return redo | _mm_movemask_ps(_mm_cmp_ps(lo, hi, _CMP_NEQ_UQ));
}

/* 16 at a time: four independent chains of polynomials overlap (one alone
 * waits on each multiply-add in turn) */
__attribute__((target("avx2,fma"))) static int normal16(const double *u1, const double *u2, float *out)
{
    return normal4(u1, u2, out) | normal4(u1 + 4, u2 + 4, out + 4) << 4 | normal4(u1 + 8, u2 + 8, out + 8) << 8 |
           normal4(u1 + 12, u2 + 12, out + 12) << 12;
}

void kvv_normal_f32_from(const double *u1, const double *u2, float *out, int64_t n)
{
    static int simd = -1;
    if (simd < 0)
        simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int64_t i = 0;
    if (simd)
        for (; i + 16 <= n; i += 16) {
            int redo = normal16(u1 + i, u2 + i, out + i);
            for (int k = 0; redo && k < 16; k++)
                if (redo >> k & 1)
                    out[i + k] = (float)glibc_normal(u1[i + k], u2[i + k]);
        }
    for (; i < n; i++)
        out[i] = (float)glibc_normal(u1[i], u2[i]);
}

/* kvv_rng_next (gen.c) with its state in registers: the uniforms of a
 * batch are drawn here without a call each (a fifth of the generators'
 * time went to the calls) */
static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
#define XOSHIRO_NEXT(out)                                                                                          \
    do {                                                                                                           \
        (out) = rotl64(s1 * 5, 7) * 9;                                                                             \
        uint64_t t_ = s1 << 17;                                                                                    \
        s2 ^= s0;                                                                                                  \
        s3 ^= s1;                                                                                                  \
        s1 ^= s2;                                                                                                  \
        s0 ^= s3;                                                                                                  \
        s2 ^= t_;                                                                                                  \
        s3 = rotl64(s3, 45);                                                                                       \
    } while (0)

void kvv_rng_normal_f32_n(kvv_rng *r, float *x, int64_t n)
{
    enum { B = 256 };
    double u1[B], u2[B];
    for (int64_t i0 = 0; i0 < n; i0 += B) {
        int m = n - i0 < B ? (int)(n - i0) : B;
        uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3], a, b;
        for (int k = 0; k < m; k++) { /* in the order one call at a time draws them, as kvv_rng_uniform */
            XOSHIRO_NEXT(a);
            XOSHIRO_NEXT(b);
            u1[k] = (double)(a >> 11) * 0x1p-53;
            u2[k] = (double)(b >> 11) * 0x1p-53;
        }
        r->s[0] = s0;
        r->s[1] = s1;
        r->s[2] = s2;
        r->s[3] = s3;
        kvv_normal_f32_from(u1, u2, x + i0, m);
    }
}

float kvv_rng_normal_f32(kvv_rng *r)
{
    /* one at a time, glibc's functions are the faster */
    double u1 = kvv_rng_uniform(r), u2 = kvv_rng_uniform(r);
    return (float)glibc_normal(u1, u2);
}

/* Student-t with 3 degrees of freedom as gen.c's student3 draws it:
 *     z = N, c = ((0 + g1^2) + g2^2) + g3^2 (g1..g3 = N), z / sqrt(c/3 + 1e-12)
 * with N = kvv_rng_normal, then the float of that.  Each of the four normals
 * comes from the polynomials above, which are within 2^-44 relative of
 * glibc's double (the margin normal4 relies on; the true difference is a
 * few ulp); z / sqrt(c/3 + 1e-12) at most doubles a relative perturbation
 * of its inputs (z enters once, c, a sum of squares, as its square root),
 * and the eight double operations round alike in both evaluations to
 * within 2^-49 each.  So glibc's value lies within 2^-42 relative of ours,
 * and where both ends of a 2^-40 window round to the same float, so does
 * it.  The rest (about 1 in 2^16), the arguments the polynomials do not
 * cover, and a result near zero, are evaluated as student3 does. */
static double student3_from(const double *u)
{
    double z = glibc_normal(u[0], u[1]), c = 0;
    for (int i = 1; i < 4; i++) {
        double g = glibc_normal(u[2 * i], u[2 * i + 1]);
        c += g * g;
    }
    return z / sqrt(c / 3.0 + 1e-12);
}

static inline float student3_value(const double *y, int redo, const double *u)
{
    double c = 0;
    for (int k = 1; k < 4; k++)
        c += y[k] * y[k];
    double v = y[0] / sqrt(c / 3.0 + 1e-12), dv = fabs(v) * 0x1p-40;
    float lo = (float)(v - dv), hi = (float)(v + dv);
    return !redo && lo == hi && fabs(v) > 1e-30 ? lo : (float)student3_from(u);
}

/* four values (sixteen normals) a pass, so that their polynomial chains
 * overlap as in normal16; m a multiple of 4 here */
__attribute__((target("avx2,fma"))) static void student3_simd(const double *u1, const double *u2, const double *u,
                                                              float *out, int m)
{
    for (int i = 0; i < m; i += 4) {
        int r0, r1, r2, r3;
        double y[16];
        __m256d y0 = normal4_y(u1 + 4 * i, u2 + 4 * i, &r0), y1 = normal4_y(u1 + 4 * i + 4, u2 + 4 * i + 4, &r1);
        __m256d y2 = normal4_y(u1 + 4 * i + 8, u2 + 4 * i + 8, &r2), y3 = normal4_y(u1 + 4 * i + 12, u2 + 4 * i + 12, &r3);
        _mm256_storeu_pd(y, y0);
        _mm256_storeu_pd(y + 4, y1);
        _mm256_storeu_pd(y + 8, y2);
        _mm256_storeu_pd(y + 12, y3);
        out[i] = student3_value(y, r0, u + 8 * i);
        out[i + 1] = student3_value(y + 4, r1, u + 8 * i + 8);
        out[i + 2] = student3_value(y + 8, r2, u + 8 * i + 16);
        out[i + 3] = student3_value(y + 12, r3, u + 8 * i + 24);
    }
}

void kvv_rng_student3_f32_n(kvv_rng *r, float *x, int64_t n)
{
    static int simd = -1;
    if (simd < 0)
        simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    enum { B = 64 };
    double u[8 * B], u1[4 * B], u2[4 * B];
    for (int64_t i0 = 0; i0 < n; i0 += B) {
        int m = n - i0 < B ? (int)(n - i0) : B;
        uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3], a;
        for (int k = 0; k < 8 * m; k++) { /* z's u1, u2, then g1's, g2's, g3's: the order student3 draws */
            XOSHIRO_NEXT(a);
            u[k] = (double)(a >> 11) * 0x1p-53;
        }
        r->s[0] = s0;
        r->s[1] = s1;
        r->s[2] = s2;
        r->s[3] = s3;
        if (!simd) {
            for (int i = 0; i < m; i++)
                x[i0 + i] = (float)student3_from(u + 8 * i);
            continue;
        }
        for (int k = 0; k < 4 * m; k++) {
            u1[k] = u[2 * k];
            u2[k] = u[2 * k + 1];
        }
        int m4 = m & ~3;
        student3_simd(u1, u2, u, x + i0, m4);
        for (int i = m4; i < m; i++)
            x[i0 + i] = (float)student3_from(u + 8 * i);
    }
}
