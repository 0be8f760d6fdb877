/* The Markdown reporter: a summary short enough for a CI job page or a pull
 * request comment.  The verdict line, totals per op and backend, the skip
 * reasons, the failures (the first MD_MAX_FAILURES, each with a rerun
 * command) and the cases closest to their thresholds. */
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

#define MD_MAX_FAILURES 100
#define MD_TOP 10

typedef struct {
    rep_store fails;         /* failing verdicts, in case order */
    int64_t nfail_seen;
    rep_store top_a, top_b;  /* the passing cases with the largest ratios, sorted descending */
    rep_reasons reasons;     /* of the skips, or of the declines --strict failed */
} md_state;

/* Keep the MD_TOP largest by key (insertion into a short sorted list). */
static void keep_top(rep_store *t, const kvv_case *c, const char *name, int backend, const kvv_verdict *v,
                     int budget)
{
    double x = budget ? v->budget_ratio : v->arith_ratio;
    if (!(x > 0))
        return;
    if (t->n == MD_TOP) {
        const kvv_verdict *last = &t->e[MD_TOP - 1].v;
        if (x <= (budget ? last->budget_ratio : last->arith_ratio))
            return;
        free(t->e[MD_TOP - 1].name);
        t->n--;
    }
    if (rep_store_add(t, c, name, backend, v))
        return;
    for (int64_t i = t->n - 1; i > 0; i--) {
        double a = budget ? t->e[i - 1].v.budget_ratio : t->e[i - 1].v.arith_ratio;
        if (a >= x)
            break;
        rep_entry tmp = t->e[i - 1];
        t->e[i - 1] = t->e[i];
        t->e[i] = tmp;
    }
}

static void m_begin(kvv_reporter *r, const kvv_run_info *info) { r->info = info; }

static void m_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    md_state *s = r->state;
    rep_reasons_note(&s->reasons, backend, v);
    if (v->status == KVV_FAIL) {
        if (s->nfail_seen++ < MD_MAX_FAILURES)
            rep_store_add(&s->fails, c, name, backend, v);
    } else if (v->status == KVV_PASS) {
        keep_top(&s->top_a, c, name, backend, v, 0);
        keep_top(&s->top_b, c, name, backend, v, 1);
    }
}

static void row(FILE *o, const char *op, const char *bn, const kvv_tally *t)
{
    char a[32], b[32];
    fprintf(o, "| %s | %s | %lld | %lld | %lld | %lld | %lld/%lld | %s | %s | %.2f | %.2f |\n", op, bn,
            (long long)t->cases, (long long)t->pass, (long long)t->fail, (long long)t->skip, (long long)t->ties,
            (long long)t->tie_candidates, t->n_arith ? rep_num(a, sizeof a, t->worst_arith) : "-",
            t->n_budget ? rep_num(b, sizeof b, t->worst_budget) : "-", t->t_backend, t->t_ref);
}

static void top_table(FILE *o, const kvv_reporter *r, const rep_store *t, const char *title, int budget)
{
    if (!t->n)
        return;
    fprintf(o, "\n### %s\n\n| ratio | backend | case |\n|---:|---|---|\n", title);
    for (int64_t i = 0; i < t->n; i++) {
        char x[32];
        fprintf(o, "| %s | %s | `%s` |\n",
                rep_num(x, sizeof x, budget ? t->e[i].v.budget_ratio : t->e[i].v.arith_ratio),
                r->info->backends[t->e[i].backend], t->e[i].name);
    }
}

/* The precision each backend claimed in its attention cases. */
static void claims_table(FILE *o, const kvv_reporter *r, const kvv_summary *sm)
{
    int any = 0;
    for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++)
        any |= sm->claims[b].n > 0;
    if (!any)
        return;
    fputs("\n## Precision claimed (attention)\n\n| backend | claim | cases |\n|---|---|---:|\n", o);
    for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++) {
        const kvv_claim_set *cs = &sm->claims[b];
        for (int i = 0; i < cs->n; i++) {
            char label[160];
            kvv_claim_label(cs->c[i].kv_round, cs->c[i].acc_round, label, sizeof label);
            fputs("| ", o);
            rep_put_md_cell(o, r->info->backends[b]);
            fprintf(o, " | %s | %lld |\n", label, (long long)cs->c[i].cases);
        }
        if (cs->others) {
            fputs("| ", o);
            rep_put_md_cell(o, r->info->backends[b]);
            fprintf(o, " | other claims (see the JSON report) | %lld |\n", (long long)cs->others);
        }
    }
}

static void m_end(kvv_reporter *r, const kvv_summary *sm)
{
    md_state *s = r->state;
    const kvv_run_info *info = r->info;
    FILE *o = r->out;
    fprintf(o, "# kvverify report\n\n**%s**: %lld checks, %lld passed, %lld failed, %lld skipped in %.1f s%s\n\n",
            sm->total.fail ? "FAIL" : "PASS", (long long)sm->total.cases, (long long)sm->total.pass,
            (long long)sm->total.fail, (long long)sm->total.skip, sm->seconds,
            sm->interrupted ? " (interrupted: results so far)" : "");
    fprintf(o, "kvverify %s (commit %s) on %s, started %s; backends:", info->version, info->commit, info->machine,
            info->started);
    for (int b = 0; b < info->nbackends; b++)
        fprintf(o, "%s %s", b ? "," : "", info->backends[b]);
    fprintf(o, "\n\n");
    if (info->command && *info->command) {
        fputs("Command: `", o);
        rep_put_md_cell(o, info->command);
        fputs("`\n\n", o);
    }
    fputs("## Totals\n\n| op | backend | cases | pass | fail | skip | ties taken/of | worst arith | worst budget | "
          "backend s | ref s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
          o);
    for (int op = 0; op < KVV_OP_COUNT; op++)
        for (int b = 0; b < sm->nbackends; b++)
            if (sm->by[op][b].cases)
                row(o, kvv_op_name((kvv_op)op), info->backends[b], &sm->by[op][b]);
    row(o, "**total**", "", &sm->total);
    claims_table(o, r, sm);
    if (s->reasons.n) {
        rep_reasons_sort(&s->reasons);
        fprintf(o, "\n## %s, by reason (%lld)\n\n| cases | backend | reason |\n|---:|---|---|\n",
                sm->total.declined ? "Declined (failures under --strict)" : "Skipped", (long long)s->reasons.total);
        for (int i = 0; i < s->reasons.n && i < MD_TOP; i++) {
            fprintf(o, "| %lld | %s | ", (long long)s->reasons.r[i].n, info->backends[s->reasons.r[i].backend]);
            rep_put_md_cell(o, s->reasons.r[i].text);
            fputs(" |\n", o);
        }
        if (s->reasons.n > MD_TOP)
            fprintf(o, "\n... and %d more reasons: see the HTML or JSON report.\n", s->reasons.n - MD_TOP);
    }
    if (s->nfail_seen) {
        fprintf(o, "\n## Failures (%lld)\n\n| backend | case | rule | figure | detail |\n|---|---|---|---|---|\n",
                (long long)s->nfail_seen);
        for (int64_t i = 0; i < s->fails.n; i++) {
            const rep_entry *e = &s->fails.e[i];
            char fig[64];
            fprintf(o, "| %s | `%s` | %s | %s | ", info->backends[e->backend], e->name, kvv_rule_name(e->v.rule),
                    rep_figure(&e->v, fig, sizeof fig));
            rep_put_md_cell(o, e->v.detail);
            fputs(" |\n", o);
        }
        if (s->nfail_seen > s->fails.n)
            fprintf(o, "\n... and %lld more failures: see the JUnit or HTML report.\n",
                    (long long)(s->nfail_seen - s->fails.n));
        if (s->fails.n) {
            char cmd[1024];
            rep_rerun(s->fails.e[0].name, info->backends[s->fails.e[0].backend], cmd, sizeof cmd);
            fprintf(o, "\nRerun the first: `%s`\n", cmd);
        }
    }
    if (s->top_a.n || s->top_b.n)
        fputs("\n## Closest to the thresholds (passing cases)\n", o);
    top_table(o, r, &s->top_a, "Largest arith ratios", 0);
    top_table(o, r, &s->top_b, "Largest budget ratios", 1);
    fflush(o);
}

static void m_destroy(kvv_reporter *r)
{
    md_state *s = r->state;
    rep_store_free(&s->fails);
    rep_store_free(&s->top_a);
    rep_store_free(&s->top_b);
    rep_reasons_free(&s->reasons);
    free(s);
    free(r);
}

kvv_reporter *kvv_reporter_markdown(FILE *out)
{
    return rep_new(out, calloc(1, sizeof(md_state)), m_begin, m_result, m_end, m_destroy);
}
