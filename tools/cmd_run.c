/* `kvverify run` and `kvverify list cases`: build the case list from the
 * gate, the full matrix or a file, filter it, run it, report it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oracle/oracle.h"
#include "reports/reports.h"
#include "tools/cli.h"

/* The list options: given twice, they add up (cli_list_add). */
enum { LIST_PATTERN, LIST_OPS, LIST_BACKENDS, LIST_HEAD, LIST_KV, LIST_TOGGLE, LIST_SET, LIST_COUNT };

typedef struct {
    kvv_filter f;
    const char *set, *cases_file, *backends, *dump;
    const char *rerun;                 /* --rerun-failed FILE */
    const kvv_case_list *rerun_cases;  /* the failing cases it names */
    char lists[LIST_COUNT][1024];
    const char *corpus; /* stored corpus replayed with --gate/--full; NULL = none */
    int corpus_given;
    int full, jobs, verbose, strict, no_isolate, list_only, fail_fast, dump_all, backends_given, matrix_given;
    int keep_formats; /* --listed-formats: run the generated cases in the versions they list */
    int guard;        /* --guard: guard pages after the buffers a backend writes */
    double timeout;
    uint64_t seed;
    cli_reports reports;
} run_args;

/* Add a list option's value to its list; -1 (printed) on an empty item. */
static int add_list(run_args *a, int slot, const char *opt, const char **field)
{
    if (cli_list_add(opt, optarg, a->lists[slot], sizeof a->lists[slot]))
        return -1;
    *field = a->lists[slot];
    return 0;
}

static int parse_run_args(int argc, char **argv, run_args *a, int list_only)
{
    enum { O_GATE = 256, O_FULL, O_CASES, O_HEAD, O_KV, O_TOGGLE, O_SET, O_SEED, O_TIMEOUT, O_NOISO, O_STRICT, O_FAILFAST,
           O_DUMP, O_DUMP_ALL, O_CORPUS, O_NOCORPUS, O_VKDEV, O_LISTED, O_RERUN, O_GUARD, O_REPORT_DIR,
           O_REPORT /* + CLI_REP_* (last) */ };
    static const struct option opts[] = {
        {"gate", no_argument, 0, O_GATE},       {"full", no_argument, 0, O_FULL},
        {"cases", required_argument, 0, O_CASES}, {"op", required_argument, 0, 'o'},
        {"backend", required_argument, 0, 'b'}, {"pattern", required_argument, 0, 'p'},
        {"head-dim", required_argument, 0, O_HEAD}, {"kv", required_argument, 0, O_KV},
        {"toggle", required_argument, 0, O_TOGGLE}, {"set", required_argument, 0, O_SET},
        {"seed", required_argument, 0, O_SEED}, {"jobs", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"no-isolate", no_argument, 0, O_NOISO},
        {"strict", no_argument, 0, O_STRICT},   {"fail-fast", no_argument, 0, O_FAILFAST},   {"verbose", no_argument, 0, 'v'},
        {"json", required_argument, 0, O_REPORT + CLI_REP_JSON},
        {"junit", required_argument, 0, O_REPORT + CLI_REP_JUNIT},
        {"markdown", required_argument, 0, O_REPORT + CLI_REP_MARKDOWN},
        {"html", required_argument, 0, O_REPORT + CLI_REP_HTML},
        {"ratios", required_argument, 0, O_REPORT + CLI_REP_RATIOS},
        {"report-dir", required_argument, 0, O_REPORT_DIR},
        {"dump", required_argument, 0, O_DUMP}, {"dump-all", no_argument, 0, O_DUMP_ALL},
        {"corpus", required_argument, 0, O_CORPUS}, {"no-corpus", no_argument, 0, O_NOCORPUS},
        {"vk-device", required_argument, 0, O_VKDEV}, {"listed-formats", no_argument, 0, O_LISTED},
        {"rerun-failed", required_argument, 0, O_RERUN},
        {"guard", no_argument, 0, O_GUARD},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->backends = "cpu";
    a->corpus = "corpora";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->jobs = ncpu > 0 ? (int)ncpu : 1;
    a->timeout = 120;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:b:p:j:vh", opts, NULL)) != -1) {
        switch (ch) {
        case O_GATE: a->full = 0; a->matrix_given = 1; break;
        case O_FULL: a->full = 1; a->matrix_given = 1; break;
        case O_CASES: a->cases_file = optarg; break;
        case O_RERUN: a->rerun = optarg; break;
        case 'o':
            if (add_list(a, LIST_OPS, "-o", &a->f.ops))
                return -1;
            break;
        case 'b':
            if (add_list(a, LIST_BACKENDS, "-b", &a->backends))
                return -1;
            a->backends_given = 1;
            break;
        case 'p':
            if (add_list(a, LIST_PATTERN, "-p", &a->f.pattern))
                return -1;
            break;
        case O_HEAD:
            if (add_list(a, LIST_HEAD, "--head-dim", &a->f.head_dims))
                return -1;
            break;
        case O_KV:
            if (add_list(a, LIST_KV, "--kv", &a->f.kv))
                return -1;
            break;
        case O_TOGGLE:
            if (add_list(a, LIST_TOGGLE, "--toggle", &a->f.toggles))
                return -1;
            break;
        case O_SET:
            if (add_list(a, LIST_SET, "--set", &a->set))
                return -1;
            break;
        case O_SEED:
            if (cli_u64("--seed", optarg, &a->seed))
                return -1;
            break;
        case 'j':
            if (cli_int("-j", optarg, 1, 256, &a->jobs))
                return -1;
            break;
        case O_TIMEOUT:
            if (cli_seconds("--timeout", optarg, 0.01, 86400, &a->timeout))
                return -1;
            break;
        case O_NOISO: a->no_isolate = 1; break;
        case O_CORPUS: a->corpus = optarg; a->corpus_given = 1; break;
        case O_NOCORPUS: a->corpus = NULL; break;
        case O_STRICT: a->strict = 1; break;
        case O_FAILFAST: a->fail_fast = 1; break;
        case O_DUMP: a->dump = optarg; break;
        case O_DUMP_ALL: a->dump_all = 1; break;
        case O_VKDEV:
            if (cli_vk_device(optarg))
                return -1;
            break;
        case 'v': a->verbose = 1; break;
        case O_LISTED: a->keep_formats = 1; break;
        case O_GUARD: a->guard = 1; break;
        case 'h': cli_help(list_only ? "list cases" : "run", stdout); exit(0);
        case O_REPORT_DIR: a->reports.dir = optarg; break;
        default:
            if (ch >= O_REPORT && ch < O_REPORT + CLI_REP_COUNT) {
                a->reports.path[ch - O_REPORT] = optarg;
                break;
            }
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvverify: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (a->dump_all && !a->dump) {
        fprintf(stderr, "kvverify: --dump-all needs --dump FILE\n");
        return -1;
    }
    if (a->rerun && (a->matrix_given || a->cases_file)) {
        fprintf(stderr, "kvverify: --rerun-failed takes its cases from %s: not with --gate, --full or --cases\n",
                a->rerun);
        return -1;
    }
    if (a->dump && cli_dump_check(a->dump))
        return -1;
    char why[300];
    if (kvv_filter_check(&a->f, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        return -1;
    }
    return 0;
}

/* Seeds derived from --seed stay printable in the case name, so a failure
 * line still reruns exactly. */
static uint64_t mix_seed(uint64_t s, uint64_t base)
{
    uint64_t z = s * 0x9e3779b97f4a7c15ull ^ base;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
    return (z ^ (z >> 29)) % 1000000007ull;
}

/* Whether a case name of the list holds text. */
static int matches_any(const kvv_case_list *l, const char *text)
{
    char name[512];
    for (int i = 0; i < l->n; i++) {
        kvv_case_name(&l->items[i], name, sizeof name);
        if (strstr(name, text))
            return 1;
    }
    return 0;
}

/* Build the case list of a run: the base list, filters, overrides, seeds.
 * A pattern that is a full case name is run even if no list holds it. */
static int build_cases(const run_args *a, const kvv_format_map *fm, kvv_case_list *out)
{
    kvv_case_list base = {0};
    char why[300];
    int named = a->cases_file || a->rerun; /* cases named in a file run as written */
    int rc = 0;
    if (a->rerun)
        for (int i = 0; i < a->rerun_cases->n; i++)
            kvv_case_list_push(&base, &a->rerun_cases->items[i]);
    else
        rc = a->cases_file ? kvv_case_file_load(a->cases_file, &base, why, sizeof why)
             : a->full     ? kvv_full_cases(&base)
                           : kvv_gate_cases(&base);
    if (rc == 0 && !named && a->corpus) {
        /* the gate and the full matrix replay the stored corpus too */
        if (a->corpus_given && access(a->corpus, F_OK) != 0) {
            snprintf(why, sizeof why, "--corpus: no folder %s", a->corpus);
            rc = -1;
        } else if (kvv_corpus_load(a->corpus, &base, why, sizeof why) < 0)
            rc = -1;
        else if (!a->corpus_given && access(a->corpus, F_OK) != 0)
            fprintf(stderr, "kvverify: note: no %s/ folder here, so the stored corpus is not replayed (run from the "
                            "source tree or give --corpus DIR)\n", a->corpus);
    }
    if (rc) {
        if (a->cases_file || a->corpus)
            fprintf(stderr, "kvverify: %s\n", why);
        kvv_case_list_free(&base);
        return -1;
    }
    if (fm && !named && kvv_format_map_changes(fm)) {
        int dropped = 0;
        kvv_formats_rewrite(fm, &base, &dropped);
        if (dropped)
            fprintf(stderr, "kvverify: %d generated cases dropped: head dims those versions cannot hold\n", dropped);
    }
    for (int i = 0; i < base.n; i++) {
        kvv_case c = base.items[i];
        if (a->set && kvv_case_apply_set(&c, a->set, why, sizeof why)) {
            fprintf(stderr, "kvverify: %s\n", why);
            kvv_case_list_free(&base);
            return -1;
        }
        if (a->seed && c.op != KVV_OP_PPL) /* a ppl case's seed picks the probe model its bounds belong to */
            c.seed = mix_seed(a->seed, c.seed);
        int m = kvv_filter_match(&a->f, &c, why, sizeof why);
        if (m < 0) {
            fprintf(stderr, "kvverify: %s\n", why);
            kvv_case_list_free(&base);
            return -1;
        }
        if (m)
            kvv_case_list_push(out, &c);
    }
    kvv_case_list_free(&base);
    /* each pattern that matched nothing and is a full case name adds that case */
    char items[1024], *save = NULL;
    snprintf(items, sizeof items, "%s", a->f.pattern ? a->f.pattern : "");
    for (char *it = strtok_r(items, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        if (strpbrk(it, "*?[") || matches_any(out, it))
            continue;
        kvv_case c;
        char op[16];
        size_t oplen = strcspn(it, "/");
        snprintf(op, sizeof op, "%.*s", (int)(oplen < sizeof op ? oplen : sizeof op - 1), it);
        if (kvv_case_parse(it, &c, why, sizeof why) == 0) {
            kvv_case_list_push(out, &c);
        } else if (strchr(it, '/') && (strchr(it, '=') || kvv_op_from_name(op) != KVV_OP_COUNT)) {
            /* it reads as a case name: say what is wrong with it */
            fprintf(stderr, "kvverify: no case matches '%s', and it is not a valid case name: %s\n", it, why);
            return -1;
        }
    }
    return 0;
}

/* The versions the run's library backends store the cache types in, for
 * the generated lists (a case file, or a name given with -p, runs as
 * written); says on stderr what changes.  -1 when the backends disagree. */
static int ask_formats(const run_args *a, const char *const *bnames, int nb, kvv_format_map *fm)
{
    kvv_format_map_init(fm);
    if (a->keep_formats || a->cases_file || a->rerun)
        return 0;
    char why[512];
    if (kvv_formats_ask(bnames, nb, fm, stderr, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        return -1;
    }
    if (!kvv_format_map_changes(fm))
        return 0;
    const char *who = "";
    fprintf(stderr, "kvverify: the generated cases run in the format versions the backends store:");
    for (int t = 0, first = 1; t < KVV_TYPE_COUNT; t++)
        if (fm->as[t] != (kvv_type)t) {
            fprintf(stderr, "%s %s as %s", first ? "" : ",", kvv_type_name((kvv_type)t), kvv_type_name(fm->as[t]));
            first = 0;
            who = fm->who[t];
        }
    fprintf(stderr, " (%s; `kvverify probe -b BACKEND` says how it knows; --listed-formats runs them as listed)\n",
            who);
    return 0;
}

/* The summary's coverage line for a generated list (oracle/dims.c): over
 * all cases, and over those a backend without the CPU toggles runs when
 * such a backend (anything but cpu) is in the run. */
static int run_coverage(const run_args *a, const kvv_case_list *l, const char *const *bnames, int nb, char *buf,
                        size_t len)
{
    kvv_coverage all, dev;
    if (kvv_coverage_measure(l->items, l->n, a->full ? 3 : 2, 0, &all))
        return -1;
    const kvv_filter *f = &a->f;
    int filtered = f->ops || f->pattern || f->head_dims || f->kv || f->toggles;
    snprintf(buf, len, "%s", filtered ? "the filtered cases: " : "");
    kvv_coverage_line(&all, buf + strlen(buf), len - strlen(buf));
    int others = 0;
    for (int i = 0; i < nb; i++)
        others |= strcmp(bnames[i], "cpu") != 0;
    if (others && kvv_coverage_measure(l->items, l->n, a->full ? 3 : 2, 1, &dev) == 0) {
        size_t o = strlen(buf);
        snprintf(buf + o, len - o, "; without the CPU toggles (threads, isa): ");
        o = strlen(buf);
        kvv_coverage_line(&dev, buf + o, len - o);
    }
    return 0;
}

/* --rerun-failed FILE: the cases that failed in a report as `run` writes
 * it (JSON lines or ratio TSV), each once, in the report's order, and the
 * backends they failed on (into backends, comma-separated). */
static int load_failed(const char *path, kvv_case_list *out, char *backends, size_t n)
{
    kvv_ratio_set set = {0};
    char why[700];
    if (kvv_ratios_load(path, &set, why, sizeof why)) {
        fprintf(stderr, "kvverify: --rerun-failed: %s\n", why);
        return -1;
    }
    int rc = 0;
    for (int64_t i = 0; i < set.n && rc == 0; i++) {
        const kvv_ratio_row *r = &set.rows[i];
        if (r->status != KVV_FAIL)
            continue;
        int seen = 0;
        for (int64_t j = 0; j < i && !seen; j++)
            seen = set.rows[j].status == KVV_FAIL && !strcmp(set.rows[j].name, r->name);
        kvv_case c;
        if (!seen && kvv_case_parse(r->name, &c, why, sizeof why)) {
            fprintf(stderr, "kvverify: --rerun-failed: %s: case '%s': %s\n", path, r->name, why);
            rc = -1;
        } else if (!seen) {
            kvv_case_list_push(out, &c);
        }
        int known = 0;
        for (int64_t j = 0; j < i && !known; j++)
            known = set.rows[j].status == KVV_FAIL && !strcmp(set.rows[j].backend, r->backend);
        size_t have = strlen(backends);
        if (rc == 0 && !known &&
            snprintf(backends + have, n - have, "%s%s", have ? "," : "", r->backend) >= (int)(n - have)) {
            fprintf(stderr, "kvverify: --rerun-failed: %s: too many backends to name (give -b)\n", path);
            rc = -1;
        }
    }
    kvv_ratios_free(&set);
    return rc;
}

/* The run (or the listing) of the cases the arguments select. */
static int run_with(const run_args *ap, int argc, char **argv, int list_only)
{
    run_args a = *ap;
    char bstore[1024];
    const char *bnames[KVV_MAX_BACKENDS];
    if (!a.backends_given && a.matrix_given) /* the gate of `make verify`, the nightly matrix */
        a.backends = cli_default_backends();
    else if (!list_only)
        cli_vk_describe(a.backends);
    int nb = cli_split_backends(a.backends, bstore, sizeof bstore, bnames);
    for (int i = 0; i < nb && nb > 0; i++)
        if (cli_check_backend(bnames[i], a.timeout))
            nb = -1;
    if (nb < 0)
        return EXIT_USAGE;
    kvv_format_map fm;
    if ((!list_only || a.backends_given) && ask_formats(&a, bnames, nb, &fm))
        return EXIT_USAGE;
    kvv_case_list cases = {0};
    if (build_cases(&a, (!list_only || a.backends_given) ? &fm : NULL, &cases))
        return EXIT_USAGE;
    if (list_only) {
        char name[512];
        for (int i = 0; i < cases.n; i++) {
            kvv_case_name(&cases.items[i], name, sizeof name);
            printf("%s\n", name);
        }
        kvv_case_list_free(&cases);
        return 0;
    }
    if (cases.n == 0) {
        fprintf(stderr, "kvverify: no case matches the filters\n");
        kvv_case_list_free(&cases);
        return EXIT_USAGE;
    }
    char machine[256], started[64], command[1024] = "";
    cli_machine_name(machine, sizeof machine);
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    for (int i = 0; i < argc; i++)
        snprintf(command + strlen(command), sizeof command - strlen(command), "%s%s", i ? " " : "", argv[i]);
    kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, machine, started, command, nb, {0}, cases.n, a.seed};
    for (int i = 0; i < nb; i++)
        info.backends[i] = bnames[i];
    if (cli_reports_open(&a.reports)) {
        kvv_case_list_free(&cases);
        return EXIT_USAGE;
    }
    kvv_reporter *term = kvv_reporter_terminal(a.reports.to_stdout ? stderr : stdout, a.verbose);
    char coverage[512];
    if (term && !a.cases_file && run_coverage(&a, &cases, bnames, nb, coverage, sizeof coverage) == 0)
        kvv_reporter_terminal_coverage(term, coverage);
    kvv_reporter *reps[1 + CLI_REP_COUNT] = {term};
    for (int i = 0; i < a.reports.n; i++)
        reps[1 + i] = a.reports.rep[i];
    kvv_run_opts o = {.backend_names = bnames, .nbackends = nb, .cases = cases.items, .ncases = cases.n,
                      .reporters = reps, .nreporters = 1 + a.reports.n, .jobs = a.no_isolate ? 0 : a.jobs,
                      .timeout = a.timeout, .info = &info, .fail_fast = a.fail_fast, .strict = a.strict,
                      .guard = a.guard};
    kvv_run_io_opts io = {a.dump ? cli_dump_create(a.dump, a.dump_all, &info) : NULL, a.dump_all, NULL};
    if (a.dump && !io.dump) { /* another run holds the path, or it went away meanwhile */
        term->destroy(term);
        cli_reports_close(&a.reports);
        kvv_case_list_free(&cases);
        return EXIT_USAGE;
    }
    kvv_summary s;
    int failures = kvv_run_with_io(&o, &io, &s);
    term->destroy(term);
    if (io.dump && cli_dump_finish(io.dump, a.dump, &s))
        failures = failures > 0 ? failures : 1;
    int unwritten = cli_reports_close(&a.reports) != 0; /* a report that could not be written fails the run */
    kvv_case_list_free(&cases);
    if (failures < 0) {
        fprintf(stderr, "kvverify: the run could not start\n");
        return 1;
    }
    if (unwritten) /* a report lost: an error of the run's own (exit 2), whatever the cases did */
        return EXIT_USAGE;
    if (s.interrupted)
        return 1;
    return failures > 0 || (a.strict && s.total.skip > 0) ? 1 : 0;
}


int cli_run(int argc, char **argv, int list_only)
{
    run_args a;
    if (parse_run_args(argc, argv, &a, list_only))
        return EXIT_USAGE;
    char failed_on[1024] = "";
    kvv_case_list failed = {0};
    if (a.rerun) {
        if (load_failed(a.rerun, &failed, failed_on, sizeof failed_on)) {
            kvv_case_list_free(&failed);
            return EXIT_USAGE;
        }
        if (failed.n == 0) {
            printf("kvverify: %s holds no failing case: nothing to rerun\n", a.rerun);
            kvv_case_list_free(&failed);
            return 0;
        }
        a.rerun_cases = &failed;
        if (!a.backends_given)
            a.backends = failed_on;
    }
    int rc = run_with(&a, argc, argv, list_only);
    kvv_case_list_free(&failed);
    return rc;
}

int cmd_run(int argc, char **argv) { return cli_run(argc, argv, 0); }
