/* Exact scalar conversions of the reference (SPEC 1).  Written from the
 * IEEE definitions with integer arithmetic, independent of any hardware
 * conversion instruction a kernel may use. */
#include <math.h>
#include <string.h>

#include "ref/ref.h"

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static double bits_f64(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t kvv_ref_f32_to_f16(float x)
{
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    if (exp == 0xff) /* Inf stays Inf; a NaN becomes the quiet NaN (ggml drops the payload) */
        return man ? (uint16_t)(sign | 0x7e00) : (uint16_t)(sign | 0x7c00);
    /* value = 1.man * 2^(exp-127); f16 keeps 10 bits of mantissa with
     * exponent bias 15.  Work with the 24-bit significand and shift it to
     * the f16 grid (normal or subnormal), rounding to nearest even. */
    if (exp == 0 && man == 0)
        return sign;
    int e = (int)exp - 127;
    uint32_t sig = exp ? (man | 0x800000) : man; /* f32 subnormals are far below f16's range */
    if (!exp)
        e = -126;
    /* f16 normal: e in [-14, 15]; the f16 ulp is 2^(e-10), below -14 it is 2^-24 */
    int ulp_exp = e >= -14 ? e - 10 : -24;
    int shift = 23 - (e - ulp_exp); /* bits of sig below the f16 ulp */
    if (shift > 24 + 1) /* below half the smallest subnormal: rounds to zero */
        return sign;
    uint32_t q = sig >> shift, rem = sig & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    /* q is the value in units of 2^ulp_exp; rebuild the f16 bits */
    uint32_t h;
    if (ulp_exp == -24) {
        h = q; /* subnormal (a carry into 0x400 is exactly the smallest normal) */
    } else {
        int fe = e + 15;
        if (q >= 0x800) { /* rounding carried into the next binade */
            q >>= 1;
            fe++;
        }
        if (fe >= 31)
            return (uint16_t)(sign | 0x7c00);
        h = ((uint32_t)fe << 10) | (q & 0x3ff);
    }
    return (uint16_t)(sign | h);
}

float kvv_ref_f16_to_f32(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0x1f) /* Inf; a NaN keeps its payload and comes out quiet, as F16C and ggml's
                      * software path (which multiplies the NaN) both give */
        return bits_f32(((uint32_t)sign << 31) | 0x7f800000u | ((uint32_t)man << 13) | (man ? 0x400000u : 0));
    /* value = significand * 2^(exp-25) (2^-24 for subnormals): an exact
     * product with a power of two built from its bits, where ldexp was a
     * library call per dequantized value */
    if (exp == 0)
        v = (double)man * 0x1p-24;
    else
        v = (double)(man | 0x400) * bits_f64((uint64_t)(exp - 25 + 1023) << 52);
    return (float)(sign ? -v : v);
}

uint16_t kvv_ref_f32_to_bf16(float x)
{
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffff) > 0x7f800000) /* NaN: keep sign and payload top, force quiet */
        return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

float kvv_ref_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

