#version 450
// Flash attention, decode ("vec") variant: one workgroup per (query row,
// head, split-K part).  For each tile of TK keys, groups of 8 invocations
// compute the dot products (each lane a strided slice of the head dim,
// then an 8-lane subgroup reduction), the tile's max and weights follow,
// and each invocation accumulates its own output channels over the tile.
// With one part the tile partials merge in registers in tile order; with
// several, they go to memory and fa_reduce merges them in the same order.
//
// kvv-variant: sg
// kvv-variant: nosg -DKVV_NO_SUBGROUP=1

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef KVV_NO_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(local_size_x = 128) in;
const uint WG = 128u;
const uint TK = 32u;           // keys per tile: fixes the decomposition, whatever the split
const uint MAXD = 1024u;       // head dims up to this

#include "common.glsl"
#include "turbo_tables.glsl"
#include "fa_common.glsl"

shared float qs[MAXD];  // the query row (rotated with K's group when K is a turbo type); the output row at the end
shared float sc[TK];    // logits of the tile (-inf where masked)
shared float pw[TK];    // weights exp(logit - tile max)
shared uint vis[TK];    // 1 where the key is visible
shared float acc[MAXD]; // running weighted sum of V, per channel

#define WHT_BUF qs
#include "wht.glsl"

// q . k for one key, this lane's slice of the head dim (d = lane, lane+8, ...)
float k_dot_as(uint t, uint krow, uint lane)
{
    precise float dot = 0.0;
    for (uint d = lane; d < pc.dk; d += 8u) {
        precise float prod = qs[d] * k_at(t, krow, d);
        dot = dot + prod;
    }
    return dot;
}

// This invocation's channels d = lid, lid+WG, ...: the tile's weighted sum
// of V (keys in order), blended into the running accumulator (one part) or
// written as the tile's partial (split-K).
void v_pass_as(uint t, uint vrow0, uint how, float fr, float ft, uint base)
{
    for (uint d = gl_LocalInvocationID.x; d < pc.dv; d += WG) {
        precise float a = 0.0;
        for (uint jj = 0u; jj < TK; jj++)
            if (vis[jj] != 0u) {
                precise float pv = pw[jj] * v_at(t, vrow0 + jj, d);
                a = a + pv;
            }
        if (pc.nsplit == 1u)
            acc[d] = fa_blend(how, acc[d], a, fr, ft);
        else
            part[base + 3u + d] = a;
    }
}

void main()
{
    uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx;
    uint w = g % pc.nsplit, rh = g / pc.nsplit;
    uint i = rh % pc.n_q, h = rh / pc.n_q;
    if (h >= pc.n_head)
        return;
    uint lid = gl_LocalInvocationID.x, vid = fa_vid();
    uint hk = h / (pc.n_head / pc.n_head_kv);
    uint qrow = h * pc.n_q + i;

    for (uint d = lid; d < pc.dk; d += WG)
        qs[d] = qv[qrow * pc.dk + d];
    if (pc.rot_q_g != 0u)
        wht_shared(pc.dk, pc.rot_q_g, pc.rot_q_log2, false, lid, WG);
    barrier();

    float slope = slopes[h];
    uint t0 = w * pc.ntiles / pc.nsplit, t1 = (w + 1u) * pc.ntiles / pc.nsplit;
    float m = NEG_INF, s = 0.0; // every invocation holds the same copy
    bool seen = false;
    for (uint d = lid; d < pc.dv; d += WG)
        acc[d] = 0.0;

    for (uint t = t0; t < t1; t++) {
        // logits: 16 keys at a time, 8 lanes each
        for (uint jj = vid / 8u; jj < TK; jj += WG / 8u) {
            uint key = t * TK + jj;
            bool valid = key < pc.n_kv;
            uint krow = hk * pc.n_kv + (valid ? key : 0u);
            float dot = 0.0;
#define KDOT(tt) dot = k_dot_as(tt, krow, vid % 8u)
            if (valid)
                TYPE_SWITCH(pc.type_k, KDOT)
            float tot = red8(dot);
            if (vid % 8u == 0u) {
                bool v = fa_visible(i, key, valid);
                vis[jj] = v ? 1u : 0u;
                sc[jj] = v ? fa_score(tot, i, key, slope) : NEG_INF;
            }
        }
        barrier();
        float mt = NEG_INF;
        uint nvis = 0u;
        for (uint jj = 0u; jj < TK; jj++) {
            mt = fa_max(mt, sc[jj]);
            nvis += vis[jj];
        }
        if (lid < TK)
            pw[lid] = vis[lid] != 0u ? fa_weight(sc[lid], mt) : 0.0;
        barrier();
        precise float st = 0.0;
        for (uint jj = 0u; jj < TK; jj++)
            st = st + pw[jj];
        float fr = 1.0, ft = 0.0;
        uint how = 0u, base = (qrow * pc.ntiles + t) * (3u + pc.dv);
        if (pc.nsplit == 1u) {
            how = fa_combine(m, s, seen, mt, st, nvis != 0u, fr, ft);
        } else if (lid == 0u) {
            part[base] = mt;
            part[base + 1u] = st;
            part[base + 2u] = float(nvis);
        }
#define VPASS(tt) v_pass_as(tt, hk * pc.n_kv + t * TK, how, fr, ft, base)
        TYPE_SWITCH(pc.type_v, VPASS)
        barrier();
    }
    if (pc.nsplit != 1u)
        return;

    // out = acc / S, inverse-rotated with V's group when V is a turbo type
    for (uint d = lid; d < pc.dv; d += WG) {
        float o = fa_out(acc[d], s, m);
        qs[d] = o;
    }
    if (pc.rot_o_g != 0u)
        wht_shared(pc.dv, pc.rot_o_g, pc.rot_o_log2, true, lid, WG);
    barrier();
    for (uint d = lid; d < pc.dv; d += WG)
        outv[qrow * pc.dv + d] = qs[d];
}
