/* The precision a backend claims for its attention (kvv_attn_info), as the
 * reports show it: in a failure line, in each JSON case record, and per
 * backend in the summaries, so that a reader sees what a bound was built
 * from and which backends asked for leniency. */
#include <math.h>
#include <stdio.h>

#include "reports/reports.h"

/* "2^-11" for a power of two, else %.3g ("nan", "inf", "1e+30") */
static void roundoff_text(double u, char *buf, size_t n)
{
    int e;
    double m = isfinite(u) ? frexp(u, &e) : 0;
    if (u > 0 && m == 0.5)
        snprintf(buf, n, "2^%d", e - 1);
    else
        snprintf(buf, n, "%.3g", u);
}

void kvv_claim_label(double kv_round, double acc_round, char *buf, size_t n)
{
    char k[32], a[32];
    roundoff_text(kv_round, k, sizeof k);
    roundoff_text(acc_round, a, sizeof a);
    const char *acc = !isfinite(kv_round) || kv_round < 0 || kv_round > 1 || !(acc_round >= 0) ? "invalid claim"
                      : acc_round <= 0x1p-24                                                 ? "f32 accumulation"
                      : acc_round == 0x1p-11                                                 ? "f16 accumulation"
                      : acc_round == 0x1p-8                                                  ? "bf16 accumulation"
                                                                                             : "invalid claim";
    snprintf(buf, n, "kv_round=%s acc_round=%s (%s)", k, a, acc);
}

/* equal, NaN equal to NaN (an invalid claim is still one claim) */
static int same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

void kvv_claim_set_add(kvv_claim_set *s, const kvv_verdict *v)
{
    if (!v->has_claim)
        return;
    for (int i = 0; i < s->n; i++)
        if (same(s->c[i].kv_round, v->claimed_kv_round) && same(s->c[i].acc_round, v->claimed_acc_round)) {
            s->c[i].cases++;
            return;
        }
    if (s->n == KVV_CLAIMS_KEPT) {
        s->others++;
        return;
    }
    s->c[s->n++] = (kvv_claim_count){v->claimed_kv_round, v->claimed_acc_round, 1};
}
