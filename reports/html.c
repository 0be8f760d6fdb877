/* The HTML reporter: one self-contained page (inline CSS, no scripts or
 * assets fetched from anywhere) with the run's totals, the skip reasons, the
 * heatmaps (html_heatmap.c), the plots (html_plots.c), the list of failures,
 * and a section per failure: the case name ready to copy, the rerun command,
 * rule and detail, the inputs' statistics and the first differing elements.  Written at the end from the
 * verdicts kept as they arrive. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

#define HTML_DEFAULT_PAGES 200

typedef struct {
    rep_store st;
    kvv_input_stats_fn stats;
    int max_pages;
    double thr[2]; /* arith, budget */
} html_state;

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}"
    "h1{margin:0 0 4px}h2{margin-top:28px;border-bottom:1px solid #ccc}h4{margin:14px 0 4px}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:bold}"
    ".pass{background:#2e7d32}.fail{background:#c62828}"
    "table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}"
    "th{background:#f3f3f3}td.l,th.l{text-align:left}"
    ".maps{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}"
    "table.map td,table.map th{font-size:11px;padding:1px 3px;min-width:30px;text-align:center}"
    "table.map th:first-child{text-align:left;white-space:nowrap}"
    "table.map th.v{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;text-align:left;"
    "min-width:0}"
    "table.map caption{font-weight:bold;text-align:left;padding:4px 0;white-space:nowrap}"
    "table.map caption .n{font-weight:normal}"
    /* failures red and skips grey whatever ratio a cell holds (!important: above the picker's rules below) */
    "td.c.f{background:#d32f2f!important;color:#fff;font-weight:bold}td.c.f a{color:#fff}"
    "td.c.s,.scell{background:#d0d0d0!important;color:#444}td.e{background:#fff}"
    ".fcell{background:#d32f2f;color:#fff;font-weight:bold}"
    /* attention cells carry both ratios: a radio button picks one, without a script */
    ".pick-in{position:absolute;opacity:0}"
    ".pick label{border:1px solid #888;border-radius:3px;padding:1px 8px;cursor:pointer}"
    "#show-budget:checked~.pick label[for=show-budget],#show-arith:checked~.pick label[for=show-arith]"
    "{background:#333;color:#fff}"
    "table.kv td.c{background:var(--cb)}table.kv .ra{display:none}"
    "#show-arith:checked~.maps table.kv td.c{background:var(--ca)}"
    "#show-arith:checked~.maps table.kv .ra{display:inline}#show-arith:checked~.maps table.kv .rb{display:none}"
    ".legend{margin:8px 0}.sw{display:inline-block;padding:1px 8px;margin:0 2px;border:1px solid #aaa}"
    ".plots{display:flex;gap:12px;flex-wrap:wrap}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}svg .t{font-weight:bold}"
    "svg .xl{text-anchor:middle}svg .yl,svg .rl{text-anchor:end}svg .tl{fill:#c62828}"
    "svg .ax{stroke:#888}svg .thr{stroke:#c62828;stroke-dasharray:4 3}"
    "svg .bp,svg .bb{fill:#4a7fd4}svg .bf{fill:#d32f2f}svg .br{fill:#aaa}svg .kb{fill:#4a7fd4}svg .kr{fill:#888}"
    "code,pre{font:12px ui-monospace,monospace}"
    "pre.name{user-select:all;background:#f6f6f6;border:1px solid #ddd;padding:4px 8px;white-space:pre-wrap;"
    "word-break:break-all}"
    "section.failure{border:1px solid #e0b4b4;border-radius:6px;padding:8px 14px;margin:14px 0;background:#fffafa}"
    "section.failure:target{box-shadow:0 0 0 3px #c62828}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}dd{margin:0}"
    ".top{font-size:12px}";

static void h_begin(kvv_reporter *r, const kvv_run_info *info) { r->info = info; }

static void h_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    html_state *s = r->state;
    if (rep_store_add(&s->st, c, name, backend, v))
        fprintf(stderr, "kvverify: out of memory keeping results for the HTML report\n");
}

static void text(FILE *o, const char *s) { rep_put_xml(o, s); }

static void dl_row(FILE *o, const char *k, const char *v)
{
    fprintf(o, "<dt>%s</dt><dd>", k);
    text(o, v);
    fputs("</dd>", o);
}

static void totals(FILE *o, const kvv_reporter *r, const kvv_summary *sm)
{
    fputs("<h2 id=\"totals\">Totals</h2>\n<table><tr><th class=\"l\">op</th><th class=\"l\">backend</th><th>cases</th>"
          "<th>pass</th><th>fail</th><th>skip</th><th>ties taken/of</th><th>worst arith</th><th>worst budget</th>"
          "<th>backend s</th><th>ref s</th></tr>\n",
          o);
    for (int op = 0; op <= KVV_OP_COUNT; op++)
        for (int b = 0; b < sm->nbackends; b++) {
            const kvv_tally *t = op < KVV_OP_COUNT ? &sm->by[op][b] : &sm->total;
            if (op == KVV_OP_COUNT && b > 0)
                break;
            if (!t->cases && op < KVV_OP_COUNT)
                continue;
            char a[32], c[32];
            fprintf(o, "<tr><td class=\"l\">%s</td><td class=\"l\">", op < KVV_OP_COUNT ? kvv_op_name((kvv_op)op) : "total");
            if (op < KVV_OP_COUNT)
                text(o, r->info->backends[b]);
            fprintf(o, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld/%lld</td><td>%s</td>"
                       "<td>%s</td><td>%.2f</td><td>%.2f</td></tr>\n",
                    (long long)t->cases, (long long)t->pass, (long long)t->fail, (long long)t->skip,
                    (long long)t->ties, (long long)t->tie_candidates,
                    t->n_arith ? rep_num(a, sizeof a, t->worst_arith) : "-",
                    t->n_budget ? rep_num(c, sizeof c, t->worst_budget) : "-", t->t_backend, t->t_ref);
        }
    fputs("</table>\n", o);
}

/* The precision each backend claimed in its attention cases. */
static void claims(FILE *o, const kvv_reporter *r, const kvv_summary *sm)
{
    int any = 0;
    for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++)
        any |= sm->claims[b].n > 0;
    if (!any)
        return;
    fputs("<h2 id=\"claims\">Precision claimed (attention)</h2>\n<table><tr><th class=\"l\">backend</th>"
          "<th class=\"l\">claim</th><th>cases</th></tr>\n",
          o);
    for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++) {
        const kvv_claim_set *cs = &sm->claims[b];
        for (int i = 0; i <= cs->n; i++) {
            if (i == cs->n && !cs->others)
                break;
            char label[160];
            if (i < cs->n)
                kvv_claim_label(cs->c[i].kv_round, cs->c[i].acc_round, label, sizeof label);
            else
                snprintf(label, sizeof label, "other claims (see the JSON report)");
            fputs("<tr><td class=\"l\">", o);
            text(o, r->info->backends[b]);
            fputs("</td><td class=\"l\">", o);
            text(o, label);
            fprintf(o, "</td><td>%lld</td></tr>\n", (long long)(i < cs->n ? cs->c[i].cases : cs->others));
        }
    }
    fputs("</table>\n", o);
}

/* Why cases were skipped (or declined, failing under --strict), most frequent first. */
static void reasons(FILE *o, const kvv_reporter *r, const html_state *s, const kvv_summary *sm)
{
    rep_reasons rs = {0};
    for (int64_t i = 0; i < s->st.n; i++)
        if (rep_reasons_note(&rs, s->st.e[i].backend, &s->st.e[i].v)) {
            fputs("<p>Out of memory: no skip reasons.</p>\n", o);
            rep_reasons_free(&rs);
            return;
        }
    if (rs.n) {
        rep_reasons_sort(&rs);
        fprintf(o, "<h2 id=\"skips\">%s, by reason (%lld)</h2>\n<table><tr><th>cases</th><th class=\"l\">backend</th>"
                   "<th class=\"l\">reason</th></tr>\n",
                sm->total.declined ? "Declined (failures under --strict)" : "Skipped", (long long)rs.total);
        for (int i = 0; i < rs.n; i++) {
            fprintf(o, "<tr><td>%lld</td><td class=\"l\">", (long long)rs.r[i].n);
            text(o, r->info->backends[rs.r[i].backend]);
            fputs("</td><td class=\"l\">", o);
            text(o, rs.r[i].text);
            fputs("</td></tr>\n", o);
        }
        fputs("</table>\n", o);
    }
    rep_reasons_free(&rs);
}

static void stats_table(FILE *o, const html_state *s, const kvv_case *c)
{
    kvv_input_stats in;
    if (!s->stats)
        return;
    if (s->stats(c, &in)) {
        fputs("<p>Input statistics unavailable (the inputs could not be regenerated).</p>\n", o);
        return;
    }
    fputs("<h4>Inputs</h4>\n<table class=\"stats\"><tr><th class=\"l\">tensor</th><th>values</th><th>mean</th><th>rms</th>"
          "<th>max |x|</th><th>outliers</th><th>NaN/Inf</th></tr>\n",
          o);
    for (int i = 0; i < in.n && i < 3; i++) {
        const kvv_tensor_stats *t = &in.t[i];
        char a[32], b[32], m[32];
        fputs("<tr><td class=\"l\">", o);
        text(o, t->name);
        fprintf(o, "</td><td>%lld</td><td>%s</td><td>%s</td><td>%s</td><td>%.3g%%</td><td>%lld</td></tr>\n",
                (long long)t->n, rep_num(a, sizeof a, t->mean), rep_num(b, sizeof b, t->rms),
                rep_num(m, sizeof m, t->max_abs), 100.0 * t->outlier_frac, (long long)t->nonfinite);
    }
    fputs("</table>\n<p class=\"top\">outliers: |x| above 6 robust standard deviations (median |x| / 0.6745)</p>\n",
          o);
}

static void diffs_table(FILE *o, const kvv_verdict *v)
{
    if (v->ndiffs <= 0) {
        fputs("<p>No element-level differences for this rule.</p>\n", o);
        return;
    }
    /* byte differences: the bytes rule, and the toggle rule on cache bytes
     * (its detail then names a byte, as kvv_judge_same_bytes writes it) */
    int bytes = v->rule == KVV_RULE_BYTES || (v->rule == KVV_RULE_TOGGLE && strstr(v->detail, " byte "));
    int ratio = v->rule == KVV_RULE_ARITH;
    fprintf(o, "<h4>First differences</h4>\n<table class=\"diffs\"><tr><th>row</th><th>%s</th><th>got</th>"
               "<th>expected</th>%s</tr>\n",
            bytes ? "byte" : "column", ratio ? "<th>|error|</th><th>bound</th><th>ratio</th>" : "<th>|difference|</th>");
    for (int i = 0; i < v->ndiffs && i < KVV_VERDICT_DIFFS; i++) {
        const kvv_diff *d = &v->diffs[i];
        char g[48], w[48], e[32], b[32], q[32];
        if (bytes) {
            snprintf(g, sizeof g, "0x%02x", (unsigned)d->got);
            snprintf(w, sizeof w, "0x%02x", (unsigned)d->want);
        } else {
            snprintf(g, sizeof g, "%.9g", d->got);
            snprintf(w, sizeof w, "%.9g", d->want);
        }
        double err = fabs(d->got - d->want);
        fprintf(o, "<tr><td>%lld</td><td>%lld</td><td>%s</td><td>%s</td><td>%s</td>", (long long)d->row,
                (long long)d->col, g, w, isnan(err) ? "-" : rep_num(e, sizeof e, err));
        if (ratio)
            fprintf(o, "<td>%s</td><td>%s</td>", rep_num(b, sizeof b, d->bound),
                    d->bound > 0 ? rep_num(q, sizeof q, err / d->bound) : "inf");
        fputs("</tr>\n", o);
    }
    fputs("</table>\n", o);
}

static void failure_page(FILE *o, const kvv_reporter *r, const html_state *s, const rep_entry *e, int64_t k)
{
    const kvv_verdict *v = &e->v;
    const char *bn = r->info->backends[e->backend];
    char fig[64], cmd[1024], a[32], b[32], line[256];
    fprintf(o, "<section class=\"failure\" id=\"f%lld\">\n<h3>Failure %lld: %s on ", (long long)k, (long long)k,
            rep_figure(v, fig, sizeof fig));
    text(o, bn);
    fprintf(o, "</h3>\n<pre class=\"name\" id=\"n%lld\">", (long long)k);
    text(o, e->name);
    fputs("</pre>\n<dl>", o);
    rep_rerun(e->name, bn, cmd, sizeof cmd);
    fputs("<dt>rerun</dt><dd><code>", o);
    text(o, cmd);
    fputs("</code></dd>", o);
    dl_row(o, "rule", kvv_rule_name(v->rule));
    dl_row(o, "detail", v->detail);
    dl_row(o, "arith ratio", rep_has_ratio(v->arith_ratio) ? rep_num(a, sizeof a, v->arith_ratio) : "none (not measured)");
    dl_row(o, "budget ratio", rep_has_ratio(v->budget_ratio) ? rep_num(b, sizeof b, v->budget_ratio) : "none (not measured)");
    snprintf(line, sizeof line, "%lld taken of %lld candidates; %lld values or bytes checked; %lld blocks with "
                                "NaN/Inf inputs",
             (long long)v->ties, (long long)v->tie_candidates, (long long)v->checked, (long long)v->nonfinite_inputs);
    dl_row(o, "checks", line);
    snprintf(line, sizeof line, "backend %.3f s, reference %.3f s", v->t_backend, v->t_ref);
    dl_row(o, "time", line);
    snprintf(line, sizeof line, "%s, seed %llu", kvv_dist_name(e->c.dist), (unsigned long long)e->c.seed);
    dl_row(o, "inputs", line);
    fputs("</dl>\n", o);
    stats_table(o, s, &e->c);
    diffs_table(o, v);
    fputs("<p class=\"top\"><a href=\"#failures\">failures</a> &middot; <a href=\"#top\">top</a></p>\n</section>\n", o);
}

static void h_end(kvv_reporter *r, const kvv_summary *sm)
{
    html_state *s = r->state;
    const kvv_run_info *info = r->info;
    FILE *o = r->out;
    int64_t *page_of = calloc((size_t)(s->st.n + 1), sizeof *page_of);
    if (!page_of) {
        fprintf(stderr, "kvverify: out of memory writing the HTML report\n");
        return;
    }
    int64_t nfail = 0;
    for (int64_t i = 0; i < s->st.n; i++)
        if (s->st.e[i].v.status == KVV_FAIL && ++nfail <= s->max_pages)
            page_of[i] = nfail;
    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>kvverify report: %s</title>\n"
               "<style>%s</style>\n</head>\n<body id=\"top\">\n",
            sm->total.fail ? "FAIL" : "PASS", css);
    fprintf(o, "<h1>kvverify report <span class=\"badge %s\">%s</span></h1>\n", sm->total.fail ? "fail" : "pass",
            sm->total.fail ? "FAIL" : "PASS");
    fprintf(o, "<p>%lld checks: %lld passed, %lld failed, %lld skipped in %.1f s%s</p>\n<dl>",
            (long long)sm->total.cases, (long long)sm->total.pass, (long long)sm->total.fail,
            (long long)sm->total.skip, sm->seconds, sm->interrupted ? " (interrupted: results so far)" : "");
    char line[512] = "";
    snprintf(line, sizeof line, "%s (commit %s)", info->version, info->commit);
    dl_row(o, "kvverify", line);
    dl_row(o, "machine", info->machine);
    dl_row(o, "started", info->started);
    dl_row(o, "command", info->command ? info->command : "");
    line[0] = 0;
    for (int b = 0; b < info->nbackends; b++)
        snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", b ? ", " : "", info->backends[b]);
    dl_row(o, "backends", line);
    fputs("</dl>\n", o);
    totals(o, r, sm);
    claims(o, r, sm);
    reasons(o, r, s, sm);
    fprintf(o, "<h2 id=\"heatmap\">Where it fails: the worst ratio per cell</h2>\n<p>A cell holds the cases of one "
               "K/V pair at one head dim (attention, ppl) or of one type at one head dim (quantize, dequantize; "
               "the WHT by group), and shows their worst ratio; hover for the counts and the worst case. A red cell "
               "holds a failure: it shows that failure's figure (its ratio, or its rule when the rule has no "
               "ratio) and links to it. Grey: every case skipped. The arith ratio fails above %g, the budget ratio "
               "above %g (a correct backend's is near 1), ppl above 1.</p>\n",
            s->thr[0], s->thr[1]);
    rep_html_heatmaps(o, &s->st, info, page_of, s->thr);
    fputs("<h2 id=\"plots\">Distributions and time</h2>\n<p>How the ratios of the cases spread (a quarter decade "
          "per bar; cases that failed, by any rule, in red on top of those that passed), and where the time "
          "went.</p>\n",
          o);
    rep_html_plots(o, &s->st, info, sm, s->thr);
    fprintf(o, "<h2 id=\"failures\">Failures (%lld)</h2>\n", (long long)nfail);
    if (nfail) {
        fputs("<table><tr><th>#</th><th class=\"l\">backend</th><th class=\"l\">case</th><th class=\"l\">rule</th>"
              "<th class=\"l\">figure</th></tr>\n",
              o);
        int64_t k = 0;
        for (int64_t i = 0; i < s->st.n; i++) {
            const rep_entry *e = &s->st.e[i];
            if (e->v.status != KVV_FAIL)
                continue;
            char fig[64];
            k++;
            fprintf(o, "<tr><td>%lld</td><td class=\"l\">", (long long)k);
            text(o, info->backends[e->backend]);
            fputs("</td><td class=\"l\">", o);
            if (page_of[i])
                fprintf(o, "<a href=\"#f%lld\"><code>", (long long)page_of[i]);
            else
                fputs("<code>", o);
            text(o, e->name);
            fprintf(o, "</code>%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td></tr>\n",
                    page_of[i] ? "</a>" : "", kvv_rule_name(e->v.rule), rep_figure(&e->v, fig, sizeof fig));
        }
        fputs("</table>\n", o);
        if (nfail > s->max_pages)
            fprintf(o, "<p>Pages below for the first %d failures; the JUnit and JSON reports hold every one.</p>\n",
                    s->max_pages);
        for (int64_t i = 0; i < s->st.n; i++)
            if (page_of[i])
                failure_page(o, r, s, &s->st.e[i], page_of[i]);
    } else {
        fputs("<p>None.</p>\n", o);
    }
    fputs("</body>\n</html>\n", o);
    fflush(o);
    free(page_of);
}

static void h_destroy(kvv_reporter *r)
{
    html_state *s = r->state;
    rep_store_free(&s->st);
    free(s);
    free(r);
}

kvv_reporter *kvv_reporter_html(FILE *out, const kvv_html_opts *o)
{
    html_state *s = calloc(1, sizeof *s);
    if (s) {
        s->stats = o ? o->stats : NULL;
        s->max_pages = o && o->max_pages > 0 ? o->max_pages : HTML_DEFAULT_PAGES;
        s->thr[0] = o && o->arith_threshold > 0 ? o->arith_threshold : 1.0;
        s->thr[1] = o && o->budget_threshold > 0 ? o->budget_threshold : 2.0;
    }
    return rep_new(out, s, h_begin, h_result, h_end, h_destroy);
}
