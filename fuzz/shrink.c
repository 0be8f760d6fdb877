/* Greedy case shrinking (see shrink.h).  Candidates are tried from the
 * biggest simplification to the smallest, so a case usually collapses in a
 * few accepted steps: n_kv = 1 before n_kv / 2 before n_kv - 1. */
#include <stddef.h>
#include <string.h>

#include "fuzz/shrink.h"

int kvv_dist_rank(kvv_dist d)
{
    switch (d) {
    case KVV_DIST_ZERO:
        return 0;
    case KVV_DIST_CONST:
        return 1;
    case KVV_DIST_GAUSS:
        return 2;
    default:
        return 3;
    }
}

typedef struct {
    kvv_case cand[64];
    int n;
} cands;

static void add(cands *cs, const kvv_case *base, const kvv_case *c)
{
    char why[8];
    if (cs->n < (int)(sizeof cs->cand / sizeof *cs->cand) && memcmp(c, base, sizeof *c) != 0 &&
        kvv_case_validate(c, why, sizeof why) == 0)
        cs->cand[cs->n++] = *c;
}

/* Smaller values of the int field at offset off: the floor, half, minus
 * one (each only if smaller, without repeats). */
static void smaller_sizes(cands *cs, const kvv_case *base, size_t off, int floor)
{
    int v;
    memcpy(&v, (const char *)base + off, sizeof v);
    const int tries[3] = {floor, v / 2, v - 1};
    for (int i = 0; i < 3; i++) {
        if (tries[i] < floor || tries[i] >= v || (i > 0 && tries[i] == tries[i - 1]))
            continue;
        kvv_case c = *base;
        memcpy((char *)&c + off, &tries[i], sizeof tries[i]);
        add(cs, base, &c);
    }
}

static void shape_candidates(cands *cs, const kvv_case *b)
{
    kvv_case c;
    smaller_sizes(cs, b, offsetof(kvv_case, n_kv), 1);
    if (b->op != KVV_OP_ATTN)
        return;
    smaller_sizes(cs, b, offsetof(kvv_case, n_q), 1);
    /* heads: one KV head (same ratio), then no GQA, then half the heads */
    int ratio = b->n_head / b->n_head_kv;
    if (b->n_head_kv > 1) {
        c = *b;
        c.n_head_kv = 1;
        c.n_head = ratio;
        add(cs, b, &c);
    }
    if (ratio > 1) {
        c = *b;
        c.n_head = c.n_head_kv;
        add(cs, b, &c);
        c = *b;
        c.n_head = b->n_head_kv * (ratio / 2);
        add(cs, b, &c);
    }
    /* a causal mask with fewer keys needs fewer queries too */
    if (b->n_q > 1 && b->n_kv > 1) {
        c = *b;
        c.n_kv = (b->n_kv + 1) / 2;
        if (c.n_q > c.n_kv)
            c.n_q = c.n_kv;
        add(cs, b, &c);
    }
}

static void width_candidates(cands *cs, const kvv_case *b)
{
    static const int narrow[] = {1, 16, 32, 64, 128};
    for (int i = 0; i < 5; i++) {
        kvv_case c = *b;
        if (narrow[i] >= b->dk && narrow[i] >= b->dv)
            break;
        c.dk = c.dv = narrow[i];
        if (b->op == KVV_OP_WHT && c.group > c.dk)
            c.group = c.dk;
        add(cs, b, &c);
    }
    if (b->op == KVV_OP_WHT && b->dk > b->group) {
        kvv_case c = *b;
        c.dk = c.dv = b->group;
        add(cs, b, &c);
    }
    if (b->dv != b->dk) {
        kvv_case c = *b;
        c.dv = c.dk;
        add(cs, b, &c);
    }
}

static void type_candidates(cands *cs, const kvv_case *b)
{
    if (b->op != KVV_OP_ATTN)
        return;
    /* f16 on one side: the failure belongs to the other type */
    kvv_case c = *b;
    c.type_v = KVV_F16;
    add(cs, b, &c);
    c = *b;
    c.type_k = KVV_F16;
    add(cs, b, &c);
}

static void value_candidates(cands *cs, const kvv_case *b)
{
    static const kvv_dist simpler[] = {KVV_DIST_ZERO, KVV_DIST_CONST, KVV_DIST_GAUSS};
    for (int i = 0; i < 3; i++)
        if (kvv_dist_rank(simpler[i]) < kvv_dist_rank(b->dist)) {
            kvv_case c = *b;
            c.dist = simpler[i];
            add(cs, b, &c);
        }
}

static void option_candidates(cands *cs, const kvv_case *b)
{
    kvv_case c = *b;
    kvv_toggles d = kvv_toggles_default();
    c.tg = d;
    add(cs, b, &c); /* every toggle at once, then one at a time */
#define TRY_TOGGLE(f)                                                                                                  \
    do {                                                                                                               \
        c = *b;                                                                                                        \
        c.tg.f = d.f;                                                                                                  \
        add(cs, b, &c);                                                                                                \
    } while (0)
    TRY_TOGGLE(threads);
    TRY_TOGGLE(split);
    TRY_TOGGLE(cache);
    TRY_TOGGLE(lut);
    TRY_TOGGLE(rot);
    TRY_TOGGLE(variant);
    TRY_TOGGLE(isa);
#undef TRY_TOGGLE
    if (b->op != KVV_OP_ATTN)
        return;
    if (b->mask != KVV_MASK_NONE) {
        c = *b;
        c.mask = KVV_MASK_NONE;
        add(cs, b, &c);
        if (b->mask != KVV_MASK_CAUSAL) {
            c.mask = KVV_MASK_CAUSAL;
            add(cs, b, &c);
        }
    }
    c = *b;
    c.max_bias = 0;
    add(cs, b, &c);
    c = *b;
    c.softcap = 0;
    add(cs, b, &c);
    c = *b;
    c.scale = 0;
    add(cs, b, &c);
}

void kvv_shrink(kvv_case *c, kvv_shrink_pred still_fails, void *arg, int max_tries, kvv_shrink_stats *st)
{
    kvv_shrink_stats local = {0, 0};
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    for (int progress = 1; progress && st->tried < max_tries;) {
        progress = 0;
        cands cs;
        cs.n = 0;
        shape_candidates(&cs, c);
        width_candidates(&cs, c);
        type_candidates(&cs, c);
        value_candidates(&cs, c);
        option_candidates(&cs, c);
        for (int i = 0; i < cs.n && st->tried < max_tries; i++) {
            st->tried++;
            if (still_fails(&cs.cand[i], arg)) {
                *c = cs.cand[i];
                st->accepted++;
                progress = 1;
                break;
            }
        }
    }
}
