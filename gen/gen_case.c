/* Random valid cases for `kvverify fuzz` (see gen.h). */
#include <math.h>

#include "gen/gen.h"

static int below(kvv_rng *r, int n) { return (int)(kvv_rng_next(r) % (uint64_t)n); }
static int chance(kvv_rng *r, double p) { return kvv_rng_uniform(r) < p; }

/* log-uniform integer in [lo, hi]: short and long lengths equally often */
static int log_uniform(kvv_rng *r, int lo, int hi)
{
    double v = exp(log((double)lo) + kvv_rng_uniform(r) * (log((double)hi + 1) - log((double)lo)));
    int n = (int)v;
    return n < lo ? lo : n > hi ? hi : n;
}

/* Head dims: the ones models use, and arbitrary multiples of 16 and small
 * odd widths (only float types take those). */
static int draw_dim(kvv_rng *r)
{
    static const int common[] = {32, 64, 80, 96, 112, 128, 192, 256, 512, 576};
    int k = below(r, 10);
    if (k < 6)
        return common[below(r, (int)(sizeof common / sizeof *common))];
    if (k < 9)
        return 16 * (1 + below(r, 40));
    return 1 + below(r, 40);
}

static kvv_type draw_type(kvv_rng *r) { return (kvv_type)below(r, KVV_TYPE_COUNT); }

/* A dim that every type in ts can take (ts[i] may repeat); 0 if the draws
 * found none. */
static int fitting_dim(kvv_rng *r, const kvv_type *ts, int nt)
{
    char why[160];
    for (int tries = 0; tries < 64; tries++) {
        int d = draw_dim(r), ok = 1;
        for (int i = 0; i < nt && ok; i++)
            ok = kvv_type_fits(ts[i], d, why, sizeof why);
        if (ok)
            return d;
    }
    return 0;
}

static void draw_toggles(kvv_rng *r, kvv_case *c)
{
    kvv_toggles *t = &c->tg;
    if (chance(r, 0.3))
        t->threads = 1 + below(r, 4);
    if (chance(r, 0.15))
        t->lut = 4;
    if (chance(r, 0.2))
        t->isa = chance(r, 0.5) ? KVV_ISA_SCALAR : KVV_ISA_AVX2;
    if (c->op != KVV_OP_ATTN)
        return;
    if (chance(r, 0.3))
        t->split = 1 + below(r, 8);
    if (chance(r, 0.3))
        t->cache = 1;
    if (chance(r, 0.25))
        t->rot = KVV_ROT_GRAPH;
    if (chance(r, 0.3))
        t->variant = chance(r, 0.5) ? KVV_VAR_VEC : KVV_VAR_TILED;
}

static void draw_rows_case(kvv_rng *r, kvv_case *c)
{
    for (;;) {
        c->type_k = c->type_v = draw_type(r);
        c->dk = c->dv = fitting_dim(r, &c->type_k, 1);
        if (c->dk)
            break;
    }
    c->n_kv = log_uniform(r, 1, 300);
}

static void draw_wht_case(kvv_rng *r, kvv_case *c)
{
    c->group = 1 << below(r, 8);
    int mult = 1 + below(r, c->group >= 64 ? 9 : 16);
    c->dk = c->dv = c->group * mult;
    c->n_kv = log_uniform(r, 1, 256);
}

static void draw_attn_case(kvv_rng *r, kvv_case *c)
{
    for (;;) {
        c->type_k = draw_type(r);
        c->type_v = chance(r, 0.3) ? c->type_k : draw_type(r);
        if (chance(r, 0.1)) { /* MLA heads: K 576 wide, V 512 */
            char why[160];
            if (kvv_type_fits(c->type_k, 576, why, sizeof why) && kvv_type_fits(c->type_v, 512, why, sizeof why)) {
                c->dk = 576;
                c->dv = 512;
                break;
            }
        }
        kvv_type ts[2] = {c->type_k, c->type_v};
        c->dk = c->dv = fitting_dim(r, ts, 2);
        if (c->dk)
            break;
    }
    static const int gqa[] = {1, 1, 2, 3, 4, 8};
    c->n_head_kv = 1 + below(r, 4);
    c->n_head = c->n_head_kv * gqa[below(r, 6)];
    c->n_kv = log_uniform(r, 1, 2048);
    c->n_q = chance(r, 0.6) ? 1 : log_uniform(r, 2, 64);
    int k = below(r, 20);
    c->mask = k < 8 ? KVV_MASK_NONE : k < 14 ? KVV_MASK_CAUSAL : k < 17 ? KVV_MASK_RANDOM : KVV_MASK_HOLES;
    if ((c->mask == KVV_MASK_CAUSAL || c->mask == KVV_MASK_HOLES) && c->n_q > c->n_kv)
        c->n_q = c->n_kv;
    if (chance(r, 0.2))
        c->max_bias = (float)(0.5 + 15.5 * kvv_rng_uniform(r));
    if (chance(r, 0.2))
        c->softcap = (float)(5.0 + 45.0 * kvv_rng_uniform(r));
    if (chance(r, 0.15))
        c->scale = (float)((chance(r, 0.1) ? -1 : 1) * exp(log(0.01) + kvv_rng_uniform(r) * log(200.0)));
    /* keep the f64 reference well under a second: fewer keys when the
     * heads, queries and widths are many */
    double work = (double)c->n_head * c->n_q * c->n_kv * (c->dk + c->dv);
    while (work > 2e7 && c->n_kv > 1) {
        c->n_kv = (c->n_kv + 1) / 2;
        work = (double)c->n_head * c->n_q * c->n_kv * (c->dk + c->dv);
    }
    if ((c->mask == KVV_MASK_CAUSAL || c->mask == KVV_MASK_HOLES) && c->n_q > c->n_kv)
        c->n_q = c->n_kv;
}

void kvv_gen_case(kvv_rng *r, unsigned ops, kvv_case *c)
{
    /* the op table's weights (attention has the most paths; 0: never drawn) */
    if (!ops)
        ops = ~0u;
    int total = 0;
    for (int i = 0; i < KVV_OP_COUNT; i++)
        total += ops & (1u << i) ? kvv_op_get((kvv_op)i)->fuzz_weight : 0;
    kvv_op op = KVV_OP_ATTN;
    if (total > 0) {
        int pick = below(r, total);
        for (int i = 0; i < KVV_OP_COUNT; i++) {
            int w = ops & (1u << i) ? kvv_op_get((kvv_op)i)->fuzz_weight : 0;
            if (pick < w) {
                op = (kvv_op)i;
                break;
            }
            pick -= w;
        }
    }
    *c = kvv_case_default(op);
    static void (*const draw[KVV_SHAPE_COUNT])(kvv_rng *r, kvv_case *c) = {
        [KVV_SHAPE_ROWS] = draw_rows_case, [KVV_SHAPE_GROUPS] = draw_wht_case, [KVV_SHAPE_HEADS] = draw_attn_case};
    draw[kvv_op_get(op)->shape](r, c);
    draw_toggles(r, c);
    c->dist = (kvv_dist)below(r, KVV_DIST_COUNT);
    c->seed = 1 + (kvv_rng_next(r) >> 34); /* short enough to read in a name */
}
