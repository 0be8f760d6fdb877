/* `kvverify ppl`: perplexity and KL divergence of a model run with K/V in a
 * backend's cache against the f64 run of the same model. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"
#include "oracle/oracle.h"
#include "tools/cli.h"

typedef struct {
    const char *model, *text, *kv, *backend;
    int ctx, chunk, offset, head_dim, bounds;
    uint64_t seed;
} ppl_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: kvverify ppl --model FILE|probe|hybrid --kv K/V[,K/V...]|all [-b BACKEND] [--text FILE]\n"
               "                    [--ctx N] [--chunk N] [--offset N] [--seed N] [--head-dim D]\n"
               "       kvverify ppl --bounds [-b BACKEND]   (the table corpora/ppl_bounds.tsv, on stdout)\n");
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
    enum { O_MODEL = 256, O_TEXT, O_KV, O_CTX, O_CHUNK, O_OFFSET, O_SEED, O_HEAD, O_BOUNDS };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"text", required_argument, 0, O_TEXT},
        {"kv", required_argument, 0, O_KV},       {"backend", required_argument, 0, 'b'},
        {"ctx", required_argument, 0, O_CTX},     {"chunk", required_argument, 0, O_CHUNK},
        {"offset", required_argument, 0, O_OFFSET}, {"seed", required_argument, 0, O_SEED},
        {"head-dim", required_argument, 0, O_HEAD}, {"bounds", no_argument, 0, O_BOUNDS},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    kvv_case d = kvv_case_default(KVV_OP_PPL);
    memset(a, 0, sizeof *a);
    a->backend = "cpu";
    a->ctx = d.n_kv;
    a->chunk = d.n_q;
    a->head_dim = 128;
    a->seed = d.seed;
    int ch, seed;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        switch (ch) {
        case O_MODEL: a->model = optarg; break;
        case O_TEXT: a->text = optarg; break;
        case O_KV: a->kv = optarg; break;
        case 'b': a->backend = optarg; break;
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

static int builtin_kind(const char *name)
{
    kvv_probe_kind k = kvv_probe_from_name(name);
    return k == KVV_PROBE_COUNT ? -1 : (int)k;
}

static int load_model(const ppl_args *a, kvv_model *m)
{
    char err[600], path[1024];
    int kind = builtin_kind(a->model);
    if (kind < 0) {
        if (kvv_model_load_file(a->model, m, err, sizeof err)) {
            fprintf(stderr, "kvverify ppl: %s\n", err);
            return -1;
        }
        return 0;
    }
    kvv_probe_params p = kvv_probe_default();
    p.seed = a->seed;
    p.head_dim = a->head_dim;
    p.hybrid = kind == KVV_PROBE_HYBRID;
    size_t len, size;
    uint8_t *gguf = NULL;
    kvv_gguf g;
    char *text = kvv_corpus_path("probe.txt", path, sizeof path) ? kvv_read_file(path, &len, err, sizeof err) : NULL;
    int rc = -1;
    if (!text)
        snprintf(err, sizeof err, "corpora/probe.txt not found (set KVV_CORPORA_DIR)");
    else if (kvv_probe_build(&p, text, len, &gguf, &size, err, sizeof err) == 0 &&
             kvv_gguf_parse(gguf, size, &g, err, sizeof err) == 0) {
        rc = kvv_model_load(&g, m, err, sizeof err);
        kvv_gguf_free(&g);
    }
    if (rc)
        fprintf(stderr, "kvverify ppl: %s\n", err);
    free(text);
    free(gguf);
    return rc;
}

/* "q8_0/turbo3,f16/f16" or "all" into pairs[][2]; the count or -1 */
static int parse_pairs(const char *list, int dk, int dv, kvv_type (*pairs)[2], int max)
{
    int n = 0;
    if (!strcmp(list, "all")) {
        for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
            for (int j = 0; j < KVV_CACHE_TYPE_COUNT; j++)
                if (kvv_row_bytes(kvv_cache_types[i], dk) && kvv_row_bytes(kvv_cache_types[j], dv) && n < max) {
                    pairs[n][0] = kvv_cache_types[i];
                    pairs[n++][1] = kvv_cache_types[j];
                }
        return n;
    }
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(t, '/');
        if (!slash) {
            fprintf(stderr, "kvverify ppl: --kv wants K/V pairs like q8_0/turbo3, not '%s'\n", t);
            return -1;
        }
        *slash = 0;
        pairs[n][0] = kvv_type_from_name(t);
        pairs[n][1] = kvv_type_from_name(slash + 1);
        if (pairs[n][0] == KVV_TYPE_NONE || pairs[n][1] == KVV_TYPE_NONE) {
            fprintf(stderr, "kvverify ppl: unknown type in '%s/%s' (see kvverify list types)\n", t, slash + 1);
            return -1;
        }
        n++;
    }
    return n;
}

static int run_pairs(const ppl_args *a, const kvv_model *m, const kvv_backend *b, const int32_t *tok, int n,
                     const double *ref, kvv_type (*pairs)[2], int np, int check_bounds)
{
    float *logits = kvv_alloc(sizeof(float) * (size_t)n * m->n_vocab);
    if (!logits)
        return 1;
    int failures = 0, table = np > 1;
    if (table)
        printf("%-22s %10s %10s %9s %10s %10s %7s %9s  %s\n", "K/V", "ppl_ref", "ppl_run", "ppl_ratio", "kl_mean",
               "kl_p99", "top1", "nonfinite", "result");
    for (int i = 0; i < np; i++) {
        char err[400], pair[64], result[480] = "pass";
        snprintf(pair, sizeof pair, "%s/%s", kvv_type_name(pairs[i][0]), kvv_type_name(pairs[i][1]));
        kvv_model_run_opts o = {b, pairs[i][0], pairs[i][1], kvv_toggles_default(), a->chunk, KVV_PPL_TAIL};
        int rc = kvv_model_run(m, &o, tok, n, logits, err, sizeof err);
        if (rc) {
            printf("%-22s %s: %s\n", pair, rc == KVV_UNSUPPORTED ? "declined" : "FAILED", err);
            failures += rc != KVV_UNSUPPORTED;
            continue;
        }
        kvv_ppl_stats s;
        kvv_ppl_compare(ref, logits, tok, n, m->n_vocab, &s);
        if (s.nonfinite) {
            snprintf(result, sizeof result, "FAIL: NaN/Inf logits at %d positions (first %d)", s.nonfinite,
                     s.first_nonfinite);
        } else if (check_bounds) {
            kvv_case c = kvv_case_default(KVV_OP_PPL);
            kvv_ppl_bound bd;
            c.model = (kvv_probe_kind)builtin_kind(a->model);
            c.dk = c.dv = m->dk;
            c.type_k = pairs[i][0];
            c.type_v = pairs[i][1];
            if (kvv_ppl_bound_lookup(&c, &bd, err, sizeof err))
                snprintf(result, sizeof result, "no bound: %s", err);
            else if (s.ratio > bd.ratio || s.kl_mean > bd.kl_mean || s.kl_p99 > bd.kl_p99)
                snprintf(result, sizeof result, "FAIL: bound ratio %.5g, kl_mean %.3g, kl_p99 %.3g", bd.ratio,
                         bd.kl_mean, bd.kl_p99);
            else
                snprintf(result, sizeof result, "pass (within ratio %.5g, kl_mean %.3g, kl_p99 %.3g)", bd.ratio,
                         bd.kl_mean, bd.kl_p99);
        }
        failures += !strncmp(result, "FAIL", 4);
        if (table) {
            printf("%-22s %10.5f %10.5f %9.5f %10.3g %10.3g %7.4f %9d  %s\n", pair, s.ppl_ref, s.ppl_run, s.ratio,
                   s.kl_mean, s.kl_p99, s.top1, s.nonfinite, result);
        } else {
            printf("kv          %s on %s\n", pair, b->name);
            printf("ppl_ref     %.6f\nppl_run     %.6f\nppl_ratio   %.6f\n", s.ppl_ref, s.ppl_run, s.ratio);
            printf("kl_mean     %.6g\nkl_p99      %.6g\nkl_max      %.6g\n", s.kl_mean, s.kl_p99, s.kl_max);
            printf("top1        %.6f\nnonfinite   %d\nresult      %s\n", s.top1, s.nonfinite, result);
        }
        fflush(stdout);
    }
    kvv_free(logits);
    return failures;
}

int cmd_ppl(int argc, char **argv)
{
    ppl_args a;
    if (parse(argc, argv, &a))
        return EXIT_USAGE;
    char why[400], path[1024];
    const kvv_backend *b = kvv_backend_open(a.backend, why, sizeof why);
    if (!b) {
        fprintf(stderr, "kvverify ppl: backend %s: %s\n", a.backend, why);
        return 1;
    }
    if (a.bounds)
        return kvv_ppl_write_bounds(stdout, b, a.backend) ? 1 : 0;
    kvv_model m;
    if (load_model(&a, &m)) /* missing, unreadable or not a model we run: bad input */
        return EXIT_USAGE;
    int rc = 1, check_bounds = builtin_kind(a.model) >= 0 && !a.text && a.offset == 0;
    const char *text_path = a.text ? a.text : kvv_corpus_path("probe.txt", path, sizeof path);
    size_t len = 0;
    char *text = text_path ? kvv_read_file(text_path, &len, why, sizeof why) : NULL;
    int32_t *tok = malloc(sizeof(int32_t) * (len + 1));
    double *ref = NULL;
    kvv_type pairs[KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT][2];
    int np = parse_pairs(a.kv, m.dk, m.dv, pairs, KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT);
    if (!text || !tok || np <= 0) {
        if (!text)
            fprintf(stderr, "kvverify ppl: %s\n", text_path ? why : "no --text and corpora/probe.txt not found");
        rc = np <= 0 || !text ? EXIT_USAGE : 1;
        goto done;
    }
    int total = kvv_model_tokenize(&m, text, len, tok, (int)len + 1), n = a.ctx;
    if (total - a.offset < 2) {
        fprintf(stderr, "kvverify ppl: %s holds %d tokens, nothing to score from offset %d\n", text_path, total,
                a.offset);
        rc = EXIT_USAGE;
        goto done;
    }
    if (n > total - a.offset)
        n = total - a.offset;
    kvv_ref_stats st;
    /* the attention weights of every head are kept only where that is cheap */
    int want_stats = (double)m.n_head * n * n * 8.0 < 256e6;
    ref = malloc(sizeof(double) * (size_t)n * m.n_vocab);
    if (!ref || kvv_model_reference(&m, tok + a.offset, n, ref, want_stats ? &st : NULL, why, sizeof why)) {
        fprintf(stderr, "kvverify ppl: reference: %s\n", ref ? why : "out of memory");
        goto done;
    }
    printf("model       %s: %s, %d layers (%d attention), %d heads / %d KV heads, head dim %d, vocab %d\n", a.model,
           m.arch, m.n_layer, m.n_attn_layers, m.n_head, m.n_head_kv, m.dk, m.n_vocab);
    printf("text        %s: tokens %d..%d of %d; prefill chunks of %d, then %d one at a time\n", text_path, a.offset,
           a.offset + n - 1, total, a.chunk, KVV_PPL_TAIL);
    if (want_stats) {
        printf("attention   mean largest weight per layer (reference):");
        for (int i = 0; i < st.n_layers; i++)
            printf(" %.3f", st.max_weight[i]);
        printf("\n");
    }
    rc = run_pairs(&a, &m, b, tok + a.offset, n, ref, pairs, np, check_bounds) ? 1 : 0;
done:
    free(text);
    free(tok);
    free(ref);
    kvv_model_free(&m);
    return rc;
}
