/* The reference's scalar conversions (ref/fp.c) against independent ones:
 * the F16C instruction where the CPU has it, and a generic round-to-nearest-
 * even of a double to a p-bit significand written here from the IEEE rules.
 * All 2^32 f32 patterns are too many for a unit test; a prime stride covers
 * every exponent and a spread of mantissas, and the patterns where
 * rounding is decided (every f16 midpoint and its neighbours, every
 * exponent with the bits just below the f16 ulp) are checked exhaustively. */
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ref/quant/quant.h"
#include "tests/harness.h"

#define STRIDE 61u /* prime: the strided walk visits every residue class of the low bits */

static float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Round |v| to p significant bits, exponents below emin with the fixed ulp
 * 2^(emin-p+1) (gradual underflow), to nearest even; above maxfinite: Inf. */
static double round_fmt(double v, int p, int emin, double maxfinite)
{
    double a = fabs(v);
    if (a == 0 || isnan(a) || isinf(a))
        return v;
    int e = ilogb(a);
    if (e < emin)
        e = emin;
    double ulp = ldexp(1.0, e - p + 1);
    double q = rint(a / ulp) * ulp;
    if (q > maxfinite)
        q = INFINITY;
    return copysign(q, v);
}

/* cpuid, not __builtin_cpu_supports: clang does not know "f16c" there */
static int have_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) && __builtin_cpu_supports("avx");
}

__attribute__((target("avx,f16c"))) static void hw_to_f16(const float *in, uint16_t *out)
{
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128((__m128i *)out, h);
}
__attribute__((target("avx,f16c"))) static void hw_from_f16(const uint16_t *in, float *out)
{
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)in)));
}

static unsigned long n_checked, n_bad;

/* One f32 pattern: the reference's f16 bits against the generic rounding
 * (value and sign) and, where available, the hardware bits.  NaN: ggml's
 * rule, sign | 0x7E00 (the hardware keeps payload bits; ggml does not). */
static void check_f16(uint32_t u, const uint16_t *hw)
{
    float x = f32_of(u);
    uint16_t h = kvv_ref_f32_to_f16(x);
    int ok;
    if (isnan(x)) {
        ok = h == (uint16_t)(((u >> 16) & 0x8000) | 0x7e00);
    } else {
        float want = (float)round_fmt(x, 11, -14, 65504.0);
        float got = kvv_ref_f16_to_f32(h);
        ok = bits_of(got) == bits_of(want);
        if (hw)
            ok = ok && h == *hw;
        /* the tie machinery's own f64 -> f16 agrees on every f32 */
        ok = ok && kvv_rq_f64_to_f16((double)x) == h;
    }
    n_checked++;
    if (!ok && n_bad++ < 5)
        printf("\n  f16 mismatch at f32 0x%08x: ref 0x%04x hw 0x%04x\n", u, h, hw ? *hw : 0);
}

static void check_batch(const uint32_t *u, int n, int hw)
{
    float in[8];
    uint16_t out[8];
    for (int i = 0; i < n; i += 8) {
        int m = n - i < 8 ? n - i : 8;
        for (int k = 0; k < 8; k++)
            in[k] = f32_of(u[i + (k < m ? k : 0)]);
        if (hw)
            hw_to_f16(in, out);
        for (int k = 0; k < m; k++)
            check_f16(u[i + k], hw ? &out[k] : NULL);
    }
}

static void test_f16_strided(void)
{
    int hw = have_f16c();
    uint32_t buf[1024];
    int n = 0;
    n_checked = n_bad = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += STRIDE) {
        buf[n++] = (uint32_t)u;
        if (n == 1024) {
            check_batch(buf, n, hw);
            n = 0;
        }
    }
    check_batch(buf, n, hw);
    printf("  %lu patterns%s ", n_checked, hw ? " (also against F16C)" : " (no F16C on this CPU)");
    CU_ASSERT_EQUAL(n_bad, 0);
    CU_ASSERT(n_checked > 70000000ul);
}

/* Every f16 midpoint (exactly representable in f32) with its neighbours one
 * and two f32 ulps away, both signs; and every f32 exponent with the low 16
 * bits set to the patterns around the f16 rounding position. */
static void test_f16_boundaries(void)
{
    int hw = have_f16c();
    uint32_t buf[16];
    n_checked = n_bad = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double a = kvv_ref_f16_to_f32((uint16_t)h), b = h + 1 < 0x7c00 ? kvv_ref_f16_to_f32((uint16_t)(h + 1)) : 65536.0;
        uint32_t mid = bits_of((float)(0.5 * (a + b)));
        int n = 0;
        for (int s = 0; s < 2; s++)
            for (int d = -2; d <= 2; d++)
                buf[n++] = (mid + (uint32_t)d) | (s ? 0x80000000u : 0);
        check_batch(buf, n, hw);
    }
    static const uint32_t low[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001, 0x3000, 0xffff};
    for (uint32_t hi = 0; hi < 0x10000; hi++) {
        uint32_t b2[10];
        for (int k = 0; k < 10; k++)
            b2[k] = (hi << 16) | low[k];
        check_batch(b2, 10, hw);
    }
    CU_ASSERT_EQUAL(n_bad, 0);
    /* known answers */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(1.0f), 0x3c00);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(-2.0f), 0xc000);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(65504.0f), 0x7bff);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(65519.996f), 0x7bff);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(65520.0f), 0x7c00);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(0x1p-24f), 0x0001);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(0x1p-25f), 0x0000);              /* half the smallest: to even (0) */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(0x1.000002p-25f), 0x0001);       /* just above half */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(0x1.8p-24f), 0x0002);            /* 1.5 ulp: to even (2) */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);       /* tie to even */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(1.0f + 0x1.8p-10f), 0x3c02);     /* 1.5 ulp: up to even */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(-INFINITY), 0xfc00);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_f16(f32_of(0xffc12345u)), 0xfe00);
}

/* All 65536 f16 patterns back to f32: the hardware and the IEEE formula. */
static void test_f16_to_f32_exhaustive(void)
{
    int hw = have_f16c(), bad = 0;
    for (uint32_t h = 0; h < 0x10000; h += 8) {
        uint16_t in[8];
        float out[8];
        for (int k = 0; k < 8; k++)
            in[k] = (uint16_t)(h + (uint32_t)k);
        if (hw)
            hw_from_f16(in, out);
        for (int k = 0; k < 8; k++) {
            float got = kvv_ref_f16_to_f32(in[k]);
            int e = (in[k] >> 10) & 0x1f, m = in[k] & 0x3ff;
            double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
            v = (in[k] & 0x8000) ? -v : v;
            /* a NaN keeps sign and payload and is quiet */
            uint32_t qnan = ((uint32_t)(in[k] & 0x8000) << 16) | 0x7fc00000u | ((uint32_t)m << 13);
            int ok = isnan(v) ? bits_of(got) == qnan : bits_of(got) == bits_of((float)v);
            if (hw)
                ok = ok && bits_of(got) == bits_of(out[k]);
            bad += !ok;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_bf16(void)
{
    unsigned long bad = 0, n = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += STRIDE * 3) {
        float x = f32_of((uint32_t)u);
        uint16_t h = kvv_ref_f32_to_bf16(x);
        int ok;
        if (isnan(x))
            ok = h == (uint16_t)((u >> 16) | 0x40) && isnan(kvv_ref_bf16_to_f32(h));
        else
            ok = bits_of(kvv_ref_bf16_to_f32(h)) == bits_of((float)round_fmt(x, 8, -126, 0x1.fep127));
        bad += !ok;
        n++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_bf16(1.0f), 0x3f80);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_bf16(f32_of(0x3f808000u)), 0x3f80); /* tie to even */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_bf16(f32_of(0x3f818000u)), 0x3f82);
    CU_ASSERT_EQUAL(kvv_ref_f32_to_bf16(f32_of(0x7f7fffffu)), 0x7f80); /* overflow to Inf */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_bf16(f32_of(0x7f800001u)), 0x7fc0); /* signalling NaN -> quiet */
    CU_ASSERT_EQUAL(kvv_ref_f32_to_bf16(f32_of(0xff800001u)), 0xffc0);
    CU_ASSERT_EQUAL(kvv_ref_bf16_to_f32(0xc040), -3.0f);
}

static void test_ulp32(void)
{
    CU_ASSERT_EQUAL(kvv_ref_ulp32(1.0), 0x1p-23);
    CU_ASSERT_EQUAL(kvv_ref_ulp32(-1.5), 0x1p-23);
    CU_ASSERT_EQUAL(kvv_ref_ulp32(0.75), 0x1p-24);
    CU_ASSERT_EQUAL(kvv_ref_ulp32(127.5), 0x1p-17);
    CU_ASSERT_EQUAL(kvv_ref_ulp32(0.0), 0x1p-149);
    CU_ASSERT_EQUAL(kvv_ref_ulp32(0x1p-130), 0x1p-149);
    /* the ulp is the distance to the next f32 away from zero */
    for (float x = 1e-30f; x < 1e30f; x *= 3.7f)
        CU_ASSERT_EQUAL(kvv_ref_ulp32(x), (double)nextafterf(x, INFINITY) - x);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"f32->f16 on every 61st pattern (F16C and IEEE rounding)", test_f16_strided},
        {"f32->f16 at every f16 midpoint and rounding position", test_f16_boundaries},
        {"f16->f32 exhaustive", test_f16_to_f32_exhaustive},
        {"f32->bf16 strided, NaN rule", test_bf16},
        {"ulp32", test_ulp32},
        {NULL, NULL},
    };
    kvv_add_suite("ref_fp", tests);
}
