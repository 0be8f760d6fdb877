#version 450
// Quantize rows of f32 into a TurboQuant type (SPEC 3, facts.md): per
// rotation group of g values, norm, normalize, rotate (S1, Walsh-Hadamard
// butterfly, 1/sqrt(g), S2), nearest centroid by midpoint counting, and the
// corrected norm.  One workgroup per row; the row lives in shared memory.
//
// Every f32 operation is softfloat.glsl's, in the forks' order: the sums
// (norm, corrected norm, residual) are sequential over the group by one
// invocation, as the reference evaluates them, so the bytes are the
// canonical ones rather than merely within the oracle's tie allowance.

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "softfloat.glsl"
#include "turbo_tables.glsl"

// One SPIR-V module per type (QTYPE: the kvv_type value):
// kvv-variant: turbo2 -DQTYPE=T_TURBO2
// kvv-variant: turbo2_qk128 -DQTYPE=T_TURBO2_QK128
// kvv-variant: turbo3 -DQTYPE=T_TURBO3
// kvv-variant: turbo3_qk128 -DQTYPE=T_TURBO3_QK128
// kvv-variant: turbo4 -DQTYPE=T_TURBO4
// kvv-variant: turbo4_qjl -DQTYPE=T_TURBO4_QJL
// kvv-variant: turbo4_narrow -DQTYPE=T_TURBO4_NARROW
layout(local_size_x_id = 0) in;
const uint TYPE = QTYPE;
const uint MAXC = 1024u;   // the host declines longer rows
const uint MAXG = MAXC / 32u; // groups per row (a turbo group holds at least one block of 32)

layout(std430, binding = 0) readonly buffer Src { uint xs[]; };
layout(std430, binding = 1) buffer Dst { uint dst[]; };

layout(push_constant) uniform Params {
    uint nrows, ncols, row_bytes, gx;
    uint g, log2g;
} pc;

shared uint u[MAXC];    // the row, then its rotated coordinates
shared uint res[MAXC];  // turbo4@qjl: residual, then its projection
shared uint idx[MAXC];
shared uint gn[MAXG], ginv[MAXG], gnorm[MAXG], grn[MAXG];

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

const uint F_0 = 0u;
const uint F_1 = 0x3f800000u;

bool four_bit() { return TYPE == T_TURBO4 || TYPE == T_TURBO4_NARROW; }
uint nmid() { return TYPE == T_TURBO2 || TYPE == T_TURBO2_QK128 ? 3u : four_bit() ? 15u : 7u; }
uint mid(uint k)
{
    return TYPE == T_TURBO2 || TYPE == T_TURBO2_QK128 ? TQ_M2[k]
           : TYPE == T_TURBO4                         ? TQ_M4[k]
           : TYPE == T_TURBO4_NARROW                  ? TQ_M4N[k]
                                                      : TQ_M3[k];
}
uint centroid_of(uint i)
{
    return TYPE == T_TURBO2 || TYPE == T_TURBO2_QK128 ? TQ_C2[i]
           : TYPE == T_TURBO4                         ? TQ_C4[i]
           : TYPE == T_TURBO4_NARROW                  ? TQ_C4N[i]
                                                      : TQ_C3[i];
}

// The forks' transform of each group of the row held in `v`, in place:
// signs a, butterfly, times (1/sqrt(g) with signs b).  All invocations call it.
#define ROTATE(v, A, B)                                                                                        \
    {                                                                                                          \
        [[dont_unroll]] for (uint i = lid; i < n; i += wg)                                                                     \
            v[i] ^= tq_sign_bit(A, i % pc.g);                                                                  \
        barrier();                                                                                             \
        [[dont_unroll]] for (uint h = 1u; h < pc.g; h <<= 1) {                                                                 \
            [[dont_unroll]] for (uint p = lid; p < n / 2u; p += wg) {                                                          \
                uint j = (p / h) * 2u * h + (p % h);                                                           \
                uint a = v[j], b = v[j + h];                                                                   \
                v[j] = sf_add(a, b);                                                                           \
                v[j + h] = sf_sub(a, b);                                                                       \
            }                                                                                                  \
            barrier();                                                                                         \
        }                                                                                                      \
        [[dont_unroll]] for (uint i = lid; i < n; i += wg)                                                                     \
            v[i] = sf_mul(v[i], TQ_INV_SQRT[pc.log2g] ^ tq_sign_bit(B, i % pc.g));                             \
        barrier();                                                                                             \
    }

void main()
{
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx;
    if (row >= pc.nrows)
        return; // uniform across the workgroup: no barrier is skipped by part of it
    uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint n = pc.ncols, ng = n / pc.g, x0 = row * n;
    bool qjl = TYPE == T_TURBO4_QJL;

    [[dont_unroll]] for (uint i = lid; i < n; i += wg)
        u[i] = xs[x0 + i];
    barrier();
    // norm of each group, in order; inv = 1/n above the zero threshold
    [[dont_unroll]] for (uint gi = lid; gi < ng; gi += wg) {
        uint s = F_0;
        [[dont_unroll]] for (uint j = 0u; j < pc.g; j++) {
            uint x = u[gi * pc.g + j];
            s = sf_add(s, sf_mul(x, x));
        }
        uint nrm = sf_sqrt(s);
        gn[gi] = nrm;
        ginv[gi] = sf_gt(nrm, TQ_EPS) ? sf_div(F_1, nrm) : F_0;
    }
    barrier();
    [[dont_unroll]] for (uint i = lid; i < n; i += wg)
        u[i] = sf_mul(u[i], ginv[i / pc.g]);
    barrier();
    ROTATE(u, TQ_S1, TQ_S2)
    // nearest centroid: the number of midpoints at or below u
    [[dont_unroll]] for (uint i = lid; i < n; i += wg) {
        uint k = 0u, v = u[i];
        [[dont_unroll]] for (uint m = 0u; m < nmid(); m++)
            k += sf_le(mid(m), v) ? 1u : 0u;
        idx[i] = k;
        if (qjl)
            res[i] = sf_sub(v, TQ_C3[k]);
    }
    barrier();
    if (qjl) {
        // legacy turbo4: the raw norm, the residual's norm, and the signs of
        // the residual's QJL projection (the same transform, other signs)
        [[dont_unroll]] for (uint gi = lid; gi < ng; gi += wg) {
            uint s = F_0;
            [[dont_unroll]] for (uint j = 0u; j < pc.g; j++) {
                uint r = res[gi * pc.g + j];
                s = sf_add(s, sf_mul(r, r));
            }
            gnorm[gi] = f32_to_f16_bits(gn[gi]);
            grn[gi] = f32_to_f16_bits(sf_sqrt(s));
        }
        barrier();
        ROTATE(res, TQ_QJL_S1, TQ_QJL_S2)
    } else {
        // corrected norm: n / ||C[idx]|| over the group
        [[dont_unroll]] for (uint gi = lid; gi < ng; gi += wg) {
            uint s = F_0;
            [[dont_unroll]] for (uint j = 0u; j < pc.g; j++) {
                uint c = centroid_of(idx[gi * pc.g + j]);
                s = sf_add(s, sf_mul(c, c));
            }
            uint r = sf_sqrt(s);
            gnorm[gi] = f32_to_f16_bits(sf_gt(r, TQ_EPS) ? sf_div(gn[gi], r) : gn[gi]);
        }
        barrier();
    }

    // pack: one invocation per block
    uint B = TYPE_BLOCK[TYPE], nb = n / B;
    [[dont_unroll]] for (uint b = lid; b < nb; b += wg) {
        uint o = row * pc.row_bytes + b * TYPE_BYTES[TYPE], e0 = b * B;
        put16(o, gnorm[e0 / pc.g]);
        if (four_bit()) {
            put16(o + 2u, 0u);
            [[dont_unroll]] for (uint j = 0u; j < B; j += 2u)
                put8(o + 4u + j / 2u, idx[e0 + j] | (idx[e0 + j + 1u] << 4));
        } else if (qjl) {
            put16(o + 2u, grn[e0 / pc.g]);
            // 3-bit indices as a little-endian bit stream: 8 indices per 3 bytes
            [[dont_unroll]] for (uint j = 0u; j < B; j += 8u) {
                uint bits = 0u;
                [[dont_unroll]] for (uint k = 0u; k < 8u; k++)
                    bits |= idx[e0 + j + k] << (3u * k);
                uint ob = o + 4u + 3u * (j / 8u);
                put8(ob, bits);
                put8(ob + 1u, bits >> 8);
                put8(ob + 2u, bits >> 16);
            }
            [[dont_unroll]] for (uint j = 0u; j < B; j += 8u) {
                uint s = 0u;
                [[dont_unroll]] for (uint k = 0u; k < 8u; k++)
                    s |= (sf_ge(res[e0 + j + k], F_0) ? 1u : 0u) << k;
                put8(o + 52u + j / 8u, s);
            }
        } else {
            [[dont_unroll]] for (uint j = 0u; j < B; j += 4u) {
                uint q = 0u;
                [[dont_unroll]] for (uint k = 0u; k < 4u; k++)
                    q |= (idx[e0 + j + k] & 3u) << (2u * k);
                put8(o + 2u + j / 4u, q);
            }
            if (TYPE == T_TURBO3 || TYPE == T_TURBO3_QK128)
                [[dont_unroll]] for (uint j = 0u; j < B; j += 8u) {
                    uint s = 0u;
                    [[dont_unroll]] for (uint k = 0u; k < 8u; k++)
                        s |= ((idx[e0 + j + k] >> 2) & 1u) << k;
                    put8(o + 2u + B / 4u + j / 8u, s);
                }
        }
        bw_flush();
    }
}
