/* The HTML report's plots, as inline SVG (nothing fetched, no script): per
 * backend the distribution of each ratio (arith, budget, ppl's share of its
 * bound) as a histogram on a log axis, passes and failures stacked, the
 * threshold marked; and the time spent per op, backend against reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

#define BINS_PER_DECADE 4
#define MAX_DECADES 12

/* ---- histograms ---- */

typedef struct {
    const char *key, *title;
    double thr;
} rule_t;

/* The ratio a rule plots for an entry, or NaN when the entry has none. */
static double value_of(int rule, const rep_entry *e)
{
    static const int needs[3] = {KVV_RATIO_ARITH, KVV_RATIO_BUDGET, KVV_RATIO_PPL};
    const kvv_op_info *oi = kvv_op_get(e->c.op);
    if (rule < 0 || rule > 2 || !oi || !(oi->ratios & needs[rule]))
        return NAN;
    return rule == 0 ? e->v.arith_ratio : e->v.budget_ratio; /* a ppl case's share of its bound is its budget */
}

static void tick_label(char *buf, size_t n, int decade)
{
    if (decade >= -2 && decade <= 3)
        snprintf(buf, n, "%g", pow(10.0, decade));
    else
        snprintf(buf, n, "1e%d", decade);
}

/* One histogram: bins of a quarter decade from 10^lo to 10^hi, with a bin
 * for 0 on the left and one for inf on the right when there are any. */
static void histogram(FILE *o, const rep_store *st, const kvv_run_info *info, int b, int rule, const rule_t *rt)
{
    int64_t n = 0, nfail = 0, nzero[2] = {0}, ninf[2] = {0};
    double mn = INFINITY, mx = 0;
    for (int64_t i = 0; i < st->n; i++) {
        const rep_entry *e = &st->e[i];
        double x = value_of(rule, e);
        if (e->backend != b || !rep_has_ratio(x))
            continue;
        n++;
        nfail += e->v.status == KVV_FAIL;
        if (x > 0 && isfinite(x)) {
            mn = fmin(mn, x);
            mx = fmax(mx, x);
        }
    }
    if (!n)
        return;
    int lt = (int)floor(log10(rt->thr));
    int lo = isfinite(mn) ? (int)floor(log10(mn)) : lt - 2, hi = mx > 0 ? (int)ceil(log10(mx)) : lt + 1;
    lo = lo > lt - 1 ? lt - 1 : lo;
    hi = hi < lt + 1 ? lt + 1 : hi;
    if (hi - lo > MAX_DECADES)
        lo = hi - MAX_DECADES;
    int nb = (hi - lo) * BINS_PER_DECADE;
    int64_t cnt[MAX_DECADES * BINS_PER_DECADE + 2][2];
    memset(cnt, 0, sizeof cnt);
    for (int64_t i = 0; i < st->n; i++) {
        const rep_entry *e = &st->e[i];
        double x = value_of(rule, e);
        if (e->backend != b || !rep_has_ratio(x))
            continue;
        int f = e->v.status == KVV_FAIL;
        if (x <= 0) {
            nzero[f]++;
        } else if (!isfinite(x)) {
            ninf[f]++;
        } else {
            int k = (int)floor((log10(x) - lo) * BINS_PER_DECADE);
            cnt[k < 0 ? 0 : k >= nb ? nb - 1 : k][f]++;
        }
    }
    int zero = nzero[0] + nzero[1] > 0, inf = ninf[0] + ninf[1] > 0;
    int64_t top = 1;
    for (int k = 0; k < nb; k++)
        top = cnt[k][0] + cnt[k][1] > top ? cnt[k][0] + cnt[k][1] : top;
    top = nzero[0] + nzero[1] > top ? nzero[0] + nzero[1] : top;
    top = ninf[0] + ninf[1] > top ? ninf[0] + ninf[1] : top;

    const double W = 440, H = 190, L = 40, R = 10, T = 36, B = 34;
    double pw = W - L - R, ph = H - T - B, slot = pw / (nb + 2 * 1.5); /* 0 and inf bins, with a gap */
    double x0 = L + 1.5 * slot;                                        /* where 10^lo is */
    fprintf(o, "<svg class=\"hist\" data-rule=\"%s\" data-n=\"%lld\" data-fail=\"%lld\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>",
            rt->key, (long long)n, (long long)nfail, W, H, W, H);
    rep_put_xml(o, info->backends[b]);
    fprintf(o, ": %s</title>\n<text x=\"%.0f\" y=\"14\" class=\"t\">", rt->title, L);
    rep_put_xml(o, info->backends[b]);
    fprintf(o, ": %s, %lld case%s, %lld failed</text>\n", rt->title, (long long)n, n == 1 ? "" : "s",
            (long long)nfail);
    /* axes */
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>\n", L, T + ph, L + pw, T + ph);
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" class=\"yl\">%lld</text><text x=\"%.1f\" y=\"%.1f\" class=\"yl\">0</text>\n",
            L - 4, T + 8, (long long)top, L - 4, T + ph);
    for (int d = lo; d <= hi; d++) {
        char lab[16];
        double x = x0 + (d - lo) * BINS_PER_DECADE * slot;
        tick_label(lab, sizeof lab, d);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"ax\"/><text x=\"%.1f\" y=\"%.1f\" "
                   "class=\"xl\">%s</text>\n",
                x, T + ph, x, T + ph + 4, x, T + ph + 16, lab);
    }
    /* bars: passes below, failures above, each with its count in a tooltip */
    for (int k = -1; k <= nb; k++) {
        const int64_t *c = k < 0 ? nzero : k == nb ? ninf : cnt[k];
        if ((k < 0 && !zero) || (k == nb && !inf) || !(c[0] + c[1]))
            continue;
        double x = k < 0 ? L + 0.25 * slot : k == nb ? x0 + nb * slot + 0.5 * slot : x0 + k * slot, y = T + ph;
        char range[64], a[24], z[24];
        if (k < 0)
            snprintf(range, sizeof range, "0");
        else if (k == nb)
            snprintf(range, sizeof range, "inf");
        else
            snprintf(range, sizeof range, "%s to %s", rep_num(a, sizeof a, pow(10.0, lo + (double)k / BINS_PER_DECADE)),
                     rep_num(z, sizeof z, pow(10.0, lo + (double)(k + 1) / BINS_PER_DECADE)));
        for (int f = 0; f < 2; f++) {
            if (!c[f])
                continue;
            double h = ph * (double)c[f] / (double)top;
            h = h < 2 ? 2 : h;
            y -= h;
            fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\"><title>%s: %lld %s"
                       "</title></rect>\n",
                    x + 0.5, y, slot - 1, h, f ? "bf" : "bp", range, (long long)c[f], f ? "failed" : "passed");
        }
    }
    if (zero)
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">0</text>\n", L + 0.75 * slot, T + ph + 16);
    if (inf)
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">inf</text>\n", x0 + nb * slot + slot, T + ph + 16);
    /* the threshold */
    double xt = x0 + (log10(rt->thr) - lo) * BINS_PER_DECADE * slot;
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"thr\"/><text x=\"%.1f\" y=\"%.1f\" "
               "class=\"tl\">fails above %g</text>\n",
            xt, T - 12, xt, T + ph, xt + 3, T - 4, rt->thr);
    fputs("</svg>\n", o);
}

/* ---- time per op ---- */

static void times(FILE *o, const kvv_run_info *info, const kvv_summary *sm)
{
    int rows = 0;
    double top = 0;
    for (int op = 0; op < KVV_OP_COUNT; op++)
        for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++)
            if (sm->by[op][b].cases) {
                rows++;
                top = fmax(top, fmax(sm->by[op][b].t_backend, sm->by[op][b].t_ref));
            }
    if (!rows)
        return;
    top = top > 0 ? top : 1;
    const double W = 860, L = 170, R = 250, row_h = 30, T = 24;
    double H = T + rows * row_h + 8, pw = W - L - R;
    fprintf(o, "<svg class=\"times\" data-rows=\"%d\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "role=\"img\"><title>seconds per op: backend and reference</title>\n"
               "<text x=\"%.0f\" y=\"14\" class=\"t\">seconds per op and backend: <tspan class=\"kb\">the "
               "backend</tspan>, <tspan class=\"kr\">the reference</tspan> (summed over the cases)</text>\n",
            rows, W, H, W, H, 4.0);
    int k = 0;
    for (int op = 0; op < KVV_OP_COUNT; op++)
        for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++) {
            const kvv_tally *t = &sm->by[op][b];
            if (!t->cases)
                continue;
            double y = T + k++ * row_h;
            fprintf(o, "<text x=\"%.0f\" y=\"%.1f\" class=\"rl\">%s ", L - 6, y + 15, kvv_op_name((kvv_op)op));
            rep_put_xml(o, info->backends[b]);
            fputs("</text>\n", o);
            double wb = pw * t->t_backend / top, wr = pw * t->t_ref / top;
            fprintf(o, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"11\" class=\"bb\"><title>backend %.3f s"
                       "</title></rect>\n",
                    L, y + 3, wb < 1 ? 1 : wb, t->t_backend);
            fprintf(o, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"11\" class=\"br\"><title>reference %.3f "
                       "s</title></rect>\n",
                    L, y + 15, wr < 1 ? 1 : wr, t->t_ref);
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" class=\"vl\">%.3g s (%.3g ms a case), reference %.3g s</text>\n",
                    L + fmax(wb, wr) + 6, y + 17, t->t_backend, 1e3 * t->t_backend / (double)t->cases, t->t_ref);
        }
    fputs("</svg>\n", o);
}

void rep_html_plots(FILE *o, const rep_store *st, const kvv_run_info *info, const kvv_summary *sm,
                    const double thr[2])
{
    const rule_t rules[3] = {{"arith", "arith ratio (attention, WHT)", thr[0]},
                             {"budget", "budget ratio (attention)", thr[1]},
                             {"ppl", "ppl: share of the bound used", 1.0}};
    for (int b = 0; b < info->nbackends; b++) {
        fputs("<div class=\"plots\">\n", o);
        for (int r = 0; r < 3; r++)
            histogram(o, st, info, b, r, &rules[r]);
        fputs("</div>\n", o);
    }
    times(o, info, sm);
}
