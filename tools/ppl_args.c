/* The options of `kvverify ppl`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/case.h"
#include "kvv/types.h"
#include "tools/cli.h"
#include "tools/ppl_args.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: kvverify ppl --model FILE|probe|hybrid --kv K/V[,K/V...]|all [-b BACKEND] [--text FILE]\n"
               "                    [--ctx N] [--chunk N] [--offset N] [--seed N] [--head-dim D]\n"
               "                    [--timeout S] [--strict]\n"
               "       kvverify ppl --bounds [-b BACKEND]   (the table corpora/ppl_bounds.tsv, on stdout)\n"
               "  each K/V pair runs the backend in its own process (a crash or a hang past --timeout S,\n"
               "  default 600, fails that pair; with --bounds, per case of the table); --strict counts a\n"
               "  declined pair as a failure\n");
}

static int int_opt(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "kvverify ppl: %s needs an integer in %ld..%ld, not '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int ppl_parse_args(int argc, char **argv, ppl_args *a)
{
    enum { O_MODEL = 256, O_TEXT, O_KV, O_CTX, O_CHUNK, O_OFFSET, O_SEED, O_HEAD, O_BOUNDS, O_TIMEOUT, O_STRICT };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"text", required_argument, 0, O_TEXT},
        {"kv", required_argument, 0, O_KV},       {"backend", required_argument, 0, 'b'},
        {"ctx", required_argument, 0, O_CTX},     {"chunk", required_argument, 0, O_CHUNK},
        {"offset", required_argument, 0, O_OFFSET}, {"seed", required_argument, 0, O_SEED},
        {"head-dim", required_argument, 0, O_HEAD}, {"bounds", no_argument, 0, O_BOUNDS},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"strict", no_argument, 0, O_STRICT},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    kvv_case d = kvv_case_default(KVV_OP_PPL);
    memset(a, 0, sizeof *a);
    a->backend = "cpu";
    a->ctx = d.n_kv;
    a->chunk = d.n_q;
    a->head_dim = 128;
    a->seed = d.seed;
    a->timeout = 600;
    int ch, seed = -1;
    const struct {
        int id;
        const char *name;
        long lo, hi;
        int *to;
    } ints[] = {{O_CTX, "--ctx", 2, 1 << 20, &a->ctx},           {O_CHUNK, "--chunk", 1, 1 << 20, &a->chunk},
                {O_OFFSET, "--offset", 0, 1 << 30, &a->offset}, {O_SEED, "--seed", 0, 0x7fffffff, &seed},
                {O_HEAD, "--head-dim", 64, 256, &a->head_dim}};
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        switch (ch) {
        case O_MODEL: a->model = optarg; break;
        case O_TEXT: a->text = optarg; break;
        case O_KV:
            if (cli_list_add("--kv", optarg, a->kvs, sizeof a->kvs))
                return -1;
            a->kv = a->kvs;
            break;
        case 'b':
            if (a->backend_given++) {
                fprintf(stderr, "kvverify ppl: takes one backend; -b given twice ('%s', '%s')\n", a->backend, optarg);
                return -1;
            }
            a->backend = optarg;
            break;
        case O_BOUNDS: a->bounds = 1; break;
        case O_STRICT: a->strict = 1; break;
        case O_TIMEOUT:
            if (cli_seconds("--timeout", optarg, 0.01, 86400, &a->timeout))
                return -1;
            break;
        case 'h': usage(stdout); exit(0);
        default: { /* the integer options; anything else getopt has said is wrong */
            int i = 0, n = (int)(sizeof ints / sizeof *ints);
            while (i < n && ints[i].id != ch)
                i++;
            if (i == n || int_opt(ints[i].name, optarg, ints[i].lo, ints[i].hi, ints[i].to))
                return -1;
        }
        }
    }
    if (seed >= 0)
        a->seed = (uint64_t)seed;
    if (optind < argc) {
        fprintf(stderr, "kvverify ppl: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!a->bounds && (!a->model || !a->kv)) {
        usage(stderr);
        return -1;
    }
    if (a->kv && cli_list_check("--kv", a->kv))
        return -1;
    return 0;
}
