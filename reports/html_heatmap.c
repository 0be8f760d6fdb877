/* The HTML report's heatmaps.  Per backend: for attention and ppl, a grid
 * of K types (rows) by V types (columns) for each head dim; for the row ops
 * (quantize, dequantize, WHT), a grid of types (WHT: groups) by head dim.
 * A cell holds the worst ratio of its cases on a log color scale from pale
 * green to orange (a passing ratio never reaches red); a cell with a failure
 * is red whatever its ratios, shows the failure's own figure and links to
 * it; a cell whose cases were all skipped is grey.  Attention cells carry
 * both ratios and a radio button (CSS only, no script) picks the one shown. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

enum { SHOW_NONE, SHOW_ARITH, SHOW_BUDGET, SHOW_BOTH };

typedef struct {
    int64_t n, nfail, nskip, nratio[2];
    double worst[2];      /* arith, budget: over the cases that have one */
    int64_t worst_at[2];  /* entry index of the worst case, -1 if none */
    int64_t first_fail;   /* entry index, -1 if none */
    int64_t first_skip;
} cell_t;

/* A log color scale: pale green at lo, the threshold at t = 0.8 (orange),
 * red at t = 1, so a color means the same distance from failing in every
 * map: arith from threshold/1e4, budget from threshold/2 (a correct
 * backend's budget ratio is about 1 for a threshold of 2), ppl (the share of
 * its bound used, failing above 1) from 0.01. */
typedef struct {
    double lo, hi, thr;
} scale_t;

static scale_t scale_for(double lo, double thr) { return (scale_t){lo, lo * pow(thr / lo, 1.25), thr}; }

static void color(char *buf, size_t n, double r, scale_t sc)
{
    double t = r > 0 ? log(r / sc.lo) / log(sc.hi / sc.lo) : 0.0;
    if (isnan(t))
        t = 1;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    snprintf(buf, n, "hsl(%.0f,70%%,%.0f%%)", 130.0 * (1.0 - t), 90.0 - 40.0 * t);
}

static void legend(FILE *o, const char *what, scale_t sc)
{
    fprintf(o, "<div class=\"legend\">%s (log scale):", what);
    for (int i = 0; i <= 4; i++) {
        double r = i == 4 ? sc.thr : sc.lo * pow(sc.thr / sc.lo, i / 4.0);
        char c[48], x[32];
        color(c, sizeof c, r, sc);
        snprintf(x, sizeof x, "%.2g", r);
        fprintf(o, " <span class=\"sw\" style=\"background:%s\">%s%s%s</span>", c, i == 0 ? "&le;&#xa0;" : "", x,
                i == 4 ? " (threshold)" : "");
    }
    fputs("</div>\n", o);
}

/* At most about five characters, so that cells stay narrow: "0.016",
 * "1.2", "9e-4", "2e3". */
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

/* A failure's own figure: its rule's ratio, or the rule's name when that
 * rule has none (a crash has no ratio, and never shows one). */
static void fail_figure(char *buf, size_t n, const kvv_verdict *v)
{
    double x = v->rule == KVV_RULE_ARITH                               ? v->arith_ratio
               : v->rule == KVV_RULE_BUDGET || v->rule == KVV_RULE_PPL ? v->budget_ratio
                                                                       : NAN;
    if (rep_has_ratio(x) && x > 0)
        short_num(buf, n, x);
    else
        snprintf(buf, n, "%s", kvv_rule_name(v->rule));
}

/* ---- which cases a grid holds, and its axes ---- */

typedef struct {
    const rep_store *st;
    const kvv_run_info *info;
    const int64_t *page_of;
    int backend;
    kvv_op op;
    int kv;      /* 1: K x V at one head dim (attn, ppl); 0: type (WHT: group) x head dim */
    int dk, dv;  /* the head dim of a K x V grid */
    int show;
    scale_t sc[2];
} grid_t;

static int head_key(const kvv_case *c) { return c->dk << 16 | c->dv; }

static int in_grid(const grid_t *g, const rep_entry *e)
{
    return e->backend == g->backend && e->c.op == g->op && (!g->kv || (e->c.dk == g->dk && e->c.dv == g->dv));
}

/* rows of a grid: the rotation group for an op whose cases are groups,
 * else the (K) type */
static int by_group(const grid_t *g) { return kvv_op_get(g->op) && kvv_op_get(g->op)->shape == KVV_SHAPE_GROUPS; }

static int row_key(const grid_t *g, const kvv_case *c) { return by_group(g) ? c->group : (int)c->type_k; }

static int col_key(const grid_t *g, const kvv_case *c) { return g->kv ? (int)c->type_v : head_key(c); }

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The distinct values, sorted, in place; returns how many. */
static int distinct(int *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, int_cmp);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!k || v[k - 1] != v[i])
            v[k++] = v[i];
    return k;
}

static int index_of(const int *v, int n, int x)
{
    const int *p = bsearch(&x, v, (size_t)n, sizeof *v, int_cmp);
    return p ? (int)(p - v) : -1;
}

static void head_text(char *buf, size_t n, int dk, int dv)
{
    if (dv != dk)
        snprintf(buf, n, "d%d/%d", dk, dv);
    else
        snprintf(buf, n, "d%d", dk);
}

static void row_text(const grid_t *g, int key, char *buf, size_t n)
{
    if (by_group(g))
        snprintf(buf, n, "g%d", key);
    else
        snprintf(buf, n, "%s", kvv_type_name((kvv_type)key));
}

static void col_text(const grid_t *g, int key, char *buf, size_t n)
{
    if (g->kv)
        snprintf(buf, n, "%s", kvv_type_name((kvv_type)key));
    else
        head_text(buf, n, key >> 16, key & 0xffff);
}

/* ---- cells ---- */

static void cell_add(cell_t *cl, const rep_entry *e, int64_t i)
{
    cl->n++;
    if (e->v.status == KVV_SKIP && !cl->nskip++)
        cl->first_skip = i;
    if (e->v.status == KVV_FAIL && !cl->nfail++)
        cl->first_fail = i;
    double r[2] = {e->v.arith_ratio, e->v.budget_ratio};
    for (int w = 0; w < 2; w++)
        if (rep_has_ratio(r[w]) && (!cl->nratio[w]++ || r[w] > cl->worst[w])) {
            cl->worst[w] = r[w];
            cl->worst_at[w] = i;
        }
}

static void put_attr_text(FILE *o, const char *s) { rep_put_xml(o, s); }

static void cell_title(FILE *o, const grid_t *g, const cell_t *cl, const char *where)
{
    char tip[1024], x[32];
    snprintf(tip, sizeof tip, "%s on %s: %lld cases, %lld failed, %lld skipped", where,
             g->info->backends[g->backend], (long long)cl->n, (long long)cl->nfail, (long long)cl->nskip);
    put_attr_text(o, tip);
    static const char *const what[2] = {"arith", "budget"};
    for (int w = 0; w < 2; w++)
        if (cl->nratio[w]) {
            snprintf(tip, sizeof tip, "\nworst %s %s: ", what[w], rep_num(x, sizeof x, cl->worst[w]));
            put_attr_text(o, tip);
            put_attr_text(o, g->st->e[cl->worst_at[w]].name);
        }
    if (cl->nfail) {
        const rep_entry *f = &g->st->e[cl->first_fail];
        snprintf(tip, sizeof tip, "\nfirst failure [%s]: ", kvv_rule_name(f->v.rule));
        put_attr_text(o, tip);
        put_attr_text(o, f->name);
    }
    if (cl->nskip) {
        put_attr_text(o, "\nskipped: ");
        put_attr_text(o, g->st->e[cl->first_skip].v.detail);
    }
}

static void cell_html(FILE *o, const grid_t *g, const cell_t *cl, const char *where)
{
    if (!cl->n) {
        fputs("<td class=\"e\"></td>", o);
        return;
    }
    const char *status = cl->nfail ? "fail" : cl->n == cl->nskip ? "skip" : "pass";
    fprintf(o, "<td class=\"c%s\"", cl->nfail ? " f" : cl->n == cl->nskip ? " s" : "");
    char bg[2][48], x[2][32];
    for (int w = 0; w < 2; w++) {
        color(bg[w], sizeof bg[w], cl->worst[w], g->sc[w]);
        if (cl->nratio[w])
            short_num(x[w], sizeof x[w], cl->worst[w]);
        else
            snprintf(x[w], sizeof x[w], "-");
    }
    char full[32];
    if (!cl->nfail && cl->n != cl->nskip) {
        if (g->show == SHOW_BOTH)
            fprintf(o, " style=\"--ca:%s;--cb:%s\"", cl->nratio[0] ? bg[0] : "#eef3ee",
                    cl->nratio[1] ? bg[1] : "#eef3ee");
        else if (g->show == SHOW_ARITH || g->show == SHOW_BUDGET) {
            int w = g->show == SHOW_BUDGET;
            fprintf(o, " style=\"background:%s\"", cl->nratio[w] ? bg[w] : "#eef3ee");
        } else {
            fputs(" style=\"background:hsl(130,70%,90%)\"", o); /* bit-exact rules: no ratio */
        }
    }
    fputs(" data-cell=\"", o);
    put_attr_text(o, g->info->backends[g->backend]);
    fprintf(o, "|%s|", kvv_op_name(g->op));
    put_attr_text(o, where);
    fprintf(o, "\" data-status=\"%s\"", status);
    for (int w = 0; w < 2; w++)
        if (cl->nratio[w])
            fprintf(o, " data-%s=\"%s\"", w ? "budget" : "arith", rep_num(full, sizeof full, cl->worst[w]));
    fputs(" title=\"", o);
    cell_title(o, g, cl, where);
    fputs("\">", o);
    if (cl->nfail) {
        char fig[32];
        fail_figure(fig, sizeof fig, &g->st->e[cl->first_fail].v);
        int64_t k = g->page_of[cl->first_fail];
        if (k > 0)
            fprintf(o, "<a href=\"#f%lld\">&#x2715;&#xa0;%s</a>", (long long)k, fig);
        else
            fprintf(o, "<a href=\"#failures\">&#x2715;&#xa0;%s</a>", fig);
    } else if (cl->n == cl->nskip) {
        fputs("skip", o);
    } else if (g->show == SHOW_BOTH) {
        fprintf(o, "<span class=\"ra\">%s</span><span class=\"rb\">%s</span>", x[0], x[1]);
    } else if (g->show == SHOW_ARITH || g->show == SHOW_BUDGET) {
        fputs(x[g->show == SHOW_BUDGET], o);
    } else {
        fputs("ok", o);
    }
    fputs("</td>", o);
}

/* One grid as a table; 0, or -1 when memory runs out. */
static int grid_html(FILE *o, const grid_t *g)
{
    const rep_store *st = g->st;
    int64_t n = 0;
    for (int64_t i = 0; i < st->n; i++)
        n += in_grid(g, &st->e[i]);
    if (!n)
        return 0;
    int *rows = malloc(sizeof *rows * (size_t)n), *cols = malloc(sizeof *cols * (size_t)n);
    if (!rows || !cols) {
        free(rows);
        free(cols);
        return -1;
    }
    int nr = 0, nc = 0;
    for (int64_t i = 0; i < st->n; i++)
        if (in_grid(g, &st->e[i])) {
            rows[nr++] = row_key(g, &st->e[i].c);
            cols[nc++] = col_key(g, &st->e[i].c);
        }
    nr = distinct(rows, nr);
    nc = distinct(cols, nc);
    cell_t *cells = calloc((size_t)nr * (size_t)nc, sizeof *cells);
    if (!cells) {
        free(rows);
        free(cols);
        return -1;
    }
    for (int64_t i = 0; i < st->n; i++)
        if (in_grid(g, &st->e[i])) {
            int r = index_of(rows, nr, row_key(g, &st->e[i].c)), c = index_of(cols, nc, col_key(g, &st->e[i].c));
            cell_add(&cells[(size_t)r * (size_t)nc + (size_t)c], &st->e[i], i);
        }
    char head[32] = "", rl[64], cl[64], where[160];
    if (g->kv)
        head_text(head, sizeof head, g->dk, g->dv);
    fprintf(o, "<table class=\"map%s\"><caption>%s <span class=\"n\">(%lld case%s)</span></caption>\n<tr><th>%s</th>",
            g->kv && g->show == SHOW_BOTH ? " kv" : "", g->kv ? head : kvv_op_name(g->op), (long long)n,
            n == 1 ? "" : "s", g->kv ? "K \\ V" : by_group(g) ? "group" : "type");
    for (int c = 0; c < nc; c++) {
        col_text(g, cols[c], cl, sizeof cl);
        fprintf(o, "<th class=\"v\">%s</th>", cl);
    }
    fputs("</tr>\n", o);
    for (int r = 0; r < nr; r++) {
        row_text(g, rows[r], rl, sizeof rl);
        fprintf(o, "<tr><th>%s</th>", rl);
        for (int c = 0; c < nc; c++) {
            col_text(g, cols[c], cl, sizeof cl);
            if (g->kv)
                snprintf(where, sizeof where, "%s|%s/%s", head, rl, cl);
            else
                snprintf(where, sizeof where, "%s|%s", cl, rl);
            cell_html(o, g, &cells[(size_t)r * (size_t)nc + (size_t)c], where);
        }
        fputs("</tr>\n", o);
    }
    fputs("</table>\n", o);
    free(cells);
    free(rows);
    free(cols);
    return 0;
}

/* The K x V grids of one op and backend, one per head dim. */
static int kv_grids(FILE *o, grid_t g)
{
    const rep_store *st = g.st;
    int *heads = malloc(sizeof *heads * (size_t)(st->n + 1));
    if (!heads)
        return -1;
    int nh = 0;
    for (int64_t i = 0; i < st->n; i++)
        if (st->e[i].backend == g.backend && st->e[i].c.op == g.op)
            heads[nh++] = head_key(&st->e[i].c);
    nh = distinct(heads, nh);
    int rc = 0;
    for (int h = 0; h < nh && !rc; h++) {
        g.dk = heads[h] >> 16;
        g.dv = heads[h] & 0xffff;
        rc = grid_html(o, &g);
    }
    free(heads);
    return rc;
}

static int has_op(const rep_store *st, int backend, kvv_op op)
{
    for (int64_t i = 0; i < st->n; i++)
        if (st->e[i].backend == backend && st->e[i].c.op == op)
            return 1;
    return 0;
}

void rep_html_heatmaps(FILE *o, const rep_store *st, const kvv_run_info *info, const int64_t *page_of,
                       const double thr[2])
{
    if (!st->n) {
        fputs("<p>No cases in this run: no heatmap.</p>\n", o);
        return;
    }
    scale_t arith = scale_for(thr[0] * 1e-4, thr[0]), budget = scale_for(thr[1] / 2, thr[1]),
            ppl = scale_for(0.01, 1.0);
    legend(o, "arith ratio", arith);
    legend(o, "budget ratio", budget);
    legend(o, "ppl: share of the bound used", ppl);
    fputs("<div class=\"legend\"><span class=\"sw fcell\">&#x2715; a case failed (its figure)</span> <span "
          "class=\"sw scell\">skip: every case skipped</span> <span class=\"sw\">empty: no case</span></div>\n",
          o);
    /* the radio buttons come before the maps, as their siblings, so that
     * CSS alone (html.c) can switch the ratio the cells show */
    fputs("<input class=\"pick-in\" type=\"radio\" name=\"ratio\" id=\"show-budget\" checked>"
          "<input class=\"pick-in\" type=\"radio\" name=\"ratio\" id=\"show-arith\">\n"
          "<p class=\"pick\">Attention cells show the worst <label for=\"show-budget\">budget ratio</label> "
          "<label for=\"show-arith\">arith ratio</label></p>\n",
          o);
    for (int b = 0; b < info->nbackends; b++) {
        fprintf(o, "<h3 id=\"map-%d\">", b);
        rep_put_xml(o, info->backends[b]);
        fputs("</h3>\n", o);
        grid_t g = {st, info, page_of, b, KVV_OP_ATTN, 1, 0, 0, SHOW_BOTH, {arith, budget}};
        int rc = 0;
        if (has_op(st, b, KVV_OP_ATTN)) {
            fputs("<h4>Attention: K type (rows) by V type (columns), per head dim</h4>\n<div class=\"maps\">\n", o);
            rc |= kv_grids(o, g);
            fputs("</div>\n", o);
        }
        if (has_op(st, b, KVV_OP_PPL)) {
            fputs("<h4>Perplexity and KL divergence: the share of the bound used, K by V, per head dim</h4>\n"
                  "<div class=\"maps\">\n",
                  o);
            g.op = KVV_OP_PPL;
            g.show = SHOW_BUDGET;
            g.sc[1] = ppl;
            rc |= kv_grids(o, g);
            fputs("</div>\n", o);
        }
        /* the row ops of the op table: one grid each, by head dim */
        int any_rows = 0;
        for (int op = 0; op < KVV_OP_COUNT; op++)
            any_rows |= kvv_op_get((kvv_op)op)->shape != KVV_SHAPE_HEADS && has_op(st, b, (kvv_op)op);
        if (any_rows) {
            fputs("<h4>Quantize and dequantize (type by head dim; bit-exact rules, no ratio) and the WHT (group by "
                  "head dim, arith ratio)</h4>\n<div class=\"maps\">\n",
                  o);
            for (int op = 0; op < KVV_OP_COUNT; op++) {
                const kvv_op_info *oi = kvv_op_get((kvv_op)op);
                if (oi->shape == KVV_SHAPE_HEADS)
                    continue;
                grid_t r = {st, info, page_of, b, (kvv_op)op, 0, 0, 0,
                            oi->ratios & KVV_RATIO_ARITH ? SHOW_ARITH : SHOW_NONE, {arith, budget}};
                rc |= grid_html(o, &r);
            }
            fputs("</div>\n", o);
        }
        if (rc)
            fputs("<p>Out of memory: some maps are missing.</p>\n", o);
    }
}
