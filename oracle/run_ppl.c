/* ppl cases: the probe model end to end through a backend's K/V cache,
 * against its f64 reference.
 *
 * Building the probe and running its reference cost more than one run, and
 * every ppl case of a process uses one of a few models, so both are kept per
 * process (a worker runs many cases) keyed by what defines them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvv/tensor.h"
#include "oracle/guard.h"
#include "oracle/ppl.h"
#include "oracle/verdict.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    kvv_probe_params p;
    int ctx;
    kvv_model m;
    int32_t *tokens;
    int n;
    double *ref;
    double t_ref;  /* building the model and its reference */
    int charged;   /* t_ref already reported by a case */
} probe_entry;

#define PROBE_CACHE 6
static probe_entry cache[PROBE_CACHE];
static int cache_used, cache_next;

static int same(const probe_entry *e, const kvv_probe_params *p, int ctx)
{
    return e->ctx == ctx && e->p.seed == p->seed && e->p.head_dim == p->head_dim && e->p.n_head == p->n_head &&
           e->p.n_head_kv == p->n_head_kv && e->p.hybrid == p->hybrid && e->p.wtype == p->wtype;
}

static void entry_free(probe_entry *e)
{
    kvv_model_free(&e->m);
    free(e->tokens);
    free(e->ref);
    memset(e, 0, sizeof *e);
}

static int entry_build(probe_entry *e, const kvv_probe_params *p, int ctx, char *why, size_t n)
{
    char path[1024], err[400];
    size_t len = 0;
    memset(e, 0, sizeof *e);
    e->p = *p;
    e->ctx = ctx;
    if (!kvv_corpus_path("probe.txt", path, sizeof path)) {
        snprintf(why, n, "corpora/probe.txt not found (set KVV_CORPORA_DIR)");
        return -1;
    }
    char *text = kvv_read_file(path, &len, err, sizeof err);
    uint8_t *gguf = NULL;
    size_t size = 0;
    kvv_gguf g;
    int rc = -1;
    double t0 = now();
    if (!text) {
        snprintf(why, n, "%s", err);
        return -1;
    }
    if (kvv_probe_build(p, text, len, &gguf, &size, err, sizeof err) ||
        kvv_gguf_parse(gguf, size, &g, err, sizeof err)) {
        snprintf(why, n, "probe model: %s", err);
        goto done;
    }
    rc = kvv_model_load(&g, &e->m, err, sizeof err);
    kvv_gguf_free(&g);
    if (rc) {
        snprintf(why, n, "probe model: %s", err);
        goto done;
    }
    rc = -1;
    e->tokens = malloc(sizeof(int32_t) * (size_t)ctx);
    e->ref = malloc(sizeof(double) * (size_t)ctx * e->m.n_vocab);
    if (!e->tokens || !e->ref) {
        snprintf(why, n, "out of memory");
        goto done;
    }
    e->n = kvv_model_tokenize(&e->m, text, len, e->tokens, ctx);
    if (e->n < ctx) {
        snprintf(why, n, "%s holds %d tokens, the case asks for a context of %d", path, e->n, ctx);
        goto done;
    }
    if (kvv_model_reference(&e->m, e->tokens, ctx, e->ref, NULL, err, sizeof err)) {
        snprintf(why, n, "reference: %s", err);
        goto done;
    }
    e->t_ref = now() - t0;
    rc = 0;
done:
    free(text);
    free(gguf);
    if (rc)
        entry_free(e);
    return rc;
}

static probe_entry *probe_for(const kvv_case *c, char *why, size_t n)
{
    kvv_probe_params p = kvv_probe_default();
    p.seed = c->seed;
    p.head_dim = c->dk;
    p.n_head = c->n_head;
    p.n_head_kv = c->n_head_kv;
    p.hybrid = c->model == KVV_PROBE_HYBRID;
    for (int i = 0; i < cache_used; i++)
        if (same(&cache[i], &p, c->n_kv))
            return &cache[i];
    probe_entry *e = &cache[cache_used < PROBE_CACHE ? cache_used++ : cache_next++ % PROBE_CACHE];
    entry_free(e);
    if (entry_build(e, &p, c->n_kv, why, n))
        return NULL;
    return e;
}

int kvv_ppl_measure(const kvv_case *c, const kvv_backend *b, kvv_ppl_stats *s, double *t_run, double *t_ref,
                    char *why, size_t n)
{
    *t_run = *t_ref = 0;
    memset(s, 0, sizeof *s);
    probe_entry *e = probe_for(c, why, n);
    if (!e)
        return -1;
    if (!e->charged) { /* charged to the first case that used it */
        *t_ref = e->t_ref;
        e->charged = 1;
    }
    float *logits = kvv_alloc(sizeof(float) * (size_t)c->n_kv * e->m.n_vocab);
    if (!logits) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    kvv_model_run_opts o = {b, c->type_k, c->type_v, c->tg, c->n_q, KVV_PPL_TAIL, &kvv_guarded_buffers};
    double t0 = now();
    int rc = kvv_model_run(&e->m, &o, e->tokens, c->n_kv, logits, why, n);
    *t_run = now() - t0;
    if (rc == KVV_OK)
        kvv_ppl_compare(e->ref, logits, e->tokens, c->n_kv, e->m.n_vocab, s);
    kvv_free(logits);
    return rc;
}

void kvv_run_ppl(const kvv_case *c, const kvv_backend *b, kvv_verdict *v)
{
    kvv_ppl_stats s;
    kvv_ppl_bound bound;
    char why[400];
    int rc = kvv_ppl_measure(c, b, &s, &v->t_backend, &v->t_ref, why, sizeof why);
    if (rc == KVV_UNSUPPORTED) {
        v->status = KVV_SKIP;
        snprintf(v->detail, sizeof v->detail, "backend declined: %s", why);
        return;
    }
    if (rc) {
        kvv_verdict_fail(v, rc == KVV_BAD_FORMAT ? KVV_RULE_FORMAT : KVV_RULE_CRASH, "%s", why);
        return;
    }
    v->checked = s.n;
    if (s.nonfinite) {
        kvv_verdict_fail(v, KVV_RULE_FINITE, "NaN/Inf in the run's logits at %d of %d positions (first: position %d)",
                         s.nonfinite, s.n, s.first_nonfinite);
        return;
    }
    if (kvv_ppl_bound_lookup(c, &bound, why, sizeof why)) {
        kvv_verdict_fail(v, KVV_RULE_PPL, "%s (measured: PPL ratio %.5f, KL mean %.3g, p99 %.3g)", why, s.ratio,
                         s.kl_mean, s.kl_p99);
        return;
    }
    /* the worst fraction of a bound used: what the summary's budget column shows for ppl */
    double f[3] = {(s.ratio - 1) / (bound.ratio - 1), s.kl_mean / bound.kl_mean, s.kl_p99 / bound.kl_p99};
    v->budget_ratio = fmax(fmax(f[0], f[1]), fmax(f[2], 0.0));
    int bad = s.ratio > bound.ratio || s.kl_mean > bound.kl_mean || s.kl_p99 > bound.kl_p99;
    char nums[400];
    snprintf(nums, sizeof nums,
             "PPL %.4f vs reference %.4f: ratio %.5f (bound %.5g), KL mean %.3g (bound %.3g), p99 %.3g (bound %.3g), "
             "top-1 agreement %.1f%%",
             s.ppl_run, s.ppl_ref, s.ratio, bound.ratio, s.kl_mean, bound.kl_mean, s.kl_p99, bound.kl_p99,
             100 * s.top1);
    if (bad)
        kvv_verdict_fail(v, KVV_RULE_PPL, "%s", nums);
    else
        snprintf(v->detail, sizeof v->detail, "%s", nums);
}
