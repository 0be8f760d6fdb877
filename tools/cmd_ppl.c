/* `kvverify ppl`: perplexity and KL divergence of a model run with K/V in a
 * backend's cache against the f64 run of the same model. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oracle/ppl.h"
#include "tools/cli.h"
#include "tools/ppl_args.h"

/* set by the handler of SIGINT and SIGTERM (cmd_ppl) */
static volatile sig_atomic_t ppl_stop, pairs_started;

/* A pair's line (a row of the table when np > 1) or, alone, its lines. */
static void print_pair(void *arg, int i, const kvv_ppl_pair_result *r)
{
    const ppl_args *a = arg;
    const kvv_ppl_stats *s = &r->stats;
    const kvv_ppl_bound *b = &r->bound;
    char pair[64], result[480] = "pass";
    snprintf(pair, sizeof pair, "%s/%s", kvv_type_name(r->k), kvv_type_name(r->v));
    if (r->stopped)
        printf("kvverify ppl: interrupted (%s) at %s: the pairs above are those finished, %d of %d\n",
               strsignal(ppl_stop), pair, i, a->npairs);
    else if (r->rc)
        printf("%-22s %s: %s\n", pair,
               r->rc != KVV_UNSUPPORTED ? "FAILED" : a->strict ? "declined (FAIL: --strict)" : "declined", r->why);
    if (r->stopped || r->rc) {
        fflush(stdout);
        return;
    }
    if (r->judgement == KVV_PPL_NONFINITE)
        snprintf(result, sizeof result, "FAIL: NaN/Inf logits at %d positions (first %d)", s->nonfinite,
                 s->first_nonfinite);
    else if (r->judgement == KVV_PPL_NO_BOUND)
        snprintf(result, sizeof result, "no bound: %s", r->why);
    else if (r->judgement == KVV_PPL_OVER)
        snprintf(result, sizeof result, "FAIL: bound ratio %.5g, kl_mean %.3g, kl_p99 %.3g", b->ratio, b->kl_mean,
                 b->kl_p99);
    else if (r->judgement == KVV_PPL_WITHIN)
        snprintf(result, sizeof result, "pass (within ratio %.5g, kl_mean %.3g, kl_p99 %.3g)", b->ratio, b->kl_mean,
                 b->kl_p99);
    if (a->npairs > 1) {
        printf("%-22s %10.5f %10.5f %9.5f %10.3g %10.3g %7.4f %9d  %s\n", pair, s->ppl_ref, s->ppl_run, s->ratio,
               s->kl_mean, s->kl_p99, s->top1, s->nonfinite, result);
    } else {
        printf("kv          %s on %s\n", pair, a->backend);
        printf("ppl_ref     %.6f\nppl_run     %.6f\nppl_ratio   %.6f\n", s->ppl_ref, s->ppl_run, s->ratio);
        printf("kl_mean     %.6g\nkl_p99      %.6g\nkl_max      %.6g\n", s->kl_mean, s->kl_p99, s->kl_max);
        printf("top1        %.6f\nnonfinite   %d\nresult      %s\n", s->top1, s->nonfinite, result);
    }
    fflush(stdout);
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
    if (ppl_parse_args(argc, argv, &a))
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
        /* the bounds hold for the built-in models over their own corpus */
        kvv_probe_kind kind = kvv_probe_from_name(a.model);
        int judged = kind != KVV_PROBE_COUNT && !a.text && a.offset == 0;
        kvv_ppl_pairs_opts o = {&m, &in, a.backend, a.chunk, a.timeout, judged ? (int)kind : -1, a.strict, &ppl_stop};
        a.npairs = np;
        if (np > 1)
            printf("%-22s %10s %10s %9s %10s %10s %7s %9s  %s\n", "K/V", "ppl_ref", "ppl_run", "ppl_ratio",
                   "kl_mean", "kl_p99", "top1", "nonfinite", "result");
        pairs_started = 1;
        rc = kvv_ppl_run_pairs(&o, pairs, np, print_pair, &a) ? 1 : 0;
    }
    kvv_ppl_input_free(&in);
    kvv_model_free(&m);
    return rc < 0 ? EXIT_USAGE : rc;
}
