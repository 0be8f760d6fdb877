/* `kvverify replay FILE.h5`: rerun the cases of a dump from their stored
 * inputs (not regenerated from the seed), judged by the same rules, and say
 * whether each stored verdict is reproduced.  The stored inputs are also
 * checked against what the generator makes from the seed today, so that a
 * changed generator is noticed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oracle/oracle.h"
#include "reports/reports.h"
#include "tools/cli.h"

typedef struct {
    const char *file, *backends, *pattern, *dump;
    int jobs, verbose, no_isolate, dump_all, guard;
    double timeout;
    char patterns[1024], blist[1024]; /* -p and -b, given twice, add */
} replay_args;

static const char *const input_names[] = {"q", "k", "v", "mask", "x"};

static int parse_replay_args(int argc, char **argv, replay_args *a)
{
    enum { O_TIMEOUT = 256, O_NOISO, O_DUMP, O_DUMP_ALL, O_GUARD };
    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'}, {"pattern", required_argument, 0, 'p'},
        {"jobs", required_argument, 0, 'j'},    {"timeout", required_argument, 0, O_TIMEOUT},
        {"no-isolate", no_argument, 0, O_NOISO}, {"dump", required_argument, 0, O_DUMP},
        {"dump-all", no_argument, 0, O_DUMP_ALL}, {"verbose", no_argument, 0, 'v'},
        {"guard", no_argument, 0, O_GUARD},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->jobs = ncpu > 0 ? (int)ncpu : 1;
    a->timeout = 120;
    optind = 1;
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "b:p:j:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            if (cli_list_add("-b", optarg, a->blist, sizeof a->blist))
                return -1;
            a->backends = a->blist;
            break;
        case 'p':
            if (cli_list_add("-p", optarg, a->patterns, sizeof a->patterns))
                return -1;
            a->pattern = a->patterns;
            break;
        case 'j':
            a->jobs = (int)strtol(optarg, &end, 10);
            if (*end || a->jobs < 1 || a->jobs > 256) {
                fprintf(stderr, "kvverify: -j needs 1..256, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_TIMEOUT:
            a->timeout = strtod(optarg, &end);
            if (*end || !(a->timeout > 0)) {
                fprintf(stderr, "kvverify: --timeout needs a positive number of seconds, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_NOISO: a->no_isolate = 1; break;
        case O_DUMP: a->dump = optarg; break;
        case O_DUMP_ALL: a->dump_all = 1; break;
        case O_GUARD: a->guard = 1; break;
        case 'v': a->verbose = 1; break;
        case 'h': cli_help("replay", stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "kvverify: replay takes one dump file (kvverify replay FILE.h5 [-b BACKENDS])\n");
        return -1;
    }
    if (a->dump_all && !a->dump) {
        fprintf(stderr, "kvverify: --dump-all needs --dump FILE\n");
        return -1;
    }
    if (a->dump && cli_dump_check(a->dump))
        return -1;
    a->file = argv[optind];
    return 0;
}

/* The stored cases the replay runs, with their inputs. */
typedef struct {
    int n;
    kvv_dump_entry *e;
    kvv_record *in;       /* the stored input arrays of each case */
    const kvv_record **inp; /* &in[i], or NULL when the case has no stored inputs */
    kvv_case *cases;
} stored_t;

static void stored_free(stored_t *st)
{
    for (int i = 0; i < st->n; i++)
        kvv_record_free(&st->in[i]);
    free(st->e);
    free(st->in);
    free(st->inp);
    free(st->cases);
}

/* Check the stored inputs of a case against the generator; prints a line
 * when they differ.  Returns 1 when they differ. */
static int check_generator(const stored_t *st, int i)
{
    kvv_record gen = {0};
    int differs = 0;
    if (kvv_case_inputs(&st->cases[i], &gen))
        return 0;
    for (int k = 0; k < gen.n && !differs; k++) {
        const kvv_array *g = &gen.a[k], *s = kvv_record_get(&st->in[i], g->name);
        kvv_array_diff d;
        if (!s) {
            printf("inputs  %s: no stored '%s'; generated from the seed\n", st->e[i].name, g->name);
            continue;
        }
        kvv_array_compare(s, g, &d);
        if (d.differs == 2) {
            printf("inputs  %s: the stored '%s' has another shape than the case takes\n", st->e[i].name, g->name);
            differs = 1;
        } else if (d.differs) {
            char at[128];
            kvv_array_index_text(s, d.idx, at, sizeof at);
            printf("inputs  %s: the stored inputs differ from what the generator makes from seed %llu today "
                   "(first at %s: stored %.9g, generated %.9g; %lld elements differ): the generator changed; "
                   "replaying the stored inputs\n",
                   st->e[i].name, (unsigned long long)st->cases[i].seed, at, d.a, d.b, (long long)d.count);
            differs = 1;
        }
    }
    kvv_record_free(&gen);
    return differs;
}

static int load_stored(const replay_args *a, stored_t *st)
{
    char why[1200];
    memset(st, 0, sizeof *st);
    kvv_dump *d = kvv_dump_open(a->file, why, sizeof why);
    if (!d) {
        fprintf(stderr, "kvverify: %s\n", why);
        return -1;
    }
    int n = kvv_dump_count(d), rc = 0;
    st->e = calloc((size_t)(n ? n : 1), sizeof *st->e);
    st->in = calloc((size_t)(n ? n : 1), sizeof *st->in);
    st->inp = calloc((size_t)(n ? n : 1), sizeof *st->inp);
    st->cases = calloc((size_t)(n ? n : 1), sizeof *st->cases);
    if (!st->e || !st->in || !st->inp || !st->cases) {
        fprintf(stderr, "kvverify: out of memory\n");
        kvv_dump_close(d);
        return -1;
    }
    printf("replaying %s: %d stored case%s (kvverify %s, commit %s, %s, started %s)\n", a->file, n, n == 1 ? "" : "s",
           kvv_dump_attr(d, "tool_version"), kvv_dump_attr(d, "git_commit"), kvv_dump_attr(d, "machine"),
           kvv_dump_attr(d, "started"));
    kvv_filter f = {0};
    f.pattern = a->pattern;
    for (int i = 0; i < n; i++) {
        kvv_dump_entry e;
        kvv_record rec = {0};
        if (kvv_dump_read(d, i, &e, &rec, why, sizeof why)) {
            fprintf(stderr, "kvverify: %s\n", why);
            rc = -1;
            break;
        }
        if (kvv_filter_match(&f, &e.c, why, sizeof why) != 1) {
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

/* Run the cases on one set of backends; prints and counts the comparison
 * with the stored verdicts. */
static int run_group(const replay_args *a, const stored_t *st, const int *sel, int nsel, const char *const *bnames,
                     int nb, kvv_dump_writer *dw, int *changed, int *interrupted)
{
    kvv_case *cases = calloc((size_t)(nsel ? nsel : 1), sizeof *cases);
    const kvv_record **inp = calloc((size_t)(nsel ? nsel : 1), sizeof *inp);
    kvv_verdict *v = calloc((size_t)(nsel ? nsel : 1) * (size_t)nb, sizeof *v);
    char *have = calloc((size_t)(nsel ? nsel : 1) * (size_t)nb, 1);
    if (!cases || !inp || !v || !have) {
        free(cases);
        free(inp);
        free(v);
        free(have);
        return -1;
    }
    for (int i = 0; i < nsel; i++) {
        cases[i] = st->cases[sel[i]];
        inp[i] = st->inp[sel[i]];
    }
    char machine[256], started[64], command[64];
    cli_machine_name(machine, sizeof machine);
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(command, sizeof command, "replay");
    kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, machine, started, command, nb, {0}, nsel, 0};
    for (int b = 0; b < nb; b++)
        info.backends[b] = bnames[b];
    keep_state ks = {cases, nb, v, have};
    kvv_reporter keep = {k_begin, k_result, k_end, NULL, NULL, stdout, &ks};
    kvv_reporter *term = kvv_reporter_terminal(stdout, a->verbose);
    kvv_reporter *reps[] = {term, &keep};
    kvv_run_opts o = {.backend_names = bnames, .nbackends = nb, .cases = cases, .ncases = nsel, .reporters = reps,
                      .nreporters = 2, .jobs = a->no_isolate ? 0 : a->jobs, .timeout = a->timeout, .info = &info,
                      .guard = a->guard};
    kvv_run_io_opts io = {dw, a->dump_all, inp};
    kvv_summary s;
    int failures = kvv_run_with_io(&o, &io, &s);
    term->destroy(term);
    *interrupted |= s.interrupted;
    for (int i = 0; i < nsel && failures >= 0; i++)
        for (int b = 0; b < nb; b++) {
            const kvv_dump_entry *e = &st->e[sel[i]];
            if (!have[i * nb + b])
                continue;
            char was[64], now_t[64];
            verdict_text(&e->v, was, sizeof was);
            verdict_text(&v[i * nb + b], now_t, sizeof now_t);
            int same = e->v.status == v[i * nb + b].status && e->v.rule == v[i * nb + b].rule;
            *changed += !same;
            if (!same || a->verbose)
                printf("%s %s\n        stored on %s: %s; now on %s: %s\n", same ? "same   " : "CHANGED", e->name,
                       e->backend, was, bnames[b], now_t);
        }
    free(cases);
    free(inp);
    free(v);
    free(have);
    return failures;
}

int cmd_replay(int argc, char **argv)
{
    replay_args a;
    if (parse_replay_args(argc, argv, &a))
        return EXIT_USAGE;
    if (a.backends) { /* a backend that cannot be opened is refused before any work */
        char store[1024];
        const char *names[KVV_MAX_BACKENDS];
        int nb = cli_split_backends(a.backends, store, sizeof store, names);
        for (int i = 0; i < nb; i++)
            if (cli_check_backend(names[i], a.timeout))
                nb = -1;
        if (nb < 0)
            return EXIT_USAGE;
    }
    stored_t st;
    if (load_stored(&a, &st)) {
        stored_free(&st);
        return EXIT_USAGE;
    }
    if (st.n == 0) {
        fprintf(stderr, "kvverify: %s holds no case%s\n", a.file, a.pattern ? " that matches the pattern" : "");
        stored_free(&st);
        return EXIT_USAGE;
    }
    if (!a.backends) {
        /* the backends the dump names, each opened once up front as -b's
         * are: one that is gone or broken is refused before any work */
        for (int i = 0; i < st.n; i++) {
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(st.e[j].backend, st.e[i].backend);
            if (!seen && cli_check_backend(st.e[i].backend, a.timeout)) {
                fprintf(stderr, "kvverify: %s stores cases of that backend; -b BACKENDS replays them on others\n",
                        a.file);
                stored_free(&st);
                return EXIT_USAGE;
            }
        }
    }
    int gen_changed = 0, no_inputs = 0;
    for (int i = 0; i < st.n; i++) {
        if (!st.inp[i]) {
            printf("inputs  %s: none stored; generated from the seed\n", st.e[i].name);
            no_inputs++;
        } else {
            gen_changed += check_generator(&st, i);
        }
    }
    printf("inputs: %d of %d cases as the generator makes them from their seeds%s\n",
           st.n - gen_changed - no_inputs, st.n, gen_changed ? "; the others are replayed from the stored arrays" : "");

    kvv_dump_writer *dw = NULL;
    if (a.dump) {
        char machine[256], started[64];
        cli_machine_name(machine, sizeof machine);
        time_t now = time(NULL);
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, machine, started, "replay", 0, {0}, st.n, 0};
        if (!(dw = cli_dump_create(a.dump, a.dump_all, &info))) {
            stored_free(&st);
            return EXIT_USAGE;
        }
    }
    int *sel = calloc((size_t)st.n, sizeof *sel);
    char *done = calloc((size_t)st.n, 1);
    int failures = 0, changed = 0, interrupted = 0, rc = 0;
    char bstore[1024];
    const char *bnames[KVV_MAX_BACKENDS];
    if (a.backends) {
        int nb = cli_split_backends(a.backends, bstore, sizeof bstore, bnames);
        if (nb < 0) {
            rc = EXIT_USAGE;
            goto done;
        }
        for (int i = 0; i < st.n; i++)
            sel[i] = i;
        int f = run_group(&a, &st, sel, st.n, bnames, nb, dw, &changed, &interrupted);
        failures = f < 0 ? -1 : f;
    } else {
        /* each case on the backend it was stored from */
        for (int i = 0; i < st.n && failures >= 0 && !interrupted; i++) {
            if (done[i])
                continue;
            int nsel = 0;
            for (int j = i; j < st.n; j++)
                if (!done[j] && !strcmp(st.e[j].backend, st.e[i].backend)) {
                    sel[nsel++] = j;
                    done[j] = 1;
                }
            const char *name = st.e[i].backend;
            int f = run_group(&a, &st, sel, nsel, &name, 1, dw, &changed, &interrupted);
            failures = f < 0 ? -1 : failures + f;
        }
    }
    if (failures < 0) {
        fprintf(stderr, "kvverify: the replay could not start\n");
        rc = 1;
        goto done;
    }
    printf("replay: %d verdict%s differ%s from the stored one%s\n", changed, changed == 1 ? "" : "s",
           changed == 1 ? "s" : "", changed == 1 ? "" : "s");
    rc = failures > 0 || interrupted ? 1 : 0;
done:
    if (dw) {
        kvv_summary s;
        memset(&s, 0, sizeof s);
        s.interrupted = interrupted;
        if (cli_dump_finish(dw, a.dump, &s))
            rc = rc ? rc : 1;
    }
    free(sel);
    free(done);
    stored_free(&st);
    return rc;
}
