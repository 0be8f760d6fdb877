/* The case parameters as named dimensions with value classes, the table of
 * which dimensions apply to which op and which combinations cannot exist
 * (and why), and the covering arrays the gate and the nightly matrix are
 * built from (oracle/covering.c generates them).
 *
 * A value class is a set of parameter values that take the same special
 * paths of the kernels (kernels/cpu, kernels/vulkan/shaders): tile
 * boundaries, row groups, block batches, rotation groups.  classify() maps
 * any case's parameter to its class, so that hand-written cases count too;
 * apply() gives a generated case the class's representative, chosen small
 * (a pair is as covered at n_kv 101 as at 4096). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/covering.h"
#include "oracle/cases.h"

typedef enum dim_id {
    DIM_KTYPE, DIM_VTYPE, DIM_TYPE, DIM_HD, DIM_WIDTH, DIM_GROUP, DIM_NQ, DIM_NKV, DIM_ROWS, DIM_MASK, DIM_LUT,
    DIM_ROT, DIM_SPLIT, DIM_THREADS, DIM_ISA, DIM_GQA, DIM_ALIBI, DIM_SOFTCAP, DIM_SCALE, DIM_VAR, DIM_CACHE,
    DIM_DIST, DIM_COUNT
} dim_id;

#define MAXV 24

typedef struct dim_desc {
    const char *name;
    const char *what;
    int nvals;
    const char *val[MAXV];   /* class names (types: from the type table) */
    const char *means[MAXV]; /* what the class holds, and the value a generated case takes */
    double cost[MAXV];       /* rough share of a case's run time (generation prefers cheap values) */
    unsigned cpu_only;       /* classes only the CPU backend has special paths for (bit per value) */
} dim_desc;

/* Widths of rows (quantize, dequantize, WHT) and head dims: by what the
 * kernels switch on.  Block types need multiples of 32, turbo types a
 * rotation group (largest power of two dividing the width, at most 128) of
 * at least one block; the AVX2 kernels work in 8 lanes (and 16 or 64 at a
 * time), the q8_0 quantizer in batches of 8 blocks. */
enum { W36, W80, W32, W64, W96, W128, W192, W256, W576, NW };
static const int width_rep[NW] = {36, 80, 32, 64, 96, 128, 192, 256, 576};
enum { H36, H80, H32, H64, H96, H128, H192, H256, HMLA, NH };
static const int hd_dk[NH] = {36, 80, 32, 64, 96, 128, 192, 256, 576};
static const int hd_dv[NH] = {36, 80, 32, 64, 96, 128, 192, 256, 512};
enum { NQ1, NQ3, NQ5, NQ8, NQ33, NNQ };
static const int nq_rep[NNQ] = {1, 3, 5, 8, 33};
enum { KV1, KV7, KV64, KV101, KV520, NNKV };
static const int nkv_rep[NNKV] = {1, 7, 64, 101, 520};
enum { R1, R5, R32, R37, R300, NROWS };
static const int rows_rep[NROWS] = {1, 5, 32, 37, 300};
enum { G1, G2, G3, G4, G8, NGQA };
static const int gqa_heads[NGQA][2] = {{4, 4}, {4, 2}, {6, 2}, {8, 2}, {8, 1}};
static const int split_rep[3] = {1, 3, 8};
static const int threads_rep[3] = {1, 2, 3};

static const dim_desc dims[DIM_COUNT] = {
    [DIM_KTYPE] = {"ktype", "K cache type (every format version)", KVV_TYPE_COUNT, {0}, {0}, {0}, 0},
    [DIM_VTYPE] = {"vtype", "V cache type (every format version)", KVV_TYPE_COUNT, {0}, {0}, {0}, 0},
    [DIM_TYPE] = {"type", "the type under test", KVV_TYPE_COUNT, {0}, {0}, {0}, 0},
    [DIM_HD] = {"hd", "head dim class (dk/dv)", NH,
                {"h36", "h80", "h32", "h64", "h96", "h128", "h192", "h256", "hmla"},
                {"not a multiple of 8 (36): float types, padded lanes",
                 "a multiple of 8 but not of 32 (80): float types, rotation group 16",
                 "one rotation group of 32 (32)", "one group of 64 (64)", "several groups of 32 (96)",
                 "one group of 128 (128)", "several groups of 64 (192)", "several groups of 128 (256)",
                 "dk != dv (576/512, MLA): groups 64 and 128"},
                {0.28, 0.62, 0.25, 0.5, 0.75, 1, 1.5, 2, 4.2}, 0},
    [DIM_WIDTH] = {"width", "row width class", NW,
                   {"w36", "w80", "w32", "w64", "w96", "w128", "w192", "w256", "w576"},
                   {"not a multiple of 8 (36)", "a multiple of 8, not of 32 (80): group 16",
                    "one block, one group of 32 (32)", "one group of 64 (64)", "groups of 32 (96)",
                    "one group of 128 (128)", "groups of 64, at most 8 blocks (192)",
                    "groups of 128 (256)", "groups of 64, more than 8 blocks (576)"},
                   {0.3, 0.6, 0.25, 0.5, 0.75, 1, 1.5, 2, 4.5}, 0},
    [DIM_GROUP] = {"group", "WHT rotation group", 8,
                   {"g1", "g2", "g4", "g8", "g16", "g32", "g64", "g128"},
                   {"1 (identity butterfly)", "2", "4", "8 (one AVX2 vector)", "16", "32", "64", "128"},
                   {0}, 0},
    [DIM_NQ] = {"nq", "query rows", NNQ, {"nq1", "nq3", "nq5", "nq8", "nq33"},
                {"1: decode", "2..3: decode kernel on the CPU, 4-row blocks part filled on Vulkan (3)",
                 "prefill, not a multiple of 4 (5)", "prefill, a multiple of 4 (8)",
                 "33 or more: with GQA past the CPU's 128-row blocks (33)"},
                {0, 0.5, 1, 1.5, 4}, 1u << NQ33},
    [DIM_NKV] = {"nkv", "cache rows", NNKV, {"one", "short", "tiles", "ragged", "long"},
                 {"1", "2..31: less than one tile (7)", "a multiple of 64: whole tiles (64)",
                  "not a multiple of the tiles (101)", "512 or more: many tiles, a ragged last one (520)"},
                 {0, 0.2, 1, 1.5, 4}, 0},
    [DIM_ROWS] = {"rows", "rows of a row op", NROWS, {"r1", "r5", "r32", "r37", "r300"},
                  {"1", "2..7: less than one batch of 8 (5)", "a multiple of 8 (32)",
                   "not a multiple of 8 (37)", "256 or more: several chunks per thread (300)"},
                  {0, 0.1, 1, 1.2, 5}, 1u << R300},
    [DIM_MASK] = {"mask", "attention mask", KVV_MASK_COUNT, {"none", "causal", "random", "holes"},
                  {"none", "causal", "random (a fifth -inf)", "causal with fully masked rows"}, {0, 0.1, 0.1, 0.1}, 0},
    [DIM_LUT] = {"lut", "turbo3 dequant LUT", 2, {"lut8", "lut4"}, {"8 entries", "sign + 4 magnitudes"}, {0, 0.1}, 0},
    [DIM_ROT] = {"rot", "rotation site", 2, {"kernel", "graph"}, {"in the kernel", "separate WHT ops"}, {0, 0.1}, 0},
    [DIM_SPLIT] = {"split", "split-K chunks", 3, {"split1", "split3", "split8"},
                   {"1", "2..4: chunks of unequal tiles (3)", "5 or more (8)"}, {0, 0.1, 0.2}, 0},
    [DIM_THREADS] = {"threads", "CPU threads", 3, {"t1", "t2", "t3"}, {"1", "2", "3 or more (3)"}, {0, 0.1, 0.1}, 0},
    [DIM_ISA] = {"isa", "CPU instruction set", 2, {"auto", "scalar"},
                 {"the best the CPU has (AVX2; isa=avx2 counts here)", "the portable kernels"}, {0, 0.1}, 0},
    [DIM_GQA] = {"gqa", "query heads per KV head", NGQA, {"g1", "g2", "g3", "g4", "g8"},
                 {"1 (4 heads)", "2 (4/2)", "not a power of two (6/2: ALiBi's second slope series)", "4 (8/2)",
                  "8 or more (8/1)"},
                 {0.5, 0.5, 0.75, 1, 1}, 0},
    [DIM_ALIBI] = {"alibi", "ALiBi", 2, {"off", "on"}, {"off", "max_bias 8"}, {0, 0.1}, 0},
    [DIM_SOFTCAP] = {"softcap", "logit softcap", 2, {"off", "on"}, {"off", "30"}, {0, 0.1}, 0},
    [DIM_SCALE] = {"scale", "attention scale", 2, {"default", "given"}, {"1/sqrt(dk)", "0.5: large logits"},
                   {0, 0.1}, 0},
    [DIM_VAR] = {"var", "kernel variant", 3, {"auto", "vec", "tiled"}, {"by n_q", "decode kernel", "prefill kernel"},
                 {0, 0.1, 0.1}, 0},
    [DIM_CACHE] = {"cache", "dequant cache", 2, {"off", "on"}, {"dequantize in the loop", "into a buffer first"},
                   {0, 0.1}, 0},
    [DIM_DIST] = {"dist", "input distribution", KVV_DIST_COUNT, {0}, {0}, {0}, 0},
};

static const char *val_name(dim_id d, int v)
{
    if (d == DIM_KTYPE || d == DIM_VTYPE || d == DIM_TYPE)
        return kvv_type_name((kvv_type)v);
    if (d == DIM_DIST)
        return kvv_dist_name((kvv_dist)v);
    return dims[d].val[v];
}

static double val_cost(dim_id d, int v)
{
    if (d == DIM_KTYPE || d == DIM_VTYPE || d == DIM_TYPE)
        return v == KVV_IQ4_NL_SEARCH ? 0.5 : 0; /* its scale search makes it the slowest quantizer */
    if (d == DIM_DIST)
        return v == KVV_DIST_GAUSS ? 0 : 0.1;
    return dims[d].cost[v];
}

/* ---- which dimensions apply to which op ---- */

typedef struct op_model {
    kvv_op op;
    int ndims;
    dim_id ids[KVV_COV_MAX_DIMS]; /* constrained dimensions first (the completion search tries them first) */
    int nmarked;
    dim_id marked[12][3];          /* triples covered 3-way in the gate */
    uint64_t seed_base;            /* input seeds of the generated cases: base + row */
} op_model;

static const op_model models[] = {
    {KVV_OP_QUANT, 6, {DIM_TYPE, DIM_WIDTH, DIM_ROWS, DIM_THREADS, DIM_ISA, DIM_DIST},
     /* each ISA's kernel of each type at each width; row chunks per thread */
     2, {{DIM_ISA, DIM_TYPE, DIM_WIDTH}, {DIM_THREADS, DIM_ROWS, DIM_WIDTH}}, 20000},
    {KVV_OP_DEQUANT, 7, {DIM_TYPE, DIM_WIDTH, DIM_LUT, DIM_ROWS, DIM_THREADS, DIM_ISA, DIM_DIST},
     3, {{DIM_ISA, DIM_TYPE, DIM_WIDTH}, {DIM_LUT, DIM_TYPE, DIM_WIDTH}, {DIM_THREADS, DIM_ROWS, DIM_WIDTH}}, 22000},
    {KVV_OP_WHT, 6, {DIM_WIDTH, DIM_GROUP, DIM_ROWS, DIM_THREADS, DIM_ISA, DIM_DIST},
     1, {{DIM_ISA, DIM_GROUP, DIM_WIDTH}}, 24000},
    {KVV_OP_ATTN, 18,
     {DIM_KTYPE, DIM_VTYPE, DIM_HD, DIM_NQ, DIM_NKV, DIM_MASK, DIM_LUT, DIM_ROT, DIM_SPLIT, DIM_THREADS, DIM_ISA,
      DIM_GQA, DIM_ALIBI, DIM_SOFTCAP, DIM_SCALE, DIM_VAR, DIM_CACHE, DIM_DIST},
     12,
     {/* the dequant path (in the loop, or the cache) of each type at each head dim */
      {DIM_CACHE, DIM_HD, DIM_KTYPE}, {DIM_CACHE, DIM_HD, DIM_VTYPE},
      /* each ISA's kernels for each type at each head dim */
      {DIM_ISA, DIM_HD, DIM_KTYPE}, {DIM_ISA, DIM_HD, DIM_VTYPE},
      /* the rotation site at each head dim for each type */
      {DIM_ROT, DIM_HD, DIM_KTYPE}, {DIM_ROT, DIM_HD, DIM_VTYPE},
      /* tile and row-block boundaries of each variant; split-K's last chunk */
      {DIM_VAR, DIM_NQ, DIM_NKV}, {DIM_SPLIT, DIM_NKV, DIM_VAR},
      /* masks and ALiBi slopes over GQA row groups; softcap in each kernel */
      {DIM_GQA, DIM_MASK, DIM_NQ}, {DIM_ALIBI, DIM_GQA, DIM_NQ}, {DIM_SOFTCAP, DIM_NQ, DIM_VAR},
      /* non-finite values where rows of a group see different keys */
      {DIM_DIST, DIM_MASK, DIM_NQ}},
     26000},
};
#define NMODELS (int)(sizeof models / sizeof *models)

/* ---- classes of a case's parameters ---- */

static int width_class(int w)
{
    if (w % 8)
        return W36;
    if (w % 32)
        return W80;
    int g = kvv_rot_group(w), n = w / g;
    if (g == 32)
        return n == 1 ? W32 : W96;
    if (g == 64)
        return n == 1 ? W64 : w / 32 <= 8 ? W192 : W576;
    return n == 1 ? W128 : W256;
}

static int hd_class(int dk, int dv)
{
    static const int of_width[NW] = {H36, H80, H32, H64, H96, H128, H192, H256, H192};
    return dk != dv ? HMLA : of_width[width_class(dk)];
}

static int log2_floor(int x)
{
    int l = 0;
    while (x > 1) {
        x >>= 1;
        l++;
    }
    return l;
}

static int classify(dim_id d, const kvv_case *c)
{
    switch (d) {
    case DIM_KTYPE:
    case DIM_TYPE:
        return c->type_k;
    case DIM_VTYPE:
        return c->type_v;
    case DIM_HD:
        return hd_class(c->dk, c->dv);
    case DIM_WIDTH:
        return width_class(c->dk);
    case DIM_GROUP: {
        int g = c->group ? c->group : kvv_rot_group(c->dk);
        int l = log2_floor(g);
        return l > 7 ? 7 : l;
    }
    case DIM_NQ:
        return c->n_q == 1 ? NQ1 : c->n_q <= 3 ? NQ3 : c->n_q >= 33 ? NQ33 : c->n_q % 4 ? NQ5 : NQ8;
    case DIM_NKV:
        return c->n_kv == 1 ? KV1 : c->n_kv < 32 ? KV7 : c->n_kv >= 512 ? KV520 : c->n_kv % 64 ? KV101 : KV64;
    case DIM_ROWS:
        return c->n_kv == 1 ? R1 : c->n_kv < 8 ? R5 : c->n_kv >= 256 ? R300 : c->n_kv % 8 ? R37 : R32;
    case DIM_MASK:
        return c->mask;
    case DIM_LUT:
        return c->tg.lut == 4;
    case DIM_ROT:
        return c->tg.rot == KVV_ROT_GRAPH;
    case DIM_SPLIT:
        return c->tg.split <= 1 ? 0 : c->tg.split <= 4 ? 1 : 2;
    case DIM_THREADS:
        return c->tg.threads <= 1 ? 0 : c->tg.threads == 2 ? 1 : 2;
    case DIM_ISA:
        return c->tg.isa == KVV_ISA_SCALAR;
    case DIM_GQA: {
        int r = c->n_head_kv > 0 ? c->n_head / c->n_head_kv : 1;
        return r == 1 ? G1 : r == 2 ? G2 : r == 4 ? G4 : r >= 8 && !(r & (r - 1)) ? G8 : G3;
    }
    case DIM_ALIBI:
        return c->max_bias != 0.0f;
    case DIM_SOFTCAP:
        return c->softcap != 0.0f;
    case DIM_SCALE:
        return c->scale != 0.0f;
    case DIM_VAR:
        return c->tg.variant == KVV_VAR_VEC ? 1 : c->tg.variant == KVV_VAR_TILED ? 2 : 0;
    case DIM_CACHE:
        return c->tg.cache != 0;
    case DIM_DIST:
        return c->dist;
    default:
        return 0;
    }
}

static void apply(dim_id d, int v, kvv_case *c)
{
    switch (d) {
    case DIM_KTYPE:
        c->type_k = (kvv_type)v;
        break;
    case DIM_VTYPE:
        c->type_v = (kvv_type)v;
        break;
    case DIM_TYPE:
        c->type_k = c->type_v = (kvv_type)v;
        break;
    case DIM_HD:
        c->dk = hd_dk[v];
        c->dv = hd_dv[v];
        break;
    case DIM_WIDTH:
        c->dk = c->dv = width_rep[v];
        break;
    case DIM_GROUP:
        c->group = 1 << v;
        break;
    case DIM_NQ:
        c->n_q = nq_rep[v];
        break;
    case DIM_NKV:
        c->n_kv = nkv_rep[v];
        break;
    case DIM_ROWS:
        c->n_kv = rows_rep[v];
        break;
    case DIM_MASK:
        c->mask = (kvv_mask)v;
        break;
    case DIM_LUT:
        c->tg.lut = v ? 4 : 8;
        break;
    case DIM_ROT:
        c->tg.rot = v ? KVV_ROT_GRAPH : KVV_ROT_KERNEL;
        break;
    case DIM_SPLIT:
        c->tg.split = split_rep[v];
        break;
    case DIM_THREADS:
        c->tg.threads = threads_rep[v];
        break;
    case DIM_ISA:
        c->tg.isa = v ? KVV_ISA_SCALAR : KVV_ISA_AUTO;
        break;
    case DIM_GQA:
        c->n_head = gqa_heads[v][0];
        c->n_head_kv = gqa_heads[v][1];
        break;
    case DIM_ALIBI:
        c->max_bias = v ? 8.0f : 0.0f;
        break;
    case DIM_SOFTCAP:
        c->softcap = v ? 30.0f : 0.0f;
        break;
    case DIM_SCALE:
        c->scale = v ? 0.5f : 0.0f;
        break;
    case DIM_VAR:
        c->tg.variant = v == 1 ? KVV_VAR_VEC : v == 2 ? KVV_VAR_TILED : KVV_VAR_AUTO;
        break;
    case DIM_CACHE:
        c->tg.cache = v;
        break;
    case DIM_DIST:
        c->dist = (kvv_dist)v;
        break;
    default:
        break;
    }
}

/* ---- constraints: what cannot be combined, and why ---- */

#define R_KFIT "the K type does not fit the head dim (its block or its rotation group)"
#define R_VFIT "the V type does not fit the V head dim (its block or its rotation group)"
#define R_FIT "the type does not fit the row width (its block or its rotation group)"
#define R_GROUP "the rotation group does not divide the row width"
#define R_CAUSAL "a causal mask (also with holes) needs n_q <= n_kv"
#define R_LUT "lut=4 switches only the turbo3 dequantizer: without a turbo3 operand it is the lut=8 case again"
#define R_ROT "rot=graph moves only the turbo rotations: without a turbo operand it is the rot=kernel case again"
#define R_SPLIT "split-K needs two tiles or more: fewer than 32 keys are one tile"
#define R_CPU "threads and isa are CPU toggles: on Vulkan the same computation as the default"
#define R_CPUVAL "a value class only the CPU kernels have special paths for"
#define R_CPUROW "a row the CPU toggles must change (threads=1 isa=auto rows are the device array's)"

typedef struct model_ctx {
    const op_model *om;
    int at[DIM_COUNT]; /* dense index of each dimension in the op's rows, or -1 */
    unsigned char fits[KVV_TYPE_COUNT][NH + NW + NH]; /* type t fits: dk of head dim class h, width class w (at NH + w), dv of h (at NH + NW + h) */
    int nv[KVV_COV_MAX_DIMS];
    const double *cost[KVV_COV_MAX_DIMS];
    double cost_store[KVV_COV_MAX_DIMS][MAXV];
    int marked[12][3];
    kvv_cov_model m;
} model_ctx;

static int is_turbo3(int t) { return t == KVV_TURBO3 || t == KVV_TURBO3_QK128; }
static int is_rotated(int t) { return kvv_type_get((kvv_type)t)->rotated; }

static int fail(char *why, size_t n, const char *r)
{
    if (why && n)
        snprintf(why, n, "%s", r);
    return 0;
}

/* Some type with property `want` fits head dim class h (as K, or as V). */
static int some_type(const model_ctx *x, int (*want)(int), int h, int as_v)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        if (want(t) && x->fits[t][as_v ? NH + NW + h : h])
            return 1;
    return 0;
}

/* An operand rule (lut=4 needs a turbo3 operand, rot=graph a rotated one):
 * broken when neither operand can have the property, given what is set. */
static int operand_rule(const model_ctx *x, int k, int v, int h, int (*want)(int))
{
    if (k >= 0 && want(k))
        return 1;
    if (v >= 0 && want(v))
        return 1;
    if (k >= 0 && v >= 0)
        return 0;
    if (h < 0)
        return 1; /* some head dim fits some such type */
    return (k < 0 && some_type(x, want, h, 0)) || (v < 0 && some_type(x, want, h, 1));
}

static int model_ok(const void *ctx, const int *row, char *why, size_t n)
{
    const model_ctx *x = ctx;
#define G(d) (x->at[d] >= 0 ? row[x->at[d]] : -1)
    int kt = G(DIM_KTYPE), vt = G(DIM_VTYPE), ty = G(DIM_TYPE), hd = G(DIM_HD), w = G(DIM_WIDTH);
    if (kt >= 0 && hd >= 0 && !x->fits[kt][hd])
        return fail(why, n, R_KFIT);
    if (vt >= 0 && hd >= 0 && !x->fits[vt][NH + NW + hd])
        return fail(why, n, R_VFIT);
    if (ty >= 0 && w >= 0 && !x->fits[ty][NH + w])
        return fail(why, n, R_FIT);
    int g = G(DIM_GROUP);
    if (g >= 0 && w >= 0 && width_rep[w] % (1 << g))
        return fail(why, n, R_GROUP);
    int mask = G(DIM_MASK), nq = G(DIM_NQ), nkv = G(DIM_NKV);
    if ((mask == KVV_MASK_CAUSAL || mask == KVV_MASK_HOLES) && nq >= 0 && nkv >= 0 && nq_rep[nq] > nkv_rep[nkv])
        return fail(why, n, R_CAUSAL);
    int lut = G(DIM_LUT);
    if (lut == 1) {
        if (x->at[DIM_TYPE] >= 0) {
            if ((ty >= 0 && !is_turbo3(ty)) || (ty < 0 && w >= 0 && !x->fits[KVV_TURBO3][NH + w] &&
                                                !x->fits[KVV_TURBO3_QK128][NH + w]))
                return fail(why, n, R_LUT);
        } else if (!operand_rule(x, kt, vt, hd, is_turbo3)) {
            return fail(why, n, R_LUT);
        }
    }
    if (G(DIM_ROT) == 1 && !operand_rule(x, kt, vt, hd, is_rotated))
        return fail(why, n, R_ROT);
    int split = G(DIM_SPLIT);
    if (split > 0 && nkv >= 0 && nkv_rep[nkv] < 32)
        return fail(why, n, R_SPLIT);
    return 1;
#undef G
}

/* The device array: what a backend without the CPU toggles runs. */
static int device_keep(const void *ctx, const int *row, char *why, size_t n)
{
    const model_ctx *x = ctx;
    for (int d = 0; d < x->om->ndims; d++) {
        dim_id id = x->om->ids[d];
        if (row[d] < 0)
            continue;
        if ((id == DIM_THREADS || id == DIM_ISA) && row[d] != 0)
            return fail(why, n, R_CPU);
        if (dims[id].cpu_only >> row[d] & 1)
            return fail(why, n, R_CPUVAL);
    }
    return 1;
}

/* The CPU array of the gate: rows that change a CPU toggle, so that a
 * backend without them declines the whole array (each is a named skip
 * there, costing nothing).  Pairs need no more: every value of a CPU-only
 * class can meet either toggle value beside the other toggle changed. */
static int cpu_keep(const void *ctx, const int *row, char *why, size_t n)
{
    const model_ctx *x = ctx;
    int th = row[x->at[DIM_THREADS]], isa = row[x->at[DIM_ISA]];
    if (th == 0 && isa == 0)
        return fail(why, n, R_CPUROW);
    return 1;
}

/* The CPU array of the nightly matrix: every row the device array cannot
 * hold (a triple such as rows r300 x threads 1 x isa auto needs a row with
 * both toggles at their defaults). */
static int cpu_keep_full(const void *ctx, const int *row, char *why, size_t n)
{
    const model_ctx *x = ctx;
    int th = row[x->at[DIM_THREADS]], isa = row[x->at[DIM_ISA]];
    if (th != 0 || isa != 0)
        return 1;
    for (int d = 0; d < x->om->ndims; d++) {
        dim_id id = x->om->ids[d];
        if (dims[id].cpu_only && (row[d] < 0 || dims[id].cpu_only >> row[d] & 1))
            return 1; /* a CPU-only class, or it may still get one */
    }
    return fail(why, n, R_CPUROW);
}

static void model_init(model_ctx *x, const op_model *om, int strength)
{
    memset(x, 0, sizeof *x);
    x->om = om;
    for (int d = 0; d < DIM_COUNT; d++)
        x->at[d] = -1;
    for (int i = 0; i < om->ndims; i++) {
        dim_id id = om->ids[i];
        x->at[id] = i;
        x->nv[i] = dims[id].nvals;
        for (int v = 0; v < dims[id].nvals && v < MAXV; v++)
            x->cost_store[i][v] = val_cost(id, v);
        x->cost[i] = x->cost_store[i];
    }
    char why[200];
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        for (int h = 0; h < NH; h++) {
            x->fits[t][h] = (unsigned char)kvv_type_fits((kvv_type)t, hd_dk[h], why, sizeof why);
            x->fits[t][NH + NW + h] = (unsigned char)kvv_type_fits((kvv_type)t, hd_dv[h], why, sizeof why);
        }
        for (int w = 0; w < NW; w++)
            x->fits[t][NH + w] = (unsigned char)kvv_type_fits((kvv_type)t, width_rep[w], why, sizeof why);
    }
    for (int i = 0; i < om->nmarked; i++)
        for (int k = 0; k < 3; k++)
            x->marked[i][k] = x->at[om->marked[i][k]];
    x->m = (kvv_cov_model){om->ndims, x->nv, model_ok, x, x->cost, strength, strength >= 3 ? 0 : om->nmarked,
                           (const int(*)[3])x->marked};
}

/* ---- the arrays ---- */

/* The generator's seed: fixed, so that the gate's case names stay put. */
#define ARRAY_SEED 1

static void realize(const model_ctx *x, const int *row, uint64_t seed, kvv_case *c)
{
    *c = kvv_case_default(x->om->op);
    if (x->om->op == KVV_OP_WHT)
        c->type_k = c->type_v = KVV_F32;
    for (int d = 0; d < x->om->ndims; d++)
        apply(x->om->ids[d], row[d], c);
    c->seed = seed;
}

static void classify_row(const model_ctx *x, const kvv_case *c, int *row)
{
    for (int d = 0; d < x->om->ndims; d++)
        row[d] = classify(x->om->ids[d], c);
}

static int push_rows(kvv_case_list *l, const model_ctx *x, const int *rows, int n, uint64_t seed0)
{
    for (int i = 0; i < n; i++) {
        kvv_case c;
        char why[200];
        realize(x, rows + (size_t)i * (size_t)x->om->ndims, seed0 + (uint64_t)i, &c);
        if (kvv_case_validate(&c, why, sizeof why)) {
            char name[512];
            kvv_case_name(&c, name, sizeof name);
            fprintf(stderr, "kvverify: covering array: %s is not a valid case: %s\n", name, why);
            return -1;
        }
        if (kvv_case_list_push(l, &c))
            return -1;
    }
    return 0;
}

/* One op's arrays: the device array (threads=1, isa=auto, no CPU-only
 * class: what every backend runs), then the CPU array (rows that change a
 * CPU toggle, covering what the device array cannot hold). */
static int op_arrays(kvv_case_list *l, const op_model *om, int strength, int *na_out, int *nb_out)
{
    model_ctx *x = malloc(sizeof *x);
    if (!x)
        return -1;
    model_init(x, om, strength);
    int *a = NULL, *b = NULL, na = 0, nb = 0, rc = -1;
    uint64_t base = om->seed_base + (strength >= 3 ? 40000 : 0);
    if (kvv_cov_generate(&x->m, device_keep, x, NULL, 0, ARRAY_SEED, &a, &na) == 0 &&
        kvv_cov_generate(&x->m, strength >= 3 ? cpu_keep_full : cpu_keep, x, a, na, ARRAY_SEED, &b, &nb) == 0 &&
        push_rows(l, x, a, na, base) == 0 && push_rows(l, x, b, nb, base + (strength >= 3 ? 5000 : 1000)) == 0)
        rc = 0;
    if (na_out)
        *na_out = na;
    if (nb_out)
        *nb_out = nb;
    free(a);
    free(b);
    free(x);
    return rc;
}

int kvv_covering_cases(kvv_case_list *l, int strength)
{
    for (int i = 0; i < NMODELS; i++)
        if (op_arrays(l, &models[i], strength, NULL, NULL))
            return -1;
    return 0;
}

/* ---- coverage of a case list ---- */

/* Whether a backend without the CPU toggles runs the case as it is. */
static int device_runs(const kvv_case *c) { return c->tg.threads <= 1 && c->tg.isa == KVV_ISA_AUTO; }

static kvv_cov_table *measure_op(const model_ctx *x, const kvv_case *cs, int n, int device)
{
    kvv_cov_table *t = kvv_cov_table_new(&x->m, device ? device_keep : NULL, x);
    if (!t)
        return NULL;
    int row[KVV_COV_MAX_DIMS];
    for (int i = 0; i < n; i++)
        if (cs[i].op == x->om->op && (!device || device_runs(&cs[i]))) {
            classify_row(x, &cs[i], row);
            kvv_cov_table_add(t, row);
        }
    return t;
}

/* Each op model's coverage table of the cases, handed to fn with the
 * model's context; 0, or -1 when memory runs out. */
typedef void (*model_table_fn)(const model_ctx *x, const kvv_cov_table *t, void *arg);
static int each_model_table(const kvv_case *cs, int n, int strength, int device, model_table_fn fn, void *arg)
{
    model_ctx *x = malloc(sizeof *x);
    if (!x)
        return -1;
    for (int i = 0; i < NMODELS; i++) {
        model_init(x, &models[i], strength);
        kvv_cov_table *t = measure_op(x, cs, n, device);
        if (!t) {
            free(x);
            return -1;
        }
        fn(x, t, arg);
        kvv_cov_table_free(t);
    }
    free(x);
    return 0;
}

static void add_totals(const model_ctx *x, const kvv_cov_table *t, void *arg)
{
    (void)x;
    kvv_coverage *cov = arg;
    kvv_cov_count p = kvv_cov_total(t, 2), q = kvv_cov_total(t, 3);
    cov->pairs += p.possible;
    cov->pairs_covered += p.covered;
    cov->triples += q.possible;
    cov->triples_covered += q.covered;
}

int kvv_coverage_measure(const kvv_case *cs, int n, int strength, int device, kvv_coverage *cov)
{
    memset(cov, 0, sizeof *cov);
    if (each_model_table(cs, n, strength, device, add_totals, cov))
        return -1;
    cov->strength = strength;
    return 0;
}

static void percent(char *buf, size_t n, int64_t covered, int64_t possible)
{
    if (covered >= possible)
        snprintf(buf, n, "100%%");
    else /* rounded down: never 100% while one is missing */
        snprintf(buf, n, "%.1f%%", (double)(covered * 1000 / (possible ? possible : 1)) / 10.0);
}

void kvv_coverage_line(const kvv_coverage *cov, char *buf, size_t n)
{
    char p2[16], p3[16];
    percent(p2, sizeof p2, cov->pairs_covered, cov->pairs);
    percent(p3, sizeof p3, cov->triples_covered, cov->triples);
    if (cov->strength >= 3)
        snprintf(buf, n, "2-way coverage %s (%lld pairs), 3-way coverage %s (%lld triples)", p2,
                 (long long)cov->pairs, p3, (long long)cov->triples);
    else
        snprintf(buf, n, "2-way coverage %s (%lld pairs), 3-way on marked triples %s (%lld triples)", p2,
                 (long long)cov->pairs, p3, (long long)cov->triples);
}

/* ---- printing ---- */

static void combo_name(const model_ctx *x, const int *dd, const int *vals, int t, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < t && o < n; k++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", k ? " x " : "", val_name(x->om->ids[dd[k]], vals[k]));
}

/* Why a combination cannot be in any row. */
static void impossible_why(const model_ctx *x, const int *dd, const int *vals, int t, int device, char *why, size_t n)
{
    int row[KVV_COV_MAX_DIMS];
    for (int d = 0; d < x->om->ndims; d++)
        row[d] = KVV_COV_ANY;
    for (int k = 0; k < t; k++)
        row[dd[k]] = vals[k];
    if (!model_ok(x, row, why, n))
        return;
    if (device && !device_keep(x, row, why, n))
        return;
    snprintf(why, n, "no case can hold it: every way to complete it breaks a rule above");
}

typedef struct reason_group {
    char why[200];
    int count;
    char names[2048];
} reason_group;

static void print_set(FILE *out, const model_ctx *x, const kvv_cov_table *t, int s, int device, int verbose)
{
    int dd[3], vals[3], possible;
    int ts = kvv_cov_set_dims(t, s, dd);
    int64_t n = kvv_cov_set_combos(t, s), pos = 0, cov = 0, missing = 0, covered;
    char name[160], label[96];
    reason_group g[8];
    int ng = 0, other = 0;
    for (int64_t i = 0; i < n; i++) {
        kvv_cov_combo(t, s, i, vals, &possible, &covered);
        if (possible) {
            pos++;
            cov += covered != 0;
        }
    }
    snprintf(label, sizeof label, "%s x %s%s%s", dims[x->om->ids[dd[0]]].name, dims[x->om->ids[dd[1]]].name,
             ts == 3 ? " x " : "", ts == 3 ? dims[x->om->ids[dd[2]]].name : "");
    fprintf(out, "  %-26s %6lld possible %6lld covered%s\n", label, (long long)pos, (long long)cov,
            cov == pos ? "" : "   NOT ALL COVERED");
    for (int64_t i = 0; i < n; i++) {
        kvv_cov_combo(t, s, i, vals, &possible, &covered);
        if (possible && !covered) {
            combo_name(x, dd, vals, ts, name, sizeof name);
            if (missing++ < 40)
                fprintf(out, "      not covered: %s\n", name);
            continue;
        }
        if (possible)
            continue;
        char why[200];
        impossible_why(x, dd, vals, ts, device, why, sizeof why);
        int k = 0;
        while (k < ng && strcmp(g[k].why, why))
            k++;
        if (k == ng) {
            if (ng == 8) {
                other++;
                continue;
            }
            snprintf(g[ng].why, sizeof g[ng].why, "%s", why);
            g[ng].count = 0;
            g[ng].names[0] = 0;
            ng++;
        }
        combo_name(x, dd, vals, ts, name, sizeof name);
        size_t o = strlen(g[k].names);
        if (o + strlen(name) + 3 < sizeof g[k].names)
            snprintf(g[k].names + o, sizeof g[k].names - o, "%s%s", o ? ", " : "", name);
        else if (o + 5 < sizeof g[k].names && !strstr(g[k].names, ", ..."))
            snprintf(g[k].names + o, sizeof g[k].names - o, ", ...");
        g[k].count++;
    }
    if (missing > 40)
        fprintf(out, "      ... and %lld more not covered\n", (long long)(missing - 40));
    for (int k = 0; k < ng; k++) {
        fprintf(out, "      impossible %d: %s\n", g[k].count, g[k].why);
        if (verbose || ts == 2)
            fprintf(out, "        %s\n", g[k].names);
    }
    if (other)
        fprintf(out, "      impossible %d more, for other reasons\n", other);
}

static void print_model_dims(FILE *out, const op_model *om)
{
    fprintf(out, "%-8s", kvv_op_name(om->op));
    for (int d = 0; d < om->ndims; d++)
        fprintf(out, " %s(%d)", dims[om->ids[d]].name, dims[om->ids[d]].nvals);
    fprintf(out, "\n");
}

typedef struct print_args {
    FILE *out;
    const kvv_case *cs;
    int n, device, verbose;
} print_args;

/* one op model's cases, pair and triple counts and its sets */
static void print_model(const model_ctx *x, const kvv_cov_table *t, void *arg)
{
    const print_args *a = arg;
    const op_model *om = x->om;
    int ncases = 0;
    for (int k = 0; k < a->n; k++)
        ncases += a->cs[k].op == om->op && (!a->device || device_runs(&a->cs[k]));
    kvv_cov_count p = kvv_cov_total(t, 2), q = kvv_cov_total(t, 3);
    fprintf(a->out, "\n%s: %d cases; pairs %lld/%lld, triples %lld/%lld\n", kvv_op_name(om->op), ncases,
            (long long)p.covered, (long long)p.possible, (long long)q.covered, (long long)q.possible);
    fprintf(a->out, "  dimensions:");
    for (int d = 0; d < om->ndims; d++)
        fprintf(a->out, " %s", dims[om->ids[d]].name);
    fprintf(a->out, "\n");
    for (int s = 0; s < kvv_cov_nsets(t); s++)
        print_set(a->out, x, t, s, a->device, a->verbose);
}

int kvv_coverage_print(FILE *out, const kvv_case *cs, int n, int strength, int device, int verbose)
{
    kvv_coverage all;
    if (kvv_coverage_measure(cs, n, strength, device, &all))
        return -1;
    char line[256];
    kvv_coverage_line(&all, line, sizeof line);
    if (device)
        fprintf(out, "the cases a backend without the CPU toggles runs (threads=1, isa=auto), over its dimensions "
                     "(threads, isa and the CPU-only classes left out): %s\n", line);
    else
        fprintf(out, "%s\n", line);
    print_args pa = {out, cs, n, device, verbose};
    if (each_model_table(cs, n, strength, device, print_model, &pa))
        return -1;
    int ppl = 0;
    for (int k = 0; k < n; k++)
        ppl += cs[k].op == KVV_OP_PPL;
    if (ppl)
        fprintf(out, "\nppl: %d cases, hand-written (each needs its bounds measured in corpora/ppl_bounds.tsv); "
                     "not in the covering arrays\n", ppl);
    return 0;
}

void kvv_dims_print(FILE *out)
{
    fprintf(out, "which dimensions apply to which op (values per dimension):\n");
    for (int i = 0; i < NMODELS; i++)
        print_model_dims(out, &models[i]);
    fprintf(out, "ppl      hand-written cases only (each needs its bounds measured in corpora/ppl_bounds.tsv)\n");
    fprintf(out, "\nvalue classes (a generated case takes the value in parentheses):\n");
    for (int d = 0; d < DIM_COUNT; d++) {
        fprintf(out, "%-8s %s:", dims[d].name, dims[d].what);
        if (!dims[d].means[0]) {
            for (int v = 0; v < dims[d].nvals; v++)
                fprintf(out, " %s", val_name((dim_id)d, v));
            fprintf(out, "\n");
            continue;
        }
        fprintf(out, "\n");
        for (int v = 0; v < dims[d].nvals; v++)
            fprintf(out, "           %-8s %s%s\n", val_name((dim_id)d, v), dims[d].means[v],
                    dims[d].cpu_only >> v & 1 ? "  [CPU array only]" : "");
    }
    fprintf(out, "\nmarked triples (covered 3-way in the gate):\n");
    for (int i = 0; i < NMODELS; i++)
        for (int k = 0; k < models[i].nmarked; k++)
            fprintf(out, "%-8s %s x %s x %s\n", kvv_op_name(models[i].op), dims[models[i].marked[k][0]].name,
                    dims[models[i].marked[k][1]].name, dims[models[i].marked[k][2]].name);
    fprintf(out, "\nimpossible combinations (no case holds them), and why:\n"
                 "  ktype x hd, vtype x hd, type x width  the type does not fit the head dim or row width (its "
                 "block or its rotation group)\n"
                 "  group x width                          %s\n"
                 "  mask x nq x nkv                        %s\n"
                 "  lut x ktype x vtype, lut x type        %s\n"
                 "  rot x ktype x vtype                    %s\n"
                 "  split x nkv                            %s\n",
            R_GROUP, R_CAUSAL, R_LUT, R_ROT, R_SPLIT);
    fprintf(out, "\nthe generated cases of each op, besides the hand-written ones: a device array (threads=1, "
                 "isa=auto,\nno CPU-only class: every backend runs it), then a CPU array (every row has threads > 1 "
                 "or isa=scalar)\ncovering what the device array cannot hold\n");
}
