/* `kvverify fuzz`: random cases until the time is up; failures shrunk and
 * stored as replayable case files (oracle/fuzz_loop.c does the work). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz/fuzz_loop.h"
#include "tools/cli.h"

static void fuzz_usage(FILE *out)
{
    fprintf(out, "usage: kvverify fuzz [--time S] [-b BACKEND] [--seed N] [-o OPS] [--out DIR] [-j N]\n"
                 "                     [--timeout S] [--max-finds N] [--shrink-tries N] [--shrink-time S] [--no-write]\n"
                 "       kvverify fuzz --shrink CASE [-b BACKEND] [--out DIR] [--timeout S] ...\n"
                 "  --time S          seconds of drawing random cases (default 60)\n"
                 "  -b, --backend B   one backend: cpu, vulkan, or a path to a backend library (default cpu)\n"
                 "  --seed N          the run is reproducible from N (default: from the clock, printed)\n"
                 "  -o, --op LIST     ops to draw: quant,dequant,wht,attn (default all; given twice, adds)\n"
                 "  --out DIR         where shrunk failures are written (default corpora/fuzz)\n"
                 "  -j, --jobs N      isolated worker processes (default: number of CPUs)\n"
                 "  --timeout S       seconds per case before it counts as hung (default 20)\n"
                 "  --max-finds N     stop after N shrunk failures (default 0: no limit)\n"
                 "  --shrink-tries N  candidates tried per shrink (default 200)\n"
                 "  --shrink-time S   seconds per shrink (default 120; each hanging try costs a timeout)\n"
                 "  --no-write        report failures without writing case files\n"
                 "  --shrink CASE     no random cases: shrink this failing case and store it\n"
                 "  --guard           a PROT_NONE page after every buffer the backend writes (catches the\n"
                 "                    first access past the end, reads too, at the instruction)\n"
                 "exit status: 0 when every case passed, 1 when any failed or the run was interrupted (SIGINT,\n"
                 "SIGTERM), 2 on bad usage\n");
}

/* Adds the ops of list to *ops (-o given twice adds, as every list option does). */
static int parse_ops(const char *list, unsigned *ops)
{
    char buf[256];
    if (cli_list_check("-o", list))
        return -1;
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf) {
        fprintf(stderr, "kvverify: -o: list too long\n");
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        kvv_op op = kvv_op_from_name(t);
        if (op == KVV_OP_COUNT || op == KVV_OP_PPL) {
            fprintf(stderr, "kvverify: -o: '%s' is not an op fuzz draws (quant, dequant, wht, attn)\n", t);
            return -1;
        }
        *ops |= 1u << op;
    }
    if (!*ops) {
        fprintf(stderr, "kvverify: -o: empty list\n");
        return -1;
    }
    return 0;
}

int cmd_fuzz(int argc, char **argv)
{
    enum { O_TIME = 256, O_SEED, O_OUT, O_TIMEOUT, O_MAXF, O_TRIES, O_SHRINKT, O_NOWRITE, O_SHRINK, O_GUARD };
    static const struct option opts[] = {
        {"time", required_argument, 0, O_TIME},       {"backend", required_argument, 0, 'b'},
        {"seed", required_argument, 0, O_SEED},       {"op", required_argument, 0, 'o'},
        {"out", required_argument, 0, O_OUT},         {"jobs", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"max-finds", required_argument, 0, O_MAXF},
        {"shrink-tries", required_argument, 0, O_TRIES}, {"shrink-time", required_argument, 0, O_SHRINKT},
        {"no-write", no_argument, 0, O_NOWRITE},      {"shrink", required_argument, 0, O_SHRINK},
        {"guard", no_argument, 0, O_GUARD},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    kvv_fuzz_opts o = {.backend_name = "cpu", .seconds = 60, .out_dir = "corpora/fuzz", .jobs = ncpu > 0 ? (int)ncpu : 1,
                       .timeout = 20, .log = stdout};
    int have_seed = 0, backend_given = 0, ch;
    const char *shrink_name = NULL;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:o:j:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case O_TIME: bad = cli_seconds("--time", optarg, 0, 7 * 24 * 3600.0, &o.seconds); break;
        case 'b':
            if (backend_given++) {
                fprintf(stderr, "kvverify: fuzz takes one backend; -b given twice ('%s', '%s')\n", o.backend_name,
                        optarg);
                bad = 1;
            }
            o.backend_name = optarg;
            break;
        case O_SEED: bad = cli_u64("--seed", optarg, &o.seed); have_seed = 1; break;
        case 'o': bad = parse_ops(optarg, &o.ops); break;
        case O_OUT: o.out_dir = optarg; break;
        case 'j': bad = cli_int("-j", optarg, 1, 256, &o.jobs); break;
        case O_TIMEOUT: bad = cli_seconds("--timeout", optarg, 0.01, 86400, &o.timeout); break;
        case O_MAXF: bad = cli_int("--max-finds", optarg, 0, 1000000, &o.max_finds); break;
        case O_TRIES: bad = cli_int("--shrink-tries", optarg, 1, 100000, &o.shrink_tries); break;
        case O_SHRINKT: bad = cli_seconds("--shrink-time", optarg, 0.01, 86400, &o.shrink_seconds); break;
        case O_NOWRITE: o.out_dir = NULL; break;
        case O_GUARD: o.guard = 1; break;
        case O_SHRINK: shrink_name = optarg; break;
        case 'h': fuzz_usage(stdout); return 0;
        default: bad = 1; break;
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "kvverify: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (strchr(o.backend_name, ',')) {
        fprintf(stderr, "kvverify: fuzz takes one backend, not '%s'\n", o.backend_name);
        return EXIT_USAGE;
    }
    if (o.out_dir && (!*o.out_dir || strlen(o.out_dir) > 400)) {
        fprintf(stderr, "kvverify: --out needs a folder name of 1..400 characters\n");
        return EXIT_USAGE;
    }
    if (cli_check_backend(o.backend_name, o.timeout))
        return EXIT_USAGE;
    if (shrink_name) {
        kvv_case c;
        char err[256];
        if (kvv_case_parse(shrink_name, &c, err, sizeof err)) {
            fprintf(stderr, "kvverify: --shrink: %s\n", err);
            return EXIT_USAGE;
        }
        kvv_fuzz_stats st;
        int r = kvv_fuzz_shrink_case(&o, &c, &st);
        if (st.interrupted) {
            printf("kvverify fuzz: interrupted while shrinking %s; nothing stored\n", shrink_name);
            return 1;
        }
        if (r == 0)
            printf("kvverify fuzz: %s does not fail on %s: nothing to shrink\n", shrink_name, o.backend_name);
        return r < 0 ? 1 : r;
    }
    if (!have_seed)
        o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    char ops[128] = "";
    for (int op = 0; op < KVV_OP_COUNT; op++)
        if (o.ops & (1u << op))
            snprintf(ops + strlen(ops), sizeof ops - strlen(ops), "%s%s", *ops ? "," : "", kvv_op_name((kvv_op)op));
    printf("kvverify fuzz: backend %s, ops %s, %g s, seed %llu, %d workers, timeout %g s per case\n", o.backend_name,
           *ops ? ops : "all", o.seconds, (unsigned long long)o.seed, o.jobs, o.timeout);
    fflush(stdout);
    kvv_fuzz_stats st;
    if (kvv_fuzz(&o, &st)) {
        fprintf(stderr, "kvverify: the fuzz run could not start\n");
        return 1;
    }
    printf("kvverify fuzz: %lld cases in %.1f s (%.1f/s): %lld passed, %lld failed, %lld skipped; %d shrunk, %d case "
           "file%s written%s\n",
           (long long)st.cases, st.seconds, st.seconds > 0 ? st.cases / st.seconds : 0.0, (long long)st.pass,
           (long long)st.fail, (long long)st.skip, st.finds, st.written, st.written == 1 ? "" : "s",
           st.interrupted ? " (INTERRUPTED: the batches finished before the signal)" : "");
    return st.fail > 0 || st.interrupted ? 1 : 0;
}
