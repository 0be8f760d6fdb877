/* The terminal reporter: failure lines as they come, a progress line when
 * the output is a TTY (a bar, the counts, an estimate of the time left and
 * the case last finished, cut to the terminal's width), and at the end the
 * summary table and the reasons cases were skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "reports/report_util.h"

#define REASONS_SHOWN 10

typedef struct {
    int verbose, tty, done, total;
    int64_t pass, fail, skip;
    double t0, last_draw;
    int progress_shown;
    char current[512]; /* the case last finished */
    rep_reasons reasons;
    char coverage[512]; /* a line printed under the summary (kvv_reporter_terminal_coverage) */
} term_state;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void clear_progress(kvv_reporter *r)
{
    term_state *s = r->state;
    if (s->progress_shown) {
        fprintf(r->out, "\r\033[K");
        s->progress_shown = 0;
    }
}

/* The terminal's width: a line longer than it would wrap, and \r would
 * then redraw only its last part. */
static int columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 80;
}

/* "ETA 1h02m", "ETA 3m05s", "ETA 12s": the time left at the average pace so far. */
static void eta_text(char *buf, size_t n, const term_state *s, double now)
{
    if (s->done <= 0 || s->total <= s->done) {
        snprintf(buf, n, "ETA --");
        return;
    }
    double left = (now - s->t0) / s->done * (s->total - s->done);
    long t = (long)ceil(left);
    if (t >= 3600)
        snprintf(buf, n, "ETA %ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "ETA %ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "ETA %lds", t);
}

static void draw_progress(kvv_reporter *r, int force)
{
    term_state *s = r->state;
    double t = mono();
    if (!s->tty || (!force && t - s->last_draw < 0.1))
        return;
    s->last_draw = t;
    int width = 20, filled = s->total ? (int)((int64_t)width * s->done / s->total) : width;
    char bar[32], eta[32], line[1024];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    eta_text(eta, sizeof eta, s, t);
    int len = snprintf(line, sizeof line, "[%s] %d/%d  fail %lld  skip %lld  %s  %s", bar, s->done, s->total,
                       (long long)s->fail, (long long)s->skip, eta, s->current);
    int cols = columns(r->out) - 1;
    if (len > cols && cols > 3 && cols < (int)sizeof line) { /* cut the case name, which comes last */
        memcpy(line + cols - 3, "...", 4);
    }
    fprintf(r->out, "\r%s\033[K", line);
    fflush(r->out);
    s->progress_shown = 1;
}

static void t_begin(kvv_reporter *r, const kvv_run_info *info)
{
    term_state *s = r->state;
    r->info = info;
    s->total = info->ncases * info->nbackends;
    s->t0 = mono();
    fprintf(r->out, "kvverify %s (%s) on %s: %d cases x %d backend%s (", info->version, info->commit, info->machine,
            info->ncases, info->nbackends, info->nbackends == 1 ? "" : "s");
    for (int i = 0; i < info->nbackends; i++)
        fprintf(r->out, "%s%s", i ? ", " : "", info->backends[i]);
    fprintf(r->out, ")\n");
    fflush(r->out);
}

static void t_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    (void)c;
    term_state *s = r->state;
    s->done++;
    s->pass += v->status == KVV_PASS;
    s->fail += v->status == KVV_FAIL;
    s->skip += v->status == KVV_SKIP;
    snprintf(s->current, sizeof s->current, "%s", name);
    if (rep_reasons_note(&s->reasons, backend, v))
        fprintf(stderr, "kvverify: out of memory counting skip reasons\n");
    const char *bn = r->info->backends[backend];
    if (v->status == KVV_FAIL) {
        clear_progress(r);
        fprintf(r->out, "FAIL %-7s %s\n     [%s] %s\n", bn, name, kvv_rule_name(v->rule), v->detail);
    } else if (s->verbose) {
        clear_progress(r);
        fprintf(r->out, "%-4s %-7s %s", kvv_status_name(v->status), bn, name);
        if (!isnan(v->arith_ratio)) /* NaN: the case has no such ratio */
            fprintf(r->out, "  arith %.3g", v->arith_ratio);
        if (!isnan(v->budget_ratio))
            fprintf(r->out, "  budget %.3g", v->budget_ratio);
        if (v->ties)
            fprintf(r->out, "  ties %lld", (long long)v->ties);
        if (v->status == KVV_SKIP)
            fprintf(r->out, "  (%s)", v->detail);
        fprintf(r->out, "\n");
    }
    draw_progress(r, 0);
}

static void fmt_ratio(char *buf, size_t n, double x, int64_t cases)
{
    if (cases == 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.3g", x);
}

static void print_row(FILE *out, const char *op, const char *bn, const kvv_tally *t)
{
    char a[16], b[16];
    fmt_ratio(a, sizeof a, t->worst_arith, t->n_arith);
    fmt_ratio(b, sizeof b, t->worst_budget, t->n_budget);
    fprintf(out, "%-8s %-8s %6lld %6lld %5lld %5lld %6lld/%-6lld %10s %10s %9.2f %9.2f\n", op, bn,
            (long long)t->cases, (long long)t->pass, (long long)t->fail, (long long)t->skip, (long long)t->ties,
            (long long)t->tie_candidates, a, b, t->t_backend, t->t_ref);
}

/* The reasons of the skips (or of the declines --strict failed), most
 * frequent first. */
static void print_reasons(kvv_reporter *r, rep_reasons *rs, int strict)
{
    if (!rs->n)
        return;
    rep_reasons_sort(rs);
    fprintf(r->out, "\n%s, by reason (%lld case%s):\n", strict ? "Declined (failures under --strict)" : "Skipped",
            (long long)rs->total, rs->total == 1 ? "" : "s");
    int64_t shown = 0;
    for (int i = 0; i < rs->n && i < REASONS_SHOWN; i++) {
        fprintf(r->out, "%8lld  %s  %s\n", (long long)rs->r[i].n, r->info->backends[rs->r[i].backend], rs->r[i].text);
        shown += rs->r[i].n;
    }
    if (rs->n > REASONS_SHOWN)
        fprintf(r->out, "     ... %d more reasons (%lld cases): the JSON report has each case's\n",
                rs->n - REASONS_SHOWN, (long long)(rs->total - shown));
}

/* The precision each backend claimed in its attention cases (what the
 * arith bounds were built from), when any did. */
static void print_claims(kvv_reporter *r, const kvv_summary *sm)
{
    int any = 0;
    for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++)
        any |= sm->claims[b].n > 0;
    if (!any)
        return;
    fprintf(r->out, "\nPrecision claimed (attention), per backend:\n");
    for (int b = 0; b < sm->nbackends && b < KVV_MAX_BACKENDS; b++) {
        const kvv_claim_set *cs = &sm->claims[b];
        for (int i = 0; i < cs->n; i++) {
            char label[160];
            kvv_claim_label(cs->c[i].kv_round, cs->c[i].acc_round, label, sizeof label);
            fprintf(r->out, "  %-8s %s: %lld case%s\n", r->info->backends[b], label, (long long)cs->c[i].cases,
                    cs->c[i].cases == 1 ? "" : "s");
        }
        if (cs->others)
            fprintf(r->out, "  %-8s other claims: %lld case%s (the JSON report has each case's)\n",
                    r->info->backends[b], (long long)cs->others, cs->others == 1 ? "" : "s");
    }
}

static void t_end(kvv_reporter *r, const kvv_summary *sm)
{
    term_state *s = r->state;
    clear_progress(r);
    FILE *out = r->out;
    fprintf(out, "\n%-8s %-8s %6s %6s %5s %5s %13s %10s %10s %9s %9s\n", "op", "backend", "cases", "pass", "fail",
            "skip", "ties taken/of", "worst arith", "worst budg", "backend s", "ref s");
    for (int op = 0; op < KVV_OP_COUNT; op++)
        for (int b = 0; b < sm->nbackends; b++)
            if (sm->by[op][b].cases)
                print_row(out, kvv_op_name((kvv_op)op), r->info->backends[b], &sm->by[op][b]);
    print_row(out, "total", "", &sm->total);
    fprintf(out, "\n%lld checks: %lld passed, %lld failed, %lld skipped in %.1f s%s\n", (long long)sm->total.cases,
            (long long)sm->total.pass, (long long)sm->total.fail, (long long)sm->total.skip, sm->seconds,
            sm->interrupted ? " (INTERRUPTED: results so far)" : sm->stopped_early ? " (stopped at the first failure)" : "");
    if (sm->total.declined)
        fprintf(out, "%lld of the failures are declines, which --strict counts as failures\n",
                (long long)sm->total.declined);
    print_reasons(r, &s->reasons, sm->total.declined > 0);
    if (s->coverage[0])
        fprintf(out, "%s\n", s->coverage);
    print_claims(r, sm);
    fflush(out);
}

static void t_destroy(kvv_reporter *r)
{
    term_state *s = r->state;
    rep_reasons_free(&s->reasons);
    free(s);
    free(r);
}

kvv_reporter *kvv_reporter_terminal(FILE *out, int verbose)
{
    kvv_reporter *r = calloc(1, sizeof *r);
    term_state *s = calloc(1, sizeof *s);
    if (!r || !s) {
        free(r);
        free(s);
        return NULL;
    }
    s->verbose = verbose;
    s->tty = isatty(fileno(out));
    r->state = s;
    r->out = out;
    r->begin = t_begin;
    r->result = t_result;
    r->end = t_end;
    r->destroy = t_destroy;
    return r;
}

void kvv_reporter_terminal_coverage(kvv_reporter *r, const char *line)
{
    term_state *s = r->state;
    snprintf(s->coverage, sizeof s->coverage, "%s", line ? line : "");
}
