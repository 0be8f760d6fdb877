// Shared by the attention shaders (fa_vec, fa_tiled, fa_reduce): bindings,
// parameters, the exp/tanh they use, the 8-lane reduction, and the merge of
// softmax states.
//
// Bit-identity of the speed-only toggles rests on three rules kept here:
//  - the KV range is cut into tiles of a fixed size (a constant of the
//    variant), each tile's partial (max, sum, weighted V) is computed the
//    same way whichever workgroup runs it, and partials are merged in tile
//    order by one function (fa_combine), whatever the split-K count;
//  - K/V values are rounded to f16 before use, so the f16 dequant cache and
//    the in-loop dequantization see the same numbers;
//  - every float operation is `precise` (no contraction that one pipeline
//    might fuse and another not), and reductions have a fixed tree.

layout(std430, binding = 0) readonly buffer Qb { float qv[]; };
layout(std430, binding = 1) readonly buffer Kb { uint kq[]; };
layout(std430, binding = 2) readonly buffer Vb { uint vq[]; };
layout(std430, binding = 3) readonly buffer Mb { float maskv[]; };
layout(std430, binding = 4) readonly buffer Sb { float slopes[]; };
layout(std430, binding = 5) buffer Ob { float outv[]; };
layout(std430, binding = 6) buffer Pb { float part[]; }; // per-tile partials: m, s, acc[dv]

layout(push_constant) uniform Params {
    uint dk, dv, n_q, n_kv;
    uint n_head, n_head_kv, type_k, type_v;
    uint k_row_bytes, v_row_bytes, has_mask, lut;
    float scale, softcap;
    uint rot_q_g, rot_q_log2, rot_o_g, rot_o_log2;
    uint nsplit, ntiles, gx;
} pc;

#define DQ_NAME dq_k
#define DQ_BUF kq
#include "dequant_elem.glsl"
#undef DQ_NAME
#undef DQ_BUF
#define DQ_NAME dq_v
#define DQ_BUF vq
#include "dequant_elem.glsl"
#undef DQ_NAME
#undef DQ_BUF

#define NEG_INF uintBitsToFloat(0xff800000u)

// K and V elements as attention uses them: dequantized, rounded to f16.
// t is meant to be a constant (see TYPE_SWITCH).
float k_at(uint t, uint row, uint d) { return round_f16(dq_k(t, row * pc.k_row_bytes, d, pc.lut)); }
float v_at(uint t, uint row, uint d) { return round_f16(dq_v(t, row * pc.v_row_bytes, d, pc.lut)); }

// One pipeline serves every K/V type pair: the type is a push constant,
// and the loops that dequantize are instantiated once per type behind a
// switch taken once per loop (uniform across the dispatch).  Inside each
// instance the type is a constant and the dequantization folds to that
// type's few instructions, as in a per-type shader, without a pipeline per
// pair (which on a CPU device would cost more to compile than to run).
// CALL(t) is a macro taking the type constant.
#define TYPE_SWITCH(T, CALL)                                                                                   \
    switch (T) {                                                                                               \
    case 0u: CALL(0u); break;                                                                                  \
    case 1u: CALL(1u); break;                                                                                  \
    case 2u: CALL(2u); break;                                                                                  \
    case 3u: CALL(3u); break;                                                                                  \
    case 4u: CALL(4u); break;                                                                                  \
    case 5u: CALL(5u); break;                                                                                  \
    case 6u: CALL(6u); break;                                                                                  \
    case 7u: CALL(7u); break;                                                                                  \
    case 8u: CALL(8u); break;                                                                                  \
    case 9u: CALL(9u); break;                                                                                  \
    case 10u: CALL(10u); break;                                                                                \
    case 11u: CALL(11u); break;                                                                                \
    case 12u: CALL(12u); break;                                                                                \
    case 13u: CALL(13u); break;                                                                                \
    case 14u: CALL(14u); break;                                                                                \
    default: CALL(15u); break;                                                                                 \
    }

// exp(x) for x <= 0 (softmax weights and rescales; -inf gives 0), from
// correctly rounded operations only: Cody-Waite reduction by ln 2 and a
// degree-7 polynomial, about 2 ulp.  Vulkan's exp may be off by 3 + 2|x|
// ulp; this one is the same on every device.
float fa_exp(float x)
{
    if (isnan(x))
        return x;
    if (!(x > -104.0))
        return 0.0; // below half the smallest subnormal
    precise float t = x * uintBitsToFloat(0x3fb8aa3bu) + 0.5; // x log2(e), rounded below
    precise float k = floor(t);
    precise float r = (x - k * uintBitsToFloat(0x3f317200u)) - k * uintBitsToFloat(0x35bfbe8eu);
    precise float p = uintBitsToFloat(0x39500d01u);  // 1/7!
    p = p * r + uintBitsToFloat(0x3ab60b61u);        // 1/6!
    p = p * r + uintBitsToFloat(0x3c088889u);        // 1/5!
    p = p * r + uintBitsToFloat(0x3d2aaaabu);        // 1/4!
    p = p * r + uintBitsToFloat(0x3e2aaaabu);        // 1/3!
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return ldexp(p, int(k));
}

// tanh from fa_exp of a non-positive argument
float fa_tanh(float y)
{
    precise float e = fa_exp(-2.0 * abs(y));
    precise float t = (1.0 - e) / (1.0 + e);
    return y < 0.0 ? -t : t;
}

// The logit of one key: scale, softcap, then the ALiBi-scaled mask; -inf
// when the key is masked out (ggml skips it) or does not exist.
float fa_score(float dot, uint qrow, uint key, float slope, bool valid)
{
    precise float s = dot * pc.scale;
    if (pc.softcap != 0.0) {
        precise float th = fa_tanh(s);
        s = pc.softcap * th;
    }
    if (!valid)
        return NEG_INF;
    if (pc.has_mask != 0u) {
        precise float mv = slope * maskv[qrow * pc.n_kv + key];
        if (mv == NEG_INF)
            return NEG_INF;
        s = s + mv;
    }
    return s;
}

// Merging a tile's partial (mt, st, at) into a running state (m, s, acc):
// returns 0 when the tile had no visible key (keep), 1 when the state was
// empty (take the tile's), 2 when both are blended with acc*fr + at*ft.
uint fa_combine(inout float m, inout float s, float mt, float st, out float fr, out float ft)
{
    fr = 1.0;
    ft = 0.0;
    if (mt == NEG_INF)
        return 0u;
    if (m == NEG_INF) {
        m = mt;
        s = st;
        return 1u;
    }
    float mx = max(m, mt);
    precise float dr = m - mx, dt = mt - mx;
    fr = fa_exp(dr);
    ft = fa_exp(dt);
    precise float a = s * fr, b = st * ft;
    s = a + b;
    m = mx;
    return 2u;
}
float fa_blend(uint how, float acc, float at, float fr, float ft)
{
    if (how == 0u)
        return acc;
    if (how == 1u)
        return at;
    precise float a = acc * fr, b = at * ft;
    precise float r = a + b;
    return r;
}

// 1/S, or 0 for a row that saw no key (a fully masked row outputs zeros)
float fa_sinv(float s)
{
    precise float r = 1.0 / s;
    return s == 0.0 ? 0.0 : r;
}

// ---- the sum over aligned groups of 8 invocations, one fixed tree ----
// vid: the invocation's index counted along the subgroups, so that groups
// of 8 consecutive vids sit in one subgroup (the device's subgroup size is
// read, never assumed: 8 on lavapipe, 32 on NVIDIA, 64 on some AMD).
#ifndef KVV_NO_SUBGROUP
uint fa_vid() { return gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID; }
float red8(float v)
{
    precise float a = v + subgroupShuffleXor(v, 1u);
    precise float b = a + subgroupShuffleXor(a, 2u);
    precise float c = b + subgroupShuffleXor(b, 4u);
    return c;
}
#else
// without subgroup operations: the same tree through shared memory
shared float red_buf[gl_WorkGroupSize.x];
uint fa_vid() { return gl_LocalInvocationID.x; }
float red8(float v)
{
    uint i = gl_LocalInvocationID.x;
    precise float x = v;
    for (uint k = 1u; k < 8u; k <<= 1) {
        red_buf[i] = x;
        barrier();
        precise float y = x + red_buf[i ^ k];
        barrier();
        x = y;
    }
    return x;
}
#endif
