/* Case lists: the default gate of `make verify` (under two minutes on two
 * cores) and the full nightly matrix.  Each is the hand-written cases below
 * (loops over tables of head dims, types, shapes, toggles and input
 * distributions; they hold the known bugs) and a covering array of the
 * case parameters (oracle/dims.c): every pair of values in the gate, every
 * triple in the nightly matrix. */
#include <stdlib.h>
#include <string.h>

#include "oracle/cases.h"

void kvv_case_list_free(kvv_case_list *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}

int kvv_case_list_push(kvv_case_list *l, const kvv_case *c)
{
    char why[8];
    if (kvv_case_validate(c, why, sizeof why))
        return 0; /* shapes a type cannot take are not cases */
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        kvv_case *p = realloc(l->items, sizeof *p * (size_t)cap);
        if (!p)
            return -1;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = *c;
    return 0;
}

typedef struct {
    int dk, dv;
} dims_t;

static const dims_t gate_dims[] = {{64, 64}, {80, 80}, {96, 96}, {112, 112}, {128, 128}, {192, 192}, {256, 256}, {576, 512}};
#define NDIMS (int)(sizeof gate_dims / sizeof *gate_dims)
/* the input distributions of attention sweeps: realistic K/V shapes, not only Gaussian */
static const kvv_dist sweep_dists[] = {KVV_DIST_GAUSS, KVV_DIST_OUTLIER, KVV_DIST_HEAVY, KVV_DIST_ROPE};
#define NSWEEP (int)(sizeof sweep_dists / sizeof *sweep_dists)
static const int gqa_cycle[] = {1, 4, 8};

static kvv_case attn_case(int dk, int dv, kvv_type k, kvv_type v, int nq, int nkv, int h, int gqa, kvv_dist d,
                          uint64_t seed)
{
    kvv_case c = kvv_case_default(KVV_OP_ATTN);
    c.dk = dk;
    c.dv = dv;
    c.type_k = k;
    c.type_v = v;
    c.n_q = nq;
    c.n_kv = nkv;
    c.n_head = h;
    c.n_head_kv = h / gqa;
    c.dist = d;
    c.seed = seed;
    if (nq > 1) {
        c.mask = KVV_MASK_CAUSAL;
    }
    return c;
}

static kvv_case row_case(kvv_op op, kvv_type t, int d, int rows, kvv_dist dist, uint64_t seed)
{
    kvv_case c = kvv_case_default(op);
    c.type_k = c.type_v = t;
    c.dk = c.dv = d;
    c.n_kv = rows;
    c.dist = dist;
    c.seed = seed;
    return c;
}

#define PUSH(l, c)                                                                                                     \
    do {                                                                                                               \
        kvv_case c_ = (c);                                                                                             \
        if (kvv_case_list_push(l, &c_))                                                                                \
            return -1;                                                                                                 \
    } while (0)

/* quantize / dequantize / WHT sweeps shared by both lists */
static int row_ops(kvv_case_list *l, int rows, int all_dists)
{
    static const kvv_dist hostile[] = {KVV_DIST_GAUSS, KVV_DIST_OUTLIER, KVV_DIST_HEAVY, KVV_DIST_ROPE,
                                       KVV_DIST_CONST, KVV_DIST_ZERO,    KVV_DIST_DENORM, KVV_DIST_HUGE,
                                       KVV_DIST_NONFINITE, KVV_DIST_GRID};
    static const int qdims[] = {64, 80, 96, 112, 128, 192, 256, 512, 576};
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        for (int i = 0; i < (int)(sizeof qdims / sizeof *qdims); i++)
            PUSH(l, row_case(KVV_OP_QUANT, (kvv_type)t, qdims[i], rows, sweep_dists[(t + i) % NSWEEP], 100 + i));
        for (int i = 0; i < (int)(sizeof hostile / sizeof *hostile); i++)
            if (all_dists || i >= NSWEEP)
                PUSH(l, row_case(KVV_OP_QUANT, (kvv_type)t, 128, rows, hostile[i], 200 + i));
        kvv_case c = row_case(KVV_OP_QUANT, (kvv_type)t, 128, rows, KVV_DIST_OUTLIER, 7);
        c.tg.threads = 2;
        PUSH(l, c);
        c.tg.threads = 1;
        c.tg.isa = KVV_ISA_SCALAR;
        PUSH(l, c);

        for (int i = 0; i < 2; i++)
            PUSH(l, row_case(KVV_OP_DEQUANT, (kvv_type)t, i ? 256 : 128, rows, sweep_dists[i], 300 + i));
        c = row_case(KVV_OP_DEQUANT, (kvv_type)t, 128, rows, KVV_DIST_HEAVY, 9);
        c.tg.threads = 2;
        PUSH(l, c);
        c.tg.threads = 1;
        c.tg.isa = KVV_ISA_SCALAR;
        PUSH(l, c);
        if (kvv_type_get((kvv_type)t)->rotated) {
            c.tg.isa = KVV_ISA_AUTO;
            c.tg.lut = 4;
            PUSH(l, c);
        }
    }
    for (int g = 1; g <= 128; g *= 2) {
        kvv_case c = row_case(KVV_OP_WHT, KVV_F32, 128, rows / 2, sweep_dists[g % NSWEEP], 400 + g);
        c.group = g;
        PUSH(l, c);
    }
    kvv_case w = row_case(KVV_OP_WHT, KVV_F32, 576, rows / 2, KVV_DIST_OUTLIER, 450);
    w.group = 64;
    PUSH(l, w);
    w = row_case(KVV_OP_WHT, KVV_F32, 256, rows, KVV_DIST_GAUSS, 451);
    w.group = 128;
    w.tg.threads = 2;
    PUSH(l, w);
    w.tg.threads = 1;
    w.tg.isa = KVV_ISA_SCALAR;
    PUSH(l, w);
    return 0;
}

/* every K/V pair of the cache types at one head dim */
static int all_pairs(kvv_case_list *l, int dk, int dv, int nkv, uint64_t seed0)
{
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
        for (int j = 0; j < KVV_CACHE_TYPE_COUNT; j++) {
            int n = i * KVV_CACHE_TYPE_COUNT + j;
            PUSH(l, attn_case(dk, dv, kvv_cache_types[i], kvv_cache_types[j], 1, nkv, 8, gqa_cycle[n % 3],
                              sweep_dists[n % NSWEEP], seed0 + (uint64_t)n));
        }
    return 0;
}

/* at the other head dims: each type with itself, and the asymmetric pairs
 * with q8_0 on the other side (the class of bug 3) */
static int covering_pairs(kvv_case_list *l, int dk, int dv, int nkv, uint64_t seed0)
{
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++) {
        kvv_type t = kvv_cache_types[i];
        PUSH(l, attn_case(dk, dv, t, t, 1, nkv, 8, gqa_cycle[i % 3], sweep_dists[i % NSWEEP], seed0 + i));
        if (t != KVV_Q8_0) {
            PUSH(l, attn_case(dk, dv, KVV_Q8_0, t, 1, nkv, 8, gqa_cycle[(i + 1) % 3], sweep_dists[(i + 1) % NSWEEP],
                              seed0 + 100 + i));
            PUSH(l, attn_case(dk, dv, t, KVV_Q8_0, 1, nkv, 8, gqa_cycle[(i + 2) % 3], sweep_dists[(i + 2) % NSWEEP],
                              seed0 + 200 + i));
        }
    }
    /* f32/f16/bf16 are the only types at head dims 80 and 112: take all their pairs */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                PUSH(l, attn_case(dk, dv, kvv_cache_types[i], kvv_cache_types[j], 1, nkv, 4, 2,
                                  sweep_dists[(i + j) % NSWEEP], seed0 + 300 + i * 3 + j));
    return 0;
}

/* every toggle, on pairs that exercise each code path */
static int toggle_cases(kvv_case_list *l, int nkv)
{
    static const kvv_type pairs[][2] = {{KVV_Q8_0, KVV_TURBO3}, {KVV_TURBO3, KVV_TURBO3}, {KVV_Q4_0, KVV_Q4_0},
                                        {KVV_TURBO4, KVV_Q8_0},  {KVV_F16, KVV_F16},      {KVV_TURBO2, KVV_TURBO4}};
    for (int p = 0; p < (int)(sizeof pairs / sizeof *pairs); p++)
        for (int prefill = 0; prefill < 2; prefill++) {
            int nq = prefill ? 32 : 1, d = p % 2 ? 256 : 128;
            kvv_case base = attn_case(d, d, pairs[p][0], pairs[p][1], nq, prefill ? 128 : nkv, 8, 4,
                                      sweep_dists[p % NSWEEP], 500 + 10 * p + prefill);
            kvv_case c = base;
            c.tg.cache = 1;
            PUSH(l, c);
            c = base;
            c.tg.split = 4;
            PUSH(l, c);
            c.tg.split = 7;
            c.tg.threads = 2;
            PUSH(l, c);
            c = base;
            c.tg.threads = 2;
            c.tg.cache = 1;
            PUSH(l, c);
            c = base;
            c.tg.lut = 4;
            PUSH(l, c);
            c = base;
            c.tg.rot = KVV_ROT_GRAPH;
            PUSH(l, c);
            c = base;
            c.tg.variant = prefill ? KVV_VAR_VEC : KVV_VAR_TILED;
            PUSH(l, c);
            c = base;
            c.tg.isa = KVV_ISA_SCALAR;
            PUSH(l, c);
        }
    return 0;
}

/* masks, ALiBi, softcap, odd and extreme lengths, degenerate inputs */
static int semantics_cases(kvv_case_list *l)
{
    static const kvv_type types[] = {KVV_F16, KVV_Q8_0, KVV_TURBO3, KVV_Q4_1};
    for (int i = 0; i < 4; i++) {
        kvv_type t = types[i];
        kvv_case c = attn_case(128, 128, t, t, 16, 96, 8, 2, sweep_dists[i], 600 + i);
        c.mask = KVV_MASK_HOLES; /* fully masked rows */
        PUSH(l, c);
        c.mask = KVV_MASK_RANDOM;
        PUSH(l, c);
        c = attn_case(128, 128, t, t, 4, 128, 8, 1, sweep_dists[i], 610 + i);
        c.mask = KVV_MASK_CAUSAL;
        c.max_bias = 8.0f;
        PUSH(l, c);
        c.n_head = c.n_head_kv = 12; /* not a power of two: the second slope series */
        PUSH(l, c);
        c = attn_case(128, 128, t, t, 1, 256, 8, 4, KVV_DIST_HEAVY, 620 + i);
        c.softcap = 30.0f;
        c.scale = 0.5f; /* large logits so the cap bites */
        PUSH(l, c);
        PUSH(l, attn_case(128, 128, t, t, 1, 1, 8, 8, KVV_DIST_GAUSS, 630 + i));
        PUSH(l, attn_case(128, 128, t, t, 3, 37, 4, 4, KVV_DIST_OUTLIER, 640 + i));
        PUSH(l, attn_case(256, 256, t, t, 1, 4096, 8, 8, KVV_DIST_ROPE, 650 + i));
        PUSH(l, attn_case(128, 128, t, t, 1, 64, 4, 1, KVV_DIST_CONST, 660 + i));
        PUSH(l, attn_case(128, 128, t, t, 1, 64, 4, 1, KVV_DIST_ZERO, 670 + i));
    }
    return 0;
}

static kvv_case ppl_case(int d, kvv_type k, kvv_type v, kvv_probe_kind model)
{
    kvv_case c = kvv_case_default(KVV_OP_PPL);
    c.dk = c.dv = d;
    c.type_k = k;
    c.type_v = v;
    c.model = model;
    return c;
}

/* End to end with the probe model (bounds in corpora/ppl_bounds.tsv): every
 * K/V pair at head dim 128; the hybrid model for each type with itself and
 * the asymmetric q8_0/turbo pairs; head dims 64 (rotation group 64) and 256
 * (two groups of 128) for each type with itself and the asymmetric pairs of
 * bug 3; and the toggles on pairs whose paths they switch. */
static int ppl_cases(kvv_case_list *l)
{
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
        for (int j = 0; j < KVV_CACHE_TYPE_COUNT; j++)
            PUSH(l, ppl_case(128, kvv_cache_types[i], kvv_cache_types[j], KVV_PROBE_LLAMA));
    static const kvv_type asym[][2] = {{KVV_Q8_0, KVV_TURBO3}, {KVV_TURBO3, KVV_Q8_0}, {KVV_Q8_0, KVV_TURBO4},
                                       {KVV_TURBO4, KVV_Q8_0}};
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
        PUSH(l, ppl_case(128, kvv_cache_types[i], kvv_cache_types[i], KVV_PROBE_HYBRID));
    for (int d = 64; d <= 256; d *= 2)
        for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
            if (d != 128)
                PUSH(l, ppl_case(d, kvv_cache_types[i], kvv_cache_types[i], KVV_PROBE_LLAMA));
    for (int a = 0; a < 4; a++) {
        PUSH(l, ppl_case(128, asym[a][0], asym[a][1], KVV_PROBE_HYBRID));
        PUSH(l, ppl_case(64, asym[a][0], asym[a][1], KVV_PROBE_LLAMA)); /* turbo4 does not fit: dropped */
        PUSH(l, ppl_case(256, asym[a][0], asym[a][1], KVV_PROBE_LLAMA));
    }
    static const kvv_type tpairs[][2] = {{KVV_Q8_0, KVV_Q8_0}, {KVV_TURBO3, KVV_TURBO3}, {KVV_Q4_0, KVV_Q4_0},
                                         {KVV_Q8_0, KVV_TURBO3}};
    for (int p = 0; p < 4; p++) {
        kvv_case c = ppl_case(128, tpairs[p][0], tpairs[p][1], KVV_PROBE_LLAMA);
        c.tg.cache = 1;
        PUSH(l, c);
        c.tg.cache = 0;
        c.tg.rot = KVV_ROT_GRAPH;
        PUSH(l, c);
        c.tg.rot = KVV_ROT_KERNEL;
        if (kvv_type_get(tpairs[p][0])->rotated || kvv_type_get(tpairs[p][1])->rotated) {
            c.tg.lut = 4;
            PUSH(l, c);
        }
    }
    return 0;
}

int kvv_gate_cases(kvv_case_list *l)
{
    if (row_ops(l, 32, 0))
        return -1;
    for (int d = 0; d < NDIMS; d++) {
        int dk = gate_dims[d].dk, dv = gate_dims[d].dv;
        if (dk == 128 || dk == 256) {
            if (all_pairs(l, dk, dv, 256, 1000 + 1000 * (uint64_t)d))
                return -1;
        } else if (covering_pairs(l, dk, dv, 256, 1000 + 1000 * (uint64_t)d)) {
            return -1;
        }
    }
    /* the format versions that are not cache types of their own */
    static const kvv_type variants[] = {KVV_TURBO3_QK128, KVV_TURBO2_QK128, KVV_TURBO4_QJL, KVV_IQ4_NL_SEARCH,
                                        KVV_TURBO4_NARROW};
    for (int i = 0; i < (int)(sizeof variants / sizeof *variants); i++) {
        PUSH(l, attn_case(128, 128, variants[i], variants[i], 1, 256, 8, 4, sweep_dists[i % NSWEEP], 900 + i));
        PUSH(l, attn_case(256, 256, KVV_Q8_0, variants[i], 1, 256, 8, 8, sweep_dists[(i + 1) % NSWEEP], 910 + i));
        PUSH(l, attn_case(256, 256, variants[i], KVV_F16, 1, 256, 8, 1, sweep_dists[(i + 2) % NSWEEP], 920 + i));
    }
    /* prefill: every cache type, tiled, causal */
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
        PUSH(l, attn_case(i % 2 ? 256 : 128, i % 2 ? 256 : 128, kvv_cache_types[i], kvv_cache_types[i], 32, 128, 4,
                          gqa_cycle[i % 3] > 4 ? 4 : gqa_cycle[i % 3], sweep_dists[i % NSWEEP], 950 + i));
    if (toggle_cases(l, 512) || semantics_cases(l) || ppl_cases(l))
        return -1;
    /* every pair of parameter values, and the marked triples (oracle/dims.c) */
    return kvv_covering_cases(l, 2);
}

int kvv_full_cases(kvv_case_list *l)
{
    if (row_ops(l, 128, 1))
        return -1;
    static const int lengths[] = {256, 1024, 4096};
    for (int d = 0; d < NDIMS; d++)
        for (int n = 0; n < 3; n++)
            if (all_pairs(l, gate_dims[d].dk, gate_dims[d].dv, lengths[n], 5000 + 1000 * (uint64_t)d + 100 * n))
                return -1;
    for (int d = 0; d < NDIMS; d++)
        for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
            for (int j = 0; j < KVV_CACHE_TYPE_COUNT; j += 3)
                PUSH(l, attn_case(gate_dims[d].dk, gate_dims[d].dv, kvv_cache_types[i], kvv_cache_types[j], 64, 512,
                                  8, gqa_cycle[(i + j) % 3], sweep_dists[(i + j) % NSWEEP], 90000 + d * 200 + i * 12 + j));
    if (toggle_cases(l, 4096) || semantics_cases(l) || ppl_cases(l))
        return -1;
    /* every triple of parameter values */
    return kvv_covering_cases(l, 3);
}
