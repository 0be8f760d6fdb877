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

/* One K/V pair's model run, in a child process (kvv_isolate): the backend
 * is opened and run there, so that its crash or hang fails the pair, not
 * kvverify.  The answer: the status, the message, the logits. */
typedef struct {
    const ppl_args *a;
    const kvv_model *m;
    kvv_type k, v;
    const int32_t *tok;
    int n;
} pair_job;

#define PAIR_ERR 400

static void write_all(int fd, const void *p, size_t n)
{
    for (const char *c = p; n;) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            _exit(3);
        c += w;
        n -= (size_t)w;
    }
}

static void pair_in_child(void *arg, int fd)
{
    const pair_job *j = arg;
    char err[PAIR_ERR] = "";
    const size_t nl = (size_t)j->n * j->m->n_vocab;
    float *logits = kvv_alloc(sizeof(float) * nl);
    const kvv_backend *b = kvv_backend_open(j->a->backend, err, sizeof err);
    int32_t rc = KVV_FAILED;
    if (!logits)
        snprintf(err, sizeof err, "out of memory for the logits");
    else if (b) {
        kvv_model_run_opts o = {b, j->k, j->v, kvv_toggles_default(), j->a->chunk, KVV_PPL_TAIL,
                                &kvv_guarded_buffers};
        rc = kvv_model_run(j->m, &o, j->tok, j->n, logits, err, sizeof err);
    }
    write_all(fd, &rc, sizeof rc);
    write_all(fd, err, sizeof err);
    if (rc == KVV_OK)
        write_all(fd, logits, sizeof(float) * nl);
    kvv_free(logits);
}

/* KVV_OK with the logits, KVV_UNSUPPORTED / KVV_FAILED with err, or -1
 * when the process crashed or hung (err says which). */
static int run_pair(const pair_job *j, float *logits, char *err, size_t err_len)
{
    const size_t nl = sizeof(float) * (size_t)j->n * j->m->n_vocab, total = sizeof(int32_t) + PAIR_ERR + nl;
    char *buf = malloc(total);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    ssize_t got = kvv_isolate(pair_in_child, (void *)j, buf, total, j->a->timeout, err, err_len);
    int32_t rc = -1;
    if (got >= (ssize_t)(sizeof rc + PAIR_ERR)) {
        memcpy(&rc, buf, sizeof rc);
        snprintf(err, err_len, "%.*s", PAIR_ERR - 1, buf + sizeof rc);
        if (rc == KVV_OK && (size_t)got == total)
            memcpy(logits, buf + sizeof rc + PAIR_ERR, nl);
        else if (rc == KVV_OK) {
            snprintf(err, err_len, "the run's logits did not all arrive");
            rc = KVV_FAILED;
        }
    } else if (got >= 0) {
        snprintf(err, err_len, "no answer from the process that ran it");
    }
    free(buf);
    return rc;
}

/* set by the handler of SIGINT and SIGTERM (cmd_ppl) */
static volatile sig_atomic_t ppl_stop, pairs_started;

static int run_pairs(const ppl_args *a, const kvv_model *m, const char *bname, const int32_t *tok, int n,
                     const double *ref, kvv_type (*pairs)[2], int np, int check_bounds)
{
    float *logits = kvv_alloc(sizeof(float) * (size_t)n * m->n_vocab);
    if (!logits)
        return 1;
    int failures = 0, table = np > 1;
    kvv_isolate_stop_on(&ppl_stop);
    pairs_started = 1;
    if (table)
        printf("%-22s %10s %10s %9s %10s %10s %7s %9s  %s\n", "K/V", "ppl_ref", "ppl_run", "ppl_ratio", "kl_mean",
               "kl_p99", "top1", "nonfinite", "result");
    for (int i = 0; i < np; i++) {
        char err[400], pair[64], result[480] = "pass";
        snprintf(pair, sizeof pair, "%s/%s", kvv_type_name(pairs[i][0]), kvv_type_name(pairs[i][1]));
        pair_job job = {a, m, pairs[i][0], pairs[i][1], tok, n};
        int rc = ppl_stop ? -1 : run_pair(&job, logits, err, sizeof err);
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
            printf("kv          %s on %s\n", pair, bname);
            printf("ppl_ref     %.6f\nppl_run     %.6f\nppl_ratio   %.6f\n", s.ppl_ref, s.ppl_run, s.ratio);
            printf("kl_mean     %.6g\nkl_p99      %.6g\nkl_max      %.6g\n", s.kl_mean, s.kl_p99, s.kl_max);
            printf("top1        %.6f\nnonfinite   %d\nresult      %s\n", s.top1, s.nonfinite, result);
        }
        fflush(stdout);
    }
    kvv_free(logits);
    return failures;
}

/* --bounds: the table, measured in a child process that opens the
 * backend (its stdout goes to stderr; the table comes back on a pipe). */
static void bounds_in_child(void *arg, int fd)
{
    const ppl_args *a = arg;
    char why[400];
    const kvv_backend *b = kvv_backend_open(a->backend, why, sizeof why);
    FILE *out = fdopen(fd, "w");
    if (!b || !out) {
        fprintf(stderr, "kvverify ppl: backend %s: %s\n", a->backend, b ? "cannot write the table" : why);
        _exit(1);
    }
    int rc = kvv_ppl_write_bounds(out, b, a->backend);
    fclose(out);
    _exit(rc ? 1 : 0);
}

static int write_bounds(const ppl_args *a)
{
    enum { MAX_TABLE = 1 << 20 };
    char *buf = malloc(MAX_TABLE), why[400];
    if (!buf)
        return 1;
    /* --timeout for each ppl case of the gate, the cases the table covers */
    kvv_case_list gate = {0};
    int ncases = 0;
    kvv_gate_cases(&gate);
    for (int i = 0; i < gate.n; i++)
        ncases += gate.items[i].op == KVV_OP_PPL;
    kvv_case_list_free(&gate);
    ssize_t got = kvv_isolate(bounds_in_child, (void *)a, buf, MAX_TABLE, a->timeout * (ncases > 0 ? ncases : 1), why,
                              sizeof why);
    if (got > 0)
        fwrite(buf, 1, (size_t)got, stdout);
    free(buf);
    if (got < 0) {
        fprintf(stderr, "kvverify ppl: --bounds on %s: %s\n", a->backend, why);
        return 1;
    }
    return 0;
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
    char why[400], path[1024];
    if (cli_check_backend(a.backend, a.timeout < CLI_OPEN_SECONDS ? a.timeout : CLI_OPEN_SECONDS))
        return EXIT_USAGE;
    if (a.bounds)
        return write_bounds(&a);
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
    rc = run_pairs(&a, &m, a.backend, tok + a.offset, n, ref, pairs, np, check_bounds) ? 1 : 0;
done:
    free(text);
    free(tok);
    free(ref);
    kvv_model_free(&m);
    return rc;
}
