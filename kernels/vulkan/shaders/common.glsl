// Shared by every kvverify shader: type ids, byte fields in uint buffers,
// and exact f16/bf16 conversions.

// The type ids T_<ID> (the kvv_type values: the host passes them as is),
// T_TYPE_COUNT, TYPE_BLOCK, TYPE_BYTES, type_is_turbo,
// type_is_float and TYPE_SWITCH: generated at build time from
// include/kvv/formats.def (kernels/vulkan/gen/formats_glsl.c), so that no
// shader keeps its own copy of a format fact.
#include "kvv_formats.glsl"

// Bytes of a packed tensor held in a uint[] buffer (little endian).  The
// buffer is a macro argument because GLSL cannot pass buffers to functions.
#define RD8(buf, off) ((buf[(off) >> 2] >> (((off) & 3u) * 8u)) & 0xffu)
// 16-bit fields sit at even offsets in every kvverify layout, so never
// straddle a word.
#define RD16(buf, off) ((buf[(off) >> 2] >> (((off) & 2u) * 8u)) & 0xffffu)

// f32 bits -> f16 bits, round to nearest even, subnormals kept, overflow to
// Inf, NaN -> quiet NaN with the sign (what ggml stores).
uint f32_to_f16_bits(uint u)
{
    uint sign = (u >> 16) & 0x8000u;
    uint ef = (u >> 23) & 0xffu, man = u & 0x7fffffu;
    if (ef == 0xffu)
        return sign | (man != 0u ? 0x7e00u : 0x7c00u);
    if (ef == 0u)
        return sign; // f32 subnormals lie far below half the smallest f16 subnormal
    int e = int(ef) - 127;
    uint sig = man | 0x800000u;
    int ulp_e = e >= -14 ? e - 10 : -24; // the f16 ulp: normal, or the subnormal 2^-24
    int shift = 23 - (e - ulp_e);        // bits of sig below that ulp (13 or more)
    if (shift > 25)
        return sign;
    uint q = sig >> uint(shift), rem = sig & ((1u << uint(shift)) - 1u), hlf = 1u << uint(shift - 1);
    if (rem > hlf || (rem == hlf && (q & 1u) != 0u))
        q++;
    if (ulp_e == -24)
        return sign | q; // subnormal; a carry into 0x400 is exactly the smallest normal
    int fe = e + 15;
    if (q >= 0x800u) {
        q >>= 1;
        fe++;
    }
    if (fe >= 31)
        return sign | 0x7c00u;
    return sign | (uint(fe) << 10) | (q & 0x3ffu);
}

// f16 bits -> f32 bits, exact (f16 subnormals are f32 normals).
uint f16_to_f32_bits(uint h)
{
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu)
        return sign | 0x7f800000u | (m << 13);
    if (e == 0u) {
        if (m == 0u)
            return sign;
        int p = findMSB(m); // m * 2^-24 = 1.f * 2^(p - 24)
        return sign | (uint(p + 103) << 23) | ((m << uint(23 - p)) & 0x7fffffu);
    }
    return sign | ((e + 112u) << 23) | (m << 13);
}
float f16_to_f32(uint h) { return uintBitsToFloat(f16_to_f32_bits(h)); }

// f32 -> bf16: round to nearest even on the bits; NaN keeps its sign and is quieted.
uint f32_to_bf16_bits(uint u)
{
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (u >> 16) | 64u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// The value a K/V element takes in attention: its dequantized f32 rounded
// to f16 (the "f16 dequant cache" precision, identical whether the cache
// buffer exists or the rounding happens in the loop).
float round_f16(float v) { return f16_to_f32(f32_to_f16_bits(floatBitsToUint(v))); }
