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
layout(std430, binding = 6) buffer Pb { float part[]; }; // per tile: max, sum, visible keys, acc[dv]

layout(push_constant) uniform Params {
    uint dk, dv, n_q, n_kv;
    uint n_head, n_head_kv, type_k, type_v;
    uint k_row_bytes, v_row_bytes, has_mask, lut;
    float scale, softcap;
    uint rot_q_g, rot_q_log2, rot_o_g, rot_o_log2;
    uint nsplit, ntiles, gx, kv_f16;
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

// K and V elements as attention uses them: dequantized in f32, or rounded
// to f16 when the kernel runs with an f16 dequant cache (kv_f16; the
// in-loop path then rounds the same way).  t is meant to be a constant (see
// TYPE_SWITCH).
float kv_use(float v) { return pc.kv_f16 != 0u ? round_f16(v) : v; }
float k_at(uint t, uint row, uint d) { return kv_use(dq_k(t, row * pc.k_row_bytes, d, pc.lut)); }
float v_at(uint t, uint row, uint d) { return kv_use(dq_v(t, row * pc.v_row_bytes, d, pc.lut)); }

// One pipeline serves every K/V type pair: the type is a push constant,
// and the loops that dequantize are instantiated once per type behind a
// switch taken once per loop (uniform across the dispatch).  Inside each
// instance the type is a constant and the dequantization folds to that
// type's few instructions, as in a per-type shader, without a pipeline per
// pair (which on a CPU device would cost more to compile than to run).
// CALL(t) is a macro taking the type constant.  Every type id needs its
// own case (an id past the last case would run as the default's type and
// read the cache in the wrong format), so TYPE_SWITCH is generated from
// include/kvv/formats.def with common.glsl's constants.

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

// NaN tests on the bits (no fast-math assumption can remove them)
bool fa_isnan(float x) { return (floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u; }
// the larger, or NaN when either is: a NaN logit must reach the output
float fa_max(float a, float b) { return fa_isnan(a) || fa_isnan(b) ? uintBitsToFloat(0x7fc00000u) : max(a, b); }

// Whether query qrow sees key: it exists and the mask is not -inf (ggml
// skips exactly those keys; any other key meets its V row, even with a
// weight of zero, so that 0 * Inf gives NaN as it does there).
bool fa_visible(uint qrow, uint key, bool valid)
{
    return valid && !(pc.has_mask != 0u && maskv[qrow * pc.n_kv + key] == NEG_INF);
}

// The logit of a visible key: scale, softcap, then the ALiBi-scaled mask.
float fa_score(float dot, uint qrow, uint key, float slope)
{
    precise float s = dot * pc.scale;
    if (pc.softcap != 0.0) {
        precise float th = fa_tanh(s);
        s = pc.softcap * th;
    }
    if (pc.has_mask != 0u) {
        precise float mv = slope * maskv[qrow * pc.n_kv + key];
        s = s + mv;
    }
    return s;
}

// The weight of a visible key in its tile: exp(logit - tile max), 0 when
// either is -inf (ggml's expf(-inf) and the reference's rule).
float fa_weight(float sc, float mt)
{
    precise float x = sc - mt;
    return mt == NEG_INF || sc == NEG_INF ? 0.0 : fa_exp(x);
}

// Merging a tile's partial (mt, st, at; seen_t: it had a visible key) into
// a running state (m, s, acc; seen): returns 0 to keep the state (the tile
// saw nothing), 1 to take the tile's (the state saw nothing), 2 to blend
// acc*fr + at*ft.  Equal maxima (both -inf included) scale by exactly 1.
uint fa_combine(inout float m, inout float s, inout bool seen, float mt, float st, bool seen_t, out float fr,
                out float ft)
{
    fr = 1.0;
    ft = 0.0;
    if (!seen_t)
        return 0u;
    if (!seen) {
        m = mt;
        s = st;
        seen = true;
        ft = 1.0;
        return 1u;
    }
    float mx = fa_max(m, mt);
    precise float dr = m - mx, dt = mt - mx;
    fr = m == mx ? 1.0 : fa_exp(dr);
    ft = mt == mx ? 1.0 : fa_exp(dt);
#ifdef KVV_FAULT_vk_no_rescale
    fr = 1.0; // mutant: tiles merged without the running-max rescale
    ft = 1.0;
#endif
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

// The output value acc/S.  A row that saw no key (fully masked), or whose
// visible keys all scored -inf, outputs zeros as the reference does: its
// weights are all 0, and acc may hold 0 * Inf = NaN from V rows it met.
float fa_out(float acc, float s, float m)
{
    precise float r = 1.0 / s;
    precise float o = acc * r;
    return s == 0.0 || m == NEG_INF ? 0.0 : o;
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
