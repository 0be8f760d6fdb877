/* Parsing the options of `kvverify run` and `kvverify list cases`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/run_args.h"

/* Add a list option's value to its list; -1 (printed) on an empty item. */
static int add_list(run_args *a, int slot, const char *opt, const char **field)
{
    if (cli_list_add(opt, optarg, a->lists[slot], sizeof a->lists[slot]))
        return -1;
    *field = a->lists[slot];
    return 0;
}

int run_args_parse(int argc, char **argv, run_args *a, int list_only)
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
