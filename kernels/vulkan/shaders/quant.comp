#version 450
// Quantize rows of f32 into a K/V cache type other than the turbo family:
// the set_rows of ggml.  One workgroup per row; each invocation quantizes
// whole blocks of 32 in the reference's operation order (ggml's
// quantize_row_*_ref), with every f32 operation from softfloat.glsl.
// Float types (f32, f16, bf16) are elementwise: one invocation per output
// word, over the whole tensor.
//
// Bytes go out through a zeroed uint buffer with atomicOr: blocks of 18,
// 22 or 34 bytes share words with their neighbours, and an OR of disjoint
// bytes is the same whatever order the invocations run in.

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "softfloat.glsl"

// One SPIR-V module per type (QTYPE: the kvv_type value), so that a
// pipeline holds only its own type's code:
// kvv-variant: f32 -DQTYPE=T_F32
// kvv-variant: f16 -DQTYPE=T_F16
// kvv-variant: bf16 -DQTYPE=T_BF16
// kvv-variant: q8_0 -DQTYPE=T_Q8_0
// kvv-variant: q4_0 -DQTYPE=T_Q4_0
// kvv-variant: q4_1 -DQTYPE=T_Q4_1
// kvv-variant: q5_0 -DQTYPE=T_Q5_0
// kvv-variant: q5_1 -DQTYPE=T_Q5_1
// kvv-variant: iq4_nl -DQTYPE=T_IQ4_NL
// kvv-variant: iq4_nl_search -DQTYPE=T_IQ4_NL_SEARCH
layout(local_size_x_id = 0) in;
const uint TYPE = QTYPE;

layout(std430, binding = 0) readonly buffer Src { uint xs[]; };  // f32 bits
layout(std430, binding = 1) buffer Dst { uint dst[]; };

layout(push_constant) uniform Params {
    uint nrows, ncols, row_bytes, gx;
} pc;

// ---- a byte writer: consecutive bytes collected into words ----
uint bw_word = 0xffffffffu, bw_val = 0u;
void bw_flush()
{
    if (bw_val != 0u)
        atomicOr(dst[bw_word], bw_val);
    bw_val = 0u;
}
void put8(uint off, uint v)
{
    if ((off >> 2) != bw_word) {
        bw_flush();
        bw_word = off >> 2;
    }
    bw_val |= (v & 0xffu) << ((off & 3u) * 8u);
}
void put16(uint off, uint v)
{
    put8(off, v);
    put8(off + 1u, v >> 8);
}

// f32 constants, as bits
const uint F_0 = 0x00000000u;
const uint F_HALF = 0x3f000000u;
const uint F_1 = 0x3f800000u;
const uint F_127 = 0x42fe0000u;
const uint F_M8 = 0xc1000000u;
const uint F_8_5 = 0x41080000u;
const uint F_15 = 0x41700000u;
const uint F_M16 = 0xc1800000u;
const uint F_16_5 = 0x41840000u;
const uint F_31 = 0x41f80000u;
const uint F_MAX = 0x7f7fffffu;
const uint F_GROUP_MAX_EPS = 0x26901d7du; // 1e-15f

uint L[32]; // the block's indices

// ---- q8_0: d = amax/127, q = roundf(x * (1/d)) ----
void block_q8_0(uint x0, uint o)
{
    uint amax = F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        uint a = xs[x0 + j] & SF_ABS;
        amax = sf_gt(amax, a) ? amax : a; // ggml's MAX(amax, fabsf(v))
    }
    uint d = sf_div(amax, F_127);
    uint id = !sf_iszero(d) ? sf_div(F_1, d) : F_0;
    put16(o, f32_to_f16_bits(d));
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++)
        put8(o + 2u + j, sf_roundf_byte(sf_mul(xs[x0 + j], id)));
}

// the signed value of largest magnitude, the first one on equal magnitudes
uint signed_max(uint x0)
{
    uint amax = F_0, mx = F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        uint v = xs[x0 + j];
        if (sf_lt(amax, v & SF_ABS)) {
            amax = v & SF_ABS;
            mx = v;
        }
    }
    return mx;
}

void min_max(uint x0, out uint mn, out uint mx)
{
    mn = F_MAX;
    mx = F_MAX | SF_SIGN;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        uint v = xs[x0 + j];
        if (sf_lt(v, mn))
            mn = v;
        if (sf_gt(v, mx))
            mx = v;
    }
}

// ggml's nibble layout: element j low, j+16 high; bit 4 of each into qh
void pack_nibbles(uint qs, uint qh, bool five)
{
    if (five) {
        uint h = 0u;
        [[dont_unroll]] for (uint j = 0u; j < 32u; j++)
            h |= ((L[j] >> 4) & 1u) << j;
        [[dont_unroll]] for (uint i = 0u; i < 4u; i++)
            put8(qh + i, h >> (8u * i));
    }
    [[dont_unroll]] for (uint j = 0u; j < 16u; j++)
        put8(qs + j, (L[j] & 15u) | ((L[j + 16u] & 15u) << 4));
}

// q4_0 / q5_0: d = max / -(2^(b-1)), q = MIN(2^b - 1, (int8)(x*id + 2^(b-1) + 0.5))
void block_q_0(uint x0, uint o, uint neg_half, uint offs, int qmax, bool five)
{
    uint d = sf_div(signed_max(x0), neg_half);
    uint id = !sf_iszero(d) ? sf_div(F_1, d) : F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        int q = sf_i8(sf_trunc_byte(sf_add(sf_mul(xs[x0 + j], id), offs)));
        L[j] = uint(min(q, qmax)) & 0xffu;
    }
    put16(o, f32_to_f16_bits(d));
    pack_nibbles(o + (five ? 6u : 2u), o + 2u, five);
}

// q4_1 / q5_1: d = (max - min) / (2^b - 1), q = (x - min) * id + 0.5 truncated
void block_q_1(uint x0, uint o, uint levels, bool five)
{
    uint mn, mx;
    min_max(x0, mn, mx);
    uint d = sf_div(sf_sub(mx, mn), levels);
    uint id = !sf_iszero(d) ? sf_div(F_1, d) : F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        uint b = sf_trunc_byte(sf_add(sf_mul(sf_sub(xs[x0 + j], mn), id), F_HALF));
        // q4_1: MIN(15, (int8_t)v); q5_1: (uint8_t)v, no clamp (bits 0-4 are stored)
        L[j] = five ? b : uint(min(sf_i8(b), 15)) & 0xffu;
    }
    put16(o, f32_to_f16_bits(d));
    put16(o + 2u, f32_to_f16_bits(mn));
    pack_nibbles(o + (five ? 8u : 4u), o + 4u, five);
}

// ---- iq4_nl: the non-linear grid ----
const int IQ4_GRID[16] = int[](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
uint grid_f(uint i) { return sf_from_int(IQ4_GRID[i]); }

// ggml's best_index_int8: bisection, then the nearer neighbour (an exact
// midpoint goes to the upper index)
uint best_index(uint x)
{
    if (sf_le(x, grid_f(0u)))
        return 0u;
    if (sf_ge(x, grid_f(15u)))
        return 15u;
    uint ml = 0u, mu = 15u;
    [[dont_unroll]] while (mu - ml > 1u) {
        uint mav = (ml + mu) / 2u;
        if (sf_lt(x, grid_f(mav)))
            mu = mav;
        else
            ml = mav;
    }
    return sf_lt(sf_sub(x, grid_f(mu - 1u)), sf_sub(grid_f(mu), x)) ? mu - 1u : mu;
}

// one pass at inverse scale id: indices into L and the weighted sums
// (weights x*x; ((w*q)*x) and ((w*q)*q), summed in order)
void iq4_pass(uint x0, uint id, out uint sumqx, out uint sumq2)
{
    sumqx = F_0;
    sumq2 = F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        uint x = xs[x0 + j];
        uint l = best_index(sf_mul(id, x));
        L[j] = l;
        uint q = grid_f(l);
        uint wq = sf_mul(sf_mul(x, x), q);
        sumqx = sf_add(sumqx, sf_mul(wq, x));
        sumq2 = sf_add(sumq2, sf_mul(wq, q));
    }
}

void iq4_amax(uint x0, out uint amax, out uint mx)
{
    amax = F_0;
    mx = F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++) {
        uint x = xs[x0 + j];
        if (sf_gt(x & SF_ABS, amax)) {
            amax = x & SF_ABS;
            mx = x;
        }
    }
}

// quantize_row_iq4_nl_ref (the set_rows path): no scale search
void block_iq4_nl(uint x0, uint o)
{
    uint amax, mx, d = F_0;
    iq4_amax(x0, amax, mx);
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++)
        L[j] = 0u;
    if (!sf_lt(amax, F_GROUP_MAX_EPS)) {
        d = sf_div(mx, grid_f(0u));
        uint sumqx, sumq2;
        iq4_pass(x0, sf_div(F_1, d), sumqx, sumq2);
        d = sf_gt(sumq2, F_0) ? sf_div(sumqx, sumq2) : F_0;
    }
    put16(o, f32_to_f16_bits(d));
    pack_nibbles(o + 2u, 0u, false);
}

// ggml_quantize_chunk's iq4_nl (ntry = 7): search 15 scales, keep the best
// least-squares fit, then index again with that f32 scale
void block_iq4_nl_search(uint x0, uint o)
{
    uint amax, mx, d = F_0;
    iq4_amax(x0, amax, mx);
    if (!sf_lt(amax, F_GROUP_MAX_EPS)) {
        d = sf_div(mx ^ SF_SIGN, grid_f(0u));
        uint sumqx, sumq2;
        iq4_pass(x0, sf_div(F_1, d), sumqx, sumq2);
        d = sf_gt(sumq2, F_0) ? sf_div(sumqx, sumq2) : F_0;
        uint best = sf_mul(d, sumqx);
        [[dont_unroll]] for (int itry = -7; itry <= 7; itry++) {
            uint id = sf_div(sf_from_int(itry + IQ4_GRID[0]), mx);
            iq4_pass(x0, id, sumqx, sumq2);
            if (sf_gt(sumq2, F_0) && sf_gt(sf_mul(sumqx, sumqx), sf_mul(best, sumq2))) {
                d = sf_div(sumqx, sumq2);
                best = sf_mul(d, sumqx);
            }
        }
    }
    uint id = !sf_iszero(d) ? sf_div(F_1, d) : F_0;
    [[dont_unroll]] for (uint j = 0u; j < 32u; j++)
        L[j] = best_index(sf_mul(id, xs[x0 + j]));
    put16(o, f32_to_f16_bits(d));
    pack_nibbles(o + 2u, 0u, false);
}

void quantize_block(uint x0, uint o)
{
    if (TYPE == T_Q8_0)
        block_q8_0(x0, o);
    else if (TYPE == T_Q4_0)
        block_q_0(x0, o, F_M8, F_8_5, 15, false);
    else if (TYPE == T_Q5_0)
        block_q_0(x0, o, F_M16, F_16_5, 31, true);
    else if (TYPE == T_Q4_1)
        block_q_1(x0, o, F_15, false);
    else if (TYPE == T_Q5_1)
        block_q_1(x0, o, F_31, true);
    else if (TYPE == T_IQ4_NL)
        block_iq4_nl(x0, o);
    else if (TYPE == T_IQ4_NL_SEARCH)
        block_iq4_nl_search(x0, o);
    bw_flush();
}

// ---- float types: one output word per invocation ----
void float_word(uint w)
{
    uint n = pc.nrows * pc.ncols;
    if (TYPE == T_F32) {
        if (w < n)
            dst[w] = xs[w];
        return;
    }
    uint e = 2u * w;
    if (e >= n)
        return;
    uint lo, hi = 0u;
    if (TYPE == T_F16) {
        lo = f32_to_f16_bits(xs[e]);
        if (e + 1u < n)
            hi = f32_to_f16_bits(xs[e + 1u]);
    } else {
        lo = f32_to_bf16_bits(xs[e]);
        if (e + 1u < n)
            hi = f32_to_bf16_bits(xs[e + 1u]);
    }
    dst[w] = lo | (hi << 16);
}

void main()
{
    uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx;
    if (type_is_float(TYPE)) {
        float_word(g * gl_WorkGroupSize.x + gl_LocalInvocationID.x);
        return;
    }
    if (g >= pc.nrows)
        return;
    uint nb = pc.ncols / 32u;
    [[dont_unroll]] for (uint b = gl_LocalInvocationID.x; b < nb; b += gl_WorkGroupSize.x)
        quantize_block(g * pc.ncols + 32u * b, g * pc.row_bytes + b * TYPE_BYTES[TYPE]);
}
