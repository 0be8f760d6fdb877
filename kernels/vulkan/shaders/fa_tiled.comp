#version 450
// Flash attention, prefill ("tiled") variant: one workgroup per (block of
// BR query rows, head, split-K part).  Each tile of TK keys is dequantized
// once into shared memory (K, then V in the same space) and serves all BR
// rows: the logits of the BR x TK pairs come from 8-lane groups with a
// subgroup reduction, the weights per row, then each invocation accumulates
// its own (row, channel) outputs over the tile.  Partials merge in tile
// order exactly as in the vec variant (fa_common.glsl).
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
const uint BR = 4u;            // query rows per workgroup
const uint TK = 4u;            // keys per tile
const uint MAXD = 576u;        // head dims up to this (shared memory: about 28 KiB)

#include "common.glsl"
#include "turbo_tables.glsl"
#include "fa_common.glsl"

shared float qt[BR * MAXD];        // BR query rows, rotated when K is; the output rows at the end
shared float acc[BR * MAXD];       // running weighted sums of V
shared float kvt[TK * MAXD];       // the tile's K (then V) values
shared float sc[BR * TK];          // logits (-inf where masked)
shared float pw[BR * TK];          // weights
shared uint vis[BR * TK];          // 1 where the key is visible
shared float rm[BR], rs[BR];       // running max and sum per row
shared uint rseen[BR];             // 1 once the row has seen a visible key
shared float rfr[BR], rft[BR];     // this tile's blend factors per row
shared uint rhow[BR];

#define WHT_BUF qt
#include "wht.glsl"

// The tile's rows of K (is_v false) or V, zero past n_kv.  ty is a type
// constant (TYPE_SWITCH).
void load_tile_as(uint ty, uint t, uint hk, uint dim, bool is_v)
{
    for (uint e = gl_LocalInvocationID.x; e < TK * dim; e += WG) {
        uint c = e / dim, d = e % dim, key = t * TK + c;
        float v = 0.0;
        if (key < pc.n_kv)
            v = is_v ? v_at(ty, hk * pc.n_kv + key, d) : k_at(ty, hk * pc.n_kv + key, d);
        kvt[e] = v;
    }
}

void main()
{
    uint nb = (pc.n_q + BR - 1u) / BR;
    uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx;
    uint w = g % pc.nsplit, rb = (g / pc.nsplit) % nb, h = g / pc.nsplit / nb;
    if (h >= pc.n_head)
        return;
    uint lid = gl_LocalInvocationID.x, vid = fa_vid();
    uint hk = h / (pc.n_head / pc.n_head_kv);
    uint i0 = rb * BR;

    for (uint e = lid; e < BR * pc.dk; e += WG) {
        uint r = e / pc.dk;
        qt[e] = i0 + r < pc.n_q ? qv[(h * pc.n_q + i0 + r) * pc.dk + e % pc.dk] : 0.0;
    }
    if (pc.rot_q_g != 0u)
        wht_shared(BR * pc.dk, pc.rot_q_g, pc.rot_q_log2, false, lid, WG);
    barrier();

    float slope = slopes[h];
    uint t0 = w * pc.ntiles / pc.nsplit, t1 = (w + 1u) * pc.ntiles / pc.nsplit;
    for (uint e = lid; e < BR * pc.dv; e += WG)
        acc[e] = 0.0;
    if (lid < BR) {
        rm[lid] = NEG_INF;
        rs[lid] = 0.0;
        rseen[lid] = 0u;
    }

    for (uint t = t0; t < t1; t++) {
#define LOADK(tt) load_tile_as(tt, t, hk, pc.dk, false)
        TYPE_SWITCH(pc.type_k, LOADK)
        barrier();
        // logits of the BR x TK pairs, 16 at a time, 8 lanes each
        for (uint pr = vid / 8u; pr < BR * TK; pr += WG / 8u) {
            uint r = pr / TK, c = pr % TK, key = t * TK + c;
            bool valid = key < pc.n_kv && i0 + r < pc.n_q;
            precise float dot = 0.0;
            for (uint d = vid % 8u; d < pc.dk; d += 8u) {
                precise float prod = qt[r * pc.dk + d] * kvt[c * pc.dk + d];
                dot = dot + prod;
            }
            float tot = red8(dot);
#ifdef KVV_FAULT_vk_tiled_softcap
            // mutant: the prefill kernel divides by the softcap again,
            // though the host already folded 1/softcap into the scale
            if (pc.softcap != 0.0)
                tot = tot / pc.softcap;
#endif
            if (vid % 8u == 0u) {
                bool v = fa_visible(valid ? i0 + r : 0u, key, valid);
                vis[pr] = v ? 1u : 0u;
                sc[pr] = v ? fa_score(tot, i0 + r, key, slope) : NEG_INF;
            }
        }
        barrier();
        // weights per row; the K tile is no longer needed: V replaces it
        if (lid < BR * TK) {
            uint r = lid / TK;
            float mt = NEG_INF;
            for (uint c = 0u; c < TK; c++)
                mt = fa_max(mt, sc[r * TK + c]);
            pw[lid] = vis[lid] != 0u ? fa_weight(sc[lid], mt) : 0.0;
        }
#define LOADV(tt) load_tile_as(tt, t, hk, pc.dv, true)
        TYPE_SWITCH(pc.type_v, LOADV)
        barrier();
        // per row: the tile's max and sum, merged into the running state
        if (lid < BR) {
            float mt = NEG_INF;
            precise float st = 0.0;
            uint nvis = 0u;
            for (uint c = 0u; c < TK; c++) {
                mt = fa_max(mt, sc[lid * TK + c]);
                st = st + pw[lid * TK + c];
                nvis += vis[lid * TK + c];
            }
            if (pc.nsplit == 1u) {
                float m = rm[lid], s = rs[lid], fr, ft;
                bool seen = rseen[lid] != 0u;
                rhow[lid] = fa_combine(m, s, seen, mt, st, nvis != 0u, fr, ft);
                rm[lid] = m;
                rs[lid] = s;
                rseen[lid] = seen ? 1u : 0u;
                rfr[lid] = fr;
                rft[lid] = ft;
            } else if (i0 + lid < pc.n_q) {
                uint base = ((h * pc.n_q + i0 + lid) * pc.ntiles + t) * (3u + pc.dv);
                part[base] = mt;
                part[base + 1u] = st;
                part[base + 2u] = float(nvis);
            }
        }
        barrier();
        // each (row, channel): the tile's weighted sum of V, keys in order
        for (uint e = lid; e < BR * pc.dv; e += WG) {
            uint r = e / pc.dv, d = e % pc.dv;
            precise float a = 0.0;
            for (uint c = 0u; c < TK; c++)
                if (vis[r * TK + c] != 0u) {
#ifndef KVV_FAULT_vk_tiled_mla_stride
                    precise float pv = pw[r * TK + c] * kvt[c * pc.dv + d];
#else
                    // mutant: the V tile read with K's row stride (dk != dv only)
                    precise float pv = pw[r * TK + c] * kvt[c * pc.dk + d];
#endif
                    a = a + pv;
                }
            if (pc.nsplit == 1u)
                acc[e] = fa_blend(rhow[r], acc[e], a, rfr[r], rft[r]);
            else if (i0 + r < pc.n_q)
                part[((h * pc.n_q + i0 + r) * pc.ntiles + t) * (3u + pc.dv) + 3u + d] = a;
        }
        barrier();
    }
    if (pc.nsplit != 1u)
        return;

    for (uint e = lid; e < BR * pc.dv; e += WG) {
        float o = fa_out(acc[e], rs[e / pc.dv], rm[e / pc.dv]);
        qt[e] = o;
    }
    if (pc.rot_o_g != 0u)
        wht_shared(BR * pc.dv, pc.rot_o_g, pc.rot_o_log2, true, lid, WG);
    barrier();
    for (uint e = lid; e < BR * pc.dv; e += WG) {
        uint r = e / pc.dv;
        if (i0 + r < pc.n_q)
            outv[(h * pc.n_q + i0 + r) * pc.dv + e % pc.dv] = qt[e];
    }
}
