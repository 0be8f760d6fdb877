/* f16 conversions of the CPU backend: portable integer code, and row
 * versions that hand over to F16C (fp16_avx2.c) when the ISA is AVX2.
 * Both give ggml's bits: round to nearest even with subnormals, overflow to
 * Inf, any NaN stored as the quiet NaN sign|0x7e00; a NaN read back from f16
 * comes out quiet (as vcvtph2ps and ggml's own conversion do). */
#include <string.h>

#include "kernels/cpu/cpu_internal.h"

uint16_t cpu_f32_to_f16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) /* NaN: the payload is dropped */
        return (uint16_t)(sign | 0x7e00);
    if (u >= 0x477ff000u) /* >= 65520, the midpoint above the largest half: Inf */
        return (uint16_t)(sign | 0x7c00);
    if (u >= 0x38800000u) { /* >= 2^-14: normal half.  Rebias the exponent by
                             * 127-15 and drop 13 mantissa bits, rounding to
                             * nearest even; a carry into the exponent is right. */
        uint32_t r = u - 0x38000000u;
        uint32_t h = r >> 13, rem = r & 0x1fffu;
        h += (rem > 0x1000u) | ((rem == 0x1000u) & (h & 1u));
        return (uint16_t)(sign | h);
    }
    if (u < 0x33000000u) /* below 2^-25 (half the smallest subnormal): zero; 2^-25 itself ties to 0 below */
        return sign;
    /* subnormal half: units of 2^-24.  The f32 value is m * 2^(e-150) with the
     * implicit bit in m, so the shift to units of 2^-24 is 126 - e (14..24). */
    uint32_t e = u >> 23, m = (u & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    h += (rem > half) | ((rem == half) & (h & 1u));
    return (uint16_t)(sign | h);
}

float cpu_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) /* Inf, or a NaN made quiet */
        u = sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u);
    else if (e)
        u = sign | ((e + 112u) << 23) | (m << 13);
    else { /* zero or subnormal: m * 2^-24 is exact in f32 */
        float v = (float)m * 0x1p-24f;
        memcpy(&u, &v, sizeof u);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void cpu_f32_to_f16_row(const float *x, uint16_t *y, int64_t n, int isa)
{
    if (isa == KVV_ISA_AVX2) {
        cpu_f32_to_f16_row_avx2(x, y, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = cpu_f32_to_f16(x[i]);
}

void cpu_f16_to_f32_row(const uint16_t *x, float *y, int64_t n, int isa)
{
    if (isa == KVV_ISA_AVX2) {
        cpu_f16_to_f32_row_avx2(x, y, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = cpu_f16_to_f32(x[i]);
}
