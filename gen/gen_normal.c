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
static inline __attribute__((always_inline, target("avx2,fma"))) int normal4(const double *u1p, const double *u2p, float *out)
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
    /* y, its two neighbours' floats, and the cases for glibc */
    __m256d y = _mm256_mul_pd(_mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), L)), v);
    __m256d dy = _mm256_mul_pd(_mm256_and_pd(y, absmask), _mm256_set1_pd(0x1p-44));
    __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(y, dy)), hi = _mm256_cvtpd_ps(_mm256_add_pd(y, dy));
    _mm_storeu_ps(out, lo);
    int redo = _mm_movemask_ps(_mm_cmp_ps(lo, hi, _CMP_NEQ_UQ));
    redo |= _mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(_mm256_and_pd(r, absmask), _mm256_set1_pd(1e-8), _CMP_LT_OQ),
                                            _mm256_cmp_pd(u1, _mm256_set1_pd(0x1p-1000), _CMP_LT_OQ)));
    return redo;
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

void kvv_rng_normal_f32_n(kvv_rng *r, float *x, int64_t n)
{
    enum { B = 256 };
    double u1[B], u2[B];
    for (int64_t i0 = 0; i0 < n; i0 += B) {
        int m = n - i0 < B ? (int)(n - i0) : B;
        for (int k = 0; k < m; k++) { /* in the order one call at a time draws them */
            u1[k] = kvv_rng_uniform(r);
            u2[k] = kvv_rng_uniform(r);
        }
        kvv_normal_f32_from(u1, u2, x + i0, m);
    }
}

float kvv_rng_normal_f32(kvv_rng *r)
{
    /* one at a time, glibc's functions are the faster */
    double u1 = kvv_rng_uniform(r), u2 = kvv_rng_uniform(r);
    return (float)glibc_normal(u1, u2);
}
