/* Replaying a dump: the stored cases and inputs read back, rerun on the
 * backends asked for (or each on its own), the verdicts compared. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvv/version.h"
#include "oracle/cases.h"
#include "oracle/replay.h"

static const char *const input_names[] = {"q", "k", "v", "mask", "x"};

void kvv_replay_free(kvv_replay_set *st)
{
    for (int i = 0; i < st->n; i++)
        kvv_record_free(&st->in[i]);
    free(st->e);
    free(st->in);
    free(st->inp);
    free(st->cases);
    memset(st, 0, sizeof *st);
}

int kvv_replay_load(const char *path, const char *pattern, kvv_replay_set *st, FILE *out, char *why,
                    size_t why_len)
{
    memset(st, 0, sizeof *st);
    kvv_dump *d = kvv_dump_open(path, why, why_len);
    if (!d)
        return -1;
    int n = kvv_dump_count(d), rc = 0;
    st->e = calloc((size_t)(n ? n : 1), sizeof *st->e);
    st->in = calloc((size_t)(n ? n : 1), sizeof *st->in);
    st->inp = calloc((size_t)(n ? n : 1), sizeof *st->inp);
    st->cases = calloc((size_t)(n ? n : 1), sizeof *st->cases);
    if (!st->e || !st->in || !st->inp || !st->cases) {
        snprintf(why, why_len, "out of memory");
        kvv_dump_close(d);
        return -1;
    }
    fprintf(out, "replaying %s: %d stored case%s (kvverify %s, commit %s, %s, started %s)\n", path, n,
            n == 1 ? "" : "s", kvv_dump_attr(d, "tool_version"), kvv_dump_attr(d, "git_commit"),
            kvv_dump_attr(d, "machine"), kvv_dump_attr(d, "started"));
    kvv_filter f = {0};
    f.pattern = pattern;
    for (int i = 0; i < n; i++) {
        kvv_dump_entry e;
        kvv_record rec = {0};
        if (kvv_dump_read(d, i, &e, &rec, why, why_len)) {
            rc = -1;
            break;
        }
        char err[300];
        if (kvv_filter_match(&f, &e.c, err, sizeof err) != 1) {
            kvv_record_free(&rec);
            continue;
        }
        int k = st->n++;
        st->e[k] = e;
        st->cases[k] = e.c;
        for (size_t j = 0; j < sizeof input_names / sizeof *input_names; j++) {
            const kvv_array *x = kvv_record_get(&rec, input_names[j]);
            if (x)
                kvv_record_put(&st->in[k], x->name, x->dtype, x->type, x->ndim, x->dims, x->data);
        }
        st->inp[k] = st->in[k].n ? &st->in[k] : NULL;
        kvv_record_free(&rec);
    }
    kvv_dump_close(d);
    return rc;
}

/* The stored inputs of case i against the generator's; a line when they
 * differ.  1 when they differ. */
static int check_generator(const kvv_replay_set *st, int i, FILE *out)
{
    kvv_record gen = {0};
    int differs = 0;
    if (kvv_case_inputs(&st->cases[i], &gen))
        return 0;
    for (int k = 0; k < gen.n && !differs; k++) {
        const kvv_array *g = &gen.a[k], *s = kvv_record_get(&st->in[i], g->name);
        kvv_array_diff d;
        if (!s) {
            fprintf(out, "inputs  %s: no stored '%s'; generated from the seed\n", st->e[i].name, g->name);
            continue;
        }
        kvv_array_compare(s, g, &d);
        if (d.differs == 2) {
            fprintf(out, "inputs  %s: the stored '%s' has another shape than the case takes\n", st->e[i].name,
                    g->name);
            differs = 1;
        } else if (d.differs) {
            char at[128];
            kvv_array_index_text(s, d.idx, at, sizeof at);
            fprintf(out,
                    "inputs  %s: the stored inputs differ from what the generator makes from seed %llu today "
                    "(first at %s: stored %.9g, generated %.9g; %lld elements differ): the generator changed; "
                    "replaying the stored inputs\n",
                    st->e[i].name, (unsigned long long)st->cases[i].seed, at, d.a, d.b, (long long)d.count);
            differs = 1;
        }
    }
    kvv_record_free(&gen);
    return differs;
}

int kvv_replay_check_inputs(const kvv_replay_set *st, FILE *out)
{
    int gen_changed = 0, no_inputs = 0;
    for (int i = 0; i < st->n; i++) {
        if (!st->inp[i]) {
            fprintf(out, "inputs  %s: none stored; generated from the seed\n", st->e[i].name);
            no_inputs++;
        } else {
            gen_changed += check_generator(st, i, out);
        }
    }
    fprintf(out, "inputs: %d of %d cases as the generator makes them from their seeds%s\n",
            st->n - gen_changed - no_inputs, st->n,
            gen_changed ? "; the others are replayed from the stored arrays" : "");
    return gen_changed;
}

/* A reporter that keeps the new verdicts, by case and backend. */
typedef struct {
    const kvv_case *base;
    int nb;
    kvv_verdict *v;
    char *have;
} keep_state;

static void k_begin(kvv_reporter *r, const kvv_run_info *i) { r->info = i; }
static void k_result(kvv_reporter *r, const kvv_case *c, const char *name, int b, const kvv_verdict *v)
{
    (void)name;
    keep_state *k = r->state;
    int64_t u = (int64_t)(c - k->base) * k->nb + b;
    k->v[u] = *v;
    k->have[u] = 1;
}
static void k_end(kvv_reporter *r, const kvv_summary *s)
{
    (void)r;
    (void)s;
}

static void verdict_text(const kvv_verdict *v, char *buf, size_t n)
{
    if (v->status == KVV_FAIL)
        snprintf(buf, n, "%s [%s]", kvv_status_name(v->status), kvv_rule_name(v->rule));
    else
        snprintf(buf, n, "%s", kvv_status_name(v->status));
}

/* Run the cases sel[0..nsel) on one set of backends; prints and counts the
 * comparison with the stored verdicts.  The run's failures, or -1. */
static int run_group(const kvv_replay_set *st, const kvv_replay_opts *o, const int *sel, int nsel,
                     const char *const *bnames, int nb, kvv_replay_result *r)
{
    kvv_case *cases = calloc((size_t)(nsel ? nsel : 1), sizeof *cases);
    const kvv_record **inp = calloc((size_t)(nsel ? nsel : 1), sizeof *inp);
    kvv_verdict *v = calloc((size_t)(nsel ? nsel : 1) * (size_t)nb, sizeof *v);
    char *have = calloc((size_t)(nsel ? nsel : 1) * (size_t)nb, 1);
    int failures = -1;
    if (!cases || !inp || !v || !have)
        goto out;
    for (int i = 0; i < nsel; i++) {
        cases[i] = st->cases[sel[i]];
        inp[i] = st->inp[sel[i]];
    }
    char started[64];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, o->machine, started, "replay", nb, {0}, nsel, 0};
    for (int b = 0; b < nb; b++)
        info.backends[b] = bnames[b];
    keep_state ks = {cases, nb, v, have};
    kvv_reporter keep = {k_begin, k_result, k_end, NULL, NULL, o->out, &ks};
    kvv_reporter *term = kvv_reporter_terminal(o->out, o->verbose);
    kvv_reporter *reps[] = {term, &keep};
    kvv_run_opts ro = {.backend_names = bnames, .nbackends = nb, .cases = cases, .ncases = nsel, .reporters = reps,
                       .nreporters = 2, .jobs = o->jobs, .timeout = o->timeout, .info = &info, .guard = o->guard};
    kvv_run_io_opts io = {o->dump, o->dump_all, inp};
    kvv_summary s;
    failures = kvv_run_with_io(&ro, &io, &s);
    term->destroy(term);
    r->interrupted |= s.interrupted;
    for (int i = 0; i < nsel && failures >= 0; i++)
        for (int b = 0; b < nb; b++) {
            const kvv_dump_entry *e = &st->e[sel[i]];
            if (!have[i * nb + b])
                continue;
            char was[64], now_t[64];
            verdict_text(&e->v, was, sizeof was);
            verdict_text(&v[i * nb + b], now_t, sizeof now_t);
            int same = e->v.status == v[i * nb + b].status && e->v.rule == v[i * nb + b].rule;
            r->changed += !same;
            if (!same || o->verbose)
                fprintf(o->out, "%s %s\n        stored on %s: %s; now on %s: %s\n", same ? "same   " : "CHANGED",
                        e->name, e->backend, was, bnames[b], now_t);
        }
out:
    free(cases);
    free(inp);
    free(v);
    free(have);
    return failures;
}

int kvv_replay_run(const kvv_replay_set *st, const kvv_replay_opts *o, kvv_replay_result *r)
{
    memset(r, 0, sizeof *r);
    int *sel = calloc((size_t)(st->n ? st->n : 1), sizeof *sel);
    char *done = calloc((size_t)(st->n ? st->n : 1), 1);
    int failures = -1;
    if (!sel || !done)
        goto out;
    if (o->backend_names) {
        for (int i = 0; i < st->n; i++)
            sel[i] = i;
        failures = run_group(st, o, sel, st->n, o->backend_names, o->nbackends, r);
        goto out;
    }
    /* each case on the backend it was stored from */
    failures = 0;
    for (int i = 0; i < st->n && failures >= 0 && !r->interrupted; i++) {
        if (done[i])
            continue;
        int nsel = 0;
        for (int j = i; j < st->n; j++)
            if (!done[j] && !strcmp(st->e[j].backend, st->e[i].backend)) {
                sel[nsel++] = j;
                done[j] = 1;
            }
        const char *name = st->e[i].backend;
        int f = run_group(st, o, sel, nsel, &name, 1, r);
        failures = f < 0 ? -1 : failures + f;
    }
out:
    free(sel);
    free(done);
    return failures;
}
