/* `kvverify ppl`: perplexity and KL divergence of a model run with K/V in a
 * backend's cache against the f64 run of the same model. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvv/tensor.h"
#include "oracle/cases.h"
#include "oracle/guard.h"
#include "oracle/isolate.h"
#include "oracle/ppl.h"
#include "tools/cli.h"

typedef struct {
    const char *model, *text, *kv, *backend;
    int ctx, chunk, offset, head_dim, bounds, strict;
    uint64_t seed;
    double timeout; /* seconds per K/V pair, in its own process */
    char kvs[1024];  /* --kv, given twice, adds */
    int backend_given;
} ppl_args;

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

static int parse(int argc, char **argv, ppl_args *a)
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
    int ch, seed;
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
        case O_CTX:
            if (int_opt("--ctx", optarg, 2, 1 << 20, &a->ctx))
                return -1;
            break;
        case O_CHUNK:
            if (int_opt("--chunk", optarg, 1, 1 << 20, &a->chunk))
                return -1;
            break;
        case O_OFFSET:
            if (int_opt("--offset", optarg, 0, 1 << 30, &a->offset))
                return -1;
            break;
        case O_SEED:
            if (int_opt("--seed", optarg, 0, 0x7fffffff, &seed))
                return -1;
            a->seed = (uint64_t)seed;
            break;
        case O_HEAD:
            if (int_opt("--head-dim", optarg, 64, 256, &a->head_dim))
                return -1;
            break;
        case O_BOUNDS: a->bounds = 1; break;
        case O_STRICT: a->strict = 1; break;
        case O_TIMEOUT:
            if (cli_seconds("--timeout", optarg, 0.01, 86400, &a->timeout))
                return -1;
            break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
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

/* set by the handler of SIGINT and SIGTERM (cmd_ppl) */
static volatile sig_atomic_t ppl_stop, pairs_started;

/* One pair's statistics judged (against its bound when check_bounds) and
 * printed: a row of the table, or the lines of a single pair; 1 when it
 * failed. */
static int print_pair(const ppl_args *a, const kvv_model *m, const char *pair, const kvv_type *kv,
                      const kvv_ppl_stats *s, int check_bounds, int table)
{
    char why[400], result[480] = "pass";
    kvv_case c = kvv_case_default(KVV_OP_PPL);
    c.model = kvv_probe_from_name(a->model);
    c.dk = c.dv = m->dk;
    c.type_k = kv[0];
    c.type_v = kv[1];
    kvv_ppl_bound bd;
    double budget;
    kvv_ppl_judgement j = kvv_ppl_judge(check_bounds ? &c : NULL, s, &bd, &budget, why, sizeof why);
    if (j == KVV_PPL_NONFINITE)
        snprintf(result, sizeof result, "FAIL: NaN/Inf logits at %d positions (first %d)", s->nonfinite,
                 s->first_nonfinite);
    else if (j == KVV_PPL_NO_BOUND)
        snprintf(result, sizeof result, "no bound: %s", why);
    else if (j == KVV_PPL_OVER)
        snprintf(result, sizeof result, "FAIL: bound ratio %.5g, kl_mean %.3g, kl_p99 %.3g", bd.ratio, bd.kl_mean,
                 bd.kl_p99);
    else if (j == KVV_PPL_WITHIN)
        snprintf(result, sizeof result, "pass (within ratio %.5g, kl_mean %.3g, kl_p99 %.3g)", bd.ratio, bd.kl_mean,
                 bd.kl_p99);
    if (table) {
        printf("%-22s %10.5f %10.5f %9.5f %10.3g %10.3g %7.4f %9d  %s\n", pair, s->ppl_ref, s->ppl_run, s->ratio,
               s->kl_mean, s->kl_p99, s->top1, s->nonfinite, result);
    } else {
        printf("kv          %s on %s\n", pair, a->backend);
        printf("ppl_ref     %.6f\nppl_run     %.6f\nppl_ratio   %.6f\n", s->ppl_ref, s->ppl_run, s->ratio);
        printf("kl_mean     %.6g\nkl_p99      %.6g\nkl_max      %.6g\n", s->kl_mean, s->kl_p99, s->kl_max);
        printf("top1        %.6f\nnonfinite   %d\nresult      %s\n", s->top1, s->nonfinite, result);
    }
    fflush(stdout);
    return !strncmp(result, "FAIL", 4);
}

static int run_pairs(const ppl_args *a, const kvv_model *m, const kvv_ppl_input *in, kvv_type (*pairs)[2], int np,
                     int check_bounds)
{
    float *logits = kvv_alloc(sizeof(float) * (size_t)in->n * m->n_vocab);
    if (!logits)
        return 1;
    int failures = 0, table = np > 1;
    kvv_isolate_stop_on(&ppl_stop);
    pairs_started = 1;
    if (table)
        printf("%-22s %10s %10s %9s %10s %10s %7s %9s  %s\n", "K/V", "ppl_ref", "ppl_run", "ppl_ratio", "kl_mean",
               "kl_p99", "top1", "nonfinite", "result");
    for (int i = 0; i < np; i++) {
        char err[400], pair[64];
        snprintf(pair, sizeof pair, "%s/%s", kvv_type_name(pairs[i][0]), kvv_type_name(pairs[i][1]));
        kvv_ppl_pair_job job = {m, a->backend, pairs[i][0], pairs[i][1], a->chunk, in->tok + in->offset, in->n,
                                a->timeout};
        int rc = ppl_stop ? -1 : kvv_ppl_run_pair(&job, logits, err, sizeof err);
        if (ppl_stop) {
            printf("kvverify ppl: interrupted (%s) at %s: the pairs above are those finished, %d of %d\n",
                   strsignal(ppl_stop), pair, i, np);
            fflush(stdout);
            failures++;
            break;
        }
        if (rc) {
            /* a decline is a skip, which --strict counts as a failure */
            printf("%-22s %s: %s\n", pair, rc == KVV_UNSUPPORTED ? a->strict ? "declined (FAIL: --strict)" : "declined"
                                                                  : "FAILED",
                   err);
            failures += rc != KVV_UNSUPPORTED || a->strict;
            fflush(stdout);
            continue;
        }
        kvv_ppl_stats s;
        kvv_ppl_compare(in->ref, logits, in->tok + in->offset, in->n, m->n_vocab, &s);
        failures += print_pair(a, m, pair, pairs[i], &s, check_bounds, table);
    }
    kvv_free(logits);
    return failures;
}

/* SIGINT or SIGTERM: before the first pair, nothing is lost (exit 1 at
 * once); once pairs run, the one running is stopped, the pairs finished
 * stay printed, and ppl says so and exits 1 (README, Exit status). */
static void on_stop(int sig)
{
    if (!pairs_started) {
        static const char msg[] = "\nkvverify ppl: interrupted before any K/V pair ran\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(1);
    }
    ppl_stop = sig;
}

int cmd_ppl(int argc, char **argv)
{
    ppl_args a;
    if (parse(argc, argv, &a))
        return EXIT_USAGE;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop; /* no SA_RESTART: a wait for a pair's process wakes up */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char why[600];
    if (cli_check_backend(a.backend, a.timeout < CLI_OPEN_SECONDS ? a.timeout : CLI_OPEN_SECONDS))
        return EXIT_USAGE;
    if (a.bounds) {
        if (kvv_ppl_write_bounds_isolated(stdout, a.backend, a.timeout, why, sizeof why) == 0)
            return 0;
        fprintf(stderr, "kvverify ppl: --bounds on %s: %s\n", a.backend, why);
        return 1;
    }
    kvv_model m;
    kvv_probe_params p = kvv_probe_default();
    p.seed = a.seed;
    p.head_dim = a.head_dim;
    if (kvv_model_open(a.model, &p, &m, why, sizeof why)) { /* missing, unreadable or not a model we run */
        fprintf(stderr, "kvverify ppl: %s\n", why);
        return EXIT_USAGE;
    }
    kvv_type pairs[KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT][2];
    int np = kvv_ppl_pairs_parse(a.kv, m.dk, m.dv, pairs, KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT, why, sizeof why);
    kvv_ppl_input in = {0};
    int rc = np > 0 ? kvv_ppl_input_open(&m, a.text, a.offset, a.ctx, &in, why, sizeof why) : -1;
    if (np < 0 || (np > 0 && rc)) /* none at all: "all" with no type of these head dims */
        fprintf(stderr, "kvverify ppl: %s\n", why);
    if (rc == 0) {
        printf("model       %s: %s, %d layers (%d attention), %d heads / %d KV heads, head dim %d, vocab %d\n",
               a.model, m.arch, m.n_layer, m.n_attn_layers, m.n_head, m.n_head_kv, m.dk, m.n_vocab);
        printf("text        %s: tokens %d..%d of %d; prefill chunks of %d, then %d one at a time\n", in.path,
               a.offset, a.offset + in.n - 1, in.total, a.chunk, KVV_PPL_TAIL);
        if (in.have_stats) {
            printf("attention   mean largest weight per layer (reference):");
            for (int i = 0; i < in.stats.n_layers; i++)
                printf(" %.3f", in.stats.max_weight[i]);
            printf("\n");
        }
        int check_bounds = kvv_probe_from_name(a.model) != KVV_PROBE_COUNT && !a.text && a.offset == 0;
        rc = run_pairs(&a, &m, &in, pairs, np, check_bounds) ? 1 : 0;
    }
    kvv_ppl_input_free(&in);
    kvv_model_free(&m);
    return rc < 0 ? EXIT_USAGE : rc;
}
