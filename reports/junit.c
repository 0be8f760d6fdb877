/* The JUnit XML reporter: the format CI systems publish.  A testsuite per
 * backend, a testcase per case (classname kvverify.<backend>.<op>), a
 * failure element per failing case whose message carries the rule and its
 * figure and whose text the detail, the first differences and the rerun
 * command.  Written at the end (the suite attributes hold totals) from the
 * verdicts kept as they arrive. */
#include <stdlib.h>

#include "reports/report_util.h"

typedef struct {
    rep_store st;
} junit_state;

static void u_begin(kvv_reporter *r, const kvv_run_info *info) { r->info = info; }

static void u_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    junit_state *s = r->state;
    if (rep_store_add(&s->st, c, name, backend, v))
        fprintf(stderr, "kvverify: out of memory keeping results for the JUnit report\n");
}

static void attr(FILE *o, const char *k, const char *v)
{
    fprintf(o, " %s=\"", k);
    rep_put_xml(o, v);
    fputc('"', o);
}

static void property(FILE *o, const char *k, const char *v)
{
    fputs("      <property", o);
    attr(o, "name", k);
    attr(o, "value", v ? v : "");
    fputs("/>\n", o);
}

static void failure_text(FILE *o, const rep_entry *e, const char *backend)
{
    const kvv_verdict *v = &e->v;
    char a[32], line[1024];
    rep_put_xml(o, v->detail);
    rep_put_xml(o, "\n");
    if (rep_has_ratio(v->arith_ratio)) { /* the ratios a case has, none where the rule did not run */
        snprintf(line, sizeof line, "arith_ratio %s, ", rep_num(a, sizeof a, v->arith_ratio));
        rep_put_xml(o, line);
    }
    if (rep_has_ratio(v->budget_ratio)) {
        snprintf(line, sizeof line, "budget_ratio %s, ", rep_num(a, sizeof a, v->budget_ratio));
        rep_put_xml(o, line);
    }
    snprintf(line, sizeof line, "ties %lld of %lld, checked %lld", (long long)v->ties, (long long)v->tie_candidates,
             (long long)v->checked);
    rep_put_xml(o, line);
    for (int i = 0; i < v->ndiffs && i < KVV_VERDICT_DIFFS; i++) {
        const kvv_diff *d = &v->diffs[i];
        char g[32], w[32];
        snprintf(line, sizeof line, "\n%s [%lld,%lld]: got %s, want %s", v->rule == KVV_RULE_BYTES ? "byte" : "element",
                 (long long)d->row, (long long)d->col, rep_num(g, sizeof g, d->got), rep_num(w, sizeof w, d->want));
        rep_put_xml(o, line);
    }
    rep_rerun(e->name, backend, line, sizeof line);
    rep_put_xml(o, "\nrerun: ");
    rep_put_xml(o, line);
}

static void u_end(kvv_reporter *r, const kvv_summary *sm)
{
    junit_state *s = r->state;
    const kvv_run_info *info = r->info;
    FILE *o = r->out;
    char num[64];
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", o);
    attr(o, "name", "kvverify");
    fprintf(o, " tests=\"%lld\" failures=\"%lld\" errors=\"0\" skipped=\"%lld\" time=\"%.3f\">\n",
            (long long)sm->total.cases, (long long)sm->total.fail, (long long)sm->total.skip, sm->seconds);
    for (int b = 0; b < info->nbackends; b++) {
        int64_t n = 0, nf = 0, ns = 0;
        double t = 0;
        for (int64_t i = 0; i < s->st.n; i++)
            if (s->st.e[i].backend == b) {
                n++;
                nf += s->st.e[i].v.status == KVV_FAIL;
                ns += s->st.e[i].v.status == KVV_SKIP;
                t += s->st.e[i].v.t_backend + s->st.e[i].v.t_ref;
            }
        snprintf(num, sizeof num, "kvverify.%s", info->backends[b]);
        fputs("  <testsuite", o);
        attr(o, "name", num);
        fprintf(o, " tests=\"%lld\" failures=\"%lld\" errors=\"0\" skipped=\"%lld\" time=\"%.3f\"", (long long)n,
                (long long)nf, (long long)ns, t);
        attr(o, "timestamp", info->started);
        attr(o, "hostname", info->machine);
        fputs(">\n    <properties>\n", o);
        property(o, "version", info->version);
        property(o, "commit", info->commit);
        property(o, "command", info->command);
        property(o, "backend", info->backends[b]);
        if (sm->interrupted)
            property(o, "interrupted", "true: results so far");
        fputs("    </properties>\n", o);
        for (int64_t i = 0; i < s->st.n; i++) {
            const rep_entry *e = &s->st.e[i];
            if (e->backend != b)
                continue;
            fputs("    <testcase", o);
            attr(o, "name", e->name);
            snprintf(num, sizeof num, "kvverify.%s.%s", info->backends[b], kvv_op_name(e->c.op));
            attr(o, "classname", num);
            fprintf(o, " time=\"%.6f\"", e->v.t_backend + e->v.t_ref);
            if (e->v.status == KVV_PASS) {
                fputs("/>\n", o);
                continue;
            }
            fputs(">\n      ", o);
            if (e->v.status == KVV_SKIP) {
                fputs("<skipped", o);
                attr(o, "message", e->v.detail);
                fputs("/>\n    </testcase>\n", o);
                continue;
            }
            char fig[64], msg[800];
            snprintf(msg, sizeof msg, "[%s] %s: %s", kvv_rule_name(e->v.rule), rep_figure(&e->v, fig, sizeof fig),
                     e->v.detail);
            fputs("<failure", o);
            attr(o, "message", msg);
            attr(o, "type", kvv_rule_name(e->v.rule));
            fputc('>', o);
            failure_text(o, e, info->backends[b]);
            fputs("</failure>\n    </testcase>\n", o);
        }
        fputs("  </testsuite>\n", o);
    }
    fputs("</testsuites>\n", o);
    fflush(o);
}

static void u_destroy(kvv_reporter *r)
{
    junit_state *s = r->state;
    rep_store_free(&s->st);
    free(s);
    free(r);
}

kvv_reporter *kvv_reporter_junit(FILE *out)
{
    return rep_new(out, calloc(1, sizeof(junit_state)), u_begin, u_result, u_end, u_destroy);
}
