/* `kvverify bench`: a program, not a test.  Measures the machine's limits
 * (bench/bench_roof.c), then times quantize, WHT and attention (decode and
 * prefill, and decode over a cache beyond the last-level cache at all
 * threads) for each selected backend and for the reference, in one run, and
 * prints throughput, each line's fraction of its roof (bench/bench_lines.c)
 * and ratios: to the reference, and to the first backend of the list.  Each
 * figure is the best of several repetitions after a warm-up. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen/gen.h"
#include "kvv/tensor.h"
#include "bench/bench.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best time per call of fn over reps samples, after one warm-up call;
 * negative on failure.  A sample is as many back-to-back calls as fill
 * about SAMPLE_S (one call when a call takes longer): a single call of a
 * fast kernel lasts some tens of microseconds, where one timer tick, one
 * interrupt or a neighbour's burst decides the figure. */
#define SAMPLE_S 0.002
typedef int (*timed_fn)(void *arg);
static double best_of(timed_fn fn, void *arg, int reps)
{
    double t0 = now();
    if (fn(arg))
        return -1;
    double first = now() - t0;
    int calls = first > 0 && first < SAMPLE_S ? (int)(SAMPLE_S / first) : 1;
    calls = calls < 1 ? 1 : calls > 10000 ? 10000 : calls;
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        t0 = now();
        for (int c = 0; c < calls; c++)
            if (fn(arg))
                return -1;
        double t = (now() - t0) / calls;
        if (t < best)
            best = t;
    }
    return best;
}

/* best_of for n functions at once, their samples interleaved (rep 1 of
 * each, then rep 2 of each, ...), so that the ratios between them come
 * from the same moments of a machine whose speed drifts; best[i] < 0 when
 * fns[i] fails or is NULL. */
static void best_of_set(timed_fn *fns, void **args, int n, int reps, double *best)
{
    int calls[KVV_MAX_BACKENDS + 4];
    for (int i = 0; i < n; i++) {
        best[i] = -1;
        calls[i] = 0;
        if (!fns[i])
            continue;
        double t0 = now();
        if (fns[i](args[i]))
            continue;
        double first = now() - t0;
        int c = first > 0 && first < SAMPLE_S ? (int)(SAMPLE_S / first) : 1;
        calls[i] = c < 1 ? 1 : c > 10000 ? 10000 : c;
        best[i] = INFINITY;
    }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < n; i++) {
            if (best[i] < 0)
                continue;
            double t0 = now();
            int failed = 0;
            for (int c = 0; c < calls[i] && !failed; c++)
                failed = fns[i](args[i]) != 0;
            double t = (now() - t0) / calls[i];
            if (failed)
                best[i] = -1;
            else if (t < best[i])
                best[i] = t;
        }
}

/* ---- quantize ---- */
typedef struct {
    const kvv_backend *b;
    kvv_type t;
    const float *x;
    void *dst;
    int64_t rows, cols;
    kvv_toggles tg;
} qarg;

static int q_backend(void *p)
{
    qarg *a = p;
    int rc = a->b->quantize_rows(a->b->ctx, a->t, a->x, a->dst, a->rows, a->cols, &a->tg);
    if (a->b->flush)
        a->b->flush(a->b->ctx);
    return rc;
}

static int q_ref(void *p)
{
    qarg *a = p;
    return kvv_ref_type_get(a->t)->quantize(a->x, a->dst, a->rows, a->cols, NULL);
}

/* ---- WHT ---- */
typedef struct {
    const kvv_backend *b;
    float *x;
    double *xd;
    int64_t rows, cols;
    int group;
    kvv_toggles tg;
} warg;

static int w_backend(void *p)
{
    warg *a = p;
    int rc = a->b->wht(a->b->ctx, a->x, a->rows, a->cols, a->group, 0, &a->tg);
    if (a->b->flush)
        a->b->flush(a->b->ctx);
    return rc;
}

static int w_ref(void *p)
{
    warg *a = p;
    kvv_ref_wht(a->xd, a->rows, a->cols, a->group, 0);
    return 0;
}

/* ---- attention ---- */
typedef struct {
    const kvv_backend *b;
    kvv_attn_args args;
    float *out;
    kvv_ref_attn_args ra;
    double *rout, *gc;
    int m, n, k;
} aarg;

static int a_backend(void *p)
{
    aarg *a = p;
    kvv_attn_info info;
    int rc = a->b->attention(a->b->ctx, &a->args, a->out, &info);
    if (a->b->flush)
        a->b->flush(a->b->ctx);
    return rc;
}

static int a_ref(void *p)
{
    aarg *a = p;
    return kvv_ref_attention(&a->ra, a->rout, NULL, NULL);
}

/* The plain dgemm work of the same attention: per head, q k^T and p v,
 * the very calls the reference makes, on each head's own operands (query
 * head h, KV head h / group), so that the same bytes come from memory. */
static int a_dgemm(void *p)
{
    aarg *a = p;
    const kvv_ref_attn_args *r = &a->ra;
    const int group = r->n_head / r->n_head_kv;
    for (int h = 0; h < r->n_head; h++) {
        const size_t hk = (size_t)(h / group);
        const double *q = r->q + (size_t)h * r->n_q * r->dk, *k = r->k + hk * r->n_kv * r->dk,
                     *v = r->v + hk * r->n_kv * r->dv;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->n_q, r->n_kv, r->dk, 1.0, q, r->dk, k, r->dk, 0.0,
                    a->gc, r->n_kv);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->n_q, r->dv, r->n_kv, 1.0, a->gc, r->n_kv, v, r->dv,
                    0.0, a->rout + (size_t)h * r->n_q * r->dv, r->dv);
    }
    return 0;
}

/* The same dgemm pair with head 0's operands for every head (what earlier
 * versions of this bench timed): its K and V stay in cache, so it is a
 * lower bound no real attention over n_head_kv heads reaches. */
static int a_dgemm_hot(void *p)
{
    aarg *a = p;
    const kvv_ref_attn_args *r = &a->ra;
    for (int h = 0; h < r->n_head; h++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->n_q, r->n_kv, r->dk, 1.0, r->q, r->dk, r->k, r->dk, 0.0,
                    a->gc, r->n_kv);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->n_q, r->dv, r->n_kv, 1.0, a->gc, r->n_kv, r->v, r->dv,
                    0.0, a->rout, r->dv);
    }
    return 0;
}

/* The reference against the dgemm pair it is made of (a_dgemm) and against
 * the cache-resident variant (a_dgemm_hot). */
static void ref_vs_dgemm(kvv_bench_log *log, const char *shape, double tr, double tg, double thot)
{
    if (tr > 0 && tg > 0 && thot > 0)
        fprintf(log->out,
                "  reference attention / plain dgemm: %.2fx the time (%.2fx the one-head dgemm, K/V in cache)\n",
                tr / tg, tr / thot);
    if (log->ndgemm < (int)(sizeof log->dgemm / sizeof *log->dgemm)) {
        snprintf(log->dgemm[log->ndgemm].shape, sizeof log->dgemm[0].shape, "%s", shape);
        log->dgemm[log->ndgemm].ref_seconds = tr;
        log->dgemm[log->ndgemm].dgemm_seconds = tg;
        log->dgemm[log->ndgemm].dgemm_hot_seconds = thot;
        log->ndgemm++;
    }
}

typedef struct {
    const kvv_backend *const *bk;
    const char *const *names;
    int nb, threads, reps;
    kvv_toggles tg;
    kvv_bench_log *log;
} bench_run;

static void bench_quantize(bench_run *br, const float *x, void *dst, int64_t qrows, int64_t qcols)
{
    kvv_bench_log *log = br->log;
    double gb = (double)(qrows * qcols) * sizeof(float) / 1e9;
    fprintf(log->out, "\nquantize %lld x %lld f32 (GB/s of f32 input; roof: f32 read + cache bytes written):\n",
            (long long)qrows, (long long)qcols);
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        qarg a = {NULL, (kvv_type)t, x, dst, qrows, qcols, br->tg};
        double moved = (double)(qrows * qcols) * sizeof(float) + (double)qrows * kvv_row_bytes((kvv_type)t, qcols);
        kvv_bench_line l = {"quantize", "", "ref", br->threads, best_of(q_ref, &a, br->reps), gb, "GB/s", moved,
                            0, 0, 0, NULL};
        snprintf(l.what, sizeof l.what, "quantize %s", kvv_type_name((kvv_type)t));
        l.threads = 1;
        kvv_bench_line_add(log, &l);
        double tr = l.seconds, t[KVV_MAX_BACKENDS];
        qarg ab[KVV_MAX_BACKENDS];
        timed_fn fns[KVV_MAX_BACKENDS];
        void *args[KVV_MAX_BACKENDS];
        for (int b = 0; b < br->nb; b++) {
            ab[b] = a;
            ab[b].b = br->bk[b];
            fns[b] = q_backend;
            args[b] = &ab[b];
        }
        best_of_set(fns, args, br->nb, br->reps, t);
        for (int b = 0; b < br->nb; b++) {
            l.backend = br->names[b];
            l.threads = br->threads;
            l.seconds = t[b];
            l.ref_seconds = tr;
            l.base_seconds = b ? t[0] : 0;
            l.base_name = br->names[0];
            kvv_bench_line_add(log, &l);
        }
    }
}

static void bench_wht(bench_run *br, float *x, int64_t qrows, int64_t qcols)
{
    kvv_bench_log *log = br->log;
    double gb = (double)(qrows * qcols) * sizeof(float) / 1e9;
    fprintf(log->out, "\nWHT %lld x %lld, group 128 (GB/s of f32 data; roof: read and written in place):\n",
            (long long)qrows, (long long)qcols);
    warg a = {NULL, x, malloc(sizeof(double) * (size_t)(qrows * qcols)), qrows, qcols, 128, br->tg};
    for (int64_t i = 0; i < qrows * qcols && a.xd; i++)
        a.xd[i] = x[i];
    kvv_bench_line l = {"wht", "wht g128", "ref", 1, a.xd ? best_of(w_ref, &a, br->reps) : -1, gb, "GB/s", 0, 0,
                        0, 0, NULL};
    kvv_bench_line_add(log, &l); /* f64 data: no f32 roof for the reference */
    double tr = l.seconds, base = 0;
    for (int b = 0; b < br->nb; b++) {
        a.b = br->bk[b];
        l.backend = br->names[b];
        l.threads = br->threads;
        l.seconds = best_of(w_backend, &a, br->reps);
        l.bytes = 2.0 * (double)(qrows * qcols) * sizeof(float);
        l.ref_seconds = tr;
        l.base_seconds = b ? base : 0;
        l.base_name = br->names[0];
        if (b == 0)
            base = l.seconds;
        kvv_bench_line_add(log, &l);
    }
    free(a.xd);
}

/* The cache types of the attention sections: KVV_BENCH_TYPES=a,b,... names
 * them (any types `kvverify list types` shows; unknown names are reported
 * and skipped), else these five. */
static const kvv_type default_atypes[] = {KVV_F16, KVV_Q8_0, KVV_Q4_0, KVV_TURBO3, KVV_TURBO4};
#define NDEFAULT_ATYPES ((int)(sizeof default_atypes / sizeof *default_atypes))
static kvv_type atypes[KVV_TYPE_COUNT];
static int n_atypes;

/* The next item of a comma-separated list at *p into name (cut to n - 1
 * characters), *p moved past it; 0 at the end of the list. */
static int list_item(const char **p, char *name, size_t n)
{
    if (!*p || !**p)
        return 0;
    size_t len = strcspn(*p, ",");
    snprintf(name, n, "%.*s", (int)(len < n ? len : n - 1), *p);
    *p += len;
    *p += **p == ',';
    return 1;
}

static void attn_types_pick(FILE *out)
{
    const char *p = getenv("KVV_BENCH_TYPES");
    char name[64];
    n_atypes = 0;
    while (n_atypes < KVV_TYPE_COUNT && list_item(&p, name, sizeof name)) {
        kvv_type t = kvv_type_from_name(name);
        if (t == KVV_TYPE_NONE)
            fprintf(out, "KVV_BENCH_TYPES: no type named '%s'; skipped\n", name);
        else
            atypes[n_atypes++] = t;
    }
    if (n_atypes == 0) {
        memcpy(atypes, default_atypes, sizeof default_atypes);
        n_atypes = NDEFAULT_ATYPES;
    }
}

/* query/key pairs the mask lets through: the work a kernel cannot skip */
static double visible_pairs(const float *mask, int nq, int nkv)
{
    if (!mask)
        return (double)nq * nkv;
    double n = 0;
    for (size_t i = 0; i < (size_t)nq * nkv; i++)
        n += mask[i] != -INFINITY;
    return n;
}

typedef struct {
    const char *name;
    int nq, nkv, h, hkv, d;
} attn_shape;

static int bench_attention(bench_run *br, const attn_shape *sh)
{
    kvv_bench_log *log = br->log;
    int nq = sh->nq, nkv = sh->nkv, h = sh->h, hkv = sh->hkv, d = sh->d;
    size_t nqe = (size_t)h * nq * d, nke = (size_t)hkv * nkv * d;
    float *q = kvv_alloc(sizeof(float) * nqe), *k = kvv_alloc(sizeof(float) * nke),
          *v = kvv_alloc(sizeof(float) * nke), *o = kvv_alloc(sizeof(float) * nqe),
          *mask = kvv_alloc(sizeof(float) * (size_t)nq * nkv);
    double *qd = malloc(sizeof(double) * nqe), *kd = malloc(sizeof(double) * nke),
           *vd = malloc(sizeof(double) * nke), *rout = malloc(sizeof(double) * nqe),
           *gc = malloc(sizeof(double) * (size_t)nq * nkv);
    void *kb[KVV_MAX_BACKENDS] = {0}, *vb[KVV_MAX_BACKENDS] = {0};
    int rc = -1, have = 1;
    for (int b = 0; b < br->nb; b++) {
        kb[b] = kvv_alloc(sizeof(float) * nke);
        vb[b] = kvv_alloc(sizeof(float) * nke);
        have &= kb[b] && vb[b];
    }
    if (!q || !k || !v || !o || !mask || !qd || !kd || !vd || !rout || !gc || !have)
        goto done;
    kvv_gen_fill(q, (int64_t)h * nq, d, nq, KVV_DIST_GAUSS, 2, KVV_STREAM_Q);
    kvv_gen_fill(k, (int64_t)hkv * nkv, d, nkv, KVV_DIST_OUTLIER, 2, KVV_STREAM_K);
    kvv_gen_fill(v, (int64_t)hkv * nkv, d, nkv, KVV_DIST_GAUSS, 2, KVV_STREAM_V);
    kvv_case mc = kvv_case_default(KVV_OP_ATTN);
    mc.n_q = nq;
    mc.n_kv = nkv;
    mc.mask = nq > 1 ? KVV_MASK_CAUSAL : KVV_MASK_NONE;
    kvv_gen_mask(mask, &mc);
    const float *amask = nq > 1 ? mask : NULL;
    for (size_t i = 0; i < nqe; i++)
        qd[i] = q[i];
    for (size_t i = 0; i < nke; i++) {
        kd[i] = k[i];
        vd[i] = v[i];
    }
    double flops = 2.0 * h * visible_pairs(amask, nq, nkv) * (2.0 * d);
    fprintf(log->out,
            "\nattention %s: nq %d, nkv %d, heads %d/%d, head_dim %d (GFLOP/s of the two products over the "
            "visible pairs; roof: %s)\n",
            sh->name, nq, nkv, h, hkv, d, nq > 1 ? "FLOPs" : "cache bytes read, or FLOPs past the ridge");
    aarg a;
    memset(&a, 0, sizeof a);
    a.ra = (kvv_ref_attn_args){d, d, nq, nkv, h, hkv, qd, kd, vd, amask, 1.0 / sqrt(d), 0, 0};
    a.rout = rout;
    a.gc = gc;
    double trio[3];
    timed_fn rfns[3] = {a_ref, a_dgemm, a_dgemm_hot};
    void *rargs[3] = {&a, &a, &a};
    best_of_set(rfns, rargs, 3, br->reps, trio);
    double tr = trio[0], tgm = trio[1], thot = trio[2];
    /* f64 work: no f32 roof for these two */
    kvv_bench_line l = {sh->name, "reference (f64, OpenBLAS)", "ref", br->threads, tr, flops / 1e9, "GFLOP/s",
                        0, 0, 0, 0, NULL};
    kvv_bench_line_add(log, &l);
    snprintf(l.what, sizeof l.what, "plain dgemm of the same size");
    l.backend = "blas";
    l.seconds = tgm;
    kvv_bench_line_add(log, &l);
    snprintf(l.what, sizeof l.what, "the same, head 0's K/V for all");
    l.seconds = thot;
    kvv_bench_line_add(log, &l);
    ref_vs_dgemm(log, sh->name, tr, tgm, thot);
    for (int ti = 0; ti < n_atypes; ti++) {
        kvv_type t = atypes[ti];
        aarg ab[KVV_MAX_BACKENDS];
        timed_fn fns[KVV_MAX_BACKENDS];
        void *args[KVV_MAX_BACKENDS];
        double tb[KVV_MAX_BACKENDS];
        /* each backend attends over its own cache */
        for (int b = 0; b < br->nb; b++) {
            const kvv_backend *bk = br->bk[b];
            int ok = bk->quantize_rows(bk->ctx, t, k, kb[b], (int64_t)hkv * nkv, d, &br->tg) == KVV_OK &&
                     bk->quantize_rows(bk->ctx, t, v, vb[b], (int64_t)hkv * nkv, d, &br->tg) == KVV_OK;
            ab[b] = a;
            ab[b].b = bk;
            ab[b].args = (kvv_attn_args){d, d, nq, nkv, h, hkv, t, t, q, kb[b], vb[b], amask, (float)(1.0 / sqrt(d)),
                                         0, 0, br->tg};
            ab[b].out = o;
            fns[b] = ok ? a_backend : NULL;
            args[b] = &ab[b];
        }
        best_of_set(fns, args, br->nb, br->reps, tb);
        for (int b = 0; b < br->nb; b++) {
            l = (kvv_bench_line){sh->name, "", br->names[b], br->threads, tb[b], flops / 1e9, "GFLOP/s", 0, 0, tr,
                                 b ? tb[0] : 0, br->names[0]};
            snprintf(l.what, sizeof l.what, "%s %s-%s", sh->name, kvv_type_name(t), kvv_type_name(t));
            /* both counted: the roofline picks the one that binds */
            l.flops = flops;
            if (nq == 1)
                l.bytes = 2.0 * (double)hkv * nkv * kvv_row_bytes(t, d) + 2.0 * nqe * sizeof(float);
            kvv_bench_line_add(log, &l);
        }
    }
    rc = 0;
done:
    kvv_free(q);
    kvv_free(k);
    kvv_free(v);
    kvv_free(o);
    kvv_free(mask);
    for (int b = 0; b < br->nb; b++) {
        kvv_free(kb[b]);
        kvv_free(vb[b]);
    }
    free(qd);
    free(kd);
    free(vd);
    free(rout);
    free(gc);
    return rc;
}

/* Decode over a cache of at least 4x the last-level cache for every type,
 * at all threads: what bounds decode in a long context is DRAM bandwidth.
 * Each type gets as many positions as make its own K+V cache 4x the LLC
 * (sized per type, not by the smallest row: on a VM whose sysfs reports a
 * 480 MiB L3 that would take tens of gigabytes).  The cache is one
 * 4096-position slab per KV head, quantized by each backend and repeated
 * along the positions: the kernels read every byte all the same, and the
 * run needs no minutes of quantizing.  No reference line: its f64 copy
 * would take gigabytes. */
static int64_t dram_positions(kvv_type t, int hkv, int d, int slab, size_t llc)
{
    double rb = (double)kvv_row_bytes(t, d);
    int64_t nkv = slab;
    while (2.0 * hkv * (double)nkv * rb < 4.0 * (double)llc)
        nkv += slab;
    return nkv;
}

static int bench_decode_dram(bench_run *br, int all)
{
    kvv_bench_log *log = br->log;
    const int h = 32, hkv = 8, d = 128, slab = 4096;
    size_t llc = kvv_llc_bytes(), big = 0;
    for (int ti = 0; ti < n_atypes; ti++) {
        size_t b = (size_t)hkv * (size_t)dram_positions(atypes[ti], hkv, d, slab, llc) * kvv_row_bytes(atypes[ti], d);
        big = b > big ? b : big;
    }
    size_t nqe = (size_t)h * d, nse = (size_t)hkv * slab * d;
    float *q = kvv_alloc(sizeof(float) * nqe), *k = kvv_alloc(sizeof(float) * nse),
          *v = kvv_alloc(sizeof(float) * nse), *o = kvv_alloc(sizeof(float) * nqe);
    uint8_t *ks = kvv_alloc(sizeof(float) * nse), *vs = kvv_alloc(sizeof(float) * nse);
    uint8_t *kb[KVV_MAX_BACKENDS] = {0}, *vb[KVV_MAX_BACKENDS] = {0};
    int rc = -1, have = 1;
    for (int b = 0; b < br->nb; b++) {
        kb[b] = kvv_alloc(big);
        vb[b] = kvv_alloc(big);
        have &= kb[b] && vb[b];
    }
    if (!q || !k || !v || !o || !ks || !vs || !have)
        goto done;
    kvv_gen_fill(q, h, d, 1, KVV_DIST_GAUSS, 3, KVV_STREAM_Q);
    kvv_gen_fill(k, (int64_t)hkv * slab, d, slab, KVV_DIST_OUTLIER, 3, KVV_STREAM_K);
    kvv_gen_fill(v, (int64_t)hkv * slab, d, slab, KVV_DIST_GAUSS, 3, KVV_STREAM_V);
    kvv_toggles tg = br->tg;
    tg.threads = all;
    fprintf(log->out,
            "\nattention decode beyond the LLC: nq 1, K+V cache of each type 4x the LLC (%.0f MiB), heads %d/%d, "
            "head_dim %d, threads=%d (GB/s of cache read; roof: DRAM triad, or the FMA peak where the FLOPs per "
            "byte pass the ridge)\n",
            4.0 * (double)llc / (1 << 20), h, hkv, d, all);
    for (int ti = 0; ti < n_atypes; ti++) {
        kvv_type t = atypes[ti];
        size_t rb = kvv_row_bytes(t, d);
        int64_t nkv = dram_positions(t, hkv, d, slab, llc);
        double bytes = 2.0 * (double)hkv * nkv * rb;
        aarg ab[KVV_MAX_BACKENDS];
        timed_fn fns[KVV_MAX_BACKENDS];
        void *args[KVV_MAX_BACKENDS];
        double tb[KVV_MAX_BACKENDS];
        for (int b = 0; b < br->nb; b++) {
            const kvv_backend *bk = br->bk[b];
            int ok = bk->quantize_rows(bk->ctx, t, k, ks, (int64_t)hkv * slab, d, &tg) == KVV_OK &&
                     bk->quantize_rows(bk->ctx, t, v, vs, (int64_t)hkv * slab, d, &tg) == KVV_OK;
            for (int hk = 0; ok && hk < hkv; hk++)
                for (int64_t p = 0; p < nkv; p += slab) {
                    memcpy(kb[b] + ((size_t)hk * nkv + p) * rb, ks + (size_t)hk * slab * rb, (size_t)slab * rb);
                    memcpy(vb[b] + ((size_t)hk * nkv + p) * rb, vs + (size_t)hk * slab * rb, (size_t)slab * rb);
                }
            memset(&ab[b], 0, sizeof ab[b]);
            ab[b].b = bk;
            ab[b].args = (kvv_attn_args){d, d, 1, (int)nkv, h, hkv, t, t, q, kb[b], vb[b], NULL,
                                         (float)(1.0 / sqrt(d)), 0, 0, tg};
            ab[b].out = o;
            fns[b] = ok ? a_backend : NULL;
            args[b] = &ab[b];
        }
        best_of_set(fns, args, br->nb, br->reps, tb);
        for (int b = 0; b < br->nb; b++) {
            kvv_bench_line l = {"decode-dram", "", br->names[b], all, tb[b], bytes / 1e9, "GB/s", bytes,
                                4.0 * h * (double)nkv * d, 0, b ? tb[0] : 0, br->names[0]};
            snprintf(l.what, sizeof l.what, "decode %s-%s nkv %lld", kvv_type_name(t), kvv_type_name(t),
                     (long long)nkv);
            kvv_bench_line_add(log, &l);
        }
    }
    rc = 0;
done:
    kvv_free(q);
    kvv_free(k);
    kvv_free(v);
    kvv_free(o);
    kvv_free(ks);
    kvv_free(vs);
    for (int b = 0; b < br->nb; b++) {
        kvv_free(kb[b]);
        kvv_free(vb[b]);
    }
    return rc;
}

/* KVV_BENCH_ONLY=a,b,...: only the sections named (quantize, wht, decode,
 * prefill, decode-dram; "limits" names none of them, for the machine's
 * limits alone, which every run measures).  Unset: all. */
static const char *const sections[] = {"quantize", "wht", "decode", "prefill", "decode-dram", "limits"};

/* Names in KVV_BENCH_ONLY that are no section: said, not silently run as nothing. */
static void sections_check(FILE *out)
{
    const char *p = getenv("KVV_BENCH_ONLY");
    char name[64];
    while (list_item(&p, name, sizeof name)) {
        int known = 0;
        for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
            known |= !strcmp(name, sections[i]);
        if (known || !*name)
            continue;
        fprintf(out, "KVV_BENCH_ONLY: no section named '%s' (", name);
        for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
            fprintf(out, "%s%s", i ? ", " : "", sections[i]);
        fprintf(out, ")\n");
    }
}

static int section_on(const char *want)
{
    const char *p = getenv("KVV_BENCH_ONLY");
    char name[64];
    if (!p || !*p)
        return 1;
    while (list_item(&p, name, sizeof name))
        if (!strcmp(name, want))
            return 1;
    return 0;
}

static void print_roofs(FILE *out, const kvv_roofs *r)
{
    fprintf(out, "  threads=%-3d triad: DRAM %6.1f GB/s, in LLC %6.1f GB/s;  f32 multiply-add: scalar %5.1f",
            r->threads, r->bw_dram, r->bw_llc, r->fma_scalar);
    if (r->fma_avx2 > 0)
        fprintf(out, ", AVX2 FMA %6.1f", r->fma_avx2);
    if (r->fma_avx512 > 0)
        fprintf(out, ", AVX-512 FMA %6.1f", r->fma_avx512);
    fprintf(out, " GFLOP/s\n");
}

int kvv_bench(FILE *out, const kvv_backend *const *bk, const char *const *names, int nb, int threads, int reps,
              const char *json_path)
{
    kvv_bench_log log;
    memset(&log, 0, sizeof log);
    log.out = out;
    bench_run br = {bk, names, nb, threads, reps, kvv_toggles_default(), &log};
    br.tg.threads = threads;
    int all = kvv_cpu_count();
    attn_types_pick(out);
    sections_check(out);
    /* the reference's BLAS runs at the bench's thread count too */
    kvv_ref_blas_threads(threads);
    char cpu[200];
    kvv_cpu_model(cpu, sizeof cpu);
    fprintf(out, "kvverify bench: best of %d after a warm-up; backends and the reference's BLAS at threads=%d\n", reps,
            threads);
    fprintf(out, "machine: %s, %d cores, last-level cache %zu KiB; its limits, measured now (best of %d):\n", cpu, all,
            kvv_llc_bytes() >> 10, reps);
    int want[2] = {threads, all};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && all == threads)
            break;
        if (kvv_roofs_measure(want[i], reps, &log.roofs[log.nroofs]) == 0)
            print_roofs(out, &log.roofs[log.nroofs++]);
        else
            fprintf(out, "  threads=%d: the limits could not be measured; no roof fractions at it\n", want[i]);
    }
    fprintf(out, "(each line: time, rate, and its share of the roof that bounds it, roofline style: LLC or DRAM = "
                 "bytes moved over the triad bandwidth of the level its working set fits, FMA = FLOPs over the f32 "
                 "peak; where both are counted, the one that allows less time binds)\n");

    /* quantize: 4096 rows of 128 values (a 2 MiB f32 K slab) */
    const int64_t qrows = 4096, qcols = 128;
    float *x = kvv_alloc(sizeof(float) * (size_t)(qrows * qcols));
    void *dst = kvv_alloc(sizeof(float) * (size_t)(qrows * qcols));
    int rc = -1;
    if (!x || !dst)
        goto done;
    kvv_gen_fill(x, qrows, (int)qcols, (int)qrows, KVV_DIST_OUTLIER, 1, KVV_STREAM_X);
    if (section_on("quantize"))
        bench_quantize(&br, x, dst, qrows, qcols);
    if (section_on("wht"))
        bench_wht(&br, x, qrows, qcols);

    /* attention: decode (1 query, long cache) and prefill (causal block) */
    static const attn_shape shapes[] = {{"decode", 1, 4096, 32, 8, 128}, {"prefill", 256, 256, 8, 8, 128}};
    for (int s = 0; s < 2; s++)
        if (section_on(shapes[s].name) && bench_attention(&br, &shapes[s]))
            goto done;
    if (section_on("decode-dram") && bench_decode_dram(&br, all))
        goto done;
    rc = 0;
    if (json_path && kvv_bench_json(&log, json_path, threads, reps)) {
        fprintf(stderr, "kvverify bench: cannot write %s\n", json_path);
        rc = -1;
    }
done:
    kvv_free(x);
    kvv_free(dst);
    free(log.lines);
    return rc;
}
