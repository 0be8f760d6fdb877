/* The ratio reporter: one TSV line per (case, backend) with its status and
 * error ratios, written as verdicts arrive.  This is the baseline format of
 * `kvverify compare`: small, diffable, and all the nightly gate compares.
 * A ratio the case does not have (a crash, a decline, a row op) is "-". */
#include <stdlib.h>

#include "reports/report_util.h"

static void t_begin(kvv_reporter *r, const kvv_run_info *info)
{
    r->info = info;
    fprintf(r->out, "# kvverify %s (%s) on %s, started %s\n", info->version, info->commit, info->machine,
            info->started);
    fprintf(r->out, "name\tbackend\tstatus\tarith_ratio\tbudget_ratio\n");
    fflush(r->out);
}

static void t_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    (void)c;
    char a[32], b[32];
    fprintf(r->out, "%s\t%s\t%s\t%s\t%s\n", name, r->info->backends[backend], rep_status_word(v->status),
            rep_ratio(a, sizeof a, v->arith_ratio), rep_ratio(b, sizeof b, v->budget_ratio));
    fflush(r->out);
}

static void t_end(kvv_reporter *r, const kvv_summary *s)
{
    if (s->interrupted)
        fprintf(r->out, "# interrupted: results so far\n");
    fflush(r->out);
}

static void t_destroy(kvv_reporter *r)
{
    free(r->state);
    free(r);
}

kvv_reporter *kvv_reporter_ratios(FILE *out)
{
    return rep_new(out, calloc(1, 1), t_begin, t_result, t_end, t_destroy);
}
