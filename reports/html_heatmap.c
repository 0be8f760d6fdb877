/* The HTML report's heatmaps: for each backend, the worst error ratio over
 * the attention cases of each K/V pair (rows) and head dim (columns), one
 * map for the arith ratio and one for the budget ratio, colored on a log
 * scale; cells holding a failure are marked and link to it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

typedef struct {
    int dk, dv;
} head_t;

typedef struct {
    kvv_type k, v;
} pair_t;

typedef struct {
    int64_t n, nfail, nskip;
    double worst[2];      /* arith, budget */
    int64_t worst_at[2];  /* entry index of the worst case, -1 if none */
    int64_t first_fail;   /* entry index, -1 if none */
} cell_t;

static int head_cmp(const void *a, const void *b)
{
    const head_t *x = a, *y = b;
    return x->dk != y->dk ? (x->dk > y->dk) - (x->dk < y->dk) : (x->dv > y->dv) - (x->dv < y->dv);
}

static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    return x->k != y->k ? (int)x->k - (int)y->k : (int)x->v - (int)y->v;
}

/* The distinct values of a key over the attention entries, sorted. */
static void axes(const rep_store *st, head_t **heads, int *nh, pair_t **pairs, int *np)
{
    *heads = malloc(sizeof **heads * (size_t)(st->n + 1));
    *pairs = malloc(sizeof **pairs * (size_t)(st->n + 1));
    *nh = *np = 0;
    if (!*heads || !*pairs)
        return;
    for (int64_t i = 0; i < st->n; i++) {
        const kvv_case *c = &st->e[i].c;
        if (c->op != KVV_OP_ATTN)
            continue;
        (*heads)[(*nh)++] = (head_t){c->dk, c->dv};
        (*pairs)[(*np)++] = (pair_t){c->type_k, c->type_v};
    }
    qsort(*heads, (size_t)*nh, sizeof **heads, head_cmp);
    qsort(*pairs, (size_t)*np, sizeof **pairs, pair_cmp);
    int k = 0;
    for (int i = 0; i < *nh; i++)
        if (!k || head_cmp(&(*heads)[k - 1], &(*heads)[i]))
            (*heads)[k++] = (*heads)[i];
    *nh = k;
    k = 0;
    for (int i = 0; i < *np; i++)
        if (!k || pair_cmp(&(*pairs)[k - 1], &(*pairs)[i]))
            (*pairs)[k++] = (*pairs)[i];
    *np = k;
}

static void head_label(const head_t *h, char *buf, size_t n)
{
    if (h->dv != h->dk)
        snprintf(buf, n, "d%d/%d", h->dk, h->dv);
    else
        snprintf(buf, n, "d%d", h->dk);
}

static int find_head(const head_t *h, int n, int dk, int dv)
{
    head_t key = {dk, dv};
    const head_t *p = bsearch(&key, h, (size_t)n, sizeof *h, head_cmp);
    return p ? (int)(p - h) : -1;
}

static int find_pair(const pair_t *p, int n, kvv_type k, kvv_type v)
{
    pair_t key = {k, v};
    const pair_t *q = bsearch(&key, p, (size_t)n, sizeof *p, pair_cmp);
    return q ? (int)(q - p) : -1;
}

/* A log color scale from pale green at lo through yellow and orange to red
 * at hi.  Both maps put their threshold at the same place (t = 0.8), so a
 * color means the same distance from failing in either: arith from
 * threshold/1e4 to threshold*10, budget from threshold/2 (the ratio of a
 * correct backend is about 1 for a threshold of 2) to threshold*2^0.25. */
typedef struct {
    double lo, hi;
} scale_t;

static scale_t map_scale(int which, const double thr[2])
{
    return which ? (scale_t){thr[1] / 2, thr[1] * pow(2.0, 0.25)} : (scale_t){thr[0] * 1e-4, thr[0] * 10};
}

static void color(char *buf, size_t n, double r, scale_t sc)
{
    double t = r > 0 ? log(r / sc.lo) / log(sc.hi / sc.lo) : 0.0;
    if (isnan(t))
        t = 1;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    snprintf(buf, n, "hsl(%.0f,70%%,%.0f%%)", 130.0 * (1.0 - t), 90.0 - 40.0 * t);
}

static void legend(FILE *o, const char *what, scale_t sc, double thr)
{
    fprintf(o, "<div class=\"legend\">%s (log scale):", what);
    for (int i = 0; i <= 5; i++) {
        double r = sc.lo * pow(sc.hi / sc.lo, i / 5.0);
        if (i == 4)
            r = thr;
        char c[48], x[32];
        color(c, sizeof c, r, sc);
        snprintf(x, sizeof x, "%.2g", r);
        fprintf(o, " <span class=\"sw\" style=\"background:%s\">%s%s</span>", c, i == 0 ? "&le;&#xa0;" : "", x);
    }
    fputs("</div>\n", o);
}

/* At most about five characters, so that a map fits beside the other:
 * "0.016", "1.2", "9e-4", "2e3". */
static void short_num(char *buf, size_t n, double r)
{
    if (r == 0) {
        snprintf(buf, n, "0");
    } else if (!isfinite(r)) {
        rep_num(buf, n, r);
    } else if (fabs(r) >= 0.01 && fabs(r) < 100) {
        snprintf(buf, n, "%.2g", r);
    } else {
        char tmp[16];
        snprintf(tmp, sizeof tmp, "%.0e", r); /* "9e-04": the exponent without '+' and leading zeros */
        char *e = strchr(tmp, 'e');
        int ex = e ? atoi(e + 1) : 0;
        if (e)
            *e = 0;
        snprintf(buf, n, "%.8se%d", tmp, ex);
    }
}

static void cell_html(FILE *o, const rep_store *st, const kvv_run_info *info, const cell_t *cl, int which,
                      scale_t sc, const char *head, const char *pair, int backend, const int64_t *page_of)
{
    if (!cl->n) {
        fputs("<td class=\"e\"></td>", o);
        return;
    }
    char bg[48], x[32], y[32];
    if (cl->n == cl->nskip) {
        fputs("<td class=\"c s\" data-cell=\"", o);
        rep_put_xml(o, info->backends[backend]);
        fprintf(o, "|%s|%s\" title=\"%lld skipped\">skip</td>", head, pair, (long long)cl->n);
        return;
    }
    color(bg, sizeof bg, cl->worst[which], sc);
    fprintf(o, "<td class=\"c%s\" style=\"background:%s\" data-cell=\"", cl->nfail ? " f" : "", bg);
    rep_put_xml(o, info->backends[backend]);
    fprintf(o, "|%s|%s\" data-ratio=\"%s\" title=\"", head, pair, rep_num(x, sizeof x, cl->worst[which]));
    char tip[1024];
    snprintf(tip, sizeof tip, "%s %s on %s: %lld cases, %lld failed, %lld skipped; worst arith %s, worst budget %s",
             pair, head, info->backends[backend], (long long)cl->n, (long long)cl->nfail, (long long)cl->nskip,
             rep_num(x, sizeof x, cl->worst[0]), rep_num(y, sizeof y, cl->worst[1]));
    rep_put_xml(o, tip);
    if (cl->worst_at[which] >= 0) {
        rep_put_xml(o, "\nworst: ");
        rep_put_xml(o, st->e[cl->worst_at[which]].name);
    }
    fputs("\">", o);
    char txt[32];
    short_num(txt, sizeof txt, cl->worst[which]);
    if (cl->nfail) {
        int64_t k = page_of[cl->first_fail];
        if (k > 0)
            fprintf(o, "<a href=\"#f%lld\">&#x2715;&#xa0;%s</a>", (long long)k, txt);
        else
            fprintf(o, "<a href=\"#failures\">&#x2715;&#xa0;%s</a>", txt);
    } else {
        fputs(txt, o);
    }
    fputs("</td>", o);
}

void rep_html_heatmaps(FILE *o, const rep_store *st, const kvv_run_info *info, const int64_t *page_of,
                       const double thr[2])
{
    head_t *heads;
    pair_t *pairs;
    int nh, np;
    axes(st, &heads, &nh, &pairs, &np);
    cell_t *cells = NULL;
    if (heads && pairs && nh && np)
        cells = calloc((size_t)info->nbackends * (size_t)nh * (size_t)np, sizeof *cells);
    if (!cells) {
        fputs("<p>No attention cases in this run: no heatmap.</p>\n", o);
        free(heads);
        free(pairs);
        return;
    }
    for (size_t i = 0; i < (size_t)info->nbackends * (size_t)nh * (size_t)np; i++)
        cells[i].worst_at[0] = cells[i].worst_at[1] = cells[i].first_fail = -1;
    for (int64_t i = 0; i < st->n; i++) {
        const rep_entry *e = &st->e[i];
        if (e->c.op != KVV_OP_ATTN || e->backend < 0 || e->backend >= info->nbackends)
            continue;
        int h = find_head(heads, nh, e->c.dk, e->c.dv), p = find_pair(pairs, np, e->c.type_k, e->c.type_v);
        cell_t *cl = &cells[((size_t)e->backend * (size_t)np + (size_t)p) * (size_t)nh + (size_t)h];
        cl->n++;
        cl->nskip += e->v.status == KVV_SKIP;
        if (e->v.status == KVV_FAIL) {
            if (!cl->nfail)
                cl->first_fail = i;
            cl->nfail++;
        }
        double r[2] = {e->v.arith_ratio, e->v.budget_ratio};
        for (int w = 0; w < 2; w++)
            if (cl->worst_at[w] < 0 || r[w] > cl->worst[w] || (isnan(r[w]) && !isnan(cl->worst[w]))) {
                cl->worst[w] = r[w];
                cl->worst_at[w] = i;
            }
    }
    legend(o, "arith ratio", map_scale(0, thr), thr[0]);
    legend(o, "budget ratio", map_scale(1, thr), thr[1]);
    fputs("<div class=\"legend\"><span class=\"sw fcell\">&#x2715; a case failed</span> <span class=\"sw scell\">"
          "skipped</span> <span class=\"sw\">empty: no case</span></div>\n",
          o);
    static const char *const title[2] = {"arith ratio (vs f64 over the same cache)",
                                         "budget ratio (vs the unquantized K/V)"};
    for (int b = 0; b < info->nbackends; b++) {
        fprintf(o, "<h3 id=\"map-%d\">", b);
        rep_put_xml(o, info->backends[b]);
        fputs("</h3>\n<div class=\"maps\">\n", o);
        for (int w = 0; w < 2; w++) {
            fprintf(o, "<table class=\"map\" data-map=\"%s\"><caption>%s</caption>\n<tr><th>K/V</th>",
                    w ? "budget" : "arith", title[w]);
            for (int h = 0; h < nh; h++) {
                char lab[24];
                head_label(&heads[h], lab, sizeof lab);
                fprintf(o, "<th>%s</th>", lab);
            }
            fputs("</tr>\n", o);
            for (int p = 0; p < np; p++) {
                char pl[64];
                snprintf(pl, sizeof pl, "%s/%s", kvv_type_name(pairs[p].k), kvv_type_name(pairs[p].v));
                fprintf(o, "<tr><th>%s</th>", pl);
                for (int h = 0; h < nh; h++) {
                    char lab[24];
                    head_label(&heads[h], lab, sizeof lab);
                    cell_html(o, st, info, &cells[((size_t)b * (size_t)np + (size_t)p) * (size_t)nh + (size_t)h], w,
                              map_scale(w, thr), lab, pl, b, page_of);
                }
                fputs("</tr>\n", o);
            }
            fputs("</table>\n", o);
        }
        fputs("</div>\n", o);
    }
    free(cells);
    free(heads);
    free(pairs);
}
