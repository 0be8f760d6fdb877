/* `kvverify run` and `kvverify list cases`: build the case list from the
 * gate, the full matrix or a file, filter it, run it, report it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oracle/case_select.h"
#include "oracle/run.h"
#include "reports/reports.h"
#include "tools/cli.h"

/* The list options: given twice, they add up (cli_list_add). */
enum { LIST_PATTERN, LIST_OPS, LIST_BACKENDS, LIST_HEAD, LIST_KV, LIST_TOGGLE, LIST_SET, LIST_COUNT };

typedef struct {
    kvv_case_select sel; /* the cases: base list, corpus, overrides, filters (oracle/case_select.h) */
    const char *backends, *dump;
    const char *rerun; /* --rerun-failed FILE (its cases go to sel.named) */
    char lists[LIST_COUNT][1024];
    int jobs, verbose, strict, no_isolate, fail_fast, dump_all, backends_given, matrix_given;
    int keep_formats; /* --listed-formats: run the generated cases in the versions they list */
    int guard;        /* --guard: guard pages after the buffers a backend writes */
    double timeout;
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
    a->sel.corpus = "corpora";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->jobs = ncpu > 0 ? (int)ncpu : 1;
    a->timeout = 120;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:b:p:j:vh", opts, NULL)) != -1) {
        switch (ch) {
        case O_GATE: a->sel.full = 0; a->matrix_given = 1; break;
        case O_FULL: a->sel.full = 1; a->matrix_given = 1; break;
        case O_CASES: a->sel.cases_file = optarg; break;
        case O_RERUN: a->rerun = optarg; break;
        case 'o':
            if (add_list(a, LIST_OPS, "-o", &a->sel.filter.ops))
                return -1;
            break;
        case 'b':
            if (add_list(a, LIST_BACKENDS, "-b", &a->backends))
                return -1;
            a->backends_given = 1;
            break;
        case 'p':
            if (add_list(a, LIST_PATTERN, "-p", &a->sel.filter.pattern))
                return -1;
            break;
        case O_HEAD:
            if (add_list(a, LIST_HEAD, "--head-dim", &a->sel.filter.head_dims))
                return -1;
            break;
        case O_KV:
            if (add_list(a, LIST_KV, "--kv", &a->sel.filter.kv))
                return -1;
            break;
        case O_TOGGLE:
            if (add_list(a, LIST_TOGGLE, "--toggle", &a->sel.filter.toggles))
                return -1;
            break;
        case O_SET:
            if (add_list(a, LIST_SET, "--set", &a->sel.set))
                return -1;
            break;
        case O_SEED:
            if (cli_u64("--seed", optarg, &a->sel.seed))
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
        case O_CORPUS: a->sel.corpus = optarg; a->sel.corpus_given = 1; break;
        case O_NOCORPUS: a->sel.corpus = NULL; break;
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
    if (a->rerun && (a->matrix_given || a->sel.cases_file)) {
        fprintf(stderr, "kvverify: --rerun-failed takes its cases from %s: not with --gate, --full or --cases\n",
                a->rerun);
        return -1;
    }
    if (a->dump && cli_dump_check(a->dump))
        return -1;
    char why[300];
    if (kvv_filter_check(&a->sel.filter, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        return -1;
    }
    return 0;
}

/* The versions the run's library backends store the cache types in, for
 * the generated lists (a case file, or a name given with -p, runs as
 * written); says on stderr what changes.  -1 when the backends disagree. */
static int ask_formats(const run_args *a, const char *const *bnames, int nb, kvv_format_map *fm)
{
    char why[512];
    if (a->keep_formats || a->sel.cases_file || a->rerun)
        return 0;
    if (kvv_formats_ask(bnames, nb, fm, stderr, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        return -1;
    }
    kvv_format_map_note(fm, stderr);
    return 0;
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
    kvv_format_map fm; /* as listed unless asked */
    kvv_format_map_init(&fm);
    if ((!list_only || a.backends_given) && ask_formats(&a, bnames, nb, &fm))
        return EXIT_USAGE;
    kvv_case_list cases = {0};
    char why[1200];
    a.sel.formats = &fm;
    a.sel.log = stderr;
    if (kvv_cases_select(&a.sel, &cases, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        return EXIT_USAGE;
    }
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
    kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, machine, started, command, nb, {0}, cases.n, a.sel.seed};
    for (int i = 0; i < nb; i++)
        info.backends[i] = bnames[i];
    if (cli_reports_open(&a.reports)) {
        kvv_case_list_free(&cases);
        return EXIT_USAGE;
    }
    kvv_reporter *term = kvv_reporter_terminal(a.reports.to_stdout ? stderr : stdout, a.verbose);
    char coverage[512];
    int others = 0; /* a backend without the CPU toggles is in the run */
    for (int i = 0; i < nb; i++)
        others |= strcmp(bnames[i], "cpu") != 0;
    if (term && !a.sel.cases_file && kvv_cases_coverage_line(&a.sel, &cases, others, coverage, sizeof coverage) == 0)
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
    char failed_on[1024] = "", why[1200];
    kvv_case_list failed = {0};
    if (a.rerun) {
        if (kvv_cases_failed(a.rerun, &failed, failed_on, sizeof failed_on, why, sizeof why)) {
            fprintf(stderr, "kvverify: --rerun-failed: %s\n", why);
            kvv_case_list_free(&failed);
            return EXIT_USAGE;
        }
        if (failed.n == 0) {
            printf("kvverify: %s holds no failing case: nothing to rerun\n", a.rerun);
            kvv_case_list_free(&failed);
            return 0;
        }
        a.sel.named = &failed;
        if (!a.backends_given)
            a.backends = failed_on;
    }
    int rc = run_with(&a, argc, argv, list_only);
    kvv_case_list_free(&failed);
    return rc;
}

int cmd_run(int argc, char **argv) { return cli_run(argc, argv, 0); }
