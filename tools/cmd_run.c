/* `kvverify run` and `kvverify list cases`: the cases the options select
 * (oracle/case_select.c; the options: tools/run_args.c), run, reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oracle/case_select.h"
#include "oracle/run.h"
#include "reports/reports.h"
#include "tools/cli.h"
#include "tools/run_args.h"

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
    if (run_args_parse(argc, argv, &a, list_only))
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
