/* Adding verdicts into per-op, per-backend tallies. */
#include <math.h>

#include "reports/reports.h"

static void tally_add(kvv_tally *t, const kvv_verdict *v)
{
    t->cases++;
    if (v->status == KVV_PASS)
        t->pass++;
    else if (v->status == KVV_FAIL)
        t->fail++;
    else
        t->skip++;
    t->declined += v->status == KVV_FAIL && v->rule == KVV_RULE_DECLINED;
    t->ties += v->ties;
    t->tie_candidates += v->tie_candidates;
    /* NaN: the case has no such ratio */
    if (!isnan(v->arith_ratio) && (!t->n_arith++ || v->arith_ratio > t->worst_arith))
        t->worst_arith = v->arith_ratio;
    if (!isnan(v->budget_ratio) && (!t->n_budget++ || v->budget_ratio > t->worst_budget))
        t->worst_budget = v->budget_ratio;
    t->t_backend += v->t_backend;
    t->t_ref += v->t_ref;
}

void kvv_summary_add(kvv_summary *s, kvv_op op, int backend, const kvv_verdict *v)
{
    if ((unsigned)op < KVV_OP_COUNT && backend >= 0 && backend < KVV_MAX_BACKENDS) {
        tally_add(&s->by[op][backend], v);
        kvv_claim_set_add(&s->claims[backend], v);
    }
    tally_add(&s->total, v);
}
