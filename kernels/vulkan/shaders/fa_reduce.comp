#version 450
// Split-K reduction: one workgroup per (query row, head) merges the
// per-tile partials (max, sum, visible keys, weighted V) in tile order
// with fa_combine, exactly as a single
// workgroup does in registers, then divides by the sum and inverse-rotates.

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 128) in;
const uint WG = 128u;
const uint MAXD = 1024u;
const uint MAXO = MAXD / WG;
#define KVV_NO_SUBGROUP 1 // no reductions here

#include "common.glsl"
#include "turbo_tables.glsl"
#include "fa_common.glsl"

shared float ob[MAXD];
#define WHT_BUF ob
#include "wht.glsl"

void main()
{
    uint qrow = gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx;
    if (qrow >= pc.n_head * pc.n_q)
        return;
    uint lid = gl_LocalInvocationID.x;
    float m = NEG_INF, s = 0.0;
    bool seen = false;
    float acc[MAXO];
    [[unroll]] for (uint k = 0u; k < MAXO; k++)
        acc[k] = 0.0;
    for (uint t = 0u; t < pc.ntiles; t++) {
        uint base = (qrow * pc.ntiles + t) * (3u + pc.dv);
        float fr, ft;
        uint how = fa_combine(m, s, seen, part[base], part[base + 1u], part[base + 2u] != 0.0, fr, ft);
        [[unroll]] for (uint k = 0u; k < MAXO; k++) {
            uint d = lid + k * WG;
            float at = d < pc.dv ? part[base + 3u + d] : 0.0;
            acc[k] = fa_blend(how, acc[k], at, fr, ft);
        }
    }
    [[unroll]] for (uint k = 0u; k < MAXO; k++) {
        uint d = lid + k * WG;
        float o = fa_out(acc[k], s, m);
        if (d < pc.dv)
            ob[d] = o;
    }
    if (pc.rot_o_g != 0u)
        wht_shared(pc.dv, pc.rot_o_g, pc.rot_o_log2, true, lid, WG);
    barrier();
    for (uint d = lid; d < pc.dv; d += WG)
        outv[qrow * pc.dv + d] = ob[d];
}
